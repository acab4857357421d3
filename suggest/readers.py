"""The input formats: how the bytes of one archive file become `Check` records.

Two formats: saved articles (``.txt``, every rendering of docs/format.md, read line by line,
never relying on blank lines) and JSON Lines exports (``.jsonl``, one check per line; the
schema is in `check_from_json`). `READERS` maps a file suffix to its `Reader`; adding a format
is a function from bytes to checks and one entry there (`suggest.archive` walks the archive
with the same table).

Policies:

- Encoding: UTF-8, with or without a byte-order mark; CRLF and CR line endings are fine. Text
  that is not UTF-8 is read as Windows-1252 (what Windows editors save) with a warning naming
  the first bad line; a UTF-16 file with its byte-order mark is read with a warning.
- Refused, with one line each: empty files, binary data (NUL bytes, or more than 1 in 20
  characters being control characters), HTML pages, files without a recognisable title,
  lines over `MAX_LINE_CHARS`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import cast

from suggest.errors import ArchiveError
from suggest.records import Check, Problem, Section
from suggest.text import normalize

MAX_FILE_BYTES = 5_000_000
"""Saved articles larger than this are refused (a real check is under 100 kB)."""
MAX_JSONL_BYTES = 2_000_000_000
MAX_LINE_CHARS = 100_000
"""A line longer than this is refused: a real paragraph is under 10,000 characters, and the
normalising regexes should not be handed megabytes of text on one line."""
MAX_TITLE_CHARS = 1_000
"""A first line longer than this is a paragraph, not the checked question or claim."""
CATEGORIES = frozenset(
    "politics media justice technology society finance environment science entertainment "
    "sports health policy religion other".split()
)

_BANNER = re.compile(r"^Keep Factually independent$", re.IGNORECASE)
_BOILERPLATE = re.compile(
    r"^(?:Loading\.\.\.|Disclaimer: Factually can make mistakes|This fact-check may be outdated"
    r"|Was this fact-check helpful\?|Are you looking for more information regarding Factually"
    r"|Still have questions\? Reach out)",
    re.IGNORECASE,
)
_APPEAL = re.compile(r"^Whether you agree or disagree with our analysis", re.IGNORECASE)
_PREFIX = re.compile(r"^Fact[ -]?check\s*:\s*", re.IGNORECASE)
_DATE = re.compile(r"^Checked on ([A-Z][a-z]+) (\d{1,2}), (\d{4})\s*$", re.IGNORECASE)
_SUMMARY = re.compile(r"^Executive summary\s*(?:(?:[:\u2014\u2013-])\s*(.*))?$", re.IGNORECASE)
_HEADING = re.compile(r"^(\d{1,2})\.\s+(.+)$")
_DIVE = re.compile(r"^Want to dive deeper\??\s*$", re.IGNORECASE)
_BULLET = re.compile(r"^(?:[\u2022\u25cf\u25e6\u2023\u2043-]|\d{1,2}[.)])\s+")
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)]?(?:\s*\[\d+\])*\s*$")
_FORMAT_A_SUMMARY = re.compile(r"^Summary of the results\s*:?$", re.IGNORECASE)
_HEX_ID = re.compile(r"(?:^|[-_])([0-9a-f]{6})$")
_URL_ID = re.compile(r"/fact-checks/([a-z]+)/[^/\s]*?-([0-9a-f]{6})(?:[/?#]|$)")
_MD_LINK = re.compile(r"\[[^\[\]]+\]\(([^()\s]+)\)")
_HTML_HREF = re.compile(r"""<a\b[^<>]*?\bhref\s*=\s*(?:"([^"<>]*)"|'([^'<>]*)'|([^\s"'<>]+))""", re.IGNORECASE)
_BARE_URL = re.compile(r"^<?(https?://\S+?)>?$", re.IGNORECASE)
_NOT_A_TITLE = re.compile(r"^(?:Executive summary|Want to dive deeper|Checked on |\d{1,2}\.\s)", re.IGNORECASE)
_HTML_PAGE = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html\b|<head\b|<body\b|<meta\b|<\?xml)",
    re.IGNORECASE | re.DOTALL,
)
# Control characters that never occur in typed text (tab, newline, CR, FF and VT excluded), and
# U+FFFD, which is what undefined Windows-1252 bytes decode to.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
_CONTROL_IN_NAME = re.compile(r"[\x00-\x1f\x7f]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"


def safe_text(text: str) -> str:
    """``text`` with lone surrogates (from JSON ``\\ud800`` escapes, or from file names that are
    not UTF-8) replaced by U+FFFD, so that every record and message can be written as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _safe_json(v: object) -> object:
    if isinstance(v, str):
        return safe_text(v)
    if isinstance(v, list):
        return [_safe_json(x) for x in v]
    if isinstance(v, dict):
        return {safe_text(str(k)): _safe_json(x) for k, x in v.items()}
    return v


def stable_id(title: str, checked_on: str | None) -> str:
    """A 12-hex id from title and date, for checks whose file name and URL carry none."""
    return hashlib.sha256(f"{title}\n{checked_on or ''}".encode("utf-8", "surrogatepass")).hexdigest()[:12]


def decode(data: bytes, path: str | Path) -> tuple[str, str | None]:
    """Bytes to text: UTF-8 (BOM allowed), else Windows-1252 with a warning.

    A file with a UTF-16 byte-order mark (Notepad's "Unicode") is read as UTF-16 with a warning.

    Returns
    -------
    (text, warning)
        ``warning`` is None for clean UTF-8.

    Raises
    ------
    ArchiveError
        For empty files, binary data and HTML pages.
    """
    if data.startswith(_UTF16_BOMS):
        text = data.decode("utf-16", errors="replace").lstrip("\ufeff")
        warning: str | None = "UTF-16 text; read it, but re-save it as UTF-8"
    else:
        body = data.removeprefix(_UTF8_BOM)
        if not body.strip():
            raise ArchiveError(path, "empty file; delete it or save the article's text into it")
        if b"\x00" in body[:65536]:
            raise ArchiveError(path, "binary data, not a saved article; remove it from the archive")
        if _HTML_PAGE.match(body[:4096]):
            raise ArchiveError(path, "an HTML page, not a saved article; save the page as plain text instead")
        try:
            text, warning = body.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            line = body[: exc.start].count(b"\n") + 1
            text = body.decode("cp1252", errors="replace")
            warning = f"not UTF-8 (first bad byte on line {line}); read as Windows-1252, re-save it as UTF-8"
    if not text.strip():
        raise ArchiveError(path, "empty file; delete it or save the article's text into it")
    sample = text[:65536]
    if len(_CONTROL.findall(sample)) * 20 > len(sample):
        raise ArchiveError(path, "binary data, not a saved article; remove it from the archive")
    return text, warning


def parse_date(text: str) -> str | None:
    """``Checked on November 1, 2025`` -> ``2025-11-01``; None if the line is not a date line."""
    m = _DATE.match(text)
    if not m:
        return None
    try:
        day = datetime.strptime(f"{m.group(1).title()} {m.group(2)} {m.group(3)}", "%B %d %Y")
    except ValueError:
        return None
    return day.date().isoformat()


def _link_url(raw: str) -> str | None:
    """The address of the first markdown or HTML link in a title line, or of a bare URL line."""
    m = _BARE_URL.match(raw.strip())
    if m:
        return m.group(1)
    m = _MD_LINK.search(raw)
    if m:
        return m.group(1)
    m = _HTML_HREF.search(raw)
    if m:
        return next(g for g in m.groups() if g is not None)
    return None


def parse_article(text: str, path: str | Path = "<article>", category: str | None = None) -> Check:
    """Parse one saved article into a `Check`.

    Parameters
    ----------
    text : the decoded file.
    path : where it came from (named in errors and kept in the record).
    category : the category if the caller knows it (e.g. the folder name).

    Returns
    -------
    Check

    Raises
    ------
    ArchiveError
        When no title can be found, or a line is over `MAX_LINE_CHARS`.

    Examples
    --------
    >>> parse_article("Fact check: Is the sky blue?\\nWant to dive deeper?\\nWhy?").questions
    ('Why?',)
    """
    page = _Page(safe_text(text), safe_text(str(path)))
    i = page.top()
    title = page.title(i)
    secs, summary, questions = page.body(i + 1)
    cid = _id_from(Path(page.path).stem, page.url) or stable_id(title, page.checked_on)
    return Check(
        id=cid,
        title=title,
        checked_on=page.checked_on,
        summary=summary,
        sections=secs,
        questions=questions,
        category=_url_category(page.url) or category,
        url=page.url,
        path=page.path,
    )


class _Page:
    """A saved article read line by line, top to bottom (never relying on blank lines): the top
    of the page (banner, appeal, boilerplate, date, address), the title, then the body."""

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.raw = text.splitlines()
        for no, raw in enumerate(self.raw, 1):
            if len(raw) > MAX_LINE_CHARS:
                raise ArchiveError(
                    path,
                    f"line too long ({len(raw):,} characters, limit {MAX_LINE_CHARS:,}); a saved article "
                    "has one paragraph per line: re-save it with its line breaks",
                    line=no,
                )
        self.lines = [normalize(x) for x in self.raw]
        self.url: str | None = None
        self.checked_on: str | None = None

    def bare_url(self, j: int) -> str | None:
        m = _BARE_URL.match(self.raw[j].strip())
        return m.group(1) if m else None

    def skip_blank(self, j: int) -> int:
        while j < len(self.lines) and not self.lines[j] and not self.bare_url(j):  # "<https://...>" normalises to ""
            j += 1
        return j

    def top(self) -> int:
        """Pass over the banner, appeal, loading lines, boilerplate, date and address lines at the
        top (keeping the date and address); returns the line of the title."""
        lines, n, i = self.lines, len(self.lines), 0
        while True:
            i = self.skip_blank(i)
            if i >= n:
                return i
            line = lines[i]
            if _BANNER.match(line):
                i = self.skip_blank(i + 1)
                if i < n and not (
                    _BOILERPLATE.match(lines[i])
                    or _PREFIX.match(lines[i])
                    or _APPEAL.match(lines[i])
                    or parse_date(lines[i])
                    or self.bare_url(i)
                ):
                    i += 1  # the one-paragraph appeal, whatever its wording
            elif _APPEAL.match(line) or _BOILERPLATE.match(line):
                i += 1
            elif parse_date(line):
                self.checked_on = self.checked_on or parse_date(line)
                i += 1
            elif self.bare_url(i):  # an archive that keeps the page address on a line of its own
                self.url = self.url or self.bare_url(i)
                i += 1
            else:
                return i

    def title(self, i: int) -> str:
        """The title on line ``i`` (prefix and link markup removed), or `ArchiveError`."""
        lines, n = self.lines, len(self.lines)
        title = None
        if i < n and not _NOT_A_TITLE.match(lines[i]):
            if len(lines[i]) > MAX_TITLE_CHARS:
                raise ArchiveError(
                    self.path,
                    f"no recognisable title (the first line is {len(lines[i]):,} characters long, a "
                    "paragraph rather than a question or claim); put the checked question or claim "
                    "on the first line",
                    line=i + 1,
                )
            title = _PREFIX.sub("", lines[i]).strip()
            # The link markup is gone from the normalised line; its address is read from the raw one.
            self.url = self.url or _link_url(self.raw[i])
        if not title:
            raise ArchiveError(
                self.path,
                "no recognisable title (the first line after the banner should be the checked "
                "question or claim); add it as the first line",
                line=i + 1 if i < n else None,
            )
        return title

    def body(self, i: int) -> tuple[tuple[Section, ...], str, tuple[str, ...]]:
        """(sections, summary, questions) from line ``i`` on: a small state machine over the
        lines (header, summary, sections, questions)."""
        summary_parts: list[str] = []
        sections: list[tuple[str, list[str]]] = []
        questions: list[str] = []
        state = "header"
        for j in range(i, len(self.lines)):
            line = self.lines[j]
            if state == "header" and self.bare_url(j):
                self.url = self.url or self.bare_url(j)
                continue
            if not line or _BANNER.match(line) or _BOILERPLATE.match(line) or _APPEAL.match(line):
                continue
            if state == "questions":
                questions.append(_BULLET.sub("", line).strip())
                continue
            if _DIVE.match(line):
                state = "questions"
                continue
            if state == "header" and parse_date(line):
                self.checked_on = self.checked_on or parse_date(line)
                continue
            m = _SUMMARY.match(line)
            if m and state in ("header", "summary"):
                state = "summary"
                if m.group(1):
                    summary_parts.append(m.group(1).strip())
                continue
            h = _HEADING.match(line)
            if h:
                sections.append(_heading(h.group(2).strip()))
                state = "sections"
            elif state == "sections":
                sections[-1][1].append(_BULLET.sub("", line).strip())
            elif state == "summary":
                summary_parts.append(line)
            else:  # body text before any heading: an unlabelled summary
                state = "summary"
                summary_parts.append(_BULLET.sub("", line).strip())
        secs = tuple(Section(h, "\n".join(p for p in parts if p)) for h, parts in sections)
        summary = "\n".join(summary_parts)
        if not summary:
            summary = next((s.text for s in secs if _FORMAT_A_SUMMARY.match(s.heading)), "")
        return secs, summary, tuple(q for q in questions if q)


def _heading(heading: str) -> tuple[str, list[str]]:
    """A numbered section's heading and the paragraph on its line, if any: after ``": "``, a
    sentence of 10 or more words is a paragraph; a subtitle is part of the heading."""
    rest = ""
    if ": " in heading:
        head, tail = heading.split(": ", 1)
        if len(tail.split()) >= 10 and _SENTENCE_END.search(tail):
            heading, rest = head, tail
    return heading.rstrip(":").strip(), [rest] if rest else []


def _id_from(stem: str, url: str | None) -> str | None:
    if url:
        m = _URL_ID.search(url)
        if m:
            return m.group(2)
    m = _HEX_ID.search(stem)
    return m.group(1) if m else None


def check_from_json(obj: object, path: str | Path, line: int | None = None) -> Check:
    """One JSON object of our JSON Lines export schema into a `Check`.

    A ``.jsonl`` file holds one check per line, as a JSON object with these fields (only
    ``title`` is required; other fields are ignored):

    - ``id`` (string): the check's stable id. Default: the 6-hex id at the end of ``url``,
      else `stable_id` of title and date.
    - ``title`` (string): the checked question or claim. A ``Fact check: `` prefix and link
      markup are removed; a link's address becomes ``url`` when ``url`` is absent.
    - ``checked_on`` (string ``YYYY-MM-DD`` or null).
    - ``summary`` (string): one paragraph per line.
    - ``sections`` (list of ``{"heading": string, "text": string}``).
    - ``questions`` (list of strings): the "Want to dive deeper?" questions, in order.
    - ``category`` (string, lower-cased). Default: the category in ``url``, else the folder's.
    - ``url`` (string or null): the published page.

    ``Check.to_dict()`` without ``path`` is a valid line, so ``suggest show`` output can be
    exported and read back. Text is normalised like a saved article's.

    Parameters
    ----------
    obj : the decoded JSON value of one line.
    path, line : where it came from (named in errors; the check's ``path`` is ``path:line``).

    Returns
    -------
    Check

    Raises
    ------
    ArchiveError
        When a field has the wrong type, the title is missing or the date is not ISO.

    Examples
    --------
    >>> c = check_from_json({"title": "Is the sky blue?", "checked_on": "2025-11-01",
    ...                      "questions": ["Why is it blue?"],
    ...                      "url": "https://factually.co/fact-checks/science/sky-blue-a1b2c3"},
    ...                     "export.jsonl", 1)
    >>> c.id, c.category, c.path
    ('a1b2c3', 'science', 'export.jsonl:1')
    """
    if not isinstance(obj, dict):
        raise ArchiveError(path, "not a JSON object; each line must be one {...} check", line)
    obj = cast(dict, _safe_json(obj))
    title = _json_title(obj.get("title"), path, line)
    checked_on = _json_date(obj.get("checked_on"), path, line)
    # Absent or null means none; any other value must have the field's type (0, "" or false
    # for a list is reported, not read as empty).
    sections = _json_sections([] if obj.get("sections") is None else obj["sections"], path, line)
    qs = [] if obj.get("questions") is None else obj["questions"]
    if not isinstance(qs, list) or not all(isinstance(q, str) for q in qs):
        raise ArchiveError(path, '"questions" must be a list of strings', line)
    url = obj.get("url")
    if url is not None and not isinstance(url, str):
        raise ArchiveError(path, '"url" must be a string', line)
    url = url or _link_url(title)
    cid = obj.get("id")
    if cid is not None and (isinstance(cid, bool) or not isinstance(cid, (str, int)) or not str(cid).strip()):
        raise ArchiveError(path, '"id" must be a non-empty string', line)
    category = obj.get("category")
    if category is not None and not isinstance(category, str):
        raise ArchiveError(path, '"category" must be a string', line)
    title_n = _PREFIX.sub("", _json_text(title, '"title"', path, line, one_line=True)).strip()
    return Check(
        id=str(cid).strip() if cid is not None else (_id_from("", url) or stable_id(title_n, checked_on)),
        title=title_n,
        checked_on=checked_on,
        summary=_json_text(obj.get("summary"), '"summary"', path, line),
        sections=sections,
        questions=tuple(q for q in (_json_text(q, "a question", path, line, one_line=True) for q in qs) if q),
        category=(category or "").strip().lower() or _url_category(url),
        url=url,
        path=f"{path}:{line}" if line is not None else str(path),
    )


def _json_sections(raw: object, path: str | Path, line: int | None) -> tuple[Section, ...]:
    """The ``sections`` field, or `ArchiveError` when it is not a list of heading/text objects."""
    if not isinstance(raw, list) or not all(
        isinstance(s, dict) and isinstance(s.get("heading") or "", str) for s in raw
    ):
        raise ArchiveError(path, '"sections" must be a list of {"heading": string, "text": string}', line)
    return tuple(
        Section(
            _json_text(s.get("heading"), "section heading", path, line, one_line=True),
            _json_text(s.get("text"), "section text", path, line),
        )
        for s in raw
    )


def _json_title(title: object, path: str | Path, line: int | None) -> str:
    """The ``title`` field as given, or `ArchiveError` (missing, empty, not a string, too long)."""
    if isinstance(title, str) and len(title) > MAX_TITLE_CHARS:
        raise ArchiveError(
            path, f'"title" too long ({len(title):,} characters, limit {MAX_TITLE_CHARS:,}); shorten it', line
        )
    if not isinstance(title, str) or not normalize(title):
        raise ArchiveError(path, 'no "title" string; every check needs its title', line)
    return title


def _json_date(checked_on: object, path: str | Path, line: int | None) -> str | None:
    """The ``checked_on`` field as an ISO date, None when absent, or `ArchiveError`."""
    if checked_on is None:
        return None
    try:
        if not isinstance(checked_on, str):
            raise ValueError
        return date.fromisoformat(checked_on).isoformat()
    except ValueError:
        raise ArchiveError(
            path, f'"checked_on" is not an ISO date (got {checked_on!r}); write it as YYYY-MM-DD', line
        ) from None


def _json_text(v: object, what: str, path: str | Path, line: int | None, one_line: bool = False) -> str:
    """A text field of a JSON check, normalised line by line with empty lines dropped; a title,
    heading or question (``one_line``) has its lines joined with a space."""
    if v is None:
        return ""
    if not isinstance(v, str):
        raise ArchiveError(path, f"{what} must be a string", line)
    parts = v.splitlines()
    if any(len(p) > MAX_LINE_CHARS for p in parts):
        raise ArchiveError(
            path, f"{what} has a line too long (limit {MAX_LINE_CHARS:,} characters); split it into paragraphs", line
        )
    return ("\n" if not one_line else " ").join(x for x in (normalize(p) for p in parts) if x)


def _url_category(url: str | None) -> str | None:
    m = _URL_ID.search(url) if url else None
    return m.group(1) if m else None


def _read_jsonl(data: bytes, path: str, category: str | None) -> tuple[list[Check], list[Problem]]:
    text, warning = decode(data, path)
    problems = [Problem(path, warning, skipped=False)] if warning else []
    checks = []
    # Only \n ends a JSON Lines record: U+2028 or U+0085 inside a string are text, not line ends.
    for no, raw in enumerate(text.split("\n"), 1):
        raw = raw.removesuffix("\r")
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except RecursionError:
            problems.append(Problem(path, "invalid JSON (nested too deeply); fix or remove the line", no))
            continue
        except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "a number with too many digits"
            problems.append(Problem(path, f"invalid JSON ({msg}); fix or remove the line", no))
            continue
        try:
            c = check_from_json(obj, path, no)
        except ArchiveError as exc:
            problems.append(Problem(path, exc.reason, no))
            continue
        if c.category is None and category:
            c = replace(c, category=category)
        checks.append(c)
    return checks, problems


@dataclass(frozen=True)
class Reader:
    """An input format: the file suffixes it reads (lower case), the largest file it accepts,
    and ``read(data, path, category) -> (checks, problems)`` (problems: warnings, and records
    skipped while the rest of the file is kept; a file that cannot be read at all raises
    `ArchiveError`)."""

    name: str
    suffixes: tuple[str, ...]
    max_bytes: int
    read: Callable[[bytes, str, str | None], tuple[list[Check], list[Problem]]]


def _read_article(data: bytes, path: str, category: str | None) -> tuple[list[Check], list[Problem]]:
    text, warning = decode(data, path)
    problems = [Problem(path, warning, skipped=False)] if warning else []
    return [parse_article(text, path, category)], problems


READERS: dict[str, Reader] = {
    s: r
    for r in (
        Reader("saved article", (".txt",), MAX_FILE_BYTES, _read_article),
        Reader("JSON Lines", (".jsonl",), MAX_JSONL_BYTES, _read_jsonl),
    )
    for s in r.suffixes
}
"""Every format the archive reader knows, by file suffix (lower case)."""


def reader_for(path: str | Path) -> Reader | None:
    """The reader of a file by its suffix (any case), or None for a file no reader takes."""
    return READERS.get(Path(path).suffix.lower())
