"""Per-check ranking time of the batch's ranker on a saved index, one process, for several
character-postings budgets (`RankOptions.gram_postings`; 0 = none), interleaved chunk by chunk.

    python bench/rank_cost.py INDEX_DIR 0 20000 60000

1,536 checks: 8 chunks of 64 from 10%, 50% and 90% into the archive (after one warm-up chunk
per setting). Speed is compared within one run, setting against setting.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from suggest.batch import _Ranker
from suggest.index import Index
from suggest.rank import RankOptions

CHUNK = 64


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("budgets", type=int, nargs="+", help="gram_postings values (0: no budget)")
    args = ap.parse_args()
    index = Index.load(args.index, verify=False)
    rankers = {b: _Ranker(index, RankOptions(gram_postings=b)) for b in args.budgets}
    n = index.checks_matrix.shape[0]
    times: dict[int, list[float]] = {b: [] for b in args.budgets}
    for ranker in rankers.values():
        ranker.rank(0, min(CHUNK, n))
    for start in (int(n * 0.1), int(n * 0.5), int(n * 0.9)):
        for k in range(start, min(start + 8 * CHUNK, n), CHUNK):
            for b, ranker in rankers.items():
                t = time.perf_counter()
                ranker.rank(k, min(k + CHUNK, n))
                times[b].append((time.perf_counter() - t) / (min(k + CHUNK, n) - k))
    for b in args.budgets:
        print(f"gram_postings={b}: {1000 * sum(times[b]) / len(times[b]):.2f} ms per check (rank, one process)")


if __name__ == "__main__":
    main()
