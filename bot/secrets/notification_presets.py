"""Notification presets: named QuantConnect notification targets kept in the secret store.

Stored like credential profiles, under `notifications/<name>/<field>` in every backend
(`QCBOT_NOTIFICATIONS__OPS_MAIL__ADDRESS`, `notifications.ops-mail.address`, Vault `<path>/notifications/
ops-mail`). The field `type` says which kind a preset is:

- `email`: `address`, `subject`
- `webhook`: `address` (https), and one `header-<name>` field per header (the values are credentials)
- `sms`: `phone-number`
- `telegram`: `chat-id`, optionally `bot-token` (a credential; without it QuantConnect's own bot sends)

The modal offers preset names only, so a header value or token is never typed into Slack.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import SecretStr

from bot.brokerages.notifications import (
    MASK,
    EmailTarget,
    NotificationTarget,
    SmsTarget,
    TelegramTarget,
    WebhookTarget,
    email_problems,
    sms_problems,
    telegram_problems,
    webhook_problems,
)
from bot.secrets.errors import SecretError
from bot.secrets.keys import NOTIFICATION_HEADER_PREFIX, NOTIFICATIONS, is_segment, notification_key
from bot.secrets.store import SecretStore

TYPE_FIELD = "type"
KINDS = ("email", "webhook", "sms", "telegram")
TOKEN_FIELD = "bot-token"
_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("address", "subject"),
    "webhook": ("address",),
    "sms": ("phone-number",),
    "telegram": ("chat-id", TOKEN_FIELD),
}


class PresetInvalid(SecretError):
    """A notification preset is missing, incomplete or malformed; names the fields, never a secret value."""

    def __init__(self, preset: str, problems: Sequence[str]) -> None:
        self.preset: str = preset
        self.problems: list[str] = list(problems)
        super().__init__(f"Notification preset '{preset}': {'; '.join(self.problems)}.")


class PresetsInvalid(SecretError):
    """One or more of the chosen presets cannot be used; `invalid` holds each one's problems."""

    def __init__(self, invalid: Sequence[PresetInvalid]) -> None:
        self.invalid: list[PresetInvalid] = list(invalid)
        super().__init__(" ".join(str(error) for error in self.invalid))


class NotificationPresets:
    """Lists, checks and resolves the notification presets stored under `notifications/<name>/<field>`."""

    def __init__(self, store: SecretStore) -> None:
        self.store = store

    def names(self) -> list[str]:
        """Every preset name with at least one field, sorted; names only."""
        names = set()
        for key in self.store.list_keys(f"{NOTIFICATIONS}/"):
            parts = key.split("/")
            if len(parts) == 3 and is_segment(parts[1]):
                names.add(parts[1])
        return sorted(names)

    def _fields(self, preset: str) -> list[str]:
        return [key.rsplit("/", 1)[-1] for key in self.store.list_keys(f"{NOTIFICATIONS}/{preset}/")]

    def _value(self, preset: str, name: str) -> str | None:
        value = self.store.get(notification_key(preset, name))
        return value.strip() if value is not None and name != TOKEN_FIELD else value

    def _kind(self, preset: str, fields: list[str]) -> str:
        if not is_segment(preset):
            raise PresetInvalid(preset, ["the name must be lowercase letters, digits and single hyphens"])
        if not fields:
            raise PresetInvalid(preset, ["it is not in the secret store (see docs/secrets.md)"])
        kind = (self._value(preset, TYPE_FIELD) or "").lower()
        if kind not in KINDS:
            told = f"'{kind}'" if kind else "missing"
            raise PresetInvalid(preset, [f"type is {told}: set it to one of {', '.join(KINDS)}"])
        return kind

    def _build(self, preset: str, *, reveal: bool) -> NotificationTarget:
        fields = self._fields(preset)
        kind = self._kind(preset, fields)
        header_fields = [f for f in fields if f.startswith(NOTIFICATION_HEADER_PREFIX)]
        unexpected = sorted(
            f for f in fields if f not in (TYPE_FIELD, *_FIELDS[kind]) and f not in header_fields
        )
        if kind != "webhook":
            unexpected = sorted({*unexpected, *header_fields})
        problems = [f"field {name} does not belong to a {kind} preset" for name in unexpected]
        target: NotificationTarget | None = None
        if kind == "email":
            address, subject = self._value(preset, "address"), self._value(preset, "subject")
            problems += email_problems(address, subject)
            target = EmailTarget(address or "", subject or "")
        elif kind == "webhook":
            address = self._value(preset, "address")
            names = [f.removeprefix(NOTIFICATION_HEADER_PREFIX) for f in header_fields]
            problems += webhook_problems(address, names)
            headers = {
                name: SecretStr(self._secret(preset, f"{NOTIFICATION_HEADER_PREFIX}{name}", reveal))
                for name in names
            }
            target = WebhookTarget(address or "", headers)
        elif kind == "sms":
            phone = self._value(preset, "phone-number")
            problems += sms_problems(phone)
            target = SmsTarget(phone or "")
        else:
            chat_id = self._value(preset, "chat-id")
            problems += telegram_problems(chat_id)
            has_token = TOKEN_FIELD in fields
            token = SecretStr(self._secret(preset, TOKEN_FIELD, reveal)) if has_token else None
            target = TelegramTarget(chat_id or "", token)
        if problems:
            raise PresetInvalid(preset, problems)
        return target

    def _secret(self, preset: str, name: str, reveal: bool) -> str:
        if not reveal:
            return MASK  # Preview and the card never read a credential's value
        return self.store.get(notification_key(preset, name)) or ""

    def resolve(self, names: Sequence[str]) -> tuple[NotificationTarget, ...]:
        """The targets with their credentials, for live/create; PresetInvalid naming every bad preset."""
        return self._all(names, reveal=True)

    def placeholders(self, names: Sequence[str]) -> tuple[NotificationTarget, ...]:
        """The targets with credentials replaced by a mask (no credential is read), for Preview."""
        return self._all(names, reveal=False)

    def _all(self, names: Sequence[str], *, reveal: bool) -> tuple[NotificationTarget, ...]:
        targets: list[NotificationTarget] = []
        problems: list[PresetInvalid] = []
        for name in names:
            try:
                targets.append(self._build(name, reveal=reveal))
            except PresetInvalid as exc:
                problems.append(exc)
        if problems:
            raise PresetsInvalid(problems)
        return tuple(targets)

    def problems(self, name: str) -> list[str]:
        """What is wrong with one preset (empty when usable); reads its values, as live/create would."""
        try:
            self._build(name, reveal=True)
        except PresetInvalid as exc:
            return exc.problems
        return []
