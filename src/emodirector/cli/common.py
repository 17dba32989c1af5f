"""Helpers shared by the command modules: progress bars, warnings, option parsing."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Iterator

from tqdm import tqdm

from ..types import ProgressHook


@contextlib.contextmanager
def progress(desc: str, *, enabled: bool = True) -> Iterator[ProgressHook]:
    """A ProgressHook that draws one tqdm bar (with rate and ETA) on stderr for the current stage.

    One bar at a time, on one line: when a stage reports for the first time, the previous stage's
    bar is closed and erased. Several open bars would make tqdm move the cursor up and down with
    escape codes, which leave "[A" fragments in terminals and logs that do not honour them.
    """
    lock = threading.Lock()  # stages may report from a worker thread (prefetching decoders)
    current: list[tuple[str, tqdm]] = []  # the open bar and its stage; at most one

    def hook(stage: str, done: int, total: int | None) -> None:
        if not enabled:
            return
        with lock:
            if current and current[0][0] != stage:
                current.pop()[1].close()
            if not current:
                bar = tqdm(
                    total=total,
                    desc=f"{desc}: {stage}",
                    unit="frame",
                    file=sys.stderr,
                    position=0,
                    leave=False,
                    dynamic_ncols=True,
                )
                current.append((stage, bar))
            bar = current[0][1]
            if done < bar.n:  # the same stage again (e.g. tracking the second video): restart
                bar.reset(total=total)
            elif total is not None and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

    try:
        yield hook
    finally:
        with lock:
            while current:
                current.pop()[1].close()


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"emodirector: warning: {message}", file=sys.stderr)


def info(message: str) -> None:
    """One informational line on stdout."""
    print(message)


def add_overwrite_argument(parser: argparse.ArgumentParser) -> None:
    """--overwrite, for every command that writes files."""
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing output files that emodirector did not write (files it wrote "
        "itself are always replaced; inputs never are)",
    )
