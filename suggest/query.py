"""Clean a short query text (a tweet, a debate sentence) before it is ranked.

Tweets carry parts that match nothing in an archive of fact-checks and only add noise: links,
the "— Name (@handle) Month D, YYYY" signature an embedded tweet ends with, @handles and
hashtags glued into one word. `clean_query` removes or splits them; every step is a flag so the
evaluation can measure each one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_URL = re.compile(
    r"(?:https?://|www\.|pic\.twitter\.com/)[^\s\u2014#]*|\b(?:t\.co|bit\.ly|youtu\.be)/[^\s\u2014#]+", re.IGNORECASE
)
# "— Center for Bio Div (@CenterForBioDiv) January 14, 2020" at the very end of an embedded tweet.
_TAIL = re.compile(
    r"\s*(?:[\u2014\u2013]|\s-)\s*(?P<name>[^\u2014\u2013]{0,100}?)\s*\(@\w+\)\s*"
    r"(?:[A-Z][a-z]+\.? \d{1,2}, \d{2,4})?\s*$"
)
_HANDLE = re.compile(r"(?<!\w)@(\w+)")
_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class QueryCleaning:
    """Which cleaning steps to apply.

    Attributes
    ----------
    urls : drop links (``https://...``, ``pic.twitter.com/...``).
    tail : drop the "— Name (@handle) date" signature of an embedded tweet; with
        ``tail_name`` keep the name (often the person the claim is about).
    handles : "drop" the @handles, "split" them into words (``@IlhanMN`` -> ``Ilhan MN``) or
        "keep" them as they are.
    hashtags : "split" hashtags into words (``#AustralianFires`` -> ``Australian Fires``),
        "drop" them or "keep" them.
    """

    urls: bool = True
    tail: bool = True
    tail_name: bool = True
    handles: str = "split"
    hashtags: str = "split"

    def __post_init__(self) -> None:
        for name in ("handles", "hashtags"):
            if getattr(self, name) not in ("keep", "split", "drop"):
                raise ValueError(f"{name}={getattr(self, name)!r}; use keep, split or drop")


NO_CLEANING = QueryCleaning(urls=False, tail=False, tail_name=False, handles="keep", hashtags="keep")


def split_words(token: str) -> str:
    """Split a camel-cased or digit-glued word: ``AustralianFires2020`` -> ``Australian Fires 2020``.

    Examples
    --------
    >>> split_words("COVID19Vaccine")
    'COVID 19 Vaccine'
    """
    return _CAMEL.sub(" ", token.replace("_", " ")).strip()


def clean_query(text: str, how: QueryCleaning | None = None) -> str:
    """The query text with links, the tweet signature, @handles and hashtags cleaned.

    Parameters
    ----------
    text : the query (one line).
    how : which steps; defaults to `QueryCleaning()` (all on: handles and hashtags split).

    Returns
    -------
    str
        The cleaned text, spaces folded. When cleaning would leave nothing, the original text.

    Examples
    --------
    >>> clean_query("Wow #AustralianFires pic.twitter.com/x1 — Center (@CBD) January 14, 2020")
    'Wow Australian Fires Center'
    """
    how = how or QueryCleaning()
    out = text
    if how.urls:
        out = _URL.sub(" ", out)
    if how.tail:
        m = _TAIL.search(out)
        if m:
            out = out[: m.start()] + (" " + m.group("name") if how.tail_name else "")
    if how.handles == "drop":
        out = _HANDLE.sub(" ", out)
    elif how.handles == "split":
        out = _HANDLE.sub(lambda m: f" {split_words(m.group(1))} ", out)
    if how.hashtags == "drop":
        out = _HASHTAG.sub(" ", out)
    elif how.hashtags == "split":
        out = _HASHTAG.sub(lambda m: f" {split_words(m.group(1))} ", out)
    out = _SPACES.sub(" ", out).strip()
    return out or text.strip()
