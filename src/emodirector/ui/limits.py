"""Input limits of the page: file size and duration, refused with one clear line each."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..facts import VideoFacts


@dataclass(frozen=True)
class UILimits:
    """The largest input the page accepts (a shared machine should not edit hour-long films)."""

    max_megabytes: float = 500.0  # file size of an uploaded video or reference
    max_seconds: float = 300.0  # duration of the video, as its container states it

    def check(self) -> None:
        if not (self.max_megabytes > 0 and self.max_seconds > 0):
            raise InputError("the input limits must be positive (--max-mb, --max-seconds).")


def check_size(path: str | os.PathLike[str], limits: UILimits) -> None:
    """Refuse a file over the size limit before it is even opened."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError(f"{p.name}: cannot read the uploaded file ({exc.strerror}).") from exc
    if size > limits.max_megabytes * 1e6:
        raise InputError(
            f"{p.name} is {size / 1e6:.1f} MB; this page accepts videos up to "
            f"{limits.max_megabytes:g} MB (start it with --max-mb to change that)."
        )


def check_facts(name: str, facts: VideoFacts, limits: UILimits) -> None:
    """Refuse a video over the duration limit (after a probe, before any edit)."""
    if facts.duration is not None and facts.duration > limits.max_seconds:
        raise InputError(
            f"{name} is {facts.duration:.1f} s long; this page edits videos up to "
            f"{limits.max_seconds:g} s (start it with --max-seconds to change that, or cut the "
            "clip first)."
        )


__all__ = ["UILimits", "check_facts", "check_size"]
