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


RISE_FRAMES = 6  # an added jaw drop / lip raise grows or shrinks over at least this many frames


def smooth_gate(gate: np.ndarray, frames: int = RISE_FRAMES) -> np.ndarray:
    """(T, ...) gates in time order -> gates that change by at most 1/frames per frame and never
    exceed the input (min over k of gate[t + k] + (|k| - 1) / frames): a closure stays closed
    (and its neighbouring frames too), and an added opening fades in and out around it instead
    of jumping with the speech's own opening, whose largest steps are right at the closure."""
    g = np.where(np.isfinite(gate), gate, 0.0)
    out = g.copy()
    for k in range(1, frames + 2):
        step = (k - 1) / frames
        out[:-k] = np.minimum(out[:-k], g[k:] + step)
        out[k:] = np.minimum(out[k:], g[:-k] + step)
    return out


def articulation_gates(gaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inner-lip gaps (T, 9) of the whole track (NaN where no face) -> gates: per frame (T,),
    smoothed in time, for the lip-parting channels; per pair (T, 9) for the pairs' relative
    motion."""
    frame = opening_gate(np.nanmean(gaps[:, _MIDDLE], axis=1) if gaps.size else gaps[:, 0])
    # Only the lip-parting channels (jaw drop, lip raise: large motions of the chin and lips)
    # fade in time; the pairs' own gate stays per frame, so the opening follows the speech.
    pair = opening_gate(gaps)
    return smooth_gate(frame), np.where(np.isfinite(pair), pair, 0.0)


def gate_opening(delta: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """Blendshape changes (B, 52) with the added part of OPENING_CHANNELS scaled by each frame's
    opening gate (B,) (articulation_gates)."""
    out = delta.copy()
    cols = list(OPENING_CHANNELS)
    out[:, cols] = np.where(delta[:, cols] > 0, delta[:, cols] * gate[:, None], delta[:, cols])
    return out


def keep_articulation(
    disp: np.ndarray, gap: np.ndarray, template: np.ndarray, gate: np.ndarray | None = None
) -> np.ndarray:
    """Correct displacements (B, 478, 3) so the lips articulate as in the original.

    `gap` (B, 9) is the original inner-lip opening of the same frames (inner_lip_gaps), in the
    normalised space; `gate` (B, 9) the share of an opening edit each pair takes (default:
    opening_gate(gap); articulation_gates smooths it in time); `template` the basis template.
    Returns the corrected displacements.
    """
    ups = [u for u, _ in INNER_LIP_PAIRS]
    lows = [lo for _, lo in INNER_LIP_PAIRS]
    rel = disp[:, lows] - disp[:, ups]  # (B, 9, 3): how the edit moves lower vs upper lip
    opens = rel[:, :, 1]  # > 0: the edit opens the pair
    keep = np.where(
        opens > 0,
        opening_gate(gap) if gate is None else gate,
        np.minimum(1.0, SHRINK * gap / np.maximum(-opens, 1e-9)),
    )  # (B, 9) share of the relative motion kept
    half = (1.0 - keep)[:, :, None] * rel / 2  # moved back toward the pair's shared motion
    up_w, low_w = lip_spread_weights(template.tobytes(), template.shape)
    return disp + np.einsum("nk,bkd->bnd", up_w, half) - np.einsum("nk,bkd->bnd", low_w, half)
