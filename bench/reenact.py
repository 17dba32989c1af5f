"""Renderer realism by self-reenactment: warp only vs warp + appearance, per clip and per region.

Why: the number that needs no emotion classifier. In each clip a calm frame is rendered into the
tracked geometry and expression of up to 8 expressive frames of the same person with a similar
head pose (realism.select_pairs), and compared with the real frames over the face: SSIM (higher
is better), PSNR (higher) and the error on image gradients, where folds and furrows live (lower).
Clips: the eight expressive clips and the smile reference (../shared/data). Every later renderer
is scored by the same function (realism.score_renderer); add its name to RENDERERS below.
Also the appearance step's own cost per frame, for the clip whose face is nearest 300 px wide.

Run alone: `python -m bench --only reenact` (the full bench is slow).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from emodirector.realism import REGIONS, ClipRealism, decode_frames, score_renderer, select_pairs
from emodirector.render import face_width
from emodirector.track import track_video
from emodirector.types import FaceTrack

from .common import Context, Row, Section, shared_clip

TITLE = "Realism: self-reenactment against real frames (warp vs warp + appearance)"

CLIPS = tuple(f"expressive_d{n}.mp4" for n in (3, 6, 9, 10, 13, 14, 18, 19)) + (
    "smile_reference.mp4",
)
RENDERERS = ("warp", "appearance")  # the first is the baseline the others are compared with
N_PAIRS = 8

TrackFn = Callable[[Path], FaceTrack]


def score_clips(
    clips: Sequence[Path],
    renderers: Sequence[str],
    track_of: TrackFn = lambda p: track_video(p).track,
) -> dict[str, dict[str, ClipRealism]]:
    """{clip name: {renderer: scores}}; each clip tracked and decoded once for all renderers."""
    out: dict[str, dict[str, ClipRealism]] = {}
    for path in clips:
        track = track_of(path)
        pairs = select_pairs(track, N_PAIRS)
        if not pairs:
            continue
        frames = decode_frames(path, sorted({i for pair in pairs for i in pair}))
        out[path.name] = {
            name: score_renderer(path, name, track=track, pairs=pairs, frames=frames)
            for name in renderers
        }
    return out


def _face(c: ClipRealism) -> tuple[float, float, float]:
    m = c.mean["face"]
    return m.ssim, m.psnr, m.grad_err


def clip_rows(results: dict[str, dict[str, ClipRealism]], base: str, new: str) -> list[Row]:
    """One row per clip (face region): SSIM, PSNR and gradient error of both, and the mean."""
    rows: list[Row] = []
    for clip, by in results.items():
        (s0, p0, g0), (s1, p1, g1) = _face(by[base]), _face(by[new])
        rows.append(
            {
                "clip": clip.removesuffix(".mp4"),
                "pairs": len(by[base].pairs),
                f"SSIM {base}": f"{s0:.4f}",
                f"SSIM {new}": f"{s1:.4f}",
                f"PSNR {base}": f"{p0:.2f}",
                f"PSNR {new}": f"{p1:.2f}",
                f"grad err {base}": f"{g0:.3f}",
                f"grad err {new}": f"{g1:.3f}",
                "SSIM better": "yes" if s1 > s0 else "no",
                "grad better": "yes" if g1 < g0 else "no",
                "better on both": "yes" if s1 > s0 and g1 < g0 else "no",
            }
        )
    if rows:
        mean: Row = {"clip": "**mean**", "pairs": sum(int(str(r["pairs"])) for r in rows)}
        for key in rows[0]:
            if key.startswith(("SSIM ", "PSNR ", "grad err ")) and not key.endswith("better"):
                vals = [float(str(r[key])) for r in rows]
                digits = 4 if key.startswith("SSIM") else 2 if key.startswith("PSNR") else 3
                mean[key] = f"{float(np.mean(vals)):.{digits}f}"
        for key in ("SSIM better", "grad better", "better on both"):
            mean[key] = f"{sum(r[key] == 'yes' for r in rows)}/{len(rows)}"
        rows.append(mean)
    return rows


def region_rows(results: dict[str, dict[str, ClipRealism]], base: str, new: str) -> list[Row]:
    """Per region, the mean over clips of SSIM and gradient error, and on how many clips each won."""
    rows: list[Row] = []
    for region in REGIONS:
        have = [by for by in results.values() if region in by[base].mean and region in by[new].mean]
        if not have:
            continue
        s0 = [by[base].mean[region].ssim for by in have]
        s1 = [by[new].mean[region].ssim for by in have]
        g0 = [by[base].mean[region].grad_err for by in have]
        g1 = [by[new].mean[region].grad_err for by in have]
        rows.append(
            {
                "region": region,
                "clips": len(have),
                f"SSIM {base}": f"{float(np.mean(s0)):.4f}",
                f"SSIM {new}": f"{float(np.mean(s1)):.4f}",
                "SSIM better": f"{sum(b > a for a, b in zip(s0, s1, strict=True))}/{len(have)}",
                f"grad err {base}": f"{float(np.mean(g0)):.3f}",
                f"grad err {new}": f"{float(np.mean(g1)):.3f}",
                "grad better": f"{sum(b < a for a, b in zip(g0, g1, strict=True))}/{len(have)}",
            }
        )
    return rows


def appearance_cost(path: Path, track: FaceTrack, repeats: int) -> float:
    """CPU ms per frame of the appearance step alone (AppearanceRenderer.shade on the warped
    picture), on the clip's self-reenactment pairs; the fastest of `repeats` passes."""
    import time

    from emodirector.realism import as_edit, face_edit
    from emodirector.render import AppearanceRenderer

    pairs = select_pairs(track, N_PAIRS)
    frames = decode_frames(path, sorted({i for pair in pairs for i in pair}))
    renderer = AppearanceRenderer()
    renderer.prepare(path, as_edit(track), None)
    edits = [face_edit(track, c, t) for c, t in pairs]
    warped = [renderer.warp.render(frames[e.index].yuv, e) for e in edits]
    best = float("inf")
    for _ in range(max(1, repeats) * 3):
        pictures = [w.yuv.copy() for w in warped]
        t0 = time.process_time()
        for picture, e, w in zip(pictures, edits, warped, strict=True):
            if w.box is not None:
                renderer.shade(picture, e, w.box)
        best = min(best, (time.process_time() - t0) * 1000.0 / max(len(edits), 1))
    return best


def cost_note(widths: dict[str, float], cost: Callable[[str], float]) -> str:
    """The appearance step's CPU cost per frame for the clip whose face is nearest 300 px wide."""
    if not widths:
        return "cost: no clip scored"
    clip = min(widths, key=lambda c: abs(widths[c] - 300.0))
    ms = cost(clip)
    return (
        f"Appearance step cost (CPU, AppearanceRenderer.shade alone, best of several passes over "
        f"the {N_PAIRS} pairs of {clip}, face {widths[clip]:.0f} px wide): {ms:.1f} ms/frame; "
        f"target <= 5 ms -> {'met' if ms <= 5.0 else 'NOT met'}."
    )


STILL_CLIP = "talking_frontal_a.mp4"  # a talking clip whose head is nearly still
STILL_FRAMES = 100


def shading_stability(
    path: Path, track: FaceTrack, frames: int = STILL_FRAMES
) -> tuple[float, float]:
    """(mean |frame-to-frame change| of the added shading, of the clip itself), luma levels, over
    the skin regions where the shading lies (nasolabial, cheeks' edge, forehead, glabella) on
    consecutive frames whose head turned less than 1 degree, for a happy edit of the clip."""
    from emodirector.manipulate import manipulate
    from emodirector.realism import region_masks, rotation_angle
    from emodirector.render import FaceEdit, RenderOptions, i420_planes, make_renderer
    from emodirector.video import VideoReader

    from .io_track import HAPPY

    edited = manipulate(track, HAPPY)
    renderer = make_renderer(RenderOptions(renderer="appearance"))
    renderer.prepare(path, edited, None)
    prev: tuple[np.ndarray, np.ndarray, int] | None = None
    shading_changes, clip_changes = [], []
    with VideoReader(path) as reader:
        for f in reader:
            i = f.index
            if i >= min(frames, track.n_frames) or not track.valid[i]:
                prev = None
                continue
            face = FaceEdit(
                i,
                track.landmarks[i],
                edited.landmarks[i],
                track.blendshapes[i],
                edited.blendshapes[i],
            )
            out = renderer.render(f.yuv, face)
            warped = renderer.warp.render(f.yuv, face)  # type: ignore[attr-defined]
            added = i420_planes(out.yuv)[0].astype(np.float32) - i420_planes(warped.yuv)[0]
            y = i420_planes(f.yuv)[0].astype(np.float32)
            if (
                prev is not None
                and rotation_angle(track.transforms[prev[2]], track.transforms[i]) < 1
            ):
                masks = region_masks(edited.landmarks[i], y.shape)
                m = masks["nasolabial"] | masks["forehead"] | masks["glabella"]
                shading_changes.append(float(np.abs(added - prev[0])[m].mean()))
                clip_changes.append(float(np.abs(y - prev[1])[m].mean()))
            prev = (added, y, i)
    if not shading_changes:
        return float("nan"), float("nan")
    return float(np.mean(shading_changes)), float(np.mean(clip_changes))


def run(ctx: Context) -> Section:
    clips = [p for p in (shared_clip(name) for name in CLIPS) if p is not None]
    if not clips:
        return Section([], ["skipped: the shared clips (../shared/data) are absent"])
    tracks: dict[Path, FaceTrack] = {}

    def track_of(path: Path) -> FaceTrack:
        tracks[path] = track_video(path).track
        return tracks[path]

    base, new = RENDERERS[0], RENDERERS[1]
    results = score_clips(clips, RENDERERS, track_of)
    widths = {}
    for path, track in tracks.items():
        if path.name in results:
            rows = [i for i in np.flatnonzero(track.valid)]
            widths[path.name] = float(
                np.median([face_width(track.landmarks[i, :, :2]) for i in rows])
            )
    by_clip = clip_rows(results, base, new)
    regions = region_rows(results, base, new)
    notes = [
        "Per region, mean over clips (SSIM higher is better, gradient error lower; 'better' = "
        "clips where warp + appearance beats warp only):",
        "",
        *_table_lines(regions),
        "",
        "The mouth region is dominated by teeth that a closed source mouth cannot show; the "
        "appearance step does not shade inside the lips.",
        cost_note(
            widths,
            lambda name: appearance_cost(
                next(p for p in tracks if p.name == name),
                tracks[next(p for p in tracks if p.name == name)],
                ctx.repeats,
            ),
        ),
    ]
    still = shared_clip(STILL_CLIP)
    if still is not None:
        change, noise = shading_stability(still, track_video(still).track)
        notes.append(
            f"Temporal stability ({STILL_CLIP}, happy edit, first {STILL_FRAMES} frames, "
            f"consecutive frames with < 1 degree of head turn): the added shading changes by "
            f"{change:.2f} levels per frame, the clip itself by {noise:.2f}; target below -> "
            f"{'met' if change < noise else 'NOT met'}."
        )
    return Section(by_clip, notes)


def _table_lines(rows: list[Row]) -> list[str]:
    from .common import markdown_table

    return markdown_table(rows).splitlines()
