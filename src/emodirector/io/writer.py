"""Writing videos with PyAV: H.264 with the source's timestamps, and the source's audio copied.

Why this shape: timing is copied pts for pts (variable frame rate survives), and audio is copied
packet for packet from the source (bit-identical, no drift). Frames are stored upright, without
a display matrix. The file appears under its final name only when it is complete.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.error
import numpy as np

from ..errors import OutputError, VideoError
from ..interrupts import deferred
from ..types import Frame, VideoInfo
from .paths import OWN_MARK, PathLike, atomic_path, check_output_path
from .reader import _open_input, _reason, rgb_to_i420

DEFAULT_CRF = 18
DEFAULT_PRESET = "veryfast"
# Output containers that hold H.264 with exact per-frame timestamps, by file extension.
OUTPUT_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


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
    """MP4/MOV: a movie timescale that states every track's start exactly; MKV: no shift.

    The default (1/1000 s) rounds an audio track that starts after the video (a delay written
    as an edit list) by up to half a millisecond; a multiple of both time bases keeps it exact.
    """
    if muxer == "matroska":
        # Keep negative timestamps (the AAC priming packet at -1024 samples): by default the
        # muxer shifts every stream so the first packet starts at 0, moving all frames by ~23 ms.
        return {"avoid_negative_ts": "disabled"}
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
        try:
            with deferred():  # the temporary file exists only once _abort knows to remove it
                self._tmp = self._atomic.__enter__()
                self._closed = False
            self._setup(info, audio_from, audio_window, muxer, width, height, crf, preset)
        except BaseException:
            self._abort()
            raise

    def _setup(
        self,
        info: VideoInfo,
        audio_from: PathLike | None,
        audio_window: tuple[float, float] | None,
        muxer: str,
        width: int | None,
        height: int | None,
        crf: int,
        preset: str,
    ) -> None:
        w = width or info.width
        h = height or info.height
        w2, h2 = w + w % 2, h + h % 2
        self._shape = (h2 * 3 // 2, w2)
        self._time_base = info.time_base
        self._window = audio_window
        self._audio_floor = -math.inf  # audio packets before this time (s) are left out
        self._pending: av.Packet | None = None
        self._frames_written = 0
        self._last_pts: int | None = None
        self._audio_in: av.container.InputContainer | None = None
        self._audio_packets: Iterator[av.Packet] | None = None
        self._astream: av.AudioStream | None = None
        ain = self._open_audio(audio_from) if audio_from is not None else None
        options = _muxer_options(muxer, info.time_base, ain.time_base if ain else None)
        self._out = av.open(str(self._tmp), mode="w", format=muxer, options=options)
        self._out.metadata["comment"] = OWN_MARK  # marks the file as ours (io/paths.py)
        self._vstream = self._add_video(w2, h2, crf, preset)
        if ain is not None:
            self._setup_audio(ain, audio_window)
        self._start()

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
            # A range that starts at (or before) the first frame keeps every packet before it:
            # the AAC priming packet (pts -1024) belongs to the range it decodes into.
            self._audio_floor = -math.inf if window[0] <= self.info.start_time else window[0]

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
                if ptime < self._audio_floor:
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
