"""`emodirector inspect TRACK.npz [--plot OUT.png]`: what a track holds, and its main curves."""

from __future__ import annotations

import argparse

from .common import add_overwrite_argument, info


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="summarise a track file (frames, face coverage, blendshape ranges) and plot it",
        description="Print what TRACK.npz holds: frames, timing, size, followed face, share of "
        "frames with the face and the range of the main blendshapes; optionally plot them.",
    )
    p.add_argument("track", metavar="TRACK.npz", help="a track file from 'emodirector track'")
    p.add_argument("--plot", metavar="OUT.png", help="write a PNG of the main blendshape curves")
    add_overwrite_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..inspect import plot_blendshapes, summarize
    from ..trackfile import load_track

    track = load_track(args.track)
    if args.plot:
        from ..io.paths import check_outputs

        check_outputs(
            [("--plot", args.plot)], [("the track", args.track)], overwrite=args.overwrite
        )
    s = summarize(track)
    info(f"{args.track}: track of {s.source or '(unknown video)'}")
    info(f"  frames     {s.frames} ({s.duration:.2f} s, {s.fps:.2f} fps average)")
    info(f"  size       {s.width}x{s.height} px")
    first = "never" if s.first_valid is None else f"first at {s.first_valid:.2f} s"
    size = "" if s.face_size is None else f", face about {s.face_size:.0f} px"
    info(
        f"  face       --face {s.face_index}: {s.valid_frames} frames ({s.valid_percent:.1f}%), {first}{size}"
    )
    info(f"  smoothing  {'on' if s.smoothed else 'off'}")
    if s.valid_frames:
        info("  blendshape              min   mean    max")
        for r in s.ranges:
            info(f"  {r.name:20s} {r.minimum:6.2f} {r.mean:6.2f} {r.maximum:6.2f}")
    if args.plot:
        out = plot_blendshapes(track, args.plot)
        info(f"  plot       {out}")
    return 0
