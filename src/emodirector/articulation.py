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

Why the room is also limited over time (opening_rooms): a speaker's lips can go from touching to
wide open in one frame (a plosive release). A room that follows each frame's gap at once makes
the added opening appear in that same frame, on top of the speaker's own fastest motion: the
edited lower lip snapped by 33 px where the clip's own largest step is 19 px (talking_frontal_a),
and the re-tracked jitter of `report` rose from about 1.1 to 1.3 x the original's. So the room
grows and shrinks by at most OPEN_RATE per second, and not at all in a frame where the
speaker's lips already move as fast as they ever do in the clip (opening_clock). This is not a
low-pass: the room never exceeds what the frame's own gap allows, so closures stay closed; it
only takes the added opening away next to fast openings and closings. (Fading the gate with a
low-pass instead dropped the re-tracked lip-opening correlation to 0.84.) The price: less added
opening in short syllables, so a weaker gasp or grin than before (measured on the first 3 s of
talking_frontal_a and talking_vfr, happy / surprised / fear: added inner-lip opening +0.028
instead of +0.087 IOD, FER-2013 target rise for surprise +0.06 instead of +0.10).
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
OPEN_SLOPE = 0.75  # added opening <= OPEN_SLOPE x (gap - OPEN_START): lips move <= 1.75x as fast
OPEN_RATE = 0.2  # fastest the room for added opening may grow or shrink, per second
SHRINK = 0.1  # largest share of the original gap an edit may close


def opening_room(gap: np.ndarray) -> np.ndarray:
    """Largest added opening (normalised units) on lips open by `gap` in one frame: 0 where they
    touch, then OPEN_SLOPE x (gap - OPEN_START). A slope, not a switch: the added opening then
    grows no faster than the speaker's own opening (the former smoothstep from 0.03 to 0.08 let
    it grow up to 5 times as fast)."""
    return np.asarray(OPEN_SLOPE * np.maximum(gap - OPEN_START, 0.0))


def opening_clock(gap: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(T, ...) clock for limit_rate(room, clock, 1.0), from the original gaps `gap` (T, ...) (NaN
    where no face) at `times` (T,) seconds: how far the room for added opening may move by each
    frame.

    Between two frames it moves by at most OPEN_RATE per second, and by no more than the clip's
    fastest own change of that gap minus the change the speaker's lips make there: where the
    speaker's lips open or close as fast as they ever do in the clip, the added opening does not
    move in that frame, so the edited lips never move faster than the speaker's fastest.
    """
    step = np.abs(np.diff(gap, axis=0))  # NaN next to a frame without a face
    seen = np.isfinite(step)
    fastest = np.max(np.where(seen, step, 0.0), axis=0, keepdims=True)
    dt = np.diff(np.asarray(times, np.float64)).reshape((-1,) + (1,) * (gap.ndim - 1))
    allow = np.minimum(OPEN_RATE * dt, np.maximum(fastest - np.where(seen, step, 0.0), 0.0))
    return np.concatenate([np.zeros((1,) + gap.shape[1:]), np.cumsum(allow, axis=0)])


def opening_rooms(gaps: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 9) room for added opening of each pair and (T,) of the middle pairs together, from
    the original gaps (T, 9) (NaN where no face) at `times` (T,) seconds: opening_room, moving
    only as fast as opening_clock allows."""
    middle = gaps[:, _MIDDLE].mean(axis=1)
    pair = limit_rate(opening_room(gaps), opening_clock(gaps, times), 1.0)
    return pair, limit_rate(opening_room(middle), opening_clock(middle, times), 1.0)


# The channels through which an emotion parts the lips: on closed lips (m, b, p) real faces do
# not raise the upper lip or drop the jaw, and a lip texture stretched over closed lips reads as
# parted lips once re-tracked, so their rise may use only the room the original lips leave.
OPENING_CHANNELS = tuple(
    BLENDSHAPE_NAMES.index(n)
    for n in ("jawOpen", "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft",
              "mouthLowerDownRight")
)  # fmt: skip
# Share of jawOpen's rise kept on every frame, closed lips included (keep_articulation still holds
# closed pairs together). Once the room is limited in time it would otherwise take away most of
# the chin drop that real surprise, fear, anger and joy show (REAL_EXPRESSIONS.md table 2; the
# chin_down margins of the tests); all of it kept loses re-tracked closures (closed-lip frames
# still closed: 0.87 instead of 0.96 on talking_frontal_a and talking_vfr), 0.7 keeps 0.93.
JAW_KEPT = 0.7
# (C,) share of each OPENING_CHANNELS rise that the room governs
_GATED = np.array([1.0 - JAW_KEPT if BLENDSHAPE_NAMES[c] == "jawOpen" else 1.0
                   for c in OPENING_CHANNELS])  # fmt: skip
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
    """(B,) opening (normalised units) that the governed rise of OPENING_CHANNELS (all of it but
    the JAW_KEPT share of jawOpen) in blendshape changes `delta` (B, 52) adds to the middle
    inner-lip pairs, through the basis `fields` (52, 478, 3)."""
    cols = list(OPENING_CHANNELS)
    ups = [u for u, _ in INNER_LIP_PAIRS][_MIDDLE]
    lows = [lo for _, lo in INNER_LIP_PAIRS][_MIDDLE]
    per = (fields[cols][:, lows, 1] - fields[cols][:, ups, 1]).mean(axis=1)  # (5,)
    return np.asarray(np.maximum(delta[:, cols], 0.0) @ (per * _GATED))


def gate_opening(delta: np.ndarray, room: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """Blendshape changes (B, 52) with the governed rise of OPENING_CHANNELS scaled down so that
    the opening it adds to the middle pairs (channel_opening) stays within `room` (B,), the
    middle pairs' room of opening_rooms."""
    gate = np.minimum(1.0, room / np.maximum(channel_opening(delta, fields), 1e-12))
    out = delta.copy()
    cols = list(OPENING_CHANNELS)
    scale = 1.0 - _GATED + _GATED * gate[:, None]  # (B, C)
    out[:, cols] = np.where(delta[:, cols] > 0, delta[:, cols] * scale, delta[:, cols])
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
