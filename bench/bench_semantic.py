"""The cost of the embedding signal, on the 19,250 PolitiFact checks, against bm25s in the same run.

    python bench/bench_semantic.py [--rounds 3] [--queries 5] [--encode 1000]

Needs the ``semantic`` extra (``pip install -e '.[eval,semantic]'``). Three parts:

1. **Encoding throughput**: `suggest.embed.encode` on the first ``--encode`` check texts of the
   archive (title and summary, as the index encodes them), in this process, after a warm-up:
   checks per second. The index build with embeddings is timed too (``suggest index
   --semantic --force``, the embedding cache beside the index emptied first).
2. **One `suggest for`**: fresh processes on the same saved index (which has embeddings), each
   query run three ways, interleaved: ``--semantic`` (model load plus one article), and
   ``--no-semantic``, and the bm25s query script. Median wall times and their differences.
3. **`suggest batch`** over the whole archive with and without the embeddings, and the bm25s
   batch script: median wall time over ``--rounds`` (the batch needs no model: every article is
   an archive check whose vector the index holds).

Results: bench/results/semantic-*.json.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402
from bench_for import PEER, write_queries  # noqa: E402
from benchlib import PYTHON, SUGGEST, WORK, median, run  # noqa: E402
from make_archive import DEFAULT_ARCHIVE, ensure_politifact  # noqa: E402

PEER_BATCH = Path(__file__).resolve().parent / "peer_bm25s_batch.py"


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def encoding(archive: Path, n: int) -> dict:
    from suggest import embed
    from suggest.archive import read_archive

    checks = sorted(read_archive(archive).checks, key=lambda c: c.id)[:n]
    texts = [embed.check_text(c.title, c.summary, "\n".join(c.questions)) for c in checks]
    t = time.perf_counter()
    embed.encode(texts[:1])
    load = time.perf_counter() - t
    t = time.perf_counter()
    embed.encode(texts)
    took = time.perf_counter() - t
    words = sum(len(x.split()) for x in texts) / len(texts)
    return {"texts": len(texts), "mean_words": round(words, 1), "seconds": round(took, 2),
            "checks_per_s": round(len(texts) / took, 1), "first_load_and_encode_s": round(load, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--queries", type=int, default=5)
    ap.add_argument("--encode", type=int, default=1000)
    ap.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    ap.add_argument("--reuse-index", action="store_true", help="do not time the index build with embeddings")
    args = ap.parse_args()

    from suggest.embed import available
    from suggest.index import embedding_cache

    if not available():
        sys.exit("error: the semantic extra is not installed: pip install -e '.[eval,semantic]'")
    archive = ensure_politifact(args.archive)
    index = WORK / f"{archive.stem}.sem.idx"
    peer_index = WORK / f"{archive.stem}.bm25s"
    if not (peer_index / "params.index.json").is_file():
        run([PYTHON, PEER, "build", archive, peer_index])

    say(f"encoding throughput on {args.encode} check texts")
    enc = encoding(archive, args.encode)
    say(f"  {enc}")
    build: dict = {"not_measured": "--reuse-index"}
    if not args.reuse_index:
        shutil.rmtree(embedding_cache(index), ignore_errors=True)
        say("index with embeddings, cache emptied (measured)")
        r = run([SUGGEST, "index", "--archive", archive, "--index", index, "--semantic", "--force", "--quiet"],
                sample=1.0)
        build = {"wall_s": round(r.wall, 1), "peak_tree_pss_mb": round(r.peak_tree_pss_mb),
                 "returncode": r.returncode}
        say(f"  {build}")
    run([SUGGEST, "index", "--archive", archive, "--index", index, "--semantic", "--quiet"])

    queries = [path for _, path in write_queries(args.queries, "s")]

    def ours(path: Path, flag: str) -> list[str]:
        return [SUGGEST, "for", str(path), "--archive", str(archive), "--index", str(index), flag,
                "--format", "json", "--quiet"]

    sides = {
        "semantic": lambda p: ours(p, "--semantic"),
        "words": lambda p: ours(p, "--no-semantic"),
        "bm25s": lambda p: [PYTHON, str(PEER), "query", str(peer_index), str(p)],
    }
    def timed(cmd: list[str]) -> float:
        r = run(cmd, check=False)
        if r.returncode not in (0, 3):  # 3: `suggest for` found nothing above its floor
            sys.exit(f"error: {' '.join(cmd)} exited {r.returncode}:\n{r.stderr[-2000:]}")
        return r.wall

    for make in sides.values():  # warm-up: page cache, byte code
        timed(make(queries[0]))
    times: dict[str, list[float]] = {s: [] for s in sides}
    k = 0
    for r in range(args.rounds):
        for path in queries:
            order = list(sides)
            order = order[k % 3 :] + order[: k % 3]  # each side goes first in turn
            k += 1
            for side in order:
                times[side].append(timed(sides[side](path)))
        say(f"for, round {r + 1}/{args.rounds}: " + ", ".join(f"{s} {median(v):.2f} s" for s, v in times.items()))
    one = {s: {"median_s": round(median(v), 3), "runs": len(v)} for s, v in times.items()}

    n = sum(1 for line in archive.open(encoding="utf-8") if line.strip())
    batch: dict[str, list[float]] = {"semantic": [], "words": [], "bm25s": []}
    for r in range(args.rounds):
        for side in ("semantic", "words", "bm25s") if r % 2 == 0 else ("bm25s", "words", "semantic"):
            out = WORK / f"sem-batch-{side}-{r}"
            shutil.rmtree(out, ignore_errors=True)
            if side == "bm25s":
                cmd = [PYTHON, str(PEER_BATCH), str(archive), str(peer_index), str(out) + ".jsonl"]
            else:
                flag = "--semantic" if side == "semantic" else "--no-semantic"
                cmd = [SUGGEST, "batch", "--archive", str(archive), "--index", str(index), "--out", str(out),
                       "--format", "json", flag, "--quiet"]
            res = run(cmd)
            batch[side].append(res.wall)
            say(f"batch, round {r + 1}/{args.rounds} {side}: {res.wall:.1f} s")
            shutil.rmtree(out, ignore_errors=True)
            Path(str(out) + ".jsonl").unlink(missing_ok=True)
    many = {s: {"median_s": round(median(v), 1), "checks_per_s": round(n / median(v), 1), "runs": len(v)}
            for s, v in batch.items()}

    result = {
        "benchmark": "embedding signal: encoding, one suggest for, batch; bm25s in the same run",
        "machine": benchlib.machine(),
        "archive": str(archive),
        "checks": n,
        "encoding": enc,
        "index_build_with_embeddings": build,
        "for": one,
        "for_extra_cost_s": round(one["semantic"]["median_s"] - one["words"]["median_s"], 3),
        "batch": many,
        "batch_ratio_semantic_over_words": round(many["semantic"]["median_s"] / many["words"]["median_s"], 2),
        "batch_throughput_semantic_over_bm25s": round(many["bm25s"]["median_s"] / many["semantic"]["median_s"], 2),
    }
    path = benchlib.save("semantic", result)
    rows = [["", "for: median s", "batch: median s", "batch: checks/s"]]
    for s in ("semantic", "words", "bm25s"):
        rows.append([s, f"{one[s]['median_s']:.3f}", f"{many[s]['median_s']:.1f}", f"{many[s]['checks_per_s']:.0f}"])
    print(benchlib.table(rows))
    print(f"encoding: {enc['checks_per_s']} checks/s ({enc['mean_words']} words each); "
          f"one suggest for costs {result['for_extra_cost_s']:.2f} s more with embeddings; "
          f"batch with/without: {result['batch_ratio_semantic_over_words']}x the time, "
          f"{result['batch_throughput_semantic_over_bm25s']}x bm25s' throughput")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
