"""Track summary and blendshape plot, on synthetic tracks whose values are known."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from conftest import make_track
from emodirector.errors import InputError
from emodirector.inspect import MAIN_BLENDSHAPES, plot_blendshapes, summarize
from emodirector.track import BLENDSHAPE_NAMES
from emodirector.types import FaceTrack


def synthetic_track(t: int = 50, fps: float = 25.0, valid_from: int = 10) -> FaceTrack:
    times = 1.5 + np.arange(t) / fps  # does not start at 0, as after a trim
    valid = np.arange(t) >= valid_from
    bs = np.full((t, 52), np.nan, np.float32)
    bs[valid] = 0.1
    jaw = BLENDSHAPE_NAMES.index("jawOpen")
    bs[valid, jaw] = np.linspace(0.0, 0.8, int(valid.sum()))
    lm = np.full((t, 478, 3), np.nan, np.float32)
    boxes = np.full((t, 4), np.nan, np.float32)
    boxes[valid] = [100, 50, 220, 190]
    return make_track(
        t,
        landmarks=lm,
        blendshapes=bs,
        valid=valid,
        boxes=boxes,
        timestamps=times,
        fps=fps,
        height=360,
        source="clip.mp4",
        face_index=1,
    )


def test_summary_counts_and_ranges() -> None:
    s = summarize(synthetic_track())
    assert (s.frames, s.valid_frames, s.width, s.height, s.face_index) == (50, 40, 640, 360, 1)
    assert s.valid_percent == pytest.approx(80.0)
    assert s.duration == pytest.approx(49 / 25)
    assert s.first_valid == pytest.approx(1.5 + 10 / 25)
    assert s.face_size == pytest.approx(140.0)
    ranges = {r.name: r for r in s.ranges}
    assert set(ranges) == set(MAIN_BLENDSHAPES)
    assert (ranges["jawOpen"].minimum, ranges["jawOpen"].maximum) == pytest.approx((0.0, 0.8))
    assert ranges["jawOpen"].mean == pytest.approx(0.4, abs=1e-6)
    assert ranges["browInnerUp"].maximum == pytest.approx(0.1)
    assert not s.smoothed


def test_summary_of_a_track_without_face() -> None:
    s = summarize(synthetic_track(valid_from=50))
    assert s.valid_frames == 0 and s.valid_percent == 0.0
    assert s.first_valid is None and s.face_size is None
    assert all(np.isnan(r.maximum) for r in s.ranges)


@pytest.mark.parametrize("valid_from", [10, 50])
def test_plot_is_a_png_of_the_expected_size(tmp_path: Path, valid_from: int) -> None:
    out = plot_blendshapes(synthetic_track(valid_from=valid_from), tmp_path / "curves.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = matplotlib.image.imread(out)
    assert img.shape[:2] == (700, 1100)  # 11 x 7 inches at 100 dpi
    # Not blank: many distinct colours (curves, shading of the frames without a face, text).
    assert len(np.unique(img.reshape(-1, img.shape[2])[:, :3], axis=0)) > 50
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temp file left


def test_plot_refuses_other_formats(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="PNG"):
        plot_blendshapes(synthetic_track(), tmp_path / "curves.jpg")
    assert not list(tmp_path.iterdir())
