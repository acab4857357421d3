"""Rank the question pool for an article: relevance, exclusions, diversity (MMR), per-source cap.

`suggest` handles one article; `score_rows` and `select` are shared with the batch job so
that the batch gives exactly the lists `suggest for` gives.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import scipy.sparse as sp

try:  # scipy's own sparse product kernel, called directly (see `_chunk_product`)
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover - scipy moved it; `a @ b` then does the same
    _sparsetools = None

from suggest.archive import Check
from suggest.errors import OptionError
from suggest.index import Index, field_texts
from suggest.text import analyze_with, words

SCORE_DECIMALS = 6
FIRST_REACH = 64
"""`_candidates` first scores the items of this many best checks (at least 4x the list it needs)."""
_HEAD_START = [0, 0]
"""Where `_candidates` starts (only the work depends on it, never the result): [1, n] after an
article whose first round fell short: the next ones start a round further (4x the reach),
until 8 in a row did not need more (n counts them); then one tries the first round again.
At a million synthetic checks most articles need the second round (a first round of 64 wasted:
1.26 vs 0.98 ms per check in `bench/rank_parts.py`), at 19,250 nearly none (0.25 vs 0.34 ms
when always starting a round further)."""


@dataclass(frozen=True)
class RankOptions:
    """How to rank. Defaults are what `suggest for` uses.

    Attributes
    ----------
    top : how many questions at most.
    open_only : leave out questions an archive check already answers.
    since, until : ISO dates; keep questions raised (or answered) in that range.
    min_score : below this a question is noise, not a suggestion.
    question_weight : share of a raised question's score from its own words; the rest comes
        from the best-matching check that raised or answered it. A check's title is part of its
        check's text already, so an item no check raised (a title) takes its check's score.
    date_weight, date_scale : a check dated near the article (both dates known) has its score
        raised by ``date_weight / (1 + days apart / date_scale)`` times: claims are checked
        while they circulate.
    mmr_lambda : relevance vs novelty in the diversity step (1.0 turns diversity off).
    max_per_source : at most this many suggestions raised by one check.
    candidates : how many top-scoring questions the diversity step considers.
    query_terms, query_grams : an article is matched on its ``query_terms`` heaviest words and
        word pairs and its ``query_grams`` heaviest character n-grams (0: all). The heaviest
        are the rarest, whose postings are short: a long article costs about what a tweet does.
    gram_postings, term_postings : at most this many character-view (word-view) postings
        read per article (0: no budget): its heaviest n-grams (words and word pairs) are kept
        while their postings in the checks fit. For archives of a million checks, where the
        postings of an article's terms grow to their cap (`IndexConfig.postings_max`): off
        by default (see bench/README.md).
    """

    top: int = 5
    open_only: bool = False
    since: str | None = None
    until: str | None = None
    min_score: float = 0.1
    question_weight: float = 0.5
    mmr_lambda: float = 0.7
    max_per_source: int = 2
    candidates: int = 50
    date_weight: float = 1.0
    date_scale: float = 30.0
    query_terms: int = 100
    query_grams: int = 150
    gram_postings: int = 0
    term_postings: int = 0

    def __post_init__(self) -> None:
        if self.top < 1:
            raise OptionError(f"--top {self.top}: ask for at least 1 question")
        if not 0 <= self.min_score <= 1:
            raise OptionError(f"--min-score {self.min_score}: use a value from 0 to 1")
        if not 0 <= self.question_weight <= 1 or not 0 <= self.mmr_lambda <= 1:
            raise OptionError("question_weight and mmr_lambda must be from 0 to 1")
        if self.date_weight < 0 or self.date_scale <= 0:
            raise OptionError(f"date_weight {self.date_weight} must be >= 0 and date_scale {self.date_scale} > 0")
        if min(self.query_terms, self.query_grams, self.gram_postings, self.term_postings) < 0:
            raise OptionError(
                f"query_terms {self.query_terms}, query_grams {self.query_grams}, gram_postings "
                f"{self.gram_postings}, term_postings {self.term_postings}: use 0 (all, no budget) or more"
            )
        if self.max_per_source < 1:
            raise OptionError(f"max_per_source {self.max_per_source}: use 1 or more")
        for name in ("since", "until"):
            v = getattr(self, name)
            if v is not None:
                try:
                    date.fromisoformat(v)
                except ValueError:
                    raise OptionError(f"--{name} {v!r} is not a date; use YYYY-MM-DD") from None


@dataclass(frozen=True)
class Suggestion:
    """One suggested question with everything `--explain` shows."""

    question: str
    score: float
    status: str
    item: int
    sources: tuple[str, ...]
    answered_by: tuple[str, ...]
    raised_on: tuple[str, ...] = ()
    matched: tuple[str, ...] = field(default=())
    question_score: float = 0.0
    check_score: float = 0.0

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "score": self.score,
            "status": self.status,
            "sources": list(self.sources),
            "answered_by": list(self.answered_by),
            "raised_on": list(self.raised_on),
            "matched": list(self.matched),
        }


@dataclass
class Article:
    """A new article as the ranker needs it: its vector, its own title and question vectors,
    and its row in the index when it is an archive check (its own questions are then left out)."""

    vector: sp.csr_matrix
    title_vector: sp.csr_matrix
    question_vectors: sp.csr_matrix
    char_vector: sp.csr_matrix
    day: int = -1  # ordinal date, -1 when unknown
    check_row: int | None = None
    text: str | None = None
    own_words: tuple[np.ndarray, np.ndarray] | None = None  # see `_own_words`


def article_from_check(index: Index, check: Check) -> Article:
    """Vectorise a parsed article with the index's vocabulary and field weights."""
    parts = field_texts(check)
    qv = [index.text_vector(q) for q in check.questions]
    return Article(
        vector=index.vector(parts),
        title_vector=index.text_vector(check.title),
        question_vectors=sp.vstack(qv, format="csr") if qv else sp.csr_matrix((0, len(index.idf))),
        char_vector=index.char_vector(check),
        day=_ordinal(check.checked_on),
        check_row=own_check_row(index, check.id),
        text="\n".join(parts.values()),
    )


def article_from_row(index: Index, row: int) -> Article:
    """The archive check in ``row`` as a new article, from the stored vectors (batch job)."""
    lo, hi = np.searchsorted(index.member_check, [row, row + 1])  # its title, then its questions
    first = lo + 1 if lo < hi and index.member_is_title[lo] else lo
    return Article(
        vector=index.checks_matrix[row],
        title_vector=index.member_matrix[lo:first],
        question_vectors=index.member_matrix[first:hi],
        char_vector=index.char_matrix[row],
        day=int(index.check_dates[row]),
        check_row=row,
    )


def filter_mask(index: Index, opts: RankOptions) -> np.ndarray:
    """Pool items allowed by --open-only and --since/--until (same for every article); titles
    that are not phrased as questions are never suggested."""
    keep = np.asarray(index.askable, dtype=bool).copy()
    if opts.open_only:
        keep &= ~np.asarray(index.answered, dtype=bool)
    if opts.since or opts.until:
        lo = date.fromisoformat(opts.since).toordinal() if opts.since else -(10**9)
        hi = date.fromisoformat(opts.until).toordinal() if opts.until else 10**9
        d = np.asarray(index.check_dates)[index.pair_check]
        ok = (d >= lo) & (d <= hi) & (d >= 0)
        in_range = np.zeros_like(keep)
        in_range[index.pair_item[ok]] = True
        keep &= in_range
    return keep


def _ordinal(d: str | None) -> int:
    try:
        return date.fromisoformat(d).toordinal() if d else -1
    except ValueError:
        return -1


def date_prior(days: np.ndarray, check_dates: np.ndarray, scale: float) -> np.ndarray:
    """Closeness in time of each article to each check (articles x checks), in [0, 1]:
    ``1 / (1 + |days apart| / scale)``; 0 when either date is unknown (-1)."""
    d = np.asarray(days, dtype=np.float64)[:, None]
    c = np.asarray(check_dates, dtype=np.float64)[None, :]
    out = 1.0 / (1.0 + np.abs(d - c) / scale)
    out[(d < 0) | (c < 0)] = 0.0
    return out


def strongest(vectors: list[sp.csr_matrix], k: int) -> sp.csr_matrix:
    """The rows of ``vectors`` (stacked), each cut to its ``k`` largest weights (0: all; equal
    weights: lower term first) and made unit length again, terms in order."""
    a = _stack(vectors)
    lens = np.diff(a.indptr)
    if not k or not len(lens) or lens.max() <= k:
        return a
    rows = np.repeat(np.arange(len(lens)), lens)
    # One stable sort: by row, then heaviest first (weights are in (0, 1]: row + (1 - w) / 2
    # is exact in float64 and orders both), equal weights keep term order.
    order = np.argsort(rows + (1.0 - a.data.astype(np.float64)) * 0.5, kind="stable")
    rank = np.empty(a.nnz, dtype=np.int64)
    rank[order] = np.arange(a.nnz) - a.indptr[:-1][rows[order]]
    keep = rank < k
    indptr = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(np.minimum(lens, k), out=indptr[1:])
    data = a.data[keep].astype(np.float64)
    kept = np.minimum(lens, k)
    rows = np.repeat(np.arange(len(lens)), kept)
    norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=len(lens)))
    norms[lens <= k] = 1.0  # a row that was not cut stays as it is, in any chunk
    data /= norms[rows]
    return sp.csr_matrix((data.astype(np.float32), a.indices[keep], indptr), shape=a.shape)


def within_budget(a: sp.csr_matrix, lens: np.ndarray, budget: int) -> sp.csr_matrix:
    """Each row of ``a`` cut to its heaviest terms (equal weights: lower term first) whose
    postings (``lens`` per term) fit in ``budget`` together, at least one, unit length again.

    Examples
    --------
    >>> a = sp.csr_matrix(np.array([[0.6, 0.8, 0.0]], dtype=np.float32))
    >>> within_budget(a, np.array([5, 10, 1]), 12).toarray()
    array([[0., 1., 0.]], dtype=float32)
    """
    a = sp.csr_matrix(a, dtype=np.float32)
    if not a.nnz:
        return a
    rows = np.repeat(np.arange(a.shape[0]), np.diff(a.indptr))
    # Heaviest first within each row (weights in (0, 1]), terms in order on equal weights.
    order = np.lexsort((a.indices, -a.data.astype(np.float64), rows))
    cost = np.asarray(lens, dtype=np.int64)[a.indices[order]]
    spent = np.cumsum(cost)
    before = np.concatenate([[0], spent])[a.indptr[:-1]]  # postings of the rows above
    used = spent - before[rows[order]]
    first = np.zeros(a.nnz, dtype=bool)
    first[a.indptr[:-1][np.diff(a.indptr) > 0]] = True
    keep = np.zeros(a.nnz, dtype=bool)
    keep[order] = (used <= budget) | first
    kept = sp.csr_matrix((a.data * keep, a.indices.copy(), a.indptr.copy()), shape=a.shape)
    kept.eliminate_zeros()
    cut = np.diff(kept.indptr) < np.diff(a.indptr)
    data = kept.data.astype(np.float64)
    r = np.repeat(np.arange(a.shape[0]), np.diff(kept.indptr))
    norms = np.sqrt(np.bincount(r, weights=data * data, minlength=a.shape[0]))
    norms[~cut] = 1.0  # a row that was not cut stays as it is
    kept.data = (data / norms[r]).astype(np.float32)
    return kept


def query_words(index: Index, articles: list[Article], opts: RankOptions) -> sp.csr_matrix:
    """The articles' word vectors as the search reads them: each cut to its ``query_terms``
    heaviest terms, then to ``term_postings`` postings in the checks (see `RankOptions`)."""
    words = strongest([a.vector for a in articles], opts.query_terms)
    if opts.term_postings:
        words = within_budget(words, index.search_lens("checks"), opts.term_postings)
    return words


def _stack(vectors: list[sp.csr_matrix]) -> sp.csr_matrix:
    """Stack CSR rows (float32, terms in order within each row) without scipy's checks."""
    parts = [sp.csr_matrix(v) for v in vectors]
    for v in parts:
        if not v.has_sorted_indices:
            v.sort_indices()
    lens = np.concatenate([np.diff(v.indptr) for v in parts]) if parts else np.zeros(0, dtype=np.int64)
    indptr = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=indptr[1:])
    width = parts[0].shape[1] if parts else 0
    if not parts:
        return sp.csr_matrix((0, 0), dtype=np.float32)
    indices = np.concatenate([v.indices[v.indptr[0] : v.indptr[-1]] for v in parts]).astype(np.int64)
    data = np.concatenate([v.data[v.indptr[0] : v.indptr[-1]] for v in parts]).astype(np.float32)
    out = sp.csr_matrix((len(lens), width), dtype=np.float32)
    out.indptr, out.indices, out.data = indptr, indices, data
    return out


def _chunk_product(
    a: sp.csr_matrix, search: sp.csr_matrix, use: str = "", lens: np.ndarray | None = None
) -> sp.csr_matrix:
    """Rows of ``a`` times the search postings (articles x rows; columns in no set order).

    Each entry sums the article's terms in term order whatever else is in the chunk, so one
    article gets the same numbers alone (`suggest for`) as in a batch chunk. The output size
    is bounded in advance (per row: its terms' postings, at most every column), so scipy's
    product kernel runs without its counting pass; `_product_bound` says when it cannot.
    With ``use``, the output arrays are this process's reused buffers for that use (no fresh
    memory to fault in for every chunk): the result is valid until the next product of the same
    use, so callers copy what they keep.
    """
    if not search.shape[0] or not a.nnz:
        return sp.csr_matrix((a.shape[0], search.shape[1]), dtype=np.float32)
    bound = _product_bound(a, search, lens)
    if bound is None:
        return sp.csr_matrix(a @ search)
    idx = search.indices.dtype
    indptr = np.empty(a.shape[0] + 1, dtype=idx)
    indices = _buffer(f"{use}.indices", bound, idx) if use else np.empty(bound, dtype=idx)
    data = _buffer(f"{use}.data", bound, np.dtype(np.float32)) if use else np.empty(bound, dtype=np.float32)
    _sparsetools.csr_matmat(
        a.shape[0],
        search.shape[1],
        np.asarray(a.indptr, dtype=idx),
        np.asarray(a.indices, dtype=idx),
        np.asarray(a.data, dtype=np.float32),
        search.indptr,
        search.indices,
        search.data,
        indptr,
        indices,
        data,
    )
    nnz = int(indptr[-1])
    return sp.csr_matrix((data[:nnz], indices[:nnz], indptr), shape=(a.shape[0], search.shape[1]))


_BUFFERS: dict[str, np.ndarray] = {}


def _buffer(name: str, size: int, dtype: np.dtype) -> np.ndarray:
    """A reusable array of at least ``size`` (grown by half again when too small)."""
    b = _BUFFERS.get(name)
    if b is None or len(b) < size or b.dtype != dtype:
        b = _BUFFERS[name] = np.empty(max(size, int(1.5 * len(b)) if b is not None else size), dtype=dtype)
    return b[:size]


def _product_bound(a: sp.csr_matrix, search: sp.csr_matrix, lens: np.ndarray | None = None) -> int | None:
    """An upper bound of the non-zeros of ``a @ search``, or None when the direct kernel call
    does not apply (index types, sizes past 32-bit, a scipy without the kernel). ``lens``:
    the postings per term of ``search`` when known (`Index.search_lens`)."""
    if _sparsetools is None or search.dtype != np.float32:
        return None
    if search.indptr.dtype != search.indices.dtype:
        return None
    lens = (np.diff(search.indptr) if lens is None else lens)[a.indices]
    rows = np.repeat(np.arange(a.shape[0]), np.diff(a.indptr))
    per_row = np.minimum(np.bincount(rows, weights=lens, minlength=a.shape[0]), search.shape[1])
    bound = int(per_row.sum())
    if bound >= np.iinfo(search.indices.dtype).max:
        return None
    return max(bound, 1)


class _Scratch:
    """A zeroed array per size, reused across articles: a sparse row is spread into it for
    lookups by position, then cleared again at the same positions (O(row), not O(size))."""

    def __init__(self, dtype: type = np.float64) -> None:
        self.arrays: dict[tuple[str, int], np.ndarray] = {}
        self.dtype = dtype

    def __call__(self, use: str, size: int) -> np.ndarray:
        """The zeroed array of ``size`` for ``use`` (``"checks"``, ``"chars"``, ``"items"``:
        arrays in use at the same time must differ in ``use``)."""
        a = self.arrays.get((use, size))
        if a is None:
            if len(self.arrays) > 8:
                self.arrays.clear()
            a = self.arrays[(use, size)] = np.zeros(size, dtype=self.dtype)
        return a


_scratch = _Scratch()
_flags = _Scratch(np.bool_)


def _values_at(keys: np.ndarray, vals: np.ndarray, wanted: np.ndarray, use: str, size: int) -> np.ndarray:
    """``vals`` at the positions of ``wanted`` in ``keys`` (distinct, below ``size``), 0 where
    absent. Only the keys that are wanted go through a lookup array as wide as the archive:
    at a million checks an article reaches 35,000 checks but looks up about 6,000, and
    writing all of them there and back (8 MB, past the cores' caches) cost more than the rest
    of the step; the mark of which are wanted is 8 times smaller."""
    mark = _flags(use, size)
    mark[wanted] = True
    hit = mark[keys]
    mark[wanted] = False
    hk = keys[hit]
    spread = _scratch(use, size)
    spread[hk] = vals[hit]
    out = spread[wanted]
    spread[hk] = 0.0
    return out


def _row(m: sp.csr_matrix, r: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = m.indptr[r], m.indptr[r + 1]
    return m.indices[lo:hi].astype(np.int64), np.asarray(m.data[lo:hi], dtype=np.float64)


def _chars_at(a: sp.csr_matrix, search: sp.csr_matrix, word: sp.csr_matrix) -> np.ndarray:
    """The entries of ``a @ search`` at the places of ``word``'s entries (float32, aligned
    with ``word.data``; 0 where the product has none): the product, then a lookup."""
    chars = _chunk_product(a, search, "chars")
    spread = _scratch("chars", search.shape[1])
    out = np.zeros(word.nnz, dtype=np.float32)
    for r in range(a.shape[0]):
        lo, hi = chars.indptr[r], chars.indptr[r + 1]
        ccols = chars.indices[lo:hi]
        spread[ccols] = chars.data[lo:hi]
        out[word.indptr[r] : word.indptr[r + 1]] = spread[word.indices[word.indptr[r] : word.indptr[r + 1]]]
        spread[ccols] = 0.0
    return out


BLOCK = 1 << 16
"""Checks per block in `_block_product`: the block's accumulator (256 kB of float32 and a bit
per check) stays in a core's cache; 2^14 to 2^18 were within 10% at a million checks."""


def _compiled(fn):  # type: ignore[no-untyped-def]
    """``fn`` compiled by numba (no GIL), or None without numba (the callers then take scipy's
    product path, which gives the same numbers). Compiled once and kept in numba's on-disk
    cache (a second or two a process otherwise, which is 10% of a batch over 19,250 checks);
    where no cache folder can be written, each process compiles its own."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; the product path stays exact
        return None
    try:
        return numba.njit(nogil=True, cache=True)(fn)
    except RuntimeError:  # pragma: no cover - no writable cache location
        return numba.njit(nogil=True)(fn)


@functools.lru_cache(maxsize=1)
def _block_kernel():  # type: ignore[no-untyped-def]
    """numba's compiled form of `_block_product`, or None without numba."""

    def product(
        a_indptr,
        a_indices,
        a_data,
        s_indptr,
        s_indices,
        s_data,
        n_cols,
        block,
        acc,
        seen,
        cursor,
        o_indptr,
        o_indices,
        o_data,
    ):  # type: ignore[no-untyped-def]
        # Per row, one block of columns at a time: each of the row's terms (in term order)
        # adds its postings that fall in the block into a block-wide accumulator, a cursor
        # per term remembering where its sorted list stopped. The sums are those of scipy's
        # `csr_matmat` (float32, term order, zero sums dropped); only where they are added
        # differs: a small array that stays in cache instead of one as wide as the archive.
        one = np.uint64(1)
        nnz = 0
        o_indptr[0] = 0
        for r in range(len(a_indptr) - 1):
            t0, t1 = a_indptr[r], a_indptr[r + 1]
            for jj in range(t0, t1):
                cursor[jj - t0] = s_indptr[a_indices[jj]]
            lo = 0
            while lo < n_cols:
                hi = lo + block
                start = nnz
                for jj in range(t0, t1):
                    v = a_data[jj]
                    k, end = cursor[jj - t0], s_indptr[a_indices[jj] + 1]
                    while k < end and s_indices[k] < hi:
                        # No branch on a column's first posting (4 in 5 at a million checks,
                        # too many to predict): its column is written at ``nnz`` either way,
                        # and kept only if new.
                        c = s_indices[k] - lo
                        bit = one << np.uint64(c & 63)
                        had = seen[c >> 6]
                        o_indices[nnz] = c
                        nnz += np.int64(had & bit == 0)
                        seen[c >> 6] = had | bit
                        acc[c] += v * s_data[k]
                        k += 1
                    cursor[jj - t0] = k
                stop, nnz = nnz, start
                for j in range(start, stop):  # the block's columns in the order first reached
                    c = o_indices[j]
                    seen[c >> 6] = 0
                    x = acc[c]
                    acc[c] = 0
                    if x != 0:
                        o_indices[nnz] = lo + c
                        o_data[nnz] = x
                        nnz += 1
                lo = hi
            o_indptr[r + 1] = nnz

    return _compiled(product)


def _block_product(
    a: sp.csr_matrix, search: sp.csr_matrix, use: str = "", lens: np.ndarray | None = None, block: int = BLOCK
) -> sp.csr_matrix:
    """`_chunk_product` with the same float32 sums, bit for bit, made block by block of
    ``block`` columns (numba; tests/test_rank_exact.py): at a million checks scipy's kernel
    adds into arrays a million wide and waits on memory for most postings (0.79 vs 0.38 ms
    per check, `bench/product_kernels.py`). Columns ascend block by block, in no set order
    within one. Needs ``search``'s lists sorted (`champion_postings`); the product path
    without numba."""
    kernel = _block_kernel()
    if kernel is None or not search.shape[0] or not a.nnz or a.dtype != np.float32 or search.dtype != np.float32:
        return _chunk_product(a, search, use, lens)
    lens = (np.diff(search.indptr) if lens is None else lens)[a.indices]
    bound = max(int(lens.sum()), 1)
    idx = search.indices.dtype
    indptr = np.empty(a.shape[0] + 1, dtype=np.int64)
    indices = _buffer(f"{use}.indices", bound, idx) if use else np.empty(bound, dtype=idx)
    data = _buffer(f"{use}.data", bound, np.dtype(np.float32)) if use else np.empty(bound, dtype=np.float32)
    if block not in _ACCUMULATORS:  # zeroed, and the kernel leaves them so
        _ACCUMULATORS.clear()
        _ACCUMULATORS[block] = (np.zeros(block, dtype=np.float32), np.zeros(block // 64 + 1, dtype=np.uint64))
    acc, seen = _ACCUMULATORS[block]
    cursor = np.empty(int(np.diff(a.indptr).max()), dtype=np.int64)
    kernel(
        a.indptr,
        a.indices,
        a.data,
        search.indptr,
        search.indices,
        search.data,
        search.shape[1],
        block,
        acc,
        seen,
        cursor,
        indptr,
        indices,
        data,
    )
    nnz = int(indptr[-1])
    return sp.csr_matrix((data[:nnz], indices[:nnz], indptr), shape=(a.shape[0], search.shape[1]))


_ACCUMULATORS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


@functools.lru_cache(maxsize=1)
def _masked_kernel():  # type: ignore[no-untyped-def]
    """numba's compiled form of `_chars_at` without the full product, or None without numba."""

    def masked(
        a_indptr, a_indices, a_data, w_indptr, w_indices, s_indptr, s_indices, s_data, n_cols, block, pos, cursor, out
    ):  # type: ignore[no-untyped-def]
        # Row by row and block by block of columns (the word entries come block by block):
        # mark the block's word entries in a block-wide position array, then add each of the
        # row's terms' postings in the block that land on a marked column, in term order, in
        # float32: the sums scipy's product kernel makes (`csr_matmat`), for those columns only.
        # No branch on a hit (1 in 6 at a million checks): a miss adds into one of the 8 spare
        # slots past the end of ``out`` (8, so that those adds do not wait on each other).
        spare = len(out) - 8
        for r in range(len(a_indptr) - 1):
            t0, t1 = a_indptr[r], a_indptr[r + 1]
            for jj in range(t0, t1):
                cursor[jj - t0] = s_indptr[a_indices[jj]]
            j, w_end = w_indptr[r], w_indptr[r + 1]
            lo = 0
            while lo < n_cols and j < w_end:
                hi = lo + block
                j0 = j
                while j < w_end and w_indices[j] < hi:
                    pos[w_indices[j] - lo] = j
                    j += 1
                for jj in range(t0, t1):
                    v = a_data[jj]
                    k, end = cursor[jj - t0], s_indptr[a_indices[jj] + 1]
                    while k < end and s_indices[k] < hi:
                        p = pos[s_indices[k] - lo]
                        out[p + ((p >> 31) & (spare + 1 + (k & 7)))] += v * s_data[k]
                        k += 1
                    cursor[jj - t0] = k
                for q in range(j0, j):
                    pos[w_indices[q] - lo] = -1
                lo = hi

    return _compiled(masked)


_POSITIONS: dict[int, np.ndarray] = {}


def _chars_at_masked(a: sp.csr_matrix, search: sp.csr_matrix, word: sp.csr_matrix, block: int = BLOCK) -> np.ndarray:
    """`_chars_at`, equal bit for bit, reading each posting once and adding only those that
    land on a check the word view reached (tests/test_rank_exact.py); ``word``'s columns must
    ascend block by block of ``block`` (as `_block_product` gives them). At a million checks
    0.88 ms per check instead of 1.27 for a position array as wide as the archive with a branch
    per posting (`bench/product_kernels.py`). The product path when numba is missing. The
    result is a view of a buffer the next call reuses (a fresh array of this size, tens of MB
    at a million checks, costs more in page faults than the kernel takes)."""
    kernel = _masked_kernel()
    if kernel is None or a.dtype != np.float32 or search.dtype != np.float32 or not a.nnz:
        return _chars_at(a, search, word)
    pos = _POSITIONS.get(block)
    if pos is None:
        _POSITIONS.clear()
        pos = _POSITIONS[block] = np.full(block, -1, dtype=np.int32)
    out = _buffer("chars.at", word.nnz + 8, np.dtype(np.float32))
    out[:] = 0.0
    cursor = np.empty(int(np.diff(a.indptr).max()), dtype=np.int64)
    kernel(
        a.indptr,
        a.indices,
        a.data,
        word.indptr,
        word.indices,
        search.indptr,
        search.indices,
        search.data,
        search.shape[1],
        block,
        pos,
        cursor,
        out,
    )
    return out[: word.nnz]


@functools.lru_cache(maxsize=1)
def _finish_kernel():  # type: ignore[no-untyped-def]
    """numba's compiled form of the end of `_check_rows` (character and date terms), or None."""

    def finish(w_indptr, w_indices, w_data, at, base, dated, days, dates, cw, dw, near, out):  # type: ignore[no-untyped-def]
        # The numpy steps of `_check_rows`, one entry at a time, in float64 and in the same
        # order, so the same numbers: (word + cw * max(char - base, 0)) / (1 + cw), then, for
        # an article with a date (``dated[r]``), times (1 + dw * near), ``near`` looked up
        # by the distance in days (`_near_table`: two divisions fewer per entry).
        for r in range(len(w_indptr) - 1):
            b, day, has_day = base[r], days[r], dated[r]
            for j in range(w_indptr[r], w_indptr[r + 1]):
                x = np.float64(at[j]) - b
                if x < 0.0:
                    x = 0.0
                t = (np.float64(w_data[j]) + cw * x) / (1.0 + cw)
                if has_day:
                    c = dates[w_indices[j]]
                    t = t * (1.0 + dw * (near[abs(day - c)] if c >= 0 else 0.0))
                out[j] = t

    return _compiled(finish)


def _compact_dates(index: Index) -> tuple[np.ndarray, int]:
    """(the checks' days counted from the earliest, -1 where undated; the earliest day), in
    the smallest integer type that holds them: the check-score pass looks up one per check
    reached, at random, and at a million checks 8 bytes a day (8 MB) missed the caches for
    most (0.28 ms per article; 2 bytes: see `bench/README.md`). Kept for the last index."""
    dates = np.asarray(index.check_dates)
    if _COMPACT_DATES and _COMPACT_DATES[0] is dates:
        return _COMPACT_DATES[1], _COMPACT_DATES[2]
    dated = dates >= 0
    lo = int(dates[dated].min()) if dated.any() else 0
    span = int(dates.max()) - lo + 1 if dated.any() else 0
    dtype = np.int16 if span < np.iinfo(np.int16).max else np.int32 if span < np.iinfo(np.int32).max else np.int64
    rel = np.where(dated, dates - lo, -1).astype(dtype)
    _COMPACT_DATES[:] = [dates, rel, lo]
    return rel, lo


_COMPACT_DATES: list = []


def _near_table(rel: np.ndarray, days: np.ndarray, scale: float) -> np.ndarray | None:
    """`date_prior`'s closeness by distance in days, ``1 / (1 + d / scale)`` for d = 0 to the
    largest distance between ``days`` and the dates ``rel`` (those >= 0), both counted from the
    same day (float64, the same numbers as computed one by one); None when that is over 2^20
    days (no table then)."""
    hi = int(rel.max()) if len(rel) else -1
    span = max(hi - int(days.min()), int(days.max()), 0) if len(days) and hi >= 0 else 0
    if span > 1 << 20:
        return None
    return 1.0 / (1.0 + np.arange(span + 1) / scale)


def _check_rows(
    index: Index,
    articles: list[Article],
    opts: RankOptions,
    words: sp.csr_matrix | None = None,
    kernel: bool = False,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per article, the checks it reaches and their scores (see `check_scores`); ``words``:
    the articles' `query_words` when already made; ``kernel``: the word view through
    `_block_product` and the character view through `_chars_at_masked` (same numbers, checks
    in another order; for many articles: loading the compiled kernels takes a second)."""
    if words is None:
        words = query_words(index, articles, opts)
    product = _block_product if kernel else _chunk_product
    word = product(words, index.search("checks"), "checks", index.search_lens("checks"))
    cw = index.config.char_weight if len(index.char_idf) else 0.0
    if cw:
        char_vectors = strongest([a.char_vector for a in articles], opts.query_grams)
        if opts.gram_postings:
            char_vectors = within_budget(char_vectors, index.search_lens("chars"), opts.gram_postings)
        at_words = (_chars_at_masked if kernel else _chars_at)(char_vectors, index.search("chars"), word)
        base = np.asarray(char_vectors @ np.asarray(index.char_mean, dtype=np.float64)).ravel()
    dates = np.asarray(index.check_dates)
    finish = _finish_kernel() if kernel and cw else None
    if finish is not None:
        rel, lo = _compact_dates(index)
        dated = np.array([bool(opts.date_weight) and a.day >= 0 for a in articles], dtype=np.bool_)
        days = np.array([a.day - lo for a in articles], dtype=np.int64)
        near = _near_table(rel, days[dated], opts.date_scale)
    if finish is not None and near is not None:
        total = _buffer("checks.total", word.nnz, np.dtype(np.float64))
        finish(word.indptr, word.indices, word.data, at_words, base, dated, days, rel, float(cw),
               float(opts.date_weight), near, total)  # fmt: skip
        ptr = word.indptr
        return [
            (word.indices[ptr[r] : ptr[r + 1]].astype(np.int64), total[ptr[r] : ptr[r + 1]].copy())
            for r in range(len(articles))
        ]
    out = []
    for r, a in enumerate(articles):
        cols, total = _row(word, r)
        if cw:
            # Checks the character view does not reach get 0 - base, which the maximum drops.
            chars = np.asarray(at_words[word.indptr[r] : word.indptr[r + 1]], dtype=np.float64)
            total = (total + cw * np.maximum(chars - base[r], 0.0)) / (1.0 + cw)
        if opts.date_weight and a.day >= 0:
            c = dates[cols]
            near = np.where(c >= 0, 1.0 / (1.0 + np.abs(a.day - c) / opts.date_scale), 0.0)
            total = total * (1.0 + opts.date_weight * near)
        out.append((cols, total))
    return out


def check_scores(index: Index, articles: list[Article], opts: RankOptions) -> sp.csr_matrix:
    """Each article's score for the archive checks it reaches (articles x checks, sparse):
    ``(word + char_weight * char) / (1 + char_weight) * (1 + date_weight * date)``.

    ``word`` is the word cosine over the search postings (`Index.search`; exact while no term
    is in more than ``postings_max`` checks) of the article's ``query_terms`` heaviest terms.
    ``char`` is the character cosine (its ``query_grams`` heaviest n-grams) above the
    article's mean character cosine over the archive (any two long texts share many character
    n-grams), and only for checks that share a word with the article: the view re-weighs,
    never brings in a check on its own. ``date`` is `date_prior`: a relevant check dated near
    the article is raised, up to ``1 + date_weight`` times; an unrelated one stays near 0.
    A check the article reaches through no term is absent (score 0).
    """
    rows = _check_rows(index, articles, opts)
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(c) for c, _ in rows], out=indptr[1:])
    m = sp.csr_matrix(
        (
            np.concatenate([v for _, v in rows]) if rows else np.zeros(0),
            np.concatenate([c for c, _ in rows]) if rows else np.zeros(0, dtype=np.int64),
            indptr,
        ),
        shape=(len(rows), len(index.check_dates)),
    )
    m.sort_indices()
    return m


def _question_share(index: Index, opts: RankOptions) -> np.ndarray:
    """Per pool item, the share of its score from its own words: ``question_weight`` for an
    item some check raised, 0 for a title only (its check's score already counts it)."""
    raised = np.zeros(index.pool_matrix.shape[0], dtype=bool)
    raised[np.asarray(index.pair_item)[np.asarray(index.pair_raised, dtype=bool)]] = True
    return np.where(raised, opts.question_weight, 0.0)


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(start, stop)`` for each pair (vectorised)."""
    lens = stops - starts
    if not len(lens) or not lens.sum():
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(lens) + lens, lens)
    return offsets + np.arange(lens.sum())


def _top_bound(vals: np.ndarray, m: int) -> tuple[np.ndarray, float]:
    """(mask of the entries above the (m+1)-th largest value, that value; 0 when all kept)."""
    if len(vals) <= m:
        return np.ones(len(vals), dtype=bool), 0.0
    kth = len(vals) - m - 1
    bound = float(np.partition(vals, kth)[kth])
    return vals > bound, bound


@dataclass
class RowScores:
    """One article's scored candidate items: every pool item that can be among its best
    ``need`` allowed ones (see `_candidates`), with exact scores; all others score less.

    ``items`` ascending; aligned with them: ``score`` (rounded), ``q`` (own words), ``ctx``
    (best check that raised or answered it), ``allowed`` (False also for items whose
    exclusion tests were not needed: they cannot be chosen), ``source`` (the raising check
    closest to the article, else the closest answering one). ``checks``/``check_score``: the
    article's sparse row of check scores (checks in no set order)."""

    items: np.ndarray
    score: np.ndarray
    q: np.ndarray
    ctx: np.ndarray
    allowed: np.ndarray
    source: np.ndarray
    checks: np.ndarray
    check_score: np.ndarray

    def scores_of_checks(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float64)
        hit = np.isin(self.checks, rows)
        got = dict(zip(self.checks[hit].tolist(), self.check_score[hit].tolist(), strict=True))
        for k, c in enumerate(rows.tolist()):
            out[k] = got.get(c, 0.0)
        return out


def _candidates(
    index: Index,
    article: Article,
    checks: tuple[np.ndarray, np.ndarray],
    questions: tuple[np.ndarray, np.ndarray],
    share: np.ndarray,
    keep: np.ndarray,
    opts: RankOptions,
    need: int,
    exclude: bool = True,
) -> RowScores:
    """Score the items of the article's ``m`` best checks and its ``m`` best items by their own
    words, exactly; any other item scores at most the larger of the (m+1)-th check and item
    scores (``w * q + (1 - w) * ctx <= max(q, ctx)``). ``m`` grows until ``need`` allowed
    items score above that bound, or nothing is left out: the best ``need`` are then exact.

    Exclusions (`_near_duplicates`, the article's own check) are tested only on the best
    eligible items, as many as choosing the best ``need`` allowed ones requires."""
    cols, vals = checks
    qcols, qvals = questions
    order, start = index.check_pairs()
    pair_item = np.asarray(index.pair_item)
    pair_check = np.asarray(index.pair_check)
    pair_raised = np.asarray(index.pair_raised, dtype=bool)
    item_start = index.item_start()
    own = None
    if exclude and article.check_row is not None:
        own = pair_item[order[start[article.check_row] : start[article.check_row + 1]]]
    first = max(need, FIRST_REACH)
    ahead, streak = _HEAD_START
    m = start_m = first * 4**ahead
    while True:
        top_c, bound_c = _top_bound(vals, m)
        top_q, bound_q = _top_bound(qvals, m)
        picked = cols[top_c]
        via_checks = pair_item[order[_ranges(start[picked], start[picked + 1])]]
        items = np.unique(np.concatenate([via_checks, qcols[top_q]]))
        lo = item_start[items]
        hi = item_start[items + 1]
        pairs = _ranges(lo, hi)
        pc = _values_at(cols, vals, pair_check[pairs], "checks", len(index.check_dates))
        group = np.repeat(np.arange(len(items)), hi - lo)
        ctx = np.zeros(len(items), dtype=np.float64)
        has = hi > lo  # pairs of an item are contiguous: one maximum per run
        if has.any():
            ctx[has] = np.maximum.reduceat(pc, (np.cumsum(hi - lo) - (hi - lo))[has])
        q = _values_at(qcols, qvals, items, "items", index.pool_matrix.shape[0])
        w = share[items]
        score = np.round(w * q + (1 - w) * ctx, SCORE_DECIMALS)
        bound = float(np.round(max(bound_c, bound_q), SCORE_DECIMALS))
        eligible = keep[items] & (score >= opts.min_score) & (score > 0)
        if own is not None:
            eligible &= ~np.isin(items, own)
        allowed = eligible.copy() if not exclude else _allowed(index, article, items, score, eligible, need)
        complete = bound <= 0 or bound < opts.min_score
        if complete or int((allowed & (score > bound)).sum()) >= need:
            if m > start_m or not ahead:
                _HEAD_START[:] = [int(m > first), 0]
            else:
                _HEAD_START[:] = [int(streak < 7), streak + 1]
            mine = allowed[group]  # sources matter only for items that can be chosen
            source = _sources(group[mine], pc[mine], pair_check[pairs[mine]], pair_raised[pairs[mine]], len(items))
            return RowScores(items, score, q, ctx, allowed, source, cols, vals)
        m *= 4


def _sources(group: np.ndarray, score: np.ndarray, check: np.ndarray, raised: np.ndarray, n: int) -> np.ndarray:
    """Per item (``group`` of each pair): the raising check with the best score (equal scores:
    lowest row); an item no check raised: the best answering check; -1 without pairs."""
    out = np.full(n, -1, dtype=np.int64)
    if not len(group):
        return out
    has_raised = np.zeros(n, dtype=bool)
    has_raised[group[raised]] = True
    counts = raised | ~has_raised[group]
    order = np.lexsort((check, -score, ~counts, group))
    first = order[np.r_[True, group[order][1:] != group[order][:-1]]]
    out[group[first]] = check[first]
    return out


def _allowed(
    index: Index, article: Article, items: np.ndarray, score: np.ndarray, eligible: np.ndarray, need: int
) -> np.ndarray:
    """``eligible`` minus near-duplicates of the article's title and questions, tested on the
    best eligible items (ties at the cut included) until ``need`` pass or none is left; the
    untested ones are marked not allowed (they rank below ``need`` allowed ones)."""
    allowed = np.zeros(len(items), dtype=bool)
    pool = np.flatnonzero(eligible)
    pool = pool[np.argsort(-score[pool], kind="stable")]
    passed, at, step = 0, 0, 2 * need
    while at < len(pool) and passed < need:
        stop = min(len(pool), at + step)
        while stop < len(pool) and score[pool[stop]] == score[pool[stop - 1]]:
            stop += 1
        block = pool[at:stop]
        ok = ~_near_duplicates(index, article, items[block])
        allowed[block[ok]] = True
        passed += int(ok.sum())
        at, step = stop, 2 * step
    return allowed


def _own_words(index: Index, article: Article) -> tuple[np.ndarray, np.ndarray]:
    """The single-word view of the article's title and questions (`unigram_view`, unit rows):
    (terms ascending, terms x rows)."""
    if article.own_words is None:
        parts = [sp.csr_matrix(m) for m in (article.title_vector, article.question_vectors) if m.shape[0]]
        if not parts:
            article.own_words = (np.zeros(0, dtype=np.int64), np.zeros((0, 0)))
            return article.own_words
        rows = np.concatenate([np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)) + k for k, m in _offsets(parts)])
        cols = np.concatenate([m.indices for m in parts]).astype(np.int64)
        data = np.concatenate([m.data for m in parts]).astype(np.float64)
        keep = np.asarray(index.unigram, dtype=bool)[cols] & (data != 0)
        rows, cols, data = rows[keep], cols[keep], data[keep]
        n_rows = sum(m.shape[0] for m in parts)
        norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=n_rows))
        terms, local = np.unique(cols, return_inverse=True)
        dense = np.zeros((len(terms), n_rows), dtype=np.float64)
        dense[local.ravel(), rows] = data / norms[rows]
        article.own_words = (terms, dense)
    return article.own_words


def _offsets(parts: list[sp.csr_matrix]) -> list[tuple[int, sp.csr_matrix]]:
    out, at = [], 0
    for m in parts:
        out.append((at, m))
        at += m.shape[0]
    return out


def _row_ids(m: sp.csr_matrix) -> np.ndarray:
    return np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))


def _near_duplicates(index: Index, article: Article, items: np.ndarray) -> np.ndarray:
    """Per item: the same question (single-word cosine at ``dup_threshold``) as the
    article's title or one of its questions (the article asks or answers it already)."""
    terms, own = _own_words(index, article)
    if not len(terms) or not len(items):
        return np.zeros(len(items), dtype=bool)
    pool = index.pool_unigram
    lo, hi = pool.indptr[items], pool.indptr[items + 1]
    at = _ranges(lo, hi)
    cols = pool.indices[at]
    pos = np.minimum(np.searchsorted(terms, cols), len(terms) - 1)
    hit = terms[pos] == cols
    group = np.repeat(np.arange(len(items)), hi - lo)[hit]
    part = np.asarray(pool.data[at][hit], dtype=np.float64)[:, None] * own[pos[hit]]
    sims = np.zeros((len(items), own.shape[1]), dtype=np.float64)
    np.add.at(sims, group, part)
    return np.asarray((sims >= index.config.dup_threshold).any(axis=1), dtype=bool)


def score_rows(
    index: Index,
    articles: list[Article],
    opts: RankOptions,
    need: int | None = None,
    rules: bool = True,
    kernel: bool = False,
) -> list[RowScores]:
    """Each article's candidate items with their scores (see `RowScores`): enough for the
    best ``need`` (default ``opts.candidates``) allowed items to be exact.

    Allowed: what `filter_mask` keeps, minus the article's exclusions: its own questions and
    their near-duplicates, questions its title asks too (it answers them), and, for an archive
    check, every pool item its own check raised or answered. ``rules=False`` allows every item
    (`suggest eval`: an excluded item is there the very match sought). ``kernel``: see
    `_check_rows` (the same scores).
    """
    words = query_words(index, articles, opts)
    checks = _check_rows(index, articles, opts, words, kernel)
    questions = (_block_product if kernel else _chunk_product)(
        words, index.search("pool"), "pool", index.search_lens("pool")
    )
    # Arrays over the whole pool, the same for every chunk: made once per index and settings.
    key = (opts.question_weight, opts.open_only, opts.since, opts.until, rules)
    if key not in index._memo:
        index._memo.clear()
        keep = filter_mask(index, opts) if rules else np.ones(index.pool_matrix.shape[0], dtype=bool)
        index._memo[key] = (_question_share(index, opts), keep)
    share, keep = index._memo[key]
    return [
        _candidates(index, a, checks[r], _row(questions, r), share, keep, opts, need or opts.candidates, rules)
        for r, a in enumerate(articles)
    ]


def select(index: Index, row: RowScores, opts: RankOptions) -> list[int]:
    """Pick up to ``opts.top`` items: best first, diverse (MMR), at most N per source check.

    An item's source is the check that raised it (of several, the one closest to the article);
    an item only answered by a check counts against that check. An item whose shown text is a
    near-duplicate of a chosen one (single-word cosine at the pool's ``dup_threshold``) is never
    added; the same cosine drives the MMR penalty. Returns pool item numbers.
    """
    ok = row.allowed & (row.score >= opts.min_score) & (row.score > 0)
    local = top_items(row.score, np.flatnonzero(ok), opts.candidates)
    if not len(local):
        return []
    cand = row.items[local]
    score = row.score[local]
    sims = _gram(index.shown_unigram(cand))
    per_source: dict[int, int] = {}
    chosen: list[int] = []
    remaining = list(range(len(cand)))
    lam = opts.mmr_lambda
    penalty = np.zeros(len(cand))  # each candidate's largest similarity to a chosen one
    while remaining and len(chosen) < opts.top:
        vals = (lam * score - (1 - lam) * penalty).tolist()
        best, best_val = remaining[0], -np.inf
        for r in remaining:
            if vals[r] > best_val + 1e-12:
                best, best_val = r, vals[r]
        remaining.remove(best)
        if chosen and sims[best, chosen].max() >= index.config.dup_threshold:
            continue
        src = int(row.source[local[best]])
        if per_source.get(src, 0) >= opts.max_per_source:
            continue
        per_source[src] = per_source.get(src, 0) + 1
        chosen.append(best)
        penalty = np.maximum(penalty, sims[:, best])
    return [int(cand[r]) for r in sorted(chosen, key=lambda r: (-score[r], int(cand[r])))]


def top_items(score: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best of ``items`` (ascending positions) by ``score``, best first, equal scores
    in position order: a stable sort of the items, without sorting all of them."""
    if len(items) > k:
        # Only items scoring at least the k-th best can be among the first k; all of them,
        # ties included, go to the stable sort.
        floor = np.partition(score[items], len(items) - k)[len(items) - k]
        items = items[score[items] >= floor]
    return items[np.argsort(-score[items], kind="stable")][:k]


def _gram(m: sp.csr_matrix) -> np.ndarray:
    """Dense ``m @ m.T`` for a few rows over a huge vocabulary, without touching every column
    (a sparse transpose costs time in the number of columns)."""
    used, local = np.unique(m.indices, return_inverse=True)
    compact = sp.csr_matrix((m.data, local.ravel(), m.indptr), shape=(m.shape[0], len(used))).toarray()
    return compact @ compact.T


def matched_words(index: Index, article_text: str, item: int) -> tuple[str, ...]:
    """The article's words whose stems the suggestion shares, as readable words."""
    row = index.pool_matrix[item]
    shared = set()
    for t in row.indices.tolist():
        term = index.terms[t]
        if " " not in term:
            shared.add(term)
    out: set[str] = set()
    for w in set(words(article_text)):
        if analyze_with(w, index.stems)[0] in shared:
            out.add(w)
    return tuple(sorted(out))


def to_suggestions(index: Index, items: list[int], row: RowScores, article_text: str | None) -> list[Suggestion]:
    out = []
    at = np.searchsorted(row.items, items)
    for i, k in zip(items, at.tolist(), strict=True):
        rec = index.pool_records[i]
        out.append(
            Suggestion(
                question=rec["text"],
                score=float(row.score[k]),
                status=rec["status"],
                item=i,
                sources=tuple(rec["raised_by"]),
                answered_by=tuple(rec["answered_by"]),
                raised_on=tuple(rec["raised_on"]),
                matched=matched_words(index, article_text, i) if article_text is not None else (),
                question_score=float(np.round(row.q[k], SCORE_DECIMALS)),
                check_score=float(np.round(row.ctx[k], SCORE_DECIMALS)),
            )
        )
    return out


def own_check_row(index: Index, check_id: str | None) -> int | None:
    if check_id is None:
        return None
    ids = index.check_ids
    lo, hi = 0, len(ids)
    while lo < hi:  # ids are sorted
        mid = (lo + hi) // 2
        if ids[mid] < check_id:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(ids) and ids[lo] == check_id else None


def check_record(index: Index, check_id: str) -> dict:
    """The stored record (id, title, date, category, url, path) of one archive check."""
    row = own_check_row(index, check_id)
    if row is None:
        raise KeyError(check_id)
    return index.check_records[row]


def rank_rows(
    index: Index, articles: list[Article], opts: RankOptions, explain: bool = False, kernel: bool = False
) -> list[list[Suggestion]]:
    """Rank the pool for several articles at once (chunked sparse products; the batch job's core).

    Each row gets exactly what `suggest` gives for that article alone, with or without
    ``kernel`` (see `_check_rows`).
    """
    if not articles:
        return []
    rows = score_rows(index, articles, opts, kernel=kernel)
    return [
        to_suggestions(index, select(index, row, opts), row, a.text if explain else None)
        for row, a in zip(rows, articles, strict=True)
    ]


def suggest(index: Index, article: Check, opts: RankOptions | None = None, explain: bool = False) -> list[Suggestion]:
    """Rank the archive's questions for a new article.

    Parameters
    ----------
    index : from `build_index` or `Index.load`.
    article : the parsed article (see `suggest.archive.parse_article`). If its id is an archive
        check's, that check's own questions are left out, as in the batch job.
    opts : ranking options; defaults to `RankOptions()`.
    explain : also find the article words each suggestion matched.

    Returns
    -------
    list of Suggestion
        At most ``opts.top``, best first; fewer when fewer pass ``min_score``.

    Examples
    --------
    >>> ranked = suggest(index, parse_article(open("draft.txt").read()))  # doctest: +SKIP
    """
    return rank_rows(index, [article_from_check(index, article)], opts or RankOptions(), explain)[0]
