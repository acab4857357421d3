"""Failure classes a tester found by setting out to break `suggest` (data loss, executable HTML,
tracebacks, lingering processes, unbounded work, misleading messages): one test per case, each
written to fail before its fix. The classes as a whole are held by `test_faults.py` (every write
failing in turn), the HTML property tests in `test_output_safety.py` and the kill test here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suggest.cli import app

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


def cli(*args: str, input: str | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def one_error(r, *words: str) -> str:
    """The run failed with exactly one ``error:`` line on stderr (holding ``words``) and no traceback."""
    assert r.exit_code != 0, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def archive(tmp_path) -> Path:
    """A small archive: the health checks of corpus/, its index outside it."""
    a = tmp_path / "archive"
    shutil.copytree(CORPUS / "health", a / "health")
    return a


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- 1. data loss ----------------------------------------------------------------------------


@pytest.mark.parametrize("where", [".", "health", "new-folder"])
def test_batch_out_inside_the_archive_is_refused(archive, tmp_path, where):
    """`batch --out` at the archive (or inside it) overwrote saved articles named like outputs."""
    before = snapshot(archive)
    r = cli("batch", "--archive", archive, "--index", tmp_path / "ix", "--out", archive / where, "-q")
    one_error(r, "inside the archive", "--out")
    assert snapshot(archive) == before  # nothing written, not even a lock file


def test_batch_never_overwrites_a_file_it_did_not_write(archive, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "a3f91c.txt"  # the name of a check's list
    mine.write_text("my notes\n")
    r = cli("batch", "--archive", archive, "--index", tmp_path / "ix", "--out", out, "-q")
    one_error(r, "a3f91c.txt", "not written by `suggest batch`")
    assert mine.read_text() == "my notes\n"
    assert sorted(p.name for p in out.iterdir()) == ["a3f91c.txt"]  # no lock, no outputs


def test_batch_still_replaces_its_own_outputs_and_resumes_its_claims(archive, tmp_path):
    out = tmp_path / "out"
    assert cli("batch", "--archive", archive, "--index", tmp_path / "ix", "--out", out, "-q").exit_code == 0
    first = snapshot(out)
    (out / "a3f91c.txt").write_text("edited by hand\n")
    assert cli("batch", "--archive", archive, "--index", tmp_path / "ix", "--out", out, "-q").exit_code == 0
    assert snapshot(out) == first  # the batch's own file put right
    # Another format: the old lists are the batch's own (removed), the new ones are claimed.
    assert (
        cli("batch", "--archive", archive, "--index", tmp_path / "ix", "--out", out, "-q", "-f", "html").exit_code == 0
    )
    assert not list(out.glob("*.txt"))
    assert len(list(out.glob("*.html"))) == 7


@pytest.mark.parametrize("command", ["report", "batch"])
def test_report_never_overwrites_another_file(archive, tmp_path, command):
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my page</p>\n")
    opt = "--out" if command == "report" else "--report"
    extra = ["--out", tmp_path / "lists"] if command == "batch" else []
    r = cli(command, "--archive", archive, "--index", tmp_path / "ix", opt, notes, *extra, "-q")
    one_error(r, "notes.html", "not an HTML report written by suggest")
    assert notes.read_text() == "<p>my page</p>\n"
    inside = archive / "report.html"
    r = cli(command, "--archive", archive, "--index", tmp_path / "ix", opt, inside, *extra, "-q")
    one_error(r, "inside the archive")
    assert not inside.exists()
    # Its own previous report is replaced.
    own = tmp_path / "report.html"
    assert cli(command, "--archive", archive, "--index", tmp_path / "ix", opt, own, *extra, "-q").exit_code == 0
    own.write_text(own.read_text().replace("Research report", "Old report"))
    assert cli(command, "--archive", archive, "--index", tmp_path / "ix", opt, own, *extra, "-q").exit_code == 0
    assert "Old report" not in own.read_text()


def test_eval_run_file_never_overwrites_another_file(tmp_path):
    from suggest.errors import OutputError
    from suggest.evaluate import write_run

    other = tmp_path / "notes.txt"
    other.write_text("not a run\n")
    with pytest.raises(OutputError, match="not a TREC run file"):
        write_run(other, {"q1": [("d1", 1.0)]})
    assert other.read_text() == "not a run\n"
    run = tmp_path / "run.txt"
    write_run(run, {"q1": [("d1", 1.0)]})
    write_run(run, {"q1": [("d2", 1.0)]})  # its own kind is replaced
    assert run.read_text().split()[2] == "d2"


# -- 2. executable content in HTML ------------------------------------------------------------

HOSTILE = [
    {
        "id": "x1",
        "title": "Do detox diets remove toxins from the body?",
        "url": "javascript:alert(1)",
        "text": "Detox diets, juice cleanses and toxins: the liver and kidneys clear them.",
        "questions": [
            "Do the liver and kidneys need help from supplements to clear toxins?",
            "Does a juice cleanse <img src=x onerror=alert(1) flush toxins?",
        ],
    },
    {
        "id": "<svg onload=alert(2)>",  # ids are kept as they are: only output escaping stops this
        "title": "Do juice cleanses <script>alert(2)</script> work?",
        "url": " JaVaScRiPt:alert(2)",
        "text": "Juice cleanse claims about toxins and the liver.",
        "questions": ["Do kidneys need water to clear toxins after a juice cleanse?"],
    },
]


@pytest.fixture()
def hostile(tmp_path) -> Path:
    a = tmp_path / "hostile"
    a.mkdir()
    (a / "checks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in HOSTILE))
    return a


def executable(html: str) -> list[str]:
    """Every executable thing in ``html``: a tag other than the harmless ones, an ``on*``
    attribute, a URL attribute that is not http(s) or a fragment (parsed, not grepped)."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag in ("script", "img", "iframe", "object", "embed", "svg", "style", "base", "form"):
                found.append(f"<{tag}>")
            for k, v in attrs:
                if k.startswith("on"):
                    found.append(f"{tag} {k}")
                if k in ("href", "src", "action") and v and not v.startswith(("http://", "https://", "#")):
                    found.append(f"{tag} {k}={v}")

    Parser().feed(html)
    return found


@pytest.mark.parametrize("name", ["list.j2", "list.txt", "list.md.j2", "list.html.j2", "list"])
def test_a_user_template_of_any_name_escapes_archive_text(hostile, tmp_path, name):
    """A template named ``*.j2`` got no autoescape: archive text came out as markup."""
    tpl = tmp_path / name
    tpl.write_text(
        "{% for s in suggestions %}<li><a href=\"{{ s.link.href if s.link else '#' }}\">{{ s.question }}</a>"
        "{{ s.sources | join(' ') }}{% for c in s.checks.values() %}{{ c.title }}{% endfor %}</li>{% endfor %}\n"
    )
    draft = tmp_path / "draft.txt"
    draft.write_text("Are supplements good for the liver?\nSupplement makers say the liver needs help with toxins.\n")
    r = cli("for", draft, "--archive", hostile, "--index", tmp_path / "ix", "--template", tpl, "--min-score", "0", "-q")
    assert r.exit_code == 0, r.output
    assert "juice cleanse" in r.stdout.lower() and "svg" in r.stdout  # the hostile id reached the template
    assert executable(r.stdout) == []


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_a_javascript_url_is_never_a_link(hostile, tmp_path, fmt):
    draft = tmp_path / "draft.txt"
    draft.write_text("Do juice cleanses remove toxins?\nJuice cleanse, toxins, liver and kidneys.\n")
    r = cli("for", draft, "--archive", hostile, "--index", tmp_path / "ix", "-f", fmt, "--min-score", "0", "-q")
    assert r.exit_code == 0, r.output
    assert "javascript" not in r.stdout.lower()
    if fmt == "html":
        assert executable(r.stdout) == []


# -- 3. tracebacks instead of one line ----------------------------------------------------------


def run_suggest(*args: str, stdout=subprocess.PIPE, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "suggest", *map(str, args)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("command", ["for", "show", "backlog"])
def test_stdout_on_a_full_disk_is_one_line(archive, tmp_path, command):
    draft = tmp_path / "draft.txt"
    draft.write_text("Does the flu shot cause the flu?\nVaccines, influenza and immunity: what the trials found.\n")
    args = {
        "for": ["for", draft, "--archive", archive, "--index", tmp_path / "ix", "--min-score", "0"],
        "show": ["show", archive],
        "backlog": ["backlog", "--archive", archive, "--index", tmp_path / "ix"],
    }[command]
    with open("/dev/full", "w") as full:
        r = run_suggest(*args, stdout=full)
    assert r.returncode == 1
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert errors == ["error: standard output: No space left on device; free some space and run again"], r.stderr
    assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr


def test_a_path_longer_than_the_system_allows_is_one_line(archive, tmp_path):
    long = tmp_path / ("x" * 300)
    r = cli("index", "--archive", archive, "--index", long)
    one_error(r, "File name too long", "shorter path")
    r = cli("for", tmp_path / ("a/" * 3000 + "x.txt"), "--archive", archive)
    one_error(r, "File name too long")


def test_a_template_that_runs_out_of_memory_is_one_line(archive, tmp_path):
    tpl = tmp_path / "greedy.j2"
    tpl.write_text("{{ 'x' * 10 ** 15 }}\n")
    draft = tmp_path / "draft.txt"
    draft.write_text("Does the flu shot cause the flu?\nVaccines, influenza and immunity: what the trials found.\n")
    r = cli("for", draft, "--archive", archive, "--index", tmp_path / "ix", "--template", tpl, "--min-score", "0", "-q")
    one_error(r, "memory")


def test_eval_without_its_extra_says_how_to_install_it_at_once(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ranx" else real(name, *a))
    for args in (["eval", "checkthat", tmp_path, "--split", "dev"], ["eval", "judged"]):
        r = cli(*args)
        one_error(r, "ranx", "pip install 'suggest[eval]'")


# -- 4. processes that outlive their run ----------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(root: int) -> dict[int, str]:
    """Every live process below ``root`` (Linux /proc), with its start time (so a reused pid is
    not mistaken for it)."""
    parent: dict[int, int] = {}
    start: dict[int, str] = {}
    for d in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(d.name))
        if fields and fields[0] != "Z":
            parent[int(d.name)] = int(fields[1])
            start[int(d.name)] = fields[19]
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        p = todo.pop()
        for child, pp in parent.items():
            if pp == p and child not in found:
                found[child] = start[child]
                todo.append(child)
    return found


def still_running(procs: dict[int, str]) -> list[int]:
    return [p for p, t in procs.items() if (f := _stat(p)) is not None and f[0] != "Z" and f[19] == t]


KILL_COMMANDS = {
    "index": lambda a, t: ["index", "--archive", a, "--index", t / "ix", "--force", "--jobs", "2"],
    "batch": lambda a, t: [
        "batch",
        "--archive",
        a,
        "--index",
        t / "ix",
        "--out",
        t / "out",
        "--jobs",
        "2",
        "--chunk",
        "20",
    ],
    "report": lambda a, t: ["report", "--archive", a, "--index", t / "ix", "--out", t / "r.html", "--jobs", "2"],
}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from Linux /proc")
@pytest.mark.parametrize("command", sorted(KILL_COMMANDS))
def test_no_process_outlives_a_killed_command(tmp_path, command):
    """`suggest index` killed in its first second left reading workers and resource trackers
    alive for minutes. Each command is SIGKILLed (the main process only, as the out-of-memory
    killer would) at 4 seeded random moments in its first 3 s; every process it started must be
    gone 5 s later."""
    import random
    import signal
    import time

    from test_reliability_index import write_big_archive

    lines = write_big_archive(tmp_path / "all.jsonl", 2000).read_text("utf-8").splitlines(keepends=True)
    archive = tmp_path / "archive"  # many files, so that they are read by workers too
    archive.mkdir()
    for k in range(0, len(lines), 40):
        (archive / f"part-{k // 40:02d}.jsonl").write_text("".join(lines[k : k + 40]), "utf-8")
    rng = random.Random(f"kill-{command}")
    if command != "index":  # the others start from a built index; an archive change rebuilds it
        assert run_suggest("index", "--archive", archive, "--index", tmp_path / "ix", "-q").returncode == 0
    args = [str(a) for a in KILL_COMMANDS[command](archive, tmp_path)]
    killed = 0
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "suggest", *args, "-q"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        seen: dict[int, str] = {}
        kill_at = time.monotonic() + rng.uniform(0.2, 3.0)
        while time.monotonic() < kill_at and proc.poll() is None:
            seen.update(descendants(proc.pid))
            time.sleep(0.02)
        seen.update(descendants(proc.pid))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
        end = time.monotonic() + 5
        while still_running(seen) and time.monotonic() < end:
            time.sleep(0.1)
        left = still_running(seen)
        for p in left:  # do not leave them to the next test
            os.kill(p, signal.SIGKILL)
        assert not left, f"{command}: processes {left} outlived the killed run by 5 s"
        shutil.rmtree(tmp_path / "out", ignore_errors=True)
    assert killed >= 2, "too few runs were still going when killed"


def _workers() -> list[int]:
    return [
        c
        for c in descendants(os.getpid())
        if "LokyProcess" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")
    ]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from Linux /proc")
def test_idle_workers_leave_soon_and_never_outnumber_the_cores(tmp_path, monkeypatch):
    """Idle workers lingered 300 s after the test suite; ``--jobs 100`` on a two-file archive
    started 100 workers (4 GB, 34 s instead of 2 s)."""
    import time

    from joblib.externals.loky import get_reusable_executor

    from suggest import workers
    from suggest.archive import read_archive

    get_reusable_executor().shutdown(wait=True)  # workers of earlier tests are not ours to count
    monkeypatch.setattr(workers, "IDLE_SECONDS", 1)
    for k in range(40):
        shutil.copy(CORPUS / "health" / "flu-shot-cause-flu-a5d4e8.txt", tmp_path / f"c{k:02d}-a{k:05x}.txt")
    assert len(read_archive(tmp_path, jobs=100).checks) == 40
    started = _workers()
    assert 1 <= len(started) <= workers.cores()
    assert workers.worker_count(100, 2) == min(2, workers.cores())
    end = time.monotonic() + 10
    while set(_workers()) & set(started) and time.monotonic() < end:
        time.sleep(0.2)
    assert not set(_workers()) & set(started), "idle workers still there 10 s after their work"


# -- 5. resources not bounded ---------------------------------------------------------------------


def test_a_long_article_looks_each_distinct_word_up_once(monkeypatch):
    """A long article cost about 12 s per MB: every word was looked up in the mapped vocabulary
    (a binary search) as many times as it occurred."""
    from suggest.archive import read_archive
    from suggest.index import Index, build_index

    ix = build_index(read_archive(CORPUS / "health").checks)
    calls: list[str] = []
    real = Index.term_id
    monkeypatch.setattr(Index, "term_id", lambda self, t: calls.append(t) or real(self, t))
    text = "Flu vaccines and flu shots protect against the flu. " * 500
    ix.field_vector(text)
    assert len(calls) == len(set(calls)) < 40


def test_an_article_over_the_size_limit_is_cut_with_a_warning(archive, tmp_path):
    from suggest.cli.cmd_for import MAX_ARTICLE_BYTES

    head = "Does the flu shot cause the flu?\nVaccines, influenza and immunity: what the trials found.\n"
    line = "Filler about the weather and unrelated things. " * 20 + "\n"
    big = tmp_path / "big.txt"
    big.write_text(head + line * (MAX_ARTICLE_BYTES // len(line) + 10))
    cut = tmp_path / "cut.txt"
    cut.write_bytes(big.read_bytes()[:MAX_ARTICLE_BYTES])
    args = ["--archive", archive, "--index", tmp_path / "ix", "--min-score", "0", "-f", "json"]
    whole = cli("for", big, *args)
    assert "warning: " in whole.stderr and "only its first 2 MB are matched" in whole.stderr
    assert whole.stdout == cli("for", cut, *args).stdout
    piped = cli("for", "-", *args, input=big.read_text())
    assert piped.stdout == whole.stdout and "only its first 2 MB" in piped.stderr


# -- 6. messages that mislead ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("questions", 0, '"questions" must be a list of strings'),
        ("questions", "", '"questions" must be a list of strings'),
        ("questions", False, '"questions" must be a list of strings'),
        ("questions", {}, '"questions" must be a list of strings'),
        ("sections", 0, '"sections" must be a list'),
        ("sections", "", '"sections" must be a list'),
        ("summary", 0, '"summary" must be a string'),
        ("summary", [], '"summary" must be a string'),
        ("url", 0, '"url" must be a string'),
        ("category", 0, '"category" must be a string'),
        ("checked_on", 0, '"checked_on" is not an ISO date'),
        ("id", False, '"id" must be a non-empty string'),
    ],
)
def test_wrong_json_types_are_reported_not_read_as_empty(tmp_path, field, value, message):
    from suggest.archive import read_archive

    good = {"id": "ok1", "title": "Is it fine?", "questions": ["Why?"]}
    bad = {"id": "bad1", "title": "Is it broken?", "questions": ["How?"], field: value}
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    a = read_archive(f)
    assert [c.id for c in a.checks] == ["ok1"]
    assert [(p.line, p.skipped) for p in a.problems] == [(2, True)]
    assert message in a.problems[0].message


def test_a_symlink_that_leads_out_of_the_archive_is_reported_not_read(archive, tmp_path):
    from suggest.archive import read_archive

    outside = tmp_path / "secret.txt"
    outside.write_text("Is this private?\nA file that is not part of the archive.\n")
    (archive / "health" / "leak.txt").symlink_to(outside)
    (archive / "passwd.txt").symlink_to("/etc/passwd")
    inner = archive / "health" / "flu-shot-cause-flu-a5d4e8.txt"
    (archive / "same.txt").symlink_to(inner)  # a link inside the archive is read
    a = read_archive(archive)
    said = {Path(p.path).name: p.message for p in a.problems}
    assert "leads out of the archive" in said["leak.txt"] and "leads out of the archive" in said["passwd.txt"]
    assert all("secret" not in c.title.lower() and "root:" not in c.title for c in a.checks)
    assert len(a.checks) == 8 and any(c.path.endswith("same.txt") for c in a.checks)


def test_show_exits_as_its_help_says(tmp_path):
    folder = tmp_path / "a"
    shutil.copytree(CORPUS / "health", folder)
    bad = folder / "bad.txt"
    bad.write_bytes(b"\x00\x01binary")
    assert "a file named on the command line could not be read" in " ".join(cli("show", "--help").stdout.split())
    assert cli("show", folder).exit_code == 0  # skipped inside a folder: reported, exit 0
    assert cli("show", folder, "--strict").exit_code == 1
    r = cli("show", bad)  # named: an error whatever --strict says
    assert r.exit_code == 1 and "bad.txt" in r.stderr


@pytest.mark.parametrize("content", ["none", "bad"])
def test_an_archive_with_no_checks_leaves_nothing_behind(tmp_path, content):
    archive = tmp_path / "archive"
    archive.mkdir()
    if content == "bad":
        (archive / "bad.txt").write_bytes(b"\x00\x01")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = cli("index", "--archive", archive, "--index", tmp_path / "ix")
    one_error(r, "no readable checks")
    r = cli("index", "--archive", archive)  # the default index, inside the archive
    one_error(r, "no readable checks")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no lock file, no work folder


def test_a_lock_file_removed_while_waited_for_is_locked_anew(tmp_path):
    import threading

    from suggest import files

    lock = tmp_path / ".ix.lock"
    inside: list[str] = []
    with files.locked(lock):
        waiter = threading.Thread(target=lambda: files.locked(lock).__enter__() and None or inside.append("in"))
        waiter.start()
        files.drop_lock(lock)
    waiter.join(10)
    assert inside == ["in"] and lock.exists()  # it locked a new file, not the removed one


# -- the HTML rule as a property: any archive string, every HTML path -----------------------------

_TAGS = set(
    "a body br code dd details div dl dt h1 h2 h3 head html li line meta nav ol p rect section small span style "
    "summary svg table tbody td text th thead time title tr ul button input label".split()
)
_ATTRS = set(
    "aria-label charset class content data-status height href id lang name role text-anchor transform width x y "
    "viewbox x1 x2 y1 y2 datetime colspan open http-equiv hidden type data-filter data-count data-label data-sort "
    "data-type aria-live aria-sort".split()
)
_NASTY = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)",
    "<img src=x onerror=alert(1)>",
    "'><svg onload=alert(1)>",
    '" onmouseover="alert(1)',
    "javascript:alert(1)",
    " JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=//evil.example>",
    "&lt;script&gt;",
    "<<script>script>",
    "</textarea><script>",
    "{{ 7*7 }}",
    "<style>x{}</style>",
    "\u2028<b>",
]


def unsafe_html(html: str) -> list[str]:
    """What in ``html`` could run or load: a tag or attribute the templates never write, an
    ``on*`` attribute, a link that is not http(s) or in-page (parsed with html.parser)."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag not in _TAGS:
                found.append(f"<{tag}>")
            for k, v in attrs:
                if k not in _ATTRS or k.startswith("on"):
                    found.append(f"{tag} {k}")
                if (
                    k == "href"
                    and v
                    and not (v.startswith(("http://", "https://", "#")) or "/" not in v and ":" not in v)
                ):
                    found.append(f"{tag} href={v}")

        handle_startendtag = handle_starttag

    Parser().feed(html)
    return found


def _archive_strings():
    from hypothesis import strategies as st

    piece = st.one_of(st.sampled_from(_NASTY), st.text(max_size=12), st.sampled_from(["flu", "vaccine", "toxins"]))
    return st.lists(piece, min_size=1, max_size=5).map(" ".join)


def _property_test():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @given(
        titles=st.lists(_archive_strings(), min_size=2, max_size=3),
        questions=st.lists(_archive_strings(), min_size=2, max_size=4),
        ids=st.lists(_archive_strings(), min_size=3, max_size=3, unique=True),
        urls=st.lists(
            st.one_of(st.none(), _archive_strings(), st.just('https://e.example/x"><script>')), min_size=3, max_size=3
        ),
        category=_archive_strings(),
        template_name=st.sampled_from(["t.j2", "t.txt", "t.html", "t.md.j2", "t", "t.xml.jinja"]),
    )
    @settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def run(tmp_path_factory, titles, questions, ids, urls, category, template_name):
        from suggest.archive import read_archive
        from suggest.backlog import backlog
        from suggest.batch import iter_lists, run_batch
        from suggest.index import build_index
        from suggest.rank import check_record, suggest
        from suggest.records import Check, RankOptions
        from suggest.render import render, render_backlog, safe_url
        from suggest.report import build_report

        work = tmp_path_factory.mktemp("prop")
        records = []
        for k, cid in enumerate(ids):
            records.append(
                {
                    "id": cid.strip() or f"id{k}",
                    "title": (titles[k % len(titles)] + " flu vaccine?").strip(),
                    "summary": "Flu vaccine toxins " + questions[k % len(questions)],
                    "questions": [q + " flu vaccine toxins?" for q in questions],
                    "url": urls[k],
                    "category": category,
                }
            )
        (work / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        arch = read_archive(work / "a.jsonl")
        if not arch.checks:
            return
        ix = build_index(arch.checks)
        draft = Check(id="draft", title="Does the flu vaccine flush toxins?", summary="Flu vaccine toxins.")
        got = suggest(ix, draft, RankOptions(min_score=0))
        cited = {c for s in got for c in s.sources + s.answered_by}
        records_of = {c: check_record(ix, c) for c in cited}
        link = lambda c: safe_url(records_of[c].get("url")) or f"#check-{c}"  # noqa: E731
        tpl = work / template_name
        tpl.write_text(
            "{% for s in suggestions %}<a href=\"{{ s.link.href if s.link else '#' }}\">{{ s.question }}</a>"
            "{{ s.sources | join(' ') }}{% for c in s.checks.values() %}{{ c.title }}{% endfor %}{% endfor %}"
        )
        pages = {
            "for html": render(got, "html", check_url=link, check_info=lambda c: records_of[c]),
            "for template": render(got, "text", template=tpl, check_url=link, check_info=lambda c: records_of[c]),
            "backlog html": render_backlog(backlog(ix), "html"),
            "report": build_report(ix, list(iter_lists(ix, RankOptions(min_score=0))), backlog(ix), arch),
        }
        # The report's one script is its own (a constant, allowed by the page's CSP by hash); no
        # other script may appear.
        from suggest.report import REPORT_SCRIPT

        own = f"<script>{REPORT_SCRIPT}</script>"
        assert pages["report"].count(own) == 1, "report"
        pages["report"] = pages["report"].replace(own, "")
        out = work / "out"
        run_batch(ix, out, "html", RankOptions(min_score=0), jobs=1)
        pages.update({f"batch {p.name}": p.read_text() for p in out.glob("*.html")})
        for name, html in pages.items():
            assert unsafe_html(html) == [], name

    return run


def test_no_archive_string_becomes_executable_html(tmp_path_factory):
    """Any archive string (title, question, id, URL, category), through `for -f html`, a user's
    template of any name, the backlog, the report and the batch's per-check pages."""
    pytest.importorskip("hypothesis")
    _property_test()(tmp_path_factory)
