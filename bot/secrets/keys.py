"""Logical secret keys: the backend-independent names every backend maps to its own naming."""

from __future__ import annotations

import re

from bot.secrets.errors import InvalidProfileName

# One segment of a logical key: lowercase letters and digits, single hyphens inside. No dots, underscores,
# double or edge hyphens, so every backend's escaping (env `_`/`__`, file `.`) stays reversible.
SEGMENT_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_SEGMENT = re.compile(SEGMENT_PATTERN)
MAX_SEGMENT_LENGTH = 63

PROFILES = "profiles"
NOTIFICATIONS = "notifications"
BROKERAGE_FIELD = "brokerage"
# `auth=quantconnect`: the profile's OAuth tokens come from QuantConnect's authorization (live/auth0/read).
AUTH_FIELD = "auth"
QUANTCONNECT = "quantconnect"
QC_USER_ID_KEY = "quantconnect/user-id"
QC_API_TOKEN_KEY = "quantconnect/api-token"

# Keys whose values are identifiers rather than credentials: they are not masked in logs, because masking a
# brokerage id or the numeric QuantConnect user id would garble every log line that names them.
_NON_SECRET_LAST_SEGMENTS = frozenset({BROKERAGE_FIELD, AUTH_FIELD})
_NON_SECRET_KEYS = frozenset({QC_USER_ID_KEY})
# Notification presets: addresses, subjects, phone numbers and chat ids are shown on cards and in Preview;
# only webhook header values (`header-<name>`) and Telegram bot tokens are credentials.
_NOTIFICATION_SECRET_FIELDS = frozenset({"bot-token"})
NOTIFICATION_HEADER_PREFIX = "header-"


def is_segment(text: str) -> bool:
    """True when `text` is a valid key segment (profile name or field name)."""
    return len(text) <= MAX_SEGMENT_LENGTH and _SEGMENT.fullmatch(text) is not None


def validate_profile_name(profile: str) -> str:
    """Return the profile name unchanged, or raise InvalidProfileName."""
    if not is_segment(profile):
        raise InvalidProfileName(profile)
    return profile


def split_key(key: str) -> list[str]:
    """Split a logical key into segments, raising ValueError for a malformed key (a programming error)."""
    segments = key.split("/")
    if not key or not all(is_segment(segment) for segment in segments):
        raise ValueError(f"malformed logical secret key {key!r}")
    return segments


def is_valid_key(key: str) -> bool:
    """True when `key` is a well-formed logical key."""
    try:
        split_key(key)
    except ValueError:
        return False
    return True


def normalize_prefix(prefix: str) -> list[str]:
    """Segments of a listing prefix ('' or 'profiles/' or 'profiles/ib-main/'); ValueError if malformed."""
    stripped = prefix.strip("/")
    return split_key(stripped) if stripped else []


def profile_key(profile: str, field: str) -> str:
    """Logical key of one field of a credential profile, e.g. profiles/ib-main/ib-password."""
    return f"{PROFILES}/{profile}/{field}"


def secret_label(key: str) -> str:
    """The name a masked value shows (`***ib-password***`): the field, `qc-` + field for QuantConnect's."""
    last = key.rsplit("/", 1)[-1]
    return f"qc-{last}" if key.startswith(f"{QUANTCONNECT}/") else last


def notification_key(preset: str, field: str) -> str:
    """Logical key of one field of a notification preset, e.g. notifications/ops-webhook/address."""
    return f"{NOTIFICATIONS}/{preset}/{field}"


def is_secret_key(key: str) -> bool:
    """True when the value under `key` is a credential that must be masked wherever it appears."""
    last = key.rsplit("/", 1)[-1]
    if key.startswith(f"{NOTIFICATIONS}/"):
        return last in _NOTIFICATION_SECRET_FIELDS or last.startswith(NOTIFICATION_HEADER_PREFIX)
    return key not in _NON_SECRET_KEYS and last not in _NON_SECRET_LAST_SEGMENTS
