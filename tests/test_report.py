"""`report` and `emodirector report`: measures on generated and real videos, bad inputs, outputs."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import make_track, shared_clip
from emodirector.classify import EmotionClassifier
from emodirector.cli import main
from emodirector.errors import ModelNotFoundError, NoFaceError, VideoError
from emodirector.report import (
    IDENTITY_THRESHOLD,
    ReportOptions,
    align_frames,
    identity_distance,
    inter_ocular,
    landmark_jitter,
    lip_opening,
    mean_shape,
    report,
    shape_distance,
)
from emodirector.track import BLENDSHAPE_NAMES, TrackResult, track_video
from emodirector.types import FaceTrack
from emodirector.video import VideoReader, VideoWriter
from media import make_video

OUTER_LIP = [
    61,
    146,
    91,
    181,
    84,
    17,
    314,
    405,
    321,
    375,
    291,
    409,
    270,
    269,
    267,
    0,
    37,
    39,
    40,
    185,
]


@pytest.fixture(scope="module")
def classifier_installed() -> None:
    try:
        EmotionClassifier()
    except ModelNotFoundError as exc:
        pytest.skip(f"emotion model not installed: {exc}")


# ---- pure functions --------------------------------------------------------------------------


def test_align_same_timing_is_one_to_one() -> None:
    t = np.arange(10) / 25.0
    ia, ib, by = align_frames(t, t + 0.001)
    assert by == "index" and ia.tolist() == ib.tolist() == list(range(10))


def test_align_different_rates_and_lengths_by_time() -> None:
    a = np.arange(60) / 30.0  # 2 s at 30 fps
    b = np.arange(40) / 25.0  # 1.6 s at 25 fps
    ia, ib, by = align_frames(a, b)
    assert by == "time"
    assert len(ib) == 40 and ib.tolist() == list(range(40))  # every 25 fps frame finds a partner
    assert np.abs(a[ia] - b[ib]).max() <= 0.5 / 25.0
    ia2, ib2, _ = align_frames(b, a)  # symmetric
    assert ia2.tolist() == ib.tolist() and ib2.tolist() == ia.tolist()


def _random_face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 50, size=(478, 3)).astype(np.float32) + 300


def test_shape_distance_ignores_pose_and_size() -> None:
    lm = _random_face(0)
    theta = 0.4
    rot = np.array(
        [[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0], [0, 0, 1]]
    )
    moved = (lm @ rot.T) * 1.7 + np.array([40.0, -12.0, 5.0])
    d = identity_distance(np.stack([lm, lm]), np.stack([moved, _random_face(1)]))
    assert d[0] < 1e-6
    assert d[1] > 0.5
    assert shape_distance(mean_shape(lm[None]), mean_shape(moved[None].astype(np.float32))) < 1e-6


def test_lip_opening_is_relative_to_eye_distance() -> None:
    lm = _random_face(2)
    both = np.stack([lm, lm * 2.0])
    o = lip_opening(both)
    assert o[0] == pytest.approx(o[1], rel=1e-5)
    assert inter_ocular(both)[1] == pytest.approx(2 * inter_ocular(both)[0], rel=1e-5)


def _track_of(landmarks: np.ndarray) -> FaceTrack:
    return make_track(len(landmarks), landmarks=landmarks.astype(np.float32))


def test_jitter_ignores_steady_motion_and_sees_shake() -> None:
    base = _random_face(3)
    steps = np.arange(30)[:, None, None]
    steady = base[None] + steps * np.array([2.0, 1.0, 0.0])  # constant-velocity head motion
    assert landmark_jitter(_track_of(steady)) < 1e-4
    shake = steady + np.random.default_rng(4).normal(0, 1.0, steady.shape)
    assert landmark_jitter(_track_of(shake)) > 0.01


# ---- real clips ------------------------------------------------------------------------------


@pytest.mark.slow
def test_video_against_itself(classifier_installed: None, tmp_path: Path) -> None:
    """Everything re-tracked and re-classified: identical inputs give the identity values."""
    src = shared_clip("talking_frontal_c.mp4")
    copy = tmp_path / "copy.mp4"
    shutil.copyfile(src, copy)
    rep = report(src, copy, ReportOptions(emotion="happy"))
    assert rep.frames["aligned_by"] == "index" and rep.frames["matched"] == 175
    assert rep.lips["correlation"] == pytest.approx(1.0, abs=1e-9)
    assert rep.lips["mean_abs_diff"] == 0.0
    assert rep.identity["distance"] < 1e-6 and rep.identity["same_shape"]
    assert rep.stability["ratio"] == pytest.approx(1.0, abs=1e-9)
    assert rep.emotion is not None
    assert rep.emotion["target_prob_before"] == rep.emotion["target_prob_after"]
    assert rep.container["audio_identical"] is True
    assert rep.container["max_time_diff_s"] == 0.0
    assert rep.warnings == []


def _freeze_mouth(src: Path, track: FaceTrack, out: Path) -> Path:
    """Copy of src whose mouth shows the first frame's mouth, pasted where the mouth is now."""
    lip = track.landmarks[:, OUTER_LIP, :2]
    iod = float(inter_ocular(track.landmarks[:1])[0])
    cx, cy = lip[0].mean(axis=0)
    x0, x1 = int(cx - 0.75 * iod), int(cx + 0.75 * iod)
    y0, y1 = int(cy - 0.35 * iod), int(cy + 0.7 * iod)
    with VideoReader(src) as reader, VideoWriter(out, reader.info, audio_from=src) as writer:
        patch = None
        for f in reader:
            rgb = f.rgb()
            if patch is None:
                patch = rgb[y0:y1, x0:x1].copy()
            mx, my = lip[f.index].mean(axis=0)
            dx, dy = int(round(mx - cx)), int(round(my - cy))
            rgb[y0 + dy : y1 + dy, x0 + dx : x1 + dx] = patch
            writer.write_rgb(f, rgb)
    return out


@pytest.mark.slow
def test_frozen_mouth_lowers_lip_correlation_cli(
    classifier_installed: None,
    tracked: Callable[..., TrackResult],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = shared_clip("talking_frontal_c.mp4")
    frozen = _freeze_mouth(src, tracked(src).track, tmp_path / "frozen.mp4")
    js, page = tmp_path / "r.json", tmp_path / "r.html"
    rc = main(
        [
            "report",
            str(src),
            str(frozen),
            "--emotion",
            "happy",
            "--json",
            str(js),
            "--html",
            str(page),
            "-q",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "lips: opening correlation" in out and "identity" in out
    data = json.loads(js.read_text())
    assert data["schema"] == "emodirector.report/1"
    assert data["lips"]["correlation"] < 0.6  # the talking original vs a frozen mouth
    assert data["lips"]["mean_abs_diff"] > 0.05  # eye-distance units; 0 for identical videos
    assert data["lips"]["mean_opening_after"] < 0.5 * data["lips"]["mean_opening_before"]
    assert data["identity"]["same_shape"] is True  # only the mouth changed
    assert data["container"]["audio_identical"] is True
    assert len(data["series"]["time_s"]) == 175
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 1 and "data:image/jpeg;base64," in text
    assert "http://" not in text and "https://" not in text  # self-contained


@pytest.mark.slow
def test_another_person_is_above_identity_threshold(
    classifier_installed: None, tracked: Callable[..., TrackResult]
) -> None:
    a, c = shared_clip("talking_frontal_a.mp4"), shared_clip("talking_frontal_c.mp4")
    rep = report(a, c, tracks=(tracked(a).track, tracked(c).track))
    assert rep.identity["distance"] > IDENTITY_THRESHOLD
    assert not rep.identity["same_shape"]
    # 199 frames at 30 fps against 175 at 25 fps: matched by time, and said so.
    assert rep.frames["aligned_by"] == "time"
    assert any("differ in length" in w for w in rep.warnings)
    assert rep.container["same_resolution"] is False
    assert rep.container["audio_identical"] is False


# ---- bad inputs ------------------------------------------------------------------------------


def test_unreadable_file_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    good = make_video(tmp_path / "ok.mp4")
    with pytest.raises(VideoError, match="notes.mp4"):
        report(good, bad)
    rc = main(["report", str(good), str(bad), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        rc == 2
        and len(err) == 1
        and err[0].startswith("emodirector: error:")
        and "notes.mp4" in err[0]
    )
    rc = main(["report", str(tmp_path / "missing.mp4"), str(good), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "missing.mp4" in err[0]


def test_video_without_face_is_one_error_line(
    classifier_installed: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blank = make_video(tmp_path / "blank.mp4", width=128, height=96, n_frames=8)
    with pytest.raises(NoFaceError, match="blank.mp4: no face"):
        report(blank, blank)
    rc = main(["report", str(blank), str(blank), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "no face" in err[0]


def test_report_output_must_not_overwrite_an_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_video(tmp_path / "ok.mp4")
    rc = main(["report", str(good), str(good), "--json", str(good), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "input" in err[0]
    assert good.stat().st_size > 0


@pytest.mark.slow
def test_track_of_a_time_range_pairs_with_the_same_frames(
    classifier_installed: None, tmp_path: Path
) -> None:
    """As after `edit --start 1`: the original's track covers 1.0 s on, the edit only that range."""
    src = shared_clip("smile_reference.mp4")
    part = tmp_path / "part.mp4"
    with VideoReader(src) as reader, VideoWriter(part, reader.info) as writer:
        for f in reader:
            if f.time >= 1.0:
                writer.write(f)
    window = track_video(src, start=1.0).track
    rep = report(src, part, ReportOptions(emotion="happy"), tracks=(window, None))
    assert rep.frames["aligned_by"] == "index" and rep.frames["matched"] == window.n_frames == 53
    # Neutral first second, then a broad smile: rows paired with the wrong frames would differ.
    diff = np.nanmean(np.abs(rep.target_before - rep.target_after))
    assert diff < 0.1, diff
    assert rep.lips["correlation"] is not None and rep.lips["correlation"] > 0.95
    assert rep.identity["distance"] < IDENTITY_THRESHOLD


# ---- requested vs achieved, time ranges ------------------------------------------------------


def test_requested_vs_achieved_names_the_channels_that_did_not_come_through() -> None:
    from emodirector.report import channel_delivery
    from emodirector.types import EditedTrack

    n = 30
    idx = BLENDSHAPE_NAMES.index
    bs = np.full((n, 52), 0.2, np.float32)
    original = make_track(n, blendshapes=bs)
    asked = bs.copy()
    asked[:, [idx("mouthSmileLeft"), idx("mouthSmileRight")]] += 0.4
    asked[:, [idx("eyeSquintLeft"), idx("eyeSquintRight")]] += 0.3
    edited = EditedTrack(original, original.landmarks, asked, ("happy",) * n, np.ones(n, np.float32),
                         {"request": "start-end:happy:1"})  # fmt: skip
    shown = bs.copy()
    shown[:, [idx("mouthSmileLeft"), idx("mouthSmileRight")]] += 0.36  # 90 % came through
    shown[:, [idx("eyeSquintLeft"), idx("eyeSquintRight")]] += 0.06  # 20 %: did not
    rows = np.arange(n)
    emotion = {"target": "happy"}
    out = channel_delivery(edited, original, make_track(n, blendshapes=shown), rows, rows,
                           np.ones(n, bool), emotion, [])  # fmt: skip
    assert out is not None
    smile, squint = out["groups"]["mouthSmile"], out["groups"]["eyeSquint"]
    assert smile["requested"] == pytest.approx(0.4, abs=1e-6)
    assert smile["delivered"] == pytest.approx(0.9, abs=1e-3)
    assert squint["delivered"] == pytest.approx(0.2, abs=1e-3)
    assert out["not_through"] == ["eyeSquint"]
    assert 0.5 < out["vs_real"]["cosine"] < 1.0  # happy: smile + squint, no upper lip shown


@pytest.mark.slow
def test_edit_of_a_range_is_reported_against_that_range(
    classifier_installed: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`edit --start 1 --preview 1.5 --report`: frames, length and audio compared with the
    range, and the channels asked vs shown listed."""
    src = shared_clip("talking_frontal_c.mp4")
    out, js = tmp_path / "out.mp4", tmp_path / "r.json"
    args = ["edit", str(src), "--emotion", "surprised", "-o", str(out), "--start", "1"]
    assert main([*args, "--preview", "1.5", "--json", str(js), "-q"]) == 0
    text = capsys.readouterr().out
    rep = json.loads(js.read_text())
    c = rep["container"]
    assert c["original"]["frames"] == c["edited"]["frames"] == rep["frames"]["matched"]
    assert c["same_frame_count"] and c["audio_identical"] is True
    assert c["original_range_s"] == [1.0, 2.5]
    assert abs(c["original"]["duration_s"] - c["edited"]["duration_s"]) < 0.05
    groups = rep["channels"]["groups"]
    assert groups["browInnerUp"]["requested"] > 0.2 and groups["browInnerUp"]["achieved"] > 0.05
    assert "requested/achieved" in text and "compared over 1 s-2.5 s" in text
