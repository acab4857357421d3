"""Text normalisation and the tokenizer shared by indexing and querying.

Everything here is pure and module-level so scikit-learn can pickle it. nltk is imported
lazily: the query path stems through the table saved in the index and only loads nltk for
words the archive never contained.
"""

from __future__ import annotations

import gzip
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from importlib import resources

_HYPHENS = str.maketrans({"\u2010": "-", "\u2011": "-"})
_CITATION = re.compile(r"\s*\[\d{1,3}\]")
_LINK_MD = re.compile(r"\[([^\[\]]+)\]\((?:[^()\s]+)\)")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
# A tag left open to the end of the text (``<img src=x onerror=...``): a name, then an attribute.
_OPEN_TAG = re.compile(r"</?[A-Za-z][\w-]{0,64}\s+[\w-]{1,64}\s*=[^<>]*$")
# Bounded repeats keep this linear on a long line of attribute-like text.
_ATTR_FRAGMENT = re.compile(r"""(?:\b[\w-]{1,64}\s*=\s*(?:"[^"]{0,512}"|'[^']{0,512}')\s*){1,16}/?>""")
_LEADING_HASHES = re.compile(r"^\s*(?:#{1,6}\s+)+")
_SPACES = re.compile(r"[ \t\u00a0]+")
_WORD = re.compile(r"\b\w\w+\b")


def normalize(text: str) -> str:
    """Normalise one line or paragraph of archive text.

    NFKC, both Unicode hyphens (U+2010, U+2011) to ``-``, markdown residue (``**``, a leading
    ``# ``, stray ``*``) and HTML tags (also one left open at the end) or attribute fragments removed, links reduced to their
    text, runs of spaces folded. Curly quotes and citation markers are kept. Idempotent: a removal
    can expose new markup (``<<b>a>``) or a combining sequence (``a*`` + U+0301), so the pass is
    repeated until nothing changes (at most a few times; only nested markup needs more).

    Examples
    --------
    >>> normalize("**Fact‑checking** # works*")
    'Fact-checking # works'
    >>> normalize("# # <<b>a>x")
    'x'
    """
    for _ in range(_MAX_PASSES):
        once = _normalize_once(text)
        if once == text:
            break
        text = once
    return text


_MAX_PASSES = 8


def _normalize_once(text: str) -> str:
    # Each step runs only when the text has what it needs to change anything (a hyphen to
    # map, "](" for a link, "<" for a tag, "=" and ">" for attributes, a tab or two spaces
    # to fold: NFKC has made every no-break space a space): the same result, and reading an
    # archive spends most of its time here (tests/test_text.py checks it against every step).
    text = unicodedata.normalize("NFKC", text)
    if "\u2010" in text or "\u2011" in text:
        text = text.translate(_HYPHENS)
    if "](" in text:
        text = _LINK_MD.sub(r"\1", text)
    if "<" in text:
        text = _TAG.sub("", text)  # also reduces <a href=...>text</a> to its text
        text = _OPEN_TAG.sub("", text)
    if "=" in text and ">" in text:
        text = _ATTR_FRAGMENT.sub("", text)
    text = text.replace("*", "")
    text = _LEADING_HASHES.sub("", text)
    if "  " in text or "\t" in text or "\u00a0" in text:
        text = _SPACES.sub(" ", text)
    return text.strip()


def strip_citations(text: str) -> str:
    """Remove citation markers such as ``[1]`` or ``[2] [3]`` (for the indexed text only)."""
    return _CITATION.sub("", text)


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """The English stop-word list shipped with the package (no nltk download needed)."""
    raw = resources.files("suggest").joinpath("data/stopwords.txt").read_text("utf-8")
    return frozenset(w for w in raw.split("\n") if w and not w.startswith("#"))


def words(text: str) -> list[str]:
    """Lower-cased word tokens of two or more characters, stop words and citations removed."""
    stop = stop_words()
    return [w for w in _WORD.findall(strip_citations(text).casefold()) if w not in stop]


@lru_cache(maxsize=1)
def _snowball() -> Callable[[str], str]:
    """nltk's English Snowball ``stem``, loaded only when a word is new.

    ``from nltk.stem.snowball import SnowballStemmer`` runs nltk's package ``__init__``, which
    imports most of nltk, scipy.stats and scikit-learn: over a second. `snowball_alone` loads
    the same class from the same file without it; on any failure (another nltk layout), the
    plain import.
    """
    stemmer = None
    if "nltk" not in sys.modules:  # already paid for: the plain import is free
        try:
            stemmer = snowball_alone()
        except Exception:  # any surprise in nltk's layout: the plain import below still works
            stemmer = None
    if stemmer is None:
        from nltk.stem.snowball import SnowballStemmer

        stemmer = SnowballStemmer
    return stemmer("english").stem


def snowball_alone() -> type:
    """nltk's ``SnowballStemmer`` class from ``nltk/stem/snowball.py``, without ``nltk/__init__.py``.

    Empty stand-ins for the packages ``nltk`` and ``nltk.stem``, with nltk's own folders as
    their path, let snowball.py and the few modules it imports (porter, api, util...) load from
    nltk's files unchanged; ``nltk.corpus`` only has to lend the name ``stopwords``, which the
    stemmer reads only when asked to ignore stop words (we never ask). Every ``nltk`` entry
    this adds to ``sys.modules`` is taken out again, so a later ``import nltk`` runs in full
    as usual. Raises whatever the import raises (e.g. ImportError) if nltk is laid out otherwise.
    """
    import importlib
    import importlib.util
    import types

    def added() -> list[str]:
        return [name for name in sys.modules if name == "nltk" or name.startswith("nltk.")]

    if added():
        raise ImportError("nltk is already (partly) imported; use the plain import")
    try:
        for name in ("nltk", "nltk.stem"):
            spec = importlib.util.find_spec(name)  # the parent is the stand-in: nothing runs
            if spec is None or spec.submodule_search_locations is None:
                raise ImportError(f"{name} is not a package here")
            sys.modules[name] = importlib.util.module_from_spec(spec)
        corpus = types.ModuleType("nltk.corpus")
        corpus.stopwords = None  # type: ignore[attr-defined]
        sys.modules["nltk.corpus"] = corpus
        cls = importlib.import_module("nltk.stem.snowball").SnowballStemmer
    finally:
        for name in added():
            del sys.modules[name]
    if not isinstance(cls, type):
        raise ImportError("nltk.stem.snowball.SnowballStemmer is not a class")
    return cls


@lru_cache(maxsize=1 << 20)
def stem(word: str) -> str:
    """nltk's Snowball (Porter2) stem of one lower-cased word, computed once per word.

    Numbers have no suffixes: Snowball returns them unchanged, so nltk is not loaded for them.
    """
    if word.isdigit():
        return word
    return _snowball()(word)


def analyze(text: str) -> list[str]:
    """The tokenizer given to ``TfidfVectorizer``: normalised, stop-worded, stemmed words."""
    return [stem(w) for w in words(text)]


@lru_cache(maxsize=1)
def lexicon() -> dict[str, str]:
    """Snowball stems of ~47k common English words, shipped (see scripts/make_stem_lexicon.py)."""
    raw = resources.files("suggest").joinpath("data/stems.tsv.gz").read_bytes()
    pairs = (line.split("\t") for line in gzip.decompress(raw).decode("utf-8").splitlines())
    return {w: s for w, s in pairs}


def analyze_with(text: str, table: Mapping[str, str]) -> list[str]:
    """``analyze`` through a saved word-to-stem table, then the shipped lexicon; nltk only for
    words neither has (loaded without its package ``__init__``, see `_snowball`)."""
    tokens = words(text)
    stems: dict[str, str] = {}
    for w in set(tokens):  # each distinct word looked up once (a long article repeats most)
        s = table.get(w)
        if s is None:
            s = lexicon().get(w)
        stems[w] = s if s is not None else stem(w)
    return [stems[w] for w in tokens]


def ngrams(tokens: list[str], n_max: int) -> list[str]:
    """Word n-grams exactly as scikit-learn's ``_word_ngrams`` forms them (joined by a space)."""
    if n_max <= 1:
        return list(tokens)
    out = list(tokens)
    for n in range(2, n_max + 1):
        out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return out


def distinct_words(texts: Iterable[str]) -> set[str]:
    """Every distinct indexed word in ``texts`` (for the word-to-stem table)."""
    seen: set[str] = set()
    for t in texts:
        seen.update(words(t))
    return seen
