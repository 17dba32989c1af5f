"""The renderer contract: what every renderer (warp, warp + appearance, learned) takes and gives.

A renderer turns one decoded I420 picture plus one face's tracked and edited geometry into the
picture to write. The pipeline picks one by name (render/__init__.py) and drives it frame by frame;
one set of contract tests runs against each (no face passes through, pixels outside the face
ring untouched, deterministic).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from ..types import EditedTrack
from .mesh import Box

Outcome = Literal["no_face", "unchanged", "tiny", "edited"]


@dataclass(frozen=True)
class RenderOptions:
    """How to render a face. The CLI reads its defaults from here."""

    renderer: str = "warp"  # which renderer (render.RENDERERS)
    model: str | None = None  # the learned renderer's PERSON.pt (train-renderer); None otherwise
    # How the learned renderer's face goes back: "correct" adds its (smooth) correction to the
    # full-resolution warp, keeping the warp's detail; "replace" pastes its upsampled 128 px face
    # (better SSIM and gradient error on held-out frames, visibly softer teeth and skin).
    learned_blend: Literal["correct", "replace"] = "correct"
    grid_step: int = 4  # pixels between samples of the displacement grid (even, >= 2)
    ring_margin: float = 0.35  # fixed ring beyond the face oval, as a share of centre-to-oval
    min_face_width: float = 64.0  # pixels; narrower faces pass through unchanged (with a warning)
    min_shift: float = 0.05  # pixels; an edit that moves no landmark more is treated as zero
    rigid_eyes: bool = True  # a narrowed eye opening moves rigidly with the iris
    mouth_fill: bool = True  # fill the newly opened part of the mouth (own interior or a cavity)
    mouth_fill_gain: float = 2.0  # pixels of extra lip opening before the interior is filled
    mouth_bank: int = 8  # open-mouth frames of the clip kept as interiors (0 = shaded cavity)


@dataclass(frozen=True)
class FaceEdit:
    """One frame's face: the geometry it has and the one it should get."""

    index: int  # row of the frame in the (edited) track
    src: np.ndarray  # (478, 3) float32 tracked landmarks, pixels of the frame (z in x's scale)
    dst: np.ndarray  # (478, 3) float32 edited landmarks, same space
    src_blendshapes: np.ndarray  # (52,) float32 tracked blendshapes, MediaPipe order
    dst_blendshapes: np.ndarray  # (52,) float32 edited blendshapes


@dataclass
class RenderedFrame:
    """The picture to write and what happened to it."""

    yuv: np.ndarray  # (H2 * 3 // 2, W2) uint8 I420; the input array itself when nothing changed
    outcome: Outcome
    box: Box | None = None  # the warped region (pixels), None when nothing changed


def i420_planes(yuv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views (Y (H2, W2), U (H2/2, W2/2), V) into an OpenCV I420 array (writes go through)."""
    w2 = yuv.shape[1]
    h2 = yuv.shape[0] * 2 // 3
    flat = yuv.reshape(-1)
    n, q = h2 * w2, (h2 // 2) * (w2 // 2)
    y = flat[:n].reshape(h2, w2)
    u = flat[n : n + q].reshape(h2 // 2, w2 // 2)
    v = flat[n + q : n + 2 * q].reshape(h2 // 2, w2 // 2)
    return y, u, v


class Renderer(Protocol):
    """What the pipeline needs of a renderer. Implementations hold no state that one frame's
    render() changes for the next, except what prepare() gathered from the clip."""

    name: str

    def prepare(
        self,
        video: str | os.PathLike[str],
        edited: EditedTrack,
        window: tuple[float, float] | None = None,
    ) -> None:
        """Gather what the renderer needs from the whole clip before the first frame (e.g. the
        person's own mouth interiors); may read `video`. A no-op for the plain warp."""
        ...

    def render(self, yuv: np.ndarray, face: FaceEdit | None) -> RenderedFrame:
        """The picture to write for one I420 frame ((H2*3/2, W2) uint8); `face` None = no face.

        The input array is never modified; it is returned itself when nothing changes.
        """
        ...
