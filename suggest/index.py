"""Build, save and load the TF-IDF index over the archive's checks and its question pool.

Building uses scikit-learn's ``TfidfVectorizer`` on our own tokens. The saved index is a folder
of plain files that the query path reads with numpy alone: the sorted vocabulary, the idf, a
word-to-stem table, the check and question matrices (memory-mapped) and the records.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from suggest import store
from suggest.archive import ARTICLE_SUFFIXES, JSONL_SUFFIXES, Archive, Check, read_archive
from suggest.errors import EmptyArchiveError, IndexFormatError, OptionError, SuggestError
from suggest.text import analyze_with, ngrams

FORMAT_VERSION = 8
FIELDS = ("title", "summary", "body", "questions")
POOL_WEIGHTS = {"title": 2.0, "summary": 1.0, "body": 1.0, "questions": 0.5}
"""Field weights of the check vectors the pool tests "does this check answer that question"
with; the answer thresholds of `IndexConfig` were set against them on the shipped corpus
(tests/data/corpus_design_*.json), so they stay fixed when the ranking weights change."""
# The plain arrays of an `Index`, saved and loaded by name.
_ARRAYS = (
    "check_dates",
    "pair_item",
    "pair_check",
    "pair_raised",
    "member_item",
    "member_check",
    "member_is_title",
    "answered",
    "unigram",
    "shown_member",
    "askable",
    "char_mean",
)


@dataclass(frozen=True)
class IndexConfig:
    """Settings of the index. Saved in the manifest; a change rebuilds the index.

    Attributes
    ----------
    title_weight, summary_weight, body_weight, questions_weight :
        Weight of each field's unit-length TF-IDF vector in a check's vector.
    ngram_max : longest word n-gram (2: unigrams and bigrams).
    sublinear_tf : use 1 + log(tf).
    dup_threshold : cosine (single-word view) at which two questions are one question.
    answer_title_threshold, answer_threshold : a check answers a question when the question's
        cosine to the check's title and to the whole check reach these (single-word view).
    char_weight : weight of the character n-gram view of a check (its first ``char_chars``
        characters, lower-cased, n-grams of ``char_ngram_min`` to ``char_ngram_max`` characters
        inside word boundaries, seen in at least 2 checks and in at most ``char_max_df`` of
        them) beside its word view; 0 leaves the view out. It catches what stems miss: glued
        hashtags, misspellings, names, numbers. The n-grams in more than a fifth of the checks
        carry little (MAP@5 on CheckThat train: -0.003 on 2A, -0.018 on 2B without them) and
        cost most: 13 times less work for the batch job on 19,250 PolitiFact checks.
    postings_max : the search postings keep, per term, the ``postings_max`` checks (and pool
        items) where the term weighs most ("champion lists"; 0 keeps all). Scores are computed
        over these lists, so the work per article is bounded by its number of terms times
        ``postings_max`` whatever the archive's size; an archive with fewer checks than this
        is searched exhaustively (exact cosines).

    The weights were chosen on the CheckThat! 2021 train splits (docs/evaluation.md).
    """

    title_weight: float = 0.5
    summary_weight: float = 1.0
    body_weight: float = 3.0
    questions_weight: float = 0.5
    ngram_max: int = 2
    sublinear_tf: bool = True
    dup_threshold: float = 0.45
    answer_title_threshold: float = 0.15
    answer_threshold: float = 0.35
    char_weight: float = 1.5
    char_ngram_min: int = 2
    char_ngram_max: int = 4
    char_chars: int = 2000
    char_max_df: float = 0.2
    postings_max: int = 2000

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and (v < 0 or (f.name.endswith("threshold") and v > 1)):
                raise OptionError(f"{f.name}={v} is out of range; use a value >= 0 (thresholds <= 1)")
        if not 1 <= self.ngram_max <= 3:
            raise OptionError(f"ngram_max={self.ngram_max}; use 1, 2 or 3")
        if not 1 <= self.char_ngram_min <= self.char_ngram_max <= 8:
            raise OptionError(
                f"char n-grams {self.char_ngram_min}-{self.char_ngram_max}: use 1 <= char_ngram_min <= char_ngram_max <= 8"
            )
        if not 0 < self.char_max_df <= 1:
            raise OptionError(f"char_max_df={self.char_max_df}; use a share of the checks above 0, at most 1")
        if self.postings_max < 0:
            raise OptionError(f"postings_max={self.postings_max}; use 0 (keep all) or more")
        if self.char_chars < 1:
            raise OptionError(f"char_chars={self.char_chars}; use 1 or more")

    def weights(self) -> dict[str, float]:
        return {f: getattr(self, f"{f}_weight") for f in FIELDS}


def field_texts(check: Check) -> dict[str, str]:
    """The text of each indexed field of a check."""
    return {
        "title": check.title,
        "summary": check.summary,
        "body": check.body(),
        "questions": "\n".join(check.questions),
    }


def char_text(check: Check, chars: int) -> str:
    """The text of a check's character view: title, summary and body, lower-cased, cut at
    ``chars`` characters."""
    return "\n".join(t for t in (check.title, check.summary, check.body()) if t).lower()[:chars]


def char_grams(text: str, n_min: int, n_max: int) -> list[str]:
    """Character n-grams inside word boundaries, as scikit-learn's ``char_wb`` analyzer forms
    them: each whitespace-separated word padded with one space each side; a word shorter than
    an n gives itself (padded) once.

    Examples
    --------
    >>> char_grams("a cat", 2, 3)
    [' a', 'a ', ' a ', ' c', 'ca', 'at', 't ', ' ca', 'cat', 'at ']
    """
    out: list[str] = []
    for w in text.split():
        w = f" {w} "
        size = len(w)
        for n in range(n_min, n_max + 1):
            if size <= n:
                out.append(w)
                break
            out.extend(w[i : i + n] for i in range(size - n + 1))
    return out


def _l2(m: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit length (empty rows stay empty)."""
    m = sp.csr_matrix(m)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    scale = np.repeat(1.0 / norms, np.diff(m.indptr))
    return sp.csr_matrix((m.data * scale, m.indices.copy(), m.indptr.copy()), shape=m.shape)


def _quantize(m: sp.csr_matrix) -> sp.csr_matrix:
    """Matrices are float32, in memory as on disk, so every path computes with the same numbers
    and a loaded index is used memory-mapped, without a conversion."""
    return sp.csr_matrix(m, dtype=np.float32)


def fingerprint(root: str | Path) -> str:
    """Hash of every archive file's relative path, size and modification time (cheap stat walk)."""
    root = Path(root)
    h = hashlib.sha256()
    if root.is_file():
        st = root.stat()
        h.update(f"{root.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            if f.startswith(".") or not f.endswith(ARTICLE_SUFFIXES + JSONL_SUFFIXES):
                continue
            p = Path(dirpath) / f
            try:
                st = p.stat()
            except OSError:
                continue
            entries.append(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n")
    for e in sorted(entries):
        h.update(e.encode("utf-8", "surrogateescape"))
    return h.hexdigest()


@dataclass
class Pool:
    """The question pool: near-duplicates merged, each item with its provenance."""

    texts: list[str]
    answered_by: list[list[int]]
    raised_by: list[list[int]]
    variants: list[list[str]]
    member_item: np.ndarray  # pool item of each member (title or question)
    member_check: np.ndarray  # check of each member
    member_is_title: np.ndarray
    shown_member: np.ndarray  # the member whose text each item shows


def _leader_groups(n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Group members by leader: in member order, each member joins the most similar earlier
    leader it has an edge to, or leads a new group.

    Unlike connected components this cannot chain (a~b, b~c, ... pulling in thousands of
    loosely related claims): every member is close to its group's leader.
    """
    order = np.lexsort((np.minimum(a, b), -w))  # strongest edges first, then lowest index
    lo, hi = np.minimum(a, b)[order], np.maximum(a, b)[order]
    # For each later member, its candidate earlier members, strongest first.
    by_later = np.argsort(hi, kind="stable")
    starts = np.searchsorted(hi[by_later], np.arange(n + 1))
    leader = np.arange(n, dtype=np.int64)
    for m in range(n):
        for e in by_later[starts[m] : starts[m + 1]]:
            cand = int(lo[e])
            if leader[cand] == cand:
                leader[m] = cand
                break
    # Relabel by first member so item order follows member (hence check id) order.
    labels: dict[int, int] = {}
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = labels.setdefault(int(leader[i]), len(labels))
    return out


PART_ENTRIES = 1 << 26
"""`champion_postings` transposes a matrix this many entries at a time (~540 MB of arrays)."""


def champion_postings(m: sp.csr_matrix, keep: int, part_entries: int = PART_ENTRIES) -> sp.csr_matrix:
    """Term-major postings of ``m`` (rows x terms): a terms x rows CSR matrix where each term
    keeps its ``keep`` largest weights (equal weights: lower row first; 0 keeps all), rows in
    ascending order within a term.

    With a cut, ``m`` is read a block of rows (about ``part_entries`` entries) at a time and each
    block's lists are merged into the lists so far and cut again: the ``keep`` best of a union
    are the ``keep`` best of the parts' ``keep`` best, so memory follows the result, not ``m``
    (a memory-mapped matrix of 750 million entries at a million checks).

    Examples
    --------
    >>> m = sp.csr_matrix(np.array([[0.5, 0.1], [0.9, 0.2], [0.7, 0.0]], dtype=np.float32))
    >>> champion_postings(m, 2).toarray()
    array([[0. , 0.9, 0.7],
           [0.1, 0.2, 0. ]], dtype=float32)
    >>> champion_postings(m, 2, part_entries=1).toarray()
    array([[0. , 0.9, 0.7],
           [0.1, 0.2, 0. ]], dtype=float32)
    """
    m = m if isinstance(m, sp.csr_matrix) else sp.csr_matrix(m)
    if not keep or m.nnz <= part_entries:
        return _cut(_transpose(m), keep)
    indptr = np.asarray(m.indptr)
    out: sp.csr_matrix | None = None
    lo = 0
    while lo < m.shape[0]:
        # The block: rows from lo while their entries fit (one row at least).
        hi = max(int(np.searchsorted(indptr, indptr[lo] + part_entries, side="right")) - 1, lo + 1)
        s, e = int(indptr[lo]), int(indptr[hi])  # a view of the rows: nothing copied before the transpose
        block = _transpose(
            sp.csr_matrix((m.data[s:e], m.indices[s:e], indptr[lo : hi + 1] - s), shape=(hi - lo, m.shape[1]))
        )
        rows = (block.indices + lo).astype(np.int32 if m.shape[0] < 2**31 else np.int64)
        data, indptr_t = block.data, block.indptr
        del block
        part = _cut(sp.csr_matrix((data, rows, indptr_t), shape=(m.shape[1], m.shape[0])), keep)
        del data, rows, indptr_t
        if out is not None:
            # Rows of different blocks are distinct, so the sum is the union, rows ascending.
            merged = sp.csr_matrix(out + part)
            del out, part  # at most two copies of the lists at once
            part = _cut(merged, keep)
            del merged
        out = part
        lo = hi
    assert out is not None
    return out


def _transpose(m: sp.csr_matrix) -> sp.csr_matrix:
    t = sp.csr_matrix(sp.csr_matrix(m, dtype=np.float32).T)
    t.sort_indices()
    return t


def _cut(t: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row of ``t`` (terms x rows, sorted) cut to its ``keep`` largest weights."""
    lens = np.diff(t.indptr)
    if not keep or not len(lens) or lens.max() <= keep:
        return t
    # Only the long lists are cut: a partition per list, no sort of every entry.
    kept = np.ones(t.nnz, dtype=bool)
    for j in np.flatnonzero(lens > keep).tolist():
        s, e = int(t.indptr[j]), int(t.indptr[j + 1])
        v = t.data[s:e]
        least = np.partition(v, e - s - keep)[e - s - keep]  # the keep-th largest weight
        sel = v > least
        ties = np.flatnonzero(v == least)[: keep - int(sel.sum())]  # rows ascending: lower first
        sel[ties] = True
        kept[s:e] = sel
    indptr = np.zeros(t.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.minimum(lens, keep), out=indptr[1:])
    return sp.csr_matrix((t.data[kept], t.indices[kept], indptr), shape=t.shape)


def unigram_view(m: sp.csr_matrix, unigram: np.ndarray) -> sp.csr_matrix:
    """Rows restricted to single-word terms, unit length again.

    Paraphrases share words far more often than word pairs, so "the same question in other
    words" is judged on this view.
    """
    m = sp.csr_matrix(m)
    keep = unigram[m.indices]
    out = sp.csr_matrix((m.data * keep, m.indices.copy(), m.indptr.copy()), shape=m.shape)
    out.eliminate_zeros()
    return _l2(out)


def row_dots(a: sp.csr_matrix, ai: np.ndarray, b: sp.csr_matrix, bi: np.ndarray) -> np.ndarray:
    """Dot products ``a[ai[k]] . b[bi[k]]`` for every k, in float64.

    Each of ``a``'s entries is looked up in ``b``'s row (sorted indices, one binary search), so
    the cost follows ``a``'s short rows (questions, ~10 words), not ``b``'s long ones (whole
    checks): copying and multiplying a check's row for each of its question pairs was the whole
    of the pool step at a million checks.

    Examples
    --------
    >>> a = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]]))
    >>> b = sp.csr_matrix(np.array([[3.0, 0.0, 1.0], [0.0, 5.0, 4.0]]))
    >>> row_dots(a, np.array([0, 0, 1]), b, np.array([0, 1, 1]))
    array([5., 8., 5.])
    """
    ai, bi = np.asarray(ai, dtype=np.int64), np.asarray(bi, dtype=np.int64)
    if not len(ai):
        return np.zeros(0)
    if not b.has_sorted_indices:
        b = b.sorted_indices()
    starts = a.indptr[ai].astype(np.int64)
    lens = a.indptr[ai + 1].astype(np.int64) - starts
    pair = np.repeat(np.arange(len(ai)), lens)
    pos = np.arange(len(pair)) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(starts, lens)
    needles = a.indices[pos]
    # A binary search in each needle's own row of b, all needles at once (no copy of b's rows).
    lo = b.indptr[bi].astype(np.int64)[pair]
    hi = b.indptr[bi + 1].astype(np.int64)[pair]
    end = hi.copy()
    while True:
        open_ = lo < hi
        if not open_.any():
            break
        mid = (lo + hi) // 2
        right = open_ & (b.indices[np.minimum(mid, len(b.indices) - 1)] < needles)
        lo = np.where(right, mid + 1, lo)
        hi = np.where(open_ & ~right, mid, hi)
    found = lo < end
    found[found] = b.indices[lo[found]] == needles[found]
    prod = np.zeros(len(pair))
    prod[found] = a.data[pos[found]].astype(np.float64) * b.data[lo[found]]
    return np.bincount(pair, weights=prod, minlength=len(ai))


ANSWER_CANDIDATES = 200
"""Titles per question tested as its answer: its closest ones by title cosine."""


def _closest(q: np.ndarray, t: np.ndarray, v: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (q, t) that are among the ``k`` largest ``v`` of their ``q`` (equal values:
    lower ``t`` first); ``q`` non-decreasing. Returned in q order.

    Examples
    --------
    >>> _closest(np.array([0, 0, 0, 1]), np.array([5, 3, 4, 2]), np.array([0.2, 0.9, 0.2, 0.5]), 2)
    (array([0, 0, 1]), array([3, 4, 2]))
    """
    if not len(q):
        return q, t
    bounds = np.flatnonzero(np.r_[True, q[1:] != q[:-1], True])
    keep = np.ones(len(q), dtype=bool)
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if hi - lo > k:
            order = np.lexsort((t[lo:hi], -v[lo:hi]))
            keep[lo:hi] = False
            keep[lo + order[:k]] = True
    return q[keep], t[keep]


def build_pool(
    checks: Sequence[Check],
    members1: sp.csr_matrix,
    checks1: sp.csr_matrix,
    member_check: np.ndarray,
    member_is_title: np.ndarray,
    member_text: list[str],
    config: IndexConfig,
    chunk: int = 2048,
) -> Pool:
    """Merge near-duplicate questions and link questions to the titles that answer them.

    ``members1`` and ``checks1`` are unigram views. Two questions (or two titles) of different
    checks merge at ``dup_threshold``; a question joins a check's title (is answered by it) when
    it is close to the title (``answer_title_threshold``) and to the whole check
    (``answer_threshold``).
    """
    n = members1.shape[0]
    rows_a: list[np.ndarray] = []
    rows_b: list[np.ndarray] = []
    answer_q: list[np.ndarray] = []
    answer_t: list[np.ndarray] = []
    answer_w: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    # Pairs are found through the same champion postings the search reads: each word's
    # `postings_max` heaviest titles and questions. While no word is in more members than that
    # the product is every pair's exact cosine; past it, a pair whose shared words are all cut
    # from the other's lists scores lower or is not seen. Without the cut, the product of all
    # pairs grows with the square of the archive (161 s at 100,000 checks, hours at a million).
    mt = champion_postings(members1, config.postings_max)
    exact = mt.nnz == members1.nnz
    ath = config.answer_title_threshold
    for start in range(0, n, chunk):
        block = (members1[start : start + chunk] @ mt).tocoo()
        close = np.flatnonzero(block.data >= min(ath, config.dup_threshold))  # most pairs share a word, no more
        row = block.row[close].astype(np.int64) + start
        col = block.col[close].astype(np.int64)
        sim = block.data[close]
        other = member_check[row] != member_check[col]
        # Answers, from the question's side: its row holds every title it shares a word with
        # (through the cut lists). Only its ANSWER_CANDIDATES closest titles are tested against
        # the whole check: a common question is close to thousands of titles at a million checks.
        ans = other & ~member_is_title[row] & member_is_title[col] & (sim >= ath)
        q, t = _closest(row[ans], col[ans], sim[ans], ANSWER_CANDIDATES)
        whole = row_dots(members1, q, checks1, member_check[t])
        good = whole >= config.answer_threshold
        answer_q.append(q[good])
        answer_t.append(t[good])
        answer_w.append(whole[good])
        # Near-duplicates: two questions or two titles. Exact products are symmetric: each pair
        # once. Cut ones: the pair is seen from either side.
        same = other & (member_is_title[row] == member_is_title[col]) & (sim >= config.dup_threshold)
        same &= (row < col) if exact else (row != col)
        rows_a.append(np.minimum(row, col)[same])
        rows_b.append(np.maximum(row, col)[same])
        weights.append(sim[same])
    if not exact and rows_a:  # a pair seen from both sides: its higher score
        a, b, w = (np.concatenate(x) for x in (rows_a, rows_b, weights))
        order = np.lexsort((-w, b, a))
        first = np.ones(len(order), dtype=bool)
        first[1:] = (a[order][1:] != a[order][:-1]) | (b[order][1:] != b[order][:-1])
        rows_a, rows_b, weights = [a[order][first]], [b[order][first]], [w[order][first]]
    # A question joins at most one title: the check it matches best (no chains of answers).
    aq, at, aw = (np.concatenate(x) if x else np.zeros(0) for x in (answer_q, answer_t, answer_w))
    best: dict[int, tuple[float, int]] = {}
    for qi, ti, w in zip(aq.astype(np.int64).tolist(), at.astype(np.int64).tolist(), aw.tolist(), strict=True):
        if qi not in best or (w, -ti) > (best[qi][0], -best[qi][1]):
            best[qi] = (w, ti)
    rows_a.append(np.fromiter(best.keys(), dtype=np.int64, count=len(best)))
    rows_b.append(np.fromiter((v[1] for v in best.values()), dtype=np.int64, count=len(best)))
    weights.append(np.fromiter((v[0] for v in best.values()), dtype=np.float64, count=len(best)))
    a = np.concatenate(rows_a).astype(np.int64)
    b = np.concatenate(rows_b).astype(np.int64)
    item = _leader_groups(n, a, b, np.concatenate(weights).astype(np.float64))
    n_items = int(item.max()) + 1 if n else 0
    answered_by: list[list[int]] = [[] for _ in range(n_items)]
    raised_by: list[list[int]] = [[] for _ in range(n_items)]
    variants: list[list[str]] = [[] for _ in range(n_items)]
    first_member: dict[tuple[int, int], int] = {}
    for m in range(n):
        it, ci = int(item[m]), int(member_check[m])
        if member_is_title[m]:
            answered_by[it].append(ci)
        else:
            if ci not in raised_by[it]:
                raised_by[it].append(ci)
            first_member.setdefault((it, ci), m)
        if member_text[m] not in variants[it]:
            variants[it].append(member_text[m])

    def when(ci: int) -> tuple[int, str, str]:
        d = checks[ci].checked_on
        return (0 if d else 1, d or "", checks[ci].id)

    shown: list[int] = []
    title_member = {int(member_check[m]): int(m) for m in np.flatnonzero(member_is_title)}
    for it in range(n_items):
        if raised_by[it]:
            shown.append(int(first_member[(it, min(raised_by[it], key=when))]))
        else:
            shown.append(title_member[min(answered_by[it], key=when)])
    texts = [member_text[m] for m in shown]
    return Pool(
        texts, answered_by, raised_by, variants, item, member_check, member_is_title, np.asarray(shown, dtype=np.int64)
    )


@dataclass
class Index:
    """A built (or loaded) index. Use `build_index` or `Index.load`; then `suggest` ranks."""

    config: IndexConfig
    terms: Sequence[str]
    idf: np.ndarray
    stems: Mapping[str, str]
    checks_matrix: sp.csr_matrix  # checks x terms, unit rows
    pool_matrix: sp.csr_matrix  # pool items x terms, unit rows
    member_matrix: sp.csr_matrix  # titles and questions x terms, unit rows
    check_ids: list[str]
    check_dates: np.ndarray  # ordinal day or -1
    check_records: Sequence[dict]
    pool_records: Sequence[dict]
    pair_item: np.ndarray  # (item, check) context pairs, sorted by item
    pair_check: np.ndarray
    pair_raised: np.ndarray  # the pair's check raised the item (else it only answers it)
    member_item: np.ndarray
    member_check: np.ndarray
    member_is_title: np.ndarray
    answered: np.ndarray  # bool per pool item
    shown_member: np.ndarray  # member row of the text each pool item shows
    askable: np.ndarray  # bool per pool item: its text is a question (suggestable)
    unigram: np.ndarray  # bool per term: a single word (not a word pair)
    char_terms: Sequence[str] = ()
    char_idf: np.ndarray = field(default_factory=lambda: np.zeros(0))
    char_matrix: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((0, 0), dtype=np.float32))
    char_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))  # mean of char_matrix rows
    manifest: dict = field(default_factory=dict)
    _char_lookup: Callable[[str], int] | None = None
    _search: dict[str, sp.csr_matrix] = field(default_factory=dict)
    _check_pairs: tuple[np.ndarray, np.ndarray] | None = None
    _item_start: np.ndarray | None = None
    _lens: dict[str, np.ndarray] = field(default_factory=dict)
    _memo: dict = field(default_factory=dict)
    """Arrays the ranking derives from the whole index and reuses for every chunk (see
    `suggest.rank.score_rows`), keyed by what they depend on."""
    _term_lookup: Callable[[str], int] | None = None
    _pool1: sp.csr_matrix | None = None
    _shown1: sp.csr_matrix | None = None

    def shown_unigram(self, items: np.ndarray) -> sp.csr_matrix:
        """Single-word view of the texts the given pool items show."""
        if self._shown1 is None:
            rows = np.asarray(self.shown_member)
            self._shown1 = unigram_view(self.member_matrix[rows], np.asarray(self.unigram, dtype=bool))
        return self._shown1[items]

    @property
    def pool_unigram(self) -> sp.csr_matrix:
        """Single-word view of the pool (for "same question in other words" tests)."""
        if self._pool1 is None:
            self._pool1 = unigram_view(self.pool_matrix, np.asarray(self.unigram, dtype=bool))
        return self._pool1

    def search(self, name: str) -> sp.csr_matrix:
        """The search postings of ``"checks"``, ``"chars"`` or ``"pool"``: terms x rows (CSR,
        one term per row), each term keeping its ``config.postings_max`` heaviest rows
        (`champion_postings`). ``vectors @ index.search(name)`` scores a chunk of articles
        reading only their terms' lists. Saved with the index; built on first use for an
        index built in memory."""
        if name not in self._search:
            m = {"checks": self.checks_matrix, "chars": self.char_matrix, "pool": self.pool_matrix}[name]
            self._search[name] = champion_postings(m, self.config.postings_max)
        return self._search[name]

    def check_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(pair numbers ordered by check, start of each check's run): the items check ``c``
        raised or answered are ``pair_item[order[start[c]:start[c + 1]]]``."""
        if self._check_pairs is None:
            order = np.argsort(np.asarray(self.pair_check), kind="stable")
            start = np.searchsorted(np.asarray(self.pair_check)[order], np.arange(len(self.check_dates) + 1))
            self._check_pairs = (order, start)
        return self._check_pairs

    def item_start(self) -> np.ndarray:
        """Start of each pool item's run of pairs: item ``i``'s pairs are
        ``item_start[i]:item_start[i + 1]`` (pairs are sorted by item)."""
        if self._item_start is None:
            n = self.pool_matrix.shape[0]
            self._item_start = np.searchsorted(np.asarray(self.pair_item), np.arange(n + 1))
        return self._item_start

    def search_lens(self, name: str) -> np.ndarray:
        """Postings per term of `search` ``name`` (computed once: ~18 million terms at a million
        checks, too many to count again for every chunk)."""
        if name not in self._lens:
            self._lens[name] = np.diff(self.search(name).indptr)
        return self._lens[name]

    def members_of(self, row: int) -> np.ndarray:
        """Member rows (its title first, then its questions) of the check in ``row``."""
        lo, hi = np.searchsorted(self.member_check, [row, row + 1])
        return np.arange(lo, hi)

    # -- vectorising new text (numpy only) --------------------------------------------------
    def term_id(self, term: str) -> int:
        if self._term_lookup is None:
            table = {t: i for i, t in enumerate(self.terms)}
            self._term_lookup = lambda t: table.get(t, -1)
        return self._term_lookup(term)

    def field_vector(self, text: str) -> dict[int, float]:
        """Unit-length TF-IDF of one text, as scikit-learn would compute it with this vocabulary."""
        tokens = ngrams(analyze_with(text, self.stems), self.config.ngram_max)
        counts: dict[int, int] = {}
        for t in tokens:
            i = self.term_id(t)
            if i >= 0:
                counts[i] = counts.get(i, 0) + 1
        if not counts:
            return {}
        ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.config.sublinear_tf:
            tf = np.log(tf) + 1.0
        w = tf * np.asarray(self.idf[ids], dtype=np.float64)
        w /= np.sqrt((w * w).sum())
        return dict(zip(ids.tolist(), w.tolist(), strict=True))

    def vector(self, parts: dict[str, str], weights: dict[str, float] | None = None) -> sp.csr_matrix:
        """A check-like vector from field texts (weighted unit field vectors, unit length)."""
        weights = weights or self.config.weights()
        acc: dict[int, float] = {}
        for name, text in parts.items():
            wf = weights.get(name, 0.0)
            if not text or wf == 0:
                continue
            for i, v in self.field_vector(text).items():
                acc[i] = acc.get(i, 0.0) + wf * v
        return self._row(acc)

    def _row(self, acc: dict[int, float]) -> sp.csr_matrix:
        n_terms = len(self.idf)
        if not acc:
            return sp.csr_matrix((1, n_terms), dtype=np.float64)
        ids = np.array(sorted(acc), dtype=np.int64)
        vals = np.array([acc[i] for i in ids.tolist()], dtype=np.float64)
        vals /= np.sqrt((vals * vals).sum())
        return sp.csr_matrix((vals.astype(np.float32), ids, np.array([0, len(ids)])), shape=(1, n_terms))

    def text_vector(self, text: str) -> sp.csr_matrix:
        return self._row(self.field_vector(text))

    def char_vector(self, check: Check) -> sp.csr_matrix:
        """The unit-length character view of a check or article (1 x char terms), as
        scikit-learn computes it with this vocabulary; empty when the view is off."""
        cfg = self.config
        n = len(self.char_idf)
        if self._char_lookup is None:
            table = {t: i for i, t in enumerate(self.char_terms)}
            self._char_lookup = lambda t: table.get(t, -1)
        counts: dict[int, int] = {}
        if n:
            grams: dict[str, int] = {}
            for g in char_grams(char_text(check, cfg.char_chars), cfg.char_ngram_min, cfg.char_ngram_max):
                grams[g] = grams.get(g, 0) + 1
            for g, k in grams.items():  # each distinct n-gram looked up once
                i = self._char_lookup(g)
                if i >= 0:
                    counts[i] = k
        if not counts:
            return sp.csr_matrix((1, n), dtype=np.float32)
        ids = np.array(sorted(counts), dtype=np.int64)
        tf = np.log(np.array([counts[i] for i in ids.tolist()], dtype=np.float64)) + 1.0
        w = tf * np.asarray(self.char_idf[ids], dtype=np.float64)
        w /= np.sqrt((w * w).sum())
        return sp.csr_matrix((w.astype(np.float32), ids, np.array([0, len(ids)])), shape=(1, n))

    # -- persistence -------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the index atomically: a new version folder, then a symlink swap.

        Returns the folder written. Raises `OutputError` when it cannot be written.
        """
        target = Path(folder)
        store.check_replaceable(target)
        try:
            built = store.new_version_dir(target)
        except OSError as exc:
            raise SuggestError(
                f"{target}: cannot create the index ({exc.strerror}); pass --index DIR to put it elsewhere"
            ) from None
        try:
            store.write_strings(built, "terms", list(self.terms))
            store.save_array(built, "idf", np.asarray(self.idf, dtype=np.float64))
            store.write_strings(built, "char_terms", list(self.char_terms))
            store.save_array(built, "char_idf", np.asarray(self.char_idf, dtype=np.float64))
            stem_words = sorted(self.stems)
            store.write_strings(built, "stem_words", stem_words)
            store.write_strings(built, "stem_stems", [self.stems[w] for w in stem_words])
            for name, m in (
                ("checks", self.checks_matrix),
                ("pool", self.pool_matrix),
                ("members", self.member_matrix),
                ("chars", self.char_matrix),
                ("checks_t", self.search("checks")),
                ("chars_t", self.search("chars")),
                ("pool_t", self.search("pool")),
                ("pool1", self.pool_unigram),
                ("shown1", self.shown_unigram(np.arange(self.pool_matrix.shape[0]))),
            ):
                m = m if isinstance(m, sp.csc_matrix) else sp.csr_matrix(m)
                store.save_array(built, f"{name}.data", m.data.astype(np.float32))
                store.save_array(built, f"{name}.indices", m.indices.astype(np.int32))
                store.save_array(built, f"{name}.indptr", m.indptr.astype(np.int64))
            for name in _ARRAYS:
                store.save_array(built, name, np.asarray(getattr(self, name)))
            order, start = self.check_pairs()
            store.save_array(built, "pair_order", np.asarray(order, dtype=np.int64))
            store.save_array(built, "pair_start", np.asarray(start, dtype=np.int64))
            store.write_jsonl(built, "checks", list(self.check_records))
            store.write_jsonl(built, "pool", list(self.pool_records))
            files = sorted(p.name for p in built.iterdir())
            manifest = dict(self.manifest)
            manifest["files"] = {f: store.file_digest(built / f) for f in files}
            (built / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", "utf-8")
            store.swap_in(built, target)
        except OSError as exc:
            import shutil

            shutil.rmtree(built, ignore_errors=True)
            raise SuggestError(
                f"{target}: cannot write the index ({exc.strerror or exc}); free space or pass --index DIR"
            ) from None
        return target

    @classmethod
    def load(cls, folder: str | Path, verify: bool = True) -> Index:
        """Load a saved index (memory-mapped). Raises `IndexFormatError` if it is damaged."""
        shown = Path(folder)
        real = Path(os.path.realpath(shown))
        for _ in range(5):
            try:
                return cls._load(shown, real, verify)
            except (IndexFormatError, OSError) as exc:
                # A builder swapped in a new version and removed this one while we read it: read that.
                moved = Path(os.path.realpath(shown))
                if moved == real:
                    if isinstance(exc, OSError):
                        raise IndexFormatError(
                            f"{shown}: cannot read the index ({exc.strerror or exc}); run `suggest index`"
                        ) from None
                    raise
                real = moved
        raise IndexFormatError(f"{shown}: the index was rebuilt five times while being read; try again")

    @classmethod
    def _load(cls, shown: Path, folder: Path, verify: bool) -> Index:
        try:
            manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        except FileNotFoundError:
            raise IndexFormatError(f"{shown}: no index here; run `suggest index`") from None
        except (OSError, ValueError):
            raise IndexFormatError(f"{shown}: manifest.json is damaged; run `suggest index`") from None
        if not isinstance(manifest, dict):
            raise IndexFormatError(f"{shown}: manifest.json is damaged; run `suggest index`")
        if manifest.get("format_version") != FORMAT_VERSION:
            got = manifest.get("format_version")
            raise IndexFormatError(
                f"{shown}: index format version {got}, this suggest reads {FORMAT_VERSION}; run `suggest index` to rebuild"
            )
        if verify:
            files = manifest.get("files")
            if not isinstance(files, dict):
                raise IndexFormatError(f"{shown}: manifest lists no files; run `suggest index`")
            for name, digest in files.items():
                p = folder / name
                if not p.is_file() or store.file_digest(p) != digest:
                    raise IndexFormatError(f"{shown}: {name} is missing or damaged; run `suggest index`")
        try:
            saved = manifest["config"]
            missing = {f.name for f in fields(IndexConfig)} - set(saved)
            if missing:  # written by a suggest without these settings: built another way
                raise TypeError(f"no {', '.join(sorted(missing))}")
            config = IndexConfig(**saved)
        except (KeyError, TypeError, OptionError) as exc:
            raise IndexFormatError(f"{shown}: manifest settings unreadable ({exc}); run `suggest index`") from None
        counts = manifest.get("counts")
        if not isinstance(counts, dict) or not all(type(counts.get(k)) is int for k in ("checks", "pool", "members")):
            raise IndexFormatError(f"{shown}: manifest counts unreadable; run `suggest index`")
        if not isinstance(manifest.get("archive"), dict):
            raise IndexFormatError(f"{shown}: manifest names no archive; run `suggest index`")
        terms = store.Strings(folder, "terms")
        idf = store.load_array(folder, "idf")
        n_terms = len(idf)

        char_terms = store.Strings(folder, "char_terms")
        char_idf = store.load_array(folder, "char_idf")

        def matrix(name: str, rows: int, n_terms: int = n_terms, by_term: bool = False) -> sp.csr_matrix:
            data = store.load_array(folder, f"{name}.data")
            indices = store.load_array(folder, f"{name}.indices")
            indptr = store.load_array(folder, f"{name}.indptr")
            if (
                len(indptr) != (n_terms if by_term else rows) + 1
                or indptr[-1] != len(data)
                or len(indices) != len(data)
            ):
                raise IndexFormatError(f"{shown}: {name} matrix is damaged; run `suggest index`")
            kind = sp.csc_matrix if by_term else sp.csr_matrix
            return kind((np.asarray(data, dtype=np.float32), indices, indptr), shape=(rows, n_terms))

        arrays = {n: store.load_array(folder, n) for n in _ARRAYS}
        check_records = store.Records(folder, "checks")
        index = cls(
            config=config,
            terms=terms,
            idf=idf,
            stems=StemTable(store.Strings(folder, "stem_words"), store.Strings(folder, "stem_stems")),
            checks_matrix=matrix("checks", counts["checks"]),
            pool_matrix=matrix("pool", counts["pool"]),
            member_matrix=matrix("members", counts["members"]),
            char_terms=char_terms,
            char_idf=char_idf,
            char_matrix=matrix("chars", counts["checks"], len(char_idf)),
            check_ids=[],
            check_records=check_records,
            pool_records=store.Records(folder, "pool"),
            manifest=manifest,
            **arrays,  # type: ignore[arg-type]
        )
        index._term_lookup = terms.find
        index._char_lookup = char_terms.find
        index._pool1 = matrix("pool1", counts["pool"])
        index._shown1 = matrix("shown1", counts["pool"])
        index._search = {
            "checks": matrix("checks_t", counts["checks"], by_term=True).T,
            "chars": matrix("chars_t", counts["checks"], len(char_idf), by_term=True).T,
            "pool": matrix("pool_t", counts["pool"], by_term=True).T,
        }
        order = store.load_array(folder, "pair_order")
        start = store.load_array(folder, "pair_start")
        if len(order) != len(arrays["pair_check"]) or len(start) != counts["checks"] + 1:
            raise IndexFormatError(f"{shown}: pair tables are damaged; run `suggest index`")
        index._check_pairs = (order, start)
        index.check_ids = _LazyIds(check_records)  # type: ignore[assignment]
        return index


class StemTable(Mapping[str, str]):
    """The saved word-to-stem table: two aligned string tables, words sorted, looked up by
    binary search (no parsing at load time)."""

    def __init__(self, words: store.Strings, stems: store.Strings) -> None:
        if len(words) != len(stems):
            raise IndexFormatError(f"{words.folder}: the stem table is damaged; run `suggest index`")
        self.words, self.stems = words, stems

    def __getitem__(self, word: str) -> str:
        i = self.words.find(word)
        if i < 0:
            raise KeyError(word)
        return self.stems[i]

    def get(self, word: str, default=None):  # type: ignore[no-untyped-def, override]
        i = self.words.find(word)
        return self.stems[i] if i >= 0 else default

    def __iter__(self) -> Iterator[str]:
        return iter(self.words)

    def __len__(self) -> int:
        return len(self.words)


class _LazyIds(Sequence[str]):
    def __init__(self, records: Sequence[dict]) -> None:
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):  # type: ignore[override]
        return self.records[i]["id"]


def _ordinal(d: str | None) -> int:
    return date.fromisoformat(d).toordinal() if d else -1


def build_index(
    checks: Sequence[Check],
    config: IndexConfig | None = None,
    archive_root: str | None = None,
    archive_fingerprint: str | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
    workdir: str | Path | None = None,
    spilled: Archive | None = None,
) -> Index:
    """Build the TF-IDF index and the question pool for ``checks``.

    Parameters
    ----------
    checks : the archive's checks (any order; the index sorts them by id).
    config : index settings; defaults to `IndexConfig()`.
    archive_root, archive_fingerprint : recorded in the manifest to notice archive changes.
    progress : optional callback for status lines.
    jobs : worker processes for the build (`suggest.build`); 1 builds in this process.
    workdir : folder for the build's temporary files (default: the system's temporary folder);
        they take about as much space as the saved index and are removed at the end.
    spilled : the archive ``checks`` come from, when it was read with ``spill`` (slim checks):
        their texts are read back from its spill files, a chunk at a time.

    Returns
    -------
    Index

    Raises
    ------
    EmptyArchiveError
        When there are no checks.

    Examples
    --------
    >>> from suggest.archive import Check
    >>> ix = build_index([Check(id="a", title="Is tea good?", questions=("Does tea help sleep?",))])
    >>> [r["text"] for r in ix.pool_records]
    ['Is tea good?', 'Does tea help sleep?']
    """
    from suggest.build import build_matrices

    config = config or IndexConfig()
    if not checks:
        raise EmptyArchiveError("the archive has no readable checks; add saved articles to it")
    say = progress or (lambda _m: None)
    if spilled is not None:  # the rows come in the archive's order, read back from its spill files
        built = build_matrices(checks, config, say, jobs=jobs, workdir=workdir, spilled=spilled)
        checks = sorted(checks, key=lambda c: c.id)
    else:
        checks = sorted(checks, key=lambda c: c.id)
        built = build_matrices(checks, config, say, jobs=jobs, workdir=workdir)
    say("merging questions")
    vocab = built.terms
    members = built.members
    mc, mt, member_text = built.member_check, built.member_is_title, built.member_text
    unigram = np.fromiter((" " not in t for t in vocab), dtype=bool, count=len(vocab))
    pool = build_pool(checks, unigram_view(members, unigram), built.pool_checks1, mc, mt, member_text, config)
    del built.pool_checks1
    n_items = len(pool.texts)
    agg = sp.csr_matrix(
        (np.ones(len(pool.member_item)), (pool.member_item, np.arange(len(pool.member_item)))),
        shape=(n_items, len(member_text)),
    )
    pool_matrix = _quantize(_l2(sp.csr_matrix(agg @ members)))

    pairs = sorted({(it, ci) for it in range(n_items) for ci in pool.raised_by[it] + pool.answered_by[it]})
    pair_item = np.array([p[0] for p in pairs], dtype=np.int64)
    pair_check = np.array([p[1] for p in pairs], dtype=np.int64)
    raised_pairs = {(it, ci) for it in range(n_items) for ci in pool.raised_by[it]}
    pair_raised = np.array([p in raised_pairs for p in pairs], dtype=bool)
    ids = [c.id for c in checks]

    def dates_of(cis: list[int]) -> list[str]:
        return sorted({d for ci in cis if (d := checks[ci].checked_on)})

    pool_records = [
        {
            "text": pool.texts[it],
            "status": "answered" if pool.answered_by[it] else "open",
            "answered_by": [ids[ci] for ci in pool.answered_by[it]],
            "raised_by": [ids[ci] for ci in pool.raised_by[it]],
            "raised_on": dates_of(pool.raised_by[it]),
            "variants": pool.variants[it],
        }
        for it in range(n_items)
    ]
    check_records = [
        {"id": c.id, "title": c.title, "checked_on": c.checked_on, "category": c.category, "url": c.url, "path": c.path}
        for c in checks
    ]
    manifest = {
        "format_version": FORMAT_VERSION,
        "config": asdict(config),
        "counts": {
            "checks": len(checks),
            "pool": n_items,
            "members": len(member_text),
            "terms": len(vocab),
            "char_terms": len(built.grams),
            "questions": int((~mt).sum()),
            "open": sum(1 for r in pool_records if r["status"] == "open"),
        },
        "archive": {"root": archive_root, "fingerprint": archive_fingerprint},
        "python": platform.python_version(),
    }
    return Index(
        config=config,
        terms=vocab,
        idf=built.idf,
        stems=dict(sorted(built.stems.items())),
        checks_matrix=built.checks,
        pool_matrix=pool_matrix,
        member_matrix=members,
        check_ids=ids,
        check_dates=np.array([_ordinal(c.checked_on) for c in checks], dtype=np.int64),
        check_records=check_records,
        pool_records=pool_records,
        pair_item=pair_item,
        pair_check=pair_check,
        pair_raised=pair_raised,
        member_item=pool.member_item,
        member_check=mc,
        member_is_title=mt,
        answered=np.array([bool(a) for a in pool.answered_by], dtype=bool),
        unigram=unigram,
        char_terms=built.grams,
        char_idf=built.char_idf,
        char_matrix=built.chars,
        char_mean=np.asarray(built.chars.mean(axis=0), dtype=np.float64).ravel(),
        shown_member=pool.shown_member,
        # A title that is a statement or a bare topic ("Grand juries") still answers questions,
        # but is not offered as a question itself.
        askable=np.array(
            [bool(r) or t.rstrip().endswith("?") for r, t in zip(pool.raised_by, pool.texts, strict=True)], dtype=bool
        ),
        manifest=manifest,
    )


def default_index_dir(archive: str | Path) -> Path:
    """Where the index of ``archive`` lives by default: ``.suggest-index`` inside the folder
    (or beside a single archive file)."""
    p = Path(archive)
    if p.is_file():
        return p.parent / f".{p.name}.suggest-index"
    return p / ".suggest-index"


def open_index(
    archive: str | Path,
    index_dir: str | Path | None = None,
    config: IndexConfig | None = None,
    notify: Callable[[str], None] | None = None,
    force: bool = False,
    jobs: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Index, Archive | None]:
    """The up-to-date index of ``archive``: loaded if fresh, else (re)built and saved.

    Rebuilds, with a note through ``notify``, when the archive changed, the settings changed,
    the index is damaged or of another format version. Builders hold a lock so two at once end
    with one good index; readers never see a half-written one.

    ``jobs``: worker processes for a build (default: all cores; an archive of a few hundred
    checks is built in this process); ``progress``: status lines of a build. The `Archive`
    returned after a build holds its checks without their sections (`suggest.archive.slim`).

    Returns the index and the `Archive` when it had to read the archive (else None).
    """
    say = notify or (lambda _m: None)
    archive = Path(archive)
    if not archive.exists():
        raise SuggestError(f"{archive}: no such archive; pass --archive DIR or set SUGGEST_ARCHIVE")
    folder = Path(index_dir) if index_dir else default_index_dir(archive)
    config = config or IndexConfig()
    fp = fingerprint(archive)

    def fresh() -> Index | None:
        if force:
            return None
        try:
            ix = Index.load(folder)
        except IndexFormatError as exc:
            if (folder / "manifest.json").exists() or folder.is_symlink():
                say(f"note: rebuilding the index: {exc}")
            return None
        if ix.manifest.get("archive", {}).get("fingerprint") != fp:
            say(f"note: the archive {archive} changed since the index was built; updating the index")
            return None
        if ix.config != config:
            say("note: index settings changed; rebuilding the index")
            return None
        return ix

    ix = fresh()
    if ix is not None:
        return ix, None
    with store.locked(folder.parent / f".{folder.name}.lock"):
        force_once = force
        force = False
        ix = None if force_once else fresh_quiet(folder, fp, config)
        if ix is not None:
            return ix, None
        store.check_replaceable(folder)  # before the work of a build, not after it
        workers = jobs or os.cpu_count() or 1
        import shutil
        import tempfile

        # The build's work files (the archive's full texts, which wait there for the workers
        # while this process keeps the checks without their sections, and the matrices' chunks)
        # go beside the index, not in a temporary folder that may be small or in memory. A
        # build that was killed left its own: we hold the lock, so they are nobody's now.
        work = folder.parent / f".{folder.name}.work"
        shutil.rmtree(work, ignore_errors=True)
        try:
            work.mkdir(parents=True)
            spill = tempfile.mkdtemp(prefix="read-", dir=work)
        except OSError as exc:
            raise SuggestError(
                f"{work}: cannot create the build's work folder ({exc.strerror}); pass --index DIR to put it elsewhere"
            ) from None
        try:
            arch = read_archive(archive, jobs=workers, spill=spill)
            for p in arch.problems:
                say(str(p))
            say(f"indexing {archive}: {arch.summary()}")
            built = build_index(
                arch.checks, config, str(archive), fp, progress=progress, jobs=workers, workdir=work, spilled=arch
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        built.save(folder)
        return Index.load(folder), arch


def fresh_quiet(folder: Path, fp: str, config: IndexConfig) -> Index | None:
    """A fresh index another process finished while we waited for the lock, or None."""
    try:
        ix = Index.load(folder)
    except IndexFormatError:
        return None
    if ix.manifest.get("archive", {}).get("fingerprint") != fp or ix.config != config:
        return None
    return ix
