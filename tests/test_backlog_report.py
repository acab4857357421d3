"""`suggest backlog` and the HTML report: open questions only, a documented deterministic score,
every archive string escaped, a page that needs nothing outside itself."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from markupsafe import escape
from typer.testing import CliRunner

from suggest.archive import read_archive
from suggest.backlog import WEIGHTS, backlog
from suggest.batch import iter_lists, run_batch
from suggest.cli import app
from suggest.errors import OptionError
from suggest.files import output_names
from suggest.index import build_index, open_index
from suggest.records import Check
from suggest.render import render_backlog
from suggest.report import build_report, figures, monthly, write_report

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="shipped corpus/ missing")


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return path


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    if not CORPUS.is_dir():
        pytest.skip("shipped corpus/ missing")
    dest = tmp_path_factory.mktemp("arch") / "corpus"
    shutil.copytree(CORPUS, dest, ignore=shutil.ignore_patterns(".*"))
    return dest


@pytest.fixture(scope="module")
def index(archive):
    return open_index(archive)[0]


TIDES = [
    {"id": "t1", "title": "Does the moon cause the tides?", "checked_on": "2019-01-05",
     "summary": "The moon's gravity raises the tides; the sun adds a smaller share.",
     "questions": ["Which coastal cities flood most often?", "Why are spring tides higher than neap tides?"]},
    {"id": "t2", "title": "Are king tides getting worse?", "checked_on": "2019-04-20",
     "summary": "King tides flood coasts more often as the sea rises.",
     "questions": ["Which coastal cities flood most often?", "How much has the sea risen along the coast?"]},
    {"id": "v1", "title": "Can volcanoes cool the climate?", "checked_on": "2018-02-01",
     "summary": "Large eruptions put sulfate aerosols in the stratosphere and cool the planet for a year or two.",
     "questions": ["How long did the Pinatubo eruption cool the planet?"]},
    {"id": "b1", "title": "Are bee colonies collapsing?", "checked_on": "2019-05-01",
     "summary": "Bee colony losses are high; pesticides, mites and poor forage are to blame.",
     "questions": ["Do neonicotinoid pesticides harm bee colonies?"]},
    {"id": "b2", "title": "Do pesticides kill bees?", "checked_on": "2019-04-28",
     "summary": "Neonicotinoid pesticides weaken bee colonies in field studies.",
     "questions": ["Which crops depend most on bee pollination?"]},
]


@pytest.fixture()
def tides(tmp_path):
    arch = write_jsonl(tmp_path / "tides.jsonl", TIDES)
    return open_index(arch, tmp_path / "ix")[0]


# The reader strips tags from titles and questions, but ids, categories and urls pass through,
# and checks built through the library (`build_index` on `Check` records from a newsroom's own
# importer) can hold any text: the templates must escape it all.
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


# -- backlog -------------------------------------------------------------------------------------

@needs_corpus
def test_backlog_is_every_open_question_and_no_answered_one(index):
    b = backlog(index, top=None)
    answered = np.asarray(index.answered, dtype=bool)
    assert answered.sum() > 0  # the corpus has answered questions to leave out
    items = [r.item for r in b.rows]
    assert len(items) == len(set(items)) == b.open_questions
    assert not answered[items].any()
    assert all(index.pool_records[i]["status"] == "open" for i in items)
    raised = set(np.asarray(index.pair_item)[~answered[np.asarray(index.pair_item)]].tolist())
    assert set(items) == raised


@needs_corpus
def test_score_is_the_documented_formula_and_sorted(index):
    b = backlog(index, recent_days=60, top=None)
    for r in b.rows:
        want = round(WEIGHTS["raised"] * r.raised_part + WEIGHTS["recent"] * r.recent + WEIGHTS["central"] * r.central, 6)
        assert r.score == pytest.approx(want, abs=2e-6)  # both sides rounded to 6 decimals
        assert 0 <= r.raised_part <= 1 and 0 <= r.recent <= 1 and 0 <= r.central <= 1
    keys = [(-r.score, r.item) for r in b.rows]
    assert keys == sorted(keys)
    assert max(r.recent for r in b.rows) == 1.0 and max(r.central for r in b.rows) == 1.0
    assert [r.rank for r in b.rows] == list(range(1, len(b.rows) + 1))


@needs_corpus
def test_backlog_is_deterministic_across_builds(archive, index, tmp_path):
    again = build_index(read_archive(archive).checks)
    a, b = backlog(index, recent_days=45, top=15), backlog(again, recent_days=45, top=15)
    assert a.to_dict() == b.to_dict()
    for fmt in ("text", "markdown", "html", "json"):
        assert render_backlog(a, fmt) == render_backlog(b, fmt)


def test_questions_raised_twice_list_both_checks(tides):
    b = backlog(tides, top=None)
    row = next(r for r in b.rows if r.question == "Which coastal cities flood most often?")
    assert row.raised == 2 and row.raised_part == 1.0
    assert [(c["id"], c["title"], c["checked_on"]) for c in row.checks] == [
        ("t1", "Does the moon cause the tides?", "2019-01-05"),
        ("t2", "Are king tides getting worse?", "2019-04-20"),
    ]
    once = [r for r in b.rows if r.raised == 1]
    assert once and all(r.raised_part == round(np.log(2) / np.log(3), 6) for r in once)


def test_recent_is_measured_from_the_newest_check_not_today(tides):
    b = backlog(tides, recent_days=10, top=None)
    assert (b.newest, b.recent_since, b.recent_checks) == ("2019-05-01", "2019-04-21", 2)
    parts = {r.question: r.recent for r in b.rows}
    bees = parts["Which crops depend most on bee pollination?"]
    assert bees > parts["How long did the Pinatubo eruption cool the planet?"]
    wide = backlog(tides, recent_days=10_000, top=None)
    assert wide.recent_checks == len(TIDES)
    assert {r.question: r.recent for r in wide.rows}["How long did the Pinatubo eruption cool the planet?"] > 0


def test_without_dates_recent_is_zero(tmp_path):
    arch = write_jsonl(tmp_path / "a.jsonl", [{k: v for k, v in r.items() if k != "checked_on"} for r in TIDES])
    ix = open_index(arch, tmp_path / "ix")[0]
    b = backlog(ix, top=None)
    assert b.newest is None and b.recent_checks == 0
    assert all(r.recent == 0 for r in b.rows)
    assert "Recent coverage: no check carries a date" in render_backlog(b, "text")


def test_backlog_options_are_checked(tides):
    for kw in ({"recent_days": -1}, {"top": 0}, {"neighbours": 0}):
        with pytest.raises(OptionError):
            backlog(tides, **kw)
    with pytest.raises(OptionError, match="unknown format 'pdf'"):
        render_backlog(backlog(tides), "pdf")


def test_backlog_formats(tides):
    b = backlog(tides, recent_days=30, top=2)
    text = render_backlog(b, "text")
    assert text.splitlines()[:3] == [
        "Research backlog: 2 of 5 open questions",
        "Recent coverage: checks dated 2019-04-01 to 2019-05-01 (30 days, 3 checks)",
        "score = 0.4 raised + 0.3 recent + 0.3 central",
    ]
    assert " 1. 0.827  Which crops depend most on bee pollination?" in text
    assert "    - t1  2019-01-05  Does the moon cause the tides?" in text
    md = render_backlog(b, "markdown")
    assert "| # | Score | Question | Raised | Recent | Central | Raised by |" in md
    assert md.count("\n| ") == 3  # header and two rows (the separator line starts with "|---")
    data = json.loads(render_backlog(b, "json"))
    assert data["shown"] == 2 and data["formula"] == "score = 0.4 raised + 0.3 recent + 0.3 central"
    assert [[c["id"] for c in r["checks"]] for r in data["rows"]] == [["b2"], ["t1"]]
    html = render_backlog(b, "html")
    assert html.startswith('<section class="backlog"') and '<a href="#check-b2">b2</a>' in html


def raw_checks() -> list[Check]:
    return [
        Check(id="r1", title=SCRIPT, checked_on="2024-03-02", category="<b>cat</b>", url="javascript:alert(1)",
              summary="A claim about alerts in scripts and pages.",
              questions=(f"Is {IMG} a safe image?", "Do scripts alert | people?")),
        Check(id="r2", title="Do pages run scripts that alert?", checked_on="2024-04-10", category="media",
              url="https://example.org/fact-checks/media/pages-abc123", summary="Pages run scripts; some alert.",
              questions=("Do scripts alert | people?", 'Can a page "close" itself & others?')),
    ]


def test_backlog_escapes_archive_text():
    b = backlog(build_index(raw_checks()), top=None)
    assert f"Is {IMG} a safe image?" in [r.question for r in b.rows]
    html = render_backlog(b, "html")
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "javascript:" not in html
    md = render_backlog(b, "markdown")
    assert r"Is \<img src=x onerror=alert\(1\)\> a safe image?" in md and r"\<script\>" in md


# -- report --------------------------------------------------------------------------------------

HOSTILE = [
    {"id": "<script>alert(2)</script>", "title": "Does 1 < 2 > 0 hold?", "checked_on": "2024-03-02",
     "category": "<b>cat</b>", "url": "javascript:alert(1)", "summary": "A claim about alerts in scripts and pages.",
     "questions": ["Is the number x < y > z in algebra class?", "Do scripts alert people?"]},
    {"id": "h2", "title": "Do pages run scripts that alert?", "checked_on": "2024-04-10", "category": "media",
     "url": "https://example.org/fact-checks/media/pages-abc123", "summary": "Pages run scripts; some alert.",
     "questions": ["Do scripts alert people?", "Can a page \"close\" itself & others?"]},
]


@pytest.fixture()
def hostile(tmp_path):
    folder = tmp_path / "arch"
    folder.mkdir()
    write_jsonl(folder / "checks.jsonl", HOSTILE)
    (folder / "empty<x>.txt").write_text("")
    ix, arch = open_index(folder, tmp_path / "ix")
    return folder, ix, arch or read_archive(folder)


def only_the_report_script(html: str) -> bool:
    """The page's one script is the report's own, and its Content-Security-Policy allows that
    script only (by its sha256)."""
    import base64
    import hashlib

    from suggest.report import REPORT_SCRIPT

    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)
    digest = base64.b64encode(hashlib.sha256(REPORT_SCRIPT.encode()).digest()).decode()
    policy = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    return scripts == [REPORT_SCRIPT] and policy == [
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    ]


def test_report_escapes_a_script_title():
    ix = build_index(raw_checks())
    assert ix.check_records[0]["title"] == SCRIPT
    html = build_report(ix, iter_lists(ix), backlog(ix))
    assert "<script>alert" not in html.lower() and "javascript:" not in html.lower()
    assert only_the_report_script(html)
    assert '<td data-label="Check">&lt;script&gt;alert(1)&lt;/script&gt; <span class="id">' in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>cat</b>" not in html and "&lt;b&gt;cat&lt;/b&gt;" in html
    assert "Can a page &#34;close&#34; itself &amp; others?" in html


def test_report_escapes_what_the_reader_passes_through(hostile):
    _, ix, arch = hostile
    assert ix.check_records[0]["id"] == "<script>alert(2)</script>"
    html = build_report(ix, iter_lists(ix), backlog(ix), arch)
    assert "<script>alert" not in html.lower() and "javascript:" not in html.lower()
    assert only_the_report_script(html)
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html and "Does 1 &lt; 2 &gt; 0 hold?" in html
    assert "&lt;b&gt;cat&lt;/b&gt;" in html
    assert "empty&lt;x&gt;.txt" in html and "empty<x>" not in html


def test_report_is_self_contained(hostile):
    _, ix, arch = hostile
    html = build_report(ix, iter_lists(ix), backlog(ix), arch)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<style>" in html and html.count("<svg") == 3
    tags = re.findall(r"<[A-Za-z][^<>]*>", html)
    assert not [t for t in tags if re.match(r"<(link|img|iframe|object|embed)\b", t) or re.search(r"\ssrc\s*=", t)]
    assert [t for t in tags if t.startswith("<script")] == ["<script>"] and only_the_report_script(html)
    assert "@import" not in html and "url(" not in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith("#") or h == "https://example.org/fact-checks/media/pages-abc123" for h in hrefs)
    anchors = set(re.findall(r' id="([^"]+)"', html))
    assert all(h[1:] in anchors for h in hrefs if h.startswith("#"))


def test_report_figures_and_skipped_files(hostile):
    _, ix, arch = hostile
    fig = figures(ix)
    assert (fig.checks, fig.questions) == (2, 4)
    assert fig.question_items == 3 and fig.duplicates_merged == 1  # "Do scripts alert people?" twice
    assert fig.open + fig.answered == fig.question_items
    html = build_report(ix, iter_lists(ix), backlog(ix), arch)
    assert "<dt>Duplicates merged</dt><dd>1</dd>" in html and "<dt>Files skipped</dt><dd>1</dd>" in html
    assert "1 × empty file" in html


@needs_corpus
def test_report_lists_every_check_with_the_batch_lists(archive, index, tmp_path):
    out = tmp_path / "out"
    run_batch(index, out, "text", jobs=1)
    from suggest.batch import read_results

    html = build_report(index, read_results(out), backlog(index), read_archive(archive))
    assert html == build_report(index, iter_lists(index), backlog(index), read_archive(archive))
    names = output_names(list(index.check_ids))
    for rec in read_results(out):
        sec = html.split(f'<tr class="check" id="check-{names[rec["id"]]}">', 1)[1].split("</tr>", 1)[0]
        assert [str(escape(s["question"])) in sec for s in rec["suggestions"]] == [True] * len(rec["suggestions"])


@needs_corpus
def test_monthly_counts_match_the_index(index):
    m = monthly(index)
    dates = np.asarray(index.check_dates)
    q = ~np.asarray(index.member_is_title, dtype=bool)
    dated_questions = int((dates[np.asarray(index.member_check)[q]] >= 0).sum())
    assert sum(m["raised"]) == dated_questions and m["undated"] == int(q.sum()) - dated_questions
    assert len(m["months"]) == len(m["raised"]) == len(m["answered"])
    assert m["months"] == sorted(m["months"]) and sum(m["answered"]) <= figures(index).answered


def test_write_report_is_atomic_and_leaves_an_unchanged_file_alone(hostile, tmp_path):
    _, ix, arch = hostile
    path = tmp_path / "r.html"
    assert write_report(path, ix, iter_lists(ix), backlog(ix), arch) is True
    st = path.stat()
    assert write_report(path, ix, iter_lists(ix), backlog(ix), arch) is False
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_ino == st.st_ino
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# -- CLI -----------------------------------------------------------------------------------------

@needs_corpus
@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json"])
def test_cli_backlog_formats(archive, fmt):
    r = cli("backlog", "--archive", str(archive), "--format", fmt, "--top", "3", "--recent", "30")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == render_backlog(backlog(open_index(archive)[0], recent_days=30, top=3), fmt)
    if fmt == "json":
        assert len(json.loads(r.stdout)["rows"]) == 3


@pytest.mark.parametrize("args,message", [
    (["--format", "pdf"], "error: unknown format 'pdf'; use one of: text, markdown, html, json"),
    (["--top", "0"], "error: Invalid value for '--top' / '-n'"),
    (["--recent", "-5"], "error: Invalid value for '--recent'"),
    (["--archive", "/no/such/place"], "error: Invalid value for '--archive' / '-a'"),
])
def test_cli_backlog_bad_input(args, message):
    r = cli("backlog", *args)
    assert r.exit_code == 1 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith(message), r.stderr


def test_cli_report_to_file_and_stdout(hostile, tmp_path):
    folder, _, _ = hostile
    out = tmp_path / "page.html"
    r = cli("report", "--archive", str(folder), "--index", str(tmp_path / "ix"), "--out", str(out),
            "--recent", "5", "--backlog", "2", "--top", "3", "--jobs", "1", "--chunk", "1")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "" and f"report written: {out}" in r.stderr
    r2 = cli("report", "--archive", str(folder), "--index", str(tmp_path / "ix"), "--recent", "5", "--backlog", "2",
             "--top", "3", "-q")
    assert r2.exit_code == 0 and r2.stderr == ""
    assert r2.stdout == out.read_text("utf-8")
    r3 = cli("report", "--archive", str(folder), "--index", str(tmp_path / "ix"), "--out", str(out),
             "--recent", "5", "--backlog", "2", "--top", "3")
    assert r3.exit_code == 0 and f"report unchanged: {out}" in r3.stderr


@pytest.mark.parametrize("args,message", [
    (["--backlog", "0"], "error: Invalid value for '--backlog'"),
    (["--jobs", "0"], "error: Invalid value for '--jobs' / '-j'"),
    (["--recent", "-1"], "error: Invalid value for '--recent'"),
])
def test_cli_report_bad_input(args, message):
    r = cli("report", *args)
    assert r.exit_code == 1 and len(r.stderr.splitlines()) == 1 and r.stderr.startswith(message), r.stderr


def test_cli_report_into_a_folder_fails_in_one_line(hostile, tmp_path):
    folder, _, _ = hostile
    r = cli("report", "--archive", str(folder), "--index", str(tmp_path / "ix"), "--out", str(tmp_path), "-q")
    assert r.exit_code == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    r = cli("report", "--archive", str(folder), "--index", str(tmp_path / "ix"), "--out", str(tmp_path / "no" / "r.html"), "-q")
    assert r.exit_code == 1
    assert r.stderr == f"error: {tmp_path / 'no' / 'r.html'}: the folder {tmp_path / 'no'} does not exist; create it first\n"


def test_long_lists_of_raising_checks_are_cut_in_text_but_whole_in_json():
    towns = "Ashby Brill Cray Dunmore Elkin Fenwick Galt Hollis Irwin Jarvis Kent Lyle".split()
    checks = [Check(id=f"k{i:02d}", title=f"Did {town} balance its budget?", checked_on=f"2021-03-{i + 1:02d}",
                    summary=f"{town} town accounts.", questions=("Why do glaciers retreat in summer?",))
              for i, town in enumerate(towns)]
    b = backlog(build_index(checks), top=1)
    assert b.rows[0].raised == 12
    text = render_backlog(b, "text")
    assert text.count("\n    - k") == 10 and "    - and 2 more\n" in text
    assert "<li>and 2 more</li>" in render_backlog(b, "html")
    assert "<br>and 2 more |" in render_backlog(b, "markdown")
    assert len(json.loads(render_backlog(b, "json"))["rows"][0]["checks"]) == 12


def test_cli_backlog_with_its_own_index_folder(tmp_path):
    arch = write_jsonl(tmp_path / "tides.jsonl", TIDES)
    r = cli("backlog", "--archive", str(arch), "--index", str(tmp_path / "ix"), "--recent", "30", "-n", "2")
    assert r.exit_code == 0, r.stderr
    assert "indexing" in r.stderr and (tmp_path / "ix" / "manifest.json").is_file()
    assert r.stdout.splitlines()[0] == "Research backlog: 2 of 5 open questions"
    again = cli("backlog", "--archive", str(arch), "--index", str(tmp_path / "ix"), "--recent", "30", "-n", "2", "-q")
    assert again.exit_code == 0 and again.stderr == "" and again.stdout == r.stdout


def test_backlog_text_keeps_one_row_a_line():
    ix = build_index([
        Check(id="a", title="Is tea good?", questions=("Does tea\u2028help sleep?",)),
        Check(id="b", title="Is coffee\nbad?", questions=("Does coffee\r\nhurt?",)),
    ])
    text = render_backlog(backlog(ix), "text")
    assert " 2. 0.400  Does coffee hurt?" in text and " 1. 0.400  Does tea help sleep?" in text
    assert "    - b  (no date)  Is coffee bad?" in text
