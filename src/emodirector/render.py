"""Render one frame: move the real pixels of the face from the tracked to the edited geometry.

Why this shape:
- One dense inverse map and one `cv2.remap` per plane, over the face box only (per-triangle
  `warpAffine` costs 110-200 ms a frame). The map is piecewise affine on a fixed mesh: MediaPipe's
  face tesselation, fans that close the eye holes, strips that close the mouth, and a strip out
  to a ring of fixed points beyond the face oval, so the displacement fades to zero before the
  box edge and hair, ears and background never move. The topology never changes between frames,
  so the map is continuous in the landmarks: no shimmer from re-triangulating.
- The map is computed on a coarse grid (a triangle-id raster, then barycentric weights clamped
  to the triangle, so a sliver never extrapolates) and upsampled; around the eyes and the mouth,
  whose lids and lips are a few pixels apart, on a grid of 1-2 pixels. The cost follows the
  face size, not the frame size.
- The decoder's I420 planes are warped directly (luma at full, chroma at half resolution): no
  colour conversion at all, so every pixel the warp does not move stays bit-identical.
- Eyes: where the edit narrows an eye, its opening moves rigidly with the iris (the lid covers
  the eye instead of squashing the iris); where it widens, the opening stretches.
- Mouth: when the edited lips part wider than the source's, the new part of the opening is
  shaded toward the darkest colour of the source lips (a cavity) instead of smearing the lip line.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from .errors import InputError
from .types import N_LANDMARKS

# Landmark loops of MediaPipe's face mesh (indices into the 478 landmarks).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67,
             109)  # fmt: skip
INNER_LIP_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)  # corner to corner
INNER_LIP_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)  # corner to corner
OUTER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181,
             91, 146)  # fmt: skip
# Eye openings (closed loops) and the iris centre each one holds.
RIGHT_EYE = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
RIGHT_IRIS_CENTRE = 468
LEFT_IRIS_CENTRE = 473
# Pairs (upper, lower) across each eye and across the inner lips, to measure openings.
RIGHT_EYE_PAIRS = ((159, 145), (158, 153), (160, 144))
LEFT_EYE_PAIRS = ((386, 374), (385, 380), (387, 373))
INNER_LIP_PAIRS = ((82, 87), (13, 14), (312, 317))
# Regions whose displacement is computed on a finer grid (lids and lips are a few pixels apart),
# with the grid step in pixels: every pixel for the eyes, every other one for the mouth.
DETAIL_LOOPS = ((RIGHT_EYE, 1), (LEFT_EYE, 1), (OUTER_LIP, 2))

# Y, U, V of a mouth cavity when the source lips cannot be sampled (a dark, slightly red shadow).
CAVITY_FALLBACK = (30.0, 126.0, 140.0)

Outcome = Literal["no_face", "unchanged", "tiny", "edited"]


@dataclass(frozen=True)
class RenderOptions:
    """How to warp a face. The CLI reads its defaults from here."""

    grid_step: int = 4  # pixels between samples of the displacement grid (even, >= 2)
    ring_margin: float = 0.35  # fixed ring beyond the face oval, as a share of centre-to-oval
    min_face_width: float = 64.0  # pixels; narrower faces pass through unchanged (with a warning)
    min_shift: float = 0.05  # pixels; an edit that moves no landmark more is treated as zero
    rigid_eyes: bool = True  # a narrowed eye opening moves rigidly with the iris
    mouth_fill: bool = True  # shade the newly opened part of the mouth as a cavity
    mouth_fill_gain: float = 2.0  # pixels of extra lip opening before the cavity is shaded


@dataclass(frozen=True)
class Mesh:
    """The fixed warp mesh: 478 landmarks + len(FACE_OVAL) ring points, triangles drawn in order."""

    triangles: np.ndarray  # (K, 3) int32 vertex indices; later rows overwrite earlier ones
    n_ring_first: int  # rows [0, n_ring_first) are the ring strip (drawn first: the face wins)
    face_rows: np.ndarray  # (F,) int64 rows of the tesselation (drawn after the fills)
    right_eye_rows: np.ndarray  # (16,) int64 rows of the right eye's fan
    left_eye_rows: np.ndarray  # (16,) int64 rows of the left eye's fan


def _tesselation() -> np.ndarray:
    """(852, 3) triangles of MediaPipe's face mesh (its edge list comes in triangle triples)."""
    from mediapipe.tasks.python.vision import FaceLandmarksConnections

    edges = FaceLandmarksConnections.FACE_LANDMARKS_TESSELATION
    return np.array(
        [[edges[i].start, edges[i + 1].start, edges[i + 2].start] for i in range(0, len(edges), 3)],
        dtype=np.int32,
    )


def _fan(loop: tuple[int, ...], centre: int) -> np.ndarray:
    return np.array(
        [[centre, loop[i], loop[(i + 1) % len(loop)]] for i in range(len(loop))], dtype=np.int32
    )


def _mouth_strip() -> np.ndarray:
    up, lo = INNER_LIP_UPPER, INNER_LIP_LOWER
    tris = [[up[0], up[1], lo[1]], [up[-1], lo[-2], up[-2]]]
    for i in range(1, len(up) - 2):
        tris += [[up[i], lo[i], up[i + 1]], [up[i + 1], lo[i], lo[i + 1]]]
    return np.array(tris, dtype=np.int32)


def _ring_strip() -> np.ndarray:
    n = len(FACE_OVAL)
    tris = []
    for i in range(n):
        j = (i + 1) % n
        a, b = FACE_OVAL[i], FACE_OVAL[j]
        ra, rb = N_LANDMARKS + i, N_LANDMARKS + j
        tris += [[a, ra, b], [b, ra, rb]]
    return np.array(tris, dtype=np.int32)


@functools.lru_cache(maxsize=1)
def warp_mesh() -> Mesh:
    """The mesh, built once per process (read-only arrays)."""
    ring = _ring_strip()
    fills = [_mouth_strip(), _fan(RIGHT_EYE, RIGHT_IRIS_CENTRE), _fan(LEFT_EYE, LEFT_IRIS_CENTRE)]
    face = _tesselation()
    tris = np.concatenate([ring, *fills, face])
    n_ring, n_mouth, n_eye = len(ring), len(fills[0]), len(fills[1])
    r0 = n_ring + n_mouth
    mesh = Mesh(
        triangles=tris,
        n_ring_first=n_ring,
        face_rows=np.arange(r0 + 2 * n_eye, len(tris)),
        right_eye_rows=np.arange(r0, r0 + n_eye),
        left_eye_rows=np.arange(r0 + n_eye, r0 + 2 * n_eye),
    )
    for a in (mesh.triangles, mesh.face_rows, mesh.right_eye_rows, mesh.left_eye_rows):
        a.setflags(write=False)  # shared by every renderer of the process
    return mesh


def ring_points(src: np.ndarray, margin: float) -> np.ndarray:
    """(36, 2) fixed points beyond the face oval: each oval point pushed out from the oval centre."""
    oval = src[list(FACE_OVAL)]
    centre = oval.mean(axis=0)
    return (centre + (oval - centre) * (1.0 + margin)).astype(np.float32)


def opening(points: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> float:
    """Mean distance in pixels between paired upper/lower landmarks (lip or eye opening)."""
    a = points[[p[0] for p in pairs]]
    b = points[[p[1] for p in pairs]]
    return float(np.linalg.norm(a - b, axis=1).mean())


def face_width(src: np.ndarray) -> float:
    """Width in pixels of the face oval."""
    oval = src[list(FACE_OVAL), 0]
    return float(oval.max() - oval.min())


@dataclass(frozen=True)
class Box:
    """An even-aligned pixel box x0 <= x < x1, y0 <= y < y1 inside the (even-padded) frame."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def warp_box(points: np.ndarray, width2: int, height2: int) -> Box | None:
    """The even-aligned box holding `points` (N, 2), clipped to the frame; None if empty."""
    lo = np.floor(points.min(axis=0)) - 2
    hi = np.ceil(points.max(axis=0)) + 3
    x0 = max(0, int(lo[0]) // 2 * 2)
    y0 = max(0, int(lo[1]) // 2 * 2)
    x1 = min(width2, (int(hi[0]) + 1) // 2 * 2)
    y1 = min(height2, (int(hi[1]) + 1) // 2 * 2)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return Box(x0, y0, x1, y1)


@dataclass
class TriangleField:
    """Per-triangle interpolation data of the displacement, in destination coordinates."""

    bary: np.ndarray  # (K, 3, 3) float64: corner weights of a point (x, y) = bary[k] @ (x, y, 1)
    disp: np.ndarray  # (K, 3, 2) float64: source minus destination position at each corner


def triangle_field(src_v: np.ndarray, dst_v: np.ndarray, tris: np.ndarray) -> TriangleField:
    """Barycentric weights over each destination triangle and the corner displacements.

    A degenerate destination triangle (no area: a closed mouth) weighs its corners equally.
    """
    d = dst_v[tris].astype(np.float64)  # (K, 3, 2)
    x0, y0 = d[:, 0, 0], d[:, 0, 1]
    e1, e2 = d[:, 1] - d[:, 0], d[:, 2] - d[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    bad = np.abs(det) < 1e-3
    inv = 1.0 / np.where(bad, 1.0, det)
    bary = np.empty((len(tris), 3, 3))
    bary[:, 1, 0], bary[:, 1, 1] = e2[:, 1] * inv, -e2[:, 0] * inv
    bary[:, 1, 2] = (y0 * e2[:, 0] - x0 * e2[:, 1]) * inv
    bary[:, 2, 0], bary[:, 2, 1] = -e1[:, 1] * inv, e1[:, 0] * inv
    bary[:, 2, 2] = (x0 * e1[:, 1] - y0 * e1[:, 0]) * inv
    bary[:, 0, :] = -bary[:, 1, :] - bary[:, 2, :]
    bary[:, 0, 2] += 1.0
    bary[bad] = 0.0
    bary[bad, :, 2] = 1.0 / 3.0
    disp = src_v[tris].astype(np.float64) - d
    return TriangleField(bary=bary, disp=disp)


def draw_order(dst_v: np.ndarray, mesh: Mesh) -> np.ndarray:
    """(K,) triangle rows in drawing order: ring, fills, back-facing then front-facing face.

    Where a turned head folds the mesh over itself in the picture, the facing side is drawn last
    and wins the pixels.
    """
    t = dst_v[mesh.triangles[mesh.face_rows]]
    area = (t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1]) - (t[:, 1, 1] - t[:, 0, 1]) * (
        t[:, 2, 0] - t[:, 0, 0]
    )
    front = np.sign(area) == np.sign(np.sum(area))
    first = np.arange(mesh.face_rows[0])
    return np.concatenate([first, mesh.face_rows[~front], mesh.face_rows[front]])


def displacement_grid(
    dst_v: np.ndarray,
    mesh: Mesh,
    box: Box,
    step: int,
    field: TriangleField,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """(ny, nx, 2) float32 source-minus-destination offsets on a coarse grid over `box`.

    Grid point (i, j) sits at pixel (x0 + step*j + (step-1)/2, y0 + step*i + (step-1)/2), so
    that cv2.resize by `step` puts every sample back on its own pixel. Outside the mesh: 0.
    The rasteriser also marks grid points just outside a triangle's edge; their weights are
    clamped to the triangle, so a sliver never extrapolates to a far-away source pixel.
    `order`: the triangle rows to draw, in order (default: all, see draw_order).
    """
    nx = -(-box.width // step) + 1
    ny = -(-box.height // step) + 1
    ids = np.full((ny, nx), -1, dtype=np.int32)
    origin = np.array([box.x0 + (step - 1) / 2, box.y0 + (step - 1) / 2])
    shift_bits = 4
    grid_pts = np.round((dst_v - origin) / step * (1 << shift_bits)).astype(np.int32)
    rows = draw_order(dst_v, mesh) if order is None else order
    # One call per triangle (no per-triangle colour in a batched call); lists keep the loop lean.
    for pts, k in zip(list(grid_pts[mesh.triangles[rows]]), rows.tolist(), strict=True):
        cv2.fillConvexPoly(ids, pts, k, cv2.LINE_8, shift_bits)
    gy, gx = np.nonzero(ids >= 0)
    k = ids[gy, gx]
    b = field.bary[k]  # (P, 3, 3)
    px = (origin[0] + gx * step)[:, None]
    py = (origin[1] + gy * step)[:, None]
    w = np.maximum(b[:, :, 0] * px + b[:, :, 1] * py + b[:, :, 2], 0.0)  # (P, 3)
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / 3.0)
    disp = np.zeros((ny, nx, 2), dtype=np.float32)
    disp[gy, gx] = np.einsum("pj,pjc->pc", w, field.disp[k])
    return disp


@dataclass
class RenderedFrame:
    """The picture to write and what happened to it."""

    yuv: np.ndarray  # (H2 * 3 // 2, W2) uint8 I420; the input array itself when nothing changed
    outcome: Outcome
    box: Box | None = None  # the warped region (pixels), None when nothing changed


def i420_planes(yuv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views (Y (H2, W2), U (H2/2, W2/2), V) into an OpenCV I420 array (writes go through)."""
    w2 = yuv.shape[1]
    h2 = yuv.shape[0] * 2 // 3
    flat = yuv.reshape(-1)
    n, q = h2 * w2, (h2 // 2) * (w2 // 2)
    y = flat[:n].reshape(h2, w2)
    u = flat[n : n + q].reshape(h2 // 2, w2 // 2)
    v = flat[n + q : n + 2 * q].reshape(h2 // 2, w2 // 2)
    return y, u, v


class FaceRenderer:
    """Warps faces frame by frame with fixed options; holds no per-video state."""

    def __init__(self, options: RenderOptions = RenderOptions()) -> None:
        if options.grid_step < 2 or options.grid_step % 2:
            raise InputError(f"grid_step {options.grid_step}: give an even number of pixels >= 2.")
        self.options = options
        self.mesh = warp_mesh()

    def classify(self, src: np.ndarray | None, dst: np.ndarray | None) -> Outcome:
        """What render() will do with this face: no_face, unchanged, tiny or edited."""
        if src is None or dst is None or not np.isfinite(src).all() or not np.isfinite(dst).all():
            return "no_face"
        if float(np.abs(dst[:, :2] - src[:, :2]).max()) < self.options.min_shift:
            return "unchanged"
        if face_width(src[:, :2]) < self.options.min_face_width:
            return "tiny"
        return "edited"

    def render(
        self, yuv: np.ndarray, src: np.ndarray | None, dst: np.ndarray | None
    ) -> RenderedFrame:
        """Warp the face of one I420 frame from landmarks `src` to `dst` ((478, 2+) pixels)."""
        outcome = self.classify(src, dst)
        if outcome != "edited" or src is None or dst is None:
            return RenderedFrame(yuv=yuv, outcome=outcome)
        h2, w2 = yuv.shape[0] * 2 // 3, yuv.shape[1]
        warp = self.displacement(src, dst, w2, h2)
        if warp is None:  # the face lies entirely outside the picture
            return RenderedFrame(yuv=yuv, outcome="no_face")
        box, full, half = warp
        out = yuv.copy()
        _remap_planes(yuv, out, full, half, box)
        if self.options.mouth_fill:
            _shade_cavity(yuv, out, src[:, :2], dst[:, :2], self.options.mouth_fill_gain)
        return RenderedFrame(yuv=out, outcome="edited", box=box)

    def displacement(
        self, src: np.ndarray, dst: np.ndarray, width2: int, height2: int
    ) -> tuple[Box, np.ndarray, np.ndarray] | None:
        """The warped box and its luma and chroma displacement maps (see _maps); None if off-frame.

        Output pixel p of the box shows input pixel p + displacement(p) (an inverse map).
        """
        s2 = np.asarray(src[:, :2], dtype=np.float32)
        d2 = np.asarray(dst[:, :2], dtype=np.float32)
        ring = ring_points(s2, self.options.ring_margin)
        src_v = np.concatenate([s2, ring])
        dst_v = np.concatenate([d2, ring])
        box = warp_box(np.concatenate([dst_v, src_v]), width2, height2)
        if box is None:
            return None
        full, half = self._maps(src_v, dst_v, box, self._field(s2, d2, src_v, dst_v))
        return box, full, half

    def _maps(
        self, src_v: np.ndarray, dst_v: np.ndarray, box: Box, field: TriangleField
    ) -> tuple[np.ndarray, np.ndarray]:
        """Displacement at every luma (bh, bw, 2) and chroma (bh/2, bw/2, 2) pixel of the box.

        A coarse grid everywhere, then the exact field at every pixel around the eyes and the
        mouth, whose lids and lips are only a few pixels apart.
        """
        step = self.options.grid_step
        order = draw_order(dst_v, self.mesh)
        coarse = displacement_grid(dst_v, self.mesh, box, step, field, order)
        ny, nx = coarse.shape[:2]
        full = cv2.resize(coarse, (nx * step, ny * step), interpolation=cv2.INTER_LINEAR)
        half = cv2.resize(coarse, (nx * step // 2, ny * step // 2), interpolation=cv2.INTER_LINEAR)
        tri_v = dst_v[self.mesh.triangles]  # (K, 3, 2)
        lo, hi = tri_v.min(axis=1), tri_v.max(axis=1)
        for loop, fine_step in DETAIL_LOOPS:
            sub = _detail_box(np.concatenate([src_v[list(loop)], dst_v[list(loop)]]), box, step)
            if sub is None:
                continue
            near = (lo[order, 0] < sub.x1) & (hi[order, 0] >= sub.x0)
            near &= (lo[order, 1] < sub.y1) & (hi[order, 1] >= sub.y0)
            grid = displacement_grid(dst_v, self.mesh, sub, fine_step, field, order[near])
            ox, oy, sw, sh = sub.x0 - box.x0, sub.y0 - box.y0, sub.width, sub.height
            if fine_step == 1:
                fine = grid[:sh, :sw]
                coarse_half = cv2.resize(fine, (sw // 2, sh // 2), interpolation=cv2.INTER_AREA)
            else:  # step 2: its samples sit exactly on the chroma pixels
                fine = cv2.resize(grid, (grid.shape[1] * 2, grid.shape[0] * 2))[:sh, :sw]
                coarse_half = grid[: sh // 2, : sw // 2]
            # Blend into the coarse map over one coarse step at the border: no seam.
            _blend_patch(full[oy : oy + sh, ox : ox + sw], fine, step)
            _blend_patch(
                half[oy // 2 : (oy + sh) // 2, ox // 2 : (ox + sw) // 2], coarse_half, step // 2
            )
        return full[: box.height, : box.width], half[: box.height // 2, : box.width // 2]

    def _field(
        self, s2: np.ndarray, d2: np.ndarray, src_v: np.ndarray, dst_v: np.ndarray
    ) -> TriangleField:
        field = triangle_field(src_v, dst_v, self.mesh.triangles)
        if self.options.rigid_eyes:
            for rows, pairs, centre in (
                (self.mesh.right_eye_rows, RIGHT_EYE_PAIRS, RIGHT_IRIS_CENTRE),
                (self.mesh.left_eye_rows, LEFT_EYE_PAIRS, LEFT_IRIS_CENTRE),
            ):
                if opening(d2, pairs) < opening(s2, pairs):
                    field.disp[rows] = s2[centre] - d2[centre]
        return field


def _blend_patch(target: np.ndarray, patch: np.ndarray, ramp: int) -> None:
    """target (h, w, 2) := patch, cross-faded with target's own values over `ramp` border pixels."""
    h, w = patch.shape[:2]
    ys = np.minimum(np.arange(h), np.arange(h)[::-1]).astype(np.float32)
    xs = np.minimum(np.arange(w), np.arange(w)[::-1]).astype(np.float32)
    weight = np.minimum(np.minimum.outer(ys, xs) / max(ramp, 1), 1.0)[:, :, None]
    target += weight * (patch - target)


def _detail_box(points: np.ndarray, box: Box, step: int) -> Box | None:
    """The even-aligned box around `points`, one coarse step wider, inside `box`."""
    pad = float(step)
    sub = warp_box(
        np.concatenate([points.min(axis=0) - pad, points.max(axis=0) + pad]).reshape(2, 2),
        box.x1,
        box.y1,
    )
    if sub is None:
        return None
    x0, y0 = max(sub.x0, box.x0), max(sub.y0, box.y0)
    if sub.x1 - x0 < 2 or sub.y1 - y0 < 2:
        return None
    return Box(x0, y0, sub.x1, sub.y1)


def _remap_planes(
    yuv: np.ndarray, out: np.ndarray, full: np.ndarray, half: np.ndarray, box: Box
) -> None:
    """Sample the box of all three planes of `yuv` through the displacement maps into `out`.

    full: (bh, bw, 2) luma-pixel offsets; half: (bh/2, bw/2, 2) the same field at chroma pixels.
    """
    ys, us, vs = i420_planes(yuv)
    yo, uo, vo = i420_planes(out)
    xs = np.arange(box.x0, box.x1, dtype=np.float32)
    yy = np.arange(box.y0, box.y1, dtype=np.float32)[:, None]
    yo[box.y0 : box.y1, box.x0 : box.x1] = cv2.remap(
        ys, full[..., 0] + xs, full[..., 1] + yy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    cx0, cy0 = box.x0 // 2, box.y0 // 2
    ch, cw = half.shape[:2]
    cmx = half[..., 0] / 2 + np.arange(cx0, cx0 + cw, dtype=np.float32)
    cmy = half[..., 1] / 2 + np.arange(cy0, cy0 + ch, dtype=np.float32)[:, None]
    for src_p, dst_p in ((us, uo), (vs, vo)):
        dst_p[cy0 : cy0 + ch, cx0 : cx0 + cw] = cv2.remap(
            src_p, cmx, cmy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )


def _shade_cavity(
    yuv: np.ndarray, out: np.ndarray, s2: np.ndarray, d2: np.ndarray, min_gain: float
) -> None:
    """Darken the newly opened share of the mouth toward the source lips' darkest colour."""
    o_src, o_dst = opening(s2, INNER_LIP_PAIRS), opening(d2, INNER_LIP_PAIRS)
    if o_dst - o_src < min_gain:
        return
    alpha = float(np.clip((o_dst - o_src) / max(o_dst, 1e-3), 0.0, 1.0))
    inner = np.concatenate([d2[list(INNER_LIP_UPPER)], d2[list(INNER_LIP_LOWER)][::-1][1:-1]])
    h2, w2 = yuv.shape[0] * 2 // 3, yuv.shape[1]
    mbox = warp_box(np.concatenate([inner, s2[list(OUTER_LIP)]]), w2, h2)
    if mbox is None:
        return
    cavity = _cavity_colour(yuv, s2, mbox)
    mask = np.zeros((mbox.height, mbox.width), dtype=np.float32)
    poly = np.round((inner - [mbox.x0, mbox.y0]) * 16).astype(np.int32)
    cv2.fillPoly(mask, [poly], 1.0, cv2.LINE_AA, 4)
    feather = max(1, int(round(o_dst * 0.15))) * 2 + 1
    mask = cv2.GaussianBlur(mask, (feather, feather), 0) * mask * alpha
    yo, uo, vo = i420_planes(out)
    sl = (slice(mbox.y0, mbox.y1), slice(mbox.x0, mbox.x1))
    yo[sl] = _blend(yo[sl], cavity[0], mask)
    cmask = cv2.resize(mask, (mbox.width // 2, mbox.height // 2), interpolation=cv2.INTER_AREA)
    csl = (slice(mbox.y0 // 2, mbox.y1 // 2), slice(mbox.x0 // 2, mbox.x1 // 2))
    uo[csl] = _blend(uo[csl], cavity[1], cmask)
    vo[csl] = _blend(vo[csl], cavity[2], cmask)


def _cavity_colour(yuv: np.ndarray, s2: np.ndarray, mbox: Box) -> tuple[float, float, float]:
    """Y, U, V of a mouth cavity: the darkest tenth of the source lip region, darker still."""
    ys, us, vs = i420_planes(yuv)
    mask = np.zeros((mbox.height, mbox.width), dtype=np.uint8)
    poly = np.round(s2[list(OUTER_LIP)] - [mbox.x0, mbox.y0]).astype(np.int32)
    cv2.fillPoly(mask, [poly], 1)
    sel = mask.astype(bool)
    yb = ys[mbox.y0 : mbox.y1, mbox.x0 : mbox.x1]
    ub = us[mbox.y0 // 2 : mbox.y1 // 2, mbox.x0 // 2 : mbox.x1 // 2]
    vb = vs[mbox.y0 // 2 : mbox.y1 // 2, mbox.x0 // 2 : mbox.x1 // 2]
    dark = sel & (yb <= np.percentile(yb[sel], 10)) if sel.sum() >= 4 else sel
    cdark = dark[::2, ::2][: ub.shape[0], : ub.shape[1]]
    if cdark.sum() == 0:
        return CAVITY_FALLBACK
    # Lips (often made up) are lighter and redder than the shadow inside the mouth.
    y = 0.6 * float(yb[dark].mean())
    u = 128.0 + 0.5 * (float(ub[cdark].mean()) - 128.0)
    v = 128.0 + 0.5 * (float(vb[cdark].mean()) - 128.0)
    return y, u, v


def _blend(plane: np.ndarray, value: float, weight: np.ndarray) -> np.ndarray:
    mixed = plane.astype(np.float32) * (1.0 - weight) + value * weight
    return np.clip(np.round(mixed), 0, 255).astype(np.uint8)
