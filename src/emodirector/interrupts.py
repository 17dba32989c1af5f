"""Interruption: SIGTERM and SIGHUP handled like Ctrl-C, and short sections Ctrl-C cannot split.

Why: every cleanup in emodirector (temporary files removed, worker threads joined, MediaPipe
closed) runs on KeyboardInterrupt. A SIGTERM (a service manager, `timeout`, `kill`) or SIGHUP
(closed terminal) would otherwise end the process without any of it and leave partial files.
And a native resource half made or half closed when Ctrl-C lands (MediaPipe's landmarker) would
be closed again by its finaliser at interpreter exit, which prints a traceback.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

# Signals that end a run the way Ctrl-C does.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: a KeyboardInterrupt, so that the same cleanup runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """For the CLI: SIGTERM and SIGHUP raise Terminated inside the block (handlers restored)."""
    if not _in_main_thread():
        yield
        return
    saved = {s: signal.signal(s, _raise_terminated) for s in STOP_SIGNALS if s != signal.SIGINT}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold back Ctrl-C (and handled SIGTERM/SIGHUP) until the block ends, then raise it.

    For short sections that must not be split: making or closing a native resource, joining a
    worker thread. Only the main thread receives signals, so elsewhere this does nothing; only
    Python handlers are held back (a default action such as SIGTERM's still ends the process).
    """
    if not _in_main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    saved = {}
    for s in STOP_SIGNALS:
        handler = signal.getsignal(s)
        if callable(handler):
            saved[s] = handler
            signal.signal(s, hold)
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        if pending:
            first = saved[signal.Signals(pending[0])]
            first(pending[0], None)  # raises KeyboardInterrupt / Terminated


__all__ = ["STOP_SIGNALS", "Terminated", "deferred", "stop_signals_raise"]
