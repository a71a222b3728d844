"""Log records pass the one outbound mask (bot.secrets.masking): message, arguments, extras, tracebacks.

The registry and the mask itself live in bot.secrets.masking; their names are re-exported here for the
callers that predate it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from bot.secrets.masking import (
    DEFAULT_REGISTRY,
    MASK,
    MIN_SECRET_LENGTH,
    SecretRegistry,
    add_registry,
    redact,
    redact_data,
)

__all__ = [
    "DEFAULT_REGISTRY",
    "MASK",
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "SecretRegistry",
    "install_redaction",
    "redact",
    "redact_data",
]

_install_lock = threading.Lock()

_formatter = logging.Formatter()
# Attributes every LogRecord has; anything else on a record came from `extra=`.
STANDARD_ATTRIBUTES = frozenset(
    {*logging.makeLogRecord({}).__dict__, "message", "asctime", "taskName", "exc_text", "stack_info"}
)


def record_extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields passed to a log call through `extra=`, in the order they were given."""
    return {name: value for name, value in record.__dict__.items() if name not in STANDARD_ATTRIBUTES}


def _mask_value(value: object) -> object:
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:
        return value
    masked = redact(text)
    return value if masked == text else masked


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:
        # A broken format string still reaches the handler, whose error report prints msg and args raw:
        # mask each part instead of the (unformattable) whole.
        record.msg = _mask_value(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {name: _mask_value(value) for name, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_mask_value(value) for value in record.args)
    else:
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, ()
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        # Formatters reuse a cached exc_text instead of formatting exc_info again, so the masked traceback is
        # what every handler prints, including handlers added after start-up.
        record.exc_text = _formatter.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    # Extras are set after the factory made the record, so only the handler filter sees them; formatters
    # mask what they print of them anyway (bot.logging_setup).
    for name, value in record_extras(record).items():
        if isinstance(value, str | list | tuple | dict):
            setattr(record, name, redact_data(value))


class RedactingFilter(logging.Filter):
    """Logging filter that masks secret values; attach it to handlers that receive foreign records."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place and always let it through."""
        _redact_record(record)
        return True


class _RedactingFactory:
    """LogRecord factory wrapper: every record is masked when created, before any handler sees it."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        _redact_record(record)
        return record


def install_redaction(registry: SecretRegistry = DEFAULT_REGISTRY) -> None:
    """Mask `registry`'s values in every log record from now on, for all handlers; safe to call repeatedly."""
    add_registry(registry)
    with _install_lock:
        if not isinstance(logging.getLogRecordFactory(), _RedactingFactory):
            logging.setLogRecordFactory(_RedactingFactory(logging.getLogRecordFactory()))
    # Handlers configured before start-up may receive records made by code that bypasses the factory
    # (logging.makeLogRecord, records unpickled from another process); the root handlers get the filter too.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter())
