"""Notification presets in the secret store: each kind, malformed ones refused, secrets masked, not read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.brokerages.notifications import NotificationSpec
from bot.secrets import DirectorySecretStore, EnvSecretStore, SecretRegistry
from bot.secrets.env_store import key_from_env_name
from bot.secrets.keys import is_secret_key
from bot.secrets.notification_presets import NotificationPresets, PresetsInvalid
from tests.support.presets import GOOD_PRESETS, PRESET_ENV, PRESET_SECRETS, SENT_TARGETS, WEBHOOK_KEY


class CountingStore(EnvSecretStore):
    """The env backend, recording which keys were read."""

    def __init__(self, environ: dict[str, str], registry: SecretRegistry) -> None:
        super().__init__(environ=environ, registry=registry)
        self.read: list[str] = []

    def get(self, key: str) -> str | None:
        self.read.append(key)
        return super().get(key)


@pytest.fixture
def registry() -> SecretRegistry:
    return SecretRegistry()


@pytest.fixture
def store(registry: SecretRegistry) -> CountingStore:
    return CountingStore(PRESET_ENV, registry)


def _body(presets: NotificationPresets, names: tuple[str, ...], *, reveal: bool) -> dict[str, Any]:
    targets = presets.resolve(names) if reveal else presets.placeholders(names)
    return NotificationSpec(("orderEvent", "insight"), targets).body(reveal=reveal)


def test_names_lists_every_preset(store: CountingStore) -> None:
    assert NotificationPresets(store).names() == sorted([*GOOD_PRESETS, "plain-hook", "half-mail"])


def test_each_kind_resolves_to_lean_clis_target(store: CountingStore) -> None:
    body = _body(NotificationPresets(store), GOOD_PRESETS, reveal=True)
    assert body == {"events": ["orderEvent", "insight"], "targets": [SENT_TARGETS[n] for n in GOOD_PRESETS]}


def test_placeholders_mask_secrets_without_reading_them(store: CountingStore) -> None:
    body = _body(NotificationPresets(store), GOOD_PRESETS, reveal=False)
    hook = {"address": "https://hooks.example.com/qc", "headers": {"x-api-key": "********"}}
    assert body["targets"][1] == hook
    assert body["targets"][3] == {"id": "-100200300", "token": "********"}
    assert body["targets"][4] == {"id": "987654", "token": None}
    assert not [key for key in store.read if is_secret_key(key)]
    for secret in PRESET_SECRETS:
        assert secret not in repr(body)


def test_secret_fields_are_masked_and_addresses_are_not(
    store: CountingStore, registry: SecretRegistry
) -> None:
    NotificationPresets(store).resolve(GOOD_PRESETS)
    text = registry.redact(f"key {WEBHOOK_KEY} token {SENT_TARGETS['desk-tg']['token']} to ops@example.com")
    assert text == "key ***header-x-api-key*** token ***bot-token*** to ops@example.com"
    assert is_secret_key("notifications/ops-hook/header-authorization")
    assert not is_secret_key("notifications/ops-mail/address")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TYPE": "webhook", "ADDRESS": "http://hooks.example.com/x"}, "is not an https:// URL"),
        ({"TYPE": "webhook", "ADDRESS": "https://user:pw@hooks.example.com/x"}, "must not hold a user name"),
        ({"TYPE": "webhook"}, "address is missing"),
        ({"TYPE": "email", "ADDRESS": "ops.example.com", "SUBJECT": "x"}, "is not an email address"),
        ({"TYPE": "email", "ADDRESS": "ops@example.com"}, "subject is missing"),
        ({"TYPE": "sms", "PHONE_NUMBER": "call me"}, "is not a phone number"),
        ({"TYPE": "telegram", "CHAT_ID": "not an id"}, "is not a Telegram"),
        ({"TYPE": "pager", "ADDRESS": "x"}, "type is 'pager'"),
        ({"ADDRESS": "ops@example.com"}, "type is missing"),
        (
            {"TYPE": "email", "ADDRESS": "a@b.io", "SUBJECT": "s", "BOT_TOKEN": "t0ken-value"},
            "does not belong",
        ),
    ],
)
def test_malformed_presets_name_what_is_wrong(env: dict[str, str], expected: str) -> None:
    environ = {f"QCBOT_NOTIFICATIONS__BAD__{name}": value for name, value in env.items()}
    presets = NotificationPresets(EnvSecretStore(environ=environ, registry=SecretRegistry()))
    problems = presets.problems("bad")
    assert any(expected in problem for problem in problems), problems
    with pytest.raises(PresetsInvalid) as raised:
        presets.resolve(["bad"])
    assert "Notification preset 'bad'" in raised.value.user_message
    assert "t0ken-value" not in raised.value.user_message


def test_unknown_and_several_bad_presets_are_all_named(store: CountingStore) -> None:
    with pytest.raises(PresetsInvalid) as raised:
        NotificationPresets(store).resolve(["ops-mail", "plain-hook", "half-mail", "nobody"])
    assert [error.preset for error in raised.value.invalid] == ["plain-hook", "half-mail", "nobody"]
    assert "not in the secret store" in raised.value.user_message


def test_presets_read_from_secret_files_as_from_the_environment(tmp_path: Path) -> None:
    for name, value in PRESET_ENV.items():
        key = key_from_env_name(name)
        assert key is not None
        (tmp_path / key.replace("/", ".")).write_text(value + "\n", encoding="utf-8")
    registry = SecretRegistry()
    presets = NotificationPresets(DirectorySecretStore(tmp_path, registry=registry))
    body = _body(presets, GOOD_PRESETS, reveal=True)
    assert body["targets"] == [SENT_TARGETS[name] for name in GOOD_PRESETS]
    assert WEBHOOK_KEY not in registry.redact(f"header {WEBHOOK_KEY}")
