"""Video I/O with PyAV: probe, a lazy frame reader, and a writer that keeps timing and audio.

Why this shape: frames stay in the decoder's I420 planes (an RGB round trip through PyAV shifts
colours by ~1 level), timing is copied pts for pts (variable frame rate survives), and audio is
copied packet for packet from the source (bit-identical, no drift). Memory does not grow with
the length of the video: frames are decoded, used and dropped one at a time.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.error
import cv2
import numpy as np

from .errors import OutputError, VideoError
from .types import Frame, VideoInfo

DEFAULT_CRF = 18
DEFAULT_PRESET = "veryfast"


def _open_input(path: str | os.PathLike[str]) -> av.container.InputContainer:
    """Open a media file for reading, turning every failure into one clear VideoError."""
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: no such file. Check the path.")
    if p.is_dir():
        raise VideoError(f"{p}: is a directory, not a video file.")
    try:
        return av.open(str(p), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise VideoError(
            f"{p}: not a readable video ({exc.__class__.__name__}). "
            "Give an MP4/MOV/MKV/WebM file that a video player can open."
        ) from exc


def _video_stream(
    container: av.container.InputContainer, path: str | os.PathLike[str]
) -> av.VideoStream:
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
        raise VideoError(f"{path}: has no video stream (it holds {kinds}). Give a video file.")
    return container.streams.video[0]


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's size, timing and audio presence; decodes only the first frame (for rotation)."""
    with contextlib.closing(_open_input(path)) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        try:
            first = next(container.decode(stream), None)
        except av.error.FFmpegError as exc:
            raise VideoError(f"{path}: the first frame cannot be decoded ({exc}).") from exc
        if first is None:
            raise VideoError(f"{path}: the video stream holds no decodable frame.")
        rotation = _rotation_of(first)
        w, h = first.width, first.height
        if rotation % 180 != 0:
            w, h = h, w
        tb = stream.time_base or Fraction(1, 90000)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        duration = None
        if stream.duration is not None:
            duration = float(stream.duration * tb)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        start = float(stream.start_time * tb) if stream.start_time is not None else 0.0
        return VideoInfo(
            path=str(path),
            width=w,
            height=h,
            fps=float(rate) if rate else 0.0,
            time_base=Fraction(tb),
            frame_count=stream.frames or None,
            duration=duration,
            rotation=rotation,
            has_audio=bool(container.streams.audio),
            codec=stream.codec_context.name,
            start_time=start,
        )


def _rotation_of(frame: av.VideoFrame) -> int:
    """Counter-clockwise degrees (multiple of 90) the stored picture must turn for display."""
    try:
        rot = float(frame.rotation)
    except (AttributeError, TypeError):
        return 0
    return int(round(rot / 90.0)) * 90 % 360


def _i420_planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y (h, w), U and V (ceil(h/2), ceil(w/2)) uint8 planes, read exactly from the decoder."""
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")
    planes = []
    for i, plane in enumerate(frame.planes):
        pw = frame.width if i == 0 else (frame.width + 1) // 2
        ph = frame.height if i == 0 else (frame.height + 1) // 2
        buf = np.frombuffer(memoryview(plane), dtype=np.uint8)
        planes.append(buf.reshape(ph, plane.line_size)[:, :pw])
    return planes[0], planes[1], planes[2]


def pack_i420(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Stack planes into OpenCV's I420 layout (H2 * 3 // 2, W2), edge-padding odd sizes to even."""
    h, w = y.shape
    h2, w2 = h + h % 2, w + w % 2
    if (h2, w2) != (h, w):
        y = np.pad(y, ((0, h2 - h), (0, w2 - w)), mode="edge")
    cu = (h2 // 2, w2 // 2)
    if u.shape != cu:
        u = np.pad(u, ((0, cu[0] - u.shape[0]), (0, cu[1] - u.shape[1])), mode="edge")
        v = np.pad(v, ((0, cu[0] - v.shape[0]), (0, cu[1] - v.shape[1])), mode="edge")
    return np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(h2 * 3 // 2, w2)


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H2 * 3 // 2, W2) I420, edge-padded to even size (OpenCV, exact)."""
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)


@dataclass
class DecodeStats:
    """What a reader saw; filled in while frames are read."""

    decoded: int = 0  # frames yielded
    expected: int | None = None  # frames the container announced (may be wrong or absent)
    error: str | None = None  # the decode error that ended reading early, if any

    @property
    def lost(self) -> int:
        """Frames announced by the container but never decoded (0 when unknown)."""
        if self.expected is None:
            return 0
        return max(0, self.expected - self.decoded)


class VideoReader:
    """Iterate the frames of a video lazily, in presentation order, with their timestamps.

    A decode error part way (a truncated or corrupt file) ends iteration; `stats.error` and
    `stats.lost` say what happened so the caller can warn. Use as a context manager.
    """

    def __init__(self, path: str | os.PathLike[str], *, threads: bool = True) -> None:
        self.info = probe(path)
        self._container = _open_input(path)
        self._stream = _video_stream(self._container, path)
        if threads:
            self._stream.thread_type = "AUTO"
        self.stats = DecodeStats(expected=self.info.frame_count)

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def frames(self) -> Iterator[Frame]:
        """Yield every decodable frame once; stops early (and records why) on a decode error."""
        info = self.info
        tb = info.time_base
        k = info.rotation // 90
        index = 0
        decoder = self._container.decode(self._stream)
        while True:
            try:
                frame = next(decoder)
            except StopIteration:
                break
            except (av.error.FFmpegError, av.error.EOFError) as exc:
                self.stats.error = f"{exc.__class__.__name__}: {exc}"
                break
            y, u, v = _i420_planes(frame)
            if k:
                y, u, v = (np.rot90(p, k) for p in (y, u, v))
            if frame.pts is not None:
                time = float(frame.pts * tb)
            else:  # raw streams without pts: fall back to the nominal rate
                time = info.start_time + index / (info.fps or 25.0)
            yield Frame(
                index=index,
                pts=frame.pts,
                time=time,
                yuv=pack_i420(y, u, v),
                width=info.width,
                height=info.height,
            )
            index += 1
            self.stats.decoded = index


def check_output_path(output: str | os.PathLike[str], *inputs: str | os.PathLike[str]) -> Path:
    """Refuse an output that would overwrite an input or cannot be written; return it resolved."""
    out = Path(output).expanduser()
    for inp in inputs:
        ip = Path(inp).expanduser()
        if out.resolve() == ip.resolve() or (out.exists() and ip.exists() and out.samefile(ip)):
            raise OutputError(
                f"{out}: is the input file; choose another output path (inputs are never overwritten)."
            )
    parent = out.resolve().parent
    if not parent.is_dir():
        raise OutputError(f"{out}: folder {parent} does not exist; create it first.")
    if out.is_dir():
        raise OutputError(f"{out}: is a directory; give a file name such as {out / 'out.mp4'}.")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{out}: no permission to write in {parent}.")
    return out


@contextlib.contextmanager
def atomic_path(output: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `output`; rename it to `output` only if the block succeeds.

    A failed or interrupted run (exception or Ctrl-C) leaves nothing under the final name.
    """
    out = Path(output)
    fd, tmp = tempfile.mkstemp(
        dir=out.resolve().parent, prefix=f".{out.stem}.", suffix=f".part{out.suffix}"
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


class VideoWriter:
    """Encode frames to H.264 with the source's timestamps, and copy the source's audio packets.

    Frames are written with `write(frame)` (a Frame from VideoReader, possibly with changed
    planes) in presentation order. The file appears under its final name only after `close()`
    succeeds (context-manager exit without an exception).
    """

    def __init__(
        self,
        output: str | os.PathLike[str],
        info: VideoInfo,
        *,
        crf: int = DEFAULT_CRF,
        preset: str = DEFAULT_PRESET,
        audio_from: str | os.PathLike[str] | None = None,
        audio_window: tuple[float, float] | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> None:
        """audio_from: file whose first audio stream is copied (normally the input video).
        audio_window: (start, end) seconds of audio to keep, shifted to start at 0 (for trims).
        width/height: override the output size (e.g. a side-by-side video); default the input's.
        """
        if not 0 <= crf <= 51:
            raise OutputError(
                f"crf {crf} is out of range: use 0 (lossless) to 51 (worst); 18 is visually clean."
            )
        self.output = Path(output)
        self.info = info
        self._atomic = atomic_path(output)
        self._tmp = self._atomic.__enter__()
        self._closed = False
        w = width or info.width
        h = height or info.height
        w2, h2 = w + w % 2, h + h % 2
        self._time_base = info.time_base
        try:
            self._out = av.open(str(self._tmp), mode="w", format=_muxer_for(self.output))
            rate = Fraction(info.fps).limit_denominator(1001) if info.fps > 0 else Fraction(25)
            vs = self._out.add_stream("libx264", rate=rate)
            vs.width, vs.height = w2, h2
            vs.pix_fmt = "yuv420p"
            vs.time_base = self._time_base
            vs.codec_context.time_base = self._time_base
            vs.options = {"crf": str(crf), "preset": preset}
            self._vstream = vs
            self._audio_in: av.container.InputContainer | None = None
            self._audio_packets: Iterator[av.Packet] | None = None
            self._astream: av.AudioStream | None = None
            if audio_from is not None:
                self._setup_audio(audio_from, audio_window)
        except BaseException:
            self._abort()
            raise
        self._pending: av.Packet | None = None
        self._frames_written = 0
        self._window = audio_window

    def _setup_audio(
        self, audio_from: str | os.PathLike[str], window: tuple[float, float] | None
    ) -> None:
        src = _open_input(audio_from)
        if not src.streams.audio:
            src.close()
            return
        ain = src.streams.audio[0]
        self._audio_in = src
        self._astream = self._out.add_stream_from_template(ain)
        self._audio_tb = ain.time_base or Fraction(1, ain.sample_rate or 48000)
        self._audio_packets = iter(src.demux(ain))
        self._audio_offset = 0
        if window is not None:
            self._audio_offset = int(round(window[0] / self._audio_tb))

    def _mux_audio_until(self, t: float | None) -> None:
        """Copy source audio packets up to time t (seconds; None = all that remain)."""
        if self._audio_packets is None or self._astream is None:
            return
        while True:
            if self._pending is None:
                try:
                    pkt = next(self._audio_packets)
                except (StopIteration, av.error.FFmpegError):
                    self._audio_packets = None
                    return
                if pkt.dts is None or pkt.size == 0:
                    continue
                self._pending = pkt
            pkt = self._pending
            ptime = float(pkt.pts * self._audio_tb) if pkt.pts is not None else 0.0
            if self._window is not None:
                if ptime < self._window[0]:
                    self._pending = None
                    continue
                if ptime >= self._window[1]:
                    self._audio_packets = None
                    return
            if t is not None and ptime > t:
                return
            if self._window is not None:
                pkt.pts = pkt.pts - self._audio_offset if pkt.pts is not None else None
                pkt.dts = pkt.dts - self._audio_offset if pkt.dts is not None else None
            pkt.stream = self._astream
            self._out.mux(pkt)
            self._pending = None

    def write(self, frame: Frame, yuv: np.ndarray | None = None) -> None:
        """Encode one frame with the source's pts; `yuv` replaces its picture (same I420 shape)."""
        planes = frame.yuv if yuv is None else yuv
        vf = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        if frame.pts is not None:
            vf.pts = frame.pts
        else:
            vf.pts = int(round(frame.time / self._time_base))
        vf.time_base = self._time_base
        for packet in self._vstream.encode(vf):
            self._out.mux(packet)
        self._frames_written += 1
        self._mux_audio_until(frame.time - (self._window[0] if self._window else 0.0))

    def write_rgb(self, frame: Frame, rgb: np.ndarray) -> None:
        """Encode an RGB picture (H, W, 3) uint8 with `frame`'s timing."""
        self.write(frame, rgb_to_i420(rgb))

    @property
    def frames_written(self) -> int:
        return self._frames_written

    def close(self) -> Path:
        """Flush the encoder, copy the remaining audio, and move the file to its final name."""
        if self._closed:
            return self.output
        try:
            for packet in self._vstream.encode(None):
                self._out.mux(packet)
            self._mux_audio_until(None)
            self._out.close()
            if self._audio_in is not None:
                self._audio_in.close()
        except BaseException as exc:
            self._abort(exc)
            raise
        self._closed = True
        self._atomic.__exit__(None, None, None)
        return self.output

    def _abort(self, exc: BaseException | None = None) -> None:
        """Close everything and delete the temporary file; nothing appears under the final name."""
        self._closed = True
        for c in (getattr(self, "_out", None), getattr(self, "_audio_in", None)):
            if c is not None:
                with contextlib.suppress(Exception):
                    c.close()
        err = exc or RuntimeError("aborted")
        with contextlib.suppress(BaseException):
            self._atomic.__exit__(type(err), err, None)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        else:
            self._abort(exc)


def _muxer_for(path: Path) -> str:
    ext = path.suffix.lower()
    return {".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}.get(ext, "mp4")
