"""`suggest batch` over a whole archive: against bm25s on the real archive, and at scale.

    python bench/bench_batch.py                      # 19,250 PolitiFact checks vs bm25s
    python bench/bench_batch.py --scale 19250 100000 1000000   # synthetic archives

Default mode, on the 19,250 real checks (their claims as questions):
  1. `suggest index --force` once, measured (build time, peak memory, size on disk); the bm25s
     index once (`peer_bm25s_query.py build`), measured too.
  2. ``--rounds`` rounds, interleaved, order flipped every round: our whole batch
     (`suggest batch --format json --quiet` into an empty --out, so nothing is reused) and
     bm25s retrieving the top 5 for the same 19,250 texts (`peer_bm25s_batch.py`, both cores).
     Each is a fresh process with its saved index, timed from spawn to exit; memory is the peak
     of the process tree (sampled every 0.5 s) and the largest single process (getrusage).
  3. Medians, the throughput ratio and the targets: at least 10x bm25s's throughput, peak
     memory under 1.5 GB.

``--scale N ...``: synthetic archives of N checks (bench/make_archive.py; generated once and
reused; include 19250 for a like-for-like start of the curve). For each: index build and
batch, each measured once (time, peak memory, throughput per check), then a power-law fit
time = a * N^b of both. A run whose process tree passes ``--mem-cap-gb`` is killed and reported
as such; ``--batch-timeout`` stops a batch and reports how many checks it had ranked;
``--reuse-index`` times the batch on a saved index that is still fresh (not rebuilt). Results
are written after every step, so a long run that dies keeps what it measured.
Results: bench/results/batch-*.json and scale-*.json.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402
from benchlib import PYTHON, SUGGEST, WORK, Run, dir_size_mb, median, run  # noqa: E402
from make_archive import DEFAULT_ARCHIVE, ensure_politifact, ensure_synthetic  # noqa: E402

BENCH = Path(__file__).resolve().parent
PEER_BUILD = BENCH / "peer_bm25s_query.py"
PEER_BATCH = BENCH / "peer_bm25s_batch.py"


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def require_batch() -> None:
    r = run([SUGGEST, "batch", "--help"], check=False)
    if r.returncode != 0:
        sys.exit("error: `suggest batch --help` fails; this benchmark needs the batch command")


def mem(r: Run) -> dict:
    return {"cpu_s": round(r.cpu_s, 2), "max_rss_single_mb": round(r.max_rss_mb, 1), "peak_tree_rss_mb": round(r.peak_tree_rss_mb, 1),
            "peak_tree_pss_mb": round(r.peak_tree_pss_mb, 1), "peak_tree_anon_mb": round(r.peak_tree_anon_mb, 1),
            "sampler_s": round(r.sampler_s, 2), "pss_samples": r.pss_samples}


def build_ours(archive: Path, index: Path, cap_mb: float | None) -> dict:
    r = run([SUGGEST, "index", "--archive", archive, "--index", index, "--force", "--quiet"],
            sample=0.5, mem_cap_mb=cap_mb, check=False)
    out = {"wall_s": round(r.wall, 2), **mem(r), "returncode": r.returncode, "killed_at_mem_cap": r.killed_at_cap,
           "load_before": r.load_before}
    if r.returncode == 0:
        out["size_mb"] = round(dir_size_mb(index), 1)
        manifest = json.loads((index / "manifest.json").read_text())
        out["counts"] = manifest.get("counts")
    else:
        out["stderr"] = r.stderr[-3000:]
    return out


def ranked_so_far(out: Path) -> int:
    """Checks whose lists a (stopped) batch run finished: the lines of its finished chunk files."""
    n = 0
    for f in (out / ".suggest-batch").glob("chunks-*/*.jsonl"):
        with f.open("rb") as fh:
            n += sum(1 for _ in fh)
    return n


def timeline(out: Path, started: float, wall: float) -> dict:
    """When a batch's chunks finished (their files' modification times): seconds to the first
    one, the throughput between 10% and 90% of the checks done (the steady rate, without the
    start-up before the first chunk and the work after the last: joining the results and
    writing the record), and the seconds after the last chunk."""
    done = []
    for f in (out / ".suggest-batch").glob("chunks-*/[0-9]*.jsonl"):
        with f.open("rb") as fh:
            done.append((f.stat().st_mtime, sum(1 for _ in fh)))
    if len(done) < 10:
        return {}
    done.sort()
    times = np.array([t for t, _ in done]) - started
    cum = np.cumsum([k for _, k in done])
    lo, hi = int(np.searchsorted(cum, 0.1 * cum[-1])), int(np.searchsorted(cum, 0.9 * cum[-1]))
    return {"first_chunk_s": round(float(times[0]), 2), "last_chunk_s": round(float(times[-1]), 2),
            "after_last_chunk_s": round(wall - float(times[-1]), 2),
            "steady_checks_per_s": round(float(cum[hi] - cum[lo]) / max(float(times[hi] - times[lo]), 1e-9), 1)}


def batch_ours(archive: Path, index: Path, out: Path, cap_mb: float | None, fmt: str = "json",
               timeout: float | None = None) -> tuple[Run, dict]:
    shutil.rmtree(out, ignore_errors=True)
    before = index.resolve()
    started = time.time()
    r = run([SUGGEST, "batch", "--archive", archive, "--index", index, "--out", out, "--format", fmt, "--quiet"],
            sample=0.5, mem_cap_mb=cap_mb, check=False, timeout=timeout)
    info = {"wall_s": round(r.wall, 2), **mem(r), "returncode": r.returncode, "killed_at_mem_cap": r.killed_at_cap,
            "timed_out": r.timed_out, "load_before": r.load_before,
            # The saved index is stale if suggest's code changed since it was built: the batch then
            # rebuilds it first and its time and memory are the rebuild's as much as the batch's.
            "index_rebuilt_during_batch": index.resolve() != before}
    info.update(timeline(out, started, r.wall))
    if r.timed_out:
        done = ranked_so_far(out)
        info["checks_ranked_before_timeout"] = done
        info["partial_checks_per_s"] = round(done / r.wall, 2)
    if r.returncode == 0:
        results = out / "suggestions.jsonl"
        lines = with_list = 0
        with results.open(encoding="utf-8") as f:
            for line in f:
                lines += 1
                obj = json.loads(line)
                with_list += bool(obj.get("suggestions"))
        info["result_lines"] = lines
        info["checks_with_suggestions"] = with_list
        info["output_mb"] = round(dir_size_mb(out), 1)
    else:
        info["stderr"] = r.stderr[-3000:]
    return r, info


def politifact(args: argparse.Namespace) -> None:
    archive = ensure_politifact(args.archive)
    index = WORK / f"{archive.stem}.idx"
    peer_index = WORK / f"{archive.stem}.bm25s"
    out = WORK / "batch-out"
    peer_out = WORK / "batch-peer.jsonl"
    n = sum(1 for line in archive.open(encoding="utf-8") if line.strip())
    cap = args.mem_cap_gb * 1024

    if args.reuse_index:
        run([SUGGEST, "index", "--archive", archive, "--index", index, "--quiet"])
        ours_index: dict = {"not_measured": "--reuse-index", "size_mb": round(dir_size_mb(index), 1)}
        if not (peer_index / "params.index.json").is_file():
            run([PYTHON, PEER_BUILD, "build", archive, peer_index])
        peer_build: dict = {"not_measured": "--reuse-index", "size_mb": round(dir_size_mb(peer_index), 1)}
    else:
        say(f"{n} checks in {archive}; building our index (measured)")
        ours_index = build_ours(archive, index, cap)
        if ours_index["returncode"]:
            sys.exit(f"error: suggest index failed:\n{ours_index.get('stderr')}")
        say(f"our index: {ours_index['wall_s']} s, {ours_index['size_mb']} MB; building the bm25s index (measured)")
        shutil.rmtree(peer_index, ignore_errors=True)
        rb = run([PYTHON, PEER_BUILD, "build", archive, peer_index], sample=0.5)
        peer_build = {"wall_s": round(rb.wall, 2), **mem(rb), "size_mb": round(dir_size_mb(peer_index), 1)}

    ours_runs: list[dict] = []
    peer_runs: list[dict] = []
    for k in range(args.rounds):
        order = ["ours", "bm25s"] if k % 2 == 0 else ["bm25s", "ours"]
        for side in order:
            if side == "ours":
                # A fresh folder each round, all removed at the end: removing 19,250 files just
                # before a run makes ext4 skip their inodes as "recently deleted" (for up to 5
                # minutes) while allocating the new ones, which cost the timed run 5-10 s.
                r, info = batch_ours(archive, index, out.with_name(f"{out.name}-{k}"), cap)
                if r.returncode:
                    sys.exit(f"error: suggest batch failed:\n{r.stderr[-3000:]}")
                ours_runs.append(info)
            else:
                peer_out.unlink(missing_ok=True)
                r = run([PYTHON, PEER_BATCH, archive, peer_index, peer_out], sample=0.5)
                phases = json.loads(r.stderr.strip().splitlines()[-1])
                peer_runs.append({"wall_s": round(r.wall, 2), **mem(r), "phases_s": phases, "load_before": r.load_before})
            say(f"round {k + 1}/{args.rounds} {side}: {r.wall:.1f} s, peak tree PSS {r.peak_tree_pss_mb:.0f} MB")
    for k in range(args.rounds):
        shutil.rmtree(out.with_name(f"{out.name}-{k}"), ignore_errors=True)

    ours_wall = median([x["wall_s"] for x in ours_runs])
    peer_wall = median([x["wall_s"] for x in peer_runs])
    ours_peak = max(max(x["peak_tree_pss_mb"], x["max_rss_single_mb"]) for x in ours_runs)
    throughput_ratio = peer_wall / ours_wall
    result = {
        "benchmark": "suggest batch vs bm25s top-5 for every check, saved indexes",
        "machine": benchlib.machine(),
        "archive": str(archive),
        "checks": n,
        "rounds": args.rounds,
        "index_build": {"ours": ours_index, "bm25s": peer_build},
        "ours": {"median_wall_s": ours_wall, "checks_per_s": n / ours_wall, "peak_memory_mb": ours_peak,
                 "runs": ours_runs},
        "bm25s": {"median_wall_s": peer_wall, "checks_per_s": n / peer_wall,
                  "median_retrieve_s": median([x["phases_s"]["retrieve_s"] for x in peer_runs]),
                  "peak_memory_mb": max(max(x["peak_tree_pss_mb"], x["max_rss_single_mb"]) for x in peer_runs),
                  "runs": peer_runs},
        "throughput_ratio_ours_over_bm25s": throughput_ratio,
        "cpu_ratio_bm25s_over_ours": median([x["cpu_s"] for x in peer_runs]) / median([x["cpu_s"] for x in ours_runs]),
        "load_average_1m_before_runs": [x["load_before"] for x in ours_runs + peer_runs],
        "targets": {"throughput_at_least_10x_bm25s": throughput_ratio >= 10,
                    "peak_memory_under_1.5_GB": ours_peak < 1.5 * 1024},
    }
    path = benchlib.save("batch", result)
    rows = [["", "median wall s", "checks/s", "median CPU s", "peak MB (tree PSS)", "max RSS MB (1 proc)", "runs"]]
    for side, runs in (("ours", ours_runs), ("bm25s", peer_runs)):
        w = median([x["wall_s"] for x in runs])
        rows.append([side, f"{w:.1f}", f"{n / w:.0f}", f"{median([x['cpu_s'] for x in runs]):.1f}",
                     f"{max(x['peak_tree_pss_mb'] for x in runs):.0f}",
                     f"{max(x['max_rss_single_mb'] for x in runs):.0f}", str(len(runs))])
    print(benchlib.table(rows))
    print(f"throughput ours/bm25s: {throughput_ratio:.1f}x (target >= 10x: "
          f"{'met' if result['targets']['throughput_at_least_10x_bm25s'] else 'NOT met'}); "
          f"CPU time bm25s/ours: {result['cpu_ratio_bm25s_over_ours']:.1f}x")
    print(f"our peak memory: {ours_peak:.0f} MB (target < 1536 MB: "
          f"{'met' if result['targets']['peak_memory_under_1.5_GB'] else 'NOT met'})")
    if "wall_s" in ours_index:
        print(f"index build (once): ours {ours_index['wall_s']} s, {ours_index['size_mb']} MB on disk, "
              f"peak {max(ours_index['peak_tree_pss_mb'], ours_index['max_rss_single_mb']):.0f} MB; "
              f"bm25s {peer_build['wall_s']} s, {peer_build['size_mb']} MB")
    print(f"results: {path}")


def fit(points: list[tuple[int, float]]) -> dict | None:
    """Least-squares fit of log t = log a + b log N; b is how cost grows with archive size."""
    pts = [(n, t) for n, t in points if t and t > 0]
    if len(pts) < 2:
        return None
    xs = [math.log(n) for n, _ in pts]
    ys = [math.log(t) for _, t in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = math.exp(my - b * mx)
    return {"exponent": round(b, 3), "a": a, "points": pts}


def scale(args: argparse.Namespace) -> None:
    sizes = sorted(set(args.scale))
    cap = args.mem_cap_gb * 1024
    result: dict = {"benchmark": "suggest index and batch at scale, synthetic archives",
                    "machine": benchlib.machine(), "seed": args.seed, "mem_cap_gb": args.mem_cap_gb, "sizes": {}}
    for n in sizes:
        step: dict = {}
        result["sizes"][str(n)] = step
        say(f"N={n}: synthetic archive")
        t0 = time.perf_counter()
        archive = ensure_synthetic(n, args.seed)
        step["archive"] = {"path": str(archive), "size_mb": round(dir_size_mb(archive), 1),
                           "prepare_s": round(time.perf_counter() - t0, 1)}
        index = WORK / f"synth-{n}.idx"
        if args.reuse_index and (index / "manifest.json").is_file():
            say(f"N={n}: index kept (--reuse-index; rebuilt only if stale)")
            run([SUGGEST, "index", "--archive", archive, "--index", index, "--quiet"])
            manifest = json.loads((index / "manifest.json").read_text())
            step["index"] = {"not_measured": "--reuse-index", "returncode": 0, "wall_s": None,
                             "size_mb": round(dir_size_mb(index), 1), "counts": manifest.get("counts")}
        else:
            say(f"N={n}: index build")
            step["index"] = build_ours(archive, index, cap)
        benchlib.save("scale", result)
        if step["index"]["returncode"]:
            say(f"N={n}: index build failed ({'memory cap' if step['index']['killed_at_mem_cap'] else 'error'})")
            break
        say(f"N={n}: index {step['index']['wall_s']} s; batch")
        out = WORK / f"synth-{n}.out"
        _r, info = batch_ours(archive, index, out, cap, timeout=args.batch_timeout)
        info["checks_per_s"] = round(n / info["wall_s"], 1) if info["returncode"] == 0 else None
        step["batch"] = info
        if not args.keep_output:
            shutil.rmtree(out, ignore_errors=True)
        benchlib.save("scale", result)
        if info["timed_out"]:
            say(f"N={n}: batch stopped after {info['wall_s']} s (--batch-timeout) with "
                f"{info['checks_ranked_before_timeout']} checks ranked ({info['partial_checks_per_s']} checks/s)")
            continue
        if info["returncode"]:
            say(f"N={n}: batch failed ({'memory cap' if info['killed_at_mem_cap'] else 'error'})")
            break
        say(f"N={n}: batch {info['wall_s']} s ({info['checks_per_s']} checks/s)")
    done = {int(n): s for n, s in result["sizes"].items()}
    result["growth"] = {
        "index_build": fit([(n, s["index"]["wall_s"]) for n, s in done.items() if s.get("index", {}).get("wall_s")]),
        "batch": fit([(n, s["batch"]["wall_s"]) for n, s in done.items() if s.get("batch", {}).get("returncode") == 0]),
    }
    ok = [n for n, s in sorted(done.items()) if s.get("batch", {}).get("returncode") == 0]
    if len(ok) >= 2:
        first, last = done[ok[0]]["batch"]["checks_per_s"], done[ok[-1]]["batch"]["checks_per_s"]
        result["throughput_fall"] = {"from": ok[0], "to": ok[-1], "factor": round(first / last, 2),
                                     "within_2x": first / last <= 2}
        first, last = (done[n]["batch"].get("steady_checks_per_s") for n in (ok[0], ok[-1]))
        if first and last:  # without start-up and the end's joining of the results
            result["throughput_fall"]["steady_factor"] = round(first / last, 2)
    path = benchlib.save("scale", result)

    rows = [["checks", "index s", "index peak MB (PSS)", "index MB", "batch s", "checks/s", "batch peak MB (PSS)", "status"]]
    for n, s in sorted(done.items()):
        ix, b = s.get("index", {}), s.get("batch", {})

        def peak(d: dict) -> str:
            if not d or "peak_tree_pss_mb" not in d:
                return "-"
            return f"{max(d['peak_tree_pss_mb'], d['max_rss_single_mb']):.0f} ({d.get('peak_tree_anon_mb', 0):.0f} anon)"

        status = "ok"
        if b.get("timed_out"):
            status = (f"batch stopped at {b['wall_s']} s: {b['checks_ranked_before_timeout']} checks ranked "
                      f"({b['partial_checks_per_s']}/s)")
        elif ix.get("returncode"):
            status = "index killed at memory cap" if ix.get("killed_at_mem_cap") else "index failed"
        elif b.get("returncode"):
            status = "batch killed at memory cap" if b.get("killed_at_mem_cap") else "batch failed"
        rows.append([str(n), f"{ix.get('wall_s', '-')}", peak(ix), f"{ix.get('size_mb', '-')}",
                     f"{b.get('wall_s', '-')}", f"{b.get('checks_per_s') or '-'}", peak(b), status])
    print(benchlib.table(rows))
    for what, g in result["growth"].items():
        if g:
            print(f"{what}: time ~ N^{g['exponent']} (fit over {len(g['points'])} sizes)")
    if "throughput_fall" in result:
        f = result["throughput_fall"]
        print(f"batch throughput falls {f['factor']}x from {f['from']} to {f['to']} checks "
              f"(target within 2x: {'met' if f['within_2x'] else 'NOT met'})")
        if "steady_factor" in f:
            print(f"  steady rate (10% to 90% of the checks done): falls {f['steady_factor']}x")
    for n, s in sorted(done.items()):
        b = s.get("batch", {})
        if "steady_checks_per_s" in b:
            print(f"N={n}: first chunk after {b['first_chunk_s']} s, steady {b['steady_checks_per_s']} checks/s, "
                  f"{b['after_last_chunk_s']} s after the last chunk")
    print(f"results: {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds on the real archive")
    ap.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    ap.add_argument("--scale", type=int, nargs="+", metavar="N", help="synthetic archive sizes instead")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mem-cap-gb", type=float, default=18.0,
                    help="kill a run whose process tree passes this (the machine has 24 GiB)")
    ap.add_argument("--keep-output", action="store_true", help="keep the synthetic batch outputs")
    ap.add_argument("--batch-timeout", type=float, default=None, metavar="S",
                    help="scale mode: stop a batch after S seconds and report the checks it ranked")
    ap.add_argument("--reuse-index", action="store_true",
                    help="keep a fresh saved index instead of timing a rebuild")
    args = ap.parse_args()
    require_batch()
    if args.scale:
        scale(args)
    else:
        politifact(args)


if __name__ == "__main__":
    main()
