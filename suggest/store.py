"""Plain-file storage for the saved index: atomic directory swaps, memory-mapped arrays,
sorted string tables and JSON Lines tables read by offset. No pickle anywhere."""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from suggest.errors import IndexFormatError, OutputError

_FULL_HASH_LIMIT = 16 * 1024 * 1024
_SAMPLE = 1024 * 1024


def file_digest(path: Path) -> str:
    """sha256 of a file; for big files, of its size, first and last MiB (cheap on every load)."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        if size <= _FULL_HASH_LIMIT:
            h.update(f.read())
        else:
            h.update(f.read(_SAMPLE))
            f.seek(size - _SAMPLE)
            h.update(f.read(_SAMPLE))
    return h.hexdigest()


def check_replaceable(target: Path) -> None:
    """Refuse to put an index where something else lives: only a link, an index folder (it has a
    ``manifest.json``) or an empty folder may be replaced. Raises `OutputError`."""
    if target.is_symlink() or not target.exists():
        return
    if not target.is_dir():
        raise OutputError(f"{target}: is a file, not an index folder; pass --index with a new folder")
    if not (target / "manifest.json").exists() and any(target.iterdir()):
        raise OutputError(
            f"{target}: this folder holds other files and is not an index; pass --index with a new folder"
        )


def swap_in(built: Path, target: Path) -> None:
    """Make ``target`` (a symlink) point at the finished directory ``built`` atomically.

    Readers that resolved the old link keep a complete old index; new readers get the new one.
    Older versions are removed afterwards.
    """
    link_tmp = target.parent / f".{target.name}.link-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        link_tmp.unlink()
    os.symlink(built.name, link_tmp)
    if target.exists() and not target.is_symlink():
        # An index directory from before the symlink layout: move it aside first.
        aside = target.parent / f"{target.name}.old-{os.getpid()}"
        os.replace(target, aside)
        shutil.rmtree(aside, ignore_errors=True)
    os.replace(link_tmp, target)
    # Older versions, and what killed builds left: half-written versions, temporary links and
    # folders moved aside. Builders hold the lock (`open_index`), so none of these is in use.
    name = re.escape(target.name)
    versions = re.compile(rf"{name}\.(?:v-[a-z0-9_]{{8}}|old-\d+)")
    links = re.compile(rf"\.{name}\.link-\d+")
    for old in target.parent.iterdir():
        if versions.fullmatch(old.name) and old.name != built.name:
            shutil.rmtree(old, ignore_errors=True)
        elif links.fullmatch(old.name):
            with contextlib.suppress(OSError):
                old.unlink()


def new_version_dir(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{target.name}.v-", dir=target.parent))


def save_array(folder: Path, name: str, arr: np.ndarray) -> None:
    np.save(folder / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)


def load_array(folder: Path, name: str, mmap: bool = True) -> np.ndarray:
    try:
        return np.load(folder / f"{name}.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"{folder}: {name}.npy is damaged ({exc})") from None


def write_strings(folder: Path, name: str, items: Sequence[str]) -> None:
    """A list of strings (or a `StringTable`) as one UTF-8 blob plus an offsets array."""
    table = items if isinstance(items, StringTable) else StringTable.of(items)
    with open(folder / f"{name}.bin", "wb") as f:
        f.write(np.ascontiguousarray(table.blob, dtype=np.uint8).data)
    save_array(folder, f"{name}.offsets", np.asarray(table.offsets, dtype=np.int64))


class StringTable(Sequence[str]):
    """Strings as one UTF-8 blob and where each starts (``offsets``, one more than strings,
    from 0); `find` needs sorted items. In memory (`of`, `suggest.count.spell_table`) or
    memory-mapped from an index (`Strings`)."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets
        # Plain memory views of the arrays: a binary search reads a few dozen entries per
        # word, and numpy's per-element indexing of a memmap costs more than the comparison.
        self._at = memoryview(np.ascontiguousarray(offsets, dtype=np.int64).data).cast("B").cast("q")
        self._bytes = memoryview(np.asarray(blob).data).cast("B")

    @classmethod
    def of(cls, items: Sequence[str]) -> StringTable:
        """The table of ``items``: each string's length in UTF-8 bytes from its characters (1
        byte each, one more from U+0080, U+0800 and U+10000), with one encode of them all."""
        items = list(items)
        lens = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
        joined = "".join(items)
        blob = joined.encode("utf-8")
        if len(blob) != int(lens.sum()):  # not all ASCII
            codes = np.frombuffer(joined.encode("utf-32-le"), dtype="<u4")
            extra = np.zeros(len(codes) + 1, dtype=np.int64)
            np.cumsum((codes >= 0x80).astype(np.int64) + (codes >= 0x800) + (codes >= 0x10000), out=extra[1:])
            ends = np.cumsum(lens)
            lens = lens + extra[ends] - extra[ends - lens]
        offsets = np.zeros(len(items) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        return cls(np.frombuffer(blob, dtype=np.uint8) if blob else np.zeros(0, np.uint8), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, i: int) -> bytes:
        return self._bytes[self._at[i] : self._at[i + 1]].tobytes()

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.raw(i).decode("utf-8")

    def find(self, s: str) -> int:
        """Index of ``s`` in a sorted table, or -1 (binary search on UTF-8 bytes)."""
        key = s.encode("utf-8")
        n = len(self)
        i = bisect.bisect_left(range(n), key, key=self.raw)
        return i if i < n and self.raw(i) == key else -1


class Strings(StringTable):
    """A string table written by `write_strings`, memory-mapped."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        offsets = load_array(folder, f"{name}.offsets")
        path = folder / f"{name}.bin"
        size = path.stat().st_size
        blob = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
        if len(offsets) == 0 or int(offsets[-1]) != size:
            raise IndexFormatError(f"{folder}: {name}.bin does not match its offsets")
        super().__init__(blob, offsets)


def write_jsonl(folder: Path, name: str, records: Iterable[dict]) -> int:
    """Records as JSON Lines plus an offsets array, so one record can be read alone."""
    offsets = [0]
    with (folder / f"{name}.jsonl").open("wb") as f:
        for r in records:
            line = (json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
            f.write(line)
            offsets.append(offsets[-1] + len(line))
    save_array(folder, f"{name}.offsets", np.asarray(offsets, dtype=np.int64))
    return len(offsets) - 1


class Records(Sequence[dict]):
    """A JSON Lines table written by `write_jsonl`; records are parsed on access."""

    def __init__(self, folder: Path, name: str) -> None:
        self.offsets = load_array(folder, f"{name}.offsets")
        path = folder / f"{name}.jsonl"
        size = path.stat().st_size
        self.blob = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
        if len(self.offsets) == 0 or int(self.offsets[-1]) != size:
            raise IndexFormatError(f"{folder}: {name}.jsonl does not match its offsets")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        raw = self.blob[int(self.offsets[i]) : int(self.offsets[i + 1])].tobytes()
        try:
            return json.loads(raw)
        except ValueError:
            raise IndexFormatError(f"record {i} of the index is damaged") from None
