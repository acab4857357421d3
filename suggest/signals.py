"""The similarity signals and the one formula that combines them.

A signal scores a chunk of articles against the archive, at one of two levels:

- **check** signals score the archive checks an article reaches through its words (a check
  it shares no word with is not reached, whatever the other signals say);
- **question** signals score the pool items; each gives, per article, a sparse row of items
  (those it scores above 0), so that the ranking can bound what it leaves out.

Each is either a **mean** signal (a term of the weighted mean) or a **prior** (a factor).
A check's score is ``(sum of w * x over mean signals) / (sum of w) * prod(1 + w * p)`` over the
priors; a pool item's own-words score is the weighted mean of the question signals (`combine`
is the only place either is written). The default signals are `Words` (TF-IDF cosine; weight
1), `Characters` (character n-gram cosine above the article's mean; weight
``IndexConfig.char_weight``) and `Dates` (closeness in time; prior, weight
``RankOptions.date_weight``). `RankOptions.signals` names the set: adding a signal is a new
class here (or anywhere: any object with this interface) and a setting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import scipy.sparse as sp

from suggest import kernels
from suggest.kernels import Workspace
from suggest.records import RankOptions

if TYPE_CHECKING:
    from suggest.index import Index


@dataclass
class Article:
    """A new article as the signals need it: its vector, its own title and question vectors,
    and its row in the index when it is an archive check (its own questions are then left out)."""

    vector: sp.csr_matrix
    title_vector: sp.csr_matrix
    question_vectors: sp.csr_matrix
    char_vector: sp.csr_matrix
    day: int = -1  # ordinal date, -1 when unknown
    check_row: int | None = None
    text: str | None = None
    own_words: tuple[np.ndarray, np.ndarray] | None = None  # see `suggest.select.own_words`
    embedding: np.ndarray | None = None  # unit vector (`suggest.embed`), when the index has them
    embed_text: str = ""  # the text it is encoded from (`suggest.embed.check_text`)
    own_texts: tuple[str, ...] = ()  # its title and own questions (restatements by meaning)
    own_embeddings: np.ndarray | None = None  # their unit vectors, when needed


@dataclass
class Chunk:
    """A chunk of articles being ranked, and what every signal may read: the index, the
    options, the articles' cut word vectors (`query_words`), the caller's workspace, and
    ``kernel`` (the batch's numba kernels instead of scipy's products: the same numbers)."""

    index: Index
    opts: RankOptions
    articles: list[Article]
    words: sp.csr_matrix
    ws: Workspace
    kernel: bool = False
    memo: dict | None = None  # arrays a `Ranker` keeps for its index (e.g. compact dates)

    def search(self, name: str, a: sp.csr_matrix) -> sp.csr_matrix:
        """``a`` times the index's search postings ``name`` (articles x rows)."""
        search = self.index.search(name)
        start = time.perf_counter()
        if self.kernel:
            out = kernels.block_product(a, search, self.ws, name, self.index.search_lens(name))
        else:
            out = kernels.product(a, search)
        if self.ws.profile is not None:
            self.ws.note(f"product {name} s", time.perf_counter() - start)
            self.ws.note(f"{name} postings read", float(self.index.search_lens(name)[a.indices].sum()))
            self.ws.note(f"{name} entries out", out.nnz)
        return out


class Signal:
    """What a signal is: a ``name``, a ``level`` (``"check"`` or ``"question"``), a ``role``
    (``"mean"`` or ``"prior"``), a `weight` (0 leaves it out), and its scores: `at` for check
    signals (values at the word-reached entries of ``reach``, articles x checks), `rows` for
    question signals (articles x pool items, sparse, values >= 0)."""

    name: ClassVar[str] = ""
    level: ClassVar[str] = "check"
    role: ClassVar[str] = "mean"

    def weight(self, index: Index, opts: RankOptions) -> float:
        raise NotImplementedError

    def at(self, chunk: Chunk, reach: sp.csr_matrix) -> np.ndarray:
        """Check signals: a float64 value for each entry of ``reach`` (aligned with its data)."""
        raise NotImplementedError

    def rows(self, chunk: Chunk) -> sp.csr_matrix:
        """Question signals: each article's scores for the pool items (articles x items)."""
        raise NotImplementedError


class Words(Signal):
    """The TF-IDF cosine of the article's heaviest terms with checks and with pool items, over
    the champion postings. It also decides which checks an article reaches."""

    name = "words"
    level = "both"

    def weight(self, index: Index, opts: RankOptions) -> float:
        return 1.0

    def reach(self, chunk: Chunk) -> sp.csr_matrix:
        return chunk.search("checks", chunk.words)

    def at(self, chunk: Chunk, reach: sp.csr_matrix) -> np.ndarray:
        return np.asarray(reach.data, dtype=np.float64)

    def rows(self, chunk: Chunk) -> sp.csr_matrix:
        return chunk.search("pool", chunk.words)


class Characters(Signal):
    """The cosine of character 2-4-grams (glued hashtags, misspellings, names), above the
    article's mean cosine over the archive (any two long texts share many n-grams), for the
    checks the words reached: it re-weighs, it never brings in a check."""

    name = "chars"

    def weight(self, index: Index, opts: RankOptions) -> float:
        return float(index.config.char_weight) if len(index.char_idf) else 0.0

    def grams(self, chunk: Chunk) -> sp.csr_matrix:
        """The articles' character vectors as the search reads them (heaviest ``query_grams``,
        then ``gram_postings``)."""
        opts, index = chunk.opts, chunk.index
        grams = kernels.strongest([a.char_vector for a in chunk.articles], opts.query_grams)
        if opts.gram_postings:
            grams = kernels.within_budget(grams, index.search_lens("chars"), opts.gram_postings)
        return grams

    def raw(self, chunk: Chunk, reach: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """(the character cosines at ``reach``'s entries, float32; each article's baseline)."""
        grams = self.grams(chunk)
        start = time.perf_counter()
        at = (kernels.chars_at_masked if chunk.kernel else kernels.chars_at)(
            grams, chunk.index.search("chars"), reach, chunk.ws
        )
        if chunk.ws.profile is not None:
            chunk.ws.note("product chars s", time.perf_counter() - start)
            chunk.ws.note("chars postings read", float(chunk.index.search_lens("chars")[grams.indices].sum()))
        base = np.asarray(grams @ np.asarray(chunk.index.char_mean, dtype=np.float64)).ravel()
        return at, base

    def at(self, chunk: Chunk, reach: sp.csr_matrix) -> np.ndarray:
        at, base = self.raw(chunk, reach)
        rows = np.repeat(np.arange(reach.shape[0]), np.diff(reach.indptr))
        # Checks the character view does not reach get 0 - base, which the maximum drops.
        return np.maximum(np.asarray(at, dtype=np.float64) - base[rows], 0.0)


def date_prior(days: np.ndarray, check_dates: np.ndarray, scale: float) -> np.ndarray:
    """Closeness in time of each article to each check (articles x checks), in [0, 1]:
    ``1 / (1 + |days apart| / scale)``; 0 when either date is unknown (-1)."""
    d = np.asarray(days, dtype=np.float64)[:, None]
    c = np.asarray(check_dates, dtype=np.float64)[None, :]
    out = 1.0 / (1.0 + np.abs(d - c) / scale)
    out[(d < 0) | (c < 0)] = 0.0
    return out


class Dates(Signal):
    """Claims are checked while they circulate: a check dated near the article is raised by
    ``1 + date_weight / (1 + days apart / date_scale)``; no factor when either date is unknown."""

    name = "dates"
    role = "prior"

    def weight(self, index: Index, opts: RankOptions) -> float:
        return float(opts.date_weight)

    def at(self, chunk: Chunk, reach: sp.csr_matrix) -> np.ndarray:
        dates = np.asarray(chunk.index.check_dates)
        out = np.zeros(reach.nnz, dtype=np.float64)
        for r, a in enumerate(chunk.articles):
            if a.day < 0:
                continue
            lo, hi = reach.indptr[r], reach.indptr[r + 1]
            c = dates[reach.indices[lo:hi]]
            out[lo:hi] = np.where(c >= 0, 1.0 / (1.0 + np.abs(a.day - c) / chunk.opts.date_scale), 0.0)
        return out


class Meaning(Signal):
    """The cosine of the article's sentence embedding with each check's (its title and
    summary, `suggest.embed`), for the checks the words reached: it finds the same claim in
    other words ("jab" / "vaccine"); 0 when the index has no embeddings."""

    name = "meaning"

    def weight(self, index: Index, opts: RankOptions) -> float:
        return float(opts.meaning_weight) if index.semantic else 0.0

    def at(self, chunk: Chunk, reach: sp.csr_matrix) -> np.ndarray:
        emb = chunk.index.check_emb
        assert emb is not None
        out = np.zeros(reach.nnz, dtype=np.float64)
        for r, a in enumerate(chunk.articles):
            lo, hi = reach.indptr[r], reach.indptr[r + 1]
            if a.embedding is None or lo == hi:
                continue
            rows = np.asarray(emb[reach.indices[lo:hi]], dtype=np.float32)
            out[lo:hi] = np.maximum(rows @ np.asarray(a.embedding, dtype=np.float32), 0.0)
        return out


class QuestionMeaning(Signal):
    """The cosine of the article's embedding with each raised question's, among the article's
    ``meaning_items`` nearest (0 for the others): one more own-words signal of a question."""

    name = "meaning-q"
    level = "question"
    BLOCK = 65536  # pool rows per dense product

    def weight(self, index: Index, opts: RankOptions) -> float:
        return float(opts.meaning_question_weight) if index.semantic else 0.0

    def rows(self, chunk: Chunk) -> sp.csr_matrix:
        emb = chunk.index.pool_emb
        assert emb is not None
        n, k = len(chunk.articles), chunk.opts.meaning_items
        vecs = np.zeros((n, emb.shape[1]), dtype=np.float32)
        for r, a in enumerate(chunk.articles):
            if a.embedding is not None:
                vecs[r] = a.embedding
        best_c = np.zeros((n, 0), dtype=np.int64)
        best_v = np.zeros((n, 0), dtype=np.float32)
        for lo in range(0, emb.shape[0], self.BLOCK):  # dense products a block of the pool at a time
            block = np.asarray(emb[lo : lo + self.BLOCK], dtype=np.float32)
            sims = vecs @ block.T
            cols = np.broadcast_to(np.arange(lo, lo + block.shape[0], dtype=np.int64), sims.shape)
            best_c, best_v = _top_k(np.hstack([best_c, cols]), np.hstack([best_v, sims]), k)
        keep = best_v > 0
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(keep.sum(axis=1), out=indptr[1:])
        m = sp.csr_matrix(
            (best_v[keep].astype(np.float64), best_c[keep], indptr), shape=(n, chunk.index.pool_matrix.shape[0])
        )
        m.sort_indices()
        return m


def _top_k(cols: np.ndarray, vals: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` largest values (ties: lowest column), with their columns."""
    if vals.shape[1] <= k:
        return cols, vals
    out_c = np.zeros((vals.shape[0], k), dtype=np.int64)
    out_v = np.zeros((vals.shape[0], k), dtype=vals.dtype)
    for r in range(vals.shape[0]):
        v, c = vals[r], cols[r]
        t = v[np.argpartition(-v, k - 1)[:k]].min()
        cand = np.flatnonzero(v >= t)  # the k largest and any ties with the k-th
        pick = cand[np.lexsort((c[cand], -v[cand]))[:k]]
        out_c[r], out_v[r] = c[pick], v[pick]
    return out_c, out_v


SIGNALS: dict[str, Signal] = {s.name: s for s in (Words(), Characters(), Dates(), Meaning(), QuestionMeaning())}
"""The signals `RankOptions.signals` can name (by default all five; the two of meaning count
only when the index carries embeddings)."""


def resolve(opts: RankOptions) -> list[Signal]:
    """The signals of ``opts``, words first: names are looked up in `SIGNALS`, objects are
    taken as they are."""
    out: list[Signal] = [SIGNALS["words"]]
    for s in opts.signals:
        sig = SIGNALS[s] if isinstance(s, str) else s
        if sig.name != "words":
            out.append(sig)
    return out


def combine(means: list[tuple[float, np.ndarray]], priors: list[tuple[float, np.ndarray]] = ()) -> np.ndarray:  # type: ignore[assignment]
    """The score formula: ``(sum of w * x) / (sum of w)`` over the mean signals, times
    ``(1 + w * p)`` for each prior (float64, in this order, so that the batch's fused kernel,
    `kernels.finish_kernel`, gives the same numbers; tested)."""
    total = np.zeros(len(means[0][1]), dtype=np.float64) if means else np.zeros(0)
    weight = 0.0
    for w, x in means:
        total = total + w * np.asarray(x, dtype=np.float64)
        weight += w
    total = total / weight if weight else total
    for w, p in priors:
        total = total * (1.0 + w * p)
    return total


def query_words(index: Index, articles: list[Article], opts: RankOptions) -> sp.csr_matrix:
    """The articles' word vectors as the search reads them: each cut to its ``query_terms``
    heaviest terms, then to ``term_postings`` postings in the checks (see `RankOptions`)."""
    words = kernels.strongest([a.vector for a in articles], opts.query_terms)
    if opts.term_postings:
        words = kernels.within_budget(words, index.search_lens("checks"), opts.term_postings)
    return words


def check_rows(chunk: Chunk) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per article, the checks it reaches and their scores (`combine` over the check signals)."""
    signals = [s for s in resolve(chunk.opts) if s.level in ("check", "both")]
    weights = [s.weight(chunk.index, chunk.opts) for s in signals]
    # A signal of weight 0 adds nothing; dropping it here keeps the fused kernel's case.
    kept = [(s, w) for s, w in zip(signals, weights, strict=True) if w or s.name in ("words", "chars", "dates")]
    signals, weights = [s for s, _ in kept], [w for _, w in kept]
    words = signals[0]
    assert isinstance(words, Words)
    reach = words.reach(chunk)
    fused = _fused(chunk, reach, signals, weights)
    if fused is not None:
        total = fused
    else:
        means = [(w, s.at(chunk, reach)) for s, w in zip(signals, weights, strict=True) if w and s.role == "mean"]
        priors = [(w, s.at(chunk, reach)) for s, w in zip(signals, weights, strict=True) if w and s.role == "prior"]
        total = combine(means, priors)
    ptr = reach.indptr
    return [
        (reach.indices[ptr[r] : ptr[r + 1]].astype(np.int64), total[ptr[r] : ptr[r + 1]].copy())
        for r in range(len(chunk.articles))
    ]


def _fused(chunk: Chunk, reach: sp.csr_matrix, signals: list[Signal], weights: list[float]) -> np.ndarray | None:
    """`combine` for exactly words, characters and dates in the batch's numba kernel (one pass,
    a table of date closeness by distance), or None when it does not apply."""
    names = tuple(s.name for s in signals)
    if not chunk.kernel or names != ("words", "chars", "dates") or not weights[1]:
        return None
    finish = kernels.finish_kernel()
    if finish is None:
        return None
    chars = signals[1]
    assert isinstance(chars, Characters)
    at, base = chars.raw(chunk, reach)
    rel, lo = compact_dates(chunk)
    dw = weights[2]
    dated = np.array([bool(dw) and a.day >= 0 for a in chunk.articles], dtype=np.bool_)
    days = np.array([a.day - lo for a in chunk.articles], dtype=np.int64)
    near = kernels.near_table(rel, days[dated], chunk.opts.date_scale)
    if near is None:
        return None
    total = chunk.ws.buffer("checks.total", reach.nnz, np.float64)
    finish(
        reach.indptr, reach.indices, reach.data, at, base, dated, days, rel, float(weights[1]), float(dw), near, total
    )
    return total


def compact_dates(chunk: Chunk) -> tuple[np.ndarray, int]:
    """(the checks' days counted from the earliest, -1 where undated; the earliest day), in
    the smallest integer type that holds them: the fused kernel looks up one per check reached,
    at random, and at a million checks 8 bytes a day (8 MB) missed the caches for most (0.28 ms
    per article; 2 bytes: see docs/performance.md). Kept in the chunk's memo."""
    memo = chunk.memo if chunk.memo is not None else {}
    if "compact_dates" not in memo:
        dates = np.asarray(chunk.index.check_dates)
        dated = dates >= 0
        lo = int(dates[dated].min()) if dated.any() else 0
        span = int(dates.max()) - lo + 1 if dated.any() else 0
        dtype = np.int16 if span < np.iinfo(np.int16).max else np.int32 if span < np.iinfo(np.int32).max else np.int64
        memo["compact_dates"] = (np.where(dated, dates - lo, -1).astype(dtype), lo)
    return memo["compact_dates"]


def question_rows(chunk: Chunk) -> list[tuple[float, sp.csr_matrix]]:
    """(weight, articles x items scores) of each question signal with a weight, words first."""
    out = []
    for s in resolve(chunk.opts):
        if s.level in ("question", "both"):
            w = s.weight(chunk.index, chunk.opts)
            if w:
                out.append((w, s.rows(chunk)))
    return out


def shares(chunk: Chunk, row: int, item_ctx: list[tuple[int, int]], question_share: np.ndarray) -> list[dict]:
    """For article ``row`` of the chunk and each (pool item, its best check or -1), each
    signal's share of the item's score: the terms of the score formula (`combine` over the
    check signals at that check, over the question signals at that item, mixed by the item's
    ``question_share``), so that the shares add up to the score (a prior's share is what its
    factor adds). For `--explain`; one article, so plain products."""
    index, opts = chunk.index, chunk.opts
    sigs = resolve(opts)
    check_sigs = [(s, s.weight(index, opts)) for s in sigs if s.level in ("check", "both")]
    check_sigs = [(s, w) for s, w in check_sigs if w]
    words = check_sigs[0][0]
    assert isinstance(words, Words)
    reach = words.reach(chunk)
    lo, hi = reach.indptr[row], reach.indptr[row + 1]
    at = {s.name: s.at(chunk, reach)[lo:hi] for s, _ in check_sigs}
    reached = reach.indices[lo:hi]
    q_sigs = [(s, s.weight(index, opts)) for s in sigs if s.level in ("question", "both")]
    q_sigs = [(s, w) for s, w in q_sigs if w]
    q_rows = {s.name: s.rows(chunk)[row] for s, _ in q_sigs}
    out = []
    for item, check in item_ctx:
        part: dict[str, float] = {}
        share = float(question_share[item])
        qw = sum(w for _, w in q_sigs)
        for s, w in q_sigs:
            r = q_rows[s.name]
            hit = np.flatnonzero(r.indices == item)
            x = float(r.data[hit[0]]) if len(hit) else 0.0
            part[s.name] = part.get(s.name, 0.0) + share * w * x / qw
        k = np.flatnonzero(reached == check) if check >= 0 else np.zeros(0, dtype=np.int64)
        if len(k):
            means = [(s, w) for s, w in check_sigs if s.role == "mean"]
            mw = sum(w for _, w in means)
            mean = sum(w * float(at[s.name][k[0]]) for s, w in means) / mw
            factor = 1.0
            for s, w in check_sigs:
                if s.role == "prior":
                    factor *= 1.0 + w * float(at[s.name][k[0]])
            for s, w in means:
                part[s.name] = part.get(s.name, 0.0) + (1 - share) * w * float(at[s.name][k[0]]) / mw
            priors = [s for s, _ in check_sigs if s.role == "prior"]
            for s in priors:  # with one prior (dates) exact; with more, split evenly
                part[s.name] = part.get(s.name, 0.0) + (1 - share) * mean * (factor - 1.0) / len(priors)
        out.append({name: round(v, 6) for name, v in part.items()})
    return out
