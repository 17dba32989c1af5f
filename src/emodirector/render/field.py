"""Piecewise-affine displacement fields over a fixed triangle mesh (shared by the renderers).

A field maps each destination pixel to the source pixel it shows (an inverse map), interpolated
over the destination triangles; see render/__init__.py for why it is computed this way.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .mesh import Box, Mesh


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
    flat = ids.reshape(-1)
    inside = np.flatnonzero(flat >= 0)  # (np.take: several times faster than fancy indexing)
    k = np.take(flat, inside)
    gy, gx = np.divmod(inside, nx)
    b = np.take(field.bary, k, axis=0)  # (P, 3, 3)
    px = (origin[0] + gx * step)[:, None]
    py = (origin[1] + gy * step)[:, None]
    w = np.maximum(b[:, :, 0] * px + b[:, :, 1] * py + b[:, :, 2], 0.0)  # (P, 3)
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / 3.0)
    disp = np.zeros((ny * nx, 2), dtype=np.float32)
    disp[inside] = np.einsum("pj,pjc->pc", w, np.take(field.disp, k, axis=0))
    return disp.reshape(ny, nx, 2)
