"""Out-of-core landmarks (outofcore.py): file-backed rows give the same data and the same edits as
in-memory ones, and released pages really leave the process (flat memory with video length)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import feat_clip, shared_clip
from emodirector.manipulate import EditRequest, EmotionSpec, ManipulateOptions, manipulate
from emodirector.outofcore import (
    RowBuffer,
    RowFile,
    blocks,
    disk_array,
    empty_rows,
    on_disk,
    release,
)
from emodirector.track import (
    BLENDSHAPE_NAMES,
    FaceObservation,
    TrackOptions,
    TrackResult,
    _stack,
    _TrackRows,
)
from emodirector.types import FaceTrack


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.parametrize("kind", [RowBuffer, RowFile])
def test_rows_append_overwrite_and_nan(kind: type[RowBuffer] | type[RowFile]) -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(40, 5, 3)).astype(np.float32)
    store = kind((5, 3), np.float32)
    for i, r in enumerate(rows):
        store.append(None if i % 7 == 3 else r)
    store.overwrite(5, None)
    out = store.array()
    assert out.shape == (40, 5, 3) and out.dtype == np.float32
    assert on_disk(out) == (kind is RowFile)
    nan_rows = {i for i in range(40) if i % 7 == 3} | {5}
    for i in range(40):
        if i in nan_rows:
            assert np.isnan(out[i]).all()
        else:
            np.testing.assert_array_equal(out[i], rows[i])


def test_empty_row_file_gives_an_empty_array() -> None:
    out = RowFile((478, 3), np.float32).array()
    assert out.shape == (0, 478, 3)


def test_release_drops_resident_pages_and_keeps_the_data() -> None:
    a = disk_array((4096, 478, 3), np.float32)  # 23.5 MB
    assert on_disk(a) and on_disk(a[10:20]) and on_disk(empty_rows(a, np.float32))
    assert not on_disk(np.zeros(3)) and not on_disk(empty_rows(np.zeros((2, 3)), np.float32))
    before = _rss_kib()
    for sl in blocks(len(a), 1000):
        a[sl] = np.arange(sl.start, sl.stop, dtype=np.float32)[:, None, None]
    touched = _rss_kib()
    release(a, 0, len(a))
    after = _rss_kib()
    assert touched - before > 20_000  # KiB: the written pages were resident ...
    assert touched - after > 20_000  # ... and release took them out of the process
    np.testing.assert_array_equal(a[:, 0, 0], np.arange(4096, dtype=np.float32))
    release(np.zeros((4, 3)), 0, 4)  # an in-memory array: nothing happens


def test_track_rows_on_disk_equal_in_memory() -> None:
    rng = np.random.default_rng(1)
    obs = [
        None
        if i in (2, 9)
        else FaceObservation(
            landmarks=rng.normal(size=(478, 3)).astype(np.float32),
            blendshapes=rng.random(52, dtype=np.float32),
            transform=rng.normal(size=(4, 4)).astype(np.float32),
            box=rng.random(4, dtype=np.float32),
        )
        for i in range(30)
    ]
    tracks = []
    for on in (False, True):
        rows = _TrackRows(on)
        for i, o in enumerate(obs):
            rows.append(o, i / 25)
        rows.retract(4)
        tracks.append(rows.track(64, 48, TrackOptions()))
    mem, disk = tracks
    assert on_disk(disk.landmarks) and not on_disk(mem.landmarks)
    assert not mem.valid[[2, 4, 9]].any() and mem.valid.sum() == 27
    for name in ("landmarks", "blendshapes", "transforms", "boxes", "valid", "timestamps"):
        np.testing.assert_array_equal(getattr(mem, name), getattr(disk, name))
    assert np.isnan(disk.landmarks[4]).all() and np.isnan(disk.blendshapes[4]).all()
    stacked = _stack(obs, [i / 25 for i in range(30)], 64, 48, TrackOptions())
    np.testing.assert_array_equal(stacked.landmarks[5], obs[5].landmarks)  # type: ignore[union-attr]
    assert stacked.blendshape_names == BLENDSHAPE_NAMES


def _on_disk(track: FaceTrack) -> FaceTrack:
    lm = disk_array(track.landmarks.shape, np.float32)
    lm[:] = track.landmarks
    return replace(track, landmarks=lm)


@pytest.mark.parametrize("basis", ["person", "generic"])
def test_chunked_out_of_core_edit_equals_in_memory_edit(
    tracked: Callable[..., TrackResult], basis: str
) -> None:
    """The pipeline's path (landmarks on disk, small chunks) edits exactly as the in-memory one."""
    track = tracked(shared_clip("talking_frontal_a.mp4")).track
    gone = np.arange(track.n_frames) % 23 < 3  # some frames without a face
    track = replace(
        track,
        landmarks=np.where(gone[:, None, None], np.nan, track.landmarks).astype(np.float32),
        blendshapes=np.where(gone[:, None], np.nan, track.blendshapes).astype(np.float32),
        valid=track.valid & ~gone,
    )
    duration = float(track.timestamps[-1])
    request = EditRequest(schedule=f"0-{duration / 2:.2f}:happy:0.8, {duration / 2:.2f}-end:sad")
    whole = manipulate(track, request, ManipulateOptions(basis=basis))  # type: ignore[arg-type]
    chunked = manipulate(
        _on_disk(track),
        request,
        ManipulateOptions(basis=basis, chunk_frames=7),  # type: ignore[arg-type]
    )
    assert on_disk(chunked.landmarks) and not on_disk(whole.landmarks)
    assert chunked.landmarks.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(chunked.landmarks), np.isnan(whole.landmarks))
    np.testing.assert_allclose(chunked.landmarks, whole.landmarks, rtol=0, atol=2e-4)
    np.testing.assert_array_equal(chunked.blendshapes, whole.blendshapes)
    np.testing.assert_array_equal(chunked.landmarks[gone], track.landmarks[gone])
    moved = np.nanmax(np.abs(whole.landmarks - track.landmarks))
    assert moved > 1.0  # the edit did move the face (pixels), so equality means something


def test_chunk_size_is_checked(tracked: Callable[..., TrackResult]) -> None:
    from emodirector.errors import InputError

    track = tracked(shared_clip("talking_frontal_a.mp4")).track
    with pytest.raises(InputError, match="chunk_frames"):
        manipulate(
            track, EditRequest(emotion=EmotionSpec("happy")), ManipulateOptions(chunk_frames=0)
        )


def test_edit_with_landmarks_on_disk_writes_the_same_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole edit, landmarks on disk (released every 16 frames while rendering) or in
    memory: the same pictures, frame for frame."""
    from emodirector import pipeline
    from emodirector.pipeline import EditOptions, edit
    from media import decoded_planes

    monkeypatch.setattr(pipeline, "RELEASE_EVERY", 16)
    video = feat_clip("single_face.mp4")
    happy = EditRequest(emotion=EmotionSpec("happy"))
    small = ManipulateOptions(chunk_frames=20)
    results = {}
    for on in (False, True):
        out = tmp_path / f"disk_{on}.mp4"
        options = EditOptions(manipulate=small, landmarks_on_disk=on)
        results[on] = (edit(video, happy, out, options), decoded_planes(out))
    (mem, mem_planes), (disk, disk_planes) = results[False], results[True]
    assert on_disk(disk.edited.landmarks) and on_disk(disk.track.landmarks)
    assert not on_disk(mem.edited.landmarks)
    assert disk.render.edited == mem.render.edited > 0
    assert len(disk_planes) == len(mem_planes) == disk.render.frames
    for a, b in zip(mem_planes, disk_planes, strict=True):
        for pa, pb in zip(a, b, strict=True):
            np.testing.assert_array_equal(pa, pb)


def test_saving_an_on_disk_edit_round_trips(
    tracked: Callable[..., TrackResult], tmp_path: Path
) -> None:
    """save_track / save_edited write on-disk landmarks block by block: the files read back equal."""
    from emodirector.trackfile import load_edited, load_track, save_edited, save_track

    track = _on_disk(tracked(shared_clip("talking_frontal_a.mp4")).track)
    edited = manipulate(track, EditRequest(emotion=EmotionSpec("sad")), ManipulateOptions())
    assert on_disk(edited.landmarks)
    back = load_track(save_track(track, tmp_path / "t.npz"))
    np.testing.assert_array_equal(back.landmarks, track.landmarks)
    np.testing.assert_array_equal(back.blendshapes, track.blendshapes)
    again = load_edited(save_edited(edited, tmp_path / "e.npz"))
    np.testing.assert_array_equal(again.landmarks, edited.landmarks)
    np.testing.assert_array_equal(again.original.landmarks, track.landmarks)
    assert again.labels == edited.labels
