"""suggest index: build (or refresh) the saved TF-IDF index of the archive."""

from __future__ import annotations

from typing import Annotated

import typer

from suggest.cli import app
from suggest.cli.common import (
    ArchiveOpt,
    IndexOpt,
    JobsOpt,
    QuietOpt,
    SemanticOpt,
    default_archive,
    err,
    open_archive_index,
    user_errors,
)
from suggest.index import default_index_dir


@app.command("index")
def index(
    archive: ArchiveOpt = None,
    index_dir: IndexOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if the index is up to date.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if any archive file is skipped.")] = False,
    jobs: JobsOpt = None,
    semantic: SemanticOpt = None,
    cache: Annotated[
        bool | None,
        typer.Option(
            "--cache/--no-cache",
            help="Keep each chunk's counts beside the index (.NAME.counts, about the index's size on disk), "
            "so that the next build after a change counts only what changed; --no-cache removes them "
            "[default: $SUGGEST_COUNT_CACHE, else on].",
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Build the index of the archive (reused by `suggest for`; rebuilt when the archive changes).

    Example: suggest index --archive corpus
    """
    with user_errors():
        root = archive or default_archive()
        ix, arch, _ = open_archive_index(
            root, index_dir, quiet, semantic, jobs=jobs, force=force, status=True, cache=cache
        )
        c = ix.manifest["counts"]
        where = index_dir or default_index_dir(root)
        state = "built" if arch is not None else "up to date"
        err(
            f"index {state}: {c['checks']} checks, {c['questions']} questions in {c['pool']} pool items "
            f"({c['open']} open), {c['terms']} terms{', with embeddings' if ix.semantic else ''} -> {where}",
            quiet,
        )
        if strict and arch is not None and arch.skipped:
            raise typer.Exit(1)
