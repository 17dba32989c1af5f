"""`emodirector train-renderer VIDEO [VIDEO ...] -o PERSON.pt`: a renderer of one person's face."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..render.learned.train import TrainOptions, TrainProgress
from ..track import TrackOptions
from .common import info, progress, warn

_TRAIN = TrainOptions()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-renderer",
        help="train a learned renderer of one person's face on their own footage (optional)",
        description="Train a small network on this person's clip(s) that turns a warped face "
        "plus its target geometry into their real face (teeth, folds, shading). Use it with "
        "`edit/render --renderer PERSON.pt`. Minutes on a CPU; a GPU is used when one is visible. "
        "The run folder (default PERSON.run/ beside the model) holds the checkpoint, TensorBoard "
        "logs and index.html (input | output | target, updated while training).",
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="clips of one person")
    p.add_argument("-o", "--output", required=True, metavar="PERSON.pt", help="the model file")
    p.add_argument(
        "--track",
        nargs="+",
        metavar="TRACK.npz",
        help="tracks of the clips (from `emodirector track`), one per VIDEO, instead of tracking",
    )
    p.add_argument(
        "--minutes",
        type=float,
        metavar="N",
        help="train for N wall-clock minutes instead of the default budget (tracking comes on top)",
    )
    p.add_argument(
        "--steps", type=int, metavar="N", help="train for exactly N steps instead (deterministic)"
    )
    p.add_argument(
        "--passes",
        type=float,
        default=_TRAIN.passes,
        metavar="P",
        help="the default budget: P passes over the training frames (default %(default)s), "
        "stopped at --max-minutes",
    )
    p.add_argument(
        "--max-minutes",
        type=float,
        default=_TRAIN.max_minutes,
        metavar="N",
        help="time cap of the default budget (default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=_TRAIN.seed, help="default %(default)s")
    p.add_argument(
        "--size",
        type=int,
        default=_TRAIN.size,
        metavar="PX",
        help="face crop side, multiple of 8 (default %(default)s)",
    )
    p.add_argument(
        "--width",
        type=int,
        default=_TRAIN.width,
        metavar="C",
        help="network channels at full resolution (default %(default)s)",
    )
    p.add_argument(
        "--fraction",
        type=float,
        default=_TRAIN.fraction,
        metavar="F",
        help="train on the first F of each clip's frames, holding out the rest (default %(default)s)",
    )
    p.add_argument(
        "--validation",
        type=float,
        default=_TRAIN.validation,
        metavar="F",
        help="hold back the last F of the training frames, never trained on, to choose how much "
        "of the network's correction to keep (default %(default)s; 0 keeps all of it)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=_TRAIN.threads,
        help="CPU threads; 0 = every core or one, whichever a timed step finds faster "
        "(default %(default)s); a fixed count makes runs repeatable bit for bit",
    )
    p.add_argument(
        "--run-dir", metavar="DIR", help="checkpoint, logs and page (default PERSON.run)"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in the run folder from its checkpoint",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    return TrainOptions(
        size=args.size,
        width=args.width,
        minutes=args.minutes,
        steps=args.steps,
        passes=args.passes,
        max_minutes=args.max_minutes,
        seed=args.seed,
        fraction=args.fraction,
        validation=args.validation,
        threads=args.threads,
    )


@contextmanager
def step_bar(enabled: bool) -> Iterator[object]:
    """A tqdm bar over the budget (seconds, or steps) with the loss; ETA from tqdm."""
    from tqdm import tqdm

    state: dict[str, tqdm] = {}

    def on_step(p: TrainProgress) -> None:
        if not enabled:
            return
        if "bar" not in state:
            by_steps = p.steps is not None
            state["bar"] = tqdm(
                total=p.steps if by_steps else round(p.budget),
                desc="train",
                unit="step" if by_steps else "s",
                file=sys.stderr,
                dynamic_ncols=True,
                leave=False,
            )
        bar = state["bar"]
        done = p.step if p.steps is not None else min(round(p.elapsed), bar.total)
        bar.update(done - bar.n)
        bar.set_postfix_str(
            f"step {p.step} loss {p.loss:.4f} (warp {p.warp_loss:.4f})", refresh=False
        )

    try:
        yield on_step
    finally:
        if "bar" in state:
            state["bar"].close()


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..render.learned.train import train_renderer
    from ..track import track_video
    from ..trackfile import load_track
    from ..video import check_output_path

    options = options_from_args(args)
    options.check()
    if not args.output.endswith(".pt"):
        raise InputError(f"{args.output}: name the model file PERSON.pt.")
    check_output_path(args.output, *args.videos)
    if args.track is not None and len(args.track) != len(args.videos):
        raise InputError(
            f"--track: give one track per video ({len(args.videos)}), in the same order."
        )
    tracks = []
    with progress("train-renderer", enabled=not args.quiet) as hook:
        for i, video in enumerate(args.videos):
            if args.track is not None:
                tracks.append(load_track(args.track[i]))
            else:
                tracks.append(track_video(video, TrackOptions(), hook=hook).track)
    with step_bar(not args.quiet) as on_step:  # one bar at a time: tracking's is closed
        result = train_renderer(
            args.videos,
            tracks,
            args.output,
            options,
            run_dir=args.run_dir,
            resume=args.resume,
            on_step=on_step,  # type: ignore[arg-type]
        )
    for w in result.warnings:
        warn(w)
    loss = (
        ""
        if math.isnan(result.last_loss)
        else (
            f"; loss {result.first_loss:.4f} -> {result.last_loss:.4f} (warp only {result.warp_loss:.4f})"
        )
    )
    info(
        f"{result.model}: {result.steps} steps, {result.minutes:.1f} min on {result.frames} frames, "
        f"{result.parameters / 1000:.0f} k parameters{loss}"
    )
    if result.validation_frames:
        info(
            f"held-back check on {result.validation_frames} frames: loss "
            f"{result.validation_loss:.4f} vs the plain warp's {result.validation_warp:.4f}; the "
            f"model keeps {100 * result.gain:.0f} % of the network's correction"
            + (" (it learned nothing that carries to new frames)" if result.gain == 0 else "")
        )
    info(
        f"{Path(result.page)}: training page (input | output | target); TensorBoard logs in {result.run_dir}/tensorboard"
    )
    return 0


__all__ = ["options_from_args", "register", "run"]
