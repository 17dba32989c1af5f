"""The web page's logic without a browser: the page asks the library exactly what the CLI asks,
refuses over-limit and non-video inputs with the CLI's messages, runs one edit at a time, cancels,
and removes its temporary files."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from conftest import feat_clip, shared_clip
from emodirector.cli import build_parser, main
from emodirector.cli.manipulate import request_from_args
from emodirector.errors import InputError, NoFaceError, VideoError
from emodirector.facts import video_facts
from emodirector.manipulate import EditRequest
from emodirector.types import ProgressHook
from emodirector.ui.actions import Choice, describe_input, request_of, run_preview
from emodirector.ui.jobs import Cancelled, JobQueue, ProgressText, cancellable
from emodirector.ui.limits import UILimits, check_facts, check_size
from emodirector.ui.workspace import Workspace
from emodirector.video import VideoReader


def cli_request(*argv: str) -> EditRequest:
    args = build_parser().parse_args(["edit", "in.mp4", "-o", "out.mp4", *argv])
    return request_from_args(args)[0]


@pytest.mark.parametrize(
    ("choice", "argv"),
    [
        (Choice(emotion="sad", intensity=0.6), ("--emotion", "sad:0.6")),
        (
            Choice(mode="several in sequence", sequence="happy, angry:0.6"),
            ("--emotions", "happy", "angry:0.6"),
        ),
        (
            Choice(mode="schedule", schedule="0-1:happy:0.8, 1-end:sad"),
            ("--schedule", "0-1:happy:0.8, 1-end:sad"),
        ),
        (
            Choice(mode="reference clip", reference="ref.mp4", reference_intensity=0.7),
            ("--ref", "ref.mp4", "--ref-intensity", "0.7"),
        ),
        (
            Choice(overrides="mouthSmileLeft=+0.2, browInnerUp=0.5", transition=0.5),
            (
                "--emotion", "happy", "--set", "mouthSmileLeft=+0.2", "--set",
                "browInnerUp=0.5", "--transition", "0.5",
            ),
        ),
    ],
)  # fmt: skip
def test_the_page_asks_the_library_what_the_cli_asks(choice: Choice, argv: tuple[str, ...]) -> None:
    assert request_of(choice) == cli_request(*argv)


def test_bad_choices_get_the_cli_messages() -> None:
    with pytest.raises(InputError) as page:
        request_of(Choice(emotion="gleeful"))
    with pytest.raises(InputError) as cli:
        cli_request("--emotion", "gleeful")
    assert str(page.value) == str(cli.value) and "unknown emotion" in str(page.value)
    with pytest.raises(InputError, match="intensity 2.0"):
        request_of(Choice(intensity=2.0))
    with pytest.raises(InputError, match="several in sequence"):
        request_of(Choice(mode="several in sequence", sequence=" , "))
    with pytest.raises(InputError, match="reference clip"):
        request_of(Choice(mode="reference clip"))
    with pytest.raises(InputError, match="renderer"):
        from emodirector.ui.actions import options_of

        options_of(Choice(renderer="neural"))


def test_every_library_renderer_is_offered_and_reaches_the_render_options() -> None:
    from emodirector.render import NEEDS_MODEL
    from emodirector.render import RENDERERS as LIBRARY
    from emodirector.ui.actions import options_of
    from emodirector.ui.options import RENDERERS

    assert RENDERERS == tuple(n for n in LIBRARY if n not in NEEDS_MODEL)
    assert RENDERERS[0] == "warp" and "appearance" in RENDERERS
    for name in RENDERERS:
        assert options_of(Choice(renderer=name)).video.render.renderer == name


def test_limits_refuse_big_and_long_videos_with_one_clear_line(tmp_path: Path) -> None:
    clip = feat_clip("single_face.mp4")  # 208 KB, 2.4 s
    check_size(clip, UILimits())
    with pytest.raises(InputError, match=r"single_face.mp4 is 0.2 MB.*up to 0.1 MB.*--max-mb"):
        check_size(clip, UILimits(max_megabytes=0.1))
    facts = video_facts(clip)
    check_facts("single_face.mp4", facts, UILimits())
    with pytest.raises(InputError, match=r"2.4 s long.*up to 1 s.*--max-seconds"):
        check_facts("single_face.mp4", facts, UILimits(max_seconds=1.0))
    with pytest.raises(InputError, match="positive"):
        UILimits(max_seconds=0).check()


def test_facts_of_the_demo_clip() -> None:
    facts = describe_input(feat_clip("single_face.mp4"), UILimits())
    assert facts.summary().startswith("640x360, 2.40 s, 30.00 fps, 72 frames, with audio")
    assert len(facts.faces) == 1 and facts.face_frame == 0
    x0, y0, x1, y1 = facts.faces[0]
    assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 360 and x1 - x0 > 100


def test_a_file_that_is_not_a_video_gets_the_cli_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n")
    with pytest.raises(VideoError) as page:
        describe_input(bad, UILimits())
    rc = main(["edit", str(bad), "--emotion", "happy", "-o", str(tmp_path / "o.mp4")])
    err = capsys.readouterr().err
    assert rc != 0 and err.strip() == f"emodirector: error: {page.value}"


def test_one_job_at_a_time_others_wait_and_can_cancel() -> None:
    jobs = JobQueue()
    first_in, release, order = threading.Event(), threading.Event(), []

    def first() -> None:
        with jobs.slot("a"):
            order.append("a")
            first_in.set()
            release.wait(10)

    def second(results: list[str]) -> None:
        try:
            with jobs.slot("b"):
                order.append("b")
        except Cancelled as exc:
            results.append(str(exc))

    results: list[str] = []
    ta = threading.Thread(target=first)
    ta.start()
    assert first_in.wait(10) and jobs.busy()
    tb = threading.Thread(target=second, args=(results,))
    tb.start()
    for _ in range(100):
        if jobs.waiting() == 1:
            break
        time.sleep(0.01)
    assert jobs.waiting() == 1 and order == ["a"]  # b waits while a runs
    assert jobs.cancel("b") and not jobs.cancel("nobody")
    release.set()
    ta.join(10)
    tb.join(10)
    assert order == ["a"] and results and "cancelled" in results[0]
    assert not jobs.busy() and jobs.waiting() == 0


def test_cancel_stops_a_preview_and_writes_nothing(tmp_path: Path) -> None:
    event = threading.Event()
    seen: list[str] = []

    def hook(stage: str, done: int, total: int | None) -> None:
        seen.append(stage)
        if stage == "render" and done >= 5:
            event.set()  # as the Cancel button does, from another thread

    with pytest.raises(Cancelled):
        run_preview(feat_clip("single_face.mp4"), Choice(), tmp_path, hook=cancellable(hook, event))
    assert "render" in seen
    assert not any(p.suffix == ".mp4" for p in tmp_path.iterdir()), list(tmp_path.iterdir())


@pytest.mark.slow
def test_preview_gives_original_and_edited_stills(tmp_path: Path) -> None:
    r = run_preview(feat_clip("single_face.mp4"), Choice(), tmp_path, seconds=1.0, stills=3)
    assert r.frames == 30 and len(r.stills) == 3
    with VideoReader(r.side) as reader:
        assert (reader.info.width, reader.info.height) == (1280, 360)
        assert sum(1 for _ in reader) == 30
    import cv2

    still = cv2.imread(str(r.stills[0]))
    h, w = still.shape[:2]
    assert h == 256 and w == 512  # a square face crop of the original beside the edited one
    left, right = still[:, :256].astype(int), still[:, 256:].astype(int)
    assert 0 < abs(left - right).mean() < 20  # the face changed a little, not the whole crop


def test_progress_text_gives_rate_and_eta() -> None:
    now = [0.0]
    text = ProgressText(clock=lambda: now[0])
    assert text("render", 0, 60) == "render: 0/60 frames"
    now[0] = 1.0
    assert text("render", 30, 60) == "render: 30/60 frames, 30.0 fps, ETA 1 s"
    assert text("track", 0, None) == "track: 0 frames"  # a new stage restarts the rate
    now[0] = 3.0
    assert text("track", 20, None) == "track: 20 frames, 10.0 fps"


def test_workspace_keeps_the_latest_job_and_removes_sessions(tmp_path: Path) -> None:
    ws = Workspace(str(tmp_path))
    a1 = ws.new_job("s/1", "edit")
    (a1 / "out.mp4").write_bytes(b"x" * 100)
    a2 = ws.new_job("s/1", "edit")
    p = ws.new_job("s/1", "preview")
    assert not a1.exists() and a2.exists() and p.exists()
    assert a2.parent.name == "s_1"  # the session id never escapes the root
    other = ws.new_job("s2", "edit")
    (other / "x").write_bytes(b"y" * 10)
    ws.end("s/1")
    assert not a2.parent.exists() and other.exists() and ws.size_bytes() == 10
    ws.close()
    assert not ws.root.exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--port", "70000"), "--port 70000"),
        (("--max-mb", "0"), "limits must be positive"),
        (("--preview-seconds", "-1"), "--preview-seconds"),
    ],
)
def test_ui_command_refuses_bad_options(
    argv: tuple[str, ...], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["ui", *argv])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc != 0 and len(lines) == 1 and words in lines[0] and "Traceback" not in err


def test_jobs_run_on_one_thread_report_progress_and_cancel() -> None:
    jobs = JobQueue()
    threads: list[int] = []
    reports: list[tuple[str, int, int | None]] = []

    def work(hook: ProgressHook) -> int:
        threads.append(threading.get_ident())
        for i in range(1, 6):
            hook("render", i, 5)
            time.sleep(0.02)
        return 42

    assert jobs.run("a", work, lambda *r: reports.append(r), poll=0.01) == 42
    assert jobs.run("b", work, lambda *r: None, poll=0.01) == 42
    assert len(set(threads)) == 1 and threads[0] != threading.get_ident()
    assert reports and reports[-1][0] == "render" and 1 <= reports[-1][1] <= 5
    assert [r[1] for r in reports] == sorted(r[1] for r in reports)  # never goes back

    def cancel_midway(hook: ProgressHook) -> int:
        hook("track", 1, 10)
        jobs.cancel("c")  # as the page's Cancel button, from elsewhere
        hook("track", 2, 10)
        return 0

    with pytest.raises(Cancelled):
        jobs.run("c", cancel_midway, lambda *r: None)
    assert not jobs.busy()
    jobs.close()


def test_facts_list_every_face_of_a_group_clip() -> None:
    facts = describe_input(shared_clip("multi_faces.mp4"), UILimits())
    lines = facts.face_lines()
    assert len(facts.faces) >= 3 and lines[1].strip().startswith("--face 0:")
    widths = [float(b[2] - b[0]) for b in facts.faces]
    assert widths[0] == max(widths)  # largest first, as --face N counts


@pytest.mark.slow
def test_ui_command_serves_on_localhost_prints_the_url_and_cleans_up(tmp_path: Path) -> None:
    import re
    import signal
    import subprocess
    import sys
    import urllib.request

    pytest.importorskip("gradio", reason="gradio is in the ui extra: run make setup")
    from browser import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "emodirector", "ui", "--port", str(port), "--workdir",
         str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.search(rf"open http://127\.0\.0\.1:{port}/? in a browser", line), line
        assert len(list(tmp_path.iterdir())) == 1  # the app's one folder
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # every temporary file is gone


@pytest.mark.slow
def test_a_video_without_a_face_gets_the_cli_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = shared_clip("no_face.mp4")
    assert describe_input(clip, UILimits()).faces == ()  # the page warns on upload
    with pytest.raises(NoFaceError) as page:
        run_preview(clip, Choice(), tmp_path, seconds=1.0)
    out = tmp_path / "o.mp4"
    rc = main(["edit", str(clip), "--emotion", "happy", "--preview", "1", "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc != 0 and err.strip() == f"emodirector: error: {page.value}"
    assert "no face found" in str(page.value)
