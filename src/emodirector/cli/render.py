"""`emodirector render VIDEO EDITED.npz -o OUT.mp4`: warp the real frames to an edited track."""

from __future__ import annotations

import argparse
from dataclasses import replace

from ..pipeline import RenderStats, RenderVideoOptions, render_video, window_of
from ..render import RenderOptions
from .common import info, progress, warn

_VIDEO = RenderVideoOptions()


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """Encoder and side-by-side options, shared by `render` and `edit`."""
    g = parser.add_argument_group("output video")
    g.add_argument(
        "--compare", metavar="SIDE.mp4", help="also write a side-by-side original | edited video"
    )
    g.add_argument(
        "--crf",
        type=int,
        default=_VIDEO.crf,
        metavar="N",
        help="H.264 quality, 0 (lossless) to 51 (worst); default %(default)s",
    )
    g.add_argument(
        "--preset",
        default=_VIDEO.preset,
        choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"),
        help="H.264 speed preset (default %(default)s)",
    )
    g.add_argument(
        "--renderer",
        default=_VIDEO.render.renderer,
        metavar="NAME|PERSON.pt",
        help="how the face is rendered: 'warp' (default, no training) or a learned renderer "
        "PERSON.pt from `emodirector train-renderer` (same person only)",
    )


def render_options(renderer: str) -> RenderOptions:
    """--renderer: a renderer name, or a learned model file (*.pt) for the learned renderer."""
    if renderer.endswith(".pt"):
        return replace(_VIDEO.render, renderer="learned", model=renderer)
    return replace(_VIDEO.render, renderer=renderer)


def video_options(args: argparse.Namespace) -> RenderVideoOptions:
    return RenderVideoOptions(
        render=render_options(args.renderer), crf=args.crf, preset=args.preset
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="render an edited track into the frames of its video",
        description="Move the real pixels of the face to the edited geometry of EDITED.npz "
        "(from 'emodirector manipulate') and write the video with the input's timing and audio.",
    )
    p.add_argument("video", metavar="VIDEO", help="the video the track was made from")
    p.add_argument("edited", metavar="EDITED.npz", help="an edited track file")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="the rendered video")
    add_video_arguments(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..trackfile import load_edited
    from ..video import check_output_path

    for out in (args.output, args.compare):
        if out is not None:  # never overwrite an input, the track file included
            check_output_path(out, args.video, args.edited)
    edited = load_edited(args.edited)
    with progress("render", enabled=not args.quiet) as hook:
        stats = render_video(
            args.video,
            edited,
            args.output,
            video_options(args),
            compare=args.compare,
            window=window_of(edited),
            hook=hook,
        )
    report_render(stats)
    return 0


def report_render(
    stats: RenderStats, *, seconds: float | None = None, extra: str | None = None
) -> None:
    """Warnings about the pass, then the one summary line."""
    if stats.tiny:
        warn(
            f"{stats.tiny} frames: the face is narrower than "
            f"{_VIDEO.render.min_face_width:g} px, too small to edit; written unchanged."
        )
    for problem in stats.decode.problems():
        warn(problem)
    total = stats.seconds if seconds is None else seconds
    fps = stats.frames / total if total > 0 else 0.0
    what = f" ({extra})" if extra else ""
    info(
        f"{stats.output}: {stats.frames} frames, {stats.with_face} with a face, "
        f"{stats.edited} edited{what}; {total:.1f} s, {fps:.1f} fps"
    )
    if stats.compare is not None:
        info(f"{stats.compare}: side-by-side original | edited")


__all__ = ["add_video_arguments", "register", "report_render", "run", "video_options"]
