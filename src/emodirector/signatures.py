"""Emotion signatures: blendshape changes grouped over left/right, and those of real acted emotions.

Used to check an edit (requested vs achieved, achieved vs real) and to learn presets. A *group*
is one facial action with its left and right channels averaged (mouthSmile = mean of
mouthSmileLeft and mouthSmileRight), because the tracker's L/R channels are nearly collinear.
"""

from __future__ import annotations

import numpy as np

from .track import BLENDSHAPE_NAMES

# The channel groups an emotion edit is measured on: every channel the presets move and that
# MediaPipe actually outputs (it never outputs noseSneer, cheekSquint or cheekPuff, so those
# cannot be checked by re-tracking), plus the speech channels an emotion adds to (jawOpen,
# mouthUpperUp, mouthLowerDown). mouthPucker/Funnel/Roll/Close stay speech; blinks and gaze
# are never edited.
MEASURE_GROUPS = (
    "browDown", "browInnerUp", "browOuterUp", "eyeSquint", "eyeWide", "mouthSmile", "mouthFrown",
    "mouthStretch", "mouthDimple", "mouthPress", "mouthUpperUp", "mouthLowerDown", "jawOpen",
)  # fmt: skip


def group_columns(group: str) -> list[int]:
    """Blendshape indices of a group: NAME, or NAMELeft and NAMERight."""
    if group in BLENDSHAPE_NAMES:
        return [BLENDSHAPE_NAMES.index(group)]
    return [BLENDSHAPE_NAMES.index(group + side) for side in ("Left", "Right")]


def group_means(change: np.ndarray) -> np.ndarray:
    """(..., 52) blendshape changes -> (G,) mean change per MEASURE_GROUPS entry, L/R averaged,
    averaged over all leading axes (frames) and ignoring NaN rows."""
    c = np.asarray(change, np.float64).reshape(-1, len(BLENDSHAPE_NAMES))
    c = c[np.isfinite(c).all(axis=1)]
    if c.shape[0] == 0:
        return np.full(len(MEASURE_GROUPS), np.nan)
    mean = c.mean(axis=0)
    return np.array([mean[group_columns(g)].mean() for g in MEASURE_GROUPS])


# ../shared/REAL_EXPRESSIONS.md table 1: 3 MEAD actors at level 3, each emotion clip's mean minus
# the same actor's neutral clip, L/R averaged ("mouthStretch (right) +0.18" averages to +0.09,
# contempt's mouthUpperUp left 0.33 / right 0.14 to 0.235). Groups not listed count as 0.
# Directions are solid; magnitudes +-40 % (3 actors).
REAL_SIGNATURES: dict[str, dict[str, float]] = {
    "happy": {"mouthSmile": 0.43, "mouthUpperUp": 0.41, "eyeSquint": 0.21, "mouthLowerDown": 0.15},
    "surprised": {
        "browInnerUp": 0.41, "browOuterUp": 0.38, "eyeWide": 0.21, "jawOpen": 0.17,
        "eyeSquint": -0.15,
    },
    "sad": {"eyeSquint": 0.42, "browOuterUp": -0.29, "mouthFrown": 0.10, "browInnerUp": -0.04},
    "angry": {
        "eyeSquint": 0.45, "browInnerUp": -0.42, "browOuterUp": -0.39, "jawOpen": 0.16,
        "mouthSmile": 0.15, "browDown": 0.14, "mouthPress": 0.01,
    },
    "disgusted": {
        "browInnerUp": -0.40, "eyeSquint": 0.37, "browOuterUp": -0.33, "mouthUpperUp": 0.26,
        "mouthStretch": 0.09, "browDown": 0.13, "mouthFrown": 0.09,
    },
    "fear": {
        "browInnerUp": 0.27, "jawOpen": 0.17, "browOuterUp": 0.13, "mouthSmile": 0.13,
        "eyeWide": 0.11, "mouthStretch": 0.02,
    },
    "contempt": {
        "browInnerUp": 0.35, "mouthUpperUp": 0.235, "browOuterUp": 0.27, "eyeSquint": 0.16,
    },
}  # fmt: skip


def real_vector(emotion: str) -> np.ndarray | None:
    """(G,) the real signature of `emotion` over MEASURE_GROUPS, or None if none is known."""
    sig = REAL_SIGNATURES.get(emotion)
    return None if sig is None else np.array([sig.get(g, 0.0) for g in MEASURE_GROUPS])


def cosine_and_ratio(achieved: np.ndarray, real: np.ndarray) -> tuple[float, float]:
    """Cosine between two group vectors and the ratio of their norms (achieved / real)."""
    na, nr = float(np.linalg.norm(achieved)), float(np.linalg.norm(real))
    if not (na > 0 and nr > 0):
        return float("nan"), float("nan") if nr == 0 else na / nr
    return float(achieved @ real / (na * nr)), na / nr


# How much of a requested change of each group the re-tracked output shows when the geometry
# is asked for it with gain 1: achieved / requested, mean of talking_frontal_a, talking_frontal_c
# and head_motion (3 s each), each group asked alone for +0.3 (brows also -0.3) by
# `python scripts/measure_emotions.py --probe 0.3`. At gain 1 the landmark motion already has
# about the size of the real emotions' (REAL_EXPRESSIONS.md table 2): the tracker reads a warp
# (geometry without the real face's wrinkles, teeth and shading) as a weaker expression.
MEASURED_DELIVERY: dict[str, float] = {
    "browDown": 0.06, "browInnerUp": 0.45, "browOuterUp": 0.43, "eyeSquint": 0.27,
    "eyeWide": 0.02, "mouthSmile": 0.45, "mouthFrown": 0.0, "mouthStretch": 0.11,
    "mouthDimple": 0.13, "mouthPress": 0.16, "mouthUpperUp": 0.23, "mouthLowerDown": 0.18,
    "jawOpen": 0.74,
}  # fmt: skip
# The geometry gain of each group (ManipulateOptions.calibrated): about 1 / delivery, at most 2
# (further, the face would move well beyond what real faces do: eyes shut, brows on the lids).
# Brows: 1.4, because MediaPipe reads brows lowered below a browInnerUp of 0 as browDown, which
# real faces move little. Channels the tracker barely reads from geometry get the gain that
# brings their landmark motion to the real emotions' (REAL_EXPRESSIONS.md table 2): mouthFrown
# moves the mouth corners only 0.04 IOD per unit (real sadness: 0.05 IOD at frown +0.10), eyeWide
# the upper lid 0.095 IOD per unit (real surprise: +0.047 IOD eye opening at eyeWide +0.21).
GAINS: dict[str, float] = {
    "browInnerUp": 1.4, "browOuterUp": 1.4, "eyeSquint": 2.0, "eyeWide": 2.0, "mouthSmile": 1.5,
    "mouthFrown": 3.0, "mouthStretch": 2.0, "mouthUpperUp": 2.0, "mouthLowerDown": 2.0,
    "jawOpen": 1.35,
}  # fmt: skip


def delivery_gains() -> np.ndarray:
    """(52,) per-channel geometry gain (ManipulateOptions.calibrated), 1 where not listed."""
    gains = np.ones(len(BLENDSHAPE_NAMES))
    for group, gain in GAINS.items():
        gains[group_columns(group)] = gain
    return gains
