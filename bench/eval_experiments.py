"""Tuning experiments on CheckThat! train splits (never dev for choosing; dev only for the final
report). Each experiment is a named setting: IndexConfig / RankOptions / QueryCleaning arguments,
optionally a prototype (views fused by reciprocal rank fusion, pseudo-relevance feedback, a
character n-gram view) that needs code outside suggest/index.py and suggest/rank.py.

Run:  /work/venv/bin/python bench/eval_experiments.py [--data ../shared/data/checkthat]
      [--task 2a|2b|both] [--split train] [--only NAME,...] [--out bench/eval_results.jsonl]

Prints one line per experiment (MAP@5, MAP@1, MRR, Recall@5, seconds) and appends the figures
to the JSONL file, so docs/evaluation.md can be written from real numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from suggest.archive import Check
from suggest.evaluate import (
    Run, load_checks, load_split, metrics, peer_text, query_articles, rank_bm25s, rank_suggest,
)
from suggest.index import Index, IndexConfig, build_index
from suggest.query import NO_CLEANING, QueryCleaning
from suggest.rank import RankOptions

warnings.filterwarnings("ignore", module="ranx")
warnings.filterwarnings("ignore", category=Warning, message=".*unsafe cast.*")

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"2a": "2021-2a-en", "2b": "2021-2b-en"}


@dataclass
class Setting:
    name: str
    config: dict = field(default_factory=dict)
    opts: dict = field(default_factory=dict)
    cleaning: QueryCleaning = field(default_factory=QueryCleaning)
    proto: str | None = None  # name of a prototype in PROTOTYPES
    proto_args: dict = field(default_factory=dict)


# -- prototypes (need hooks in index.py / rank.py to become `suggest for` defaults) -------------
def rrf(runs: list[Run], k: float = 60.0, depth: int = 20, weights: list[float] | None = None) -> Run:
    """Reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d))."""
    weights = weights or [1.0] * len(runs)
    out: Run = {}
    for q in runs[0]:
        acc: dict[str, float] = {}
        for w, run in zip(weights, runs, strict=True):
            for rank, (d, _) in enumerate(run.get(q, []), 1):
                acc[d] = acc.get(d, 0.0) + w / (k + rank)
        out[q] = sorted(acc.items(), key=lambda x: (-x[1], x[0]))[:depth]
    return out


class Lab:
    """Checks, splits and built indexes of one task, cached across experiments."""

    def __init__(self, folder: Path, split: str) -> None:
        self.folder = folder
        t = time.perf_counter()
        self.checks = load_checks(folder)
        self.split = load_split(folder, split)
        self.load_seconds = time.perf_counter() - t
        self.indexes: dict[str, Index] = {}
        self.build_seconds: dict[str, float] = {}
        self.by_id = {c.id: c for c in self.checks}

    def index(self, config: dict) -> Index:
        key = json.dumps(config, sort_keys=True)
        if key not in self.indexes:
            t = time.perf_counter()
            self.indexes[key] = build_index(self.checks, IndexConfig(**config))
            self.build_seconds[key] = time.perf_counter() - t
        return self.indexes[key]

    def articles(self, cleaning: QueryCleaning) -> list[Check]:
        return query_articles(self.split, cleaning)

    def run(self, s: Setting) -> Run:
        arts = self.articles(s.cleaning)
        if s.proto:
            return PROTOTYPES[s.proto](self, s, arts)
        return rank_suggest(self.index(s.config), arts, RankOptions(**s.opts))


def proto_views(lab: Lab, s: Setting, arts: list[Check]) -> Run:
    """RRF of several suggest rankings, each from its own IndexConfig (a "view")."""
    runs = []
    for view in s.proto_args["views"]:
        cfg = {**s.config, **view.get("config", {})}
        opts = {**s.opts, **view.get("opts", {})}
        runs.append(rank_suggest(lab.index(cfg), arts, RankOptions(**opts)))
    return rrf(runs, k=s.proto_args.get("k", 60.0), weights=s.proto_args.get("weights"))


def _check_scores(ix: Index, vectors: sp.csr_matrix) -> np.ndarray:
    return np.asarray((ix.checks_matrix @ vectors.T).T.todense())


def proto_prf(lab: Lab, s: Setting, arts: list[Check]) -> Run:
    """Rocchio pseudo-relevance feedback on the check vectors, then the same scoring.

    q' = q + beta * mean(top-k check vectors of the first pass), unit length. The second pass
    scores the checks only (question_weight 0 equivalent): the hook wanted is a `vectors`
    rewrite between `article_from_check` and `score_rows`.
    """
    from suggest.rank import article_from_check

    ix = lab.index(s.config)
    k, beta = s.proto_args.get("k", 3), s.proto_args.get("beta", 0.5)
    vectors = sp.vstack([article_from_check(ix, a).vector for a in arts], format="csr")
    first = _check_scores(ix, vectors)
    top = np.argsort(-first, axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(len(arts)), k)
    fb = sp.csr_matrix((np.full(rows.size, 1.0 / k), (rows, top.ravel())), shape=(len(arts), ix.checks_matrix.shape[0]))
    expanded = vectors + beta * (fb @ ix.checks_matrix)
    norms = np.sqrt(np.asarray(expanded.multiply(expanded).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    expanded = sp.csr_matrix(sp.diags(1.0 / norms) @ expanded)
    return _rank_vectors(ix, arts, expanded, RankOptions(**s.opts))


def _rank_vectors(ix: Index, arts: list[Check], vectors: sp.csr_matrix, opts: RankOptions, depth: int = 20) -> Run:
    """rank_suggest's selection for given query vectors (prototypes that rewrite the vectors)."""
    from suggest.rank import score_rows, select

    allowed = np.ones(ix.pool_matrix.shape[0], dtype=bool)
    row_of = {cid: i for i, cid in enumerate(ix.check_ids)}
    members = [[row_of[c] for c in rec["answered_by"]] for rec in ix.pool_records]
    run: Run = {}
    for start in range(0, len(arts), 256):
        v = vectors[start : start + 256]
        score, _, _, cs = score_rows(ix, v, opts)
        for r in range(v.shape[0]):
            items = select(ix, score[r], allowed, opts, cs[r])
            from dataclasses import replace

            more = select(ix, score[r], allowed, replace(opts, top=depth, candidates=max(opts.candidates, depth)), cs[r])
            items += [i for i in more if i not in items]
            ranked = []
            for it in items:
                for ci in sorted(members[it], key=lambda c: (-cs[r, c], c)):
                    ranked.append((ix.check_ids[ci], float(score[r, it])))
            run[arts[start + r].id] = ranked[:depth]
    return run


def proto_char(lab: Lab, s: Setting, arts: list[Check]) -> Run:
    """A character n-gram TF-IDF view (scikit-learn char_wb) over title + claim (+ text),
    fused by RRF with the suggest ranking of ``s.config``/``s.opts``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    lo, hi = s.proto_args.get("ngram", (3, 5))
    key = ("char", lo, hi)
    if key not in lab.indexes:
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(lo, hi), sublinear_tf=True, min_df=2,
                              dtype=np.float32)
        docs = vec.fit_transform([peer_text(c).lower()[: s.proto_args.get("chars", 2000)] for c in lab.checks])
        lab.indexes[key] = (vec, docs)  # type: ignore[assignment]
    vec, docs = lab.indexes[key]  # type: ignore[misc]
    q = vec.transform([a.title.lower() for a in arts])
    sims = np.asarray((q @ docs.T).todense())
    char_run: Run = {}
    for r, a in enumerate(arts):
        top = np.argsort(-sims[r], kind="stable")[:20]
        char_run[a.id] = [(lab.checks[i].id, float(sims[r, i])) for i in top if sims[r, i] > 0]
    if s.proto_args.get("alone"):
        return char_run
    ours = rank_suggest(lab.index(s.config), arts, RankOptions(**s.opts))
    return rrf([ours, char_run], k=s.proto_args.get("k", 60.0), weights=s.proto_args.get("weights"))


def proto_bm25s(lab: Lab, s: Setting, arts: list[Check]) -> Run:
    return rank_bm25s(lab.checks, arts)


PROTOTYPES: dict[str, Callable[[Lab, Setting, list[Check]], Run]] = {
    "views": proto_views, "prf": proto_prf, "char": proto_char, "bm25s": proto_bm25s,
}


# -- the experiments ----------------------------------------------------------------------------
RAW = NO_CLEANING
BASE_CFG = {"ngram_max": 1, "dup_threshold": 1.0}
BASE_OPTS = {"question_weight": 0.0, "mmr_lambda": 1.0}


def experiments() -> list[Setting]:
    S = Setting
    out = [
        S("bm25s (raw query)", cleaning=RAW, proto="bm25s"),
        S("bm25s (clean query)", proto="bm25s"),
        S("default (raw query)", cleaning=RAW),
        S("default"),
        # ranking options on the default index
        S("mmr_lambda=1", opts={"mmr_lambda": 1.0}),
        S("question_weight=0", opts={"question_weight": 0.0}),
        S("question_weight=0.25", opts={"question_weight": 0.25}),
        S("question_weight=0, mmr_lambda=1", opts=BASE_OPTS),
        S("min_score=0", opts={"min_score": 0.0}),
        # pool merging
        S("dup_threshold=1", config={"dup_threshold": 1.0}),
        S("dup_threshold=1, qw=0, mmr=1", config={"dup_threshold": 1.0}, opts=BASE_OPTS),
        # n-grams and tf
        S("ngram_max=1, dup=1, qw=0, mmr=1 (base)", config=BASE_CFG, opts=BASE_OPTS),
        S("base, sublinear_tf=False", config={**BASE_CFG, "sublinear_tf": False}, opts=BASE_OPTS),
        S("base, ngram_max=3", config={**BASE_CFG, "ngram_max": 3}, opts=BASE_OPTS),
        S("base, qw=0.25", config=BASE_CFG, opts={**BASE_OPTS, "question_weight": 0.25}),
        S("base, qw=0.5", config=BASE_CFG, opts={**BASE_OPTS, "question_weight": 0.5}),
        S("base, mmr=0.7", config=BASE_CFG, opts={**BASE_OPTS, "mmr_lambda": 0.7}),
        S("base, max_per_source=1", config=BASE_CFG, opts={**BASE_OPTS, "max_per_source": 1}),
        S("base, dup_threshold=0.45", config={**BASE_CFG, "dup_threshold": 0.45}, opts=BASE_OPTS),
        S("base, dup_threshold=0.8", config={**BASE_CFG, "dup_threshold": 0.8}, opts=BASE_OPTS),
    ]
    # field weights on the base
    for tw in (0.0, 0.25, 0.5, 1.0, 1.5):
        out.append(S(f"base, title_weight={tw}", config={**BASE_CFG, "title_weight": tw}, opts=BASE_OPTS))
    for sw in (0.5, 2.0):
        out.append(S(f"base, summary_weight={sw}", config={**BASE_CFG, "summary_weight": sw}, opts=BASE_OPTS))
    for bw in (0.25, 0.5, 2.0):
        out.append(S(f"base, body_weight={bw}", config={**BASE_CFG, "body_weight": bw}, opts=BASE_OPTS))
    # query cleaning on the base
    for label, how in [
        ("no cleaning", RAW),
        ("urls only", QueryCleaning(urls=True, tail=False, handles="keep", hashtags="keep")),
        ("urls+tail (drop name)", QueryCleaning(tail_name=False, handles="keep", hashtags="keep")),
        ("urls+tail (keep name)", QueryCleaning(handles="keep", hashtags="keep")),
        ("all, handles dropped", QueryCleaning(handles="drop")),
        ("all, hashtags kept", QueryCleaning(hashtags="keep")),
        ("all (default cleaning)", QueryCleaning()),
        ("urls, handles+hashtags split, tail kept", QueryCleaning(tail=False)),
    ]:
        out.append(S(f"base, clean: {label}", config=BASE_CFG, opts=BASE_OPTS, cleaning=how))
    tuned = {**BASE_CFG, "title_weight": 0.5}
    out += [
        S("tuned: base, title_weight=0.5 (T)", config=tuned, opts=BASE_OPTS),
        S("T + prf k=3 beta=0.5", config=tuned, opts=BASE_OPTS, proto="prf", proto_args={"k": 3, "beta": 0.5}),
        S("T + prf k=1 beta=0.3", config=tuned, opts=BASE_OPTS, proto="prf", proto_args={"k": 1, "beta": 0.3}),
        S("T + prf k=5 beta=0.3", config=tuned, opts=BASE_OPTS, proto="prf", proto_args={"k": 5, "beta": 0.3}),
        S("char 3-5 alone", config=tuned, opts=BASE_OPTS, proto="char", proto_args={"alone": True}),
        S("T + char 3-5 (RRF)", config=tuned, opts=BASE_OPTS, proto="char"),
        S("RRF views: T, T ngram 2", config=tuned, opts=BASE_OPTS, proto="views",
          proto_args={"views": [{}, {"config": {"ngram_max": 2}}]}),
        S("RRF views: title-only, summary-only", config=tuned, opts=BASE_OPTS, proto="views",
          proto_args={"views": [{"config": {"title_weight": 1.0, "summary_weight": 0.0, "body_weight": 0.0}},
                                {"config": {"title_weight": 0.0, "summary_weight": 1.0, "body_weight": 0.0}}]}),
        S("RRF views: T, title-only, summary-only", config=tuned, opts=BASE_OPTS, proto="views",
          proto_args={"views": [{}, {"config": {"title_weight": 1.0, "summary_weight": 0.0, "body_weight": 0.0}},
                                {"config": {"title_weight": 0.0, "summary_weight": 1.0, "body_weight": 0.0}}]}),
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "checkthat")
    ap.add_argument("--task", default="both", choices=["2a", "2b", "both"])
    ap.add_argument("--split", default="train")
    ap.add_argument("--only", default="", help="comma-separated substrings of experiment names")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "eval_results.jsonl")
    args = ap.parse_args(argv)
    if args.split != "train":
        print(f"note: tuning split is {args.split}; choose settings on train only", file=sys.stderr)
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    settings = [s for s in experiments() if not wanted or any(w in s.name for w in wanted)]
    tasks = ["2a", "2b"] if args.task == "both" else [args.task]
    for task in tasks:
        lab = Lab(args.data / TASKS[task], args.split)
        print(f"== {task} {args.split}: {len(lab.split.queries)} queries, {len(lab.checks)} checks "
              f"(load {lab.load_seconds:.1f}s)", flush=True)
        for s in settings:
            t = time.perf_counter()
            run = lab.run(s)
            sec = time.perf_counter() - t
            m = metrics(run, lab.split.qrels)
            print(f"{s.name:<48} map@5 {m['map@5']:.4f}  map@1 {m['map@1']:.4f}  mrr {m['mrr']:.4f}  "
                  f"r@5 {m['recall@5']:.4f}  {sec:6.1f}s", flush=True)
            with args.out.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"task": task, "split": args.split, "name": s.name, "config": s.config,
                                    "opts": s.opts, "cleaning": asdict(s.cleaning), "proto": s.proto,
                                    "proto_args": s.proto_args, "figures": m, "seconds": round(sec, 2)}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
