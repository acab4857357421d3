"""Read the archive: saved articles (every rendering of FORMAT.md) and JSON Lines exports.

A saved article is read line by line, never relying on blank lines. Every file is either read
into `Check` records or reported as a `Problem` naming the file (and line) and the fix.

Policies:

- Encoding: UTF-8, with or without a byte-order mark; CRLF and CR line endings are fine. Text
  that is not UTF-8 is read as Windows-1252 (what Windows editors save) with a warning naming
  the first bad line; a UTF-16 file with its byte-order mark is read with a warning.
- Refused, with one line each: empty files, binary data (NUL bytes, or more than 1 in 20
  characters being control characters), HTML pages, files without a recognisable title, files
  over `MAX_FILE_BYTES`, lines over `MAX_LINE_CHARS`, anything that is not a regular file
  (pipes, devices), symlink loops and unreadable files. Symlinked folders are not followed.
- The JSON Lines schema is documented in `check_from_json`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import cast

from suggest.errors import ArchiveError
from suggest.text import normalize

MAX_FILE_BYTES = 5_000_000
"""Saved articles larger than this are refused (a real check is under 100 kB)."""
MAX_JSONL_BYTES = 2_000_000_000
MAX_LINE_CHARS = 100_000
"""A line longer than this is refused: a real paragraph is under 10,000 characters, and the
normalising regexes should not be handed megabytes of text on one line."""
MAX_TITLE_CHARS = 1_000
"""A first line longer than this is a paragraph, not the checked question or claim."""
ARTICLE_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl",)
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


@dataclass(frozen=True)
class Section:
    heading: str
    text: str


@dataclass(frozen=True)
class Check:
    """One fact-check as the reader saw it. Text fields are normalised, citations kept."""

    id: str
    title: str
    checked_on: str | None = None
    summary: str = ""
    sections: tuple[Section, ...] = ()
    questions: tuple[str, ...] = ()
    category: str | None = None
    url: str | None = None
    path: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sections"] = [asdict(s) for s in self.sections]
        d["questions"] = list(self.questions)
        return d

    def body(self) -> str:
        """Section headings and texts, minus a section that only repeats the summary."""
        parts = []
        for s in self.sections:
            if s.text and s.text == self.summary:
                continue
            parts.append(f"{s.heading}\n{s.text}" if s.heading else s.text)
        return "\n".join(parts)


@dataclass(frozen=True)
class Problem:
    """A file (or line) that was skipped, or read with a warning."""

    path: str
    message: str
    line: int | None = None
    skipped: bool = True

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        kind = "skipped" if self.skipped else "warning"
        # File names (here and inside the message) may hold a newline: escape it to keep one line.
        return _CONTROL_IN_NAME.sub(lambda m: f"\\x{ord(m.group()):02x}", f"{kind}: {where}: {self.message}")

    @property
    def reason(self) -> str:
        """The kind of problem, for counting: the message up to its first ``;`` or `` (``."""
        return re.split(r";| \(", self.message, maxsplit=1)[0]


@dataclass
class Archive:
    """What `read_archive` found: the checks, and every file it skipped or warned about."""

    root: str
    checks: list[Check] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files_read: int = 0
    ignored: list[str] = field(default_factory=list)
    spill: str | None = None  # read with ``spill``: the folder of the full checks
    sources: list[tuple[int, int]] = field(default_factory=list)  # each check's (spill file, place)

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.skipped]

    def summary(self) -> str:
        """One line: read N files (M checks), skipped K, with the reasons counted.

        Examples
        --------
        >>> a = Archive("x", files_read=2, problems=[Problem("a.txt", "empty file; delete it")])
        >>> a.summary()
        'read 2 files (0 checks), skipped 1 (1 empty file)'
        """
        reasons: dict[str, int] = {}
        for p in self.skipped:
            reasons[p.reason] = reasons.get(p.reason, 0) + 1
        why = "; ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])))
        text = (
            f"read {_count(self.files_read, 'file')} ({_count(len(self.checks), 'check')}), skipped {len(self.skipped)}"
        )
        if why:
            text += f" ({why})"
        warnings = len(self.problems) - len(self.skipped)
        if warnings:
            text += f", {_count(warnings, 'warning')}"
        if self.ignored:
            text += f", ignored {_count(len(self.ignored), 'other file')} (not .txt or .jsonl)"
        return text


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}" if k == 1 else f"{k} {noun}s"


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
    path = safe_text(str(path))
    raw_lines = safe_text(text).splitlines()
    for no, raw in enumerate(raw_lines, 1):
        if len(raw) > MAX_LINE_CHARS:
            raise ArchiveError(
                path,
                f"line too long ({len(raw):,} characters, limit {MAX_LINE_CHARS:,}); a saved article "
                "has one paragraph per line: re-save it with its line breaks",
                line=no,
            )
    lines = [normalize(x) for x in raw_lines]
    i, n = 0, len(lines)
    title = None
    url: str | None = None
    checked_on = None

    def bare_url(j: int) -> str | None:
        m = _BARE_URL.match(raw_lines[j].strip())
        return m.group(1) if m else None

    def skip_blank(j: int) -> int:
        while j < n and not lines[j] and not bare_url(j):  # "<https://...>" normalises to ""
            j += 1
        return j

    # Top of the page: banner, appeal, loading lines, boilerplate, then the title.
    while True:
        i = skip_blank(i)
        if i >= n:
            break
        line = lines[i]
        if _BANNER.match(line):
            i = skip_blank(i + 1)
            if i < n and not (
                _BOILERPLATE.match(lines[i])
                or _PREFIX.match(lines[i])
                or _APPEAL.match(lines[i])
                or parse_date(lines[i])
                or bare_url(i)
            ):
                i += 1  # the one-paragraph appeal, whatever its wording
            continue
        if _APPEAL.match(line) or _BOILERPLATE.match(line):
            i += 1
            continue
        if parse_date(line):
            checked_on = checked_on or parse_date(line)
            i += 1
            continue
        if bare_url(i):  # an archive that keeps the page address on a line of its own
            url = url or bare_url(i)
            i += 1
            continue
        break
    if i < n and not _NOT_A_TITLE.match(lines[i]):
        if len(lines[i]) > MAX_TITLE_CHARS:
            raise ArchiveError(
                path,
                f"no recognisable title (the first line is {len(lines[i]):,} characters long, a "
                "paragraph rather than a question or claim); put the checked question or claim "
                "on the first line",
                line=i + 1,
            )
        title = _PREFIX.sub("", lines[i]).strip()
        # The link markup is gone from the normalised line; its address is read from the raw one.
        url = url or _link_url(raw_lines[i])
    if not title:
        raise ArchiveError(
            path,
            "no recognisable title (the first line after the banner should be the checked "
            "question or claim); add it as the first line",
            line=i + 1 if i < n else None,
        )
    i += 1

    summary_parts: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    questions: list[str] = []
    state = "header"
    for j in range(i, n):
        line = lines[j]
        if state == "header" and bare_url(j):
            url = url or bare_url(j)
            continue
        if not line or _BANNER.match(line) or _BOILERPLATE.match(line) or _APPEAL.match(line):
            continue
        if state == "questions":
            questions.append(_BULLET.sub("", line).strip())
            continue
        if _DIVE.match(line):
            state = "questions"
            continue
        if state == "header":
            d = parse_date(line)
            if d:
                checked_on = checked_on or d
                continue
        m = _SUMMARY.match(line)
        if m and state in ("header", "summary"):
            state = "summary"
            if m.group(1):
                summary_parts.append(m.group(1).strip())
            continue
        h = _HEADING.match(line)
        if h:
            heading, rest = h.group(2).strip(), ""
            if ": " in heading:
                head, tail = heading.split(": ", 1)
                # A paragraph on the heading line is a sentence; a subtitle is not.
                if len(tail.split()) >= 10 and _SENTENCE_END.search(tail):
                    heading, rest = head, tail
            heading = heading.rstrip(":").strip()
            sections.append((heading, [rest] if rest else []))
            state = "sections"
            continue
        if state == "sections":
            sections[-1][1].append(_BULLET.sub("", line).strip())
        elif state == "summary":
            summary_parts.append(line)
        else:  # body text before any heading: an unlabelled summary
            state = "summary"
            summary_parts.append(_BULLET.sub("", line).strip())

    secs = tuple(Section(h, "\n".join(p for p in parts if p)) for h, parts in sections)
    summary = "\n".join(summary_parts)
    if not summary:
        for s in secs:
            if _FORMAT_A_SUMMARY.match(s.heading):
                summary = s.text
                break
    cid = _id_from(Path(path).stem, url) or stable_id(title, checked_on)
    return Check(
        id=cid,
        title=title,
        checked_on=checked_on,
        summary=summary,
        sections=secs,
        questions=tuple(q for q in questions if q),
        category=_url_category(url) or category,
        url=url,
        path=path,
    )


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
    title = obj.get("title")
    if isinstance(title, str) and len(title) > MAX_TITLE_CHARS:
        raise ArchiveError(
            path, f'"title" too long ({len(title):,} characters, limit {MAX_TITLE_CHARS:,}); shorten it', line
        )
    if not isinstance(title, str) or not normalize(title):
        raise ArchiveError(path, 'no "title" string; every check needs its title', line)
    checked_on = obj.get("checked_on")
    if checked_on is not None:
        try:
            if not isinstance(checked_on, str):
                raise ValueError
            checked_on = date.fromisoformat(checked_on).isoformat()
        except ValueError:
            raise ArchiveError(
                path, f'"checked_on" is not an ISO date (got {checked_on!r}); write it as YYYY-MM-DD', line
            ) from None
    raw_sections = obj.get("sections") or []
    if not isinstance(raw_sections, list) or not all(
        isinstance(s, dict) and isinstance(s.get("heading") or "", str) for s in raw_sections
    ):
        raise ArchiveError(path, '"sections" must be a list of {"heading": string, "text": string}', line)
    sections = tuple(
        Section(
            _json_text(s.get("heading"), "section heading", path, line, one_line=True),
            _json_text(s.get("text"), "section text", path, line),
        )
        for s in raw_sections
    )
    qs = obj.get("questions") or []
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
    category = (category or "").strip().lower() or _url_category(url)
    title_n = _PREFIX.sub("", _json_text(title, '"title"', path, line, one_line=True)).strip()
    return Check(
        id=str(cid).strip() if cid is not None else (_id_from("", url) or stable_id(title_n, checked_on)),
        title=title_n,
        checked_on=checked_on,
        summary=_json_text(obj.get("summary"), '"summary"', path, line),
        sections=sections,
        questions=tuple(q for q in (_json_text(q, "a question", path, line, one_line=True) for q in qs) if q),
        category=category,
        url=url,
        path=f"{path}:{line}" if line is not None else str(path),
    )


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


def _size(n: float) -> str:
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n:.0f} bytes"


def _os_problem(exc: OSError) -> str:
    """What an OSError met while reading a file means for the editor, and the fix."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot read ({exc.strerror}); check the file's permissions"
    if exc.errno == errno.ELOOP:
        return "cannot read (symlink loop); remove the link"
    if exc.errno == errno.ENOENT:
        return "cannot read (broken link, or the file was removed while reading); remove the link or restore the file"
    return f"cannot read ({exc.strerror or exc}); check the disk and the file"


def read_file(path: str | Path, category: str | None = None) -> tuple[list[Check], list[Problem]]:
    """Read one saved article or JSON Lines file.

    Parameters
    ----------
    path : a ``.txt`` saved article (any other suffix is read as one too) or a ``.jsonl`` export.
    category : the category the caller knows; else the parent folder's name when it is one of
        `CATEGORIES`. A category in the article's URL wins over both.

    Returns
    -------
    (checks, problems)
        ``problems`` holds warnings (e.g. not UTF-8) and, for JSON Lines, the bad lines,
        which are skipped while the other lines are kept.

    Raises
    ------
    ArchiveError
        When the file cannot be read at all: missing, not a regular file, over the size limit,
        empty, binary, an HTML page, or a saved article without a recognisable title.

    Examples
    --------
    >>> checks, problems = read_file("corpus/health/vaccines-autism-evidence-a3f91c.txt")  # doctest: +SKIP
    >>> checks[0].id, checks[0].category  # doctest: +SKIP
    ('a3f91c', 'health')
    """
    path = Path(path)
    shown = safe_text(str(path))  # what records and messages name: always valid UTF-8
    jsonl = path.suffix.lower() in JSONL_SUFFIXES
    if category is None and path.parent.name.lower() in CATEGORIES:
        category = path.parent.name.lower()
    limit = MAX_JSONL_BYTES if jsonl else MAX_FILE_BYTES
    too_big = "over the size limit ({}, limit {}); split it or remove it"
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ArchiveError(shown, "not a regular file (a folder, pipe or device); remove it from the archive")
        if st.st_size > limit:
            raise ArchiveError(shown, too_big.format(_size(st.st_size), _size(limit)))
        with path.open("rb") as f:
            data = f.read(limit + 1)  # the file may have grown since stat
        if len(data) > limit:
            raise ArchiveError(shown, too_big.format(f"over {_size(limit)}", _size(limit)))
    except OSError as exc:
        raise ArchiveError(shown, _os_problem(exc)) from None
    if jsonl:
        checks, problems = _read_jsonl(data, shown, category)
    else:
        text, warning = decode(data, shown)
        problems = [Problem(shown, warning, skipped=False)] if warning else []
        checks = [parse_article(text, shown, category)]
    if shown != str(path):
        problems.insert(0, Problem(shown, "file name is not UTF-8 (shown with \ufffd); rename the file", skipped=False))
    return checks, problems


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


def iter_files(root: Path, archive: Archive) -> Iterator[tuple[Path, str | None]]:
    """Archive files in a stable order, with the category their folder names.

    Folders and files whose name starts with ``.`` (such as the saved index) are passed over;
    symlinked folders are reported, not followed (they can loop); files that are neither
    ``.txt`` nor ``.jsonl`` are listed in ``archive.ignored``.
    """
    if not root.is_dir():
        yield root, None
        return

    def unlistable(e: OSError) -> None:
        archive.problems.append(
            Problem(safe_text(str(e.filename)), f"cannot list folder ({e.strerror}); check its permissions")
        )

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable):
        here = Path(dirpath)
        kept = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            if (here / d).is_symlink():
                archive.problems.append(
                    Problem(safe_text(str(here / d)), "symlinked folder not followed; copy or move it into the archive")
                )
                continue
            kept.append(d)
        dirnames[:] = kept
        rel = (root.name, *here.relative_to(root).parts)
        category = next((p.lower() for p in reversed(rel) if p.lower() in CATEGORIES), None)
        for f in sorted(filenames):
            p = here / f
            if f.startswith("."):
                continue
            if p.suffix.lower() in ARTICLE_SUFFIXES + JSONL_SUFFIXES:
                yield p, category
            else:
                archive.ignored.append(str(p))


def slim(c: Check) -> Check:
    """The check without its sections (the bulk of its text)."""
    return replace(c, sections=())


SPILL_PIECE = 4096
"""Full checks per spill file: a chunk of the index build reads one file, not a task's all."""


def spill_file(folder: str | Path, group: int, place: int) -> tuple[str, int]:
    """Where `read_archive` spilled the full check at ``place`` (duplicates counted) among
    the checks of its task of files ``group``: (file, place in that file's list)."""
    piece, at = divmod(place, SPILL_PIECE)
    return str(Path(folder) / f"{group:06d}-{piece:04d}.pkl"), at


def _read_files(
    files: list[tuple[Path, str | None]], spill: str | None = None
) -> list[tuple[list[Check], list[Problem]] | ArchiveError]:
    """Each file's (checks, problems), or the error that skipped it. With ``spill`` (a path
    prefix) the full checks are pickled as flat lists of `SPILL_PIECE` (``PREFIX-NNNN.pkl``,
    see `spill_file`) and slim ones returned."""
    out: list[tuple[list[Check], list[Problem]] | ArchiveError] = []
    full: list[Check] = []
    for p, category in files:
        try:
            checks, problems = read_file(p, category)
        except ArchiveError as exc:
            out.append(exc)
            continue
        if spill is not None:
            full.extend(checks)
            checks = [slim(c) for c in checks]
        out.append((checks, problems))
    if spill is not None:
        import pickle  # work files of this run, read back by the build; never kept

        for k in range(0, len(full), SPILL_PIECE):
            with open(f"{spill}-{k // SPILL_PIECE:04d}.pkl", "wb") as f:
                pickle.dump(full[k : k + SPILL_PIECE], f, protocol=pickle.HIGHEST_PROTOCOL)
    return out


_TASK_BYTES = 16 * 1024 * 1024


def _groups(files: list[tuple[Path, str | None]], jobs: int) -> list[list[tuple[Path, str | None]]]:
    """Files in path order, cut into tasks of about `_TASK_BYTES` (fewer when that would leave
    a worker idle); a file bigger than that is a task of its own."""
    sizes = []
    for p, _ in files:
        try:
            sizes.append(p.stat().st_size)
        except OSError:
            sizes.append(0)
    target = max(min(_TASK_BYTES, sum(sizes) // max(4 * jobs, 1)), 1)
    groups: list[list[tuple[Path, str | None]]] = []
    size = target
    for f, n in zip(files, sizes, strict=True):
        if size >= target:
            groups.append([])
            size = 0
        groups[-1].append(f)
        size += n
    return groups


def read_archive(path: str | Path, jobs: int = 1, spill: str | Path | None = None) -> Archive:
    """Read an archive folder (recursively) or one file.

    Every ``.txt`` saved article and ``.jsonl`` export is read or reported; other files are
    listed as ignored. Two checks with the same id: the second (in path order) is skipped.

    Parameters
    ----------
    path : folder or file.
    jobs : worker processes reading files (joblib); the result is the same with any number.
    spill : a folder: the full checks go there (pickled lists of at most `SPILL_PIECE`, see
        `spill_file`) and the archive keeps them without their sections (`slim`), with
        ``sources`` telling where each one's full text is (task of files, place in it). For an index build, whose memory would otherwise hold every
        text of the archive (about 10 GB for a million PolitiFact-sized checks).

    Returns
    -------
    Archive
        ``checks`` in path order, ``problems`` with one entry per skipped file or line.

    Raises
    ------
    ArchiveError
        When ``path`` does not exist.

    Examples
    --------
    >>> a = read_archive("corpus")  # doctest: +SKIP
    >>> a.summary()  # doctest: +SKIP
    'read 64 files (64 checks), skipped 0'
    """
    root = Path(path)
    if not root.exists():
        raise ArchiveError(
            safe_text(str(root)), "no such archive folder or file; pass --archive DIR or set SUGGEST_ARCHIVE"
        )
    archive = Archive(root=str(root))
    seen: dict[str, str] = {}
    files: list[tuple[Path, str | None]] = []
    walk_problems: list[int] = []  # the folder problems said before each file, kept in walk order
    for f in iter_files(root, archive):
        files.append(f)
        walk_problems.append(len(archive.problems))
    said_on_walk, archive.problems = archive.problems, []
    groups = _groups(files, jobs)
    spills = [None if spill is None else str(Path(spill) / f"{g:06d}") for g in range(len(groups))]
    if jobs > 1 and len(groups) > 1:
        from joblib import Parallel, delayed

        from suggest.workers import run_task

        me = os.getpid()
        read = Parallel(n_jobs=jobs, return_as="generator")(
            delayed(run_task)(me, _read_files, g, s) for g, s in zip(groups, spills, strict=True)
        )
    else:
        read = (_read_files(g, s) for g, s in zip(groups, spills, strict=True))
    archive.spill = None if spill is None else str(spill)
    group_of = [g for g, files_g in enumerate(groups) for _ in files_g]
    place = [0] * len(groups)  # checks of each spill file so far
    results = (r for group in read for r in group)
    walked = 0
    for (p, _category), result, before, g in zip(files, results, walk_problems, group_of, strict=True):
        archive.problems.extend(said_on_walk[walked:before])
        walked = before
        if isinstance(result, ArchiveError):
            archive.problems.append(Problem(result.path, result.reason, result.line))
            continue
        checks, problems = result
        archive.files_read += 1
        archive.problems.extend(problems)
        for c in checks:
            place[g] += 1
            if c.id in seen:
                archive.problems.append(
                    Problem(
                        c.path or str(p),
                        f"duplicate id ({c.id}, also in {seen[c.id]}); give one of them another id or remove the copy",
                    )
                )
                continue
            seen[c.id] = c.path or str(p)
            archive.checks.append(c)
            if spill is not None:
                archive.sources.append((g, place[g] - 1))
    archive.problems.extend(said_on_walk[walked:])
    return archive
