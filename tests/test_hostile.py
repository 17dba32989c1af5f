"""What a hostile (or unlucky) user does: outputs aimed at inputs, signals, long names, odd
inputs, two runs at once. Each test is the regression test of one item of issue #13 and failed
before its fix. Most run on small generated clips; a few track a second of a real clip.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import make_track, shared_clip
from emodirector.cli import main
from emodirector.errors import OutputError, TrackFileError
from emodirector.io.paths import atomic_path, check_outputs, claimed, lock_path
from emodirector.pipeline import prefetched, render_video
from emodirector.trackfile import save_edited, save_track
from emodirector.types import EditedTrack
from emodirector.video import VideoReader, VideoWriter, probe
from media import frame_times, make_video, packet_bytes, packet_times

REPO = Path(__file__).resolve().parents[1]


def one_error_line(rc: int, err: str, *words: str) -> str:
    """The CLI refused with exactly one clear line that holds every word."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("emodirector: error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def no_face_edited(video: Path, path: Path, **meta: str) -> Path:
    """An edited track of `video` in which no frame has a face (rendering passes frames through)."""
    info = probe(video)
    times = [float(t) for t in frame_times(video)]
    n = len(times)
    track = make_track(
        n,
        valid=np.zeros(n, bool),
        width=info.width,
        height=info.height,
        timestamps=np.array(times),
    )
    track.meta.update(meta)
    edited = EditedTrack(
        original=track,
        landmarks=track.landmarks.copy(),
        blendshapes=track.blendshapes.copy(),
        labels=("",) * n,
        intensity=np.zeros(n, np.float32),
    )
    save_edited(edited, path)
    return path


def face_edited(
    video: Path, path: Path, *, meta: dict[str, str], bad_row: int | None = None
) -> Path:
    """An edited track with a (synthetic) face in every frame, optionally one damaged row."""
    info = probe(video)
    times = [float(t) for t in frame_times(video)]
    n = len(times)
    rng = np.random.default_rng(0)
    lm = np.empty((n, 478, 3), np.float32)
    lm[..., 0] = rng.uniform(0.3, 0.7, (n, 478)) * info.width
    lm[..., 1] = rng.uniform(0.3, 0.7, (n, 478)) * info.height
    lm[..., 2] = 0.0
    track = make_track(
        n, landmarks=lm, width=info.width, height=info.height, timestamps=np.array(times)
    )
    track.meta.update(meta)
    edited_lm = track.landmarks.copy()
    if bad_row is not None:
        edited_lm[bad_row, 10, 0] = np.nan
        edited_lm[bad_row, 11, 1] = 1e9
    edited = EditedTrack(
        original=track,
        landmarks=edited_lm,
        blendshapes=track.blendshapes.copy(),
        labels=("",) * n,
        intensity=np.zeros(n, np.float32),
    )
    save_edited(edited, path)
    return path


def litter(folder: Path) -> list[str]:
    """Hidden files we may have left in a folder (partial outputs, locks)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------- 1. data loss: --keep-track


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_video(tmp_path / "base.mp4", n_frames=6)


def test_keep_track_never_replaces_a_reference_it_reads(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "DIR"
    kept.mkdir()
    ref = kept / "track.npz"
    ref.write_bytes(b"a track kept by an earlier run")
    rc, _, err = run_cli(
        capsys, "edit", str(clip), "--ref", str(ref), "--keep-track", str(kept), "-o",
        str(tmp_path / "out.mp4"), "-q",
    )  # fmt: skip
    one_error_line(rc, err, "track.npz", "is the input file", "--ref", "--keep-track")
    assert ref.read_bytes() == b"a track kept by an earlier run"


def test_keep_track_never_replaces_the_input_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "DIR"
    kept.mkdir()
    video = kept / "track.npz"  # a real clip with a face: before the fix, tracking went on and
    video.write_bytes(shared_clip("smile_reference.mp4").read_bytes())  # the save destroyed it
    before = video.read_bytes()
    rc, _, err = run_cli(
        capsys, "edit", str(video), "--emotion", "happy", "--keep-track", str(kept), "-o",
        str(tmp_path / "out.mp4"), "-q", "--end", "0.2",
    )  # fmt: skip
    one_error_line(rc, err, "is the input file", "the input video")
    assert video.read_bytes() == before


def test_two_outputs_of_one_run_cannot_share_a_file(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "DIR"
    kept.mkdir()
    rc, _, err = run_cli(
        capsys, "edit", str(clip), "--emotion", "happy", "--keep-track", str(kept), "--json",
        str(kept / "track.npz"), "-o", str(tmp_path / "out.mp4"), "-q",
    )  # fmt: skip
    one_error_line(rc, err, "--json", "--keep-track (track.npz)", "name the same file")
    assert not (kept / "track.npz").exists()


def test_json_equal_to_output_names_the_conflict(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.mp4"
    rc, _, err = run_cli(
        capsys, "edit", str(clip), "--emotion", "happy", "-o", str(out), "--json", str(out)
    )
    line = one_error_line(rc, err, "--json and -o name the same file")
    assert "input" not in line


def test_an_existing_file_not_ours_is_kept_unless_overwrite(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    precious = make_video(tmp_path / "holiday.mp4", n_frames=3)  # written by someone else
    kept = tmp_path / "DIR"
    kept.mkdir()
    notes = kept / "edited.npz"
    notes.write_bytes(b"my own file that happens to have this name")
    before = precious.read_bytes()
    rc, _, err = run_cli(capsys, "edit", str(clip), "--emotion", "happy", "-o", str(precious))
    one_error_line(rc, err, "holiday.mp4", "not written by emodirector", "--overwrite")
    rc, _, err = run_cli(
        capsys, "edit", str(clip), "--emotion", "happy", "-o", str(tmp_path / "o.mp4"),
        "--keep-track", str(kept),
    )  # fmt: skip
    one_error_line(rc, err, "edited.npz", "not written by emodirector")
    assert precious.read_bytes() == before
    # --overwrite lets them through the check; files emodirector wrote need no flag.
    with pytest.raises(OutputError, match="not written by emodirector"):
        check_outputs([("-o", precious)], [("the input video", clip)])
    assert check_outputs([("-o", precious)], [], overwrite=True).paths["-o"] == precious
    ours = tmp_path / "ours.mp4"
    with VideoReader(clip) as r, VideoWriter(ours, r.info) as w:
        for f in r:
            w.write(f)
    track = kept / "track.npz"
    save_track(make_track(3), track)
    checked = check_outputs([("-o", ours), ("--keep-track (track.npz)", track)], [])
    assert set(checked.paths.values()) == {ours, track}


# ------------------------------------------------------------ 2. data loss: AAC priming packet


@pytest.mark.parametrize("window", [(0.0, math.inf), (0.0, 99.0), (0.0, 0.96)])
def test_a_range_from_the_start_keeps_the_priming_packet(
    tmp_path: Path, window: tuple[float, float]
) -> None:
    src = make_video(tmp_path / "in.mp4", n_frames=25, audio=True)
    assert packet_times(src)[0][0] < 0  # the AAC encoder's priming packet at pts -1024
    out = tmp_path / "out.mp4"
    with VideoReader(src) as r, VideoWriter(out, r.info, audio_from=src, audio_window=window) as w:
        for f in r:
            if f.time < window[1]:
                w.write(f)
    if math.isinf(window[1]) or window[1] > 1.0:  # the whole clip: every packet, as it was
        assert packet_bytes(out) == packet_bytes(src)
        assert packet_times(out) == packet_times(src)
    else:  # a cut end: the packets up to it, priming included
        assert packet_times(out)[0] == packet_times(src)[0]
        n = len(packet_bytes(out))
        assert packet_bytes(out) == packet_bytes(src)[:n]


# --------------------------------------------------------------- 3-5. signals and interruption


def _slow_render_args(tmp_path: Path) -> list[str]:
    video = make_video(tmp_path / "in.mp4", width=640, height=360, n_frames=300, crf=0)
    edited = no_face_edited(video, tmp_path / "edited.npz")
    out = tmp_path / "out.mp4"
    return ["render", str(video), str(edited), "-o", str(out), "-q", "--preset", "slow"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_remove_the_partial_output(tmp_path: Path, sig: signal.Signals) -> None:
    args = _slow_render_args(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.Popen(
        [sys.executable, "-m", "emodirector", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".*part.mp4")):  # the encoder is writing
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, err
    assert f"stopped by {sig.name}" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no part file, no lock, no output


def test_partial_files_of_a_killed_run_are_removed_by_the_next(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".emodirector-{dead.pid}-0123abcd.part.mp4"
    stale.write_bytes(b"half a video")
    live = tmp_path / f".emodirector-{os.getpid()}-0123abcd.part.mp4"  # a run still going
    live.write_bytes(b"being written")
    stale_lock = lock_path(tmp_path / "other.mp4")
    stale_lock.write_text(f"{dead.pid}\n")
    edited = no_face_edited(clip, tmp_path / "edited.npz")
    rc, _, err = run_cli(capsys, "render", str(clip), str(edited), "-o", str(tmp_path / "o.mp4"))
    assert rc == 0, err
    assert f"removed {stale}" in err
    assert not stale.exists() and not stale_lock.exists()
    assert live.exists()


@pytest.fixture
def python_ctrl_c() -> Iterator[None]:
    """SIGINT raising KeyboardInterrupt, as in a fresh interpreter: an earlier test in the same
    process (a server, a library) may have left its own handler installed."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.mark.usefixtures("python_ctrl_c")
def test_landmarker_made_when_ctrl_c_lands_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    import emodirector.track as track_module

    made: list[object] = []

    class Native:
        closed = False

        def close(self) -> None:
            self.closed = True

    def create(path: Path, options: object, *, video: bool) -> Native:
        made.append(Native())
        signal.raise_signal(signal.SIGINT)  # Ctrl-C right after the native object exists
        return made[-1]  # type: ignore[return-value]

    monkeypatch.setattr(track_module, "_create_landmarker", create)
    monkeypatch.setattr(track_module, "find_face_model", lambda _: Path("model.task"))
    with pytest.raises(KeyboardInterrupt):
        track_module.Landmarker(track_module.TrackOptions())
    assert len(made) == 1 and made[0].closed  # closed now, not by a finaliser at exit


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_second_ctrl_c_cannot_cut_the_worker_join_short() -> None:
    def slow() -> Iterator[int]:
        for i in range(100):
            time.sleep(0.3)
            yield i

    main_thread = threading.main_thread().ident
    assert main_thread is not None
    with pytest.raises(KeyboardInterrupt):  # noqa: PT012
        with prefetched(slow(), 2) as items:
            next(items)
            timer = threading.Timer(0.1, signal.pthread_kill, (main_thread, signal.SIGINT))
            timer.start()
            raise KeyboardInterrupt  # the first Ctrl-C; the second lands during the cleanup
    timer.join()
    alive = [t for t in threading.enumerate() if t.name == "emodirector-decode"]
    assert not alive  # no worker thread left inside native code


@pytest.mark.usefixtures("python_ctrl_c")
def test_ctrl_c_while_the_worker_starts_still_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The race a SIGTERM test hit: a signal right after the thread started, before the block
    that stops it was entered; the reader was then closed under the running decoder (SIGSEGV)."""
    start = threading.Thread.start

    def start_then_ctrl_c(self: threading.Thread) -> None:
        start(self)
        signal.raise_signal(signal.SIGINT)

    def forever() -> Iterator[int]:
        while True:
            time.sleep(0.01)
            yield 1

    monkeypatch.setattr(threading.Thread, "start", start_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt), prefetched(forever(), 2) as items:
        next(items)
    monkeypatch.undo()
    alive = [t for t in threading.enumerate() if t.name == "emodirector-decode" and t.is_alive()]
    assert not alive


def test_worker_stops_before_the_interpreter_exits(tmp_path: Path) -> None:
    """A block never left (Ctrl-C between entering and registering it): the worker must still
    end cleanly at exit, not be frozen inside native code (which aborts the process)."""
    marker = tmp_path / "closed"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from emodirector.pipeline import prefetched\n"
        "def items():\n"
        "    try:\n"
        "        while True:\n"
        "            time.sleep(0.01)\n"
        "            yield 1\n"
        "    finally:\n"
        f"        Path({str(marker)!r}).write_text('closed')\n"
        "cm = prefetched(items(), 2)\n"
        "next(cm.__enter__())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "closed"


# ------------------------------------------------------------------ 6-7. names and symlinks


def test_a_legal_240_character_output_name_is_written(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / ("a" * 236 + ".mp4")
    with atomic_path(out) as tmp:
        assert len(tmp.name.encode()) < 64
        tmp.write_bytes(b"x")
    out.unlink()
    with VideoReader(clip) as r, VideoWriter(out, r.info) as w:
        for f in r:
            w.write(f)
    assert len(frame_times(out)) == 6


def test_names_over_255_bytes_and_symlink_loops_give_one_line(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long = "b" * 300
    edited = no_face_edited(clip, tmp_path / "edited.npz")
    loop = tmp_path / "loop.mp4"
    loop.symlink_to(loop)
    cases = [
        [
            "edit",
            str(tmp_path / f"{long}.mp4"),
            "--emotion",
            "happy",
            "-o",
            str(tmp_path / "o.mp4"),
        ],
        ["edit", str(clip), "--emotion", "happy", "-o", str(tmp_path / f"{long}.mp4")],
        ["track", str(clip), "-o", str(tmp_path / f"{long}.npz")],
        ["report", str(clip), str(clip), "--json", str(tmp_path / f"{long}.json")],
        ["render", str(clip), str(edited), "-o", str(tmp_path / f"{long}.mp4")],
        ["render", str(clip), str(edited), "-o", str(loop)],
    ]
    for argv in cases:
        rc, _, err = run_cli(capsys, *argv)
        line = one_error_line(rc, err)
        assert "255" in line or "loop" in line, line
    assert litter(tmp_path) == []


# --------------------------------------------------------------------- 8. --face values (real)


@pytest.mark.parametrize("face", [1, 7])
def test_face_beyond_the_faces_found_says_which_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], face: int
) -> None:
    video = shared_clip("smile_reference.mp4")
    rc, _, err = run_cli(
        capsys, "edit", str(video), "--emotion", "happy", "--face", str(face), "--end", "0.5",
        "-q", "-o", str(tmp_path / "o.mp4"),
    )  # fmt: skip
    line = one_error_line(rc, err, f"--face {face}", "at most 1 face", "use --face 0")
    assert "max-faces" not in line


# --------------------------------------------------------- 10-11. checks before the long work


@pytest.fixture
def no_tracking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any test using this fails if tracking starts."""
    import emodirector.pipeline as pipeline

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tracking started before the request was checked")

    monkeypatch.setattr(pipeline, "track_frames", refuse)
    monkeypatch.setattr(pipeline, "load_references", refuse)


@pytest.mark.parametrize(
    "extra, words",
    [
        (["-o", "{tmp}/out.avi"], ["extension '.avi'"]),
        (["-o", "{tmp}/o.mp4", "--compare", "{tmp}/side.gif"], ["--compare", ".gif"]),
        (["-o", "{tmp}/o.mp4", "--schedule", "0-99:happy"], ["outside the video"]),
        (["-o", "{tmp}/o.mp4", "--keep-track", "{tmp}", "--json", "{tmp}/edited.npz"], ["same"]),
        (["-o", "{tmp}/o.mp4", "--keep-track", "{tmp}/base.mp4"], ["needs a folder"]),
    ],
)
@pytest.mark.usefixtures("no_tracking")
def test_checks_that_need_no_track_come_before_tracking(
    tmp_path: Path,
    clip: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    words: list[str],
) -> None:
    argv = [a.format(tmp=tmp_path) for a in extra]
    rest = [] if "--schedule" in argv else ["--emotion", "happy"]
    rc, _, err = run_cli(capsys, "edit", str(clip), *rest, *argv, "-q")
    one_error_line(rc, err, *words)


@pytest.mark.usefixtures("no_tracking")
def test_a_schedule_outside_the_streams_time_span_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    late = make_video(tmp_path / "late.mp4", n_frames=25, pts=range(50, 75))  # 2.0 s to 3.0 s
    assert float(frame_times(late)[0]) == 2.0
    rc, _, err = run_cli(
        capsys, "edit", str(late), "--schedule", "0-1.5:happy", "-o", str(tmp_path / "o.mp4")
    )
    one_error_line(rc, err, "every range falls outside", "from 2.00 s to 3.00 s")


# ------------------------------------------------------------ 12-15. odd inputs, said or kept


def _render_stderr(
    video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], out: str = "o.mp4"
) -> str:
    edited = no_face_edited(video, tmp_path / "e.npz")
    rc, _, err = run_cli(capsys, "render", str(video), str(edited), "-o", str(tmp_path / out))
    assert rc == 0, err
    return err


def test_odd_size_and_444_chroma_are_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = make_video(tmp_path / "odd.mkv", width=65, height=47, n_frames=3, codec="ffv1")
    err = _render_stderr(odd, tmp_path, capsys)
    assert "warning" in err and "65x47" in err and "66x48" in err
    full = make_video(tmp_path / "full.mp4", n_frames=3, pix_fmt="yuv444p")
    err = _render_stderr(full, tmp_path, capsys, "o2.mp4")
    assert "warning" in err and "yuv444p" in err and "4:2:0" in err


def test_a_second_video_stream_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "two.mp4"
    with av.open(str(path), "w") as out:
        streams = []
        for _ in range(2):
            vs = out.add_stream("libx264", rate=25)
            vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
            streams.append(vs)
        for i in range(3):
            for vs in streams:
                f = av.VideoFrame.from_ndarray(np.full((72, 64), 40 * i, np.uint8), "yuv420p")
                f.pts = i
                for p in vs.encode(f):
                    out.mux(p)
        for vs in streams:
            for p in vs.encode(None):
                out.mux(p)
    err = _render_stderr(path, tmp_path, capsys)
    assert "warning" in err and "#1 video" in err and "only the first video" in err


def test_mkv_output_keeps_every_timestamp(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", n_frames=25, audio=True)
    out = tmp_path / "out.mkv"
    with VideoReader(src) as r, VideoWriter(out, r.info, audio_from=src) as w:
        for f in r:
            w.write(f)
    assert frame_times(out) == frame_times(src)  # not shifted by the 23 ms of priming
    ms = [(round(float(p) * 1000), round(float(d) * 1000)) for p, d in packet_times(src)]
    got = [(round(float(p) * 1000), round(float(d) * 1000)) for p, d in packet_times(out)]
    assert got == ms  # Matroska stores milliseconds
    assert packet_bytes(out) == packet_bytes(src)


def test_raw_h264_keeps_the_rate_its_stream_states(tmp_path: Path) -> None:
    raw = tmp_path / "clip.h264"
    with av.open(str(raw), "w", format="h264") as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        for i in range(30):
            f = av.VideoFrame.from_ndarray(np.full((72, 64), 8 * i, np.uint8), "yuv420p")
            f.pts = i
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
    assert probe(raw).fps == pytest.approx(30.0)
    out_path = tmp_path / "out.mp4"
    with VideoReader(raw) as r, VideoWriter(out_path, r.info) as w:
        for f in r:
            w.write(f)
    times = frame_times(out_path)
    assert len(times) == 30 and times[-1] == Fraction(29, 30)


# ------------------------------------------------------------ 16. a track of another video


def test_render_refuses_a_track_of_another_video_and_damaged_tracks(tmp_path: Path) -> None:
    from emodirector.io.reader import fingerprint

    a = make_video(tmp_path / "a.mp4", width=128, height=96, n_frames=5)
    b = make_video(
        tmp_path / "b.mp4",
        width=128,
        height=96,
        n_frames=5,
        picture=lambda i, w, h: tuple(  # type: ignore[arg-type,return-value]
            np.full((h // (1 + (k > 0)), w // (1 + (k > 0))), 200 - 30 * k, np.uint8)
            for k in range(3)
        ),
    )
    assert fingerprint(a) != fingerprint(b)
    same_size = face_edited(a, tmp_path / "a.npz", meta={"source_fingerprint": fingerprint(a)})
    from emodirector.trackfile import load_edited

    with pytest.raises(TrackFileError, match="made from another video"):
        render_video(b, load_edited(same_size), tmp_path / "o.mp4")
    damaged = face_edited(
        a, tmp_path / "bad.npz", meta={"source_fingerprint": fingerprint(a)}, bad_row=3
    )
    with pytest.raises(TrackFileError, match="frame 3 are NaN or far outside"):
        render_video(a, load_edited(damaged), tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists() and litter(tmp_path) == []


# --------------------------------------------------------------------- 17. two runs at once


def test_a_second_run_writing_the_same_output_is_refused(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = no_face_edited(clip, tmp_path / "edited.npz")
    out = tmp_path / "o.mp4"
    with claimed([out]):  # another run holds the output (flock: also across processes)
        rc, _, err = run_cli(capsys, "render", str(clip), str(edited), "-o", str(out))
        one_error_line(rc, err, "another emodirector run", f"process {os.getpid()}")
        assert not out.exists()
    rc, _, err = run_cli(capsys, "render", str(clip), str(edited), "-o", str(out))
    assert rc == 0, err
    assert litter(tmp_path) == []


def test_overwrite_replaces_a_file_not_ours_and_the_result_is_ours(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = no_face_edited(clip, tmp_path / "edited.npz")
    foreign = tmp_path / "o.mp4"
    foreign.write_bytes(b"not a video of ours")
    rc, _, err = run_cli(capsys, "render", str(clip), str(edited), "-o", str(foreign))
    one_error_line(rc, err, "not written by emodirector", "--overwrite")
    assert foreign.read_bytes() == b"not a video of ours"
    rc, _, err = run_cli(
        capsys, "render", str(clip), str(edited), "-o", str(foreign), "--overwrite"
    )
    assert rc == 0, err
    assert len(frame_times(foreign)) == 6
    rc, _, err = run_cli(capsys, "render", str(clip), str(edited), "-o", str(foreign))
    assert rc == 0, err  # now ours: a re-run replaces it without the flag
