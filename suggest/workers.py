"""Worker processes that do not outlive the run that started them, and never more of them
than the machine has cores.

joblib's process pool (loky) keeps an idle worker for 300 s, and a worker whose parent was
killed (SIGKILL, or the machine's out-of-memory killer) waits that long before it exits: after a
killed batch on a million checks, two orphaned workers held their memory and the mapped index
for five minutes while the resumed run started its own. Every pool comes from `parallel`: its
workers watch their parent from the moment they start (`exit_with`, run as loky's
initializer, so a run killed in its first second leaves no worker waiting for a task), and an
idle one exits after `IDLE_SECONDS`, not 300.
"""

from __future__ import annotations

import os
import threading
import time

_WATCHED: set[int] = set()
POLL_SECONDS = 0.5
IDLE_SECONDS = 10
"""How long an idle worker waits for another task before it exits (loky's default is 300 s)."""


def cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def worker_count(jobs: int | None, tasks: int) -> int:
    """Worker processes for ``tasks`` tasks: ``jobs`` (default: every core), never more than
    the cores or the tasks (``--jobs 100`` on a two-file archive started 100 workers, 4 GB)."""
    return max(1, min(jobs or cores(), cores(), tasks))


def parallel(jobs: int, return_as: str = "generator"):  # type: ignore[no-untyped-def]
    """A joblib ``Parallel`` of ``jobs`` loky workers (call `worker_count` first) that end with
    this process and do not idle for long."""
    from joblib import Parallel
    from joblib._parallel_backends import LokyBackend

    backend = LokyBackend(idle_worker_timeout=IDLE_SECONDS, initializer=_started_by, initargs=(os.getpid(),))
    return Parallel(n_jobs=jobs, backend=backend, return_as=return_as)


def _started_by(owner: int) -> None:
    """loky's initializer in a new worker: exit at once when ``owner`` is already gone (it was
    killed while this worker started), else watch it (`exit_with`)."""
    if os.getppid() != owner:
        os._exit(1)
    exit_with(owner)


def exit_with(owner: int) -> None:
    """When this process is a worker started by process ``owner`` (the one that dispatched the
    task), end it as soon as ``owner`` is gone. Nothing happens in ``owner`` itself (a task run
    in-process) or in a process whose parent is not ``owner``."""
    if os.getpid() == owner or owner in _WATCHED or os.getppid() != owner:
        return
    _WATCHED.add(owner)

    def watch() -> None:
        while os.getppid() == owner:
            time.sleep(POLL_SECONDS)
        os._exit(1)  # orphaned: nothing of ours is left to hand results to

    threading.Thread(target=watch, name="suggest-exit-with-parent", daemon=True).start()


def run_task(owner: int, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """``fn(*args, **kwargs)`` in a worker that ends with ``owner`` (see `exit_with`)."""
    exit_with(owner)
    return fn(*args, **kwargs)


def release() -> None:
    """End this process's idle workers now rather than `IDLE_SECONDS` later. A build calls it
    after its last parallel step, so that the workers' memory is not held beside the
    single-process steps that follow (384 MB of the 1,143 MB peak of a build of the 19,250
    PolitiFact checks). The next parallel step starts new workers."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor(reuse=True).shutdown(wait=True)
