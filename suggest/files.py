"""Files: atomic writes (whole or not at all, untouched when unchanged), locks, and safe
output file names. Every command that writes goes through here.

A write goes to a temporary file in the same folder (``.<name>.<random>.tmp``), is synced,
then renamed over the target, so readers see the old content or the new, never a part; a
killed run leaves at most temporaries that `clean_temps` removes on the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from suggest.errors import OutputError

_MAX_STEM = 180
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"] + [f"{p}{i}" for p in ("COM", "LPT") for i in range(10)]
)
# A temporary file of ours: ".<name>.<8 characters>.tmp" (`tempfile.mkstemp`, `_write_temp`).
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")
_TEMP = re.compile(r"^\..+\.[A-Za-z0-9]+\.[a-z0-9_]{8}\.tmp$")


def safe_id(s: str) -> str:
    """An id reduced to characters safe in a file name or URL fragment (never a path)."""
    out = _SAFE_ID.sub("_", s).lstrip(".")
    return out or "_"


def _hash(s: str, n: int) -> str:
    return hashlib.sha256(s.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def _natural(check_id: str) -> str:
    """The plain file stem of an id: `safe_id`, no Windows device names, bounded length."""
    stem = safe_id(check_id)
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        stem = f"_{stem}"
    if len(stem) > _MAX_STEM:
        stem = f"{stem[: _MAX_STEM - 13]}~{_hash(check_id, 12)}"
    return stem


def output_names(ids: Sequence[str]) -> dict[str, str]:
    """File stem of each check id: safe, unique (also ignoring case), deterministic.

    A stem holds only ``A-Z a-z 0-9 _ . - ~``, never starts with a dot and is never a path,
    so no id can name a file outside the output folder. Ids that reduce to the same stem
    (``a/b`` and ``a_b``, ``X`` and ``x``) are told apart deterministically: the first id (in
    sorted order) that is its own stem keeps it; every other gets ``<stem>~<hash of the id>``.
    ``~`` never occurs in a plain stem, so these cannot collide with one.

    Examples
    --------
    >>> output_names(["../evil", "a/b", "a_b", "CON"])
    {'../evil': '_evil', 'a/b': 'a_b~c14cddc033f6', 'a_b': 'a_b', 'CON': '_CON'}
    """
    natural = {cid: _natural(cid) for cid in ids}
    groups: dict[str, list[str]] = {}
    for cid in sorted(natural):
        groups.setdefault(natural[cid].casefold(), []).append(cid)
    names: dict[str, str] = {}
    others: list[str] = []
    for members in groups.values():
        keeper = members[0] if len(members) == 1 else next((c for c in members if natural[c] == c), None)
        if keeper is not None:
            names[keeper] = natural[keeper]
        others.extend(c for c in members if c != keeper)
    taken = {name.casefold() for name in names.values()}
    for cid in sorted(others):
        base, n = natural[cid].split("~")[0][: _MAX_STEM - 21], 12
        while (name := f"{base}~{_hash(cid, n)}").casefold() in taken:
            n += 4
        names[cid] = name
        taken.add(name.casefold())
    return {cid: names[cid] for cid in ids}


_SAFE_NAME = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9_.~-]{0,239}$")


def inside(out: Path, name: str) -> Path:
    """``out / name``, refusing anything but a plain file name (no separator, no leading dot).

    Such a name always denotes an entry of ``out`` itself; a link planted at that entry is
    replaced by the rename in `write_if_changed`, never written through.
    """
    if not _SAFE_NAME.match(name):
        raise OutputError(f"{name!r}: not a safe output file name; this is a bug, please report it")
    return out / name


@functools.lru_cache(maxsize=1)
def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _same_content(path: Path, data: bytes) -> bool:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise OutputError(f"{path}: cannot read ({exc.strerror or exc}); fix permissions") from None
    if not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
        return False
    try:
        with open(path, "rb") as f:
            return f.read() == data
    except OSError:
        return False


def write_error(path: Path, exc: OSError) -> OutputError:
    return OutputError(
        f"{path}: cannot write ({exc.strerror or exc}); free space or fix permissions and run again "
        "(finished work is kept)"
    )


def write_if_changed(path: Path, data: bytes, sync_dir: bool = True) -> bool:
    """Atomically make ``path`` hold ``data`` (temp file in the same folder, fsync, rename).

    Leaves the file alone (not even its mtime changes) when it already holds ``data``.
    Returns True if it wrote. Raises `OutputError` on any write error; the old file stays.
    """
    if _same_content(path, data):
        return False
    _replace(path, lambda f: f.write(data), sync_dir)
    return True


def _replace(path: Path, fill: Callable[[BinaryIO], object], sync_dir: bool = True) -> None:
    """Make ``path`` what ``fill`` writes into a temporary file beside it (synced, renamed
    over ``path``; the folder synced too with ``sync_dir``); on an error the old file stays and
    no temporary is left. Raises `OutputError` naming ``path``."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _file_mode())
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        if sync_dir:
            _sync_dir(path.parent)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _write_temp(path: Path, data: bytes) -> Path:
    """``data`` in a new temporary file beside ``path`` (not yet synced); its name is one
    `_clean_temps` recognises, so a killed run's leftovers are removed by the next run."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise write_error(path, exc) from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise write_error(path, exc) from None
        return tmp
    raise OutputError(f"{path}: cannot create a temporary file beside it; remove stale .tmp files")


def write_files(files: Sequence[tuple[Path, bytes]]) -> tuple[int, int]:
    """Atomically make each path hold its bytes, many files at a time: new contents go to
    temporary files, one `os.sync` makes them durable, then each is renamed over its path and
    the folders are synced. Files that already hold their bytes are left alone.

    Returns (written, unchanged). On an error (`OutputError`, naming the file) the files
    already renamed hold their new content, the others their old one; no temporary is left.
    """
    pending: list[tuple[Path, Path]] = []
    unchanged = 0
    written = 0
    folders: set[Path] = set()
    try:
        for path, data in files:
            if _same_content(path, data):
                unchanged += 1
            else:
                pending.append((_write_temp(path, data), path))
        if pending:
            os.sync()
        while pending:
            tmp, path = pending[0]
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise write_error(path, exc) from None
            pending.pop(0)
            folders.add(path.parent)
            written += 1
        for folder in sorted(folders):
            try:
                _sync_dir(folder)
            except OSError as exc:
                raise write_error(folder, exc) from None
    finally:
        for tmp, _ in pending:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return written, unchanged


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _same_as_concat(path: Path, parts: Sequence[Path]) -> bool:
    """Whether ``path`` is a regular file holding exactly the concatenation of ``parts``."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size != sum(p.stat().st_size for p in parts):
            return False
        with open(path, "rb") as old:
            for p in parts:
                with open(p, "rb") as f:
                    while block := f.read(1 << 20):
                        if old.read(len(block)) != block:
                            return False
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise OutputError(f"{path}: cannot read ({exc.strerror or exc}); fix permissions") from None


def write_concat(path: Path, parts: Sequence[Path]) -> bool:
    """Make ``path`` the concatenation of ``parts`` (streamed; atomic; untouched if equal)."""
    if _same_as_concat(path, parts):
        return False

    def concat(out: BinaryIO) -> None:
        for p in parts:
            with open(p, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)

    _replace(path, concat)
    return True


@contextlib.contextmanager
def held_or_busy(path: Path, out: Path, busy: str) -> Iterator[None]:
    """Hold the lock file ``path`` (in a folder made for ``out``) for the block, or fail at
    once with `OutputError` ``busy`` when another process holds it: failing rather than
    waiting keeps a slow nightly run from piling up behind another."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "a+b")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise OutputError(
            f"{out}: cannot create the output folder ({exc.strerror or exc}); pass another --out"
        ) from None
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(busy) from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def clean_temps(*folders: Path) -> None:
    """Remove temporary files a killed run left behind (ours start with a dot, end in .tmp)."""
    for folder in folders:
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                if _TEMP.match(entry.name) and entry.is_file(follow_symlinks=False):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file (its folder made if needed) so that readers see the old content or the
    new, never a part. Raises `OutputError` naming the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
    _replace(path, lambda f: f.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created if needed), held for the block.

    Raises `OutputError` when the lock file cannot be created (its folder is a file, read-only...).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = path.open("a+b")
    except OSError as exc:
        why = "a file is in the way" if isinstance(exc, FileExistsError | NotADirectoryError) else exc.strerror or exc
        raise OutputError(
            f"{path.parent}: cannot create the lock file {path.name} ({why}); pass --index with another folder"
        ) from None
    with f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            if not _same_file(path, f.fileno()):  # removed (`drop_lock`) while we waited: lock anew
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
                with locked(path):
                    yield
                return
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _same_file(path: Path, fd: int) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def drop_lock(path: Path) -> None:
    """Remove the lock file ``path`` while holding it (inside `locked`), when what it guarded
    was never made: a waiter that then gets the old file sees it is gone and locks anew."""
    with contextlib.suppress(OSError):
        os.unlink(path)


# -- outputs never replace what they did not write ---------------------------------------------


def outside_archive(path: str | Path, archive: str | Path, option: str) -> None:
    """Refuse an output ``path`` that is the archive or lies inside it (an output named like a
    saved article would replace it, and the next index would read the outputs as checks).

    Raises `OutputError` naming ``option`` and the fix.
    """
    real, root = Path(path).resolve(), Path(archive).resolve()
    if real == root or root in real.parents:
        raise OutputError(
            f"{option} {path}: is inside the archive {archive}; write the output outside the archive "
            "(it could replace saved articles)"
        )


def claim_file(path: str | Path, ours: Callable[[bytes], bool], what: str) -> None:
    """Refuse to replace an existing ``path`` unless it is empty or a previous output of the
    same kind (``ours`` reads the first 4 kB and says so): an output never replaces a file it
    did not write. Raises `OutputError` naming the file and the fix."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(
            f"{path}: cannot check it ({exc.strerror or exc}); fix permissions or choose another file"
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{path}: exists and is not a regular file; remove it or choose another file")
    if st.st_size == 0:
        return
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise OutputError(
            f"{path}: cannot read it ({exc.strerror or exc}); fix permissions or choose another file"
        ) from None
    if not ours(head):
        raise OutputError(f"{path}: exists and is not {what} written by suggest; move it away or choose another file")
