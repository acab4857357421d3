"""suggest batch: every check's "Want to dive deeper?" list into a folder (resumable)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from suggest.cli import app
from suggest.cli.common import (
    ArchiveOpt,
    FormatOpt,
    IndexOpt,
    JobsOpt,
    QuietOpt,
    SemanticOpt,
    TopOpt,
    default_archive,
    err,
    open_archive_index,
    progress_bar,
    rank_signals,
    user_errors,
)

ChunkOpt = Annotated[
    int | None, typer.Option("--chunk", min=1, help="Checks per chunk [default: sized to about 256 MB].")
]
RecentOpt = Annotated[
    int,
    typer.Option("--recent", min=0, help="Backlog: 'recent' means dated within this many days of the newest check."),
]


@app.command("batch")
def batch(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if needed).", file_okay=False)],
    archive: ArchiveOpt = None,
    index_dir: IndexOpt = None,
    fmt: FormatOpt = "text",
    top: TopOpt = 5,
    jobs: JobsOpt = None,
    chunk: ChunkOpt = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the HTML report to this file.", dir_okay=False)
    ] = None,
    recent: RecentOpt = 90,
    semantic: SemanticOpt = None,
    feedback: Annotated[
        bool,
        typer.Option(
            "--feedback/--no-feedback",
            help="Leave out the questions editors blocked, or rejected for a check, and list the ones pinned for a "
            "check's category first (`suggest serve` keeps them beside the index).",
        ),
    ] = True,
    quiet: QuietOpt = False,
) -> None:
    """Write every check's list, as if it were new, into OUT (suggestions.jsonl + one file per check).

    A killed run continues where it stopped; a re-run leaves unchanged files alone. A second
    run into the same OUT while one is running fails at once.

    Example: suggest batch --archive corpus --out lists --format markdown --report report.html
    """
    from suggest.batch import NO_LIST_FEEDBACK, check_settings, run_batch
    from suggest.files import outside_archive
    from suggest.index import default_index_dir
    from suggest.records import RankOptions
    from suggest.report import check_report_path

    with user_errors():
        check_settings(fmt, jobs, chunk)
        root = archive or default_archive()
        outside_archive(out, root, "--out")
        if report is not None:
            check_report_path(report, root, "--report")
        ix, arch, choice = open_archive_index(root, index_dir, quiet, semantic, jobs=jobs, status=True)
        said = NO_LIST_FEEDBACK
        if feedback:
            from suggest.serve.lists import archive_keys, feedback_store, list_feedback

            said = list_feedback(ix, feedback_store(root, index_dir), archive_keys(root))
        with progress_bar("batch", quiet) as bar:
            stats = run_batch(
                ix,
                out,
                fmt,
                RankOptions(top=top, **rank_signals(choice, ix)),
                jobs,
                chunk,
                index_dir or default_index_dir(root),
                progress=bar,
                archive=root,
                feedback=said,
            )
        err(
            f"batch: {stats.checks} checks in {stats.chunks} chunks ({stats.computed} ranked, "
            f"{stats.chunks - stats.computed} reused); {stats.written} files written, {stats.unchanged} unchanged, "
            f"{stats.removed} removed -> {stats.out}",
            quiet,
        )
        if report is not None:
            from suggest.archive import read_archive
            from suggest.batch import read_results
            from suggest.report import write_report
            from suggest.serve.lists import feedback_store, open_backlog

            arch = arch or read_archive(root)
            store = feedback_store(root, index_dir) if feedback else None
            b = open_backlog(ix, store, recent_days=recent, semantic=choice is not False)
            written = write_report(report, ix, read_results(out), b, arch)
            err(f"report {'written' if written else 'unchanged'}: {report}", quiet)
