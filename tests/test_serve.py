"""`suggest serve` through the ASGI test client: the JSON API (good and bad input), the pages,
the feedback store and its use by `suggest for`, cross-site protection, escaping."""

from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import corpus_copy

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'suggest[serve]')")
pytest.importorskip("docx", reason="the serve extra is not installed (pip install 'suggest[serve]')")

from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from suggest.cli import app as cli  # noqa: E402
from suggest.serve.app import MAX_REQUEST_BYTES, create_app  # noqa: E402
from suggest.serve.drafts import MAX_DRAFT_BYTES, DraftError, draft_from_file, draft_from_text  # noqa: E402
from suggest.serve.feedback import (  # noqa: E402
    SCHEMA_VERSION,
    FeedbackError,
    FeedbackStore,
    article_key,
    question_key,
    store_path,
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
BALLOTS = ROOT / "examples" / "draft-mail-ballots.txt"
SEA = ROOT / "examples" / "draft-sea-level.txt"
SCRIPT = "<script>alert(1)</script>"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shipped corpus/ missing")


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return corpus_copy(tmp_path_factory, "serve")


@pytest.fixture(scope="module")
def client(archive) -> TestClient:
    return TestClient(create_app(archive), follow_redirects=False)


@pytest.fixture()
def fresh(tmp_path) -> tuple[Path, TestClient]:
    """An archive of its own (so its feedback starts empty) and a client."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest, ignore=shutil.ignore_patterns(".*"))
    return dest, TestClient(create_app(dest), follow_redirects=False)


def token(client: TestClient) -> str:
    page = client.get("/").text
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, "the draft page carries the form token"
    return m.group(1)


def suggest(client: TestClient, text: str, **opts) -> dict:
    r = client.post("/api/suggest", json={"text": text, **opts})
    assert r.status_code == 200, r.text
    return r.json()


def questions(payload: dict) -> list[str]:
    return [q["question"] for q in payload["questions"]]


def cli_list(archive: Path, article: Path, *extra: str) -> list[str]:
    r = CliRunner().invoke(cli, ["for", str(article), "--archive", str(archive), "-f", "json", "-q", *extra])
    assert r.exit_code in (0, 3), r.stderr
    return [row["question"] for row in json.loads(r.stdout)]


# -- the JSON API --------------------------------------------------------------------------------


def test_api_list_is_the_cli_list_with_checks(client, archive):
    got = suggest(client, BALLOTS.read_text(), top=5)
    assert questions(got) == cli_list(archive, BALLOTS, "--no-feedback")
    assert len(got["questions"]) == 5 and got["article"] == article_key(draft_from_text(BALLOTS.read_text()))
    scores = [q["score"] for q in got["questions"]]
    assert scores == sorted(scores, reverse=True) and all(s >= got["floor"] for s in scores)
    for q in got["questions"]:
        assert q["raised_by"] or q["answered_by"]
        for c in q["raised_by"] + q["answered_by"]:
            assert set(c) == {"id", "title", "date", "url", "category"} and c["title"]
    answered = [q for q in got["questions"] if q["status"] == "answered"]
    assert all(q["answered_by"] for q in answered)
    assert "explain" not in got["questions"][0] and "held" not in got


def test_api_options_and_explain(client):
    got = suggest(client, SEA.read_text(), top=2, open_only=True, explain=True)
    assert len(got["questions"]) <= 2 and all(q["status"] == "open" for q in got["questions"])
    ex = got["questions"][0]["explain"]
    assert ex["matched"] and ex["question_score"] > 0 and "words" in ex["signals"]
    assert got["held"] and all(h["reason"] for h in got["held"])
    high = suggest(client, SEA.read_text(), min_score=0.99)
    assert high["questions"] == []


NOT_JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"", NOT_JSON, 400, "empty body"),
        (b"   ", NOT_JSON, 400, "empty body"),
        (b"\x00\x01\x02\xff", NOT_JSON, 400, "not UTF-8"),
        (b"{not json", NOT_JSON, 400, "not JSON"),
        (b"[1, 2]", NOT_JSON, 400, "must be a JSON object"),
        (b'{"text": "Is it?"}', {"content-type": "text/plain"}, 415, "application/json"),
        (b'{"text": "Is it?"}', {}, 415, "application/json"),
        (b'{"text": ""}', NOT_JSON, 400, "empty article"),
        (b'{"text": "   \\n  "}', NOT_JSON, 400, "empty article"),
        (b'{"text": "\\u0000\\u0001\\u0002\\u0003"}', NOT_JSON, 400, "binary data"),
        (b'{"top": 3}', NOT_JSON, 422, "text: Field required"),
        (b'{"text": 5}', NOT_JSON, 422, "text: Input should be a valid string"),
        (b'{"text": "Is it?", "top": 0}', NOT_JSON, 422, "top: Input should be greater than or equal to 1"),
        (b'{"text": "Is it?", "min_score": 2}', NOT_JSON, 422, "min_score"),
        (b'{"text": "Is it?", "colour": "red"}', NOT_JSON, 422, "colour: Extra inputs are not permitted"),
        (b'{"text": "Is it?", "since": "2025-02-30"}', NOT_JSON, 400, "not a date"),
        (b'{"text": "Is it?", "since": "2025-03-01", "until": "2025-01-01"}', NOT_JSON, 400, "swap them"),
    ],
)
def test_api_bad_input_is_a_4xx_with_one_line(client, body, headers, status, message):
    r = client.post("/api/suggest", content=body, headers=headers)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert message in err and "\n" not in err


def test_api_oversized_body_is_413_before_reading(client):
    r = client.post("/api/suggest", content=b"x" * (MAX_REQUEST_BYTES + 1), headers=NOT_JSON)
    assert r.status_code == 413 and "request too large" in r.json()["error"]

    def chunks():  # no Content-Length: counted as it comes
        for _ in range(3):
            yield b"y" * MAX_DRAFT_BYTES

    r = client.post("/api/suggest", content=chunks(), headers=NOT_JSON)
    assert r.status_code == 413 and "request too large" in r.json()["error"]


def test_api_draft_over_the_draft_cap_is_refused(client):
    text = "Is it true?\n" + "é" * (MAX_DRAFT_BYTES // 2)  # 2 bytes each: over the cap, under the request's
    r = client.post("/api/suggest", json={"text": text})
    assert r.status_code == 400 and "draft too large" in r.json()["error"]


def test_api_backlog_and_its_filters(client):
    r = client.get("/api/backlog", params={"top": 5})
    assert r.status_code == 200
    data = r.json()
    assert data["shown"] == 5 and data["open_questions"] > 5 and [x["rank"] for x in data["rows"]] == [1, 2, 3, 4, 5]
    assert all(x["triage"] == "open" and x["accepted"] == 0 for x in data["rows"])
    health = client.get("/api/backlog", params={"category": "health", "top": 1000}).json()
    assert health["rows"] and all("health" in x["categories"] for x in health["rows"])
    assert all(c["category"] and c["title"] for x in health["rows"] for c in x["checks"])
    assert len(health["rows"]) < client.get("/api/backlog", params={"top": 1000}).json()["shown"]
    recent = client.get("/api/backlog", params={"since": "2026-01-01", "top": 1000}).json()["rows"]
    assert recent and all(any((c["date"] or "") >= "2026-01-01" for c in x["checks"]) for x in recent)
    for params, message in [
        ({"since": "yesterday"}, "not a date"),
        ({"since": "2026-02-01", "until": "2025-01-01"}, "swap them"),
        ({"state": "done"}, "state"),
        ({"top": "0"}, "top"),
    ]:
        bad = client.get("/api/backlog", params=params)
        assert bad.status_code == 400 and message in bad.json()["error"]


def test_openapi_describes_the_api_and_no_page_loads_outside_scripts(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/suggest", "/api/backlog", "/api/feedback"} <= set(spec["paths"])
    body = spec["paths"]["/api/suggest"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "text" in body["properties"] and body["required"] == ["text"]
    assert client.get("/docs").status_code == 404  # Swagger UI would load scripts from the web


# -- feedback ------------------------------------------------------------------------------------


def test_reject_is_per_article_block_is_everywhere_and_both_outlive_a_restart(fresh):
    archive, client = fresh
    ballots, sea = BALLOTS.read_text(), SEA.read_text()
    first = suggest(client, ballots)
    art, gone = first["article"], first["questions"][0]["question"]
    r = client.post("/api/feedback", json={"action": "reject", "article": art, "question": gone})
    assert r.status_code == 200
    again = suggest(client, ballots)
    assert gone not in questions(again) and len(again["questions"]) == len(first["questions"])
    assert set(questions(first)[1:]) < set(questions(again))  # the others stay; the next one fills the list
    # another article sharing the question still gets it
    other = ballots.replace("\n", "\nA new first paragraph about mail ballots.\n", 1)
    assert gone in questions(suggest(client, other))

    blocked = questions(suggest(client, sea))[0]
    assert client.post("/api/feedback", json={"action": "block", "question": blocked}).status_code == 200
    assert blocked not in questions(suggest(client, sea))

    restarted = TestClient(create_app(archive), follow_redirects=False)
    assert gone not in questions(suggest(restarted, ballots))
    assert blocked not in questions(suggest(restarted, sea))
    assert gone in questions(suggest(restarted, ballots, feedback=False))
    # the command line reads the same store, and --no-feedback ignores it
    assert gone not in cli_list(archive, BALLOTS) and blocked not in cli_list(archive, SEA)
    assert gone in cli_list(archive, BALLOTS, "--no-feedback") and blocked in cli_list(archive, SEA, "--no-feedback")

    held = suggest(restarted, ballots, explain=True)["held"]
    assert any(h["question"] == gone and h["reason"] == "rejected for this article by an editor" for h in held)
    assert client.post("/api/feedback", json={"action": "unblock", "question": blocked}).status_code == 200
    assert blocked in questions(suggest(client, sea))


def test_accept_shows_in_the_list_and_the_backlog_counts_it(fresh):
    _, client = fresh
    got = suggest(client, SEA.read_text(), open_only=True)
    q = got["questions"][0]["question"]
    client.post("/api/feedback", json={"action": "accept", "article": got["article"], "question": q})
    again = suggest(client, SEA.read_text(), open_only=True)
    assert again["questions"][0] == {**got["questions"][0], "verdict": "accepted"}
    rows = client.get("/api/backlog", params={"top": 100_000}).json()["rows"]
    counted = {r["question"]: r["accepted"] for r in rows}
    assert counted[q] == 1 and sum(counted.values()) == 1


def test_pin_lists_a_question_first_for_its_category(fresh):
    archive, client = fresh
    text = SEA.read_text()
    pinned = "Do photo identification requirements reduce the number of people who vote?"
    assert pinned not in questions(suggest(client, text, category="environment"))
    r = client.post("/api/feedback", json={"action": "pin", "category": "Environment", "question": pinned})
    assert r.status_code == 200
    got = suggest(client, text, category="environment")
    assert got["questions"][0]["question"] == pinned and got["questions"][0]["pinned"] is True
    assert len(got["questions"]) == 5
    assert pinned not in questions(suggest(client, text, category="health"))
    assert cli_list(archive, SEA, "--category", "environment")[0] == pinned
    assert pinned not in cli_list(archive, SEA, "--category", "environment", "--no-feedback")
    assert pinned not in cli_list(archive, SEA)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "reject", "question": "Is it?"}, "give the article key"),
        ({"action": "pin", "question": "Is it?"}, "give the category"),
        ({"action": "triage", "question": "Is it?"}, "give the state"),
        ({"action": "triage", "question": "Is it?", "state": "done"}, "state: Input should be"),
        ({"action": "delete", "question": "Is it?"}, "action: Input should be"),
        ({"action": "block", "question": ""}, "question: String should have at least 1 character"),
        ({"action": "block", "question": "   "}, "no question"),
    ],
)
def test_api_feedback_bad_input(client, body, message):
    r = client.post("/api/feedback", json=body)
    assert 400 <= r.status_code < 500 and message in r.json()["error"], r.text


def test_store_schema_wal_and_migrations(tmp_path):
    store = FeedbackStore(store_path(tmp_path / ".suggest-index"))
    assert store.path == tmp_path / ".suggest-index.feedback.sqlite"
    assert store.for_article("abc").rejected == frozenset() and not store.path.exists()  # reading creates nothing
    store.set_verdict("abc", "  Do masks  WORK? ", "rejected")
    assert store.for_article("abc").rejected == {question_key("do masks work?")}
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version FROM schema_migrations").fetchall() == [(SCHEMA_VERSION,)]
    con.execute("INSERT INTO schema_migrations VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    con.commit()
    con.close()
    with pytest.raises(FeedbackError, match="made by a newer suggest"):
        store.for_article("abc")
    with pytest.raises(FeedbackError, match="made by a newer suggest"):
        store.block("Is it?")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(FeedbackError, match="not a feedback store"):
        FeedbackStore(junk).block("Is it?")
    with pytest.raises(FeedbackError, match="verdict"):
        store.set_verdict("abc", "Is it?", "maybe")


_KILLED_WRITER = """
import os, signal, sys
from suggest.serve.feedback import FeedbackStore
store = FeedbackStore(sys.argv[1])
for k in range(20):
    store.set_verdict("art", f"Question {k}?", "rejected")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_writes_survive_a_killed_process(tmp_path):
    path = tmp_path / ".ix.feedback.sqlite"
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path)], capture_output=True, timeout=120)
    assert done.returncode == -9
    assert FeedbackStore(path).for_article("art").rejected == {f"question {k}?" for k in range(20)}


def test_concurrent_writers_lose_nothing(tmp_path):
    import threading

    path = tmp_path / ".ix.feedback.sqlite"

    def write(n: int) -> None:
        store = FeedbackStore(path)  # a store each, as two processes would have
        for k in range(15):
            store.set_verdict(f"art{n}", f"Q{k}?", "accepted")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert FeedbackStore(path).accepted_counts() == {f"q{k}?": 4 for k in range(15)}


def test_writers_opening_a_new_store_at_once_all_get_in(tmp_path):
    # SQLite answers "database is locked" at once (no busy wait) to a connection switching a
    # new file to WAL while others open it; the store waits and tries again itself.
    import threading

    for r in range(40):
        path = tmp_path / f"{r}.feedback.sqlite"
        errors: list[BaseException] = []

        def write(n: int, path=path, errors=errors) -> None:
            try:
                FeedbackStore(path).set_verdict(f"art{n}", "Q?", "accepted")
            except BaseException as exc:  # noqa: BLE001 - collected for the assert
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, f"round {r}: {errors[0]}"
        assert FeedbackStore(path).accepted_counts() == {"q?": 4}


# -- drafts: paste and upload -----------------------------------------------------------------------


def docx_bytes(lines: list[str]) -> bytes:
    import docx

    d = docx.Document()
    for line in lines:
        d.add_paragraph(line)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def test_every_upload_format_reads_as_the_same_article():
    text = SEA.read_text()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    pasted = draft_from_text(text)
    html = (
        "<html><head><title>x</title><script>var a;</script></head><body>"
        + "".join(f"<p>{ln.replace('&', '&amp;').replace('<', '&lt;')}</p>" for ln in lines)
        + "</body></html>"
    )
    md = "\n\n".join(lines)
    for data, name in [
        (text.encode(), "draft.txt"),
        (docx_bytes(lines), "draft.docx"),
        (html.encode(), "draft.html"),
        (md.encode(), "draft.md"),
    ]:
        got = draft_from_file(data, name)
        assert (got.title, got.summary, got.questions) == (pasted.title, pasted.summary, pasted.questions), name
        assert article_key(got) == article_key(pasted), name


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"Is it?", "draft.pdf", "unknown kind of file"),
        (b"", "draft.txt", "empty article"),
        (b"\x00\x01binary", "draft.txt", "binary data"),
        (b"%PDF-1.4 \x00\x00", "draft.txt", "a PDF document"),
        (b"not a zip", "draft.docx", "not a Word document"),
        (b"PK\x03\x04garbage", "draft.docx", "not a Word document"),
        (b"<html><body></body></html>", "draft.html", "empty article"),
        (b"x" * (MAX_DRAFT_BYTES + 1), "draft.txt", "draft too large"),
    ],
)
def test_bad_uploads_say_what_is_wrong(data, name, message):
    with pytest.raises(DraftError, match=message):
        draft_from_file(data, name)


def test_upload_a_docx_through_the_page(client):
    data = docx_bytes([ln for ln in BALLOTS.read_text().splitlines() if ln.strip()])
    r = client.post(
        "/",
        data={"csrf": token(client), "top": "3"},
        files={"file": ("draft.docx", data, "application/vnd.openxmlformats-officedocument.wordprocessingml.document")},
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/draft/")
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and page.text.count('class="suggestion"') == 3
    assert "How much fraud involves ballots sent through the mail?" in page.text


def test_page_errors_are_4xx_pages(client):
    t = token(client)
    r = client.post("/", data={"csrf": t, "text": "  "})
    assert r.status_code == 400 and "no draft" in r.text and "<!DOCTYPE html>" in r.text
    r = client.post("/", data={"csrf": t}, files={"file": ("x.docx", b"nope", "application/octet-stream")})
    assert r.status_code == 400 and "not a Word document" in r.text
    r = client.post("/", data={"csrf": t, "text": "Is it?", "top": "many"})
    assert r.status_code == 400 and "top" in r.text
    assert client.get("/draft/0123456789abcdef").status_code == 404
    r = client.post("/", content=b"x" * (MAX_REQUEST_BYTES + 10), headers={"content-type": "text/plain"})
    assert r.status_code == 413 and "request too large" in r.text


# -- the pages: feedback, backlog, escaping, cross-site --------------------------------------------


def test_reject_on_the_page_and_it_is_gone_after_the_reload(fresh):
    _, client = fresh
    t = token(client)
    r = client.post("/", data={"csrf": t, "text": BALLOTS.read_text(), "top": "5"})
    where = r.headers["location"]
    page = client.get(where).text
    first = re.findall(r'<li class="suggestion" data-question="([^"]+)"', page)
    assert len(first) == 5
    m = re.search(r'name="article" value="([0-9a-f]{16})"', page)
    assert m
    r = client.post(
        "/feedback",
        data={"csrf": t, "action": "reject", "question": first[0], "article": m.group(1), "back": where},
    )
    assert r.status_code == 303 and r.headers["location"] == where
    after = re.findall(r'<li class="suggestion" data-question="([^"]+)"', client.get(where).text)
    assert first[0] not in after and len(after) == 5 and set(first[1:]) < set(after)


def test_draft_page_shows_checks_explain_and_copies(client):
    t = token(client)
    where = client.post("/", data={"csrf": t, "text": SEA.read_text(), "top": "3"}).headers["location"]
    page = client.get(where)
    html = page.text
    assert "raised by" in html and "<details><summary>Why this question</summary>" in html
    for fmt in ("html", "markdown", "text"):
        assert f'id="copy-{fmt}"' in html
    assert "&lt;h2&gt;Want to dive deeper?&lt;/h2&gt;" in html  # the HTML copy shown as text in its box
    nonce = re.search(r'<script nonce="([^"]+)">', html).group(1)
    csp = page.headers["content-security-policy"]
    assert f"script-src 'nonce-{nonce}'" in csp and "default-src 'none'" in csp
    assert not re.search(r'\s(src|href)="(https?:)?//', html)  # nothing loaded from elsewhere


def test_forms_refuse_cross_site_requests(client):
    t = token(client)
    data = {"csrf": t, "text": SEA.read_text()}
    assert client.post("/", data={"text": SEA.read_text()}).status_code == 403
    assert client.post("/", data={**data, "csrf": "forged"}).status_code == 403
    r = client.post("/", data=data, headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and "cross-site request refused" in r.text
    assert client.post("/", data=data, headers={"sec-fetch-site": "cross-site"}).status_code == 403
    assert (
        client.post(
            "/feedback", data={**data, "action": "block", "question": "Q?"}, headers={"origin": "null"}
        ).status_code
        == 403
    )
    r = client.post(
        "/api/feedback", json={"action": "block", "question": "Q?"}, headers={"sec-fetch-site": "cross-site"}
    )
    assert r.status_code == 403 and "cross-site" in r.json()["error"]
    ok = client.post("/", data=data, headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"})
    assert ok.status_code == 303


def test_hostile_archive_text_renders_as_text(tmp_path):
    # The reader drops tags from texts (suggest.text.normalize); what survives it (ids, angle
    # brackets in prose, quotes, ampersands) must still show as text.
    folder = tmp_path / "arch"
    folder.mkdir()
    rows = [
        {"id": SCRIPT, "title": "Does 1 < 2 > 0 hold for mail ballots and fraud?", "checked_on": "2025-01-02",
         "category": "politics", "url": "javascript:alert(1)", "summary": "Mail ballots and fraud claims.",
         "questions": ['Is fraud by mail "common" & 1 < 2?', "Do mail ballots raise fraud?"]},
        {"id": "h2", "title": "How are mail ballots verified?", "checked_on": "2025-01-03", "category": "politics",
         "url": "https://example.org/h2", "summary": "Signatures verify mail ballots against fraud.",
         "questions": ["Do mail ballots raise fraud?", "Are signature checks on mail ballots accurate?"]},
    ]  # fmt: skip
    (folder / "checks.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    client = TestClient(create_app(folder), follow_redirects=False)
    draft = "Is 3 < 4 true of signature checks?\n\nSignature checks on mail ballots, and claims of fraud by mail."
    where = client.post("/", data={"csrf": token(client), "text": draft}).headers["location"]
    got = client.get("/api/backlog").json()["rows"]
    assert SCRIPT in [c["id"] for r in got for c in r["checks"]]  # the hostile id reached the pages
    pages = [client.get(where).text, client.get("/backlog").text]
    assert "Is 3 &lt; 4 true of signature checks?" in pages[0]
    for html in pages:
        assert "<script>alert" not in html and "javascript:" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0] + pages[1]
    assert "Does 1 &lt; 2 &gt; 0 hold for mail ballots and fraud?" in pages[1]
    assert "Is fraud by mail &#34;common&#34; &amp; 1 &lt; 2?" in pages[1]


def test_backlog_page_triage_filter_and_csv(fresh):
    _, client = fresh
    page = client.get("/backlog")
    assert (
        page.status_code == 200
        and "Research backlog" in page.text
        and "<title>Research backlog · suggest · corpus</title>" in page.text
    )
    first = re.search(r'<tr class="row" data-question="([^"]+)"', page.text).group(1)
    import html as html_lib

    first = html_lib.unescape(first)
    r = client.post(
        "/feedback",
        data={"csrf": token(client), "action": "triage", "question": first, "state": "assigned", "back": "/backlog"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/backlog"
    assigned = client.get("/api/backlog", params={"state": "assigned"}).json()["rows"]
    assert [x["question"] for x in assigned] == [first] and assigned[0]["triage"] == "assigned"
    shown = client.get("/backlog", params={"state": "assigned"}).text
    assert shown.count('<tr class="row"') == 1 and '<option value="assigned" selected>' in shown
    csv_text = client.get("/backlog.csv", params={"category": "health"}).text
    lines = csv_text.splitlines()
    assert lines[0] == "rank,question,score,raised,accepted,triage,categories,checks"
    assert len(lines) > 2 and all("health" in line for line in lines[1:])
    everything = client.get("/backlog.csv").text.splitlines()
    assert len(everything) - 1 == client.get("/api/backlog", params={"top": 100_000}).json()["open_questions"]


def test_serve_command_warns_off_loopback_and_checks_the_host(monkeypatch, archive):
    import socket

    import uvicorn

    calls = []

    def run(self, sockets=None):
        calls.append((self.config.app, sockets[0].getsockname()))
        sockets[0].close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = CliRunner().invoke(cli, ["serve", "--archive", str(archive), "--host", "0.0.0.0", "--port", str(port)])
    assert r.exit_code == 0, r.stderr
    assert "warning: listening on 0.0.0.0" in r.stderr and calls[-1][1] == ("0.0.0.0", port)
    r = CliRunner().invoke(cli, ["serve", "--archive", str(archive), "--port", str(port)])
    assert r.exit_code == 0 and "warning" not in r.stderr and f"at http://127.0.0.1:{port}/" in r.stderr
    local = TestClient(calls[-1][0], base_url=f"http://127.0.0.1:{port}")
    assert local.get("/").status_code == 200
    assert TestClient(calls[-1][0], base_url="http://evil.example").get("/").status_code == 400
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        r = CliRunner().invoke(cli, ["serve", "--archive", str(archive), "--port", str(busy)])
    assert r.exit_code == 1 and r.stderr.splitlines()[-1].startswith(f"error: 127.0.0.1:{busy}: cannot listen there")


def backlog_cli(archive: Path, *extra: str) -> list[dict]:
    r = CliRunner().invoke(cli, ["backlog", "--archive", str(archive), "-f", "json", "-q", "--top", "8", *extra])
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)["rows"]


def test_backlog_leaves_out_blocked_and_answered_questions(fresh):
    archive, client = fresh
    before = backlog_cli(archive)
    blocked, answered, assigned = before[0]["question"], before[2]["question"], before[3]["question"]
    for body in (
        {"action": "block", "question": blocked},
        {"action": "triage", "question": answered, "state": "answered"},
        {"action": "triage", "question": assigned, "state": "assigned"},
    ):
        assert client.post("/api/feedback", json=body).status_code == 200
    after = backlog_cli(archive)
    got = [r["question"] for r in after]
    assert blocked not in got and answered not in got and assigned in got
    assert got[:5] == [before[k]["question"] for k in (1, 3, 4, 5, 6)] and [r["rank"] for r in after] == list(
        range(1, 9)
    )
    assert [r["question"] for r in backlog_cli(archive, "--no-feedback")] == [r["question"] for r in before]
    web = [r["question"] for r in client.get("/api/backlog", params={"top": 8}).json()["rows"]]
    assert web == got
    shown = client.get("/api/backlog", params={"state": "answered"}).json()["rows"]
    assert [r["question"] for r in shown] == [answered]


def test_feedback_form_goes_back_only_to_this_server(client):
    t = token(client)
    for back, where in [
        ("/backlog?state=assigned", "/backlog?state=assigned"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/draft/0123456789abcdef?top=3&open_only=1", "/draft/0123456789abcdef?top=3&open_only=1"),
    ]:
        r = client.post("/feedback", data={"csrf": t, "action": "unblock", "question": "Q?", "back": back})
        assert r.status_code == 303 and r.headers["location"] == where, back


def test_a_long_pasted_draft_fits_the_form(client):
    text = BALLOTS.read_text() + "\n" + ("More words about mail ballots and counting.\n" * 33_000)
    assert 1_048_576 < len(text.encode()) < MAX_DRAFT_BYTES
    r = client.post("/", data={"csrf": token(client), "text": text, "top": "2"})
    assert r.status_code == 303, r.text[:300]


def test_the_server_follows_a_changed_archive(tmp_path):
    folder = tmp_path / "arch"
    folder.mkdir()
    row = {"id": "a1", "title": "Do tides rise?", "checked_on": "2025-01-01", "summary": "Tides rise and fall.",
           "questions": ["How high do spring tides reach?"]}  # fmt: skip
    (folder / "a.jsonl").write_text(json.dumps(row) + "\n")
    client = TestClient(create_app(folder, recheck=0))
    assert [r["question"] for r in client.get("/api/backlog").json()["rows"]] == ["How high do spring tides reach?"]
    row2 = {**row, "id": "b2", "title": "Do rivers flood?", "questions": ["How often do rivers flood towns?"]}
    (folder / "b.jsonl").write_text(json.dumps(row2) + "\n")
    got = {r["question"] for r in client.get("/api/backlog").json()["rows"]}
    assert got == {"How high do spring tides reach?", "How often do rivers flood towns?"}


# -- never a 500, never an unnamed error -------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".txt", ".md", ".html", ".htm", ".docx", ".pdf", ""]))
def test_any_upload_is_a_draft_or_a_named_error(data, suffix):
    from suggest.errors import SuggestError

    try:
        draft = draft_from_file(data, f"draft{suffix}")
    except SuggestError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert draft.title


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(["text", "top", "open_only", "since", "until", "min_score", "category", "explain", "x"]),
        JSON_VALUES,
        max_size=5,
    )
)
def test_any_json_body_is_a_list_or_a_4xx(client, body):
    r = client.post("/api/suggest", json=body)
    assert r.status_code == 200 or (400 <= r.status_code < 500 and r.json()["error"]), (body, r.status_code, r.text)


@pytest.fixture(scope="module")
def scratch_client(tmp_path_factory) -> TestClient:
    """An app whose feedback store may take anything valid."""
    dest = tmp_path_factory.mktemp("prop") / "corpus"
    shutil.copytree(CORPUS, dest, ignore=shutil.ignore_patterns(".*"))
    return TestClient(create_app(dest))


@settings(max_examples=40, deadline=None)
@given(
    body=JSON_VALUES
    | st.fixed_dictionaries(
        {"action": st.sampled_from(["accept", "reject", "block", "pin", "triage", "clear", "nope"])},
        optional={k: JSON_VALUES for k in ("question", "article", "category", "state")},
    )
)
def test_any_feedback_body_is_taken_or_a_4xx(scratch_client, body):
    r = scratch_client.post("/api/feedback", json=body)
    assert r.status_code == 200 or (400 <= r.status_code < 500 and r.json()["error"]), (body, r.status_code, r.text)
