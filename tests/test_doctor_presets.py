"""`python -m bot check` reports each notification preset: where it sends or what is wrong."""

from __future__ import annotations

from bot.doctor_presets import check_notification_presets
from tests.support.presets import PRESET_ENV, PRESET_SECRETS


def test_each_preset_is_reported_and_broken_ones_fail() -> None:
    results = check_notification_presets({"SECRET_BACKENDS": "env", **PRESET_ENV})
    lines = {result.name: result for result in results}
    assert lines["notification preset ops-mail"].ok
    assert "email ops@example.com" in lines["notification preset ops-mail"].line()
    assert lines["notification preset ops-hook"].ok
    assert "webhook hooks.example.com" in lines["notification preset ops-hook"].line()
    assert not lines["notification preset plain-hook"].ok
    assert "https" in lines["notification preset plain-hook"].line()
    assert not lines["notification preset half-mail"].ok
    assert "subject is missing" in lines["notification preset half-mail"].line()
    text = "\n".join(result.line() for result in results)
    for secret in PRESET_SECRETS:
        assert secret not in text


def test_no_presets_add_no_lines() -> None:
    assert check_notification_presets({"SECRET_BACKENDS": "env"}) == []
