"""The index build's chunks of checks, cut by content, and the cache of their counts.

A chunk ends after a check whose text digest (`suggest.archive.text_digest`) falls in one of
`MEAN` slots (or when it reaches `suggest.build.CHUNK` checks), so adding, editing, removing or
moving a check changes the chunk it is in and no other: the next build counts that chunk again
and takes every other chunk's counts from the cache. Counts do not depend on how the archive is
cut (tests/test_build.py), so a build from the cache equals a build from scratch, matrix for
matrix (tests/test_incremental.py).

The cache is a folder beside the index (``.NAME.counts``): one folder per chunk, named by a
digest of the chunk's check digests and the settings the counts depend on, written under a
temporary name and renamed into place (a killed build leaves no half entry, only a temporary
folder the next build clears). After a build, entries it did not use are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

COUNT_FORMAT = 1
"""Bumped whenever tokenising or counting changes: older cache entries are then never used."""

MEAN = 512
"""About one check in this many ends a chunk."""

_FILES = ("title", "summary", "body", "questions", "members", "chars")
_ARRAYS = ("terms", "df", "alphabet", "grams", "gram_df")


def bounds(digests: Sequence[str], most: int, cuts: Sequence[int] = ()) -> list[tuple[int, int]]:
    """Chunks (start, end) of checks with these digests: cut after a check whose digest's first
    32 bits are a multiple of `MEAN`, after ``most`` checks, and before each place in ``cuts``
    (`file_cuts`)."""
    out: list[tuple[int, int]] = []
    start = 0
    cut = set(cuts)
    for i, d in enumerate(digests):
        if i + 1 - start >= most or int(d[:8], 16) % MEAN == 0 or (i + 1) in cut:
            out.append((start, i + 1))
            start = i + 1
    if start < len(digests):
        out.append((start, len(digests)))
    return out


def file_cuts(files: Sequence[str]) -> list[int]:
    """Where a chunk must end, given each check's file: around every file of `MEAN` checks or
    more, so a chunk to count again never needs the text of a big file that did not change
    (small files, one check each, share chunks)."""
    runs: list[tuple[int, int]] = []  # (start, end) of each file's checks
    for i, f in enumerate(files):
        if i and f == files[i - 1]:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    out: set[int] = set()
    for s, e in runs:
        if e - s >= MEAN:
            out.update((s, e))
    return sorted(out)


def chunk_key(digests: Sequence[str], config) -> str:  # type: ignore[no-untyped-def]
    """The cache key of a chunk: its checks' digests and every setting its counts depend on."""
    from importlib.metadata import version

    h = hashlib.sha256()
    settings = {
        "format": COUNT_FORMAT,
        "nltk": version("nltk"),
        "ngram_max": config.ngram_max,
        "chars": bool(config.char_weight),
        "char_chars": config.char_chars,
        "char_ngram_min": config.char_ngram_min,
        "char_ngram_max": config.char_ngram_max,
    }
    h.update(json.dumps(settings, sort_keys=True).encode())
    for d in digests:
        h.update(d.encode())
    return h.hexdigest()


class CountCache:
    """The counts of chunks, by `chunk_key`, in ``folder``. ``read`` False: entries are
    written, never read (a forced rebuild). A cache that cannot be written is left alone;
    ``unsaved`` says why."""

    def __init__(self, folder: str | Path, read: bool = True) -> None:
        self.folder = Path(folder)
        self.read = read
        self.used: set[str] = set()
        self.unsaved: str | None = None
        self.hits = 0

    def get(self, key: str, dest: Path):  # type: ignore[no-untyped-def]
        """The chunk's counts linked into ``dest`` and its vocabulary (``Analysed`` fields but
        ``chunk``), or None."""
        self.used.add(key)
        entry = self.folder / key
        if not self.read or not (entry / "meta.json").is_file():
            return None
        try:
            meta = json.loads((entry / "meta.json").read_text("utf-8"))
            arrays = {name: np.load(entry / f"{name}.npy", allow_pickle=False) for name in _ARRAYS}
            dest.mkdir()
            for name in _FILES:
                _link(entry / f"{name}.npz", dest / f"{name}.npz")
        except (OSError, ValueError, KeyError):  # a damaged entry: counted again
            shutil.rmtree(dest, ignore_errors=True)
            return None
        self.hits += 1
        return meta["words"], arrays, meta["stems"]

    def put(self, key: str, source: Path, words: list[str], arrays: dict[str, np.ndarray], stems: dict) -> None:
        """Keep the counts in ``source`` (a chunk's work folder) and its vocabulary."""
        self.used.add(key)
        if self.unsaved or (self.folder / key / "meta.json").is_file():
            return
        tmp = self.folder / f".tmp-{key}-{os.getpid()}"
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for name in _FILES:
                _link(source / f"{name}.npz", tmp / f"{name}.npz")
            for name in _ARRAYS:
                np.save(tmp / f"{name}.npy", arrays[name], allow_pickle=False)
            (tmp / "meta.json").write_text(json.dumps({"words": words, "stems": stems}), "utf-8")
            shutil.rmtree(self.folder / key, ignore_errors=True)
            os.replace(tmp, self.folder / key)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            self.unsaved = exc.strerror or str(exc)

    def compact(self) -> None:
        """Remove the entries this build did not use (and any left half-written)."""
        if not self.folder.is_dir():
            return
        for p in self.folder.iterdir():
            if p.is_dir() and p.name not in self.used:
                shutil.rmtree(p, ignore_errors=True)
            elif not p.is_dir() and p.name != "files.jsonl":  # a killed build's temporary file
                p.unlink(missing_ok=True)


def _link(src: Path, dst: Path) -> None:
    """``dst`` as a second name of ``src`` (a copy where links are not possible)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
