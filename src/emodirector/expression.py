"""Expression geometry: pose-normalised face space, blendshape -> landmark basis, lip opening.

Why a normalised space: a blendshape moves the same facial points the same way whatever the
head pose, so the basis lives in a frame where every face is aligned (a similarity fit on
points that expressions barely move) and edits go back through each frame's inverse fit.
Units of the normalised space: the template's inter-ocular distance (outer eye corners) is 1.
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import EmodirectorError
from .outofcore import blocks, release
from .smoothing import limit_rate
from .track import BLENDSHAPE_NAMES
from .types import N_BLENDSHAPES, N_LANDMARKS, FaceTrack

# Points that expressions barely move: forehead, nose bridge and tip, temples, upper face
# outline, eye corners (MediaPipe face mesh indices).
STABLE_POINTS = (
    10, 151, 9, 168, 6, 197, 195, 5, 4, 1, 54, 284, 21, 251, 162, 389, 127, 356, 234, 454,
    93, 323, 133, 362, 33, 263,
)  # fmt: skip
EYE_OUTER = (33, 263)  # right, left outer eye corners: orient the template
EYE_CORNERS = ((33, 133), (362, 263))  # right, left eye: their centres give the IOD
CHIN = 152
IRIS = tuple(range(468, 478))  # eyeball points: an expression never moves them
# The face outline over the forehead (between STABLE_POINTS' 10, 54 and 284): raising or
# lowering the brows moves the skin below it, not the face's silhouette, so no edit moves it.
UPPER_OUTLINE = (338, 297, 332, 109, 67, 103)
# Inner-lip pairs (upper, lower), left to right across the mouth.
INNER_LIP_PAIRS = (
    (191, 95), (80, 88), (81, 178), (82, 87), (13, 14), (312, 317), (311, 402), (310, 318),
    (415, 324),
)  # fmt: skip
BASIS_SCHEMA_VERSION = 1
BASIS_KIND = "expression_basis"
BLINK_CLOSED = 0.6  # eyeBlink from which an eye counts as closed (MediaPipe peaks ~0.75)
APPLY_BLOCK = 1024  # frames per block in apply_basis
LIP_SPREAD = 0.12  # normalised units: how far a lip correction reaches around the inner lip


@dataclass(frozen=True)
class ExpressionBasis:
    """Per-blendshape displacement fields in the normalised face space."""

    fields: np.ndarray  # (52, 478, 3) float32: landmark displacement per unit of each blendshape
    template: np.ndarray  # (478, 3) float32: mean face in normalised space (IOD = 1)
    meta: dict[str, str] = field(default_factory=dict)  # how it was built


@dataclass(frozen=True)
class FramePoses:
    """Each frame's similarity to the normalised space:
    normalised = scale * landmarks @ rotation.T + translation. NaN where no face."""

    scale: np.ndarray  # (T,) float64
    rotation: np.ndarray  # (T, 3, 3) float64, proper rotations
    translation: np.ndarray  # (T, 3) float64


@dataclass(frozen=True)
class NormalisedTrack(FramePoses):
    """Each frame's landmarks in the normalised space and the similarity that took them there."""

    points: np.ndarray  # (T, 478, 3) float64, NaN where no face


# ----------------------------------------------------------------------------- pose


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Umeyama: scale (B,), rotation (B, 3, 3), translation (B, 3) with s R src + t ~ dst.

    src is (B, n, 3) (a batch of point sets), dst is (n, 3).
    """
    mu_s = src.mean(axis=1, keepdims=True)
    mu_d = dst.mean(axis=0)
    a = src - mu_s
    b = dst - mu_d
    cov = np.einsum("ni,bnj->bij", b, a) / src.shape[1]
    u, sv, vt = np.linalg.svd(cov)
    d = np.ones((src.shape[0], 3))
    d[:, 2] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    rot = np.einsum("bij,bj,bjk->bik", u, d, vt)
    var = (a**2).sum(axis=(1, 2)) / src.shape[1]
    scale = (sv * d).sum(axis=1) / var
    trans = mu_d - scale[:, None] * np.einsum("bij,bj->bi", rot, mu_s[:, 0])
    return scale, rot, trans


def normalise_points(landmarks: np.ndarray, template: np.ndarray) -> NormalisedTrack:
    """Align (T, 478, 3) landmarks to `template` on STABLE_POINTS; NaN rows stay NaN."""
    lm = np.asarray(landmarks, dtype=np.float64)
    t = lm.shape[0]
    ok = np.isfinite(lm).all(axis=(1, 2))
    scale = np.full(t, np.nan)
    rot = np.full((t, 3, 3), np.nan)
    trans = np.full((t, 3), np.nan)
    pts = np.full_like(lm, np.nan)
    if ok.any():
        stable = list(STABLE_POINTS)
        s, r, tr = similarity_fit(lm[ok][:, stable], np.asarray(template, np.float64)[stable])
        scale[ok], rot[ok], trans[ok] = s, r, tr
        pts[ok] = s[:, None, None] * np.einsum("bnj,bij->bni", lm[ok], r) + tr[:, None]
    return NormalisedTrack(scale=scale, rotation=rot, translation=trans, points=pts)


def normalise_track(track: FaceTrack, basis: ExpressionBasis) -> NormalisedTrack:
    """The track's landmarks in the basis's normalised space."""
    return normalise_points(track.landmarks, basis.template)


def scan_poses(
    track: FaceTrack, template: np.ndarray, block: int, moments: bool
) -> tuple[FramePoses, DesignMoments | None]:
    """Each frame's pose, and (if `moments`) the sums a person-basis fit needs, computed `block`
    frames at a time so that no (T, 478, 3) temporary is ever made (see outofcore.py)."""
    t = track.n_frames
    scale, trans = np.full(t, np.nan), np.full((t, 3), np.nan)
    rot = np.full((t, 3, 3), np.nan)
    acc = DesignMoments() if moments else None
    for sl in blocks(t, block):
        norm = normalise_points(track.landmarks[sl], template)
        scale[sl], rot[sl], trans[sl] = norm.scale, norm.rotation, norm.translation
        if acc is not None:
            acc.add(track.blendshapes[sl], norm.points)
        release(track.landmarks, sl.start, sl.stop)
    return FramePoses(scale, rot, trans), acc


def to_normalised(landmarks: np.ndarray, norm: FramePoses, rows: np.ndarray) -> np.ndarray:
    """Pixel landmarks (R, k, 3) of frames `rows` -> the normalised face space."""
    pts = np.einsum("bnj,bij->bni", landmarks, norm.rotation[rows])
    return norm.scale[rows, None, None] * pts + norm.translation[rows, None]


def to_frame_displacement(disp: np.ndarray, norm: FramePoses, rows: np.ndarray) -> np.ndarray:
    """Normalised-space displacements (R, 478, 3) of frames `rows` -> pixel displacements."""
    return np.einsum("bni,bij->bnj", disp, norm.rotation[rows]) / norm.scale[rows, None, None]


def canonical_template(points: np.ndarray) -> np.ndarray:
    """Put a mean face (478, 3) in the canonical frame: x along the eye line (to the image
    right), y down toward the chin, origin at the stable points' centroid, IOD = 1."""
    p = np.asarray(points, np.float64)
    x = p[EYE_OUTER[1]] - p[EYE_OUTER[0]]
    iod = np.linalg.norm(x)
    x /= iod
    y = p[CHIN] - (p[EYE_OUTER[0]] + p[EYE_OUTER[1]]) / 2
    y -= x * (x @ y)
    y /= np.linalg.norm(y)
    rot = np.stack([x, y, np.cross(x, y)])
    centre = p[list(STABLE_POINTS)].mean(axis=0)
    return (p - centre) @ rot.T / iod


def generalised_procrustes(clips: list[np.ndarray], iterations: int = 4) -> np.ndarray:
    """A mean face (478, 3) in the canonical frame, aligned to every frame of every clip."""
    first = next(c[np.isfinite(c).all(axis=(1, 2))][0] for c in clips)
    template = canonical_template(first)
    for _ in range(iterations):
        sums = np.zeros((N_LANDMARKS, 3))
        count = 0
        for c in clips:
            pts = normalise_points(c, template).points
            ok = np.isfinite(pts).all(axis=(1, 2))
            sums += pts[ok].sum(axis=0)
            count += int(ok.sum())
        template = canonical_template(sums / count)
    return template


# ----------------------------------------------------------------------------- basis fits


def ridge_fields(
    x: np.ndarray,
    y: np.ndarray,
    lam: float,
    prior: np.ndarray,
    supports: np.ndarray,
) -> np.ndarray:
    """(52, 478, 3) fields minimising |Y - X B|^2 + lam * n * |B - prior|^2 (X, Y centred),
    where channel c may move point p only if supports[c, p]; elsewhere B = prior.

    The supports keep each blendshape to its part of the face (brows, one eye, the lower
    face), which stops correlations between channels in the clips from leaking (e.g. a wide
    eye moving the mouth). The pull toward the prior keeps channels the data barely moves at
    the prior's fields.
    """
    return ridge_fields_from_moments(x.shape[0], x.T @ x, x.T @ y, lam, prior, supports)


def ridge_fields_from_moments(
    n: int,
    xtx: np.ndarray,
    xty: np.ndarray,
    lam: float,
    prior: np.ndarray,
    supports: np.ndarray,
) -> np.ndarray:
    """ridge_fields from the centred cross-products X'X (52, 52) and X'Y (52, 1434) of n frames:
    they can be summed block by block, so the fit never needs all frames' points at once."""
    c = xtx.shape[0]
    xty3 = xty.reshape(c, N_LANDMARKS, 3)
    fields = prior.astype(np.float64).copy()
    patterns, inverse = np.unique(supports.T, axis=0, return_inverse=True)
    for k, pattern in enumerate(patterns):
        pts = np.flatnonzero(inverse.ravel() == k)
        chans = np.flatnonzero(pattern)
        if chans.size == 0:
            continue
        rest = np.flatnonzero(~pattern)
        p_rest = prior[rest][:, pts].reshape(rest.size, -1)
        gram = xtx[np.ix_(chans, chans)] + lam * n * np.eye(chans.size)
        rhs = xty3[chans][:, pts].reshape(chans.size, -1) - xtx[np.ix_(chans, rest)] @ p_rest
        rhs += lam * n * prior[chans][:, pts].reshape(chans.size, -1)
        fields[np.ix_(chans, pts)] = np.linalg.solve(gram, rhs).reshape(chans.size, pts.size, 3)
    return fields


@dataclass
class DesignMoments:
    """Running sums over frames (blendshapes x, normalised points y) for a ridge fit.

    Sums are taken about the first block's means (a shifted-data sum), so the centred
    products lose no precision to large means.
    """

    n: int = 0
    shift_x: np.ndarray | None = None  # (52,) float64
    shift_y: np.ndarray | None = None  # (1434,) float64
    sx: np.ndarray = field(default_factory=lambda: np.zeros(N_BLENDSHAPES))
    sy: np.ndarray = field(default_factory=lambda: np.zeros(N_LANDMARKS * 3))
    sxx: np.ndarray = field(default_factory=lambda: np.zeros((N_BLENDSHAPES, N_BLENDSHAPES)))
    sxy: np.ndarray = field(default_factory=lambda: np.zeros((N_BLENDSHAPES, N_LANDMARKS * 3)))

    def add(self, blendshapes: np.ndarray, points: np.ndarray) -> None:
        """Add frames: blendshapes (B, 52), normalised points (B, 478, 3); non-finite skipped."""
        ok = np.isfinite(points).all(axis=(1, 2)) & np.isfinite(blendshapes).all(axis=1)
        if not ok.any():
            return
        x = blendshapes[ok].astype(np.float64)
        y = points[ok].reshape(int(ok.sum()), -1)
        if self.shift_x is None or self.shift_y is None:
            self.shift_x, self.shift_y = x.mean(axis=0), y.mean(axis=0)
        x = x - self.shift_x
        y = y - self.shift_y
        self.n += x.shape[0]
        self.sx += x.sum(axis=0)
        self.sy += y.sum(axis=0)
        self.sxx += x.T @ x
        self.sxy += x.T @ y

    def centred(self) -> tuple[int, np.ndarray, np.ndarray]:
        """(n, X'X, X'Y) of the frames added, each centred on its own mean."""
        n = max(self.n, 1)
        return (
            self.n,
            self.sxx - np.outer(self.sx, self.sx) / n,
            self.sxy - np.outer(self.sx, self.sy) / n,
        )


# Channels MediaPipe's blendshape model never raises (max < 0.01 on every shared clip), so the
# clips cannot teach their fields: they get geometric fields (see synthetic_fields).
SYNTHETIC_CHANNELS = (
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "jawForward", "noseSneerLeft",
    "noseSneerRight",
)  # fmt: skip


def channel_supports(template: np.ndarray) -> np.ndarray:
    """(52, 478) bool: the points each blendshape may move, from the template's geometry.

    Normalised space: x to the person's left (image right), y down, eye line at y = 0,
    nose base at y ~ 0.5, mouth at y ~ 0.8, IOD = 1.
    """
    x, y = template[:, 0], template[:, 1]
    eyes = {
        "Left": template[[263, 362], :2].mean(axis=0),
        "Right": template[[33, 133], :2].mean(axis=0),
    }
    side = {"Left": x > -0.15, "Right": x < 0.15, "": np.ones_like(x, dtype=bool)}
    out = np.zeros((N_BLENDSHAPES, N_LANDMARKS), dtype=bool)
    for c, name in enumerate(BLENDSHAPE_NAMES):
        s = "Left" if name.endswith("Left") else "Right" if name.endswith("Right") else ""
        if name == "_neutral" or name in SYNTHETIC_CHANNELS:
            continue
        if name.startswith("brow"):
            out[c] = (y < 0.02) & side[s]
        elif name.startswith("eye"):
            out[c] = np.linalg.norm(template[:, :2] - eyes[s or "Left"], axis=1) < 0.3
        else:  # mouth*, jaw*
            out[c] = (y > 0.45) & side[
                s
                if name.startswith(
                    (
                        "mouthSmile",
                        "mouthFrown",
                        "mouthDimple",
                        "mouthStretch",
                        "mouthPress",
                        "mouthLowerDown",
                        "mouthUpperUp",
                    )
                )
                else ""
            ]
    out[:, list(IRIS)] = False
    out[:, list(STABLE_POINTS)] = False  # they define the pose, so no expression moves them
    return out


def synthetic_fields(template: np.ndarray) -> np.ndarray:
    """(52, 478, 3) geometric fields for SYNTHETIC_CHANNELS (zero for the others).

    Gaussian bumps (radius in IOD) at the landmark that the action unit moves most:
    AU6 cheek raiser lifts the cheek under the eye (and a little the lower lid); AU9 nose
    wrinkler lifts the nose wing; AU13 cheek puff pushes the cheeks out; AU29 jaw thrust moves
    the chin and lower lip toward the camera.
    """
    out = np.zeros((N_BLENDSHAPES, N_LANDMARKS, 3))
    below_eyes = template[:, 1] > -0.02
    below_eyes[list(STABLE_POINTS)] = False
    specs = (
        ("cheekSquintLeft", 346, 0.2, (0.0, -0.04, 0.0)),
        ("cheekSquintRight", 117, 0.2, (0.0, -0.04, 0.0)),
        ("noseSneerLeft", 358, 0.15, (0.0, -0.045, 0.0)),
        ("noseSneerRight", 129, 0.15, (0.0, -0.045, 0.0)),
        ("cheekPuff", 425, 0.2, (0.04, 0.0, -0.02)),
        ("cheekPuff", 205, 0.2, (-0.04, 0.0, -0.02)),
        ("jawForward", 17, 0.35, (0.0, 0.0, -0.05)),
    )
    for name, centre, radius, vec in specs:
        d = np.linalg.norm(template[:, :2] - template[centre, :2], axis=1)
        w = np.exp(-((d / radius) ** 2)) * below_eyes
        out[BLENDSHAPE_NAMES.index(name)] += w[:, None] * np.asarray(vec)
    out[:, list(IRIS)] = 0.0
    return out


def centred_design(blendshapes: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames with a face, blendshapes (n, 52) and flattened points (n, 1434), each centred."""
    ok = np.isfinite(points).all(axis=(1, 2)) & np.isfinite(blendshapes).all(axis=1)
    x = blendshapes[ok].astype(np.float64)
    y = points[ok].reshape(int(ok.sum()), -1)
    return x - x.mean(axis=0), y - y.mean(axis=0)


def build_generic_basis(
    tracks: list[FaceTrack], lam: float = 0.002, meta: dict[str, str] | None = None
) -> ExpressionBasis:
    """Ridge regression of landmark offsets on blendshapes, pooled over clips (each centred on
    its own mean, so identity drops out), in the Procrustes mean face's normalised space."""
    template = generalised_procrustes([t.landmarks for t in tracks])
    xs, ys = [], []
    for t in tracks:
        x, y = centred_design(t.blendshapes, normalise_points(t.landmarks, template).points)
        xs.append(x)
        ys.append(y)
    fields = ridge_fields(
        np.concatenate(xs),
        np.concatenate(ys),
        lam,
        synthetic_fields(template),
        channel_supports(template),
    )
    info = dict(meta or {}, lam=f"{lam:g}", synthetic=", ".join(SYNTHETIC_CHANNELS))
    return ExpressionBasis(fields.astype(np.float32), template.astype(np.float32), info)


def basis_supports(basis: ExpressionBasis) -> np.ndarray:
    """(52, 478) bool supports of a basis's channels, from its template."""
    return channel_supports(basis.template.astype(np.float64))


def fit_person_basis(
    track: FaceTrack, norm: NormalisedTrack, generic: ExpressionBasis, lam: float
) -> ExpressionBasis:
    """The generic basis refitted to this clip's own landmarks, pulled toward the generic fields
    (blendshapes the person barely moves in the clip keep the generic ones)."""
    moments = DesignMoments()
    moments.add(track.blendshapes, norm.points)
    return person_basis_from_moments(moments, generic, lam)


def person_basis_from_moments(
    moments: DesignMoments, generic: ExpressionBasis, lam: float
) -> ExpressionBasis:
    """fit_person_basis from sums gathered block by block (see scan_poses)."""
    n, xtx, xty = moments.centred()
    prior = generic.fields.astype(np.float64)
    fields = ridge_fields_from_moments(n, xtx, xty, lam, prior, basis_supports(generic))
    return ExpressionBasis(
        fields.astype(np.float32), generic.template, dict(generic.meta, person=f"lam={lam:g}")
    )


def heldout_fit_error(
    track: FaceTrack, generic: ExpressionBasis, lam: float, folds: int = 5
) -> dict[str, float]:
    """RMS landmark error (normalised units = IOD) on held-out contiguous blocks of frames.

    'mean': the clip's mean face only; 'generic': plus the generic basis; 'person': plus the
    basis fitted (toward generic) on the other blocks.
    """
    norm = normalise_track(track, generic)
    ok = np.flatnonzero(track.valid & np.isfinite(norm.points).all(axis=(1, 2)))
    blocks = np.array_split(ok, folds)
    err = {"mean": 0.0, "generic": 0.0, "person": 0.0}
    count = 0
    for k, test in enumerate(blocks):
        train = np.concatenate([b for j, b in enumerate(blocks) if j != k])
        xb, yb = track.blendshapes.astype(np.float64), norm.points.reshape(len(norm.points), -1)
        mx, my = xb[train].mean(axis=0), yb[train].mean(axis=0)
        x, y = xb[train] - mx, yb[train] - my
        prior = generic.fields.astype(np.float64)
        person = ridge_fields(x, y, lam, prior, basis_supports(generic)).reshape(52, -1)
        xt, yt = xb[test] - mx, yb[test] - my
        gen = generic.fields.astype(np.float64).reshape(52, -1)
        for name, pred in (("mean", 0.0 * yt), ("generic", xt @ gen), ("person", xt @ person)):
            res = (yt - pred).reshape(len(test), N_LANDMARKS, 3)
            err[name] += float((res**2).sum(axis=2).sum())
        count += len(test) * N_LANDMARKS
    return {k: float(np.sqrt(v / count)) for k, v in err.items()}


# ----------------------------------------------------------------------------- applying


def apply_basis(
    track: FaceTrack,
    norm: FramePoses,
    basis: ExpressionBasis,
    new_blendshapes: np.ndarray,
    *,
    lips: str = "articulation",
    protect_blinks: bool = True,
    gains: np.ndarray | None = None,
    out: np.ndarray | None = None,
    block: int = APPLY_BLOCK,
) -> np.ndarray:
    """(T, 478, 3) float32 landmarks = tracked + basis x (edited - tracked blendshapes), the
    displacement built in normalised space and mapped back with each frame's inverse pose.

    Frames are processed in blocks so the temporaries stay small whatever the video length;
    `out` (default: a new in-memory array) receives the result, block by block, and the pages
    of both arrays are released after each block when they live on disk (see outofcore.py).
    Frames that cannot be edited (no face) get the tracked rows.

    `lips`: "articulation" keeps the speech's lip closures and rhythm while letting the edit
    add its own opening (articulation.keep_articulation; a first pass reads every frame's
    inner-lip gaps, T x 9 numbers, because the room for that opening is limited in rate over
    time); "exact" keeps the inner-lip opening
    of every frame exactly (keep_lip_opening); "off" leaves the basis's lip motion as it is.
    `gains` (52,) scales each channel's change before it becomes geometry (the delivery
    calibration, see signatures.DELIVERY_GAINS); None = 1.
    """
    from .articulation import gate_opening, keep_articulation, opening_rooms

    if out is None:
        out = np.empty(track.landmarks.shape, dtype=np.float32)
    editable = track.valid & np.isfinite(norm.scale)
    fields = basis.fields.astype(np.float64)
    template = basis.template.astype(np.float64)
    closed = blink_freeze(track.blendshapes, track.timestamps) if protect_blinks else None
    if lips == "articulation":
        gaps_all = _lip_gaps(track, norm, block)
        pair_room, middle_room, jaw_share = opening_rooms(gaps_all, track.timestamps)
    for sl in blocks(track.n_frames, block):
        out[sl] = track.landmarks[sl]
        rows = sl.start + np.flatnonzero(editable[sl])
        if rows.size:
            delta = _delta(track, new_blendshapes, gains, rows)
            moved = track.landmarks[rows].astype(np.float64)
            gaps = None
            if lips == "articulation":
                gaps = gaps_all[rows]
                delta = gate_opening(delta, middle_room[rows], jaw_share[rows], fields)
            disp = np.einsum("bc,cnk->bnk", delta, fields)
            if closed is not None:
                disp = keep_blinks(disp, closed[rows], template)
            disp[:, list(UPPER_OUTLINE)] = 0.0
            if gaps is not None:
                disp = keep_articulation(disp, gaps, basis.template, pair_room[rows])
            elif lips == "exact":
                disp = keep_lip_opening(disp, basis.template)
            moved += to_frame_displacement(disp, norm, rows)
            out[rows] = moved.astype(np.float32)
        release(track.landmarks, sl.start, sl.stop)
        release(out, sl.start, sl.stop)
    return out


def _delta(
    track: FaceTrack, new_blendshapes: np.ndarray, gains: np.ndarray | None, rows: np.ndarray
) -> np.ndarray:
    """(R, 52) blendshape change of frames `rows`, scaled by the delivery gains."""
    delta = new_blendshapes[rows] - track.blendshapes[rows].astype(np.float64)
    return delta if gains is None else delta * gains


def _lip_gaps(track: FaceTrack, norm: FramePoses, block: int) -> np.ndarray:
    """(T, 9) original inner-lip gaps (articulation.inner_lip_gaps), NaN where no face: a first
    pass over the frames, since the articulation check limits its gates in rate over time."""
    from .articulation import inner_lip_gaps

    editable = track.valid & np.isfinite(norm.scale)
    gaps = np.full((track.n_frames, len(INNER_LIP_PAIRS)), np.nan)
    for sl in blocks(track.n_frames, block):
        rows = sl.start + np.flatnonzero(editable[sl])
        if rows.size:
            to_norm = functools.partial(to_normalised, norm=norm, rows=rows)
            gaps[rows] = inner_lip_gaps(track.landmarks[rows].astype(np.float64), to_norm)
        release(track.landmarks, sl.start, sl.stop)
    return gaps


_BLINKS = (BLENDSHAPE_NAMES.index("eyeBlinkRight"), BLENDSHAPE_NAMES.index("eyeBlinkLeft"))


BLINK_RATE = 5.0  # fastest the blink freeze may switch on or off, per second


def blink_freeze(blendshapes: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(T, 2) share of the edit frozen around each eye (EYE_CORNERS order), from the tracked
    blendshapes (T, 52) at `times` (T,) seconds: 1 while the eye is closed (eyeBlink from
    BLINK_CLOSED), 0 once it is open by 0.15 below that.

    The freeze switches on and off at most BLINK_RATE per second, so it sets in just before a
    blink and lets go just after it: an eye can open in one frame, and a freeze following it
    instantly would snap a strong eyelid edit (sad, angry) back in that same frame (sad:1.5 on
    talking_frontal_a: the edit of a lower-eyelid point jumped 11.9 px in one frame, 0.6 of the
    clip's own largest step; rate-limited, no point of the edit moves more than 5.0 px).
    """
    closed = np.clip((blendshapes[:, list(_BLINKS)] - (BLINK_CLOSED - 0.15)) / 0.15, 0.0, 1.0)
    return 1.0 - limit_rate(1.0 - closed.astype(np.float64), times, BLINK_RATE)


def keep_blinks(disp: np.ndarray, closed: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Freeze the edit around an eye by its share `closed` (B, 2) (blink_freeze), so blinks stay
    as they were.

    The freeze covers the eyelids fully (within 0.2 IOD of the eye centre) and fades out by
    0.35 IOD, so the brows keep most of their edit during a blink.
    """
    out = disp.copy()
    for k, (a, b) in enumerate(EYE_CORNERS):
        centre = template[[a, b], :2].mean(axis=0)
        d = np.linalg.norm(template[:, :2] - centre, axis=1)
        region = np.clip((0.35 - d) / 0.15, 0.0, 1.0)  # 1 on the eye, 0 beyond 0.35 IOD
        out *= 1.0 - closed[:, k, None, None] * region[None, :, None]
    return out


def keep_lip_opening(disp: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Make each inner-lip pair move together, so the inner-lip opening is the original's.

    The correction of each inner-lip point is spread smoothly over its side of the mouth
    (upper lip and above, or lower lip and below), so the lips do not tear from the face.
    """
    up_w, low_w = lip_spread_weights(template.tobytes(), template.shape)
    ups = [u for u, _ in INNER_LIP_PAIRS]
    lows = [lo for _, lo in INNER_LIP_PAIRS]
    mid = (disp[:, ups] + disp[:, lows]) / 2
    corr_up = mid - disp[:, ups]
    corr_low = mid - disp[:, lows]
    return (
        disp + np.einsum("nk,bkd->bnd", up_w, corr_up) + np.einsum("nk,bkd->bnd", low_w, corr_low)
    )


@functools.lru_cache(maxsize=4)
def lip_spread_weights(buf: bytes, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(478, 9) spreading weights from upper / lower inner-lip points (exact at the points)."""
    tpl = np.frombuffer(buf, dtype=np.float32).reshape(shape).astype(np.float64)
    ups = np.array([u for u, _ in INNER_LIP_PAIRS])
    lows = np.array([lo for _, lo in INNER_LIP_PAIRS])
    mid = (tpl[ups] + tpl[lows]) / 2
    order = np.argsort(mid[:, 0])
    line_y = np.interp(tpl[:, 0], mid[order, 0], mid[order, 1])
    upper_side = tpl[:, 1] < line_y
    weights = []
    for idx, side in ((ups, upper_side), (lows, ~upper_side)):
        d = np.linalg.norm(tpl[:, None, :2] - tpl[idx][None, :, :2], axis=2)
        w = np.zeros_like(d)
        exact = d < 1e-9
        inv = 1.0 / np.maximum(d, 1e-9) ** 2
        w = np.where(exact.any(axis=1, keepdims=True), exact.astype(float), inv)
        w /= w.sum(axis=1, keepdims=True)
        falloff = np.exp(-((d.min(axis=1) / LIP_SPREAD) ** 2))
        w *= (falloff * side)[:, None]
        w[idx] = np.eye(len(idx))
        weights.append(w)
    return weights[0], weights[1]


# ----------------------------------------------------------------------------- measures


def inter_ocular(landmarks: np.ndarray) -> np.ndarray:
    """(T,) pixel distance (x, y) between the eye centres (mean of each eye's two corners)."""
    lm = np.asarray(landmarks, np.float64)
    right = lm[:, list(EYE_CORNERS[0]), :2].mean(axis=1)
    left = lm[:, list(EYE_CORNERS[1]), :2].mean(axis=1)
    return np.linalg.norm(left - right, axis=1)


def lip_opening(landmarks: np.ndarray) -> np.ndarray:
    """(T,) inner-lip opening: mean distance of the inner-lip pairs / inter-ocular distance."""
    lm = np.asarray(landmarks, np.float64)
    ups = [u for u, _ in INNER_LIP_PAIRS]
    lows = [lo for _, lo in INNER_LIP_PAIRS]
    gaps = np.linalg.norm(lm[:, ups, :2] - lm[:, lows, :2], axis=2).mean(axis=1)
    return gaps / inter_ocular(lm)


# ----------------------------------------------------------------------------- files


def save_basis(basis: ExpressionBasis, path: str | Path) -> Path:
    """Write the basis as a byte-reproducible .npz (fixed member order and zip timestamps)."""
    arrays = {
        "fields": np.round(basis.fields.astype(np.float64), 6).astype(np.float32),
        "template": np.round(basis.template.astype(np.float64), 6).astype(np.float32),
        "blendshape_names": np.array(BLENDSHAPE_NAMES),
        "kind": np.array(BASIS_KIND),
        "schema_version": np.int64(BASIS_SCHEMA_VERSION),
        "meta_json": np.array(json.dumps(basis.meta, sort_keys=True)),
    }
    out = Path(path)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
    return out


def load_basis(path: str | Path) -> ExpressionBasis:
    """Read a basis written by save_basis."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise EmodirectorError(f"{path}: not a readable expression basis ({exc}).") from exc
    if (
        str(data.get("kind", "")) != BASIS_KIND
        or int(data.get("schema_version", -1)) != BASIS_SCHEMA_VERSION
    ):
        raise EmodirectorError(f"{path}: not an expression basis of schema {BASIS_SCHEMA_VERSION}.")
    fields = data["fields"]
    if fields.shape != (N_BLENDSHAPES, N_LANDMARKS, 3) or data["template"].shape != (
        N_LANDMARKS,
        3,
    ):
        raise EmodirectorError(f"{path}: expression basis arrays have the wrong shapes.")
    return ExpressionBasis(fields, data["template"], json.loads(str(data["meta_json"])))


@functools.lru_cache(maxsize=1)
def load_generic_basis() -> ExpressionBasis:
    """The generic basis shipped in the package (built by scripts/build_basis.py)."""
    ref = resources.files("emodirector").joinpath("data/basis_generic.npz")
    with resources.as_file(ref) as p:
        if not p.is_file():
            raise EmodirectorError(
                f"{p}: the generic expression basis is missing; rebuild it with scripts/build_basis.py."
            )
        return load_basis(p)
