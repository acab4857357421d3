"""`/report` is made in the background: drafts are answered while it is being made, the page
says how far it is, a failure is an error page once and the next visit tries again, and the
report is made ahead of time (at start-up, after feedback) without anyone asking."""

from __future__ import annotations

import html
import re
import threading
import time

import pytest
from conftest import corpus_copy

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'suggest[serve]')")

from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import suggest.report  # noqa: E402
from suggest.cli import app as cli  # noqa: E402
from suggest.serve import app as serve_app  # noqa: E402
from suggest.serve.app import create_app  # noqa: E402

DRAFT = "Do mail ballots lead to fraud?\n\nClaims about mail ballots and fraud in the election."
WAIT = 120  # seconds: a bound on waits for the report of the 64-check corpus, never reached when it works


def report_when_ready(client: TestClient) -> str:
    """/report once it is made (it answers 202 while it is being prepared)."""
    deadline = time.monotonic() + WAIT
    while True:
        r = client.get("/report")
        if r.status_code != 202:
            assert r.status_code == 200, r.text
            return r.text
        assert time.monotonic() < deadline, "the report was not made in time"
        time.sleep(0.2)


def in_thread(fn, *args, **kwargs):
    """Run ``fn`` in a thread; the thread and a box its result (or error) lands in."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def test_a_draft_is_answered_while_the_report_is_being_made(tmp_path_factory, monkeypatch):
    folder = corpus_copy(tmp_path_factory, "report-slow")
    entered, release = threading.Event(), threading.Event()
    real = suggest.report.build_report

    def slow(*args, **kwargs):
        entered.set()
        release.wait(WAIT)
        return real(*args, **kwargs)

    monkeypatch.setattr(suggest.report, "build_report", slow)
    client = TestClient(create_app(folder))
    try:
        asked, got = in_thread(client.get, "/report")
        assert entered.wait(WAIT), "the report's page was never started"
        # Every check is ranked; the page is being written: a draft is answered now.
        drafted, box = in_thread(client.post, "/api/suggest", json={"text": DRAFT, "top": 3})
        drafted.join(5)
        assert not drafted.is_alive(), "a draft waited for the report"
        assert "error" not in box, box
        assert box["value"].status_code == 200 and len(box["value"].json()["questions"]) == 3
        asked.join(5)
        assert not asked.is_alive(), "/report waited for the report"
        assert got["value"].status_code == 202
        waiting = client.get("/report")
        assert waiting.status_code == 202
        assert "The report is being prepared" in waiting.text
        assert "64 of 64 checks done; now writing the page." in waiting.text
        assert '<meta http-equiv="refresh" content="5">' in waiting.text
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", waiting.text)  # nothing from elsewhere
    finally:
        release.set()
    page = report_when_ready(client)
    assert "<title>Research report: corpus</title>" in page
    assert len(re.findall(r'<tr class="check" id="check-[^"]+">', page)) == 64


def slowed(entered: threading.Event, release: threading.Event, fn):
    """``fn`` that says when it was entered, then waits for ``release`` before it runs."""

    def slow(*args, **kwargs):
        entered.set()
        release.wait(WAIT)
        return fn(*args, **kwargs)

    return slow


def draft_answered_now(client: TestClient) -> None:
    """A draft posted now is answered within 5 s (it does not wait for slow work under way)."""
    drafted, box = in_thread(client.post, "/api/suggest", json={"text": DRAFT, "top": 3})
    drafted.join(5)
    assert not drafted.is_alive(), "a draft waited for the backlog"
    assert "error" not in box, box
    assert box["value"].status_code == 200 and len(box["value"].json()["questions"]) == 3


def test_a_draft_is_answered_while_the_reports_backlog_is_ranked(tmp_path_factory, monkeypatch):
    # The backlog only reads the index: ranking it (about 12 s on the 19,250 PolitiFact checks)
    # holds no lock a draft's ranking needs.
    import suggest.serve.lists

    folder = corpus_copy(tmp_path_factory, "report-backlog")
    entered, release = threading.Event(), threading.Event()
    monkeypatch.setattr(suggest.serve.lists, "open_backlog", slowed(entered, release, suggest.serve.lists.open_backlog))
    client = TestClient(create_app(folder))
    try:
        assert entered.wait(WAIT), "the report's backlog was never started"
        draft_answered_now(client)
        waiting = client.get("/report")
        assert waiting.status_code == 202 and "now ranking the backlog" in waiting.text
    finally:
        release.set()
    assert "<title>Research report: corpus</title>" in report_when_ready(client)


def test_a_draft_is_answered_while_the_backlog_page_is_ranked(tmp_path_factory, monkeypatch):
    folder = corpus_copy(tmp_path_factory, "page-backlog")
    app = create_app(folder)
    assert app.state.suggest.report_maker.wait(WAIT)  # the report made: only the page's backlog is slow
    entered, release = threading.Event(), threading.Event()
    monkeypatch.setattr(serve_app, "rank_backlog", slowed(entered, release, serve_app.rank_backlog))
    client = TestClient(app)
    asked, got = in_thread(client.get, "/api/backlog", params={"top": 3})
    try:
        assert entered.wait(WAIT), "the backlog was never ranked"
        draft_answered_now(client)
    finally:
        release.set()
    asked.join(WAIT)
    assert "error" not in got, got
    assert got["value"].status_code == 200 and len(got["value"].json()["rows"]) == 3


def test_a_failed_report_is_an_error_page_and_the_next_visit_tries_again(tmp_path_factory, monkeypatch, caplog):
    folder = corpus_copy(tmp_path_factory, "report-fails")
    real = suggest.report.build_report
    calls = []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("No space left on device\nsecond line")
        return real(*args, **kwargs)

    monkeypatch.setattr(suggest.report, "build_report", fails_once)
    app = create_app(folder)
    client = TestClient(app)
    assert app.state.suggest.report_maker.wait(WAIT)
    r = client.get("/report")
    assert r.status_code == 500
    line = re.search(r'<p class="error" id="error">([^<]*)</p>', r.text).group(1)
    assert line == (
        "the report could not be made (OSError: No space left on device second line); reload the page to try again"
    )
    assert "No space left on device" in caplog.text  # logged, with its traceback
    page = report_when_ready(client)
    assert len(calls) == 2 and "<title>Research report: corpus</title>" in page


def test_the_report_is_made_at_start_up_and_again_after_feedback(tmp_path_factory):
    folder = corpus_copy(tmp_path_factory, "report-ahead")
    app = create_app(folder)
    client = TestClient(app)
    maker = app.state.suggest.report_maker
    assert maker.wait(WAIT)
    first = client.get("/report")  # made before anyone asked
    assert first.status_code == 200
    lists = first.text.split('id="checks-table"', 1)[1]
    question = re.search(r"<ol>\s*<li>(.*?) <span class=\"score\">", lists).group(1)
    r = client.post("/api/feedback", json={"action": "block", "question": question})
    assert r.status_code == 200
    assert maker.wait(WAIT)
    after = client.get("/report")  # made again after the feedback, before anyone asked
    assert after.status_code == 200
    assert f"<li>{question} <span" not in after.text.split('id="checks-table"', 1)[1]


def test_made_in_small_pieces_it_is_the_written_report(tmp_path_factory, monkeypatch):
    from suggest.serve.background import RankLock

    folder = corpus_copy(tmp_path_factory, "report-pieces")
    monkeypatch.setattr(serve_app, "REPORT_CHUNK", 16)
    app = create_app(folder)
    lock = app.state.suggest.rank_lock
    pieces = []
    real = RankLock.piece

    def counted(self):
        pieces.append(1)
        return real(self)

    monkeypatch.setattr(RankLock, "piece", counted)
    page = report_when_ready(TestClient(app))
    assert lock.waiting == 0 and len(pieces) >= 64  # one piece per check's list, at least
    out = tmp_path_factory.mktemp("written") / "report.html"
    r = CliRunner().invoke(cli, ["report", "--archive", str(folder), "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    page = re.sub(r' nonce="[^"]+"', "", page).replace(
        '<a href="/">Draft</a><a href="/backlog">Backlog page</a> · ', ""
    )
    assert page == out.read_text("utf-8")


def test_a_request_waits_for_the_piece_under_way_never_for_the_next():
    from suggest.serve.background import RankLock

    lock = RankLock()
    stop = threading.Event()
    started = 0

    def background() -> None:
        nonlocal started
        while not stop.is_set():
            with lock.piece():
                started += 1
                time.sleep(0.002)  # a piece of work, the lock held

    t = threading.Thread(target=background, daemon=True)
    t.start()
    later = []
    try:
        for _ in range(20):
            before = started
            with lock:  # a request
                later.append(started - before)  # pieces started after the request came
            time.sleep(0.005)
    finally:
        stop.set()
        t.join(10)
    # A plain lock lets the background take it again first, about every time (19 of 20 here);
    # a piece can start only in the instant between reading the count and asking.
    assert sum(later) <= 2, later


def check_row(page: str, check_id: str) -> str:
    """The checks table's row of ``check_id``."""
    rows = page.split('id="checks-table"', 1)[1].split('<tr class="check"')
    return next(r for r in rows if f'<span class="id">{check_id}</span></td>' in r)


def test_a_question_rejected_for_a_checks_text_leaves_that_checks_list(tmp_path_factory):
    from suggest.archive import read_archive
    from suggest.index import default_index_dir
    from suggest.serve.feedback import FeedbackStore, article_key, store_path

    folder = corpus_copy(tmp_path_factory, "report-rejected")
    client = TestClient(create_app(folder))
    page = report_when_ready(client)
    check = next(c for c in read_archive(folder).checks if "<li>" in check_row(page, c.id))
    before = check_row(page, check.id)
    first = re.search(r"<li>(.*?) <span class=\"score\">", before).group(1)
    FeedbackStore(store_path(default_index_dir(folder))).set_verdict(
        article_key(check), html.unescape(first), "rejected"
    )
    after = check_row(report_when_ready(client), check.id)
    assert f"<li>{first} <span" in before and f"<li>{first} <span" not in after
