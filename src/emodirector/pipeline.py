"""The whole job, as a list of named steps: probe -> track -> manipulate -> render + write.

Why two decoding passes: the manipulator needs the whole track (to fit the person's expression
basis and to plan transitions), and holding decoded frames until then would make memory grow
with the length of the video. So pass 1 decodes and tracks (keeping only small per-frame arrays),
and pass 2 decodes again and streams each frame through the renderer into the writer(s).

Why the landmarks go to temporary files (EditOptions.landmarks_on_disk): even one float32 row of
landmarks per frame (5.7 KB) would make a 5-minute edit peak far above a 10-second one, so the
tracked and edited landmarks live in unlinked temporary files (outofcore.py); manipulate works
on them in chunks and the render pass reads one row per frame, releasing the pages it has used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from .errors import InputError, NoFaceError, OutputError, TrackFileError
from .manipulate import (
    EditRequest,
    ManipulateOptions,
    check_request,
    load_references,
    manipulate,
)
from .outofcore import release
from .render import (
    FaceEdit,
    Renderer,
    RenderOptions,
    check_renderer,
    i420_planes,
    make_renderer,
)
from .track import TrackOptions, TrackResult, track_frames
from .types import EditedTrack, FaceTrack, Frame, ProgressHook, VideoInfo, no_progress
from .video import (
    DEFAULT_CRF,
    DEFAULT_PRESET,
    DecodeStats,
    VideoReader,
    VideoWriter,
    check_output_path,
    probe,
)

PathLike = str | os.PathLike[str]
# Track metadata keys that record the time range a track covers (set by edit for --start/--end).
WINDOW_START_KEY = "window_start"
WINDOW_END_KEY = "window_end"
# A decoded frame matches a track row when their times differ by less than this (seconds).
TIME_TOLERANCE = 1e-3
# The render pass releases the landmark rows it has used every this many frames (outofcore.py).
RELEASE_EVERY = 256


@dataclass(frozen=True)
class RenderVideoOptions:
    """How to render and encode. The CLI reads its defaults from here."""

    render: RenderOptions = RenderOptions()
    crf: int = DEFAULT_CRF  # libx264 constant rate factor (0 lossless .. 51 worst)
    preset: str = DEFAULT_PRESET  # libx264 speed preset
    prefetch: int = 4  # frames decoded (and warped) ahead in a worker thread (0 = all inline)


@dataclass(frozen=True)
class EditOptions:
    """Everything `edit` can be told besides the input, the request and the output paths."""

    track: TrackOptions = TrackOptions()
    manipulate: ManipulateOptions = ManipulateOptions()
    video: RenderVideoOptions = RenderVideoOptions()
    start: float | None = None  # seconds; edit only frames from here (output starts at 0)
    end: float | None = None  # seconds; edit only frames before this
    preview: float | None = None  # seconds from `start` (or 0): a short trial; excludes `end`
    # Keep the per-frame landmarks (tracked and edited) in unlinked temporary files instead of
    # memory, so that memory stays flat with the length of the video (see outofcore.py).
    landmarks_on_disk: bool = True


@dataclass
class RenderStats:
    """What the render pass did, for the summary line and warnings."""

    output: Path
    compare: Path | None
    frames: int = 0  # frames written
    with_face: int = 0  # frames where the tracked face was found
    edited: int = 0  # frames whose picture was changed
    tiny: int = 0  # frames whose face was too small to edit (passed through)
    seconds: float = 0.0  # wall time of the render pass
    decode: DecodeStats = field(default_factory=DecodeStats)
    notes: list[str] = field(default_factory=list)  # the renderer's warnings (e.g. skipped shading)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@dataclass
class EditResult:
    """The outcome of `edit`: the rendered video plus the intermediates (small arrays only)."""

    render: RenderStats
    track: FaceTrack
    edited: EditedTrack
    seconds: float  # wall time of the whole edit
    track_decode: DecodeStats  # what the tracking pass saw while decoding
    kept: tuple[Path, ...] = ()  # intermediate files written for --keep-track

    @property
    def fps(self) -> float:
        return self.render.frames / self.seconds if self.seconds > 0 else 0.0


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


def edit(
    video: PathLike,
    request: EditRequest,
    output: PathLike,
    options: EditOptions = EditOptions(),
    *,
    compare: PathLike | None = None,
    keep_track: PathLike | None = None,
    hook: ProgressHook = no_progress,
) -> EditResult:
    """Change the emotion on the face in `video` as `request` asks, and write `output`.

    `compare` also writes a side-by-side original | edited video; `keep_track` is a folder that
    receives track.npz and edited.npz. Raises NoFaceError when no face is found in the range.
    """
    t0 = time.perf_counter()
    check_request(request)  # a bad emotion name fails now, not after tracking
    options.track.check()
    check_video_options(options.video)
    info = probe(video)
    outputs = _check_outputs(video, output, compare, request.references)
    window = resolve_window(options, info)
    references = load_references(request.references, hook, options.track)
    tracked = _track(
        video, options.track, window, hook, options.video.prefetch, options.landmarks_on_disk
    )
    edited = manipulate(tracked.track, request, options.manipulate, references)
    kept = _keep(keep_track, tracked.track, edited)
    stats = render_video(
        video, edited, outputs[0], options.video, compare=outputs[1], window=window, hook=hook
    )
    return EditResult(
        render=stats,
        track=tracked.track,
        edited=edited,
        seconds=time.perf_counter() - t0,
        track_decode=tracked.decode,
        kept=kept,
    )


def check_video_options(options: RenderVideoOptions) -> None:
    """Refuse encoder settings before the long work starts (the writer would, but only later)."""
    if not 0 <= options.crf <= 51:
        raise OutputError(
            f"crf {options.crf} is out of range: use 0 (lossless) to 51 (worst); 18 is visually clean."
        )
    if options.prefetch < 0:
        raise InputError(f"prefetch {options.prefetch}: give 0 (off) or a number of frames.")
    check_renderer(options.render)


def _check_outputs(
    video: PathLike, output: PathLike, compare: PathLike | None, refs: Sequence[str]
) -> tuple[Path, Path | None]:
    """Refuse unusable output paths before the long work starts."""
    out = check_output_path(output, video, *refs)
    if compare is None:
        return out, None
    side = check_output_path(compare, video, *refs)
    if side.resolve() == out.resolve():
        raise OutputError(f"{side}: the side-by-side video needs its own name, not the output's.")
    return out, side


def _track(
    video: PathLike,
    options: TrackOptions,
    window: tuple[float, float] | None,
    hook: ProgressHook,
    prefetch: int,
    landmarks_on_disk: bool = False,
) -> TrackResult:
    """Pass 1: track the face over the range; NoFaceError when it holds no face at all.

    As track_video, with decoding ahead in a thread while MediaPipe runs on the previous frame.
    """
    options.check()
    with VideoReader(video) as reader:
        info = reader.info
        total = info.frame_count if window is None else None
        with prefetched(_frames_in(reader, window), prefetch) as frames:
            track = track_frames(
                frames,
                info.width,
                info.height,
                options,
                hook=hook,
                total=total,
                landmarks_on_disk=landmarks_on_disk,
            )
        track.fps = info.fps
        track.source = Path(video).name
        result = TrackResult(track=track, decode=_read_stats(reader, window))
    track = result.track
    where = "" if window is None else f" between {window[0]:g} s and {window[1]:g} s"
    if track.n_frames == 0:
        raise InputError(f"{video}: no frame{where}; choose a range inside the video.")
    if not track.valid.any():
        raise NoFaceError(
            f"{video}: no face found in any of its {track.n_frames} frames{where}; "
            "give a video that shows a face (or try --face 0)."
        )
    if window is not None:
        track.meta = {
            **track.meta,
            WINDOW_START_KEY: repr(window[0]),
            WINDOW_END_KEY: repr(window[1]),
        }
    return result


def _keep(folder: PathLike | None, track: FaceTrack, edited: EditedTrack) -> tuple[Path, ...]:
    """Save the intermediate track files into `folder` (created if needed)."""
    if folder is None:
        return ()
    from .trackfile import save_edited, save_track

    d = Path(folder)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{d}: cannot create the folder for the tracks ({exc.strerror})."
        ) from exc
    if not os.access(d, os.W_OK):
        raise OutputError(f"{d}: no permission to write the track files there.")
    return save_track(track, d / "track.npz"), save_edited(edited, d / "edited.npz")


def window_of(edited: EditedTrack) -> tuple[float, float] | None:
    """The time range a (trimmed) edited track covers, as recorded by `edit`; None = all."""
    meta = edited.original.meta
    if WINDOW_START_KEY not in meta:
        return None
    try:
        return float(meta[WINDOW_START_KEY]), float(meta.get(WINDOW_END_KEY, "inf"))
    except ValueError as exc:
        raise TrackFileError(f"the track's recorded time range is corrupt ({exc}).") from exc


def render_video(
    video: PathLike,
    edited: EditedTrack,
    output: PathLike,
    options: RenderVideoOptions = RenderVideoOptions(),
    *,
    compare: PathLike | None = None,
    window: tuple[float, float] | None = None,
    hook: ProgressHook = no_progress,
) -> RenderStats:
    """Pass 2: decode `video` again, warp each frame to the edited geometry, and write `output`.

    `edited` must come from this video (same size, one row per decoded frame in `window`, same
    times), else TrackFileError. Frames without a face, or with a zero edit, are written as decoded.
    """
    t0 = time.perf_counter()
    check_video_options(options)
    _check_outputs(video, output, compare, ())
    renderer = make_renderer(options.render)
    with VideoReader(video) as reader:
        info = reader.info
        _check_match(edited, info, video)
        renderer.prepare(video, edited, window)
        stats = RenderStats(output=Path(output), compare=None if compare is None else Path(compare))
        with contextlib.ExitStack() as stack:
            writer, side = _open_writers(stack, video, info, output, compare, window, options)
            frames = _matched(_frames_in(reader, window), edited, video)
            # Decoding and warping run in a worker thread while this one encodes (both release
            # the GIL for their heavy parts): the warp hides behind the encoder.
            rendered = _rendered(frames, renderer, edited, stats)
            pictures = stack.enter_context(prefetched(rendered, options.prefetch))
            for written, (frame, picture) in enumerate(pictures, start=1):
                writer.write(frame, picture)
                if side is not None:
                    side.write(frame, side_by_side(frame.yuv, picture))
                hook("render", written, edited.n_frames)
            if stats.frames != edited.n_frames:
                raise TrackFileError(_count_message(edited, stats.frames, video, window))
        stats.decode = _read_stats(reader, window)
    stats.notes = list(getattr(renderer, "notes", list)())
    stats.seconds = time.perf_counter() - t0
    return stats


def _open_writers(
    stack: contextlib.ExitStack,
    video: PathLike,
    info: VideoInfo,
    output: PathLike,
    compare: PathLike | None,
    window: tuple[float, float] | None,
    options: RenderVideoOptions,
) -> tuple[VideoWriter, VideoWriter | None]:
    def open_one(path: PathLike, width: int | None = None) -> VideoWriter:
        return stack.enter_context(
            VideoWriter(
                path,
                info,
                crf=options.crf,
                preset=options.preset,
                audio_from=video,
                audio_window=window,
                width=width,
                height=info.height,
            )
        )

    writer = open_one(output)
    side = None if compare is None else open_one(compare, 2 * (info.width + info.width % 2))
    return writer, side


def _rendered(
    frames: Iterable[Frame], renderer: Renderer, edited: EditedTrack, stats: RenderStats
) -> Iterator[tuple[Frame, np.ndarray]]:
    """Each frame with the picture to write for it (landmark pages released as it goes)."""
    done = 0
    for frame in frames:
        yield frame, _render_one(renderer, frame, edited, stats)
        if stats.frames - done >= RELEASE_EVERY:
            for landmarks in (edited.original.landmarks, edited.landmarks):
                release(landmarks, done, stats.frames)
            done = stats.frames


def _render_one(
    renderer: Renderer, frame: Frame, edited: EditedTrack, stats: RenderStats
) -> np.ndarray:
    """The picture to write for one frame, counting what happened to it."""
    i = stats.frames
    stats.frames += 1
    if not edited.original.valid[i]:
        return frame.yuv
    stats.with_face += 1
    face = FaceEdit(
        index=i,
        src=edited.original.landmarks[i],
        dst=edited.landmarks[i],
        src_blendshapes=edited.original.blendshapes[i],
        dst_blendshapes=edited.blendshapes[i],
    )
    result = renderer.render(frame.yuv, face)
    if result.outcome == "edited":
        stats.edited += 1
    elif result.outcome == "tiny":
        stats.tiny += 1
    return result.yuv


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two I420 pictures of one size (H2*3/2, W2) joined as one (H2*3/2, 2*W2): left | right."""
    out = np.empty((left.shape[0], 2 * left.shape[1]), dtype=np.uint8)
    for a, b, o in zip(i420_planes(left), i420_planes(right), i420_planes(out), strict=True):
        o[:, : a.shape[1]] = a
        o[:, a.shape[1] :] = b
    return out


def _check_match(edited: EditedTrack, info: VideoInfo, video: PathLike) -> None:
    """Refuse an edited track made from another video before any frame is written."""
    t = edited.original
    if (t.width, t.height) != (info.width, info.height):
        raise TrackFileError(
            f"the edited track is for a {t.width}x{t.height} video but {video} is "
            f"{info.width}x{info.height}; use the track made from this video."
        )


_END = object()  # marks the end of a prefetched stream
T = TypeVar("T")


@contextlib.contextmanager
def prefetched(items: Iterable[T], depth: int) -> Iterator[Iterator[T]]:
    """Iterate `items` produced `depth` ahead by a background thread (PyAV, OpenCV and numpy
    release the GIL for their heavy work, so producer and consumer overlap).

    Memory stays bounded (at most depth + 1 frames in flight). Leaving the block early (an error,
    Ctrl-C) stops and joins the thread before the caller closes the reader it reads from; an
    exception raised while producing is re-raised in the consumer.
    """
    if depth <= 0:
        yield iter(items)
        return
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put(exc)

    def consume() -> Iterator[T]:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    worker = threading.Thread(target=produce, name="emodirector-decode", daemon=True)
    worker.start()
    try:
        yield consume()
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)
        worker.join()


def _read_stats(reader: VideoReader, window: tuple[float, float] | None) -> DecodeStats:
    """What reading saw; a range stops reading on purpose, so frames after it are not "lost"."""
    if window is None:
        return reader.stats
    return dataclasses.replace(reader.stats, expected=None)


def _frames_in(reader: VideoReader, window: tuple[float, float] | None) -> Iterator[Frame]:
    """The frames in [start, end) seconds, with pts shifted so that `start` is at 0."""
    if window is None:
        yield from reader
        return
    tb = reader.info.time_base
    offset = math.floor(window[0] / tb)  # the window's start becomes time 0 of the output
    for f in reader:
        if f.time < window[0]:
            continue
        if f.time >= window[1]:
            break
        if f.pts is not None:
            pts = f.pts - offset
        else:  # a stream without pts: from the frame's time
            pts = int(round((f.time - window[0]) / tb))
        yield dataclasses.replace(f, pts=pts)


def _matched(frames: Iterator[Frame], edited: EditedTrack, video: PathLike) -> Iterator[Frame]:
    """The frames, checking that each one is the one the track row was made from."""
    ts = edited.original.timestamps
    for i, f in enumerate(frames):
        if i >= len(ts):
            raise TrackFileError(
                f"{video} has more frames than the edited track ({len(ts)}); "
                "use the track made from this video (and the same --start/--end)."
            )
        if abs(f.time - ts[i]) > TIME_TOLERANCE:
            raise TrackFileError(
                f"frame {i} of {video} is at {f.time:.3f} s but the edited track's row {i} is at "
                f"{ts[i]:.3f} s: the track was made from another video or range."
            )
        yield f


def _count_message(
    edited: EditedTrack, frames: int, video: PathLike, window: tuple[float, float] | None
) -> str:
    where = "" if window is None else f" between {window[0]:g} s and {window[1]:g} s"
    return (
        f"{video} has {frames} frames{where} but the edited track has {edited.n_frames}; "
        "use the track made from this video."
    )


__all__ = [
    "EditOptions",
    "EditResult",
    "RenderStats",
    "RenderVideoOptions",
    "edit",
    "render_video",
    "resolve_window",
    "side_by_side",
    "window_of",
]
