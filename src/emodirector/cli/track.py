"""`emodirector track VIDEO -o TRACK.npz`: follow one face through a video and save its track."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from ..errors import OutputError
from ..track import TrackOptions, TrackResult
from .common import add_overwrite_argument, info, progress, warn

_DEFAULTS = TrackOptions()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "track",
        help="track one face (landmarks, blendshapes, head pose) through a video",
        description="Find the faces when they first appear, pick one (the largest, or --face N) "
        "and follow it through every frame; save its 478 landmarks, 52 blendshapes and head pose "
        "per frame to TRACK.npz. Frames without the face are kept and marked.",
    )
    p.add_argument("video", metavar="VIDEO", help="the input video")
    p.add_argument("-o", "--output", metavar="TRACK.npz", help="the track file to write")
    p.add_argument(
        "--face",
        type=int,
        default=_DEFAULTS.face,
        metavar="N",
        help="follow the N-th largest face when faces first appear (0 = largest; see "
        "--list-faces); default %(default)s",
    )
    p.add_argument(
        "--max-faces",
        type=int,
        default=_DEFAULTS.max_faces,
        metavar="K",
        help="faces the detector looks for per frame; default %(default)s",
    )
    p.add_argument(
        "--list-faces",
        action="store_true",
        help="only print the faces of the first frame that has any (index, box) and exit",
    )
    p.add_argument(
        "--preview",
        metavar="OUT.mp4",
        help="also write the video with the tracked landmarks drawn (same timing and audio)",
    )
    p.add_argument(
        "--smooth",
        action=argparse.BooleanOptionalAction,
        default=_DEFAULTS.smoothing,
        help="temporal smoothing of landmarks and blendshapes (default: %(default)s)",
    )
    p.add_argument(
        "--face-model",
        metavar="PATH",
        default=_DEFAULTS.face_model,
        help="a face_landmarker.task to use instead of the installed one "
        "(or set EMODIRECTOR_FACE_MODEL)",
    )
    add_overwrite_argument(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def options_of(args: argparse.Namespace) -> TrackOptions:
    """TrackOptions from the parsed arguments (defaults come from TrackOptions itself)."""
    opts = dataclasses.replace(
        _DEFAULTS,
        face=args.face,
        max_faces=args.max_faces,
        smoothing=args.smooth,
        face_model=args.face_model,
    )
    opts.check()
    return opts


def run(args: argparse.Namespace) -> int:
    opts = options_of(args)
    if args.list_faces:
        return _list(args.video, opts)
    from ..io.paths import check_outputs, claimed
    from ..preflight import check_input_name
    from ..video import OUTPUT_MUXERS

    if not args.output:
        raise OutputError("give the track file to write with -o TRACK.npz (or use --list-faces).")
    check_input_name(args.video, "input video")
    checked = check_outputs(
        [("-o", args.output), ("--preview", args.preview)],
        [("the input video", args.video)],
        overwrite=args.overwrite,
    )
    if Path(args.output).suffix.lower() != ".npz":
        raise OutputError(f"{args.output}: track files are .npz; give a name ending in .npz.")
    if args.preview and Path(args.preview).suffix.lower() not in OUTPUT_MUXERS:
        kinds = ", ".join(OUTPUT_MUXERS)  # refuse now, not after tracking
        raise OutputError(f"{args.preview}: a preview is a video; use one of {kinds}.")
    for note in checked.notes():
        warn(note)
    out, preview = checked.paths["-o"], checked.paths.get("--preview")
    with claimed(checked.paths.values()):
        return _track_and_save(args, opts, out, preview)


def _track_and_save(
    args: argparse.Namespace, opts: TrackOptions, out: Path, preview: Path | None
) -> int:
    from ..track import track_video
    from ..trackfile import save_track

    start = time.perf_counter()
    with progress(Path(args.video).name, enabled=not args.quiet) as hook:
        result = track_video(args.video, opts, hook=hook)
    seconds = time.perf_counter() - start
    save_track(result.track, out)
    _warn_about(result, args.face)
    if preview is not None:
        from ..preview import write_preview

        with progress(Path(args.video).name, enabled=not args.quiet) as hook:
            write_preview(args.video, result.track, preview, hook=hook)
    track = result.track
    n, v = track.n_frames, int(track.valid.sum())
    pct = 100.0 * v / n if n else 0.0
    fps = n / seconds if seconds > 0 else 0.0
    extra = f", preview {preview}" if preview is not None else ""
    info(
        f"tracked {n} frames, {v} with a face ({pct:.1f}%) in {seconds:.1f} s "
        f"({fps:.1f} fps) -> {out}{extra}"
    )
    return 0


def _warn_about(result: TrackResult, face: int) -> None:
    track, decode = result.track, result.decode
    if not track.valid.any():
        seen = int(track.meta.get("faces_seen", "0") or 0)
        if face > 0 and seen > 0:
            values = "--face 0" if seen == 1 else f"--face 0 to {seen - 1}"
            warn(
                f"--face {face}: at most {seen} face(s) were found in a frame, so none of rank "
                f"{face}; the track is written with every frame marked as without a face "
                f"(use {values})."
            )
        else:
            warn(
                "no face was found in any frame; the track is written with every frame marked "
                "as without a face (try --list-faces)."
            )
    picks = [int(i) for i in track.meta.get("acquired_at", "").split(",") if i]
    if len(picks) > 1:
        times = ", ".join(f"{track.timestamps[i]:.2f} s" for i in picks[1:])
        warn(
            f"the followed face was lost for a while and a face was picked afresh at {times}; "
            "it may be another person (check with --preview)."
        )
    for problem in decode.problems():
        warn(f"{problem} The track covers the frames that were read.")


def _list(video: str, opts: TrackOptions) -> int:
    from ..facts import video_facts

    facts = video_facts(video, opts)
    if not facts.faces:
        warn("no face found in the first frames searched.")
        info(f"video: {facts.summary()}")
        return 0
    for line in facts.face_lines():
        info(line)
    info(f"video: {facts.summary()}")
    return 0
