"""Choose what an editor reads from the scored candidates: which items may be shown at all
(`filter_mask`: questions only, `--open-only`, `--since/--until`), which the article already
asks or answers (`allowed`: its own questions and their rewordings, questions its title
asks), then the list itself (`select`: best first, MMR diversity, no two near-duplicates, at
most N per source check, nothing under the floor).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from suggest.build import unigram_view
from suggest.kernels import gram, ranges
from suggest.records import RankOptions
from suggest.signals import Article

if TYPE_CHECKING:
    from suggest.index import Index
    from suggest.rank import RowScores


def filter_mask(index: Index, opts: RankOptions) -> np.ndarray:
    """Pool items allowed by --open-only and --since/--until (same for every article); titles
    that are not phrased as questions are never suggested."""
    keep = np.asarray(index.askable, dtype=bool).copy()
    if opts.open_only:
        keep &= ~np.asarray(index.answered, dtype=bool)
    if opts.since or opts.until:
        lo = date.fromisoformat(opts.since).toordinal() if opts.since else -(10**9)
        hi = date.fromisoformat(opts.until).toordinal() if opts.until else 10**9
        d = np.asarray(index.check_dates)[index.pair_check]
        ok = (d >= lo) & (d <= hi) & (d >= 0)
        in_range = np.zeros_like(keep)
        in_range[index.pair_item[ok]] = True
        keep &= in_range
    return keep


def allowed(
    index: Index,
    article: Article,
    items: np.ndarray,
    score: np.ndarray,
    eligible: np.ndarray,
    need: int,
    opts: RankOptions | None = None,
) -> np.ndarray:
    """``eligible`` minus near-duplicates of the article's title and questions, tested on the
    best eligible items (ties at the cut included) until ``need`` pass or none is left; the
    untested ones are marked not allowed (they rank below ``need`` allowed ones)."""
    allowed = np.zeros(len(items), dtype=bool)
    pool = np.flatnonzero(eligible)
    pool = pool[np.argsort(-score[pool], kind="stable")]
    passed, at, step = 0, 0, 2 * need
    while at < len(pool) and passed < need:
        stop = min(len(pool), at + step)
        while stop < len(pool) and score[pool[stop]] == score[pool[stop - 1]]:
            stop += 1
        block = pool[at:stop]
        ok = ~near_duplicates(index, article, items[block], opts.restate_threshold if opts else None)
        if opts is not None and opts.restate_whole:
            ok &= ~answered_by_article(index, article, items[block], opts.restate_whole)
        if opts is not None and opts.restate_meaning and index.semantic:
            ok &= ~restates_by_meaning(index, article, items[block], opts.restate_meaning)
        allowed[block[ok]] = True
        passed += int(ok.sum())
        at, step = stop, 2 * step
    return allowed


def restates_by_meaning(index: Index, article: Article, items: np.ndarray, threshold: float) -> np.ndarray:
    """Per item: its embedding cosine with the article's title or one of its own questions
    reaches ``threshold`` (the same question in other words: "If police don't read you your
    rights, is your case thrown out?"). Items without an embedding (titles) are never flagged."""
    own = article.own_embeddings
    if own is None or not len(own) or not len(items) or index.pool_emb is None:
        return np.zeros(len(items), dtype=bool)
    sims = np.asarray(index.pool_emb[items], dtype=np.float32) @ np.asarray(own, dtype=np.float32).T
    return sims.max(axis=1) >= threshold


def answered_by_article(index: Index, article: Article, items: np.ndarray, threshold: float) -> np.ndarray:
    """Per item: the article covers it already: the single-word cosine of the item's text to
    the whole article reaches ``threshold`` (most of its words are the article's own, as in
    a rewording of the article's question: "Does a case get dismissed when officers skip the
    Miranda warning?" for a check on Miranda rights)."""
    if not len(items):
        return np.zeros(len(items), dtype=bool)
    uni = np.asarray(index.unigram, dtype=bool)
    whole = unigram_view(sp.csr_matrix(article.vector), uni)
    to_whole = np.asarray((index.shown_unigram(items) @ whole.T).toarray()).ravel()
    return to_whole >= threshold


def own_words(index: Index, article: Article) -> tuple[np.ndarray, np.ndarray]:
    """The single-word view of the article's title and questions (`unigram_view`, unit rows):
    (terms ascending, terms x rows)."""
    if article.own_words is None:
        parts = [sp.csr_matrix(m) for m in (article.title_vector, article.question_vectors) if m.shape[0]]
        if not parts:
            article.own_words = (np.zeros(0, dtype=np.int64), np.zeros((0, 0)))
            return article.own_words
        rows = np.concatenate([np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)) + k for k, m in _offsets(parts)])
        cols = np.concatenate([m.indices for m in parts]).astype(np.int64)
        data = np.concatenate([m.data for m in parts]).astype(np.float64)
        keep = np.asarray(index.unigram, dtype=bool)[cols] & (data != 0)
        rows, cols, data = rows[keep], cols[keep], data[keep]
        n_rows = sum(m.shape[0] for m in parts)
        norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=n_rows))
        terms, local = np.unique(cols, return_inverse=True)
        dense = np.zeros((len(terms), n_rows), dtype=np.float64)
        dense[local.ravel(), rows] = data / norms[rows]
        article.own_words = (terms, dense)
    return article.own_words


def _offsets(parts: list[sp.csr_matrix]) -> list[tuple[int, sp.csr_matrix]]:
    out, at = [], 0
    for m in parts:
        out.append((at, m))
        at += m.shape[0]
    return out


def _row_ids(m: sp.csr_matrix) -> np.ndarray:
    return np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))


def near_duplicates(index: Index, article: Article, items: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Per item: the same question (single-word cosine at ``threshold``, by default the pool's
    ``dup_threshold``) as the article's title or one of its questions (the article asks or
    answers it already)."""
    terms, own = own_words(index, article)
    if not len(terms) or not len(items):
        return np.zeros(len(items), dtype=bool)
    pool = index.pool_unigram
    lo, hi = pool.indptr[items], pool.indptr[items + 1]
    at = ranges(lo, hi)
    cols = pool.indices[at]
    pos = np.minimum(np.searchsorted(terms, cols), len(terms) - 1)
    hit = terms[pos] == cols
    group = np.repeat(np.arange(len(items)), hi - lo)[hit]
    part = np.asarray(pool.data[at][hit], dtype=np.float64)[:, None] * own[pos[hit]]
    sims = np.zeros((len(items), own.shape[1]), dtype=np.float64)
    np.add.at(sims, group, part)
    cut = index.config.dup_threshold if threshold is None else threshold
    return np.asarray((sims >= cut).any(axis=1), dtype=bool)


def select(index: Index, row: RowScores, opts: RankOptions, why: dict[int, str] | None = None) -> list[int]:
    """Pick up to ``opts.top`` items: best first, diverse (MMR), at most N per source check.

    An item's source is the check that raised it (of several, the one closest to the article);
    an item only answered by a check counts against that check. An item whose shown text is a
    near-duplicate of a chosen one (single-word cosine at the pool's ``dup_threshold``) is never
    added; the same cosine drives the MMR penalty. Returns pool item numbers; ``why``, when
    given, gets the reason each candidate passed over in the loop was held back.
    """
    ok = row.allowed & (row.score >= floor(index, row, opts)) & (row.score > 0)
    local = top_items(row.score, np.flatnonzero(ok), opts.candidates)
    if not len(local):
        return []
    cand = row.items[local]
    score = row.score[local]
    sims = gram(index.shown_unigram(cand))
    per_source: dict[int, int] = {}
    chosen: list[int] = []
    remaining = list(range(len(cand)))
    lam = opts.mmr_lambda
    penalty = np.zeros(len(cand))  # each candidate's largest similarity to a chosen one
    while remaining and len(chosen) < opts.top:
        vals = (lam * score - (1 - lam) * penalty).tolist()
        best, best_val = remaining[0], -np.inf
        for r in remaining:
            if vals[r] > best_val + 1e-12:
                best, best_val = r, vals[r]
        remaining.remove(best)
        if chosen and sims[best, chosen].max() >= index.config.dup_threshold:
            if why is not None:
                why[int(cand[best])] = "asks what a listed question asks"
            continue
        src = int(row.source[local[best]])
        if per_source.get(src, 0) >= opts.max_per_source:
            if why is not None:
                why[int(cand[best])] = (
                    f"per-source cap: {opts.max_per_source} already listed from {index.check_ids[src]}"
                )
            continue
        per_source[src] = per_source.get(src, 0) + 1
        chosen.append(best)
        penalty = np.maximum(penalty, sims[:, best])
    if why is not None:
        for r in remaining:
            why.setdefault(int(cand[r]), "the list was full")
    return [int(cand[r]) for r in sorted(chosen, key=lambda r: (-score[r], int(cand[r])))]


def min_score(index: Index, opts: RankOptions) -> float:
    """The fixed floor: ``meaning_min_score`` when the signals of meaning count (scores then
    run higher: unrelated texts still have embedding cosines of about 0.1), else ``min_score``."""
    from suggest.signals import resolve

    meaning = any(s.name.startswith("meaning") and s.weight(index, opts) for s in resolve(opts))
    return opts.meaning_min_score if meaning else opts.min_score


def floor(index: Index, row: RowScores, opts: RankOptions) -> float:
    """The article's floor: `min_score`, or ``relative_floor`` of its best allowed item's
    score when that is higher."""
    fixed = min_score(index, opts)
    ok = row.allowed & (row.score >= fixed) & (row.score > 0)
    if opts.relative_floor and ok.any():
        return max(fixed, float(opts.relative_floor * row.score[ok].max()))
    return fixed


def held_back(
    index: Index, article: Article, row: RowScores, opts: RankOptions, chosen: list[int], near: int = 3
) -> list[tuple[int, float, str]]:
    """Why the article's best candidates that are not listed were held back: every one that
    scores at least the floor (a rule held it back) and the ``near`` best below it (near
    misses). Returns (pool item, score, reason), best first."""
    why: dict[int, str] = {}
    select(index, row, opts, why)
    cut = floor(index, row, opts)
    order = np.argsort(-row.score, kind="stable")
    listed = set(chosen)
    out: list[tuple[int, float, str]] = []
    misses = 0
    own = set()
    if article.check_row is not None:
        order_p, start = index.check_pairs()
        own = set(
            np.asarray(index.pair_item)[order_p[start[article.check_row] : start[article.check_row + 1]]].tolist()
        )
    for k in order.tolist():
        item, score = int(row.items[k]), float(row.score[k])
        if item in listed or score <= 0:
            continue
        if score < cut:
            if misses >= near:
                break
            misses += 1
        out.append((item, score, _reason(index, article, row, opts, k, item, cut, own, why)))
    return out


def _reason(
    index: Index,
    article: Article,
    row: RowScores,
    opts: RankOptions,
    k: int,
    item: int,
    cut: float,
    own: set[int],
    why: dict[int, str],
) -> str:
    """The first rule that held candidate ``k`` (pool item ``item``) back."""
    if not index.askable[item]:
        return "a title that is a statement or topic, not a question"
    if opts.open_only and index.answered[item]:
        return "answered by a check (--open-only)"
    if (opts.since or opts.until) and not filter_mask(index, opts)[item]:
        return "raised outside --since/--until"
    if item in own:
        return "a question of the article's own check"
    if row.q[k] < opts.question_floor:
        return f"its own words barely match the article's ({row.q[k]:.3f} < {opts.question_floor})"
    if near_duplicates(index, article, np.array([item]), opts.restate_threshold)[0]:
        return "restates the article's title or one of its questions"
    if opts.restate_whole and answered_by_article(index, article, np.array([item]), opts.restate_whole)[0]:
        return "the article covers it already"
    if (
        opts.restate_meaning
        and index.semantic
        and restates_by_meaning(index, article, np.array([item]), opts.restate_meaning)[0]
    ):
        return "restates the article's title or one of its questions in other words"
    if row.score[k] < cut:
        return f"below the floor ({row.score[k]:.3f} < {cut:.3f})"
    return why.get(item, "held back")


def top_items(score: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best of ``items`` (ascending positions) by ``score``, best first, equal scores
    in position order: a stable sort of the items, without sorting all of them."""
    if len(items) > k:
        # Only items scoring at least the k-th best can be among the first k; all of them,
        # ties included, go to the stable sort.
        floor = np.partition(score[items], len(items) - k)[len(items) - k]
        items = items[score[items] >= floor]
    return items[np.argsort(-score[items], kind="stable")][:k]
