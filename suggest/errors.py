"""Named errors. The library raises these; only the CLI turns them into one line and exit 1."""

from __future__ import annotations

from pathlib import Path


class SuggestError(Exception):
    """Base of every error a user can cause. The message names the bad value and the fix."""


class ArchiveError(SuggestError):
    """A file of the archive (or an article) that cannot be read as a check.

    Parameters
    ----------
    path : the file.
    message : what is wrong and how to fix it.
    line : 1-based line number, when the problem sits on one line.
    """

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        """Pickled by its parts (it crosses from a worker process when files are read in parallel)."""
        return (type(self), (self.path, self.reason, self.line))


class IndexFormatError(SuggestError):
    """A saved index that is missing, damaged or of another format version."""


class EmptyArchiveError(SuggestError):
    """An archive with no readable checks, or with no questions to suggest."""


class OptionError(SuggestError):
    """A setting or option value out of range."""


class OutputError(SuggestError):
    """An output that cannot be written (full disk, permissions, unsafe path)."""
