"""suggest show: print what the reader made of files, as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from suggest.archive import read_archive
from suggest.cli import app
from suggest.cli.common import echo, err, user_errors


@app.command("show")
def show(
    files: Annotated[list[Path], typer.Argument(help="Saved articles, .jsonl exports or folders.", exists=True)],
    strict: Annotated[
        bool, typer.Option("--strict", help="Also exit 1 when a file inside a FOLDER is skipped.")
    ] = False,
) -> None:
    """Print the records read from FILES as JSON (one object for one check, else a list).

    Exit codes: 0 everything named was read (files skipped inside a folder are reported on
    stderr); 1 a file named on the command line could not be read, or, with --strict, a file
    inside a folder was skipped.

    Example: suggest show corpus/health/vaccines-autism-evidence-a3f91c.txt
    """
    with user_errors():
        records: list[dict] = []
        bad, bad_file = 0, False
        for f in files:
            arch = read_archive(f)
            for p in arch.problems:
                err(str(p))
            bad += len(arch.skipped)
            bad_file |= bool(arch.skipped) and f.is_file()
            records.extend(c.to_dict() for c in arch.checks)
            if f.is_dir():
                err(f"{f}: {arch.summary()}")
        if records:
            out = records[0] if len(records) == 1 and len(files) == 1 and not files[0].is_dir() else records
            echo(json.dumps(out, ensure_ascii=False, indent=2))
        if bad_file or (strict and bad):
            raise typer.Exit(1)
