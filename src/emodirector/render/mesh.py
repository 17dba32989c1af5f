"""The fixed warp mesh over MediaPipe's 478 landmarks, its landmark loops and small geometry.

The topology never changes between frames, so every field built on it is continuous in the
landmarks (no shimmer from re-triangulating). Shared by every renderer.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..types import N_LANDMARKS

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


def mouth_strip() -> np.ndarray:
    """(20, 3) triangles that fill the inner-lip polygon: pairs of upper/lower lip points."""
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
    fills = [mouth_strip(), _fan(RIGHT_EYE, RIGHT_IRIS_CENTRE), _fan(LEFT_EYE, LEFT_IRIS_CENTRE)]
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
