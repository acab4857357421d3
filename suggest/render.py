"""Render suggestions through Jinja2 templates: the shipped ones or a newsroom's own."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from suggest.errors import OptionError, SuggestError
from suggest.rank import Suggestion

FORMATS = ("text", "markdown", "html", "json")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|])")
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")


def md_escape(s: str) -> str:
    """Escape markdown syntax so archive text shows as text."""
    return _MD_SPECIAL.sub(r"\\\1", s)


def safe_id(s: str) -> str:
    """An id reduced to characters safe in a file name or URL fragment (never a path)."""
    out = _SAFE_ID.sub("_", s).lstrip(".")
    return out or "_"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def _env(env: jinja2.Environment) -> jinja2.Environment:
    env.filters["md"] = md_escape
    env.filters["json"] = _json
    env.filters["safe_id"] = safe_id
    return env


_BUILTIN: dict[str, jinja2.Environment] = {}


def _builtin_env(fmt: str) -> jinja2.Environment:
    if fmt not in _BUILTIN:
        _BUILTIN[fmt] = _env(
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
        env = _env(
            SandboxedEnvironment(
                loader=jinja2.FileSystemLoader(str(path.parent.resolve())),
                autoescape=jinja2.select_autoescape(("html", "htm", "xml"), default_for_string=False),
                keep_trailing_newline=True,
            )
        )
        try:
            return env.get_template(path.name)
        except jinja2.TemplateError as exc:
            raise SuggestError(f"--template {path}: {exc}") from None
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
