"""`suggest batch`: equal to `suggest for` check by check, resumable after SIGKILL, idempotent,
safe file names, one writer at a time, write errors that keep the previous output."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import alive, children
from typer.testing import CliRunner

from suggest import batch as batch_mod
from suggest import files as files_mod
from suggest.archive import read_archive
from suggest.batch import RESULTS, STATE_DIR, batch_lock, run_batch
from suggest.cli import app
from suggest.errors import OptionError, OutputError
from suggest.files import output_names
from suggest.index import open_index
from suggest.rank import check_record, suggest
from suggest.records import RankOptions
from suggest.render import render

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="shipped corpus/ missing")


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return path


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> content)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def stats(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_ino) for p in folder.rglob("*") if p.is_file()}


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A private copy of the shipped corpus, so nothing is written into the repository."""
    if not CORPUS.is_dir():
        pytest.skip("shipped corpus/ missing")
    dest = tmp_path_factory.mktemp("arch") / "corpus"
    shutil.copytree(CORPUS, dest, ignore=shutil.ignore_patterns(".*"))
    return dest


@pytest.fixture(scope="module")
def index(archive):
    ix, _ = open_index(archive)
    return ix


@pytest.fixture(scope="module")
def reference(archive, index, tmp_path_factory) -> Path:
    """An uninterrupted run (text format, chunks of 5, one process)."""
    out = tmp_path_factory.mktemp("ref") / "out"
    run_batch(index, out, "text", chunk=5, jobs=1)
    return out


# -- the same lists as `suggest for` -----------------------------------------------------------

@needs_corpus
def test_batch_equals_suggest_check_by_check(archive, index, tmp_path):
    out = tmp_path / "out"
    s = run_batch(index, out, "json", chunk=7, jobs=1)
    checks = read_archive(archive).checks
    assert s.checks == len(checks) == 64 and s.chunks == 10 and s.computed == 10
    lines = [json.loads(x) for x in (out / RESULTS).read_text("utf-8").splitlines()]
    assert [x["id"] for x in lines] == sorted(c.id for c in checks)
    by_id = {x["id"]: x for x in lines}
    names = output_names([c.id for c in checks])
    non_empty = total = 0
    for c in checks:
        expected = suggest(index, c)
        assert by_id[c.id]["suggestions"] == [e.to_dict() for e in expected], c.id
        assert by_id[c.id]["title"] == c.title
        # The per-check file is byte for byte what `render` makes of `suggest`'s list with the
        # batch's links (the checks' files) and the checks' titles.
        want = render(
            expected,
            "json",
            check_url=lambda cid: f"{names[cid]}.json",
            check_info=lambda cid: check_record(index, cid),
        )
        assert (out / f"{names[c.id]}.json").read_text("utf-8") == want
        non_empty += bool(expected)
        total += len(expected)
    assert non_empty >= 20 and total >= 40  # the comparison is not between empty lists


@needs_corpus
@pytest.mark.parametrize("opts", [RankOptions(top=2), RankOptions(min_score=0.02, open_only=True, top=8),
                                  RankOptions(since="2025-06-01", min_score=0.0)])
def test_other_options_match_too(archive, index, tmp_path, opts):
    run_batch(index, tmp_path / "o", "text", opts=opts, chunk=64, jobs=1)
    lines = {json.loads(x)["id"]: json.loads(x) for x in (tmp_path / "o" / RESULTS).read_text("utf-8").splitlines()}
    compared = 0
    for c in read_archive(archive).checks:
        assert lines[c.id]["suggestions"] == [s.to_dict() for s in suggest(index, c, opts)]
        assert len(lines[c.id]["suggestions"]) <= opts.top
        compared += len(lines[c.id]["suggestions"])
    assert compared >= 30


@needs_corpus
def test_postings_budgets_match_too_and_change_lists(archive, index, tmp_path):
    """With word and character postings budgets the batch still gives `suggest for`'s lists,
    and the budgets bind on the corpus (some lists differ from the unbudgeted ones)."""
    opts = RankOptions(term_postings=40, gram_postings=300)
    run_batch(index, tmp_path / "b", "text", opts=opts, chunk=16, jobs=1)
    lines = {json.loads(x)["id"]: json.loads(x) for x in (tmp_path / "b" / RESULTS).read_text("utf-8").splitlines()}
    changed = 0
    for c in read_archive(archive).checks:
        got = lines[c.id]["suggestions"]
        assert got == [s.to_dict() for s in suggest(index, c, opts)]
        changed += got != [s.to_dict() for s in suggest(index, c)]
    assert changed >= 5


@needs_corpus
def test_parallel_and_chunk_size_do_not_change_output(archive, index, reference, tmp_path):
    out = tmp_path / "par"
    from suggest.index import default_index_dir

    s = run_batch(index, out, "text", chunk=3, jobs=2, index_dir=default_index_dir(archive))
    assert s.chunks == 22
    ref = {k: v for k, v in tree(reference).items() if not k.startswith(STATE_DIR)}
    got = {k: v for k, v in tree(out).items() if not k.startswith(STATE_DIR)}
    assert got == ref and len(got) == 65
    # The workers read the ids and file names the parent made, from the run's chunks folder.
    (saved,) = (out / STATE_DIR).glob("chunks-*/names.json")
    doc = json.loads(saved.read_text("utf-8"))
    assert doc["ids"] == list(index.check_ids)
    assert doc["names"] == [output_names(list(index.check_ids))[c] for c in index.check_ids]


def test_saved_names_are_refused_when_damaged_or_for_another_index(tmp_path):
    path = tmp_path / "names.json"
    batch_mod._save_names(path, ["b", "a/b"], {"b": "b", "a/b": "a_b"})
    assert batch_mod._load_names(path, 2) == (["b", "a/b"], ["b", "a_b"])
    assert batch_mod._load_names(path, 3) is None  # another index: the worker makes its own
    for bad in (b"{", b"[]", b'{"ids": ["a"]}', b'{"ids": ["a"], "names": 1}'):
        path.write_bytes(bad)
        assert batch_mod._load_names(path, 1) is None
    assert batch_mod._load_names(tmp_path / "missing.json", 1) is None


@needs_corpus
def test_text_files_are_the_rendered_lists(index, reference):
    names = output_names(list(index.check_ids))
    for line in (reference / RESULTS).read_text("utf-8").splitlines():
        rec = json.loads(line)
        text = (reference / f"{names[rec['id']]}.txt").read_text("utf-8")
        if not rec["suggestions"]:
            assert text == ""  # no bare heading for a check that gets no question
            continue
        assert text.splitlines()[0] == "Want to dive deeper?"
        assert text.splitlines()[1:] == [s["question"] for s in rec["suggestions"]]


# -- resume after a kill, re-run, stale files ---------------------------------------------------

def _spawn(archive: Path, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "suggest", "batch", "--archive", str(archive), "--out", str(out), "--quiet", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _wait_for_first_chunk(proc: subprocess.Popen, out: Path, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if list((out / STATE_DIR).glob("chunks-*/000000.jsonl")):
            return
        if proc.poll() is not None:
            pytest.fail(f"batch ended before the first chunk was seen: {proc.stderr.read().decode()}")
        time.sleep(0.002)
    pytest.fail("no chunk file appeared")


@needs_corpus
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigkill_then_resume_gives_identical_output(archive, index, tmp_path, jobs):
    full = tmp_path / "full"
    done = subprocess.run([sys.executable, "-m", "suggest", "batch", "--archive", str(archive), "--out", str(full),
                           "--chunk", "1", "--jobs", jobs, "--quiet"], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "killed"
    proc = _spawn(archive, out, "--chunk", "1", "--jobs", jobs)
    _wait_for_first_chunk(proc, out)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the workers die too
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    finished = list((out / STATE_DIR).glob("chunks-*/*.jsonl"))
    assert 1 <= len(finished) < 64, "the run was not interrupted"
    assert not (out / RESULTS).exists()
    again = subprocess.run([sys.executable, "-m", "suggest", "batch", "--archive", str(archive), "--out", str(out),
                            "--chunk", "1", "--jobs", jobs], capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr
    summary = again.stderr.decode().strip().splitlines()[-1]
    reused = int(re.search(r"(\d+) reused", summary).group(1))
    assert reused >= len(finished)
    assert tree(out) == tree(full)
    assert not [p for p in out.rglob("*.tmp")]


@needs_corpus
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from Linux /proc")
def test_workers_end_soon_after_their_batch_is_killed(archive, index, tmp_path):
    """Only the batch's own process is killed (as the out-of-memory killer would): its ranking
    workers must not stay behind for loky's 300 s idle timeout."""
    out = tmp_path / "killed"
    proc = _spawn(archive, out, "--chunk", "1", "--jobs", "2")
    _wait_for_first_chunk(proc, out)
    workers = [c for c in children(proc.pid) if "Loky" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")]
    assert workers, "no worker processes to watch"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    end = time.monotonic() + 20
    while time.monotonic() < end and any(alive(w) for w in workers):
        time.sleep(0.1)
    left = [w for w in workers if alive(w)]
    for w in left:  # do not leave them to the next test either
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers {left} outlived their batch by 20 s"


@needs_corpus
def test_rerun_is_byte_identical_and_touches_nothing(index, reference, tmp_path):
    out = tmp_path / "again"
    shutil.copytree(reference, out)
    before_tree, before_stats = tree(out), stats(out)
    s = run_batch(index, out, "text", chunk=5, jobs=1)
    assert (s.computed, s.written, s.unchanged, s.removed) == (0, 0, 65, 0)
    assert tree(out) == before_tree
    assert stats(out) == before_stats


@needs_corpus
def test_a_damaged_file_is_repaired_and_only_it(index, reference, tmp_path):
    out = tmp_path / "dmg"
    shutil.copytree(reference, out)
    victim = sorted(out.glob("*.txt"))[3]
    victim.write_text("edited by hand\n")
    (out / RESULTS).unlink()
    before = stats(out)
    s = run_batch(index, out, "text", chunk=5, jobs=1)
    assert (s.computed, s.written) == (0, 2)
    assert tree(out) == tree(reference)
    after = stats(out)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {victim.name, RESULTS}


@needs_corpus
def test_new_settings_recompute_and_old_format_files_go(index, reference, tmp_path):
    out = tmp_path / "fmt"
    shutil.copytree(reference, out)
    s = run_batch(index, out, "markdown", opts=RankOptions(top=3), chunk=5, jobs=1)
    assert s.computed == s.chunks and s.removed == 64
    assert not list(out.glob("*.txt")) and len(list(out.glob("*.md"))) == 64
    assert len(list((out / STATE_DIR).glob("chunks-*"))) == 1


def test_user_files_in_out_are_kept(tmp_path):
    arch = write_jsonl(tmp_path / "a.jsonl", [
        {"id": "c1", "title": "Do tides follow the moon?", "summary": "Tides and the moon.", "questions": ["Why are there two tides a day?"]},
        {"id": "c2", "title": "Is the moon drifting away?", "summary": "The moon recedes from Earth.", "questions": ["How fast does the moon recede?"]},
    ])
    ix, _ = open_index(arch, tmp_path / "ix")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    run_batch(ix, out, "text", jobs=1)
    run_batch(ix, out, "html", jobs=1)
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == [".suggest-batch", "c1.html", "c2.html", "notes.txt", RESULTS]


# -- hostile ids -------------------------------------------------------------------------------

HOSTILE = ["../evil", "../../etc/passwd", "/abs", "/etc/passwd", "a/b", "a_b", "a\\b", "CON", "con.txt", "nul",
           ".", "..", ".hidden", "~", "A", "a", "x" * 400, "é/ü", "tab\there", "new\nline", "suggestions", "-rf"]


def test_hostile_ids_cannot_escape_out(tmp_path):
    records = [{"id": cid, "title": f"Does claim {n} about rivers hold?", "summary": f"River claim {n} checked.",
                "questions": [f"How do rivers number {n} flood?"]} for n, cid in enumerate(HOSTILE)]
    records.append({"id": "", "title": "Empty id", "questions": ["Why?"]})
    work = tmp_path / "work"
    work.mkdir()
    arch = write_jsonl(work / "hostile.jsonl", records)
    ix, a = open_index(arch, tmp_path / "ix")
    assert len(ix.check_ids) == len(HOSTILE)  # the empty id is refused by the reader
    (work / "out").mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (work / "out" / "_evil.txt").symlink_to(outside)  # a planted link is neither followed nor replaced
    with pytest.raises(OutputError, match="_evil.txt: exists and was not written by `suggest batch`"):
        run_batch(ix, work / "out", "text", jobs=1)
    assert outside.read_text() == "keep me" and (work / "out" / "_evil.txt").is_symlink()
    (work / "out" / "_evil.txt").unlink()
    before = {p for p in tmp_path.rglob("*") if not {"out", "par"} & set(p.relative_to(tmp_path).parts)}
    for fmt in ("text", "html"):
        run_batch(ix, work / "out", fmt, jobs=1)
    parallel = work / "par"  # the workers' names come from the parent's file: the same names
    run_batch(ix, parallel, "html", jobs=2, chunk=2, index_dir=tmp_path / "ix")
    assert {p.name for p in parallel.glob("*.html")} == {p.name for p in (work / "out").glob("*.html")}
    after = {p for p in tmp_path.rglob("*") if not {"out", "par"} & set(p.relative_to(tmp_path).parts)}
    assert after == before
    assert outside.read_text() == "keep me"
    files = sorted(p.name for p in (work / "out").iterdir() if p.suffix == ".html")
    assert len(files) == len(HOSTILE) == len({f.casefold() for f in files})
    assert all(re.fullmatch(r"[A-Za-z0-9_.~-]+", f) and not f.startswith(".") and len(f) < 250 for f in files)
    assert not (work / "out" / "_evil.txt").is_symlink()
    assert not (work / "out" / "CON.html").exists() and not (work / "out" / "con.txt.html").exists()
    lines = [json.loads(x) for x in (work / "out" / RESULTS).read_text("utf-8").splitlines()]
    assert [x["id"] for x in lines] == sorted(HOSTILE)


def test_output_names_are_safe_unique_and_stable():
    names = output_names(HOSTILE)
    assert list(names) == HOSTILE
    assert len({n.casefold() for n in names.values()}) == len(HOSTILE)
    assert output_names(list(reversed(HOSTILE))) == names
    assert names["a_b"] == "a_b" and names["a/b"].startswith("a_b~")
    assert names["../evil"] == "_evil" and names["/abs"] == "_abs" and names["CON"] == "_CON"
    assert names["A"] == "A" and names["a"].startswith("a~")
    for n in names.values():
        assert re.fullmatch(r"[A-Za-z0-9_.~-]+", n) and not n.startswith(".") and len(n) <= 180


# -- one writer at a time ----------------------------------------------------------------------

def test_second_run_fails_while_the_lock_is_held(tmp_path):
    arch = write_jsonl(tmp_path / "a.jsonl", [{"id": "c1", "title": "Is sand a liquid?", "questions": ["Why does sand flow?"]}])
    ix, _ = open_index(arch, tmp_path / "ix")
    out = tmp_path / "out"
    with batch_lock(out):
        with pytest.raises(OutputError, match="another `suggest batch` is writing there"):
            run_batch(ix, out, jobs=1)
        r = cli("batch", "--archive", str(arch), "--index", str(tmp_path / "ix"), "--out", str(out))
        assert r.exit_code == 1
        assert r.stderr == f"error: {out}: another `suggest batch` is writing there; wait for it to finish or pass another --out\n"
    assert run_batch(ix, out, jobs=1).checks == 1


@needs_corpus
def test_concurrent_processes_do_not_interleave(archive, index, reference, tmp_path):
    out = tmp_path / "shared"
    first = _spawn(archive, out, "--chunk", "5", "--jobs", "1")
    _wait_for_first_chunk(first, out)
    os.killpg(first.pid, signal.SIGSTOP)  # holds the lock while stopped
    try:
        second = subprocess.run([sys.executable, "-m", "suggest", "batch", "--archive", str(archive), "--out", str(out),
                                 "--chunk", "5", "--quiet"], capture_output=True, timeout=120)
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert second.returncode == 1
    assert second.stderr.decode() == f"error: {out}: another `suggest batch` is writing there; wait for it to finish or pass another --out\n"
    assert first.wait(timeout=300) == 0
    assert tree(out) == tree(reference)


# -- write errors --------------------------------------------------------------------------------

@needs_corpus
def test_full_disk_keeps_previous_output(index, reference, tmp_path, monkeypatch):
    out = tmp_path / "full"
    shutil.copytree(reference, out)
    before = tree(out)
    real_replace = os.replace
    calls = {"n": 0}

    def replace(src, dst, *a, **k):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(files_mod.os, "replace", replace)
    # Which check's file is the fourth to change depends on the ranking; the message names it.
    with pytest.raises(OutputError, match=r"/full/[0-9a-f]{6}\.txt: cannot write \(No space left on device\); free space or fix permissions and run again"):
        run_batch(index, out, "text", opts=RankOptions(top=2), chunk=5, jobs=1)
    monkeypatch.undo()
    after = tree(out)
    assert after[RESULTS] == before[RESULTS]
    old_files = {k for k in before if not k.startswith(STATE_DIR)}
    # every file is whole: either the old content or a new complete one
    assert all(after[k] == before[k] or after[k].startswith(b"Want to dive deeper?\n") for k in old_files)
    assert not list(out.rglob("*.tmp"))
    # the next run, with space again, keeps the chunks that were finished and ends as a clean run
    s = run_batch(index, out, "text", opts=RankOptions(top=2), chunk=5, jobs=1)
    assert 0 < s.computed < s.chunks
    run_batch(index, tmp_path / "clean", "text", opts=RankOptions(top=2), chunk=5, jobs=1)
    assert tree(out) == tree(tmp_path / "clean")


@needs_corpus
def test_cli_write_error_is_one_line(archive, tmp_path, monkeypatch):
    def boom(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(files_mod.tempfile, "mkstemp", boom)
    r = cli("batch", "--archive", str(archive), "--out", str(tmp_path / "o"), "--jobs", "1", "-q")
    assert r.exit_code == 1
    assert len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("error: ") and "Read-only file system" in r.stderr


# -- CLI -----------------------------------------------------------------------------------------

@needs_corpus
def test_cli_batch_writes_and_reports(archive, reference, tmp_path):
    out, report = tmp_path / "o", tmp_path / "report.html"
    r = cli("batch", "--archive", str(archive), "--out", str(out), "--chunk", "5", "--jobs", "1",
            "--report", str(report), "--recent", "30")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    assert "batch: 64 checks in 13 chunks (13 ranked, 0 reused); 65 files written, 0 unchanged, 0 removed" in r.stderr
    assert "checks/s" in r.stderr and f"report written: {report}" in r.stderr
    assert {k: v for k, v in tree(out).items() if not k.startswith(STATE_DIR)} == {
        k: v for k, v in tree(reference).items() if not k.startswith(STATE_DIR)}
    assert report.read_text("utf-8").startswith("<!DOCTYPE html>")
    r = cli("batch", "--archive", str(archive), "--out", str(out), "--chunk", "5", "--jobs", "1", "--quiet",
            "--report", str(report), "--recent", "30")
    assert r.exit_code == 0 and r.stderr == "" and r.stdout == ""


@needs_corpus
@pytest.mark.parametrize("fmt,ext,first", [("markdown", "md", "## Want to dive deeper?"), ("html", "html", "<section"),
                                           ("json", "json", "[")])
def test_cli_batch_formats(archive, tmp_path, fmt, ext, first):
    r = cli("batch", "--archive", str(archive), "--out", str(tmp_path / "o"), "-f", fmt, "-q", "-j", "1", "--top", "3")
    assert r.exit_code == 0, r.stderr
    files = sorted((tmp_path / "o").glob(f"*.{ext}"))
    assert len(files) == 64
    empty = {json.loads(line)["id"] for line in (tmp_path / "o" / RESULTS).read_text("utf-8").splitlines()
             if not json.loads(line)["suggestions"]}
    names = output_names(sorted(json.loads(x)["id"] for x in (tmp_path / "o" / RESULTS).read_text("utf-8").splitlines()))
    for cid, name in names.items():
        text = (tmp_path / "o" / f"{name}.{ext}").read_text("utf-8")
        # A check that gets no question has an empty file (JSON: an empty list), never a bare heading.
        assert text.startswith(first) if cid not in empty or fmt == "json" else text == ""
    for line in (tmp_path / "o" / RESULTS).read_text("utf-8").splitlines():
        assert len(json.loads(line)["suggestions"]) <= 3


@pytest.mark.parametrize("args,message", [
    (["--format", "pdf"], "error: unknown format 'pdf'; use one of: text, markdown, html, json"),
    (["--jobs", "0"], "error: Invalid value for '--jobs' / '-j'"),
    (["--chunk", "0"], "error: Invalid value for '--chunk'"),
    (["--top", "0"], "error: Invalid value for '--top' / '-n'"),
    (["--recent", "-1"], "error: Invalid value for '--recent'"),
    (["--archive", "/no/such/archive"], "error: Invalid value for '--archive' / '-a'"),
])
def test_cli_batch_bad_options(tmp_path, args, message):
    r = cli("batch", "--out", str(tmp_path / "o"), *args)
    assert r.exit_code == 1
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith(message), r.stderr
    assert not (tmp_path / "o").exists()


def test_cli_batch_needs_out_and_a_folder(tmp_path):
    r = cli("batch")
    assert r.exit_code == 1 and r.stderr == "error: Missing option '--out' / '-o'. (see `root batch --help`)\n"
    arch = write_jsonl(tmp_path / "a.jsonl", [{"id": "c1", "title": "Is sand a liquid?", "questions": ["Why does sand flow?"]}])
    f = tmp_path / "file"
    f.write_text("x")
    r = cli("batch", "--archive", str(arch), "--out", str(f), "-q")
    assert r.exit_code == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    r = cli("batch", "--archive", str(arch), "--out", str(tmp_path / "o"), "--report", str(tmp_path), "-q")
    assert r.exit_code == 1 and len(r.stderr.splitlines()) == 1, r.stderr


def test_library_rejects_bad_settings(tmp_path):
    arch = write_jsonl(tmp_path / "a.jsonl", [{"id": "c1", "title": "Is sand a liquid?", "questions": ["Why does sand flow?"]}])
    ix, _ = open_index(arch, tmp_path / "ix")
    for kw in ({"fmt": "pdf"}, {"chunk": 0}, {"jobs": 0}):
        with pytest.raises(OptionError):
            run_batch(ix, tmp_path / "o", **kw)


def test_every_new_command_has_help_with_an_example():
    for name in ("batch", "backlog", "report"):
        r = cli(name, "--help")
        assert r.exit_code == 0 and "Example: suggest " + name in r.stdout


def test_quiet_still_says_skipped_files_and_rebuilds(tmp_path):
    """--quiet silences status lines and the progress bar, never what the run did to the
    archive or index: a skipped file and a rebuilt index are still said on stderr."""
    folder = tmp_path / "arch"
    folder.mkdir()
    (folder / "a.jsonl").write_text(
        '{"id": "a1", "title": "Do bees sleep?", "questions": ["How long do bees sleep?"]}\n'
        '{"id": "a2", "title": "Do ants sleep?", "questions": ["How do ants rest?"]}\n', "utf-8")
    (folder / "b.txt").write_bytes(b"")  # an empty saved article: reported and skipped
    ix = str(tmp_path / "ix")
    r = cli("batch", "--archive", str(folder), "--index", ix, "--out", str(tmp_path / "o"), "-j", "1", "-q")
    assert r.exit_code == 0, r.stderr
    lines = r.stderr.splitlines()
    assert any(line.startswith("skipped: ") and "b.txt" in line for line in lines)
    assert not any(line.startswith("indexing ") for line in lines)  # a status line: quiet
    (folder / "a.jsonl").write_text(
        '{"id": "a1", "title": "Do bees sleep at night?", "questions": ["How long do bees sleep?"]}\n', "utf-8")
    r = cli("batch", "--archive", str(folder), "--index", ix, "--out", str(tmp_path / "o"), "-j", "1", "-q")
    assert r.exit_code == 0, r.stderr
    assert any(line.startswith("note: the archive") for line in r.stderr.splitlines())


def test_write_files_is_all_or_old_per_file_and_leaves_no_temporaries(tmp_path, monkeypatch):
    """Many files at once: unchanged ones untouched, a write error names the file, files not
    yet renamed keep their old content, and no temporary file stays behind."""
    from suggest.files import write_files

    a, b, c = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    a.write_bytes(b"same")
    b.write_bytes(b"old b")
    mtime = a.stat().st_mtime_ns
    assert write_files([(a, b"same"), (b, b"new b"), (c, b"new c")]) == (2, 1)
    assert (a.read_bytes(), b.read_bytes(), c.read_bytes()) == (b"same", b"new b", b"new c")
    assert a.stat().st_mtime_ns == mtime
    real_fdopen = os.fdopen

    def full_disk(fd, *args, **kw):
        f = real_fdopen(fd, *args, **kw)
        if "c.txt" in os.readlink(f"/proc/self/fd/{fd}"):
            f.close()
            raise OSError(errno.ENOSPC, "No space left on device")
        return f

    monkeypatch.setattr(files_mod.os, "fdopen", full_disk)
    with pytest.raises(OutputError, match=r"c\.txt: cannot write \(No space left on device\)"):
        write_files([(b, b"newer b"), (c, b"newer c")])
    monkeypatch.undo()
    assert (b.read_bytes(), c.read_bytes()) == (b"new b", b"new c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "c.txt"]


def test_ranking_workers_are_not_replaced_for_their_mapped_index():
    """loky replaces a worker whose RSS grew by 300 MB, and the pages of the mapped index count
    there: `_keep_worker` lifts that limit (a joblib that moves it would fail here, not slow
    every large batch down unnoticed)."""
    from joblib.externals.loky import process_executor

    from suggest.batch import _keep_worker

    before = process_executor._MAX_MEMORY_LEAK_SIZE
    try:
        _keep_worker()
        assert process_executor._MAX_MEMORY_LEAK_SIZE >= 2**62 > before
    finally:
        process_executor._MAX_MEMORY_LEAK_SIZE = before
