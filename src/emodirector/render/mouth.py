"""The mouth cavity: what shows where the edited lips part wider than the source's."""

from __future__ import annotations

import cv2
import numpy as np

from .base import i420_planes
from .mesh import (
    INNER_LIP_LOWER,
    INNER_LIP_PAIRS,
    INNER_LIP_UPPER,
    OUTER_LIP,
    Box,
    opening,
    warp_box,
)

# Y, U, V of a mouth cavity when the source lips cannot be sampled (a dark, slightly red shadow).
CAVITY_FALLBACK = (30.0, 126.0, 140.0)


def shade_cavity(
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
