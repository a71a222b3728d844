"""The one outbound mask: every loaded secret value, in its common escaped forms, becomes a marker naming it.

Whatever leaves the bot (Slack calls, database rows, audit exports, log lines) passes `redact` (text) or
`redact_data` (JSON-like structures). A value is matched however a library or QuantConnect may have spelled
it: verbatim, JSON string escapes (`\\"`, `\\u00e9`, `\\/`), Python repr escapes (`\\'`, `\\x07`),
URL encoding (quote, quote_plus, either hex case, any set of safe characters) and Slack/HTML entities
(`&amp;`, `&lt;`, `&gt;`), each character in any of these spellings. It is replaced by `***<field>***`, where
the field is the name the value was registered under (e.g. `***ib-password***`), so a reader still learns
which credential an error was about.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
DEFAULT_NAME = "secret"
# Shorter values would match all over ordinary text and make logs unreadable; they are too weak to be real
# credentials anyway.
MIN_SECRET_LENGTH = 4
# Below this length, and for values without a letter (a 4-digit year of birth, which QuantConnect asks Samco
# for; account numbers), a value is masked only where it stands as a whole token: "1985" or "000000000"
# inside a Slack timestamp, a project id or a hex id is left alone, since masking those would break the
# message and tell nothing. Longer values with letters are masked wherever they appear, even glued to a word.
ANYWHERE_MIN_LENGTH = 8

_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# Short escapes of JSON (json.dumps, and encoders that also escape "/") and of Python's repr.
_JSON_SHORT = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_REPR_SHORT = {"'": "\\'", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ENTITIES = {"&": ("&amp;",), "<": ("&lt;",), ">": ("&gt;",), '"': ("&quot;",), "'": ("&#x27;", "&#39;")}
# What may stand right before a value whose first character is a letter or digit, without making the value
# part of a longer word: the end of a percent-escape or of a backslash escape (JSON and repr).
_ESCAPE_ENDINGS = (r"%[0-9A-Fa-f]{2}", r"\\[abfnrtv0]", r"\\x[0-9A-Fa-f]{2}", r"\\u[0-9A-Fa-f]{4}")


def marker(name: str) -> str:
    """The text that replaces a secret value: `***<name>***`."""
    return f"{MASK}{name}{MASK}"


def _hex(text: str) -> str:
    """A regex for hex digits in either case (encoders disagree: Python upper, .NET's UrlEncode lower)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in text)


def _utf16_escapes(char: str) -> str:
    """`\\uXXXX` (a surrogate pair beyond the BMP) as JSON and repr write a character, as a regex."""
    code = ord(char)
    if code <= 0xFFFF:
        return _hex_escape("\\u", code, 4)
    code -= 0x10000
    return _hex_escape("\\u", 0xD800 + (code >> 10), 4) + _hex_escape("\\u", 0xDC00 + (code & 0x3FF), 4)


def _hex_escape(prefix: str, code: int, width: int) -> str:
    return re.escape(prefix) + _hex(f"{code:0{width}x}")


def _char_pattern(char: str) -> str:
    """Every spelling of one character of a secret, as a regex."""
    if char in _ASCII_ALNUM:
        return re.escape(char)
    forms = {re.escape(char)}
    # URL encoding: the UTF-8 bytes as %XX, and quote_plus's space.
    forms.add("".join("%" + _hex(f"{byte:02X}") for byte in char.encode("utf-8")))
    if char == " ":
        forms.add(r"\+")
    for table in (_JSON_SHORT, _REPR_SHORT):
        if char in table:
            forms.add(re.escape(table[char]))
    forms.update(re.escape(entity) for entity in _ENTITIES.get(char, ()))
    # JSON encoders may write any character as \\uXXXX (.NET's default one does so for < > & ' + ").
    forms.add(_utf16_escapes(char))
    code = ord(char)
    if code < 0x20 or code >= 0x7F:
        if code <= 0xFF:
            forms.add(_hex_escape("\\x", code, 2))
        elif code > 0xFFFF:
            forms.add(_hex_escape("\\U", code, 8))
    return "(?:" + "|".join(sorted(forms, key=len, reverse=True)) + ")"


def needs_whole_token(value: str) -> bool:
    """Short values and values without a letter (years, account numbers) match only as whole tokens."""
    return len(value) < ANYWHERE_MIN_LENGTH or not any(char.isalpha() for char in value)


def value_pattern(value: str) -> str:
    """A regex matching `value` in any of its spellings (as a whole token where `needs_whole_token`)."""
    first, *rest = value
    whole = needs_whole_token(value)
    head = _char_pattern(first)
    if whole and first in _ASCII_ALNUM:
        # Checked after the first character so that the regex engine can skip ahead on it; the look-behinds
        # include that character, hence the fixed widths.
        lit = re.escape(first)
        allowed = [f"(?<![A-Za-z0-9]{lit})"] + [f"(?<={ending}{lit})" for ending in _ESCAPE_ENDINGS]
        head += "(?:" + "|".join(allowed) + ")"
    body = "".join(_char_pattern(char) for char in rest)
    tail = "(?![A-Za-z0-9])" if whole and value[-1] in _ASCII_ALNUM else ""
    return head + body + tail


_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")


class _Secret:
    """One registered value: its marker name, its compiled pattern and a literal part to look for first."""

    __slots__ = ("anchor", "name", "pattern", "value")

    def __init__(self, value: str, name: str) -> None:
        self.value = value
        self.name = name
        self.pattern = re.compile(value_pattern(value))
        # Letters and digits have one spelling only, so the longest run of them must appear literally
        # wherever the value does in any spelling: a plain substring test rules most texts out cheaply.
        runs = _ALNUM_RUN.findall(value)
        self.anchor: str | None = max(runs, key=len) if runs else None

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Where the value occurs in `text`, overlapping occurrences included."""
        if self.anchor is not None and self.anchor not in text:
            return []
        found = []
        match = self.pattern.search(text)
        while match is not None:
            found.append((match.start(), match.end(), self.name))
            match = self.pattern.search(text, match.start() + 1)
        return found


def _screen(secrets: Iterable[_Secret]) -> re.Pattern[str] | None:
    """One regex finding any value's anchor: a text it misses holds no value. None when a value has none."""
    anchors: set[str] = set()
    for secret in secrets:
        if secret.anchor is None:
            return None
        anchors.add(secret.anchor)
    return re.compile("|".join(re.escape(anchor) for anchor in sorted(anchors)))


class SecretRegistry:
    """Thread-safe set of secret values loaded by this process, each with the name its marker shows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, _Secret] = {}
        # Rebuilt on change and read without the lock: a reader sees the old or the new pair, both whole.
        # The values longest first, and the screen: every outbound string is masked, and one regex search
        # (instead of a Python call per value) clears the many that hold none.
        self._current: tuple[tuple[_Secret, ...], re.Pattern[str] | None] = ((), None)

    def register(self, value: str | None, name: str | None = None) -> None:
        """Mask `value` from now on as `***name***` (short values are ignored; the first name stays)."""
        if value is None or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            known = self._secrets.get(value)
            # A value first registered without a name gets the name it is registered under later.
            if known is not None and (known.name != DEFAULT_NAME or not name):
                return
            self._secrets[value] = _Secret(value, name or DEFAULT_NAME)
            # Longest first, so that a value containing another one names itself first.
            ordered = tuple(sorted(self._secrets.values(), key=lambda s: len(s.value), reverse=True))
            self._current = (ordered, _screen(ordered))

    def register_many(self, values: Iterable[str | None]) -> None:
        """Register several values at once under the default name."""
        for value in values:
            self.register(value)

    def __len__(self) -> int:
        return len(self._current[0])

    def __repr__(self) -> str:
        return f"SecretRegistry({len(self)} values)"

    def redact(self, text: str) -> str:
        """`text` with every registered value, in any spelling, replaced by its marker."""
        ordered, screen = self._current
        if not ordered or (screen is not None and screen.search(text) is None):
            return text
        spans = [span for secret in ordered for span in secret.spans(text)]
        return _replace(text, spans) if spans else text


def _replace(text: str, spans: list[tuple[int, int, str]]) -> str:
    """Replace each run of overlapping spans by one marker naming its values (not those inside others)."""
    # Longest first at each start: a value found inside a longer one adds no name.
    spans.sort(key=lambda span: (span[0], -span[1]))
    out: list[str] = []
    position = 0
    index = 0
    while index < len(spans):
        start, end, name = spans[index]
        names = [name]
        index += 1
        while index < len(spans) and spans[index][0] < end:
            if spans[index][1] > end:
                end = spans[index][1]
                if spans[index][2] not in names:
                    names.append(spans[index][2])
            index += 1
        out.append(text[position:start])
        out.append(marker("+".join(names)))
        position = end
    out.append(text[position:])
    return "".join(out)


DEFAULT_REGISTRY = SecretRegistry()

_registries_lock = threading.Lock()
# Replaced whole under the lock and read without it (redact runs for every outbound string).
_registries: tuple[SecretRegistry, ...] = (DEFAULT_REGISTRY,)


def add_registry(registry: SecretRegistry) -> None:
    """Have `redact` mask this registry's values too (idempotent)."""
    global _registries
    with _registries_lock:
        if not any(existing is registry for existing in _registries):
            _registries = (*_registries, registry)


def redact(text: str) -> str:
    """THE outbound mask: `text` with every registered secret value replaced by `***<field>***`."""
    for registry in _registries:
        text = registry.redact(text)
    return text


def redact_data(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, tuples) with `redact` applied to every string in it."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: redact_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in value]
    return value
