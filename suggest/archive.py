"""Read the archive: walk a folder (or take one file), read every file its format's reader
takes (`suggest.readers.READERS`), in worker processes for large archives, and report every
file that cannot be read, naming it and the fix. One bad file is skipped, never the end of the
run.

Refused here, with one line each: files over their format's size limit, anything that is not a
regular file (pipes, devices), symlink loops and unreadable files. Symlinked folders are not
followed. `fingerprint` sees files by the same suffix rule as the reader.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from suggest.errors import ArchiveError, SuggestError
from suggest.readers import CATEGORIES, READERS, reader_for, safe_text
from suggest.records import Archive, Check, Problem
from suggest.workers import parallel, run_task, worker_count


def _size(n: float) -> str:
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n:.0f} bytes"


def _os_problem(exc: OSError) -> str:
    """What an OSError met while reading a file means for the editor, and the fix."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot read ({exc.strerror}); check the file's permissions"
    if exc.errno == errno.ELOOP:
        return "cannot read (symlink loop); remove the link"
    if exc.errno == errno.ENOENT:
        return "cannot read (broken link, or the file was removed while reading); remove the link or restore the file"
    return f"cannot read ({exc.strerror or exc}); check the disk and the file"


def read_file(path: str | Path, category: str | None = None) -> tuple[list[Check], list[Problem]]:
    """Read one saved article or JSON Lines file.

    Parameters
    ----------
    path : a file of a format in `suggest.readers.READERS` (any other suffix is read as a saved
        article).
    category : the category the caller knows; else the parent folder's name when it is one of
        `CATEGORIES`. A category in the article's URL wins over both.

    Returns
    -------
    (checks, problems)
        ``problems`` holds warnings (e.g. not UTF-8) and, for JSON Lines, the bad lines,
        which are skipped while the other lines are kept.

    Raises
    ------
    ArchiveError
        When the file cannot be read at all: missing, not a regular file, over the size limit,
        empty, binary, an HTML page, or a saved article without a recognisable title.

    Examples
    --------
    >>> checks, problems = read_file("corpus/health/vaccines-autism-evidence-a3f91c.txt")  # doctest: +SKIP
    >>> checks[0].id, checks[0].category  # doctest: +SKIP
    ('a3f91c', 'health')
    """
    path = Path(path)
    shown = safe_text(str(path))  # what records and messages name: always valid UTF-8
    reader = reader_for(path) or READERS[".txt"]  # a file given by name is read as an article
    if category is None and path.parent.name.lower() in CATEGORIES:
        category = path.parent.name.lower()
    limit = reader.max_bytes
    too_big = "over the size limit ({}, limit {}); split it or remove it"
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ArchiveError(shown, "not a regular file (a folder, pipe or device); remove it from the archive")
        if st.st_size > limit:
            raise ArchiveError(shown, too_big.format(_size(st.st_size), _size(limit)))
        with path.open("rb") as f:
            data = f.read(limit + 1)  # the file may have grown since stat
        if len(data) > limit:
            raise ArchiveError(shown, too_big.format(f"over {_size(limit)}", _size(limit)))
    except OSError as exc:
        raise ArchiveError(shown, _os_problem(exc)) from None
    checks, problems = reader.read(data, shown, category)
    if shown != str(path):
        problems.insert(0, Problem(shown, "file name is not UTF-8 (shown with \ufffd); rename the file", skipped=False))
    return checks, problems


def iter_files(root: Path, archive: Archive) -> Iterator[tuple[Path, str | None]]:
    """Archive files in a stable order, with the category their folder names.

    Folders and files whose name starts with ``.`` (such as the saved index) are passed over;
    symlinked folders are reported, not followed (they can loop), and so are symlinked files
    that lead out of the archive (to ``/etc/passwd``, say); files that are neither
    ``.txt`` nor ``.jsonl`` are listed in ``archive.ignored``.
    """
    if not root.is_dir():
        yield root, None
        return

    def unlistable(e: OSError) -> None:
        archive.problems.append(
            Problem(safe_text(str(e.filename)), f"cannot list folder ({e.strerror}); check its permissions")
        )

    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable):
        here = Path(dirpath)
        kept = []
        for d in sorted(dirnames):
            if d.startswith("."):
                if not _own(here, d):  # the saved index's own folders are not the editors'
                    archive.hidden.append(str(here / d))
                continue
            if is_index(here / d):  # a saved index (``--index`` inside the archive) is not the archive
                continue
            if (here / d).is_symlink():
                archive.problems.append(
                    Problem(safe_text(str(here / d)), "symlinked folder not followed; copy or move it into the archive")
                )
                continue
            kept.append(d)
        dirnames[:] = kept
        rel = (root.name, *here.relative_to(root).parts)
        category = next((p.lower() for p in reversed(rel) if p.lower() in CATEGORIES), None)
        for f in sorted(filenames):
            p = here / f
            if f.startswith("."):
                if not _own(here, f):
                    archive.hidden.append(str(p))
                continue
            if reader_for(p) is not None:
                if p.is_symlink() and not _within(os.path.realpath(p), real_root):
                    archive.problems.append(
                        Problem(
                            safe_text(str(p)),
                            "symlink that leads out of the archive, not read; copy the file into the archive",
                        )
                    )
                    continue
                yield p, category
            else:
                archive.ignored.append(str(p))


_SIDECAR = re.compile(r"^\.(.+)\.(lock|counts|embeddings|work)$")


def _own(here: Path, name: str) -> bool:
    """Whether the hidden ``name`` in ``here`` is a saved index's (its version folders, lock,
    caches, work folder), which the summary does not count among the hidden paths."""
    if is_index(here / name):
        return True
    m = _SIDECAR.match(name)
    if m is None:
        return False
    return is_index(here / m.group(1)) or is_index(here / f".{m.group(1)}")


def is_index(folder: Path) -> bool:
    """Whether ``folder`` (or the folder a link points to) is a saved index: it holds the
    manifest and the record offsets an index is made of (`suggest.store`)."""
    try:
        return (folder / "manifest.json").is_file() and (folder / "checks.offsets.npy").is_file()
    except OSError:  # a folder that cannot be searched is not an index; the walk reports it
        return False


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def slim(c: Check) -> Check:
    """The check without its sections (the bulk of its text)."""
    return replace(c, sections=())


SPILL_PIECE = 512
"""Full checks per spill file: a chunk of the index build (about `suggest.chunks.MEAN` checks)
reads one or two files, not a task's all."""


def spill_file(folder: str | Path, group: int, place: int) -> tuple[str, int]:
    """Where `read_archive` spilled the full check at ``place`` (duplicates counted) among
    the checks of its task of files ``group``: (file, place in that file's list)."""
    piece, at = divmod(place, SPILL_PIECE)
    return str(Path(folder) / f"{group:06d}-{piece:04d}.pkl"), at


def text_digest(c: Check) -> str:
    """A digest of everything the index analyses of a check (its title, summary, body and
    questions): equal digests, equal counts (`suggest.build` caches a chunk's by them)."""
    h = hashlib.blake2b(digest_size=16)
    for part in (c.title, c.summary, c.body(), *c.questions):
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _read_files(
    files: list[tuple[Path, str | None]], spill: str | None = None
) -> list[tuple[list[Check], list[Problem], list[str]] | ArchiveError]:
    """Each file's (checks, problems, `text_digest` of each check), or the error that skipped
    it. With ``spill`` (a path prefix) the full checks are pickled as flat lists of
    `SPILL_PIECE` (``PREFIX-NNNN.pkl``, see `spill_file`) and slim ones returned."""
    out: list[tuple[list[Check], list[Problem], list[str]] | ArchiveError] = []
    full: list[Check] = []
    for p, category in files:
        try:
            checks, problems = read_file(p, category)
        except ArchiveError as exc:
            out.append(exc)
            continue
        digests = [text_digest(c) for c in checks]
        if spill is not None:
            full.extend(checks)
            checks = [slim(c) for c in checks]
        out.append((checks, problems, digests))
    if spill is not None:
        import pickle  # work files of this run, read back by the build; never kept

        for k in range(0, len(full), SPILL_PIECE):
            with open(f"{spill}-{k // SPILL_PIECE:04d}.pkl", "wb") as f:
                pickle.dump(full[k : k + SPILL_PIECE], f, protocol=pickle.HIGHEST_PROTOCOL)
    return out


_TASK_BYTES = 16 * 1024 * 1024


def _groups(files: list[tuple[Path, str | None]], jobs: int) -> list[list[tuple[Path, str | None]]]:
    """Files in path order, cut into tasks of about `_TASK_BYTES` (fewer when that would leave
    a worker idle); a file bigger than that is a task of its own."""
    sizes = []
    for p, _ in files:
        try:
            sizes.append(p.stat().st_size)
        except OSError:
            sizes.append(0)
    target = max(min(_TASK_BYTES, sum(sizes) // max(4 * jobs, 1)), 1)
    groups: list[list[tuple[Path, str | None]]] = []
    size = target
    for f, n in zip(files, sizes, strict=True):
        if size >= target:
            groups.append([])
            size = 0
        groups[-1].append(f)
        size += n
    return groups


def _read_groups(groups: list[list[tuple[Path, str | None]]], spills: list[str | None], jobs: int) -> Iterator:
    """Each group's `_read_files` results, in order: in ``jobs`` worker processes when there
    are several groups, else in this process."""
    jobs = worker_count(jobs, len(groups))
    if jobs > 1:
        from joblib import delayed

        me = os.getpid()
        return parallel(jobs)(delayed(run_task)(me, _read_files, g, s) for g, s in zip(groups, spills, strict=True))
    return (_read_files(g, s) for g, s in zip(groups, spills, strict=True))


FileResult = tuple[list[Check], list[Problem], list[str]] | ArchiveError


class ReadCache:
    """What `read_archive` got from each file (its checks without their sections, its problems,
    its checks' `text_digest`), kept in a JSON Lines file by the file's path, category, size,
    modification time and permission bits: the same identity the fingerprint sees. A file whose
    entry matches is not read again. `save` keeps the entries of the last reading only."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.entries: dict[str, dict] = {}
        self.used: dict[str, dict] = {}
        if self.path is not None:
            with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
                with self.path.open(encoding="utf-8") as f:
                    for line in f:
                        rec = json.loads(line)
                        self.entries[rec["key"]] = rec

    @staticmethod
    def key(p: Path, category: str | None) -> str | None:
        try:
            st = p.stat()
        except OSError:
            return None
        return json.dumps([str(p), category, st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode)])

    def get(self, key: str | None) -> FileResult | None:
        rec = self.entries.get(key) if key is not None else None
        if rec is None:
            return None
        try:
            if "error" in rec:
                path, message, line = rec["error"]
                result: FileResult = ArchiveError(path, message, line)
            else:
                checks = [Check(**{**c, "sections": (), "questions": tuple(c["questions"])}) for c in rec["checks"]]
                result = (checks, [Problem(*p) for p in rec["problems"]], list(rec["digests"]))
        except (KeyError, TypeError, ValueError):  # an entry of another shape: read the file
            return None
        self.used[key] = rec  # type: ignore[index]
        return result

    def put(self, key: str | None, result: FileResult) -> None:
        if key is None:
            return
        if isinstance(result, ArchiveError):
            self.used[key] = {"key": key, "error": [result.path, result.reason, result.line]}
            return
        checks, problems, digests = result
        self.used[key] = {
            "key": key,
            "checks": [c.to_dict(sections=False) for c in checks],
            "problems": [[p.path, p.message, p.line, p.skipped] for p in problems],
            "digests": digests,
        }

    def save(self) -> str | None:
        """Write the entries of this reading (atomically); the reason when it cannot."""
        if self.path is None:
            return None
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("w", encoding="utf-8") as f:
                for rec in self.used.values():
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            return exc.strerror or str(exc)
        return None


def read_archive(
    path: str | Path, jobs: int = 1, spill: str | Path | None = None, cache: ReadCache | None = None
) -> Archive:
    """Read an archive folder (recursively) or one file.

    Every ``.txt`` saved article and ``.jsonl`` export is read or reported; other files are
    listed as ignored. Two checks with the same id: the second (in path order) is skipped.

    Parameters
    ----------
    path : folder or file.
    jobs : worker processes reading files (joblib); the result is the same with any number.
    spill : a folder: the full checks go there (pickled lists of at most `SPILL_PIECE`, see
        `spill_file`) and the archive keeps them without their sections (`slim`), with
        ``sources`` telling where each one's full text is (task of files, place in it). For an index build, whose memory would otherwise hold every
        text of the archive (about 10 GB for a million PolitiFact-sized checks).
    cache : files read before (`ReadCache`): a file whose path, size, modification time and
        permission bits match is not read again; its checks have no full text in ``spill``
        (``sources`` holds (-1, -1) for them) until `Archive.spill_more` reads them.

    Returns
    -------
    Archive
        ``checks`` in path order, ``problems`` with one entry per skipped file or line.

    Raises
    ------
    ArchiveError
        When ``path`` does not exist.

    Examples
    --------
    >>> a = read_archive("corpus")  # doctest: +SKIP
    >>> a.summary()  # doctest: +SKIP
    'read 64 files (64 checks), skipped 0'
    """
    root = Path(path)
    if not root.exists():
        raise ArchiveError(
            safe_text(str(root)), "no such archive folder or file; pass --archive DIR or set SUGGEST_ARCHIVE"
        )
    archive = Archive(root=str(root))
    seen: dict[str, str] = {}
    files: list[tuple[Path, str | None]] = []
    walk_problems: list[int] = []  # the folder problems said before each file, kept in walk order
    for f in iter_files(root, archive):
        files.append(f)
        walk_problems.append(len(archive.problems))
    said_on_walk, archive.problems = archive.problems, []
    keys = [ReadCache.key(p, c) if cache is not None else None for p, c in files]
    known: list[FileResult | None] = [cache.get(k) if cache is not None else None for k in keys]
    to_read = [f for f, r in zip(files, known, strict=True) if r is None]
    groups = _groups(to_read, jobs)
    spills = [None if spill is None else str(Path(spill) / f"{g:06d}") for g in range(len(groups))]
    read = _read_groups(groups, spills, jobs)
    archive.spill = None if spill is None else str(spill)
    group_of = iter([g for g, files_g in enumerate(groups) for _ in files_g])
    place = [0] * len(groups)  # checks of each spill file so far
    results = (r for group in read for r in group)
    walked = 0
    for (p, category), key, known_result, before in zip(files, keys, known, walk_problems, strict=True):
        archive.problems.extend(said_on_walk[walked:before])
        walked = before
        g = -1
        if known_result is None:
            result = next(results)
            g = next(group_of)
            if cache is not None:
                cache.put(key, result)
        else:
            result = known_result
        if isinstance(result, ArchiveError):
            archive.problems.append(Problem(result.path, result.reason, result.line))
            continue
        checks, problems, digests = result
        archive.files_read += 1
        archive.problems.extend(problems)
        for k, (c, digest) in enumerate(zip(checks, digests, strict=True)):
            if g >= 0:
                place[g] += 1
            if c.id in seen:
                archive.problems.append(
                    Problem(
                        c.path or str(p),
                        f"duplicate id ({c.id}, also in {seen[c.id]}); give one of them another id or remove the copy",
                    )
                )
                continue
            seen[c.id] = c.path or str(p)
            archive.checks.append(c)
            archive.digests.append(digest)
            if spill is not None:
                archive.sources.append((g, place[g] - 1) if g >= 0 else (-1, -1))
                archive.origins.append((str(p), category, k))
    archive.problems.extend(said_on_walk[walked:])
    return archive


def spill_more(archive: Archive, indices: Sequence[int]) -> None:
    """Give the checks at ``indices`` that `read_archive` took from its cache a full text in
    the spill folder: their files are read again (each once). Raises `SuggestError` when a file
    no longer holds the check it held (it changed while the index was being built)."""
    from collections import defaultdict

    wanted: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for i in indices:
        if archive.sources[i][0] < 0:
            wanted[archive.origins[i][:2]].append(i)
    if not wanted or archive.spill is None:
        return
    group = 1 + max((g for g, _ in archive.sources), default=-1)
    full: list[Check] = []
    for (path, category), idx in sorted(wanted.items(), key=lambda kv: kv[0][0]):
        try:
            checks, _ = read_file(path, category)
        except ArchiveError as exc:
            raise SuggestError(
                f"{exc}; the archive changed while it was being indexed: run the command again"
            ) from None
        for i in idx:
            at = archive.origins[i][2]
            if at >= len(checks) or text_digest(checks[at]) != archive.digests[i]:
                raise SuggestError(
                    f"{safe_text(path)}: changed while the archive was being indexed; run the command again"
                )
            archive.sources[i] = (group, len(full))
            full.append(checks[at])
    import pickle  # work files of this run, read back by the build; never kept

    prefix = str(Path(archive.spill) / f"{group:06d}")
    for k in range(0, len(full), SPILL_PIECE):
        with open(f"{prefix}-{k // SPILL_PIECE:04d}.pkl", "wb") as f:
            pickle.dump(full[k : k + SPILL_PIECE], f, protocol=pickle.HIGHEST_PROTOCOL)


def fingerprint(root: str | Path) -> str:
    """Hash of what the reader would see (cheap stat walk): every archive file's relative path,
    size, modification time and permission bits, and every folder's path and permission bits
    (a folder that cannot be listed, then fixed, is a change). Hidden paths and saved indexes
    inside the archive are not part of it, as for the reader."""
    root = Path(root)
    h = hashlib.sha256()
    if root.is_file():
        st = root.stat()
        h.update(f"{root.name}\0{st.st_size}\0{st.st_mtime_ns}\0{stat.S_IMODE(st.st_mode)}\n".encode())
        return h.hexdigest()
    entries = []

    def unlistable(e: OSError) -> None:
        entries.append(f"{e.filename}\0unlistable\0{e.errno}\n")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not is_index(here / d))
        with contextlib.suppress(OSError):
            entries.append(f"{here.relative_to(root)}/\0{stat.S_IMODE(here.stat().st_mode)}\n")
        for f in filenames:
            if f.startswith(".") or reader_for(f) is None:
                continue
            p = here / f
            try:
                st = p.stat()
            except OSError as exc:
                entries.append(f"{p.relative_to(root)}\0error\0{exc.errno}\n")
                continue
            entries.append(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\0{stat.S_IMODE(st.st_mode)}\n")
    for e in sorted(entries):
        h.update(e.encode("utf-8", "surrogateescape"))
    return h.hexdigest()
