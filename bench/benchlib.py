"""Shared helpers of the benchmarks: running a command under measurement, machine facts, results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
WORK = BENCH / "scratch"
VENV = Path(os.environ.get("SUGGEST_VENV", str(REPO / ".venv")))
SUGGEST = str(VENV / "bin" / "suggest")
PYTHON = str(VENV / "bin" / "python")


@dataclass
class Run:
    """One measured process: wall seconds, exit code and memory."""

    cmd: list[str]
    wall: float
    returncode: int
    max_rss_mb: float  # largest single process (getrusage of the waited child and its children)
    peak_tree_rss_mb: float  # peak of the summed RSS of the whole process tree (sampled)
    peak_tree_pss_mb: float  # same with PSS (shared pages split between processes), sampled
    stdout: str
    stderr: str
    cpu_s: float = 0.0  # user + system CPU seconds of the process and the children it waited for
    killed_at_cap: bool = False  # stopped by us: the tree's memory passed ``mem_cap_mb``
    timed_out: bool = False  # stopped by us: it ran longer than ``timeout``
    load_before: float = 0.0  # 1-minute load average when the run started (other work on the machine)
    # Peak of the tree's summed anonymous and shared memory (RssAnon + RssShmem), sampled: what
    # the machine cannot drop. RSS and PSS also count the pages of memory-mapped files (an
    # index's matrices), which the kernel reclaims under pressure; the memory cap applies here.
    peak_tree_anon_mb: float = 0.0
    # Time the sampler spent in its PSS/RSS walks (`_tree_memory`) and how many it made. Each walk
    # reads every mapping's pages; with a 17 GB index mapped it took a good part of a second, and
    # every half second that was a quarter of a core taken from the measured run, so walks are
    # spaced to cost about 2% of one core (the cheap anonymous-memory check keeps its interval).
    sampler_s: float = 0.0
    pss_samples: int = 0

    def summary(self) -> dict:
        d = asdict(self)
        d["stdout"] = self.stdout[-2000:]
        d["stderr"] = self.stderr[-4000:]
        return d


def _anon_kb(pid: int) -> float:
    """RssAnon + RssShmem of one process (kB), from /proc/PID/status; 0 when gone."""
    total = 0.0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssShmem:")):
                    total += float(line.split()[1])
    except OSError:
        return 0.0
    return total


def _tree_anon(pid: int) -> float:
    """Summed anonymous + shared memory of ``pid`` and its children, MB (cheap: /proc status)."""
    import psutil

    try:
        root = psutil.Process(pid)
        pids = [pid, *(c.pid for c in root.children(recursive=True))]
    except psutil.Error:
        return 0.0
    return sum(_anon_kb(p) for p in pids) / 1024


SAMPLER_SHARE = 0.02
"""The share of one core the PSS/RSS walks may take (see `Run.sampler_s`)."""


def _tree_memory(pid: int) -> tuple[float, float, float]:
    """Summed (RSS, PSS, anonymous + shared) memory of ``pid`` and its children, MB."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0, 0.0
    rss = pss = anon = 0.0
    for p in procs:
        try:
            info = p.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        anon += _anon_kb(p.pid) * 1024
    return rss / 2**20, pss / 2**20, anon / 2**20


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass


def _oom_first() -> None:
    # If memory runs out anyway, the kernel should kill the benchmarked process, not a bystander.
    try:
        Path("/proc/self/oom_score_adj").write_text("1000")
    except OSError:
        pass


def run(cmd: list[str], *, sample: float | None = None, env: dict | None = None,
        cwd: Path | None = None, check: bool = True, mem_cap_mb: float | None = None,
        timeout: float | None = None) -> Run:
    """Run ``cmd`` to the end; wall time from spawn to exit.

    ``sample`` (seconds) turns on sampling of the process tree's memory in a thread; leave it off
    for short timed runs (on two cores the sampler would steal time from the measured process).
    ``mem_cap_mb`` (needs ``sample``): kill the tree when its summed anonymous memory passes it
    (not RSS: pages of memory-mapped files count there but are the kernel's to drop; an index
    build at a million checks maps about 11 GB), so a run too big for the machine fails alone
    instead of starving everything else. ``timeout`` (needs
    ``sample``): kill the tree after that many seconds.
    """
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             env=env, cwd=cwd, preexec_fn=_oom_first)
        peak = [0.0, 0.0, 0.0]
        killed = [False]
        late = [False]
        walks = [0.0, 0]  # seconds spent in PSS/RSS walks, their number
        stop = threading.Event()

        def sampler() -> None:
            next_walk = 0.0
            while not stop.is_set():
                now = time.perf_counter()
                if now >= next_walk:
                    rss, pss, anon = _tree_memory(p.pid)
                    cost = time.perf_counter() - now
                    walks[0] += cost
                    walks[1] += 1
                    next_walk = now + cost / SAMPLER_SHARE
                    peak[0] = max(peak[0], rss)
                    peak[1] = max(peak[1], pss)
                else:
                    anon = _tree_anon(p.pid)
                peak[2] = max(peak[2], anon)
                if mem_cap_mb and anon > mem_cap_mb and not killed[0]:
                    killed[0] = True
                    _kill_tree(p.pid)
                if timeout and time.perf_counter() - t0 > timeout and not late[0]:
                    late[0] = True
                    _kill_tree(p.pid)
                stop.wait(sample)

        th = None
        if sample:
            th = threading.Thread(target=sampler, daemon=True)
            th.start()
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        stop.set()
        if th:
            th.join()
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        r = Run(cmd=[str(c) for c in cmd], wall=wall, returncode=p.returncode,
                max_rss_mb=usage.ru_maxrss / 1024, peak_tree_rss_mb=peak[0], peak_tree_pss_mb=peak[1],
                stdout=out.read().decode("utf-8", "replace"), stderr=err.read().decode("utf-8", "replace"),
                cpu_s=usage.ru_utime + usage.ru_stime, killed_at_cap=killed[0], timed_out=late[0],
                load_before=load, peak_tree_anon_mb=peak[2], sampler_s=walks[0], pss_samples=walks[1])
    if check and r.returncode != 0:
        sys.exit(f"error: {' '.join(r.cmd)} exited {r.returncode}:\n{r.stderr[-3000:]}")
    return r


def machine() -> dict:
    """Facts about where the figures were measured."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "suggest"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "commit": commit + ("+uncommitted changes in suggest/" if dirty else ""),
    }


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def save(name: str, result: dict) -> Path:
    """Write ``result`` to bench/results/NAME-<timestamp>.json and NAME-latest.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    # Paths inside the repository are written relative to it: a result names no machine's folders.
    text = json.dumps(result, indent=1, sort_keys=False).replace(f"{REPO}/", "") + "\n"
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(text)
    (RESULTS / f"{name}-latest.json").write_text(text)
    return path


def dir_size_mb(path: Path) -> float:
    path = Path(path).resolve()
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += (Path(dirpath) / f).stat().st_size
            except OSError:
                pass
    return total / 1e6


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
