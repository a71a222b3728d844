"""Masks every secret value the process has loaded, wherever it would appear in a log record."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

MASK = "***"
# Shorter values would match all over ordinary text and make logs unreadable; they are too weak to be real
# credentials anyway.
MIN_SECRET_LENGTH = 4


class SecretRegistry:
    """Thread-safe set of secret values loaded by this process, with a cached matcher to mask them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str | None) -> None:
        """Remember a loaded secret value so that it is masked from now on (short values are ignored)."""
        if value is None or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                self._pattern = None

    def register_many(self, values: Iterable[str | None]) -> None:
        """Register several values at once (e.g. the Slack tokens read by the settings)."""
        for value in values:
            self.register(value)

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def __repr__(self) -> str:
        return f"SecretRegistry({len(self)} values)"

    def _matcher(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                # Longest first so that a secret containing another one is masked whole.
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(value) for value in ordered))
            return self._pattern

    def redact(self, text: str) -> str:
        """Return `text` with every registered value replaced by ***."""
        pattern = self._matcher()
        if pattern is None:
            return text
        return pattern.sub(MASK, text)


DEFAULT_REGISTRY = SecretRegistry()

_install_lock = threading.Lock()
_installed: list[SecretRegistry] = []
_formatter = logging.Formatter()


def redact(text: str) -> str:
    """Mask the values of the default registry and of every installed one in `text`."""
    with _install_lock:
        extra = [registry for registry in _installed if registry is not DEFAULT_REGISTRY]
    for registry in (DEFAULT_REGISTRY, *extra):
        text = registry.redact(text)
    return text


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
    with _install_lock:
        if not any(existing is registry for existing in _installed):
            _installed.append(registry)
        if not isinstance(logging.getLogRecordFactory(), _RedactingFactory):
            logging.setLogRecordFactory(_RedactingFactory(logging.getLogRecordFactory()))
    # Handlers configured before start-up may receive records made by code that bypasses the factory
    # (logging.makeLogRecord, records unpickled from another process); the root handlers get the filter too.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter())
