"""The one outbound mask: each registered value, in every spelling, anywhere in a text, becomes its marker."""

from __future__ import annotations

import html
import json
import re
import string
from urllib.parse import quote, quote_plus

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.secrets.masking import (
    ANYWHERE_MIN_LENGTH,
    MIN_SECRET_LENGTH,
    SecretRegistry,
    marker,
    needs_whole_token,
    redact_data,
)


def spellings(value: str) -> list[str]:
    """How libraries and QuantConnect write a value into text."""
    return [
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value).replace("/", "\\/")[1:-1],
        repr(value)[1:-1],
        ascii(value)[1:-1],
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        # .NET's HttpUtility.UrlEncode writes lower-case hex.
        re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(value, safe="")),
        html.escape(value, quote=False),
        html.escape(value),
    ]


def registry_with(*values: tuple[str, str]) -> SecretRegistry:
    registry = SecretRegistry()
    for value, name in values:
        registry.register(value, name)
    return registry


# Values masked anywhere: long enough and with a letter. Punctuation, quotes, backslashes, regex
# metacharacters, spaces, non-ASCII and emoji included.
ALPHABET = string.ascii_letters + string.digits + " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~éßλ中😀\t\n"
long_values = st.text(ALPHABET, min_size=ANYWHERE_MIN_LENGTH, max_size=24).filter(
    lambda v: not needs_whole_token(v)
)
any_text = st.text(ALPHABET + "%\\&;", max_size=30)


@settings(max_examples=300, deadline=None)
@given(value=long_values, before=any_text, after=any_text, form=st.integers(0, 11))
@example(value=".*+?[](){}|^$\\x", before="", after="", form=0)
@example(value='p@ss "w0rd"/é&<x>', before="url=", after="&next", form=6)
def test_a_registered_value_in_any_spelling_anywhere_is_masked(
    value: str, before: str, after: str, form: int
) -> None:
    registry = registry_with((value, "ib-password"))
    spelled = spellings(value)[form]
    masked = registry.redact(before + spelled + after)
    # A value that is part of the marker itself ("password") is found in the marker, not left unmasked.
    assert spelled not in masked.replace(marker("ib-password"), "")
    assert marker("ib-password") in masked


whole_token_values = st.one_of(
    st.from_regex(r"[0-9]{4,12}", fullmatch=True),
    st.text(string.ascii_letters + string.digits + "-_.", min_size=MIN_SECRET_LENGTH, max_size=7),
)
separators = st.sampled_from([" ", "\n", '"', "'", "=", ":", "/", "(", ")", ",", "*", "`", "%2C", "\\n"])


@settings(max_examples=200, deadline=None)
@given(value=whole_token_values, left=separators, right=separators, words=any_text)
def test_short_and_digit_only_values_are_masked_where_they_stand_alone(
    value: str, left: str, right: str, words: str
) -> None:
    registry = registry_with((value, "samco-year-of-birth"))
    masked = registry.redact(f"{words} {left}{value}{right} {words}")
    assert f"{left}{value}{right}" not in masked
    assert marker("samco-year-of-birth") in masked


def test_a_year_of_birth_is_masked_alone_but_not_inside_ids_and_timestamps() -> None:
    registry = registry_with(("1985", "samco-year-of-birth"))
    text = "born 1985; ts 1700001985.001985, request r-1985abcd, project 19851234, url ?y=1985&x"
    assert registry.redact(text) == (
        "born ***samco-year-of-birth***; ts 1700001985.001985, request r-1985abcd, project 19851234, "
        "url ?y=***samco-year-of-birth***&x"
    )


def test_values_below_the_minimum_length_are_not_masked() -> None:
    registry = registry_with(("abc", "short"), ("", "empty"))
    assert len(registry) == 0
    assert registry.redact("abc") == "abc"


def test_overlapping_values_are_masked_together_and_named_both() -> None:
    registry = registry_with(("user-abcdef", "ib-user-name"), ("abcdef-pass", "ib-password"))
    assert registry.redact("login user-abcdef-pass failed") == "login ***ib-user-name+ib-password*** failed"
    # A value inside a longer one adds no name of its own.
    registry.register("abcdefgh", "inner")
    registry.register("xx-abcdefgh-xx", "outer")
    assert registry.redact("[xx-abcdefgh-xx] [abcdefgh]") == "[***outer***] [***inner***]"


def test_regex_metacharacters_are_literal() -> None:
    registry = registry_with(("a.b*c+d?(e)[f]{g}|h^$\\", "tricky"))
    assert registry.redact("aXbbbcd") == "aXbbbcd"
    assert registry.redact("x a.b*c+d?(e)[f]{g}|h^$\\ y") == "x ***tricky*** y"


def test_the_marker_names_the_field_and_a_later_name_replaces_the_default() -> None:
    registry = SecretRegistry()
    registry.register("hunter2-secret")
    assert registry.redact("pw hunter2-secret") == "pw ***secret***"
    registry.register("hunter2-secret", "ib-password")
    registry.register("hunter2-secret", "other-field")  # the first real name stays
    assert registry.redact("pw hunter2-secret") == "pw ***ib-password***"


def test_structures_are_masked_at_every_depth_without_touching_keys_or_numbers() -> None:
    registry = registry_with(("tok-abcdef123", "qc-api-token"))
    from bot.secrets.masking import add_registry

    add_registry(registry)
    data = {"tok-abcdef123": ["x tok-abcdef123", {"n": 1, "t": ("tok-abcdef123",)}], "ok": True}
    assert redact_data(data) == {
        "tok-abcdef123": ["x ***qc-api-token***", {"n": 1, "t": ["***qc-api-token***"]}],
        "ok": True,
    }
