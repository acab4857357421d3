"""Rank the question pool for an article: relevance, exclusions, diversity (MMR), per-source cap.

`suggest` handles one article; `score_rows` and `select` are shared with the batch job so
that the batch gives exactly the lists `suggest for` gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import scipy.sparse as sp

from suggest.archive import Check
from suggest.errors import OptionError
from suggest.index import Index, field_texts, unigram_view
from suggest.text import analyze_with, words

SCORE_DECIMALS = 6
_FEW_ROWS = 4  # up to this many articles, products read the postings (`Index.postings`)


@dataclass(frozen=True)
class RankOptions:
    """How to rank. Defaults are what `suggest for` uses.

    Attributes
    ----------
    top : how many questions at most.
    open_only : leave out questions an archive check already answers.
    since, until : ISO dates; keep questions raised (or answered) in that range.
    min_score : below this a question is noise, not a suggestion.
    question_weight : share of a raised question's score from its own words; the rest comes
        from the best-matching check that raised or answered it. A check's title is part of its
        check's text already, so an item no check raised (a title) takes its check's score.
    date_weight, date_scale : a check dated near the article (both dates known) has its score
        raised by ``date_weight / (1 + days apart / date_scale)`` times: claims are checked
        while they circulate.
    mmr_lambda : relevance vs novelty in the diversity step (1.0 turns diversity off).
    max_per_source : at most this many suggestions raised by one check.
    candidates : how many top-scoring questions the diversity step considers.
    """

    top: int = 5
    open_only: bool = False
    since: str | None = None
    until: str | None = None
    min_score: float = 0.1
    question_weight: float = 0.5
    mmr_lambda: float = 0.7
    max_per_source: int = 2
    candidates: int = 50
    date_weight: float = 1.0
    date_scale: float = 30.0

    def __post_init__(self) -> None:
        if self.top < 1:
            raise OptionError(f"--top {self.top}: ask for at least 1 question")
        if not 0 <= self.min_score <= 1:
            raise OptionError(f"--min-score {self.min_score}: use a value from 0 to 1")
        if not 0 <= self.question_weight <= 1 or not 0 <= self.mmr_lambda <= 1:
            raise OptionError("question_weight and mmr_lambda must be from 0 to 1")
        if self.date_weight < 0 or self.date_scale <= 0:
            raise OptionError(f"date_weight {self.date_weight} must be >= 0 and date_scale {self.date_scale} > 0")
        if self.max_per_source < 1:
            raise OptionError(f"max_per_source {self.max_per_source}: use 1 or more")
        for name in ("since", "until"):
            v = getattr(self, name)
            if v is not None:
                try:
                    date.fromisoformat(v)
                except ValueError:
                    raise OptionError(f"--{name} {v!r} is not a date; use YYYY-MM-DD") from None


@dataclass(frozen=True)
class Suggestion:
    """One suggested question with everything `--explain` shows."""

    question: str
    score: float
    status: str
    item: int
    sources: tuple[str, ...]
    answered_by: tuple[str, ...]
    raised_on: tuple[str, ...] = ()
    matched: tuple[str, ...] = field(default=())
    question_score: float = 0.0
    check_score: float = 0.0

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "score": self.score,
            "status": self.status,
            "sources": list(self.sources),
            "answered_by": list(self.answered_by),
            "raised_on": list(self.raised_on),
            "matched": list(self.matched),
        }


@dataclass
class Article:
    """A new article as the ranker needs it: its vector, its own title and question vectors,
    and its row in the index when it is an archive check (its own questions are then left out)."""

    vector: sp.csr_matrix
    title_vector: sp.csr_matrix
    question_vectors: sp.csr_matrix
    char_vector: sp.csr_matrix
    day: int = -1  # ordinal date, -1 when unknown
    check_row: int | None = None
    text: str | None = None


def article_from_check(index: Index, check: Check) -> Article:
    """Vectorise a parsed article with the index's vocabulary and field weights."""
    parts = field_texts(check)
    qv = [index.text_vector(q) for q in check.questions]
    return Article(
        vector=index.vector(parts),
        title_vector=index.text_vector(check.title),
        question_vectors=sp.vstack(qv, format="csr") if qv else sp.csr_matrix((0, len(index.idf))),
        char_vector=index.char_vector(check),
        day=_ordinal(check.checked_on),
        check_row=own_check_row(index, check.id),
        text="\n".join(parts.values()),
    )


def article_from_row(index: Index, row: int) -> Article:
    """The archive check in ``row`` as a new article, from the stored vectors (batch job)."""
    members = index.members_of(row)
    titles = members[np.asarray(index.member_is_title)[members]]
    questions = members[~np.asarray(index.member_is_title)[members]]
    return Article(
        vector=index.checks_matrix[row],
        title_vector=index.member_matrix[titles[:1]],
        question_vectors=index.member_matrix[questions],
        char_vector=index.char_matrix[row],
        day=int(index.check_dates[row]),
        check_row=row,
    )


def _context_max(index: Index, check_scores: np.ndarray) -> np.ndarray:
    """Per pool item, the best score among the checks that raised or answered it (rows x items)."""
    n_items = index.pool_matrix.shape[0]
    out = np.zeros((check_scores.shape[0], n_items), dtype=np.float64)
    if len(index.pair_item):
        vals = check_scores[:, index.pair_check]
        starts = np.flatnonzero(np.r_[True, index.pair_item[1:] != index.pair_item[:-1]])
        out[:, index.pair_item[starts]] = np.maximum.reduceat(vals, starts, axis=1)
    return out


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


def _dot(matrix: sp.csr_matrix, vectors: sp.csr_matrix, postings: sp.csc_matrix | None = None) -> np.ndarray:
    """Dense (rows of ``vectors``) x (rows of ``matrix``) dot products.

    ``matrix @ vectors.T`` keeps the big matrix in its stored CSR form (transposing it would
    cost more than the product for one article). With ``postings`` (the same matrix stored
    term by term; for a few rows) each row reads only its own terms' columns instead. Every
    path sums a row's terms in term order in float32, so the batch job and `suggest for` get
    identical numbers.
    """
    if postings is not None:
        out = np.zeros((vectors.shape[0], matrix.shape[0]), dtype=np.float64)
        for r in range(vectors.shape[0]):
            v = vectors[r]
            if v.nnz:
                v.sort_indices()
                out[r] = postings[:, v.indices] @ np.asarray(v.data, dtype=np.float32)
        return out
    return np.asarray((matrix @ vectors.T).T.todense(), dtype=np.float64)


def _ordinal(d: str | None) -> int:
    try:
        return date.fromisoformat(d).toordinal() if d else -1
    except ValueError:
        return -1


def date_prior(days: np.ndarray, check_dates: np.ndarray, scale: float) -> np.ndarray:
    """Closeness in time of each article to each check (articles x checks), in [0, 1]:
    ``1 / (1 + |days apart| / scale)``; 0 when either date is unknown (-1)."""
    d = np.asarray(days, dtype=np.float64)[:, None]
    c = np.asarray(check_dates, dtype=np.float64)[None, :]
    out = 1.0 / (1.0 + np.abs(d - c) / scale)
    out[(d < 0) | (c < 0)] = 0.0
    return out


def check_scores(index: Index, articles: list[Article], opts: RankOptions) -> np.ndarray:
    """Each article's score for each archive check (articles x checks):
    ``(word + char_weight * char) / (1 + char_weight) * (1 + date_weight * date)``.

    ``word`` is the word cosine; ``char`` the character cosine above its median over the
    archive's checks for this article (any two long texts share many character n-grams), and
    only for checks that share a word with the article: the view re-weighs, never brings in a
    check on its own. ``date`` is `date_prior`: a relevant check dated near the article is
    raised, up to ``1 + date_weight`` times; an unrelated one stays near 0 whatever its date.
    """
    few = len(articles) <= _FEW_ROWS
    word = _dot(
        index.checks_matrix,
        sp.vstack([a.vector for a in articles], format="csr"),
        index.postings("checks") if few else None,
    )
    total, parts = word, 1.0
    shares = word > 0
    cw = index.config.char_weight if len(index.char_idf) else 0.0
    if cw:
        chars = _dot(
            index.char_matrix,
            sp.vstack([a.char_vector for a in articles], format="csr"),
            index.postings("chars") if few else None,
        )
        base = np.median(chars, axis=1, keepdims=True)
        total = total + cw * np.maximum(chars - base, 0.0) * shares
        parts += cw
    total = total / parts
    if opts.date_weight:
        days = np.array([a.day for a in articles])
        if (days >= 0).any():
            total = total * (1.0 + opts.date_weight * date_prior(days, index.check_dates, opts.date_scale))
    return total


def _question_share(index: Index, opts: RankOptions) -> np.ndarray:
    """Per pool item, the share of its score from its own words: ``question_weight`` for an
    item some check raised, 0 for a title only (its check's score already counts it)."""
    raised = np.zeros(index.pool_matrix.shape[0], dtype=bool)
    raised[np.asarray(index.pair_item)[np.asarray(index.pair_raised, dtype=bool)]] = True
    return np.where(raised, opts.question_weight, 0.0)


def score_rows(
    index: Index, articles: list[Article], opts: RankOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scores of every pool item for each article (articles x items).

    Returns (score, question part, check part, per-check scores), scores rounded so ties are
    exact and broken by item order.
    """
    q = _dot(index.pool_matrix, sp.vstack([a.vector for a in articles], format="csr"))
    c = check_scores(index, articles, opts)
    ctx = _context_max(index, c)
    w = _question_share(index, opts)[None, :]
    score = np.round(w * q + (1 - w) * ctx, SCORE_DECIMALS)
    return score, q, ctx, c


def exclusion_rows(index: Index, articles: list[Article]) -> np.ndarray:
    """Items never to suggest, per article (rows x items): the article's own questions and
    their near-duplicates, questions its title asks too (it answers them), and, for an archive
    check, every pool item its own check raised or answered.

    "Near-duplicate" is the pool's test: single-word cosine at ``dup_threshold``.
    """
    cfg = index.config
    uni = np.asarray(index.unigram, dtype=bool)
    p1 = index.pool_unigram
    titles = unigram_view(sp.vstack([a.title_vector for a in articles], format="csr"), uni)
    out = _dot(p1, titles) >= cfg.dup_threshold
    counts = [a.question_vectors.shape[0] for a in articles]
    if sum(counts):
        qs = unigram_view(
            sp.vstack([a.question_vectors for a in articles if a.question_vectors.shape[0]], format="csr"), uni
        )
        hit = _dot(p1, qs) >= cfg.dup_threshold
        start = 0
        for r, k in enumerate(counts):
            if k:
                out[r] |= hit[start : start + k].any(axis=0)
                start += k
    for r, a in enumerate(articles):
        if a.check_row is not None:
            out[r, index.pair_item[index.pair_check == a.check_row]] = True
    return out


def select(
    index: Index,
    score: np.ndarray,
    allowed: np.ndarray,
    opts: RankOptions,
    check_scores: np.ndarray,
) -> list[int]:
    """Pick up to ``opts.top`` items: best first, diverse (MMR), at most N per source check.

    An item's source is the check that raised it (of several, the one closest to the article);
    an item only answered by a check counts against that check. An item whose shown text is a
    near-duplicate of a chosen one (single-word cosine at the pool's ``dup_threshold``) is never
    added; the same cosine drives the MMR penalty.
    """
    ok = allowed & (score >= opts.min_score) & (score > 0)
    cand = top_items(score, np.flatnonzero(ok), opts.candidates)
    if not len(cand):
        return []
    sims = _gram(index.shown_unigram(cand))
    per_source: dict[int, int] = {}
    chosen: list[int] = []
    remaining = list(range(len(cand)))
    lam = opts.mmr_lambda
    while remaining and len(chosen) < opts.top:
        best, best_val = remaining[0], -np.inf
        for r in remaining:
            penalty = max((sims[r, s] for s in chosen), default=0.0)
            val = lam * score[cand[r]] - (1 - lam) * penalty
            if val > best_val + 1e-12:
                best, best_val = r, val
        remaining.remove(best)
        if any(sims[best, s] >= index.config.dup_threshold for s in chosen):
            continue
        src = _source_of(index, int(cand[best]), check_scores)
        if per_source.get(src, 0) >= opts.max_per_source:
            continue
        per_source[src] = per_source.get(src, 0) + 1
        chosen.append(best)
    items = [int(cand[r]) for r in chosen]
    return sorted(items, key=lambda i: (-score[i], i))


def top_items(score: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best of ``items`` (ascending ids) by ``score``, best first, equal scores in id
    order: a stable sort of the items, without sorting all of them."""
    if len(items) > k:
        # Only items scoring at least the k-th best can be among the first k; all of them,
        # ties included, go to the stable sort.
        floor = np.partition(score[items], len(items) - k)[len(items) - k]
        items = items[score[items] >= floor]
    return items[np.argsort(-score[items], kind="stable")][:k]


def _gram(m: sp.csr_matrix) -> np.ndarray:
    """Dense ``m @ m.T`` for a few rows over a huge vocabulary, without touching every column
    (a sparse transpose costs time in the number of columns)."""
    used, local = np.unique(m.indices, return_inverse=True)
    compact = sp.csr_matrix((m.data, local.ravel(), m.indptr), shape=(m.shape[0], len(used))).toarray()
    return compact @ compact.T


def _source_of(index: Index, item: int, check_scores: np.ndarray) -> int:
    lo, hi = np.searchsorted(index.pair_item, [item, item + 1])
    rows = np.asarray(index.pair_check[lo:hi])
    raised = np.asarray(index.pair_raised[lo:hi], dtype=bool)
    if raised.any():
        rows = rows[raised]
    if not len(rows):
        return -1
    # Stable sort on descending score: equal scores keep the lowest row first.
    return int(rows[np.argsort(-check_scores[rows], kind="stable")[0]])


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


def to_suggestions(
    index: Index,
    items: list[int],
    score: np.ndarray,
    q: np.ndarray,
    ctx: np.ndarray,
    article_text: str | None,
) -> list[Suggestion]:
    out = []
    for i in items:
        rec = index.pool_records[i]
        out.append(
            Suggestion(
                question=rec["text"],
                score=float(score[i]),
                status=rec["status"],
                item=i,
                sources=tuple(rec["raised_by"]),
                answered_by=tuple(rec["answered_by"]),
                raised_on=tuple(rec["raised_on"]),
                matched=matched_words(index, article_text, i) if article_text is not None else (),
                question_score=float(np.round(q[i], SCORE_DECIMALS)),
                check_score=float(np.round(ctx[i], SCORE_DECIMALS)),
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


def rank_rows(
    index: Index, articles: list[Article], opts: RankOptions, explain: bool = False
) -> list[list[Suggestion]]:
    """Rank the pool for several articles at once (chunked sparse products; the batch job's core).

    Each row gets exactly what `suggest` gives for that article alone.
    """
    if not articles:
        return []
    score, q, ctx, checks = score_rows(index, articles, opts)
    allowed = filter_mask(index, opts)[None, :] & ~exclusion_rows(index, articles)
    out = []
    for r, a in enumerate(articles):
        items = select(index, score[r], allowed[r], opts, checks[r])
        out.append(to_suggestions(index, items, score[r], q[r], ctx[r], a.text if explain else None))
    return out


def suggest(index: Index, article: Check, opts: RankOptions | None = None, explain: bool = False) -> list[Suggestion]:
    """Rank the archive's questions for a new article.

    Parameters
    ----------
    index : from `build_index` or `Index.load`.
    article : the parsed article (see `suggest.archive.parse_article`). If its id is an archive
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
