"""Drive the page in a real headless Chromium (Debian's `chromium`, through Playwright's Python
package; Playwright cannot download its own browsers here). Shared by tests/test_ui_browser.py
and bench/ui.py, so the test and the measures press the same buttons.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser")
EDIT_TIMEOUT_MS = 240_000  # a full edit + report of the 2.4 s demo clip takes ~10-20 s


def chromium_path() -> str | None:
    """Debian's chromium executable, or None (`make browser` installs it)."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def browser_page(executable: str) -> Iterator[Any]:
    """A fresh page (1400x1000) of a headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def upload(page: Any, path: Path) -> None:
    page.locator("#upload input[type=file]").set_input_files(str(path))


def status_text(page: Any) -> str:
    return str(page.locator("#status").inner_text())


def wait_status(page: Any, *words: str, timeout_ms: int = EDIT_TIMEOUT_MS) -> str:
    """Wait until the status line contains one of `words`; return it."""
    page.wait_for_function(
        "words => { const s = document.querySelector('#status');"
        " return s && words.some(w => s.innerText.includes(w)); }",
        arg=list(words),
        timeout=timeout_ms,
    )
    return status_text(page)


def load_sample(page: Any, path: Path) -> str:
    """Upload the clip and wait for its facts; returns the facts text."""
    upload(page, path)
    page.wait_for_function(
        "() => { const f = document.querySelector('#facts');"
        " return f && f.innerText.includes('faces found'); }",
        timeout=120_000,
    )
    return str(page.locator("#facts").inner_text())


def preview(page: Any) -> tuple[float, int]:
    """Press Preview; wait for the stills. Returns (seconds from press to stills shown, count)."""
    t0 = time.perf_counter()
    page.locator("#preview").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#stills img').length > 0", timeout=EDIT_TIMEOUT_MS
    )
    seconds = time.perf_counter() - t0
    return seconds, page.locator("#stills img").count()


def full_edit(page: Any) -> float:
    """Press Run; wait for the result and its report. Returns seconds from press to done."""
    before = status_text(page)
    t0 = time.perf_counter()
    page.locator("#run").click()
    page.wait_for_function(
        "old => { const s = document.querySelector('#status'); if (!s) return false;"
        " const t = s.innerText; return t !== old && (t.startsWith('Done (') ||"
        " t.includes('Error:')); }",
        arg=before,
        timeout=EDIT_TIMEOUT_MS,
    )
    text = status_text(page)
    if "Done (" not in text:
        raise AssertionError(f"the edit failed in the page: {text}")
    page.frame_locator("#report iframe").locator("text=target emotion").wait_for()
    return time.perf_counter() - t0


def video_duration(page: Any, elem_id: str) -> float:
    """Duration (s) of the <video> inside the component `elem_id`, once its metadata is loaded."""
    page.wait_for_function(
        "id => { const v = document.querySelector('#' + id + ' video');"
        " return v && v.readyState >= 1 && isFinite(v.duration); }",
        arg=elem_id,
        timeout=60_000,
    )
    return float(page.eval_on_selector(f"#{elem_id} video", "v => v.duration"))
