"""The report page: every category in its charts, titles instead of ids, named after the
archive (not its path), the same page written by `suggest report --out` and served by
`suggest serve` at /report (with the editors' feedback), everything from the archive escaped."""

from __future__ import annotations

import html as htmllib
import json
import re
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import corpus_copy
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from suggest.archive import read_archive
from suggest.cli import app
from suggest.index import default_index_dir, open_index
from suggest.serve.app import create_app
from suggest.serve.feedback import FeedbackStore, store_path

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return corpus_copy(tmp_path_factory, "report")


@pytest.fixture(scope="module")
def written(archive, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("out") / "report.html"
    r = CliRunner().invoke(app, ["report", "--archive", str(archive), "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    return out.read_text("utf-8")


def chart(html: str, heading: str) -> dict[str, int]:
    """The bars of the chart under ``heading``: label -> value."""
    svg = html.split(f"<h3>{heading}</h3>", 1)[1].split("</svg>", 1)[0]
    return {k: int(v) for k, v in re.findall(r"<title>([^<:]+): (\d+)</title>", svg)}


def test_every_category_is_in_the_charts(archive, written):
    checks = read_archive(archive).checks
    want = Counter(c.category for c in checks)
    assert len(want) == 14  # more than the 12 the charts used to stop at
    assert chart(written, "Checks per category") == dict(want)
    open_q = chart(written, "Open questions per category (of the check that raised them)")
    assert set(open_q) == set(want) and {"religion", "sports"} <= set(open_q)


def test_the_title_names_the_archive_not_its_path(archive, written):
    assert "<title>Research report: corpus</title>" in written and "<h1>Research report: corpus</h1>" in written
    assert str(archive.parent) not in written


def test_titles_instead_of_ids_with_the_ids_beside_them(archive, written):
    ix, _ = open_index(archive)
    row = next(r for r in ix.check_records if r["id"] == "a2e7b3")
    title = str(htmllib.escape(row["title"], quote=False))
    # raised by / answered by name the check by its title, linked to its row; the id follows.
    assert f'<a href="#check-a2e7b3">{title}</a> <span class="id">a2e7b3</span>' in written
    assert '<a href="#check-a2e7b3">a2e7b3</a>' not in written
    assert len(re.findall(r'<tr class="check" id="check-[^"]+">', written)) == 64


def test_the_tables_can_be_searched_and_sorted(written):
    for table in ("backlog-table", "checks-table"):
        assert f'<table class="sortable" id="{table}">' in written
        assert f'data-filter="{table}"' in written
    assert written.count("<script>") == 1 and "addEventListener" in written


def report_when_ready(client: TestClient):
    """The /report response once the report is made (it answers 202 while it is being
    prepared in the background), waiting two minutes at most."""
    deadline = time.monotonic() + 120
    while True:
        r = client.get("/report")
        if r.status_code != 202:
            return r
        assert time.monotonic() < deadline, "the report was not made in time"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def served(archive) -> TestClient:
    return TestClient(create_app(archive), follow_redirects=False)


def test_serve_report_is_the_report_with_the_response_nonce(served, written):
    r = report_when_ready(served)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    nonce = re.search(r"script-src 'nonce-([^']+)'", r.headers["content-security-policy"]).group(1)
    assert f'<script nonce="{nonce}">' in r.text
    page = r.text.replace(f' nonce="{nonce}"', "")
    # The same page as the file but for the links to the other pages.
    assert page.replace('<a href="/">Draft</a><a href="/backlog">Backlog page</a> · ', "") == written
    assert '<a href="/report">Report</a>' in served.get("/backlog").text


def test_serve_report_applies_the_feedback(tmp_path_factory):
    folder = corpus_copy(tmp_path_factory, "report-feedback")
    client = TestClient(create_app(folder), follow_redirects=False)
    before = report_when_ready(client).text
    lists = before.split('id="checks-table"', 1)[1]
    first = re.search(r"<ol>\s*<li>(.*?) <span class=\"score\">", lists).group(1)
    question = htmllib.unescape(first)
    assert lists.count(f"<li>{first} <span") >= 1
    store = FeedbackStore(store_path(default_index_dir(folder)))
    store.block(question)
    store.set_verdict("x1", "Can the flu shot give you the flu?", "accepted")
    after = report_when_ready(client).text
    assert f"<li>{first} <span" not in after.split('id="checks-table"', 1)[1]
    assert '<th data-type="number"><button type="button">Accepted</button></th>' in after
    # suggest report writes the same lists from the same store (and ignores it when told to).
    for flag, blocked in (("--feedback", True), ("--no-feedback", False)):
        r = CliRunner().invoke(app, ["report", "--archive", str(folder), "-q", flag])
        assert r.exit_code == 0 and (f"<li>{first} <span" not in r.stdout) is blocked


def test_a_hostile_archive_shows_as_text_in_the_served_report(tmp_path):
    folder = tmp_path / "hostile<b>"
    folder.mkdir()
    rows = [
        {"id": SCRIPT, "title": "Is 1 < 2 > 0 a claim about mail ballots & fraud?", "checked_on": "2025-01-02",
         "category": "<i>politics</i>", "url": "javascript:alert(1)", "summary": "Mail ballots and fraud claims.",
         "questions": ['Is fraud by mail "common" & 1 < 2?', "Do mail ballots raise fraud?"]},
        {"id": "h2", "title": "How are mail ballots verified?", "checked_on": "2025-01-03", "category": "politics",
         "url": "https://example.org/h2", "summary": "Signatures verify mail ballots against fraud.",
         "questions": ["Do mail ballots raise fraud?", "Are signature checks on mail ballots accurate?"]},
    ]  # fmt: skip
    (folder / "checks.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    page = report_when_ready(TestClient(create_app(folder))).text
    assert "<script>alert" not in page and "javascript:" not in page and "<i>" not in page and "<b>" not in page
    assert "<title>Research report: hostile&lt;b&gt;</title>" in page
    assert "Is 1 &lt; 2 &gt; 0 a claim about mail ballots &amp; fraud?" in page
    assert '<span class="id">&lt;script&gt;alert(1)&lt;/script&gt;</span>' in page  # the id reached the page
    assert "&lt;i&gt;politics&lt;/i&gt;" in page and "Is fraud by mail &#34;common&#34; &amp; 1 &lt; 2?" in page
