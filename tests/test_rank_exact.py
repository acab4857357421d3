"""The ranking scores only candidate items (`suggest.rank.Ranker._candidates`); its lists must equal
those of scoring every pool item, which this file computes densely as the oracle."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from suggest import kernels as K
from suggest import rank as R
from suggest import select as S
from suggest import signals as G
from suggest.archive import read_archive
from suggest.index import build_index
from suggest.records import Check, IndexConfig, RankOptions


def dense_row(ix, art, opts, extra=None) -> R.RowScores:
    """Every pool item scored: the definition `Ranker._candidates` must agree with. ``extra``:
    a toy question signal (tests/test_signals.py), averaged into the own-words score."""
    cs = R.check_scores(ix, [art], opts)
    checks = cs.indices.astype(np.int64), cs.data
    full = cs.toarray()[0]
    words = K.strongest([art.vector], opts.query_terms)
    q = np.asarray((words @ ix.search("pool")).toarray()[0], dtype=np.float64)
    if extra is not None:
        q_extra = extra.rows(R.Ranker(ix, opts).chunk([art])).toarray()[0]
        q = (1.0 * q + extra.w * q_extra) / (1.0 + extra.w)
    n = ix.pool_matrix.shape[0]
    ctx = np.zeros(n)
    for item, check in zip(ix.pair_item.tolist(), ix.pair_check.tolist(), strict=True):
        ctx[item] = max(ctx[item], full[check])
    w = R._question_share(ix, opts)
    score = np.round(w * q + (1 - w) * ctx, R.SCORE_DECIMALS)
    items = np.arange(n)
    allowed = S.filter_mask(ix, opts) & ~S.near_duplicates(ix, art, items) & (score >= opts.min_score) & (score > 0)
    if art.check_row is not None:
        allowed[ix.pair_item[ix.pair_check == art.check_row]] = False
    source = np.full(n, -1)
    for item in range(n):
        pairs = [p for p in range(len(ix.pair_item)) if ix.pair_item[p] == item]
        raised = [p for p in pairs if ix.pair_raised[p]] or pairs
        best = sorted(raised, key=lambda p: (-full[ix.pair_check[p]], ix.pair_check[p]))
        source[item] = ix.pair_check[best[0]] if best else -1
    return R.RowScores(items, score, q, ctx, allowed, source, *checks)


@pytest.fixture(scope="module")
def pruned(corpus_dir):
    """The shipped corpus with very short search postings (3 checks per term), so most scores
    differ from exact cosines and the candidate step has work to do."""
    checks = read_archive(corpus_dir).checks
    return build_index(checks, IndexConfig(postings_max=3)), checks


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 63),
    st.booleans(),
    st.sampled_from([0.0, 0.02, 0.1]),
    st.integers(1, 8),
    st.booleans(),
    st.sampled_from([0.3, 0.7, 1.0]),
)
def test_candidate_lists_equal_scoring_every_item(pruned, row, as_check, floor, top, open_only, lam):
    ix, checks = pruned
    check = checks[row]
    art = R.article_from_check(ix, check if as_check else replace(check, id="draft"))
    # restate_whole=0: the oracle below writes out the other exclusions (test_list_rules pins that one).
    opts = RankOptions(
        top=top, min_score=floor, open_only=open_only, mmr_lambda=lam, candidates=max(top, 2), restate_whole=0
    )
    first, R.FIRST_REACH = R.FIRST_REACH, 1  # start from a handful of checks: the loop must grow
    try:
        got = R.rank_rows(ix, [art], opts)[0]
    finally:
        R.FIRST_REACH = first
    want_row = dense_row(ix, art, opts)
    want = R.to_suggestions(ix, S.select(ix, want_row, opts), want_row, None)
    assert [s.to_dict() for s in got] == [s.to_dict() for s in want]


def test_the_candidate_loop_really_prunes(pruned, monkeypatch):
    """Not a vacuous oracle: with a small reach the first round leaves items out and must grow."""
    ix, checks = pruned
    monkeypatch.setattr(R, "FIRST_REACH", 1)
    art = R.article_from_check(ix, replace(checks[0], id="draft"))
    opts = RankOptions(candidates=2)
    rounds = []
    real = K.top_bound
    monkeypatch.setattr(K, "top_bound", lambda vals, m: rounds.append(m) or real(vals, m))
    row = R.score_rows(ix, [art], opts)[0]
    assert len(row.items) < ix.pool_matrix.shape[0]
    assert rounds and rounds[0] == 2
    assert R.check_scores(ix, [art], opts).nnz > 8  # more checks than the first round took


def test_batch_of_rows_equals_each_alone(pruned):
    ix, checks = pruned
    arts = [R.article_from_row(ix, r) for r in range(0, 64, 5)]
    opts = RankOptions(min_score=0)
    together = R.rank_rows(ix, arts, opts)
    alone = [R.rank_rows(ix, [a], opts)[0] for a in arts]
    assert [[s.to_dict() for s in x] for x in together] == [[s.to_dict() for s in x] for x in alone]
    assert sum(len(x) for x in together) > 20


def test_ranges_concatenates_aranges():
    starts, stops = np.array([3, 0, 7, 7]), np.array([5, 0, 9, 8])
    np.testing.assert_array_equal(K.ranges(starts, stops), [3, 4, 7, 8, 7])
    assert len(K.ranges(np.array([], dtype=np.int64), np.array([], dtype=np.int64))) == 0


def test_a_tiny_archive_is_searched_exhaustively():
    """Fewer checks than ``postings_max``: the postings keep everything (exact cosines)."""
    ix = build_index([Check(id=f"c{i}", title=f"Is claim {i} about tea true?") for i in range(5)])
    assert ix.search("checks").nnz == ix.checks_matrix.nnz


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from([0.0, 0.0, 0.2, 0.4, 0.4, 0.9]), min_size=6, max_size=6), min_size=1, max_size=5),
    st.integers(0, 7),
)
def test_strongest_keeps_each_rows_heaviest_terms_unit_length(rows, k):
    """Oracle: per row the ``k`` largest weights (equal weights: lower term first), rescaled to
    unit length; all of a row when it has at most ``k`` terms or ``k`` is 0."""
    m = np.array(rows, dtype=np.float32)
    got = K.strongest([sp.csr_matrix(r[None, :]) for r in m], k).toarray()
    for r, row in enumerate(m):
        nz = sorted(np.flatnonzero(row).tolist(), key=lambda t: (-row[t], t))
        want = np.zeros_like(row, dtype=np.float64)
        if nz:
            kept = nz if not k or len(nz) <= k else nz[:k]
            want[kept] = row[kept]
            if k and len(nz) > k:
                want /= np.sqrt((want * want).sum())
        np.testing.assert_allclose(got[r], want, rtol=1e-6)


def test_near_duplicates_equal_the_plain_cosine_test(pruned):
    """Oracle for the exclusion test: single-word cosine of every pool item to the article's
    title and questions, computed with plain sparse products, at ``dup_threshold``."""
    from suggest.index import unigram_view

    ix, checks = pruned
    items = np.arange(ix.pool_matrix.shape[0])
    flagged = 0
    for check in checks[::4]:
        art = R.article_from_check(ix, check)
        own = unigram_view(sp.vstack([art.title_vector, art.question_vectors]), ix.unigram)
        want = ((ix.pool_unigram @ own.T).toarray() >= ix.config.dup_threshold).any(axis=1)
        np.testing.assert_array_equal(S.near_duplicates(ix, art, items), want)
        np.testing.assert_array_equal(S.near_duplicates(ix, art, items[::3]), want[::3])
        flagged += int(want.sum())
    assert flagged >= 16  # each check's own title and questions are in the pool


@st.composite
def product_case(draw):  # type: ignore[no-untyped-def]
    """Articles x terms (float32), postings (terms x checks, sorted lists), a block width."""
    rows, terms, n = draw(st.integers(1, 4)), draw(st.integers(1, 6)), draw(st.integers(1, 300))
    weight = st.sampled_from([0.1, 0.25, 1 / 3, 0.5, 0.7, 1.0, 2.5e-5, -0.25])

    def matrix(r: int, c: int, cells: int) -> sp.csr_matrix:
        got = draw(st.lists(st.tuples(st.integers(0, r - 1), st.integers(0, c - 1), weight), max_size=cells))
        m = sp.dok_matrix((r, c), dtype=np.float32)
        for i, j, w in got:
            m[i, j] = w
        return sp.csr_matrix(m)

    block = draw(st.sampled_from([64, 128, 192, 1 << 16]))
    search = matrix(terms, n, 60)
    search.sort_indices()  # as `champion_postings` makes them
    return matrix(rows, terms, rows * terms), search, block


@given(product_case())
@settings(max_examples=300, deadline=None, derandomize=True)
def test_block_product_equals_scipys_product_bit_for_bit(case):
    """The blocked numba product gives scipy's float32 sums (zero sums dropped: the negative
    weight makes some), whatever the block width, with columns ascending block by block."""
    a, search, block = case
    want = sp.csr_matrix(a @ search)
    assert K.block_kernel() is not None  # numba is a dependency: the kernel path is tested
    got = K.block_product(a, search, K.Workspace(), "t", block=block)
    np.testing.assert_array_equal(got.toarray(), want.toarray())
    assert got.nnz == want.nnz
    for r in range(got.shape[0]):
        blocks = got.indices[got.indptr[r] : got.indptr[r + 1]] // block
        assert (np.diff(blocks) >= 0).all()


def test_block_product_equals_scipys_product_on_an_index(pruned):
    """On real postings, several blocks wide."""
    ix, checks = pruned
    arts = [R.article_from_check(ix, c) for c in checks]
    for name, vectors in (("checks", [a.vector for a in arts]), ("pool", [a.vector for a in arts])):
        a = K.strongest(vectors, 0)
        want = sp.csr_matrix(a @ ix.search(name))
        got = K.block_product(a, ix.search(name), K.Workspace(), block=8)
        assert ix.search(name).shape[1] > 4 * 8 and want.nnz > 100
        np.testing.assert_array_equal(got.toarray(), want.toarray())
        assert got.nnz == want.nnz


@st.composite
def masked_case(draw):  # type: ignore[no-untyped-def]
    """Articles x terms, postings (terms x checks), and per article some checks in any order."""
    rows, terms, n = draw(st.integers(1, 4)), draw(st.integers(1, 6)), draw(st.integers(1, 12))
    weight = st.sampled_from([0.1, 0.25, 1 / 3, 0.5, 0.7, 1.0, 2.5e-5])

    def matrix(r: int, c: int) -> sp.csr_matrix:
        cells = draw(st.lists(st.tuples(st.integers(0, r - 1), st.integers(0, c - 1), weight), max_size=r * c))
        m = sp.dok_matrix((r, c), dtype=np.float32)
        for i, j, w in cells:
            m[i, j] = w
        return sp.csr_matrix(m)

    a, search = matrix(rows, terms), matrix(terms, n)
    search.sort_indices()  # as `champion_postings` makes them
    block = draw(st.sampled_from([1, 2, 4, 64]))
    # The checks a word view reached: block by block, in any order within a block.
    word_rows = [
        sorted(list(draw(st.permutations(range(n))))[: draw(st.integers(0, n))], key=lambda c: c // block)
        for _ in range(rows)
    ]
    indptr = np.cumsum([0] + [len(w) for w in word_rows])
    indices = np.array([c for w in word_rows for c in w], dtype=np.int32)
    word = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(rows, n))
    word.has_sorted_indices = False
    return a, search, word, block


@given(masked_case())
@settings(max_examples=300, deadline=None, derandomize=True)
def test_masked_character_sums_equal_the_products_entries(case):
    """The numba kernel gives the product's float32 sums at the word view's checks, bit for
    bit, and 0 where the product has no entry; the product path gives the same."""
    a, search, word, block = case
    product = sp.csr_matrix(a @ search).toarray()  # scipy's kernel: the sums the ranker uses
    rows = np.repeat(np.arange(word.shape[0]), np.diff(word.indptr))
    want = product[rows, word.indices].astype(np.float32)
    assert K.masked_kernel() is not None  # numba is a dependency: the kernel path is tested
    np.testing.assert_array_equal(K.chars_at_masked(a, search, word, K.Workspace(), block), want)
    np.testing.assert_array_equal(K.chars_at(a, search, word, K.Workspace()), want)


def test_check_scores_with_the_kernel_equal_the_product_path(pruned):
    """The batch's fused kernel (`kernel=True`) gives `signals.combine`'s check scores bit for bit,
    budgets or not: the score formula is written once, the kernel is checked against it."""
    ix, checks = pruned
    arts = [R.article_from_check(ix, c) for c in checks]
    # Articles dated before the archive's first check and after its last one, and undated.
    arts += [replace(a, day=a.day + shift) for a in arts[:20] if a.day >= 0 for shift in (-9000, 9000)]
    arts += [replace(a, day=-1) for a in arts[:5]]
    compared = 0
    assert any(a.day >= 0 for a in arts) and (np.asarray(ix.check_dates) >= 0).any()  # the date term is tested
    settings = (RankOptions(), RankOptions(gram_postings=300, term_postings=40), RankOptions(date_scale=7.5))
    for opts in settings:
        plain = G.check_rows(R.Ranker(ix, opts).chunk(arts))
        fast = G.check_rows(R.Ranker(ix, opts, kernel=True).chunk(arts))
        for (c1, v1), (c2, v2) in zip(plain, fast, strict=True):
            o1, o2 = np.argsort(c1), np.argsort(c2)  # checks come in no set order
            np.testing.assert_array_equal(c1[o1], c2[o2])
            np.testing.assert_array_equal(v1[o1], v2[o2])
            compared += len(c1)
    assert compared > 1000
