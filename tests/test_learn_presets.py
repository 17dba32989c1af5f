"""learn-presets: labels (CSV and corpus layouts), learning on generated tracks and on a real
clip's time ranges, the written presets file used by the manipulator, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_track, shared_clip
from emodirector.cli import main
from emodirector.emotions import edit_blendshapes, load_presets, plan_edit
from emodirector.errors import InputError, NoFaceError
from emodirector.learn_presets import (
    LabelRow,
    check_labels,
    labels_from_layout,
    learn_from_tracks,
    learn_presets,
    presets_document,
    read_labels,
    write_presets,
)
from emodirector.manipulate import EditRequest, EmotionSpec, check_request
from emodirector.track import BLENDSHAPE_NAMES
from emodirector.types import FaceTrack

IDX = BLENDSHAPE_NAMES.index


def _track(n: int, rest: float, changes: dict[str, float], seed: int) -> FaceTrack:
    """Generated blendshapes: a person's resting value `rest` everywhere, plus `changes`, plus
    noise; one frame without a face (NaN) that must be ignored."""
    rng = np.random.default_rng(seed)
    bs = np.full((n, 52), rest) + rng.normal(0, 0.01, (n, 52))
    for name, v in changes.items():
        bs[:, IDX(name)] += v
    valid = np.ones(n, bool)
    valid[3] = False
    return make_track(n, blendshapes=bs.astype(np.float32), valid=valid)


def _row(person: str, emotion: str, name: str = "x.mp4") -> LabelRow:
    return LabelRow(Path(name), person, emotion, where=f"{person} {emotion}")


def test_each_persons_neutral_is_removed_and_people_count_equally() -> None:
    # Two people with different resting faces (0.1 and 0.4) and different smile sizes.
    items = [
        (_row("a", "neutral"), _track(40, 0.1, {}, 1)),
        (_row("a", "happy"), _track(100, 0.1, {"mouthSmileLeft": 0.5, "eyeSquintLeft": 0.2}, 2)),
        (_row("b", "neutral"), _track(30, 0.4, {}, 3)),
        (_row("b", "neutral"), _track(30, 0.4, {}, 4)),
        (_row("b", "happy"), _track(20, 0.4, {"mouthSmileLeft": 0.3, "eyeSquintLeft": 0.2}, 5)),
        (_row("b", "sad"), _track(20, 0.4, {"browOuterUpLeft": -0.3}, 6)),
    ]
    learned = learn_from_tracks(items)
    assert set(learned) == {"happy", "sad"}
    happy = learned["happy"]
    # People count equally (not frames): (0.5 + 0.3) / 2, spread = their std.
    assert happy.profile[IDX("mouthSmileLeft")] == pytest.approx(0.4, abs=0.01)
    assert happy.spread[IDX("mouthSmileLeft")] == pytest.approx(0.1, abs=0.01)
    assert happy.profile[IDX("eyeSquintLeft")] == pytest.approx(0.2, abs=0.01)
    assert abs(happy.profile[IDX("browInnerUp")]) < 0.02  # the resting faces dropped out
    assert (happy.people, happy.frames) == (2, 99 + 19)  # frames with a face
    assert learned["sad"].people == 1
    assert learned["sad"].profile[IDX("browOuterUpLeft")] == pytest.approx(-0.3, abs=0.01)


def test_learned_file_is_a_presets_file_the_manipulator_uses(tmp_path: Path) -> None:
    items = [
        (_row("a", "neutral"), _track(40, 0.1, {}, 1)),
        (_row("a", "happy"), _track(40, 0.1, {"mouthSmileLeft": 0.5, "jawForward": 0.3}, 2)),
    ]
    doc = presets_document(learn_from_tracks(items))
    path = write_presets(doc, tmp_path / "learned.json")
    entry = json.loads(path.read_text())["emotions"]["happy"]
    assert entry["channels"]["mouthSmileLeft"] == pytest.approx(0.5, abs=0.02)
    assert "jawForward" not in entry["channels"]  # speech channels are not learned
    assert "mouthSmileRight" not in entry["channels"]  # below min_change
    assert entry["people"] == 1 and entry["frames"] == 39
    assert set(entry["profile"]) == set(BLENDSHAPE_NAMES) == set(entry["spread"])
    book = load_presets(str(path))
    assert book.resolve("joy").offsets[IDX("mouthSmileLeft")] == pytest.approx(0.5, abs=0.02)
    # A track edited with the learned preset smiles on the left.
    track = _track(20, 0.1, {}, 7)
    request = EditRequest(EmotionSpec("happy"), presets=str(path))
    edited = edit_blendshapes(track, plan_edit(track, request, check_request(request)), 0.3)
    rise = edited[:, IDX("mouthSmileLeft")] - track.blendshapes[:, IDX("mouthSmileLeft")]
    assert np.nanmean(rise) > 0.3


def test_labels_csv_with_time_ranges(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")  # only its existence is checked here
    csv = tmp_path / "labels.csv"
    csv.write_text(
        "file,person,emotion,start,end\n"
        "clip.mp4,p1,calm,0,1\n"
        "clip.mp4,p1,Happiness,1.5,3\n"
        f"{clip},p1,surprise,3,\n"
    )
    rows = read_labels(csv)
    assert [(r.emotion, r.start, r.end) for r in rows] == [
        ("neutral", 0.0, 1.0),
        ("happy", 1.5, 3.0),
        ("surprised", 3.0, None),
    ]
    assert rows[0].file == clip
    check_labels(rows)


BAD_CSV = {
    "unknown file": ("nope.mp4,p1,happy,,\n", "file 'nope.mp4' not found"),
    "unknown emotion": ("clip.mp4,p1,grumpy,,\n", "unknown emotion 'grumpy'"),
    "bad time": ("clip.mp4,p1,happy,soon,\n", "start 'soon' is not a number"),
    "end before start": ("clip.mp4,p1,happy,2,1\n", "must come after the start"),
    "no neutral": ("clip.mp4,p2,happy,0,1\n", "person 'p2' has no neutral reference"),
    "overlap": ("clip.mp4,p1,happy,0.5,2\n", "overlaps the range 0-1 s"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_labels_give_one_clear_error(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"")
    (tmp_path / "other.mp4").write_bytes(b"")
    line, message = BAD_CSV[case]
    csv = tmp_path / "labels.csv"
    csv.write_text("file,person,emotion,start,end\nclip.mp4,p1,neutral,0,1\n" + line)
    rc = main(["learn-presets", str(csv), "-o", str(tmp_path / "p.json"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message in err[0], err
    assert "Traceback" not in err[0]
    assert not (tmp_path / "p.json").exists()


def test_bad_labels_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such labels file"):
        read_labels(tmp_path / "none.csv")
    (tmp_path / "h.csv").write_text("video,who,label\nx,y,z\n")
    with pytest.raises(InputError, match="must name the columns file, person, emotion"):
        read_labels(tmp_path / "h.csv")
    (tmp_path / "e.csv").write_text("file,person,emotion\n")
    with pytest.raises(InputError, match="no labelled clip"):
        read_labels(tmp_path / "e.csv")


def test_a_range_without_a_face_is_refused() -> None:
    items = [
        (_row("a", "neutral"), _track(10, 0.1, {}, 1)),
        (_row("a", "happy"), make_track(5, valid=np.zeros(5, bool))),
    ]
    with pytest.raises(NoFaceError, match="has no frame with a face"):
        learn_from_tracks(items)


def test_corpus_layouts(tmp_path: Path) -> None:
    files = [
        "M003/video/front/neutral/level_1/001.mp4",
        "M003/video/front/angry/level_3/001.mp4",
        "M003/video/left_30/angry/level_3/001.mp4",  # not the front view: skipped
        "Actor_01/01-01-01-01-01-01-01.mp4",
        "Actor_01/01-01-07-02-01-01-01.mp4",
        "Actor_01/01-01-02-01-01-01-01.mp4",  # calm: skipped
        "1001_DFA_NEU_XX.flv",
        "1001_DFA_HAP_HI.flv",
    ]
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_bytes(b"")
    mead = labels_from_layout(tmp_path, "mead")
    assert [(r.person, r.emotion) for r in mead] == [("M003", "angry"), ("M003", "neutral")]
    ravdess = labels_from_layout(tmp_path, "ravdess")
    assert sorted((r.person, r.emotion) for r in ravdess) == [
        ("actor01", "disgusted"),
        ("actor01", "neutral"),
    ]
    cremad = labels_from_layout(tmp_path, "cremad")
    assert sorted((r.person, r.emotion) for r in cremad) == [("1001", "happy"), ("1001", "neutral")]
    with pytest.raises(InputError, match="no video named as the mead layout"):
        labels_from_layout(tmp_path / "Actor_01", "mead")


def test_presets_file_with_an_unknown_channel_names_it(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"emotions": {"happy": {"channels": {"mouthGrin": 0.5}}}}))
    with pytest.raises(InputError, match="'mouthGrin'"):
        load_presets(str(p))


@pytest.mark.slow
def test_learns_a_smile_from_the_smile_references_ranges(tmp_path: Path) -> None:
    """smile_reference: neutral for the first second, a broad smile from 1 s to 2.6 s."""
    clip = shared_clip("smile_reference.mp4")
    csv = tmp_path / "labels.csv"
    csv.write_text(
        f"file,person,emotion,start,end\n{clip},man,neutral,0,0.6\n{clip},man,happy,1.0,2.5\n"
    )
    out = tmp_path / "learned.json"
    assert main(["learn-presets", str(csv), "-o", str(out), "-q"]) == 0
    happy = json.loads(out.read_text())["emotions"]["happy"]
    ch = happy["channels"]
    # A broad toothy smile: corners up, upper lip raised (as in real happy speech).
    assert ch["mouthSmileLeft"] > 0.4 and ch["mouthSmileRight"] > 0.4
    assert ch["mouthUpperUpLeft"] > 0.2
    assert ch.get("mouthFrownLeft", 0.0) <= 0.0 and ch.get("browDownLeft", 0.0) < 0.1
    assert happy["people"] == 1 and 30 <= happy["frames"] <= 40
    rows = read_labels(csv)
    learned = learn_presets(rows)
    assert learned["happy"].frames == happy["frames"]


def test_an_empty_clip_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    csv = tmp_path / "labels.csv"
    (tmp_path / "b.mp4").write_bytes(b"")
    csv.write_text("file,person,emotion\nempty.mp4,p1,neutral\nb.mp4,p1,happy\n")
    rc = main(["learn-presets", str(csv), "-o", str(tmp_path / "p.json"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "empty.mp4" in err[0], err


def test_output_policy_keeps_the_labels_and_files_not_ours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-o never replaces the labels file, nor an existing file emodirector did not write."""
    csv = tmp_path / "labels.csv"
    csv.write_text("file,person,emotion\nclip.mp4,p1,neutral\n")
    assert main(["learn-presets", str(csv), "-o", str(csv), "-q"]) == 2
    assert "is the input file (LABELS)" in capsys.readouterr().err
    assert csv.read_text().startswith("file,person")
    mine = tmp_path / "notes.json"
    mine.write_text('{"mine": true}')
    assert main(["learn-presets", str(csv), "-o", str(mine), "-q"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert mine.read_text() == '{"mine": true}'
