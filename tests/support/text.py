"""Text a person could type, for property tests of every parser of typed input."""

from __future__ import annotations

from hypothesis import strategies as st

# Any text a person could send (no lone surrogates: they cannot be encoded to reach the bot at all).
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
# Superscript two, circled one, Arabic-Indic three, full-width twelve, NKo one, Bengali four, Roman twelve.
ODD_DIGITS = [
    "\u00b2",
    "\u2460",
    "\u0663",
    "\uff11\uff12",
    "\u07c1",
    "\u09ea",
    "\u216b",
    "\u0663\u0664",
    "9" * 25,
    "-7",
    "+7",
    "0",
    "00",
    " 42 ",
    "4 2",
]
