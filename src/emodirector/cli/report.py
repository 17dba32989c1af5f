"""`emodirector report ORIGINAL EDITED [--emotion E] [--json R.json] [--html R.html]`.

`add_report_outputs`, `write_outputs` and `summary` are shared with `emodirector edit --report`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..errors import InputError
from ..io.paths import check_outputs
from ..pipeline import window_of
from ..preflight import check_input_name
from ..report import Report, ReportOptions, report, write_json
from ..types import EditedTrack
from .common import add_overwrite_argument, info, progress, warn

_DEFAULTS = ReportOptions()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="measure an edit: emotion, lip sync, identity, stability, container",
        description="Compare an edited video with its original: an independent expression "
        "classifier (FER-2013) says whether the emotion landed; re-tracking both says whether "
        "the lips still follow the speech, the face shape and stability are kept; the container "
        "check says whether frames, timing and audio are unchanged.",
    )
    p.add_argument("original", metavar="ORIGINAL", help="the source video")
    p.add_argument("edited", metavar="EDITED", help="the edited video")
    p.add_argument(
        "--emotion",
        metavar="E",
        default=_DEFAULTS.emotion,
        help="the emotion the edit aimed at (angry, disgust, fear, happy, sad, surprise, "
        "neutral, or synonyms such as surprised); default: the class whose probability rose most.",
    )
    p.add_argument(
        "--edited-track",
        metavar="EDITED.npz",
        help="the edited track the video was rendered from (manipulate -o, or edit --keep-track): "
        "adds what each channel was asked to change next to what the video shows",
    )
    p.add_argument(
        "--start",
        type=float,
        metavar="S",
        help="EDITED covers ORIGINAL from S seconds (an edit with --start/--preview); default: "
        "the range recorded in --edited-track, else the whole video",
    )
    p.add_argument("--end", type=float, metavar="E", help="... up to E seconds (see --start)")
    add_report_outputs(p)
    add_overwrite_argument(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def add_report_outputs(p: argparse.ArgumentParser) -> None:
    """--json and --html options."""
    p.add_argument(
        "--json", metavar="R.json", help="write every number (schema in emodirector.report)"
    )
    p.add_argument(
        "--html", metavar="R.html", help="write a self-contained page with plots and stills"
    )


def check_report_outputs(
    args: argparse.Namespace, original: str, edited: str
) -> tuple[Path | None, Path | None]:
    """Refuse unusable --json/--html paths before any work is done."""
    for path, what in ((original, "original video"), (edited, "edited video")):
        check_input_name(path, what)
    checked = check_outputs(
        [("--json", args.json), ("--html", args.html)],
        [
            ("the original video", original),
            ("the edited video", edited),
            ("--edited-track", getattr(args, "edited_track", None)),
        ],
        overwrite=args.overwrite,
    )
    for note in checked.notes():
        warn(note)
    return checked.paths.get("--json"), checked.paths.get("--html")


def write_outputs(rep: Report, js: Path | None, page: Path | None) -> None:
    """Write the requested JSON/HTML files and say where they are."""
    if js is not None:
        write_json(rep, js)
        info(f"{js}: report JSON.")
    if page is not None:
        from ..html_report import write_html

        write_html(rep, page)
        info(f"{page}: report page.")


def run(args: argparse.Namespace) -> int:
    js, page = check_report_outputs(args, args.original, args.edited)
    edited = None
    if args.edited_track:
        from ..trackfile import load_edited

        edited = load_edited(args.edited_track)
    window = edited_window(args.start, args.end, edited)
    options = ReportOptions(emotion=args.emotion, window=window)
    with progress("report", enabled=not args.quiet) as hook:
        rep = report(args.original, args.edited, options, edited_track=edited, hook=hook)
    for w in rep.warnings:
        warn(w)
    for line in summary(rep):
        info(line)
    write_outputs(rep, js, page)
    return 0


def edited_window(
    start: float | None, end: float | None, edited: EditedTrack | None
) -> tuple[float, float] | None:
    """The range of ORIGINAL that EDITED covers: --start/--end, else the edited track's record."""
    if start is None and end is None:
        return window_of(edited) if edited is not None else None
    s = 0.0 if start is None else start
    e = math.inf if end is None else end
    if not (math.isfinite(s) and s >= 0 and e > s):
        raise InputError(f"--start {s:g} --end {e:g}: give 0 <= start < end, in seconds.")
    return s, e


def _range(r: list[float | None]) -> str:
    end = "end" if r[1] is None or not math.isfinite(r[1]) else f"{r[1]:g} s"
    return f"{r[0]:g} s-{end}"


def _f(v: float | None, fmt: str = ".3f") -> str:
    return "n/a" if v is None or not math.isfinite(v) else format(v, fmt)


def summary(rep: Report) -> list[str]:
    """A few readable lines with the headline numbers."""
    fr, c = rep.frames, rep.container
    o, e = c["original"], c["edited"]
    lines = [
        f"frames: {fr['original']} original, {fr['edited']} edited, {fr['matched']} matched "
        f"by {fr['aligned_by']}; face in both: {fr['face_both']}",
        f"container: {o['width']}x{o['height']} -> {e['width']}x{e['height']}; audio "
        + (
            "none in either"
            if c["audio_identical"] is None
            else "identical"
            if c["audio_identical"]
            else "DIFFERS"
        )
        + f"; largest time difference {_f(c['max_time_diff_s'], '.4f')} s"
        + (
            ""
            if c.get("original_range_s") is None
            else f" (original compared over {_range(c['original_range_s'])})"
        ),
    ]
    em = rep.emotion
    if em is None:
        lines.append("emotion: skipped (no classifier class for the asked emotion)")
    else:
        how = ", inferred" if em["target_inferred"] else ""
        lines.append(
            f"emotion ({em['target']}{how}): P {em['target_prob_before']:.3f} -> "
            f"{em['target_prob_after']:.3f}; top class in {em['target_top_share_before']:.0%} -> "
            f"{em['target_top_share_after']:.0%} of frames"
        )
    lp, idn, st = rep.lips, rep.identity, rep.stability
    lines += [
        f"lips: opening correlation {_f(lp['correlation'])}, mean |diff| "
        f"{lp['mean_abs_diff']:.3f}, corner lift {lp['corner_lift']:+.3f} (eye-distance units)",
        f"identity (landmark shape, not a face embedding): distance {idn['distance']:.4f}, "
        f"threshold {idn['threshold']} -> "
        + ("same shape" if idn["same_shape"] else "SHAPE CHANGED"),
        f"stability: jitter {_f(st['jitter_original'], '.4f')} -> {_f(st['jitter_edited'], '.4f')}, "
        f"ratio {_f(st['ratio'], '.2f')}",
    ]
    return lines + channel_lines(rep)


def channel_lines(rep: Report) -> list[str]:
    """Requested vs achieved per channel group, when the report had the edited track."""
    ch = rep.channels
    if ch is None:
        return []
    asked = [(g, v) for g, v in ch["groups"].items() if abs(v["requested"]) >= 0.02]
    cells = ", ".join(
        f"{g} {v['requested']:+.2f}/{v['achieved']:+.2f}"
        for g, v in sorted(asked, key=lambda gv: -abs(gv[1]["requested"]))
    )
    lines = [f"channels, requested/achieved (re-tracked): {cells or 'nothing asked'}"]
    if ch["not_through"]:
        lines.append(
            "did not come through (under half of the asked change): " + ", ".join(ch["not_through"])
        )
    real = ch.get("vs_real")
    if real:
        lines.append(
            f"achieved vs real {real['emotion']} (acted, MEAD): cosine {_f(real['cosine'], '.2f')}, "
            f"size ratio {_f(real['norm_ratio'], '.2f')}"
        )
    return lines


__all__ = [
    "add_report_outputs",
    "channel_lines",
    "check_report_outputs",
    "edited_window",
    "register",
    "run",
    "summary",
    "write_outputs",
]
