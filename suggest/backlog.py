"""The research backlog: the archive's open questions, ranked for editors.

A question is open when no check of the archive answers it (its pool item has no answering
title). Each open question gets three parts, each from 0 to 1:

- ``raised``: how many checks raised it, ``log(1 + n) / log(1 + n_max)`` where ``n_max`` is
  the most any open question was raised (so the most-raised question has 1).
- ``recent``: how related it is to recent coverage: the best cosine similarity between the
  question and a check dated within ``recent_days`` of the newest check date in the archive
  (never today's date, so the same archive gives the same backlog), divided by the largest
  such value over all open questions. 0 when no check is dated.
- ``central``: how central it is to a topic cluster: the mean cosine similarity between the
  question and its ``neighbours`` most similar checks among those that did not raise it
  (fewer such checks count as 0), divided by the largest such mean over all open questions.

When the index carries embeddings (`suggest.embed`), a question's similarity to a check is
the mean of their word cosine and their embedding cosine (``semantic=False``: words only).

A question is compared with whole checks, so cosines are small (often under 0.3); dividing
by the maximum puts all three parts on the same 0..1 scale before they are weighted.

``score = 0.4 * raised + 0.3 * recent + 0.3 * central``, rounded to 6 decimals; ties are
broken by pool order (which follows check ids), so the order is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from suggest.errors import OptionError
from suggest.index import Index

WEIGHTS = {"raised": 0.4, "recent": 0.3, "central": 0.3}
FORMULA = "score = 0.4 raised + 0.3 recent + 0.3 central"
DECIMALS = 6
SHOWN_CHECKS = 10
"""Text, markdown and html list at most this many raising checks per question (json: all)."""
_BLOCK_CELLS = 8_000_000  # similarities computed per block (64 MB of float64)


@dataclass(frozen=True)
class BacklogRow:
    """One open question with its score parts and the checks that raised it."""

    rank: int
    item: int
    question: str
    score: float
    raised: int
    raised_part: float
    recent: float
    central: float
    checks: tuple[dict, ...]  # {"id", "title", "checked_on", "url"} of each check that raised it
    variants: tuple[str, ...] = ()
    accepted: int | None = None  # for how many articles editors accepted it (None: feedback not read)

    def to_dict(self) -> dict:
        extra = {} if self.accepted is None else {"accepted": self.accepted}
        return {
            **extra,
            "rank": self.rank,
            "question": self.question,
            "score": self.score,
            "raised": self.raised,
            "parts": {"raised": self.raised_part, "recent": self.recent, "central": self.central},
            "checks": [dict(c) for c in self.checks],
            "variants": list(self.variants),
        }


@dataclass(frozen=True)
class Backlog:
    """The ranked open questions and what "recent" meant."""

    rows: tuple[BacklogRow, ...]
    open_questions: int
    recent_days: int
    newest: str | None  # newest check date in the archive
    recent_since: str | None
    recent_checks: int
    formula: str = FORMULA
    weights: dict = field(default_factory=lambda: dict(WEIGHTS))

    def to_dict(self) -> dict:
        return {
            "open_questions": self.open_questions,
            "shown": len(self.rows),
            "recent_days": self.recent_days,
            "newest": self.newest,
            "recent_since": self.recent_since,
            "recent_checks": self.recent_checks,
            "formula": self.formula,
            "rows": [r.to_dict() for r in self.rows],
        }


def _round(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x, dtype=np.float64), DECIMALS)


def _scaled(x: np.ndarray) -> np.ndarray:
    """Divided by its maximum (question-to-check cosines are small; this puts them on 0..1)."""
    top = float(x.max()) if len(x) else 0.0
    return _round(x / top) if top > 0 else _round(x)


def backlog(
    index: Index, recent_days: int = 90, top: int | None = 20, neighbours: int = 5, semantic: bool = True
) -> Backlog:
    """Rank the archive's open questions (see the module docstring for the formula).

    Parameters
    ----------
    index : the archive's index.
    recent_days : "recent" means dated within this many days of the newest check date.
    top : how many rows to keep (None: all open questions).
    neighbours : how many most similar checks make a question's ``central`` part.
    semantic : use the index's embeddings when it has them.

    Returns
    -------
    Backlog

    Raises
    ------
    OptionError
        For ``recent_days`` below 0, or ``top`` or ``neighbours`` below 1.

    Examples
    --------
    >>> b = backlog(index, recent_days=30, top=10)  # doctest: +SKIP
    >>> b.rows[0].question  # doctest: +SKIP
    'Do large cohort studies link the MMR vaccine to autism?'
    """
    if recent_days < 0:
        raise OptionError(f"--recent {recent_days}: use 0 or more days")
    if top is not None and top < 1:
        raise OptionError(f"--top {top}: ask for at least 1 question")
    if neighbours < 1:
        raise OptionError(f"neighbours={neighbours}: use 1 or more")
    n_items = index.pool_matrix.shape[0]
    pair_item = np.asarray(index.pair_item, dtype=np.int64)
    answered = np.asarray(index.answered, dtype=bool)
    raised_n = (
        np.bincount(pair_item[~answered[pair_item]], minlength=n_items) if len(pair_item) else np.zeros(n_items, int)
    )
    open_items = np.flatnonzero(~answered & (raised_n > 0))

    dates = np.asarray(index.check_dates, dtype=np.int64)
    dated = dates >= 0
    newest = int(dates[dated].max()) if dated.any() else None
    recent_rows = (
        np.flatnonzero(dated & (dates >= newest - recent_days)) if newest is not None else np.zeros(0, np.int64)
    )

    recent, central = _closeness(index, open_items, recent_rows, neighbours, semantic and index.semantic)

    n = raised_n[open_items]
    n_max = int(n.max()) if len(n) else 0
    raised_part = np.log1p(n) / math.log1p(n_max) if n_max else np.zeros(len(n))
    recent, central, raised_part = _scaled(recent), _scaled(central), _round(raised_part)
    score = _round(WEIGHTS["raised"] * raised_part + WEIGHTS["recent"] * recent + WEIGHTS["central"] * central)
    order = np.lexsort((open_items, -score))  # best first; ties by item
    if top is not None:
        order = order[:top]

    rows = []
    starts = np.searchsorted(pair_item, open_items[order])
    for rank, (o, lo) in enumerate(zip(order.tolist(), starts.tolist(), strict=True), 1):
        item = int(open_items[o])
        parts = (float(score[o]), int(n[o]), float(raised_part[o]), float(recent[o]), float(central[o]))
        rows.append(_row(index, rank, item, lo, parts))
    iso = (lambda d: date.fromordinal(d).isoformat()) if newest is not None else None
    return Backlog(
        rows=tuple(rows),
        open_questions=len(open_items),
        recent_days=recent_days,
        newest=iso(newest) if iso else None,
        recent_since=(date.fromordinal(newest) - timedelta(days=recent_days)).isoformat()
        if newest is not None
        else None,
        recent_checks=len(recent_rows),
    )


def _closeness(
    index: Index, open_items: np.ndarray, recent_rows: np.ndarray, neighbours: int, semantic: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Per open item: its best similarity to a recent check, and its mean similarity to its
    ``neighbours`` closest checks other than its own (a block of items at a time); similarity
    is the word cosine, or with ``semantic`` the mean of it and the embedding cosine."""
    pool, checks = index.pool_matrix, index.checks_matrix
    n_checks = checks.shape[0]
    pair_item = np.asarray(index.pair_item, dtype=np.int64)
    pair_check = np.asarray(index.pair_check, dtype=np.int64)
    recent = np.zeros(len(open_items))
    central = np.zeros(len(open_items))
    k = min(neighbours, n_checks)
    block = max(1, _BLOCK_CELLS // max(n_checks, 1))
    for s in range(0, len(open_items), block):
        items = open_items[s : s + block]
        # The big matrix on the left, as the ranker does, so similarities agree to the last bit.
        sims = np.asarray((checks @ pool[items].T).T.todense(), dtype=np.float64)
        if semantic:
            assert index.pool_emb is not None and index.check_emb is not None
            emb = np.asarray(index.pool_emb[items], dtype=np.float32) @ np.asarray(index.check_emb, dtype=np.float32).T
            sims = (sims + np.maximum(emb, 0).astype(np.float64)) / 2.0
        if len(recent_rows):
            recent[s : s + len(items)] = sims[:, recent_rows].max(axis=1)
        lo, hi = np.searchsorted(pair_item, [items[0], items[-1] + 1])
        pi, pc = pair_item[lo:hi], pair_check[lo:hi]
        pos = np.searchsorted(items, pi)
        mine = (pos < len(items)) & (items[np.minimum(pos, len(items) - 1)] == pi)
        sims[pos[mine], pc[mine]] = -1.0  # a question's own checks are not its cluster
        best = -np.partition(-sims, k - 1, axis=1)[:, :k]
        central[s : s + len(items)] = np.clip(best, 0, None).mean(axis=1)
    return recent, central


def _row(index: Index, rank: int, item: int, lo: int, parts: tuple[float, int, float, float, float]) -> BacklogRow:
    """The backlog row of ``item`` (its pairs start at ``lo``): its figures, the checks that
    raised it (earliest dated first), its other wordings."""
    score, raised, raised_part, recent, central = parts
    pair_item = np.asarray(index.pair_item, dtype=np.int64)
    pair_check = np.asarray(index.pair_check, dtype=np.int64)
    hi = int(np.searchsorted(pair_item, item + 1))
    raisers = [index.check_records[int(r)] for r in pair_check[lo:hi]]
    raisers.sort(key=lambda c: (c.get("checked_on") is None, c.get("checked_on") or "", c["id"]))
    rec = index.pool_records[item]
    return BacklogRow(
        rank=rank,
        item=item,
        question=rec["text"],
        score=score,
        raised=raised,
        raised_part=raised_part,
        recent=recent,
        central=central,
        checks=tuple(
            {"id": c["id"], "title": c["title"], "checked_on": c.get("checked_on"), "url": c.get("url")}
            for c in raisers
        ),
        variants=tuple(v for v in rec.get("variants", []) if v != rec["text"]),
    )
