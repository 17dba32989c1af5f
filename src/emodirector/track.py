"""Face tracking: MediaPipe FaceLandmarker -> FaceTrack, one face followed over time.

Why follow by box overlap: the detector returns faces in no stable order, and "the largest face
in each frame" jumps between people in a crowd. We pick one face when it first appears (the
largest, or the N-th largest) and then keep the detection that overlaps its predicted box.

Why crops and tiles: MediaPipe's short-range detector sees the whole frame at 128 px, so a
100 px face in a 1920x1080 frame is 7 px to it and is never found. The cheap path (one VIDEO-mode
call on the full frame) serves the usual single big face; when it misses the followed face we run
IMAGE mode on a square crop around the last box, and while no face is followed yet we scan
overlapping square tiles every few frames. Crop landmarks are mapped back to frame pixels.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from .errors import EmodirectorError, InputError, ModelNotFoundError, VideoError
from .interrupts import deferred
from .io.reader import FINGERPRINT_KEY, fingerprint
from .model import find_face_model
from .outofcore import RowBuffer, RowFile
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
    crop_scale: float = 3.0  # side of the fallback crop around the last box, × the box size
    scan_every: int = 10  # frames between tile scans while no face is followed (>= 1)
    tile_min: int = 256  # smallest tile side in pixels; frames under 2× this are never tiled
    forget_after: float = 2.0  # seconds lost before a new face may be picked (inf = never)
    confirm_frames: int = 3  # a newly picked face must be seen this many frames in a row, else
    # it is dropped as a false detection (one blurred title frame of face_noface.mov was a "face")

    def check(self) -> None:
        """Raise InputError on a value that cannot work (the CLI passes user values through)."""
        if self.face < 0:
            raise InputError(f"face {self.face}: use 0 (the largest face) or a positive rank.")
        if self.max_faces < 1:
            raise InputError(f"max-faces {self.max_faces}: must be at least 1.")
        if self.face >= self.max_faces:
            raise InputError(
                f"face {self.face} can never be picked with max-faces {self.max_faces}; "
                f"raise --max-faces to at least {self.face + 1}."
            )
        if not 0.0 < self.min_confidence <= 1.0:
            raise InputError(f"min-confidence {self.min_confidence}: must be in (0, 1].")
        if self.crop_scale < 1.0 or min(self.scan_every, self.confirm_frames) < 1:
            raise InputError("crop_scale must be >= 1, scan_every and confirm_frames >= 1.")
        if self.tile_min < 64:
            raise InputError(f"tile_min {self.tile_min}: must be >= 64 pixels.")
        if not self.forget_after > 0:
            raise InputError(f"forget_after {self.forget_after}: must be > 0 seconds.")


@dataclass(frozen=True)
class FaceObservation:
    """One face found in one frame."""

    landmarks: np.ndarray  # (478, 3) float32 pixels (z in x's pixel scale)
    blendshapes: np.ndarray  # (52,) float32
    transform: np.ndarray  # (4, 4) float32 (from a crop: pose of the crop's virtual camera)
    box: np.ndarray  # (4,) float32 x0, y0, x1, y1 pixels

    @property
    def area(self) -> float:
        return float(max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1]))


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Send fd 2 to /dev/null for a moment: MediaPipe's C++ logs ("Logging before InitGoogle",
    XNNPACK, W0000 lines) ignore every env var and Python setting. Only used around landmarker
    creation and first call, where all of them are printed; our own errors are raised, not printed.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (embedded interpreter): leave it alone
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class Landmarker:
    """MediaPipe FaceLandmarkers: VIDEO mode for full frames, IMAGE mode (made on first use) for
    crops and tiles. Closes itself (MediaPipe 1.2.3 errors at exit otherwise)."""

    def __init__(self, options: TrackOptions = TrackOptions()) -> None:
        options.check()
        self._options = options
        self._path = find_face_model(options.face_model)
        self._lm: Any = None
        self._image_lm: Any = None
        self._image_used = False
        self._last_ms = -1
        # Ctrl-C cannot land between making the native landmarker and keeping it: an orphan
        # would be closed by its finaliser at interpreter exit, which prints a traceback.
        try:
            with deferred(), _quiet_native_stderr():
                self._lm = _create_landmarker(self._path, options, video=True)
        except BaseException:
            self.close()
            raise

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
        """Close both native landmarkers now (not in a finaliser), even during Ctrl-C."""
        with deferred():
            for name in ("_lm", "_image_lm"):
                lm = getattr(self, name)
                setattr(self, name, None)
                if lm is not None:
                    lm.close()

    def detect(self, rgb: np.ndarray, time_s: float) -> list[FaceObservation]:
        """Faces in one RGB frame (H, W, 3) uint8 at time_s seconds; timestamps must increase."""
        import mediapipe as mp

        # VIDEO mode needs strictly increasing integer ms: VFR and >1000 fps need the +1 guard.
        ms = max(self._last_ms + 1, int(round(time_s * 1000.0)))
        first = self._last_ms < 0
        self._last_ms = ms
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        with _quiet_native_stderr() if first else contextlib.nullcontext():
            result = self._lm.detect_for_video(image, ms)
        h, w = rgb.shape[:2]
        return [_observation(result, i, w, h) for i in range(len(result.face_landmarks))]

    def detect_square(self, rgb: np.ndarray, x0: int, y0: int, side: int) -> list[FaceObservation]:
        """Faces in the square rgb[y0:y0+side, x0:x0+side] (IMAGE mode), in frame pixels."""
        import mediapipe as mp

        crop = np.ascontiguousarray(rgb[y0 : y0 + side, x0 : x0 + side])
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=crop)
        first = not self._image_used
        with _quiet_native_stderr() if first else contextlib.nullcontext():
            if self._image_lm is None:
                with deferred():
                    self._image_lm = _create_landmarker(self._path, self._options, video=False)
            result = self._image_lm.detect(image)
        self._image_used = True
        h, w = crop.shape[:2]
        return [
            _observation(result, i, w, h, offset=(x0, y0))
            for i in range(len(result.face_landmarks))
        ]

    def detect_tiles(self, rgb: np.ndarray, side: int) -> list[FaceObservation]:
        """Faces on overlapping square tiles (step = half a tile), duplicates merged by overlap.

        Each candidate is checked again on the crop tracking would use (crop_scale × its box):
        on multi_faces.mp4 this kept the 4 real faces of frame 0 and dropped 2 false ones
        (a jacket, a column) that a lone tile had found.
        """
        h, w = rgb.shape[:2]
        found: list[tuple[float, FaceObservation]] = []
        for x0, y0 in tile_origins(w, h, side):
            for f in self.detect_square(rgb, x0, y0, side):
                found.append((_interior_margin(f.box, x0, y0, side), f))
        confirmed = []
        for cand in dedupe_faces(found):
            x0, y0, s = crop_square(cand.box, w, h, self._options.crop_scale)
            again = self.detect_square(rgb, x0, y0, s)
            ious = [box_iou(a.box, cand.box) for a in again]
            if ious and max(ious) >= 0.3:
                confirmed.append(again[int(np.argmax(ious))])
        return confirmed


def _create_landmarker(path: Path, options: TrackOptions, *, video: bool) -> Any:
    from mediapipe.tasks.python import BaseOptions, vision

    mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
    opts = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(path)),
        running_mode=mode,
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


def _observation(
    result: Any, i: int, width: int, height: int, offset: tuple[int, int] = (0, 0)
) -> FaceObservation:
    """Face i of a result, in pixels of the frame (landmarks are normalised by w and h apart)."""
    pts = result.face_landmarks[i]
    lm = np.array([(p.x, p.y, p.z) for p in pts], dtype=np.float32)
    lm *= np.array([width, height, width], dtype=np.float32)
    lm[:, 0] += offset[0]
    lm[:, 1] += offset[1]
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


def tile_origins(width: int, height: int, side: int) -> list[tuple[int, int]]:
    """Top-left corners of square tiles covering the frame, half a tile apart, edges included."""

    def starts(length: int) -> list[int]:
        if side >= length:
            return [0]
        out = list(range(0, length - side + 1, max(1, side // 2)))
        if out[-1] != length - side:
            out.append(length - side)
        return out

    return [(x, y) for y in starts(height) for x in starts(width)]


def tile_side(width: int, height: int, options: TrackOptions) -> int | None:
    """Tile side for a frame (a third of its short side), or None when too small to tile.

    On multi_faces.mp4 (1080p, faces 70-120 px) tiles of 360 px found 4 faces in frame 0 where
    540 px tiles found 1.
    """
    short = min(width, height)
    if short < 2 * options.tile_min:
        return None
    return max(options.tile_min, short // 3)


def crop_square(box: np.ndarray, width: int, height: int, scale: float) -> tuple[int, int, int]:
    """(x0, y0, side) of a square `scale` × the box's size around its centre, inside the frame."""
    size = float(max(box[2] - box[0], box[3] - box[1]))
    side = int(min(max(scale * size, 64.0), width, height))
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0 = int(np.clip(round(cx - side / 2), 0, width - side))
    y0 = int(np.clip(round(cy - side / 2), 0, height - side))
    return x0, y0, side


def _interior_margin(box: np.ndarray, x0: int, y0: int, side: int) -> float:
    """Distance from the box to its tile's nearest edge: the larger, the less it was cut."""
    return float(min(box[0] - x0, box[1] - y0, x0 + side - box[2], y0 + side - box[3]))


def dedupe_faces(
    scored: list[tuple[float, FaceObservation]], min_iou: float = 0.3
) -> list[FaceObservation]:
    """Keep one face per group of overlapping boxes: the one with the highest score."""
    kept: list[FaceObservation] = []
    for _, face in sorted(scored, key=lambda sf: sf[0], reverse=True):
        if all(box_iou(face.box, k.box) < min_iou and not _contains(k.box, face.box) for k in kept):
            kept.append(face)
    return kept


def _contains(outer: np.ndarray, inner: np.ndarray) -> bool:
    """Whether the centre of `inner` lies inside `outer` (a cut face inside a whole one)."""
    cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    return bool(outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two x0, y0, x1, y1 boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def rank_faces(faces: list[FaceObservation]) -> list[FaceObservation]:
    """Faces by size, largest first: the order `TrackOptions.face` / `--face N` refers to."""
    return sorted(faces, key=lambda f: f.area, reverse=True)


@dataclass
class FaceFollower:
    """Keeps one face across frames: picks it when faces first appear, then follows by overlap
    with where it should be now (last box moved by its recent velocity, so crossing faces do not
    swap)."""

    rank: int = 0  # size rank to pick at acquisition (0 = largest)
    min_iou: float = 0.2  # overlap with the predicted box that counts as the same face
    max_shift: float = 0.6  # else: centre within this × the last box size of the prediction
    max_scale: float = 1.3  # a match may be at most this much larger or smaller than the last box
    drift: float = 1.0  # box sizes per second the centre may wander while the face is unseen
    last_box: np.ndarray | None = field(default=None)  # (4,) float32 pixels, None = not following
    velocity: np.ndarray | None = field(default=None)  # (4,) box change per second (or per call)
    last_time: float | None = field(default=None)  # seconds (or call count) of last_box

    def forget(self) -> None:
        """Stop following: the next faces seen are picked afresh by rank."""
        self.last_box = self.velocity = self.last_time = None

    def predicted(self, time_s: float) -> np.ndarray | None:
        """Where the followed box should be at time_s: its centre moved at constant velocity
        (for at most 0.5 s), its size kept."""
        if self.last_box is None:
            return None
        if self.velocity is None or self.last_time is None:
            return self.last_box
        dt = min(max(time_s - self.last_time, 0.0), 0.5)
        shift = np.tile((self.velocity[:2] + self.velocity[2:]) / 2 * dt, 2)
        return (self.last_box + shift).astype(np.float32)

    def choose(
        self, faces: list[FaceObservation], time_s: float | None = None
    ) -> FaceObservation | None:
        """The followed face among this frame's faces, or None (not found this frame).

        time_s: the frame's time in seconds, for the motion prediction; None counts calls.
        """
        now = time_s if time_s is not None else (self.last_time or 0.0) + 1.0
        if not faces:
            return None
        if self.last_box is None:
            if len(faces) <= self.rank:
                return None
            chosen: FaceObservation | None = rank_faces(faces)[self.rank]
        else:
            pred = self.predicted(now)
            gap = now - self.last_time if self.last_time is not None else 0.0
            reach = self.max_shift + self.drift * max(gap, 0.0)
            chosen = self._match(faces, pred if pred is not None else self.last_box, reach)
        if chosen is not None:
            self._update(chosen.box, now)
        return chosen

    def _update(self, box: np.ndarray, now: float) -> None:
        if self.last_box is not None and self.last_time is not None and now > self.last_time:
            v = (box - self.last_box) / (now - self.last_time)
            # Smooth the velocity: detector noise on one frame must not fling the prediction.
            self.velocity = v if self.velocity is None else 0.5 * self.velocity + 0.5 * v
        self.last_box = np.asarray(box, dtype=np.float32)
        self.last_time = now

    def _match(
        self, faces: list[FaceObservation], ref: np.ndarray, reach: float
    ) -> FaceObservation | None:
        # A face of another size is another person passing in front or behind (on multi_faces.mp4
        # a 85 px face crossing a 45 px one took over its track without this gate).
        last_size = _box_size(ref)
        faces = [
            f for f in faces if 1 / self.max_scale <= _box_size(f.box) / last_size <= self.max_scale
        ]
        if not faces:
            return None
        ious = [box_iou(f.box, ref) for f in faces]
        best = int(np.argmax(ious))
        if ious[best] >= self.min_iou:
            return faces[best]
        centre = (ref[:2] + ref[2:]) / 2
        dists = [float(np.linalg.norm((f.box[:2] + f.box[2:]) / 2 - centre)) for f in faces]
        near = int(np.argmin(dists))
        return faces[near] if dists[near] < reach * last_size else None


def _box_size(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1], 1e-6))


@dataclass
class _Finder:
    """Per-video search policy: cheap full-frame pass first, crops and tiles only when needed."""

    lm: Landmarker
    follower: FaceFollower
    options: TrackOptions
    width: int
    height: int
    crop_first: bool = False  # the last face came from a crop: the full frame is too coarse
    search_start: int = 0  # frame index where the current search began (tile scan schedule)
    lost_since: float | None = None  # time the followed face was last seen
    acquired_at: list[int] = field(default_factory=list)  # frames where a face was (re)picked
    retracted: list[int] = field(default_factory=list)  # frames whose face was unconfirmed
    crop_hits: int = 0  # frames whose face came from a crop
    tile_scans: int = 0  # tile scans run
    faces_seen: int = 0  # the most faces found in one frame while searching (for messages)

    def find(self, index: int, rgb: np.ndarray, time_s: float) -> FaceObservation | None:
        if self.follower.last_box is None:
            return self._acquire(index, rgb, time_s)
        chosen = self._follow(index, rgb, time_s)
        fresh = self.acquired_at[-1] if self.acquired_at else -1
        if chosen is None and index - fresh < self.options.confirm_frames:
            self.retracted.extend(range(fresh, index))  # a false detection: search afresh
            self.acquired_at.pop()
            self.follower.forget()
            self.search_start = index + 1
            return None
        if chosen is not None:
            self.lost_since = None
        elif self.lost_since is None:
            self.lost_since = time_s
        elif time_s - self.lost_since >= self.options.forget_after:
            self.follower.forget()
            self.lost_since = None
            self.search_start = index + 1
        return chosen

    def _acquire(self, index: int, rgb: np.ndarray, time_s: float) -> FaceObservation | None:
        faces = self.acquisition_faces(index - self.search_start, rgb, time_s)
        self.faces_seen = max(self.faces_seen, len(faces))
        chosen = self.follower.choose(faces, time_s)
        if chosen is not None:
            self.acquired_at.append(index)
            self.crop_first = False
        return chosen

    def acquisition_faces(
        self, since: int, rgb: np.ndarray, time_s: float
    ) -> list[FaceObservation]:
        """Full-frame faces; if none, tile faces on every scan_every-th frame of a search."""
        faces = self.lm.detect(rgb, time_s)
        side = tile_side(self.width, self.height, self.options)
        if not faces and side is not None and since % self.options.scan_every == 0:
            self.tile_scans += 1
            faces = self.lm.detect_tiles(rgb, side)
        return faces

    def _follow(self, index: int, rgb: np.ndarray, time_s: float) -> FaceObservation | None:
        # Now and then try the full frame first again: the face may have grown big enough.
        crop_first = self.crop_first and index % self.options.scan_every != 0
        for use_crop in (crop_first, not crop_first):
            if use_crop:
                ref = self.follower.predicted(time_s)
                if ref is None:
                    return None
                x0, y0, side = crop_square(ref, self.width, self.height, self.options.crop_scale)
                faces = self.lm.detect_square(rgb, x0, y0, side)
            else:
                faces = self.lm.detect(rgb, time_s)
            chosen = self.follower.choose(faces, time_s)
            if chosen is not None:
                self.crop_first = use_crop
                self.crop_hits += int(use_crop)
                return chosen
        return None


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
    options.check()
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
        track.meta[FINGERPRINT_KEY] = fingerprint(path)
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
    landmarks_on_disk: bool = False,
) -> FaceTrack:
    """Track one face over an iterable of frames (streamed; only small per-frame arrays are kept).

    landmarks_on_disk: write each frame's landmarks to an unlinked temporary file instead of
    memory, so memory does not grow with the video; the track's landmarks are then mapped from
    that file (see outofcore.py).
    """
    rows = _TrackRows(landmarks_on_disk)
    try:
        with Landmarker(options) as lm:
            finder = _Finder(lm, FaceFollower(rank=options.face), options, width, height)
            for i, frame in enumerate(frames):
                rows.append(finder.find(i, frame.rgb(), frame.time), frame.time)
                while finder.retracted:
                    rows.retract(finder.retracted.pop())
                hook("track", i + 1, total)
    except BaseException:
        rows.discard()
        raise
    track = rows.track(width, height, options)
    track.meta.update(
        acquired_at=",".join(str(i) for i in finder.acquired_at),
        crop_frames=str(finder.crop_hits),
        tile_scans=str(finder.tile_scans),
        faces_seen=str(finder.faces_seen),
    )
    if options.smoothing:
        from .smoothing import smooth_track

        track = smooth_track(track)
    return track


class _TrackRows:
    """The columns of a track as frames come in: small ones in memory, landmarks in memory or
    in a temporary file. Frames without the face get NaN rows."""

    def __init__(self, landmarks_on_disk: bool) -> None:
        self.landmarks: RowBuffer | RowFile = (
            RowFile((N_LANDMARKS, 3), np.float32)
            if landmarks_on_disk
            else RowBuffer((N_LANDMARKS, 3), np.float32)
        )
        self.blendshapes = RowBuffer((N_BLENDSHAPES,), np.float32)
        self.transforms = RowBuffer((4, 4), np.float32)
        self.boxes = RowBuffer((4,), np.float32)
        self.valid = RowBuffer((), np.bool_)
        self.times = RowBuffer((), np.float64)

    def append(self, obs: FaceObservation | None, time_s: float) -> None:
        self.landmarks.append(None if obs is None else obs.landmarks)
        self.blendshapes.append(None if obs is None else obs.blendshapes)
        self.transforms.append(None if obs is None else obs.transform)
        self.boxes.append(None if obs is None else obs.box)
        self.valid.append(obs is not None)
        self.times.append(time_s)

    def retract(self, index: int) -> None:
        """Frame `index` holds no face after all (an unconfirmed detection)."""
        for column in (self.landmarks, self.blendshapes, self.transforms, self.boxes):
            column.overwrite(index, None)
        self.valid.overwrite(index, False)

    def discard(self) -> None:
        if isinstance(self.landmarks, RowFile):
            self.landmarks.close()

    def track(self, width: int, height: int, options: TrackOptions) -> FaceTrack:
        return FaceTrack(
            landmarks=self.landmarks.array(),
            blendshapes=self.blendshapes.array(),
            blendshape_names=BLENDSHAPE_NAMES,
            transforms=self.transforms.array(),
            boxes=self.boxes.array(),
            valid=self.valid.array(),
            timestamps=self.times.array(),
            fps=0.0,
            width=width,
            height=height,
            source="",
            face_index=options.face,
            meta={"max_faces": str(options.max_faces), "smoothing": str(options.smoothing)},
        )


def _stack(
    rows: list[FaceObservation | None],
    times: list[float],
    width: int,
    height: int,
    options: TrackOptions,
) -> FaceTrack:
    """A track from per-frame observations (None: no face), kept in memory."""
    columns = _TrackRows(landmarks_on_disk=False)
    for obs, t in zip(rows, times, strict=True):
        columns.append(obs, t)
    return columns.track(width, height, options)


def list_faces(
    path: str | os.PathLike[str], options: TrackOptions = TrackOptions(), *, max_frames: int = 150
) -> tuple[int, float, list[np.ndarray]]:
    """Faces in the first frame (within max_frames) that has any: (frame index, time, boxes by size).

    Frames are searched exactly as tracking searches them before it picks a face (full frame,
    then tiles every scan_every frames), so the order is the one `--face N` refers to.
    """
    options.check()
    with VideoReader(path) as reader, Landmarker(options) as lm:
        finder = _Finder(
            lm, FaceFollower(rank=options.face), options, reader.info.width, reader.info.height
        )
        for frame in reader:
            if frame.index >= max_frames:
                break
            faces = finder.acquisition_faces(frame.index, frame.rgb(), frame.time)
            if faces:
                return frame.index, frame.time, [f.box for f in rank_faces(faces)]
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
