"""Rank the question pool for articles: the signals' scores, then the exact best candidates,
then `suggest.select` picks the list.

`Ranker` ranks chunks of articles against one index with one set of options (the batch job
keeps one per worker process; `suggest` makes one for a single article): each article gets
exactly the list it would get alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from suggest import kernels, select
from suggest.build import field_texts
from suggest.embed import check_text
from suggest.index import Index
from suggest.kernels import Workspace
from suggest.records import Check, RankOptions, Suggestion, day_number
from suggest.signals import Article, Chunk, check_rows, combine, query_words, question_rows, resolve
from suggest.signals import shares as signal_shares
from suggest.text import analyze_with, words

SCORE_DECIMALS = 6
FIRST_REACH = 64
"""The candidate step first scores the items of this many best checks (at least 4x the list
it needs)."""


def article_from_check(index: Index, check: Check) -> Article:
    """Vectorise a parsed article with the index's vocabulary and field weights."""
    parts = field_texts(check)
    qv = [index.text_vector(q) for q in check.questions]
    return Article(
        vector=index.vector(parts),
        title_vector=index.text_vector(check.title),
        question_vectors=sp.vstack(qv, format="csr") if qv else sp.csr_matrix((0, len(index.idf))),
        char_vector=index.char_vector(check),
        day=day_number(check.checked_on),
        check_row=own_check_row(index, check.id),
        text="\n".join(parts.values()),
        embed_text=check_text(check.title, check.summary, "\n".join(check.questions) or check.body()),
        own_texts=tuple(t for t in (check.title, *check.questions) if t.strip()),
    )


def article_from_row(index: Index, row: int) -> Article:
    """The archive check in ``row`` as a new article, from the stored vectors (batch job)."""
    lo, hi = np.searchsorted(index.member_check, [row, row + 1])  # its title, then its questions
    first = lo + 1 if lo < hi and index.member_is_title[lo] else lo
    return Article(
        vector=index.checks_matrix[row],
        title_vector=index.member_matrix[lo:first],
        question_vectors=index.member_matrix[first:hi],
        char_vector=index.char_matrix[row],
        day=int(index.check_dates[row]),
        check_row=row,
        embedding=np.asarray(index.check_emb[row], dtype=np.float32) if index.check_emb is not None else None,
        # Its title and questions as the pool holds them (a title no check raised has a zero row).
        own_embeddings=np.asarray(index.pool_emb[index.member_item[lo:hi]], dtype=np.float32)
        if index.pool_emb is not None
        else None,
    )


@dataclass
class RowScores:
    """One article's scored candidate items: every pool item that can be among its best
    ``need`` allowed ones (see `_candidates`), with exact scores; all others score less.

    ``items`` ascending; aligned with them: ``score`` (rounded), ``q`` (own words), ``ctx``
    (best check that raised or answered it), ``allowed`` (False also for items whose
    exclusion tests were not needed: they cannot be chosen), ``source`` (the raising check
    closest to the article, else the closest answering one). ``checks``/``check_score``: the
    article's sparse row of check scores (checks in no set order)."""

    items: np.ndarray
    score: np.ndarray
    q: np.ndarray
    ctx: np.ndarray
    allowed: np.ndarray
    source: np.ndarray
    checks: np.ndarray
    check_score: np.ndarray

    def scores_of_checks(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float64)
        hit = np.isin(self.checks, rows)
        got = dict(zip(self.checks[hit].tolist(), self.check_score[hit].tolist(), strict=True))
        for k, c in enumerate(rows.tolist()):
            out[k] = got.get(c, 0.0)
        return out


class Ranker:
    """Ranks chunks of articles against ``index`` with ``opts``.

    It keeps what does not change from chunk to chunk: the arrays over the whole pool that the
    options decide (question shares, the `select.filter_mask`), the workspace of reused
    arrays, and where the candidate step starts. That start changes only the work, never a
    result: after an article whose first round fell short, the next ones start a round
    further (4x the reach) until 8 in a row did not need more; then the first round is tried
    again. At a million checks most articles need the second round, at 19,250 nearly none.

    ``rules=False`` allows every item (`suggest eval`: an excluded item is there the very match
    sought); ``kernel``: the batch's numba kernels (the same numbers; loading them takes a
    second, so for many articles).
    """

    def __init__(
        self,
        index: Index,
        opts: RankOptions,
        rules: bool = True,
        kernel: bool = False,
        profile: bool = False,
        embedder: Callable[[Sequence[str]], np.ndarray] | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.opts = opts
        self.rules = rules
        self.kernel = kernel
        self.ws = Workspace(profile)
        self.memo: dict = {}
        self.head_start = (0, 0)
        n_items = index.pool_matrix.shape[0]
        self.share = _question_share(index, opts)
        self.keep = select.filter_mask(index, opts) if rules else np.ones(n_items, dtype=bool)
        self.min_score = select.min_score(index, opts)

    def chunk(self, articles: list[Article]) -> Chunk:
        self._embed(articles)
        words = query_words(self.index, articles, self.opts)
        return Chunk(self.index, self.opts, articles, words, self.ws, self.kernel, self.memo)

    def _embed(self, articles: list[Article]) -> None:
        """Encode the articles that have no embedding yet, when a signal of meaning counts."""
        index, opts = self.index, self.opts
        signal = any(s.name.startswith("meaning") and s.weight(index, opts) for s in resolve(opts))
        todo = [a for a in articles if a.embedding is None] if signal else []
        own = [a for a in articles if a.own_embeddings is None] if index.semantic and opts.restate_meaning else []
        if not todo and not own:
            return
        if self.embedder is None:
            from suggest.embed import Embedder

            self.embedder = Embedder()
        texts = [a.embed_text for a in todo] + [t for a in own for t in a.own_texts]
        vecs = self.embedder(texts)
        for a, v in zip(todo, vecs, strict=False):
            a.embedding = v
        at = len(todo)
        for a in own:
            a.own_embeddings = vecs[at : at + len(a.own_texts)]
            at += len(a.own_texts)

    def check_scores(self, articles: list[Article]) -> sp.csr_matrix:
        """Each article's score for the archive checks it reaches (articles x checks, sparse):
        `suggest.signals.combine` over the check signals; a check the article reaches through no
        term is absent (score 0)."""
        rows = check_rows(self.chunk(articles))
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(c) for c, _ in rows], out=indptr[1:])
        m = sp.csr_matrix(
            (
                np.concatenate([v for _, v in rows]) if rows else np.zeros(0),
                np.concatenate([c for c, _ in rows]) if rows else np.zeros(0, dtype=np.int64),
                indptr,
            ),
            shape=(len(rows), len(self.index.check_dates)),
        )
        m.sort_indices()
        return m

    def score(
        self, articles: list[Article], need: int | None = None, exclude: Sequence[np.ndarray | None] | None = None
    ) -> list[RowScores]:
        """Each article's candidate items with their scores (see `RowScores`): enough for the
        best ``need`` (default ``opts.candidates``) allowed items to be exact.

        Allowed: what `select.filter_mask` keeps, minus the article's exclusions: its own
        questions and their near-duplicates, questions its title asks too (it answers them),
        for an archive check every pool item its own check raised or answered, and the pool
        items of ``exclude`` (one array or None per article: the editors' feedback). An item
        excluded leaves the candidates before selection, so the list is the one a pool
        without it would give.
        """
        if exclude is not None and len(exclude) != len(articles):
            raise ValueError("exclude needs one entry per article")
        clock = _Clock(self.ws)
        chunk = clock("query words s", self.chunk, articles)
        checks = clock("check scores s", check_rows, chunk)
        questions = clock("question scores s", question_rows, chunk)
        self.ws.note("checks reached", sum(len(c) for c, _ in checks))
        return [
            clock(
                "candidates s",
                self._candidates,
                a,
                checks[r],
                [(w, *kernels.row(m, r)) for w, m in questions],
                need or self.opts.candidates,
                None if exclude is None else exclude[r],
            )
            for r, a in enumerate(articles)
        ]

    def rank(
        self, articles: list[Article], explain: bool = False, exclude: Sequence[np.ndarray | None] | None = None
    ) -> list[list[Suggestion]]:
        """The list of each article, as `suggest` gives it for that article alone (``exclude``:
        as for `score`)."""
        if not articles:
            return []
        rows = self.score(articles, exclude=exclude)
        clock = _Clock(self.ws)
        return [
            to_suggestions(
                self.index,
                clock("select s", select.select, self.index, row, self.opts),
                row,
                a.text if explain else None,
            )
            for row, a in zip(rows, articles, strict=True)
        ]

    def _candidates(
        self,
        article: Article,
        checks: tuple[np.ndarray, np.ndarray],
        questions: list[tuple[float, np.ndarray, np.ndarray]],
        need: int,
        exclude: np.ndarray | None = None,
    ) -> RowScores:
        """Score the items of the article's ``m`` best checks and its ``m`` best items of each
        question signal, exactly; any other item scores at most the larger of the (m+1)-th check
        score and the weighted mean of the signals' (m+1)-th item scores (``w * q + (1 - w) *
        ctx <= max(q, ctx)``). ``m`` grows until ``need`` allowed items score above that bound,
        or nothing is left out: the best ``need`` are then exact.

        Exclusions (`select.near_duplicates`, the article's own check) are tested only on the
        best eligible items, as many as choosing the best ``need`` allowed ones requires."""
        index, opts = self.index, self.opts
        cols, vals = checks
        order, start = index.check_pairs()
        pair_item = np.asarray(index.pair_item)
        own = None
        if self.rules and article.check_row is not None:
            own = pair_item[order[start[article.check_row] : start[article.check_row + 1]]]
        first = max(need, FIRST_REACH)
        ahead, streak = self.head_start
        m = start_m = first * 4**ahead
        while True:
            top_c, bound_c = kernels.top_bound(vals, m)
            picked = cols[top_c]
            reached = [pair_item[order[kernels.ranges(start[picked], start[picked + 1])]]]
            bounds = []
            for _, qcols, qvals in questions:
                top_q, bound_q = kernels.top_bound(qvals, m)
                reached.append(qcols[top_q])
                bounds.append(bound_q)
            items = np.unique(np.concatenate(reached))
            pairs, group, pc, ctx = self._context(items, cols, vals)
            q = combine_questions(
                [(w, kernels.values_at(qc, qv, items, self.ws, "items", len(self.share))) for w, qc, qv in questions]
            )
            bound_q = float(
                combine_questions([(w, np.array([b])) for (w, _, _), b in zip(questions, bounds, strict=True)])[0]
            )
            w = self.share[items]
            score = np.round(w * q + (1 - w) * ctx, SCORE_DECIMALS)
            bound = float(np.round(max(bound_c, bound_q), SCORE_DECIMALS))
            eligible = self.keep[items] & (score >= self.min_score) & (score > 0) & (q >= opts.question_floor)
            if own is not None:
                eligible &= ~np.isin(items, own)
            if exclude is not None and len(exclude):
                eligible &= ~np.isin(items, exclude)
            allowed = (
                eligible.copy()
                if not self.rules
                else select.allowed(index, article, items, score, eligible, need, opts)
            )
            complete = bound <= 0 or bound < self.min_score
            if complete or int((allowed & (score > bound)).sum()) >= need:
                if m > start_m or not ahead:
                    self.head_start = (int(m > first), 0)
                else:
                    self.head_start = (int(streak < 7), streak + 1)
                mine = allowed[group]  # sources matter only for items that can be chosen
                pair_check = np.asarray(index.pair_check)[pairs[mine]]
                raised = np.asarray(index.pair_raised, dtype=bool)[pairs[mine]]
                source = _sources(group[mine], pc[mine], pair_check, raised, len(items))
                return RowScores(items, score, q, ctx, allowed, source, cols, vals)
            m *= 4

    def _context(
        self, items: np.ndarray, cols: np.ndarray, vals: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For ``items``: their (item, check) pairs, each pair's item (position in ``items``)
        and check score, and each item's best check score (0 without pairs)."""
        item_start = self.index.item_start()
        lo = item_start[items]
        hi = item_start[items + 1]
        pairs = kernels.ranges(lo, hi)
        pair_check = np.asarray(self.index.pair_check)
        pc = kernels.values_at(cols, vals, pair_check[pairs], self.ws, "checks", len(self.index.check_dates))
        group = np.repeat(np.arange(len(items)), hi - lo)
        ctx = np.zeros(len(items), dtype=np.float64)
        has = hi > lo  # pairs of an item are contiguous: one maximum per run
        if has.any():
            ctx[has] = np.maximum.reduceat(pc, (np.cumsum(hi - lo) - (hi - lo))[has])
        return pairs, group, pc, ctx


class _Clock:
    """Times calls into the workspace's profile (when profiling; a plain call otherwise)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def __call__(self, part: str, fn, *args):  # type: ignore[no-untyped-def]
        if self.ws.profile is None:
            return fn(*args)
        start = time.perf_counter()
        out = fn(*args)
        self.ws.note(part, time.perf_counter() - start)
        return out


def combine_questions(parts: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """An item's own-words score: `suggest.signals.combine` over the question signals."""
    return combine(parts)


def _question_share(index: Index, opts: RankOptions) -> np.ndarray:
    """Per pool item, the share of its score from its own words: ``question_weight`` for an
    item some check raised, 0 for a title only (its check's score already counts it)."""
    raised = np.zeros(index.pool_matrix.shape[0], dtype=bool)
    raised[np.asarray(index.pair_item)[np.asarray(index.pair_raised, dtype=bool)]] = True
    return np.where(raised, opts.question_weight, 0.0)


def _sources(group: np.ndarray, score: np.ndarray, check: np.ndarray, raised: np.ndarray, n: int) -> np.ndarray:
    """Per item (``group`` of each pair): the raising check with the best score (equal scores:
    lowest row); an item no check raised: the best answering check; -1 without pairs."""
    out = np.full(n, -1, dtype=np.int64)
    if not len(group):
        return out
    has_raised = np.zeros(n, dtype=bool)
    has_raised[group[raised]] = True
    counts = raised | ~has_raised[group]
    order = np.lexsort((check, -score, ~counts, group))
    first = order[np.r_[True, group[order][1:] != group[order][:-1]]]
    out[group[first]] = check[first]
    return out


def matched_words(index: Index, article_text: str, item: int) -> tuple[str, ...]:
    """The article's words whose stems the suggestion shares, as readable words."""
    row = index.pool_matrix[item]
    shared = set()
    for t in row.indices.tolist():
        term = index.terms[t]
        if " " not in term:
            shared.add(term)
    out: set[str] = set()
    for w in set(words(article_text)):
        if analyze_with(w, index.stems)[0] in shared:
            out.add(w)
    return tuple(sorted(out))


def to_suggestions(index: Index, items: list[int], row: RowScores, article_text: str | None) -> list[Suggestion]:
    out = []
    at = np.searchsorted(row.items, items)
    for i, k in zip(items, at.tolist(), strict=True):
        rec = index.pool_records[i]
        out.append(
            Suggestion(
                question=rec["text"],
                score=float(row.score[k]),
                status=rec["status"],
                item=i,
                sources=tuple(rec["raised_by"]),
                answered_by=tuple(rec["answered_by"]),
                raised_on=tuple(rec["raised_on"]),
                matched=matched_words(index, article_text, i) if article_text is not None else (),
                question_score=float(np.round(row.q[k], SCORE_DECIMALS)),
                check_score=float(np.round(row.ctx[k], SCORE_DECIMALS)),
            )
        )
    return out


def own_check_row(index: Index, check_id: str | None) -> int | None:
    if check_id is None:
        return None
    ids = index.check_ids
    lo, hi = 0, len(ids)
    while lo < hi:  # ids are sorted
        mid = (lo + hi) // 2
        if ids[mid] < check_id:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(ids) and ids[lo] == check_id else None


def check_record(index: Index, check_id: str) -> dict:
    """The stored record (id, title, date, category, url, path) of one archive check."""
    row = own_check_row(index, check_id)
    if row is None:
        raise KeyError(check_id)
    return index.check_records[row]


@dataclass(frozen=True)
class Explained:
    """An article's list and what was held back: (suggestion, reason), best first; ``floor``
    is the score an item needed."""

    listed: list[Suggestion]
    held: list[tuple[Suggestion, str]]
    floor: float
    scored: list[Suggestion] = field(default_factory=list)


def explain(
    index: Index,
    article: Check,
    opts: RankOptions | None = None,
    words: bool = True,
    exclude: Sequence[int] = (),
    scored: Sequence[int] = (),
) -> Explained:
    """`suggest` for one article, with every candidate held back by a rule and the near misses
    below the floor, each with its reason (`select.held_back`); ``words``: also find the article
    words each matched. ``exclude``: pool items that may not be listed (they leave the
    candidates before selection; see `Ranker.score`); ``scored``: pool items to return in
    ``Explained.scored`` with the score this article gives them (0 when it does not reach them).
    """
    opts = opts or RankOptions()
    art = article_from_check(index, article)
    ranker = Ranker(index, opts)
    row = ranker.score([art], exclude=[np.asarray(sorted(set(exclude)), dtype=np.int64)] if exclude else None)[0]
    chosen = select.select(index, row, opts)
    text = art.text if words else None
    held = select.held_back(index, art, row, opts, chosen)
    listed = to_suggestions(index, chosen, row, text)
    suggestions = to_suggestions(index, [i for i, _, _ in held], row, text)
    if words:  # each signal's share of each score
        every = [*listed, *suggestions]
        parts = signal_shares(
            ranker.chunk([art]), 0, [(s.item, best_check(index, row, s.item)) for s in every], ranker.share
        )
        every = [
            replace(s, signals=tuple(sorted(p.items(), key=lambda kv: -kv[1])))
            for s, p in zip(every, parts, strict=True)
        ]
        listed, suggestions = every[: len(listed)], every[len(listed) :]
    return Explained(
        listed,
        [(s, why) for s, (_, _, why) in zip(suggestions, held, strict=True)],
        select.floor(index, row, opts),
        scored_items(index, list(scored), row),
    )


def scored_items(index: Index, items: list[int], row: RowScores) -> list[Suggestion]:
    """Suggestions of pool ``items`` (in that order) with the scores ``row`` gives them; an
    item the article did not reach scores 0."""
    out = []
    for i in items:
        k = int(np.searchsorted(row.items, i))
        if k < len(row.items) and row.items[k] == i:
            out.extend(to_suggestions(index, [i], row, None))
            continue
        rec = index.pool_records[i]
        out.append(
            Suggestion(
                question=rec["text"],
                score=0.0,
                status=rec["status"],
                item=i,
                sources=tuple(rec["raised_by"]),
                answered_by=tuple(rec["answered_by"]),
                raised_on=tuple(rec["raised_on"]),
            )
        )
    return out


def best_check(index: Index, row: RowScores, item: int) -> int:
    """The check that gives ``item`` its check score for this article: the best-scoring check
    that raised or answered it (equal scores: lowest row); -1 without one."""
    item_start = index.item_start()
    cis = np.asarray(index.pair_check)[item_start[item] : item_start[item + 1]]
    if not len(cis):
        return -1
    sims = row.scores_of_checks(cis)
    return int(cis[np.lexsort((cis, -sims))[0]])


def check_scores(index: Index, articles: list[Article], opts: RankOptions) -> sp.csr_matrix:
    """`Ranker.check_scores` with a fresh `Ranker`."""
    return Ranker(index, opts).check_scores(articles)


def score_rows(
    index: Index,
    articles: list[Article],
    opts: RankOptions,
    need: int | None = None,
    rules: bool = True,
    kernel: bool = False,
) -> list[RowScores]:
    """`Ranker.score` with a fresh `Ranker`."""
    return Ranker(index, opts, rules=rules, kernel=kernel).score(articles, need)


def rank_rows(
    index: Index, articles: list[Article], opts: RankOptions, explain: bool = False, kernel: bool = False
) -> list[list[Suggestion]]:
    """Rank the pool for several articles at once with a fresh `Ranker`."""
    return Ranker(index, opts, kernel=kernel).rank(articles, explain)


def suggest(index: Index, article: Check, opts: RankOptions | None = None, explain: bool = False) -> list[Suggestion]:
    """Rank the archive's questions for a new article.

    Parameters
    ----------
    index : from `build_index` or `Index.load`.
    article : the parsed article (see `suggest.readers.parse_article`). If its id is an archive
        check's, that check's own questions are left out, as in the batch job.
    opts : ranking options; defaults to `RankOptions()`.
    explain : also find the article words each suggestion matched.

    Returns
    -------
    list of Suggestion
        At most ``opts.top``, best first; fewer when fewer pass ``min_score``.

    Examples
    --------
    >>> ranked = suggest(index, parse_article(open("draft.txt").read()))  # doctest: +SKIP
    """
    return rank_rows(index, [article_from_check(index, article)], opts or RankOptions(), explain)[0]
