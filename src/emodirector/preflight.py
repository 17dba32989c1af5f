"""A request checked in one place, before any long work: options, time range, schedule, every
output against every input and every other output, and what the input will lose.

`edit`, `render`, `track`, `manipulate` and `report` (library and CLI) call these checks first,
so that a wrong extension, a conflicting path or an impossible range is refused in a second,
not after minutes of tracking. The checks have no lasting side effects, except that they remove
partial files left by killed runs in the output folders (io/paths.py).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import av
import av.error

from .errors import InputError, OutputError
from .io.paths import CheckedOutputs, check_name, check_outputs
from .io.reader import probe
from .io.writer import OUTPUT_MUXERS
from .manipulate import EditRequest, check_request
from .render import check_renderer
from .types import VideoInfo

if TYPE_CHECKING:
    from .pipeline import EditOptions, RenderVideoOptions

PathLike = str | os.PathLike[str]
# The files --keep-track DIR writes, by role.
KEPT_TRACK = "--keep-track (track.npz)"
KEPT_EDITED = "--keep-track (edited.npz)"
KEEP_NAMES = {KEPT_TRACK: "track.npz", KEPT_EDITED: "edited.npz"}


@dataclass
class Preflight:
    """What the checks found: the video, the range, the usable outputs, and notes to print."""

    info: VideoInfo
    window: tuple[float, float] | None  # (start, end) s in source time; None = the whole video
    outputs: CheckedOutputs
    notes: list[str] = field(default_factory=list)  # warnings: stale files removed, lossy input

    def path(self, role: str) -> Path | None:
        return self.outputs.paths.get(role)


def check_video_options(options: RenderVideoOptions) -> list[str]:
    """Refuse encoder and renderer settings before the long work starts (the writer and the
    renderer would, but only later); returns the renderer's notes for the user."""
    if not 0 <= options.crf <= 51:
        raise OutputError(
            f"crf {options.crf} is out of range: use 0 (lossless) to 51 (worst); 18 is visually clean."
        )
    if options.prefetch < 0:
        raise InputError(f"prefetch {options.prefetch}: give 0 (off) or a number of frames.")
    return check_renderer(options.render)


def resolve_window(options: EditOptions, info: VideoInfo) -> tuple[float, float] | None:
    """(start, end) seconds to edit, or None for the whole video; InputError when impossible."""
    start, end, preview = options.start, options.end, options.preview
    if preview is not None and end is not None:
        raise InputError("give either --end or --preview, not both.")
    if preview is not None and not preview > 0:
        raise InputError(f"--preview {preview}: give a positive number of seconds.")
    if start is not None and not start >= 0:
        raise InputError(f"--start {start}: give a time in seconds from 0.")
    if start is None and end is None and preview is None:
        return None
    s = start if start is not None else 0.0
    e = s + preview if preview is not None else (end if end is not None else math.inf)
    if not e > s:
        raise InputError(f"--end {e:g} must be after --start {s:g}.")
    if info.duration is not None and s >= info.start_time + info.duration:
        raise InputError(
            f"--start {s:g} is past the end of the video ({info.duration:.2f} s long)."
        )
    return s, e


def check_video_output(path: Path, role: str) -> None:
    """A video output needs an extension whose container holds H.264 with exact timestamps."""
    if path.suffix.lower() not in OUTPUT_MUXERS:
        known = ", ".join(OUTPUT_MUXERS)
        raise OutputError(
            f"{path}: cannot write a video with extension '{path.suffix}' ({role}); "
            f"use one of {known}."
        )


def check_input_name(path: PathLike, what: str = "input") -> None:
    """An input whose name is longer than any file system allows cannot exist: say so plainly."""
    try:
        check_name(Path(path), f"{what} file name")
    except OutputError as exc:
        raise InputError(str(exc)) from exc


def check_schedule_span(
    request: EditRequest, info: VideoInfo, window: tuple[float, float] | None
) -> None:
    """Refuse a schedule none of whose ranges meets the video's frames (or the asked range).

    Schedule times are the video's own timestamps: a stream that starts at 2.0 s has no frame
    in "0-1.5:happy", which would otherwise edit nothing without a word.
    """
    if request.schedule is None or info.duration is None:
        return
    from .emotions import load_presets, parse_schedule

    lo = info.start_time
    hi = info.start_time + info.duration
    gap = 1.0 / info.fps if info.fps > 0 else 0.04
    segments = parse_schedule(request.schedule, load_presets(request.presets), hi, gap, lo)
    if window is not None:
        lo, hi = max(lo, window[0]), min(hi, window[1])
    for s in segments:
        if s.start < hi and s.end > lo:
            return
    where = " inside --start/--end" if window is not None else ""
    raise InputError(
        f"schedule {request.schedule!r}: every range falls outside the video's frames{where}, "
        f"which run from {lo:.2f} s to {hi:.2f} s (times are the video's own timestamps); "
        "give ranges inside that span."
    )


def input_notes(path: PathLike, info: VideoInfo) -> list[str]:
    """What the output cannot keep of this input, one sentence each (the README lists why)."""
    notes = []
    if info.width % 2 or info.height % 2:
        w2, h2 = info.width + info.width % 2, info.height + info.height % 2
        notes.append(
            f"{path} is {info.width}x{info.height}: H.264 in 4:2:0 needs even sides, so the "
            f"output is {w2}x{h2} (the last column/row repeated)."
        )
    with contextlib.suppress(av.error.FFmpegError, OSError, ValueError):
        with contextlib.closing(av.open(str(path))) as c:
            first = c.streams.video[0]
            fmt = first.codec_context.format
            name = fmt.name if fmt is not None else ""
            if name and not name.startswith(("yuv420p", "yuvj420p", "nv12", "nv21")):
                notes.append(
                    f"{path} stores its picture as {name}; the output is H.264 4:2:0 "
                    "(yuv420p): colour detail is halved in each direction."
                )
            dropped = [s for s in c.streams if s is not first and s is not _first_audio(c)]
            if dropped:
                what = ", ".join(f"#{s.index} {s.type} ({s.codec_context.name})" for s in dropped)
                notes.append(
                    f"{path} has more streams than one video and one audio: {what}; "
                    "only the first video and the first audio stream are kept."
                )
    return notes


def _first_audio(container: av.container.InputContainer) -> object:
    return container.streams.audio[0] if container.streams.audio else None


def video_inputs(video: PathLike, request: EditRequest) -> list[tuple[str, PathLike | None]]:
    """The files an edit reads, by role, for the conflict check."""
    return [
        ("the input video", video),
        *(("--ref", r) for r in request.references),
        ("--presets", request.presets),
    ]


def kept_paths(folder: PathLike | None) -> list[tuple[str, Path | None]]:
    """The track files --keep-track DIR writes, by role (None when not asked)."""
    if folder is None:
        return [(KEPT_TRACK, None), (KEPT_EDITED, None)]
    d = Path(folder).expanduser()
    if d.exists() and not d.is_dir():
        raise OutputError(f"{d}: --keep-track needs a folder, and this is a file.")
    return [(role, d / name) for role, name in KEEP_NAMES.items()]


def preflight_edit(
    video: PathLike,
    request: EditRequest,
    output: PathLike,
    options: EditOptions,
    *,
    compare: PathLike | None = None,
    keep_track: PathLike | None = None,
    reports: Sequence[tuple[str, PathLike | None]] = (),
) -> Preflight:
    """Every check `edit` can make before tracking; raises the first problem found.

    reports: further outputs the caller writes afterwards (the CLI's --json/--html), so that
    they are checked against the same inputs and outputs.
    """
    check_request(request)
    options.track.check()
    renderer_notes = check_video_options(options.video)
    check_input_name(video, "input video")
    for r in request.references:
        check_input_name(r, "--ref")
    info = probe(video)
    window = resolve_window(options, info)
    check_schedule_span(request, info, window)
    check_video_output(Path(output), "-o")
    if compare is not None:
        check_video_output(Path(compare), "--compare")
    outputs = [("-o", output), ("--compare", compare), *kept_paths(keep_track), *reports]
    outputs = [(role, p) for role, p in outputs if p is not None]
    kept_dir = None if keep_track is None else Path(keep_track).expanduser()
    if kept_dir is not None and not kept_dir.exists():
        _check_new_folder(kept_dir)  # made later; nothing in it can clash with an input
        outputs = [(role, p) for role, p in outputs if role not in KEEP_NAMES]
    checked = check_outputs(
        outputs, video_inputs(video, request), overwrite=options.video.overwrite
    )
    if kept_dir is not None and not kept_dir.exists():
        for role, name in KEEP_NAMES.items():
            checked.paths[role] = kept_dir / name
    notes = checked.notes() + input_notes(video, info) + renderer_notes
    return Preflight(info, window, checked, notes)


def _check_new_folder(folder: Path) -> None:
    """A folder to be created: its nearest existing ancestor must be a folder we can write in."""
    check_name(folder, "folder name")
    parent = folder.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"{folder}: cannot create this folder in {parent}; check its permissions."
        )


def preflight_render(
    video: PathLike,
    output: PathLike,
    options: RenderVideoOptions,
    *,
    compare: PathLike | None = None,
    edited_file: PathLike | None = None,
) -> Preflight:
    """Every check `render` can make before decoding: options, names, outputs vs inputs."""
    renderer_notes = check_video_options(options)
    check_input_name(video, "input video")
    if edited_file is not None:
        check_input_name(edited_file, "edited track")
    info = probe(video)
    check_video_output(Path(output), "-o")
    if compare is not None:
        check_video_output(Path(compare), "--compare")
    checked = check_outputs(
        [("-o", output), ("--compare", compare)],
        [("the input video", video), ("the edited track", edited_file)],
        overwrite=options.overwrite,
    )
    notes = checked.notes() + input_notes(video, info) + renderer_notes
    return Preflight(info, None, checked, notes)


__all__ = [
    "KEPT_EDITED",
    "KEPT_TRACK",
    "Preflight",
    "check_input_name",
    "check_schedule_span",
    "check_video_options",
    "check_video_output",
    "input_notes",
    "kept_paths",
    "preflight_edit",
    "preflight_render",
    "resolve_window",
]
