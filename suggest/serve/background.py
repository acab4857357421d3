"""Work `suggest serve` does beside the requests: the lock rankings share (`RankLock`) and the
one thread that makes a slow page ahead of time (`Maker`, used for ``/report``).

Why this design: the report ranks every check (on the 19,250 PolitiFact checks it took over
two minutes), and rankings must run one at a time (the ranking's arrays are shared). Made
inside a request, under the ranking's lock, it held every draft and API request for the whole
time. Now one background thread makes it, and it takes the ranking's lock only in pieces (one
chunk of checks each; the backlog only reads the index and takes no lock), each given up
before the next; a request's ranking goes
before the next piece (`RankLock`), so a request waits at most for the piece under way. The
page itself is rendered with no lock held. A request for the page never waits: it is handed
the page when it is made for the current inputs, else how far the making is (`Making`), or
once the error that stopped it (`Failed`; the next request starts it again).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

LOG = logging.getLogger("suggest.serve")

W = TypeVar("W")
T = TypeVar("T")


class RankLock:
    """The lock every ranking takes. A request takes it whole (``with lock:``); background
    work takes it one short piece at a time (``with lock.piece():``), and a piece does not
    start while a request is waiting, so a request waits at most for the piece under way (and
    for the requests ahead of it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turn = threading.Condition()
        self._waiting = 0

    def __enter__(self) -> None:
        with self._turn:
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._turn:
                self._waiting -= 1
                self._turn.notify_all()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    @property
    def waiting(self) -> int:
        """How many requests are waiting for the lock."""
        with self._turn:
            return self._waiting

    @contextmanager
    def piece(self) -> Iterator[None]:
        """The lock for one piece of background work, once no request is waiting for it."""
        with self._turn:
            self._turn.wait_for(lambda: self._waiting == 0)
            # Taken while holding _turn: a request arriving now counts itself after this
            # piece has the lock, and so waits for this piece only.
            self._lock.acquire()
        try:
            yield
        finally:
            self._lock.release()


@dataclass(frozen=True)
class Making:
    """The page is being made: what it is doing (``stage``) and, while ranking, the checks
    done of ``total`` (None when not known yet)."""

    stage: str = "starting"
    done: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class Failed:
    """Making the page failed: the error in one line."""

    message: str


Progress = Callable[[str, "int | None", "int | None"], None]
"""``progress(stage, done, total)``: how far the making is."""


class Maker(Generic[W, T]):
    """Makes one value (a page) in one background thread, for the inputs ``wanted()`` names
    now, and keeps the last one made.

    Parameters
    ----------
    wanted : the current inputs (cheap: called by every request for the value and before
        each making). ``same(a, b)`` says whether two are the same inputs.
    make : ``make(inputs, progress)``, the slow part, run in the background thread.

    Examples
    --------
    >>> m = Maker(lambda: 1, lambda w, progress: w + 1, lambda a, b: a == b)  # doctest: +SKIP
    >>> m.poke(); m.get()  # doctest: +SKIP
    Making(stage='starting', done=None, total=None)
    """

    def __init__(
        self,
        wanted: Callable[[], W],
        make: Callable[[W, Progress], T],
        same: Callable[[W, W], bool],
        name: str = "page",
    ) -> None:
        self._wanted = wanted
        self._make = make
        self._same = same
        self._name = name
        self._mu = threading.Lock()
        self._made: tuple[W, T] | None = None
        self._failed: tuple[W, str] | None = None
        self._making: W | None = None
        self._progress = Making()
        self._thread: threading.Thread | None = None
        self._again = False

    def poke(self) -> None:
        """Something the value depends on may have changed: make it (again) if need be. The
        thread, if running, looks again when it is done."""
        with self._mu:
            if self._thread is not None:
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, name=f"suggest-{self._name}", daemon=True)
            self._thread.start()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the thread to be done; True when it is (or
        none was running)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._mu:
                thread = self._thread
            if thread is None:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            thread.join(left)

    def get(self) -> T | Making | Failed:
        """The value for the current inputs, or how far its making is (and the making
        started, if it was not), or the error that stopped it (shown once: the next call
        starts it again)."""
        want = self._wanted()
        with self._mu:
            if self._made is not None and self._same(self._made[0], want):
                return self._made[1]
            if self._failed is not None and self._same(self._failed[0], want):
                message = self._failed[1]
                self._failed = None
                return Failed(message)
            progress = self._progress if self._making is not None and self._same(self._making, want) else Making()
        self.poke()
        return progress

    def _set_progress(self, stage: str, done: int | None, total: int | None) -> None:
        with self._mu:
            self._progress = Making(stage, done, total)

    def _run(self) -> None:
        while True:
            with self._mu:
                self._again = False
            try:
                self._once()
            except BaseException:
                with self._mu:
                    self._thread = None
                raise
            with self._mu:
                if not self._again:
                    self._thread = None
                    return

    def _once(self) -> None:
        try:
            want = self._wanted()
        except Exception:
            LOG.exception("suggest serve: could not look at the %s's inputs", self._name)
            return
        with self._mu:
            if self._made is not None and self._same(self._made[0], want):
                return
            if self._failed is not None and self._same(self._failed[0], want):
                return  # shown once to the next request, which starts it again
            self._making, self._progress = want, Making()
        try:
            value = self._make(want, self._set_progress)
        except Exception as exc:
            LOG.exception("suggest serve: the %s could not be made", self._name)
            with self._mu:
                self._failed = (want, _one_line(exc))
        else:
            with self._mu:
                self._made, self._failed = (want, value), None
        finally:
            with self._mu:
                self._making, self._progress = None, Making()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no message"
    return f"{type(exc).__name__}: {text[:300]}"
