"""The index: scikit-learn oracle, save/load, pool merging, freshness and repair."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from suggest.archive import read_archive
from suggest.errors import EmptyArchiveError, IndexFormatError, OptionError
from suggest.index import FORMAT_VERSION, Index, build_index, champion_postings, char_grams, char_text, open_index
from suggest.rank import article_from_check, check_scores, rank_rows, suggest
from suggest.records import Check, IndexConfig, RankOptions
from suggest.select import top_items
from suggest.signals import date_prior
from suggest.text import analyze

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

TINY = [
    Check(
        id="a1",
        title="Do vaccines cause autism?",
        summary="Large cohort studies found no link between vaccines and autism.",
        questions=("Did the MMR vaccine trigger autism in Danish cohort studies?", "How does VAERS reporting work?"),
    ),
    Check(
        id="b2",
        title="Is sea level rise accelerating?",
        summary="Tide gauges and satellites show faster sea level rise.",
        questions=("How much will sea levels rise by 2100?", "Which coastal cities are sinking fastest?"),
    ),
    Check(
        id="c3",
        title="How much will the ocean rise by the year 2100?",
        summary="Projections of sea level rise by 2100 range widely.",
        questions=("What sea-level rise do scientists project for 2100?", "How fast is Thwaites Glacier melting?"),
    ),
    Check(
        id="d4",
        title="Does cracking knuckles cause arthritis?",
        summary="Studies of knuckle crackers found no arthritis link.",
        questions=("Why do knuckles make a popping sound?", "Is habitual knuckle cracking linked to hand swelling?"),
    ),
]


def test_check_vectors_equal_sklearn_tfidf():
    """Oracle: checks with only a title get exactly scikit-learn's TF-IDF rows (same vocabulary)."""
    docs = [Check(id=c.id, title=c.title) for c in TINY]
    ix = build_index(docs)
    vec = TfidfVectorizer(tokenizer=analyze, token_pattern=None, lowercase=False, ngram_range=(1, 2), sublinear_tf=True)
    x = vec.fit_transform([c.title for c in sorted(docs, key=lambda c: c.id)])
    assert list(ix.terms) == list(vec.get_feature_names_out())
    np.testing.assert_allclose(ix.checks_matrix.toarray(), x.toarray(), atol=1e-6)
    np.testing.assert_allclose(ix.idf, vec.idf_, rtol=1e-12)


def test_scores_equal_cosine_similarity_on_the_same_matrix(tmp_path):
    """Oracle: our scores (saved, loaded, numpy-only query path) equal scikit-learn's
    cosine_similarity between the sklearn-vectorised article and sklearn's TF-IDF matrix."""
    cfg = IndexConfig(title_weight=1, summary_weight=0, body_weight=0, questions_weight=0, char_weight=0)
    docs = [
        Check(id=f"x{i}", title=t)
        for i, t in enumerate(
            [
                "Vaccines and autism: what the cohort studies found",
                "Sea level rise is accelerating along the coasts",
                "Knuckle cracking and arthritis in older adults",
                "Autism diagnoses rose as definitions widened",
            ]
        )
    ]
    ix = build_index(docs, cfg)
    ix.save(tmp_path / "ix")
    loaded = Index.load(tmp_path / "ix")
    vec = TfidfVectorizer(tokenizer=analyze, token_pattern=None, lowercase=False, ngram_range=(1, 2), sublinear_tf=True)
    x = vec.fit_transform([d.title for d in docs])
    article = "Do vaccines cause autism? New cohort studies on autism rates"
    expected = cosine_similarity(vec.transform([article]), x).ravel()
    ours = article_from_check(loaded, Check(id="new", title=article))
    got = check_scores(loaded, [ours], RankOptions()).toarray().ravel()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert expected.max() > 0.3  # the oracle compares real matches, not zeros


CHAR_DOCS = [
    Check(id="c0", title="#AustralianFires: koalas and kangaroos", summary="Photos of the bushfires in 2020"),
    Check(id="c1", title="Did Ilhan Omar marry her brother?", summary="A rumour about Rep. Omar"),
    Check(id="c2", title="Bushfire smoke reached New Zealand", summary="Australian fires, smoke and koalas"),
    Check(id="c3", title="Omar and the brother rumour again", summary="Ilhan Omar, a marriage record"),
]


def test_char_view_equals_sklearn_char_wb(tmp_path):
    """Oracle for the character view: our (saved, loaded, numpy-only) article vector and its
    cosines to the checks equal scikit-learn's char_wb TfidfVectorizer fitted on the same
    texts; the check score fuses word and character cosines with the configured weight."""
    cfg = IndexConfig(char_weight=2.0)
    assert cfg.char_max_df == 0.2
    build_index(CHAR_DOCS, cfg).save(tmp_path / "ix")
    ix = Index.load(tmp_path / "ix")
    texts = [char_text(c, cfg.char_chars) for c in CHAR_DOCS]
    # char_max_df 0.2 of 4 checks is below min_df: the cut is then min_df (2 checks).
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2, max_df=2)
    x = vec.fit_transform(texts)
    assert list(ix.char_terms) == vec.get_feature_names_out().tolist()
    draft = Check(id="new", title="australianfires koala photos", summary="Bush fires in Australia, 2020")
    art = article_from_check(ix, draft)
    expected = cosine_similarity(vec.transform([char_text(draft, cfg.char_chars)]), x).ravel()
    np.testing.assert_allclose((ix.char_matrix @ art.char_vector.T).toarray().ravel(), expected, atol=1e-6)
    word = (ix.checks_matrix @ art.vector.T).toarray().ravel()
    fused = check_scores(ix, [art], RankOptions(date_weight=0)).toarray()
    # Characters above the draft's mean cosine re-weigh the checks that share a word with it,
    # never bring one in.
    assert (word == 0).any() and (word > 0).any()
    above = np.maximum(expected - expected.mean(), 0) * (word > 0)
    assert above.max() > 0
    np.testing.assert_allclose(fused.ravel(), (word + 2.0 * above) / 3.0, atol=1e-6)
    # The bushfire checks match the draft through characters; the Omar checks do not.
    assert min(expected[0], expected[2]) > 0.5 > 0.1 > max(expected[1], expected[3])


def test_date_prior_favours_checks_near_the_article():
    checks = [
        Check(id="a", title="Koalas and the bushfires", checked_on="2020-01-10"),
        Check(id="b", title="Koalas and the bushfires", checked_on="2015-06-01"),
        Check(id="c", title="Koalas", checked_on=None),
    ]
    ix = build_index(checks, IndexConfig(char_weight=0))
    art = article_from_check(ix, Check(id="new", title="bushfires koalas", checked_on="2020-01-20"))
    plain = check_scores(ix, [art], RankOptions(date_weight=0)).toarray()
    dated = check_scores(ix, [art], RankOptions(date_weight=0.5, date_scale=10)).toarray()
    assert plain[0, 0] == plain[0, 1] > 0
    # a: 10 days apart -> prior 1/2, score times 1.25; b: years apart -> almost 1; c: no date -> 1.
    assert dated[0, 0] == pytest.approx(plain[0, 0] * 1.25)
    assert dated[0, 0] > dated[0, 1] > plain[0, 1]
    assert dated[0, 2] == plain[0, 2]
    # An undated article, or a check that shares no word, gets nothing from dates.
    undated = article_from_check(ix, Check(id="new", title="bushfires koalas"))
    np.testing.assert_array_equal(check_scores(ix, [undated], RankOptions(date_weight=0.5)).toarray(), plain)
    other = article_from_check(ix, Check(id="o", title="tides", checked_on="2020-01-10"))
    assert not check_scores(ix, [other], RankOptions(date_weight=0.5)).nnz
    np.testing.assert_allclose(date_prior(np.array([10, -1]), np.array([0, 10, -1]), 10.0), [[0.5, 1, 0], [0, 0, 0]])


def test_pool_merges_near_duplicates_and_links_answers():
    ix = build_index(TINY)
    texts = {tuple(sorted(r["variants"])): r for r in ix.pool_records}
    merged = [r for r in texts.values() if "What sea-level rise do scientists project for 2100?" in r["variants"]]
    assert len(merged) == 1
    r = merged[0]
    # The question is raised by b2 and c3, and c3's title asks the same thing.
    assert "How much will sea levels rise by 2100?" in r["variants"]
    assert r["status"] == "answered" and "c3" in r["answered_by"]
    assert sorted(r["raised_by"]) == ["b2", "c3"]
    unrelated = [r for r in ix.pool_records if r["text"] == "Why do knuckles make a popping sound?"]
    assert unrelated[0]["status"] == "open" and unrelated[0]["raised_by"] == ["d4"]


def test_titles_join_the_pool_as_answered():
    ix = build_index(TINY)
    title_items = [r for r in ix.pool_records if r["text"] == "Does cracking knuckles cause arthritis?"]
    assert title_items and title_items[0]["status"] == "answered" and title_items[0]["answered_by"] == ["d4"]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shipped corpus/ missing")
def test_corpus_design_pairs_are_found():
    """The corpus was written with known near-duplicates and answered questions; the pool
    must find most of them (figures measured when the thresholds were set: 18/20 and 26/39)."""
    arch = read_archive(CORPUS)
    ix = build_index(arch.checks)
    by_path = {str(Path(c.path).relative_to(CORPUS)): c for c in arch.checks}
    item_of: dict[str, set[int]] = {}
    for i in range(len(ix.pool_records)):
        for v in ix.pool_records[i]["variants"]:
            item_of.setdefault(v, set()).add(i)
    dups = answered = n_dups = n_answered = 0
    for f in sorted((Path(__file__).parent / "data").glob("corpus_design_*.json")):
        design = json.loads(f.read_text("utf-8"))
        for p in design["near_duplicates"]:
            n_dups += 1
            dups += bool(item_of[p["a_question"]] & item_of[p["b_question"]])
        for a in design["answered"]:
            n_answered += 1
            target = by_path[a["answered_by"]].id
            answered += any(target in ix.pool_records[i]["answered_by"] for i in item_of[a["question"]])
    assert n_dups >= 10 and n_answered >= 15
    assert dups >= 16
    assert answered >= 22


def test_save_load_round_trip_gives_identical_rankings(tmp_path):
    ix = build_index(TINY)
    ix.save(tmp_path / "ix")
    loaded = Index.load(tmp_path / "ix")
    art = Check(
        id="new", title="Will the oceans rise a lot by 2100?", summary="Sea level projections and coastal cities."
    )
    a = suggest(ix, art, RankOptions(min_score=0.0))
    b = suggest(loaded, art, RankOptions(min_score=0.0))
    assert [s.to_dict() for s in a] == [s.to_dict() for s in b]
    assert a, "the article should match the sea-level checks"


def test_index_files_are_byte_identical_across_builds(tmp_path):
    build_index(TINY).save(tmp_path / "one")
    build_index(list(reversed(TINY))).save(tmp_path / "two")
    one = sorted(p.name for p in (tmp_path / "one").resolve().iterdir())
    assert one == sorted(p.name for p in (tmp_path / "two").resolve().iterdir())
    for name in one:
        assert ((tmp_path / "one") / name).read_bytes() == ((tmp_path / "two") / name).read_bytes(), name


def test_empty_archive_and_bad_settings_raise_named_errors():
    with pytest.raises(EmptyArchiveError):
        build_index([])
    with pytest.raises(OptionError, match="dup_threshold"):
        IndexConfig(dup_threshold=1.5)


def _write_archive(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for c in TINY:
        lines = [c.title, "Executive Summary", c.summary, "Want to dive deeper?", *c.questions]
        (folder / f"{c.id}-{c.id[1]}{c.id[1]}{c.id[1]}aaa.txt").write_text("\n".join(lines) + "\n", "utf-8")


def test_open_index_builds_reuses_and_notices_changes(tmp_path):
    arch = tmp_path / "archive"
    _write_archive(arch)
    notes: list[str] = []
    ix, read = open_index(arch, notify=notes.append)
    assert read is not None and ix.manifest["counts"]["checks"] == 4
    notes.clear()
    ix, read = open_index(arch, notify=notes.append)
    assert read is None and notes == []  # reused, silently
    (arch / "new-eeeeee.txt").write_text(
        "Is coffee bad for you?\nWant to dive deeper?\nDoes coffee raise blood pressure?\n", "utf-8"
    )
    ix, read = open_index(arch, notify=notes.append)
    assert read is not None and ix.manifest["counts"]["checks"] == 5
    assert any("changed since the index was built" in n for n in notes)


@pytest.mark.parametrize("damage", ["truncate", "edit", "version", "delete"])
def test_damaged_index_is_detected_and_rebuilt(tmp_path, damage):
    arch = tmp_path / "archive"
    _write_archive(arch)
    open_index(arch)
    folder = (arch / ".suggest-index").resolve()
    if damage == "truncate":
        p = folder / "checks.data.npy"
        p.write_bytes(p.read_bytes()[:-8])
    elif damage == "edit":
        p = folder / "pool.jsonl"
        p.write_bytes(p.read_bytes().replace(b"sea", b"sky", 1))
    elif damage == "version":
        m = json.loads((folder / "manifest.json").read_text())
        m["format_version"] = FORMAT_VERSION + 1
        (folder / "manifest.json").write_text(json.dumps(m))
    else:
        os.unlink(folder / "idf.npy")
    with pytest.raises(IndexFormatError, match="suggest index"):
        Index.load(arch / ".suggest-index")
    notes: list[str] = []
    ix, read = open_index(arch, notify=notes.append)
    assert read is not None and any("rebuilding the index" in n for n in notes)
    assert Index.load(arch / ".suggest-index").manifest["counts"]["checks"] == 4


def test_settings_change_rebuilds(tmp_path):
    arch = tmp_path / "archive"
    _write_archive(arch)
    open_index(arch)
    notes: list[str] = []
    ix, read = open_index(arch, config=IndexConfig(title_weight=5.0), notify=notes.append)
    assert read is not None and ix.config.title_weight == 5.0
    assert any("settings changed" in n for n in notes)


words = st.sampled_from(
    "vaccine autism sea level rise coastal city knuckle arthritis study cohort glacier ocean tide".split()
)


@settings(max_examples=40, deadline=None)
@given(st.lists(words, min_size=1, max_size=12), st.integers(1, 6))
def test_rankings_sorted_at_most_k_and_batch_equal(article_words, k):
    ix = build_index(TINY)
    art = Check(id="new", title=" ".join(article_words))
    opts = RankOptions(top=k, min_score=0.0)
    ranked = suggest(ix, art, opts)
    assert len(ranked) <= k
    scores = [s.score for s in ranked]
    assert scores == sorted(scores, reverse=True)
    assert len({s.question for s in ranked}) == len(ranked)
    # The same article in a batch of rows gets the same list.
    other = Check(id="other", title="knuckle cracking")
    rows = rank_rows(ix, [article_from_check(ix, other), article_from_check(ix, art)], opts)
    assert [s.to_dict() for s in rows[1]] == [s.to_dict() for s in ranked]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shipped corpus/ missing")
def test_one_article_gets_the_numbers_it_gets_in_a_chunk(tmp_path):
    """`suggest for` (one article) and the batch job (a chunk of rows) must give the same
    numbers bit for bit, or their lists could differ at a tie."""
    build_index(read_archive(CORPUS).checks).save(tmp_path / "ix")
    ix = Index.load(tmp_path / "ix")
    arts = [article_from_check(ix, c) for c in read_archive(CORPUS).checks]
    many = check_scores(ix, arts, RankOptions()).toarray()
    one_by_one = np.vstack([check_scores(ix, [a], RankOptions()).toarray() for a in arts])
    assert (many > 0).sum() > len(arts) * 5
    np.testing.assert_array_equal(one_by_one, many)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from([0.0, 0.0, 0.1, 0.3, 0.5, 0.9]), min_size=4, max_size=4), min_size=1, max_size=9),
    st.integers(0, 4),
    st.integers(1, 40),
)
def test_champion_postings_keep_each_terms_heaviest_rows(rows, keep, part_entries):
    """Oracle: per term (column), the ``keep`` largest weights, equal weights lower row first,
    whether the matrix is read whole or a few rows at a time."""
    m = np.array(rows, dtype=np.float32)
    postings = champion_postings(sp.csr_matrix(m), keep, part_entries=part_entries)
    assert postings.has_canonical_format
    got = postings.toarray()
    want = np.zeros_like(m.T)
    for t in range(m.shape[1]):
        nz = [r for r in range(m.shape[0]) if m[r, t] > 0]
        best = sorted(nz, key=lambda r: (-m[r, t], r))[: keep or None]
        want[t, best] = m[best, t]
    np.testing.assert_array_equal(got, want)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 1.0]), min_size=0, max_size=80),
    st.integers(min_value=1, max_value=60),
)
def test_top_items_equals_a_full_stable_sort(scores, k):
    score = np.array(scores, dtype=np.float64)
    items = np.flatnonzero(score > 0)
    full = items[np.argsort(-score[items], kind="stable")][:k]
    np.testing.assert_array_equal(top_items(score, items, k), full)


def test_an_index_saved_without_a_newer_setting_is_rebuilt(tmp_path):
    """An index whose manifest lacks a setting this version has was built without it: it must
    not pass for one built with the setting's default."""
    ix_dir = tmp_path / "ix"
    arch = tmp_path / "a.jsonl"
    arch.write_text('{"id": "a", "title": "Is tea good?", "questions": ["Does tea help sleep?"]}\n', "utf-8")
    open_index(arch, ix_dir)
    manifest = Path(os.path.realpath(ix_dir)) / "manifest.json"
    data = json.loads(manifest.read_text("utf-8"))
    del data["config"]["char_max_df"]
    manifest.write_text(json.dumps(data), "utf-8")
    with pytest.raises(IndexFormatError, match=r"manifest settings unreadable \(no char_max_df\)"):
        Index.load(ix_dir, verify=False)
    notes: list[str] = []
    _, rebuilt_from = open_index(arch, ix_dir, notify=notes.append)
    assert rebuilt_from is not None and any("rebuilding the index" in n for n in notes)


_SK_CHAR_WB = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).build_analyzer()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_char_grams_equal_sklearn_char_wb(text):
    """Our character n-grams (the query path has no scikit-learn) are scikit-learn's char_wb
    n-grams of the lower-cased text, for any text."""
    assert char_grams(text.lower(), 2, 4) == _SK_CHAR_WB(text)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shipped corpus/ missing")
@pytest.mark.parametrize("postings_max", [0, 3, 12])
def test_pool_through_cut_postings_never_merges_what_is_not_close(postings_max):
    """With postings cut short, pairs can be missed, never made up: each member of an item is
    close to the item's leader (its first member) by the true cosines of the thresholds."""
    from suggest.build import build_matrices
    from suggest.index import build_pool, unigram_view

    checks = sorted(read_archive(CORPUS).checks, key=lambda c: c.id)
    config = IndexConfig(postings_max=postings_max)
    b = build_matrices(checks, config, lambda _m: None)
    unigram = np.array([" " not in t for t in b.terms])
    m1 = unigram_view(b.members, unigram)
    pool = build_pool(checks, m1, b.pool_checks1, b.member_check, b.member_is_title, b.member_text, config)
    cos = (m1 @ m1.T).toarray()
    whole = (m1 @ b.pool_checks1.T).toarray()
    mc, mt = b.member_check, b.member_is_title
    merged = 0
    for item in np.unique(pool.member_item):
        members = np.flatnonzero(pool.member_item == item)
        leader = members[0]
        for m in members[1:]:
            merged += 1
            assert mc[m] != mc[leader]
            if mt[m] == mt[leader]:
                assert cos[m, leader] >= config.dup_threshold - 1e-6
            else:
                q, t = (m, leader) if mt[leader] else (leader, m)
                assert cos[q, t] >= config.answer_title_threshold - 1e-6
                assert whole[q, mc[t]] >= config.answer_threshold - 1e-6
    assert merged > 10


@st.composite
def _row_pairs(draw):
    """Two random sparse matrices over the same terms and random (row of a, row of b) pairs."""
    n_terms = draw(st.integers(1, 30))
    rows_a, rows_b = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    a = sp.random(rows_a, n_terms, density=draw(st.floats(0.0, 1.0)), format="csr", random_state=rng, dtype=np.float32)
    b = sp.random(rows_b, n_terms, density=draw(st.floats(0.0, 1.0)), format="csr", random_state=rng, dtype=np.float32)
    k = draw(st.integers(0, 20))
    return a, b, rng.integers(0, rows_a, k), rng.integers(0, rows_b, k)


@given(_row_pairs())
@settings(max_examples=200, deadline=None)
def test_row_dots_equal_the_rows_products(case):
    """The pool's answer test looks a question's words up in the check's row: the same number as
    the dot product of the two rows (unsorted rows of b included)."""
    from suggest.pool import row_dots

    a, b, ai, bi = case
    want = np.asarray(a[ai].multiply(b[bi]).sum(axis=1), dtype=np.float64).ravel() if len(ai) else np.zeros(0)
    b_unsorted = b.copy()
    for i in range(b.shape[0]):  # reverse each row's entries
        s, e = b.indptr[i], b.indptr[i + 1]
        b_unsorted.indices[s:e] = b.indices[s:e][::-1].copy()
        b_unsorted.data[s:e] = b.data[s:e][::-1].copy()
    b_unsorted.has_sorted_indices = False
    for m in (b, b_unsorted):
        got = row_dots(a, ai, m, bi)
        assert got.shape == (len(ai),)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # The numba kernel and the numpy path give the same sums, bit for bit.
    from unittest import mock

    with mock.patch("suggest.pool.KERNEL_PAIRS", 0):
        with_kernel = row_dots(a, ai, b, bi)
    with mock.patch("suggest.pool.row_dots_kernel", lambda: None):
        np.testing.assert_array_equal(row_dots(a, ai, b, bi), with_kernel)


@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 30), st.sampled_from([0.1, 0.2, 0.5, 0.9])), max_size=60),
    st.integers(1, 6),
)
@settings(max_examples=200, deadline=None)
def test_closest_keeps_each_questions_k_best_titles(pairs, k):
    """The answer test's candidates: per question, its k closest titles (equal cosines: lower
    title first), the same as sorting each question's titles."""
    from suggest.pool import _closest

    pairs = sorted({(a, b): (a, b, c) for a, b, c in pairs}.values(), key=lambda p: p[0])  # a pair: one cosine
    q = np.array([p[0] for p in pairs], dtype=np.int64)
    t = np.array([p[1] for p in pairs], dtype=np.int64)
    v = np.array([p[2] for p in pairs])
    got_q, got_t = _closest(q, t, v, k)
    want = set()
    for qi in set(q.tolist()):
        mine = sorted(((-vi, ti) for qq, ti, vi in pairs if qq == qi))[:k]
        want |= {(qi, ti) for _, ti in mine}
    assert set(zip(got_q.tolist(), got_t.tolist(), strict=True)) == want
    assert len(got_q) == len(want)


@given(
    st.lists(st.lists(st.tuples(st.integers(0, 9), st.sampled_from([0.1, 0.3, 0.5])), max_size=8), min_size=1, max_size=5),
    st.lists(st.integers(0, 20), min_size=10, max_size=10),
    st.integers(0, 40),
)
@settings(max_examples=200, deadline=None)
def test_within_budget_keeps_the_heaviest_grams_that_fit(rows, lens, budget):
    """The character postings budget: per row, the heaviest n-grams (lower term on equal
    weights) while their postings fit, at least one, unit length when cut."""
    from suggest.kernels import within_budget

    dense = np.zeros((len(rows), 10), dtype=np.float32)
    for r, entries in enumerate(rows):
        for term, w in entries:
            dense[r, term] = w
    got = within_budget(sp.csr_matrix(dense), np.array(lens), budget).toarray()
    for r in range(len(rows)):
        terms = [int(t) for t in np.flatnonzero(dense[r])]
        order = sorted(terms, key=lambda t: (-float(dense[r, t]), t))
        kept, used = [], 0
        for t in order:
            used += lens[t]
            if used <= budget or not kept:
                kept.append(t)
        want = np.zeros(10)
        want[kept] = dense[r, kept]
        if len(kept) < len(terms):
            want /= np.linalg.norm(want)
        np.testing.assert_allclose(got[r], want, rtol=1e-6, atol=1e-7)
