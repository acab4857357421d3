"""What the build's chunk size costs in its counting pass (`suggest.build.analyse`), one process.

    python bench/count_chunks.py ARCHIVE [--checks 16384] [--sizes 4096 16384] [--rounds 3]

Counts the same first ``--checks`` checks of ARCHIVE in chunks of each size (a fresh process
per measurement, sizes interleaved over rounds) and reports the median seconds per 1,000
checks, the ratio to the first size, and the process's peak RSS (getrusage). Every chunk pays
its own vocabulary work (sorting and numbering its terms), so smaller chunks repeat more of
it; bigger ones hold more counts at once.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import PYTHON, machine, median, save, table


def one(archive: Path, checks: int, size: int) -> dict:
    from suggest.archive import read_archive
    from suggest.build import analyse
    from suggest.records import IndexConfig

    chosen = sorted(read_archive(archive).checks, key=lambda c: c.id)[:checks]
    with tempfile.TemporaryDirectory() as work:
        t = time.perf_counter()
        for k, s in enumerate(range(0, len(chosen), size)):
            analyse(chosen[s : s + size], k, IndexConfig(), work)
        seconds = time.perf_counter() - t
    return {
        "size": size,
        "checks": len(chosen),
        "seconds": seconds,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive", type=Path)
    ap.add_argument("--checks", type=int, default=16384)
    ap.add_argument("--sizes", type=int, nargs="+", default=[4096, 16384])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.archive, a.checks, a.one)))
        return
    runs: dict[int, list[dict]] = {s: [] for s in a.sizes}
    for r in range(a.rounds):
        for s in a.sizes:
            out = subprocess.run(
                [PYTHON, __file__, str(a.archive), "--checks", str(a.checks), "--one", str(s)],
                check=True,
                capture_output=True,
                text=True,
            )
            runs[s].append(json.loads(out.stdout))
            print(f"round {r + 1}: chunks of {s}: {runs[s][-1]['seconds']:.1f} s", file=sys.stderr, flush=True)
    base = median([x["seconds"] for x in runs[a.sizes[0]]])
    rows = [["chunk", "s per 1,000 checks (median)", "vs first", "peak RSS MB (max)"]]
    for s in a.sizes:
        sec = median([x["seconds"] for x in runs[s]])
        n = runs[s][0]["checks"]
        rows.append(
            [str(s), f"{1000 * sec / n:.2f}", f"{sec / base:.2f}", f"{max(x['max_rss_mb'] for x in runs[s]):.0f}"]
        )
    print(table(rows))
    path = save("count-chunks", {"machine": machine(), "archive": str(a.archive), "runs": runs})
    print(f"saved {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
