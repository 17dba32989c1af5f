"""The web page against the command line, measured through a real headless Chromium.

Starts `emodirector ui` as its own process (so its memory is its own), drives the page with the
browser test's driver (tests/browser.py): load the demo clip, press Preview (time until the
stills show), run the full happy edit five times in a row (time from press to report shown,
resident memory of the app process after each), then closes the page and the app and checks
what temporary files are left. The CLI row runs the same work (`edit --compare --keep-track
--json --html`) as a fresh process, so it includes Python's start and imports; the page's
server-side seconds (edit + report, as the page's status line says) are shown beside it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from .common import REPO, Context, Row, Section

TITLE = "Web page (emodirector ui, driven in headless Chromium) vs the command line"
EDITS = 5
sys.path.insert(0, str(REPO / "tests"))  # the browser driver lives beside the browser test


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _size_mb(root: Path) -> float:
    if not root.exists():
        return 0.0
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def _start_app(workdir: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "emodirector", "ui", "--port", str(port), "--workdir",
         str(workdir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "emodirector ui: open URL in a browser ..."
    match = re.search(r"open (\S+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"emodirector ui did not start: {line!r}")
    return proc, match.group(1)


def _cli_edit(video: Path, out: Path) -> tuple[float, float, float]:
    """(wall s of the fresh process, edit s as the CLI prints it, wall s of its start alone)."""
    args = [
        sys.executable, "-m", "emodirector", "edit", str(video), "--emotion", "happy",
        "-o", str(out / "cli.mp4"), "--compare", str(out / "cli_side.mp4"), "--keep-track",
        str(out / "cli_tracks"), "--json", str(out / "cli.json"), "--html", str(out / "cli.html"),
        "-q",
    ]  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    m = re.search(r"edited.*; ([0-9.]+) s, [0-9.]+ fps", done.stdout)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "emodirector", "--help"], cwd=REPO, check=True,
                   capture_output=True)  # fmt: skip
    start = time.perf_counter() - t0
    return wall, float(m.group(1)) if m else float("nan"), start


def _server_seconds(status: str) -> float:
    m = re.search(r"edited in ([0-9.]+) s, report in ([0-9.]+) s", status)
    return float(m.group(1)) + float(m.group(2)) if m else float("nan")


def run(ctx: Context) -> Section:
    from browser import (  # type: ignore[import-not-found]
        browser_page,
        chromium_path,
        free_port,
        full_edit,
        load_sample,
        preview,
        status_text,
    )

    chromium = chromium_path()
    if chromium is None:
        return Section([], ["skipped: Debian's chromium is not installed (make browser)"])
    workdir = ctx.tmp / "ui"
    workdir.mkdir()
    t0 = time.perf_counter()
    proc, url = _start_app(workdir, free_port())
    start_s = time.perf_counter() - t0
    rows: list[Row] = []
    try:
        rss_start = _rss_mb(proc.pid)
        with browser_page(chromium) as page:
            page.goto(url)
            load_sample(page, ctx.sample)
            rss_loaded = _rss_mb(proc.pid)
            preview_s, stills = preview(page)
            rows.append({"step": f"Preview ({stills} stills)", "wall s": preview_s})
            for i in range(EDITS):
                wall = full_edit(page)
                server = _server_seconds(status_text(page))
                rows.append(
                    {
                        "step": f"full edit {i + 1} (page)",
                        "wall s": wall,
                        "server edit+report s": server,
                        "app RSS MiB": round(_rss_mb(proc.pid)),
                        "temp MB": round(_size_mb(workdir), 1),
                    }
                )
        time.sleep(3)  # the page is closed: its session's files go
        temp_after_close = _size_mb(workdir)
        left = sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*") if p.is_file())
        rss_end = _rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    cli, cli_edit, cli_start = _cli_edit(ctx.sample, ctx.tmp)
    rows.append(
        {
            "step": "same edit + report by the CLI (fresh process)",
            "wall s": cli,
            "server edit+report s": cli - cli_start,
        }
    )
    edits = [r for r in rows if "page" in str(r["step"])]
    rss = [float(str(r["app RSS MiB"])) for r in edits]
    notes = [
        f"app start to URL printed: {start_s:.1f} s; RSS {rss_start:.0f} MiB at start, "
        f"{rss_loaded:.0f} MiB with the clip loaded, {rss_end:.0f} MiB after {EDITS} edits "
        f"(growth from edit 1 to {EDITS}: {rss[-1] - rss[0]:+.0f} MiB)",
        f"temporary files: {temp_after_close:.1f} MB left after the page was closed "
        f"({len(left)} files: {', '.join(left[:6])}{' ...' if len(left) > 6 else ''}); "
        f"{_size_mb(workdir):.1f} MB after the app stopped "
        f"({'folder removed' if not any(workdir.iterdir()) else 'folder NOT empty'})",
        f"demo clip: {ctx.sample.name} (72 frames, 640x360); the page's wall time includes the "
        "browser loading the result videos and the report; the CLI's process start (imports, "
        f"`emodirector --help`) took {cli_start:.1f} s, subtracted in its 'edit+report' column; "
        f"its edit step alone (as it prints it) took {cli_edit:.1f} s",
    ]
    return Section(rows, notes)
