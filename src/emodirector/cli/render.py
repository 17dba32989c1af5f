"""`emodirector render VIDEO EDITED.npz -o OUT.mp4`: warp the real frames to an edited track."""

from __future__ import annotations

import argparse
import dataclasses

from ..errors import InputError
from ..pipeline import RenderStats, RenderVideoOptions, render_video, window_of
from ..render import RENDERERS, RenderOptions
from .common import add_overwrite_argument, info, progress, warn

_VIDEO = RenderVideoOptions()
# --appearance on/off names these renderers (the plain warp, and the warp + expression shading).
APPEARANCE_RENDERERS = {"on": "appearance", "off": "warp"}


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
    default = _VIDEO.render.renderer
    g.add_argument(
        "--renderer",
        default=None,
        metavar="NAME|PERSON.pt",
        help=f"how the edited face is drawn: one of {', '.join(RENDERERS)} (default {default}), "
        "or a learned renderer PERSON.pt made by `emodirector train-renderer` (same person only)",
    )
    g.add_argument(
        "--appearance",
        choices=tuple(APPEARANCE_RENDERERS),
        default=None,
        help="shade the skin creases of the expression (folds, furrows, forehead lines) after "
        "the warp: 'on' = --renderer appearance, 'off' = --renderer warp (default "
        f"{'on' if default == APPEARANCE_RENDERERS['on'] else 'off'})",
    )


def renderer_name(renderer: str | None, appearance: str | None) -> str:
    """The renderer that --renderer and --appearance ask for together (InputError if they clash)."""
    if appearance is None:
        return _VIDEO.render.renderer if renderer is None else renderer
    wanted = APPEARANCE_RENDERERS[appearance]
    if renderer is not None and renderer != wanted:
        raise InputError(
            f"--renderer {renderer} and --appearance {appearance} disagree: give only one of them."
        )
    return wanted


def render_options(renderer: str) -> RenderOptions:
    """--renderer: a renderer name, or a learned model file (*.pt) for the learned renderer."""
    if renderer.endswith(".pt"):
        return dataclasses.replace(_VIDEO.render, renderer="learned", model=renderer)
    return dataclasses.replace(_VIDEO.render, renderer=renderer)


def video_options(args: argparse.Namespace) -> RenderVideoOptions:
    return RenderVideoOptions(
        render=render_options(renderer_name(args.renderer, args.appearance)),
        crf=args.crf,
        preset=args.preset,
        overwrite=args.overwrite,
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
    add_overwrite_argument(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..preflight import preflight_render
    from ..trackfile import load_edited

    options = video_options(args)
    pre = preflight_render(
        args.video, args.output, options, compare=args.compare, edited_file=args.edited
    )
    for note in pre.notes:
        warn(note)
    edited = load_edited(args.edited)
    with progress("render", enabled=not args.quiet) as hook:
        stats = render_video(
            args.video,
            edited,
            args.output,
            options,
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
    for note in stats.notes:
        warn(note)
    total = stats.seconds if seconds is None else seconds
    fps = stats.frames / total if total > 0 else 0.0
    what = f" ({extra})" if extra else ""
    info(
        f"{stats.output}: {stats.frames} frames, {stats.with_face} with a face, "
        f"{stats.edited} edited{what}; {total:.1f} s, {fps:.1f} fps"
    )
    if stats.compare is not None:
        info(f"{stats.compare}: side-by-side original | edited")


__all__ = [
    "add_video_arguments",
    "register",
    "renderer_name",
    "report_render",
    "run",
    "video_options",
]
