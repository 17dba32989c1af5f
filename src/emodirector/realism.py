"""Renderer realism against real frames (self-reenactment), the number that needs no classifier.

Protocol: in a clip where one person's expression varies, take a calm frame i and an expressive
frame j, render frame i's pixels into frame j's tracked geometry and expression (a FaceEdit with
src = landmarks[i], dst = landmarks[j]), and compare the result with the real frame j over the
face: SSIM, PSNR and an error on image gradients (where folds and furrows live), per region.
Every renderer (warp, warp + appearance, learned) is scored by the same functions, so their
tables compare. Pairs are chosen with similar head pose, so the score measures the expression,
not how well a 2-D warp fakes a head turn.

Regions are built from the landmarks of the real frame j (pixels): face (inside the oval, eyes and
inner mouth excluded), forehead (a band above the brows), glabella (between the brows), eye
corners (beside each outer eye corner: crow's feet), nasolabial (nose wing to mouth corner,
lateral), mouth (the outer lip loop) and chin (below the lower lip).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .render.base import FaceEdit, Renderer, RenderOptions
from .render.mesh import FACE_OVAL, LEFT_EYE, OUTER_LIP, RIGHT_EYE
from .types import EditedTrack, FaceTrack, Frame

REGIONS = ("face", "forehead", "glabella", "eye_corners", "nasolabial", "mouth", "chin")
# Landmarks (MediaPipe face mesh) the regions are built from.
RIGHT_BROW_TOP = (70, 63, 105, 66, 107)  # outer to inner, the person's right brow (image left)
LEFT_BROW_TOP = (336, 296, 334, 293, 300)  # inner to outer
GLABELLA = (55, 107, 9, 336, 285, 168)
RIGHT_OUTER_EYE_CORNER, LEFT_OUTER_EYE_CORNER = 33, 263
RIGHT_NOSE_WING, LEFT_NOSE_WING = 129, 358
RIGHT_MOUTH_CORNER, LEFT_MOUTH_CORNER = 61, 291
LOWER_LIP_BOTTOM, CHIN = 17, 152
EXPRESSION_STABLE_TOP, NOSE_TIP = 10, 1
# Blendshapes that carry speech or gaze, left out when choosing calm and expressive frames.
NOT_EXPRESSION = ("_neutral", "eyeLook", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker")

# A render function: the calm frame's I420 picture and the edit -> the rendered I420 picture.
RenderFn = Callable[[np.ndarray, FaceEdit], np.ndarray]


@dataclass(frozen=True)
class RegionScore:
    """How close a rendered face region is to the real one (luma, 0..255)."""

    ssim: float  # mean SSIM over the region (1 = identical); Gaussian window, sigma 1.5 px
    psnr: float  # dB over the region
    grad_err: float  # mean |gradient(rendered) - gradient(real)| (Sobel, levels per pixel)
    pixels: int  # pixels in the region


@dataclass(frozen=True)
class PairScore:
    """One self-reenactment pair: frame `calm` rendered into frame `target`'s expression."""

    calm: int  # frame index of the source pixels
    target: int  # frame index of the geometry and of the real picture compared against
    regions: dict[str, RegionScore]  # by region name (REGIONS); a region too small is absent


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance in pixels between the iris centres (478-point landmarks)."""
    return float(np.linalg.norm(landmarks[468, :2] - landmarks[473, :2]))


def _poly(mask: np.ndarray, points: np.ndarray, value: int = 1) -> None:
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], value)


def region_masks(landmarks: np.ndarray, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Boolean (H, W) masks of each region of REGIONS for one face ((478, 2+) pixels)."""
    p = np.asarray(landmarks[:, :2], dtype=np.float64)
    iod = max(inter_ocular(p), 1.0)
    up = p[EXPRESSION_STABLE_TOP] - p[CHIN]
    up /= max(float(np.linalg.norm(up)), 1e-6)
    centre_x = (p[RIGHT_OUTER_EYE_CORNER] + p[LEFT_OUTER_EYE_CORNER]) / 2
    masks: dict[str, np.ndarray] = {}

    def new() -> np.ndarray:
        return np.zeros(shape, dtype=np.uint8)

    holes = new()
    for loop in (RIGHT_EYE, LEFT_EYE):
        _poly(holes, p[list(loop)])
    holes = cv2.dilate(holes, np.ones((3, 3), np.uint8))
    mouth = new()
    _poly(mouth, p[list(OUTER_LIP)])
    face = new()
    _poly(face, p[list(FACE_OVAL)])
    masks["face"] = (face > 0) & (holes == 0)
    masks["mouth"] = (mouth > 0) & (face > 0)

    brows = np.concatenate([p[list(RIGHT_BROW_TOP)], p[list(LEFT_BROW_TOP)]])
    forehead = new()
    _poly(forehead, np.concatenate([brows + 0.08 * iod * up, (brows + 0.45 * iod * up)[::-1]]))
    masks["forehead"] = (forehead > 0) & (face > 0)
    glabella = new()
    _poly(glabella, p[list(GLABELLA)])
    masks["glabella"] = glabella > 0

    corners = new()
    for idx in (RIGHT_OUTER_EYE_CORNER, LEFT_OUTER_EYE_CORNER):
        out = p[idx] - centre_x
        out /= max(float(np.linalg.norm(out)), 1e-6)
        c = p[idx] + 0.14 * iod * out
        half = 0.11 * iod
        _poly(
            corners,
            np.array([c - half, [c[0] + half, c[1] - half], c + half, [c[0] - half, c[1] + half]]),
        )
    masks["eye_corners"] = (corners > 0) & (holes == 0) & (face > 0)

    folds = new()
    for wing, corner in (
        (RIGHT_NOSE_WING, RIGHT_MOUTH_CORNER),
        (LEFT_NOSE_WING, LEFT_MOUTH_CORNER),
    ):
        out = p[corner] - p[NOSE_TIP]
        out -= up * float(out @ up)
        out /= max(float(np.linalg.norm(out)), 1e-6)
        a, b = p[wing], p[corner] - 0.1 * iod * up
        _poly(folds, np.array([a, a + 0.22 * iod * out, b + 0.22 * iod * out, b]))
    masks["nasolabial"] = (folds > 0) & (mouth == 0) & (face > 0)

    chin = new()
    lo, c = p[LOWER_LIP_BOTTOM], p[CHIN]
    side = np.array([up[1], -up[0]]) * 0.3 * iod
    _poly(chin, np.array([lo - side, lo + side, c + side * 0.6, c - side * 0.6]))
    masks["chin"] = (chin > 0) & (mouth == 0) & (face > 0)
    return masks


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two luma pictures (Wang et al. 2004; Gaussian window, sigma 1.5)."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def _gradients(z: np.ndarray) -> np.ndarray:
    f = z.astype(np.float32)
    return np.stack(
        [cv2.Sobel(f, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(f, cv2.CV_32F, 0, 1, ksize=3)]
    )


def compare_faces(
    real: np.ndarray, rendered: np.ndarray, landmarks: np.ndarray, min_pixels: int = 50
) -> dict[str, RegionScore]:
    """Score a rendered luma picture against the real one ((H, W) uint8) per region of the face
    whose landmarks ((478, 2+) pixels) are those of the real picture."""
    if real.shape != rendered.shape:
        raise ValueError(f"pictures differ in size: {real.shape} vs {rendered.shape}")
    masks = region_masks(landmarks, real.shape)
    ssim = ssim_map(real, rendered)
    err = (real.astype(np.float64) - rendered.astype(np.float64)) ** 2
    grad = np.abs(_gradients(real) - _gradients(rendered)).sum(axis=0)
    scores: dict[str, RegionScore] = {}
    for name in REGIONS:
        m = masks[name]
        n = int(m.sum())
        if n < min_pixels:
            continue
        mse = float(err[m].mean())
        psnr = 10 * math.log10(255.0**2 / mse) if mse > 0 else math.inf
        scores[name] = RegionScore(float(ssim[m].mean()), psnr, float(grad[m].mean()), n)
    return scores


def expression_vector(track: FaceTrack) -> np.ndarray:
    """(T, E) blendshapes without the speech, gaze and neutral channels (NaN where no face)."""
    keep = [i for i, n in enumerate(track.blendshape_names) if not n.startswith(NOT_EXPRESSION)]
    return track.blendshapes[:, keep]


def rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Degrees between the head rotations of two 4x4 pose matrices."""
    ra, rb = a[:3, :3], b[:3, :3]
    ra = ra / np.cbrt(max(abs(np.linalg.det(ra)), 1e-9))
    rb = rb / np.cbrt(max(abs(np.linalg.det(rb)), 1e-9))
    cos = (np.trace(ra.T @ rb) - 1) / 2
    return math.degrees(math.acos(float(np.clip(cos, -1.0, 1.0))))


def select_pairs(
    track: FaceTrack,
    n_pairs: int = 8,
    *,
    frames: Sequence[int] | None = None,
    max_pose_deg: float = 8.0,
    min_gap: int = 5,
) -> list[tuple[int, int]]:
    """(calm, expressive) frame pairs for self-reenactment, deterministic.

    The calm frame is the candidate with the least expression (smallest sum of the expression
    blendshapes: no smile, frown, raised brows or blink); expressive frames are those farthest
    from it whose head pose is within `max_pose_deg` of the calm frame's,
    at least `min_gap` frames apart. `frames` limits the candidates (e.g. held-out frames).
    """
    cand = np.arange(track.n_frames) if frames is None else np.asarray(frames, dtype=np.int64)
    cand = cand[track.valid[cand]]
    if len(cand) < 2:
        return []
    expr = expression_vector(track)[cand].astype(np.float64)
    calm = int(cand[int(np.argmin(expr.sum(axis=1)))])
    distance = np.abs(expr - expression_vector(track)[calm]).sum(axis=1)
    chosen: list[int] = []
    for k in np.argsort(-distance, kind="stable"):
        j = int(cand[k])
        if j == calm or any(abs(j - c) < min_gap for c in chosen):
            continue
        if rotation_angle(track.transforms[calm], track.transforms[j]) > max_pose_deg:
            continue
        chosen.append(j)
        if len(chosen) == n_pairs:
            break
    return [(calm, j) for j in chosen]


def face_edit(track: FaceTrack, calm: int, target: int) -> FaceEdit:
    """The edit that asks for frame `target`'s geometry and expression on frame `calm`."""
    return FaceEdit(
        index=calm,
        src=track.landmarks[calm],
        dst=track.landmarks[target],
        src_blendshapes=track.blendshapes[calm],
        dst_blendshapes=track.blendshapes[target],
    )


def decode_frames(video: str | os.PathLike[str], indices: Sequence[int]) -> dict[int, Frame]:
    """The decoded frames with these indices (one pass; only those frames are kept)."""
    from .video import VideoReader

    want = set(int(i) for i in indices)
    out: dict[int, Frame] = {}
    with VideoReader(video) as reader:
        for f in reader:
            if f.index in want:
                out[f.index] = f
                if len(out) == len(want):
                    break
    return out


def score_pairs(
    frames: dict[int, Frame], track: FaceTrack, pairs: Sequence[tuple[int, int]], render: RenderFn
) -> list[PairScore]:
    """Render each pair's calm frame into its target's expression and score it per region."""
    scores = []
    for calm, target in pairs:
        real = frames[target]
        picture = render(frames[calm].yuv, face_edit(track, calm, target))
        h, w = real.height, real.width
        scores.append(
            PairScore(
                calm=calm,
                target=target,
                regions=compare_faces(real.yuv[:h, :w], picture[:h, :w], track.landmarks[target]),
            )
        )
    return scores


def mean_scores(scores: Sequence[PairScore]) -> dict[str, RegionScore]:
    """Per region, the mean of each measure over the pairs that have it (pixels summed)."""
    out: dict[str, RegionScore] = {}
    for name in REGIONS:
        rows = [s.regions[name] for s in scores if name in s.regions]
        if not rows:
            continue
        out[name] = RegionScore(
            ssim=float(np.mean([r.ssim for r in rows])),
            psnr=float(np.mean([r.psnr for r in rows])),
            grad_err=float(np.mean([r.grad_err for r in rows])),
            pixels=int(sum(r.pixels for r in rows)),
        )
    return out


@dataclass(frozen=True)
class ClipRealism:
    """A renderer's self-reenactment scores on one clip."""

    video: str  # file name of the clip
    renderer: str  # the renderer's name
    pairs: list[PairScore]  # one per (calm, expressive) pair
    seconds_per_frame: float  # CPU seconds of render() per rendered pair (the renderer only)

    @property
    def mean(self) -> dict[str, RegionScore]:
        return mean_scores(self.pairs)


def as_edit(track: FaceTrack, hidden: Sequence[int] = (), margin: int = 0) -> EditedTrack:
    """The track as an 'edit' that changes nothing: what a renderer's prepare() reads of a clip
    in self-reenactment. Rows `hidden` (and `margin` rows either side) are marked as having no
    face, so a renderer that learns from the clip's own frames never sees the targets."""
    if len(hidden):
        valid = track.valid.copy()
        for j in hidden:
            valid[max(0, j - margin) : j + margin + 1] = False
        track = dataclasses.replace(track, valid=valid)
    return EditedTrack(
        original=track,
        landmarks=track.landmarks,
        blendshapes=track.blendshapes,
        labels=("",) * track.n_frames,
        intensity=np.zeros(track.n_frames, np.float32),
    )


def score_renderer(
    video: str | os.PathLike[str],
    renderer: str | Renderer,
    *,
    track: FaceTrack | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
    n_pairs: int = 8,
    frames: dict[int, Frame] | None = None,
    hide_s: float = 1.0,
) -> ClipRealism:
    """Self-reenactment of one clip by one renderer (a name from render.RENDERERS or an object).

    `track` (else the clip is tracked), `pairs` (else select_pairs(track, n_pairs)) and decoded
    `frames` (else decoded here) may be passed in so that several renderers share them. The
    renderer is prepared on the clip first, as the pipeline would, but with every target frame
    and `hide_s` seconds either side of it marked as faceless, so a renderer that takes appearance
    from the clip's own frames cannot copy the answer; one fitted on other data must not have
    seen this clip.
    """
    import time

    from .render import make_renderer

    if track is None:
        from .track import track_video

        track = track_video(video).track
    chosen = list(select_pairs(track, n_pairs) if pairs is None else pairs)
    if frames is None:
        frames = decode_frames(video, sorted({i for pair in chosen for i in pair}))
    r = make_renderer(RenderOptions(renderer=renderer)) if isinstance(renderer, str) else renderer
    margin = int(round(hide_s * track.fps)) if track.fps > 0 else 0
    r.prepare(video, as_edit(track, [j for _, j in chosen], margin), None)
    spent = [0.0]

    def render(yuv: np.ndarray, face: FaceEdit) -> np.ndarray:
        t0 = time.process_time()
        out = r.render(yuv, face).yuv
        spent[0] += time.process_time() - t0
        return out

    scores = score_pairs(frames, track, chosen, render)
    return ClipRealism(
        video=os.path.basename(os.fspath(video)),
        renderer=r.name,
        pairs=scores,
        seconds_per_frame=spent[0] / max(len(chosen), 1),
    )


__all__ = [
    "REGIONS",
    "ClipRealism",
    "PairScore",
    "RegionScore",
    "RenderFn",
    "compare_faces",
    "decode_frames",
    "expression_vector",
    "as_edit",
    "face_edit",
    "mean_scores",
    "region_masks",
    "rotation_angle",
    "score_pairs",
    "score_renderer",
    "select_pairs",
    "ssim_map",
]
