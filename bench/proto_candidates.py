"""PROTOTYPE for issue 6 (not used by `suggest`): candidate generation instead of exhaustive
check scores, measured against the exhaustive lists of the batch job.

`suggest batch` scores every check against every check (sparse products whose cost is the sum
of the article terms' document frequencies, so it grows with the archive). Here each article
first finds candidate checks with only its ``--terms`` highest-weighted terms (rare terms: short
postings), keeps the ``--candidates`` best, and scores exactly only those (word and character
cosines as row dot products, the date prior); every other check scores 0. The character
baseline (the article's median character cosine) is taken over a fixed sample of ``--sample``
checks instead of all of them. Item scores, exclusions and selection are the library's.

Prints, for ``--n`` archive checks spread over the index: the time per check of the exhaustive
`check_scores` and of the prototype (same process, one core, interleaved blocks), and how many
lists are identical, how many share their first item, and the mean overlap of the top 5.

Run:  /work/venv/bin/python bench/proto_candidates.py [--index bench/work/politifact.idx]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from suggest import rank as R
from suggest.index import Index

ROOT = Path(__file__).resolve().parents[1]


def prune_rows(m: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row's ``keep`` largest entries (ties by column), the rest dropped."""
    m = sp.csr_matrix(m)
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        lo, hi = m.indptr[r], m.indptr[r + 1]
        d, ix = m.data[lo:hi], m.indices[lo:hi]
        top = np.argsort(-d, kind="stable")[:keep]
        rows.append(np.full(len(top), r))
        cols.append(ix[top])
        vals.append(d[top])
    if not rows:
        return sp.csr_matrix(m.shape, dtype=m.dtype)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=m.shape)


def make_candidate_scores(terms: int, candidates: int, sample: int):  # type: ignore[no-untyped-def]
    def check_scores(index: Index, articles: list, opts: R.RankOptions) -> np.ndarray:
        n = index.checks_matrix.shape[0]
        v = sp.vstack([a.vector for a in articles], format="csr")
        c = sp.vstack([a.char_vector for a in articles], format="csr")
        approx = R._dot(index.checks_matrix, prune_rows(v, terms))
        out = np.zeros((len(articles), n))
        cw = index.config.char_weight if len(index.char_idf) else 0.0
        ref = np.linspace(0, n - 1, min(sample, n)).astype(np.int64)
        for r in range(len(articles)):
            pos = np.flatnonzero(approx[r] > 0)
            cand = pos[np.argsort(-approx[r, pos], kind="stable")[:candidates]]
            if not len(cand):
                continue
            word = np.asarray((index.checks_matrix[cand] @ v[r].T).todense()).ravel().astype(np.float64)
            total = word.copy()
            if cw:
                chars = np.asarray((index.char_matrix[cand] @ c[r].T).todense()).ravel()
                base = np.median(np.asarray((index.char_matrix[ref] @ c[r].T).todense()).ravel())
                total = (total + cw * np.maximum(chars - base, 0.0) * (word > 0)) / (1 + cw)
            if opts.date_weight and articles[r].day >= 0:
                total = total * (
                    1.0 + opts.date_weight * R.date_prior(np.array([articles[r].day]), index.check_dates[cand], opts.date_scale)[0]
                )
            out[r, cand] = total
        return out

    return check_scores


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--index", type=Path, default=ROOT / "bench" / "work" / "politifact.idx")
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--block", type=int, default=100)
    ap.add_argument("--terms", type=int, default=40)
    ap.add_argument("--candidates", type=int, default=200)
    ap.add_argument("--sample", type=int, default=256)
    args = ap.parse_args()

    ix = Index.load(args.index, verify=False)
    ix.check_ids = list(ix.check_ids)  # type: ignore[assignment]
    n = ix.checks_matrix.shape[0]
    rows = np.linspace(0, n - 1, min(args.n, n)).astype(np.int64)
    opts = R.RankOptions()
    exhaustive = R.check_scores
    proto = make_candidate_scores(args.terms, args.candidates, args.sample)
    lists: dict[str, list] = {"exhaustive": [], "candidates": []}
    seconds = {"exhaustive": 0.0, "candidates": 0.0}
    for start in range(0, len(rows), args.block):
        arts = [R.article_from_row(ix, int(r)) for r in rows[start : start + args.block]]
        order = ("exhaustive", "candidates") if (start // args.block) % 2 == 0 else ("candidates", "exhaustive")
        for name in order:
            R.check_scores = exhaustive if name == "exhaustive" else proto  # type: ignore[assignment]
            t = time.perf_counter()
            got = R.rank_rows(ix, arts, opts)
            seconds[name] += time.perf_counter() - t
            lists[name].extend([[s.item for s in sug] for sug in got])
    R.check_scores = exhaustive  # type: ignore[assignment]
    a, b = lists["exhaustive"], lists["candidates"]
    same = sum(x == y for x, y in zip(a, b, strict=True))
    first = sum(bool(x) and bool(y) and x[0] == y[0] for x, y in zip(a, b, strict=True))
    overlap = np.mean([len(set(x) & set(y)) / max(len(x), 1) for x, y in zip(a, b, strict=True)])
    result = {
        "checks": len(rows),
        "archive_checks": n,
        "terms": args.terms,
        "candidates": args.candidates,
        "sample": args.sample,
        "ms_per_check": {k: round(1000 * v / len(rows), 2) for k, v in seconds.items()},
        "identical_lists": same,
        "same_first_item": first,
        "mean_top5_overlap": round(float(overlap), 4),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
