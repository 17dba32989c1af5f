"""Basic facts of a video before an edit: size, length, frame rate, audio, and the faces found.

Why: a person choosing what to edit wants to know what they gave (is it the right clip, how long,
which faces can be picked) before any long work. `emodirector track --list-faces` and the web UI
both show these facts; they come from here so that both say the same thing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .track import TrackOptions, list_faces
from .types import VideoInfo
from .video import probe


@dataclass(frozen=True)
class VideoFacts:
    """What a probe and a face search of the first frames tell about a video."""

    info: VideoInfo
    size_bytes: int  # file size on disk
    face_frame: int  # index of the first frame with a face; -1 when none was found
    face_time: float  # seconds of that frame (0.0 when none)
    faces: tuple[np.ndarray, ...]  # (4,) float x0, y0, x1, y1 pixel boxes, largest first

    @property
    def duration(self) -> float | None:
        """Seconds, as the container states it (None when unknown)."""
        return self.info.duration

    def summary(self) -> str:
        """One line: size, length, frame rate, frames, audio."""
        i = self.info
        length = "unknown length" if i.duration is None else f"{i.duration:.2f} s"
        frames = "" if i.frame_count is None else f", {i.frame_count} frames"
        audio = "with audio" if i.has_audio else "no audio"
        mb = self.size_bytes / 1e6
        return f"{i.width}x{i.height}, {length}, {i.fps:.2f} fps{frames}, {audio}, {mb:.1f} MB"

    def face_lines(self) -> list[str]:
        """The faces of the first frame that has any, as `--face N` choices (largest first)."""
        if not self.faces:
            return []
        lines = [
            f"frame {self.face_frame} ({self.face_time:.2f} s): {len(self.faces)} face(s), "
            "largest first"
        ]
        for i, b in enumerate(self.faces):
            x0, y0, x1, y1 = (float(v) for v in b)
            lines.append(
                f"  --face {i}: box x {x0:.0f}-{x1:.0f}, y {y0:.0f}-{y1:.0f} "
                f"({x1 - x0:.0f}x{y1 - y0:.0f} px)"
            )
        return lines


def video_facts(path: str | os.PathLike[str], options: TrackOptions | None = None) -> VideoFacts:
    """Probe `path` and search its first frames for faces as tracking would (VideoError when it
    is not a readable video). Faces are ranked as `--face N` counts them."""
    info = probe(path)
    index, time_s, boxes = list_faces(path, options or TrackOptions())
    return VideoFacts(
        info=info,
        size_bytes=Path(path).stat().st_size,
        face_frame=index,
        face_time=time_s if index >= 0 else 0.0,
        faces=tuple(np.asarray(b, dtype=np.float64) for b in boxes),
    )


__all__ = ["VideoFacts", "video_facts"]
