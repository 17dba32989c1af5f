"""`emodirector edit VIDEO --emotion happy -o OUT.mp4`: track -> manipulate -> render -> write."""

from __future__ import annotations

import argparse

from ..pipeline import EditOptions, RenderVideoOptions, edit, window_of
from ..preflight import preflight_edit
from ..report import ReportOptions, report
from ..track import TrackOptions
from .common import add_overwrite_argument, info, progress, warn
from .manipulate import add_request_arguments, request_from_args
from .render import add_video_arguments, report_render, video_options
from .report import add_report_outputs, summary, write_outputs

_EDIT = EditOptions()
_TRACK = TrackOptions()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "edit",
        help="change the emotion on the face of a video, in one command",
        description="Track the face, edit its expression and render the edit into the real "
        "frames: same frame count, timestamps, resolution and audio as the input. Frames "
        "without a face are written as decoded.",
    )
    p.add_argument("video", metavar="VIDEO", help="the input video")
    add_request_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="the edited video")
    add_video_arguments(p)
    t = p.add_argument_group("time range (the output covers only the range)")
    t.add_argument("--start", type=float, metavar="S", help="start at S seconds")
    end = t.add_mutually_exclusive_group()
    end.add_argument("--end", type=float, metavar="E", help="stop before E seconds")
    end.add_argument(
        "--preview", type=float, metavar="SECONDS", help="only SECONDS from --start (or 0): a trial"
    )
    p.add_argument(
        "--keep-track",
        metavar="DIR",
        help="also save track.npz and edited.npz into DIR (files there that emodirector wrote "
        "are replaced; others only with --overwrite)",
    )
    p.add_argument(
        "--face",
        type=int,
        default=_TRACK.face,
        metavar="N",
        help="which face to edit, by size when it first appears (0 = largest; default %(default)s)",
    )
    p.add_argument("--face-model", metavar="PATH", help="another face_landmarker.task file")
    r = p.add_argument_group("measure the edit (as `emodirector report INPUT OUTPUT` does)")
    r.add_argument(
        "--report",
        action="store_true",
        help="at the end, compare the output with the input: emotion (independent classifier), "
        "lip sync, identity, stability, container; implied by --json/--html",
    )
    add_report_outputs(r)
    add_overwrite_argument(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> EditOptions:
    """The EditOptions the parsed arguments ask for (unset ones keep EditOptions' defaults)."""
    return EditOptions(
        # edit has no --max-faces: look for as many faces as --face needs.
        track=TrackOptions(
            face=args.face,
            max_faces=max(_TRACK.max_faces, args.face + 1),
            face_model=args.face_model,
        ),
        manipulate=_EDIT.manipulate,
        video=video_options(args),
        start=args.start,
        end=args.end,
        preview=args.preview,
    )


def run(args: argparse.Namespace) -> int:
    request, _refs = request_from_args(args)
    options = options_from_args(args)
    # Every check that does not need the track, the report files included, before the long work.
    pre = preflight_edit(
        args.video,
        request,
        args.output,
        options,
        compare=args.compare,
        keep_track=args.keep_track,
        reports=[("--json", args.json), ("--html", args.html)],
    )
    for note in pre.notes:
        warn(note)
    js, page = pre.path("--json"), pre.path("--html")
    with progress("edit", enabled=not args.quiet) as hook:
        result = edit(
            args.video,
            request,
            args.output,
            options,
            compare=args.compare,
            keep_track=args.keep_track,
            hook=hook,
            checked=pre,  # checked above, report files included: not probed twice
        )
    for path in result.kept:
        info(f"{path}: kept")
    report_render(result.render, seconds=result.seconds, extra=result.edited.meta.get("request"))
    if args.report or js is not None or page is not None:
        # The input's track is reused, not tracked again; the output is tracked with the edit's
        # TrackOptions, so --face follows the same person in both.
        emotion = request.emotion.name if request.emotion else None
        # An edit of a time range is compared with that range of the input.
        window = window_of(result.edited)
        with progress("report", enabled=not args.quiet) as hook:
            rep = report(
                args.video,
                args.output,
                ReportOptions(emotion=emotion, track=options.track, window=window),
                tracks=(result.track, None),
                edited_track=result.edited,
                hook=hook,
            )
        for w in rep.warnings:
            warn(w)
        for line in summary(rep):
            info(line)
        write_outputs(rep, js, page)
    return 0


__all__ = ["RenderVideoOptions", "options_from_args", "register", "run"]
