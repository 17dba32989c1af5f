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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from .errors import InputError, NoFaceError, OutputError, TrackFileError
from .interrupts import deferred
from .io.paths import claimed
from .io.reader import FINGERPRINT_KEY, fingerprint
from .manipulate import (
    EditRequest,
    ManipulateOptions,
    load_references,
    manipulate,
)
from .outofcore import blocks, release
from .preflight import (
    KEPT_EDITED,
    KEPT_TRACK,
    Preflight,
    check_video_options,
    preflight_edit,
    preflight_render,
    resolve_window,
)
from .render import FaceEdit, Renderer, RenderOptions, i420_planes, make_renderer
from .track import TrackOptions, TrackResult, track_frames
from .types import EditedTrack, FaceTrack, Frame, ProgressHook, VideoInfo, no_progress
from .video import DEFAULT_CRF, DEFAULT_PRESET, DecodeStats, VideoReader, VideoWriter

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
    # Replace existing files that emodirector did not write (io/paths.py); else they are kept
    # and the run is refused. Files it wrote itself are always replaced.
    overwrite: bool = False


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


def edit(
    video: PathLike,
    request: EditRequest,
    output: PathLike,
    options: EditOptions = EditOptions(),
    *,
    compare: PathLike | None = None,
    keep_track: PathLike | None = None,
    hook: ProgressHook = no_progress,
    checked: Preflight | None = None,
) -> EditResult:
    """Change the emotion on the face in `video` as `request` asks, and write `output`.

    `compare` also writes a side-by-side original | edited video; `keep_track` is a folder that
    receives track.npz and edited.npz. Every check that does not need the track (options, range,
    schedule, every output against every input) is made first (preflight.py), and each output
    is locked against a second run writing it at the same time. Raises NoFaceError when no face
    is found in the range. `checked`: what preflight_edit returned for these same arguments, when
    the caller ran it already (the CLI does, to check its report files too); None: run here.
    """
    t0 = time.perf_counter()
    pre = checked
    if pre is None:
        pre = preflight_edit(
            video, request, output, options, compare=compare, keep_track=keep_track
        )
    window, outs = pre.window, pre.outputs.paths
    with claimed(outs.values()):
        references = load_references(request.references, hook, options.track)
        tracked = _track(
            video,
            options.track,
            window,
            hook,
            options.video.prefetch,
            options.landmarks_on_disk,
            info=pre.info,
        )
        edited = manipulate(tracked.track, request, options.manipulate, references)
        kept = _keep(outs.get(KEPT_TRACK), outs.get(KEPT_EDITED), tracked.track, edited)
        stats = _render_pass(
            video,
            edited,
            outs["-o"],
            options.video,
            outs.get("--compare"),
            window,
            hook,
            info=pre.info,
        )
    return EditResult(
        render=stats,
        track=tracked.track,
        edited=edited,
        seconds=time.perf_counter() - t0,
        track_decode=tracked.decode,
        kept=kept,
    )


def _track(
    video: PathLike,
    options: TrackOptions,
    window: tuple[float, float] | None,
    hook: ProgressHook,
    prefetch: int,
    landmarks_on_disk: bool = False,
    *,
    info: VideoInfo | None = None,
) -> TrackResult:
    """Pass 1: track the face over the range; NoFaceError when it holds no face at all.

    As track_video, with decoding ahead in a thread while MediaPipe runs on the previous frame.
    """
    options.check()
    with VideoReader(video, info=info) as reader:
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
        raise NoFaceError(_no_face_message(video, track, options.face, where))
    track.meta = {**track.meta, FINGERPRINT_KEY: fingerprint(video)}
    if window is not None:
        track.meta = {
            **track.meta,
            WINDOW_START_KEY: repr(window[0]),
            WINDOW_END_KEY: repr(window[1]),
        }
    return result


def _no_face_message(video: PathLike, track: FaceTrack, face: int, where: str) -> str:
    """Why no face was followed: none at all, or fewer faces than --face asks for."""
    seen = int(track.meta.get("faces_seen", "0") or 0)
    if seen == 0 or face < seen:
        return (
            f"{video}: no face found in any of its {track.n_frames} frames{where}; "
            "give a video that shows a face."
        )
    values = "--face 0" if seen == 1 else f"--face 0 to {seen - 1}"
    faces = "1 face" if seen == 1 else f"{seen} faces"
    return (
        f"{video}: --face {face} asks for face number {face + 1} by size, but at most {faces} "
        f"were found in a frame{where}; use {values}."
    )


def _keep(
    track_path: Path | None, edited_path: Path | None, track: FaceTrack, edited: EditedTrack
) -> tuple[Path, ...]:
    """Save the intermediate track files to their checked paths (the folder made if needed)."""
    if track_path is None or edited_path is None:
        return ()
    from .trackfile import save_edited, save_track

    d = track_path.parent
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{d}: cannot create the folder for the tracks ({exc.strerror})."
        ) from exc
    if not os.access(d, os.W_OK):
        raise OutputError(f"{d}: no permission to write the track files there.")
    return save_track(track, track_path), save_edited(edited, edited_path)


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
    times, same source fingerprint), else TrackFileError. Frames without a face, or with a zero
    edit, are written as decoded. The outputs are checked first and locked while written.
    """
    pre = preflight_render(video, output, options, compare=compare)
    outs = pre.outputs.paths
    with claimed(outs.values()):
        return _render_pass(
            video, edited, outs["-o"], options, outs.get("--compare"), window, hook, info=pre.info
        )


def _render_pass(
    video: PathLike,
    edited: EditedTrack,
    output: Path,
    options: RenderVideoOptions,
    compare: Path | None,
    window: tuple[float, float] | None,
    hook: ProgressHook,
    *,
    info: VideoInfo | None = None,
) -> RenderStats:
    """Pass 2 over checked, claimed outputs (see render_video). info: the video's probe, if
    the caller has it already (preflight)."""
    t0 = time.perf_counter()
    renderer = make_renderer(options.render)
    with VideoReader(video, info=info) as reader:
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
            with deferred():  # the worker starts only once the stack will stop it
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
        with deferred():  # made and registered for cleanup, or not made
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
    """Refuse an edited track made from another video, or a damaged one, before any frame is
    written: size, recorded source fingerprint, and coordinates (finite, near the frame)."""
    t = edited.original
    if (t.width, t.height) != (info.width, info.height):
        raise TrackFileError(
            f"the edited track is for a {t.width}x{t.height} video but {video} is "
            f"{info.width}x{info.height}; use the track made from this video."
        )
    recorded = t.meta.get(FINGERPRINT_KEY)
    if recorded and recorded != fingerprint(video):
        raise TrackFileError(
            f"the edited track was made from another video ({t.source or 'unknown'}, whose "
            f"fingerprint differs from {video}'s); render it into the video it was made from."
        )
    _check_coordinates(edited, info)


# Landmarks further than this many frame sizes outside the picture are not a face but damage.
COORDINATE_MARGIN = 1.0


def _check_coordinates(edited: EditedTrack, info: VideoInfo) -> None:
    """Refuse NaN, infinite or absurd landmark coordinates in frames marked as having a face
    (rendered, they would smear streaks across the picture). Reads the rows block by block."""
    valid = np.asarray(edited.original.valid, dtype=bool)
    lo = np.array([-COORDINATE_MARGIN * info.width, -COORDINATE_MARGIN * info.height])
    hi = np.array([(1 + COORDINATE_MARGIN) * info.width, (1 + COORDINATE_MARGIN) * info.height])
    for name, lm in (("tracked", edited.original.landmarks), ("edited", edited.landmarks)):
        for rows in blocks(lm.shape[0], RELEASE_EVERY):
            xy = np.asarray(lm[rows, :, :2], dtype=np.float64)[valid[rows]]
            bad = ~np.isfinite(xy).all(axis=(1, 2)) | ((xy < lo) | (xy > hi)).any(axis=(1, 2))
            release(lm, rows.start, rows.stop)
            if bad.any():
                frame = int(np.flatnonzero(valid[rows])[np.argmax(bad)]) + rows.start
                raise TrackFileError(
                    f"the edited track is damaged: the {name} landmarks of frame {frame} are "
                    f"NaN or far outside the {info.width}x{info.height} picture; make it again "
                    "with 'emodirector manipulate'."
                )


_END = object()  # marks the end of a prefetched stream
T = TypeVar("T")


@contextlib.contextmanager
def prefetched(items: Iterable[T], depth: int) -> Iterator[Iterator[T]]:
    """Iterate `items` produced `depth` ahead by a background thread (PyAV, OpenCV and numpy
    release the GIL for their heavy work, so producer and consumer overlap).

    Memory stays bounded (at most depth + 1 frames in flight). Leaving the block early (an error,
    Ctrl-C, SIGTERM) stops and joins the thread before the caller closes the reader it reads
    from, and a second Ctrl-C cannot cut that join short; an exception raised while producing
    is re-raised in the consumer. The thread is not a daemon and also stops when the main thread
    has ended: a thread still inside native code when the interpreter exits aborts the process
    ("terminate called without an active exception").
    """
    if depth <= 0:
        yield iter(items)
        return
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    main = threading.main_thread()

    def stopping() -> bool:
        return stop.is_set() or not main.is_alive()

    def put(item: object) -> bool:
        """Queue one item unless told to stop (never blocks for good: the consumer may be gone)."""
        while not stopping():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator: run its cleanup in this thread, now
                with contextlib.suppress(Exception):
                    close()

    def consume() -> Iterator[T]:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    worker = threading.Thread(target=produce, name="emodirector-decode", daemon=False)
    try:
        with deferred():  # Ctrl-C during start() still reaches the join below
            worker.start()
        yield consume()
    finally:
        with deferred():
            stop.set()
            while worker.is_alive():
                with contextlib.suppress(queue.Empty):
                    q.get(timeout=0.05)
            if worker.ident is not None:
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
    "FINGERPRINT_KEY",
    "EditOptions",
    "EditResult",
    "RenderStats",
    "RenderVideoOptions",
    "edit",
    "render_video",
    "check_video_options",
    "resolve_window",
    "side_by_side",
    "window_of",
]
