"""Read the archive: saved articles (every rendering of FORMAT.md) and JSON Lines exports.

A saved article is read line by line, never relying on blank lines. Every file is either read
into `Check` records or reported as a `Problem` naming the file (and line) and the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

from suggest.errors import ArchiveError
from suggest.text import normalize

MAX_FILE_BYTES = 5 * 1024 * 1024
"""Saved articles larger than this are refused (a real check is under 100 kB)."""
MAX_JSONL_BYTES = 2 * 1024**3
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
_MD_TITLE = re.compile(r"^\[([^\[\]]+)\]\((\S+?)\)$")
_HTML_TITLE = re.compile(
    r"""^<a\b[^>]*\bhref\s*=\s*["']([^"']+)["'][^>]*>(.*?)</a\s*>$""", re.IGNORECASE
)
_NOT_A_TITLE = re.compile(
    r"^(?:Executive summary|Want to dive deeper|Checked on |\d{1,2}\.\s)", re.IGNORECASE
)
_HTML_PAGE = re.compile(rb"^\s*(?:<!doctype\s+html|<html\b|<head\b|<\?xml)", re.IGNORECASE)


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
        return f"{kind}: {where}: {self.message}"


@dataclass
class Archive:
    """What `read_archive` found: the checks, and every file it skipped or warned about."""

    root: str
    checks: list[Check] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files_read: int = 0
    ignored: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.skipped]

    def summary(self) -> str:
        """One line: read N files (M checks), skipped K, with the reasons counted."""
        reasons: dict[str, int] = {}
        for p in self.skipped:
            key = p.message.split(";")[0]
            reasons[key] = reasons.get(key, 0) + 1
        why = "; ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])))
        text = f"read {self.files_read} files ({len(self.checks)} checks), skipped {len(self.skipped)}"
        if why:
            text += f" ({why})"
        warnings = len(self.problems) - len(self.skipped)
        if warnings:
            text += f", {warnings} warnings"
        if self.ignored:
            text += f", ignored {len(self.ignored)} files that are not .txt or .jsonl"
        return text


def stable_id(title: str, checked_on: str | None) -> str:
    """A 12-hex id from title and date, for checks whose file name and URL carry none."""
    return hashlib.sha256(f"{title}\n{checked_on or ''}".encode()).hexdigest()[:12]


def decode(data: bytes, path: str | Path) -> tuple[str, str | None]:
    """Bytes to text: UTF-8 (BOM allowed), else Windows-1252 with a warning.

    Raises `ArchiveError` for empty files, binary data and HTML pages.
    """
    if not data.strip():
        raise ArchiveError(path, "empty file; delete it or save the article's text into it")
    if b"\x00" in data[:65536]:
        raise ArchiveError(path, "binary data, not a saved article; remove it from the archive")
    if _HTML_PAGE.match(data[:1024].lstrip(b"\xef\xbb\xbf")):
        raise ArchiveError(
            path, "an HTML page, not a saved article; save the page as plain text instead"
        )
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        text = data.decode("cp1252", errors="replace").lstrip("\ufeff")
        return text, f"not UTF-8 (first bad byte on line {line}); read as Windows-1252, re-save as UTF-8"


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


def _split_title(raw: str) -> tuple[str, str | None]:
    raw = _PREFIX.sub("", raw.strip())
    m = _MD_TITLE.match(raw)
    if m:
        return m.group(1), m.group(2)
    m = _HTML_TITLE.match(raw)
    if m:
        return m.group(2), m.group(1)
    return raw, None


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
        When no title can be found.

    Examples
    --------
    >>> parse_article("Fact check: Is the sky blue?\\nWant to dive deeper?\\nWhy?").questions
    ('Why?',)
    """
    lines = [normalize(x) for x in text.splitlines()]
    i, n = 0, len(lines)
    title = None
    url = None
    checked_on = None

    def skip_blank(j: int) -> int:
        while j < n and not lines[j]:
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
                _BOILERPLATE.match(lines[i]) or _PREFIX.match(lines[i]) or _APPEAL.match(lines[i])
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
        break
    if i < n and not _NOT_A_TITLE.match(lines[i]):
        title, url = _split_title(lines[i])
        i += 1
    if not title:
        raise ArchiveError(
            path,
            "no recognisable title (the first line after the banner should be the checked "
            "question or claim); add it as the first line",
            line=i + 1 if i < n else None,
        )

    summary_parts: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    questions: list[str] = []
    state = "header"
    for j in range(i, n):
        line = lines[j]
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
    category_from_url = None
    if url:
        m = _URL_ID.search(url)
        if m:
            category_from_url = m.group(1)
    cid = _id_from(Path(str(path)).stem, url) or stable_id(title, checked_on)
    return Check(
        id=cid,
        title=title,
        checked_on=checked_on,
        summary=summary,
        sections=secs,
        questions=tuple(q for q in questions if q),
        category=category_from_url or category,
        url=url,
        path=str(path),
    )


def _id_from(stem: str, url: str | None) -> str | None:
    if url:
        m = _URL_ID.search(url)
        if m:
            return m.group(2)
    m = _HEX_ID.search(stem)
    return m.group(1) if m else None


def check_from_json(obj: object, path: str | Path, line: int | None = None) -> Check:
    """One JSON object of our export schema (see README) into a `Check`."""
    if not isinstance(obj, dict):
        raise ArchiveError(path, "not a JSON object; each line must be one {...} check", line)
    title = obj.get("title")
    if not isinstance(title, str) or not normalize(title):
        raise ArchiveError(path, 'no "title" string; every check needs its title', line)

    def text(key: str) -> str:
        v = obj.get(key)
        if v is None:
            return ""
        if not isinstance(v, str):
            raise ArchiveError(path, f'"{key}" must be a string', line)
        return "\n".join(x for x in (normalize(p) for p in v.splitlines()) if x)

    checked_on = obj.get("checked_on")
    if checked_on is not None:
        try:
            checked_on = date.fromisoformat(str(checked_on)).isoformat()
        except ValueError:
            raise ArchiveError(
                path, f'"checked_on" {checked_on!r} is not an ISO date (YYYY-MM-DD)', line
            ) from None
    sections = []
    raw_sections = obj.get("sections") or []
    if not isinstance(raw_sections, list):
        raise ArchiveError(path, '"sections" must be a list of {"heading", "text"}', line)
    for s in raw_sections:
        if not isinstance(s, dict):
            raise ArchiveError(path, '"sections" must be a list of {"heading", "text"}', line)
        sections.append(
            Section(normalize(str(s.get("heading") or "")), text_of(s.get("text"), path, line))
        )
    qs = obj.get("questions") or []
    if not isinstance(qs, list) or not all(isinstance(q, str) for q in qs):
        raise ArchiveError(path, '"questions" must be a list of strings', line)
    title_n, url = _split_title(normalize(title))
    url = obj.get("url") if isinstance(obj.get("url"), str) else url
    cid = obj.get("id")
    if cid is not None and (not isinstance(cid, (str, int)) or not str(cid).strip()):
        raise ArchiveError(path, '"id" must be a non-empty string', line)
    category = obj.get("category") if isinstance(obj.get("category"), str) else None
    return Check(
        id=str(cid).strip() if cid is not None else (_id_from("", url) or stable_id(title_n, checked_on)),
        title=title_n,
        checked_on=checked_on,
        summary=text("summary"),
        sections=tuple(sections),
        questions=tuple(q for q in (normalize(q) for q in qs) if q),
        category=category,
        url=url,
        path=f"{path}:{line}" if line is not None else str(path),
    )


def text_of(v: object, path: str | Path, line: int | None) -> str:
    if v is None:
        return ""
    if not isinstance(v, str):
        raise ArchiveError(path, "section text must be a string", line)
    return "\n".join(x for x in (normalize(p) for p in v.splitlines()) if x)


def read_file(path: str | Path, category: str | None = None) -> tuple[list[Check], list[Problem]]:
    """Read one saved article or JSON Lines file.

    Returns the checks and the problems met. A saved article that cannot be read raises
    `ArchiveError`; a JSON Lines file reports bad lines as problems and keeps the rest.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        limit = MAX_JSONL_BYTES if path.suffix in JSONL_SUFFIXES else MAX_FILE_BYTES
        if size > limit:
            raise ArchiveError(
                path,
                f"file is {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit; "
                "split it or remove it",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ArchiveError(path, f"cannot read: {exc.strerror or exc}; check permissions") from None
    if path.suffix in JSONL_SUFFIXES:
        return _read_jsonl(data, path, category)
    text, warning = decode(data, path)
    problems = [Problem(str(path), warning, skipped=False)] if warning else []
    return [parse_article(text, path, category)], problems


def _read_jsonl(data: bytes, path: Path, category: str | None) -> tuple[list[Check], list[Problem]]:
    text, warning = decode(data, path)
    problems = [Problem(str(path), warning, skipped=False)] if warning else []
    checks = []
    for no, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), f"invalid JSON ({exc.msg}); fix or remove the line", no))
            continue
        try:
            c = check_from_json(obj, path, no)
        except ArchiveError as exc:
            problems.append(Problem(str(path), exc.reason, no))
            continue
        if c.category is None and category:
            c = Check(**{**c.__dict__, "category": category})
        checks.append(c)
    return checks, problems


def iter_files(root: Path, archive: Archive) -> Iterator[tuple[Path, str | None]]:
    """Archive files in a stable order, with the category their folder names."""
    if root.is_file():
        yield root, None
        return
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: archive.problems.append(
        Problem(str(e.filename), f"cannot list folder: {e.strerror}; check permissions")
    )):
        here = Path(dirpath)
        kept = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            if (here / d).is_symlink():
                archive.problems.append(
                    Problem(str(here / d), "symlinked folder not followed; copy or move it into the archive")
                )
                continue
            kept.append(d)
        dirnames[:] = kept
        rel = here.relative_to(root).parts
        category = next((p for p in reversed(rel) if p.lower() in CATEGORIES), None)
        for f in sorted(filenames):
            p = here / f
            if f.startswith("."):
                continue
            if p.suffix.lower() in ARTICLE_SUFFIXES + JSONL_SUFFIXES:
                yield p, category.lower() if category else None
            else:
                archive.ignored.append(str(p))


def read_archive(path: str | Path) -> Archive:
    """Read an archive folder (recursively) or one file.

    Every ``.txt`` saved article and ``.jsonl`` export is read or reported; other files are
    listed as ignored. Two checks with the same id: the second (in path order) is skipped.

    Parameters
    ----------
    path : folder or file.

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
        raise ArchiveError(root, "no such archive folder or file; pass --archive DIR or set SUGGEST_ARCHIVE")
    archive = Archive(root=str(root))
    seen: dict[str, str] = {}
    for p, category in iter_files(root, archive):
        try:
            checks, problems = read_file(p, category)
        except ArchiveError as exc:
            archive.problems.append(Problem(exc.path, exc.reason, exc.line))
            continue
        archive.files_read += 1
        archive.problems.extend(problems)
        for c in checks:
            if c.id in seen:
                archive.problems.append(
                    Problem(
                        c.path or str(p),
                        f"duplicate id {c.id} (also in {seen[c.id]}); give one of them another id",
                    )
                )
                continue
            seen[c.id] = c.path or str(p)
            archive.checks.append(c)
    return archive
