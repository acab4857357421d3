"""What editors said about the suggestions, kept in SQLite beside the index.

The store is one file, ``.<index name>.feedback.sqlite`` beside the index folder (for the
default index, ``.suggest-index.feedback.sqlite`` in the archive folder: hidden, so neither the
reader nor the archive's fingerprint sees it). It holds:

- **verdicts**: an editor accepted or rejected a question for one article. An article is known
  by `article_key`, a hash of its normalised text, so the same draft pasted again, saved as a
  file or uploaded as ``.docx`` is the same article. A rejected question is not offered again
  for that article.
- **blocked** questions: never offered again, for any article.
- **pins**: a question pinned for a category is listed first for that category's articles.
- **triage**: a backlog question's state, ``open``, ``assigned`` or ``answered``.

A question is known by `question_key` (its normalised text, case-folded), so feedback
outlives a rebuilt index.

Reliability: WAL journal with ``synchronous=FULL`` (a write that returned is on disk, whatever
happens to the process next), every write is one ``BEGIN IMMEDIATE`` transaction (one writer at
a time, across processes; others wait up to `BUSY_MS`), and the schema has a version with a
migrations table (`MIGRATIONS`): a store made by an older release is migrated on its first
write, one made by a newer release is refused with one line. Reading never creates the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from suggest.errors import SuggestError
from suggest.records import Check
from suggest.text import normalize

VERDICTS = ("accepted", "rejected")
TRIAGE_STATES = ("open", "assigned", "answered")
BUSY_MS = 30000
"""How long a write waits for another writer. With every commit fsynced, 4 writers of 15 verdicts
each outlasted 5 s once in CI (tests/test_serve.py::test_concurrent_writers_lose_nothing)."""
MAX_QUESTION_CHARS = 2000
MAX_CATEGORY_CHARS = 100

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE verdicts (
        article TEXT NOT NULL,
        question TEXT NOT NULL,
        text TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('accepted', 'rejected')),
        at TEXT NOT NULL,
        PRIMARY KEY (article, question)
    );
    CREATE INDEX verdicts_question ON verdicts (question, verdict);
    CREATE TABLE blocked (
        question TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE pins (
        category TEXT NOT NULL,
        question TEXT NOT NULL,
        text TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (category, question)
    );
    CREATE TABLE triage (
        question TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'assigned', 'answered')),
        at TEXT NOT NULL
    );
    """,
)
"""Schema migrations, in order: migration ``k`` takes a store from version ``k`` to ``k + 1``.
Append, never edit: a store remembers which ones it has had."""
SCHEMA_VERSION = len(MIGRATIONS)


class FeedbackError(SuggestError):
    """The feedback store cannot be read or written, or a feedback value is bad."""


def question_key(text: str) -> str:
    """How a question is known: its normalised text, case-folded, spaces collapsed.

    Examples
    --------
    >>> question_key("  Do  masks WORK? ")
    'do masks work?'
    """
    return " ".join(normalize(text).casefold().split())


def article_key(article: Check) -> str:
    """How an article is known: a hash of its normalised title, summary, body and questions
    (16 hex digits); the same text gives the same key whatever file it came in."""
    parts = [article.title, article.summary, article.body(), *article.questions]
    text = "\n".join(" ".join(normalize(p).split()) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def store_path(index_dir: str | Path) -> Path:
    """Where the feedback of the index in ``index_dir`` lives: beside it, hidden."""
    p = Path(index_dir)
    return p.parent / f".{p.name.lstrip('.')}.feedback.sqlite"


@dataclass(frozen=True)
class ArticleFeedback:
    """What the ranking must respect for one article: question keys rejected for it or
    accepted for it, blocked everywhere, and the questions pinned for its category (texts,
    in the order they were pinned)."""

    rejected: frozenset[str] = frozenset()
    accepted: frozenset[str] = frozenset()
    blocked: frozenset[str] = frozenset()
    pinned: tuple[str, ...] = ()

    def excluded(self, question: str) -> str | None:
        """Why ``question`` may not be listed, or None."""
        key = question_key(question)
        if key in self.blocked:
            return "blocked by an editor"
        if key in self.rejected:
            return "rejected for this article by an editor"
        return None


NO_FEEDBACK = ArticleFeedback()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _question(text: object) -> tuple[str, str]:
    """(key, text) of a question given by a user; `FeedbackError` when it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise FeedbackError("no question: give the question's text")
    if len(text) > MAX_QUESTION_CHARS:
        raise FeedbackError(f"question too long ({len(text):,} characters, limit {MAX_QUESTION_CHARS:,})")
    return question_key(text), " ".join(normalize(text).split())


def category_option(category: str | None) -> str | None:
    """A category given on the command line, checked (None stays None); `FeedbackError` when
    it is blank or too long."""
    return None if category is None else _category(category)


def _category(category: object) -> str:
    if not isinstance(category, str) or not category.strip():
        raise FeedbackError("no category: give the category to pin the question for")
    if len(category) > MAX_CATEGORY_CHARS:
        raise FeedbackError(f"category too long ({len(category):,} characters, limit {MAX_CATEGORY_CHARS})")
    return category.strip().lower()


def _busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLite saying another connection holds the lock."""
    text = str(exc)
    return "locked" in text or "busy" in text


class FeedbackStore:
    """The feedback of one index, in the SQLite file ``path`` (see the module docstring).

    Examples
    --------
    >>> store = FeedbackStore(store_path(".suggest-index"))  # doctest: +SKIP
    >>> store.set_verdict(article_key(draft), "Do masks work?", "rejected")  # doctest: +SKIP
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # one writer at a time in this process; SQLite's lock across processes

    # -- connections ---------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        deadline = time.monotonic() + BUSY_MS / 1000
        while True:
            try:
                con.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
                # Switching a new file to WAL: when other connections open it at the same
                # moment, SQLite says "database is locked" at once, without waiting out the busy
                # timeout (measured: 16 of 150 rounds of 4 threads opening a new file), so
                # this step waits and tries again itself. WAL is kept in the file once set.
                if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower()
                    if mode != "wal":
                        raise sqlite3.OperationalError(f"database is locked (journal mode still {mode})")
                con.execute("PRAGMA synchronous = FULL")
                con.execute("PRAGMA foreign_keys = ON")
                return con
            except sqlite3.Error as exc:
                if _busy(exc) and time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                con.close()
                raise self._error(exc) from None

    def _error(self, exc: sqlite3.Error) -> FeedbackError:
        text = str(exc)
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
            return FeedbackError(f"{self.path}: not a feedback store (not SQLite); move the file away")
        if "unable to open" in text or "readonly" in text or "read-only" in text:
            return FeedbackError(
                f"{self.path}: cannot write the feedback store ({text}); make the folder writable or pass --index DIR elsewhere"
            )
        if _busy(exc):
            return FeedbackError(f"{self.path}: the feedback store stayed busy for {BUSY_MS // 1000} s; try again")
        return FeedbackError(f"{self.path}: feedback store error: {text}")

    @staticmethod
    def _version(con: sqlite3.Connection) -> int:
        has = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone()
        if not has:
            return 0
        row = con.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise FeedbackError(
                f"{self.path}: made by a newer suggest (schema {version}, this one knows {SCHEMA_VERSION}); upgrade suggest"
            )

    def _migrate(self, con: sqlite3.Connection) -> None:
        """Bring the schema up to `SCHEMA_VERSION`, each migration in its own transaction
        (inside the caller's write lock)."""
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        version = self._version(con)
        self._check_version(version)
        for v in range(version, SCHEMA_VERSION):
            con.execute("BEGIN IMMEDIATE")
            try:
                if self._version(con) > v:  # another process migrated while we waited
                    con.execute("COMMIT")
                    continue
                for statement in MIGRATIONS[v].split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (v + 1, _now()))
                con.execute(f"PRAGMA user_version = {v + 1}")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: created and migrated on first use, committed or rolled back whole."""
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise FeedbackError(f"{self.path.parent}: cannot create the folder ({exc.strerror})") from None
            con = self._open()
            try:
                self._migrate(con)
                con.execute("BEGIN IMMEDIATE")
                try:
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._error(exc) from None
            finally:
                con.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        """A read connection, or None when the store does not exist yet (reading never creates it)."""
        if not self.path.exists():
            yield None
            return
        try:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=BUSY_MS / 1000)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            version = self._version(con)
            self._check_version(version)
            yield con if version else None
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        finally:
            con.close()

    # -- writes --------------------------------------------------------------------------------

    def set_verdict(self, article: str, question: str, verdict: str | None) -> None:
        """Record that ``question`` was accepted or rejected for the article ``article``
        (`article_key`); ``verdict`` None forgets it."""
        if verdict is not None and verdict not in VERDICTS:
            raise FeedbackError(f"verdict {verdict!r}: use one of {', '.join(VERDICTS)}")
        if not isinstance(article, str) or not article.strip() or len(article) > 64:
            raise FeedbackError("no article: give the article's key (from the list's response)")
        key, text = _question(question)
        with self._write() as con:
            if verdict is None:
                con.execute("DELETE FROM verdicts WHERE article = ? AND question = ?", (article, key))
            else:
                con.execute(
                    "INSERT INTO verdicts (article, question, text, verdict, at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (article, question) DO UPDATE SET verdict = excluded.verdict, at = excluded.at",
                    (article, key, text, verdict, _now()),
                )

    def block(self, question: str, blocked: bool = True) -> None:
        """Never offer ``question`` again (``blocked=False`` lifts it)."""
        key, text = _question(question)
        with self._write() as con:
            if blocked:
                con.execute("INSERT OR IGNORE INTO blocked (question, text, at) VALUES (?, ?, ?)", (key, text, _now()))
            else:
                con.execute("DELETE FROM blocked WHERE question = ?", (key,))

    def pin(self, category: str, question: str, pinned: bool = True) -> None:
        """List ``question`` first for the articles of ``category`` (``pinned=False`` unpins)."""
        cat = _category(category)
        key, text = _question(question)
        with self._write() as con:
            if pinned:
                con.execute(
                    "INSERT OR IGNORE INTO pins (category, question, text, at) VALUES (?, ?, ?, ?)",
                    (cat, key, text, _now()),
                )
            else:
                con.execute("DELETE FROM pins WHERE category = ? AND question = ?", (cat, key))

    def set_triage(self, question: str, state: str) -> None:
        """Set a backlog question's triage state (``open`` forgets any other)."""
        if state not in TRIAGE_STATES:
            raise FeedbackError(f"state {state!r}: use one of {', '.join(TRIAGE_STATES)}")
        key, text = _question(question)
        with self._write() as con:
            if state == "open":
                con.execute("DELETE FROM triage WHERE question = ?", (key,))
            else:
                con.execute(
                    "INSERT INTO triage (question, text, state, at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (question) DO UPDATE SET state = excluded.state, at = excluded.at",
                    (key, text, state, _now()),
                )

    # -- reads ---------------------------------------------------------------------------------

    def for_article(self, article: str, category: str | None = None) -> ArticleFeedback:
        """What the ranking must respect for the article ``article`` of ``category``."""
        with self._read() as con:
            if con is None:
                return NO_FEEDBACK
            verdicts = con.execute("SELECT question, verdict FROM verdicts WHERE article = ?", (article,)).fetchall()
            blocked = [r[0] for r in con.execute("SELECT question FROM blocked")]
            pinned = (
                [
                    r[0]
                    for r in con.execute(
                        "SELECT text FROM pins WHERE category = ? ORDER BY at, question", (category.strip().lower(),)
                    )
                ]
                if category
                else []
            )
        return ArticleFeedback(
            rejected=frozenset(q for q, v in verdicts if v == "rejected"),
            accepted=frozenset(q for q, v in verdicts if v == "accepted"),
            blocked=frozenset(blocked),
            pinned=tuple(pinned),
        )

    def verdicts(self, article: str) -> dict[str, str]:
        """Question key -> ``accepted`` or ``rejected``, for one article."""
        return {q: v for q, v in self._rows("SELECT question, verdict FROM verdicts WHERE article = ?", (article,))}

    def accepted_counts(self) -> dict[str, int]:
        """Question key -> for how many articles it was accepted."""
        rows = self._rows("SELECT question, COUNT(*) FROM verdicts WHERE verdict = 'accepted' GROUP BY question")
        return {q: int(n) for q, n in rows}

    def rejections(self) -> list[tuple[str, str]]:
        """(article key, question key) of every rejection, sorted."""
        return [
            (a, q)
            for a, q in self._rows(
                "SELECT article, question FROM verdicts WHERE verdict = 'rejected' ORDER BY article, question"
            )
        ]

    def triage_states(self) -> dict[str, str]:
        """Question key -> ``assigned`` or ``answered`` (a question not listed is open)."""
        return {q: s for q, s in self._rows("SELECT question, state FROM triage")}

    def closed(self) -> frozenset[str]:
        """Question keys the backlog leaves out: blocked, or triaged as answered."""
        rows = self._rows("SELECT question FROM blocked UNION SELECT question FROM triage WHERE state = 'answered'")
        return frozenset(r[0] for r in rows)

    def blocked_keys(self) -> frozenset[str]:
        """The blocked questions' keys."""
        return frozenset(r[0] for r in self._rows("SELECT question FROM blocked"))

    def blocked(self) -> list[str]:
        """The blocked questions' texts, sorted."""
        return [r[0] for r in self._rows("SELECT text FROM blocked ORDER BY question")]

    def pins(self) -> list[tuple[str, str]]:
        """(category, question text) of every pin, sorted."""
        return [(c, t) for c, t in self._rows("SELECT category, text FROM pins ORDER BY category, at, question")]

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._read() as con:
            return [] if con is None else con.execute(sql, args).fetchall()

    def schema_version(self) -> int:
        """The store's schema version (0: not created yet)."""
        with self._read() as con:
            return 0 if con is None else self._version(con)
