"""A draft as an editor gives it (pasted text, or a ``.txt``, ``.md``, ``.html`` or ``.docx``
file) to the `Check` the ranking reads.

Every format ends as the lines of a saved article, read by `suggest.readers.parse_article`
(title on the first line, "Want to dive deeper?" and its questions at the end): plain text
as it is (`suggest.readers.decode`: UTF-8, else Windows-1252 with a warning), Markdown
rendered by markdown-it-py, HTML by lxml (one line per block: paragraph, heading, list item),
Word documents by python-docx (one line per paragraph). Markdown, HTML and Word need the
``serve`` extra; they are imported when a file of theirs comes.
"""

from __future__ import annotations

import io
from pathlib import PurePath
from typing import Any

from suggest.errors import ArchiveError, SuggestError
from suggest.readers import decode, parse_article
from suggest.records import Check

MAX_DRAFT_BYTES = 2_000_000
"""A draft is tens of kB; 2 MB is a book. `suggest for` matches the first 2 MB of a longer
one (with a warning); the page and the API refuse it."""
MAX_DOCX_UNZIPPED = 50_000_000
"""A .docx whose parts unzip to more than this is refused before it is read (a zip bomb)."""
SUFFIXES = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
}
BLOCKS = (
    "p", "div", "section", "article", "header", "footer", "main", "li", "ul", "ol", "blockquote", "pre",
    "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "dt", "dd", "figcaption", "hr",
)  # fmt: skip

_DOCUMENTS = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a zipped document (.docx, .odt...)"),
    (b"{\\rtf", "an RTF document"),
)


class DraftError(SuggestError):
    """A draft that cannot be read: empty, binary, too large, of an unknown kind."""


def as_article(reason: str, data: bytes) -> str:
    """The reader's reason for refusing a file, said of an article rather than of an archive
    file (no "remove it from the archive")."""
    if reason.startswith("empty file"):
        return "empty article: no title or text to match; give the draft's text"
    if reason.startswith("binary data"):
        kind = next((k for magic, k in _DOCUMENTS if data.startswith(magic)), "binary data")
        return f"{kind}, not plain text; save the draft as plain text (.txt) and give that file"
    return reason


def draft_from_text(text: str, name: str = "draft") -> Check:
    """The pasted draft ``text`` as a `Check`. Raises `DraftError` (empty, too large, binary)
    or `ArchiveError` (no title)."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > MAX_DRAFT_BYTES:
        raise DraftError(_too_large(len(data)))
    return _from_bytes(data, name)


def draft_from_file(data: bytes, filename: str) -> Check:
    """The uploaded file ``filename`` as a `Check`, read by its suffix (`SUFFIXES`).

    Raises `DraftError` for an unknown suffix, a file over `MAX_DRAFT_BYTES`, or content that
    is not of the kind its name says; `ArchiveError` when no title can be found."""
    name = PurePath(filename or "draft").name or "draft"
    kind = SUFFIXES.get(PurePath(name).suffix.lower())
    if kind is None:
        raise DraftError(f"{name}: unknown kind of file; upload a .txt, .md, .html or .docx draft")
    if len(data) > MAX_DRAFT_BYTES:
        raise DraftError(f"{name}: {_too_large(len(data))}")
    if not data.strip():
        raise DraftError(f"{name}: {as_article('empty file', data)}")
    if kind == "text":
        return _from_bytes(data, name)
    if kind == "docx":
        return _parse(docx_text(data, name), name)
    if b"\x00" in data[:65536]:
        raise DraftError(f"{name}: {as_article('binary data', data)}")
    if kind == "markdown":
        from markdown_it import MarkdownIt

        text, _ = _decode(data, name)
        return _parse(html_text(MarkdownIt("commonmark").render(text)), name)
    try:
        page: str | bytes = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:
        page = data  # lxml reads the page's <meta charset>, else Latin-1
    return _parse(html_text(page), name)


def _too_large(n: int) -> str:
    return f"draft too large ({n:,} bytes, limit {MAX_DRAFT_BYTES:,}); send the article's text only"


def _decode(data: bytes, name: str) -> tuple[str, str | None]:
    try:
        return decode(data, name)
    except ArchiveError as exc:
        raise DraftError(f"{name}: {as_article(exc.reason, data)}") from None


def _from_bytes(data: bytes, name: str) -> Check:
    text, _ = _decode(data, name)
    return _parse(text, name)


def _parse(text: str, name: str) -> Check:
    if not text.strip():
        raise DraftError(f"{name}: {as_article('empty file', b'')}")
    return parse_article(text, name)


def html_text(html: str | bytes) -> str:
    """The text of an HTML page or fragment, one line per block (scripts and styles left out).

    Examples
    --------
    >>> html_text("<h1>Is it?</h1><p>Yes <b>it</b> is.</p><script>x()</script>")
    'Is it?\\nYes it is.'
    """
    import lxml.etree
    import lxml.html

    if isinstance(html, str) and html.lstrip().startswith("<?xml"):
        html = html.encode("utf-8")  # lxml refuses text that declares an encoding
    try:
        doc = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return ""
    for bad in doc.xpath("//script|//style|//noscript|//template|//head"):
        bad.drop_tree()
    for ol in doc.iter("ol"):  # keep the numbers and bullets the reader knows ("1. Heading", "- item")
        start = ol.get("start", "1")
        n = int(start) if start.isdigit() else 1
        for li in ol.iterchildren("li"):
            _prefix(li, f"{n}. ")
            n += 1
    for ul in doc.iter("ul"):
        for li in ul.iterchildren("li"):
            _prefix(li, "- ")
    for el in doc.iter(*BLOCKS):
        el.text = "\n" + (el.text or "")
        el.tail = "\n" + (el.tail or "")
    for br in doc.iter("br"):
        br.tail = "\n" + (br.tail or "")
    lines = (" ".join(line.split()) for line in doc.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _prefix(li: Any, mark: str) -> None:
    """Put ``mark`` before the first text of a list item (inside its paragraph, if it has one)."""
    target = li
    while not (target.text or "").strip() and len(target) and target[0].tag in BLOCKS:
        target = target[0]
    target.text = mark + (target.text or "").lstrip()


def docx_text(data: bytes, name: str = "draft.docx") -> str:
    """The paragraphs of a Word document (.docx), one a line. Raises `DraftError` when it is
    not one, or unzips to more than `MAX_DOCX_UNZIPPED`."""
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    not_docx = f"{name}: not a Word document (.docx); save the draft as .docx or plain text"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if sum(i.file_size for i in z.infolist()) > MAX_DOCX_UNZIPPED:
                raise DraftError(f"{name}: unzips to more than {MAX_DOCX_UNZIPPED // 1_000_000} MB; send the text only")
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError, OSError):
        raise DraftError(not_docx) from None
    except Exception as exc:  # lxml's XMLSyntaxError and friends from a damaged part
        if type(exc).__module__.startswith(("lxml", "docx")):
            raise DraftError(not_docx) from None
        raise
    lines = (" ".join(p.text.split()) for p in document.paragraphs)
    return "\n".join(line for line in lines if line)
