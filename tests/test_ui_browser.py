"""The web page, used the way a person uses it: in a real headless Chromium.

Starts the app on a free port of 127.0.0.1, uploads a file that is not a video (clear message,
no traceback), uploads the demo clip, previews, runs a full happy edit, and checks that the
result plays (positive duration) and that the report shows the emotion line. Saves a screenshot
(to $EMODIRECTOR_SCREENSHOT when set: `make screenshot` writes docs/ui.png that way).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser import (
    browser_page,
    chromium_path,
    free_port,
    full_edit,
    load_sample,
    preview,
    upload,
    video_duration,
    wait_status,
)
from conftest import feat_clip

pytest.importorskip("playwright", reason="playwright is in the dev extra: run make setup")
pytest.importorskip("gradio", reason="gradio is in the ui extra: run make setup")


@pytest.fixture(scope="module")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip(
            "Debian's chromium is not installed and could not be (make browser runs "
            "apt-get install chromium; it needs root and the Debian mirror)"
        )
    return path


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    from emodirector.ui.app import App
    from emodirector.ui.options import UIOptions
    from emodirector.ui.workspace import Workspace

    root = tmp_path_factory.mktemp("ui")
    workspace = Workspace(str(root))
    app = App(UIOptions(port=free_port()), workspace)
    url = app.launch()
    try:
        yield url, app
    finally:
        app.close()
    assert not workspace.root.exists()  # closing the app removes its temporary files


@pytest.mark.slow
def test_page_edits_the_demo_clip_in_a_real_browser(
    chromium: str, app_url: tuple[str, object], tmp_path: Path
) -> None:
    url, app = app_url
    assert url.startswith("http://127.0.0.1:")
    clip = feat_clip("single_face.mp4")
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("this is not a video\n")
    with browser_page(chromium) as page:
        page.goto(url)
        # a file that is not a video: the library's one-line message, no traceback
        upload(page, not_video)
        text = wait_status(page, "Error:", timeout_ms=60_000)
        assert "notes.mp4" in text and "Traceback" not in page.content()
        # the demo clip: facts, preview stills, then the full edit
        facts = load_sample(page, clip)
        assert "640x360" in facts and "faces found: 1" in facts, facts
        seconds, stills = preview(page)
        assert stills >= 1
        assert "Preview (" in wait_status(page, "Preview (", "Error:")
        edit_seconds = full_edit(page)
        assert video_duration(page, "result_side") > 0
        assert video_duration(page, "result_video") > 0
        report = page.frame_locator("#report iframe")
        emotion_row = report.locator("tr", has_text="target emotion")
        assert "happy" in emotion_row.inner_text()
        assert page.locator("#downloads").inner_text().count(".mp4") >= 2
        shot = tmp_path / "ui.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    target = os.environ.get("EMODIRECTOR_SCREENSHOT")
    if target:  # the README's picture: 1000 px wide, 256 colours keep it readable and small
        from PIL import Image

        picture = Image.open(shot).convert("RGB")
        size = (1000, round(picture.height * 1000 / picture.width))
        small = picture.resize(size, Image.Resampling.LANCZOS)
        small.quantize(256, dither=Image.Dither.NONE).save(target, optimize=True)
    print(f"preview {seconds:.1f} s, full edit {edit_seconds:.1f} s in the page")


@pytest.mark.slow
def test_second_tab_waits_in_a_visible_queue_and_cancel_stops_the_first(
    chromium: str, app_url: tuple[str, object]
) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = app_url
    clip = feat_clip("single_face.mp4")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            a, b = (browser.new_page(viewport={"width": 1400, "height": 1000}) for _ in range(2))
            for page in (a, b):
                page.set_default_timeout(60_000)
                page.goto(url)
                load_sample(page, clip)
            a.locator("#run").click()
            wait_status(a, "frames", timeout_ms=60_000)  # A's edit is running
            b.locator("#preview").click()
            assert "queue:" in wait_status(b, "queue:", timeout_ms=30_000)  # B sees it waits
            a.locator("#cancel").click()
            assert "nothing was written" in wait_status(a, "Cancelled:", timeout_ms=60_000)
            assert "Preview (" in wait_status(b, "Preview (", "Error:", timeout_ms=120_000)
        finally:
            browser.close()
