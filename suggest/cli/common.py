"""Options and helpers shared by the commands."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from suggest.errors import SuggestError

if TYPE_CHECKING:
    from suggest.index import Index
    from suggest.records import Archive


def default_archive() -> Path:
    """SUGGEST_ARCHIVE, else the `corpus/` shipped beside the package, else ./corpus."""
    env = os.environ.get("SUGGEST_ARCHIVE")
    if env:
        return Path(env)
    shipped = Path(__file__).resolve().parents[2] / "corpus"
    return shipped if shipped.is_dir() else Path("corpus")


JobsOpt = Annotated[
    int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes [default and most: the machine's cores].")
]
ArchiveOpt = Annotated[
    Path | None,
    typer.Option(
        "--archive",
        "-a",
        help="Archive folder or .jsonl file [default: $SUGGEST_ARCHIVE or the shipped corpus/].",
        exists=True,
        file_okay=True,
        dir_okay=True,
        readable=True,
    ),
]
IndexOpt = Annotated[
    Path | None,
    typer.Option("--index", help="Index folder [default: .suggest-index inside the archive]."),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="No status lines or progress on stderr (notes, warnings and skipped files still are)."
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="text, markdown, html or json.")]
TopOpt = Annotated[int, typer.Option("--top", "-n", min=1, max=100, help="How many questions at most.")]


def echo(text: str, nl: bool = True) -> None:
    """Print a result on stdout; a write that fails (a full disk behind ``>``) is one error line."""
    try:
        typer.echo(text, nl=nl)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        exc.filename = exc.filename or "standard output"
        raise exc from None


def err(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


_ALWAYS = ("note:", "warning:", "skipped:")


def notifier(quiet: bool) -> Callable[[str], None]:
    """Where the index's messages go: status lines obey ``--quiet``; notes (the index is being
    rebuilt, and why), warnings and skipped files are always said, so nothing is dropped
    silently."""
    return lambda m: err(m, quiet and not m.startswith(_ALWAYS))


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's named errors into one line on stderr and exit code 1."""
    try:
        yield
    except SuggestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        raise typer.Exit(1) from None
    except BrokenPipeError:
        raise typer.Exit(1) from None
    except OSError as exc:  # a full disk, a path too long, a device error: the system's words
        print(f"error: {os_error(exc)}", file=sys.stderr)
        raise typer.Exit(1) from None
    except MemoryError:
        print("error: out of memory; close other programs, or use a smaller --chunk or fewer --jobs", file=sys.stderr)
        raise typer.Exit(1) from None


def os_error(exc: OSError) -> str:
    """One line for an OSError the library did not name: the file, the system's reason, a fix."""
    import errno

    where = f"{exc.filename}: " if exc.filename is not None else ""
    fixes = {
        errno.ENOSPC: "free some space and run again",
        errno.EDQUOT: "free some space and run again",
        errno.ENAMETOOLONG: "use a shorter path",
        errno.EACCES: "fix the permissions",
        errno.EPERM: "fix the permissions",
        errno.EROFS: "write somewhere writable",
        errno.EIO: "check the disk",
    }
    fix = fixes.get(exc.errno or 0, "check the path and the disk")
    return f"{where}{exc.strerror or exc}; {fix}"


@contextlib.contextmanager
def progress_bar(label: str, quiet: bool, unit: str = "checks") -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr (rate in ``unit`` per second, ETA), fed with (done, total);
    silent if quiet."""
    if quiet:
        yield lambda _done, _total: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:  # type: ignore[no-untyped-def]
            return Text(f"{task.speed:,.0f} {unit}/s" if task.speed else f"- {unit}/s")

    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    bar = Progress(*columns, console=Console(stderr=True))
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:  # shown from the first report on, so early errors stay one line
            bar.start()
            task = bar.add_task(label, total=total, completed=done)
        else:
            bar.update(task, completed=done)

    try:
        yield update
    finally:
        if task is not None:
            bar.stop()


SemanticOpt = Annotated[
    bool | None,
    typer.Option(
        "--semantic/--no-semantic",
        help="Sentence embeddings as one more signal (needs: pip install 'suggest[semantic]') "
        "[default: $SUGGEST_SEMANTIC, else on when the index has them; a new index gets them when the extra is installed].",
    ),
]


def semantic_choice(flag: bool | None) -> bool | None:
    """--semantic / --no-semantic, else $SUGGEST_SEMANTIC, else None (`suggest.embed.choice`)."""
    from suggest.embed import choice

    return choice(flag)


def rank_signals(choice: bool | None, index: object) -> dict:
    """RankOptions fields for the choice: --no-semantic drops the signals of meaning from an
    index that has embeddings (without them the signals count for nothing, and the options
    stay the defaults: the batch's saved results are keyed by them)."""
    from suggest.records import RankOptions

    if choice is False and getattr(index, "semantic", False):
        return {"signals": tuple(s for s in RankOptions().signals if not str(s).startswith("meaning"))}
    return {}


def open_archive_index(
    archive: Path | None,
    index_dir: Path | None,
    quiet: bool,
    semantic: bool | None,
    *,
    jobs: int | None = None,
    force: bool = False,
    status: bool = False,
    cache: bool | None = None,
) -> tuple[Index, Archive | None, bool | None]:
    """What every command does to get its index: resolve --semantic/--no-semantic, open (or
    build) the index with notes on stderr and a progress bar while texts are encoded.
    ``status``: also the build's status lines. Returns (index, the `Archive` when it was read,
    the semantic choice)."""
    from suggest.index import open_index

    choice = semantic_choice(semantic)
    say = notifier(quiet)
    with progress_bar("encoding", quiet, "texts") as bar:
        ix, arch = open_index(
            archive or default_archive(),
            index_dir,
            notify=say,
            force=force,
            jobs=jobs,
            progress=say if status else None,
            semantic=choice,
            encoding=bar,
            cache=cache,
        )
    return ix, arch, choice
