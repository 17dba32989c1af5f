"""Reading videos with PyAV: probe, and a lazy frame reader in display orientation.

Why this shape: frames stay in the decoder's I420 planes (an RGB round trip through PyAV shifts
colours by ~1 level), and memory does not grow with the length of the video: frames are decoded,
used and dropped one at a time.

Conventions:
- Rotation: a phone's display matrix is applied on reading (frames come in display orientation,
  VideoInfo.width/height are the display size).
- Odd sizes: H.264 in 4:2:0 needs even sizes, so a W x H picture with an odd side is edge-padded
  by one pixel (last row / column repeated) to W2 x H2; the true size stays in Frame.width/height.
- Damaged input: packets that fail to decode are skipped, reading stops where the file ends, and
  DecodeStats says how many frames were announced but never came out.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.error
import cv2
import numpy as np

from ..errors import VideoError
from ..types import Frame, VideoInfo

PathLike = str | os.PathLike[str]


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
    container: av.container.InputContainer,
    stream: av.VideoStream,
    stats: DecodeStats,
    needed: Callable[[av.Packet], bool] | None = None,
) -> Iterator[av.VideoFrame]:
    """Every frame that can be decoded: corrupt packets are skipped, a read error ends it.

    needed: when given, a packet it refuses is decoded only if later frames refer to it (the
    decoder skips non-reference pictures); the frames that are decoded are the same either way.
    """
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:  # the file is cut or unreadable from here on
            stats.error = f"reading stopped: {_reason(exc)}"
            packet = None
        if needed is not None:  # read per packet, also by the decoder's frame threads
            wanted = packet is None or needed(packet)
            stream.codec_context.skip_frame = "DEFAULT" if wanted else "NONREF"
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
        if first.pts is None:
            # A raw elementary stream (.h264) has no timestamps and the demuxer assumes 25 fps;
            # the rate the stream itself states (H.264 SPS timing) is the one it was made at.
            rate = stream.codec_context.framerate or stream.guessed_rate or rate
        duration = None
        if stream.duration is not None:
            duration = float(stream.duration * tb)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        start = float(stream.start_time * tb) if stream.start_time is not None else 0.0
        if first.pts is None:  # the demuxer's duration assumed 25 fps too
            duration = None
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

    def __init__(
        self, path: PathLike, *, threads: bool = True, info: VideoInfo | None = None
    ) -> None:
        """info: this file's probe() result when the caller already has it (a probe decodes the
        first frame: tens of milliseconds that a short edit would otherwise pay once per pass)."""
        self.info = probe(path) if info is None else info
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
        return self._frames(None)

    def frames_at(self, times: np.ndarray) -> Iterator[Frame]:
        """Only the frames at these presentation times ((N,) seconds, within 1 ms), each
        identical to the one frames() gives (but Frame.index does not count skipped pictures).

        Why: a few chosen frames of a long stretch (the mouth bank) are needed. Every picture
        that a later one refers to must still be decoded, but pictures that none refers to (most
        B-frames) are skipped unless chosen: about 40 % of the decoding work of an H.264 video.
        A stream without timestamps is decoded in full.
        """
        wanted = np.sort(np.asarray(times, dtype=np.float64).reshape(-1))
        if len(wanted) == 0:
            return iter(())
        tb = self.info.time_base

        def needed(packet: av.Packet) -> bool:
            return packet.pts is None or near_any(wanted, float(packet.pts * tb))

        return (f for f in self._frames(needed) if near_any(wanted, f.time))

    def _frames(self, needed: Callable[[av.Packet], bool] | None) -> Iterator[Frame]:
        info = self.info
        k = info.rotation // 90
        index = 0
        last_time: float | None = None
        for frame in _decode(self._container, self._stream, self.stats, needed):
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


def near_any(wanted: np.ndarray, t: float) -> bool:
    """Whether `t` (seconds) is within 1 ms of one of the sorted times `wanted`."""
    i = int(np.searchsorted(wanted, t))
    return bool((np.abs(wanted[max(i - 1, 0) : i + 1] - t) <= 1e-3).any())


FINGERPRINT_PACKETS = 16  # video packets hashed into a video's fingerprint
FINGERPRINT_KEY = "source_fingerprint"  # the track metadata key that records it


def fingerprint(path: PathLike) -> str:
    """A short hash of the first video packets: the same for a copy or a remux of a video,
    different for another recording, even of the same size, length and frame rate.

    Tracks record it, so that a track is not rendered into another video by mistake.
    """
    digest = hashlib.sha256()
    with contextlib.closing(_open_input(path)) as container:
        stream = _video_stream(container, path)
        count = 0
        with contextlib.suppress(av.error.FFmpegError):
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                digest.update(bytes(packet))
                count += 1
                if count >= FINGERPRINT_PACKETS:
                    break
    return digest.hexdigest()[:16]
