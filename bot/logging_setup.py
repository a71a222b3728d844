"""Logging: one line per event, JSON when LOG_FORMAT=json, every field masked by the one outbound mask."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from bot.secrets.redaction import record_extras, redact, redact_data

# Keys of the JSON format itself; an extra field of the same name is written as `<name>.extra`.
_JSON_KEYS = frozenset({"at", "level", "logger", "message", "exception", "stack"})


def json_value(value: Any) -> Any:
    """A JSON-ready copy of an extra field's value, masked; anything exotic becomes its (masked) text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str | list | tuple | dict):
        try:
            # Round-trip so that nested values that JSON cannot hold become text before masking.
            plain = json.loads(json.dumps(value, default=str))
        except (TypeError, ValueError):
            return redact(str(value))
        return redact_data(plain)
    return redact(_text(value))


def text_value(value: Any) -> str:
    """An extra field's value for the text format: masked, quoted when it has spaces, quotes or `=`."""
    shown = redact(value if isinstance(value, str) else _text(value))
    if shown == "" or any(char.isspace() or char in "\"'=[]" for char in shown):
        return json.dumps(shown, ensure_ascii=False)
    return shown


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not lose the log line
        return f"<{type(value).__name__}>"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object per line, with every extra field."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single-line JSON document."""
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            # The record factory masked it already; masking again covers records made elsewhere.
            "message": redact(record.getMessage()),
        }
        for name, value in record_extras(record).items():
            entry[f"{name}.extra" if name in _JSON_KEYS else name] = json_value(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(record.stack_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Plain text with every extra field appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, with its extra fields appended."""
        text = redact(super().format(record))
        context = " ".join(f"{name}={text_value(value)}" for name, value in record_extras(record).items())
        return f"{text} [{context}]" if context else text


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send logs to stderr in the chosen format and install secret redaction (idempotent)."""
    from bot.secrets.redaction import install_redaction

    root = logging.getLogger()
    root.setLevel(level)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for existing in list(root.handlers):
        if getattr(existing, "_qc_bot", False):
            root.removeHandler(existing)
    handler._qc_bot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    install_redaction()
    # Third-party loggers that would otherwise log request details at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
