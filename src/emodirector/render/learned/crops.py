"""Aligned face crops for the learned renderer (numpy and OpenCV only, no torch).

Training and inference cut the same crops: a square of side CROP_SCALE x the landmarks' extent,
centred on the TARGET geometry, resampled to S x S. The network sees, in that crop:
- the source frame warped to the target geometry (the plain warp's output), Y U V in [0, 1];
- the target geometry drawn as pictures: the mesh edges, the mouth (inner opening filled, lips
  outlined), the eyes (openings filled, irises dotted);
- (models from version 2) how far the warp moved each part of the face (source -> target), as
  two smooth pictures: where the warp stretched or compressed skin, the real face shows folds,
  furrows or teeth that the warped pixels cannot have, and this says where and how much.
It predicts the real frame's Y U V in the same crop. Only the face (a feathered oval) is pasted
back, so pixels outside the face ring stay exactly as the warp left them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from ..base import i420_planes
from ..mesh import (
    FACE_OVAL,
    INNER_LIP_LOWER,
    INNER_LIP_UPPER,
    LEFT_EYE,
    LEFT_IRIS_CENTRE,
    OUTER_LIP,
    RIGHT_EYE,
    RIGHT_IRIS_CENTRE,
    warp_mesh,
)

CROP_SCALE = 1.35  # crop side / the larger side of the landmarks' bounding box
GEOMETRY_CHANNELS = 6  # warped Y U V + mesh, mouth, eyes
MOTION_CHANNELS = 2  # the warp's displacement (x, y) at each crop pixel
OUT_CHANNELS = 3  # Y U V
MOTION_GAIN = 8.0  # crop-size units -> input values of about +-0.5 for an expression's motion
MOTION_SIGMA = 0.04  # landmark splat width, share of the crop side


@dataclass(frozen=True)
class CropBox:
    """A square of the frame: x = x0 + u * side / size for crop column u (pixels)."""

    x0: float
    y0: float
    side: float  # pixels of the frame
    size: int  # pixels of the crop

    def forward(self, scale: float = 1.0) -> np.ndarray:
        """(2, 3) affine map from frame pixels (x `scale`, e.g. 0.5 for chroma) to crop pixels."""
        k = self.size / (self.side * scale)
        return np.array(
            [[k, 0.0, -k * self.x0 * scale], [0.0, k, -k * self.y0 * scale]], dtype=np.float64
        )

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) frame pixels -> crop pixels."""
        k = self.size / self.side
        return (points[:, :2] - np.array([self.x0, self.y0])) * k


def crop_box(landmarks: np.ndarray, size: int) -> CropBox:
    """The crop around a face's landmarks ((478, 2+) pixels)."""
    p = landmarks[:, :2]
    lo, hi = p.min(axis=0), p.max(axis=0)
    centre = (lo + hi) / 2
    side = float(max(hi - lo)) * CROP_SCALE
    return CropBox(float(centre[0] - side / 2), float(centre[1] - side / 2), side, size)


def cut(yuv: np.ndarray, box: CropBox) -> np.ndarray:
    """(S, S, 3) float32 Y U V in [0, 1] of an I420 picture inside `box` (chroma upsampled)."""
    y, u, v = i420_planes(yuv)
    s = box.size
    flags = cv2.INTER_LINEAR
    out = np.empty((s, s, 3), np.float32)
    out[..., 0] = cv2.warpAffine(
        y, box.forward(), (s, s), flags=flags, borderMode=cv2.BORDER_REPLICATE
    )
    half = box.forward(0.5)
    for c, plane in ((1, u), (2, v)):
        out[..., c] = cv2.warpAffine(
            plane, half, (s, s), flags=flags, borderMode=cv2.BORDER_REPLICATE
        )
    out /= 255.0
    return out


@functools.cache
def _mesh_edges() -> np.ndarray:
    """(E, 2) unique landmark pairs of the face tesselation (no ring, no fills)."""
    mesh = warp_mesh()
    tris = mesh.triangles[mesh.face_rows]
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    e = np.sort(e, axis=1)
    return np.unique(e, axis=0)


def geometry(landmarks: np.ndarray, box: CropBox) -> np.ndarray:
    """(S, S, 3) float32 pictures of a face's geometry in the crop: mesh, mouth, eyes (0..1)."""
    s = box.size
    p = box.to_crop(landmarks)
    shift = 4
    q = np.round(p * (1 << shift)).astype(np.int32)
    out = np.zeros((3, s, s), np.float32)
    lines = list(q[_mesh_edges()])  # (E, 2, 2) endpoints
    cv2.polylines(out[0], lines, False, 1.0, 1, cv2.LINE_AA, shift)
    inner = np.concatenate([q[list(INNER_LIP_UPPER)], q[list(INNER_LIP_LOWER)][::-1]])
    cv2.polylines(out[1], [q[list(OUTER_LIP)]], True, 0.5, 1, cv2.LINE_AA, shift)
    cv2.fillPoly(out[1], [inner], 1.0, cv2.LINE_AA, shift)
    for loop, iris in ((RIGHT_EYE, RIGHT_IRIS_CENTRE), (LEFT_EYE, LEFT_IRIS_CENTRE)):
        cv2.fillPoly(out[2], [q[list(loop)]], 0.5, cv2.LINE_AA, shift)
        r = max(1, int(round(0.015 * s)))
        cv2.circle(
            out[2], (int(q[iris, 0]), int(q[iris, 1])), r << shift, 1.0, -1, cv2.LINE_AA, shift
        )
    return np.ascontiguousarray(out.transpose(1, 2, 0))


def motion(src: np.ndarray, dst: np.ndarray, box: CropBox) -> np.ndarray:
    """(S, S, 2) float32: the displacement dst - src of the landmarks, in crop sides x MOTION_GAIN,
    spread smoothly over the crop (normalised Gaussian splats at the target points; 0 far from
    the face)."""
    s = box.size
    p = box.to_crop(dst)
    d = (dst[:, :2] - src[:, :2]) * (s / box.side) / s * MOTION_GAIN
    inside = (p[:, 0] >= 0) & (p[:, 0] < s) & (p[:, 1] >= 0) & (p[:, 1] < s)
    cols = np.clip(np.round(p[inside, 0]).astype(np.int64), 0, s - 1)
    rows = np.clip(np.round(p[inside, 1]).astype(np.int64), 0, s - 1)
    acc = np.zeros((3, s, s), np.float32)
    np.add.at(acc[0], (rows, cols), 1.0)
    np.add.at(acc[1], (rows, cols), d[inside, 0])
    np.add.at(acc[2], (rows, cols), d[inside, 1])
    sigma = MOTION_SIGMA * s
    k = int(3 * sigma) * 2 + 1
    for c in range(3):
        acc[c] = cv2.GaussianBlur(acc[c], (k, k), sigma)
    weight = acc[0]
    out = np.zeros((s, s, 2), np.float32)
    near = weight > 1e-3
    for c in range(2):
        out[..., c][near] = acc[c + 1][near] / weight[near] * np.minimum(weight[near] / 0.05, 1.0)
    return out


def in_channels(with_motion: bool) -> int:
    """Channels of the network's input (see the module doc)."""
    return GEOMETRY_CHANNELS + (MOTION_CHANNELS if with_motion else 0)


def network_input(
    warped: np.ndarray, src: np.ndarray, dst: np.ndarray, box: CropBox, with_motion: bool
) -> np.ndarray:
    """(S, S, C) float32: what the network sees, the same in training and at inference: the warped
    I420 picture `warped` cut to `box`, the target geometry and (with_motion) the warp's motion."""
    parts = [cut(warped, box), geometry(dst, box)]
    if with_motion:
        parts.append(motion(src, dst, box))
    return np.concatenate(parts, axis=2)


def jitter_box(box: CropBox, rng: np.random.Generator, amount: float) -> CropBox:
    """The crop moved and scaled at random by up to `amount` of its side (training only): the
    network must not learn where in the crop each frame's face sits."""
    if amount <= 0:
        return box
    dx, dy, ds = rng.uniform(-amount, amount, size=3)
    side = box.side * (1.0 + ds)
    cx = box.x0 + box.side / 2 + dx * box.side
    cy = box.y0 + box.side / 2 + dy * box.side
    return CropBox(float(cx - side / 2), float(cy - side / 2), float(side), box.size)


def face_mask(landmarks: np.ndarray, box: CropBox) -> np.ndarray:
    """(S, S) float32 in [0, 1]: the face oval, shrunk and feathered; 0 at the oval's edge.

    What the network's output replaces. Zero beyond the oval keeps every pixel outside the warp's
    fixed ring untouched.
    """
    s = box.size
    m = np.zeros((s, s), np.float32)
    cv2.fillPoly(m, [np.round(box.to_crop(landmarks)[list(FACE_OVAL)]).astype(np.int32)], 1.0)
    k = max(3, int(0.04 * s) | 1)
    inner = cv2.erode(m, np.ones((k, k), np.uint8))
    return np.asarray(cv2.GaussianBlur(inner, (2 * k + 1, 2 * k + 1), k / 2), dtype=np.float32)


def loss_weight(landmarks: np.ndarray, box: CropBox, mouth_gain: float) -> np.ndarray:
    """(S, S) float32 per-pixel loss weight: 1 in the face, 1 + mouth_gain on the mouth, 0.1
    beyond (the network still sees the context but is judged on the face)."""
    s = box.size
    p = np.round(box.to_crop(landmarks)).astype(np.int32)
    w = np.full((s, s), 0.1, np.float32)
    cv2.fillPoly(w, [p[list(FACE_OVAL)]], 1.0)
    cv2.fillPoly(w, [p[list(OUTER_LIP)]], 1.0 + mouth_gain)
    return w


def paste(
    out: np.ndarray, values: np.ndarray, mask: np.ndarray, box: CropBox, *, add: bool = True
) -> None:
    """Blend an (S, S, 3) Y U V crop into the I420 picture `out` (in place) through the (S, S)
    mask, at the picture's own resolution (luma full, chroma half).

    add=True: `values` is a correction (-1..1) added to the picture (the warp's full-resolution
    detail stays); add=False: `values` (0..1) replaces the picture (the upsampled crop: smoother).
    """
    ys, us, vs = i420_planes(out)
    for plane, chan, scale in ((ys, 0, 1.0), (us, 1, 0.5), (vs, 2, 0.5)):
        h, w = plane.shape
        # The pixels of the plane the box covers (with a pixel of margin), clipped to the plane.
        x0 = max(int(np.floor(box.x0 * scale)) - 1, 0)
        y0 = max(int(np.floor(box.y0 * scale)) - 1, 0)
        x1 = min(int(np.ceil((box.x0 + box.side) * scale)) + 1, w)
        y1 = min(int(np.ceil((box.y0 + box.side) * scale)) + 1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        fwd = box.forward(scale)
        fwd[:, 2] += fwd[:, :2] @ np.array([x0, y0], dtype=np.float64)  # region-local origin
        size = (x1 - x0, y1 - y0)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        a = cv2.warpAffine(mask, fwd, size, flags=flags, borderValue=0.0)
        d = cv2.warpAffine(
            np.ascontiguousarray(values[..., chan]), fwd, size, flags=flags, borderValue=0.0
        )
        region = plane[y0:y1, x0:x1].astype(np.float32)
        changed = a > 0
        step = a * d * 255.0 if add else a * (d * 255.0 - region)
        region[changed] += step[changed]
        plane[y0:y1, x0:x1] = np.clip(np.round(region), 0, 255).astype(np.uint8)


def scale_i420(yuv: np.ndarray, factor: float) -> np.ndarray:
    """An I420 picture resized by `factor` (even sizes; area averaging when shrinking)."""
    if factor >= 0.999:
        return yuv
    y, u, v = i420_planes(yuv)
    h, w = y.shape
    w2, h2 = max(2, int(round(w * factor / 2)) * 2), max(2, int(round(h * factor / 2)) * 2)
    ys = cv2.resize(y, (w2, h2), interpolation=cv2.INTER_AREA)
    us = cv2.resize(u, (w2 // 2, h2 // 2), interpolation=cv2.INTER_AREA)
    vs = cv2.resize(v, (w2 // 2, h2 // 2), interpolation=cv2.INTER_AREA)
    return np.concatenate([ys.reshape(-1), us.reshape(-1), vs.reshape(-1)]).reshape(h2 * 3 // 2, w2)


def to_rgb(crop: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 RGB of a Y U V crop in [0, 1] (for pictures of the training)."""
    yuv = np.clip(np.round(crop * 255.0), 0, 255).astype(np.uint8)
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB)


__all__ = [
    "CROP_SCALE",
    "GEOMETRY_CHANNELS",
    "OUT_CHANNELS",
    "CropBox",
    "crop_box",
    "cut",
    "face_mask",
    "geometry",
    "in_channels",
    "jitter_box",
    "motion",
    "network_input",
    "loss_weight",
    "paste",
    "scale_i420",
    "to_rgb",
]
