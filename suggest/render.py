"""Render suggestions through Jinja2 templates: the shipped ones or a newsroom's own."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from suggest.errors import OptionError, SuggestError
from suggest.rank import Suggestion

FORMATS = ("text", "markdown", "html", "json")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|&~])")
_MD_LIST_START = re.compile(r"^(\d*)([-.)])")
_LINE_BREAKS = re.compile(r"\s*[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+\s*")
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")


def md_escape(s: str) -> str:
    """Escape markdown syntax so archive text shows as text (on one line: a line break could
    start a new block, so it becomes a space)."""
    s = _MD_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", s))
    return _MD_LIST_START.sub(r"\1\\\2", s)  # "- x", "1. x" or "2) x" would start a nested list


def one_line(s: str) -> str:
    """Archive text on one line (the text format is one question a line): line breaks, including
    U+2028 and U+0085, become a space."""
    return _LINE_BREAKS.sub(" ", s)


def safe_id(s: str) -> str:
    """An id reduced to characters safe in a file name or URL fragment (never a path)."""
    out = _SAFE_ID.sub("_", s).lstrip(".")
    return out or "_"


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


_BUILTIN: dict[str, jinja2.Environment] = {}


def _builtin_env(fmt: str) -> jinja2.Environment:
    if fmt not in _BUILTIN:
        _BUILTIN[fmt] = with_filters(
            jinja2.Environment(
                loader=jinja2.PackageLoader("suggest", "templates"),
                autoescape=fmt == "html",
                keep_trailing_newline=True,
                undefined=jinja2.StrictUndefined,
            )
        )
    return _BUILTIN[fmt]


def load_template(fmt: str = "text", template: str | Path | None = None) -> jinja2.Template:
    """The template for ``fmt``, or the user's template file (sandboxed; includes stay in its folder).

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
                autoescape=jinja2.select_autoescape(("html", "htm", "xml"), default_for_string=False),
                keep_trailing_newline=True,
            )
        )
        try:
            return env.get_template(real.name)
        except jinja2.TemplateError as exc:
            raise SuggestError(f"--template {path}: {exc}") from None
        except UnicodeDecodeError:
            raise SuggestError(f"--template {path}: not UTF-8 text; save the template as UTF-8") from None
    if fmt not in FORMATS:
        raise OptionError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return _builtin_env(fmt).get_template(f"{fmt}.j2")


def render(
    suggestions: Sequence[Suggestion],
    fmt: str = "text",
    template: str | Path | None = None,
    check_url: Callable[[str], str] | None = None,
    **context: object,
) -> str:
    """Render suggestions as text, markdown, html or json (or through ``template``).

    Parameters
    ----------
    suggestions : from `suggest.rank.suggest`.
    fmt : one of `FORMATS`.
    template : a Jinja2 template file of the newsroom's own; gets ``suggestions`` (dicts),
        ``check_url`` and any extra ``context``.
    check_url : maps a check id to a link; default ``#check-<id>``.

    Returns
    -------
    str

    Examples
    --------
    >>> render([], "text")
    'Want to dive deeper?\\n'
    """
    rows = [s.to_dict() for s in suggestions]
    tpl = load_template(fmt, template)
    url = check_url or (lambda cid: f"#check-{safe_id(cid)}")
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
