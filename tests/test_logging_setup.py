"""Both log formats print every field passed with `extra=`, masked like everything else, JSON-safe in JSON."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logging_setup import JsonFormatter, TextFormatter
from bot.secrets import DEFAULT_REGISTRY

SECRET = "xoxb-logged-token-123"


class Opaque:
    """A value JSON cannot hold, whose text carries a secret."""

    def __str__(self) -> str:
        return f"Opaque({SECRET})"


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    DEFAULT_REGISTRY.register(SECRET, "SLACK_BOT_TOKEN")
    logger = logging.getLogger("tests.logging_setup")
    text, structured = io.StringIO(), io.StringIO()
    handlers = [logging.StreamHandler(text), logging.StreamHandler(structured)]
    handlers[0].setFormatter(TextFormatter())
    handlers[1].setFormatter(JsonFormatter())
    for handler in handlers:
        logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield logger, text, structured
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
        logger.propagate = True


def test_the_reason_is_printed_in_both_formats(
    lines: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, text, structured = lines
    logger.warning(
        "Slack call failed",
        extra={"method": "chat.postMessage", "error": "ratelimited", "group_id": "S123", "retry_after": 1.5},
    )
    assert (
        text.getvalue()
        .rstrip()
        .endswith(
            "WARNING tests.logging_setup: Slack call failed "
            "[method=chat.postMessage error=ratelimited group_id=S123 retry_after=1.5]"
        )
    )
    entry = json.loads(structured.getvalue())
    assert entry["message"] == "Slack call failed"
    assert entry["method"] == "chat.postMessage" and entry["error"] == "ratelimited"
    assert entry["group_id"] == "S123" and entry["retry_after"] == 1.5


def test_extra_fields_are_masked_and_json_safe(
    lines: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, text, structured = lines
    logger.error(
        "call failed",
        extra={
            "error": f"invalid_auth for {SECRET}",
            "detail": {"token": SECRET, "tries": [1, 2]},
            "thing": Opaque(),
            "level": "not the record's level",
            "note": "two words",
        },
    )
    written = text.getvalue() + structured.getvalue()
    assert SECRET not in written
    assert 'error="invalid_auth for ***SLACK_BOT_TOKEN***"' in text.getvalue()
    assert 'note="two words"' in text.getvalue()
    entry = json.loads(structured.getvalue())
    assert entry["error"] == "invalid_auth for ***SLACK_BOT_TOKEN***"
    assert entry["detail"] == {"token": "***SLACK_BOT_TOKEN***", "tries": [1, 2]}
    assert entry["thing"] == "Opaque(***SLACK_BOT_TOKEN***)"
    # A field named like one of the format's own keys does not overwrite it.
    assert entry["level"] == "ERROR" and entry["level.extra"] == "not the record's level"
