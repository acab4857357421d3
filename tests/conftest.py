"""Shared fixtures: where the saved-article fixtures, the shipped corpus and ../shared live."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# The suite pins the words-only path: with the `semantic` extra installed, an index would get
# embeddings by default and every command started in a subprocess would load the model. The
# embedding signal has its own tests (tests/test_semantic.py), which turn it on.
os.environ.setdefault("SUGGEST_SEMANTIC", "0")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """tests/fixtures: one small saved article per rendering and body format."""
    return TESTS / "fixtures"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The sample archive shipped in corpus/."""
    return TESTS.parent / "corpus"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder next to the repository; skips the test when it is absent."""
    shared = Path(__file__).resolve().parents[2] / "shared"
    if not shared.is_dir():
        pytest.skip(f"{shared} is absent: the shared data (seeds, FORMAT.md) lives next to the repository")
    return shared


_READ = """
import json, sys
from suggest.archive import read_archive
a = read_archive(sys.argv[1])
print(json.dumps({"checks": [c.path for c in a.checks],
                  "problems": [[p.path, p.message, p.line, p.skipped] for p in a.problems]}))
"""


@pytest.fixture(scope="session")
def read_as_user():
    """``read_archive`` in a subprocess where file permissions apply: as root, without the
    capabilities that let root read anything (setpriv); skips when that is impossible.
    Returns ``{"checks": [paths], "problems": [[path, message, line, skipped], ...]}``."""

    def run(path: Path) -> dict:
        cmd = [sys.executable, "-c", _READ, str(path)]
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: chmod 000 does not stop root from reading")
            caps = "-dac_override,-dac_read_search"
            cmd = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
        return json.loads(done.stdout)

    return run


# -- processes (Linux /proc), for the tests that kill runs ---------------------------------------


def children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def corpus_copy(tmp_path_factory, name: str) -> Path:  # type: ignore[no-untyped-def]
    """A private copy of the shipped corpus (without its saved index), so tests never write
    into the repository."""
    import shutil

    dest = tmp_path_factory.mktemp(name) / "corpus"
    shutil.copytree(TESTS.parent / "corpus", dest, ignore=shutil.ignore_patterns(".*"))
    return dest
