"""Where one check's ranking time goes, part by part, on a saved index (one process).

    python bench/rank_parts.py INDEX_DIR [--set gram_postings=60000 ...]

Ranks 1,536 checks (8 chunks of 64 from 10%, 50% and 90% into the archive, after one warm-up
chunk) the way the batch does, timing each part of `suggest.rank.score_rows` and `select`:
the three sparse products (words against checks, characters against checks, words against
the pool), the rest of the check scores, the candidate step and the diversity step; and the
postings each product reads and the entries it returns, per check. Times are per check, in
ms; compare settings within one run of this script, not across runs. The character view goes
through the batch's masked kernel (its postings read are counted in full, though the kernel
adds only those of checks the words reached).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from suggest import rank
from suggest.batch import _Ranker
from suggest.index import Index
from suggest.records import RankOptions

CHUNK = 64


def parse_sets(pairs: list[str]) -> dict[str, int]:
    out = {}
    for p in pairs:
        k, _, v = p.partition("=")
        out[k] = int(v)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=N",
                    help="a RankOptions field (integer) for this run")
    args = ap.parse_args()
    index = Index.load(args.index, verify=False)
    opts = RankOptions(**parse_sets(args.sets))
    ranker = _Ranker(index, opts)
    ix = ranker.index
    n = ix.checks_matrix.shape[0]
    t: dict[str, float] = defaultdict(float)
    count: dict[str, float] = defaultdict(float)

    def timed(name, fn, *a, **kw):  # type: ignore[no-untyped-def]
        s = time.perf_counter()
        out = fn(*a, **kw)
        t[name] += time.perf_counter() - s
        return out

    product = rank._block_product  # the batch's word products (`_check_rows` with kernel=True)

    def counting_product(a, search, use="", lens=None):  # type: ignore[no-untyped-def]
        s = time.perf_counter()
        out = product(a, search, use, lens)
        t[f"product {use}"] += time.perf_counter() - s
        count[f"{use} postings read"] += float((np.diff(search.indptr) if lens is None else lens)[a.indices].sum())
        count[f"{use} entries out"] += out.nnz
        return out

    rank._block_product = counting_product
    masked = rank._chars_at_masked

    def timed_masked(a, search, word):  # type: ignore[no-untyped-def]
        s = time.perf_counter()
        out = masked(a, search, word)
        t["chars (masked kernel)"] += time.perf_counter() - s
        count["chars postings read"] += float(ix.search_lens("chars")[a.indices].sum())
        return out

    rank._chars_at_masked = timed_masked
    share = rank._question_share(ix, opts)  # once per index, as `score_rows` keeps them
    keep = rank.filter_mask(ix, opts)
    checks_done = 0
    rows = [(0, min(CHUNK, n))]  # warm-up
    for start in (int(n * 0.1), int(n * 0.5), int(n * 0.9)):
        rows += [(k, min(k + CHUNK, n)) for k in range(start, min(start + 8 * CHUNK, n), CHUNK)]
    for k, (start, stop) in enumerate(rows):
        if k == 1:  # forget the warm-up chunk
            t.clear()
            count.clear()
        s = time.perf_counter()
        articles = [rank.article_from_row(ix, r) for r in range(start, stop)]
        words = timed("query words", rank.query_words, ix, articles, opts)
        checks = timed("check scores (products in)", rank._check_rows, ix, articles, opts, words, True)
        questions = rank._block_product(words, ix.search("pool"), "pool", ix.search_lens("pool"))
        scored = [
            timed("candidates", rank._candidates, ix, a, checks[r], rank._row(questions, r), share, keep, opts,
                  opts.candidates, True)
            for r, a in enumerate(articles)
        ]
        for row in scored:
            timed("select", rank.select, ix, row, opts)
        t["all"] += time.perf_counter() - s
        if k:
            checks_done += stop - start
            count["checks reached by words"] += sum(len(c) for c, _ in checks)
    print(f"{args.index}: {n} checks; options {parse_sets(args.sets) or 'default'}; {checks_done} checks ranked")
    for name, v in sorted(t.items(), key=lambda kv: -kv[1]):
        print(f"  {name:32s} {1000 * v / checks_done:7.3f} ms per check")
    for name, v in sorted(count.items()):
        print(f"  {name:32s} {v / checks_done:10.0f} per check")


if __name__ == "__main__":
    main()
