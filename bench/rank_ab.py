"""Two versions of `suggest/rank.py` on the batch's ranking, in one process, interleaved.

    git show HEAD~1:suggest/rank.py > /tmp/rank_before.py
    python bench/rank_ab.py INDEX_DIR /tmp/rank_before.py suggest/rank.py [--rounds 7]

Each version is loaded from its file as a module of its own (the rest of `suggest` is shared).
Chunks of 256 checks from 20%, 40%, 60% and 80% into the archive are ranked the way the batch
ranks them (`rank_rows` with the compiled kernels, on the batch's `_Ranker` index), A then B,
the order flipped every round; the first round also compiles the kernels and is left out of
the medians. Before timing, both versions' lists for each chunk must be the same items. Prints
ms per check per round, then the median over rounds of A and B and of B's time over A's, per
chunk. Compare within one run of this script: the machine's speed drifts between runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from suggest.batch import _Ranker
from suggest.index import Index
from suggest.records import RankOptions

CHUNK = 256


def load(path: Path):  # type: ignore[no-untyped-def]
    """``path`` as a module named after its file (numba's on-disk cache keys on that name)."""
    name = f"rank_ab_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        sys.exit(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("a", type=Path, help="rank.py of version A")
    ap.add_argument("b", type=Path, help="rank.py of version B")
    ap.add_argument("--rounds", type=int, default=7, help="rounds, the first one left out of the medians")
    args = ap.parse_args()
    if args.a.resolve() == args.b.resolve():
        sys.exit("give two different files (copy one if you want to time a version against itself)")
    opts = RankOptions()
    ix = _Ranker(Index.load(args.index, verify=False), opts).index
    n = ix.checks_matrix.shape[0]
    versions = {"A": load(args.a), "B": load(args.b)}
    starts = [min(int(n * f), max(0, n - CHUNK)) for f in (0.2, 0.4, 0.6, 0.8)]

    def rank(m, start: int) -> tuple[float, list[list[int]]]:  # type: ignore[no-untyped-def]
        articles = [m.article_from_row(ix, r) for r in range(start, min(start + CHUNK, n))]
        m._HEAD_START[:] = [0, 0]  # where the candidate step starts: the same for both
        t = time.perf_counter()
        lists = m.rank_rows(ix, articles, opts, kernel=True)
        return time.perf_counter() - t, [[s.item for s in lst] for lst in lists]

    for start in starts:
        if rank(versions["A"], start)[1] != rank(versions["B"], start)[1]:
            sys.exit(f"the two versions give different lists for the chunk at row {start}")
    times: dict[str, list[float]] = {"A": [], "B": []}
    ranked = sum(min(CHUNK, n - s) for s in starts)
    for k in range(args.rounds):
        for name in ("A", "B") if k % 2 == 0 else ("B", "A"):
            times[name] += [rank(versions[name], s)[0] for s in starts]
        print(f"round {k}: " + "  ".join(f"{v}: {1000 * sum(times[v][-len(starts):]) / ranked:.3f} ms per check"
                                       for v in ("A", "B")) + ("  (compiles; left out)" if k == 0 else ""),
              flush=True)
    a = np.array(times["A"][len(starts):])
    b = np.array(times["B"][len(starts):])
    per = CHUNK / 1000
    print(f"{args.index}: {n} checks; median ms per check A {np.median(a) / per:.3f}, B {np.median(b) / per:.3f}; "
          f"median B/A per chunk {np.median(b / a):.3f} over {len(a)} chunks")


if __name__ == "__main__":
    main()
