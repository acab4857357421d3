"""suggest for: the "Want to dive deeper?" list for one article."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from suggest.cli import app
from suggest.cli.common import (
    ArchiveOpt,
    FormatOpt,
    IndexOpt,
    QuietOpt,
    SemanticOpt,
    TopOpt,
    default_archive,
    echo,
    err,
    open_archive_index,
    rank_signals,
    user_errors,
)
from suggest.errors import ArchiveError, SuggestError
from suggest.rank import Explained
from suggest.readers import decode, parse_article
from suggest.records import RankOptions, Suggestion
from suggest.render import load_template, render, safe_id, safe_url
from suggest.serve.drafts import MAX_DRAFT_BYTES, as_article
from suggest.serve.feedback import NO_FEEDBACK, article_key, category_option
from suggest.serve.lists import article_list, feedback_store, rank_options


def read_article(source: str):
    """The article from a file path or `-` (stdin), parsed like an archive file."""
    if source == "-":
        data, name = sys.stdin.buffer.read(MAX_ARTICLE_BYTES + 1), "<stdin>"
    else:
        path = Path(source)
        if path.is_dir():
            raise SuggestError(f"{source}: is a folder; give the draft's file, or - for stdin")
        if not path.exists():
            raise SuggestError(f"{source}: no such article file; give a saved article or - for stdin")
        if not path.is_file():
            raise SuggestError(f"{source}: not a regular file; give the draft's file, or - for stdin")
        try:
            with path.open("rb") as f:
                data = f.read(MAX_ARTICLE_BYTES + 1)
        except OSError as exc:
            raise SuggestError(f"{source}: cannot read ({exc.strerror}); check the file's permissions") from None
        name = source
    if len(data) > MAX_ARTICLE_BYTES:
        data = data[:MAX_ARTICLE_BYTES].decode("utf-8", "ignore").encode("utf-8")  # not mid-character
        err(
            f"warning: {name}: over {MAX_ARTICLE_BYTES // 1_000_000} MB; only its first "
            f"{MAX_ARTICLE_BYTES // 1_000_000} MB are matched"
        )
    try:
        text, warning = decode(data, name)
    except ArchiveError as exc:
        raise ArchiveError(name, as_article(exc.reason, data)) from None
    if warning:
        err(f"warning: {name}: {warning}")
    return parse_article(text, name)


MAX_ARTICLE_BYTES = MAX_DRAFT_BYTES
"""An article longer than this (a draft is tens of kB; 2 MB is a book) is cut to it, with a
warning: the ranking's cost grows with the article's length."""


def explain_lines(s: Suggestion, check_titles: dict[str, str]) -> list[str]:
    status = s.status if s.status == "open" else f"answered by {', '.join(s.answered_by)}"
    lines = [
        f"{s.score:.3f}  {s.question}",
        f"       {status}; question {s.question_score:.3f}, best check {s.check_score:.3f}",
    ]
    if s.sources:
        raised = ", ".join(f"{cid} ({check_titles.get(cid, '')})" for cid in s.sources)
        lines.append(f"       raised by {raised}")
    lines.append(f"       matched: {', '.join(s.matched) or '(only through its checks)'}")
    if s.signals:
        lines.append("       signals: " + ", ".join(f"{name} {v:.3f}" for name, v in s.signals))
    return lines


@app.command("for")
def for_(
    article: Annotated[str, typer.Argument(help="The article: a saved-article file, or - for stdin.")],
    archive: ArchiveOpt = None,
    index_dir: IndexOpt = None,
    top: TopOpt = 5,
    open_only: Annotated[bool, typer.Option("--open-only", help="Only questions no check answers yet.")] = False,
    since: Annotated[str | None, typer.Option(help="Only questions raised on or after this date (YYYY-MM-DD).")] = None,
    until: Annotated[
        str | None, typer.Option(help="Only questions raised on or before this date (YYYY-MM-DD).")
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option(
            help=f"Leave out questions scoring below this (0-1) [default: {RankOptions.min_score}, "
            f"{RankOptions.meaning_min_score} with embeddings]."
        ),
    ] = None,
    fmt: FormatOpt = "text",
    template: Annotated[Path | None, typer.Option(help="Render with this Jinja2 template instead.")] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Show why each question was chosen (on stderr).")] = False,
    semantic: SemanticOpt = None,
    category: Annotated[
        str | None,
        typer.Option(help="The article's category, for the questions editors pinned for it [default: from its URL]."),
    ] = None,
    feedback: Annotated[
        bool,
        typer.Option(
            "--feedback/--no-feedback",
            help="Leave out the questions editors blocked or rejected for this article, list the ones pinned "
            "for its category first (`suggest serve` keeps them beside the index).",
        ),
    ] = True,
    quiet: QuietOpt = False,
) -> None:
    """Print the "Want to dive deeper?" list for ARTICLE.

    Exit codes: 0 a list was printed; 3 no question cleared the floor (nothing on stdout, or
    [] for --format json; the reason on stderr); 1 an error.

    Example: suggest for examples/draft-sea-level.txt --format markdown
    """
    with user_errors():
        opts = rank_options(top, open_only, since, until, min_score)
        category = category_option(category)
        load_template(fmt, template)  # a bad format, category or template fails before any work
        art = read_article(article)
        ix, _, choice = open_archive_index(archive, index_dir, quiet, semantic)
        opts = replace(opts, **rank_signals(choice, ix))
        said = NO_FEEDBACK
        if feedback:
            store = feedback_store(archive or default_archive(), index_dir)
            said = store.for_article(article_key(art), category or art.category)
        got = article_list(ix, art, opts, said, words=explain)
        result, records = got.result, got.records
        ranked = result.listed
        if ranked or (fmt == "json" and template is None):  # JSON stays parseable: []
            out = render(
                ranked,
                fmt,
                template,
                check_url=lambda cid: safe_url(records[cid].get("url")) or f"#check-{safe_id(cid)}",
                check_info=lambda cid: records[cid],
            )
            echo(out, nl=False)
        if len(ranked) < top:
            err(f"note: {shortfall(len(ranked), result)}; not padding the list", quiet and bool(ranked))
        if explain:
            titles = {k: v["title"] for k, v in records.items()}
            for s in ranked:
                err("\n".join(explain_lines(s, titles)))
            for s, why in result.held:
                err("\n".join(["held back: " + why, *explain_lines(s, titles)]))
        if not ranked:
            raise typer.Exit(NO_LIST)


NO_LIST = 3
"""Exit code of `suggest for` when no question cleared the floor."""


def shortfall(n: int, result: Explained) -> str:
    """Why the list is short, in one line: how many cleared the floor, and what held the other
    candidates above it back (counted by rule)."""
    above = [why for s, why in result.held if s.score >= result.floor]
    got = (
        f"only {n} question(s) cleared the floor {result.floor:.3f}"
        if n
        else f"no question cleared the floor {result.floor:.3f}"
    )
    if not above:
        return f"{got}; no other candidate scored that high"
    counts: dict[str, int] = {}
    for why in above:
        rule = why.split(" (")[0].split(":")[0]
        counts[rule] = counts.get(rule, 0) + 1
    return f"{got}; held back above it: " + "; ".join(f"{k} x{v}" if v > 1 else k for k, v in counts.items())
