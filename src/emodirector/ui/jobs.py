"""One edit at a time per process, others wait in a visible queue; each session can cancel its own.

Why a lock of our own beside gradio's queue: gradio's queue (concurrency 1) shows a waiting page
its position, but the library may also be reached through gradio's API; the lock makes "one edit
per process" hold whatever calls it, and the hook it wraps is where a cancel takes effect (the
library reports progress every frame, so a cancel stops the edit within a frame).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import ctypes.util
import gc
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from ..errors import EmodirectorError
from ..types import ProgressHook

T = TypeVar("T")
POLL_SECONDS = 0.2  # how often the page's progress bar is updated while a job runs


class Cancelled(EmodirectorError):
    """The person cancelled the edit; nothing was written under the final names."""


@dataclass
class JobQueue:
    """A process-wide slot for edits, with the count of sessions waiting for it."""

    _slot: threading.Lock = field(default_factory=threading.Lock)
    _state: threading.Lock = field(default_factory=threading.Lock)
    _waiting: list[str] = field(default_factory=list)  # session ids, in arrival order
    _running: str | None = None
    _cancel: dict[str, threading.Event] = field(default_factory=dict)
    # Every job runs on this one thread: native allocations (MediaPipe, OpenCV, PyAV) then stay
    # in one malloc arena instead of one per web-server thread, which kept the app's memory
    # growing edit after edit (measured: +97 MiB over 5 edits before, see bench/ui.py).
    _worker: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="emodirector-job"
        )
    )

    def waiting(self) -> int:
        """Sessions waiting for the slot now."""
        with self._state:
            return len(self._waiting)

    def busy(self) -> bool:
        """Whether an edit is running now."""
        with self._state:
            return self._running is not None

    @contextlib.contextmanager
    def slot(self, session: str) -> Iterator[threading.Event]:
        """Wait for the slot, then hold it for one edit; yields the event that cancels it.

        A cancel asked while waiting takes effect as soon as the slot is reached.
        """
        event = threading.Event()
        with self._state:
            self._cancel[session] = event
            self._waiting.append(session)
        try:
            with self._slot:
                with self._state:
                    self._waiting.remove(session)
                    self._running = session
                try:
                    if event.is_set():
                        raise Cancelled("the edit was cancelled before it started.")
                    yield event
                finally:
                    with self._state:
                        self._running = None
        finally:
            with self._state:
                if session in self._waiting:
                    self._waiting.remove(session)
                if self._cancel.get(session) is event:
                    del self._cancel[session]

    def run(
        self,
        session: str,
        work: Callable[[ProgressHook], T],
        report: ProgressHook,
        poll: float = POLL_SECONDS,
    ) -> T:
        """Run `work(hook)` in the slot, on the job thread; `report` gets the latest progress
        every `poll` seconds on the calling thread (where the page's progress bar lives).

        Raises what `work` raises (Cancelled once the session cancels). Memory the job freed is
        handed back to the system afterwards.
        """
        with self.slot(session) as cancel:
            latest: list[tuple[str, int, int | None]] = []

            def record(stage: str, done: int, total: int | None) -> None:
                latest[:] = [(stage, done, total)]

            future = self._worker.submit(work, cancellable(record, cancel))
            try:
                while True:
                    try:
                        return future.result(timeout=poll)
                    except concurrent.futures.TimeoutError:
                        if latest:
                            report(*latest[0])
            except BaseException:
                cancel.set()  # whatever stopped the wait stops the job, before the slot is freed
                concurrent.futures.wait([future])
                raise
            finally:
                release_memory()

    def close(self) -> None:
        """Stop the job thread (after the job it runs, if any)."""
        self._worker.shutdown(wait=True, cancel_futures=True)

    def cancel(self, session: str) -> bool:
        """Ask the session's edit (running or waiting) to stop; False when it has none."""
        with self._state:
            event = self._cancel.get(session)
        if event is None:
            return False
        event.set()
        return True


def cancellable(hook: ProgressHook, event: threading.Event) -> ProgressHook:
    """`hook`, raising Cancelled at the next progress report once `event` is set."""

    def wrapped(stage: str, done: int, total: int | None) -> None:
        if event.is_set():
            raise Cancelled("the edit was cancelled; nothing was written.")
        hook(stage, done, total)

    return wrapped


def release_memory() -> None:
    """Collect garbage and return freed heap pages to the system (glibc's malloc_trim), so that
    a page that stays open for many edits does not keep each edit's peak."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).malloc_trim(0)


@dataclass
class ProgressText:
    """Turns progress reports into "render: 40/72 frames, 31.2 fps, ETA 1 s" lines.

    The rate is measured per stage from its first report; `clock` is injectable for tests.
    """

    clock: Callable[[], float] = time.perf_counter
    _stage: str = ""
    _t0: float = 0.0
    _n0: int = 0

    def __call__(self, stage: str, done: int, total: int | None) -> str:
        now = self.clock()
        if stage != self._stage or done < self._n0:
            self._stage, self._t0, self._n0 = stage, now, done
        dt, dn = now - self._t0, done - self._n0
        fps = dn / dt if dt > 0 and dn > 0 else None
        text = f"{stage}: {done}" + (f"/{total}" if total else "") + " frames"
        if fps is not None:
            text += f", {fps:.1f} fps"
            if total:
                text += f", ETA {max(total - done, 0) / fps:.0f} s"
        return text


__all__ = ["Cancelled", "JobQueue", "ProgressText", "cancellable", "release_memory"]
