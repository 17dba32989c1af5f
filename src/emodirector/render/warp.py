"""The plain warp: move the real pixels of the face from the tracked to the edited geometry.

See render/__init__.py for why it is shaped this way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError
from ..types import EditedTrack
from .base import FaceEdit, Outcome, RenderedFrame, RenderOptions, i420_planes
from .mesh import (
    LEFT_EYE,
    LEFT_EYE_PAIRS,
    LEFT_IRIS_CENTRE,
    OUTER_LIP,
    RIGHT_EYE,
    RIGHT_EYE_PAIRS,
    RIGHT_IRIS_CENTRE,
    Box,
    Mesh,
    face_width,
    opening,
    ring_points,
    warp_box,
    warp_mesh,
)
from .mouth import shade_cavity

# Regions whose displacement is computed on a finer grid (lids and lips are a few pixels apart),
# with the grid step in pixels: every pixel for the eyes, every other one for the mouth.
DETAIL_LOOPS = ((RIGHT_EYE, 1), (LEFT_EYE, 1), (OUTER_LIP, 2))


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


class WarpRenderer:
    """Warps faces frame by frame with fixed options; holds no per-video state."""

    name = "warp"

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

    def prepare(
        self,
        video: str | os.PathLike[str],
        edited: EditedTrack,
        window: tuple[float, float] | None = None,
    ) -> None:
        """The plain warp needs nothing from the clip beyond each frame's geometry."""

    def render(self, yuv: np.ndarray, face: FaceEdit | None) -> RenderedFrame:
        """The renderer contract (render/base.py): warp the face of one frame to its edit."""
        if face is None:
            return RenderedFrame(yuv=yuv, outcome="no_face")
        return self.warp(yuv, face.src, face.dst)

    def warp(
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
            shade_cavity(yuv, out, src[:, :2], dst[:, :2], self.options.mouth_fill_gain)
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
