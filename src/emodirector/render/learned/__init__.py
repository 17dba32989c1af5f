"""The learned renderer: a small network trained on one person's own footage (PERSON.pt).

NED's second learned part, sized for a laptop: instead of a two-GPU, 17-hour neural renderer per
actor, a U-Net of ~200 k parameters over a 128 x 128 face crop, trained in minutes on a CPU by
`emodirector train-renderer` (train.py). Training pairs come from the clip itself: frame i's
pixels warped to frame j's geometry, plus pictures of frame j's geometry -> the real frame j. At
inference the same input is built from the frame being edited warped to its edited geometry, and
the network's correction of the warped face is added back at the source resolution (so the
warp's full-resolution detail stays) through a feathered face oval: frames without a face pass
through, pixels outside the face ring stay untouched. Only the share of the correction that helped
frames held back from training is applied (the model's calibrated gain; 0 = the plain warp).

torch is imported only when this renderer is built (a clear error if it is missing).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputError
from ...types import EditedTrack
from ..base import FaceEdit, RenderedFrame, RenderOptions
from ..warp import WarpRenderer
from .crops import CropBox, crop_box, face_mask, network_input, paste
from .modelfile import LearnedModel, load_model
from .net import import_torch

NO_MODEL = (
    "the learned renderer needs a model: give --renderer PERSON.pt (from `emodirector "
    "train-renderer`)."
)
# Frames (at most) whose landmarks give the clip's mean face shape for the identity check.
IDENTITY_FRAMES = 200


def check_model_option(options: RenderOptions) -> list[str]:
    """The learned renderer needs a readable model file (checked before any long work: a damaged
    or other-version file is refused before tracking, not after); returns notes for the user."""
    if options.model is None:
        raise InputError(NO_MODEL)
    if not Path(options.model).is_file():
        raise InputError(
            f"{options.model}: no such model file; train one with "
            "`emodirector train-renderer VIDEO -o PERSON.pt`."
        )
    if load_model(options.model).config.gain <= 0:
        return [
            f"{options.model}: nothing its network learned carried over to the frames held back "
            "from training (gain 0), so it renders as the plain warp; train on more footage."
        ]
    return []


def face_shape(landmarks: np.ndarray, frames: int = IDENTITY_FRAMES) -> np.ndarray | None:
    """The mean shape of the expression-stable points (report.py's identity measure) over up to
    `frames` evenly spread frames with a face of landmarks (T, 478, 3); None without a face."""
    from ...report import mean_shape

    ok = np.isfinite(landmarks).all(axis=(1, 2))
    rows = np.flatnonzero(ok)
    if len(rows) == 0:
        return None
    rows = rows[np.linspace(0, len(rows) - 1, min(len(rows), frames)).astype(int)]
    return np.asarray(mean_shape(landmarks[rows]))


def identity_distance(model_identity: np.ndarray, landmarks: np.ndarray) -> float:
    """Procrustes distance between the model's person and the face of these landmarks (T, 478, 3)
    (report.py's identity measure)."""
    from ...report import shape_distance

    shape = face_shape(landmarks)
    return float("nan") if shape is None else shape_distance(model_identity, shape)


class LearnedRenderer:
    """The plain warp, then the person's network repaints the face (see the module doc)."""

    name = "learned"

    def __init__(self, options: RenderOptions = RenderOptions(renderer="learned")) -> None:
        if options.model is None:
            raise InputError(NO_MODEL)
        self.options = options
        self.warp = WarpRenderer(options)
        self.model: LearnedModel = load_model(options.model)
        self.torch: Any = import_torch()
        # One thread: the pipeline decodes, tracks and encodes on other threads at the same time,
        # and torch's thread pool oversubscribes a small machine (measured: 25x slower on 2 busy
        # cores with 2 threads). Process-wide, as torch offers no other way.
        self.torch.set_num_threads(1)
        self.device = "cuda" if self.torch.cuda.is_available() else "cpu"
        self.model.net.to(self.device)

    def prepare(
        self,
        video: str | os.PathLike[str],
        edited: EditedTrack,
        window: tuple[float, float] | None = None,
    ) -> None:
        """Refuse a clip of another person than the one the model learned."""
        from ...report import IDENTITY_THRESHOLD

        d = identity_distance(self.model.identity, edited.original.landmarks)
        if np.isfinite(d) and d >= IDENTITY_THRESHOLD:
            sources = ", ".join(self.model.sources) or "another clip"
            raise InputError(
                f"{self.options.model} was trained on another person ({sources}): face-shape "
                f"distance {d:.3f} >= {IDENTITY_THRESHOLD} (report's identity measure); train "
                "a model on this person's footage, or render without --renderer."
            )

    def render(self, yuv: np.ndarray, face: FaceEdit | None) -> RenderedFrame:
        """The renderer contract (render/base.py): warp, then repaint the face with the network."""
        warped = self.warp.render(yuv, face)
        if warped.outcome != "edited" or face is None or self.model.config.gain <= 0:
            return warped  # gain 0: the network learned nothing that carries to new frames
        out = warped.yuv  # a new array: the warp never returns the input when it edits
        face_yuv, delta, mask, box = self.face_crop(out, face.src, face.dst)
        if self.options.learned_blend == "replace":
            paste(out, face_yuv, mask, box, add=False)
        else:
            paste(out, delta, mask, box, add=True)
        return RenderedFrame(yuv=out, outcome="edited", box=warped.box)

    def face_crop(
        self, warped_yuv: np.ndarray, src: np.ndarray, dst: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, CropBox]:
        """The network's (S, S, 3) Y U V face, its correction of the warped crop (both with the
        model's calibrated gain), the (S, S) paste mask and the crop box."""
        config = self.model.config
        box = crop_box(dst, config.size)
        x = network_input(warped_yuv, src, dst, box, config.motion)
        torch = self.torch
        with torch.no_grad():
            t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None].to(self.device)
            y = self.model.net(t)[0].clamp(0.0, 1.0).cpu().numpy().transpose(1, 2, 0)
        delta = config.gain * (y - x[..., :3])
        return np.ascontiguousarray(x[..., :3] + delta), delta, face_mask(dst, box), box


__all__ = ["LearnedRenderer", "check_model_option", "identity_distance"]
