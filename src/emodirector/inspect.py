"""What a track holds, at a glance: a summary (for `emodirector inspect`) and a PNG of the main
blendshape curves over time, so a user can see that the face was found and that it moves."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError
from .types import FaceTrack
from .video import atomic_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# The channels that carry an emotion or speech; the rest are gaze and fine mouth shapes.
MAIN_BLENDSHAPES: tuple[str, ...] = (
    "jawOpen",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "browInnerUp",
    "browDownLeft",
    "browDownRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeWideLeft",
    "eyeWideRight",
    "cheekSquintLeft",
    "cheekSquintRight",
)


@dataclass(frozen=True)
class ChannelRange:
    """Statistics of one blendshape over the valid frames (NaN when there is none)."""

    name: str
    minimum: float
    mean: float
    maximum: float


@dataclass(frozen=True)
class TrackSummary:
    """Facts about a track, in the units a user reads."""

    source: str  # file name of the tracked video
    frames: int  # T
    valid_frames: int  # frames with the followed face
    fps: float  # average frame rate of the source
    duration: float  # seconds from the first to the last frame time
    width: int  # pixels
    height: int  # pixels
    face_index: int  # size rank of the followed face when it first appeared
    first_valid: float | None  # seconds of the first frame with the face (None: never)
    face_size: float | None  # median of the face box's larger side in pixels (None: no face)
    smoothed: bool
    ranges: tuple[ChannelRange, ...]  # the MAIN_BLENDSHAPES present in the track

    @property
    def valid_percent(self) -> float:
        return 100.0 * self.valid_frames / self.frames if self.frames else 0.0


def summarize(track: FaceTrack) -> TrackSummary:
    """The summary of a track (pure numpy; NaN-safe)."""
    valid = track.valid
    t = track.timestamps
    duration = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    first = float(t[np.argmax(valid)]) if valid.any() else None
    size = None
    if valid.any():
        b = track.boxes[valid]
        size = float(np.median(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])))
    ranges = []
    for name in MAIN_BLENDSHAPES:
        if name not in track.blendshape_names:
            continue
        v = track.channel(name)[valid]
        if v.size:
            ranges.append(ChannelRange(name, float(v.min()), float(v.mean()), float(v.max())))
        else:
            ranges.append(ChannelRange(name, float("nan"), float("nan"), float("nan")))
    return TrackSummary(
        source=track.source,
        frames=track.n_frames,
        valid_frames=int(valid.sum()),
        fps=track.fps,
        duration=duration,
        width=track.width,
        height=track.height,
        face_index=track.face_index,
        first_valid=first,
        face_size=size,
        smoothed=track.meta.get("smoothing") == "True",
        ranges=tuple(ranges),
    )


# Curves drawn in the plot, grouped by face region so that left/right pairs share an axis.
PLOT_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "mouth",
        ("jawOpen", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight"),
    ),
    ("brows", ("browInnerUp", "browDownLeft", "browDownRight")),
    ("eyes", ("eyeBlinkLeft", "eyeBlinkRight", "eyeWideLeft", "eyeWideRight")),
)


def plot_blendshapes(track: FaceTrack, output: str | os.PathLike[str]) -> Path:
    """Write a PNG of the main blendshape curves against time in seconds (gaps where no face)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    out = Path(output)
    if out.suffix.lower() != ".png":
        raise InputError(f"{out}: the plot is written as PNG; give a name ending in .png.")
    t = track.timestamps - (track.timestamps[0] if track.n_frames else 0.0)
    fig, axes = plt.subplots(
        len(PLOT_GROUPS), 1, figsize=(11, 7), sharex=True, layout="constrained"
    )
    for ax, (title, names) in zip(axes, PLOT_GROUPS, strict=True):
        # A Left/Right pair shares a colour; Right is dashed.
        stems = list(dict.fromkeys(n.removesuffix("Left").removesuffix("Right") for n in names))
        for name in names:
            if name in track.blendshape_names:
                y = np.where(track.valid, track.channel(name), np.nan)
                colour = f"C{stems.index(name.removesuffix('Left').removesuffix('Right'))}"
                style = "--" if name.endswith("Right") else "-"
                ax.plot(t, y, style, color=colour, label=name, linewidth=1.2)
        _shade_missing(ax, t, track.valid)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    axes[-1].set_xlabel("time (s)")
    pct = 100.0 * track.valid.mean() if track.n_frames else 0.0
    fig.suptitle(f"{track.source or 'track'}: blendshapes ({pct:.0f}% of frames with a face)")
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format="png", dpi=100, metadata={"Software": "emodirector"})
    finally:
        plt.close(fig)
    return out


def _shade_missing(ax: Axes, t: np.ndarray, valid: np.ndarray) -> None:
    """Grey spans over the frames without a face, so a gap is not read as a zero."""
    edges = np.flatnonzero(np.diff(np.concatenate([[1], valid.astype(np.int8), [1]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        lo = t[a]
        hi = t[b] if b < len(t) else t[-1]
        ax.axvspan(lo, hi, color="0.85", zorder=0)
