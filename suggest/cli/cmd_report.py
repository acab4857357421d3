"""suggest report: one self-contained HTML page for editors (figures, charts, backlog, lists)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from suggest.cli import app
from suggest.cli.cmd_batch import ChunkOpt, RecentOpt
from suggest.cli.common import (
    ArchiveOpt,
    IndexOpt,
    JobsOpt,
    QuietOpt,
    SemanticOpt,
    TopOpt,
    default_archive,
    echo,
    err,
    open_archive_index,
    progress_bar,
    rank_signals,
    user_errors,
)


@app.command("report")
def report(
    archive: ArchiveOpt = None,
    index_dir: IndexOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the page to this file [default: stdout].", dir_okay=False)
    ] = None,
    recent: RecentOpt = 90,
    backlog_top: Annotated[int, typer.Option("--backlog", min=1, help="Rows of the backlog table.")] = 20,
    top: TopOpt = 5,
    jobs: JobsOpt = None,
    chunk: ChunkOpt = None,
    semantic: SemanticOpt = None,
    feedback: Annotated[
        bool,
        typer.Option(
            "--feedback/--no-feedback",
            help="Apply the editors' feedback to the lists and the backlog, as `suggest batch` and `suggest backlog` "
            "do (`suggest serve` keeps it beside the index).",
        ),
    ] = True,
    quiet: QuietOpt = False,
) -> None:
    """Write the HTML report: archive figures, charts, the research backlog and every check's list.

    Example: suggest report --archive corpus --out report.html
    """
    from suggest.archive import read_archive
    from suggest.batch import NO_LIST_FEEDBACK, check_settings, iter_lists
    from suggest.index import default_index_dir
    from suggest.records import RankOptions
    from suggest.report import build_report, check_report_path, write_report
    from suggest.serve.lists import archive_keys, feedback_store, list_feedback, open_backlog

    with user_errors():
        check_settings("html", jobs, chunk)
        root = archive or default_archive()
        if out is not None:
            check_report_path(out, root)
        ix, arch, choice = open_archive_index(root, index_dir, quiet, semantic, jobs=jobs, status=True)
        arch = arch or read_archive(root)
        store = feedback_store(root, index_dir) if feedback else None
        said = NO_LIST_FEEDBACK
        if store is not None:
            said = list_feedback(ix, store, archive_keys(root))
        b = open_backlog(ix, store, recent_days=recent, top=backlog_top, semantic=choice is not False)
        with progress_bar("ranking", quiet) as bar:
            lists = list(
                iter_lists(
                    ix,
                    RankOptions(top=top, **rank_signals(choice, ix)),
                    jobs,
                    chunk,
                    index_dir or default_index_dir(root),
                    bar,
                    said,
                )
            )
        if out is None:
            echo(build_report(ix, lists, b, arch), nl=False)
        else:
            written = write_report(out, ix, lists, b, arch)
            err(f"report {'written' if written else 'unchanged'}: {out}", quiet)
