"""The appearance renderer (render/appearance.py): warp + expression shading in the Y plane.

The contract (no face, zero edit, pixels beyond the ring, determinism) runs in
test_render_contract.py; these tests check what the shading itself promises: it follows the edit,
stays on skin, keeps chroma, backs off on texture it cannot shade and on tiny or dark faces,
takes the person's own shading only from frames it may see, and the CLI picks it by name.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from conftest import shared_clip
from emodirector import realism as R
from emodirector.cli.common import add_overwrite_argument
from emodirector.cli.render import add_video_arguments, renderer_name, video_options
from emodirector.errors import InputError
from emodirector.render import FACE_OVAL, FaceEdit, RenderOptions, i420_planes
from emodirector.render.appearance import (
    AppearanceOptions,
    AppearanceRenderer,
    cue_strengths,
    face_frame,
    skin_mask,
)
from emodirector.track import BLENDSHAPE_NAMES, TrackResult
from emodirector.types import FaceTrack, Frame

CLIP = "smile_reference.mp4"  # calm at the start, a broad smile from ~1 s: own shading exists
# Drawn creases deep enough to measure where they land (the defaults follow the person's skin,
# which on this clip's smooth skin gives a fold of 1-2 levels).
DEEP = AppearanceOptions(own=False, gain=6.0, min_depth=0.06, max_depth=0.12)


def _bs(values: dict[str, float], base: np.ndarray | None = None) -> np.ndarray:
    out = np.zeros(len(BLENDSHAPE_NAMES), np.float32) if base is None else base.copy()
    for name, v in values.items():
        out[BLENDSHAPE_NAMES.index(name)] = v
    return out


@pytest.fixture(scope="module")
def clip(tracked: Callable[..., TrackResult]) -> tuple[FaceTrack, dict[int, Frame]]:
    path = shared_clip(CLIP)
    track = tracked(path).track
    return track, R.decode_frames(path, [0, 1, 2, 3])


def _smile_edit(track: FaceTrack, i: int, amount: float = 0.8) -> FaceEdit:
    """Frame i with its mouth corners lifted a few pixels and the smile channels raised."""
    src = track.landmarks[i]
    dst = src.copy()
    for corner, side in ((61, -1.0), (291, 1.0)):
        d2 = np.sum((src[:, :2] - src[corner, :2]) ** 2, axis=1)
        w = np.exp(-d2 / (2 * (0.1 * (src[:, 0].max() - src[:, 0].min())) ** 2))
        dst[:, 0] += w * side * 3.0
        dst[:, 1] -= w * 5.0
    b = track.blendshapes[i]
    up = {
        n: float(b[BLENDSHAPE_NAMES.index(n)]) + amount
        for n in ("mouthSmileLeft", "mouthSmileRight")
    }
    return FaceEdit(i, src, dst, b, _bs(up, b))


def test_strengths_follow_the_edit_and_vanish_without_one(
    clip: tuple[FaceTrack, dict[int, Frame]],
) -> None:
    track, _ = clip
    lm, bs = track.landmarks[0], track.blendshapes[0]
    none = cue_strengths(FaceEdit(0, lm, lm, bs, bs))
    assert max(none.values()) == 0.0
    smile = cue_strengths(_smile_edit(track, 0))
    assert smile["nasolabial"] > 0.5 and smile["cheek"] > 0.3
    assert smile["glabella"] < 0.02 and smile["forehead"] < 0.02  # below the shading threshold
    frown = cue_strengths(
        FaceEdit(0, lm, lm, bs, _bs({"browDownLeft": 0.7, "browDownRight": 0.7}, bs))
    )
    assert frown["glabella"] > 0.5 and frown["nasolabial"] < 0.02
    raised = cue_strengths(FaceEdit(0, lm, lm, bs, _bs({"browInnerUp": 0.8}, bs)))
    assert raised["forehead"] > 0.3
    # Only a deepening shows: the reverse edit (a smile taken away) draws no fold.
    s = _smile_edit(track, 0)
    back = cue_strengths(FaceEdit(0, s.dst, s.src, s.dst_blendshapes, s.src_blendshapes))
    assert back["nasolabial"] < 0.02


def test_shading_stays_on_skin_keeps_chroma_and_darkens_the_fold(
    clip: tuple[FaceTrack, dict[int, Frame]],
) -> None:
    track, frames = clip
    path = shared_clip(CLIP)
    r = AppearanceRenderer(RenderOptions(), DEEP)
    r.prepare(path, R.as_edit(track), None)
    assert r.skin.frames > 0 and 0.0 < r.skin.contrast < 0.2
    face = _smile_edit(track, 1)
    warped = r.warp.render(frames[1].yuv, face)
    shaded = r.render(frames[1].yuv, face)
    assert shaded.outcome == "edited"
    yw, uw, vw = i420_planes(warped.yuv)
    ya, ua, va = i420_planes(shaded.yuv)
    assert np.array_equal(uw, ua) and np.array_equal(vw, va), "chroma must be the warp's"
    diff = ya.astype(int) - yw.astype(int)
    assert np.abs(diff).max() >= 2, "a strong smile must shade something"
    dst = face.dst[:, :2]
    oval = np.zeros(ya.shape, np.uint8)
    cv2.fillPoly(oval, [np.round(dst[list(FACE_OVAL)]).astype(np.int32)], 1)
    assert not diff[oval == 0].any(), "shading outside the face oval"
    eyes = np.zeros(ya.shape, np.uint8)
    for loop in ((33, 160, 158, 133, 153, 144), (263, 387, 385, 362, 380, 373)):
        cv2.fillPoly(eyes, [np.round(dst[list(loop)]).astype(np.int32)], 1)
    assert np.abs(diff[eyes > 0]).max() <= 1, "shading on the eyes"
    # The fold darkens the skin between the nose wing and beyond the mouth corner.
    masks = R.region_masks(face.dst, ya.shape)
    assert diff[masks["nasolabial"]].min() < -1


def test_texture_it_cannot_shade_reduces_it(clip: tuple[FaceTrack, dict[int, Frame]]) -> None:
    """Strong stripes over the face (a stand-in for glasses rims, a beard or a hand) cut the
    shading there, and the frame is counted."""
    track, frames = clip
    r = AppearanceRenderer(RenderOptions(), DEEP)
    r.prepare(shared_clip(CLIP), R.as_edit(track), None)
    face = _smile_edit(track, 2)
    clean = r.render(frames[2].yuv, face)
    striped_in = frames[2].yuv.copy()
    y = i420_planes(striped_in)[0]
    for x in range(0, y.shape[1], 12):  # bars of 4 px every 12 px: rims, hair, fingers
        y[:, x : x + 4] = 250
    warped = r.warp.render(striped_in, face)
    striped = r.render(striped_in, face)
    masks = R.region_masks(face.dst, y.shape)["nasolabial"]
    d_clean = np.abs(
        i420_planes(clean.yuv)[0].astype(int)
        - i420_planes(r.warp.render(frames[2].yuv, face).yuv)[0]
    )[masks]
    d_striped = np.abs(i420_planes(striped.yuv)[0].astype(int) - i420_planes(warped.yuv)[0])[masks]
    assert d_striped.mean() < 0.3 * d_clean.mean()
    assert r.counts.reduced + r.counts.skipped_exposure >= 1 or d_striped.max() == 0


def test_tiny_and_dark_faces_never_crash(clip: tuple[FaceTrack, dict[int, Frame]]) -> None:
    track, frames = clip
    r = AppearanceRenderer(RenderOptions(min_face_width=8.0), DEEP)
    r.prepare(shared_clip(CLIP), R.as_edit(track), None)
    face = _smile_edit(track, 3)
    # A face shrunk to a few dozen pixels: warped, not shaded, counted.
    c = face.src[:, :2].mean(axis=0)
    small = FaceEdit(
        3,
        np.concatenate([(face.src[:, :2] - c) * 0.08 + c, face.src[:, 2:]], axis=1),
        np.concatenate([(face.dst[:, :2] - c) * 0.08 + c, face.dst[:, 2:]], axis=1),
        face.src_blendshapes,
        face.dst_blendshapes,
    )
    out = r.render(frames[3].yuv, small)
    assert np.array_equal(out.yuv, r.warp.render(frames[3].yuv, small).yuv)
    assert r.counts.skipped_small == 1
    # A nearly black picture: no shading worth the name, no crash.
    dark = frames[3].yuv.copy()
    i420_planes(dark)[0][:] //= 20
    a = i420_planes(r.render(dark, face).yuv)[0].astype(int)
    b = i420_planes(r.warp.render(dark, face).yuv)[0].astype(int)
    assert np.abs(a - b).max() <= 1
    # A face partly outside the picture: still no crash, and shading only where it can be placed.
    shifted = FaceEdit(
        3,
        face.src + [-200, 0, 0],
        face.dst + [-200, 0, 0],
        face.src_blendshapes,
        face.dst_blendshapes,
    )
    r.render(frames[3].yuv, shifted)


def test_own_shading_comes_only_from_frames_it_may_see(
    clip: tuple[FaceTrack, dict[int, Frame]],
) -> None:
    track, _ = clip
    path = shared_clip(CLIP)
    r = AppearanceRenderer(RenderOptions())
    r.prepare(path, R.as_edit(track), None)
    assert r.own is not None and "nasolabial" in r.own.sources
    source = r.own.sources["nasolabial"]
    assert track.blendshapes[source, BLENDSHAPE_NAMES.index("mouthSmileLeft")] > 0.3
    # Hide that frame and its neighbours: another one (or none) is used, never a hidden one.
    hidden = R.as_edit(track, [source], 3)
    r.prepare(path, hidden, None)
    if r.own is not None:
        assert all(hidden.original.valid[k] for k in r.own.sources.values())
    # Hide every smiling frame: no own smile shading at all.
    smiling = np.flatnonzero(track.blendshapes[:, BLENDSHAPE_NAMES.index("mouthSmileLeft")] > 0.2)
    r.prepare(path, R.as_edit(track, list(smiling), 2), None)
    assert r.own is None or "nasolabial" not in r.own.sources


def test_skin_mask_is_zero_past_the_oval_and_on_the_lips(
    clip: tuple[FaceTrack, dict[int, Frame]],
) -> None:
    track, frames = clip
    p = track.landmarks[0, :, :2].astype(np.float64)
    f = face_frame(p)
    shape = (frames[0].height, frames[0].width)
    m = skin_mask(p, f, shape, np.zeros(2))
    assert m.max() > 0.9
    oval = np.zeros(shape, np.uint8)
    cv2.fillPoly(oval, [np.round(p[list(FACE_OVAL)]).astype(np.int32)], 1)
    assert m[oval == 0].max() < 0.05
    lip = np.round(p[[13, 14]].mean(axis=0)).astype(int)
    assert m[lip[1], lip[0]] < 0.05


def test_cli_picks_the_renderer_in_one_place() -> None:
    parser = argparse.ArgumentParser()
    add_video_arguments(parser)
    add_overwrite_argument(parser)  # video_options reads --overwrite too (as `render` parses it)
    on = video_options(parser.parse_args(["--appearance", "on"]))
    off = video_options(parser.parse_args(["--appearance", "off"]))
    assert on.render.renderer == "appearance" and off.render.renderer == "warp"
    assert video_options(parser.parse_args(["--renderer", "warp"])).render.renderer == "warp"
    assert renderer_name(None, None) == RenderOptions().renderer
    with pytest.raises(InputError, match="disagree"):
        renderer_name("warp", "on")
