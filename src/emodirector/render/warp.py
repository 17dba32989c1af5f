"""The plain warp: move the real pixels of the face from the tracked to the edited geometry.

See render/__init__.py for why it is shaped this way.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from ..errors import InputError
from ..types import EditedTrack
from .base import FaceEdit, Outcome, RenderedFrame, RenderOptions, i420_planes
from .field import TriangleField, displacement_grid, draw_order, triangle_field
from .interior import MouthBank
from .mesh import (
    LEFT_EYE,
    LEFT_EYE_PAIRS,
    LEFT_IRIS_CENTRE,
    OUTER_LIP,
    RIGHT_EYE,
    RIGHT_EYE_PAIRS,
    RIGHT_IRIS_CENTRE,
    Box,
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
# Each eye opening (as in DETAIL_LOOPS) and the iris centre it holds.
EYE_IRIS = {RIGHT_EYE: RIGHT_IRIS_CENTRE, LEFT_EYE: LEFT_IRIS_CENTRE}
# A widened eye shows the source's eye content only this far (share of its opening, at least
# one pixel) inside the source's lid line: the lash line itself stays with the lids.
LID_MARGIN = 0.25
IRIS_FADE = 1.6  # the rigid motion fades into the stretch between 1 and this many iris radii


class WarpRenderer:
    """Warps faces frame by frame with fixed options; holds no per-video state."""

    name = "warp"

    def __init__(self, options: RenderOptions = RenderOptions()) -> None:
        if options.grid_step < 2 or options.grid_step % 2:
            raise InputError(f"grid_step {options.grid_step}: give an even number of pixels >= 2.")
        self.options = options
        self.mesh = warp_mesh()
        self._bank: MouthBank | None = None  # the clip's mouth interiors, set by prepare()

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
        """Gather the clip's own open mouths (interior.py) for the frames whose lips the edit
        parts wider than the source's; without any, new openings are shaded as a cavity."""
        self._bank = None
        if self.options.mouth_fill:
            self._bank = MouthBank.gather(
                video, edited, window, self.options.mouth_bank, self.options.mouth_fill_gain
            )

    def render(self, yuv: np.ndarray, face: FaceEdit | None) -> RenderedFrame:
        """The renderer contract (render/base.py): warp the face of one frame to its edit."""
        if face is None:
            return RenderedFrame(yuv=yuv, outcome="no_face")
        return self.warp(yuv, face.src, face.dst, index=face.index)

    def warp(
        self,
        yuv: np.ndarray,
        src: np.ndarray | None,
        dst: np.ndarray | None,
        *,
        index: int = -1,
    ) -> RenderedFrame:
        """Warp the face of one I420 frame from landmarks `src` to `dst` ((478, 2+) pixels).

        `index`: the frame's track row, to show the mouth interior planned for it by prepare().
        """
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
            self._fill_mouth(yuv, out, src[:, :2], dst[:, :2], index)
        return RenderedFrame(yuv=out, outcome="edited", box=box)

    def _fill_mouth(
        self, yuv: np.ndarray, out: np.ndarray, s2: np.ndarray, d2: np.ndarray, index: int
    ) -> None:
        """Show the person's own mouth interior where the lips part wider than in the source; a
        shaded cavity when the clip gave none."""
        gain = self.options.mouth_fill_gain
        if self._bank is not None:
            self._bank.fill(yuv, out, s2, d2, index, gain)
        else:
            shade_cavity(yuv, out, s2, d2, gain)

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
                if self.options.rigid_eyes and loop in EYE_IRIS:
                    _uncover_eye(fine, sub, src_v, dst_v, loop, EYE_IRIS[loop])
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


def _uncover_eye(
    fine: np.ndarray,
    sub: Box,
    src_v: np.ndarray,
    dst_v: np.ndarray,
    loop: tuple[int, ...],
    centre: int,
) -> None:
    """Where the edit widens an eye, raise the lids over a rigid eye instead of stretching it.

    Inside the edited opening, each pixel shows the source pixel at the same place relative to
    the iris (the iris stays round and its highlight in place). Where that spot was hidden under
    a source lid, it shows the nearest uncovered spot at the same distance from the iris centre
    (an iris and the sclera around it are nearly radially uniform); where none is, the stretch
    stays. fine: (h, w, 2) per-pixel displacement over `sub`, changed in place.
    """
    s, d = src_v[list(loop)], dst_v[list(loop)]
    pairs = RIGHT_EYE_PAIRS if loop == RIGHT_EYE else LEFT_EYE_PAIRS
    o_src, o_dst = opening(src_v, pairs), opening(dst_v, pairs)
    if o_dst <= o_src:
        return  # a narrowed eye is already rigid (_field)
    h, w = fine.shape[:2]
    dmask = np.zeros((h, w), dtype=np.uint8)
    cv2.fillPoly(dmask, [np.round(d - [sub.x0, sub.y0]).astype(np.int32)], 1)
    ys, xs = np.nonzero(dmask)
    if len(xs) == 0:
        return
    # Where the source shows the eye: its opening less a margin at the lid line.
    sbox = warp_box(s, 1 << 30, 1 << 30)
    if sbox is None:
        return
    whole = np.zeros((sbox.height, sbox.width), dtype=np.uint8)
    cv2.fillPoly(whole, [np.round(s - [sbox.x0, sbox.y0]).astype(np.int32)], 1)
    near = cv2.erode(whole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    margin = max(1, int(round(LID_MARGIN * o_src)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    deep = cv2.erode(whole, disc)

    def shown(q: np.ndarray, mask: np.ndarray) -> np.ndarray:
        ix = np.round(q[:, 0]).astype(np.int64) - sbox.x0
        iy = np.round(q[:, 1]).astype(np.int64) - sbox.y0
        ok = (ix >= 0) & (iy >= 0) & (ix < sbox.width) & (iy < sbox.height)
        ok[ok] = mask[iy[ok], ix[ok]] > 0
        return ok

    p = np.stack([xs + sub.x0, ys + sub.y0], axis=1).astype(np.float64)
    c = src_v[centre].astype(np.float64)
    radius = float(np.linalg.norm(src_v[centre + 1 : centre + 5] - src_v[centre], axis=1).mean())
    rigid = p + (c - dst_v[centre])
    rel = rigid - c
    # Inside the iris a hidden spot shows its mirror image across the eye's axis through the
    # iris centre (an iris is symmetric); beyond the iris the rigid motion fades into the stretch.
    axis = (s[8] - s[0]).astype(np.float64)  # corner to corner
    normal = np.array([-axis[1], axis[0]]) / max(float(np.linalg.norm(axis)), 1e-6)
    mirrored = rigid - 2.0 * (rel @ normal)[:, None] * normal
    dist = np.linalg.norm(rel, axis=1)
    use_rigid = shown(rigid, near)
    use_mirror = ~use_rigid & (dist <= radius) & shown(mirrored, deep)
    q = np.where(use_mirror[:, None], mirrored, rigid)
    weight = np.clip((IRIS_FADE * radius - dist) / ((IRIS_FADE - 1.0) * radius), 0.0, 1.0)
    weight[~(use_rigid | use_mirror)] = 0.0
    stretch = fine[ys, xs].astype(np.float64)
    fine[ys, xs] = (weight[:, None] * (q - p) + (1.0 - weight[:, None]) * stretch).astype(
        np.float32
    )


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
