"""Bad and unusual inputs: each gives a correct result or ONE typed error whose message says what
is wrong and what to do. Library level (probe / VideoReader / VideoWriter / check_output_path),
then the same inputs through the command line (`emodirector track`), which must print exactly
one "emodirector: error:" line, exit non-zero and show no traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from emodirector.errors import EmodirectorError, OutputError, VideoError
from emodirector.video import VideoReader, VideoWriter, check_output_path, pack_i420, probe
from media import (
    PHONE_PORTRAIT_MATRIX,
    frame_times,
    make_audio_only,
    make_text_as_video,
    make_video,
    make_zero_frame,
    packet_bytes,
    synthetic_planes,
    truncate_copy,
    vfr_pts,
)

# A folder where nobody, root included, can create a file.
UNWRITABLE_DIR = Path("/proc")


def _read_all(path: Path) -> int:
    with VideoReader(path) as reader:
        return sum(1 for _ in reader)


def _copy(src: Path, dst: Path) -> int:
    with VideoReader(src) as reader, VideoWriter(dst, reader.info, audio_from=src) as w:
        for frame in reader:
            w.write(frame)
        return w.frames_written


# --------------------------------------------------------------------- inputs that cannot work


def _missing(tmp: Path) -> Path:
    return tmp / "no_such_video.mp4"


def _directory(tmp: Path) -> Path:
    (tmp / "folder.mp4").mkdir()
    return tmp / "folder.mp4"


def _text(tmp: Path) -> Path:
    return make_text_as_video(tmp / "notes.mp4")


def _empty(tmp: Path) -> Path:
    (tmp / "empty.mp4").write_bytes(b"")
    return tmp / "empty.mp4"


def _cut_without_index(tmp: Path) -> Path:
    return truncate_copy(make_video(tmp / "full.mp4", n_frames=40), tmp / "cut.mp4")


def _cut_before_first_frame(tmp: Path) -> Path:
    src = make_video(tmp / "full.mp4", n_frames=40, faststart=True)
    return truncate_copy(src, tmp / "cut.mp4", mdat_fraction=0.01)


def _zero_frame_mp4(tmp: Path) -> Path:
    return make_zero_frame(tmp / "zero.mp4")


def _zero_frame_mkv(tmp: Path) -> Path:
    return make_zero_frame(tmp / "zero.mkv")


def _audio_only(tmp: Path) -> Path:
    return make_audio_only(tmp / "voice.mp4")


# (maker, words the message must contain: what is wrong, then what to do)
UNREADABLE = {
    "missing": (_missing, ["no such file", "check the path"]),
    "directory": (_directory, ["is a directory", "give the path of a video file"]),
    "text_renamed_mp4": (_text, ["not a video file", "give an mp4"]),
    "empty_file": (_empty, ["nothing to edit"]),
    "truncated_moov_at_end": (_cut_without_index, ["no index", "cut off", "repair"]),
    "truncated_before_first_frame": (_cut_before_first_frame, ["none of its 40", "truncated"]),
    "zero_frame_mp4": (_zero_frame_mp4, ["no video", "empty recording"]),
    "zero_frame_mkv": (_zero_frame_mkv, ["empty", "nothing to edit"]),
    "audio_only": (_audio_only, ["no video", "only audio", "give a video file"]),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_unreadable_input_gives_one_clear_video_error(tmp_path: Path, case: str) -> None:
    maker, words = UNREADABLE[case]
    path = maker(tmp_path)
    for attempt in (probe, _read_all):
        with pytest.raises(VideoError) as err:
            attempt(path)
        message = str(err.value)
        assert str(path) in message
        for word in words:
            assert word in message.lower(), message
        assert "\n" not in message


# ------------------------------------------------------------------ inputs read as well as can be


def test_truncated_faststart_file_decodes_what_is_there_and_counts_the_loss(
    tmp_path: Path,
) -> None:
    src = make_video(tmp_path / "full.mp4", n_frames=40, faststart=True)
    boxes = [kind for kind, _, _ in _boxes(src)]
    assert boxes.index("moov") < boxes.index("mdat")
    cut = truncate_copy(src, tmp_path / "cut.mp4", mdat_fraction=0.5)
    with VideoReader(cut) as reader:
        frames = [(f.index, f.yuv.copy()) for f in reader]
        stats = reader.stats
    assert 5 < len(frames) < 40
    assert (stats.decoded, stats.expected) == (len(frames), 40)
    assert stats.lost == 40 - len(frames) > 0
    for i, yuv in frames:  # what was decoded is the original picture, not garbage
        np.testing.assert_array_equal(yuv, pack_i420(*synthetic_planes(i, 64, 48)))
    out = tmp_path / "out.mp4"
    assert _copy(cut, out) == len(frames)


def _boxes(path: Path) -> list[tuple[str, int, int]]:
    from media import top_level_boxes

    return top_level_boxes(path)


def test_corrupt_packets_in_the_middle_are_skipped(tmp_path: Path) -> None:
    src = make_video(tmp_path / "full.mp4", n_frames=30, width=128, height=96, faststart=True)
    data = bytearray(src.read_bytes())
    _, off, size = next(b for b in _boxes(src) if b[0] == "mdat")
    rng = np.random.default_rng(0)
    start = off + size // 2
    data[start : start + 2000] = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with VideoReader(bad) as reader:
        frames = [(f.index, f.time, f.yuv.copy()) for f in reader]
        stats = reader.stats
    # H.264 conceals damage: every frame still comes out, the damaged one is counted
    assert (stats.decoded, stats.lost) == (30, 0) and stats.corrupt >= 1
    assert [t for _, t, _ in frames] == pytest.approx([i / 25 for i in range(30)])
    for i, _, yuv in frames[:10]:  # frames before the damage are intact
        np.testing.assert_array_equal(yuv, pack_i420(*synthetic_planes(i, 128, 96)))


def test_rotated_phone_video_reads_upright(tmp_path: Path) -> None:
    src = make_video(tmp_path / "phone.mp4", width=64, height=48, matrix=PHONE_PORTRAIT_MATRIX)
    with VideoReader(src) as reader:
        frame = next(iter(reader))
    assert (reader.info.width, reader.info.height, frame.width, frame.height) == (48, 64, 48, 64)
    assert frame.rgb().shape == (64, 48, 3)


def test_odd_size_video_reads_and_writes(tmp_path: Path) -> None:
    src = make_video(tmp_path / "odd.mkv", width=63, height=35, n_frames=5, codec="ffv1")
    info = probe(src)
    assert (info.width, info.height) == (63, 35)
    assert _copy(src, tmp_path / "out.mp4") == 5
    assert probe(tmp_path / "out.mp4").width == 64  # padded by one pixel, never cropped


def test_variable_frame_rate_kept(tmp_path: Path) -> None:
    src = make_video(tmp_path / "vfr.mp4", pts=vfr_pts(20), time_base=Fraction(1, 90000))
    _copy(src, tmp_path / "out.mp4")
    assert frame_times(tmp_path / "out.mp4") == frame_times(src)


def test_4k_frame(tmp_path: Path) -> None:
    src = make_video(tmp_path / "4k.mp4", width=3840, height=2160, n_frames=1)
    info = probe(src)
    assert (info.width, info.height) == (3840, 2160)
    with VideoReader(src) as reader:
        (frame,) = list(reader)
    np.testing.assert_array_equal(frame.yuv, pack_i420(*synthetic_planes(0, 3840, 2160)))
    assert _copy(src, tmp_path / "out.mp4") == 1
    assert probe(tmp_path / "out.mp4").height == 2160


def test_audio_that_the_output_type_cannot_hold_is_refused_with_a_hint(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mov", audio=True, audio_codec="pcm_alaw", audio_rate=8000)
    with pytest.raises(OutputError, match=r"pcm_alaw audio cannot be copied.*write a \.mov file"):
        _copy(src, tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mov"]
    assert _copy(src, tmp_path / "out.mov") == 12  # the hint works
    assert packet_bytes(tmp_path / "out.mov") == packet_bytes(src)


# ------------------------------------------------------------------------------- output paths


def _same_path(inp: Path) -> Path:
    return inp


def _relative_path(inp: Path) -> Path:
    return Path(os.path.relpath(inp.parent / "sub" / ".." / inp.name))


def _symlink(inp: Path) -> Path:
    link = inp.parent / "link.mp4"
    link.symlink_to(inp)
    return link


def _hardlink(inp: Path) -> Path:
    link = inp.parent / "hard.mp4"
    os.link(inp, link)
    return link


@pytest.mark.parametrize("alias", [_same_path, _relative_path, _symlink, _hardlink])
def test_output_that_is_the_input_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alias: Callable[[Path], Path]
) -> None:
    inp = make_video(tmp_path / "in.mp4", n_frames=3)
    (tmp_path / "sub").mkdir()
    before = inp.read_bytes()
    monkeypatch.chdir(tmp_path / "sub")
    out = alias(inp)
    with pytest.raises(OutputError, match="is the input file .*; choose another path"):
        check_output_path(out, inp)
    with pytest.raises(OutputError, match="is the input file"):
        _copy(inp, out)
    assert inp.read_bytes() == before


BAD_OUTPUTS = {
    "missing_folder": (lambda tmp: tmp / "nope" / "out.mp4", "does not exist; create it first"),
    "no_permission": (lambda tmp: UNWRITABLE_DIR / "out.mp4", "cannot write in /proc"),
    "is_a_directory": (lambda tmp: tmp, "is a directory; give a file name"),
}


@pytest.mark.parametrize("case", sorted(BAD_OUTPUTS))
def test_unusable_output_path_is_refused_before_any_work(tmp_path: Path, case: str) -> None:
    make_out, words = BAD_OUTPUTS[case]
    inp = make_video(tmp_path / "in.mp4", n_frames=3)
    out = make_out(tmp_path)
    with pytest.raises(OutputError, match=words):
        check_output_path(out, inp)
    with pytest.raises(OutputError, match=words):
        VideoWriter(out, probe(inp))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in a read-only folder")
def test_read_only_folder_is_refused(tmp_path: Path) -> None:
    inp = make_video(tmp_path / "in.mp4", n_frames=3)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot write in"):
            check_output_path(folder / "out.mp4", inp)
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("name", ["out.avi", "out.gif", "out", "out.webm"])
def test_output_extension_must_hold_h264_with_timestamps(tmp_path: Path, name: str) -> None:
    info = probe(make_video(tmp_path / "in.mp4", n_frames=2))
    with pytest.raises(OutputError, match="use one of .mp4, .m4v, .mov, .mkv"):
        VideoWriter(tmp_path / name, info)


@pytest.mark.parametrize("crf", [-1, 52])
def test_crf_out_of_range(tmp_path: Path, crf: int) -> None:
    info = probe(make_video(tmp_path / "in.mp4", n_frames=2))
    with pytest.raises(OutputError, match="out of range: use 0"):
        VideoWriter(tmp_path / "out.mp4", info, crf=crf)


def test_every_error_is_an_emodirector_error() -> None:
    assert issubclass(VideoError, EmodirectorError) and issubclass(OutputError, EmodirectorError)


# ------------------------------------------------------------------------- the command line


def _cli_input_cases() -> list[str]:
    return sorted(UNREADABLE)


def _run_track(argv: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str]:
    pytest.importorskip("emodirector.cli.track", reason="emodirector track is not written yet")
    from emodirector.cli import main

    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse errors
        rc = exc.code if isinstance(exc.code, int) else 1
    return rc, capfd.readouterr().err


def _assert_one_clear_error(rc: int, err: str) -> None:
    assert rc != 0
    lines = [line for line in err.splitlines() if line.startswith("emodirector: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize("case", _cli_input_cases())
def test_cli_track_bad_input(tmp_path: Path, capfd: pytest.CaptureFixture[str], case: str) -> None:
    maker, words = UNREADABLE[case]
    path = maker(tmp_path)
    out = tmp_path / "track_out.npz"
    rc, err = _run_track(["track", str(path), "-o", str(out)], capfd)
    _assert_one_clear_error(rc, err)
    assert words[0] in err.lower()
    assert not out.exists()


@pytest.mark.parametrize(
    "case", ["same_as_input", "symlink_to_input", "missing_folder", "no_permission"]
)
def test_cli_track_bad_output(tmp_path: Path, capfd: pytest.CaptureFixture[str], case: str) -> None:
    inp = make_video(tmp_path / "in.mp4", n_frames=3)
    if case == "symlink_to_input":
        (tmp_path / "t.npz").symlink_to(inp)
    out, words = {
        "same_as_input": (inp, ""),
        "symlink_to_input": (tmp_path / "t.npz", "is the input file"),
        "missing_folder": (tmp_path / "nope" / "t.npz", "does not exist"),
        "no_permission": (UNWRITABLE_DIR / "t.npz", "cannot write"),
    }[case]
    before = inp.read_bytes()
    rc, err = _run_track(["track", str(inp), "-o", str(out)], capfd)
    _assert_one_clear_error(rc, err)
    assert words in err
    assert inp.read_bytes() == before


def _cli_truncated(tmp: Path) -> tuple[Path, int]:
    src = make_video(tmp / "full.mp4", n_frames=40, faststart=True)
    cut = truncate_copy(src, tmp / "cut.mp4")
    return cut, _read_all(cut)


def _cli_rotated(tmp: Path) -> tuple[Path, int]:
    return make_video(tmp / "phone.mp4", n_frames=4, matrix=PHONE_PORTRAIT_MATRIX), 4


def _cli_odd(tmp: Path) -> tuple[Path, int]:
    return make_video(tmp / "odd.mkv", width=63, height=35, n_frames=4, codec="ffv1"), 4


def _cli_vfr(tmp: Path) -> tuple[Path, int]:
    return make_video(tmp / "vfr.mp4", pts=vfr_pts(6), time_base=Fraction(1, 1000)), 6


def _cli_4k(tmp: Path) -> tuple[Path, int]:
    return make_video(tmp / "4k.mp4", width=3840, height=2160, n_frames=1), 1


@pytest.mark.parametrize("maker", [_cli_truncated, _cli_rotated, _cli_odd, _cli_vfr, _cli_4k])
def test_cli_track_unusual_but_valid_input(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], maker: Callable[[Path], tuple[Path, int]]
) -> None:
    from emodirector.trackfile import load_track

    path, n_frames = maker(tmp_path)
    out = tmp_path / "t.npz"
    rc, err = _run_track(["track", str(path), "-o", str(out), "-q"], capfd)
    assert rc == 0, err
    assert "emodirector: error:" not in err and "Traceback" not in err
    track = load_track(out)
    info = probe(path)
    assert (track.n_frames, track.width, track.height) == (n_frames, info.width, info.height)
    with VideoReader(path) as reader:
        assert track.timestamps.tolist() == [f.time for f in reader]
    if maker is _cli_truncated:
        assert f"{40 - n_frames} of 40 announced frames could not be decoded" in err
