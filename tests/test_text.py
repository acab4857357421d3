"""Text normalisation and word tokens: exact examples and properties."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import suggest.text as text_module
from suggest.text import normalize, strip_citations, words


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Fact\u2011checking and well\u2010known", "Fact-checking and well-known"),
        ("NFKC: \ufb01le \uff11\uff12 \u2460", "NFKC: file 12 1"),
        ("**Bold** and *stray* stars*", "Bold and stray stars"),
        ("# 1. Summary of the results", "1. Summary of the results"),
        ("## Heading", "Heading"),
        ("A # inside stays", "A # inside stays"),
        ("[Does 5G cause illness?](https://factually.co/x)", "Does 5G cause illness?"),
        ('<a href="https://factually.co/x">Link text</a> after', "Link text after"),
        ("class=\"note\" data-x='1'>Text", "Text"),
        ("<b>bold</b> 1 < 2 > 0", "bold 1 < 2 > 0"),
        ("\u201cCurly\u201d \u2018quotes\u2019 and \"straight\" 'ones'", "\u201cCurly\u201d \u2018quotes\u2019 and \"straight\" 'ones'"),
        ("Citations [1] [2], glued[7] kept", "Citations [1] [2], glued[7] kept"),
        ("  spaces\t\u00a0 folded  ", "spaces folded"),
        ("em\u2014dash \u2013 en \u2026 \u00b0 ~ \u00e9 \u2022", "em\u2014dash \u2013 en ... \u00b0 ~ \u00e9 \u2022"),
        ("e\u0301", "\u00e9"),
        ("", ""),
    ],
)  # fmt: skip
def test_normalize_examples(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a [1] [2] b", "a b"),
        ("a [3] [1] [3] b", "a b"),
        ("confession[7].", "confession."),
        ("According to [1], x", "According to, x"),
        ("[1], [2], and [5]", ",, and"),
        ("up to [12] and [123]", "up to and"),
        ("no citation here", "no citation here"),
    ],
)
def test_strip_citations(raw, expected):
    assert strip_citations(raw) == expected


def test_words_leave_out_citations_stop_words_and_case():
    text = (
        "According to [1], fact\u2011checking [12] found THE confession[7] Results [1], [2], and [5] "
        "in 2016\u20132024 don\u2019t U.S."
    )
    assert words(text) == ["according", "fact", "checking", "confession", "results", "2016", "2024", "don"]
    assert words("[1] [2] [3]") == [] and words("") == []


def test_words_do_not_depend_on_which_hyphen_or_citation_form():
    forms = [
        "fact-checking works [1] [2].",
        "fact\u2011checking works[1][2].",
        "Fact\u2010Checking works [2], [1].",
    ]
    assert {tuple(words(f)) for f in forms} == {("fact", "checking", "works")}


# --- idempotence ---------------------------------------------------------------------------------

# Text built from what normalize() removes or rewrites, so a property test meets it often.
MARKUP = st.lists(
    st.sampled_from(["# ", "#", " ", "\t", "*", "**", "<", ">", "<b>", "[", "]", "(", ")", "[a]", "(b)", "a",
                     "e", "\u0301", "\u2011", "\ufb01", '="x"', "x"]),
    max_size=12,
).map("".join)  # fmt: skip


@given(st.text())
@settings(max_examples=500, deadline=None)
def test_normalize_of_plain_text_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@given(MARKUP)
@settings(max_examples=2000, deadline=None, derandomize=True)
def test_normalize_of_markup_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@pytest.mark.parametrize(
    "text",
    [
        "# # x",  # '# x' after one pass, 'x' after two
        "#\t# x",
        "a*\u0301",  # removing '*' leaves 'a' + combining acute, composed only by a second NFKC
        "<<b>a>x",  # removing the inner tag makes a new one
        "[[a](b)](c)",  # removing the inner link makes a new one
    ],
)
def test_normalize_minimal_non_idempotent_examples(text):
    once = normalize(text)
    assert normalize(once) == once


# --- the skipped steps change nothing ----------------------------------------------------------


def _every_step_once(text: str) -> str:
    """`_normalize_once` with every step run, whatever the text holds: the oracle."""
    text = unicodedata.normalize("NFKC", text).translate(text_module._HYPHENS)
    text = text_module._LINK_MD.sub(r"\1", text)
    text = text_module._TAG.sub("", text)
    text = text_module._OPEN_TAG.sub("", text)
    text = text_module._ATTR_FRAGMENT.sub("", text)
    text = text.replace("*", "")
    text = text_module._LEADING_HASHES.sub("", text)
    return text_module._SPACES.sub(" ", text).strip()


SPACED = st.lists(
    st.sampled_from(["  ", " ", "\t", "\u00a0", "\u2010", "\u2011", "](", "=", ">", "<", "'y'", "a b", "\u00e9"]),
    max_size=12,
).map("".join)  # fmt: skip


@given(st.one_of(st.text(), MARKUP, SPACED, st.tuples(MARKUP, SPACED, st.text(max_size=5)).map("".join)))
@settings(max_examples=3000, deadline=None, derandomize=True)
def test_normalize_skips_only_steps_that_change_nothing(text):
    assert text_module._normalize_once(text) == _every_step_once(text)


def test_a_tag_left_open_is_removed_like_a_closed_one():
    """``<img src=x onerror=...`` with no ``>`` was kept as it was (issue: hardening round two)."""
    assert normalize("Does <img src=x onerror=alert(1) water flush toxins?") == "Does"
    assert normalize("Is 3 < 4?") == "Is 3 < 4?"
    assert normalize("Is a<b and b = c?") == "Is a<b and b = c?"
