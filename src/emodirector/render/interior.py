"""The person's own mouth interior (teeth, tongue, shadow) where an edit parts the lips.

Why: when the edited lips part wider than the source frame's, the warp can only stretch the lip
line across the new gap (a smear of lip colour). A real mouth shows teeth and a dark cavity there,
and the same clip nearly always shows this person's mouth open while speaking or laughing. So:
- prepare (MouthBank.gather) picks up to K frames of the clip whose mouths are open in the
  shapes the edit asks for (greedy cover of the edited mouth shapes), decodes the clip once up to
  the last of them and keeps a small crop of each (a bank; memory does not grow with length);
- the bank entry for each frame is chosen once for the whole clip: a Viterbi path over the
  frames with a cost for switching, crossfaded over a few frames at each switch, so the teeth
  do not flicker;
- each rendered frame whose lips part wider than its source's gets that entry's interior,
  mapped into the edited inner-lip polygon by the piecewise-affine mouth strip (upper lip to
  upper lip, lower to lower: mouth coordinates), its lighting matched to the skin around this
  frame's mouth, blended with a feather inside the lips (the lips stay the warped real lips).
A clip that never opens its mouth has no bank; the renderer then shades a cavity (mouth.py).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import cv2
import numpy as np

from ..outofcore import release
from ..types import EditedTrack
from ..video import VideoReader
from .base import i420_planes
from .field import displacement_grid, triangle_field
from .mesh import (
    INNER_LIP_LOWER,
    INNER_LIP_PAIRS,
    INNER_LIP_UPPER,
    OUTER_LIP,
    Box,
    Mesh,
    mouth_strip,
    opening,
    warp_box,
)

# Mouth coordinates: the inner-lip corners and the inner-lip points around the midline.
CORNERS = (78, 308)
UPPER_MID = (82, 13, 312)
LOWER_MID = (87, 14, 317)
NOSE_TIP = 1
# A frame can give the bank its interior when its lips part by this share of the mouth width.
OPEN_MIN = 0.12
# Bank frames are searched among the first this many frames of the clip (bounds prepare's decode).
SCAN_FRAMES = 1500
MAX_TURN = 20.0  # degrees; a bank frame's head faces the camera within this
# Shape distances are in units of this share of the mouth width (Viterbi cost = (d / scale)^2).
SHAPE_SCALE = 0.05
UNDER_OPEN = 3.0  # weight of a bank mouth opening less than the target (see shape_distance2)
SWITCH_COST = 8.0  # Viterbi cost of changing the bank entry between two frames
CROSSFADE = 6  # frames over which one entry fades into the next at a switch
CORE_SHRINK = 0.12  # share of the bank's lip gap left out at each lip (its lips' inner edge)
ROW_CHUNK = 512  # track rows read at a time (the landmarks may live on disk)


def mouth_shape(points: np.ndarray) -> np.ndarray:
    """(..., 2) float32 (upper, lower) inner-lip offsets from the corner line, in mouth widths.

    points: (..., 478, 2+) pixels. Positive = down in the face's own frame (roll removed), so the
    lips' opening is lower - upper; a grin's raised upper lip lowers `upper`, a dropped jaw
    raises `lower`.
    """
    p = np.asarray(points[..., :2], dtype=np.float64)
    c0, c1 = p[..., CORNERS[0], :], p[..., CORNERS[1], :]
    centre = (c0 + c1) / 2
    ex = c1 - c0
    width = np.maximum(np.linalg.norm(ex, axis=-1, keepdims=True), 1e-6)
    ex = ex / width
    ey = np.stack([-ex[..., 1], ex[..., 0]], axis=-1)
    up = ((p[..., list(UPPER_MID), :].mean(axis=-2) - centre) * ey).sum(-1) / width[..., 0]
    lo = ((p[..., list(LOWER_MID), :].mean(axis=-2) - centre) * ey).sum(-1) / width[..., 0]
    return np.stack([up, lo], axis=-1).astype(np.float32)


def shape_distance2(target: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """Squared distance between mouth shapes (..., 2), counting a bank mouth that opens less
    than the target UNDER_OPEN times: filling a wider gap stretches its teeth (they look long),
    a narrower one only compresses the dark between them."""
    diff = bank - target  # upper: positive = the bank's upper lip is lower; lower: the reverse
    short = np.stack([diff[..., 0] > 0, diff[..., 1] < 0], axis=-1)
    return (np.where(short, UNDER_OPEN, 1.0) * diff**2).sum(axis=-1)


def _frontal(points: np.ndarray) -> np.ndarray:
    """(N,) where the nose tip sits between the mouth corners: the head is not turned away."""
    p = np.asarray(points[..., :2], dtype=np.float64)
    c0, c1 = p[:, CORNERS[0]], p[:, CORNERS[1]]
    ex = c1 - c0
    w2 = np.maximum((ex**2).sum(-1), 1e-6)
    t = ((p[:, NOSE_TIP] - c0) * ex).sum(-1) / w2
    return (t > 0.3) & (t < 0.7)


def _facing(transforms: np.ndarray) -> np.ndarray:
    """(N,) where the head pose ((N, 4, 4) MediaPipe matrices) faces the camera within
    MAX_TURN degrees; True where the pose is unknown (the landmark test still applies)."""
    forward = transforms[:, :3, 2].astype(np.float64)
    norm = np.linalg.norm(forward, axis=1)
    cos = np.abs(forward[:, 2]) / np.where(norm > 0, norm, 1.0)
    return ~np.isfinite(cos) | (norm == 0) | (cos >= np.cos(np.radians(MAX_TURN)))


@dataclass(frozen=True)
class BankEntry:
    """One frame's mouth: a small crop of its planes and where its landmarks fall in it."""

    row: int  # track row the crop comes from
    y: np.ndarray  # (h, w) uint8 luma crop around the mouth
    u: np.ndarray  # (h/2, w/2) uint8
    v: np.ndarray  # (h/2, w/2) uint8
    points: np.ndarray  # (478, 2) float32 landmarks, pixels of the crop
    shape: np.ndarray  # (2,) float32 mouth_shape of the frame
    surround: np.ndarray  # (3,) float32 mean Y, U, V of the skin around the mouth (lighting)


@dataclass(frozen=True)
class MouthPlan:
    """The bank entries each track row shows: `first` faded toward `second` by `mix`."""

    first: np.ndarray  # (T,) int16 entry index (-1: the row needs no fill)
    second: np.ndarray  # (T,) int16 entry index
    mix: np.ndarray  # (T,) float32 in [0, 1]: weight of `second`


@functools.lru_cache(maxsize=1)
def _strip_mesh() -> Mesh:
    """The inner-lip strip as a mesh of its own (for displacement_grid)."""
    tris = mouth_strip()
    none = np.zeros(0, dtype=np.int64)
    return Mesh(
        triangles=tris,
        n_ring_first=0,
        face_rows=np.arange(len(tris)),
        right_eye_rows=none,
        left_eye_rows=none,
    )


def inner_polygon(points: np.ndarray) -> np.ndarray:
    """(20, 2) the inner-lip polygon: upper lip corner to corner, lower lip back."""
    return np.concatenate(
        [points[list(INNER_LIP_UPPER), :2], points[list(INNER_LIP_LOWER), :2][::-1][1:-1]]
    )


def fill_weight(s2: np.ndarray, d2: np.ndarray, gain: float) -> float:
    """How much of the edited opening to replace with a real interior, in [0, 1].

    Zero unless the edit opens the lips by more than `gain` pixels and more than 15 % beyond the
    source (there the warp's stretch of the real interior is right); one from twice that.
    """
    return float(_fill_weights(s2[None, :, :2], d2[None, :, :2], gain)[0])


def surround_colour(yuv: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """(3,) mean Y, U, V of the skin just around the outer lips (the light on the mouth)."""
    lips = points[list(OUTER_LIP), :2].astype(np.float64)
    centre = lips.mean(axis=0)
    ring = centre + (lips - centre) * 1.45
    h2, w2 = yuv.shape[0] * 2 // 3, yuv.shape[1]
    box = warp_box(ring, w2, h2)
    if box is None:
        return None
    mask = np.zeros((box.height // 2, box.width // 2), dtype=np.uint8)
    origin = np.array([box.x0, box.y0]) + 0.5
    cv2.fillPoly(mask, [np.round((ring - origin) / 2).astype(np.int32)], 1)
    cv2.fillPoly(mask, [np.round((lips - origin) / 2).astype(np.int32)], 0)
    sel = mask.astype(bool)
    if sel.sum() < 4:
        return None
    ys, us, vs = i420_planes(yuv)
    cy, cx = slice(box.y0 // 2, box.y1 // 2), slice(box.x0 // 2, box.x1 // 2)
    y = ys[box.y0 : box.y1 : 2, box.x0 : box.x1 : 2][: sel.shape[0], : sel.shape[1]]
    u, v = us[cy, cx], vs[cy, cx]
    if y.shape != sel.shape or u.shape != sel.shape:
        return None
    return np.array(
        [float(y[sel].mean()), float(u[sel].mean()), float(v[sel].mean())], dtype=np.float32
    )


class MouthBank:
    """The clip's own mouth interiors and the plan of which one each row shows."""

    def __init__(self, entries: list[BankEntry], plan: MouthPlan) -> None:
        self.entries = entries
        self.plan = plan
        self._shapes = np.array([e.shape for e in entries], dtype=np.float32).reshape(-1, 2)

    @classmethod
    def gather(
        cls,
        video: str | os.PathLike[str],
        edited: EditedTrack,
        window: tuple[float, float] | None,
        size: int,
        gain: float,
    ) -> MouthBank | None:
        """Pick up to `size` open-mouth frames of `video` for the rows of `edited` that open their
        lips beyond the source's; None when no row needs them or the clip never opens its mouth.
        """
        targets, shapes, candidates = _shapes_needed(edited, gain)
        if size <= 0 or np.isnan(targets[:, 0]).all() or not candidates.any():
            return None
        chosen = _cover(shapes, candidates, targets, size)
        entries = _decode_entries(video, edited, window, chosen, shapes)
        if not entries:
            return None
        bank_shapes = np.array([e.shape for e in entries], dtype=np.float32)
        plan = _plan(targets, bank_shapes)
        return cls(entries, plan)

    def choice(self, index: int, shape: np.ndarray) -> tuple[int, int, float]:
        """(first, second, mix) for track row `index`; the closest entry when not planned."""
        plan = self.plan
        if 0 <= index < len(plan.first) and plan.first[index] >= 0:
            return int(plan.first[index]), int(plan.second[index]), float(plan.mix[index])
        k = int(np.argmin(shape_distance2(shape[None, :], self._shapes)))
        return k, k, 0.0

    def fill(
        self,
        yuv: np.ndarray,
        out: np.ndarray,
        s2: np.ndarray,
        d2: np.ndarray,
        index: int,
        gain: float,
    ) -> bool:
        """Replace the interior of the edited lips in `out` with this person's own; False if the
        lips do not open beyond the source's (nothing done)."""
        alpha = fill_weight(s2, d2, gain)
        if alpha <= 0.0:
            return False
        h2, w2 = yuv.shape[0] * 2 // 3, yuv.shape[1]
        poly = inner_polygon(d2)
        box = warp_box(poly, w2, h2)
        light = surround_colour(yuv, s2)
        if box is None or light is None:
            return False
        first, second, mix = self.choice(index, mouth_shape(d2))
        planes = self._interior(self.entries[first], d2, box, light)
        if mix > 0.0 and second != first:
            other = self._interior(self.entries[second], d2, box, light)
            planes = tuple(a + mix * (b - a) for a, b in zip(planes, other, strict=True))
        mask = _feathered(poly, box, opening(d2, INNER_LIP_PAIRS)) * alpha
        _blend_into(out, planes, mask, box)
        return True

    def _interior(
        self, entry: BankEntry, d2: np.ndarray, box: Box, light: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The entry's interior mapped into `box` of the edited frame, relit: Y, U, V float32."""
        mx, my, cmx, cmy = _strip_map(_core(entry.points), d2 - [box.x0, box.y0], box)
        y = cv2.remap(entry.y, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        u = cv2.remap(entry.u, cmx, cmy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        v = cv2.remap(entry.v, cmx, cmy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # Light falls on the interior as on the skin around it: scale luma, shift chroma.
        gain = float(np.clip(light[0] / max(float(entry.surround[0]), 1.0), 0.6, 1.6))
        return (
            y.astype(np.float32) * gain,
            u.astype(np.float32) + (light[1] - entry.surround[1]),
            v.astype(np.float32) + (light[2] - entry.surround[2]),
        )


def _core(points: np.ndarray) -> np.ndarray:
    """`points` with each inner-lip point pulled toward its partner across the mouth by
    CORE_SHRINK of their distance: the interior without the lips' own inner edge."""
    out = points.copy()
    up, lo = list(INNER_LIP_UPPER[1:-1]), list(INNER_LIP_LOWER[1:-1])
    gap = points[lo] - points[up]
    out[up] += CORE_SHRINK * gap
    out[lo] -= CORE_SHRINK * gap
    return out


def _strip_map(
    bank: np.ndarray, dst: np.ndarray, box: Box
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Maps from pixels of `box` into the bank crop: luma x, y (bh, bw) and chroma x, y
    (bh/2, bw/2), in the crop's luma and chroma pixels. Piecewise affine over the inner-lip strip
    (dst: landmarks in box pixels), the best overall affine map elsewhere; computed every other
    pixel (the grid's samples sit on the chroma pixels) and upsampled for luma."""
    ids = list(INNER_LIP_UPPER) + list(INNER_LIP_LOWER[1:-1])
    d = np.asarray(dst[:, :2], dtype=np.float64)
    b = np.asarray(bank[:, :2], dtype=np.float64)
    design = np.concatenate([d[ids], np.ones((len(ids), 1))], axis=1)
    affine, *_ = np.linalg.lstsq(design, b[ids], rcond=None)  # (3, 2)
    # The strip interpolates what the affine map misses; outside it that residual is zero.
    moved = np.concatenate([d, np.ones((len(d), 1))], axis=1) @ affine
    mesh = _strip_mesh()
    src_v = (d + (b - moved)).astype(np.float32)
    dst_v = d.astype(np.float32)
    field = triangle_field(src_v, dst_v, mesh.triangles)
    local = Box(0, 0, box.width, box.height)
    grid = displacement_grid(dst_v, mesh, local, 2, field, mesh.face_rows)  # at (2j+.5, 2i+.5)
    ny, nx = grid.shape[:2]
    full = cv2.resize(grid, (nx * 2, ny * 2), interpolation=cv2.INTER_LINEAR)
    full = full[: box.height, : box.width]
    half = grid[: box.height // 2, : box.width // 2]

    def mapped(offset: np.ndarray, h: int, w: int, at: float) -> tuple[np.ndarray, np.ndarray]:
        gx = np.arange(w, dtype=np.float64)[None, :] * (1 + at) + at / 2
        gy = np.arange(h, dtype=np.float64)[:, None] * (1 + at) + at / 2
        mx = affine[0, 0] * gx + affine[1, 0] * gy + affine[2, 0] + offset[..., 0]
        my = affine[0, 1] * gx + affine[1, 1] * gy + affine[2, 1] + offset[..., 1]
        return mx.astype(np.float32), my.astype(np.float32)

    mx, my = mapped(full, box.height, box.width, 0.0)
    cx, cy = mapped(half, box.height // 2, box.width // 2, 1.0)  # chroma j at luma 2j + 0.5
    return mx, my, (cx - 0.5) / 2, (cy - 0.5) / 2


def _shapes_needed(edited: EditedTrack, gain: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the edited mouth shape where a fill will show ((T, 2), NaN elsewhere), the
    source's mouth shape ((T, 2)), and whether the source frame could give the bank its
    interior ((T,) bool). Reads the landmarks in chunks and releases their pages (they may live
    on disk: memory stays flat with the length of the video)."""
    t = edited.n_frames
    targets = np.full((t, 2), np.nan, dtype=np.float32)
    shapes = np.full((t, 2), np.nan, dtype=np.float32)
    candidates = np.zeros(t, dtype=bool)
    valid = edited.original.valid
    for start in range(0, t, ROW_CHUNK):
        rows = slice(start, min(start + ROW_CHUNK, t))
        src = np.array(edited.original.landmarks[rows, :, :2], dtype=np.float32)
        dst = np.array(edited.landmarks[rows, :, :2], dtype=np.float32)
        for lms in (edited.original.landmarks, edited.landmarks):
            release(lms, rows.start, rows.stop)
        ok = valid[rows] & np.isfinite(src).all(axis=(1, 2)) & np.isfinite(dst).all(axis=(1, 2))
        s_shape, d_shape = mouth_shape(src), mouth_shape(dst)
        shapes[rows] = np.where(ok[:, None], s_shape, np.nan)
        weight = _fill_weights(src, dst, gain)
        targets[rows] = np.where((ok & (weight > 0.0))[:, None], d_shape, np.nan)
        if start < SCAN_FRAMES:
            open_ = (s_shape[:, 1] - s_shape[:, 0]) >= OPEN_MIN
            facing = _facing(np.asarray(edited.original.transforms[rows]))
            candidates[rows] = ok & open_ & _frontal(src) & facing
    candidates[SCAN_FRAMES:] = False
    return targets, shapes, candidates


def _fill_weights(src: np.ndarray, dst: np.ndarray, gain: float) -> np.ndarray:
    """fill_weight of many frames at once: (N,) from (N, 478, 2) landmarks."""
    up, lo = [q[0] for q in INNER_LIP_PAIRS], [q[1] for q in INNER_LIP_PAIRS]
    o_src = np.linalg.norm(src[:, up] - src[:, lo], axis=2).mean(axis=1)
    o_dst = np.linalg.norm(dst[:, up] - dst[:, lo], axis=2).mean(axis=1)
    extra = np.clip((o_dst - o_src - gain) / max(gain, 1e-3), 0.0, 1.0)
    stretch = np.clip((o_dst / np.maximum(o_src, 1e-3) - 1.15) / 0.35, 0.0, 1.0)
    return np.nan_to_num(extra * stretch)


def _cover(
    shapes: np.ndarray, candidates: np.ndarray, targets: np.ndarray, size: int
) -> np.ndarray:
    """Up to `size` candidate rows whose mouth shapes best cover the target shapes (greedy)."""
    need = targets[~np.isnan(targets[:, 0])]
    need = need[:: max(1, len(need) // 400)]
    rows = np.nonzero(candidates)[0]
    rows = rows[:: max(1, len(rows) // 400)]
    dist = np.sqrt(shape_distance2(need[None, :, :], shapes[rows][:, None, :]))  # (C, N)
    best = np.full(len(need), np.inf)
    chosen: list[int] = []
    for _ in range(min(size, len(rows))):
        total = np.minimum(dist, best[None, :]).sum(axis=1)
        total[chosen] = np.inf
        c = int(np.argmin(total))
        if chosen and total[c] >= best.sum() - 1e-6:
            break  # no candidate improves the cover any more
        chosen.append(c)
        best = np.minimum(best, dist[c])
    return np.sort(rows[chosen])


def _decode_entries(
    video: str | os.PathLike[str],
    edited: EditedTrack,
    window: tuple[float, float] | None,
    rows: np.ndarray,
    shapes: np.ndarray,
) -> list[BankEntry]:
    """Decode the clip up to the last chosen row and keep each chosen frame's mouth crop.

    The chosen frames are found by their times (the track's rows hold them); pictures that no
    chosen frame needs are not decoded at all (VideoReader.frames_at)."""
    times = np.asarray(edited.original.timestamps, dtype=np.float64)
    chosen = sorted({int(r) for r in rows if 0 <= r < len(times)})
    start = -math.inf if window is None else window[0]
    chosen = [r for r in chosen if times[r] >= start - 1e-3]
    entries: list[BankEntry] = []
    if not chosen:
        return entries
    left = list(chosen)
    with VideoReader(video) as reader:
        for frame in reader.frames_at(times[chosen]):
            row = next((r for r in left if abs(frame.time - times[r]) <= 1e-3), None)
            if row is None:
                continue
            left.remove(row)
            entry = _crop(frame.yuv, np.asarray(edited.original.landmarks[row]), row, shapes)
            if entry is not None:
                entries.append(entry)
            if not left:
                break
    return entries


def _crop(yuv: np.ndarray, points: np.ndarray, row: int, shapes: np.ndarray) -> BankEntry | None:
    """The bank entry of one decoded frame: its mouth region (with a margin) and landmarks."""
    p2 = points[:, :2].astype(np.float32)
    lips = p2[list(OUTER_LIP)]
    margin = 0.25 * float(np.linalg.norm(p2[CORNERS[0]] - p2[CORNERS[1]]))
    h2, w2 = yuv.shape[0] * 2 // 3, yuv.shape[1]
    box = warp_box(np.concatenate([lips - margin, lips + margin]), w2, h2)
    light = surround_colour(yuv, p2)
    if box is None or light is None:
        return None
    ys, us, vs = i420_planes(yuv)
    cy, cx = slice(box.y0 // 2, box.y1 // 2), slice(box.x0 // 2, box.x1 // 2)
    return BankEntry(
        row=row,
        y=ys[box.y0 : box.y1, box.x0 : box.x1].copy(),
        u=us[cy, cx].copy(),
        v=vs[cy, cx].copy(),
        points=(p2 - [box.x0, box.y0]).astype(np.float32),
        shape=shapes[row].copy(),
        surround=light,
    )


def _plan(targets: np.ndarray, bank: np.ndarray) -> MouthPlan:
    """The entry per row: a Viterbi path (shape distance + a cost per switch), crossfaded."""
    t, k = len(targets), len(bank)
    need = ~np.isnan(targets[:, 0])
    cost = np.zeros((t, k), dtype=np.float32)
    d = shape_distance2(targets[need][:, None, :], bank[None, :, :])
    cost[need] = d / SHAPE_SCALE**2
    back = np.zeros((t, k), dtype=np.int8 if k < 128 else np.int16)
    acc = cost[0].copy() if t else np.zeros(k, dtype=np.float32)
    for i in range(1, t):
        stay = acc
        j = int(np.argmin(acc))
        move = acc[j] + SWITCH_COST
        back[i] = np.where(stay <= move, np.arange(k), j)
        acc = np.minimum(stay, move) + cost[i]
    path = np.zeros(t, dtype=np.int16)
    if t:
        path[-1] = int(np.argmin(acc))
        for i in range(t - 1, 0, -1):
            path[i - 1] = back[i, path[i]]
    first, second = path.copy(), path.copy()
    mix = np.zeros(t, dtype=np.float32)
    half = CROSSFADE // 2
    for s in (np.nonzero(path[1:] != path[:-1])[0] + 1).tolist():
        for i in range(max(0, s - half), min(t, s + half)):
            first[i], second[i] = path[s - 1], path[s]
            mix[i] = (i - (s - half) + 0.5) / CROSSFADE
    first[~need] = -1
    return MouthPlan(first=first, second=second, mix=mix)


def _feathered(poly: np.ndarray, box: Box, gap: float) -> np.ndarray:
    """(bh, bw) float32 weight: 1 inside the inner-lip polygon, fading to 0 at the lip line."""
    mask = np.zeros((box.height, box.width), dtype=np.float32)
    pts = np.round((poly - [box.x0, box.y0]) * 16).astype(np.int32)
    cv2.fillPoly(mask, [pts], 1.0, cv2.LINE_AA, 4)
    feather = max(1, int(round(gap * 0.12))) * 2 + 1
    return cv2.GaussianBlur(mask, (feather, feather), 0) * mask


def _blend_into(
    out: np.ndarray, planes: tuple[np.ndarray, np.ndarray, np.ndarray], mask: np.ndarray, box: Box
) -> None:
    """out := out * (1 - mask) + planes * mask over `box` (chroma with the mask halved)."""
    yo, uo, vo = i420_planes(out)
    cmask = cv2.resize(mask, (box.width // 2, box.height // 2), interpolation=cv2.INTER_AREA)
    csl = (slice(box.y0 // 2, box.y1 // 2), slice(box.x0 // 2, box.x1 // 2))
    sl = (slice(box.y0, box.y1), slice(box.x0, box.x1))
    for plane, value, m, s in ((yo, planes[0], mask, sl), (uo, planes[1], cmask, csl),
                               (vo, planes[2], cmask, csl)):  # fmt: skip
        base = plane[s].astype(np.float32)
        plane[s] = np.clip(np.round(base + m * (value - base)), 0, 255).astype(np.uint8)
