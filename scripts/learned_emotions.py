"""Edits with and without the learned renderer: the report's measures for 7 emotions, and stills.

For one clip and a trained PERSON.pt: `edit` each emotion with the warp and with --renderer, run
`report` on both (classifier target rise, lip correlation, identity distance, jitter ratio), print
a markdown table, and save one PNG per emotion: original | training-free | learned face crops of
the frame where the classifier's target rose most under the warp.

    .venv/bin/python scripts/learned_emotions.py CLIP.mp4 PERSON.pt --out DIR [--end 3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from emodirector.emotions import EmotionSpec
from emodirector.manipulate import EditRequest
from emodirector.pipeline import EditOptions, RenderVideoOptions, edit
from emodirector.render import RenderOptions
from emodirector.report import ReportOptions, report
from emodirector.track import track_video
from emodirector.video import VideoReader

EMOTIONS = ("happy", "angry", "surprised", "neutral", "fear", "sad", "disgusted")


def frame_at(path: Path, index: int) -> np.ndarray:
    with VideoReader(path) as reader:
        for f in reader:
            if f.index == index:
                return f.rgb()
    raise ValueError(index)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("video", type=Path)
    ap.add_argument("model", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--end", type=float, default=None)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    track = track_video(args.video, end=args.end).track
    rows = []
    for emotion in EMOTIONS:
        request = EditRequest(emotion=EmotionSpec(emotion, 1.0))
        outs = {}
        for name, render in (
            ("warp", RenderOptions()),
            ("learned", RenderOptions(renderer="learned", model=str(args.model))),
        ):
            out = args.out / f"{args.video.stem}_{emotion}_{name}.mp4"
            options = EditOptions(video=RenderVideoOptions(render=render), end=args.end)
            res = edit(args.video, request, out, options)
            rep = report(args.video, out, ReportOptions(emotion=emotion), tracks=(track, None))
            em = rep.emotion or {}
            rows.append(
                [
                    emotion,
                    name,
                    f"{em.get('target_prob_before', float('nan')):.3f}",
                    f"{em.get('target_prob_after', float('nan')):.3f}",
                    f"{rep.lips['correlation']:.3f}"
                    if rep.lips["correlation"] is not None
                    else "-",
                    f"{rep.identity['distance']:.4f}",
                    f"{rep.stability['ratio']:.2f}" if rep.stability["ratio"] is not None else "-",
                    f"{res.fps:.1f}",
                ]
            )
            outs[name] = (out, rep)
            print(" | ".join(rows[-1]), flush=True)
        rise = outs["warp"][1].target_after - outs["warp"][1].target_before
        i = int(np.nanargmax(rise)) if np.isfinite(rise).any() else 0
        box = track.boxes[i]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        half = 0.75 * max(box[2] - box[0], box[3] - box[1])
        x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
        x1, y1 = int(cx + half), int(cy + half)
        tiles = [frame_at(args.video, i)] + [frame_at(outs[n][0], i) for n in ("warp", "learned")]
        tiles = [cv2.resize(t[y0:y1, x0:x1], (256, 256)) for t in tiles]
        still = cv2.cvtColor(np.concatenate(tiles, axis=1), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(args.out / f"still_{emotion}.png"), still)
    head = [
        "emotion",
        "renderer",
        "P before",
        "P after",
        "lip corr",
        "identity",
        "jitter ratio",
        "fps",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
