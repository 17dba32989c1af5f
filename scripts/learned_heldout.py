"""Self-reenactment on held-out frames: the learned renderer against the plain warp.

For each clip: track it, train a learned renderer on the first 80 % of its frames for a fixed
budget, then choose (calm, expressive) pairs among the last 20 % (realism.select_pairs) and score
the warp and the learned renderer on the same pairs (realism.score_pairs: SSIM, PSNR, gradient
error per face region). Prints one markdown table.

    .venv/bin/python scripts/learned_heldout.py [--steps N | --minutes N] [--clips NAME ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from emodirector.realism import decode_frames, mean_scores, score_pairs, select_pairs
from emodirector.render import RenderOptions, WarpRenderer
from emodirector.render.learned import LearnedRenderer
from emodirector.render.learned.train import TrainOptions, train_renderer, used_frames
from emodirector.track import track_video
from emodirector.trackfile import load_track, save_track

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
CLIPS = (
    "talking_frontal_a",
    "talking_frontal_b",
    "talking_frontal_c",
    "talking_vfr",
    "head_motion",
)
REGIONS = ("face", "mouth", "nasolabial")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=None, help="default: the default budget")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--clips", nargs="+", default=list(CLIPS))
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--work", default="/tmp/learned_heldout")
    ap.add_argument("--lr", type=float, default=TrainOptions.lr)
    ap.add_argument("--augment", type=float, default=TrainOptions.augment)
    ap.add_argument("--no-motion", action="store_true", help="train without the motion input")
    ap.add_argument("--threads", type=int, default=TrainOptions.threads)
    ap.add_argument("--passes", type=float, default=TrainOptions.passes)
    ap.add_argument("--tag", default="", help="suffix of the model files (compare settings)")
    ap.add_argument(
        "--blend",
        choices=("correct", "replace"),
        default="correct",
        help="RenderOptions.learned_blend",
    )
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.clips:
        video = DATA / f"{name}.mp4"
        tpath = work / f"{name}.track.npz"
        if tpath.exists():
            track = load_track(tpath)
        else:
            track = track_video(video).track
            save_track(track, tpath)
        options = TrainOptions(
            minutes=args.minutes,
            steps=args.steps,
            fraction=0.8,
            lr=args.lr,
            augment=args.augment,
            motion=not args.no_motion,
            threads=args.threads,
            passes=args.passes,
        )
        model = work / f"{name}{args.tag}.pt"
        run = work / f"{name}{args.tag}.run"
        if not model.exists():
            t0 = time.monotonic()
            res = train_renderer([video], [track], model, options, run_dir=run)
            wall = (time.monotonic() - t0) / 60
            print(
                f"{name}: {res.steps} steps, {res.minutes:.1f} min training ({wall:.1f} min "
                f"with cutting), loss {res.first_loss:.4f} -> {res.last_loss:.4f} "
                f"(warp only {res.warp_loss:.4f}); gain {res.gain:.1f} on "
                f"{res.validation_frames} held-back frames (loss {res.validation_loss:.4f}, warp "
                f"{res.validation_warp:.4f})",
                flush=True,
            )
        held = np.arange(used_frames(track, 0.8), track.n_frames)
        pairs = select_pairs(track, args.pairs, frames=held)
        frames = decode_frames(video, sorted({i for p in pairs for i in p}))
        warp = WarpRenderer(RenderOptions())
        learned = LearnedRenderer(
            RenderOptions(renderer="learned", model=str(model), learned_blend=args.blend)
        )
        t0 = time.perf_counter()
        s_w = mean_scores(
            score_pairs(frames, track, pairs, lambda y, f, r=warp: r.render(y, f).yuv)
        )
        t1 = time.perf_counter()
        s_l = mean_scores(
            score_pairs(frames, track, pairs, lambda y, f, r=learned: r.render(y, f).yuv)
        )
        t2 = time.perf_counter()
        ms_w, ms_l = 1000 * (t1 - t0) / len(pairs), 1000 * (t2 - t1) / len(pairs)
        for label, s, ms in (("warp", s_w, ms_w), ("learned", s_l, ms_l)):
            cells = [name, label, f"{learned.model.minutes:.1f}" if label == "learned" else "-"]
            for r in REGIONS:
                sc = s.get(r)
                cells += (
                    [f"{sc.ssim:.4f}", f"{sc.psnr:.2f}", f"{sc.grad_err:.2f}"] if sc else ["-"] * 3
                )
            cells.append(f"{ms:.0f}")
            rows.append(cells)
        print(f"{name}: {len(pairs)} held-out pairs scored", flush=True)
    head = ["clip", "renderer", "train min"]
    for r in REGIONS:
        head += [f"{r} SSIM", f"{r} PSNR", f"{r} grad err"]
    head.append("ms/pair")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for cells in rows:
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
