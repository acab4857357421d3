"""An index brought up to date from the cache of chunk counts equals a full rebuild (issue: the
archive grows every day): file for file, and in what `suggest for` prints."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suggest import chunks
from suggest.cli import app
from suggest.index import count_cache, open_index

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
DRAFTS = (
    "Do vaccines cause autism? Studies of millions of children found no link between the MMR vaccine and autism.",
    "Is the sea level rising faster along the coast? Tide gauges and satellites measure the rise.",
    "Can a phone's radiation cause cancer? Radio waves from phones are non-ionising.",
)


def index_files(folder: Path) -> dict[str, bytes]:
    """Every saved file of the index, but the manifest's build details (its python version)."""
    out = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "manifest.json"}
    return out


def suggest_for(archive: Path, index: Path, draft: Path) -> str:
    r = CliRunner().invoke(
        app, ["for", str(draft), "-a", str(archive), "--index", str(index), "-f", "json", "--min-score", "0", "-q"]
    )
    assert r.exit_code in (0, 3), r.stderr
    return r.stdout


class Newsroom:
    """A small archive and the day's changes to it, from a seed."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        files = sorted(p for p in CORPUS.rglob("*.txt"))
        self.spare = files[40:]  # articles published later in the day
        for p in files[:40]:
            dest = root / p.relative_to(CORPUS)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)
        self.n = 0

    def articles(self) -> list[Path]:
        return sorted(self.root.rglob("*.txt"))

    def add(self) -> str:
        src = self.rng.choice(self.spare)
        self.n += 1
        dest = self.root / src.parent.name / f"{src.stem[:-7]}-{self.n:06x}.txt"  # a new id
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return f"add {dest.name}"

    def edit(self) -> str:
        p = self.rng.choice(self.articles())
        lines = p.read_text("utf-8").splitlines()
        at = self.rng.randrange(len(lines))
        if self.rng.random() < 0.5:
            lines.append(f"What changed in the figures after {self.rng.randrange(1990, 2026)}?")
        else:
            lines[at] = lines[at] + " Updated with new figures."
        p.write_text("\n".join(lines) + "\n", "utf-8")
        return f"edit {p.name}"

    def delete(self) -> str:
        p = self.rng.choice(self.articles())
        p.unlink()
        return f"delete {p.name}"

    def rename(self) -> str:
        p = self.rng.choice(self.articles())
        folder = self.rng.choice(sorted(d for d in self.root.iterdir() if d.is_dir()))
        dest = folder / f"renamed-{p.name}"  # the same id (its last six hex digits), maybe another category
        p.rename(dest)
        return f"rename {p.name} -> {dest.relative_to(self.root)}"

    def round(self) -> list[str]:
        ops = [self.add, self.edit, self.delete, self.rename]
        return [self.rng.choice(ops)() for _ in range(self.rng.randint(1, 3))]


@pytest.mark.parametrize("seed", [0])
def test_a_day_of_newsroom_life(tmp_path, monkeypatch, seed):
    """30 rounds of adds, edits, deletes and renames; after each, the index brought up to date
    through the cache equals a full rebuild, and so does each list `suggest for` prints."""
    monkeypatch.setattr(chunks, "MEAN", 4)  # many small chunks, so most come from the cache
    archive = tmp_path / "archive"
    room = Newsroom(archive, seed)
    daily, fresh = tmp_path / "daily", tmp_path / "fresh"
    drafts = []
    for i, text in enumerate(DRAFTS):
        d = tmp_path / f"draft{i}.txt"
        d.write_text(text)
        drafts.append(d)
    said: list[str] = []
    open_index(archive, daily, jobs=1)
    from suggest import archive as reader

    reads: list[str] = []
    real_read_file = reader.read_file

    def counted(path, category=None):  # type: ignore[no-untyped-def]
        reads.append(str(path))
        return real_read_file(path, category)

    hits = 0
    files_seen = 0
    for r in range(30):
        done = room.round()
        said.clear()
        files_seen += len(room.articles())
        monkeypatch.setattr(reader, "read_file", counted)
        ix, _ = open_index(archive, daily, jobs=1, progress=said.append)
        monkeypatch.setattr(reader, "read_file", real_read_file)
        hits += any("from the cache" in m for m in said)
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.rmtree(count_cache(fresh), ignore_errors=True)
        open_index(archive, fresh, force=True, jobs=1)
        assert index_files(daily) == index_files(fresh), f"round {r}: {done}"
        for d in drafts:
            assert suggest_for(archive, daily, d) == suggest_for(archive, fresh, d), f"round {r}: {done}"
    assert hits >= 25  # the updates did use the cache of counts
    # and read again only the files that changed and those in the chunks to count again (without
    # the cache of files: every file, every time)
    assert len(reads) < files_seen / 3
    assert len(list(count_cache(daily).iterdir())) <= len(ix.check_ids)  # old entries are removed


def test_a_damaged_cache_entry_is_counted_again(tmp_path, monkeypatch):
    monkeypatch.setattr(chunks, "MEAN", 4)
    archive = tmp_path / "archive"
    Newsroom(archive, 1)
    one, two = tmp_path / "one", tmp_path / "two"
    open_index(archive, one, jobs=1)
    for entry in count_cache(one).iterdir():
        (entry / "body.npz").write_bytes(b"not a matrix")
        (entry / "terms.npy").unlink()
        break
    (archive / "health" / "extra-ffffff.txt").write_text("Is tea good?\nWant to dive deeper?\nDoes tea help sleep?\n")
    said: list[str] = []
    open_index(archive, one, jobs=1, progress=said.append)
    open_index(archive, two, jobs=1, force=True)
    assert index_files(one) == index_files(two)


def test_force_counts_everything_again_and_an_unwritable_cache_is_noted(tmp_path, monkeypatch):
    archive = tmp_path / "archive"
    Newsroom(archive, 2)
    ix = tmp_path / "ix"
    open_index(archive, ix, jobs=1)
    said: list[str] = []
    open_index(archive, ix, jobs=1, force=True, progress=said.append)
    assert not any("from the cache" in m for m in said)
    shutil.rmtree(count_cache(ix))
    count_cache(ix).write_text("a file where the cache folder goes")
    notes: list[str] = []
    (archive / "health" / "extra-eeeeee.txt").write_text("Is tea good?\nWant to dive deeper?\nDoes tea help sleep?\n")
    open_index(archive, ix, jobs=1, notify=notes.append)
    assert any("cache of counts could not be written" in n for n in notes)


def test_a_new_file_beside_a_big_one_does_not_read_the_big_one_again(tmp_path, monkeypatch):
    """Chunks end around a file of many checks: counting a new small file's chunk never needs
    the big file's text, so the update does not read it (its entry in the cache of files
    stands for it)."""
    import json

    from suggest import archive as reader
    from suggest.chunks import file_cuts

    monkeypatch.setattr(chunks, "MEAN", 4)
    assert file_cuts(["a"] * 5 + ["b", "c"] + ["d"] * 5 + ["e"]) == [0, 5, 7, 12]
    archive = tmp_path / "archive"
    archive.mkdir()
    big = archive / "export.jsonl"
    big.write_text(
        "".join(
            json.dumps({"id": f"c{i:03d}", "title": f"Is claim {i} about tea true?", "questions": [f"Who said {i}?"]})
            + "\n"
            for i in range(40)
        )
    )
    one, two = tmp_path / "one", tmp_path / "two"
    open_index(archive, one, jobs=1)
    (archive / "zz-new-ffffff.txt").write_text("Is coffee good?\nWant to dive deeper?\nDoes coffee help focus?\n")
    reads: list[str] = []
    real = reader.read_file
    monkeypatch.setattr(reader, "read_file", lambda p, c=None: reads.append(str(p)) or real(p, c))
    open_index(archive, one, jobs=1)
    monkeypatch.setattr(reader, "read_file", real)
    assert reads == [str(archive / "zz-new-ffffff.txt")]
    open_index(archive, two, jobs=1, force=True)
    assert index_files(one) == index_files(two)


def test_no_cache_keeps_no_counts_and_builds_the_same_index(tmp_path, monkeypatch):
    """`suggest index --no-cache` (or $SUGGEST_COUNT_CACHE=0 for every command) removes the
    cache of counts and keeps none; the index is the same as one built with the cache."""
    archive = tmp_path / "archive"
    Newsroom(archive, 3)
    cached, bare = tmp_path / "cached", tmp_path / "bare"
    open_index(archive, cached, jobs=1)
    assert count_cache(cached).is_dir()
    open_index(archive, bare, jobs=1)
    r = CliRunner().invoke(app, ["index", "-a", str(archive), "--index", str(bare), "--force", "--no-cache", "-q"])
    assert r.exit_code == 0, r.stderr
    assert not count_cache(bare).exists()
    assert index_files(bare) == index_files(cached)
    (archive / "health" / "extra-dddddd.txt").write_text("Is tea good?\nWant to dive deeper?\nDoes tea help sleep?\n")
    monkeypatch.setenv("SUGGEST_COUNT_CACHE", "0")
    draft = tmp_path / "draft.txt"
    draft.write_text(DRAFTS[0] + "\n")
    listed = suggest_for(archive, bare, draft)  # brings the index up to date, without a cache
    assert not count_cache(bare).exists()
    monkeypatch.delenv("SUGGEST_COUNT_CACHE")
    assert listed == suggest_for(archive, cached, draft)  # updated from its cache
    assert index_files(bare) == index_files(cached)
