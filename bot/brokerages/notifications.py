"""QuantConnect's own notifications of a live deployment: the `notification` object of `live/create`.

The shape is lean-cli's (`lean cloud live deploy --notify-*`, `LiveClient.start` and the
`QC*NotificationMethod` models): `{"events": ["orderEvent", "insight"], "targets": [...]}` where a target is
`{address, subject}` (email), `{address, headers}` (webhook), `{phoneNumber}` (SMS) or `{id, token}`
(Telegram, token null for QuantConnect's own bot). QuantConnect's OpenAPI file does not describe the field at
all (it only shows `notifyOrderEvents`/`notifyInsights` flags in the read-only `LiveForm`), so lean-cli is the
reference. Webhook header values and Telegram bot tokens are credentials: SecretStr until `body(reveal=True)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

ORDER_EVENTS = "orderEvent"
INSIGHTS = "insight"
# In lean-cli's order; the labels are what the modal and card show.
EVENT_LABELS: dict[str, str] = {ORDER_EVENTS: "Order events", INSIGHTS: "Insights"}
MASK = "********"

_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{5,22}[0-9]")
# Telegram chat ids are integers (groups negative); channels may be named @name.
_TELEGRAM_CHAT = re.compile(r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
TEXT_LIMIT = 200


@dataclass(frozen=True, repr=False)
class EmailTarget:
    """An email address and subject."""

    address: str
    subject: str
    kind: str = "email"

    def body(self, *, reveal: bool) -> dict[str, Any]:
        """The target object; nothing secret in it."""
        return {"address": self.address, "subject": self.subject}

    def summary(self) -> str:
        """Where it goes, for cards (no secret)."""
        return f"email {self.address}"


@dataclass(frozen=True, repr=False)
class WebhookTarget:
    """An https address and headers whose values are credentials."""

    address: str
    headers: dict[str, SecretStr] = field(default_factory=dict)
    kind: str = "webhook"

    def body(self, *, reveal: bool) -> dict[str, Any]:
        """The target object; header values masked unless `reveal`."""
        headers = {name: value.get_secret_value() if reveal else MASK for name, value in self.headers.items()}
        return {"address": self.address, "headers": headers}

    def summary(self) -> str:
        """Where it goes, for cards (header names only)."""
        return f"webhook {urlsplit(self.address).hostname or self.address}"


@dataclass(frozen=True, repr=False)
class SmsTarget:
    """A phone number."""

    phone_number: str
    kind: str = "sms"

    def body(self, *, reveal: bool) -> dict[str, Any]:
        """The target object; nothing secret in it."""
        return {"phoneNumber": self.phone_number}

    def summary(self) -> str:
        """Where it goes, for cards."""
        return f"SMS {self.phone_number}"


@dataclass(frozen=True, repr=False)
class TelegramTarget:
    """A Telegram chat id and an optional bot token (a credential; null means QuantConnect's bot)."""

    chat_id: str
    token: SecretStr | None = None
    kind: str = "telegram"

    def body(self, *, reveal: bool) -> dict[str, Any]:
        """The target object; the token masked unless `reveal`."""
        token = None if self.token is None else (self.token.get_secret_value() if reveal else MASK)
        return {"id": self.chat_id, "token": token}

    def summary(self) -> str:
        """Where it goes, for cards."""
        return f"Telegram {self.chat_id}"


NotificationTarget = EmailTarget | WebhookTarget | SmsTarget | TelegramTarget


@dataclass(frozen=True, repr=False)
class NotificationSpec:
    """The validated `notification` object: the events and where QuantConnect sends them."""

    events: tuple[str, ...]
    targets: tuple[NotificationTarget, ...]

    def body(self, *, reveal: bool) -> dict[str, Any]:
        """`{"events": [...], "targets": [...]}` as lean-cli sends it; secrets masked unless `reveal`."""
        return {"events": list(self.events), "targets": [t.body(reveal=reveal) for t in self.targets]}

    def __repr__(self) -> str:
        return f"NotificationSpec({self.body(reveal=False)!r})"


def ordered_events(events: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Known events in lean-cli's order (orderEvent, insight), each once; unknown ones are dropped."""
    return tuple(event for event in EVENT_LABELS if event in events)


# ---- checks of preset values (messages name the field, never quote a secret) -------------------------


def email_problems(address: str | None, subject: str | None) -> list[str]:
    """What is wrong with an email target's address and subject."""
    problems = []
    if not address:
        problems.append("address is missing")
    elif not _EMAIL.fullmatch(address) or len(address) > TEXT_LIMIT:
        problems.append(f"address {address!r} is not an email address")
    if not subject or not subject.strip():
        problems.append("subject is missing")
    elif len(subject) > TEXT_LIMIT:
        problems.append(f"subject is longer than {TEXT_LIMIT} characters")
    return problems


def webhook_problems(address: str | None, header_names: list[str]) -> list[str]:
    """What is wrong with a webhook target: an https address with a host, valid header names."""
    problems = []
    if not address:
        problems.append("address is missing")
    else:
        parts = urlsplit(address)
        if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in address):
            problems.append(f"address {address!r} is not an https:// URL")
        elif parts.username or parts.password:
            problems.append("address must not hold a user name or password: put them in a header")
    for name in header_names:
        if not _HEADER_NAME.fullmatch(name):
            problems.append(f"header name {name!r} is not valid")
    return problems


def sms_problems(phone_number: str | None) -> list[str]:
    """What is wrong with a phone number (digits, an optional leading +, spaces, dashes, brackets)."""
    if not phone_number:
        return ["phone-number is missing"]
    if not _PHONE.fullmatch(phone_number):
        return [f"phone-number {phone_number!r} is not a phone number (e.g. +15551234567)"]
    return []


def telegram_problems(chat_id: str | None) -> list[str]:
    """What is wrong with a Telegram chat id (a number, negative for groups, or @channel)."""
    if not chat_id:
        return ["chat-id is missing"]
    if not _TELEGRAM_CHAT.fullmatch(chat_id):
        return [f"chat-id {chat_id!r} is not a Telegram user, group or channel id"]
    return []
