"""Speech kept as articulation, not as an exact lip gap.

What makes the words visible: the lips meet where the speaker's lips meet (m, b, p), they open
and close in the speech's rhythm, they round (pucker, funnel; those channels are never edited)
and the jaw moves with the syllables. An emotion adds its own opening on top: the upper lip
rises in a grin or a sneer, the jaw drops in surprise and fear (REAL_EXPRESSIONS.md: every
strong emotion but sadness opens the lips by a further 6-10 % of the inter-ocular distance).

So each inner-lip pair (upper, lower point) keeps the shared part of the edit's displacement,
while the part that opens the pair is scaled by how open the original pair is: nothing where
the original lips touch, all of it once they are open by OPEN_FULL. An edit that closes the
pair may take away at most SHRINK of the original gap, so the speech's opening stays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .expression import INNER_LIP_PAIRS, lip_spread_weights
from .track import BLENDSHAPE_NAMES

# Normalised face space, unit = outer-eye-corner distance (about 1.5x the eye-centre distance
# `report` uses). Closed lips leave inner-lip gaps under ~0.01 in MediaPipe's mesh.
OPEN_START = 0.03  # original gap below which the pair counts as closed: no added opening
OPEN_FULL = 0.08  # original gap from which the edit's whole added opening applies
SHRINK = 0.1  # largest share of the original gap an edit may close


def opening_gate(gap: np.ndarray) -> np.ndarray:
    """0 where the original inner lips touch, 1 once open by OPEN_FULL, a smoothstep between."""
    x = np.clip((gap - OPEN_START) / (OPEN_FULL - OPEN_START), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


# The channels through which an emotion parts the lips: on closed lips (m, b, p) real faces do
# not raise the upper lip or drop the jaw, and a lip texture stretched upward over closed lips
# reads as parted lips, so their added part is gated by how open the original lips are.
OPENING_CHANNELS = tuple(
    BLENDSHAPE_NAMES.index(n)
    for n in ("jawOpen", "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft",
              "mouthLowerDownRight")
)  # fmt: skip
_MIDDLE = slice(2, 7)  # the inner-lip pairs away from the corners


def inner_lip_gaps(
    landmarks: np.ndarray, to_normalised: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """(B, 9) vertical gap of each INNER_LIP_PAIRS pair (normalised space, > 0 = apart) of
    landmarks (B, 478, 3); `to_normalised` maps (B, k, 3) pixel points to the normalised space."""
    ups = [u for u, _ in INNER_LIP_PAIRS]
    lows = [lo for _, lo in INNER_LIP_PAIRS]
    pts = to_normalised(landmarks[:, ups + lows])
    n = len(INNER_LIP_PAIRS)
    return np.asarray(np.maximum(pts[:, n:, 1] - pts[:, :n, 1], 0.0))


def gate_opening(delta: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Blendshape changes (B, 52) with the added part of OPENING_CHANNELS scaled by the frame's
    opening gate (the mean gap of the middle inner-lip pairs, from `gaps` (B, 9))."""
    gate = opening_gate(gaps[:, _MIDDLE].mean(axis=1))
    out = delta.copy()
    cols = list(OPENING_CHANNELS)
    out[:, cols] = np.where(delta[:, cols] > 0, delta[:, cols] * gate[:, None], delta[:, cols])
    return out


def keep_articulation(disp: np.ndarray, gap: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Correct displacements (B, 478, 3) so the lips articulate as in the original.

    `gap` (B, 9) is the original inner-lip opening of the same frames (inner_lip_gaps), in the
    normalised space; `template` the basis template. Returns the corrected displacements.
    """
    ups = [u for u, _ in INNER_LIP_PAIRS]
    lows = [lo for _, lo in INNER_LIP_PAIRS]
    rel = disp[:, lows] - disp[:, ups]  # (B, 9, 3): how the edit moves lower vs upper lip
    opens = rel[:, :, 1]  # > 0: the edit opens the pair
    keep = np.where(
        opens > 0,
        opening_gate(gap),
        np.minimum(1.0, SHRINK * gap / np.maximum(-opens, 1e-9)),
    )  # (B, 9) share of the relative motion kept
    half = (1.0 - keep)[:, :, None] * rel / 2  # moved back toward the pair's shared motion
    up_w, low_w = lip_spread_weights(template.tobytes(), template.shape)
    return disp + np.einsum("nk,bkd->bnd", up_w, half) - np.einsum("nk,bkd->bnd", low_w, half)
