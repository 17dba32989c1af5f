"""`emodirector track` and `emodirector inspect` through the real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import REPO, shared_clip
from emodirector.cli import main
from emodirector.trackfile import load_track
from media import make_video, truncate_copy

Cap = pytest.CaptureFixture[str]


def run_cli(capsys: Cap, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_error_line(rc: int, err: str, *words: str) -> None:
    assert rc != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("emodirector: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.slow
def test_track_writes_a_track_and_a_preview_then_inspect_reads_it(
    tmp_path: Path, capsys: Cap
) -> None:
    clip = shared_clip("talking_frontal_c.mp4")
    out, preview, plot = tmp_path / "t.npz", tmp_path / "p.mp4", tmp_path / "c.png"
    rc, stdout, err = run_cli(capsys, "track", str(clip), "-o", str(out), "--preview", str(preview))
    assert rc == 0, err
    lines = stdout.strip().splitlines()
    assert len(lines) == 1  # one summary line
    assert "tracked 175 frames, 175 with a face (100.0%)" in lines[0]
    assert "fps" in lines[0] and str(out) in lines[0]
    assert "warning" not in err
    track = load_track(out)
    assert track.n_frames == 175 and track.valid.all() and track.source == clip.name
    # The preview keeps every frame's timestamp and the audio packets of the input.
    with av.open(str(preview)) as p, av.open(str(clip)) as c:
        assert [f.pts * f.time_base for f in p.decode(video=0)] == [
            f.pts * f.time_base for f in c.decode(video=0)
        ]
        assert len(p.streams.audio) == 1
    # Landmarks were drawn: pixels changed inside the face box, hardly outside it.
    with av.open(str(preview)) as p, av.open(str(clip)) as c:
        a = next(p.decode(video=0)).to_ndarray(format="rgb24").astype(int)
        b = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    x0, y0, x1, y1 = track.boxes[0].astype(int)
    inside = np.abs(a - b)[y0:y1, x0:x1].max(axis=2) > 60
    assert inside.mean() > 0.02
    assert np.abs(a - b)[:, : max(0, x0 - 20)].mean() < 3

    rc, stdout, err = run_cli(capsys, "inspect", str(out), "--plot", str(plot))
    assert rc == 0, err
    assert "175" in stdout and "100.0%" in stdout and "480x480" in stdout
    assert "jawOpen" in stdout and "browInnerUp" in stdout and "eyeBlinkLeft" in stdout
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_list_faces_prints_the_faces_of_the_first_frame(capsys: Cap) -> None:
    rc, stdout, err = run_cli(
        capsys, "track", str(shared_clip("multi_faces.mp4")), "--list-faces", "-q"
    )
    assert rc == 0, err
    lines = stdout.strip().splitlines()
    assert lines[0].startswith("frame 0 ")
    faces = [ln for ln in lines if "--face" in ln]
    assert len(faces) >= 3 and "--face 0:" in faces[0] and "--face 2:" in faces[2]


def test_no_face_warns_and_still_writes_the_track(tmp_path: Path, capsys: Cap) -> None:
    out = tmp_path / "t.npz"
    rc, stdout, err = run_cli(
        capsys, "track", str(shared_clip("no_face.mp4")), "-o", str(out), "-q"
    )
    assert rc == 0
    assert "emodirector: warning: no face was found" in err
    assert "103 frames, 0 with a face (0.0%)" in stdout
    assert not load_track(out).valid.any()
    rc, stdout, err = run_cli(capsys, "inspect", str(out))
    assert rc == 0 and "never" in stdout and "0.0%" in stdout


def test_a_truncated_video_warns_about_lost_frames(tmp_path: Path, capsys: Cap) -> None:
    cut = truncate_copy(shared_clip("talking_frontal_c.mp4"), tmp_path / "cut.mp4")
    out = tmp_path / "t.npz"
    rc, stdout, err = run_cli(capsys, "track", str(cut), "-o", str(out), "-q")
    assert rc == 0
    n = load_track(out).n_frames
    assert 0 < n < 175
    assert f"{175 - n} of 175 announced frames could not be decoded" in err
    assert f"tracked {n} frames" in stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-o", "{clip}"], ["input"]),
        (["-o", "{tmp}/t.mp4"], [".npz"]),
        ([], ["-o TRACK.npz"]),
        (["-o", "{tmp}/nodir/t.npz"], ["does not exist"]),
        (["-o", "{tmp}/t.npz", "--face", "4"], ["max-faces"]),
        (["-o", "{tmp}/t.npz", "--face-model", "{tmp}/missing.task"], ["missing.task"]),
        (["-o", "{tmp}/t.npz", "--preview", "{clip}"], ["input"]),
        (["-o", "{tmp}/t.npz", "--preview", "{tmp}/p.txt"], ["p.txt", ".mp4"]),
    ],
)
def test_bad_track_arguments_give_one_error_line(
    tmp_path: Path, capsys: Cap, args: list[str], words: list[str]
) -> None:
    clip = shared_clip("smile_reference.mp4")
    argv = [a.format(clip=clip, tmp=tmp_path) for a in args]
    rc, _, err = run_cli(capsys, "track", str(clip), "-q", *argv)
    assert_one_error_line(rc, err, *words)
    assert not list(tmp_path.iterdir())  # nothing written


def test_not_a_video_gives_one_error_line(tmp_path: Path, capsys: Cap) -> None:
    bad = tmp_path / "v.mp4"
    bad.write_text("not a video")
    rc, _, err = run_cli(capsys, "track", str(bad), "-o", str(tmp_path / "t.npz"), "-q")
    assert_one_error_line(rc, err, "v.mp4")


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 broken zip", None])
def test_bad_track_file_gives_one_error_line(
    tmp_path: Path, capsys: Cap, content: bytes | None
) -> None:
    bad = tmp_path / "t.npz"
    if content is None:
        np.savez(bad, kind=np.array("something_else"), schema_version=np.int64(1))
    else:
        bad.write_bytes(content)
    rc, _, err = run_cli(capsys, "inspect", str(bad), "--plot", str(tmp_path / "c.png"))
    assert_one_error_line(rc, err, "t.npz")
    assert not (tmp_path / "c.png").exists()


def test_missing_track_file_gives_one_error_line(tmp_path: Path, capsys: Cap) -> None:
    rc, _, err = run_cli(capsys, "inspect", str(tmp_path / "none.npz"))
    assert_one_error_line(rc, err, "no such file")


def test_native_log_noise_is_silenced_and_our_lines_remain(tmp_path: Path) -> None:
    """MediaPipe's C++ logs go to fd 2 directly; run the real console entry in a subprocess."""
    video = make_video(tmp_path / "grey.mp4", width=160, height=120, n_frames=5)
    out = tmp_path / "t.npz"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "emodirector", "track", str(video), "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for noise in ("InitGoogle", "W0000", "XNNPACK", "I0000"):
        assert noise not in proc.stderr, proc.stderr
    assert "emodirector: warning: no face was found" in proc.stderr
    assert "tracked 5 frames, 0 with a face" in proc.stdout


def test_a_face_picked_afresh_is_warned_about(capsys: Cap) -> None:
    """When the followed face is lost for longer than forget_after, tracking may pick another
    person; the user is told when."""
    from emodirector.cli.track import _warn_about
    from emodirector.track import TrackOptions as Opts
    from emodirector.track import TrackResult, _stack
    from emodirector.video import DecodeStats

    track = _stack([None] * 4, [0.0, 0.5, 1.0, 1.5], 64, 48, Opts())
    track.valid[:] = True
    track.meta["acquired_at"] = "0,3"
    _warn_about(TrackResult(track=track, decode=DecodeStats(decoded=4, expected=4)), 0)
    err = capsys.readouterr().err
    assert "picked afresh at 1.50 s" in err and len(err.strip().splitlines()) == 1


def test_preview_refuses_a_track_of_another_video(tmp_path: Path) -> None:
    from emodirector.errors import TrackFileError
    from emodirector.preview import write_preview
    from emodirector.track import TrackOptions as Opts
    from emodirector.track import _stack

    video = make_video(tmp_path / "v.mp4", width=64, height=48, n_frames=3)
    wrong_size = _stack([None] * 3, [0.0, 0.04, 0.08], 640, 480, Opts())
    with pytest.raises(TrackFileError, match="640x480"):
        write_preview(video, wrong_size, tmp_path / "p.mp4")
    too_short = _stack([None] * 2, [0.0, 0.04], 64, 48, Opts())
    with pytest.raises(TrackFileError, match="more frames"):
        write_preview(video, too_short, tmp_path / "p.mp4")
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # no preview left behind


def test_smooth_flag_is_recorded_and_shown(tmp_path: Path, capsys: Cap) -> None:
    clip = shared_clip("smile_reference.mp4")
    out = tmp_path / "t.npz"
    rc, _, err = run_cli(capsys, "track", str(clip), "-o", str(out), "--smooth", "-q")
    assert rc == 0, err
    track = load_track(out)
    assert track.meta["smoothing"] == "True" and track.valid.all()
    rc, stdout, _ = run_cli(capsys, "inspect", str(out))
    assert rc == 0 and "smoothing  on" in stdout


def test_face_model_from_the_environment_must_exist(
    tmp_path: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMODIRECTOR_FACE_MODEL", str(tmp_path / "nope.task"))
    clip = shared_clip("smile_reference.mp4")
    rc, _, err = run_cli(capsys, "track", str(clip), "-o", str(tmp_path / "t.npz"), "-q")
    assert_one_error_line(rc, err, "nope.task", "EMODIRECTOR_FACE_MODEL")
    rc, _, err = run_cli(capsys, "track", str(clip), "--list-faces")
    assert_one_error_line(rc, err, "nope.task")
