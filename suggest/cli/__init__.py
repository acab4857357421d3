"""The `suggest` command line: one module per command, all calling the library."""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

# Each command lives in cmd_<name>.py and registers itself on `app` when imported. Only the
# module of the command being run is imported; help and unknown names load them all. In the
# order `suggest --help` has always listed them.
COMMANDS = ("batch", "backlog", "eval", "for", "index", "report", "serve", "show")


class _OneLineErrors(TyperGroup):
    """Every user error ends with one line on stderr and exit code 1, never a usage dump.

    Also loads each command on first use (see `COMMANDS`).
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            # An unknown name loads every command, so "Did you mean ...?" sees them all.
            for name in (cmd_name,) if cmd_name in COMMANDS else COMMANDS:
                self._load(name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> None:
        if name in self.commands:
            return
        importlib.import_module(f"{__name__}.cmd_{name}")
        info = next(c for c in app.registered_commands if c.name == name)
        command = typer.main.get_command_from_info(
            info, pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=app.rich_markup_mode
        )
        self.add_command(command, name)

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = super().main(
                args, prog_name, complete_var, standalone_mode=False, windows_expand_args=windows_expand_args, **extra
            )
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        except typer.TyperException as exc:  # usage errors: bad option, missing argument...
            if type(exc).__name__ == "NoArgsIsHelpError":
                typer.echo(exc.format_message())  # type: ignore[attr-defined]
                sys.exit(0)
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            message = " ".join(message.split())  # click lists choices on lines of their own
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            typer.echo(f"error: {message}{hint}", err=True)
            sys.exit(1)
        # Without standalone mode, an Exit raised inside a command comes back as its code.
        if isinstance(rv, int) and not isinstance(rv, bool) and rv != 0:
            sys.exit(rv)
        return rv


app = typer.Typer(
    cls=_OneLineErrors,
    help="Rank the archive's open research questions for a new fact-check.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _group() -> None:
    # With no command registered up front, Typer needs a callback to build a group at all.
    pass


def main() -> None:
    """Console-script entry point."""
    # Everything imported so far lives until exit: leave it out of every collection. At exit,
    # one collection of what the command made, then the interpreter's own shutdown
    # collections have nothing left to walk (they took ~70 ms on numpy, scipy and pydantic).
    gc.freeze()
    try:
        app()
    except SystemExit as exc:
        _flush_stdout()
        raise exc
    finally:
        gc.collect()
        gc.freeze()
    _flush_stdout()


def _flush_stdout() -> None:
    """Flush stdout while an error can still be one line: a full disk or device behind it (``>
    /dev/full``) otherwise fails at interpreter exit, with a traceback-like message and exit 120."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        sys.exit(1)
    except OSError as exc:
        from suggest.cli.common import os_error

        _quiet_stdout()
        print(f"error: cannot write the output: {os_error(exc)}", file=sys.stderr)
        sys.exit(1)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's own flush at exit has nothing to fail on."""
    import os

    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError):
        pass
