"""Helpers shared by the command modules: progress bars, warnings, option parsing."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from tqdm import tqdm

from ..types import ProgressHook


@contextlib.contextmanager
def progress(desc: str, *, enabled: bool = True) -> Iterator[ProgressHook]:
    """A ProgressHook that draws one tqdm bar per stage (with rate and ETA) on stderr."""
    bars: dict[str, tqdm] = {}

    def hook(stage: str, done: int, total: int | None) -> None:
        if not enabled:
            return
        bar = bars.get(stage)
        if bar is None:
            bar = tqdm(
                total=total, desc=f"{desc}: {stage}", unit="frame", file=sys.stderr, leave=False
            )
            bars[stage] = bar
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        yield hook
    finally:
        for bar in bars.values():
            bar.close()


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"emodirector: warning: {message}", file=sys.stderr)


def info(message: str) -> None:
    """One informational line on stdout."""
    print(message)
