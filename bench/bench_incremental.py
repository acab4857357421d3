"""The growing archive: a full index build against bm25s', and the next `suggest for` after one
check is added or edited, on the 19,250 PolitiFact checks.

    python bench/bench_incremental.py [--rounds 3] [--shard 250]

The archive is a folder of JSON Lines files of ``--shard`` checks each (``bench/scratch/daily/``,
made from ``make_archive.py politifact``), as a newsroom keeps a folder of saved checks. Each
round, interleaved:

1. ``suggest index --force`` (counts nothing from the cache; memory sampled) and bm25s' index
   build of the same texts (``peer_bm25s_query.py build``).
2. **One check added** (a new file of one check): ``suggest for ARTICLE`` end to end (it brings
   the index up to date: the chunk of the new check is counted, every other chunk comes from the
   cache), against bm25s' rebuild plus its query (bm25s has no update).
3. **One check edited** (a question of a check in one shard reworded): the same.
4. The archive put back (its index update is not timed).

In the first round, the lists of the two updated indexes are compared with those of a full
rebuild (``--force``, another index folder) for every query article: they must be equal.

Results: bench/results/incremental-*.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402
from bench_for import PEER, write_queries  # noqa: E402
from benchlib import PYTHON, SUGGEST, WORK, median, run  # noqa: E402
from make_archive import DEFAULT_ARCHIVE, ensure_politifact  # noqa: E402


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_daily(source: Path, folder: Path, shard: int) -> list[Path]:
    """``source`` (JSON Lines) cut into files of ``shard`` checks under ``folder``."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    lines = [line for line in source.read_text("utf-8").splitlines() if line.strip()]
    paths = []
    for k in range(0, len(lines), shard):
        p = folder / f"shard-{k // shard:04d}.jsonl"
        p.write_text("\n".join(lines[k : k + shard]) + "\n", "utf-8")
        paths.append(p)
    return paths


NEW_CHECK = {
    "id": "daily-0001",
    "title": "Did the state double the gas tax in 2023?",
    "summary": "The gas tax rose by two cents a gallon, not by half.",
    "checked_on": "2023-07-01",
    "questions": ["How does the state's gas tax compare with its neighbours'?"],
    "sections": [{"heading": "", "text": "Lawmakers raised the state gas tax by two cents a gallon in 2023, "
                  "to fund road repairs; a viral post said it had doubled."}],
}


def edit_one(shard: Path) -> str:
    """Reword the first question of the shard's middle check; the old text, to put back."""
    old = shard.read_text("utf-8")
    lines = old.splitlines()
    mid = len(lines) // 2
    rec = json.loads(lines[mid])
    qs = rec.get("questions") or [rec.get("title", "")]
    rec["questions"] = [f"{qs[0]} And what did the record show a year later?", *qs[1:]]
    lines[mid] = json.dumps(rec)
    shard.write_text("\n".join(lines) + "\n", "utf-8")
    return old


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shard", type=int, default=250)
    ap.add_argument("--queries", type=int, default=5)
    ap.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    args = ap.parse_args()

    source = ensure_politifact(args.archive)
    daily = WORK / "daily"
    shards = make_daily(source, daily, args.shard)
    index, rebuilt = WORK / "daily.idx", WORK / "daily-full.idx"
    peer_index = WORK / "daily.bm25s"
    queries = [p for _, p in write_queries(args.queries, "d")]
    flat = WORK / "daily-flat.jsonl"  # bm25s reads one JSON Lines file

    def ours_for(ix: Path, q: Path) -> list[str]:
        return [SUGGEST, "for", str(q), "--archive", str(daily), "--index", str(ix), "--no-semantic",
                "--format", "json", "--quiet"]

    def flatten() -> None:
        flat.write_text("".join(p.read_text("utf-8") for p in sorted(daily.glob("*.jsonl"))), "utf-8")

    def peer_rebuild_and_query(q: Path) -> float:
        flatten()
        a = run([PYTHON, str(PEER), "build", str(flat), str(peer_index)])
        b = run([PYTHON, str(PEER), "query", str(peer_index), str(q)])
        return a.wall + b.wall

    def timed_for(ix: Path, q: Path) -> tuple[float, str]:
        r = run(ours_for(ix, q), check=False)
        if r.returncode not in (0, 3):
            sys.exit(f"error: suggest for exited {r.returncode}:\n{r.stderr[-3000:]}")
        return r.wall, r.stdout

    def lists_equal_full_rebuild() -> bool:
        run([SUGGEST, "index", "--archive", str(daily), "--index", str(rebuilt), "--no-semantic", "--force", "-q"])
        same = True
        for q in queries:
            same &= timed_for(index, q)[1] == timed_for(rebuilt, q)[1]
        return same

    new_file = daily / "added-daily-0001.jsonl"
    full: dict[str, list] = {"suggest_wall_s": [], "suggest_peak_pss_mb": [], "suggest_peak_anon_mb": [],
                             "bm25s_wall_s": [], "bm25s_peak_pss_mb": []}
    added: dict[str, list] = {"suggest_for_s": [], "bm25s_rebuild_and_query_s": []}
    edited: dict[str, list] = {"suggest_for_s": [], "bm25s_rebuild_and_query_s": []}
    equal: dict[str, bool] = {}
    for r in range(args.rounds):
        flatten()
        order = ("suggest", "bm25s") if r % 2 == 0 else ("bm25s", "suggest")
        for side in order:
            if side == "suggest":
                res = run([SUGGEST, "index", "--archive", str(daily), "--index", str(index), "--no-semantic",
                           "--force", "-q"], sample=1.0)
                full["suggest_wall_s"].append(res.wall)
                full["suggest_peak_pss_mb"].append(res.peak_tree_pss_mb)
                full["suggest_peak_anon_mb"].append(res.peak_tree_anon_mb)
            else:
                res = run([PYTHON, str(PEER), "build", str(flat), str(peer_index)], sample=1.0)
                full["bm25s_wall_s"].append(res.wall)
                full["bm25s_peak_pss_mb"].append(res.peak_tree_pss_mb)
        say(f"round {r + 1}: full build {full['suggest_wall_s'][-1]:.1f} s, bm25s {full['bm25s_wall_s'][-1]:.1f} s")

        q = queries[r % len(queries)]

        def after_change(kind: str, got: dict, q: Path = q, first: bool = r == 0) -> None:
            # The next list after the change, against bm25s' rebuild and query; lists checked once.
            wall, _ = timed_for(index, q)
            got["suggest_for_s"].append(wall)
            got["bm25s_rebuild_and_query_s"].append(peer_rebuild_and_query(q))
            if first:
                equal[kind] = lists_equal_full_rebuild()
            say(f"  one check {kind}: suggest for {wall:.2f} s, bm25s rebuild+query "
                f"{got['bm25s_rebuild_and_query_s'][-1]:.2f} s")

        new_file.write_text(json.dumps(NEW_CHECK) + "\n", "utf-8")
        after_change("added", added)
        shard = shards[len(shards) // 2]
        old = edit_one(shard)
        after_change("edited", edited)

        shard.write_text(old, "utf-8")
        new_file.unlink()
        run([SUGGEST, "index", "--archive", str(daily), "--index", str(index), "--no-semantic", "-q"])

    def med(d: dict) -> dict:
        return {k: round(median(v), 2) for k, v in d.items()}

    result = {
        "benchmark": "growing archive: full build against bm25s; next suggest for after one check added or edited",
        "machine": benchlib.machine(),
        "archive": f"{len(shards)} JSON Lines files of {args.shard} checks (PolitiFact, CheckThat! 2021 2B)",
        "rounds": args.rounds,
        "full_build": med(full),
        "full_build_over_bm25s": round(median(full["suggest_wall_s"]) / median(full["bm25s_wall_s"]), 2),
        "one_added": med(added),
        "one_edited": med(edited),
        "lists_equal_full_rebuild": equal,
        "runs": {"full": full, "added": added, "edited": edited},
    }
    path = benchlib.save("incremental", result)
    rows = [["", "suggest (median s)", "bm25s (median s)"],
            ["full index build", f"{result['full_build']['suggest_wall_s']:.1f}",
             f"{result['full_build']['bm25s_wall_s']:.1f}"],
            ["one check added, next list", f"{result['one_added']['suggest_for_s']:.2f}",
             f"{result['one_added']['bm25s_rebuild_and_query_s']:.2f}"],
            ["one check edited, next list", f"{result['one_edited']['suggest_for_s']:.2f}",
             f"{result['one_edited']['bm25s_rebuild_and_query_s']:.2f}"]]
    print(benchlib.table(rows))
    print(f"full build: {result['full_build_over_bm25s']}x bm25s' time, peak PSS "
          f"{result['full_build']['suggest_peak_pss_mb']:.0f} MB; lists equal to a full rebuild's: {equal}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
