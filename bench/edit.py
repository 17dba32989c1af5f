"""Warp cost per frame and peak memory of `emodirector edit` against video length.

Why: the warp is the only per-frame work an edit adds on top of decode, tracking and encode, so
its cost is read for a face about 300 px wide (target < 8 ms per frame, issue 5); and an edit
streams frames, so the peak memory of a 5-minute video must stay within 20 % of a 10-second one.
The 5-minute edit takes a few minutes on 2 cores; EMODIRECTOR_BENCH_LONG_S shortens it (the
table says what ran). Speeds of every stage are in the main table (bench/io_track.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import av

from emodirector.manipulate import manipulate
from emodirector.render import FaceRenderer, face_width
from emodirector.track import track_video
from emodirector.video import VideoReader

from .common import REPO, Context, Row, Section
from .io_track import HAPPY, inputs

TITLE = "Warp cost and peak memory against video length"

SHORT_S = 10.0  # seconds of the short looped input of the memory test
LONG_S = float(os.environ.get("EMODIRECTOR_BENCH_LONG_S", "300"))  # the long one (5 minutes)
WARP_FRAMES = 60  # frames timed for the warp cost


def warp_cost(path: Path, repeats: int) -> tuple[float, float, int]:
    """(CPU ms per warped frame, median face width px, frames) of the renderer on a happy edit."""
    track = track_video(path).track
    edited = manipulate(track, HAPPY)
    renderer = FaceRenderer()
    with VideoReader(path) as reader:
        frames = [f for f in reader if track.valid[f.index]][:WARP_FRAMES]
    widths = sorted(face_width(track.landmarks[f.index, :, :2]) for f in frames)
    best = float("inf")
    for _ in range(max(1, repeats)):
        c0 = time.process_time()
        for f in frames:
            renderer.warp(f.yuv, track.landmarks[f.index], edited.landmarks[f.index])
        best = min(best, (time.process_time() - c0) * 1000.0 / max(len(frames), 1))
    return best, widths[len(widths) // 2], len(frames)


def loop_video(src: Path, dst: Path, seconds: float) -> Path:
    """`src` repeated (packets copied, timestamps shifted) until it lasts `seconds`: no re-encode."""
    with av.open(str(src)) as inp:
        streams = [s for s in (inp.streams.video[:1] + inp.streams.audio[:1])]
        packets = [p for p in inp.demux(streams) if p.size > 0 and p.pts is not None]
        pts_of = {id(p): int(p.pts or 0) for p in packets}  # pts is set (filtered above)
        spans: dict[int, int] = {}
        for s in streams:
            own = [p for p in packets if p.stream is s]
            end = max(pts_of[id(p)] + int(p.duration or 0) for p in own)
            spans[s.index] = end - min(pts_of[id(p)] for p in own)
        vs = streams[0]
        loops = max(1, round(seconds / float(spans[vs.index] * (vs.time_base or 1))))
        with av.open(str(dst), "w") as out:
            outs = {s.index: out.add_stream_from_template(s) for s in streams}
            for k in range(loops):
                for p in packets:
                    shift = k * spans[p.stream.index]
                    pts = pts_of[id(p)] + shift
                    dts = (p.dts if p.dts is not None else pts_of[id(p)]) + shift
                    p2 = av.Packet(bytes(p))
                    p2.pts, p2.dts, p2.time_base = pts, dts, p.time_base
                    p2.is_keyframe = p.is_keyframe
                    p2.stream = outs[p.stream.index]
                    out.mux(p2)
    return dst


# Runs the CLI in a fresh interpreter and writes its own peak RSS (VmHWM, kB) to argv[1]: the
# rusage of a child forked from this (large) process would count the parent's pages as well.
_RSS_WRAPPER = (
    "import sys\n"
    "from emodirector.cli import main\n"
    "rc = main(sys.argv[2:])\n"
    "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
    "open(sys.argv[1], 'w').write(hwm[0] if hwm else '0')\n"
    "sys.exit(rc)\n"
)


def edit_in_subprocess(video: Path, out: Path) -> tuple[float, float, int]:
    """(peak RSS MiB, wall s, exit code) of `emodirector edit VIDEO --emotion happy` alone."""
    hwm_file = out.with_suffix(".hwm")
    args = ["edit", str(video), "--emotion", "happy", "-o", str(out), "-q"]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_WRAPPER, str(hwm_file), *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    wall = time.perf_counter() - t0
    kb = float(hwm_file.read_text() or 0) if hwm_file.exists() else float("nan")
    return kb / 1024.0, wall, proc.returncode


def _memory_rows(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    for seconds in (SHORT_S, LONG_S):
        looped = loop_video(ctx.sample, ctx.tmp / f"looped_{seconds:g}s.mp4", seconds)
        with VideoReader(looped) as reader:
            n = sum(1 for _ in reader)
        rss, wall, code = edit_in_subprocess(looped, ctx.tmp / "looped_out.mp4")
        rows.append(
            {
                "input": f"sample looped to {seconds:g} s",
                "frames": n,
                "peak RSS MiB": round(rss),
                "wall s": wall,
                "edit fps": n / wall,
                "exit": code,
            }
        )
    return rows


def run(ctx: Context) -> Section:
    warps = []
    for path in inputs(ctx):
        ms, width, n = warp_cost(path, ctx.repeats)
        warps.append((abs(width - 300.0), ms, width, n))
    memory = _memory_rows(ctx)
    _, warp_ms, warp_px, warp_n = min(warps)
    rss_short, rss_long = (float(str(r["peak RSS MiB"])) for r in memory)
    growth = rss_long / rss_short - 1.0
    others = ", ".join(f"{ms:.1f} ms at {px:.0f} px" for _, ms, px, _ in warps)
    notes = [
        f"Warp (FaceRenderer.render, CPU time, {warp_n} frames of the happy edit) for a face "
        f"{warp_px:.0f} px wide: {warp_ms:.1f} ms/frame; target < 8 ms -> "
        f"{'met' if warp_ms < 8 else 'NOT met'} (all sizes: {others}).",
        "Memory: the sample looped (packets copied, no re-encode), edited by `emodirector edit "
        "--emotion happy` in a fresh interpreter; peak RSS is that process's VmHWM.",
        f"Peak RSS {rss_short:.0f} MiB ({SHORT_S:g} s) vs {rss_long:.0f} MiB ({LONG_S:g} s): "
        f"{growth * 100:+.0f} %; target within 20 % -> {'met' if abs(growth) < 0.2 else 'NOT met'}.",
    ]
    return Section(memory, notes)
