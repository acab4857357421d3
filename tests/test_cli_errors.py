"""Every failure a user can cause ends with exit code 1 and one line ``error: ...`` on stderr,
nothing on stdout, never a traceback.

The commands and their parameters are discovered from the Typer app (names, option spellings,
types, ranges), so a new command or option is walked without touching this file; a new text
option needs a bad value in `BAD_TEXT`, and the walk fails until it has one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from suggest.cli import app

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "vax-aaaaaa.txt": "Do vaccines cause autism?\nExecutive Summary\nCohort studies found no link between "
    "vaccines and autism.\nWant to dive deeper?\nWhat did the Danish cohort studies find about autism?\n"
    "How does vaccine safety monitoring work?\n",
    "sea-bbbbbb.txt": "Is sea level rise accelerating?\nExecutive Summary\nTide gauges show faster sea level "
    "rise.\nWant to dive deeper?\nHow much will sea levels rise by 2100?\nWhich coastal cities sink fastest?\n",
    "knuckles-cccccc.txt": "Does cracking knuckles cause arthritis?\nExecutive Summary\nNo link was found.\n"
    "Want to dive deeper?\nWhy do knuckles pop?\n",
}
DRAFT = "Vaccines and autism\nExecutive Summary\nNew cohort studies on vaccines and autism.\n"

# A bad value for every text option: text options cannot be checked by type.
BAD_TEXT = {"--format": "xml", "--since": "last week", "--until": "2025-13-45", "--split": "no-such-split", "--set": "no_such_setting=1", "--preset": "no-such-preset", "--host": "no host!", "--category": " "}


@dataclass(frozen=True)
class Param:
    command: str
    name: str
    opts: tuple[str, ...]  # ("--top", "-n"); () for an argument
    kind: type  # int, float, str, bool or Path
    many: bool
    required: bool
    low: float | None
    high: float | None
    dirs_only: bool


def _unwrap(hint: object) -> tuple[type, bool, object]:
    """(base type, is a list, Typer's OptionInfo/ArgumentInfo) of an annotated parameter."""
    info = None
    if typing.get_origin(hint) is typing.Annotated:
        hint, info = typing.get_args(hint)[0], typing.get_args(hint)[1]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    many = typing.get_origin(hint) is list
    if many:
        hint = typing.get_args(hint)[0]
    return hint, many, info  # type: ignore[return-value]


def discover() -> dict[str, list[Param]]:
    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    # Through the group's own listing: it imports each command's module on first use.
    commands = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    callbacks = {c.name: c.callback for c in app.registered_commands}
    found: dict[str, list[Param]] = {}
    for name, cmd in sorted(commands.items()):
        hints = typing.get_type_hints(callbacks[name], include_extras=True)
        params = []
        for p in cmd.params:
            kind, many, info = _unwrap(hints[p.name])
            params.append(
                Param(
                    command=name,
                    name=p.name,
                    opts=tuple(o for o in p.opts if o.startswith("-")),
                    kind=kind,
                    many=many,
                    required=bool(p.required),
                    low=getattr(info, "min", None),
                    high=getattr(info, "max", None),
                    dirs_only=getattr(info, "file_okay", True) is False,
                )
            )
        found[name] = params
    return found


COMMANDS = discover()


def test_discovery_sees_every_command_in_help():
    r = CliRunner().invoke(app, ["--help"])
    listed = [line.split()[0] for line in r.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert sorted(listed) == sorted(COMMANDS)
    assert {"for", "index", "show"} <= set(COMMANDS)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """A tiny archive with its index, a draft, and a regular file to put paths under."""
    root = tmp_path_factory.mktemp("cli")
    archive = root / "archive"
    archive.mkdir()
    for name, text in TINY.items():
        (archive / name).write_text(text, "utf-8")
    (root / "draft.txt").write_text(DRAFT, "utf-8")
    (root / "plain").write_text("a regular file", "utf-8")
    r = CliRunner().invoke(app, ["index", "--archive", str(archive), "--index", str(root / "ix"), "--quiet"])
    assert r.exit_code == 0, r.stderr
    return {"root": root, "archive": archive, "index": root / "ix", "draft": root / "draft.txt",
            "blocked": root / "plain" / "x"}


def good_value(p: Param, world: dict[str, Path]) -> str:
    if p.kind is Path and p.dirs_only:
        return str(world["root"] / f"out-{p.command}")
    if p.kind in (Path, str):
        return str(world["draft"])
    return "1"


def invocation(cmd: str, world: dict[str, Path], drop: str | None = None, **override: str) -> list[str]:
    """A valid command line (required values, the tiny archive and index, quiet), with one
    parameter dropped or given another value."""
    args, tail = [cmd], []
    for p in COMMANDS[cmd]:
        if p.name == drop:
            continue
        value = override.get(p.name)
        if value is None and p.required:
            value = good_value(p, world)
        elif value is None and p.opts and p.opts[0] in ("--archive", "--index"):
            value = str(world[p.opts[0].lstrip("-")])
        elif value is None and p.opts == ("--quiet", "-q"):
            args.append("--quiet")
        if value is None:
            continue
        if p.opts:
            args += [p.opts[0], value] if p.kind is not bool else [f"{p.opts[0]}={value}"]
        else:
            tail.append(value)
    return args + tail


def bad_cases() -> list[tuple[str, str, str | None, dict[str, str]]]:
    """(command, what is wrong, parameter to drop, values to override) for every command."""
    cases = []
    for cmd, params in COMMANDS.items():
        cases.append((cmd, "unknown option --no-such-option", None, {"__extra__": "--no-such-option"}))
        for p in params:
            label = p.opts[0] if p.opts else p.name.upper()
            if p.required:
                cases.append((cmd, f"missing {label}", p.name, {}))
            if p.kind is bool:
                cases.append((cmd, f"{label} given a value", None, {p.name: "maybe"}))
            elif p.kind in (int, float):
                cases.append((cmd, f"{label} not a number", None, {p.name: "abc"}))
                if p.low is not None:
                    cases.append((cmd, f"{label} below {p.low}", None, {p.name: str(p.low - 1)}))
                if p.high is not None:
                    cases.append((cmd, f"{label} above {p.high}", None, {p.name: str(p.high + 1)}))
            elif p.kind is Path or (p.kind is str and not p.opts):
                cases.append((cmd, f"{label} under a regular file", None, {p.name: "__blocked__"}))
            elif p.kind is str:
                cases.append((cmd, f"{label} bad text", None, {p.name: BAD_TEXT.get(label, "__missing__")}))
    return cases


CASES = bad_cases()


@pytest.mark.parametrize(("cmd", "what", "drop", "override"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_every_command_rejects_bad_arguments_with_one_line(world, cmd, what, drop, override):
    override = dict(override)
    extra = override.pop("__extra__", None)
    assert "__missing__" not in override.values(), f"add a bad value for {what.split()[0]} to BAD_TEXT"
    override = {k: (str(world["blocked"]) if v == "__blocked__" else v) for k, v in override.items()}
    args = invocation(cmd, world, drop=drop, **override)
    if extra:
        args.append(extra)
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1, f"{args}: exit {r.exit_code}\n{r.stdout}{r.stderr}"
    assert isinstance(r.exception, SystemExit), f"{args}: {r.exception!r}"
    assert r.stdout == "", args
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{args}:\n{r.stderr}"


def test_the_walk_covers_each_kind_of_mistake():
    whats = [w for _, w, _, _ in CASES]
    for kind in ("missing", "not a number", "below", "above", "under a regular file", "bad text", "given a value"):
        assert any(kind in w for w in whats), kind
    for cmd in COMMANDS:
        assert (cmd, "unknown option --no-such-option") in [(c, w) for c, w, _, _ in CASES]


def test_real_entry_point_prints_one_line_not_a_traceback(world):
    """The same through the installed entry point (``python -m suggest``), as a shell sees it."""
    for args in (["for", str(world["draft"]), "--top", "zero"], ["index", "--index", str(world["blocked"])],
                 ["nosuchcommand"]):
        r = subprocess.run([sys.executable, "-m", "suggest", *args, "--archive", str(world["archive"])],
                           capture_output=True, text=True, timeout=60, cwd=world["root"])
        assert r.returncode == 1, r.stderr
        assert r.stdout == "" and r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr


# -- user-caused failures beyond argument parsing -----------------------------------------------


def as_user(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run suggest so that file permissions apply: root ignores them, so drop the capabilities
    that let root read and write anything (setpriv) when the tests run as root."""
    cmd = [sys.executable, "-m", "suggest", *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        caps = "-dac_override,-dac_read_search"
        cmd = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd)


def one_error_line(r: subprocess.CompletedProcess, *words: str) -> str:
    assert r.returncode == 1, r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("what", ["folder", "jsonl file"])
def test_unreadable_archive_is_one_line(world, tmp_path, what):
    if what == "folder":
        archive = tmp_path / "archive"
        shutil.copytree(world["archive"], archive)
    else:
        archive = tmp_path / "archive.jsonl"
        archive.write_text('{"title": "Is tea healthy?", "questions": ["Does tea help sleep?"]}\n', "utf-8")
    archive.chmod(0)
    try:
        r = as_user(["for", str(world["draft"]), "--archive", str(archive), "--index", str(tmp_path / "ix"),
                     "--quiet"], tmp_path)
    finally:
        archive.chmod(0o755)
    one_error_line(r, str(archive), "not readable")


def test_archive_whose_files_are_all_unreadable_is_one_line(world, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(world["archive"], archive)
    for f in archive.iterdir():
        f.chmod(0)
    r = as_user(["index", "--archive", str(archive)], tmp_path)
    # Each skipped file is named with its reason, then one error line ends the run.
    assert r.returncode == 1 and r.stdout == "" and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert lines[-1].startswith("error: ") and "no readable checks" in lines[-1]
    assert sum(line.startswith("error: ") for line in lines) == 1
    assert sum("Permission denied" in line for line in lines) == len(TINY)


@pytest.mark.parametrize("where", ["under a regular file", "in a read-only folder"])
def test_index_that_cannot_be_written_is_one_line(world, tmp_path, where):
    if where == "under a regular file":
        index = world["blocked"] / "ix"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        index = ro / "ix"
    try:
        r = as_user(["for", str(world["draft"]), "--archive", str(world["archive"]), "--index", str(index)], tmp_path)
    finally:
        if where != "under a regular file":
            ro.chmod(0o755)
    one_error_line(r)
    assert not index.exists()
