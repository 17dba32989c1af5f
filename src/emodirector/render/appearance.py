"""Warp + appearance: the warp, then the skin changes that go with the expression, in the Y plane.

A warp only moves pixels; a real smile also deepens the nasolabial folds and lifts the cheeks,
lowered brows furrow the glabella, raised brows crease the forehead (REAL_EXPRESSIONS.md, 4).
A fit of shading to blendshapes does not carry across people (FINDINGS.md, last section), so the
creases here are drawn from the geometry, training-free:

- Each cue (nasolabial fold, cheek lift, glabellar furrows, forehead lines, crow's feet, nose-bridge
  wrinkles, chin boss, the crease under the lower lip) is a set of curves laid on the edited
  landmarks (so a fold follows the moved mouth corner), in the face's own frame (inter-ocular
  distance, up and sideways directions).
- Its strength is the edit's blendshape delta for that cue (dst minus src; only a deepening shows)
  plus, where blendshapes under-report, the landmarks' own compression (inner brows drawn together
  or lowered, brows lifted away from the eyes, mouth corners pulled up).
- Its profile is that of a real crease: curves are drawn anti-aliased (sub-pixel, so they never
  jump a pixel between frames) into a dark canvas blurred narrowly (the valley) and a bright
  canvas of offset curves blurred widely (the soft shoulder of skin bulging beside it).
- Where the clip itself shows the person making an expression (a smile in a talking clip), that
  cue's shading is taken from their own frame instead: moved onto the calm frame's geometry with
  the mesh, band-passed against the calm frame, kept as points fixed on the mesh, and placed on
  each edited face by barycentric weights (prepare() gathers it; rows marked invalid are never read).
- Its depth is the person's own skin: prepare() measures the relative band-pass contrast of the
  calm face (a few of the clip's least expressive frames), so folds on smooth skin stay faint and
  on weathered skin deepen. The shading multiplies luma (Y * (1 + s)): dark skin gets a
  proportionally dark crease, and it fades out towards black and towards clipped highlights.
- Masked to skin: zero on the eyes, brows' hair and lips, faded to zero at the face oval, and
  reduced wherever the warped picture has far more texture than the calm skin (glasses rims, a
  beard, hair, a hand in front of the face). A face too small to hold a crease gets none.
Pixels outside the face oval are those of the warp: bit-identical beyond its ring.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..track import BLENDSHAPE_NAMES
from ..types import EditedTrack
from .base import FaceEdit, RenderedFrame, RenderOptions, i420_planes
from .mesh import FACE_OVAL, LEFT_EYE, OUTER_LIP, RIGHT_EYE, Box, Mesh, ring_points
from .warp import WarpRenderer, displacement_grid, draw_order, triangle_field

# Landmarks the curves hang on (MediaPipe face mesh).
RIGHT_BROW = (70, 63, 105, 66, 107)  # upper edge, outer to inner (the person's right: image left)
LEFT_BROW = (336, 296, 334, 293, 300)  # upper edge, inner to outer
RIGHT_BROW_LOOP = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)  # around the brow hair
LEFT_BROW_LOOP = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
RIGHT_IRIS, LEFT_IRIS = 468, 473
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
RIGHT_EYE_INNER, LEFT_EYE_INNER = 133, 362
RIGHT_NOSE_WING, LEFT_NOSE_WING = 129, 358
RIGHT_MOUTH_CORNER, LEFT_MOUTH_CORNER = 61, 291
RIGHT_BROW_INNER, LEFT_BROW_INNER = 55, 285  # lower inner ends of the brows
NASION, NOSE_BRIDGE_LOW = 168, 195
FOREHEAD_TOP, CHIN, LOWER_LIP_BOTTOM = 10, 152, 17

CUES = (
    "nasolabial",
    "cheek",
    "glabella",
    "forehead",
    "crows_feet",
    "nose",
    "chin",
    "under_lip",
)
_BS = {n: i for i, n in enumerate(BLENDSHAPE_NAMES)}


# The cues whose shading may come from the person's own frames: the region of the face it is
# taken from (realism.py's regions, grown), and the drawn cues it stands in for there.
OWN_CUES = {
    "nasolabial": ("nasolabial", ("nasolabial", "cheek")),
    "glabella": ("glabella", ("glabella",)),
    "forehead": ("forehead", ("forehead",)),
    "crows_feet": ("eye_corners", ("crows_feet",)),
    "chin": ("chin", ("chin", "under_lip")),
}


@dataclass(frozen=True)
class AppearanceOptions:
    """How deep and where the creases are drawn. Lengths are shares of the inter-ocular distance."""

    gain: float = 1.5  # crease depth at full strength, in units of the calm skin's contrast
    min_depth: float = 0.01  # relative luma depth at full strength on the smoothest skin
    max_depth: float = 0.06  # ... and on the most weathered
    valley_sigma: float = 0.012  # width of a crease's dark valley
    shoulder_sigma: float = 0.035  # width of its bright shoulder
    min_iod: float = 24.0  # pixels; a smaller face gets no shading (nothing to place it on)
    texture_limit: float = 3.0  # local texture this many times the calm skin's = not skin
    calm_frames: int = 4  # least expressive frames measured for the skin's contrast
    work_iod: float = 48.0  # the shading is computed at a scale where the eyes are this far apart
    own: bool = True  # take the shading of a cue from the person's own frames where they show it
    own_min_strength: float = 0.45  # a frame must show a cue this strongly to serve as its source
    own_max_change: float = 0.25  # |relative luma change| kept from an own frame (cuts outliers)
    own_max_scale: float = 1.2  # strength at most applied to an own map (1 = as in its frame)
    own_fine: float = 0.008  # finest detail kept of the own shading (Gaussian sigma)
    own_cues: tuple[str, ...] = tuple(OWN_CUES)  # the cues taken from own frames when shown
    own_gain: float = 0.5  # share of the own frame's shading applied per unit of strength
    drawn_cues: tuple[str, ...] = CUES  # the cues drawn where the clip has no own shading


@dataclass
class SkinProfile:
    """The person's calm skin, measured once per clip."""

    contrast: float  # robust std of the band-passed relative luma on the calm face's skin
    level: float  # median luma of that skin (0..255)
    frames: int  # calm frames it was measured on (0 = none: defaults used)


DEFAULT_SKIN = SkinProfile(contrast=0.02, level=128.0, frames=0)


@dataclass
class AppearanceCounts:
    """What the appearance step did over a clip, for the render summary."""

    shaded: int = 0  # frames that got creases
    reduced: int = 0  # of those, frames where occluders/texture cut the shading by over half
    skipped_small: int = 0  # faces too small to hold a crease
    skipped_exposure: int = 0  # faces too dark or blown out to shade

    def lines(self) -> list[str]:
        out = []
        if self.reduced:
            out.append(
                f"{self.reduced} frames: skin texture (glasses, beard, hair or a hand) reduced "
                "the expression shading by over half."
            )
        if self.skipped_small:
            out.append(
                f"{self.skipped_small} frames: the face is too small for expression shading."
            )
        if self.skipped_exposure:
            out.append(
                f"{self.skipped_exposure} frames: the face is too dark or too bright for "
                "expression shading; warped only."
            )
        return out


@dataclass(frozen=True)
class FaceFrame:
    """A face's own frame: scale and directions in pixels of the picture."""

    iod: float  # inter-ocular distance, pixels
    up: np.ndarray  # (2,) unit vector from chin to forehead
    right: np.ndarray  # (2,) unit vector across the face, image left to image right


def face_frame(p: np.ndarray) -> FaceFrame:
    """The face's scale and directions from its landmarks ((478, 2) pixels)."""
    iod = float(np.linalg.norm(p[LEFT_IRIS] - p[RIGHT_IRIS]))
    up = p[FOREHEAD_TOP] - p[CHIN]
    up = up / max(float(np.linalg.norm(up)), 1e-6)
    right = np.array([-up[1], up[0]])
    if float(right @ (p[LEFT_IRIS] - p[RIGHT_IRIS])) < 0:
        right = -right
    return FaceFrame(iod=max(iod, 1e-6), up=up, right=right)


@dataclass
class Stroke:
    """One curve of a cue: points (N, 2) pixels with a weight per point (fades the ends)."""

    points: np.ndarray
    weights: np.ndarray
    thickness: int = 1


@dataclass
class CueShape:
    """The curves of one cue: its dark valleys and its bright shoulders (may be broad blobs)."""

    dark: list[Stroke] = field(default_factory=list)
    bright: list[Stroke] = field(default_factory=list)
    blobs: list[tuple[np.ndarray, float]] = field(default_factory=list)  # (centre, radius) bright


def _bezier(a: np.ndarray, b: np.ndarray, c: np.ndarray, n: int = 12) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * b + t**2 * c


def _taper(n: int, ends: float = 0.3) -> np.ndarray:
    """Weights along a curve: 1 in the middle, easing to 0 over `ends` of its length each end."""
    t = np.linspace(0.0, 1.0, n)
    w = np.minimum(np.minimum(t, 1 - t) / ends, 1.0)
    return (w * w * (3 - 2 * w)).astype(np.float64)


def cue_shapes(p: np.ndarray, f: FaceFrame) -> dict[str, CueShape]:
    """Where each cue's creases lie on a face ((478, 2) pixels of the edited geometry)."""
    s, up, rt = f.iod, f.up, f.right
    shapes = {c: CueShape() for c in CUES}
    for side, wing, corner, eye_out in (
        (-1.0, RIGHT_NOSE_WING, RIGHT_MOUTH_CORNER, RIGHT_EYE_OUTER),
        (1.0, LEFT_NOSE_WING, LEFT_MOUTH_CORNER, LEFT_EYE_OUTER),
    ):
        lat = side * rt
        # Nasolabial fold: from above the nose wing, bowing outwards, to beyond the mouth corner.
        a = p[wing] + 0.05 * s * lat + 0.03 * s * up
        c = p[corner] + 0.12 * s * lat - 0.14 * s * up
        b = (a + c) / 2 + 0.07 * s * lat
        fold = _bezier(a, b, c)
        shapes["nasolabial"].dark.append(Stroke(fold, _taper(len(fold), 0.25), 3))
        shapes["nasolabial"].bright.append(
            Stroke(fold + 0.07 * s * lat + 0.02 * s * up, _taper(len(fold), 0.35), 3)
        )
        # Cheek lift: the cheek bulges between the eye's outer corner and the mouth corner.
        apex = p[eye_out] + 0.4 * (p[corner] - p[eye_out]) - 0.03 * s * lat
        shapes["cheek"].blobs.append((apex, 0.13 * s))
        # Crow's feet: three short lines fanning out from the outer eye corner.
        base = p[eye_out] + 0.08 * s * lat
        for angle, length in ((-0.5, 0.15), (0.0, 0.18), (0.45, 0.15)):
            d = math.cos(angle) * lat + math.sin(angle) * up
            line = base + np.linspace(0.0, length * s, 6)[:, None] * d
            shapes["crows_feet"].dark.append(Stroke(line, _taper(6, 0.45)))
            shapes["crows_feet"].bright.append(Stroke(line + 0.04 * s * up, _taper(6, 0.45)))
    # Glabella: two vertical furrows between the brow heads, the bulge between them brighter.
    mid = (p[RIGHT_BROW_INNER] + p[LEFT_BROW_INNER]) / 2
    half = 0.25 * float(np.linalg.norm(p[LEFT_BROW_INNER] - p[RIGHT_BROW_INNER]))
    for side in (-1.0, 1.0):
        low = mid + side * half * rt - 0.02 * s * up
        high = mid + side * (half + 0.02 * s) * rt + 0.24 * s * up
        line = np.linspace(low, high, 8)
        shapes["glabella"].dark.append(Stroke(line, _taper(8, 0.35)))
        shapes["glabella"].bright.append(Stroke(line + side * 0.07 * s * rt, _taper(8, 0.4)))
    midline = np.linspace(mid - 0.0 * s * up, mid + 0.2 * s * up, 6)
    shapes["glabella"].bright.append(Stroke(midline, _taper(6, 0.4), 2))
    # Forehead: three lines following the brows' arch, flatter the higher they lie.
    brows = np.concatenate([p[list(RIGHT_BROW)], p[list(LEFT_BROW)]])
    flat = brows.mean(axis=0) + np.outer((brows - brows.mean(axis=0)) @ rt, rt)
    bc = brows.mean(axis=0)
    for k, (height, flatten) in enumerate(((0.22, 0.4), (0.36, 0.65), (0.50, 0.85))):
        line = (1 - flatten) * brows + flatten * flat
        line = bc + 0.92**k * (line - bc) + height * s * up
        w = _taper(len(line), 0.3)
        shapes["forehead"].dark.append(Stroke(line, w))
        shapes["forehead"].bright.append(Stroke(line + 0.06 * s * up, w))
    # Nose bridge: short wrinkles across it, lowest at the ends (a wrinkled nose).
    for t in (0.25, 0.45, 0.65):
        c = p[NASION] + t * (p[NOSE_BRIDGE_LOW] - p[NASION])
        xs = np.linspace(-0.13, 0.13, 7) * s
        line = c + np.outer(xs, rt) - np.outer(np.abs(xs) * 0.5, up)
        shapes["nose"].dark.append(Stroke(line, _taper(7, 0.4)))
        shapes["nose"].bright.append(Stroke(line + 0.035 * s * up, _taper(7, 0.4)))
    # Under the lower lip: a crease curving up at its ends; the chin boss bulges below it.
    lo, ch = p[LOWER_LIP_BOTTOM], p[CHIN]
    crease_c = lo + 0.3 * (ch - lo)
    xs = np.linspace(-0.3, 0.3, 11) * s
    crease = crease_c + np.outer(xs, rt) + np.outer(xs**2 / s * 0.6, up)
    shapes["under_lip"].dark.append(Stroke(crease, _taper(11, 0.3), 2))
    shapes["under_lip"].bright.append(Stroke(crease - 0.06 * s * up, _taper(11, 0.35), 2))
    shapes["chin"].blobs.append((lo + 0.62 * (ch - lo), 0.14 * s))
    shapes["chin"].dark.append(Stroke(crease, _taper(11, 0.3), 2))
    return shapes


def _bs(bs: np.ndarray, *names: str) -> float:
    return float(np.mean([bs[_BS[n]] for n in names]))


def cue_strengths(face: FaceEdit) -> dict[str, float]:
    """How much each cue deepens from the tracked to the edited face (0 = not at all, ~1 = full).

    Blendshape deltas (dst - src) where MediaPipe reports the movement; the landmarks' own
    compression where it under-reports (brow lowering, MediaPipe's weakest channel).
    """
    a, b = face.src_blendshapes, face.dst_blendshapes

    def d(*names: str) -> float:
        return _bs(b, *names) - _bs(a, *names)

    s2, d2 = face.src[:, :2].astype(np.float64), face.dst[:, :2].astype(np.float64)
    fs, fd = face_frame(s2), face_frame(d2)

    def rel(p: np.ndarray, f: FaceFrame, i: int, j: int) -> float:
        return float(np.linalg.norm(p[i] - p[j])) / f.iod

    # Inner brows drawn together and down; brows lifted away from the eyes; corners lifted.
    squeeze = rel(s2, fs, RIGHT_BROW_INNER, LEFT_BROW_INNER) - rel(
        d2, fd, RIGHT_BROW_INNER, LEFT_BROW_INNER
    )
    brow_gap_s = (rel(s2, fs, 105, RIGHT_IRIS) + rel(s2, fs, 334, LEFT_IRIS)) / 2
    brow_gap_d = (rel(d2, fd, 105, RIGHT_IRIS) + rel(d2, fd, 334, LEFT_IRIS)) / 2
    inner_gap_s = (rel(s2, fs, RIGHT_BROW_INNER, 133) + rel(s2, fs, LEFT_BROW_INNER, 362)) / 2
    inner_gap_d = (rel(d2, fd, RIGHT_BROW_INNER, 133) + rel(d2, fd, LEFT_BROW_INNER, 362)) / 2
    lift = brow_gap_d - brow_gap_s
    lower = inner_gap_s - inner_gap_d
    corner_up = (
        float((s2[NOSE_BRIDGE_LOW] - s2[RIGHT_MOUTH_CORNER]) @ fs.up) / fs.iod
        - float((d2[NOSE_BRIDGE_LOW] - d2[RIGHT_MOUTH_CORNER]) @ fd.up) / fd.iod
        + float((s2[NOSE_BRIDGE_LOW] - s2[LEFT_MOUTH_CORNER]) @ fs.up) / fs.iod
        - float((d2[NOSE_BRIDGE_LOW] - d2[LEFT_MOUTH_CORNER]) @ fd.up) / fd.iod
    ) / 2

    smile = d("mouthSmileLeft", "mouthSmileRight")
    cheek = d("cheekSquintLeft", "cheekSquintRight")
    upper = d("mouthUpperUpLeft", "mouthUpperUpRight")
    squint = d("eyeSquintLeft", "eyeSquintRight")
    brow_down = d("browDownLeft", "browDownRight")
    inner_up = d("browInnerUp")
    outer_up = d("browOuterUpLeft", "browOuterUpRight")
    sneer = d("noseSneerLeft", "noseSneerRight")
    shrug = d("mouthShrugLower")
    frown = d("mouthFrownLeft", "mouthFrownRight")
    jaw = d("jawOpen")

    def pos(x: float) -> float:
        return max(x, 0.0)

    raw = {
        "nasolabial": pos(smile) + 0.4 * pos(upper) + 0.3 * pos(cheek) + pos(corner_up) * 0.0,
        "cheek": 0.8 * pos(smile) + 0.5 * pos(cheek) + pos(corner_up) * 4.0,
        "glabella": pos(brow_down)
        + 0.8 * pos(-inner_up)
        + 0.3 * pos(sneer)
        + 8.0 * pos(squeeze)
        + 6.0 * pos(lower),
        "forehead": 0.6 * pos(inner_up) + 0.6 * pos(outer_up) + 6.0 * pos(lift),
        "crows_feet": 0.6 * pos(cheek) + 0.5 * pos(smile) * pos(squint + cheek) ** 0.5,
        "nose": pos(sneer) + 0.3 * pos(upper),
        "chin": pos(shrug) * 1.5 + 0.3 * pos(frown),
        "under_lip": 0.8 * pos(shrug) + 0.4 * pos(frown) + 0.5 * pos(jaw),
    }
    return {k: float(min(v, 1.5)) for k, v in raw.items()}


def _draw(canvas: np.ndarray, strokes: Iterable[Stroke], origin: np.ndarray, scale: float) -> None:
    """Anti-aliased, sub-pixel curves into a uint8 canvas, each segment at its mean weight."""
    shift = 4
    k = float(1 << shift)
    for st in strokes:
        pts = np.round((st.points - origin) * k).astype(np.int32)
        w = (st.weights[1:] + st.weights[:-1]) / 2
        for i in range(len(pts) - 1):
            v = int(round(255.0 * scale * float(w[i])))
            if v <= 0:
                continue
            cv2.line(
                canvas,
                (int(pts[i, 0]), int(pts[i, 1])),
                (int(pts[i + 1, 0]), int(pts[i + 1, 1])),
                min(v, 255),
                st.thickness,
                cv2.LINE_AA,
                shift,
            )


def skin_mask(
    p: np.ndarray, f: FaceFrame, shape: tuple[int, int], origin: np.ndarray
) -> np.ndarray:
    """(h, w) float32 0..1: skin of the face, soft-edged; 0 on eyes, brows, lips and past the oval.

    `p`: (478, 2) landmarks in pixels of the picture; `origin`: the (x, y) of the canvas's corner.
    """
    q = p - origin
    m = np.zeros(shape, np.uint8)
    oval = q[list(FACE_OVAL)]
    c = oval.mean(axis=0)
    cv2.fillPoly(m, [np.round(c + (oval - c) * 0.92).astype(np.int32)], 255)
    holes = np.zeros(shape, np.uint8)
    for loop in (RIGHT_EYE, LEFT_EYE, RIGHT_BROW_LOOP, LEFT_BROW_LOOP, OUTER_LIP):
        cv2.fillPoly(holes, [np.round(q[list(loop)]).astype(np.int32)], 255)
    for wing in (RIGHT_NOSE_WING, LEFT_NOSE_WING, 64, 294, 98, 327):  # nostrils and alar edges
        c = np.round(q[wing] * 16).astype(np.int32)
        cv2.circle(holes, (int(c[0]), int(c[1])), int(0.06 * f.iod * 16), 255, -1, cv2.LINE_8, 4)
    r = max(1, int(round(0.04 * f.iod)))
    grown = cv2.dilate(holes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    m[grown > 0] = 0
    sigma = max(1.0, 0.04 * f.iod)
    return cv2.GaussianBlur(m.astype(np.float32) * (1.0 / 255.0), (0, 0), sigma)


def texture_energy(y: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Local band-pass energy of a luma patch relative to its local mean, and that mean."""
    yf = y.astype(np.float32)
    mean = cv2.GaussianBlur(yf, (0, 0), 3 * sigma)
    fine = cv2.GaussianBlur(yf, (0, 0), max(0.7, sigma * 0.5))
    energy = cv2.GaussianBlur(np.abs(fine - mean), (0, 0), 2 * sigma)
    return energy / np.maximum(mean, 8.0), mean


def measure_skin(
    pictures: Sequence[tuple[np.ndarray, np.ndarray]], options: AppearanceOptions
) -> SkinProfile:
    """The calm skin's relative band-pass contrast and level from (luma (H, W), landmarks) pairs."""
    contrasts, levels = [], []
    for y, lm in pictures:
        p = np.asarray(lm[:, :2], np.float64)
        f = face_frame(p)
        if f.iod < options.min_iod:
            continue
        mask = skin_mask(p, f, y.shape, np.zeros(2)) > 0.9
        if mask.sum() < 200:
            continue
        energy, mean = texture_energy(y, max(1.0, 0.03 * f.iod))
        contrasts.append(float(np.median(energy[mask])))
        levels.append(float(np.median(mean[mask])))
    if not contrasts:
        return DEFAULT_SKIN
    return SkinProfile(float(np.median(contrasts)), float(np.median(levels)), len(contrasts))


@dataclass
class OwnShading:
    """The person's own expression shading, taken from their frames of this clip.

    Per cue, the relative luma change (band-passed log ratio of an expressive frame to the calm
    one, per unit of the cue's strength) at sample points fixed on the face mesh: each point
    knows its triangle and barycentric weights, so it follows any edited geometry by a weighted
    sum of three vertices, without rasterising the mesh again every frame.
    """

    tri: np.ndarray  # (N,) int64 row of the warp mesh's triangles holding each sample point
    bary: np.ndarray  # (N, 3) float32 barycentric weights of the points in their triangles
    values: dict[str, np.ndarray]  # cue -> (N,) float32 relative luma change per unit strength
    sources: dict[str, int]  # cue -> the track row it was taken from
    spacing: float  # distance between sample points in inter-ocular distances

    @property
    def maps(self) -> dict[str, np.ndarray]:
        return self.values


def _calm_row(track_valid: np.ndarray, expr: np.ndarray) -> int | None:
    rows = np.flatnonzero(track_valid)
    if len(rows) == 0:
        return None
    return int(rows[int(np.argmin(np.nansum(expr[rows], axis=1)))])


class AppearanceRenderer:
    """The warp, then expression creases shaded into its luma (see the module docstring)."""

    name = "appearance"

    def __init__(
        self, options: RenderOptions = RenderOptions(), appearance: AppearanceOptions | None = None
    ) -> None:
        self.warp = WarpRenderer(options)
        self.options = options
        self.appearance = AppearanceOptions() if appearance is None else appearance
        self.skin = DEFAULT_SKIN
        self.own: OwnShading | None = None
        self.counts = AppearanceCounts()

    def prepare(
        self,
        video: str | os.PathLike[str],
        edited: EditedTrack,
        window: tuple[float, float] | None = None,
    ) -> None:
        """Measure the person's calm skin, and take their own expression shading from the frames
        of the clip that show it (rows of the track marked invalid are never read)."""
        self.warp.prepare(video, edited, window)
        self.counts = AppearanceCounts()
        self.own = None
        track = edited.original
        from ..realism import expression_vector, rotation_angle

        expr = expression_vector(track)
        early = track.valid.copy()
        early[300:] = False
        rows = np.flatnonzero(early)
        calm_rows = [
            int(rows[i]) for i in np.argsort(np.nansum(expr[rows], axis=1), kind="stable")
        ][: self.appearance.calm_frames]
        calm = _calm_row(track.valid, expr)
        own_rows: dict[str, tuple[int, float]] = {}
        if calm is not None and self.appearance.own:
            for k in np.flatnonzero(track.valid).tolist():
                if abs(k - calm) < 3:
                    continue
                if rotation_angle(track.transforms[calm], track.transforms[k]) > 8.0:
                    continue
                st = cue_strengths(
                    FaceEdit(k, track.landmarks[calm], track.landmarks[k],
                             track.blendshapes[calm], track.blendshapes[k])
                )  # fmt: skip
                for cue, v in st.items():
                    if (
                        cue in self.appearance.own_cues
                        and v >= self.appearance.own_min_strength
                        and v > own_rows.get(cue, (0, 0.0))[1]
                    ):
                        own_rows[cue] = (k, v)
        want = (
            set(calm_rows)
            | {r for r, _ in own_rows.values()}
            | ({calm} if calm is not None else set())
        )
        pictures = _pictures(video, track.n_frames, window, want)
        self.skin = measure_skin(
            [(pictures[r], track.landmarks[r]) for r in calm_rows if r in pictures], self.appearance
        )
        if calm is not None and own_rows and calm in pictures:
            self.own = self._own_shading(pictures, track.landmarks, calm, own_rows)

    def _own_shading(
        self,
        pictures: dict[int, np.ndarray],
        landmarks: np.ndarray,
        calm: int,
        own_rows: dict[str, tuple[int, float]],
    ) -> OwnShading | None:
        """Each cue's shading from its most expressive frame, in the calm frame's layout."""
        from ..realism import region_masks

        lc = np.asarray(landmarks[calm, :, :2], np.float64)
        yc = pictures[calm]
        h, w = yc.shape
        f = face_frame(lc)
        if f.iod < self.appearance.min_iod:
            return None
        box = _oval_box(lc, f, w, h)
        if box is None:
            return None
        origin = np.array([box.x0, box.y0], np.float64)
        calm_log = np.log1p(yc[box.y0 : box.y1, box.x0 : box.x1].astype(np.float32))
        skin = skin_mask(lc, f, (box.height, box.width), origin)
        regions = region_masks(lc - origin, (box.height, box.width))
        grow = max(1, int(round(0.06 * f.iod)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        wide = max(2.0, 0.12 * f.iod)
        maps: dict[str, np.ndarray] = {}
        sources: dict[str, int] = {}
        done: dict[int, np.ndarray] = {}
        for cue, (k, strength) in own_rows.items():
            if k not in pictures:
                continue
            if k not in done:
                lk = np.asarray(landmarks[k, :, :2], np.float64)
                moved = _remap_to(pictures[k], lk, lc, box, self.warp.mesh)
                d = np.log1p(moved) - calm_log
                fine = max(0.5, self.appearance.own_fine * f.iod)
                d = cv2.GaussianBlur(d, (0, 0), fine) - cv2.GaussianBlur(d, (0, 0), wide)
                done[k] = d
            region = regions[OWN_CUES[cue][0]].astype(np.uint8)
            soft = cv2.GaussianBlur(
                cv2.dilate(region, kernel).astype(np.float32), (0, 0), max(1.0, grow / 2)
            )
            limit = self.appearance.own_max_change
            maps[cue] = np.clip(done[k], -limit, limit) * soft * skin / max(strength, 0.3)
            sources[cue] = k
        if not maps:
            return None
        return _sample_points(lc, box, maps, sources, f, self.appearance.work_iod, self.warp.mesh)

    def render(self, yuv: np.ndarray, face: FaceEdit | None) -> RenderedFrame:
        """The renderer contract (render/base.py): warp, then shade the creases of the edit."""
        out = self.warp.render(yuv, face)
        if out.outcome != "edited" or face is None or out.box is None:
            return out
        self.shade(out.yuv, face, out.box)
        return out

    def shade(self, yuv: np.ndarray, face: FaceEdit, box: Box) -> bool:
        """Multiply the Y plane of `yuv` (in place, inside `box`) by the edit's crease shading."""
        opts = self.appearance
        strengths = cue_strengths(face)
        if max(strengths.values()) < 0.02:
            return False
        p = np.asarray(face.dst[:, :2], np.float64)
        f = face_frame(p)
        if f.iod < opts.min_iod:
            self.counts.skipped_small += 1
            return False
        y_plane = i420_planes(yuv)[0]
        patch = y_plane[box.y0 : box.y1, box.x0 : box.x1]
        # Everything is computed on a copy scaled so that the eyes are ~64 px apart, then upscaled.
        scale = min(1.0, opts.work_iod / f.iod)
        sw = max(2, int(round(box.width * scale)))
        sh = max(2, int(round(box.height * scale)))
        small = cv2.resize(patch, (sw, sh), interpolation=cv2.INTER_AREA) if scale < 1 else patch
        ps = (p - np.array([box.x0, box.y0])) * scale
        fs = FaceFrame(iod=f.iod * scale, up=f.up, right=f.right)
        zero = np.zeros(2)
        own = self.own
        covered = {c for cue in (own.maps if own else ()) for c in OWN_CUES[cue][1]}
        drawn = {c: k for c, k in strengths.items() if c in opts.drawn_cues and c not in covered}
        s = np.zeros((sh, sw), np.float32)
        if any(k >= 0.02 for k in drawn.values()):
            s += self._drawn(ps, fs, (sh, sw), drawn)
        if own is not None and any(strengths[c] >= 0.02 for c in own.maps):
            s += self._own(own, face, box, scale, (sh, sw), strengths)
        energy, mean = texture_energy(small, max(1.0, 0.03 * fs.iod))
        limit = opts.texture_limit * max(self.skin.contrast, 0.005)
        clean = np.clip(2.0 - energy / limit, 0.0, 1.0)  # 1 below the limit, 0 at twice it
        exposure = np.clip((mean - 20.0) / 30.0, 0.0, 1.0) * np.clip((245.0 - mean) / 30.0, 0, 1)
        mask = skin_mask(ps, fs, (sh, sw), zero)
        weight = mask * clean * exposure
        foot = np.abs(s) * mask > 0.003
        if not foot.any():
            return False
        kept = float(weight[foot].sum()) / max(float(mask[foot].sum()), 1e-6)
        if kept < 0.05:
            self.counts.skipped_exposure += int(float(exposure[foot].mean()) < 0.5)
            return False
        if kept < 0.5:
            self.counts.reduced += 1
        s *= weight
        if scale < 1:
            s_full: np.ndarray = cv2.resize(
                s, (box.width, box.height), interpolation=cv2.INTER_LINEAR
            )
        else:
            s_full = s
        shaded = patch.astype(np.float32) * (1.0 + s_full)
        patch[:] = np.clip(shaded + 0.5, 0, 255).astype(np.uint8)
        self.counts.shaded += 1
        return True

    def _drawn(
        self, p: np.ndarray, f: FaceFrame, shape: tuple[int, int], strengths: dict[str, float]
    ) -> np.ndarray:
        """Relative luma change (h, w) of the procedural creases of the cues in `strengths`."""
        opts = self.appearance
        depth = float(np.clip(opts.gain * self.skin.contrast, opts.min_depth, opts.max_depth))
        shapes = cue_shapes(p, f)
        dark = np.zeros(shape, np.uint8)
        bright = np.zeros(shape, np.uint8)
        sv = max(0.6, opts.valley_sigma * f.iod)
        sb = max(1.2, opts.shoulder_sigma * f.iod)
        origin = np.zeros(2)
        for cue, k in strengths.items():
            if k < 0.02:
                continue
            sh = shapes[cue]
            # A thicker stroke carries more ink: scale it back so every valley peaks alike.
            for st in sh.dark:
                _draw(dark, [st], origin, k / st.thickness)
            for st in sh.bright:
                _draw(bright, [st], origin, k * 0.6 / st.thickness)
            for centre, radius in sh.blobs:
                c = np.round(centre * 16).astype(np.int32)
                cv2.circle(
                    bright, (int(c[0]), int(c[1])), int(radius * 16), int(60 * min(k, 1.5)), -1,
                    cv2.LINE_AA, 4,
                )  # fmt: skip
        # Peak of a 1-px line blurred by sigma is 1 / (sigma sqrt(2 pi)): normalise to ~1.
        valley = cv2.GaussianBlur(dark.astype(np.float32), (0, 0), sv) * (
            sv * math.sqrt(2 * math.pi) / 255.0
        )
        shoulder = cv2.GaussianBlur(bright.astype(np.float32), (0, 0), sb) * (
            sb * math.sqrt(2 * math.pi) / 255.0 / 3.0
        )
        return depth * (shoulder - valley)

    def _own(
        self,
        own: OwnShading,
        face: FaceEdit,
        box: Box,
        scale: float,
        shape: tuple[int, int],
        strengths: dict[str, float],
    ) -> np.ndarray:
        """Relative luma change (h, w) from the person's own shading, moved to the edited face:
        each sample point is placed on the edited mesh and splatted (bilinear, normalised)."""
        total = np.zeros(len(own.tri), np.float32)
        for cue, v in own.values.items():
            k = min(strengths[cue], self.appearance.own_max_scale)
            if k >= 0.02:
                total += np.float32(k * self.appearance.own_gain) * v
        d2 = np.asarray(face.dst[:, :2], np.float32)
        verts = np.concatenate([d2, ring_points(d2, 0.35)])
        corners = verts[self.warp.mesh.triangles[own.tri]]  # (N, 3, 2)
        pos = np.einsum("pj,pjc->pc", own.bary, corners)
        pos = (pos - np.array([box.x0, box.y0], np.float32)) * scale
        return _splat(pos, total, shape, max(0.7, own.spacing * scale * face_frame(d2).iod))

    def notes(self) -> list[str]:
        """Warnings for the render summary (frames where the shading was skipped or reduced)."""
        return self.counts.lines()


def _oval_box(p: np.ndarray, f: FaceFrame, width: int, height: int) -> Box | None:
    """The box around the face oval with a margin, clipped to the picture."""
    oval = p[list(FACE_OVAL)]
    lo = np.floor(oval.min(axis=0) - 0.1 * f.iod).astype(int)
    hi = np.ceil(oval.max(axis=0) + 0.1 * f.iod).astype(int)
    x0, y0 = max(0, int(lo[0])), max(0, int(lo[1]))
    x1, y1 = min(width, int(hi[0])), min(height, int(hi[1]))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return Box(x0, y0, x1, y1)


def _inverse_map(
    src: np.ndarray, dst: np.ndarray, shape: tuple[int, int], mesh: Mesh, step: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """(map_x, map_y) float32 (h, w): where each pixel of a canvas in the `dst` geometry lies in
    the `src` geometry (both (478, 2)), piecewise affine on the mesh; `dst` is in the canvas's
    pixels, `src` in any frame's. Pixels off the mesh are off the face (masked by the caller)."""
    ring_s = ring_points(src.astype(np.float32), 0.35)
    ring_d = ring_points(dst.astype(np.float32), 0.35)
    src_v = np.concatenate([src, ring_s]).astype(np.float32)
    dst_v = np.concatenate([dst, ring_d]).astype(np.float32)
    h, w = shape
    grid_box = Box(0, 0, w + (w % 2), h + (h % 2))
    field = triangle_field(src_v, dst_v, mesh.triangles)
    coarse = displacement_grid(dst_v, mesh, grid_box, step, field)
    ny, nx = coarse.shape[:2]
    full = cv2.resize(coarse, (nx * step, ny * step), interpolation=cv2.INTER_LINEAR)[:h, :w]
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    return full[..., 0] + xs, full[..., 1] + ys


def _sample_points(
    calm: np.ndarray,
    box: Box,
    maps: dict[str, np.ndarray],
    sources: dict[str, int],
    f: FaceFrame,
    work_iod: float,
    mesh: Mesh,
) -> OwnShading | None:
    """The maps (laid out on the calm landmarks inside `box`) as mesh-fixed sample points, one
    per pixel of a copy scaled so that the eyes are `work_iod` apart, where any map is non-zero."""
    scale = min(1.0, work_iod / f.iod)
    sw, sh = max(2, int(round(box.width * scale))), max(2, int(round(box.height * scale)))
    small = {c: cv2.resize(m, (sw, sh), interpolation=cv2.INTER_AREA) for c, m in maps.items()}
    used = np.zeros((sh, sw), bool)
    for m in small.values():
        used |= np.abs(m) > 1e-4
    verts = np.concatenate([calm, ring_points(calm.astype(np.float32), 0.35)])
    q = ((verts - [box.x0, box.y0]) * scale).astype(np.float32)
    ids = np.full((sh, sw), -1, np.int32)
    shift = 4
    pts = np.round(q * (1 << shift)).astype(np.int32)
    for k in _face_rows_in_order(q, mesh).tolist():
        cv2.fillConvexPoly(ids, pts[mesh.triangles[k]], k, cv2.LINE_8, shift)
    ys, xs = np.nonzero(used & (ids >= 0))
    if len(ys) == 0:
        return None
    tri = ids[ys, xs].astype(np.int64)
    b = triangle_field(q, q, mesh.triangles).bary[tri]  # (N, 3, 3)
    w = b[:, :, 0] * xs[:, None] + b[:, :, 1] * ys[:, None] + b[:, :, 2]
    w = np.clip(w, 0.0, None)
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-9)
    return OwnShading(
        tri=tri,
        bary=w.astype(np.float32),
        values={c: m[ys, xs].astype(np.float32) for c, m in small.items()},
        sources=sources,
        spacing=1.0 / (f.iod * scale),
    )


def _face_rows_in_order(q: np.ndarray, mesh: Mesh) -> np.ndarray:
    """The face's triangles only (no ring, no eye or mouth fills), facing ones drawn last."""
    order = draw_order(q, mesh)
    return order[np.isin(order, mesh.face_rows)]


def _splat(
    pos: np.ndarray, values: np.ndarray, shape: tuple[int, int], spread: float
) -> np.ndarray:
    """Values at points (N, 2) spread onto an (h, w) grid: bilinear splats, then a normalised
    Gaussian of `spread` px fills the gaps between them (fading out where few points land)."""
    h, w = shape
    x, y = pos[:, 0], pos[:, 1]
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - x0, y - y0
    acc = np.zeros(h * w, np.float64)
    wts = np.zeros(h * w, np.float64)
    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                        (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):  # fmt: skip
        xi, yi = x0 + dx, y0 + dy
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        idx = yi[ok] * w + xi[ok]
        acc += np.bincount(idx, weights=wgt[ok] * values[ok], minlength=h * w)
        wts += np.bincount(idx, weights=wgt[ok], minlength=h * w)
    a = cv2.GaussianBlur(acc.reshape(h, w).astype(np.float32), (0, 0), spread)
    n = cv2.GaussianBlur(wts.reshape(h, w).astype(np.float32), (0, 0), spread)
    full = 1.0 / (2 * math.pi * spread * spread)  # n where points land one per pixel
    return a / np.maximum(n, 0.25 * full) * np.minimum(n / full, 1.0)


def _remap_to(y: np.ndarray, src: np.ndarray, dst: np.ndarray, box: Box, mesh: Mesh) -> np.ndarray:
    """Luma `y` (H, W) of a face on landmarks `src`, moved onto landmarks `dst` inside `box`."""
    origin = np.array([box.x0, box.y0], np.float64)
    mx, my = _inverse_map(src - 0.0, dst - origin, (box.height, box.width), mesh)
    # mx/my are in src pixels relative to the box origin's shift of dst only: src is absolute.
    return cv2.remap(
        y.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _pictures(
    video: str | os.PathLike[str],
    n_rows: int,
    window: tuple[float, float] | None,
    rows: set[int],
) -> dict[int, np.ndarray]:
    """Luma (H, W) of the given track rows (one pass, stopping after the last)."""
    from ..video import VideoReader

    out: dict[int, np.ndarray] = {}
    if not rows:
        return out
    last = max(rows)
    start = 0.0 if window is None else window[0]
    row = 0
    with VideoReader(video) as reader:
        for frame in reader:
            if frame.time < start:
                continue
            if row in rows:
                out[row] = i420_planes(frame.yuv)[0][: frame.height, : frame.width].copy()
            row += 1
            if row > last or row >= n_rows:
                break
    return out


__all__ = [
    "CUES",
    "AppearanceCounts",
    "AppearanceOptions",
    "AppearanceRenderer",
    "SkinProfile",
    "cue_shapes",
    "cue_strengths",
    "face_frame",
    "measure_skin",
    "skin_mask",
]
