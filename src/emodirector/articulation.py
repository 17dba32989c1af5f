"""Speech kept as articulation, not as an exact lip gap.

What makes the words visible: the lips meet where the speaker's lips meet (m, b, p), they open
and close in the speech's rhythm, they round (pucker, funnel; those channels are never edited)
and the jaw moves with the syllables. An emotion adds its own opening on top: the upper lip
rises in a grin or a sneer, the jaw drops in surprise and fear (REAL_EXPRESSIONS.md: every
strong emotion but sadness opens the lips by a further 6-10 % of the inter-ocular distance).

So each inner-lip pair (upper, lower point) keeps the shared part of the edit's displacement,
while the part that opens the pair may use only the room the original lips leave
(opening_room): nothing where they touch, then at most OPEN_SLOPE x how far they are open, so
the edited lips open and close at most 1 + OPEN_SLOPE times as fast as the speaker's. An edit
that closes the pair may take away at most SHRINK of the original gap, so the speech's opening
stays.

Why the gates are also limited over time (opening_rooms): a speaker's lips can go from touching
to wide open in one frame (a plosive release). A gate that follows each frame's gap at once makes
the added opening appear in that same frame, on top of the speaker's own fastest motion: the
edited lower lip snapped by 33 px where the clip's own largest step is 19 px (talking_frontal_a),
and the re-tracked jitter of `report` rose from about 1.1 to 1.3 x the original's on the edits
that open the mouth. So the lips' room grows and shrinks by at most OPEN_RATE per second, the
jaw's share of its drop by at most JAW_RATE per second, and neither moves in a frame where the
speaker's lips already move faster than CALM_STEP x their fastest in the clip (opening_clock).
This is not a low-pass: a gate never exceeds what the frame's own gap allows, so closures stay
closed; it only takes the added opening away next to fast openings and closings. (Fading the
gate with a low-pass instead dropped the re-tracked lip-opening correlation to 0.84.) The price
is a smaller added opening in short syllables, hence a weaker grin or gasp. Measured with
scripts/measure_emotions.py --seconds 3 (5 talking clips x 8 emotions) against the instant
smoothstep gates: re-tracked jitter ratio 1.06 (0.90-1.29) instead of 1.13 (0.94-1.45); closed-lip
frames kept 0.976 (min 0.88) instead of 0.972 (min 0.86); lip-opening correlation 0.976 (min
0.946, happy on head_motion) instead of 0.983 (min 0.950); mean added opening +0.017 instead of
+0.049 IOD; FER target rise: surprised +0.13 instead of +0.20, angry +0.19 instead of +0.21,
the others within 0.01. The jaw's gate is steeper (JAW_FULL) than the lips' room because the
chin drop of real emotions shows on most frames; OPEN_SLOPE 0.75 instead of 0.5 gave more added
opening but a lip-opening correlation under 0.94 on talking_frontal_b and talking_vfr.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .expression import INNER_LIP_PAIRS, lip_spread_weights
from .smoothing import limit_rate
from .track import BLENDSHAPE_NAMES

# Normalised face space, unit = outer-eye-corner distance (about 1.5x the eye-centre distance
# `report` uses). Closed lips leave inner-lip gaps under ~0.01 in MediaPipe's mesh.
OPEN_START = 0.03  # original gap below which the pair counts as closed: no added opening
OPEN_SLOPE = 0.5  # added opening <= OPEN_SLOPE x (gap - OPEN_START): lips move <= 1.5x as fast
OPEN_RATE = 0.2  # fastest the room for added opening may grow or shrink, per second
JAW_FULL = 0.045  # original gap from which the jaw's whole added drop applies (before limits)
JAW_RATE = 8.0  # fastest the jaw's share of its added drop may change, per second
CALM_STEP = 0.5  # gates move only where the lips change by less than this x their fastest
SHRINK = 0.1  # largest share of the original gap an edit may close


def opening_room(gap: np.ndarray) -> np.ndarray:
    """Largest added opening (normalised units) on lips open by `gap` in one frame: 0 where they
    touch, then OPEN_SLOPE x (gap - OPEN_START). A slope, not a switch: the added opening then
    grows no faster than the speaker's own opening (the former smoothstep from 0.03 to 0.08 let
    it grow up to 5 times as fast)."""
    return np.asarray(OPEN_SLOPE * np.maximum(gap - OPEN_START, 0.0))


def jaw_gate(gap: np.ndarray) -> np.ndarray:
    """0 where the original inner lips touch, 1 once open by JAW_FULL, a smoothstep between."""
    x = np.clip((gap - OPEN_START) / (JAW_FULL - OPEN_START), 0.0, 1.0)
    return np.asarray(x * x * (3.0 - 2.0 * x))


def opening_clock(gap: np.ndarray, times: np.ndarray, rate: float) -> np.ndarray:
    """(T, ...) clock for limit_rate(x, clock, 1.0), from the original gaps `gap` (T, ...) (NaN
    where no face) at `times` (T,) seconds: how far a gate may have moved by each frame.

    Between two frames it moves by `rate` per second where the speaker's lips change by less
    than CALM_STEP x their fastest change in the clip, and not at all where they move faster:
    the added opening never piles onto the speaker's own fastest openings and closings.
    """
    step = np.abs(np.diff(gap, axis=0))  # NaN next to a frame without a face
    seen = np.isfinite(step)
    fastest = np.max(np.where(seen, step, 0.0), axis=0, keepdims=True)
    dt = np.diff(np.asarray(times, np.float64)).reshape((-1,) + (1,) * (gap.ndim - 1))
    allow = np.where(seen & (step > CALM_STEP * fastest), 0.0, rate * dt)
    return np.concatenate([np.zeros((1,) + gap.shape[1:]), np.cumsum(allow, axis=0)])


def opening_rooms(gaps: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From the original gaps (T, 9) (NaN where no face) at `times` (T,) seconds: (T, 9) room
    for added opening of each pair and (T,) of the middle pairs together (opening_room, moving
    at most OPEN_RATE per second), and (T,) share of the jaw's added drop (jaw_gate of the
    middle pairs, moving at most JAW_RATE per second); none moves where the speaker's lips move
    fast (opening_clock)."""
    middle = gaps[:, _MIDDLE].mean(axis=1)
    pair = limit_rate(opening_room(gaps), opening_clock(gaps, times, OPEN_RATE), 1.0)
    mid_clock = opening_clock(middle, times, OPEN_RATE)
    jaw_clock = opening_clock(middle, times, JAW_RATE)
    return (
        pair,
        limit_rate(opening_room(middle), mid_clock, 1.0),
        limit_rate(jaw_gate(middle), jaw_clock, 1.0),
    )


# The channels through which an emotion parts the lips: on closed lips (m, b, p) real faces do
# not raise the upper lip, and a lip texture stretched over closed lips reads as parted lips once
# re-tracked, so their rise may use only the room the original lips leave.
OPENING_CHANNELS = tuple(
    BLENDSHAPE_NAMES.index(n)
    for n in ("mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft", "mouthLowerDownRight")
)
# Nor do they drop the jaw on closed lips; but the jaw's drop also lowers the chin, which real
# surprise, fear, anger and joy show on most frames (REAL_EXPRESSIONS.md table 2), so its rise
# has a gate of its own (jaw_gate) that is steeper and faster than the lips' room, while the
# lips' share of it is still held within their room pair by pair (keep_articulation).
JAW = BLENDSHAPE_NAMES.index("jawOpen")
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


def channel_opening(delta: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """(B,) opening (normalised units) that the rise of OPENING_CHANNELS in blendshape changes
    `delta` (B, 52) adds to the middle inner-lip pairs, through the basis `fields` (52, 478, 3)."""
    cols = list(OPENING_CHANNELS)
    ups = [u for u, _ in INNER_LIP_PAIRS][_MIDDLE]
    lows = [lo for _, lo in INNER_LIP_PAIRS][_MIDDLE]
    per = (fields[cols][:, lows, 1] - fields[cols][:, ups, 1]).mean(axis=1)  # (C,)
    return np.asarray(np.maximum(delta[:, cols], 0.0) @ per)


def gate_opening(
    delta: np.ndarray, room: np.ndarray, jaw: np.ndarray, fields: np.ndarray
) -> np.ndarray:
    """Blendshape changes (B, 52) with the rise of OPENING_CHANNELS scaled down so that the
    opening it adds to the middle pairs (channel_opening) stays within `room` (B,), and the rise
    of jawOpen scaled by `jaw` (B,) (both from opening_rooms)."""
    gate = np.minimum(1.0, room / np.maximum(channel_opening(delta, fields), 1e-12))
    out = delta.copy()
    cols = list(OPENING_CHANNELS)
    out[:, cols] = np.where(delta[:, cols] > 0, delta[:, cols] * gate[:, None], delta[:, cols])
    out[:, JAW] = np.where(delta[:, JAW] > 0, delta[:, JAW] * jaw, delta[:, JAW])
    return out


def keep_articulation(
    disp: np.ndarray, gap: np.ndarray, template: np.ndarray, room: np.ndarray | None = None
) -> np.ndarray:
    """Correct displacements (B, 478, 3) so the lips articulate as in the original.

    `gap` (B, 9) is the original inner-lip opening of the same frames (inner_lip_gaps), in the
    normalised space; `template` the basis template; `room` (B, 9) the largest added opening of
    each pair (opening_rooms; default: opening_room of `gap`, for frames seen one by one).
    Returns the corrected displacements.
    """
    ups = [u for u, _ in INNER_LIP_PAIRS]
    lows = [lo for _, lo in INNER_LIP_PAIRS]
    rel = disp[:, lows] - disp[:, ups]  # (B, 9, 3): how the edit moves lower vs upper lip
    opens = rel[:, :, 1]  # > 0: the edit opens the pair
    keep = np.where(
        opens > 0,
        np.minimum(1.0, (opening_room(gap) if room is None else room) / np.maximum(opens, 1e-12)),
        np.minimum(1.0, SHRINK * gap / np.maximum(-opens, 1e-9)),
    )  # (B, 9) share of the relative motion kept
    half = (1.0 - keep)[:, :, None] * rel / 2  # moved back toward the pair's shared motion
    up_w, low_w = lip_spread_weights(template.tobytes(), template.shape)
    return disp + np.einsum("nk,bkd->bnd", up_w, half) - np.einsum("nk,bkd->bnd", low_w, half)
