"""Face tracking: MediaPipe FaceLandmarker (VIDEO mode) -> FaceTrack, one face followed over time.

Why follow by box overlap: the detector returns faces in no stable order, and "the largest face
in each frame" jumps between people in a crowd. We pick one face when it first appears (the
largest, or the N-th largest) and then keep the detection that overlaps its last box.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from .errors import EmodirectorError, ModelNotFoundError, VideoError
from .model import find_face_model
from .types import N_BLENDSHAPES, N_LANDMARKS, FaceTrack, Frame, ProgressHook, no_progress
from .video import DecodeStats, VideoReader

# MediaPipe's blendshape order (index 0 is "_neutral", so jawOpen is 25).
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft",
    "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft",
    "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen",
    "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)  # fmt: skip


@dataclass(frozen=True)
class TrackOptions:
    """How to track. The CLI reads its defaults from here."""

    face: int = 0  # which face to follow, by size rank when it first appears (0 = largest)
    max_faces: int = 4  # faces the detector looks for, so that one can be chosen and followed
    min_confidence: float = 0.5  # detection / presence / tracking confidence for MediaPipe
    smoothing: bool = False  # temporal One-Euro smoothing of landmarks and blendshapes
    face_model: str | None = None  # model path override; None = the installed pinned model


@dataclass(frozen=True)
class FaceObservation:
    """One face found in one frame."""

    landmarks: np.ndarray  # (478, 3) float32 pixels (z in x's pixel scale)
    blendshapes: np.ndarray  # (52,) float32
    transform: np.ndarray  # (4, 4) float32
    box: np.ndarray  # (4,) float32 x0, y0, x1, y1 pixels

    @property
    def area(self) -> float:
        return float(max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1]))


class Landmarker:
    """A MediaPipe FaceLandmarker in VIDEO mode; closes itself (MediaPipe 1.2.3 errors at exit otherwise)."""

    def __init__(self, options: TrackOptions = TrackOptions()) -> None:
        path = find_face_model(options.face_model)
        self._lm = _create_landmarker(path, options)
        self._last_ms = -1

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._lm is not None:
            self._lm.close()
            self._lm = None

    def detect(self, rgb: np.ndarray, time_s: float) -> list[FaceObservation]:
        """Faces in one RGB frame (H, W, 3) uint8 at time_s seconds; timestamps must increase."""
        import mediapipe as mp

        # VIDEO mode needs strictly increasing integer ms: VFR and >1000 fps need the +1 guard.
        ms = max(self._last_ms + 1, int(round(time_s * 1000.0)))
        self._last_ms = ms
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._lm.detect_for_video(image, ms)
        h, w = rgb.shape[:2]
        return [_observation(result, i, w, h) for i in range(len(result.face_landmarks))]


def _create_landmarker(path: Path, options: TrackOptions) -> Any:
    from mediapipe.tasks.python import BaseOptions, vision

    opts = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(path)),
        running_mode=vision.RunningMode.VIDEO,
        num_faces=options.max_faces,
        min_face_detection_confidence=options.min_confidence,
        min_face_presence_confidence=options.min_confidence,
        min_tracking_confidence=options.min_confidence,
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
    )
    try:
        return vision.FaceLandmarker.create_from_options(opts)
    except (RuntimeError, ValueError, OSError) as exc:
        raise ModelNotFoundError(f"{path}: not a usable face landmarker model ({exc}).") from exc


def _observation(result: Any, i: int, width: int, height: int) -> FaceObservation:
    pts = result.face_landmarks[i]
    lm = np.array([(p.x * width, p.y * height, p.z * width) for p in pts], dtype=np.float32)
    bs = np.zeros(N_BLENDSHAPES, dtype=np.float32)
    if result.face_blendshapes:
        for c in result.face_blendshapes[i]:
            bs[c.index] = c.score
    tf = np.full((4, 4), np.nan, dtype=np.float32)
    if result.facial_transformation_matrixes:
        tf = np.asarray(result.facial_transformation_matrixes[i], dtype=np.float32)
    box = np.array(
        [lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()], dtype=np.float32
    )
    return FaceObservation(landmarks=lm, blendshapes=bs, transform=tf, box=box)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two x0, y0, x1, y1 boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class FaceFollower:
    """Keeps one face across frames: picks it when faces first appear, then follows by overlap."""

    rank: int = 0  # size rank to pick at acquisition (0 = largest)
    min_iou: float = 0.2  # overlap with the last box that counts as the same face
    max_shift: float = 0.6  # else: centre moved less than this × the last box size
    last_box: np.ndarray | None = field(default=None)

    def choose(self, faces: list[FaceObservation]) -> FaceObservation | None:
        """The followed face among this frame's faces, or None (not found this frame)."""
        if not faces:
            return None
        chosen: FaceObservation | None
        if self.last_box is None:
            if len(faces) <= self.rank:
                return None
            chosen = sorted(faces, key=lambda f: f.area, reverse=True)[self.rank]
        else:
            chosen = self._match(faces, self.last_box)
            if chosen is None:
                return None
        self.last_box = chosen.box
        return chosen

    def _match(self, faces: list[FaceObservation], last: np.ndarray) -> FaceObservation | None:
        ious = [box_iou(f.box, last) for f in faces]
        best = int(np.argmax(ious))
        if ious[best] >= self.min_iou:
            return faces[best]
        centre = (last[:2] + last[2:]) / 2
        size = float(max(last[2] - last[0], last[3] - last[1]))
        dists = [float(np.linalg.norm((f.box[:2] + f.box[2:]) / 2 - centre)) for f in faces]
        near = int(np.argmin(dists))
        return faces[near] if dists[near] < self.max_shift * size else None


@dataclass
class TrackResult:
    """A track and what reading the video said along the way (for warnings in the CLI)."""

    track: FaceTrack
    decode: DecodeStats


def track_video(
    path: str | os.PathLike[str],
    options: TrackOptions = TrackOptions(),
    *,
    hook: ProgressHook = no_progress,
    start: float | None = None,
    end: float | None = None,
) -> TrackResult:
    """Track one face through every decoded frame of `path` (or the frames in [start, end) s).

    T of the returned track equals the number of decoded frames in range, always; frames without
    the followed face have valid=False and NaN.
    """
    with VideoReader(path) as reader:
        info = reader.info
        total = info.frame_count
        frames: Iterable[Frame] = reader
        if start is not None or end is not None:
            frames = _in_range(reader, start, end)
            total = None
        track = track_frames(frames, info.width, info.height, options, hook=hook, total=total)
        track.fps = info.fps
        track.source = Path(path).name
        return TrackResult(track=track, decode=reader.stats)


def _in_range(frames: Iterable[Frame], start: float | None, end: float | None) -> Iterator[Frame]:
    for f in frames:
        if start is not None and f.time < start:
            continue
        if end is not None and f.time >= end:
            break
        yield f


def track_frames(
    frames: Iterable[Frame],
    width: int,
    height: int,
    options: TrackOptions = TrackOptions(),
    *,
    hook: ProgressHook = no_progress,
    total: int | None = None,
) -> FaceTrack:
    """Track one face over an iterable of frames (streamed; only small per-frame arrays are kept)."""
    follower = FaceFollower(rank=options.face)
    rows: list[FaceObservation | None] = []
    times: list[float] = []
    with Landmarker(options) as lm:
        for i, frame in enumerate(frames):
            faces = lm.detect(frame.rgb(), frame.time)
            rows.append(follower.choose(faces))
            times.append(frame.time)
            hook("track", i + 1, total)
    track = _stack(rows, times, width, height, options)
    if options.smoothing:
        from .smoothing import smooth_track

        track = smooth_track(track)
    return track


def _stack(
    rows: list[FaceObservation | None],
    times: list[float],
    width: int,
    height: int,
    options: TrackOptions,
) -> FaceTrack:
    t = len(rows)
    lm = np.full((t, N_LANDMARKS, 3), np.nan, dtype=np.float32)
    bs = np.full((t, N_BLENDSHAPES), np.nan, dtype=np.float32)
    tf = np.full((t, 4, 4), np.nan, dtype=np.float32)
    boxes = np.full((t, 4), np.nan, dtype=np.float32)
    valid = np.zeros(t, dtype=bool)
    for i, obs in enumerate(rows):
        if obs is None:
            continue
        lm[i], bs[i], tf[i], boxes[i], valid[i] = (
            obs.landmarks,
            obs.blendshapes,
            obs.transform,
            obs.box,
            True,
        )
    return FaceTrack(
        landmarks=lm,
        blendshapes=bs,
        blendshape_names=BLENDSHAPE_NAMES,
        transforms=tf,
        boxes=boxes,
        valid=valid,
        timestamps=np.asarray(times, dtype=np.float64),
        fps=0.0,
        width=width,
        height=height,
        source="",
        face_index=options.face,
        meta={"max_faces": str(options.max_faces), "smoothing": str(options.smoothing)},
    )


def list_faces(
    path: str | os.PathLike[str], options: TrackOptions = TrackOptions(), *, max_frames: int = 150
) -> tuple[int, float, list[np.ndarray]]:
    """Faces in the first frame (within max_frames) that has any: (frame index, time, boxes by size).

    The order is the one `TrackOptions.face` / `--face N` refers to.
    """
    with VideoReader(path) as reader, Landmarker(options) as lm:
        for frame in reader:
            if frame.index >= max_frames:
                break
            faces = lm.detect(frame.rgb(), frame.time)
            if faces:
                ranked = sorted(faces, key=lambda f: f.area, reverse=True)
                return frame.index, frame.time, [f.box for f in ranked]
    return -1, 0.0, []


__all__ = [
    "BLENDSHAPE_NAMES",
    "EmodirectorError",
    "FaceFollower",
    "FaceObservation",
    "Landmarker",
    "TrackOptions",
    "TrackResult",
    "VideoError",
    "box_iou",
    "list_faces",
    "track_frames",
    "track_video",
]
