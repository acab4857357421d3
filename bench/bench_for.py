"""`suggest for` end to end against a bm25s script, on the 19,250 PolitiFact checks.

    python bench/bench_for.py [--rounds 5] [--queries 20]

Each timed run is a fresh process, from spawn to exit, with the saved index already built
(both indexes are built once before, untimed). The articles are debate sentences of the
CheckThat! 2021 2B dev split, one small file each. Runs are interleaved (ours, peer, peer, ours,
...: the order flips every run so neither side always goes first), one warm-up of each first.
Reports the median wall time of each side over all runs, the ratio, and the targets: ours under
1.0 s median and not slower than bm25s. As a sanity check that both do the same job, it also
counts the queries whose relevant check (dev qrels) is among the five returned.
Results: bench/results/for-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402
from benchlib import PYTHON, SUGGEST, WORK, median, run  # noqa: E402
from make_archive import DEFAULT_ARCHIVE, SHARED, ensure_politifact  # noqa: E402

DEV = SHARED / "data" / "checkthat" / "2021-2b-en"
PEER = Path(__file__).resolve().parent / "peer_bm25s_query.py"


def pick_queries(n: int) -> list[tuple[str, str]]:
    """``n`` dev debate sentences spread evenly over the split (sorted by query id)."""
    rows = []
    for line in (DEV / "dev.queries.tsv").read_text("utf-8").splitlines()[1:]:
        qid, _, text = line.partition("\t")
        if text.strip():
            rows.append((qid, text.strip()))
    rows.sort()
    if n >= len(rows):
        return rows
    return [rows[round(i * (len(rows) - 1) / (n - 1))] for i in range(n)] if n > 1 else rows[:1]


def write_queries(n: int, prefix: str) -> list[tuple[str, Path]]:
    """`pick_queries` written one per file under bench/scratch/queries/ (``PREFIXkk-QID.txt``)."""
    qdir = WORK / "queries"
    qdir.mkdir(parents=True, exist_ok=True)
    out = []
    for k, (qid, text) in enumerate(pick_queries(n), 1):
        path = qdir / f"{prefix}{k:02d}-{qid}.txt"
        path.write_text(text + "\n", "utf-8")
        out.append((qid, path))
    return out


def qrels() -> dict[str, set[str]]:
    rel: dict[str, set[str]] = {}
    for line in (DEV / "dev.qrels").read_text("utf-8").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] != "0":
            rel.setdefault(parts[0], set()).add(parts[2])
    return rel


def our_ids(stdout: str) -> set[str]:
    ids: set[str] = set()
    for s in json.loads(stdout or "[]"):
        ids.update(s.get("sources") or [])
        ids.update(s.get("answered_by") or [])
    return ids


def peer_ids(stdout: str) -> set[str]:
    return {line.split("\t")[1] for line in stdout.splitlines()[1:] if "\t" in line}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="timed runs of each query per side")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    args = ap.parse_args()

    archive = ensure_politifact(args.archive)
    ours_index = WORK / f"{archive.stem}.idx"
    peer_index = WORK / f"{archive.stem}.bm25s"
    print(f"archive {archive}; building/refreshing both indexes (untimed)", file=sys.stderr)
    run([SUGGEST, "index", "--archive", archive, "--index", ours_index, "--quiet"])
    if not (peer_index / "params.index.json").is_file():
        run([PYTHON, PEER, "build", archive, peer_index])

    queries = write_queries(args.queries, "q")

    def ours(path: Path) -> list[str]:
        return [SUGGEST, "for", str(path), "--archive", str(archive), "--index", str(ours_index),
                "--format", "json", "--quiet"]

    def peer(path: Path) -> list[str]:
        return [PYTHON, str(PEER), "query", str(peer_index), str(path)]

    # Warm-up: page cache, byte-code caches. The warm-up may write .pyc files even where the
    # session sets PYTHONDONTWRITEBYTECODE: an installed package has them, and without them
    # every timed run of ours (a source checkout) would compile suggest/ again.
    warm_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for make in (ours, peer):
        run(make(queries[0][1]), env=warm_env)

    times: dict[str, dict[str, list[float]]] = {"ours": {}, "bm25s": {}}
    cpu: dict[str, list[float]] = {"ours": [], "bm25s": []}
    loads: list[float] = []
    outputs: dict[str, dict[str, str]] = {"ours": {}, "bm25s": {}}
    k = 0
    for r in range(args.rounds):
        for qid, path in queries:
            order = [("ours", ours), ("bm25s", peer)]
            if k % 2:
                order.reverse()
            k += 1
            for side, make in order:
                res = run(make(path))
                times[side].setdefault(qid, []).append(res.wall)
                cpu[side].append(res.cpu_s)
                loads.append(res.load_before)
                outputs[side][qid] = res.stdout
        print(f"round {r + 1}/{args.rounds}: ours {median(sum(times['ours'].values(), [])):.3f} s, "
              f"bm25s {median(sum(times['bm25s'].values(), [])):.3f} s (medians so far)", file=sys.stderr)

    rel = qrels()
    hits = {"ours": 0, "bm25s": 0}
    for qid, _ in queries:
        if qid in rel:
            hits["ours"] += bool(our_ids(outputs["ours"][qid]) & rel[qid])
            hits["bm25s"] += bool(peer_ids(outputs["bm25s"][qid]) & rel[qid])
    n_rel = sum(1 for qid, _ in queries if qid in rel)
    listed = {side: sum(1 for qid, _ in queries if (our_ids if side == "ours" else peer_ids)(outputs[side][qid]))
              for side in hits}

    summary = {}
    for side in ("ours", "bm25s"):
        allt = sorted(sum(times[side].values(), []))
        summary[side] = {
            "median_s": median(allt),
            "min_s": allt[0],
            "p90_s": allt[int(0.9 * (len(allt) - 1))],
            "runs": len(allt),
            "median_cpu_s": median(cpu[side]),
            "queries_with_relevant_check_in_top5": hits[side],
            "queries_with_output": listed[side],
        }
    ratio = summary["ours"]["median_s"] / summary["bm25s"]["median_s"]
    result = {
        "benchmark": "suggest for, end to end, saved index",
        "machine": benchlib.machine(),
        "archive": str(archive),
        "checks": 19250 if archive == DEFAULT_ARCHIVE else None,
        "queries": len(queries),
        "queries_with_qrels": n_rel,
        "rounds": args.rounds,
        "ours_cmd": ours(queries[0][1]),
        "peer_cmd": peer(queries[0][1]),
        "summary": summary,
        "ratio_ours_over_bm25s": ratio,
        "cpu_ratio_ours_over_bm25s": summary["ours"]["median_cpu_s"] / summary["bm25s"]["median_cpu_s"],
        "load_average_1m": {"min": min(loads), "median": median(loads), "max": max(loads)},
        "targets": {
            "ours_median_under_1s": summary["ours"]["median_s"] < 1.0,
            "ours_not_slower_than_bm25s": ratio <= 1.0,
        },
        "per_query_s": {side: {q: sorted(v) for q, v in times[side].items()} for side in times},
    }
    path = benchlib.save("for", result)

    rows = [["", "median s", "min s", "p90 s", "median CPU s", "runs", f"rel. in top 5 (of {n_rel})"]]
    for side in ("ours", "bm25s"):
        s = summary[side]
        rows.append([side, f"{s['median_s']:.3f}", f"{s['min_s']:.3f}", f"{s['p90_s']:.3f}",
                     f"{s['median_cpu_s']:.3f}", str(s["runs"]),
                     str(s["queries_with_relevant_check_in_top5"])])
    print(benchlib.table(rows))
    print(f"ratio ours/bm25s: median wall time {ratio:.2f}, median CPU time {result['cpu_ratio_ours_over_bm25s']:.2f}"
          f" (1-min load average during the runs: median {median(loads):.1f} on {os.cpu_count()} cores)")
    t = result["targets"]
    print(f"target ours median < 1.0 s: {'met' if t['ours_median_under_1s'] else 'NOT met'}; "
          f"not slower than bm25s: {'met' if t['ours_not_slower_than_bm25s'] else 'NOT met'}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
