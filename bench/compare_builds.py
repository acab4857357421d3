"""One index build of an archive by an earlier commit's code and by the working tree's, back to
back: wall time, CPU time and peak memory of each.

    python bench/compare_builds.py REV [--archive bench/scratch/synth-100000] [--sides now] [--no-cache] [--mem-cap-gb G]

The earlier code is ``git archive REV suggest`` unpacked under bench/scratch/ and put first on
PYTHONPATH; both run ``python -P -m suggest index --force`` (words only) into their own index
folder. ``-P``: without it, ``-m`` puts the current folder first on the path, and a run from
the repository would import the working tree's code on both sides; each side's result names
the ``suggest`` package it imported. Make the archive first (``python bench/make_archive.py synthetic --n 100000``).
``--sides now`` builds with the working tree's code only; ``--no-cache`` adds ``--no-cache`` to
the working tree's build (no cache of counts on disk: at a million checks it may not fit).
Results: bench/results/compare-builds-*.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402
from benchlib import PYTHON, WORK, run  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", help="the earlier commit")
    ap.add_argument("--archive", type=Path, default=WORK / "synth-100000")
    ap.add_argument("--sides", nargs="+", choices=("before", "now"), default=["before", "now"])
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--mem-cap-gb", type=float, default=None, help="stop a build whose anonymous memory passes this")
    args = ap.parse_args()
    if not args.archive.exists():
        sys.exit(f"error: {args.archive}: no such archive; make it with bench/make_archive.py")
    old = WORK / f"code-{args.rev}"
    if not (old / "suggest").is_dir():
        old.mkdir(parents=True, exist_ok=True)
        subprocess.run(f"git -C {REPO} archive {args.rev} suggest | tar -x -C {old}", shell=True, check=True)
    result: dict = {"archive": str(args.archive), "machine": benchlib.machine(), "before": args.rev,
                    "no_cache": args.no_cache}
    for side in args.sides:
        env = {**os.environ, "SUGGEST_SEMANTIC": "0"}
        if side == "before":
            env["PYTHONPATH"] = str(old)
        index = WORK / f"compare-{side}.idx"
        code = subprocess.run([PYTHON, "-P", "-c", "import suggest; print(suggest.__file__)"], env=env,
                              capture_output=True, text=True, check=True).stdout.strip()
        cmd = [PYTHON, "-P", "-m", "suggest", "index", "--archive", str(args.archive), "--index", str(index), "--force", "-q"]
        if args.no_cache and side == "now":
            cmd.append("--no-cache")
        cap = args.mem_cap_gb * 1024 if args.mem_cap_gb else None
        r = run(cmd, sample=1.0, env=env, mem_cap_mb=cap, check=cap is None)
        result[side] = {"code": code, "wall_s": round(r.wall, 1), "cpu_s": round(r.cpu_s, 1),
                        "peak_tree_pss_mb": round(r.peak_tree_pss_mb), "peak_tree_anon_mb": round(r.peak_tree_anon_mb),
                        "killed_at_cap": r.killed_at_cap, "returncode": r.returncode, "stderr_tail": r.stderr[-500:]}
        print(side, result[side], flush=True)
    print(f"results: {benchlib.save('compare-builds', result)}")


if __name__ == "__main__":
    main()
