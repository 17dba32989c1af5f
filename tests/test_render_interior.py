"""What shows where an edit parts the lips, lowers the jaw or widens the eyes (warp renderer).

Real clips, generated edits: the opened mouth gets the person's own interior (not a smear of lip
colour), nothing outside the lips changes beyond the warp, the chosen interior holds still, a
clip that never opens its mouth falls back to a shaded cavity, the jaw carries the chin, and a
widened eye keeps its iris.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from conftest import shared_clip
from emodirector.render import (
    INNER_LIP_LOWER,
    INNER_LIP_UPPER,
    LEFT_EYE,
    OUTER_LIP,
    RIGHT_EYE,
    FaceEdit,
    RenderOptions,
    WarpRenderer,
    face_width,
    i420_planes,
    ring_points,
)
from emodirector.render.interior import MouthBank, inner_polygon, mouth_shape
from emodirector.track import TrackResult
from emodirector.types import EditedTrack, FaceTrack, Frame
from emodirector.video import VideoReader

CLIP = "talking_frontal_c.mp4"
N = 60  # frames of the clip decoded by the tests (the bank may come from anywhere in the clip)


def _open_mouth(src: np.ndarray, down: float, up: float) -> np.ndarray:
    """Landmarks with the lower lip and jaw lowered by `down` px, the upper lip raised by `up`."""
    dst = src.copy()
    p = src[:, :2]
    c0, c1 = p[78], p[308]
    ex = (c1 - c0) / np.linalg.norm(c1 - c0)
    ey = np.array([-ex[1], ex[0]])
    rel = p - (c0 + c1) / 2
    u, v = rel @ ex, rel @ ey
    width = face_width(p)
    lower = np.clip(v / (0.04 * width), 0.0, 1.0) * np.exp(-((u / (0.3 * width)) ** 2))
    mid = 1.0 - np.clip(np.abs(u) / (np.linalg.norm(c1 - c0) / 2), 0.0, 1.0) ** 2
    lips_lo = list(INNER_LIP_LOWER[1:-1])
    w_down = lower.copy()
    w_down[lips_lo] = mid[lips_lo]
    w_up = np.zeros(len(p))
    ups = list(INNER_LIP_UPPER[1:-1]) + [185, 40, 39, 37, 0, 267, 269, 270, 409]
    w_up[ups] = mid[ups]
    dst[:, :2] += (down * w_down - up * w_up)[:, None] * ey[None, :]
    return dst


def _edited(track: FaceTrack, rows: range, down: float, up: float) -> EditedTrack:
    dst = track.landmarks.copy()
    for i in rows:
        dst[i] = _open_mouth(track.landmarks[i], down, up)
    return EditedTrack(
        original=track,
        landmarks=dst,
        blendshapes=track.blendshapes.copy(),
        labels=("x",) * track.n_frames,
        intensity=np.ones(track.n_frames, np.float32),
    )


@pytest.fixture(scope="module")
def clip(tracked: Callable[..., TrackResult]) -> tuple[list[Frame], FaceTrack]:
    path = shared_clip(CLIP)
    track = tracked(path).track
    with VideoReader(path) as reader:
        frames = [f for _, f in zip(range(N), reader, strict=False)]
    return frames, track


def _face(edited: EditedTrack, i: int) -> FaceEdit:
    return FaceEdit(
        i,
        edited.original.landmarks[i],
        edited.landmarks[i],
        edited.original.blendshapes[i],
        edited.blendshapes[i],
    )


def _poly_mask(poly: np.ndarray, shape: tuple[int, ...], grow: int = 0) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    if grow > 0:
        mask = cv2.dilate(mask, np.ones((2 * grow + 1,) * 2, np.uint8))
    elif grow < 0:
        mask = cv2.erode(mask, np.ones((-2 * grow + 1,) * 2, np.uint8))
    return mask.astype(bool)


def _closed_rows(track: FaceTrack, rows: range) -> list[int]:
    shape = mouth_shape(track.landmarks[list(rows)])
    return [r for r, s in zip(rows, shape, strict=True) if s[1] - s[0] < 0.06]


def test_opened_mouth_shows_the_clips_own_interior(
    clip: tuple[list[Frame], FaceTrack],
) -> None:
    """A closed mouth opened by the edit looks like this person's real open mouths, not lips."""
    frames, track = clip
    edited = _edited(track, range(N), 12.0, 4.0)
    r = WarpRenderer()
    r.prepare(shared_clip(CLIP), edited, None)
    assert r._bank is not None and len(r._bank.entries) >= 2
    smear = WarpRenderer(RenderOptions(mouth_fill=False))
    # The clip's real open-mouth interiors (the tracked frames whose lips part widely).
    real: list[float] = []
    for i in range(N):
        s = mouth_shape(track.landmarks[i])
        if s[1] - s[0] > 0.3:
            y = i420_planes(frames[i].yuv)[0]
            real.append(float(y[_poly_mask(inner_polygon(track.landmarks[i]), y.shape, -1)].mean()))
    assert len(real) >= 3
    closed = _closed_rows(track, range(N))
    assert len(closed) >= 3
    for i in closed[:4]:
        y_src = i420_planes(frames[i].yuv)[0]
        inner = _poly_mask(inner_polygon(edited.landmarks[i]), y_src.shape, -2)
        lips = _poly_mask(track.landmarks[i, list(OUTER_LIP), :2], y_src.shape) & ~inner
        filled = i420_planes(r.render(frames[i].yuv, _face(edited, i)).yuv)[0][inner].mean()
        stretched = i420_planes(smear.render(frames[i].yuv, _face(edited, i)).yuv)[0][inner]
        lip = y_src[lips].mean()
        # Close to the real interiors, far from the lip colour the plain warp smears across.
        assert abs(filled - np.median(real)) < 0.5 * abs(lip - np.median(real))
        assert abs(stretched.mean() - lip) < abs(filled - lip)


def test_fill_stays_inside_the_lips(clip: tuple[list[Frame], FaceTrack]) -> None:
    frames, track = clip
    edited = _edited(track, range(N), 12.0, 4.0)
    r = WarpRenderer()
    r.prepare(shared_clip(CLIP), edited, None)
    plain = WarpRenderer(RenderOptions(mouth_fill=False))
    for i in _closed_rows(track, range(N))[:3]:
        a = r.render(frames[i].yuv, _face(edited, i)).yuv
        b = plain.render(frames[i].yuv, _face(edited, i)).yuv
        ya, yb = i420_planes(a)[0], i420_planes(b)[0]
        inner = _poly_mask(inner_polygon(edited.landmarks[i]), ya.shape, 2)
        assert np.array_equal(ya[~inner], yb[~inner])
        assert not np.array_equal(ya[inner], yb[inner])
        cin = inner[::2, ::2]
        for pa, pb in zip(i420_planes(a)[1:], i420_planes(b)[1:], strict=True):
            assert np.array_equal(pa[~cin], pb[~cin])


def test_interior_choice_holds_still(clip: tuple[list[Frame], FaceTrack]) -> None:
    """A steady edit (the same opened shape on every frame, tracker noise on top) keeps its
    interior: few switches, each one a crossfade."""
    _, track = clip
    rng = np.random.default_rng(0)
    base = _open_mouth(track.landmarks[0], 12.0, 4.0)
    dst = track.landmarks.copy()
    closed = np.repeat(track.landmarks[:1], track.n_frames, axis=0)
    for i in range(track.n_frames):
        dst[i] = base + rng.normal(0.0, 0.3, size=base.shape).astype(np.float32)
        dst[i, :, 2] = base[:, 2]
    steady = FaceTrack(**{**track.__dict__, "landmarks": closed})
    edited = EditedTrack(steady, dst, track.blendshapes, ("x",) * track.n_frames,
                         np.ones(track.n_frames, np.float32))  # fmt: skip
    # The bank comes from the real clip; the plan from the steady edit.
    real = _edited(track, range(track.n_frames), 12.0, 4.0)
    bank = MouthBank.gather(shared_clip(CLIP), real, None, 8, 2.0)
    assert bank is not None
    from emodirector.render.interior import _plan, _shapes_needed

    targets, _, _ = _shapes_needed(edited, 2.0)
    plan = _plan(targets, np.array([e.shape for e in bank.entries]))
    assert (plan.first >= 0).all()
    switches = int((plan.first[1:] != plan.first[:-1]).sum())
    assert switches <= 1
    assert np.all(np.abs(np.diff(plan.mix)) <= 1.0 / 5)


def test_clip_that_never_opens_falls_back_to_a_cavity(
    clip: tuple[list[Frame], FaceTrack],
) -> None:
    frames, track = clip
    k = _closed_rows(track, range(N))[0]
    closed = np.repeat(track.landmarks[k : k + 1], track.n_frames, axis=0)
    still = FaceTrack(**{**track.__dict__, "landmarks": closed})
    edited = _edited(still, range(track.n_frames), 12.0, 4.0)
    r = WarpRenderer()
    r.prepare(shared_clip(CLIP), edited, None)
    assert r._bank is None
    out = r.render(frames[k].yuv, _face(edited, k)).yuv
    shaded = WarpRenderer().warp(frames[k].yuv, closed[k], edited.landmarks[k]).yuv
    assert np.array_equal(out, shaded)
    y = i420_planes(out)[0]
    inner = _poly_mask(inner_polygon(edited.landmarks[k]), y.shape, -2)
    assert y[inner].mean() < i420_planes(frames[k].yuv)[0][inner].mean() - 10


def test_jaw_drop_carries_the_chin(clip: tuple[list[Frame], FaceTrack]) -> None:
    """Lowering the jaw by 8 px moves the chin's pixels down by about that; the forehead and
    everything beyond the ring stay."""
    frames, track = clip
    i = 3
    src = track.landmarks[i]
    dst = _open_mouth(src, 8.0, 0.0)
    out = WarpRenderer().warp(frames[i].yuv, src, dst).yuv
    y_in, y_out = (i420_planes(a)[0].astype(np.float32) for a in (frames[i].yuv, out))
    cx, cy = np.round(src[152, :2]).astype(int)
    win = (slice(cy - 24, cy + 8), slice(cx - 24, cx + 24))
    (dx, dy), _ = cv2.phaseCorrelate(y_in[win], y_out[win])
    assert abs(dy - dst[152, 1] + src[152, 1]) < 2.0 and abs(dx) < 1.5
    fx, fy = np.round(src[10, :2]).astype(int)
    fwin = (slice(fy, fy + 16), slice(fx - 16, fx + 16))
    assert np.abs(y_in[fwin] - y_out[fwin]).max() < 2
    ring = _poly_mask(ring_points(src[:, :2], RenderOptions().ring_margin), y_in.shape, 4)
    assert np.array_equal(y_in[~ring], y_out[~ring])


@pytest.mark.parametrize("loop, centre", [(RIGHT_EYE, 468), (LEFT_EYE, 473)])
def test_widened_eye_keeps_its_iris(
    tracked: Callable[..., TrackResult], loop: tuple[int, ...], centre: int
) -> None:
    """Raising the upper lid uncovers the eye: the iris it showed stays pixel for pixel (round),
    where the stretch of the whole opening would make it taller."""
    path = shared_clip("talking_frontal_b.mp4")
    track = tracked(path).track
    with VideoReader(path) as reader:
        frame = next(iter(reader))
    src = track.landmarks[0]
    dst = src.copy()
    upper = list(loop[1:8])
    dst[upper, 1] -= 5.0
    y_in = i420_planes(frame.yuv)[0]
    rigid = i420_planes(WarpRenderer().warp(frame.yuv, src, dst).yuv)[0]
    stretch = WarpRenderer(RenderOptions(rigid_eyes=False)).warp(frame.yuv, src, dst).yuv
    y_stretch = i420_planes(stretch)[0]
    radius = float(
        np.linalg.norm(src[centre + 1 : centre + 5, :2] - src[centre, :2], axis=1).mean()
    )
    assert radius > 4
    iris = np.zeros(y_in.shape, np.uint8)
    cv2.circle(iris, tuple(np.round(src[centre, :2]).astype(int)), int(radius * 0.9), 1, -1)
    iris = iris.astype(bool) & _poly_mask(src[list(loop), :2], y_in.shape, -2)
    assert iris.sum() > 30
    kept = np.abs(rigid[iris].astype(int) - y_in[iris]).mean()
    stretched = np.abs(y_stretch[iris].astype(int) - y_in[iris]).mean()
    assert kept < 1.0
    assert stretched > 2.0 * kept + 1.0


def test_bank_of_a_time_range_crops_the_right_frames(clip: tuple[list[Frame], FaceTrack]) -> None:
    """prepare() with an edit of a time range (rows = the frames from `start`) crops the frames
    its rows were tracked from."""
    _, track = clip
    start = 1.0
    keep = track.timestamps >= start - 1e-3
    fields = {
        k: (v[keep] if isinstance(v, np.ndarray) and len(v) == track.n_frames else v)
        for k, v in track.__dict__.items()
    }
    window_track = FaceTrack(**fields)
    edited = _edited(window_track, range(window_track.n_frames), 12.0, 4.0)
    bank = MouthBank.gather(shared_clip(CLIP), edited, (start, np.inf), 4, 2.0)
    assert bank is not None
    first = int(np.argmax(keep))
    with VideoReader(shared_clip(CLIP)) as reader:
        frames = {f.index: f for f in reader if f.index - first in {e.row for e in bank.entries}}
    for e in bank.entries:
        y = i420_planes(frames[e.row + first].yuv)[0]
        pts = window_track.landmarks[e.row, :, :2]
        x0, y0 = np.round(pts[78] - e.points[78]).astype(int)
        assert np.array_equal(y[y0 : y0 + e.y.shape[0], x0 : x0 + e.y.shape[1]], e.y)
