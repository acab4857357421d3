"""The batch's sparse products on a saved index: scipy's kernel against the blocked numba ones.

    python bench/product_kernels.py INDEX_DIR [--blocks 16384 65536 262144]

For 3 chunks of 64 checks (10%, 50% and 90% into the archive), the way the batch ranks them:
  - words against the checks' and the pool's postings: `suggest.rank._chunk_product` (scipy's
    `csr_matmat`, which adds into arrays as wide as the archive) against `_block_product`
    (numba, a block of columns at a time) at each ``--blocks`` width;
  - the character sums at the checks the words reached: the session-7 kernel (a position array
    as wide as the archive, a branch per posting; kept here as the baseline) against
    `_chars_at_masked` (blocked, no branch).
Each result is checked equal to the reference first. Times: median of 3 runs per chunk,
summed over the chunks, per check, in ms (one process; compare within one run of this script).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numba
import numpy as np
import scipy.sparse as sp

from suggest import rank
from suggest.index import Index
from suggest.records import RankOptions

CHUNK = 64


@numba.njit(nogil=True, cache=True)
def whole_width_masked(a_indptr, a_indices, a_data, w_indptr, w_indices, s_indptr, s_indices, s_data, pos, out):  # type: ignore[no-untyped-def]
    """The masked character kernel of session 7: ``pos`` as wide as the archive, a branch per posting."""
    for r in range(len(a_indptr) - 1):
        for j in range(w_indptr[r], w_indptr[r + 1]):
            pos[w_indices[j]] = j
        for jj in range(a_indptr[r], a_indptr[r + 1]):
            g = a_indices[jj]
            v = a_data[jj]
            for kk in range(s_indptr[g], s_indptr[g + 1]):
                p = pos[s_indices[kk]]
                if p >= 0:
                    out[p] += v * s_data[kk]
        for j in range(w_indptr[r], w_indptr[r + 1]):
            pos[w_indices[j]] = -1


def old(grams: sp.csr_matrix, chars: sp.csr_matrix, word: sp.csr_matrix, pos: np.ndarray) -> np.ndarray:
    out = np.zeros(word.nnz, dtype=np.float32)
    whole_width_masked(grams.indptr, grams.indices, grams.data, word.indptr, word.indices, chars.indptr,
                       chars.indices, chars.data, pos, out)  # fmt: skip
    return out


def timed(fn, *args, **kw) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(3):
        s = time.perf_counter()
        fn(*args, **kw)
        runs.append(time.perf_counter() - s)
    return float(np.median(runs))


def same(a: sp.csr_matrix, b: sp.csr_matrix) -> bool:
    a, b = a.sorted_indices(), b.sorted_indices()
    return bool(
        (a.indptr == b.indptr).all() and (a.indices == b.indices).all() and (a.data.view(np.uint32) == b.data.view(np.uint32)).all()
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("--blocks", type=int, nargs="+", default=[1 << 14, 1 << 16, 1 << 18])
    args = ap.parse_args()
    ix = Index.load(args.index, verify=False)
    opts = RankOptions()
    n = ix.checks_matrix.shape[0]
    chars = ix.search("chars")
    pos = np.full(n, -1, dtype=np.int32)
    t: dict[str, float] = {}
    done = 0
    for start in (int(n * 0.1), int(n * 0.5), int(n * 0.9)):
        stop = min(start + CHUNK, n)
        articles = [rank.article_from_row(ix, r) for r in range(start, stop)]
        words = rank.query_words(ix, articles, opts)
        grams = rank.strongest([a.char_vector for a in articles], opts.query_grams)
        for name in ("checks", "pool"):
            search, lens = ix.search(name), ix.search_lens(name)
            want = rank._chunk_product(words, search, "", lens)
            t[f"words x {name}: scipy"] = t.get(f"words x {name}: scipy", 0.0) + timed(
                rank._chunk_product, words, search, "", lens
            )
            for b in args.blocks:
                assert same(rank._block_product(words, search, "", lens, b), want), (name, b)
                key = f"words x {name}: blocks of {b}"
                t[key] = t.get(key, 0.0) + timed(rank._block_product, words, search, "", lens, b)
        word = rank._block_product(words, ix.search("checks"), "", ix.search_lens("checks"))

        want_c = old(grams, chars, word, pos)
        assert (rank._chars_at_masked(grams, chars, word) == want_c).all()
        t["chars: whole-width kernel (session 7)"] = t.get("chars: whole-width kernel (session 7)", 0.0) + timed(
            old, grams, chars, word, pos
        )
        t["chars: blocked kernel"] = t.get("chars: blocked kernel", 0.0) + timed(
            rank._chars_at_masked, grams, chars, word
        )
        done += stop - start
    print(f"{args.index}: {n} checks; {done} checks, median of 3 runs per chunk")
    for name, v in t.items():
        print(f"  {name:42s} {1000 * v / done:7.3f} ms per check")


if __name__ == "__main__":
    main()
