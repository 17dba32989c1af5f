"""The renderer contract (render/base.py), run against every renderer in render.RENDERERS.

Whatever a renderer does inside the face, a frame without a face and a zero edit come back as
the decoded array itself, the input is never modified, pixels beyond the fixed ring around the
face are bit-identical, and the same input gives the same picture.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from conftest import shared_clip
from emodirector.render import (
    FACE_OVAL,
    RENDERERS,
    FaceEdit,
    Renderer,
    RenderOptions,
    face_width,
    i420_planes,
    make_renderer,
    ring_points,
)
from emodirector.track import TrackResult
from emodirector.types import EditedTrack, Frame
from emodirector.video import VideoReader

CLIP = "talking_frontal_c.mp4"
N = 6  # frames of the clip used


@pytest.fixture(scope="module")
def scene(tracked: Callable[..., TrackResult]) -> tuple[list[Frame], EditedTrack]:
    """The first N frames of a talking clip and an edit of them (a smooth smile, ~6 px)."""
    path = shared_clip(CLIP)
    track = tracked(path).track
    with VideoReader(path) as reader:
        frames = [f for _, f in zip(range(N), reader, strict=False)]
    dst = track.landmarks.copy()
    for i in range(N):
        dst[i] = _smile(track.landmarks[i], 6.0)
    bs = track.blendshapes.copy()
    smile = [track.blendshape_names.index(n) for n in ("mouthSmileLeft", "mouthSmileRight")]
    bs[:N, smile] = np.minimum(bs[:N, smile] + 0.5, 1.0)
    edited = EditedTrack(
        original=track,
        landmarks=dst,
        blendshapes=bs,
        labels=("happy",) * track.n_frames,
        intensity=np.ones(track.n_frames, np.float32),
    )
    return frames, edited


def _smile(src: np.ndarray, px: float) -> np.ndarray:
    dst = src.copy()
    sigma = 0.1 * face_width(src[:, :2])
    for corner, side in ((61, -1.0), (291, 1.0)):
        w = np.exp(-np.sum((src[:, :2] - src[corner, :2]) ** 2, axis=1) / (2 * sigma**2))
        dst[:, 0] += w * side * 0.6 * px
        dst[:, 1] -= w * px
    return dst


def _face(edited: EditedTrack, i: int, dst: np.ndarray | None = None) -> FaceEdit:
    return FaceEdit(
        index=i,
        src=edited.original.landmarks[i],
        dst=edited.landmarks[i] if dst is None else dst,
        src_blendshapes=edited.original.blendshapes[i],
        dst_blendshapes=edited.blendshapes[i],
    )


@pytest.fixture(scope="module")
def learned_model(
    tmp_path_factory: pytest.TempPathFactory, scene: tuple[list[Frame], EditedTrack]
) -> str:
    """A tiny learned renderer of the clip's person (a few steps on its first 30 % of frames)."""
    pytest.importorskip("torch")
    from emodirector.render.learned.train import TrainOptions, train_renderer

    out = tmp_path_factory.mktemp("contract") / "person.pt"
    # validation=0: the whole correction is kept, so the contract exercises the network's paste
    tiny = TrainOptions(
        size=32, width=4, batch=4, pool=8, steps=6, fraction=0.3, lr=3e-3, validation=0.0
    )
    train_renderer([shared_clip(CLIP)], [scene[1].original], out, tiny)
    return str(out)


def _options(name: str, request: pytest.FixtureRequest) -> RenderOptions:
    """How to build each renderer of RENDERERS for the contract (the learned one needs a model)."""
    if name == "learned":
        return RenderOptions(renderer=name, model=request.getfixturevalue("learned_model"))
    return RenderOptions(renderer=name)


@pytest.fixture(params=sorted(RENDERERS))
def renderer(request: pytest.FixtureRequest, scene: tuple[list[Frame], EditedTrack]) -> Renderer:
    r = make_renderer(_options(request.param, request))
    r.prepare(shared_clip(CLIP), scene[1], None)
    return r


def test_no_face_and_zero_edit_pass_through(
    renderer: Renderer, scene: tuple[list[Frame], EditedTrack]
) -> None:
    frames, edited = scene
    yuv = frames[0].yuv
    none = renderer.render(yuv, None)
    assert none.outcome == "no_face" and none.yuv is yuv
    same = renderer.render(yuv, _face(edited, 0, edited.original.landmarks[0].copy()))
    assert same.outcome == "unchanged" and same.yuv is yuv
    nan = np.full_like(edited.landmarks[0], np.nan)
    gone = FaceEdit(0, nan, nan, edited.original.blendshapes[0], edited.blendshapes[0])
    assert renderer.render(yuv, gone).yuv is yuv


def test_outside_the_ring_is_untouched_and_input_kept(
    renderer: Renderer, scene: tuple[list[Frame], EditedTrack]
) -> None:
    frames, edited = scene
    for i in (1, 4):
        yuv = frames[i].yuv
        before = yuv.copy()
        out = renderer.render(yuv, _face(edited, i))
        assert out.outcome == "edited"
        assert np.array_equal(yuv, before), "the input picture was modified"
        src = edited.original.landmarks[i, :, :2]
        ring = ring_points(src, RenderOptions().ring_margin)
        inside = np.zeros(i420_planes(yuv)[0].shape, np.uint8)
        cv2.fillPoly(inside, [np.round(ring).astype(np.int32)], 1)
        inside = cv2.dilate(inside, np.ones((9, 9), np.uint8)).astype(bool)
        y_in, y_out = i420_planes(yuv)[0], i420_planes(out.yuv)[0]
        assert np.array_equal(y_in[~inside], y_out[~inside])
        oval = np.zeros_like(inside, dtype=np.uint8)
        cv2.fillPoly(oval, [np.round(src[list(FACE_OVAL)]).astype(np.int32)], 1)
        assert not np.array_equal(y_in[oval.astype(bool)], y_out[oval.astype(bool)])


def test_deterministic(renderer: Renderer, scene: tuple[list[Frame], EditedTrack]) -> None:
    frames, edited = scene
    a = renderer.render(frames[2].yuv, _face(edited, 2))
    b = renderer.render(frames[2].yuv, _face(edited, 2))
    assert np.array_equal(a.yuv, b.yuv)


def test_unknown_renderer_is_refused() -> None:
    from emodirector.errors import InputError

    with pytest.raises(InputError, match="unknown renderer"):
        make_renderer(RenderOptions(renderer="nope"))
