"""Plain data passed between the stages (video -> track -> manipulate -> render -> write).

Shapes, dtypes and coordinate spaces are given next to every field. T is the number of decoded
frames of the video, always; frames without a face keep their row, with valid=False and NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np

N_LANDMARKS = 478
N_BLENDSHAPES = 52


@dataclass(frozen=True)
class VideoInfo:
    """What a probe of a video file tells, before decoding every frame."""

    path: str
    width: int  # display width in pixels, rotation applied
    height: int  # display height in pixels, rotation applied
    fps: float  # average frame rate; informative only, timing is kept from pts
    time_base: Fraction  # unit of Frame.pts
    frame_count: int | None  # as the container states it; None when unknown (may be wrong)
    duration: float | None  # seconds, as the container states it
    rotation: int  # degrees counter-clockwise the stored picture is turned for display
    has_audio: bool
    codec: str  # video codec name, e.g. "h264"
    start_time: float = 0.0  # seconds of the first video pts


@dataclass(frozen=True)
class Frame:
    """One decoded frame, in display orientation.

    The picture is kept as the decoder's I420 planes so that a frame written back unchanged is
    pixel-identical (an RGB round trip through PyAV darkens by ~1 level; OpenCV's is exact to 0.01).
    """

    index: int  # 0-based decode (= presentation) order
    pts: int | None  # presentation timestamp in VideoInfo.time_base units
    time: float  # seconds from the start of the stream
    yuv: np.ndarray  # (H2 * 3 // 2, W2) uint8 I420, H2/W2 = height/width rounded up to even
    width: int  # true display width (W2 may be one more, edge-padded)
    height: int  # true display height

    def rgb(self) -> np.ndarray:
        """(height, width, 3) uint8 RGB, converted with OpenCV (exact round trip)."""
        rgb = cv2.cvtColor(self.yuv, cv2.COLOR_YUV2RGB_I420)
        return np.ascontiguousarray(rgb[: self.height, : self.width])


@dataclass
class FaceTrack:
    """One face followed over a whole video. Rows where valid is False hold NaN."""

    landmarks: np.ndarray  # (T, 478, 3) float32; x, y in pixels of the frame; z in x's pixel scale
    blendshapes: np.ndarray  # (T, 52) float32 in [0, 1], ARKit order (index 0 is "_neutral")
    blendshape_names: tuple[str, ...]  # (52,) names, MediaPipe order
    transforms: np.ndarray  # (T, 4, 4) float32 head pose matrices as MediaPipe gives them (cm)
    boxes: np.ndarray  # (T, 4) float32 x0, y0, x1, y1 in pixels: the landmarks' bounding box
    valid: np.ndarray  # (T,) bool, False where no face was found
    timestamps: np.ndarray  # (T,) float64 seconds, presentation time of each frame
    fps: float  # average frame rate of the source (informative)
    width: int  # frame width in pixels
    height: int  # frame height in pixels
    source: str  # file name of the video it was tracked from
    face_index: int = 0  # which face of the first frames was followed (0 = largest)
    meta: dict[str, str] = field(default_factory=dict)  # free-form provenance (options used)

    @property
    def n_frames(self) -> int:
        return int(self.valid.shape[0])

    def channel(self, name: str) -> np.ndarray:
        """(T,) float32 values of one blendshape by name."""
        return self.blendshapes[:, self.blendshape_names.index(name)]


@dataclass
class EditedTrack:
    """A track and its edit: what the renderer needs to move pixels from one geometry to the other.

    Frames where valid is False or where nothing changed must have landmarks == original.landmarks.
    """

    original: FaceTrack
    landmarks: np.ndarray  # (T, 478, 3) float32 edited landmarks, same space as original.landmarks
    blendshapes: np.ndarray  # (T, 52) float32 edited blendshapes
    # Per-frame resolved schedule: the label and intensity applied at each frame (after transitions).
    labels: tuple[str, ...]  # (T,) emotion label per frame, "" where unchanged
    intensity: np.ndarray  # (T,) float32 effective weight per frame in [0, 1.5]; 0 = unchanged
    meta: dict[str, str] = field(default_factory=dict)  # how the edit was asked for

    @property
    def n_frames(self) -> int:
        return self.original.n_frames


# A progress callback: hook(stage, done, total). Drives progress bars in the CLI; the library
# never prints. total is None when the number of steps is not known in advance.
ProgressHook = Callable[[str, int, int | None], None]


def no_progress(stage: str, done: int, total: int | None) -> None:
    """The default hook: report nothing."""
