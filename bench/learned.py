"""The learned renderer's cost: per frame on a CPU, and `render --renderer PERSON.pt` at 720p.

Why: the learned renderer adds a network pass per frame on top of the warp; this says how much,
and how the whole render pass compares with the decode+encode floor. The model is trained for a
few steps only (its cost does not depend on how long it trained); the realism of a trained model
is measured by scripts/learned_heldout.py, not here.
"""

from __future__ import annotations

import time
from pathlib import Path

from emodirector.manipulate import manipulate
from emodirector.pipeline import RenderVideoOptions, render_video
from emodirector.render import FaceEdit, RenderOptions, make_renderer
from emodirector.render.learned.train import TrainOptions, train_renderer
from emodirector.track import track_video
from emodirector.video import VideoReader

from .common import Context, Row, Section, measure
from .io_track import ENCODE_CRF, ENCODE_PRESET, HAPPY, decode_encode

TITLE = "Learned renderer: cost per frame and render --renderer PERSON.pt at 720p"

FRAMES = 40  # frames timed per renderer
TRAIN = TrainOptions(steps=20, pool=60, validation=0.0)  # the default network, barely
# trained, its correction kept whole (a calibrated gain of 0 would skip the network it times)


def per_frame_ms(path: Path, model: Path, repeats: int) -> list[Row]:
    """CPU ms per frame of warp vs learned on the happy edit of `path`."""
    track = track_video(path).track
    edited = manipulate(track, HAPPY)
    with VideoReader(path) as reader:
        frames = [f for f in reader if track.valid[f.index]][:FRAMES]
    rows: list[Row] = []
    for name, options in (
        ("warp", RenderOptions()),
        ("learned", RenderOptions(renderer="learned", model=str(model))),
    ):
        r = make_renderer(options)
        r.prepare(path, edited)
        best = float("inf")
        for _ in range(max(1, repeats)):
            c0 = time.process_time()
            for f in frames:
                i = f.index
                face = FaceEdit(
                    i,
                    track.landmarks[i],
                    edited.landmarks[i],
                    track.blendshapes[i],
                    edited.blendshapes[i],
                )
                r.render(f.yuv, face)
            best = min(best, (time.process_time() - c0) * 1000.0 / len(frames))
        rows.append({"renderer": name, "CPU ms/frame": best, "frames": len(frames)})
    return rows


def run(ctx: Context) -> Section:
    path = ctx.scaled((1280, 720))
    track = track_video(path).track
    model = ctx.tmp / "person.pt"
    train_renderer([path], [track], model, TRAIN, run_dir=ctx.tmp / "person.run")
    rows = per_frame_ms(path, model, ctx.repeats)
    edited = manipulate(track, HAPPY)
    out = ctx.tmp / "learned_out.mp4"
    with VideoReader(path) as reader:
        n = sum(1 for _ in reader)
    floor = measure(lambda: decode_encode(path, out), n, ctx.repeats)
    passes = {}
    for name, options in (
        ("warp", RenderOptions()),
        ("learned", RenderOptions(renderer="learned", model=str(model))),
    ):
        video = RenderVideoOptions(render=options, crf=ENCODE_CRF, preset=ENCODE_PRESET)
        passes[name] = measure(lambda v=video: render_video(path, edited, out, v), n, ctx.repeats)
    for row in rows:
        m = passes[str(row["renderer"])]
        row["render fps 720p"] = m.fps
        row["x floor"] = m.fps / floor.fps
        row["peak RSS MiB"] = round(m.peak_rss_mb)
    notes = [
        f"720p sample ({n} frames), happy edit; floor = decode+encode (libx264 {ENCODE_PRESET}) "
        f"at {floor.fps:.1f} fps. Network: {TRAIN.size} px crop, width {TRAIN.width}, one "
        "torch thread, CPU.",
    ]
    return Section(rows, notes)
