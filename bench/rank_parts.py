"""Where one check's ranking time goes, part by part, on a saved index (one process).

    python bench/rank_parts.py INDEX_DIR [--set gram_postings=60000 ...]

Ranks 1,536 checks (8 chunks of 64 from 10%, 50% and 90% into the archive, after one warm-up
chunk) as the batch does (`suggest.rank.Ranker` with the numba kernels), with the ranker's own
profile on: the sparse products (words against checks, characters against checks, words
against the pool), the rest of the check scores, the candidate step and the selection; the
postings each product reads and the entries it returns, per check. Times are per check, in
ms; compare settings within one run of this script, not across runs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from suggest.index import Index
from suggest.rank import Ranker, article_from_row
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
    ix = Index.load(args.index, verify=False).in_memory()
    ranker = Ranker(ix, RankOptions(**parse_sets(args.sets)), kernel=True, profile=True)
    profile = ranker.ws.profile
    assert profile is not None
    n = ix.checks_matrix.shape[0]
    rows = [(0, min(CHUNK, n))]  # warm-up
    for start in (int(n * 0.1), int(n * 0.5), int(n * 0.9)):
        rows += [(k, min(k + CHUNK, n)) for k in range(start, min(start + 8 * CHUNK, n), CHUNK)]
    done, total = 0, 0.0
    for k, (start, stop) in enumerate(rows):
        if k == 1:  # forget the warm-up chunk
            profile.clear()
        s = time.perf_counter()
        ranker.rank([article_from_row(ix, r) for r in range(start, stop)])
        if k:
            total += time.perf_counter() - s
            done += stop - start
    print(f"{args.index}: {n} checks; options {parse_sets(args.sets) or 'default'}; {done} checks ranked")
    print(f"  {'all':32s} {1000 * total / done:7.3f} ms per check")
    for name, v in sorted(profile.items(), key=lambda kv: (not kv[0].endswith(" s"), -kv[1])):
        if name.endswith(" s"):
            print(f"  {name[:-2]:32s} {1000 * v / done:7.3f} ms per check")
        else:
            print(f"  {name:32s} {v / done:10.0f} per check")


if __name__ == "__main__":
    main()
