"""What each button of the page does, as plain functions over the library API (no gradio here).

Every option maps to the `emodirector edit` option of the same meaning (request_of mirrors
cli/manipulate.request_from_args), so the page can do nothing the command line cannot.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..demo import sample_clip
from ..emotions import EmotionSpec, parse_emotion_spec
from ..errors import InputError
from ..facts import VideoFacts, video_facts
from ..manipulate import EditRequest, check_request
from ..pipeline import EditOptions, EditResult, RenderVideoOptions, edit
from ..report import Report, ReportOptions, report, write_json
from ..track import TrackOptions
from ..types import ProgressHook, no_progress
from ..video import VideoReader
from .limits import UILimits, check_facts, check_size
from .options import MODES, RENDERERS

PathLike = str | os.PathLike[str]
_DEFAULT = EditRequest()
_SPLIT = re.compile(r"[\s,;]+")
STILL_HEIGHT = 256  # pixels of each preview still (original face | edited face)


@dataclass(frozen=True)
class Choice:
    """What the person chose on the page (one field per control)."""

    mode: str = MODES[0]
    emotion: str = "happy"  # mode "one emotion"
    intensity: float = 1.0
    sequence: str = ""  # mode "several in sequence": "happy angry:0.6"
    schedule: str = ""  # mode "schedule": "0-1.2:happy:0.8, 1.2-end:sad"
    reference: str | None = None  # mode "reference clip": a video or track .npz
    reference_intensity: float = _DEFAULT.reference_intensity
    overrides: str = ""  # "mouthSmileLeft=+0.2, browInnerUp=0.5" (the --set list)
    transition: float = _DEFAULT.transition
    face: int = 0  # --face N
    renderer: str = RENDERERS[0]


def request_of(choice: Choice) -> EditRequest:
    """The EditRequest the choice asks for, fully checked (InputError with the CLI's wording)."""
    if choice.mode not in MODES:
        raise InputError(f"unknown way to change the face {choice.mode!r}: use one of {MODES}.")
    emotion: EmotionSpec | None = None
    emotions: tuple[EmotionSpec, ...] = ()
    schedule: str | None = None
    references: tuple[str, ...] = ()
    if choice.mode == "one emotion":
        emotion = EmotionSpec(choice.emotion.strip(), float(choice.intensity))
    elif choice.mode == "several in sequence":
        emotions = tuple(parse_emotion_spec(t) for t in _SPLIT.split(choice.sequence) if t)
        if not emotions:
            raise InputError("several in sequence: give emotions in order, e.g. happy angry:0.6.")
    elif choice.mode == "schedule":
        if not choice.schedule.strip():
            raise InputError('schedule: give time ranges, e.g. "0-1.2:happy:0.8, 1.2-end:sad".')
        schedule = choice.schedule
    else:
        if not choice.reference:
            raise InputError("reference clip: upload a clip whose expressions should be copied.")
        references = (str(choice.reference),)
    request = EditRequest(
        emotion=emotion,
        emotions=emotions,
        schedule=schedule,
        references=references,
        reference_intensity=float(choice.reference_intensity),
        overrides=tuple(t for t in re.split(r"[\s,;]+", choice.overrides) if t),
        transition=float(choice.transition),
    )
    check_request(request)
    return request


def video_options(renderer: str) -> RenderVideoOptions:
    """The render options of a renderer named on the page (options.RENDERERS)."""
    if renderer not in RENDERERS:
        raise InputError(f"unknown renderer {renderer!r}: use one of {', '.join(RENDERERS)}.")
    defaults = RenderVideoOptions()
    return dataclasses.replace(
        defaults, render=dataclasses.replace(defaults.render, renderer=renderer)
    )


def options_of(choice: Choice, preview: float | None = None) -> EditOptions:
    """EditOptions for the choice (defaults from EditOptions itself), as `edit --preview S`."""
    track = TrackOptions(face=int(choice.face))
    track.check()
    return EditOptions(track=track, video=video_options(choice.renderer), preview=preview)


def describe_input(path: PathLike, limits: UILimits) -> VideoFacts:
    """Check an uploaded video against the limits and tell its facts (size, length, faces).

    VideoError (not a video), InputError (over a limit) carry the CLI's one-line messages.
    """
    check_size(path, limits)
    facts = video_facts(path)
    check_facts(Path(path).name, facts, limits)
    return facts


def copy_sample(folder: Path) -> Path:
    """The bundled demo clip, copied into `folder` (the page serves only its own files)."""
    src = sample_clip()
    dst = folder / src.name
    if not dst.exists():
        shutil.copyfile(src, dst)
    return dst


@dataclass
class PreviewResult:
    """A short trial edit: its side-by-side clip and a few original | edited stills."""

    side: Path  # original | edited video of the first `seconds`
    stills: list[Path]  # JPEG files, original | edited
    frames: int
    seconds: float  # wall time


def run_preview(
    video: PathLike,
    choice: Choice,
    folder: Path,
    *,
    seconds: float = 2.0,
    stills: int = 3,
    hook: ProgressHook = no_progress,
) -> PreviewResult:
    """Edit only the first `seconds` (`edit --preview`) and pick stills with the face."""
    t0 = time.perf_counter()
    request = request_of(choice)
    out, side = folder / "preview.mp4", folder / "preview_side_by_side.mp4"
    result = edit(video, request, out, options_of(choice, preview=seconds), compare=side, hook=hook)
    paths = _stills(side, result, folder, stills)
    out.unlink(missing_ok=True)  # the side-by-side holds it; one file less to keep
    return PreviewResult(side, paths, result.render.frames, time.perf_counter() - t0)


def _stills(side: Path, result: EditResult, folder: Path, n: int) -> list[Path]:
    """Up to n evenly spaced frames with the face, as JPEG files: the face crop of the original
    beside the same crop of the edit (the face is what changes; the rest is bit-identical)."""
    with_face = np.flatnonzero(result.track.valid)
    if with_face.size == 0 or n <= 0:
        return []
    picks = set(with_face[np.linspace(0, with_face.size - 1, n).round().astype(int)].tolist())
    paths: list[Path] = []
    with VideoReader(side) as reader:
        half = reader.info.width // 2  # the side-by-side is two equal halves
        for frame in reader:
            if frame.index not in picks:
                continue
            rgb = frame.rgb()
            x0, y0, x1, y1 = _square(result.track.boxes[frame.index], half, frame.height)
            pair = np.concatenate([rgb[y0:y1, x0:x1], rgb[y0:y1, half + x0 : half + x1]], axis=1)
            scale = STILL_HEIGHT / pair.shape[0]
            pair = cv2.resize(pair, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            path = folder / f"still_{frame.index:04d}_{frame.time:.2f}s.jpg"
            cv2.imwrite(str(path), cv2.cvtColor(pair, cv2.COLOR_RGB2BGR))
            paths.append(path)
    return paths


def _square(box: np.ndarray, width: int, height: int, margin: float = 1.5) -> tuple[int, ...]:
    """A square around a face box (x0, y0, x1, y1 pixels), `margin` times its size, in frame."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = min(int(max(box[2] - box[0], box[3] - box[1]) * margin), width, height)
    x0 = int(np.clip(cx - side / 2, 0, width - side))
    y0 = int(np.clip(cy - side / 2, 0, height - side))
    return x0, y0, x0 + side, y0 + side


@dataclass
class FullResult:
    """A whole edit and its report, with every file the page offers for download."""

    output: Path  # the edited video
    side: Path  # original | edited
    report_json: Path
    report_html: Path
    tracks: tuple[Path, ...]  # track.npz, edited.npz
    report: Report
    edit_seconds: float
    report_seconds: float
    frames: int
    downloads: list[Path] = field(default_factory=list)


def run_full(
    video: PathLike, choice: Choice, folder: Path, *, hook: ProgressHook = no_progress
) -> FullResult:
    """`emodirector edit VIDEO ... --compare --keep-track --json --html`, as the page asks."""
    from ..html_report import write_html

    request = request_of(choice)
    options = options_of(choice)
    label = request.emotion.name if request.emotion else "edited"
    stem = Path(video).stem
    output, side = folder / f"{stem}_{label}.mp4", folder / f"{stem}_{label}_side_by_side.mp4"
    t0 = time.perf_counter()
    result = edit(
        video, request, output, options, compare=side, keep_track=folder / "tracks", hook=hook
    )
    t1 = time.perf_counter()
    rep = report(
        video,
        output,
        ReportOptions(
            emotion=request.emotion.name if request.emotion else None, track=options.track
        ),
        tracks=(result.track, None),
        hook=hook,
    )
    js = write_json(rep, folder / f"{stem}_{label}_report.json")
    page = write_html(rep, folder / f"{stem}_{label}_report.html")
    t2 = time.perf_counter()
    return FullResult(
        output=output,
        side=side,
        report_json=js,
        report_html=page,
        tracks=result.kept,
        report=rep,
        edit_seconds=t1 - t0,
        report_seconds=t2 - t1,
        frames=result.render.frames,
        downloads=[output, side, js, page, *result.kept],
    )


__all__ = [
    "Choice",
    "FullResult",
    "PreviewResult",
    "copy_sample",
    "describe_input",
    "options_of",
    "request_of",
    "run_full",
    "run_preview",
    "video_options",
]
