"""Numbers people type: ASCII digits only, ids that fit the database, amounts that are finite and sane.

`str.isdigit()` accepts "²", "①" and "٣", which `int()` refuses or silently reads as another digit; ids
beyond signed 64 bits overflow SQLite and PostgreSQL bigint columns. Everything the bot reads as a number
from a person goes through here instead.
"""

from __future__ import annotations

import math
import re

from bot.echo import echo

# SQLite INTEGER and PostgreSQL BIGINT are signed 64-bit.
INT64_MAX = 2**63 - 1
# Largest magnitude accepted for a quantity, price or cash amount: a float keeps 15 significant digits
# exactly, so anything beyond is a typo rather than a balance (and still far inside C#'s decimal range).
MAX_AMOUNT = 10**15

_ASCII_DIGITS = re.compile(r"[0-9]+")
# Plain decimal notation: optional sign, digits with an optional fraction. No exponents, no "inf"/"nan".
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Thousands separators as traders paste them: "10,000" or "1,500.75" (groups of three after the first).
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")


def is_ascii_digits(text: str) -> bool:
    """Whether `text` is one or more of the ASCII digits 0-9 and nothing else."""
    return _ASCII_DIGITS.fullmatch(text) is not None


def parse_id(text: str) -> int | None:
    """A positive whole number in ASCII digits that fits signed 64 bits, else None."""
    cleaned = text.strip()
    if not is_ascii_digits(cleaned):
        return None
    # Bounded before int(): a thousand-digit string is not converted just to be refused.
    if len(cleaned.lstrip("0")) > len(str(INT64_MAX)):
        return None
    value = int(cleaned)
    return value if 0 < value <= INT64_MAX else None


def parse_amount(text: str) -> float | None:
    """A finite decimal number within ±MAX_AMOUNT written with ASCII digits ("10,000" allowed), else None."""
    cleaned = text.strip()
    if _GROUPED.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    if len(cleaned) > 64 or _DECIMAL.fullmatch(cleaned) is None:
        return None
    value = float(cleaned)
    if not math.isfinite(value) or abs(value) > MAX_AMOUNT:
        return None
    return value + 0.0  # -0.0 becomes 0.0, so "-0" is zero and nothing else


def id_problem(text: str, what: str = "an id") -> str:
    """One line saying why `text` is not a usable id, for replies to a person."""
    return (
        f"`{echo(text)}` is not {what}: ids are whole numbers written with the digits 0-9, "
        f"from 1 to {INT64_MAX}."
    )
