"""suggest backlog: the archive's open questions, ranked for editors."""

from __future__ import annotations

from typing import Annotated

import typer

from suggest.cli import app
from suggest.cli.cmd_batch import RecentOpt
from suggest.cli.common import (
    ArchiveOpt,
    FormatOpt,
    IndexOpt,
    QuietOpt,
    SemanticOpt,
    default_archive,
    echo,
    open_archive_index,
    user_errors,
)


@app.command("backlog")
def backlog(
    archive: ArchiveOpt = None,
    index_dir: IndexOpt = None,
    recent: RecentOpt = 90,
    top: Annotated[int, typer.Option("--top", "-n", min=1, help="How many questions at most.")] = 20,
    fmt: FormatOpt = "text",
    semantic: SemanticOpt = None,
    feedback: Annotated[
        bool,
        typer.Option(
            "--feedback/--no-feedback",
            help="Leave out the questions editors blocked or marked answered (`suggest serve` keeps them beside the index).",
        ),
    ] = True,
    quiet: QuietOpt = False,
) -> None:
    """Print the open questions (none answered yet), ranked by how often they were raised, how
    related they are to recent coverage and how central they are to a topic.

    Example: suggest backlog --archive corpus --recent 30 --top 10 --format markdown
    """
    from suggest.render import output_format, render_backlog
    from suggest.serve.lists import feedback_store, open_backlog

    with user_errors():
        output_format(fmt)  # an unknown format fails before the index is opened
        ix, _, choice = open_archive_index(archive, index_dir, quiet, semantic)
        store = feedback_store(archive or default_archive(), index_dir) if feedback else None
        b = open_backlog(ix, store, recent_days=recent, top=top, semantic=choice is not False)
        echo(render_backlog(b, fmt), nl=False)
