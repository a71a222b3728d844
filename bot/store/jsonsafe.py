"""Turn values headed for a JSON column into plain JSON, refusing secrets on the way."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import SecretBytes, SecretStr

from bot.store.errors import SecretRejected


def json_safe(value: Any, path: str) -> Any:
    """Return a plain-JSON copy of `value`; raise SecretRejected if a SecretStr/SecretBytes is inside."""
    # Check secrets before anything else: a SecretStr would otherwise be stringified as '**********'
    # by a lenient encoder and the mistake would go unnoticed.
    if isinstance(value, SecretStr | SecretBytes):
        raise SecretRejected(path)
    if value is None or isinstance(value, bool | int | float | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Enum):
        return json_safe(value.value, path)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: JSON object keys must be strings, got {type(key).__name__}")
            out[key] = json_safe(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [json_safe(item, f"{path}[{index}]") for index, item in enumerate(value)]
    raise TypeError(f"{path}: {type(value).__name__} cannot be stored as JSON")
