"""Video I/O with PyAV: probe, a lazy frame reader, and a writer that keeps timing and audio.

Why this shape: frames stay in the decoder's I420 planes (an RGB round trip through PyAV shifts
colours by ~1 level), timing is copied pts for pts (variable frame rate survives), and audio is
copied packet for packet from the source (bit-identical, no drift). Memory does not grow with
the length of the video: frames are decoded, used and dropped one at a time.

Conventions:
- Rotation: a phone's display matrix is applied on reading (frames come in display orientation,
  VideoInfo.width/height are the display size); the writer stores them upright, without a matrix.
- Odd sizes: H.264 in 4:2:0 needs even sizes, so a W x H picture with an odd side is edge-padded
  by one pixel (last row / column repeated) to W2 x H2; the true size stays in Frame.width/height.
- Damaged input: packets that fail to decode are skipped, reading stops where the file ends, and
  DecodeStats says how many frames were announced but never came out.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.error
import cv2
import numpy as np

from .errors import OutputError, VideoError
from .types import Frame, VideoInfo

DEFAULT_CRF = 18
DEFAULT_PRESET = "veryfast"
# Output containers that hold H.264 with exact per-frame timestamps, by file extension.
OUTPUT_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}

PathLike = str | os.PathLike[str]


# --------------------------------------------------------------------------------------- reading


def _open_input(path: PathLike) -> av.container.InputContainer:
    """Open a media file for reading, turning every failure into one clear VideoError."""
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: no such file. Check the path.")
    if p.is_dir():
        raise VideoError(f"{p}: is a directory, not a video file. Give the path of a video file.")
    if not os.access(p, os.R_OK):
        raise VideoError(f"{p}: no permission to read this file. Check its permissions.")
    if p.is_file() and p.stat().st_size == 0:
        raise VideoError(
            f"{p}: is an empty file (0 bytes), there is nothing to edit. "
            "Check that the copy or download finished."
        )
    try:
        return av.open(str(p), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        if isinstance(exc, EOFError):
            raise VideoError(
                f"{p}: the file ends before its first picture (an empty or cut-off recording); "
                "there is nothing to edit."
            ) from exc
        if _mp4_without_index(p):
            raise VideoError(
                f"{p}: this MP4/MOV file has no index (no 'moov' box): the recording was cut off "
                "before it finished. Re-export or repair it (e.g. with untrunc), then try again."
            ) from exc
        raise VideoError(
            f"{p}: not a video file that FFmpeg can read ({_reason(exc)}). "
            "Give an MP4, MOV, MKV or WebM video that a video player can open."
        ) from exc


def _reason(exc: BaseException) -> str:
    """A short description of an FFmpeg error, without the file name it often repeats."""
    strerror = getattr(exc, "strerror", None)
    return str(strerror or exc or exc.__class__.__name__)


def _mp4_without_index(path: Path) -> bool:
    """True for an ISO-BMFF file (starts with 'ftyp') whose top-level boxes hold no 'moov'.

    That is what a recording cut off before its end looks like when the index is written last.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            pos = 0
            seen: list[bytes] = []
            while pos + 8 <= size and len(seen) < 64:
                f.seek(pos)
                box_size, kind = struct.unpack(">I4s", f.read(8))
                if box_size == 1:
                    box_size = struct.unpack(">Q", f.read(8))[0]
                seen.append(kind)
                if box_size < 8:  # 0 = "to the end of the file", or garbage
                    break
                pos += box_size
    except (OSError, struct.error):
        return False
    return bool(seen) and seen[0] == b"ftyp" and b"moov" not in seen


def _video_stream(container: av.container.InputContainer, path: PathLike) -> av.VideoStream:
    if not container.streams.video:
        kinds = " and ".join(sorted({s.type for s in container.streams}))
        holds = f"it holds only {kinds}" if kinds else "no stream at all: an empty recording"
        raise VideoError(f"{path}: has no video ({holds}). Give a video file with a picture.")
    return container.streams.video[0]


@dataclass
class DecodeStats:
    """What a reader saw; filled in while frames are read."""

    decoded: int = 0  # frames yielded
    expected: int | None = None  # frames the container announced (may be wrong or absent)
    error: str | None = None  # the last decode/read error (reading went on or stopped there)
    skipped_packets: int = 0  # packets that could not be decoded (corrupt data), skipped
    dropped: int = 0  # decoded frames dropped because their timestamp did not increase
    corrupt: int = 0  # frames the decoder flagged as damaged (yielded, with errors concealed)

    @property
    def lost(self) -> int:
        """Frames announced by the container but never yielded (0 when unknown)."""
        if self.expected is None:
            return 0
        return max(0, self.expected - self.decoded)

    def problems(self) -> list[str]:
        """One sentence per kind of damage seen while reading, for a command to warn with."""
        out = []
        if self.lost:
            reason = self.error or "the stream ends before that"
            out.append(
                f"{self.lost} of {self.expected} announced frames could not be decoded "
                f"({reason}); {self.decoded} frames were read."
            )
        elif self.error:
            out.append(f"the video is damaged ({self.error}); {self.decoded} frames were read.")
        if self.corrupt:
            out.append(f"{self.corrupt} frames were damaged in the file (errors concealed).")
        if self.dropped:
            out.append(f"{self.dropped} frames were dropped: their timestamps did not increase.")
        return out


def _decode(
    container: av.container.InputContainer, stream: av.VideoStream, stats: DecodeStats
) -> Iterator[av.VideoFrame]:
    """Every frame that can be decoded: corrupt packets are skipped, a read error ends it."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:  # the file is cut or unreadable from here on
            stats.error = f"reading stopped: {_reason(exc)}"
            packet = None
        try:
            frames = stream.decode(packet)  # None flushes the decoder
        except av.error.FFmpegError as exc:
            stats.skipped_packets += 1
            stats.error = f"a packet could not be decoded: {_reason(exc)}"
            continue
        yield from frames
        if packet is None:
            return


def probe(path: PathLike) -> VideoInfo:
    """Read a video's size, timing and audio presence; decodes only the first frame (for rotation)."""
    with contextlib.closing(_open_input(path)) as container:
        stream = _video_stream(container, path)
        stats = DecodeStats()
        first = next(_decode(container, stream, stats), None)
        if first is None:
            raise VideoError(_no_frame_message(path, stream, stats))
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


def _no_frame_message(path: PathLike, stream: av.VideoStream, stats: DecodeStats) -> str:
    if stream.frames:
        why = f" ({stats.error})" if stats.error else ""
        return (
            f"{path}: none of its {stream.frames} video frames can be decoded{why}; the file is "
            "truncated or corrupt. Re-export or re-download it."
        )
    return (
        f"{path}: the video stream holds no frame (an empty recording); there is nothing to edit."
    )


def _rotation_of(frame: av.VideoFrame) -> int:
    """Counter-clockwise degrees (multiple of 90) the stored picture must turn for display.

    FFmpeg's convention: a phone held upright stores a landscape picture with a display matrix
    of -90 (turn 90 degrees clockwise to display); frame.rotation reads it back as -90 -> 270.
    """
    try:
        rot = float(frame.rotation)
    except (AttributeError, TypeError, ValueError):
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
    """Stack planes into OpenCV's I420 layout (H2 * 3 // 2, W2), edge-padding odd sizes to even.

    Always returns a new array (it never shares memory with the decoder's buffers).
    """
    h, w = y.shape
    h2, w2 = h + h % 2, w + w % 2
    ch, cw = h2 // 2, w2 // 2
    out = np.empty(h2 * w2 * 3 // 2, dtype=np.uint8)
    _fill_edge(out[: h2 * w2].reshape(h2, w2), y)
    _fill_edge(out[h2 * w2 : h2 * w2 + ch * cw].reshape(ch, cw), u)
    _fill_edge(out[h2 * w2 + ch * cw :].reshape(ch, cw), v)
    return out.reshape(h2 * 3 // 2, w2)


def _fill_edge(dst: np.ndarray, src: np.ndarray) -> None:
    """Copy src into the top-left of dst and repeat its last row / column into the rest."""
    h, w = src.shape
    dst[:h, :w] = src
    if dst.shape[1] > w:
        dst[:h, w:] = src[:, -1:]
    if dst.shape[0] > h:
        dst[h:, :] = dst[h - 1 : h, :]


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H2 * 3 // 2, W2) I420, edge-padded to even size (OpenCV, exact)."""
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)


class VideoReader:
    """Iterate the frames of a video lazily, in presentation order, with their timestamps.

    Frames come in display orientation (rotation applied). A damaged file yields what can be
    decoded; `stats` says how many frames were lost and why, so the caller can warn. Frames whose
    timestamp does not increase (broken files) are dropped and counted in `stats.dropped`.
    Use as a context manager.
    """

    def __init__(self, path: PathLike, *, threads: bool = True) -> None:
        self.info = probe(path)
        self._container = _open_input(path)
        try:
            self._stream = _video_stream(self._container, path)
        except BaseException:
            self._container.close()
            raise
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
        """Yield every decodable frame once, as it is decoded (nothing is kept)."""
        info = self.info
        k = info.rotation // 90
        index = 0
        last_time: float | None = None
        for frame in _decode(self._container, self._stream, self.stats):
            if frame.pts is not None:
                time = float(frame.pts * info.time_base)
            else:  # raw streams without pts: fall back to the nominal rate
                time = info.start_time + index / (info.fps or 25.0)
            if last_time is not None and time <= last_time:
                self.stats.dropped += 1
                continue
            last_time = time
            if frame.is_corrupt:
                self.stats.corrupt += 1
            y, u, v = _i420_planes(frame)
            if k:
                y, u, v = (np.rot90(p, k) for p in (y, u, v))
            out = Frame(
                index=index,
                pts=frame.pts,
                time=time,
                yuv=pack_i420(y, u, v),
                width=info.width,
                height=info.height,
            )
            index += 1
            self.stats.decoded = index  # counted before yielding: a consumer may stop here
            yield out


# --------------------------------------------------------------------------------------- writing


def check_output_path(output: PathLike, *inputs: PathLike) -> Path:
    """Refuse an output that would overwrite an input or cannot be written; return it.

    Writability is tested by creating (and removing) a temporary file beside the output, so a
    read-only folder or file system is refused before any long work starts.
    """
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
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise OutputError(
            f"{out}: cannot write in {parent} ({exc.strerror}); choose a folder you can write to."
        ) from exc
    return out


def _umask() -> int:
    """The process umask, read without changing it (Linux); 0o022 where unknown."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


@contextlib.contextmanager
def atomic_path(output: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `output`; rename it to `output` only if the block succeeds.

    A failed or interrupted run (exception or Ctrl-C) leaves nothing under the final name and
    removes the temporary file. The final file gets the usual permissions (0o666 minus umask).
    """
    out = Path(output)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=out.resolve().parent, prefix=f".{out.stem}.", suffix=f".part{out.suffix}"
        )
    except OSError as exc:
        raise OutputError(
            f"{out}: cannot create a file in {out.resolve().parent} ({exc.strerror}); "
            "check that the folder exists and that you can write to it."
        ) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def _muxer_for(path: Path) -> str:
    """The FFmpeg muxer for an output file name; refuses extensions that cannot hold the result."""
    muxer = OUTPUT_MUXERS.get(path.suffix.lower())
    if muxer is None:
        known = ", ".join(OUTPUT_MUXERS)
        raise OutputError(
            f"{path}: cannot write a video with extension '{path.suffix}'; use one of {known}."
        )
    return muxer


def _muxer_options(muxer: str, video_tb: Fraction, audio_tb: Fraction | None) -> dict[str, str]:
    """MP4/MOV: a movie timescale that states every track's start exactly.

    The default (1/1000 s) rounds an audio track that starts after the video (a delay written
    as an edit list) by up to half a millisecond; a multiple of both time bases keeps it exact.
    """
    if muxer not in ("mp4", "mov"):
        return {}
    scale = video_tb.denominator
    if audio_tb is not None:
        scale = math.lcm(scale, audio_tb.denominator)
    if scale > 2**31 - 1:
        return {}
    return {"movie_timescale": str(scale)}


def _colour_tags(path: PathLike) -> dict[str, Any]:
    """Colour range / matrix / primaries / transfer of a video's first stream ({} if unreadable).

    The writer copies the decoded planes unchanged, so it must also keep how they are meant to
    be read: without this a full-range (yuvj) source would be shown washed out.
    """
    try:
        with contextlib.closing(_open_input(path)) as c:
            if not c.streams.video:
                return {}
            cc = c.streams.video[0].codec_context
            names = ("color_range", "colorspace", "color_primaries", "color_trc")
            return {n: getattr(cc, n) for n in names if getattr(cc, n, None)}
    except VideoError:
        return {}


class VideoWriter:
    """Encode frames to H.264 with the source's timestamps, and copy the source's audio packets.

    Frames are written with `write(frame)` (a Frame from VideoReader, possibly with changed
    planes) in presentation order. The file appears under its final name only after `close()`
    succeeds (context-manager exit without an exception); on an error or Ctrl-C nothing is left,
    not even the temporary file. The output path is checked first (never the input, folder
    exists and is writable, extension .mp4/.m4v/.mov/.mkv).
    """

    def __init__(
        self,
        output: PathLike,
        info: VideoInfo,
        *,
        crf: int = DEFAULT_CRF,
        preset: str = DEFAULT_PRESET,
        audio_from: PathLike | None = None,
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
        inputs = [p for p in (info.path, audio_from) if p]
        self.output = check_output_path(output, *inputs)
        muxer = _muxer_for(self.output)
        self.info = info
        self._closed = True  # until everything below is set up
        self._atomic = atomic_path(self.output)
        self._tmp = self._atomic.__enter__()
        self._closed = False
        w = width or info.width
        h = height or info.height
        w2, h2 = w + w % 2, h + h % 2
        self._shape = (h2 * 3 // 2, w2)
        self._time_base = info.time_base
        self._window = audio_window
        self._pending: av.Packet | None = None
        self._frames_written = 0
        self._last_pts: int | None = None
        self._audio_in: av.container.InputContainer | None = None
        self._audio_packets: Iterator[av.Packet] | None = None
        self._astream: av.AudioStream | None = None
        try:
            ain = self._open_audio(audio_from) if audio_from is not None else None
            options = _muxer_options(muxer, info.time_base, ain.time_base if ain else None)
            self._out = av.open(str(self._tmp), mode="w", format=muxer, options=options)
            self._vstream = self._add_video(w2, h2, crf, preset)
            if ain is not None:
                self._setup_audio(ain, audio_window)
            self._start()
        except BaseException:
            self._abort()
            raise

    def _add_video(self, w2: int, h2: int, crf: int, preset: str) -> av.VideoStream:
        info = self.info
        rate = Fraction(info.fps).limit_denominator(1001) if info.fps > 0 else Fraction(25)
        vs = self._out.add_stream("libx264", rate=rate)
        vs.width, vs.height = w2, h2
        vs.pix_fmt = "yuv420p"
        vs.time_base = self._time_base
        vs.codec_context.time_base = self._time_base
        vs.options = {"crf": str(crf), "preset": preset}
        for name, value in _colour_tags(info.path).items():
            with contextlib.suppress(AttributeError, TypeError, ValueError):
                setattr(vs.codec_context, name, value)
        return vs

    def _open_audio(self, audio_from: PathLike) -> av.AudioStream | None:
        """The first audio stream of `audio_from` (kept open for copying), or None if it has none."""
        src = _open_input(audio_from)
        if not src.streams.audio:
            src.close()
            return None
        self._audio_in = src
        return src.streams.audio[0]

    def _setup_audio(self, ain: av.AudioStream, window: tuple[float, float] | None) -> None:
        try:
            self._astream = self._out.add_stream_from_template(ain)
        except (ValueError, av.error.FFmpegError) as exc:
            raise self._audio_error(ain.codec_context.name, exc) from exc
        self._audio_tb = ain.time_base or Fraction(1, ain.sample_rate or 48000)
        if self._audio_in is not None:  # always set by _open_audio
            self._audio_packets = iter(self._audio_in.demux(ain))
        self._audio_offset = 0
        if window is not None:
            self._audio_offset = int(round(window[0] / self._audio_tb))

    def _start(self) -> None:
        """Open the encoder and write the header now, so that a bad setting fails before any work."""
        try:
            self._out.start_encoding()
        except (ValueError, av.error.FFmpegError) as exc:
            if self._astream is not None:
                raise self._audio_error(self._astream.codec_context.name, exc) from exc
            raise OutputError(
                f"{self.output}: cannot start the H.264 encoder ({_reason(exc)}); "
                "check the encoder settings (crf, preset)."
            ) from exc

    def _audio_error(self, codec: str, exc: BaseException) -> OutputError:
        """The input's audio codec cannot be stored in the output's container type."""
        src = Path(self._audio_in.name) if self._audio_in is not None else None
        same = src.suffix.lower() if src is not None else ""
        hint = same if same in OUTPUT_MUXERS and same != self.output.suffix.lower() else ".mkv"
        return OutputError(
            f"{self.output}: the input's {codec} audio cannot be copied into a "
            f"'{self.output.suffix}' file ({_reason(exc)}); write a {hint} file instead."
        )

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
        """Encode one frame with the source's pts; `yuv` replaces its picture (same I420 shape).

        Raises ValueError for a picture of the wrong shape/dtype or a timestamp that does not
        increase (a caller's bug), OutputError when the file cannot be written (disk full...).
        """
        if self._closed:
            raise ValueError(f"{self.output}: the writer is closed; frames can no longer be added")
        planes = frame.yuv if yuv is None else yuv
        if planes.shape != self._shape or planes.dtype != np.uint8:
            raise ValueError(
                f"frame {frame.index}: picture is {planes.dtype}{planes.shape}, "
                f"the writer needs uint8{self._shape} I420"
            )
        if frame.pts is not None:
            pts = int(frame.pts)
        else:
            pts = int(round(frame.time / self._time_base))
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(
                f"frame {frame.index}: pts {pts} does not increase (last {self._last_pts})"
            )
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(planes), format="yuv420p")
        vf.pts = pts
        vf.time_base = self._time_base
        try:
            for packet in self._vstream.encode(vf):
                self._out.mux(packet)
            self._mux_audio_until(frame.time - (self._window[0] if self._window else 0.0))
        except av.error.FFmpegError as exc:
            raise self._write_error(exc) from exc
        self._last_pts = pts
        self._frames_written += 1

    def _write_error(self, exc: av.error.FFmpegError) -> OutputError:
        return OutputError(
            f"{self.output}: writing failed ({_reason(exc)}); check the free disk space."
        )

    def write_rgb(self, frame: Frame, rgb: np.ndarray) -> None:
        """Encode an RGB picture (H, W, 3) uint8 with `frame`'s timing."""
        self.write(frame, rgb_to_i420(rgb))

    @property
    def frames_written(self) -> int:
        return self._frames_written

    def close(self) -> Path:
        """Flush the encoder, copy the remaining audio, and move the file to its final name.

        Raises OutputError (and leaves nothing) when no frame was written.
        """
        if self._closed:
            return self.output
        try:
            if self._frames_written == 0:
                raise OutputError(
                    f"{self.output}: no frame was written, so no video was saved. "
                    "Check that the input (or the chosen time range) holds frames."
                )
            try:
                for packet in self._vstream.encode(None):
                    self._out.mux(packet)
                self._mux_audio_until(None)
                self._out.close()
            except av.error.FFmpegError as exc:
                raise self._write_error(exc) from exc
            if self._audio_in is not None:
                self._audio_in.close()
        except BaseException as exc:
            self._abort(exc)
            raise
        self._closed = True
        try:
            self._atomic.__exit__(None, None, None)
        except OSError as exc:
            raise OutputError(f"{self.output}: cannot be saved ({exc.strerror}).") from exc
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

    def __del__(self) -> None:
        # A writer dropped without close() (no `with`, an exception) must not leave a temp file.
        if not getattr(self, "_closed", True):
            self._abort()

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
