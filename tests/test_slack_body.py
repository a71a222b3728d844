"""The fast decoder of Slack's interactive bodies agrees with urllib on every input."""

from __future__ import annotations

import json
from urllib.parse import quote_plus, unquote_plus, urlencode

from hypothesis import example, given
from hypothesis import strategies as st

from bot.slack_body import payload_json, unquote_plus_fast

# Text made of what percent-encoded bodies are made of, so malformed escapes come up often.
form_alphabet = st.sampled_from([*'%+\\abcdefABCDEF0123456789xX{}":=&', "é", "€", "\x00", "\x7f", " "])


@given(st.text())
@example("%5C%5Cx41")
@example("\\x41")
@example("caf%C3%A9+%E2%82%AC")
def test_any_text_round_trips_through_quote_plus(text: str) -> None:
    assert unquote_plus_fast(quote_plus(text)) == text


@given(st.text(form_alphabet, max_size=40))
@example("%")
@example("%4")
@example("%zz")
@example("%C3")  # half a UTF-8 character: replaced, as urllib does
@example("%ff%fe")
@example("\\%41")
@example("é%41")
def test_any_input_decodes_exactly_as_urllib_does(value: str) -> None:
    assert unquote_plus_fast(value) == unquote_plus(value)


def test_a_payload_body_gives_its_json_text() -> None:
    payload = {"type": "view_submission", "view": {"blocks": [{"text": "a+b & c=d 100% \\ é"}]}}
    body = urlencode({"payload": json.dumps(payload)})
    assert json.loads(payload_json(body) or "") == payload


def test_other_bodies_are_left_to_bolt() -> None:
    assert payload_json("command=%2Fqc&text=help") is None
    assert payload_json("payload=%7B%7D&extra=1") is None  # two fields: Bolt's own parsing
    assert payload_json("payload=not-json") is None
    assert payload_json("") is None
