"""`emodirector manipulate` from the command line: every mode, the plot, and bad input (one
clear error line, non-zero exit, no traceback, nothing written)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_clip
from emodirector.cli import main
from emodirector.cli.manipulate import add_request_arguments, request_from_args
from emodirector.errors import InputError
from emodirector.manipulate import EmotionSpec
from emodirector.track import BLENDSHAPE_NAMES, TrackResult
from emodirector.trackfile import load_edited, save_track


@pytest.fixture(scope="module")
def track_file(
    tmp_path_factory: pytest.TempPathFactory, tracked: Callable[..., TrackResult]
) -> Path:
    path = tmp_path_factory.mktemp("tracks") / "calm.npz"
    return save_track(tracked(shared_clip("talking_frontal_c.mp4")).track, path)


def run(argv: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse errors
        rc = exc.code if isinstance(exc.code, int) else 1
    cap = capfd.readouterr()
    return rc, cap.out, cap.err


def assert_one_clear_error(rc: int, err: str, words: str) -> None:
    assert rc != 0
    lines = [line for line in err.splitlines() if line.startswith("emodirector: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert words in lines[0], lines[0]


def test_request_arguments_are_shared_and_parsed() -> None:
    parser = argparse.ArgumentParser()
    add_request_arguments(parser)
    args = parser.parse_args(["--emotion", "anger:0.5", "--set", "browInnerUp=+0.1"])
    request, refs = request_from_args(args)
    assert request.emotion == EmotionSpec("anger", 0.5) and refs == []
    assert request.overrides == ("browInnerUp=+0.1",) and request.transition == 0.3
    args = parser.parse_args(["--ref", "a.mp4", "b.npz", "--transition", "0.5"])
    request, refs = request_from_args(args)
    assert refs == ["a.mp4", "b.npz"] and request.references == ("a.mp4", "b.npz")
    with pytest.raises(InputError, match="unknown emotion"):
        request_from_args(parser.parse_args(["--emotions", "happy", "joyous"]))
    with pytest.raises(SystemExit):
        parser.parse_args(["--emotion", "happy", "--schedule", "0-1:sad"])


@pytest.mark.slow
def test_emotion_with_plot(
    tmp_path: Path, track_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out, png = tmp_path / "edited.npz", tmp_path / "curves.png"
    rc, stdout, err = run(
        [
            "manipulate",
            str(track_file),
            "--emotion",
            "happy:0.8",
            "-o",
            str(out),
            "--plot",
            str(png),
        ],
        capfd,
    )
    assert rc == 0, err
    edited = load_edited(out)
    smile = BLENDSHAPE_NAMES.index("mouthSmileLeft")
    assert edited.blendshapes[:, smile].mean() > edited.original.blendshapes[:, smile].mean() + 0.2
    assert set(edited.labels) == {"happy"} and np.allclose(edited.intensity, 0.8)
    assert "frames changed" in stdout
    from matplotlib.image import imread

    image = imread(png)
    assert image.shape[0] > 300 and image.shape[1] == 900  # one panel per changed channel
    assert image[..., :3].std() > 0.05  # not a blank picture


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, labels",
    [
        (["--emotions", "happy", "sad", "angry"], {"happy", "sad", "angry"}),
        (["--schedule", "1-2.5:surprise:0.8, 2.5-4:fear"], {"", "surprised", "fear"}),
        (["--set", "mouthSmileRight=+0.3"], {"set"}),
        (["--ref", "SMILE"], {"ref:smile_reference.mp4"}),
    ],
)
def test_modes(
    tmp_path: Path,
    track_file: Path,
    capfd: pytest.CaptureFixture[str],
    args: list[str],
    labels: set[str],
) -> None:
    args = [str(shared_clip("smile_reference.mp4")) if a == "SMILE" else a for a in args]
    out = tmp_path / "edited.npz"
    rc, _, err = run(["manipulate", str(track_file), *args, "-o", str(out), "-q"], capfd)
    assert rc == 0, err
    edited = load_edited(out)
    assert set(edited.labels) == labels
    assert np.abs(edited.landmarks - edited.original.landmarks).max() > 0.5


@pytest.fixture(scope="module")
def empty_track_file(
    tmp_path_factory: pytest.TempPathFactory, tracked: Callable[..., TrackResult]
) -> Path:
    path = tmp_path_factory.mktemp("tracks") / "no_face.npz"
    return save_track(tracked(shared_clip("no_face.mp4")).track, path)


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, words",
    [
        (["--emotion", "joyous"], "valid ones are angry, contempt, disgusted, fear, happy"),
        (["--emotion", "happy:2"], "from 0 (unchanged) to 1.5"),
        (["--emotion", "happy:-0.5"], "from 0 (unchanged) to 1.5"),
        (["--schedule", "0-2.5happy"], "START-END:EMOTION"),
        (["--schedule", "0-3:happy, 2-end:sad"], "overlap"),
        (["--schedule", "5-9:happy"], "outside the video"),
        (["--set", "eyeBlinkLeft=0.4"], "blinks and gaze"),
        (["--presets", "/nonexistent/p.json", "--emotion", "happy"], "no such file"),
        (["--transition", "-1", "--emotion", "happy"], "transition"),
        (["--ref", "NOFACE"], "no face found in the reference"),
        ([], "nothing to change"),
    ],
)
def test_bad_requests(
    tmp_path: Path,
    track_file: Path,
    empty_track_file: Path,
    capfd: pytest.CaptureFixture[str],
    args: list[str],
    words: str,
) -> None:
    args = [str(empty_track_file) if a == "NOFACE" else a for a in args]
    out = tmp_path / "edited.npz"
    rc, _, err = run(["manipulate", str(track_file), *args, "-o", str(out)], capfd)
    assert_one_clear_error(rc, err, words)
    assert not out.exists() and not list(tmp_path.iterdir())


def write_other_schema(path: Path, source: Path) -> Path:
    with np.load(source) as z:
        data = {k: z[k] for k in z.files}
    data["schema_version"] = np.int64(99)
    np.savez(path, **data)
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "case, words",
    [
        ("corrupt", "not a readable .npz"),
        ("other_schema", "schema version 99"),
        ("no_faces", "no frame with a face"),
        ("missing", "no such file"),
        ("same_as_output", "is the input file"),
    ],
)
def test_bad_track_files(
    tmp_path: Path,
    track_file: Path,
    empty_track_file: Path,
    capfd: pytest.CaptureFixture[str],
    case: str,
    words: str,
) -> None:
    out = tmp_path / "edited.npz"
    if case == "corrupt":
        src = tmp_path / "corrupt.npz"
        src.write_bytes(track_file.read_bytes()[:2000])
    elif case == "other_schema":
        src = write_other_schema(tmp_path / "v99.npz", track_file)
    elif case == "no_faces":
        src = empty_track_file
    elif case == "missing":
        src = tmp_path / "missing.npz"
    else:
        src = tmp_path / "copy.npz"
        src.write_bytes(track_file.read_bytes())
        out = src
    before = sorted(tmp_path.iterdir())
    rc, _, err = run(["manipulate", str(src), "--emotion", "sad", "-o", str(out)], capfd)
    assert_one_clear_error(rc, err, words)
    assert sorted(tmp_path.iterdir()) == before
