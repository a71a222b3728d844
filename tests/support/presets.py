"""Example notification presets for tests: their environment variables and the `notification` they send."""

from __future__ import annotations

from typing import Any

WEBHOOK_KEY = "hook-key-7f3a9c2b5d"
TELEGRAM_TOKEN = "123456789:AAtelegram-token-xyz"

PRESET_ENV: dict[str, str] = {
    "QCBOT_NOTIFICATIONS__OPS_MAIL__TYPE": "email",
    "QCBOT_NOTIFICATIONS__OPS_MAIL__ADDRESS": "ops@example.com",
    "QCBOT_NOTIFICATIONS__OPS_MAIL__SUBJECT": "Fills <momentum>",
    "QCBOT_NOTIFICATIONS__OPS_HOOK__TYPE": "webhook",
    "QCBOT_NOTIFICATIONS__OPS_HOOK__ADDRESS": "https://hooks.example.com/qc",
    "QCBOT_NOTIFICATIONS__OPS_HOOK__HEADER_X_API_KEY": WEBHOOK_KEY,
    "QCBOT_NOTIFICATIONS__DESK_SMS__TYPE": "sms",
    "QCBOT_NOTIFICATIONS__DESK_SMS__PHONE_NUMBER": "+15551234567",
    "QCBOT_NOTIFICATIONS__DESK_TG__TYPE": "telegram",
    "QCBOT_NOTIFICATIONS__DESK_TG__CHAT_ID": "-100200300",
    "QCBOT_NOTIFICATIONS__DESK_TG__BOT_TOKEN": TELEGRAM_TOKEN,
    "QCBOT_NOTIFICATIONS__PUBLIC_TG__TYPE": "telegram",
    "QCBOT_NOTIFICATIONS__PUBLIC_TG__CHAT_ID": "987654",
    # Broken ones: a plain-http webhook and an email without a subject.
    "QCBOT_NOTIFICATIONS__PLAIN_HOOK__TYPE": "webhook",
    "QCBOT_NOTIFICATIONS__PLAIN_HOOK__ADDRESS": "http://hooks.example.com/qc",
    "QCBOT_NOTIFICATIONS__HALF_MAIL__TYPE": "email",
    "QCBOT_NOTIFICATIONS__HALF_MAIL__ADDRESS": "not-an-address",
}
GOOD_PRESETS = ("ops-mail", "ops-hook", "desk-sms", "desk-tg", "public-tg")
PRESET_SECRETS = (WEBHOOK_KEY, TELEGRAM_TOKEN)

# What lean-cli would send for the good presets, in that order (targets follow the chosen order).
SENT_TARGETS: dict[str, dict[str, Any]] = {
    "ops-mail": {"address": "ops@example.com", "subject": "Fills <momentum>"},
    "ops-hook": {"address": "https://hooks.example.com/qc", "headers": {"x-api-key": WEBHOOK_KEY}},
    "desk-sms": {"phoneNumber": "+15551234567"},
    "desk-tg": {"id": "-100200300", "token": TELEGRAM_TOKEN},
    "public-tg": {"id": "987654", "token": None},
}
