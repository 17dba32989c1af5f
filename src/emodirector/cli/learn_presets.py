"""`emodirector learn-presets LABELS.csv -o PRESETS.json`: learn emotion presets from footage."""

from __future__ import annotations

import argparse

from ..io.paths import check_outputs
from ..learn_presets import (
    LAYOUTS,
    LearnOptions,
    labels_from_layout,
    learn_presets,
    presets_document,
    read_labels,
    write_presets,
)
from ..track import TrackOptions
from .common import add_overwrite_argument, info, progress, warn

_DEFAULTS = LearnOptions()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "learn-presets",
        help="learn emotion presets from labelled clips (a CSV or an emotional-speech corpus)",
        description="Track labelled clips, take each emotion's blendshape change from the same "
        "person's neutral, pool it over people and write a presets file for --presets. Labels: "
        "a CSV with the columns file, person, emotion and optionally start, end (seconds; paths "
        "relative to the CSV; every person needs a neutral clip or range), or --layout with a "
        "corpus folder (mead: PERSON/video/front/EMOTION/level_N/NNN.mp4; ravdess: "
        "03-01-EE-II-SS-RR-AA.mp4; cremad: AAAA_SSS_EEE_LL.flv).",
    )
    p.add_argument(
        "labels", metavar="LABELS", help="labels CSV, or the corpus folder with --layout"
    )
    p.add_argument("--layout", choices=LAYOUTS, help="LABELS is a corpus folder in this layout")
    p.add_argument("-o", "--output", required=True, metavar="PRESETS.json", help="presets file")
    p.add_argument(
        "--min-change",
        type=float,
        default=_DEFAULTS.min_change,
        metavar="X",
        help="leave out channels whose pooled change is smaller (default %(default)s)",
    )
    p.add_argument("--face-model", metavar="PATH", help="another face_landmarker.task file")
    add_overwrite_argument(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    checked = check_outputs(
        [("-o", args.output)], [("LABELS", args.labels)], overwrite=args.overwrite
    )
    for note in checked.notes():
        warn(note)
    out = checked.paths["-o"]
    rows = labels_from_layout(args.labels, args.layout) if args.layout else read_labels(args.labels)
    options = LearnOptions(
        min_change=args.min_change, track=TrackOptions(face_model=args.face_model)
    )
    with progress("learn-presets", enabled=not args.quiet) as hook:
        learned = learn_presets(rows, options, hook=hook)
    write_presets(presets_document(learned, options, source=str(args.labels)), out)
    for name, le in sorted(learned.items()):
        doc = presets_document({name: le}, options)["emotions"]
        channels = doc[name]["channels"]  # type: ignore[index]
        top = sorted(channels.items(), key=lambda kv: -abs(kv[1]))[:5]
        shown = ", ".join(f"{k} {v:+.2f}" for k, v in top) or "no channel moved"
        info(f"{name}: {le.people} people, {le.frames} frames: {shown}")
    info(f"{out}: presets for {', '.join(sorted(learned))}; use it with --presets {out}.")
    return 0


__all__ = ["register", "run"]
