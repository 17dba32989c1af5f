"""`emodirector edit` and `emodirector render` end to end on real clips, with the real manipulator.

Round trip: the output is tracked again, and the face must show the asked change while the
speech (inner-lip opening) follows the input's. Short ranges (--end) keep the runtime modest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from conftest import TALKING_CLIPS, shared_clip
from emodirector.cli import main
from emodirector.cli.common import progress
from emodirector.render import INNER_LIP_PAIRS, opening
from emodirector.track import track_video
from emodirector.trackfile import load_track
from emodirector.types import FaceTrack, ProgressHook
from media import decoded_planes, frame_times

OTHER_EMOTIONS = ("angry", "surprised", "neutral", "fear", "sad", "disgusted", "contempt")


def lip_opening(track: FaceTrack) -> np.ndarray:
    """(T,) inner-lip opening in pixels, NaN where no face."""
    return np.array(
        [
            opening(track.landmarks[i, :, :2], INNER_LIP_PAIRS) if track.valid[i] else np.nan
            for i in range(track.n_frames)
        ]
    )


def smile(track: FaceTrack) -> float:
    return float(
        np.nanmean((track.channel("mouthSmileLeft") + track.channel("mouthSmileRight")) / 2)
    )


def lip_correlation(a: FaceTrack, b: FaceTrack) -> float:
    la, lb = lip_opening(a), lip_opening(b)
    ok = np.isfinite(la) & np.isfinite(lb)
    assert ok.sum() > 20
    return float(np.corrcoef(la[ok], lb[ok])[0, 1])


def run_edit(
    video: Path, out: Path, *args: str, capsys: pytest.CaptureFixture[str]
) -> tuple[FaceTrack, FaceTrack, str]:
    """Run the CLI; return the input's kept track, the output re-tracked, and stdout."""
    keep = out.parent / f"{out.stem}_tracks"
    code = main(["edit", str(video), "-o", str(out), "--keep-track", str(keep), "-q", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return load_track(keep / "track.npz"), track_video(out).track, captured.out


@pytest.mark.slow
@pytest.mark.parametrize("clip", TALKING_CLIPS)
def test_happy_edit_smiles_and_keeps_speech(
    clip: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = shared_clip(clip)
    out = tmp_path / "happy.mp4"
    before, after, stdout = run_edit(video, out, "--emotion", "happy", "--end", "3", capsys=capsys)
    assert after.n_frames == before.n_frames
    assert frame_times(out) == frame_times(video)[: before.n_frames]  # VFR clip included
    assert f"{before.n_frames} frames, {int(before.valid.sum())} with a face" in stdout
    rise = smile(after) - smile(before)
    assert rise >= 0.15, f"{clip}: smile rose by {rise:.3f}"
    assert lip_correlation(before, after) >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("emotion", OTHER_EMOTIONS)
def test_every_emotion_keeps_the_lip_motion(
    emotion: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = shared_clip("talking_frontal_a.mp4")
    out = tmp_path / f"{emotion}.mp4"
    before, after, _ = run_edit(video, out, "--emotion", emotion, "--end", "2", capsys=capsys)
    assert lip_correlation(before, after) >= 0.95


def test_render_command_and_a_track_of_another_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = shared_clip("talking_frontal_c.mp4")
    keep = tmp_path / "tracks"
    first = tmp_path / "edit.mp4"
    side = tmp_path / "side.mp4"
    code = main(
        [
            "edit",
            str(video),
            "--emotion",
            "sad",
            "--start",
            "1",
            "--preview",
            "1.2",
            "-q",
            "--crf",
            "0",
        ]
        + ["-o", str(first), "--compare", str(side), "--keep-track", str(keep)]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "warning" not in err  # stopping at the range's end is not a decoding problem
    times = frame_times(first)
    assert len(times) == 30 and times[0] == 0 and frame_times(side) == times
    # Rendering the kept edited track again gives the same frames (lossless) and timing.
    again = tmp_path / "again.mp4"
    render = ["render", str(video), str(keep / "edited.npz"), "-o", str(again), "-q"]
    assert main([*render, "--crf", "0"]) == 0
    assert "30 frames, 30 with a face" in capsys.readouterr().out
    assert frame_times(again) == times
    for a, b in zip(decoded_planes(again), decoded_planes(first), strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    # The same track with another video: one clear line, exit 2, nothing written.
    other = shared_clip("talking_frontal_b.mp4")
    bad = tmp_path / "bad.mp4"
    assert main(["render", str(other), str(keep / "edited.npz"), "-o", str(bad), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "480x480" in err[0] and "512x512" in err[0]
    assert not bad.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--emotion", "happy", "--end", "1"], "no face"),
        (["--emotion", "happy", "--start", "60"], "past the end"),
        (["--emotion", "cheerful-ish"], "cheerful-ish"),
    ],
)
def test_edit_errors_are_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = shared_clip("no_face.mp4")
    out = tmp_path / "out.mp4"
    assert main(["edit", str(video), "-o", str(out), "-q", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("emodirector: error:") and message in err[0]
    assert list(tmp_path.iterdir()) == []


def test_edit_output_folder_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = shared_clip("talking_frontal_c.mp4")
    out = tmp_path / "missing" / "out.mp4"
    assert main(["edit", str(video), "--emotion", "happy", "-o", str(out), "-q"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_ctrl_c_during_edit_leaves_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C in the render pass: exit 130, no file under the output (or side-by-side) name."""

    @contextmanager
    def interrupting(desc: str, *, enabled: bool = True) -> Iterator[ProgressHook]:
        def hook(stage: str, done: int, total: int | None) -> None:
            if stage == "render" and done == 10:
                raise KeyboardInterrupt

        yield hook

    import emodirector.cli.edit as cli_edit

    monkeypatch.setattr(cli_edit, "progress", interrupting)
    video = shared_clip("talking_frontal_c.mp4")
    out, side = tmp_path / "out.mp4", tmp_path / "side.mp4"
    args = ["edit", str(video), "--emotion", "happy", "--end", "1", "-o", str(out)]
    assert main([*args, "--compare", str(side)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


REPORT_KEYS = {
    "schema", "original", "edited", "warnings", "frames", "container", "emotion", "lips",
    "identity", "stability", "series",
}  # fmt: skip


def printed_number(stdout: str, prefix: str, after: str) -> float:
    """The number that follows `after` on the stdout line starting with `prefix`."""
    lines = [line for line in stdout.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, stdout
    match = re.search(re.escape(after) + r"\s*(-?[0-9.]+)", lines[0])
    assert match is not None, lines[0]
    return float(match.group(1))


def test_edit_with_report_prints_and_writes_real_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`edit --report --json --html` on 2 s of a real clip: the report of that very edit."""
    video = shared_clip("talking_frontal_c.mp4")
    out, js, page = tmp_path / "happy.mp4", tmp_path / "r.json", tmp_path / "r.html"
    args = ["edit", str(video), "--emotion", "happy", "--end", "2", "-o", str(out), "-q"]
    code = main([*args, "--report", "--json", str(js), "--html", str(page)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    n = len(frame_times(out))
    assert n == 50  # 2 s at 25 fps
    stdout = captured.out
    corr = printed_number(stdout, "lips:", "opening correlation")
    assert 0.9 <= corr <= 1.0  # the edit keeps the speech (measured 0.99 on this range)
    dist = printed_number(stdout, "identity", "distance")
    threshold = printed_number(stdout, "identity", "threshold")
    assert 0.0 < dist < threshold  # same person, but not a copy of the input
    assert printed_number(stdout, "stability:", "ratio") > 0
    assert f"frames: {n} original, {n} edited, {n} matched" in stdout
    data = json.loads(js.read_text(encoding="utf-8"))
    assert REPORT_KEYS <= set(data) and data["schema"] == "emodirector.report/1"
    assert data["edited"] == str(out) and data["frames"]["matched"] == n
    assert data["emotion"]["target"] == "happy"
    before, after = data["emotion"]["target_prob_before"], data["emotion"]["target_prob_after"]
    assert 0.0 <= before < after <= 1.0  # the independent classifier sees more happiness
    assert f"P {before:.3f} -> {after:.3f}" in stdout
    assert round(data["lips"]["correlation"], 3) == corr
    assert len(data["series"]["lip_opening_after"]) == n
    assert page.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


def test_edit_report_path_refused_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = shared_clip("talking_frontal_c.mp4")
    out = tmp_path / "out.mp4"
    bad = tmp_path / "missing" / "r.json"
    args = ["edit", str(video), "--emotion", "happy", "-o", str(out), "--json", str(bad), "-q"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("emodirector: error:") and "missing" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_progress_draws_one_bar_at_a_time(capsys: pytest.CaptureFixture[str]) -> None:
    """Stages one after another (and a stage run twice): no cursor-up escapes ("[A" litter)."""
    with progress("edit") as hook:
        for stage in ("track", "render", "render"):
            for done in range(1, 6):
                hook(stage, done, 5)
    err = capsys.readouterr().err
    assert "\x1b[A" not in err
    assert "edit: track" in err and "edit: render" in err


def test_the_cli_checks_an_edit_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`edit` checks its request, its outputs and the report files once, before tracking: the
    library's edit() takes the CLI's check instead of probing the video again."""
    import emodirector.cli.edit as cli_edit
    import emodirector.pipeline as pipeline
    from emodirector.demo import sample_clip

    real = pipeline.preflight_edit
    calls: list[str] = []

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(str(args[0]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cli_edit, "preflight_edit", counted)
    monkeypatch.setattr(pipeline, "preflight_edit", counted)
    out = tmp_path / "out.mp4"
    args = ["edit", str(sample_clip()), "--emotion", "happy", "--end", "0.3", "-o", str(out), "-q"]
    assert main([*args, "--json", str(tmp_path / "r.json")]) == 0
    assert len(calls) == 1 and out.is_file() and (tmp_path / "r.json").is_file()
