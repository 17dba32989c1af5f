"""The manipulator on the shared real clips: FACS directions, speech kept, smooth transitions,
neutral and reference style, frames without a face, determinism, the edited-track file.

Geometry is measured in the pose-normalised face space of each original frame (the same
similarity maps original and edited landmarks), in units of the inter-ocular distance (IOD).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import spearmanr

from conftest import make_track, shared_clip
from emodirector.articulation import SHRINK
from emodirector.emotions import FIXED_CHANNELS, SPEECH_CHANNELS, load_presets
from emodirector.errors import InputError, NoFaceError, TrackFileError
from emodirector.expression import BLINK_CLOSED, load_generic_basis, normalise_points
from emodirector.manipulate import (
    EditRequest,
    EmotionSpec,
    ManipulateOptions,
    load_references,
    manipulate,
)
from emodirector.report import lip_opening
from emodirector.track import BLENDSHAPE_NAMES, TrackResult
from emodirector.trackfile import load_edited, save_edited, save_track
from emodirector.types import EditedTrack, FaceTrack

TALKING = (
    "talking_frontal_a.mp4",
    "talking_frontal_b.mp4",
    "talking_frontal_c.mp4",
    "talking_vfr.mp4",
    "head_motion.mp4",
)
EMOTIONS = ("happy", "sad", "surprised", "fear", "angry", "disgusted", "neutral", "contempt")
IDX = BLENDSHAPE_NAMES.index
CLOSED = 0.04  # inner-lip opening (report units: eye-centre distance) below which lips touch

# Landmarks (MediaPipe mesh): mouth corners, inner brow heads, mid brows, eyelids, nose wings.
CORNER_R, CORNER_L = 61, 291
INNER_BROW_R, INNER_BROW_L = 55, 285
MID_BROW_R, MID_BROW_L = 105, 334
LID_UP_R, LID_LOW_R, LID_UP_L, LID_LOW_L = 159, 145, 386, 374
NOSE_WING_R, NOSE_WING_L = 48, 278
CHIN = 152


def mean_shift(original: FaceTrack, landmarks: np.ndarray) -> np.ndarray:
    """(478, 3) mean displacement edited - original over valid frames, normalised space."""
    norm = normalise_points(original.landmarks, load_generic_basis().template)
    ok = original.valid

    def to_norm(lm: np.ndarray) -> np.ndarray:
        pts = np.einsum("bnj,bij->bni", lm[ok].astype(np.float64), norm.rotation[ok])
        return norm.scale[ok, None, None] * pts + norm.translation[ok, None]

    return (to_norm(landmarks) - to_norm(original.landmarks)).mean(axis=0)


def facs_measures(d: np.ndarray) -> dict[str, float]:
    """Signed movements (IOD; y grows downward, x toward the person's left)."""
    return {
        "corners_up": -(d[CORNER_R, 1] + d[CORNER_L, 1]) / 2,
        "corners_out": (d[CORNER_L, 0] - d[CORNER_R, 0]) / 2,
        "inner_brows_up": -(d[INNER_BROW_R, 1] + d[INNER_BROW_L, 1]) / 2,
        "inner_brows_together": (d[INNER_BROW_R, 0] - d[INNER_BROW_L, 0]) / 2,
        "mid_brows_up": -(d[MID_BROW_R, 1] + d[MID_BROW_L, 1]) / 2,
        "eyes_wider": ((d[LID_LOW_R, 1] - d[LID_UP_R, 1]) + (d[LID_LOW_L, 1] - d[LID_UP_L, 1])) / 2,
        "nose_wings_up": -(d[NOSE_WING_R, 1] + d[NOSE_WING_L, 1]) / 2,
        "chin_down": d[CHIN, 1],
    }


# Real acted emotion -> movements that must happen (directions of REAL_EXPRESSIONS.md table 2:
# landmark displacement of MEAD actors against their neutral take), with the margin (IOD of the
# normalised space) each must exceed on every talking clip: about half the smallest value
# measured over the five clips (person basis). Sadness narrows the eyes and pulls the corners
# down; anger and disgust lower the brows and narrow the eyes; fear and surprise raise the brows
# and drop the jaw; happiness lifts and widens the corners and narrows the eyes.
FACS_MARGINS: dict[str, dict[str, float]] = {
    "happy": {"corners_up": 0.017, "corners_out": 0.023, "eyes_wider": -0.014, "chin_down": 0.009},
    "sad": {"corners_up": -0.016, "eyes_wider": -0.024},
    "surprised": {"inner_brows_up": 0.021, "mid_brows_up": 0.015, "eyes_wider": 0.019,
                  "chin_down": 0.016},
    "angry": {"inner_brows_up": -0.016, "mid_brows_up": -0.018, "eyes_wider": -0.024,
              "chin_down": 0.009},
    "disgusted": {"inner_brows_up": -0.016, "eyes_wider": -0.02, "nose_wings_up": 0.009,
                  "corners_out": 0.007},
    "fear": {"inner_brows_up": 0.018, "corners_out": 0.012, "eyes_wider": 0.009,
             "chin_down": 0.011},
}  # fmt: skip


@pytest.fixture(scope="module")
def edits(tracked: Callable[..., TrackResult]) -> dict[tuple[str, str], EditedTrack]:
    """Every talking clip edited with every preset at intensity 1 (computed once)."""
    out = {}
    for clip in TALKING:
        track = tracked(shared_clip(clip)).track
        for emotion in EMOTIONS:
            out[clip, emotion] = manipulate(track, EditRequest(emotion=EmotionSpec(emotion)))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("emotion", sorted(FACS_MARGINS))
def test_geometry_moves_the_way_real_emotions_do(
    emotion: str, edits: dict[tuple[str, str], EditedTrack]
) -> None:
    for clip in TALKING:
        e = edits[clip, emotion]
        m = facs_measures(mean_shift(e.original, e.landmarks))
        shown = ", ".join(f"{k}={m[k]:+.4f}" for k in FACS_MARGINS[emotion])
        print(f"{emotion} {clip}: {shown}")
        for name, margin in FACS_MARGINS[emotion].items():
            if margin > 0:
                assert m[name] > margin, f"{emotion} on {clip}: {name} = {m[name]:+.4f} IOD"
            else:
                assert m[name] < margin, f"{emotion} on {clip}: {name} = {m[name]:+.4f} IOD"


@pytest.mark.slow
@pytest.mark.parametrize("clip", TALKING)
def test_speech_blinks_and_gaze_are_kept(
    clip: str, edits: dict[tuple[str, str], EditedTrack]
) -> None:
    kept = [IDX(n) for n in (*SPEECH_CHANNELS, *FIXED_CHANNELS)]
    book = load_presets()
    for emotion in EMOTIONS:
        e = edits[clip, emotion]
        before, after = lip_opening(e.original.landmarks), lip_opening(e.landmarks)
        ok = e.original.valid
        r = float(np.corrcoef(before[ok], after[ok])[0, 1])
        closed = ok & (before < CLOSED)
        still = float((after[closed] < CLOSED).mean())
        added = float((after[ok] - before[ok]).mean())
        print(
            f"{clip} {emotion}: lip opening r={r:.4f}, closed kept {still:.3f}, added {added:+.4f}"
        )
        # Articulation: the rhythm follows the speech, closures stay closed; an emotion may add
        # its own opening (a grin, a gasp) but takes at most SHRINK of the speech's away (sadness's
        # frown presses the lips a little: about -0.01 IOD).
        assert r >= 0.9 and still >= 0.9, f"{clip} {emotion}: r={r:.4f} closed kept={still:.3f}"
        least = (1 - SHRINK) * float(before[ok].mean()) - 0.002
        assert float(after[ok].mean()) >= least, f"{clip} {emotion}: lips close by {added:.4f} IOD"
        if emotion in ("happy", "surprised", "fear", "angry"):
            assert added > 0.01, f"{clip} {emotion}: no added opening ({added:+.4f} IOD)"
        preset = book.resolve(emotion)
        untouched = [c for c in kept if preset.offsets[c] == 0.0 and c not in preset.calms]
        np.testing.assert_array_equal(
            e.blendshapes[:, untouched], e.original.blendshapes[:, untouched]
        )
        # Iris points never move: the gaze stays where it was.
        np.testing.assert_array_equal(e.landmarks[:, 468:478], e.original.landmarks[:, 468:478])


@pytest.mark.slow
def test_blinks_stay_blinks(edits: dict[tuple[str, str], EditedTrack]) -> None:
    """While an eye is closed, widening edits do not open it (eyelid gap change < 0.01 IOD)."""
    seen = 0
    for clip in TALKING:
        e = edits[clip, "surprised"]
        blink = e.original.blendshapes[:, IDX("eyeBlinkRight")] > BLINK_CLOSED
        if not blink.any():
            continue
        seen += int(blink.sum())
        iod = np.linalg.norm(
            e.original.landmarks[blink, 263, :2] - e.original.landmarks[blink, 33, :2], axis=1
        )
        gap0 = np.linalg.norm(
            e.original.landmarks[blink, LID_UP_R, :2] - e.original.landmarks[blink, LID_LOW_R, :2],
            axis=1,
        )
        gap1 = np.linalg.norm(
            e.landmarks[blink, LID_UP_R, :2] - e.landmarks[blink, LID_LOW_R, :2], axis=1
        )
        assert np.abs(gap1 - gap0).max() / iod.min() < 0.01, clip
    assert seen > 0, "no closed-eye frame in the talking clips"


@pytest.mark.slow
def test_deterministic(tracked: Callable[..., TrackResult]) -> None:
    track = tracked(shared_clip("talking_frontal_b.mp4")).track
    request = EditRequest(schedule="0-3:happy:0.7, 3-end:angry", overrides=("browInnerUp=+0.1",))
    a, b = manipulate(track, request), manipulate(track, request)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    np.testing.assert_array_equal(a.blendshapes, b.blendshapes)
    assert a.labels == b.labels and a.meta == b.meta


SCHEDULE = "0-2:happy, 2-3.5:sad:1.5, 4.5-end:surprised"


def max_step(x: np.ndarray, valid: np.ndarray) -> float:
    """Largest change between consecutive valid frames (max over all values of a frame)."""
    both = valid[1:] & valid[:-1]
    d = np.abs(np.diff(x.astype(np.float64), axis=0))[both]
    return float(d.reshape(d.shape[0], -1).max())


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["talking_frontal_a.mp4", "talking_vfr.mp4"])
def test_transitions_are_smooth(clip: str, tracked: Callable[..., TrackResult]) -> None:
    """No jump between consecutive frames larger than the clip's own, at segment edges or not."""
    track = tracked(shared_clip(clip)).track
    e = manipulate(track, EditRequest(schedule=SCHEDULE))
    v = track.valid
    assert max_step(e.blendshapes, v) <= max_step(track.blendshapes, v)
    # Frames in the gap (3.5-4.5 s) are exactly the original.
    gap = (track.timestamps >= 3.5) & (track.timestamps < 4.5)
    np.testing.assert_array_equal(e.landmarks[gap], track.landmarks[gap])
    assert set(e.labels[i] for i in np.flatnonzero(gap)) == {""}


# Known defect, kept visible, with two causes on talking_vfr (half its largest own step: 5.0 px).
# 1. The 0.3 s cross-fade from happy to sad:1.5 alone moves the mouth corner (landmark 61) by
#    6.1 px of edit in one frame with lips="exact" and 7.1 px with lips="off": that frame step
#    spans 67 ms of this variable-frame-rate clip (twice its usual interval) mid-fade.
# 2. The jaw's share of its added drop (articulation.JAW_RATE, 8 per second) moves by up to 0.36
#    in one 45 ms frame of this 22 fps clip: with a 0.5 s transition the largest step is still
#    6.7 px (landmark 17, lower lip, at a release). With the default 0.3 s it is 9.0 px
#    (landmark 61). talking_frontal_a (30 fps) passes: 5.0 px against 9.6 px.
# strict: the day it passes, this marker must go.
TRANSITION_STEP = pytest.mark.xfail(
    strict=True,
    reason="0.3 s happy -> sad:1.5 fade over a 67 ms VFR interval, and the jaw gate's 8/s rate "
    "at 22 fps",
)


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["talking_frontal_a.mp4", "talking_vfr.mp4"])
def test_edited_landmarks_never_jump_beyond_the_clip(
    clip: str, tracked: Callable[..., TrackResult]
) -> None:
    """No landmark jump between consecutive frames larger than the clip's own: the opening an
    emotion adds does not switch on in the frame where the speaker's lips open."""
    track = tracked(shared_clip(clip)).track
    e = manipulate(track, EditRequest(schedule=SCHEDULE))
    v = track.valid
    assert max_step(e.landmarks[..., :2], v) <= max_step(track.landmarks[..., :2], v)


@pytest.mark.slow
@pytest.mark.parametrize(
    "clip", ["talking_frontal_a.mp4", pytest.param("talking_vfr.mp4", marks=TRANSITION_STEP)]
)
def test_the_edit_itself_changes_by_at_most_half_the_clips_step(
    clip: str, tracked: Callable[..., TrackResult]
) -> None:
    """The edit (edited - original) changes between consecutive frames by at most half of the
    clip's largest own step: at lip releases, blinks (the blink freeze) and segment edges."""
    track = tracked(shared_clip(clip)).track
    e = manipulate(track, EditRequest(schedule=SCHEDULE))
    v = track.valid
    delta_lm = e.landmarks[..., :2] - track.landmarks[..., :2]
    assert max_step(delta_lm, v) < 0.5 * max_step(track.landmarks[..., :2], v)


@pytest.mark.slow
def test_neutral_lowers_the_smile_of_a_smiling_clip(tracked: Callable[..., TrackResult]) -> None:
    track = tracked(shared_clip("smile_reference.mp4")).track
    e = manipulate(track, EditRequest(emotion=EmotionSpec("neutral")))
    smile = [IDX("mouthSmileLeft"), IDX("mouthSmileRight")]
    before = track.blendshapes[track.valid][:, smile].mean()
    after = e.blendshapes[track.valid][:, smile].mean()
    print(f"smile_reference neutral: smile {before:.3f} -> {after:.3f}")
    assert after < before - 0.3
    d = facs_measures(mean_shift(track, e.landmarks))
    assert d["corners_up"] < -0.01  # the corners come down in the geometry too


@pytest.mark.slow
def test_a_smiling_reference_raises_the_smile_of_a_calm_clip(
    tracked: Callable[..., TrackResult], tmp_path
) -> None:
    calm = tracked(shared_clip("talking_frontal_c.mp4")).track
    ref_path = tmp_path / "smile_ref.npz"
    save_track(tracked(shared_clip("smile_reference.mp4")).track, ref_path)
    refs = load_references([ref_path])
    e = manipulate(calm, EditRequest(references=(str(ref_path),)), references=refs)
    smile = [IDX("mouthSmileLeft"), IDX("mouthSmileRight")]
    before = calm.blendshapes[calm.valid][:, smile].mean()
    after = e.blendshapes[calm.valid][:, smile].mean()
    print(f"talking_frontal_c with smile reference: smile {before:.3f} -> {after:.3f}")
    assert after > before + 0.3
    assert facs_measures(mean_shift(calm, e.landmarks))["corners_up"] > 0.02
    assert set(e.labels) == {"ref:smile_ref.npz"}
    # The target keeps its own timing: the styled smile moves when and as the original moved.
    for name in ("mouthSmileLeft", "mouthSmileRight"):
        a, b = calm.blendshapes[:, IDX(name)], e.blendshapes[:, IDX(name)]
        assert np.corrcoef(np.diff(a), np.diff(b))[0, 1] > 0.9
        assert spearmanr(a, b).statistic > 0.4
    # A bimodal reference (calm, then a broad smile) must not make the smile switch on and off.
    v = calm.valid
    assert max_step(e.blendshapes, v) <= max_step(calm.blendshapes, v)


@pytest.mark.slow
def test_a_smiling_reference_moves_no_landmark_beyond_the_clips_own_step(
    tracked: Callable[..., TrackResult], tmp_path
) -> None:
    calm = tracked(shared_clip("talking_frontal_c.mp4")).track
    ref_path = tmp_path / "smile_ref.npz"
    save_track(tracked(shared_clip("smile_reference.mp4")).track, ref_path)
    e = manipulate(
        calm, EditRequest(references=(str(ref_path),)), references=load_references([ref_path])
    )
    v = calm.valid
    assert max_step(e.landmarks[..., :2], v) <= max_step(calm.landmarks[..., :2], v)


@pytest.mark.slow
def test_frames_without_a_face_are_untouched(tracked: Callable[..., TrackResult]) -> None:
    track = tracked(shared_clip("talking_frontal_b.mp4")).track
    holes = replace(
        track,
        landmarks=track.landmarks.copy(),
        blendshapes=track.blendshapes.copy(),
        valid=track.valid.copy(),
    )
    holes.valid[40:60] = False
    holes.landmarks[40:60] = np.nan
    holes.blendshapes[40:60] = np.nan
    e = manipulate(holes, EditRequest(emotion=EmotionSpec("happy")))
    assert np.isnan(e.landmarks[40:60]).all() and np.isnan(e.blendshapes[40:60]).all()
    assert set(e.labels[40:60]) == {""} and not e.intensity[40:60].any()
    assert np.isfinite(e.landmarks[holes.valid]).all()
    assert np.abs(e.landmarks[70] - holes.landmarks[70]).max() > 0.5  # the others are edited


@pytest.mark.slow
def test_a_track_without_faces_is_refused(tracked: Callable[..., TrackResult]) -> None:
    track = tracked(shared_clip("no_face.mp4")).track
    assert not track.valid.any()
    with pytest.raises(NoFaceError, match="no frame with a face"):
        manipulate(track, EditRequest(emotion=EmotionSpec("happy")))


@pytest.mark.slow
def test_intensity_scales_the_edit(tracked: Callable[..., TrackResult]) -> None:
    track = tracked(shared_clip("talking_frontal_c.mp4")).track
    ups = []
    for i in (0.0, 0.5, 1.0, 1.5):
        e = manipulate(track, EditRequest(emotion=EmotionSpec("happy", i)))
        ups.append(facs_measures(mean_shift(track, e.landmarks))["corners_up"])
        if i == 0.0:
            np.testing.assert_array_equal(e.landmarks, track.landmarks)
    assert ups[0] == 0.0 and ups[0] < ups[1] < ups[2] < ups[3]
    with pytest.raises(InputError, match="1.5"):
        manipulate(track, EditRequest(emotion=EmotionSpec("happy", 1.6)))


@pytest.mark.slow
def test_generic_basis_moves_the_same_way(tracked: Callable[..., TrackResult]) -> None:
    track = tracked(shared_clip("talking_frontal_a.mp4")).track
    e = manipulate(
        track, EditRequest(emotion=EmotionSpec("happy")), ManipulateOptions(basis="generic")
    )
    m = facs_measures(mean_shift(track, e.landmarks))
    assert m["corners_up"] > 0.02 and m["corners_out"] > 0.015


@pytest.mark.slow
def test_edited_track_file_round_trip(tmp_path, edits: dict[tuple[str, str], EditedTrack]) -> None:
    e = edits["talking_vfr.mp4", "sad"]
    path = save_edited(e, tmp_path / "edited.npz")
    back = load_edited(path)
    np.testing.assert_array_equal(back.landmarks, e.landmarks)
    np.testing.assert_array_equal(back.blendshapes, e.blendshapes)
    np.testing.assert_array_equal(back.original.landmarks, e.original.landmarks)
    np.testing.assert_array_equal(back.original.timestamps, e.original.timestamps)
    assert back.labels == e.labels and back.meta == e.meta
    np.testing.assert_array_equal(back.intensity, e.intensity)
    track_file = save_track(e.original, tmp_path / "track.npz")
    with pytest.raises(TrackFileError, match="expected a 'edited_track'"):
        load_edited(track_file)
    with pytest.raises(TrackFileError, match="expected a 'face_track'"):
        load_references([path])


def test_reference_without_a_face_is_refused(tmp_path) -> None:
    n = 5
    empty = make_track(n, valid=np.zeros(n, bool), width=64, height=64, source="empty.mp4")
    path = save_track(empty, tmp_path / "empty.npz")
    with pytest.raises(NoFaceError, match="no face found in the reference"):
        load_references([path])


@pytest.mark.slow
def test_several_references_apply_in_equal_parts(tracked: Callable[..., TrackResult]) -> None:
    calm = tracked(shared_clip("talking_frontal_c.mp4")).track
    smiling = tracked(shared_clip("smile_reference.mp4")).track
    sober = tracked(shared_clip("talking_vfr.mp4")).track
    request = EditRequest(references=("smile.mp4", "sober.mp4"))
    e = manipulate(calm, request, references=[smiling, sober])
    half = calm.n_frames // 2
    assert e.labels[0] == "ref:smile.mp4" and e.labels[-1] == "ref:sober.mp4"
    smile = IDX("mouthSmileLeft")
    first = e.blendshapes[: half - 10, smile].mean() - calm.blendshapes[: half - 10, smile].mean()
    second = e.blendshapes[half + 10 :, smile].mean() - calm.blendshapes[half + 10 :, smile].mean()
    assert first > 0.3 and abs(second) < 0.1
    with pytest.raises(InputError, match="2 references named but 1"):
        manipulate(calm, request, references=[smiling])
