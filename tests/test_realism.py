"""Self-reenactment scoring (realism.py): the measures, the regions and the pair choice."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from conftest import shared_clip
from emodirector import realism as R
from emodirector.render import FACE_OVAL, RenderOptions, make_renderer
from emodirector.track import TrackResult


def test_ssim_falls_with_noise_and_psnr_and_gradients_mean_what_they_say(
    tracked: Callable[..., TrackResult],
) -> None:
    rng = np.random.default_rng(0)
    real = rng.integers(60, 200, size=(64, 64), dtype=np.uint8)
    assert np.allclose(R.ssim_map(real, real), 1.0)
    ssim = [
        float(R.ssim_map(real, np.clip(real + rng.normal(0, s, real.shape), 0, 255)).mean())
        for s in (4, 12, 40)
    ]
    assert 1.0 > ssim[0] > ssim[1] > ssim[2]
    # A uniform brightness offset of 10 levels: PSNR 10*log10(255^2/100), no gradient error.
    path = shared_clip("smile_reference.mp4")
    track = tracked(path).track
    frame = R.decode_frames(path, [5])[5]
    y = np.minimum(frame.yuv[: frame.height, : frame.width], 245)  # no wrap-around at +10
    scores = R.compare_faces(y, y + np.uint8(10), track.landmarks[5])
    assert abs(scores["face"].psnr - 10 * np.log10(255**2 / 100)) < 0.3
    assert scores["face"].grad_err < 1.0
    assert R.compare_faces(y, y, track.landmarks[5])["mouth"].ssim == pytest.approx(1.0)


@pytest.fixture(scope="module")
def smile(tracked: Callable[..., TrackResult]) -> tuple[str, R.FaceTrack]:
    path = shared_clip("smile_reference.mp4")
    return str(path), tracked(path).track


def test_regions_lie_inside_the_face_and_do_not_overlap_the_eyes(
    smile: tuple[str, R.FaceTrack],
) -> None:
    _, track = smile
    lm = track.landmarks[40]
    masks = R.region_masks(lm, (track.height, track.width))
    assert set(masks) == set(R.REGIONS)
    face = masks["face"]
    for name in ("forehead", "eye_corners", "nasolabial", "chin", "glabella"):
        m = masks[name]
        assert m.sum() > 100, name
        # Regions are carved from the face (the glabella triangle may touch the brow line).
        assert (m & ~face).sum() <= 0.05 * m.sum(), name
    ys = np.nonzero(masks["forehead"])[0]
    assert ys.mean() < lm[list(FACE_OVAL), 1].mean()  # above the middle of the face


def test_pairs_are_calm_to_expressive_with_similar_pose(smile: tuple[str, R.FaceTrack]) -> None:
    _, track = smile
    pairs = R.select_pairs(track, 5)
    assert len(pairs) == 5 and pairs == R.select_pairs(track, 5)
    expr = R.expression_vector(track).sum(axis=1)
    calm = pairs[0][0]
    assert calm < 22  # the clip starts neutral and smiles from about frame 22 on
    for c, j in pairs:
        assert c == calm and expr[j] > expr[c]
        assert R.rotation_angle(track.transforms[c], track.transforms[j]) <= 8.0
    held_out = list(range(60, track.n_frames))
    assert all(c >= 60 and j >= 60 for c, j in R.select_pairs(track, 3, frames=held_out))


def test_warping_to_the_target_geometry_beats_the_unmoved_calm_frame(
    smile: tuple[str, R.FaceTrack],
) -> None:
    """Where the expression moves features (eye corners, cheeks), following the geometry must
    bring the picture closer to the real one than leaving the calm frame as it is."""
    path, track = smile
    pairs = R.select_pairs(track, 4)
    frames = R.decode_frames(path, sorted({i for p in pairs for i in p}))
    warp = make_renderer(RenderOptions())
    same = R.mean_scores(R.score_pairs(frames, track, pairs, lambda yuv, f: yuv))
    warped = R.mean_scores(
        R.score_pairs(frames, track, pairs, lambda yuv, f: warp.render(yuv, f).yuv)
    )
    for region in ("eye_corners", "nasolabial", "chin"):
        assert warped[region].ssim > same[region].ssim, region
        assert warped[region].grad_err < same[region].grad_err, region
