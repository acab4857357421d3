"""`suggest serve`: the editor's page and the JSON API, a FastAPI app (`create_app`).

Pages: ``/`` (paste or upload a draft), ``/draft/{article}`` (its list, with feedback
buttons), ``/backlog`` (open questions, filters, triage; ``/backlog.csv``). API:
``POST /api/suggest``, ``GET /api/backlog``, ``POST /api/feedback``; its OpenAPI description
is ``/openapi.json`` (FastAPI's interactive docs are off: they load scripts from the web).

Safe by default:

- Every request body is capped at `MAX_REQUEST_BYTES` (413 before the app reads it).
- Bad input is a 4xx with one line (``{"error": "..."}`` for the API, a page otherwise):
  an empty, binary, oversized or unreadable draft, a wrong content type (415), bad options.
- Cross-site requests: a POST whose ``Sec-Fetch-Site`` is ``cross-site`` or ``same-site``,
  or whose ``Origin`` is not this server, is refused (403); a form also needs the page's token
  (made at start-up). The API takes only ``application/json``, which a page of another site
  cannot send without the browser asking first (and no CORS header says yes).
- Pages are Jinja2 templates with autoescape; a Content-Security-Policy allows no resource
  from elsewhere and only the page's own inline script (by nonce).

The index is opened once, at start-up, and reopened (rebuilt if need be) when the archive's
fingerprint changes, checked at most every ``recheck`` seconds. Rankings run one at a time
(a lock): the ranking's arrays are shared. The backlog only reads the index, so it is ranked
without that lock (once per index, under a lock of its own): on the 19,250 PolitiFact checks it
takes about 12 s, which a draft waited for while it held the ranking's lock. The report
(``/report``) is made by one background thread, taking the ranking's lock in short pieces, from
start-up and whenever the index or the feedback changed (`suggest.serve.background`); meanwhile
``/report`` says how far it is.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from suggest.backlog import Backlog, BacklogRow
from suggest.backlog import backlog as rank_backlog
from suggest.batch import ListFeedback
from suggest.errors import SuggestError
from suggest.index import Index, default_index_dir, open_index
from suggest.records import Check, RankOptions, Suggestion
from suggest.render import render, safe_id, safe_url, shipped_template
from suggest.serve.background import Failed, Maker, Making, Progress, RankLock
from suggest.serve.drafts import MAX_DRAFT_BYTES, draft_from_file, draft_from_text
from suggest.serve.feedback import (
    NO_FEEDBACK,
    TRIAGE_STATES,
    FeedbackError,
    FeedbackStore,
    article_key,
    question_key,
    store_path,
)
from suggest.serve.lists import PINNED, ArticleList, article_list, rank_options

MAX_REQUEST_BYTES = MAX_DRAFT_BYTES + 65_536
"""A request body larger than this is refused (413): a draft at the size limit and the form's
other fields."""
_BACK = re.compile(r"^/(?:draft/[0-9a-f]{16}|backlog)?(?:\?[A-Za-z0-9_.~%&=+-]*)?$")
"""Where a form may send the browser back to: a page of this server, never another site."""
KEPT_DRAFTS = 64
"""Drafts held in memory (never written anywhere) so that their page can be reloaded."""
LOOPBACK = ("127.0.0.1", "localhost", "::1")
REPORT_CHUNK = 64
"""Checks ranked per piece of the report's making (`suggest.batch.iter_lists`' ``chunk``, at
most): a draft's ranking waits at most for one piece."""


# -- the API's request and response bodies ------------------------------------------------------


class DraftRequest(BaseModel):
    """A draft to suggest for, with the options of `suggest for`."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="The draft as a saved article: title on the first line.")
    top: int = Field(5, ge=1, le=100, description="How many questions at most.")
    open_only: bool = Field(False, description="Only questions no check answers yet.")
    since: str | None = Field(None, description="Only questions raised on or after this date (YYYY-MM-DD).")
    until: str | None = Field(None, description="Only questions raised on or before this date (YYYY-MM-DD).")
    min_score: float | None = Field(None, ge=0, le=1, description="Leave out questions scoring below this.")
    category: str | None = Field(None, max_length=100, description="The draft's category (for pinned questions).")
    explain: bool = Field(False, description="Also each question's reasons and what was held back.")
    feedback: bool = Field(True, description="Apply the editors' feedback (blocked, rejected, pinned).")


class FeedbackRequest(BaseModel):
    """One editor's word on a question."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["accept", "reject", "clear", "block", "unblock", "pin", "unpin", "triage"]
    question: str = Field(min_length=1, max_length=2000)
    article: str | None = Field(None, max_length=64, description="The article key (accept, reject, clear).")
    category: str | None = Field(None, max_length=100, description="The category (pin, unpin).")
    state: Literal["open", "assigned", "answered"] | None = Field(None, description="The triage state (triage).")


def _schema(model: type[BaseModel]) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


class ClientError(Exception):
    """A bad request: ``status`` and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# -- body limit and cross-site checks (plain ASGI, before any parsing) --------------------------


class Guard:
    """Refuses oversized bodies (413) and cross-site POSTs (403) before the app sees them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        api = scope["path"].startswith("/api/")
        refused = _cross_site(headers)
        if refused:
            await _refuse(scope, send, 403, refused, api)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await _refuse(scope, send, 413, _too_large(int(declared), self.limit), api)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await _refuse(scope, send, 413, _too_large(len(body), self.limit, at_least=True), api)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _too_large(n: int, limit: int, at_least: bool = False) -> str:
    size = f"over {limit:,}" if at_least else f"{n:,}"
    return f"request too large ({size} bytes, limit {limit:,}); a draft may be at most {MAX_DRAFT_BYTES:,} bytes"


def _cross_site(headers: dict[str, str]) -> str | None:
    """Why a POST is refused as cross-site, or None."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {site}); use the page this server gives"
    origin = headers.get("origin")
    if origin is not None:
        host = headers.get("host", "")
        if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
            return "cross-site request refused (its Origin is not this server); use the page this server gives"
    return None


async def _refuse(scope: Scope, send: Send, status: int, message: str, api: bool) -> None:
    if api:
        body = json.dumps({"error": message}).encode()
        kind = b"application/json"
    else:
        body = _error_page(status, message).encode()
        kind = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _error_page(status: int, message: str, nonce: str = "") -> str:
    return shipped_template("serve_error.html.j2").render(
        page_title="Error", status=status, message=message, nonce=nonce, nav="", token=""
    )


# -- the server's state ------------------------------------------------------------------------


@dataclass
class _Loaded:
    index: Index
    checked: float
    fingerprint: str


@dataclass(frozen=True, eq=False)
class _ReportInputs:
    """What the report is made of: the index and the editors' feedback (``signature``: the
    feedback that changes the report, as text)."""

    index: Index
    signature: str
    feedback: ListFeedback


def _same_report(a: _ReportInputs, b: _ReportInputs) -> bool:
    return a.index is b.index and a.signature == b.signature


class State:
    """The index (opened once, reopened when the archive changes), the feedback store, the
    drafts held for their pages, the backlog of the current index and the form token."""

    def __init__(
        self,
        archive: Path,
        index_dir: Path | None,
        semantic: bool | None,
        notify: Callable[[str], None],
        recheck: float,
    ) -> None:
        self.archive = Path(archive)
        self.index_dir = Path(index_dir) if index_dir else default_index_dir(self.archive)
        self.semantic = semantic
        self.notify = notify
        self.recheck = recheck
        self.store = FeedbackStore(store_path(self.index_dir))
        self.token = secrets.token_urlsafe(32)
        self.rank_lock = RankLock()
        self.load_lock = threading.Lock()
        self.read_lock = threading.Lock()
        self.backlog_lock = threading.Lock()
        self.drafts: OrderedDict[str, Check] = OrderedDict()
        self._backlog: tuple[Index, Backlog, list[tuple[set[str], list[dict]]]] | None = None
        self._read: tuple[Index, list[tuple[str, str]], dict | None] | None = None
        self.report_maker: Maker[_ReportInputs, tuple[str, str]] = Maker(
            self._report_inputs, self._make_report, _same_report, "report"
        )
        self.loaded = self._open()

    def _open(self) -> _Loaded:
        from suggest.archive import fingerprint

        ix, _ = open_index(self.archive, self.index_dir, notify=self.notify, semantic=self.semantic)
        return _Loaded(ix, time.monotonic(), fingerprint(self.archive))

    @property
    def name(self) -> str:
        """The archive's name for page titles (not its path)."""
        return self.archive.resolve().name or "archive"

    def index(self) -> Index:
        """The current index; reopened when the archive changed (checked every ``recheck`` s)."""
        from suggest.archive import fingerprint

        with self.load_lock:
            if time.monotonic() - self.loaded.checked >= self.recheck:
                fp = fingerprint(self.archive)
                if fp != self.loaded.fingerprint:
                    self.loaded = self._open()
                    self._backlog = None
                    self.report_maker.poke()
                else:
                    self.loaded.checked = time.monotonic()
            return self.loaded.index

    def keep(self, key: str, draft: Check) -> None:
        self.drafts[key] = draft
        self.drafts.move_to_end(key)
        while len(self.drafts) > KEPT_DRAFTS:
            self.drafts.popitem(last=False)

    def backlog(self, ix: Index) -> tuple[Backlog, list[tuple[set[str], list[dict]]]]:
        """Every open question of ``ix``, ranked, and each row's categories and raising checks
        (`_check`): made once per index, without the ranking's lock (it only reads the index)."""
        with self.backlog_lock:
            if self._backlog is None or self._backlog[0] is not ix:
                b = rank_backlog(ix, top=None, semantic=self.semantic is not False)
                self._backlog = (ix, b, [_row_checks(ix, r) for r in b.rows])
            return self._backlog[1], self._backlog[2]

    def report(self, nonce: str) -> str | Making | Failed:
        """The report page (`suggest.report.build_report`) of the current index with the
        editors' feedback, as `suggest report` writes it, with the response's ``nonce``; or,
        while `report_maker` is making it, how far it is (`Making`); or the error that
        stopped it (`Failed`, once: the next call starts it again). Never waits for it."""
        got = self.report_maker.get()
        if isinstance(got, Making | Failed):
            return got
        stand_in, page = got
        # Archive text is escaped, so the only "<script nonce=" is the page's own.
        return page.replace(f'<script nonce="{stand_in}">', f'<script nonce="{nonce}">', 1)

    def _report_inputs(self) -> _ReportInputs:
        from suggest.serve.lists import list_feedback

        ix = self.index()
        # The archive is read (once per index) before the lock is taken, not under it.
        keys = self.archive_read(ix)[0] if self.store.rejections() else None
        with self.rank_lock.piece():
            said = list_feedback(ix, self.store, lambda: keys if keys is not None else self.archive_read(ix)[0])
        signature = json.dumps(
            [said.settings(), sorted(self.store.closed()), sorted(self.store.accepted_counts().items())]
        )
        return _ReportInputs(ix, signature, said)

    def _make_report(self, want: _ReportInputs, progress: Progress) -> tuple[str, str]:
        """The report page of ``want`` with a random stand-in for the nonce, and the stand-in
        (each response puts its own nonce in its place). Run by `report_maker`'s thread: every
        check's list is taken one record at a time under the ranking's lock (a piece: most
        only hand over a record already ranked, one in each chunk of `REPORT_CHUNK` checks
        ranks that chunk, the first also sets up the ranker); the backlog, which only reads
        the index, and the page are made with no lock held."""
        from suggest.batch import auto_chunk, iter_lists
        from suggest.cli.common import rank_signals
        from suggest.report import build_report
        from suggest.serve.lists import open_backlog

        ix = want.index
        opts = RankOptions()
        if self.semantic is False and ix.semantic:
            opts = replace(opts, **rank_signals(False, ix))
        total = len(ix.check_ids)
        progress("ranking their lists", 0, total)
        chunk = min(REPORT_CHUNK, auto_chunk(ix, opts))
        lists: list[dict] = []
        records = iter_lists(ix, opts, jobs=1, chunk=chunk, feedback=want.feedback)
        while True:
            with self.rank_lock.piece():
                rec = next(records, None)
            if rec is None:
                break
            lists.append(rec)
            if len(lists) % chunk == 0:
                progress("ranking their lists", len(lists), total)
        progress("ranking the backlog", len(lists), total)
        b = open_backlog(ix, self.store, semantic=self.semantic is not False)
        progress("writing the page", len(lists), total)
        stand_in = secrets.token_hex(16)
        files = self.archive_read(ix)[1]
        title = f"Research report: {self.name}"
        return stand_in, build_report(ix, lists, b, nonce=stand_in, nav=True, title=title, files=files)

    def archive_read(self, ix: Index) -> tuple[list[tuple[str, str]], dict | None]:
        """(check id, `article_key`) of every check of the archive and the report's summary of
        the files read and skipped (`suggest.report.skipped_files`): read once per index."""
        with self.read_lock:
            if self._read is None or self._read[0] is not ix:
                from suggest.archive import read_archive
                from suggest.report import skipped_files

                arch = read_archive(self.archive)
                self._read = (ix, [(c.id, article_key(c)) for c in arch.checks], skipped_files(arch))
            return self._read[1], self._read[2]

    def ranked(self, draft: Check, req: DraftRequest, words: bool) -> tuple[Index, ArticleList]:
        ix = self.index()
        opts = rank_options(req.top, req.open_only, req.since, req.until, req.min_score)
        if self.semantic is False and ix.semantic:
            from suggest.cli.common import rank_signals

            opts = replace(opts, **rank_signals(False, ix))
        said = (
            self.store.for_article(article_key(draft), req.category or draft.category) if req.feedback else NO_FEEDBACK
        )
        with self.rank_lock:
            return ix, article_list(ix, draft, opts, said, words=words)


# -- what the API and the pages show -----------------------------------------------------------


def _check(rec: dict) -> dict:
    return {
        "id": rec["id"],
        "title": rec.get("title") or "",
        "date": rec.get("checked_on"),
        "url": safe_url(rec.get("url")),
        "category": rec.get("category"),
    }


def _question(s: Suggestion, got: ArticleList, verdicts: dict[str, str], explain: bool) -> dict:
    rec = got.records
    row: dict[str, Any] = {
        "question": s.question,
        "score": s.score,
        "status": s.status,
        "pinned": s.question in got.pinned,
        "verdict": verdicts.get(question_key(s.question)),
        "raised_by": [_check(rec[c]) for c in s.sources],
        "answered_by": [_check(rec[c]) for c in s.answered_by],
    }
    if explain:
        row["explain"] = {
            "question_score": s.question_score,
            "check_score": s.check_score,
            "matched": list(s.matched),
            "signals": {name: v for name, v in s.signals},
        }
    return row


def _list_payload(draft: Check, req: DraftRequest, got: ArticleList, store: FeedbackStore) -> dict:
    key = article_key(draft)
    verdicts = store.verdicts(key)
    out: dict[str, Any] = {
        "article": key,
        "title": draft.title,
        "category": req.category or draft.category,
        "floor": got.result.floor,
        "questions": [_question(s, got, verdicts, req.explain) for s in got.result.listed],
    }
    if req.explain:
        out["held"] = [{**_question(s, got, verdicts, True), "reason": why} for s, why in got.result.held]
    return out


def _payload(state: State, draft: Check, req: DraftRequest, words: bool) -> tuple[ArticleList, dict]:
    """The draft's list (`State.ranked`) and what the API answers with."""
    _, got = state.ranked(draft, req, words)
    return got, _list_payload(draft, req, got, state.store)


def _copies(got: ArticleList) -> dict[str, str]:
    """The list as the CMS takes it: HTML, Markdown and plain text (the `suggest for` formats)."""
    rec = got.records
    ranked = got.result.listed

    def link(cid: str) -> str:
        return safe_url(rec[cid].get("url")) or f"#check-{safe_id(cid)}"

    return {
        fmt: render(ranked, fmt, check_url=link, check_info=lambda cid: rec[cid])
        for fmt in ("html", "markdown", "text")
    }


@dataclass(frozen=True)
class BacklogFilter:
    category: str | None = None
    since: str | None = None
    until: str | None = None
    state: str | None = None
    top: int = 50

    @classmethod
    def of(cls, params: Any) -> BacklogFilter:
        """The filter from a query string; `ClientError` or `OptionError` (dates, as `suggest
        for` checks them) for a bad value."""

        def text(name: str) -> str | None:
            v = (params.get(name) or "").strip()
            return v or None

        f = cls(text("category"), text("since"), text("until"), text("state"), 50)
        RankOptions(since=f.since, until=f.until)  # the one check of a date range
        if f.state is not None and f.state not in TRIAGE_STATES:
            raise ClientError(400, f"state {f.state!r}: use one of {', '.join(TRIAGE_STATES)}")
        top = text("top")
        if top is not None:
            if not top.isdigit() or not 1 <= int(top) <= 100_000:
                raise ClientError(400, f"top {top!r}: use a whole number from 1 to 100000")
            f = replace(f, top=int(top))
        return f


def _backlog_rows(state: State, f: BacklogFilter, limit: bool = True) -> tuple[Backlog, list[dict], list[str]]:
    """The backlog's rows that pass the filter (with their triage state and how often they
    were accepted) and every category seen."""
    ix = state.index()
    b, extra = state.backlog(ix)
    states = state.store.triage_states()
    accepted = state.store.accepted_counts()
    blocked = state.store.blocked_keys()
    rows: list[dict] = []
    cats: set[str] = set()
    for r, (cat_of, checks) in zip(b.rows, extra, strict=True):
        cats |= cat_of
        if f.category and f.category not in cat_of:
            continue
        dates = [c["checked_on"] for c in r.checks if c.get("checked_on")]
        if f.since and not any(d >= f.since for d in dates):
            continue
        if f.until and not any(d <= f.until for d in dates):
            continue
        key = question_key(r.question)
        triage = states.get(key, "open")
        if key in blocked or (f.state and triage != f.state) or (not f.state and triage == "answered"):
            continue
        d = r.to_dict()
        d.update(
            triage=triage,
            accepted=accepted.get(key, 0),
            categories=sorted(cat_of),
            checks=checks,
        )
        rows.append(d)
        if limit and len(rows) >= f.top:
            break
    return b, rows, sorted(cats)


def _row_checks(ix: Index, row: BacklogRow) -> tuple[set[str], list[dict]]:
    """The categories of the checks that raised a backlog question, and those checks (`_check`)."""
    from suggest.rank import check_record

    checks = [_check(check_record(ix, c["id"])) for c in row.checks]
    return {str(c["category"]) for c in checks if c["category"]}, checks


# -- the app -----------------------------------------------------------------------------------


def create_app(
    archive: str | Path,
    index_dir: str | Path | None = None,
    semantic: bool | None = None,
    notify: Callable[[str], None] | None = None,
    allowed_hosts: list[str] | None = None,
    recheck: float = 5.0,
) -> FastAPI:
    """The editor's page and API for ``archive`` (its index opened, or built, now).

    Parameters
    ----------
    archive, index_dir : as for `suggest.index.open_index`; the feedback lives beside the index.
    semantic : as for `open_index`; False also ranks with words only.
    notify : where the index's notes go (stderr for the CLI).
    allowed_hosts : the Host names accepted (None: any); `suggest serve` on a loopback
        address accepts only loopback names, so a page of another site cannot reach it
        through a name of its own (DNS rebinding).
    recheck : seconds between looks at the archive for changes.

    Raises
    ------
    SuggestError
        When the archive or its index cannot be opened.

    Examples
    --------
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> TestClient(create_app("corpus")).post("/api/suggest", json={"text": "Is it?"})  # doctest: +SKIP
    """
    state = State(Path(archive), Path(index_dir) if index_dir else None, semantic, notify or (lambda _m: None), recheck)
    api = FastAPI(
        title="suggest",
        summary="The research questions an archive of fact-checks raises, for a new draft.",
        docs_url=None,
        redoc_url=None,
    )
    api.state.suggest = state
    api.add_middleware(_Headers)
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        api.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    api.add_middleware(Guard, limit=MAX_REQUEST_BYTES)
    _errors(api)
    _api_routes(api, state)
    _page_routes(api, state)
    state.report_maker.poke()
    return api


class _Headers:
    """Security headers on every response, and a nonce for the page's inline script."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["nonce"] = nonce

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                csp = (
                    f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src 'self' data:; "
                    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"
                )
                headers += [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    nonce = getattr(request.state, "nonce", "")
    return HTMLResponse(_error_page(status, message, nonce), status_code=status)


def _errors(api: FastAPI) -> None:
    @api.exception_handler(ClientError)
    async def client_error(request: Request, exc: ClientError) -> Response:
        return _error(request, exc.status, exc.message)

    @api.exception_handler(SuggestError)
    async def suggest_error(request: Request, exc: SuggestError) -> Response:
        return _error(request, 400, str(exc))

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 422, _validation_message(exc.errors()))

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))


def _validation_message(errors: Any) -> str:
    """Pydantic's errors in one line: ``field: what is wrong``; ..."""
    parts = []
    for e in list(errors)[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query")) or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _json_body(request: Request, model: type[BaseModel]) -> Any:
    """The request's JSON body as ``model``, or a `ClientError` with one line."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ClientError(415, f"content type {kind or '(none)'!r}: send the body as application/json")
    body = await request.body()
    if not body.strip():
        raise ClientError(400, "empty body: send a JSON object")
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ClientError(400, "the body is not UTF-8 text: send a JSON object") from None
    except json.JSONDecodeError as exc:
        raise ClientError(400, f"the body is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ClientError(400, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ClientError(422, _validation_message(exc.errors())) from None


def _apply(store: FeedbackStore, req: FeedbackRequest) -> None:
    """One editor's word (`FeedbackRequest`) into the store; `FeedbackError` when a field it needs is missing."""
    if req.action in ("accept", "reject", "clear"):
        if not req.article:
            raise FeedbackError(f'{req.action}: give the article key (the list\'s "article")')
        verdict = {"accept": "accepted", "reject": "rejected", "clear": None}[req.action]
        store.set_verdict(req.article, req.question, verdict)
    elif req.action in ("block", "unblock"):
        store.block(req.question, req.action == "block")
    elif req.action in ("pin", "unpin"):
        if not req.category:
            raise FeedbackError(f"{req.action}: give the category")
        store.pin(req.category, req.question, req.action == "pin")
    else:
        if req.state is None:
            raise FeedbackError("triage: give the state (open, assigned or answered)")
        store.set_triage(req.question, req.state)


_BACKLOG_PARAMS = [
    {"name": name, "in": "query", "required": False, "schema": schema, "description": text}
    for name, schema, text in (
        ("category", {"type": "string"}, "Only questions raised by a check of this category."),
        ("since", {"type": "string", "format": "date"}, "Only questions raised by a check dated on or after."),
        ("until", {"type": "string", "format": "date"}, "Only questions raised by a check dated on or before."),
        ("state", {"type": "string", "enum": list(TRIAGE_STATES)}, "Only questions in this triage state."),
        ("top", {"type": "integer", "minimum": 1, "default": 50}, "How many rows at most."),
    )
]


def _api_routes(api: FastAPI, state: State) -> None:
    @api.post("/api/suggest", openapi_extra=_schema(DraftRequest), tags=["api"])
    async def api_suggest(request: Request) -> JSONResponse:
        """The list for a posted draft: each question with its score, the checks that raised
        it and the check that answers it (title, date, url)."""
        req = await _json_body(request, DraftRequest)
        draft = await _in_thread(draft_from_text, req.text, "draft")
        _, payload = await _in_thread(_payload, state, draft, req, req.explain)
        return JSONResponse(payload)

    @api.get("/api/backlog", tags=["api"], openapi_extra={"parameters": _BACKLOG_PARAMS})
    async def api_backlog(request: Request) -> JSONResponse:
        """The open questions, ranked; filters: category, since, until, state, top (50)."""
        f = BacklogFilter.of(request.query_params)
        b, rows, cats = await _in_thread(_backlog_rows, state, f)
        return JSONResponse(
            {
                "open_questions": b.open_questions,
                "formula": b.formula,
                "shown": len(rows),
                "categories": cats,
                "rows": rows,
            }
        )

    @api.post("/api/feedback", openapi_extra=_schema(FeedbackRequest), tags=["api"])
    async def api_feedback(request: Request) -> JSONResponse:
        """Accept or reject a question for an article, block or pin it, or set its triage state."""
        req = await _json_body(request, FeedbackRequest)
        await _in_thread(_apply, state.store, req)
        state.report_maker.poke()
        return JSONResponse({"ok": True, "action": req.action, "question": req.question})


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


# -- pages -------------------------------------------------------------------------------------


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    state: State = request.app.state.suggest
    html = shipped_template(name).render(
        nonce=getattr(request.state, "nonce", ""),
        token=state.token,
        archive_name=state.name,
        **context,
    )
    return HTMLResponse(html, status_code=status)


@dataclass(frozen=True)
class _Posted:
    """A posted form as plain data: its text fields and the uploaded file (name, bytes)."""

    fields: dict[str, str]
    upload: tuple[str, bytes] | None = None

    def get(self, name: str) -> str | None:
        return self.fields.get(name)


async def _form(request: Request) -> _Posted:
    """The posted form, its token checked (403 without it); the upload's temporary file is
    read (at most one byte over the draft cap) and closed."""
    state: State = request.app.state.suggest
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise ClientError(415, f"content type {kind or '(none)'!r}: post the page's form")
    try:
        form = await request.form(max_files=1, max_fields=50, max_part_size=MAX_REQUEST_BYTES)
    except (ValueError, KeyError, StarletteHTTPException) as exc:
        raise ClientError(400, f"the form could not be read ({getattr(exc, 'detail', exc)})") from None
    try:
        token = form.get("csrf")
        if not isinstance(token, str) or not secrets.compare_digest(token, state.token):
            raise ClientError(
                403, "the form's token is missing or out of date (the server restarted?); reload the page"
            )
        fields = {k: v for k, v in reversed(form.multi_items()) if isinstance(v, str)}  # the first of a name
        file = form.get("file")
        upload = None
        if file is not None and not isinstance(file, str) and file.filename:
            upload = (file.filename, await file.read(MAX_DRAFT_BYTES + 1))
        return _Posted(fields, upload)
    finally:
        await form.close()


def _options_query(req: DraftRequest) -> dict[str, str]:
    q: dict[str, str] = {"top": str(req.top)}
    if req.open_only:
        q["open_only"] = "1"
    for name in ("since", "until", "category"):
        v = getattr(req, name)
        if v:
            q[name] = v
    if req.min_score is not None:
        q["min_score"] = str(req.min_score)
    return q


def _draft_options(params: Any, text: str = "") -> DraftRequest:
    """The draft page's options from a form or a query string."""

    def opt(name: str) -> str | None:
        v = params.get(name)
        return v.strip() if isinstance(v, str) and v.strip() else None

    raw: dict[str, Any] = {"text": text, "open_only": bool(opt("open_only"))}
    for name in ("top", "min_score", "since", "until", "category"):
        if opt(name) is not None:
            raw[name] = opt(name)
    try:
        return DraftRequest.model_validate(raw)
    except ValidationError as exc:
        raise ClientError(400, _validation_message(exc.errors())) from None


def _page_routes(api: FastAPI, state: State) -> None:
    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request) -> HTMLResponse:
        return _page(
            request,
            "serve_draft.html.j2",
            page_title="Draft",
            opts=DraftRequest.model_validate({"text": ""}),
            draft=None,
        )

    @api.post("/", include_in_schema=False)
    async def post_draft(request: Request) -> Response:
        form = await _form(request)
        text = form.get("text")
        if form.upload is not None:
            name, data = form.upload
            draft = await _in_thread(draft_from_file, data, name)
        elif text is not None and text.strip():
            draft = await _in_thread(draft_from_text, text, "draft")
        else:
            raise ClientError(400, "no draft: paste the draft's text or choose a file")
        opts = _draft_options(form)
        key = article_key(draft)
        state.keep(key, draft)
        return RedirectResponse(f"/draft/{key}?{urlencode(_options_query(opts))}", status_code=303)

    @api.get("/draft/{key}", response_class=HTMLResponse, include_in_schema=False)
    async def draft_page(request: Request, key: str) -> HTMLResponse:
        draft = state.drafts.get(key)
        if draft is None:
            raise ClientError(404, "this draft is no longer held (the server keeps the last few); paste it again")
        opts = _draft_options(request.query_params)
        got, payload = await _in_thread(_payload, state, draft, opts.model_copy(update={"explain": True}), True)
        return _page(
            request,
            "serve_draft.html.j2",
            page_title=draft.title,
            opts=opts,
            draft=draft,
            key=key,
            payload=payload,
            copies=_copies(got),
            back=f"/draft/{key}?{urlencode(_options_query(opts))}",
            pinned_reason=PINNED,
        )

    @api.post("/feedback", include_in_schema=False)
    async def post_feedback(request: Request) -> Response:
        form = await _form(request)
        try:
            req = FeedbackRequest.model_validate(
                {k: form.get(k) for k in ("action", "question", "article", "category", "state") if form.get(k)}
            )
        except ValidationError as exc:
            raise ClientError(400, _validation_message(exc.errors())) from None
        await _in_thread(_apply, state.store, req)
        state.report_maker.poke()
        back = form.get("back")
        if back is None or not _BACK.match(back):
            back = "/"
        return RedirectResponse(back, status_code=303)

    @api.get("/backlog", response_class=HTMLResponse, include_in_schema=False)
    async def backlog_page(request: Request) -> HTMLResponse:
        f = BacklogFilter.of(request.query_params)
        b, rows, cats = await _in_thread(_backlog_rows, state, f)
        query = urlencode({k: v for k, v in vars(f).items() if v is not None and k != "top"})
        return _page(
            request,
            "serve_backlog.html.j2",
            page_title="Research backlog",
            backlog=b,
            rows=rows,
            categories=cats,
            f=f,
            states=TRIAGE_STATES,
            back=f"/backlog?{query}" if query else "/backlog",
            csv_href=f"/backlog.csv?{query}" if query else "/backlog.csv",
        )

    @api.get("/report", response_class=HTMLResponse, include_in_schema=False)
    async def report_page(request: Request) -> HTMLResponse:
        nonce = getattr(request.state, "nonce", "")
        got = await _in_thread(state.report, nonce)
        if isinstance(got, Making):
            return _page(request, "serve_report_wait.html.j2", status=202, page_title="Report", making=got)
        if isinstance(got, Failed):
            message = f"the report could not be made ({got.message}); reload the page to try again"
            return HTMLResponse(_error_page(500, message, nonce), status_code=500)
        return HTMLResponse(got)

    @api.get("/backlog.csv", include_in_schema=False)
    async def backlog_csv(request: Request) -> Response:
        f = BacklogFilter.of(request.query_params)
        _, rows, _ = await _in_thread(_backlog_rows, state, f, False)
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["rank", "question", "score", "raised", "accepted", "triage", "categories", "checks"])
        for r in rows:
            w.writerow(
                [
                    r["rank"],
                    _csv_cell(r["question"]),
                    f"{r['score']:.6f}",
                    r["raised"],
                    r["accepted"],
                    r["triage"],
                    " ".join(r["categories"]),
                    " ".join(c["id"] for c in r["checks"]),
                ]
            )
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="backlog.csv"'},
        )


def _csv_cell(text: str) -> str:
    """A cell a spreadsheet shows as text: one starting with =, +, - or @ would be a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
