"""QuantConnect security identifiers (`symbolId` of a starting holding), checked against Lean's string form.

Lean's `SecurityIdentifier.ToString()` writes `SYMBOL PROPERTIES`, where PROPERTIES is a 64-bit unsigned
integer in upper-case base 36 (0-9, A-Z) whose lowest two decimal digits are the security type; a
derivative is followed by its underlying's identifier after a `|` ("SPY 3033WWUF8MUH2|SPY R735QTJ8XC9X",
a put on SPY). The symbol part must not contain a space or a `|` (Lean's `InvalidSymbolCharacters`).
Examples from QuantConnect's OpenAPI file: "SPY R735QTJ8XC9X", "BTCUSD 2XR".
"""

from __future__ import annotations

import re

SYMBOL_ID_HELP = 'a QuantConnect symbol id such as "SPY R735QTJ8XC9X" or "BTCUSD 2XR"'
# Lean's SecurityType values: Base 0 through CryptoFuture 11; a larger type is no identifier Lean can parse.
MAX_SECURITY_TYPE = 11
MAX_UNSIGNED_64 = 2**64 - 1
# A ticker is short; bounds keep a pasted paragraph from being carried into the request.
MAX_SYMBOL_LENGTH = 40
MAX_CHAIN = 4

_SYMBOL = re.compile(rf"[!-{{}}~]{{1,{MAX_SYMBOL_LENGTH}}}")  # printable ASCII without space and "|"
_PROPERTIES = re.compile(r"[0-9A-Z]{1,13}")


def _shown(text: str) -> str:
    return text if len(text) <= MAX_SYMBOL_LENGTH else text[: MAX_SYMBOL_LENGTH - 1] + "…"


def _properties_problem(properties: str) -> str | None:
    if _PROPERTIES.fullmatch(properties) is None:
        return f'"{_shown(properties)}" must be upper-case letters A-Z and digits 0-9 (base 36)'
    value = int(properties, 36)
    if value > MAX_UNSIGNED_64:
        return f'"{properties}" is larger than a symbol id can be'
    if value % 100 > MAX_SECURITY_TYPE:
        return f'"{properties}" names no security type QuantConnect knows'
    return None


def normalize_symbol_id(text: str) -> str:
    """The identifier with single spaces, or ValueError saying what is wrong and what is expected."""
    parts = [" ".join(part.split()) for part in text.strip().split("|")]
    if len(parts) > MAX_CHAIN:
        raise ValueError(f"symbol id has more than {MAX_CHAIN} parts; expected {SYMBOL_ID_HELP}.")
    for part in parts:
        pieces = part.split(" ")
        if len(pieces) != 2 or not all(pieces):
            raise ValueError(
                f'symbol id part "{_shown(part)}" needs SYMBOL and PROPERTIES; expected {SYMBOL_ID_HELP}.'
            )
        symbol, properties = pieces
        if _SYMBOL.fullmatch(symbol) is None:
            raise ValueError(
                f'symbol id part "{_shown(part)}": the symbol must be 1-{MAX_SYMBOL_LENGTH} printable ASCII '
                f"characters without spaces; expected {SYMBOL_ID_HELP}."
            )
        problem = _properties_problem(properties)
        if problem is not None:
            raise ValueError(f"symbol id part {problem}; expected {SYMBOL_ID_HELP}.")
    return "|".join(parts)
