"""`python -m bot check`: the notification presets in the secret store, each usable or what is wrong."""

from __future__ import annotations

from collections.abc import Mapping

from bot.doctor import CheckResult, _profiles, fail, ok
from bot.errors import BotError


def check_notification_presets(env: Mapping[str, str]) -> list[CheckResult]:
    """Every notification preset (if any): where it sends (never a secret), or what is wrong with it."""
    from bot.secrets.notification_presets import NotificationPresets

    try:
        presets = NotificationPresets(_profiles(env).store)
        names = presets.names()
    except BotError as exc:
        return [fail("notification presets", exc.user_message)]
    # None configured is fine (the deploy form then has no Notifications section): nothing to report.
    results = []
    for preset in names:
        name = f"notification preset {preset}"
        try:
            problems = presets.problems(preset)
            target = None if problems else presets.placeholders([preset])[0]
        except BotError as exc:
            results.append(fail(name, exc.user_message))
            continue
        if target is None:
            fix = " — fix it in the secret store (docs/secrets.md)"
            results.append(fail(name, "; ".join(problems) + fix))
        else:
            results.append(ok(name, target.summary()))
    return results
