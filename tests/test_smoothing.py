"""One-Euro smoothing: synthetic signals with known truth, and a real talking clip."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from conftest import shared_clip
from emodirector.errors import InputError
from emodirector.smoothing import SmoothingOptions, limit_rate, one_euro, smooth_track
from emodirector.track import TrackResult

OPTS = SmoothingOptions()


def filt(x: np.ndarray, t: np.ndarray, **kw: float | bool) -> np.ndarray:
    return one_euro(
        x.reshape(len(t), -1),
        t,
        float(kw.get("min_cutoff", OPTS.landmark_min_cutoff)),
        float(kw.get("beta", OPTS.landmark_beta)),
        float(kw.get("d_cutoff", OPTS.d_cutoff)),
        zero_phase=bool(kw.get("zero_phase", True)),
    )


def test_noise_on_a_still_signal_is_reduced() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(250) / 25.0
    x = 0.5 + rng.normal(0, 0.01, size=(250, 3))
    y = filt(x, t)  # defaults: mild, tuned to keep speech (std x0.59 here)
    assert np.std(y[10:-10] - 0.5) < 0.7 * np.std(x - 0.5)
    assert abs(np.mean(y) - 0.5) < 0.005  # no bias
    strong = filt(x, t, min_cutoff=1.0, beta=0.0)  # a plain 1 Hz low-pass, both directions
    assert np.std(strong[10:-10] - 0.5) < 0.4 * np.std(x - 0.5)


def test_step_is_followed_with_bounded_lag() -> None:
    t = np.arange(100) / 25.0
    x = np.where(t >= 2.0, 1.0, 0.0)
    for zero_phase in (True, False):
        y = filt(x, t, zero_phase=zero_phase)[:, 0]
        far = np.abs(t - 2.0) > 0.2  # beyond 0.2 s of the step it has settled
        assert np.all(np.abs(y[far] - x[far]) < 0.1), zero_phase
        assert np.all(np.diff(y) >= -1e-12)  # no overshoot back and forth
    causal = filt(x, t, zero_phase=False)[:, 0]
    assert np.all(causal[t < 2.0] == 0.0)  # a causal filter does not anticipate


def test_zero_phase_has_no_lag_on_a_ramp_with_irregular_timestamps() -> None:
    """Time steps come from the timestamps: on a variable-rate ramp the output stays on it."""
    rng = np.random.default_rng(2)
    t = np.cumsum(rng.choice([1 / 30, 2 / 30, 1 / 15], size=120))
    x = 0.3 * t
    y = filt(x, t)[:, 0]
    assert np.max(np.abs(y[10:-10] - x[10:-10])) < 1e-3
    causal = filt(x, t, zero_phase=False)[:, 0]
    assert np.mean(causal[10:-10] - x[10:-10]) < -1e-3  # the causal pass lags behind a ramp


def test_fast_motion_raises_the_cutoff() -> None:
    """A 4 Hz oscillation (speech rate) keeps more amplitude with beta than without."""
    t = np.arange(125) / 25.0
    x = 0.05 * np.sin(2 * np.pi * 4.0 * t)
    with_beta = filt(x, t)[:, 0]
    without = filt(x, t, beta=0.0)[:, 0]
    amp = lambda y: np.ptp(y[25:-25])  # noqa: E731
    assert amp(with_beta) > 1.2 * amp(without)
    assert amp(with_beta) > 0.75 * amp(x)


def test_nan_gaps_stay_nan_and_nothing_leaks_across_them() -> None:
    t = np.arange(60) / 25.0
    x = np.where(t < 1.0, 0.0, 10.0).reshape(-1, 1)
    x[22:28] = np.nan  # a gap across the jump
    y = filt(x, t)
    assert np.isnan(y[22:28]).all()
    assert np.all(y[:22] == 0.0) and np.all(y[28:] == 10.0)


def test_one_euro_rejects_mismatched_shapes() -> None:
    with pytest.raises(InputError):
        one_euro(np.zeros((5, 2)), np.zeros(4), 1.0, 0.0)
    with pytest.raises(InputError):
        SmoothingOptions(landmark_min_cutoff=0.0).check()


def test_smooth_track_on_a_real_clip_reduces_jitter_and_keeps_the_mouth(
    tracked: Callable[..., TrackResult],
) -> None:
    raw = tracked(shared_clip("talking_frontal_c.mp4")).track
    sm = smooth_track(raw)
    assert sm.landmarks.shape == raw.landmarks.shape and sm.landmarks.dtype == np.float32
    assert np.array_equal(sm.valid, raw.valid) and sm.meta["smoothing"] == "True"
    size = float(np.median(raw.boxes[:, 2] - raw.boxes[:, 0]))

    def accel(track_lm: np.ndarray) -> float:  # nose bridge + forehead: rigid points
        p = track_lm[:, [168, 6, 10, 151], :2] / size
        return float(np.sqrt(np.mean(np.diff(p, n=2, axis=0) ** 2)))

    assert accel(sm.landmarks) < 0.8 * accel(raw.landmarks)
    jaw_raw, jaw_sm = raw.channel("jawOpen"), sm.channel("jawOpen")
    assert np.corrcoef(jaw_raw, jaw_sm)[0, 1] > 0.95
    assert np.max(jaw_sm) > 0.75 * np.max(jaw_raw)
    lips = lambda lm: np.linalg.norm(lm[:, 13, :2] - lm[:, 14, :2], axis=1)  # noqa: E731
    assert np.corrcoef(lips(raw.landmarks), lips(sm.landmarks))[0, 1] > 0.95
    b = sm.boxes[sm.valid]  # boxes follow the smoothed landmarks
    assert np.allclose(b[:, 0], sm.landmarks[sm.valid][:, :, 0].min(axis=1))


def test_limit_rate_takes_away_only_next_to_fast_changes() -> None:
    """The cone envelope: never above x, slope at most `rate`, x itself where x is slow enough,
    and zeros stay zeros (a closure keeps no added opening)."""
    t = np.cumsum(np.r_[0.0, np.full(59, 1 / 30), 2 / 30, np.full(39, 1 / 30)])  # one dropped frame
    x = np.where((t > 0.5) & (t < 1.2), 0.1, 0.0) + np.where(t > 2.0, 0.02 * t, 0.0)
    x[75] = np.nan  # a frame without a face constrains nothing
    y = limit_rate(x, t, 0.3)
    ok = np.isfinite(x)
    assert (y[ok] <= x[ok] + 1e-12).all()
    assert (np.abs(np.diff(y)) <= 0.3 * np.diff(t) + 1e-12).all()
    assert (y[ok & (x == 0.0)] == 0.0).all()
    slow = ok & (t > 2.2)  # a ramp of 0.02 / s is left as it is
    np.testing.assert_allclose(y[slow], x[slow])
    assert y[(t > 0.5) & (t < 1.2)].max() == pytest.approx(0.1)  # a long plateau is reached
    cols = limit_rate(np.stack([x, 2 * x], axis=1), t, 0.3)  # columns are limited one by one
    np.testing.assert_array_equal(cols[:, 0], y)
