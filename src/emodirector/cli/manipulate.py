"""`emodirector manipulate TRACK.npz --emotion happy -o EDITED.npz`: edit a track's expression.

`add_request_arguments` and `request_from_args` are shared with `emodirector edit`, so both
commands accept exactly the same emotion options.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..emotions import parse_emotion_spec
from ..io.paths import check_outputs
from ..manipulate import (
    EditRequest,
    ManipulateOptions,
    check_request,
    load_references,
    manipulate,
)
from ..types import EditedTrack
from .common import add_overwrite_argument, info, progress, warn

_DEFAULT_REQUEST = EditRequest()
_DEFAULT_OPTIONS = ManipulateOptions()


def add_request_arguments(parser: argparse.ArgumentParser) -> None:
    """The emotion options (what to change), shared by `manipulate` and `edit`."""
    group = parser.add_argument_group(
        "what to change (one of --emotion/--emotions/--schedule/--ref)"
    )
    mode = group.add_mutually_exclusive_group()
    mode.add_argument(
        "--emotion",
        metavar="E[:I]",
        help="one emotion over the whole video, with an optional intensity from 0 to 1.5 "
        "(1 = the full preset), e.g. happy:0.6. Labels: happy, angry, surprised, neutral, fear, "
        "sad, disgusted, contempt (and synonyms), plus those of --presets.",
    )
    mode.add_argument(
        "--emotions",
        nargs="+",
        metavar="E[:I]",
        help="several emotions applied to equal consecutive parts of the video, e.g. happy angry.",
    )
    mode.add_argument(
        "--schedule",
        metavar="S",
        help='explicit time ranges in seconds, e.g. "0-2.5:happy:0.8, 2.5-end:sad"; frames '
        "outside every range stay unchanged; ranges must not overlap.",
    )
    mode.add_argument(
        "--ref",
        nargs="+",
        metavar="R",
        help="reference clips (videos, or track .npz files of them) whose expressive style is "
        "transferred, keeping the target's own timing; several apply to equal consecutive parts.",
    )
    group.add_argument(
        "--ref-intensity",
        type=float,
        default=_DEFAULT_REQUEST.reference_intensity,
        metavar="I",
        help="how far to move toward the references' style, 0 to 1.5 (default %(default)s).",
    )
    group.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=V",
        help="override one blendshape where the edit applies (everywhere when alone): "
        "mouthSmileLeft=+0.2 adds, browInnerUp=0.5 sets. Repeatable.",
    )
    group.add_argument(
        "--transition",
        type=float,
        default=_DEFAULT_REQUEST.transition,
        metavar="SECONDS",
        help="length of the smooth cross-fade at each segment edge (default %(default)s s).",
    )
    group.add_argument(
        "--presets",
        metavar="FILE",
        help="a presets JSON file that adds emotions or replaces built-in ones "
        "(same format as emodirector/data/presets.json).",
    )


def request_from_args(args: argparse.Namespace) -> tuple[EditRequest, list[str]]:
    """The EditRequest the parsed arguments ask for, and the reference paths to track or load.

    Raises InputError for a malformed value; the request is fully checked (emotion names,
    intensities, overrides) before any reference is tracked.
    """
    refs = [str(r) for r in (args.ref or [])]
    request = EditRequest(
        emotion=parse_emotion_spec(args.emotion) if args.emotion else None,
        emotions=tuple(parse_emotion_spec(e) for e in (args.emotions or [])),
        schedule=args.schedule,
        references=tuple(refs),
        reference_intensity=float(args.ref_intensity),
        overrides=tuple(args.set or []),
        transition=float(args.transition),
        presets=args.presets,
    )
    check_request(request)
    return request, refs


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "manipulate",
        help="edit the expression of a track (emotion, schedule, reference style)",
        description="Edit the expression of a face track: the face shows the asked emotion while "
        "speech (mouth motion), blinks, gaze and head pose stay as tracked.",
    )
    p.add_argument("track", metavar="TRACK.npz", help="a track file from 'emodirector track'")
    add_request_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="EDITED.npz", help="edited track file")
    p.add_argument(
        "--plot", metavar="PNG", help="draw original vs edited curves of the changed channels"
    )
    p.add_argument(
        "--basis",
        choices=("person", "generic"),
        default=_DEFAULT_OPTIONS.basis,
        help="expression basis: fitted to this person (toward the generic one) or generic "
        "(default %(default)s).",
    )
    add_overwrite_argument(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..trackfile import load_track, save_edited

    request, refs = request_from_args(args)
    checked = check_outputs(
        [("-o", args.output), ("--plot", args.plot)],
        [("the track", args.track), *(("--ref", r) for r in refs), ("--presets", args.presets)],
        overwrite=args.overwrite,
    )
    for note in checked.notes():
        warn(note)
    out, plot = checked.paths["-o"], checked.paths.get("--plot")
    track = load_track(args.track)
    with progress("reference", enabled=not args.quiet) as hook:
        references = load_references(refs, hook)
    options = ManipulateOptions(basis=args.basis)
    edited = manipulate(track, request, options, references)
    save_edited(edited, out)
    info(f"{out}: {edited.meta['request']}; {_changed_frames(edited)} frames changed.")
    if plot is not None:
        from ..emotions import plot_curves

        plot_curves(edited, plot)
        info(f"{plot}: curves of the changed channels.")
    return 0


def _changed_frames(edited: EditedTrack) -> int:
    diff = np.abs(edited.blendshapes - edited.original.blendshapes)
    return int((np.nan_to_num(diff).max(axis=1) > 1e-6).sum())


__all__ = ["add_request_arguments", "register", "request_from_args", "run"]
