"""Worker processes that do not outlive the run that started them.

joblib's process pool (loky) keeps an idle worker for 300 s, and a worker whose parent was
killed (SIGKILL, or the machine's out-of-memory killer) waits that long before it exits: after a
killed batch on a million checks, two orphaned workers held their memory and the mapped index
for five minutes while the resumed run started its own. A task that may run in a worker calls
`exit_with` first, so a worker killed before its first task (in the first second of a run)
still waits out the idle timeout.
"""

from __future__ import annotations

import os
import threading
import time

_WATCHED: set[int] = set()
POLL_SECONDS = 0.5


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
