"""The batch job: every archive check's "Want to dive deeper?" list, as if it were new.

For each check the ranking is exactly the one `suggest.rank.suggest` gives for the parsed
file: `suggest.rank.article_from_row` takes the check's stored vectors (its row of the index,
its own title and question rows) and `suggest.rank.Ranker` ranks a chunk of such articles
with one sparse product per matrix, the same code `suggest` runs for one article. Chunks run in
parallel with joblib; memory is bounded by the chunk size.

Output folder (``--out``)::

    suggestions.jsonl          one line per check, sorted by id
    <name>.<ext>               one rendered list per check (names from `output_names`)
    .suggest-batch/lock        held (flock) while a run writes here; a second run fails
    .suggest-batch/state.json  index fingerprint and settings of the last run
    .suggest-batch/chunks-<key>/NNNNNN.jsonl
                               each finished chunk's lines; what a killed run resumes from
    .suggest-batch/chunks-<key>/names.json
                               the check ids and their file names, for the worker processes
    .suggest-batch/outputs.json
                               the files the last finished run wrote (stale ones are removed)

Every file is written atomically (temporary file in the same folder, fsync, rename) and only
when its content changes, so a re-run over an unchanged archive touches nothing and a killed
run, started again, ends with byte-identical output. A finished chunk is reused only under the
key it was computed with: the index (digest of its manifest, which holds the archive
fingerprint, settings and file digests), the ranking options, the chunk size and the ranking
code; any change starts a fresh chunks folder. Per-check files are re-rendered on every run
and compared, so a changed format or a file edited by hand is put right.

One writer at a time: a run holds an exclusive ``flock`` on ``.suggest-batch/lock``; a second
run into the same folder does not wait but fails at once with `OutputError` (one line; exit 1
from the CLI), so nightly runs cannot pile up behind a slow one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from suggest import files as fs
from suggest import select
from suggest.errors import OptionError, OutputError, SuggestError
from suggest.files import safe_id
from suggest.index import Index
from suggest.rank import Ranker, article_from_row, own_check_row, scored_items, to_suggestions
from suggest.records import RankOptions, Suggestion
from suggest.render import FORMATS, output_format, render, safe_url
from suggest.workers import parallel, run_task, worker_count

RESULTS = "suggestions.jsonl"
STATE_DIR = ".suggest-batch"
STATE_VERSION = 1
CHUNK_MEMORY = 1024**3
"""Working memory one chunk may take at most (bytes); sets the default chunk size. The bound
assumes every query term has full postings, so real chunks take far less; a chunk also pays
costs that grow with the archive (scipy's product clears an array of a column per check), so
at a million checks chunks of 22 rows (256 MB) were too small."""
MAX_CHUNK = 256

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BatchStats:
    """What a batch run did."""

    checks: int
    chunks: int
    computed: int  # chunks ranked in this run (the rest were reused from a previous run)
    written: int  # files (re)written
    unchanged: int  # files that already held the right content and were left alone
    removed: int  # stale files of a previous run removed
    out: Path


def batch_lock(out: Path) -> contextlib.AbstractContextManager[None]:
    """Hold the output folder's lock; a second run into the same folder fails at once (one
    line; run it again when the first is done)."""
    busy = f"{out}: another `suggest batch` is writing there; wait for it to finish or pass another --out"
    return fs.held_or_busy(out / STATE_DIR / "lock", out, busy)


# -- ranking a chunk --------------------------------------------------------------------------


def auto_chunk(index: Index, opts: RankOptions | None = None) -> int:
    """Rows per chunk so that one chunk's sparse products fit in `CHUNK_MEMORY`.

    An article's row of a product holds at most its query terms times ``postings_max``
    entries (and never more than there are checks or pool items); about 16 bytes each,
    counting the copies the ranking makes.
    """
    opts = opts or RankOptions()
    n_items = index.pool_matrix.shape[0]
    n_checks = index.checks_matrix.shape[0]
    reach = index.config.postings_max or max(n_checks, n_items)

    def most(terms: int, rows: int) -> int:
        return rows if not terms else min(rows, terms * reach)

    entries = most(opts.query_terms, n_checks) + most(opts.query_grams, n_checks) + most(opts.query_terms, n_items)
    return int(max(1, min(MAX_CHUNK, CHUNK_MEMORY // (16 * entries + 1))))


@dataclass(frozen=True)
class ListFeedback:
    """The editors' feedback (`suggest serve`'s store) as pool items of one index: the items
    of blocked questions (never listed), of questions rejected for an archive check (by check
    id: not listed for that check) and of questions pinned for a category (listed first for
    the checks of that category, in pin order). Made by `suggest.serve.lists.list_feedback`.

    Blocked, rejected and pinned items leave a check's candidates before selection, so its
    list is the one a pool without them gives; the pinned ones then take the first places
    (scored as the check scores them) and the list is cut back to ``top``."""

    blocked: tuple[int, ...] = ()
    rejected: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    pinned: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.blocked or self.rejected or self.pinned)

    def settings(self) -> dict:
        """What the lists depend on (part of a batch's settings: changed feedback ranks again)."""
        return {"blocked": list(self.blocked), "rejected": self.rejected, "pinned": self.pinned}

    def of_check(self, check_id: str, category: str | None) -> tuple[np.ndarray, list[int]]:
        """The items a check may not list, and the items pinned for its category (in order)."""
        pins = [i for i in self.pinned.get((category or "").strip().lower(), ()) if i not in set(self.blocked)]
        rejected = self.rejected.get(check_id, ())
        pins = [i for i in pins if i not in rejected]
        out = np.asarray(sorted({*self.blocked, *rejected, *pins}), dtype=np.int64)
        return out, pins


NO_LIST_FEEDBACK = ListFeedback()


@dataclass
class _Ranker:
    """Per-process state for ranking chunks of one index with one set of options."""

    index: Index
    opts: RankOptions
    feedback: ListFeedback = NO_LIST_FEEDBACK

    def __post_init__(self) -> None:
        self.index = self.index.in_memory()
        self.ranker = Ranker(self.index, self.opts, kernel=True)

    def rank(self, start: int, stop: int) -> list[list[Suggestion]]:
        """The lists of index rows ``start`` to ``stop - 1``, each as if the check were new."""
        articles = [article_from_row(self.index, row) for row in range(start, stop)]
        if not self.feedback:
            return self.ranker.rank(articles)
        ix, top = self.index, self.opts.top
        said = [
            self.feedback.of_check(ix.check_ids[r], ix.check_records[r].get("category")) for r in range(start, stop)
        ]
        rows = self.ranker.score(articles, exclude=[out for out, _ in said])
        lists = []
        for row, (_, pins) in zip(rows, said, strict=True):
            listed = to_suggestions(ix, select.select(ix, row, self.opts), row, None)
            lists.append([*scored_items(ix, pins, row), *listed][:top])
        return lists


def result_line(check_id: str, title: str, suggestions: Sequence[Suggestion]) -> bytes:
    """One line of suggestions.jsonl."""
    rec = {"id": check_id, "title": title, "suggestions": [s.to_dict() for s in suggestions]}
    return (json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def suggestion_from_dict(d: dict) -> Suggestion:
    """Rebuild a `Suggestion` from its `to_dict` form (fields it does not carry get defaults)."""
    kw: dict[str, Any] = {}
    for f in dataclasses.fields(Suggestion):
        if f.name in d:
            v = d[f.name]
            kw[f.name] = tuple(v) if isinstance(v, list) else v
    kw.setdefault("item", -1)
    s = Suggestion(**kw)
    if s.to_dict() != d:
        raise SuggestError(
            "a stored batch result does not match this suggest version; delete --out/.suggest-batch and run again"
        )
    return s


# -- the job ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    out: Path
    chunks: Path
    key: str
    index_dir: Path | None
    opts: RankOptions
    fmt: str
    chunk: int
    n: int
    names: Path | None = None  # `_save_names`' file, which workers read instead of making names again
    feedback: ListFeedback = NO_LIST_FEEDBACK


# Per worker process: the ranker (loaded index, workspace) and file names of the job it works
# on, kept from task to task (loading an index for every chunk would cost more than ranking
# it); one job at a time, cleared when the job ends. Never a result: only where it comes from.
_RANKERS: dict[str, _Ranker] = {}
_NAMES: dict[str, dict[str, str]] = {}


def _keep_worker() -> None:
    """Stop loky from replacing this worker process for "leaking" memory.

    loky (joblib's process pool) restarts a worker whose RSS has grown by 300 MB since its
    first task (`_MAX_MEMORY_LEAK_SIZE`). A ranking worker's RSS grows with the pages of the
    memory-mapped index it has read, which are the kernel's to drop, not a leak: on 200,000
    checks its workers were replaced every 4-5 seconds, each new one loading the index and
    compiling the kernel again. The limit is a module global read on every check, in this
    process only.
    """
    try:
        from joblib.externals.loky import process_executor
    except ImportError:  # pragma: no cover - another joblib layout: workers may be replaced
        return
    if hasattr(process_executor, "_MAX_MEMORY_LEAK_SIZE"):
        process_executor._MAX_MEMORY_LEAK_SIZE = 1 << 62


def _ranker(job: _Job) -> _Ranker:
    r = _RANKERS.get(job.key)
    if r is None:
        _keep_worker()
        if job.index_dir is None:
            raise SuggestError("the batch job lost its index; this is a bug, please report it")
        ix = Index.load(job.index_dir, verify=False)
        if index_key(ix) != job.key.split(":")[0]:
            raise SuggestError(f"{job.index_dir}: the index changed during the batch; run it again")
        _RANKERS.clear()  # a reused worker process keeps one index at a time
        _NAMES.clear()
        saved = _load_names(job.names, len(ix.check_ids)) if job.names else None
        if saved is not None:
            ix = dataclasses.replace(ix, check_ids=saved[0])
            _NAMES[job.key] = dict(zip(saved[0], saved[1], strict=True))
        r = _RANKERS[job.key] = _Ranker(ix, job.opts, job.feedback)
    return r


def _names(job: _Job, index: Index) -> dict[str, str]:
    names = _NAMES.get(job.key)
    if names is None:
        names = _NAMES[job.key] = fs.output_names(list(index.check_ids))
    return names


def _save_names(path: Path, ids: list[str], names: dict[str, str]) -> None:
    """The check ids (index order) and their file names, for the workers: at a million checks
    each worker otherwise spent about 14 s reading the ids and making the names again."""
    doc = {"ids": ids, "names": [names[c] for c in ids]}
    fs.write_if_changed(path, json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _load_names(path: Path, n: int) -> tuple[list[str], list[str]] | None:
    """`_save_names`' lists, or None when the file is unreadable or not for ``n`` checks (the
    worker then makes them itself)."""
    try:
        doc = json.loads(path.read_bytes())
        ids, names = doc["ids"], doc["names"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(ids, list) and isinstance(names, list) and len(ids) == len(names) == n):
        return None
    return ids, names


def _chunk_file(job: _Job, k: int) -> Path:
    return job.chunks / f"{k:06d}.jsonl"


def _read_chunk(path: Path, ids: Sequence[str]) -> list[dict] | None:
    """A finished chunk's records, or None when it is missing or does not match its checks."""
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"{path}: cannot read ({exc.strerror or exc}); fix permissions or delete it") from None
    if len(lines) != len(ids):
        return None
    records = []
    for line, cid in zip(lines, ids, strict=True):
        try:
            rec = json.loads(line)
        except ValueError:
            return None
        if not isinstance(rec, dict) or rec.get("id") != cid or not isinstance(rec.get("suggestions"), list):
            return None
        records.append(rec)
    return records


def _process_chunk(job: _Job, k: int) -> tuple[int, bool, int, int]:
    """Rank chunk ``k`` (unless a finished copy exists), write its check files, then mark it done.

    Returns (k, computed, files written, files unchanged).
    """
    r = _ranker(job)
    ix = r.index
    start, stop = k * job.chunk, min((k + 1) * job.chunk, job.n)
    ids = [ix.check_ids[i] for i in range(start, stop)]
    path = _chunk_file(job, k)
    records = _read_chunk(path, ids)
    finished: bytes | None = None  # the chunk's lines, when this call ranked it
    if records is None:
        lists = r.rank(start, stop)
        finished = b"".join(
            result_line(cid, ix.check_records[start + i]["title"], lists[i]) for i, cid in enumerate(ids)
        )
        lists_of = dict(zip(ids, lists, strict=True))
    else:
        lists_of = {rec["id"]: [suggestion_from_dict(d) for d in rec["suggestions"]] for rec in records}
    names = _names(job, ix)
    ext = FORMATS[job.fmt].extension

    def link(cid: str) -> str:
        row = own_check_row(ix, cid)
        url = safe_url(ix.check_records[row].get("url")) if row is not None else None
        return url or f"{names.get(cid, safe_id(cid))}.{ext}"

    def info(cid: str) -> dict:
        row = own_check_row(ix, cid)
        return ix.check_records[row] if row is not None else {"title": "", "url": None}

    written, unchanged = fs.write_files(
        [
            (
                fs.inside(job.out, f"{names[cid]}.{ext}"),
                render(lists_of[cid], job.fmt, check_url=link, check_info=info).encode("utf-8"),
            )
            for cid in ids
        ]
    )
    if finished is not None:
        fs.write_if_changed(path, finished)
    return k, finished is not None, written, unchanged


def index_key(index: Index) -> str:
    """A digest naming the index content (its manifest: settings, counts, archive, file digests)."""
    return hashlib.sha256(json.dumps(index.manifest, sort_keys=True, default=str).encode()).hexdigest()[:16]


def check_settings(fmt: str = "text", jobs: int | None = None, chunk: int | None = None) -> None:
    """Raise `OptionError` for an unknown format or a jobs/chunk count below 1."""
    output_format(fmt)
    if chunk is not None and chunk < 1:
        raise OptionError(f"--chunk {chunk}: use 1 or more checks per chunk")
    if jobs is not None and jobs < 1:
        raise OptionError(f"--jobs {jobs}: use 1 or more worker processes")


def run_batch(
    index: Index,
    out: str | Path,
    fmt: str = "text",
    opts: RankOptions | None = None,
    jobs: int | None = None,
    chunk: int | None = None,
    index_dir: str | Path | None = None,
    progress: Progress | None = None,
    archive: str | Path | None = None,
    feedback: ListFeedback = NO_LIST_FEEDBACK,
) -> BatchStats:
    """Write every check's "Want to dive deeper?" list into ``out``.

    Parameters
    ----------
    index : the archive's index (from `open_index` or `Index.load`).
    out : output folder (created if needed).
    fmt : format of the per-check files, one of `suggest.render.FORMATS`.
    opts : ranking options (the defaults are those of `suggest for`).
    jobs : worker processes (default: all cores). Workers load the index from ``index_dir``;
        without it the job runs in this process.
    chunk : checks per chunk (default `auto_chunk`); bounds memory, sets the resume step.
    index_dir : the saved index folder ``index`` was loaded from.
    progress : called with (checks done, checks in all) as chunks finish.
    archive : the archive folder the index was built from: ``out`` may not lie inside it.
    feedback : the editors' feedback to apply (`ListFeedback`; none by default). Finished
        chunks are reused only under the same feedback.

    Returns
    -------
    BatchStats

    Raises
    ------
    OptionError
        Unknown format, chunk or jobs below 1.
    OutputError
        When ``out`` is locked by another run, lies inside ``archive``, holds a file of a
        per-check name that no batch run wrote there, or a file cannot be written (finished
        chunks are kept; run again to continue).
    """
    check_settings(fmt, jobs, chunk)
    opts = opts or RankOptions()
    chunk = chunk or auto_chunk(index, opts)
    jobs = jobs or os.cpu_count() or 1
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: is a file; give a folder")
    if archive is not None:
        fs.outside_archive(out, archive, "--out")
    n = len(index.check_ids)
    n_chunks = -(-n // chunk)
    settings = _settings(index, opts, chunk, feedback)
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    ids = index.check_ids if isinstance(index.check_ids, list) else list(index.check_ids)
    names = fs.output_names(ids)
    files = _output_files(out, ids, names, fmt)
    state = out / STATE_DIR
    _refuse_foreign(out, state, files)  # before the lock and state are made in a folder not ours
    with batch_lock(out):
        _claim(out, state, files)
        chunks = _start_state(out, state, key, {"key": key, "format": fmt, **settings})
        job = _Job(
            out=out,
            chunks=chunks,
            key=f"{index_key(index)}:{key}",
            index_dir=Path(index_dir).resolve() if index_dir else None,
            opts=opts,
            fmt=fmt,
            chunk=chunk,
            n=n,
            feedback=feedback,
        )
        workers = 1 if job.index_dir is None else worker_count(jobs, n_chunks)
        job = _share(job, index, ids, names, workers)
        computed, written, unchanged = _run_chunks(job, workers, n_chunks, progress)
        parts = [_chunk_file(job, k) for k in range(n_chunks)]
        if fs.write_concat(out / RESULTS, parts):
            written += 1
        else:
            unchanged += 1
        removed = _finish(out, state, chunks, files)
    return BatchStats(
        checks=n, chunks=n_chunks, computed=computed, written=written, unchanged=unchanged, removed=removed, out=out
    )


def _settings(index: Index, opts: RankOptions, chunk: int, feedback: ListFeedback = NO_LIST_FEEDBACK) -> dict:
    """What a finished chunk's lines depend on: it is reused only under the same settings."""
    extra = {"feedback": feedback.settings()} if feedback else {}
    return {
        **extra,
        "state_version": STATE_VERSION,
        "index": index_key(index),
        "rank": opts.settings(),
        "chunk": chunk,
        "checks": len(index.check_ids),
        "suggest": _version(),
        "archive": index.manifest.get("archive"),
    }


def _start_state(out: Path, state: Path, key: str, doc: dict) -> Path:
    """The run's chunks folder (made), temporaries of a killed run removed, state.json written."""
    chunks = state / f"chunks-{key}"
    try:
        chunks.mkdir(exist_ok=True)
    except OSError as exc:
        raise fs.write_error(chunks, exc) from None
    fs.clean_temps(out, state, chunks)
    fs.write_if_changed(state / "state.json", (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
    return chunks


def _share(job: _Job, index: Index, ids: list[str], names: dict[str, str], workers: int) -> _Job:
    """Give this process the job's ranker and names (it works on chunks too); for worker
    processes, the names go to a file in the chunks folder they read instead of making them."""
    _RANKERS[job.key] = _Ranker(dataclasses.replace(index, check_ids=ids), job.opts, job.feedback)
    _NAMES[job.key] = names
    if workers <= 1:
        return job
    _save_names(job.chunks / "names.json", ids, names)
    return dataclasses.replace(job, names=job.chunks / "names.json")


def _output_files(out: Path, ids: list[str], names: dict[str, str], fmt: str) -> list[str]:
    """The per-check file names of a run, each checked to be a plain name inside ``out``."""
    ext = FORMATS[fmt].extension
    files = sorted(f"{names[c]}.{ext}" for c in ids)
    for f in files:
        fs.inside(out, f)
    if RESULTS in files:
        raise OutputError(f"a check's file would be named {RESULTS}; this is a bug, please report it")
    return files


def _run_chunks(job: _Job, workers: int, n_chunks: int, progress: Progress | None) -> tuple[int, int, int]:
    """Rank and write every chunk (``workers`` processes; finished chunks are reused);
    returns (chunks computed, files written, files unchanged)."""
    from joblib import delayed

    done = computed = written = unchanged = 0
    if progress:
        progress(0, job.n)
    try:
        with parallel(workers, "generator_unordered") as pool:
            for k, was_computed, w, u in pool(
                delayed(run_task)(os.getpid(), _process_chunk, job, k) for k in range(n_chunks)
            ):
                done += min(job.chunk, job.n - k * job.chunk)
                computed += was_computed
                written += w
                unchanged += u
                if progress:
                    progress(done, job.n)
    finally:
        _RANKERS.pop(job.key, None)
        _NAMES.pop(job.key, None)
    return computed, written, unchanged


def _claimed(state: Path) -> tuple[list[str], set[str]]:
    """The files the last finished run wrote, and every file a run here may have written
    (those plus the ones a killed run had claimed), from ``outputs.json``."""
    try:
        doc = json.loads((state / "outputs.json").read_text("utf-8"))
    except (OSError, ValueError):
        return [], set()
    if not isinstance(doc, dict):
        return [], set()
    done = [f for f in doc.get("files", []) if isinstance(f, str)]
    pending = [f for f in doc.get("pending", []) if isinstance(f, str)]
    return done, {*done, *pending, RESULTS}


def _refuse_foreign(out: Path, state: Path, files: list[str]) -> None:
    """Raise `OutputError` when a file of an output name exists in ``out`` and no batch run
    wrote it (a saved article, a user's notes)."""
    if not out.is_dir():
        return
    _, claimed = _claimed(state)
    foreign = [f for f in [RESULTS, *files] if f not in claimed and os.path.lexists(out / f)]
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise OutputError(
            f"{out / foreign[0]}{more}: exists and was not written by `suggest batch`; "
            "pass an empty or new --out folder"
        )


def _claim(out: Path, state: Path, files: list[str]) -> None:
    """Refuse to write over a file no batch run wrote here (`_refuse_foreign`, again under the
    lock), then record this run's files as claimed before any is written, so a killed run's
    outputs are recognised as ours when it resumes."""
    _refuse_foreign(out, state, files)
    done, claimed = _claimed(state)
    pending = sorted(({*files} | claimed) - {RESULTS, *done})
    if pending:  # a re-run of a finished job claims nothing new and writes nothing here
        doc = {"files": done, "pending": pending}
        fs.write_if_changed(state / "outputs.json", (json.dumps(doc, ensure_ascii=False, indent=0) + "\n").encode())


def _finish(out: Path, state: Path, chunks: Path, files: list[str]) -> int:
    """Remove what a previous finished run wrote and this one did not; record this run's files."""
    record = state / "outputs.json"
    _, claimed = _claimed(state)
    current = set(files)
    removed = 0
    for name in sorted(claimed - {RESULTS}):
        if name in current:
            continue
        try:
            path = fs.inside(out, name)
        except OutputError:
            continue
        with contextlib.suppress(FileNotFoundError):
            if path.is_file() and not path.is_symlink():
                path.unlink()
                removed += 1
    fs.write_if_changed(record, (json.dumps({"files": files}, ensure_ascii=False, indent=0) + "\n").encode())
    for old in state.iterdir():
        if old.name.startswith("chunks-") and old != chunks and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return removed


def read_results(out: str | Path) -> Iterator[dict]:
    """The records of a finished batch's suggestions.jsonl, in id order."""
    path = Path(out) / RESULTS
    try:
        f = open(path, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise OutputError(f"{path}: cannot read ({exc.strerror or exc}); run `suggest batch` first") from None
    with f:
        for line in f:
            yield json.loads(line)


def iter_lists(
    index: Index,
    opts: RankOptions | None = None,
    jobs: int | None = None,
    chunk: int | None = None,
    index_dir: str | Path | None = None,
    progress: Progress | None = None,
    feedback: ListFeedback = NO_LIST_FEEDBACK,
) -> Iterator[dict]:
    """Every check's list as a suggestions.jsonl record, in id order, without writing files
    (``feedback``: as for `run_batch`)."""
    from joblib import delayed

    opts = opts or RankOptions()
    chunk = chunk or auto_chunk(index, opts)
    n = len(index.check_ids)
    n_chunks = -(-n // chunk)
    workers = 1 if index_dir is None else worker_count(jobs, n_chunks)
    settings = json.dumps({"rank": opts.settings(), "chunk": chunk, "feedback": feedback.settings()}, sort_keys=True)
    key = f"{index_key(index)}:lists-{hashlib.sha256(settings.encode()).hexdigest()[:16]}"
    job = _Job(
        out=Path("."),
        chunks=Path("."),
        key=key,
        index_dir=Path(index_dir).resolve() if index_dir else None,
        opts=opts,
        fmt="json",
        chunk=chunk,
        n=n,
        feedback=feedback,
    )
    _RANKERS[key] = _Ranker(index, opts, feedback)
    try:
        with parallel(workers) as pool:
            done = 0
            for lines in pool(delayed(run_task)(os.getpid(), _lines_of_chunk, job, k) for k in range(n_chunks)):
                for line in lines:
                    yield json.loads(line)
                done += len(lines)
                if progress:
                    progress(done, n)
    finally:
        _RANKERS.pop(key, None)


def _lines_of_chunk(job: _Job, k: int) -> list[bytes]:
    r = _ranker(job)
    ix = r.index
    start, stop = k * job.chunk, min((k + 1) * job.chunk, job.n)
    lists = r.rank(start, stop)
    return [
        result_line(ix.check_ids[start + i], ix.check_records[start + i]["title"], lists[i])
        for i in range(stop - start)
    ]


def _version() -> str:
    """The package version plus a digest of every module of the package, so results computed
    by other code are never reused as "done" (a development tree keeps one version number;
    hashing every module means no list of names to keep in step when modules move)."""
    from suggest import __version__

    h = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        with contextlib.suppress(OSError):
            h.update(path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"
