"""The chunked index build (suggest/build.py) against a one-pass scikit-learn build."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from suggest.archive import read_archive
from suggest.build import POOL_WEIGHTS, build_matrices, field_texts
from suggest.errors import EmptyArchiveError
from suggest.index import build_index, char_grams, char_text, l2, quantize, unigram_view
from suggest.records import FIELDS, Check, IndexConfig, Section
from suggest.text import analyze, ngrams

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _field_ngrams(doc: tuple[list[str], ...], n_max: int) -> list[str]:
    return [g for tokens in doc for g in ngrams(tokens, n_max)]


def one_pass(checks: list[Check], config: IndexConfig) -> dict:
    """The matrices as a single TfidfVectorizer fit over the whole archive gives them (the
    build before it was chunked)."""
    checks = sorted(checks, key=lambda c: c.id)
    fields = {f: [analyze(field_texts(c)[f]) for c in checks] for f in FIELDS}
    vec = TfidfVectorizer(
        analyzer=functools.partial(_field_ngrams, n_max=config.ngram_max), sublinear_tf=config.sublinear_tf
    )
    vec.fit(tuple(fields[f][i] for f in FIELDS) for i in range(len(checks)))
    acc = pool_acc = None
    weights = config.weights()
    for f in FIELDS:
        m = vec.transform((t,) for t in fields[f])
        acc = m * weights[f] if acc is None else acc + m * weights[f]
        pool_acc = m * POOL_WEIGHTS[f] if pool_acc is None else pool_acc + m * POOL_WEIGHTS[f]
    terms = sorted(vec.vocabulary_)
    unigram = np.array([" " not in t for t in terms])
    members = [
        fields["title"][i] if k == 0 else analyze(q)
        for i, c in enumerate(checks)
        for k, q in enumerate(("", *c.questions))
    ]
    out = {
        "terms": terms,
        "idf": vec.idf_,
        "checks": quantize(l2(sp.csr_matrix(acc))),
        "pool1": unigram_view(quantize(l2(sp.csr_matrix(pool_acc))), unigram),
        "members": quantize(sp.csr_matrix(vec.transform((t,) for t in members))),
        "grams": [],
        "char_idf": np.zeros(0),
        "chars": sp.csr_matrix((len(checks), 0), dtype=np.float32),
    }
    if config.char_weight:
        low = 2 if len(checks) > 1 else 1
        cv = TfidfVectorizer(
            analyzer=functools.partial(char_grams, n_min=config.char_ngram_min, n_max=config.char_ngram_max),
            sublinear_tf=True,
            min_df=low,
            max_df=max(int(config.char_max_df * len(checks)), low),
        )
        try:
            chars = sp.csr_matrix(cv.fit_transform(char_text(c, config.char_chars) for c in checks))
        except ValueError:  # nothing left after pruning
            return out
        chars.sort_indices()
        out.update(grams=sorted(cv.vocabulary_), char_idf=cv.idf_, chars=quantize(chars))
    return out


def assert_same(built, oracle: dict) -> None:  # type: ignore[no-untyped-def]
    """Bit for bit: same terms, same stored entries in the same order, same numbers."""
    assert list(built.terms) == list(oracle["terms"])
    assert list(built.grams) == list(oracle["grams"])
    np.testing.assert_array_equal(built.idf, oracle["idf"])
    np.testing.assert_array_equal(built.char_idf, oracle["char_idf"])
    for name, ours in (
        ("checks", built.checks),
        ("pool1", built.pool_checks1),
        ("members", built.members),
        ("chars", built.chars),
    ):
        theirs = oracle[name]
        assert ours.shape == theirs.shape, name
        assert ours.dtype == theirs.dtype, name
        np.testing.assert_array_equal(ours.indptr, theirs.indptr, err_msg=name)
        np.testing.assert_array_equal(ours.indices, theirs.indices, err_msg=name)
        np.testing.assert_array_equal(ours.data, theirs.data, err_msg=name)


def test_chunked_build_equals_one_pass_on_the_corpus(tmp_path):
    checks = read_archive(CORPUS).checks
    config = IndexConfig()
    built = build_matrices(sorted(checks, key=lambda c: c.id), config, lambda _m: None, chunk=7, workdir=tmp_path)
    assert_same(built, one_pass(checks, config))
    assert list(tmp_path.iterdir()) == []  # the work folder is gone


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores for worker processes")
def test_worker_processes_give_the_same_matrices(tmp_path):
    checks = sorted(read_archive(CORPUS).checks, key=lambda c: c.id)
    config = IndexConfig()
    alone = build_matrices(checks, config, lambda _m: None, chunk=64, workdir=tmp_path)
    spread = build_matrices(checks, config, lambda _m: None, jobs=2, chunk=9, workdir=tmp_path)
    assert_same(
        spread,
        {
            **{k: getattr(alone, k) for k in ("terms", "idf", "grams", "char_idf", "checks", "members", "chars")},
            "pool1": alone.pool_checks1,
        },
    )
    assert alone.stems == spread.stems


WORDS = ["tea", "sleep", "vaccine", "autism", "rise", "sea", "glacier", "tax", "vote", "2100", "x"]
texts = st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)
archives = st.lists(st.tuples(texts, texts, texts, st.lists(texts, max_size=3)), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(archive=archives, chunk=st.integers(1, 5), char_weight=st.sampled_from([0.0, 1.5]), ngram_max=st.integers(1, 3))
def test_chunked_build_equals_one_pass_property(archive, chunk, char_weight, ngram_max, tmp_path_factory):
    checks = [
        Check(
            id=f"c{i:03d}",
            title=t or "untitled",
            summary=s,
            sections=(Section("", b),) if b else (),
            questions=tuple(qs),
        )
        for i, (t, s, b, qs) in enumerate(archive)
    ]
    config = IndexConfig(char_weight=char_weight, ngram_max=ngram_max)
    work = tmp_path_factory.mktemp("work")
    try:
        built = build_matrices(checks, config, lambda _m: None, chunk=chunk, workdir=work)
    except EmptyArchiveError:
        assert not any(analyze(" ".join(field_texts(c).values())) for c in checks)
        return
    assert_same(built, one_pass(checks, config))


def test_no_indexable_word_is_reported_and_leaves_nothing(tmp_path):
    with pytest.raises(EmptyArchiveError, match="no indexable words"):
        build_matrices([Check(id="a", title="the of")], IndexConfig(), lambda _m: None, workdir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_index_built_in_processes_saves_the_same_files(tmp_path):
    checks = read_archive(CORPUS).checks
    build_index(checks, jobs=1).save(tmp_path / "one")
    build_index(checks, jobs=2, workdir=tmp_path).save(tmp_path / "two")
    one = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert one == sorted(p.name for p in (tmp_path / "two").iterdir())
    for name in one:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


@pytest.mark.parametrize("jobs", [1, 2])
def test_spilled_build_saves_the_files_of_a_build_in_memory(tmp_path, monkeypatch, jobs):
    """open_index reads the archive into spill files and builds from them (rows come in file
    order and are put in id order): the saved index equals the in-memory build's, file by file.
    The archive's file order is not its id order here, so the reordering is exercised."""
    import shutil

    import suggest.archive as archive_mod
    from suggest.index import open_index

    arch = tmp_path / "arch"
    shutil.copytree(CORPUS, arch)
    (arch / "zz-first.jsonl").write_text(  # ids that sort before the corpus's, in a late file
        "\n".join(
            json.dumps({"id": f"0{i}", "title": f"Is claim {i} true?", "questions": [f"Who said claim {i}?"]})
            for i in range(5)
        )
        + "\n",
        "utf-8",
    )
    monkeypatch.setattr(archive_mod, "_TASK_BYTES", 20000)  # several spill files
    ix, read = open_index(arch, tmp_path / "spilled", jobs=jobs)
    assert read is not None and read.spill and all(not c.sections for c in read.checks)
    build_index(read_archive(arch).checks, archive_root=str(arch), archive_fingerprint=ix.manifest["archive"]["fingerprint"]).save(tmp_path / "memory")
    one = sorted(p.name for p in (tmp_path / "memory").iterdir())
    assert one == sorted(p.name for p in (tmp_path / "spilled").iterdir())
    for name in one:
        assert (tmp_path / "memory" / name).read_bytes() == (tmp_path / "spilled" / name).read_bytes(), name
    assert [ix.check_ids[i] for i in range(5)] == [f"0{i}" for i in range(5)]


def test_build_work_folder_sits_beside_the_index_and_a_killed_builds_is_cleared(tmp_path):
    from suggest.index import open_index

    stale = tmp_path / ".ix.work" / "read-killed"
    stale.mkdir(parents=True)
    (stale / "000000.pkl").write_bytes(b"left by a build that was killed")
    ix, read = open_index(CORPUS, tmp_path / "ix", jobs=1)
    assert read is not None and ix.manifest["counts"]["checks"] == len(read.checks)
    assert not (tmp_path / ".ix.work").exists()


def test_a_big_spill_file_is_cut_into_several_chunks(tmp_path):
    """One file of many checks (one spill file) is counted in chunks of ``chunk`` checks."""
    lines = [json.dumps({"id": f"z{9 - i}", "title": f"Did the mayor say tax {i} rose?", "summary": f"Tax rose {i}."}) for i in range(10)]
    (tmp_path / "one.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    spill = tmp_path / "spill"
    spill.mkdir()
    arch = read_archive(tmp_path / "one.jsonl", spill=spill)
    said: list[str] = []
    built = build_matrices(arch.checks, IndexConfig(), said.append, chunk=3, workdir=tmp_path, spilled=arch)
    assert any("10 checks in 4 chunks" in m for m in said)
    assert_same(built, one_pass(read_archive(tmp_path / "one.jsonl").checks, IndexConfig()))


def test_a_big_file_is_spilled_in_pieces_and_each_chunk_reads_its_own(tmp_path, monkeypatch):
    """A file of more than `SPILL_PIECE` checks is spilled in several files; a chunk reads the
    pieces it spans (pieces of 4, chunks of 3: 3, 1+2, 2+1, 1) and the matrices stay the
    one-pass ones."""
    import suggest.archive as archive_mod

    monkeypatch.setattr(archive_mod, "SPILL_PIECE", 4)
    lines = [json.dumps({"id": f"z{9 - i}", "title": f"Did the mayor say tax {i} rose?", "summary": f"Tax rose {i}."}) for i in range(10)]
    (tmp_path / "one.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    spill = tmp_path / "spill"
    spill.mkdir()
    arch = read_archive(tmp_path / "one.jsonl", spill=spill)
    assert len(list(spill.iterdir())) == 3
    said: list[str] = []
    built = build_matrices(arch.checks, IndexConfig(), said.append, chunk=3, workdir=tmp_path, spilled=arch)
    assert any("10 checks in 4 chunks" in m for m in said)
    assert_same(built, one_pass(read_archive(tmp_path / "one.jsonl").checks, IndexConfig()))


def _loky_workers() -> list[str]:
    """This process's loky worker processes (not its resource trackers), from /proc."""
    kids: list[str] = []
    for t in Path("/proc/self/task").glob("*/children"):
        kids += t.read_text().split()
    out = []
    for k in kids:
        try:
            cmd = Path(f"/proc/{k}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:  # it ended meanwhile
            continue
        if "popen_loky" in cmd:
            out.append(cmd)
    return out


@pytest.mark.skipif(
    (os.cpu_count() or 1) < 2 or not Path("/proc/self/task").is_dir(), reason="needs two cores and Linux's /proc"
)
def test_a_build_lets_its_workers_go_after_the_last_parallel_step(tmp_path, monkeypatch):
    """The steps after weighing run in this process: idle workers would hold their memory beside
    them for `workers.IDLE_SECONDS` (384 MB of a 1,143 MB peak on 19,250 checks)."""
    from suggest import chunks
    from suggest.index import open_index

    monkeypatch.setattr(chunks, "MEAN", 4)  # several chunks, so that workers are used
    open_index(CORPUS, tmp_path / "ix", jobs=2, cache=False)
    assert _loky_workers() == []
