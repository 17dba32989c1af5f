"""Preview of a track: the video with the followed face's landmarks drawn, same timing and audio.

Why: a track is numbers; a user checks it by eye (right person, landmarks on the face, no lag)
before spending time on an edit. Frames without a face pass through unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import TrackFileError
from .types import FaceTrack, ProgressHook, no_progress
from .video import VideoReader, VideoWriter


@dataclass(frozen=True)
class PreviewOptions:
    """How the preview looks. The CLI reads its defaults from here."""

    dot_color: tuple[int, int, int] = (0, 255, 0)  # RGB of the landmark dots
    box_color: tuple[int, int, int] = (255, 64, 64)  # RGB of the face box
    dot_radius: int | None = None  # pixels; None = by face size (single pixels under 200 px)
    crf: int = 23  # x264 quality: a preview needs no more


def draw_face(
    rgb: np.ndarray,
    landmarks: np.ndarray,
    box: np.ndarray,
    options: PreviewOptions = PreviewOptions(),
) -> np.ndarray:
    """Draw small landmark dots and the box on a copy of rgb (H, W, 3) uint8; returns the copy.

    landmarks: (478, 3) pixels (z ignored); box: (4,) x0, y0, x1, y1 pixels.
    """
    out = rgb.copy()
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    size = max(x1 - x0, y1 - y0)
    radius = options.dot_radius if options.dot_radius is not None else size // 200
    thick = max(1, size // 100)
    cv2.rectangle(out, (x0, y0), (x1, y1), options.box_color, thick, cv2.LINE_AA)
    pts = np.round(landmarks[:, :2]).astype(np.int32)
    if radius <= 0:  # a small face: 478 round dots would paint it over; single pixels do not
        h, w = out.shape[:2]
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        out[pts[inside, 1], pts[inside, 0]] = options.dot_color
        return out
    for x, y in pts:
        cv2.circle(out, (int(x), int(y)), radius, options.dot_color, -1, cv2.LINE_AA)
    return out


def write_preview(
    video: str | os.PathLike[str],
    track: FaceTrack,
    output: str | os.PathLike[str],
    options: PreviewOptions = PreviewOptions(),
    *,
    hook: ProgressHook = no_progress,
) -> Path:
    """Write `video` with `track` drawn on it to `output` (H.264, source pts, audio copied).

    The track must come from this video (same frame count and size); frames where it is not
    valid are written unchanged (no colour round trip); drawn frames go RGB -> I420 via OpenCV.
    """
    with VideoReader(video) as reader:
        info = reader.info
        if (info.width, info.height) != (track.width, track.height):
            raise TrackFileError(
                f"track is for {track.width}x{track.height} frames, {video} is "
                f"{info.width}x{info.height}; track this video first."
            )
        with VideoWriter(output, info, crf=options.crf, audio_from=video) as writer:
            for frame in reader:
                if frame.index >= track.n_frames:
                    raise TrackFileError(
                        f"{video} has more frames than the track ({track.n_frames}); "
                        "track this video first."
                    )
                if track.valid[frame.index]:
                    rgb = draw_face(
                        frame.rgb(), track.landmarks[frame.index], track.boxes[frame.index], options
                    )
                    writer.write_rgb(frame, rgb)
                else:
                    writer.write(frame)
                hook("preview", frame.index + 1, info.frame_count)
    return Path(output)
