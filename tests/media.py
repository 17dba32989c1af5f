"""Synthetic media for tests, generated with PyAV into a folder the test owns (tmp_path).

Why generate: the edge cases that break video tools (variable frame rate, rotation matrices,
odd sizes, 4K, empty or truncated files, audio-only files) are rare in real sample clips, and
generated files have a picture we know exactly. Videos are encoded losslessly by default
(libx264 CRF 0 fed yuv420p, or FFV1), so a decoded frame equals `synthetic_planes(i, w, h)`
bit for bit and tests can compare pixels exactly.

Generators (each returns the path it wrote):
  make_video(path, ...)         video of any size / length / timing, optional AAC sine audio,
                                display rotation or raw matrix, index first (faststart) or last
  make_audio_only(path, ...)    an MP4 holding only an AAC track
  make_zero_frame(path)         a recording with no frame (.mkv: an empty video track; .mp4:
                                the muxer drops the empty track, leaving no stream at all)
  make_text_as_video(path)      a text file under a video name
  truncate_copy(src, dst, ...)  a copy cut in the middle of its media data (mdat)
Inspection (to compare an output with its input):
  frame_times(path)             exact presentation time of every decoded video frame (Fractions)
  packet_bytes(path, kind)      raw bytes of every packet of the first audio or video stream
  packet_times(path, kind)      (pts, dts) in seconds of those packets (Fractions)
  decoded_planes(path)          the I420 planes of every frame as PyAV decodes them (no rotation)
  top_level_boxes(path)         [(kind, offset, size)] of an MP4/MOV file
  display_matrix(path)          the 9 integers of the first track's tkhd matrix (MP4/MOV)
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # Y (h, w), U and V (ceil(h/2), ceil(w/2))

# The tkhd matrix a phone writes for a portrait recording: the stored landscape picture is to be
# turned 90 degrees clockwise for display (QuickTime File Format spec, "Matrices": x' = -y + tx,
# y' = x). FFmpeg reads it back as a rotation of -90 degrees (counter-clockwise).
PHONE_PORTRAIT_MATRIX = (0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)

_MUXERS = {".mp4": "mp4", ".m4a": "mp4", ".mov": "mov", ".mkv": "matroska"}


def synthetic_planes(index: int, width: int, height: int) -> Planes:
    """A deterministic, asymmetric I420 picture for frame `index` (any size, odd included).

    Luma: a diagonal ramp plus a bright square whose position moves with `index`, so that
    orientation, frame order and the last row/column are all visible. Chroma: two ramps.
    """
    yy, xx = np.mgrid[0:height, 0:width]
    y = (xx * 97) // max(width, 1) + (yy * 61) // max(height, 1) + 30
    s = max(2, min(width, height) // 4)
    x0 = (index * 3) % max(1, width - s)
    y0 = (index * 2) % max(1, height - s)
    y[y0 : y0 + s, x0 : x0 + s] = 235
    ch, cw = (height + 1) // 2, (width + 1) // 2
    cy, cx = np.mgrid[0:ch, 0:cw]
    u = 64 + (cx * 127) // max(cw, 1)
    v = 192 - (cy * 127) // max(ch, 1) + index % 7
    return y.astype(np.uint8), u.astype(np.uint8), v.astype(np.uint8)


def frame_from_planes(planes: Planes, pts: int | None = None) -> av.VideoFrame:
    """A yuv420p VideoFrame holding exactly these planes (odd sizes allowed)."""
    y = planes[0]
    frame = av.VideoFrame(y.shape[1], y.shape[0], "yuv420p")
    for plane, src in zip(frame.planes, planes, strict=True):
        dst = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(-1, plane.line_size)
        dst[: src.shape[0], : src.shape[1]] = src
    frame.pts = pts
    return frame


def vfr_pts(n_frames: int, time_base: Fraction = Fraction(1, 1000)) -> list[int]:
    """Irregular increasing pts (20, 40, 33, 67, 25 ms intervals, repeating) in time_base units."""
    steps_ms = (20, 40, 33, 67, 25)
    t_ms, out = 0, []
    for i in range(n_frames):
        out.append(int(Fraction(t_ms, 1000) / time_base))
        t_ms += steps_ms[i % len(steps_ms)]
    return out


def make_video(
    path: Path,
    *,
    width: int = 64,
    height: int = 48,
    n_frames: int = 12,
    fps: int = 25,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    audio: bool = False,
    audio_rate: int = 44100,
    audio_codec: str = "aac",
    rotation: int | None = None,
    matrix: Sequence[int] | None = None,
    faststart: bool = False,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    crf: int = 0,
    preset: str = "ultrafast",
    picture: Callable[[int, int, int], Planes] = synthetic_planes,
) -> Path:
    """Write a video (container from the extension: .mp4 .mov .mkv) storing picture(i, w, h).

    width/height: the stored (coded) size. libx264 with yuv420p needs even sizes: for odd ones
        use codec="ffv1" in .mkv (lossless 4:2:0) or pix_fmt="yuv444p" (H.264, chroma resampled).
    pts: explicit increasing timestamps in time_base units (variable frame rate); default i.
    time_base: unit of pts; default 1/fps.
    audio: add a 440 Hz mono sine track as long as the video (plus one frame), encoded with
        audio_codec ("aac"; or a PCM codec fed 16-bit samples, e.g. "pcm_alaw" at 8000 Hz in
        .mov, which MP4 and MKV cannot hold).
    rotation: degrees counter-clockwise written as the display rotation (FFmpeg convention);
        matrix: or a raw 9-integer display matrix. The stored picture is never turned.
    faststart: put the index (moov) before the media data, as streamed files do.
    crf: libx264 quality; 0 is lossless for yuv420p input.
    """
    path = Path(path)
    tb = time_base or Fraction(1, fps)
    stamps = list(pts) if pts is not None else list(range(n_frames))
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=_MUXERS[path.suffix.lower()], options=options) as out:
        vs = cast(av.VideoStream, out.add_stream(codec, rate=fps))
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        vs.time_base = tb
        vs.codec_context.time_base = tb
        if codec == "libx264":
            vs.options = {"crf": str(crf), "preset": preset}
        if rotation is not None:
            vs.set_display_rotation(rotation)
        if matrix is not None:
            vs.set_display_matrix(list(matrix))
        end = float((stamps[-1] + 1) * tb) if stamps else 0.0
        astream = _add_sine_audio(out, audio_rate, audio_codec) if audio else None
        audio_frames = _sine_frames(audio_rate, end, audio_codec) if astream else []
        for i, p in enumerate(stamps):
            while (
                astream is not None
                and audio_frames
                and (audio_frames[0].time or 0.0) <= float(p * tb)
            ):
                out.mux(astream.encode(audio_frames.pop(0)))  # interleave like a camera does
            vf = frame_from_planes(picture(i, width, height), p)
            if pix_fmt != "yuv420p":
                vf = vf.reformat(format=pix_fmt)
                vf.pts = p
            vf.time_base = tb
            for packet in vs.encode(vf):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if astream is not None:
            for af in audio_frames:
                out.mux(astream.encode(af))
            out.mux(astream.encode(None))
    return path


def _add_sine_audio(
    out: av.container.OutputContainer, rate: int, codec: str = "aac"
) -> av.AudioStream:
    astream = cast(av.AudioStream, out.add_stream(codec, rate=rate))
    astream.layout = "mono"
    return astream


def _sine_frames(
    rate: int, seconds: float, codec: str = "aac", block: int = 1024
) -> list[av.AudioFrame]:
    """A 440 Hz tone as frames of `block` samples covering `seconds` (float for AAC, else s16)."""
    frames = []
    n_total = int(np.ceil(seconds * rate / block)) * block
    t = np.arange(n_total) / rate
    wave = 0.3 * np.sin(2 * np.pi * 440.0 * t)
    samples = wave.astype(np.float32) if codec == "aac" else (wave * 32767).astype(np.int16)
    fmt = "fltp" if codec == "aac" else "s16"
    for start in range(0, n_total, block):
        af = av.AudioFrame.from_ndarray(
            samples[None, start : start + block], format=fmt, layout="mono"
        )
        af.sample_rate = rate
        af.pts = start
        af.time_base = Fraction(1, rate)
        frames.append(af)
    return frames


def make_audio_only(path: Path, *, seconds: float = 1.0, rate: int = 44100) -> Path:
    """An MP4 with one AAC sine track and no video stream."""
    with av.open(str(path), "w", format="mp4") as out:
        astream = _add_sine_audio(out, rate)
        for af in _sine_frames(rate, seconds):
            out.mux(astream.encode(af))
        out.mux(astream.encode(None))
    return Path(path)


def make_zero_frame(path: Path, *, width: int = 64, height: int = 48) -> Path:
    """A file whose H.264 video track holds no frame (a recording stopped at once).

    In .mkv the empty track is declared; the MP4 muxer drops it, leaving a file with no stream.
    """
    path = Path(path)
    with av.open(str(path), "w", format=_MUXERS[path.suffix.lower()]) as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        out.start_encoding()
    return path


def make_text_as_video(path: Path) -> Path:
    """A plain text file with a video file name."""
    Path(path).write_text("This is not a video, only text saved under a video file name.\n" * 20)
    return Path(path)


def top_level_boxes(path: Path) -> list[tuple[str, int, int]]:
    """[(kind, offset, size)] of the top-level boxes of an MP4/MOV file (size 0 = to the end)."""
    data = Path(path).read_bytes()
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        boxes.append((kind.decode("latin-1"), pos, size))
        if size < 8:
            break
        pos += size
    return boxes


def truncate_copy(src: Path, dst: Path, *, mdat_fraction: float = 0.5) -> Path:
    """Copy `src` cut at `mdat_fraction` of the way through its media data (mdat) box.

    With the index first (faststart) the cut file still opens and its first frames decode;
    with the index last it loses the index altogether, like a recording that was cut off.
    """
    data = Path(src).read_bytes()
    mdat = [(off, size) for kind, off, size in top_level_boxes(src) if kind == "mdat"]
    if not mdat:
        raise ValueError(f"{src} has no mdat box")
    off, size = mdat[0]
    cut = off + int(size * mdat_fraction)
    Path(dst).write_bytes(data[:cut])
    return Path(dst)


def frame_times(path: Path) -> list[Fraction]:
    """Exact presentation time (pts * time_base, seconds) of every decoded video frame."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        tb = vs.time_base or Fraction(1, 1)
        return [Fraction(f.pts or 0) * tb for f in c.decode(vs)]


def packet_bytes(path: Path, kind: str = "audio") -> list[bytes]:
    """Bytes of every non-empty packet of the first stream of `kind` ("audio" or "video")."""
    with av.open(str(path)) as c:
        streams = c.streams.audio if kind == "audio" else c.streams.video
        if not streams:
            return []
        return [bytes(p) for p in c.demux(streams[0]) if p.size > 0]


def packet_times(path: Path, kind: str = "audio") -> list[tuple[Fraction, Fraction]]:
    """(pts, dts) in seconds of every non-empty packet of the first stream of `kind`."""
    with av.open(str(path)) as c:
        streams = c.streams.audio if kind == "audio" else c.streams.video
        if not streams:
            return []
        tb = streams[0].time_base or Fraction(1, 1)
        return [
            (Fraction(p.pts) * tb, Fraction(p.dts) * tb)
            for p in c.demux(streams[0])
            if p.size > 0 and p.pts is not None and p.dts is not None
        ]


def decoded_planes(path: Path) -> list[Planes]:
    """The yuv420p planes of every frame as the decoder stores them (no rotation applied)."""
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if f.format.name != "yuv420p":
                f = f.reformat(format="yuv420p")
            planes = []
            for i, p in enumerate(f.planes):
                w = f.width if i == 0 else (f.width + 1) // 2
                h = f.height if i == 0 else (f.height + 1) // 2
                buf = np.frombuffer(memoryview(p), dtype=np.uint8).reshape(-1, p.line_size)
                planes.append(buf[:h, :w].copy())
            out.append((planes[0], planes[1], planes[2]))
    return out


def display_matrix(path: Path) -> tuple[int, ...]:
    """The 9 integers of the first 'tkhd' box's matrix, read from the file's bytes (MP4/MOV)."""
    data = Path(path).read_bytes()
    i = data.find(b"tkhd")
    if i < 0:
        raise ValueError(f"{path} has no tkhd box")
    version = data[i + 4]
    # after version/flags: times and ids (20 bytes in v0, 32 in v1), 8 reserved, 8 layer/volume
    start = i + 8 + (32 if version == 1 else 20) + 8 + 8
    return struct.unpack(">9i", data[start : start + 36])
