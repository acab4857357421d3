"""The archive fingerprint sees every change the reader would see, and the walk counts every
path it passes over (issue: a fingerprint that never misses a change)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suggest.archive import fingerprint, read_archive
from suggest.cli import app

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _article(title: str, question: str) -> str:
    return f"{title}\nExecutive Summary\nA summary about {title.lower()}\nWant to dive deeper?\n{question}\n"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    a = tmp_path / "archive"
    (a / "health").mkdir(parents=True)
    (a / "health" / "tea-sleep-aaa111.txt").write_text(_article("Does tea help sleep?", "Is chamomile a sedative?"))
    (a / "health" / "coffee-heart-bbb222.txt").write_text(
        _article("Is coffee bad for the heart?", "Does caffeine raise blood pressure for long?")
    )
    return a


def _for(archive: Path, index: Path, text: str) -> tuple[int, str, str]:
    draft = archive.parent / "draft.txt"
    draft.write_text(text)
    r = CliRunner().invoke(
        app, ["for", str(draft), "-a", str(archive), "--index", str(index), "-f", "json", "--min-score", "0"]
    )
    return r.exit_code, r.stdout, r.stderr


def test_an_upper_case_suffix_is_seen_added_edited_and_deleted(archive: Path, tmp_path: Path):
    from suggest.index import Index

    index = tmp_path / "ix"

    def pool_after_for() -> tuple[str, set[str]]:
        _, _, err = _for(archive, index, _article("Was the moon landing filmed in a studio?", "Who filmed it?"))
        return err, {r["text"] for r in Index.load(index).pool_records}

    pool_after_for()
    upper = archive / "health" / "moon-cccc33.TXT"
    upper.write_text(_article("Was the moon landing staged?", "How were the moon rocks dated?"))
    err, pool = pool_after_for()
    assert "changed since the index was built" in err and "How were the moon rocks dated?" in pool
    upper.write_text(_article("Was the moon landing staged?", "Who kept the lunar samples?"))
    err, pool = pool_after_for()
    assert "Who kept the lunar samples?" in pool and "How were the moon rocks dated?" not in pool
    upper.unlink()
    err, pool = pool_after_for()
    assert "changed since the index was built" in err and "Who kept the lunar samples?" not in pool


def test_permission_changes_change_the_fingerprint(archive: Path):
    f = archive / "health" / "tea-sleep-aaa111.txt"
    before = fingerprint(archive)
    os.chmod(f, 0)
    locked = fingerprint(archive)
    os.chmod(f, 0o644)
    assert locked != before  # a file that became unreadable is a change
    assert fingerprint(archive) == before  # and so is its fix: back to the readable state
    os.chmod(archive / "health", 0o311)  # a folder that cannot be listed
    try:
        assert fingerprint(archive) != before
    finally:
        os.chmod(archive / "health", 0o755)


def test_hidden_paths_are_counted_and_reported_once(archive: Path):
    (archive / ".drafts").mkdir()
    (archive / ".drafts" / "wip-ddd444.txt").write_text(_article("Is it true?", "Why?"))
    (archive / "health" / ".notes.txt").write_text("editor's notes\n")
    arch = read_archive(archive)
    assert sorted(arch.hidden) == [str(archive / ".drafts"), str(archive / "health" / ".notes.txt")]
    assert "passed over 2 hidden paths" in arch.summary()
    assert len(arch.checks) == 2
    # The default index inside the archive and what lives beside it (lock, caches) are the
    # tool's own: not counted as the editors' hidden paths.
    r = CliRunner().invoke(app, ["index", "-a", str(archive)])
    assert r.exit_code == 0, r.output
    assert (archive / ".suggest-index.counts").is_dir() and (archive / "..suggest-index.lock").exists()
    arch = read_archive(archive)
    assert sorted(arch.hidden) == [str(archive / ".drafts"), str(archive / "health" / ".notes.txt")]


def test_an_index_inside_the_archive_is_never_part_of_it(archive: Path):
    index = archive / "myindex"  # not hidden: --index pointed inside the archive
    r = CliRunner().invoke(app, ["index", "-a", str(archive), "--index", str(index)])
    assert r.exit_code == 0, r.output
    fp = fingerprint(archive)
    arch = read_archive(archive)
    assert len(arch.checks) == 2 and not arch.problems, [str(p) for p in arch.problems]
    assert not [p for p in arch.ignored if "myindex" in p]
    r = CliRunner().invoke(app, ["index", "-a", str(archive), "--index", str(index)])
    assert r.exit_code == 0 and "up to date" in r.output, r.output
    assert fingerprint(archive) == fp


def test_the_shipped_corpus_fingerprint_ignores_its_default_index(tmp_path: Path):
    a = tmp_path / "corpus"
    shutil.copytree(CORPUS, a, ignore=shutil.ignore_patterns(".suggest-index*", ".*.lock"))
    fp = fingerprint(a)
    r = CliRunner().invoke(app, ["index", "-a", str(a)])
    assert r.exit_code == 0, r.output
    assert fingerprint(a) == fp
    manifest = json.loads((a / ".suggest-index" / "manifest.json").read_text())
    assert manifest["archive"]["fingerprint"] == fp
