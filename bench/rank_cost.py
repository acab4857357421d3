"""Per-check ranking time of the batch's ranker on a saved index, one process, for several
settings of `RankOptions` (postings budgets above all), interleaved chunk by chunk.

    python bench/rank_cost.py INDEX_DIR default gram_postings=60000 gram_postings=60000,term_postings=40000

1,536 checks: 8 chunks of 64 from 10%, 50% and 90% into the archive (after one warm-up chunk
per setting). Speed is compared within one run, setting against setting; each setting's lists
are compared with the first setting's (equal lists; share of its questions they keep).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from suggest.index import Index
from suggest.rank import Ranker, article_from_row
from suggest.records import RankOptions

CHUNK = 64


def options(setting: str) -> RankOptions:
    """``default`` or ``name=N,name=N`` (integer fields of `RankOptions`)."""
    if setting == "default":
        return RankOptions()
    return RankOptions(**{k: int(v) for k, _, v in (p.partition("=") for p in setting.split(","))})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("settings", nargs="+", help="'default' or NAME=N[,NAME=N...]")
    args = ap.parse_args()
    index = Index.load(args.index, verify=False).in_memory()
    rankers = {s: Ranker(index, options(s), kernel=True) for s in args.settings}

    def rank(ranker: Ranker, start: int, stop: int) -> list:
        return ranker.rank([article_from_row(index, r) for r in range(start, stop)])

    n = index.checks_matrix.shape[0]
    times: dict[str, list[float]] = {s: [] for s in args.settings}
    same: dict[str, list[int]] = {s: [] for s in args.settings}  # lists equal to the first setting's
    shared: dict[str, list[float]] = {s: [] for s in args.settings}  # its questions among them
    for ranker in rankers.values():
        rank(ranker, 0, min(CHUNK, n))
    for start in (int(n * 0.1), int(n * 0.5), int(n * 0.9)):
        for k in range(start, min(start + 8 * CHUNK, n), CHUNK):
            lists = {}
            for s, ranker in rankers.items():
                t = time.perf_counter()
                lists[s] = rank(ranker, k, min(k + CHUNK, n))
                times[s].append((time.perf_counter() - t) / (min(k + CHUNK, n) - k))
            for s in args.settings:
                for mine, ref in zip(lists[s], lists[args.settings[0]], strict=True):
                    a, b = [x.item for x in mine], [x.item for x in ref]
                    same[s].append(a == b)
                    if b:
                        shared[s].append(len(set(a) & set(b)) / len(b))
    base = sum(times[args.settings[0]])
    for s in args.settings:
        print(f"{s}: {1000 * sum(times[s]) / len(times[s]):.2f} ms per check (rank, one process; "
              f"{sum(times[s]) / base:.2f}x the first); lists equal to the first's: "
              f"{100 * sum(same[s]) / len(same[s]):.1f}%, their questions kept: "
              f"{100 * sum(shared[s]) / max(len(shared[s]), 1):.1f}%")


if __name__ == "__main__":
    main()
