"""The ranking seam: a new similarity signal is one class and one setting (`RankOptions.signals`),
with no edit anywhere in the package. The toy signals here live only in the tests."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
import scipy.sparse as sp
from test_rank_exact import dense_row  # the dense oracle, with a toy question signal

from suggest import rank as R
from suggest import signals as G
from suggest.archive import read_archive
from suggest.errors import OptionError
from suggest.index import build_index
from suggest.records import IndexConfig, RankOptions
from suggest.select import select


@dataclass(frozen=True)
class QuestionLength(G.Signal):
    """Toy question signal: longer questions score higher (length / 200 characters, at most 1),
    for every pool item."""

    w: float = 1.0
    name = "question_length"
    level = "question"

    def weight(self, index, opts) -> float:  # type: ignore[no-untyped-def]
        return self.w

    def rows(self, chunk: G.Chunk) -> sp.csr_matrix:
        n = chunk.index.pool_matrix.shape[0]
        lengths = np.array([len(r["text"]) for r in chunk.index.pool_records], dtype=np.float64)
        row = np.minimum(lengths / 200.0, 1.0)
        return sp.csr_matrix(np.tile(row, (len(chunk.articles), 1)).reshape(len(chunk.articles), n))


@dataclass(frozen=True)
class Dated(G.Signal):
    """Toy check signal: 1 for a check that has a date, 0 otherwise (a term of the mean)."""

    w: float = 1.0
    name = "dated"

    def weight(self, index, opts) -> float:  # type: ignore[no-untyped-def]
        return self.w

    def at(self, chunk: G.Chunk, reach: sp.csr_matrix) -> np.ndarray:
        return (np.asarray(chunk.index.check_dates)[reach.indices] >= 0).astype(np.float64)


@pytest.fixture(scope="module")
def corpus_index(corpus_dir):
    checks = read_archive(corpus_dir).checks
    return build_index(checks, IndexConfig(postings_max=3)), checks


def lists(ix, arts, opts):
    return [[s.to_dict() for s in x] for x in R.rank_rows(ix, arts, opts)]


def test_a_question_signal_is_one_class_and_one_setting(corpus_index):
    ix, checks = corpus_index
    arts = [R.article_from_check(ix, replace(c, id="draft")) for c in checks[::7]]
    plain = lists(ix, arts, RankOptions(min_score=0))
    longer = lists(ix, arts, RankOptions(min_score=0, signals=("words", "chars", "dates", QuestionLength(5.0))))
    assert longer != plain
    mean = lambda ls: np.mean([len(s["question"]) for x in ls for s in x])  # noqa: E731
    assert mean(longer) > mean(plain)  # it pulls long questions up, as it says
    # A weight of 0 leaves the signal out: the lists are exactly the defaults'.
    assert lists(ix, arts, RankOptions(min_score=0, signals=("words", "chars", "dates", QuestionLength(0.0)))) == plain


def test_a_new_question_signal_keeps_the_lists_exact(corpus_index):
    """The candidate step bounds what it leaves out with every question signal's own scores:
    its lists equal those of scoring every pool item with the combined formula."""
    ix, checks = corpus_index
    toy = QuestionLength(0.7)
    opts = RankOptions(min_score=0.02, candidates=3, top=3, signals=("words", "chars", "dates", toy), restate_whole=0)
    first, R.FIRST_REACH = R.FIRST_REACH, 1
    try:
        for check in checks[::5]:
            art = R.article_from_check(ix, replace(check, id="draft"))
            got = R.rank_rows(ix, [art], opts)[0]
            want = dense_row(ix, art, opts, toy)
            assert [s.to_dict() for s in got] == [
                s.to_dict() for s in R.to_suggestions(ix, select(ix, want, opts), want, None)
            ]
    finally:
        R.FIRST_REACH = first


def test_a_check_signal_enters_the_weighted_mean(corpus_index):
    """A check signal's score is a term of the weighted mean: (word + 1.5 char + w x) / (2.5 + w),
    times the date factor; checks it does not reach through words stay out."""
    ix, checks = corpus_index
    arts = [R.article_from_check(ix, replace(c, id="draft", checked_on=None)) for c in checks[:12]]
    base = R.Ranker(ix, RankOptions()).check_scores(arts)
    toy = R.Ranker(ix, RankOptions(signals=("words", "chars", "dates", Dated(2.0)))).check_scores(arts)
    assert (base != 0).toarray().tolist() == (toy != 0).toarray().tolist()  # the same checks reached
    dated = (np.asarray(ix.check_dates) >= 0).astype(np.float64)
    cw = ix.config.char_weight
    want = (base.toarray() * (1 + cw) + 2.0 * dated[None, :] * (base.toarray() != 0)) / (1 + cw + 2.0)
    np.testing.assert_allclose(toy.toarray(), want, rtol=1e-12, atol=1e-15)


def test_signals_are_named_or_given_and_unknown_names_fail():
    assert [s.name for s in G.resolve(RankOptions())] == ["words", "chars", "dates", "meaning", "meaning-q"]
    assert [s.name for s in G.resolve(RankOptions(signals=("dates",)))] == ["words", "dates"]
    with pytest.raises(OptionError, match="signals: unknown 'embedding'"):
        RankOptions(signals=("words", "embedding"))
    assert RankOptions(signals=("words", QuestionLength(0.5))).settings()["signals"] == ["words", "QuestionLength{'w': 0.5}"]
