"""The sparse products of the ranking and the arrays they reuse.

An article's scores are products of its (cut) term vector with a saved index's champion
postings (`Index.search`). `product` is scipy's; `block_product`, `chars_at_masked` and
`finish_kernel` are numba kernels for the batch job that give the same float32 sums bit for bit
(tests/test_rank_exact.py) while touching only cache-sized arrays. Every reused array lives in a
`Workspace` that its caller owns: nothing here keeps state between calls.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp


class Workspace:
    """Arrays one process reuses from chunk to chunk: output buffers, zeroed lookup arrays as
    wide as the archive, the kernels' block accumulators. Fresh arrays of tens of MB per chunk
    cost more in page faults than the kernels take at a million checks. Owned by a `Ranker`;
    results never depend on what a workspace held before."""

    def __init__(self, profile: bool = False) -> None:
        self.profile: dict[str, float] | None = {} if profile else None
        """With ``profile``: seconds spent and amounts counted per part of the ranking
        (`note`), for `bench/rank_parts.py`; nothing is recorded otherwise."""
        self._buffers: dict[str, np.ndarray] = {}
        self._zeros: dict[tuple[str, int, str], np.ndarray] = {}
        self._blocks: dict[tuple[str, int], tuple[np.ndarray, ...]] = {}

    def note(self, part: str, amount: float) -> None:
        """Add ``amount`` to ``part`` of the profile (when profiling)."""
        if self.profile is not None:
            self.profile[part] = self.profile.get(part, 0.0) + amount

    def buffer(self, name: str, size: int, dtype: np.dtype | type) -> np.ndarray:
        """A reusable array of at least ``size`` (grown by half again when too small); its
        content is whatever the last user left."""
        dtype = np.dtype(dtype)
        b = self._buffers.get(name)
        if b is None or len(b) < size or b.dtype != dtype:
            grown = max(size, int(1.5 * len(b))) if b is not None else size
            b = self._buffers[name] = np.empty(grown, dtype=dtype)
        return b[:size]

    def zeros(self, use: str, size: int, dtype: type = np.float64) -> np.ndarray:
        """A zeroed array of ``size`` for ``use``: callers spread a sparse row into it and clear
        the same positions again (O(row), not O(size)). Arrays in use at the same time must
        differ in ``use``."""
        key = (use, size, np.dtype(dtype).str)
        a = self._zeros.get(key)
        if a is None:
            if len(self._zeros) > 16:
                self._zeros.clear()
            a = self._zeros[key] = np.zeros(size, dtype=dtype)
        return a

    def block(self, kind: str, block: int) -> tuple[np.ndarray, ...]:
        """The kernels' per-block arrays, left as the kernels found them (zeroed, or -1)."""
        key = (kind, block)
        got = self._blocks.get(key)
        if got is None:
            if kind == "accumulator":
                got = (np.zeros(block, dtype=np.float32), np.zeros(block // 64 + 1, dtype=np.uint64))
            else:
                got = (np.full(block, -1, dtype=np.int32),)
            self._blocks = {k: v for k, v in self._blocks.items() if k[0] != kind}
            self._blocks[key] = got
        return got


def row(m: sp.csr_matrix, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Row ``r`` of ``m`` as (columns int64, values float64)."""
    lo, hi = m.indptr[r], m.indptr[r + 1]
    return m.indices[lo:hi].astype(np.int64), np.asarray(m.data[lo:hi], dtype=np.float64)


def product(a: sp.csr_matrix, search: sp.csr_matrix) -> sp.csr_matrix:
    """Rows of ``a`` times the search postings (articles x rows; columns in no set order), with
    scipy's product: each entry sums the article's terms in term order whatever else is in the
    chunk, so one article gets the same numbers alone (`suggest for`) as in a batch chunk."""
    if not search.shape[0] or not a.nnz:
        return sp.csr_matrix((a.shape[0], search.shape[1]), dtype=np.float32)
    return sp.csr_matrix(a @ search)


def stack(vectors: list[sp.csr_matrix]) -> sp.csr_matrix:
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


def strongest(vectors: list[sp.csr_matrix], k: int) -> sp.csr_matrix:
    """The rows of ``vectors`` (stacked), each cut to its ``k`` largest weights (0: all; equal
    weights: lower term first) and made unit length again, terms in order."""
    a = stack(vectors)
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


def values_at(keys: np.ndarray, vals: np.ndarray, wanted: np.ndarray, ws: Workspace, use: str, size: int) -> np.ndarray:
    """``vals`` at the positions of ``wanted`` in ``keys`` (distinct, below ``size``), 0 where
    absent. Only the keys that are wanted go through a lookup array as wide as the archive:
    at a million checks an article reaches 35,000 checks but looks up about 6,000, and
    writing all of them there and back (8 MB, past the cores' caches) cost more than the rest
    of the step; the mark of which are wanted is 8 times smaller."""
    mark = ws.zeros(use, size, np.bool_)
    mark[wanted] = True
    hit = mark[keys]
    mark[wanted] = False
    hk = keys[hit]
    spread = ws.zeros(use, size)
    spread[hk] = vals[hit]
    out = spread[wanted]
    spread[hk] = 0.0
    return out


def chars_at(a: sp.csr_matrix, search: sp.csr_matrix, word: sp.csr_matrix, ws: Workspace) -> np.ndarray:
    """The entries of ``a @ search`` at the places of ``word``'s entries (float32, aligned
    with ``word.data``; 0 where the product has none): the product, then a lookup."""
    chars = product(a, search)
    spread = ws.zeros("chars", search.shape[1])
    out = np.zeros(word.nnz, dtype=np.float32)
    for r in range(a.shape[0]):
        lo, hi = chars.indptr[r], chars.indptr[r + 1]
        ccols = chars.indices[lo:hi]
        spread[ccols] = chars.data[lo:hi]
        out[word.indptr[r] : word.indptr[r + 1]] = spread[word.indices[word.indptr[r] : word.indptr[r + 1]]]
        spread[ccols] = 0.0
    return out


BLOCK = 1 << 16
"""Checks per block in `block_product`: the block's accumulator (256 kB of float32 and a bit
per check) stays in a core's cache; 2^14 to 2^18 were within 10% at a million checks."""


def compiled(fn):  # type: ignore[no-untyped-def]
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
def block_kernel():  # type: ignore[no-untyped-def]
    """numba's compiled form of `block_product`, or None without numba."""

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

    return compiled(product)


def block_product(
    a: sp.csr_matrix,
    search: sp.csr_matrix,
    ws: Workspace,
    use: str = "",
    lens: np.ndarray | None = None,
    block: int = BLOCK,
) -> sp.csr_matrix:
    """`product` with the same float32 sums, bit for bit, made block by block of
    ``block`` columns (numba; tests/test_rank_exact.py): at a million checks scipy's kernel
    adds into arrays a million wide and waits on memory for most postings (0.79 vs 0.38 ms
    per check, measured on the 1M synthetic index). Columns ascend block by block, in no set order
    within one. Needs ``search``'s lists sorted (`champion_postings`); the product path
    without numba."""
    kernel = block_kernel()
    if kernel is None or not search.shape[0] or not a.nnz or a.dtype != np.float32 or search.dtype != np.float32:
        return product(a, search)
    lens = (np.diff(search.indptr) if lens is None else lens)[a.indices]
    bound = max(int(lens.sum()), 1)
    idx = search.indices.dtype
    indptr = np.empty(a.shape[0] + 1, dtype=np.int64)
    indices = ws.buffer(f"{use}.indices", bound, idx) if use else np.empty(bound, dtype=idx)
    data = ws.buffer(f"{use}.data", bound, np.float32) if use else np.empty(bound, dtype=np.float32)
    acc, seen = ws.block("accumulator", block)  # zeroed, and the kernel leaves them so
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


@functools.lru_cache(maxsize=1)
def masked_kernel():  # type: ignore[no-untyped-def]
    """numba's compiled form of `chars_at` without the full product, or None without numba."""

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

    return compiled(masked)


def chars_at_masked(
    a: sp.csr_matrix, search: sp.csr_matrix, word: sp.csr_matrix, ws: Workspace, block: int = BLOCK
) -> np.ndarray:
    """`chars_at`, equal bit for bit, reading each posting once and adding only those that
    land on a check the word view reached (tests/test_rank_exact.py); ``word``'s columns must
    ascend block by block of ``block`` (as `block_product` gives them). At a million checks
    0.88 ms per check instead of 1.27 for a position array as wide as the archive with a branch
    per posting (measured on the 1M synthetic index). The product path when numba is missing. The
    result is a view of a buffer the next call reuses (a fresh array of this size, tens of MB
    at a million checks, costs more in page faults than the kernel takes)."""
    kernel = masked_kernel()
    if kernel is None or a.dtype != np.float32 or search.dtype != np.float32 or not a.nnz:
        return chars_at(a, search, word, ws)
    (pos,) = ws.block("positions", block)
    out = ws.buffer("chars.at", word.nnz + 8, np.float32)
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
def finish_kernel():  # type: ignore[no-untyped-def]
    """numba's compiled form of `suggest.signals.combine` for the default signals (words,
    characters, dates) in one pass, or None; tests/test_rank_exact.py checks it against `combine`."""

    def finish(w_indptr, w_indices, w_data, at, base, dated, days, dates, cw, dw, near, out):  # type: ignore[no-untyped-def]
        # `combine` for words, characters and dates, one entry at a time, in float64 and in the same
        # order, so the same numbers: (word + cw * max(char - base, 0)) / (1 + cw), then, for
        # an article with a date (``dated[r]``), times (1 + dw * near), ``near`` looked up
        # by the distance in days (`near_table`: two divisions fewer per entry).
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

    return compiled(finish)


def near_table(rel: np.ndarray, days: np.ndarray, scale: float) -> np.ndarray | None:
    """`suggest.signals.date_prior`'s closeness by distance in days, ``1 / (1 + d / scale)`` for d = 0 to the
    largest distance between ``days`` and the dates ``rel`` (those >= 0), both counted from the
    same day (float64, the same numbers as computed one by one); None when that is over 2^20
    days (no table then)."""
    hi = int(rel.max()) if len(rel) else -1
    span = max(hi - int(days.min()), int(days.max()), 0) if len(days) and hi >= 0 else 0
    if span > 1 << 20:
        return None
    return 1.0 / (1.0 + np.arange(span + 1) / scale)


def ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(start, stop)`` for each pair (vectorised)."""
    lens = stops - starts
    if not len(lens) or not lens.sum():
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(lens) + lens, lens)
    return offsets + np.arange(lens.sum())


def top_bound(vals: np.ndarray, m: int) -> tuple[np.ndarray, float]:
    """(mask of the entries above the (m+1)-th largest value, that value; 0 when all kept)."""
    if len(vals) <= m:
        return np.ones(len(vals), dtype=bool), 0.0
    kth = len(vals) - m - 1
    bound = float(np.partition(vals, kth)[kth])
    return vals > bound, bound


def gram(m: sp.csr_matrix) -> np.ndarray:
    """Dense ``m @ m.T`` for a few rows over a huge vocabulary, without touching every column
    (a sparse transpose costs time in the number of columns)."""
    used, local = np.unique(m.indices, return_inverse=True)
    compact = sp.csr_matrix((m.data, local.ravel(), m.indptr), shape=(m.shape[0], len(used))).toarray()
    return compact @ compact.T


@functools.lru_cache(maxsize=1)
def row_dots_kernel():  # type: ignore[no-untyped-def]
    """numba's compiled form of `suggest.pool.row_dots` (the same float64 sums, in the same
    order), or None without numba."""

    def dots(a_indptr, a_indices, a_data, ai, b_indptr, b_indices, b_data, bi, out):  # type: ignore[no-untyped-def]
        for k in range(len(ai)):
            r, q = ai[k], bi[k]
            start, end = b_indptr[q], b_indptr[q + 1]
            s = 0.0
            for p in range(a_indptr[r], a_indptr[r + 1]):
                needle = a_indices[p]
                lo, hi = start, end
                while lo < hi:  # the needle's place in b's sorted row
                    mid = (lo + hi) // 2
                    if b_indices[mid] < needle:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo < end and b_indices[lo] == needle:
                    s += np.float64(a_data[p]) * np.float64(b_data[lo])
            out[k] = s

    return compiled(dots)
