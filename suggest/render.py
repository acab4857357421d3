"""Render results through Jinja2 templates: the shipped ones or a newsroom's own.

One environment renders every shipped template (HTML ones autoescaped: archive text shows as
text), and one registry, `FORMATS`, names each output format with its file extension and
templates; `for`, `batch`, `backlog` and `report` all go through it. Adding a format is a
`Format` entry and its templates in ``templates/``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from suggest.errors import OptionError, SuggestError
from suggest.files import safe_id
from suggest.records import Suggestion

if TYPE_CHECKING:
    from suggest.backlog import Backlog


@dataclass(frozen=True)
class Format:
    """An output format: its file extension, the template of a list of suggestions and the
    template of the backlog (both in ``templates/``)."""

    name: str
    extension: str
    suggestions: str
    backlog: str


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("text", "txt", "text.j2", "backlog-text.j2"),
        Format("markdown", "md", "markdown.j2", "backlog-markdown.j2"),
        Format("html", "html", "html.j2", "backlog-html.j2"),
        Format("json", "json", "json.j2", ""),
    )
}


def output_format(fmt: str) -> Format:
    """The registered format ``fmt``; raises `OptionError` naming the choices (the one place a
    format is checked)."""
    got = FORMATS.get(fmt)
    if got is None:
        raise OptionError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return got


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|&~])")
_MD_LIST_START = re.compile(r"^(\d*)([-.)])")
_LINE_BREAKS = re.compile(r"\s*[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+\s*")


_WEB_URL = re.compile(r"^https?://[^\s<>\"'`]+$", re.IGNORECASE)


def safe_url(url: object) -> str | None:
    """``url`` if it is a plain http(s) address, else None (never a ``javascript:`` link)."""
    return url if isinstance(url, str) and _WEB_URL.match(url) else None


def md_escape(s: str) -> str:
    """Escape markdown syntax so archive text shows as text (on one line: a line break could
    start a new block, so it becomes a space)."""
    s = _MD_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", s))
    return _MD_LIST_START.sub(r"\1\\\2", s)  # "- x", "1. x" or "2) x" would start a nested list


def one_line(s: str) -> str:
    """Archive text on one line (the text format is one question a line): line breaks, including
    U+2028 and U+0085, become a space."""
    return _LINE_BREAKS.sub(" ", s)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def with_filters(env: jinja2.Environment) -> jinja2.Environment:
    """``env`` with our filters: ``md`` (markdown escape), ``one_line``, ``json``, ``safe_id``."""
    env.filters["md"] = md_escape
    env.filters["one_line"] = one_line
    env.filters["json"] = _json
    env.filters["safe_id"] = safe_id
    return env


class _FolderLoader(jinja2.FileSystemLoader):
    """Templates from one folder only: `..` and absolute names are refused by Jinja2 itself,
    and a symlink inside the folder that points out of it is refused here."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        root = os.path.realpath(self.searchpath[0])
        if os.path.commonpath([root, os.path.realpath(filename)]) != root:
            raise jinja2.TemplateNotFound(template)
        return source, filename, uptodate


class _Sandbox(SandboxedEnvironment):
    """The sandbox, failing loudly on an unsafe attribute instead of printing nothing."""

    def unsafe_undefined(self, obj: object, attribute: str) -> jinja2.Undefined:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")


def _is_html(name: str | None) -> bool:
    return name is not None and "html" in name


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The environment of the shipped templates (made once; it holds no results)."""
    return with_filters(
        jinja2.Environment(
            loader=jinja2.PackageLoader("suggest", "templates"),
            autoescape=_is_html,
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    )


def shipped_template(name: str) -> jinja2.Template:
    """One of the shipped templates, by file name."""
    return environment().get_template(name)


def load_template(fmt: str = "text", template: str | Path | None = None) -> jinja2.Template:
    """The template for ``fmt``, or the user's template file (sandboxed; includes stay in its folder).

    A user's template is always HTML-escaped, whatever its name or ``fmt``: archive text cannot
    become markup in its output (a template that writes plain text marks a value ``|safe``
    itself, knowingly).

    Raises `OptionError` for an unknown format and `SuggestError` for a bad template file.
    """
    if template is not None:
        path = Path(template)
        if not path.is_file():
            raise OptionError(f"--template {path}: no such file")
        real = path.resolve()
        env = with_filters(
            _Sandbox(
                loader=_FolderLoader(str(real.parent)),
                autoescape=True,  # whatever its name: its output may end up in a page
                keep_trailing_newline=True,
            )
        )
        try:
            return env.get_template(real.name)
        except jinja2.TemplateError as exc:
            raise SuggestError(f"--template {path}: {exc}") from None
        except UnicodeDecodeError:
            raise SuggestError(f"--template {path}: not UTF-8 text; save the template as UTF-8") from None
    return shipped_template(output_format(fmt).suggestions)


def render(
    suggestions: Sequence[Suggestion],
    fmt: str = "text",
    template: str | Path | None = None,
    check_url: Callable[[str], str] | None = None,
    check_info: Callable[[str], dict] | None = None,
    **context: object,
) -> str:
    """Render suggestions as text, markdown, html or json (or through ``template``).

    Parameters
    ----------
    suggestions : from `suggest.rank.suggest`.
    fmt : a name in `FORMATS`.
    template : a Jinja2 template file of the newsroom's own; gets ``suggestions`` (dicts),
        ``check_url`` and any extra ``context``.
    check_url : maps a check id to a link; default ``#check-<id>``.
    check_info : maps a check id to ``{"title", "url"}`` (its http(s) URL or None). With it,
        each suggestion also carries ``checks`` (that for every check that raised or answers
        it) and ``link`` (``id``, ``title`` and ``href`` from ``check_url`` of the check that
        answers it, else of the first that raised it): Markdown and HTML link the question to
        that check and say whether it is open or answered.

    Returns
    -------
    str

    Examples
    --------
    >>> render([], "text")  # no bare heading for an empty list
    ''
    """
    rows = [s.to_dict() for s in suggestions]
    tpl = load_template(fmt, template)
    url = check_url or (lambda cid: f"#check-{safe_id(cid)}")
    if check_info is not None:
        for row in rows:
            ids = list(dict.fromkeys(row["answered_by"] + row["sources"]))
            row["checks"] = {cid: _info(check_info(cid)) for cid in ids}
            row["link"] = {"id": ids[0], "title": row["checks"][ids[0]]["title"], "href": url(ids[0])} if ids else None
    try:
        return tpl.render(suggestions=rows, payload=rows, check_url=url, **context)
    except jinja2.TemplateNotFound as exc:
        raise SuggestError(
            f"template error: {exc.name} not found; a template can include only files in its own folder"
        ) from None
    except jinja2.TemplateError as exc:
        raise SuggestError(f"template error: {exc}") from None
    except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as exc:
        if template is None:
            raise
        # A newsroom's template failing as it runs ({{ 1 / 0 }}, a range too big...) is a user error.
        raise SuggestError(f"template error: {type(exc).__name__}: {exc}") from None


def _info(info: dict) -> dict:
    """A check's title and URL as output may carry them: the URL only when it is http(s)."""
    return {"title": str(info.get("title") or ""), "url": safe_url(info.get("url"))}


def render_backlog(b: Backlog, fmt: str = "text", link: Callable[[str], str] | None = None) -> str:
    """The backlog as text, markdown, html (a section) or json.

    ``link`` maps a check id to the link the html table uses (default: the check's url, else
    ``#check-<id>``). Raises `OptionError` for an unknown format.

    Examples
    --------
    >>> print(render_backlog(backlog(index), "markdown"))  # doctest: +SKIP
    """
    form = output_format(fmt)
    if fmt == "json":
        return json.dumps(b.to_dict(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    urls = {c["id"]: safe_url(c.get("url")) for r in b.rows for c in r.checks}
    link = link or (lambda cid: urls.get(cid) or f"#check-{safe_id(cid)}")
    from suggest.backlog import SHOWN_CHECKS

    return shipped_template(form.backlog).render(
        backlog=b, rows=[r.to_dict() for r in b.rows], link=link, shown=SHOWN_CHECKS
    )
