"""The question pool: every dive-deeper question and every check title, near-duplicates
merged into one item (leader grouping, so groups cannot chain), each item linked to the checks
that raised it and to the check that answers it.

Pairs are found through champion postings of the single-word view (each word's heaviest
titles and questions): exact while no word is in more than ``postings_max`` of them; beyond,
a pair seen only through cut lists can be missed, never made up. A question's answer is sought
among its `ANSWER_CANDIDATES` closest titles, so the step grows with the archive, not with its
square.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from suggest.build import champion_postings
from suggest.kernels import row_dots_kernel
from suggest.records import Check, IndexConfig


@dataclass
class Pool:
    """The question pool: near-duplicates merged, each item with its provenance."""

    texts: list[str]
    answered_by: list[list[int]]
    raised_by: list[list[int]]
    variants: list[list[str]]
    member_item: np.ndarray  # pool item of each member (title or question)
    member_check: np.ndarray  # check of each member
    member_is_title: np.ndarray
    shown_member: np.ndarray  # the member whose text each item shows


def _leader_groups(n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Group members by leader: in member order, each member joins the most similar earlier
    leader it has an edge to, or leads a new group.

    Unlike connected components this cannot chain (a~b, b~c, ... pulling in thousands of
    loosely related claims): every member is close to its group's leader.
    """
    order = np.lexsort((np.minimum(a, b), -w))  # strongest edges first, then lowest index
    lo, hi = np.minimum(a, b)[order], np.maximum(a, b)[order]
    # For each later member, its candidate earlier members, strongest first.
    by_later = np.argsort(hi, kind="stable")
    starts = np.searchsorted(hi[by_later], np.arange(n + 1))
    leader = np.arange(n, dtype=np.int64)
    for m in range(n):
        for e in by_later[starts[m] : starts[m + 1]]:
            cand = int(lo[e])
            if leader[cand] == cand:
                leader[m] = cand
                break
    # Relabel by first member so item order follows member (hence check id) order.
    labels: dict[int, int] = {}
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = labels.setdefault(int(leader[i]), len(labels))
    return out


def row_dots(a: sp.csr_matrix, ai: np.ndarray, b: sp.csr_matrix, bi: np.ndarray) -> np.ndarray:
    """Dot products ``a[ai[k]] . b[bi[k]]`` for every k, in float64.

    Each of ``a``'s entries is looked up in ``b``'s row (sorted indices, one binary search), so
    the cost follows ``a``'s short rows (questions, ~10 words), not ``b``'s long ones (whole
    checks): copying and multiplying a check's row for each of its question pairs was the whole
    of the pool step at a million checks.

    Examples
    --------
    >>> a = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]]))
    >>> b = sp.csr_matrix(np.array([[3.0, 0.0, 1.0], [0.0, 5.0, 4.0]]))
    >>> row_dots(a, np.array([0, 0, 1]), b, np.array([0, 1, 1]))
    array([5., 8., 5.])
    """
    ai, bi = np.asarray(ai, dtype=np.int64), np.asarray(bi, dtype=np.int64)
    if not len(ai):
        return np.zeros(0)
    if not b.has_sorted_indices:
        b = b.sorted_indices()
    kernel = row_dots_kernel() if len(ai) >= KERNEL_PAIRS else None
    if kernel is not None:
        out = np.zeros(len(ai))
        kernel(a.indptr, a.indices, a.data, ai, b.indptr, b.indices, b.data, bi, out)
        return out
    starts = a.indptr[ai].astype(np.int64)
    lens = a.indptr[ai + 1].astype(np.int64) - starts
    pair = np.repeat(np.arange(len(ai)), lens)
    pos = np.arange(len(pair)) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(starts, lens)
    needles = a.indices[pos]
    # A binary search in each needle's own row of b, all needles at once (no copy of b's rows).
    lo = b.indptr[bi].astype(np.int64)[pair]
    hi = b.indptr[bi + 1].astype(np.int64)[pair]
    end = hi.copy()
    while True:
        open_ = lo < hi
        if not open_.any():
            break
        mid = (lo + hi) // 2
        right = open_ & (b.indices[np.minimum(mid, len(b.indices) - 1)] < needles)
        lo = np.where(right, mid + 1, lo)
        hi = np.where(open_ & ~right, mid, hi)
    found = lo < end
    found[found] = b.indices[lo[found]] == needles[found]
    prod = np.zeros(len(pair))
    prod[found] = a.data[pos[found]].astype(np.float64) * b.data[lo[found]]
    return np.bincount(pair, weights=prod, minlength=len(ai))


KERNEL_PAIRS = 20_000
"""`row_dots` takes numba's kernel from this many pairs: below, the numpy path is quicker than
importing numba (about 2 s a process; the same sums either way)."""

MEANING_PAIR_FLOOR = 0.2
"""Pairs of questions tested for the same meaning: those whose single-word cosine reaches
this (a rewording keeps some words); it bounds the test as the word postings bound the rest."""

ANSWER_CANDIDATES = 200
"""Titles per question tested as its answer: its closest ones by title cosine."""


def _closest(q: np.ndarray, t: np.ndarray, v: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (q, t) that are among the ``k`` largest ``v`` of their ``q`` (equal values:
    lower ``t`` first); ``q`` non-decreasing. Returned in q order.

    Examples
    --------
    >>> _closest(np.array([0, 0, 0, 1]), np.array([5, 3, 4, 2]), np.array([0.2, 0.9, 0.2, 0.5]), 2)
    (array([0, 0, 1]), array([3, 4, 2]))
    """
    if not len(q):
        return q, t
    bounds = np.flatnonzero(np.r_[True, q[1:] != q[:-1], True])
    keep = np.ones(len(q), dtype=bool)
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if hi - lo > k:
            order = np.lexsort((t[lo:hi], -v[lo:hi]))
            keep[lo:hi] = False
            keep[lo + order[:k]] = True
    return q[keep], t[keep]


def build_pool(
    checks: Sequence[Check],
    members1: sp.csr_matrix,
    checks1: sp.csr_matrix,
    member_check: np.ndarray,
    member_is_title: np.ndarray,
    member_text: list[str],
    config: IndexConfig,
    chunk: int = 2048,
    member_emb: np.ndarray | None = None,
) -> Pool:
    """Merge near-duplicate questions and link questions to the titles that answer them.

    ``members1`` and ``checks1`` are unigram views. Two questions (or two titles) of different
    checks merge at ``dup_threshold``; a question joins a check's title (is answered by it) when
    it is close to the title (``answer_title_threshold``) and to the whole check
    (``answer_threshold``). With ``member_emb`` (unit embeddings of the members), two of the
    same kind also merge at ``dup_meaning_threshold`` of their embedding cosine when their
    single-word cosine reaches `MEANING_PAIR_FLOOR`.
    """
    n = members1.shape[0]
    a, b, w = _links(members1, checks1, member_check, member_is_title, config, chunk, member_emb)
    item = _leader_groups(n, a, b, w)
    return _items(checks, item, member_check, member_is_title, member_text)


def _links(
    members1: sp.csr_matrix,
    checks1: sp.csr_matrix,
    member_check: np.ndarray,
    member_is_title: np.ndarray,
    config: IndexConfig,
    chunk: int,
    member_emb: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The member pairs (a, b, cosine) to group: near-duplicates, and each question with the
    title of the check that answers it best."""
    n = members1.shape[0]
    dups: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    answers: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    # Pairs are found through the same champion postings the search reads: each word's
    # `postings_max` heaviest titles and questions. While no word is in more members than that
    # the product is every pair's exact cosine; past it, a pair whose shared words are all cut
    # from the other's lists scores lower or is not seen. Without the cut, the product of all
    # pairs grows with the square of the archive (161 s at 100,000 checks, hours at a million).
    mt = champion_postings(members1, config.postings_max)
    exact = mt.nnz == members1.nnz
    ath = config.answer_title_threshold
    for start in range(0, n, chunk):
        block = (members1[start : start + chunk] @ mt).tocoo()
        lowest = min(ath, config.dup_threshold, MEANING_PAIR_FLOOR if member_emb is not None else 1.0)
        close = np.flatnonzero(block.data >= lowest)  # most pairs share a word, no more
        row = block.row[close].astype(np.int64) + start
        col = block.col[close].astype(np.int64)
        sim = block.data[close]
        other = member_check[row] != member_check[col]
        # Answers, from the question's side: its row holds every title it shares a word with
        # (through the cut lists). Only its ANSWER_CANDIDATES closest titles are tested against
        # the whole check: a common question is close to thousands of titles at a million checks.
        ans = other & ~member_is_title[row] & member_is_title[col] & (sim >= ath)
        q, t = _closest(row[ans], col[ans], sim[ans], ANSWER_CANDIDATES)
        whole = row_dots(members1, q, checks1, member_check[t])
        good = whole >= config.answer_threshold
        answers.append((q[good], t[good], whole[good]))
        # Near-duplicates: two questions or two titles. Exact products are symmetric: each pair
        # once. Cut ones: the pair is seen from either side.
        kind = other & (member_is_title[row] == member_is_title[col])
        kind &= (row < col) if exact else (row != col)
        same = kind & (sim >= config.dup_threshold)
        if member_emb is not None:  # the same question in other words
            test = np.flatnonzero(kind & ~same & (sim >= MEANING_PAIR_FLOOR))
            cos = np.einsum(
                "ij,ij->i",
                np.asarray(member_emb[row[test]], dtype=np.float32),
                np.asarray(member_emb[col[test]], dtype=np.float32),
            ).astype(np.float64)
            # Kept with their word cosine as the edge's strength (below every word rule's edge):
            # grouping still prefers the pairs the words find.
            same[test[cos >= config.dup_meaning_threshold]] = True
        dups.append((np.minimum(row, col)[same], np.maximum(row, col)[same], sim[same]))
    rows_a, rows_b, weights = [d[0] for d in dups], [d[1] for d in dups], [d[2] for d in dups]
    if not exact and rows_a:  # a pair seen from both sides: its higher score
        a, b, w = (np.concatenate(x) for x in (rows_a, rows_b, weights))
        order = np.lexsort((-w, b, a))
        first = np.ones(len(order), dtype=bool)
        first[1:] = (a[order][1:] != a[order][:-1]) | (b[order][1:] != b[order][:-1])
        rows_a, rows_b, weights = [a[order][first]], [b[order][first]], [w[order][first]]
    # A question joins at most one title: the check it matches best (no chains of answers).
    aq, at, aw = (np.concatenate([a[k] for a in answers]) if answers else np.zeros(0) for k in range(3))
    best: dict[int, tuple[float, int]] = {}
    for qi, ti, w in zip(aq.astype(np.int64).tolist(), at.astype(np.int64).tolist(), aw.tolist(), strict=True):
        if qi not in best or (w, -ti) > (best[qi][0], -best[qi][1]):
            best[qi] = (w, ti)
    rows_a.append(np.fromiter(best.keys(), dtype=np.int64, count=len(best)))
    rows_b.append(np.fromiter((v[1] for v in best.values()), dtype=np.int64, count=len(best)))
    weights.append(np.fromiter((v[0] for v in best.values()), dtype=np.float64, count=len(best)))
    return (
        np.concatenate(rows_a).astype(np.int64),
        np.concatenate(rows_b).astype(np.int64),
        np.concatenate(weights).astype(np.float64),
    )


def _items(
    checks: Sequence[Check],
    item: np.ndarray,
    member_check: np.ndarray,
    member_is_title: np.ndarray,
    member_text: list[str],
) -> Pool:
    """The pool from each member's item: who raised and who answers each item, its wordings,
    and the text it shows (of the earliest dated check that raised it, else of its title)."""
    n = len(item)
    n_items = int(item.max()) + 1 if n else 0
    answered_by: list[list[int]] = [[] for _ in range(n_items)]
    raised_by: list[list[int]] = [[] for _ in range(n_items)]
    variants: list[list[str]] = [[] for _ in range(n_items)]
    first_member: dict[tuple[int, int], int] = {}
    for m in range(n):
        it, ci = int(item[m]), int(member_check[m])
        if member_is_title[m]:
            answered_by[it].append(ci)
        else:
            if ci not in raised_by[it]:
                raised_by[it].append(ci)
            first_member.setdefault((it, ci), m)
        if member_text[m] not in variants[it]:
            variants[it].append(member_text[m])

    def when(ci: int) -> tuple[int, str, str]:
        d = checks[ci].checked_on
        return (0 if d else 1, d or "", checks[ci].id)

    shown: list[int] = []
    title_member = {int(member_check[m]): int(m) for m in np.flatnonzero(member_is_title)}
    for it in range(n_items):
        if raised_by[it]:
            shown.append(int(first_member[(it, min(raised_by[it], key=when))]))
        else:
            shown.append(title_member[min(answered_by[it], key=when)])
    texts = [member_text[m] for m in shown]
    return Pool(
        texts, answered_by, raised_by, variants, item, member_check, member_is_title, np.asarray(shown, dtype=np.int64)
    )
