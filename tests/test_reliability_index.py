"""The saved index as a newsroom breaks it: builds killed with SIGKILL at random moments, damaged
manifests and links, two builders at once, and `suggest for` running while the index is rebuilt.

Builds run as real processes (``sys.executable -m suggest``) on a generated archive of 400 checks
(the shipped corpus with variations) so that a build lasts long enough to be killed mid-way.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suggest.archive import read_archive
from suggest.cli import app
from suggest.errors import IndexFormatError
from suggest.index import FORMAT_VERSION, Index, open_index

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
ARTICLE = ROOT / "examples" / "draft-sea-level.txt"
SEED = 20251105

pytestmark = pytest.mark.skipif(not CORPUS.is_dir() or not ARTICLE.is_file(), reason="shipped corpus/ or examples/ missing")


def write_big_archive(path: Path, n: int = 400, seed: int = SEED) -> Path:
    """``n`` checks as JSON Lines: the corpus checks again and again, with varied titles,
    summaries and question wording, so that they are distinct checks with shared topics."""
    rng = random.Random(seed)
    fill = "new report data study claim evidence officials experts survey record analysis county".split()
    checks = read_archive(CORPUS).checks
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            c = checks[i % len(checks)]
            d = c.to_dict()
            d.pop("path")
            d["id"] = f"{c.id}-{i:04d}"
            if i >= len(checks):
                d["title"] = f"{c.title} ({' '.join(rng.sample(fill, 3))} {i})"
            d["summary"] = f"{c.summary} {' '.join(rng.sample(fill, 4))}"
            qs = list(c.questions)
            rng.shuffle(qs)
            d["questions"] = [q if rng.random() < 0.5 else f"{q.rstrip('?')} in {2000 + i % 25}?" for q in qs]
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    return path


def suggest_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "suggest", *map(str, args)]


def cli(*args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(suggest_cmd(*args), capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def answer(archive: Path, index: Path) -> tuple[int, str, str]:
    """`suggest for` on the sea-level draft, in-process (fast enough to run in a loop)."""
    r = CliRunner().invoke(
        app,
        ["for", str(ARTICLE), "--archive", str(archive), "--index", str(index), "-f", "json", "--top", "8",
         "--min-score", "0.05"],
    )
    return r.exit_code, r.stdout, r.stderr


def versions(index: Path) -> list[str]:
    return sorted(p.name for p in index.parent.iterdir() if p.name.startswith(f"{index.name}.v-"))


def leftovers(index: Path) -> list[str]:
    """What builds left beside the index besides its link, its one version folder, its lock and
    its cache of counts; and any half-written entry in that cache."""
    keep = {index.name, f".{index.name}.lock", os.readlink(index), f".{index.name}.counts"}
    ours = (index.name, f".{index.name}")
    left = sorted(p.name for p in index.parent.iterdir() if p.name.startswith(ours) and p.name not in keep)
    cache = index.parent / f".{index.name}.counts"
    if cache.is_dir():
        left += sorted(
            f"{cache.name}/{p.name}" for p in cache.iterdir() if p.is_dir() and not (p / "meta.json").is_file()
        )
    return left


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> dict:
    """The generated archive, a clean index of it, and the reference answer from that index."""
    root = tmp_path_factory.mktemp("big")
    archive = write_big_archive(root / "archive.jsonl")
    index = root / "clean" / "ix"
    index.parent.mkdir()
    # Also measure how long the build and save last here and now: from the "indexing" line
    # (archive read) to the "index built" line (new version swapped in).
    proc = start_build(archive, index)
    wait_for_line(proc, "indexing ")
    t0 = time.monotonic()
    wait_for_line(proc, "index built")
    build_seconds = time.monotonic() - t0
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    code, out, err = answer(archive, index)
    assert code == 0, err
    assert len(json.loads(out)) >= 3, "the reference answer should hold several questions"
    return {"archive": archive, "index": index, "answer": out, "build_seconds": build_seconds}


def copy_index(src: Path, dest: Path) -> None:
    """A second, independent copy of a saved index in the same layout (link + version folder)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    version = f"{dest.name}.v-copy_idx"
    shutil.copytree(src.resolve(), dest.parent / version)
    os.symlink(version, dest)


def same_files(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.resolve().iterdir())
    assert names == sorted(p.name for p in b.resolve().iterdir())
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n


# -- (a) killed builds ---------------------------------------------------------------------------


def start_build(archive: Path, index: Path) -> subprocess.Popen:
    return subprocess.Popen(
        suggest_cmd("index", "--archive", archive, "--index", index, "--force"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def wait_for_line(proc: subprocess.Popen, prefix: str) -> None:
    """Block until the build prints a stderr line starting with ``prefix`` (or ends)."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith(prefix):
            return


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILL; True when the process was still running (a real kill)."""
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    if proc.stderr is not None:
        proc.stderr.close()
    return alive and proc.returncode == -signal.SIGKILL


def test_killed_builds_leave_the_previous_index_usable(big, tmp_path):
    archive, index = big["archive"], tmp_path / "ix"
    copy_index(big["index"], index)
    build_seconds = big["build_seconds"]
    rng = random.Random(SEED)
    # Six kills at seeded moments spread over the build (one in each sixth of it), then two the
    # moment a new version folder appears: while the index is being written. A build that
    # finished before its kill (a busy machine is faster or slower than measured) is retried
    # with an earlier moment, so that every kill hits a running build.
    kills = writing_kills = 0
    for k in range(6):
        for attempt in range(4):
            proc = start_build(archive, index)
            wait_for_line(proc, "indexing ")
            time.sleep((k + rng.random()) / 6 * build_seconds / 2**attempt)
            hit = kill(proc)
            check_previous_index(big, index)
            if hit:
                kills += 1
                break
    for _ in range(2):
        for _attempt in range(4):
            before = set(versions(index))
            proc = start_build(archive, index)
            while proc.poll() is None and set(versions(index)) <= before:
                time.sleep(0.001)
            time.sleep(rng.random() * 0.01)
            hit = kill(proc)
            check_previous_index(big, index)
            if hit:
                writing_kills += 1
                break
    assert kills == 6 and writing_kills == 2, (kills, writing_kills)
    # Killed builds left at most their half-written version folders; they are never read.
    assert len(versions(index)) <= 1 + kills + writing_kills
    # The next run finds the old index intact, and a rebuild clears what the killed ones left.
    r = cli("index", "--archive", archive, "--index", index)
    assert r.returncode == 0 and "index up to date" in r.stderr, r.stderr
    r = cli("index", "--archive", archive, "--index", index, "--force")
    assert r.returncode == 0, r.stderr
    assert leftovers(index) == []
    same_files(index, big["index"])
    assert answer(archive, index)[1] == big["answer"]


def check_previous_index(big: dict, index: Path) -> None:
    ix = Index.load(index)
    assert ix.manifest["counts"]["checks"] == 400
    code, out, err = answer(big["archive"], index)
    assert code == 0, err
    assert out == big["answer"]
    assert "indexing" not in err and "rebuilding" not in err, err


def test_leftovers_of_a_killed_build_are_cleared_by_the_next_one(tmp_path):
    """What a kill inside `Index.save` can leave: a half-written version folder (killed while
    writing) and a temporary link (killed between making it and renaming it over the index)."""
    archive = tmp_path / "archive.jsonl"
    write_big_archive(archive, n=20)
    index = tmp_path / "ix"
    open_index(archive, index)
    half = tmp_path / "ix.v-killed01"
    half.mkdir()
    (half / "terms.bin").write_bytes(b"half")
    os.symlink("ix.v-killed01", tmp_path / ".ix.link-999999")
    ix, _ = open_index(archive, index)  # readers use the complete index and ignore the rest
    assert ix.manifest["counts"]["checks"] == 20
    open_index(archive, index, force=True)
    assert leftovers(index) == []


# -- (b) damaged indexes -------------------------------------------------------------------------


def small_archive(tmp_path: Path) -> tuple[Path, Path]:
    archive = write_big_archive(tmp_path / "archive.jsonl", n=12)
    index = tmp_path / "ix"
    open_index(archive, index)
    return archive, index


def edit_manifest(index: Path, change) -> None:
    p = index.resolve() / "manifest.json"
    m = json.loads(p.read_text("utf-8"))
    change(m)
    p.write_text(json.dumps(m), "utf-8")


MANIFEST_DAMAGE = {
    "not JSON": lambda ix: (ix.resolve() / "manifest.json").write_bytes(b"\x00\xff{not json"),
    "empty": lambda ix: (ix.resolve() / "manifest.json").write_bytes(b""),
    "half written": lambda ix: (ix.resolve() / "manifest.json").write_bytes(
        (ix.resolve() / "manifest.json").read_bytes()[:100]
    ),
    "a list": lambda ix: (ix.resolve() / "manifest.json").write_text("[2]", "utf-8"),
    "no counts": lambda ix: edit_manifest(ix, lambda m: m.pop("counts")),
    "counts edited": lambda ix: edit_manifest(ix, lambda m: m["counts"].update(checks=m["counts"]["checks"] + 1)),
    "counts not numbers": lambda ix: edit_manifest(ix, lambda m: m.update(counts="many")),
    "settings out of range": lambda ix: edit_manifest(ix, lambda m: m["config"].update(dup_threshold=7.0)),
    "unknown setting": lambda ix: edit_manifest(ix, lambda m: m["config"].update(colour="blue")),
    "archive entry edited": lambda ix: edit_manifest(ix, lambda m: m.update(archive="corpus")),
    "no file list": lambda ix: edit_manifest(ix, lambda m: m.pop("files")),
    "file list names a lost file": lambda ix: edit_manifest(ix, lambda m: m["files"].update({"extra.npy": "0" * 64})),
    "old format version": lambda ix: edit_manifest(ix, lambda m: m.update(format_version=FORMAT_VERSION - 1)),
    "no format version": lambda ix: edit_manifest(ix, lambda m: m.pop("format_version")),
}


@pytest.mark.parametrize("damage", sorted(MANIFEST_DAMAGE))
def test_damaged_manifest_is_detected_and_rebuilt(tmp_path, damage):
    archive, index = small_archive(tmp_path)
    MANIFEST_DAMAGE[damage](index)
    with pytest.raises(IndexFormatError, match=r"run `suggest index`"):
        Index.load(index)
    notes: list[str] = []
    ix, read = open_index(archive, index, notify=notes.append)
    assert read is not None, "the damaged index was used instead of rebuilt"
    assert [n for n in notes if n.startswith("note: rebuilding the index: ")], notes
    assert Index.load(index).manifest["counts"]["checks"] == 12
    assert leftovers(index) == []


def test_dangling_link_is_rebuilt_with_a_note(tmp_path):
    archive, index = small_archive(tmp_path)
    shutil.rmtree(index.resolve())
    with pytest.raises(IndexFormatError, match="no index here"):
        Index.load(index)
    notes: list[str] = []
    _, read = open_index(archive, index, notify=notes.append)
    assert read is not None and any(n.startswith("note: rebuilding the index: ") for n in notes), notes
    assert Index.load(index).manifest["counts"]["checks"] == 12


def test_link_loop_is_rebuilt_with_a_note(tmp_path):
    archive = write_big_archive(tmp_path / "archive.jsonl", n=12)
    index = tmp_path / "ix"
    os.symlink("ix", index)
    with pytest.raises(IndexFormatError):
        Index.load(index)
    notes: list[str] = []
    _, read = open_index(archive, index, notify=notes.append)
    assert read is not None and any(n.startswith("note: rebuilding the index: ") for n in notes), notes
    assert Index.load(index).manifest["counts"]["checks"] == 12 and index.is_symlink()


def older_layout(index: Path) -> None:
    """Turn the index into a plain folder, as indexes were saved before the version links."""
    real = index.resolve()
    index.unlink()
    shutil.copytree(real, index)
    shutil.rmtree(real)


def test_plain_folder_of_an_older_format_is_replaced(tmp_path):
    archive, index = small_archive(tmp_path)
    older_layout(index)
    edit_manifest(index, lambda m: m.update(format_version=1))
    notes: list[str] = []
    _, read = open_index(archive, index, notify=notes.append)
    assert read is not None
    assert any(f"index format version 1, this suggest reads {FORMAT_VERSION}" in n for n in notes), notes
    assert index.is_symlink() and Index.load(index).manifest["counts"]["checks"] == 12
    assert leftovers(index) == []


def test_plain_folder_of_the_current_format_is_used_then_replaced(tmp_path):
    archive, index = small_archive(tmp_path)
    older_layout(index)
    notes: list[str] = []
    _, read = open_index(archive, index, notify=notes.append)
    assert read is None and notes == []  # a complete index in the old layout is still good
    open_index(archive, index, force=True)
    assert index.is_symlink() and leftovers(index) == []


def test_index_option_never_destroys_a_folder_or_file_that_is_not_an_index(tmp_path):
    """`--index` pointed at the wrong place by mistake: refuse, leave the files alone."""
    archive = write_big_archive(tmp_path / "archive.jsonl", n=12)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "draft.txt").write_text("my draft", "utf-8")
    plain = tmp_path / "plain.txt"
    plain.write_text("keep me", "utf-8")
    for target in (notes, plain):
        r = CliRunner().invoke(app, ["index", "--archive", str(archive), "--index", str(target)])
        assert r.exit_code == 1, r.stderr
        assert r.stderr.count("error: ") == 1, r.stderr
        assert r.stderr.splitlines()[-1].startswith(f"error: {target}: "), r.stderr
    assert (notes / "draft.txt").read_text("utf-8") == "my draft"
    assert plain.read_text("utf-8") == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "archive.jsonl", "notes", "plain.txt"
    ]


# -- (c) two builders at once ------------------------------------------------------------------


def test_two_builds_at_once_end_with_one_good_index(big, tmp_path):
    archive, index = big["archive"], tmp_path / "ix"
    procs = [
        subprocess.Popen(
            suggest_cmd("index", "--archive", archive, "--index", index, "--force"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert out == "" and "index built: 400 checks" in err
    Index.load(index)
    same_files(index, big["index"])
    assert leftovers(index) == []
    assert answer(archive, index)[1] == big["answer"]


# -- (d) readers during rebuilds -----------------------------------------------------------------


def test_suggest_for_answers_from_a_complete_index_while_rebuilding(big, tmp_path):
    archive, index = big["archive"], tmp_path / "ix"
    copy_index(big["index"], index)
    rebuilds = 2
    failures: list[str] = []

    def rebuild() -> None:
        for _ in range(rebuilds):
            r = cli("index", "--archive", archive, "--index", index, "--force", "--quiet")
            if r.returncode != 0:
                failures.append(r.stderr)

    builder = threading.Thread(target=rebuild)
    builder.start()
    answers = 0
    swaps_seen: set[str] = set()
    while builder.is_alive():
        swaps_seen.add(os.readlink(index))
        code, out, err = answer(archive, index)
        answers += 1
        assert code == 0, err
        assert out == big["answer"]
        assert "rebuilding" not in err and "indexing" not in err, err
        time.sleep(0.01)
    builder.join()
    assert failures == []
    assert len(swaps_seen) >= 2, "the readers did not run across index swaps"
    assert answers >= 10
    assert leftovers(index) == []


def test_load_never_fails_while_a_writer_swaps_versions(big, tmp_path):
    """The same race, tighter: one thread saves a new version (and removes the old one) over and
    over while this one loads. A reader that resolved the link just before a swap must still get
    a complete index, never "missing or damaged"."""
    source = Index.load(big["index"])
    index = tmp_path / "ix"
    source.save(index)
    done = threading.Event()

    def writer() -> None:
        try:
            for _ in range(15):
                source.save(index)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    loads, errors = 0, []
    while not done.is_set():
        try:
            ix = Index.load(index)
            assert ix.manifest["counts"] == source.manifest["counts"]
            assert ix.pool_records[len(ix.pool_records) - 1] == source.pool_records[len(source.pool_records) - 1]
        except IndexFormatError as exc:
            errors.append(str(exc))
        loads += 1
    thread.join()
    assert errors == []
    assert loads >= 15
    assert leftovers(index) == []
