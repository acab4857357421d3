"""Load test of `suggest serve` on 127.0.0.1, beside `suggest for` on the command line.

    python bench/bench_serve.py [--clients 8] [--requests 2000] [--queries 20] [--cli-runs 5]
                                [--archive PATH] [--no-semantic] [--while-report]

Starts `suggest serve` on a free port of 127.0.0.1 (only there) on the archive (default: the
19,250 PolitiFact checks, `make_archive.py politifact`; its index built first, untimed), waits
until it answers, then sends ``--requests`` POST /api/suggest requests from ``--clients``
threads (one HTTP connection each), each a debate sentence of the CheckThat! 2021 2B dev split
as the draft, in turn. Reports p50, p95 and max latency, errors (any answer but 200, or a
failed request; goal 0) and requests per second, and the median wall time of ``--cli-runs``
`suggest for` runs on the same sentences (a fresh process each, as an editor's terminal would
run it), as requests per second for comparison. Results: bench/results/serve-*.json.

With ``--while-report``, instead of the load: from start-up, while ``/report`` is made in the
background, one client sends the drafts one at a time (and asks for ``/report`` every 2 s)
until the report is ready; reports the drafts' p50, p95 and max latency and how many took over
2 s. Results: bench/results/serve-while-report-*.json.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402
from bench_for import pick_queries, write_queries  # noqa: E402
from benchlib import SUGGEST, median, run  # noqa: E402
from make_archive import DEFAULT_ARCHIVE, ensure_politifact  # noqa: E402

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def percentile(xs: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``xs``."""
    if not xs:
        return float("nan")
    ordered = sorted(xs)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def wait_ready(base: str, proc: subprocess.Popen, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"suggest serve exited with {proc.returncode} before answering")
        try:
            if httpx.get(base + "/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"suggest serve did not answer within {timeout:.0f} s")


def load(base: str, texts: list[str], clients: int, requests: int) -> dict:
    """``requests`` POST /api/suggest from ``clients`` threads; latencies and errors."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def client() -> None:
        with httpx.Client(base_url=base, timeout=120) as http:
            while True:
                with lock:
                    k = next(counter, None)
                if k is None:
                    return
                body = {"text": texts[k % len(texts)], "top": 5}
                t0 = time.perf_counter()
                try:
                    r = http.post("/api/suggest", json=body)
                    bad = None if r.status_code == 200 else f"{r.status_code} {r.text[:120]}"
                except httpx.HTTPError as exc:
                    bad = f"{type(exc).__name__}: {exc}"
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    if bad:
                        errors.append(bad)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {
        "requests": len(latencies),
        "clients": clients,
        "wall_s": round(wall, 3),
        "requests_per_s": round(len(latencies) / wall, 2),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "errors": len(errors),
        "first_errors": errors[:5],
    }


def while_report(base: str, texts: list[str], poll_s: float = 2.0, timeout: float = 1800) -> dict:
    """From start-up until ``/report`` is made: one client sends the drafts in turn, one at a
    time, and asks for ``/report`` every ``poll_s`` seconds (202 while it is being made).
    Latencies of the drafts, and when the report was ready."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    t_start = time.perf_counter()
    ready = None
    polled = 0.0
    with httpx.Client(base_url=base, timeout=600) as http:
        k = 0
        while time.perf_counter() - t_start < timeout:
            now = time.perf_counter()
            if now - polled >= poll_s:
                polled = now
                status = http.get("/report").status_code
                if status == 200:
                    ready = now - t_start
                    break
                if status != 202:
                    errors.append(f"/report {status}")
            t0 = time.perf_counter()
            r = http.post("/api/suggest", json={"text": texts[k % len(texts)], "top": 5})
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors.append(f"{r.status_code} {r.text[:120]}")
            k += 1
    return {
        "drafts": len(latencies),
        "report_ready_s": round(ready, 1) if ready is not None else None,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "over_2s": sum(x > 2 for x in latencies),
        "errors": len(errors),
        "first_errors": errors[:5],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=20, help="distinct drafts, sent in turn")
    ap.add_argument("--cli-runs", type=int, default=5, help="timed `suggest for` runs")
    ap.add_argument("--archive", type=Path, default=None, help="default: the PolitiFact archive")
    ap.add_argument("--index", type=Path, default=None, help="an index folder to use (default: beside the archive)")
    ap.add_argument("--no-semantic", action="store_true", help="words only (SUGGEST_SEMANTIC=0)")
    ap.add_argument(
        "--while-report",
        action="store_true",
        help="instead of the load: one client's drafts from start-up until /report is made",
    )
    args = ap.parse_args()

    archive = args.archive or ensure_politifact(DEFAULT_ARCHIVE)
    env = dict(os.environ)
    if args.no_semantic:
        env["SUGGEST_SEMANTIC"] = "0"
    where = ["--archive", str(archive), *(["--index", str(args.index)] if args.index else [])]
    run([SUGGEST, "index", *where, "--quiet"], env=env)  # untimed
    texts = [text for _, text in pick_queries(args.queries)]
    files = [path for _, path in write_queries(args.queries, "serve")]

    cli = [run([SUGGEST, "for", str(files[k % len(files)]), *where, "-q"], env=env, check=False).wall
           for k in range(0 if args.while_report else args.cli_runs)]  # fmt: skip

    port = free_port()
    base = f"http://{HOST}:{port}"
    proc = subprocess.Popen(
        [SUGGEST, "serve", *where, "--host", HOST, "--port", str(port), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        t0 = time.perf_counter()
        wait_ready(base, proc, timeout=600)
        startup = time.perf_counter() - t0
        if args.while_report:
            result = while_report(base, texts)
            result.update(mode="while-report", server_startup_s=round(startup, 2), machine=benchlib.machine())
            path = benchlib.save("serve-while-report", result)
            print(
                f"while /report was made (ready at {result['report_ready_s']} s): {result['drafts']} drafts, "
                f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, max {result['max_ms']} ms, "
                f"{result['over_2s']} over 2 s, {result['errors']} errors -> {path}"
            )
            return
        load(base, texts, 1, min(len(texts), 10))  # warm-up
        result = load(base, texts, args.clients, args.requests)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    cli_median = median(cli)
    result.update(
        archive=str(archive),
        semantic=not args.no_semantic,
        server_startup_s=round(startup, 2),
        cli_for_median_s=round(cli_median, 3),
        cli_for_per_s=round(1 / cli_median, 2) if cli_median else None,
        machine=benchlib.machine(),
    )
    path = benchlib.save("serve", result)
    print(
        f"serve: {result['requests']} requests, {result['clients']} clients: p50 {result['p50_ms']} ms, "
        f"p95 {result['p95_ms']} ms, {result['requests_per_s']} req/s, {result['errors']} errors; "
        f"suggest for: median {cli_median:.3f} s ({result['cli_for_per_s']} per s) -> {path}"
    )
    if result["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
