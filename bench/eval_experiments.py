"""Tuning experiments on the CheckThat! train splits (dev is never used to choose; it is only
reported for the final settings, with --split dev --only final).

Each experiment is a preset of `suggest.evaluate.PRESETS` plus ``KEY=VALUE`` settings (the same
strings `suggest eval --set` takes), optionally with a prototype that needs code outside
suggest/index.py and suggest/rank.py: pseudo-relevance feedback (``prf``), reciprocal rank
fusion of several word views (``views``) or of the word ranking and a character n-gram ranking
(``char-rrf``). The character view fused into the check score is in the library
(`suggest.evaluate.CharView`, ``char=2-4``).

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
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from suggest.archive import Check
from suggest.evaluate import (
    CharView,
    CheckThat,
    Run,
    Settings,
    build_char_view,
    date_prior,
    metrics,
    peer_text,
    query_articles,
    rank_bm25s,
    rank_suggest,
    settings,
)
from suggest.index import Index
from suggest.rank import article_from_check, score_rows, select

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


def proto_char_rrf(data: CheckThat, e: Experiment, arts: list[Check]) -> Run:
    """RRF of the word ranking and a ranking by the character view's cosine alone."""
    how = e.how()
    ix = data.index(how.config)
    view = CharView(*e.args.get("ngram", (2, 4)))
    char = build_char_view(ix, data.checks, view)
    sims = char.sims([a.title for a in arts])
    char_run: Run = {}
    for r, a in enumerate(arts):
        top = np.argsort(-sims[r], kind="stable")[:20]
        char_run[a.id] = [(ix.check_ids[i], float(sims[r, i])) for i in top if sims[r, i] > 0]
    if e.args.get("alone"):
        return char_run
    return rrf([rank_suggest(ix, arts, how.opts), char_run], k=e.args.get("k", 60.0))


def proto_prf(data: CheckThat, e: Experiment, arts: list[Check]) -> Run:
    """Rocchio pseudo-relevance feedback: q' = q + beta * mean of the k best check vectors of a
    first pass, unit length; then the same `score_rows`/`select` as `rank_suggest`."""
    how = e.how()
    ix = data.index(how.config)
    k, beta = e.args.get("k", 3), e.args.get("beta", 0.5)
    vectors = sp.vstack([article_from_check(ix, a).vector for a in arts], format="csr")
    first = np.asarray((ix.checks_matrix @ vectors.T).T.todense())
    top = np.argsort(-first, axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(len(arts)), k)
    fb = sp.csr_matrix((np.full(rows.size, 1.0 / k), (rows, top.ravel())), shape=(len(arts), ix.checks_matrix.shape[0]))
    expanded = sp.csr_matrix(vectors + beta * (fb @ ix.checks_matrix))
    norms = np.sqrt(np.asarray(expanded.multiply(expanded).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    expanded = sp.csr_matrix(sp.diags(1.0 / norms) @ expanded)
    return _rank_vectors(ix, arts, expanded, how)


def _rank_vectors(ix: Index, arts: list[Check], vectors: sp.csr_matrix, how: Settings, depth: int = 20) -> Run:
    """`rank_suggest`'s selection for rewritten query vectors (the PRF prototype)."""
    opts = how.opts
    deep = replace(opts, top=depth, candidates=max(opts.candidates, depth))
    allowed = np.ones(ix.pool_matrix.shape[0], dtype=bool)
    row_of = {cid: i for i, cid in enumerate(ix.check_ids)}
    members = [[row_of[c] for c in rec["answered_by"]] for rec in ix.pool_records]
    run: Run = {}
    for start in range(0, len(arts), 256):
        v = vectors[start : start + 256]
        score, _, _, cs = score_rows(ix, v, opts)
        for r in range(v.shape[0]):
            items = select(ix, score[r], allowed, opts, cs[r])
            items += [i for i in select(ix, score[r], allowed, deep, cs[r]) if i not in items]
            ranked = [
                (ix.check_ids[ci], float(score[r, it]))
                for it in items
                for ci in sorted(members[it], key=lambda c: (-cs[r, c], c))
            ]
            run[arts[start + r].id] = ranked[:depth]
    return run


def proto_bm25s(data: CheckThat, e: Experiment, arts: list[Check]) -> Run:
    return rank_bm25s(data.checks, arts)


def proto_bm25s_date(data: CheckThat, e: Experiment, arts: list[Check]) -> Run:
    """Reference for the date prior: bm25s scores over all checks, divided by the query's best
    score, fused with the same `date_prior` as ours: (bm25 + w * prior) / (1 + w)."""
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
    w = e.args["weight"]
    run: Run = {}
    for start in range(0, len(arts), 256):
        chunk = arts[start : start + 256]
        raw = np.vstack([retriever.get_scores(t) for t in tokens[start : start + 256]])
        scores = raw / np.maximum(raw.max(axis=1, keepdims=True), 1e-12)
        fused = (scores + w * date_prior([a.checked_on for a in chunk], days, e.args.get("scale", 30.0))) / (1 + w)
        for r, a in enumerate(chunk):
            top = np.argsort(-fused[r], kind="stable")[:20]
            run[a.id] = [(checks[i].id, float(fused[r, i])) for i in top if raw[r, i] > 0]
    return run


PROTOTYPES: dict[str, Callable[[CheckThat, Experiment, list[Check]], Run]] = {
    "views": proto_views,
    "char-rrf": proto_char_rrf,
    "prf": proto_prf,
    "bm25s": proto_bm25s,
    "bm25s-date": proto_bm25s_date,
}


# -- the experiments ----------------------------------------------------------------------------
RAW = ("clean=none",)
S1 = ("dup_threshold=1", "question_weight=0", "mmr_lambda=1", "min_score=0")
TW = "tuned-words"


def experiments() -> list[Experiment]:
    E = Experiment
    out = [
        E("peer: bm25s, raw query", RAW, proto="bm25s"),
        E("peer: bm25s, cleaned query", proto="bm25s"),
        E("default, raw query", RAW),
        E("default (cleaned query)"),
    ]
    for pair in (
        "mmr_lambda=1",
        "question_weight=0",
        "question_weight=0.25",
        "min_score=0",
        "dup_threshold=1",
        "ngram_max=1",
        "sublinear_tf=false",
        "title_weight=0.5",
        "body_weight=3",
    ):
        out.append(E(f"default + {pair}", (pair,)))
    out += [
        E("S1 = default + dup=1, qw=0, mmr=1, min_score=0", S1),
        E("S1 + ngram_max=1", (*S1, "ngram_max=1")),
        E("S1 + title_weight=0.5", (*S1, "title_weight=0.5")),
        E("S1 + title_weight=0.5, body_weight=3 (= tuned-words)", (*S1, "title_weight=0.5", "body_weight=3")),
    ]
    for pairs in (
        ("ngram_max=1",),
        ("ngram_max=3",),
        ("title_weight=0.25",),
        ("title_weight=1",),
        ("body_weight=2",),
        ("body_weight=5",),
        ("summary_weight=2",),
        ("sublinear_tf=false",),
        ("mmr_lambda=0.7",),
        ("max_per_source=1",),
        ("dup_threshold=0.45",),
        ("dup_threshold=0.8",),
        ("question_weight=0.1",),
        ("question_weight=0.25",),
        ("min_score=0.05",),
    ):
        out.append(E(f"tuned-words + {', '.join(pairs)}", pairs, TW))
    for label, pairs in [
        ("none", RAW),
        ("urls only", ("tail=false", "handles=keep", "hashtags=keep")),
        ("urls + tail, name dropped", ("tail_name=false", "handles=keep", "hashtags=keep")),
        ("urls + tail, name kept", ("handles=keep", "hashtags=keep")),
        ("all, handles dropped", ("handles=drop",)),
        ("all, hashtags kept", ("hashtags=keep",)),
        ("all, hashtags dropped", ("hashtags=drop",)),
        ("all but the tail", ("tail=false",)),
    ]:
        out.append(E(f"tuned-words, cleaning: {label}", pairs, TW))
    out += [
        E("tuned-words + PRF k=3 beta=0.5", (), TW, "prf", {"k": 3, "beta": 0.5}),
        E("tuned-words + PRF k=1 beta=0.3", (), TW, "prf", {"k": 1, "beta": 0.3}),
        E("tuned-words + PRF k=5 beta=0.2", (), TW, "prf", {"k": 5, "beta": 0.2}),
        E("RRF of views: tuned-words, ngram_max=1", (), TW, "views", {"views": [(), ("ngram_max=1",)]}),
        E(
            "RRF of views: title-only, summary+body",
            (),
            TW,
            "views",
            {"views": [("summary_weight=0", "body_weight=0"), ("title_weight=0.0001",)]},
        ),
        E("char 2-4 view alone", (), TW, "char-rrf", {"alone": True}),
        E("RRF: tuned-words + char 2-4", (), TW, "char-rrf"),
    ]
    for pairs in (
        ("char_weight=0.5",),
        ("char_weight=1",),
        ("char_weight=2",),
        ("char_weight=3",),
        ("char=3-5",),
        ("char_chars=1000",),
        ("char_chars=5000",),
        ("ngram_max=1",),
        ("question_weight=0.1",),
        ("body_weight=5",),
    ):
        out.append(E(f"tuned + {', '.join(pairs)}", pairs, "tuned"))
    for pairs in (
        ("date_weight=0.1",),
        ("date_weight=0.2",),
        ("date_weight=0.4",),
        ("date_weight=0.2", "date_scale=7"),
        ("date_weight=0.2", "date_scale=90"),
    ):
        out.append(E(f"tuned + {', '.join(pairs)}", pairs, "tuned"))
    out.append(E("tuned-words + date_weight=0.2", ("date_weight=0.2",), TW))
    for w in (0.1, 0.2, 0.4):
        out.append(E(f"peer: bm25s + date prior weight {w} (reference)", (), proto="bm25s-date", args={"weight": w}))
    out.append(E("final: tuned+dates", (), "tuned+dates"))
    out.append(E("final: tuned (char 2-4 weight 1.5 fused)", (), "tuned"))
    out.append(E("final: tuned-words", (), TW))
    out.append(E("final: default", ()))
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
                char = data.char_index(ix, how.char) if how.char else None
                run = rank_suggest(
                    ix, arts, how.opts, char=char, date_weight=how.date_weight, date_scale=how.date_scale
                )
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
                    "char": asdict(how.char) if how.char else None,
                    "date_weight": how.date_weight,
                    "date_scale": how.date_scale,
                },
                "python": platform.python_version(),
            }
            with args.out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            data.forget(keep=how.config)  # a 2B index with bigrams takes over 2 GB
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
