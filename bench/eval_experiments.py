"""Tuning experiments on the CheckThat! train splits (dev is never used to choose; it is only
reported for the final settings, with --split dev --only final).

Each experiment is a preset of `suggest.evaluate.PRESETS` plus ``KEY=VALUE`` settings (the same
strings `suggest eval --set` takes), optionally with a prototype that needs code outside
suggest/index.py and suggest/rank.py: pseudo-relevance feedback (``prf``), reciprocal rank
fusion of several views (``views``), bm25s with our date prior (``bm25s-date``, a reference).
The character view and the date prior are in the library (`IndexConfig.char_weight`,
`RankOptions.date_weight`); session 1's records of the experiments that led to them (under
names no longer in the list, e.g. "tuned", "tuned-words") stay in the JSONL file.

Run:  /work/venv/bin/python bench/eval_experiments.py [--data ../shared/data/checkthat]
      [--task 2a|2b|both] [--split train] [--only SUBSTRING,...] [--out FILE.jsonl]

Prints one line per experiment and appends the figures (with the settings) to the JSONL file;
docs/evaluation.md is written from that file.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from suggest.evaluate import (
    CheckThat,
    Run,
    Settings,
    metrics,
    peer_text,
    query_articles,
    rank_bm25s,
    rank_suggest,
    settings,
)
from suggest.index import Index
from suggest.rank import article_from_check
from suggest.records import Check
from suggest.signals import date_prior

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"2a": "2021-2a-en", "2b": "2021-2b-en"}


@dataclass
class Experiment:
    name: str
    pairs: tuple[str, ...] = ()
    preset: str = "default"
    proto: str | None = None
    args: dict = field(default_factory=dict)

    def how(self) -> Settings:
        return settings(self.pairs, self.preset)


# -- prototypes ---------------------------------------------------------------------------------
def rrf(runs: list[Run], k: float = 60.0, depth: int = 20, weights: list[float] | None = None) -> Run:
    """Reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d)); ties by id."""
    weights = weights or [1.0] * len(runs)
    out: Run = {}
    for q in runs[0]:
        acc: dict[str, float] = {}
        for w, run in zip(weights, runs, strict=True):
            for rank, (d, _) in enumerate(run.get(q, []), 1):
                acc[d] = acc.get(d, 0.0) + w / (k + rank)
        out[q] = sorted(acc.items(), key=lambda x: (-x[1], x[0]))[:depth]
    return out


def proto_views(data: CheckThat, e: Experiment, arts: list[Check]) -> Run:
    """RRF of suggest rankings, one per view (the experiment's settings plus the view's pairs)."""
    runs = []
    for view in e.args["views"]:
        how = settings((*e.pairs, *view), e.preset)
        runs.append(rank_suggest(data.index(how.config), arts, how.opts))
    return rrf(runs, k=e.args.get("k", 60.0))


def proto_prf(data: CheckThat, e: Experiment, arts: list[Check]) -> Run:
    """Rocchio pseudo-relevance feedback: q' = q + beta * mean of the k best check vectors of a
    first pass, unit length; then the same `score_rows`/`select` as `rank_suggest`."""
    how = e.how()
    ix = data.index(how.config)
    k, beta = e.args.get("k", 3), e.args.get("beta", 0.5)
    parsed = [article_from_check(ix, a) for a in arts]
    vectors = sp.vstack([p.vector for p in parsed], format="csr")
    first = np.asarray((ix.checks_matrix @ vectors.T).T.todense())
    top = np.argsort(-first, axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(len(arts)), k)
    fb = sp.csr_matrix((np.full(rows.size, 1.0 / k), (rows, top.ravel())), shape=(len(arts), ix.checks_matrix.shape[0]))
    expanded = sp.csr_matrix(vectors + beta * (fb @ ix.checks_matrix))
    norms = np.sqrt(np.asarray(expanded.multiply(expanded).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    expanded = sp.csr_matrix(sp.diags(1.0 / norms) @ expanded)
    for r, p in enumerate(parsed):
        p.vector = expanded[r]
    return _rank_vectors(ix, arts, parsed, how)


def _rank_vectors(ix: Index, arts: list[Check], parsed: list, how: Settings, depth: int = 20) -> Run:
    """`rank_suggest` for articles with rewritten vectors (the PRF prototype)."""
    return rank_suggest(ix, arts, how.opts, depth, vectors=parsed)


def proto_bm25s(data: CheckThat, e: Experiment, arts: list[Check]) -> Run:
    return rank_bm25s(data.checks, arts)


def proto_bm25s_date(data: CheckThat, e: Experiment, arts: list[Check]) -> Run:
    """Reference for the date prior: bm25s scores over all checks times the same date factor
    as ours, ``1 + w * date_prior``."""
    import bm25s
    import Stemmer

    checks = data.checks
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    texts = [peer_text(c) for c in checks]
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    tokens = bm25s.tokenize(
        [a.title for a in arts], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
    )
    days = np.array([date.fromisoformat(c.checked_on).toordinal() if c.checked_on else -1 for c in checks])
    qdays = np.array([date.fromisoformat(a.checked_on).toordinal() if a.checked_on else -1 for a in arts])
    w = e.args["weight"]
    run: Run = {}
    for start in range(0, len(arts), 256):
        chunk = arts[start : start + 256]
        raw = np.vstack([retriever.get_scores(t) for t in tokens[start : start + 256]])
        fused = raw * (1 + w * date_prior(qdays[start : start + 256], days, e.args.get("scale", 30.0)))
        for r, a in enumerate(chunk):
            top = np.argsort(-fused[r], kind="stable")[:20]
            run[a.id] = [(checks[i].id, float(fused[r, i])) for i in top if raw[r, i] > 0]
    return run


PROTOTYPES: dict[str, Callable[[CheckThat, Experiment, list[Check]], Run]] = {
    "views": proto_views,
    "prf": proto_prf,
    "bm25s": proto_bm25s,
    "bm25s-date": proto_bm25s_date,
}


# -- the experiments ----------------------------------------------------------------------------
RAW = ("clean=none",)


def experiments() -> list[Experiment]:
    """Session 2: the default of `suggest for` (word view with title 0.5 / body 3 weights,
    character view, date prior; the evaluation's list rules off) and one change at a time."""
    E = Experiment
    out = [
        E("peer: bm25s, raw query", RAW, proto="bm25s"),
        E("peer: bm25s, cleaned query", proto="bm25s"),
        E("default, raw query", RAW),
        E("default (cleaned query)"),
        E("as shipped (list rules on: merge, MMR 0.7, floor 0.1)", preset="as-shipped"),
        E("session-1 defaults (title 2, body 1, words only)", preset="session-1"),
        E("words only (no char view, no dates)", preset="words-only"),
        E("no dates", preset="no-dates"),
    ]
    for pairs in (
        ("char_weight=0",),
        ("char_weight=0.5",),
        ("char_weight=3",),
        ("char=3-5",),
        ("char_chars=1000",),
        ("char_chars=5000",),
        ("date_weight=0.2",),
        ("date_weight=0.5",),
        ("date_weight=2",),
        ("date_scale=7",),
        ("date_scale=90",),
        ("title_weight=0.25",),
        ("title_weight=1",),
        ("title_weight=2",),
        ("body_weight=1",),
        ("body_weight=5",),
        ("ngram_max=1",),
        ("ngram_max=3",),
        ("sublinear_tf=false",),
    ):
        out.append(E(f"default + {', '.join(pairs)}", pairs))
    out += [
        E("default + PRF k=1 beta=0.3", proto="prf", args={"k": 1, "beta": 0.3}),
        E("RRF of views: default, ngram_max=1", proto="views", args={"views": [(), ("ngram_max=1",)]}),
        E("peer: bm25s x date prior weight 1 (reference)", proto="bm25s-date", args={"weight": 1.0}),
    ]
    return out


def table(path: Path, split: str = "train", metric: str = "map@5") -> str:
    """A markdown table (experiment x task) of ``metric`` from the JSONL file; the last record
    of each (task, split, experiment) wins, experiments in list order."""
    got: dict[tuple[str, str], float] = {}
    for line in path.read_text("utf-8").splitlines():
        r = json.loads(line)
        if r["split"] == split:
            got[(r["name"], r["task"])] = r["figures"][metric]
    names = [e.name for e in experiments()]
    out = [f"| setting ({split}, {metric}) | 2A | 2B |", "| --- | --- | --- |"]
    for n in names:
        cells = [f"{got[(n, t)]:.4f}" if (n, t) in got else "" for t in ("2a", "2b")]
        if any(cells):
            out.append(f"| {n} | {cells[0]} | {cells[1]} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "checkthat")
    ap.add_argument("--task", default="both", choices=["2a", "2b", "both"])
    ap.add_argument("--split", default="train")
    ap.add_argument("--only", default="", help="comma-separated substrings of experiment names")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "eval_experiments.jsonl")
    ap.add_argument("--table", action="store_true", help="print the markdown table of --out for --split and exit")
    args = ap.parse_args(argv)
    if args.table:
        print(table(args.out, args.split), end="")
        return 0
    if args.split != "train":
        print(f"note: split {args.split}: report only; settings are chosen on train", file=sys.stderr)
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    chosen = [e for e in experiments() if not wanted or any(w in e.name for w in wanted)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for task in ["2a", "2b"] if args.task == "both" else [args.task]:
        data = CheckThat(args.data / TASKS[task])
        split = data.split(args.split)
        print(f"== {task} {args.split}: {len(split.queries)} queries, {len(data.checks)} checks", flush=True)
        for e in chosen:
            how = e.how()
            t = time.perf_counter()
            arts = query_articles(split, how.cleaning)
            if e.proto:
                run = PROTOTYPES[e.proto](data, e, arts)
            else:
                ix = data.index(how.config)
                run = rank_suggest(ix, arts, how.opts)
            sec = time.perf_counter() - t
            m = metrics(run, split.qrels)
            print(
                f"{e.name:<58} map@5 {m['map@5']:.4f}  map@1 {m['map@1']:.4f}  mrr {m['mrr']:.4f}  "
                f"p@1 {m['p@1']:.4f}  r@5 {m['recall@5']:.4f}  {sec:6.1f}s",
                flush=True,
            )
            record = {
                "task": task,
                "split": args.split,
                "name": e.name,
                "preset": e.preset,
                "pairs": list(e.pairs),
                "proto": e.proto,
                "args": e.args,
                "figures": m,
                "seconds": round(sec, 1),
                "settings": {
                    "config": asdict(how.config),
                    "opts": asdict(how.opts),
                    "cleaning": asdict(how.cleaning),
                },
                "python": platform.python_version(),
            }
            with args.out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            data.forget(keep=how.config)  # a 2B index with bigrams takes over 2 GB
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
