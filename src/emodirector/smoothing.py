"""Temporal smoothing of a track: a One-Euro filter run forward and backward (no lag).

Why One-Euro: detector jitter is small and fast while speech is large and fast; a fixed low-pass
either leaves jitter or blunts the mouth. One-Euro lowers its cutoff when a signal is still and
raises it when it moves. Why both directions: tracking is offline, and the mean of a forward and
a backward pass cancels the causal filter's lag. Timestamps (not an assumed fps) set each step, so
variable frame rate works; NaN rows (frames without a face) split the signal and each run is
filtered on its own, so nothing leaks across a gap.

Also limit_rate, the other temporal tool: the largest signal under a given one whose rate of
change is bounded (used by the edit's gates: articulation's room for added opening, the blink
freeze), which unlike a low-pass never rises above the signal it limits.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .types import FaceTrack


@dataclass(frozen=True)
class SmoothingOptions:
    """One-Euro parameters. Landmarks are filtered in face-size units (x / median box size), so
    one set of values fits every resolution; blendshapes are filtered as they are (0..1)."""

    # Measured on 5 talking clips: still-point jitter x0.44-0.80, but lip-opening peaks x0.86-0.96
    # and jawOpen peaks x0.84-0.94 of raw, and the mesh follows the skin less well than raw (grey
    # patches around landmarks match less between frames on 3 of 5 clips). Hence off by default.
    landmark_min_cutoff: float = 3.0  # Hz: cutoff while a landmark is still
    landmark_beta: float = 10.0  # cutoff rise per (face size / s) of speed
    blendshape_min_cutoff: float = 3.0  # Hz
    blendshape_beta: float = 2.5  # cutoff rise per (unit / s) of speed
    d_cutoff: float = 4.0  # Hz: cutoff of the speed estimate
    zero_phase: bool = True  # mean of forward and backward passes (no lag; offline only)

    def check(self) -> None:
        values = (self.landmark_min_cutoff, self.blendshape_min_cutoff, self.d_cutoff)
        if min(values) <= 0 or min(self.landmark_beta, self.blendshape_beta) < 0:
            raise InputError("smoothing cutoffs must be > 0 Hz and betas >= 0.")


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


def _one_euro_run(
    x: np.ndarray, t: np.ndarray, min_cutoff: float, beta: float, d_cutoff: float
) -> np.ndarray:
    """Causal One-Euro over one gap-free run: x (N, C) float64, t (N,) increasing seconds."""
    out = np.empty_like(x)
    out[0] = prev = x[0]
    dprev = np.zeros(x.shape[1])
    for i in range(1, len(x)):
        dt = float(t[i] - t[i - 1])
        if dt <= 0:  # duplicate timestamp: keep the previous estimate rather than divide by 0
            out[i] = prev
            continue
        ad = _alpha(d_cutoff, dt)
        dprev = ad * (x[i] - prev) / dt + (1 - ad) * dprev
        a = _alpha(min_cutoff + beta * np.abs(dprev), dt)
        prev = a * x[i] + (1 - a) * prev
        out[i] = prev
    return out


def one_euro(
    x: np.ndarray,
    t: np.ndarray,
    min_cutoff: float,
    beta: float,
    d_cutoff: float = 1.0,
    *,
    zero_phase: bool = True,
) -> np.ndarray:
    """Smooth x (T, C) sampled at times t (T,) seconds; rows holding any NaN stay NaN and split
    the signal into runs filtered separately. Returns float64 (T, C)."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if x.ndim != 2 or t.shape != (x.shape[0],):
        raise InputError(f"one_euro needs x (T, C) and t (T,), got {x.shape} and {t.shape}.")
    out = np.full_like(x, np.nan)
    ok = np.isfinite(x).all(axis=1)
    for a, b in _runs(ok):
        fwd = _one_euro_run(x[a:b], t[a:b], min_cutoff, beta, d_cutoff)
        if zero_phase:
            bwd = _one_euro_run(x[a:b][::-1], -t[a:b][::-1], min_cutoff, beta, d_cutoff)[::-1]
            fwd = 0.5 * (fwd + bwd)
        out[a:b] = fwd
    return out


def limit_rate(x: np.ndarray, times: np.ndarray, rate: float) -> np.ndarray:
    """The largest y <= x (T, ...) that changes by at most `rate` per second along axis 0.

    y[i] = min over j of x[j] + rate * |times[i] - times[j]|, the lower envelope of cones set on
    x: unlike a low-pass it never rises above x (where x is 0, y is 0 too) and it leaves x as it
    is wherever x changes slowly enough. NaN in x = no constraint from that frame. `times`: (T,)
    or x's shape, non-decreasing along axis 0 (any clock, e.g. articulation.opening_clock).
    """
    t = np.asarray(times, np.float64)
    t = t if t.shape == x.shape else t.reshape((-1,) + (1,) * (x.ndim - 1))
    free = np.where(np.isnan(x), np.inf, x)
    ahead = rate * t + np.minimum.accumulate(free - rate * t, axis=0)
    behind = -rate * t + np.flip(np.minimum.accumulate(np.flip(free + rate * t, 0), axis=0), 0)
    return np.asarray(np.minimum(ahead, behind))


def _runs(ok: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the runs of True in ok."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def smooth_track(track: FaceTrack, options: SmoothingOptions = SmoothingOptions()) -> FaceTrack:
    """A copy of `track` with landmarks and blendshapes smoothed over time (boxes follow the
    smoothed landmarks). Head-pose matrices are left as tracked. Invalid frames stay NaN."""
    options.check()
    t = track.timestamps
    valid = track.valid
    lm = track.landmarks.reshape(track.n_frames, -1).astype(np.float64)
    lm[~valid] = np.nan
    boxes = track.boxes[valid]
    scale = float(np.median(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
    if not np.isfinite(scale) or scale <= 0:
        return dataclasses.replace(track, meta={**track.meta, "smoothing": "True"})
    lm_s = (
        one_euro(
            lm / scale,
            t,
            options.landmark_min_cutoff,
            options.landmark_beta,
            options.d_cutoff,
            zero_phase=options.zero_phase,
        )
        * scale
    )
    bs = track.blendshapes.astype(np.float64)
    bs[~valid] = np.nan
    bs_s = one_euro(
        bs,
        t,
        options.blendshape_min_cutoff,
        options.blendshape_beta,
        options.d_cutoff,
        zero_phase=options.zero_phase,
    )
    landmarks = lm_s.reshape(track.landmarks.shape).astype(np.float32)
    new_boxes = np.full_like(track.boxes, np.nan)
    new_boxes[valid, :2] = landmarks[valid, :, :2].min(axis=1)
    new_boxes[valid, 2:] = landmarks[valid, :, :2].max(axis=1)
    return dataclasses.replace(
        track,
        landmarks=landmarks,
        blendshapes=np.clip(bs_s, 0.0, 1.0).astype(np.float32),
        boxes=new_boxes,
        meta={**track.meta, "smoothing": "True"},
    )
