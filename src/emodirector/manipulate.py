"""The manipulator: FaceTrack + what to change -> EditedTrack. Pure numpy, deterministic, no GPU.

Steps: resolve the request into per-frame segments (emotions.py) -> edit the blendshapes
(emotions.py: presets, reference style, overrides; speech channels follow the original) ->
turn the blendshape change into landmark displacements through an expression basis in a
pose-normalised face space (expression.py), each channel scaled by its delivery gain
(signatures.py) -> keep the speech's articulation: closures, rhythm, rounding (articulation.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .emotions import (
    EditPlan,
    EmotionSpec,
    PresetBook,
    edit_blendshapes,
    load_presets,
    parse_override,
    plan_edit,
)
from .errors import InputError, NoFaceError
from .expression import (
    ExpressionBasis,
    apply_basis,
    load_generic_basis,
    person_basis_from_moments,
    scan_poses,
)
from .outofcore import empty_rows
from .signatures import delivery_gains
from .track import TrackOptions, track_video
from .types import EditedTrack, FaceTrack, ProgressHook, no_progress

# The range of edited blendshapes the geometry may follow: wider than the tracker's [0, 1], so
# that e.g. brows can be lowered on a face whose browInnerUp rests at 0 (the record is clipped).
GEOMETRY_BOUNDS = (-0.6, 1.6)


@dataclass(frozen=True)
class EditRequest:
    """What to change. Exactly one of emotion / emotions / schedule / references drives the edit;
    overrides may come alone or on top of any of them."""

    emotion: EmotionSpec | None = None  # one emotion over the whole video
    emotions: tuple[EmotionSpec, ...] = ()  # equal consecutive parts of the video, like NED
    schedule: str | None = None  # "0-2.5:happy:0.8, 2.5-end:sad" (seconds; gaps stay unchanged)
    references: tuple[str, ...] = ()  # reference clips (names for the record; tracks come apart)
    reference_intensity: float = 1.0  # how far to move toward the references' style, [0, 1.5]
    overrides: tuple[str, ...] = ()  # "mouthSmileLeft=+0.2" (relative) or "browInnerUp=0.5" (set)
    transition: float = 0.3  # seconds of the smooth cross-fade at every segment edge
    presets: str | None = None  # a presets file (JSON) adding to / replacing the built-in ones


@dataclass(frozen=True)
class ManipulateOptions:
    """How to edit. The CLI reads its defaults from here."""

    basis: Literal["person", "generic"] = "person"  # per-person fit (toward generic) or generic
    person_regularisation: float = 0.005  # ridge weight toward the generic basis, per frame
    keep_dynamics: float = 0.6  # share of the person's own emotional motion kept at intensity 1
    # "articulation": lip closures, rhythm and rounding of the speech kept, an emotion adds its
    # own opening; "exact": the inner-lip opening of every frame kept exactly; "off": no check.
    lips: Literal["articulation", "exact", "off"] = "articulation"
    calibrated: bool = True  # scale each channel's geometry by its delivery gain (signatures.py)
    protect_blinks: bool = True  # no eyelid edit while the eye is closed
    chunk_frames: int = 256  # frames whose landmarks are worked on at once (bounds memory)


def check_request(request: EditRequest) -> PresetBook:
    """Validate a request before any costly work (tracking references); return the presets used."""
    book = load_presets(request.presets)
    modes = [
        request.emotion is not None,
        bool(request.emotions),
        request.schedule is not None,
        bool(request.references),
    ]
    if sum(modes) > 1:
        raise InputError(
            "give only one of an emotion, a list of emotions, a schedule or references."
        )
    if sum(modes) == 0 and not request.overrides:
        raise InputError(
            "nothing to change: give an emotion (--emotion happy), --emotions, --schedule, --ref or --set."
        )
    specs = ([request.emotion] if request.emotion else []) + list(request.emotions)
    for spec in specs:
        book.resolve(spec.name)
        check_intensity(spec.intensity, spec.name)
    check_intensity(request.reference_intensity, "the references")
    if not np.isfinite(request.transition) or not 0.0 <= request.transition <= 10.0:
        raise InputError(f"transition {request.transition} s: give a value from 0 to 10 seconds.")
    for text in request.overrides:
        parse_override(text)
    return book


def check_intensity(value: float, what: str) -> None:
    """Intensity must lie in [0, 1.5]; beyond that the face leaves the range the basis knows."""
    if not np.isfinite(value) or not 0.0 <= value <= 1.5:
        raise InputError(
            f"intensity {value} for {what}: give a value from 0 (unchanged) to 1.5 (1 = full preset)."
        )


def load_references(
    paths: Sequence[str | os.PathLike[str]],
    hook: ProgressHook = no_progress,
    options: TrackOptions | None = None,
) -> list[FaceTrack]:
    """Tracks of the reference clips: a .npz is read as a track file, anything else is tracked.

    A reference in which no face is found raises NoFaceError (it has no style to transfer).
    """
    from .trackfile import load_track

    tracks = []
    for p in paths:
        path = Path(p)
        if path.suffix.lower() == ".npz":
            track = load_track(path)
        else:
            track = track_video(path, options or TrackOptions(), hook=hook).track
        if not track.valid.any():
            raise NoFaceError(
                f"{path}: no face found in the reference; give a clip that shows a face."
            )
        tracks.append(track)
    return tracks


def manipulate(
    track: FaceTrack,
    request: EditRequest,
    options: ManipulateOptions = ManipulateOptions(),
    references: Sequence[FaceTrack] = (),
    *,
    basis: ExpressionBasis | None = None,
) -> EditedTrack:
    """Edit the expression of `track` as `request` asks; speech, blinks, gaze and pose are kept.

    `references` are the tracks of the reference clips (see load_references) for a
    reference-driven edit. `basis` overrides the expression basis (default: the shipped generic
    one, fitted to the person when options.basis == "person").
    """
    book = check_request(request)
    if request.references and len(references) != len(request.references):
        raise InputError(
            f"{len(request.references)} references named but {len(references)} tracks given."
        )
    if not track.valid.any():
        raise NoFaceError(
            f"the track of {track.source or 'this video'} has no frame with a face; there is nothing to edit."
        )
    if options.chunk_frames < 1:
        raise InputError(f"chunk_frames {options.chunk_frames}: give a number of frames >= 1.")
    plan = plan_edit(track, request, book, references)
    asked = edit_blendshapes(
        track, plan, options.keep_dynamics, options.chunk_frames, GEOMETRY_BOUNDS
    )
    generic = load_generic_basis()
    fit = basis is None and options.basis == "person"
    poses, moments = scan_poses(track, generic.template, options.chunk_frames, moments=fit)
    if basis is not None:
        chosen = basis
    elif moments is not None:
        chosen = person_basis_from_moments(moments, generic, options.person_regularisation)
    else:
        chosen = generic
    landmarks = apply_basis(
        track,
        poses,
        chosen,
        asked,
        lips=options.lips,
        protect_blinks=options.protect_blinks,
        gains=delivery_gains() if options.calibrated else None,
        out=empty_rows(track.landmarks, np.float32),
        block=options.chunk_frames,
    )
    return _edited(track, np.clip(asked, 0.0, 1.0), landmarks, plan, request, options)


def _edited(
    track: FaceTrack,
    new_bs: np.ndarray,
    landmarks: np.ndarray,
    plan: EditPlan,
    request: EditRequest,
    options: ManipulateOptions,
) -> EditedTrack:
    """The EditedTrack; `landmarks` (float32, tracked rows where no face) is kept as it is:
    it may live on disk (see outofcore.py), so no whole-array expression touches it."""
    invalid = ~track.valid
    new_bs[invalid] = track.blendshapes[invalid]
    meta = {
        "request": plan.describe(),
        "transition": f"{request.transition:g}",
        "presets": book_name(request.presets),
        "basis": options.basis,
        "keep_dynamics": f"{options.keep_dynamics:g}",
        "lips": options.lips,
        "calibrated": str(options.calibrated),
    }
    if request.references:
        meta["references"] = ", ".join(request.references)
    if request.overrides:
        meta["overrides"] = ", ".join(request.overrides)
    labels = tuple("" if bad else lab for lab, bad in zip(plan.labels, invalid, strict=True))
    intensity = np.where(invalid, 0.0, plan.intensity).astype(np.float32)
    return EditedTrack(
        original=track,
        landmarks=landmarks,
        blendshapes=new_bs.astype(np.float32),
        labels=labels,
        intensity=intensity,
        meta=meta,
    )


def book_name(presets: str | None) -> str:
    """How the presets used are named in messages and metadata."""
    return "built-in" if presets is None else f"built-in + {presets}"


__all__ = [
    "EditRequest",
    "EmotionSpec",
    "ManipulateOptions",
    "check_request",
    "load_references",
    "manipulate",
]
