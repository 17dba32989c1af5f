"""The one-frame renderer: exact where nothing moves, exact translation, bounded region, mouth, eyes."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from conftest import shared_clip
from emodirector.errors import InputError
from emodirector.pipeline import side_by_side
from emodirector.render import (
    FACE_OVAL,
    INNER_LIP_LOWER,
    INNER_LIP_PAIRS,
    INNER_LIP_UPPER,
    LEFT_EYE,
    FaceRenderer,
    RenderOptions,
    displacement_grid,
    face_width,
    i420_planes,
    opening,
    ring_points,
    triangle_field,
    warp_box,
    warp_mesh,
)
from emodirector.track import TrackResult
from emodirector.types import N_LANDMARKS, Frame
from emodirector.video import VideoReader

CLIP = "talking_frontal_c.mp4"


@pytest.fixture(scope="module")
def scene(tracked: Callable[..., TrackResult]) -> tuple[list[Frame], np.ndarray]:
    """The first 12 decoded frames of a talking clip and their tracked landmarks (12, 478, 3)."""
    path = shared_clip(CLIP)
    track = tracked(path).track
    with VideoReader(path) as reader:
        frames = [f for _, f in zip(range(12), reader, strict=False)]
    assert track.valid[:12].all()
    return frames, track.landmarks[:12].copy()


def _oval_mask(points: np.ndarray, shape: tuple[int, int], erode: int = 0) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(points[list(FACE_OVAL), :2]).astype(np.int32)], 1)
    if erode:
        mask = cv2.erode(mask, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8))
    return mask.astype(bool)


def _moved(src: np.ndarray, ids: tuple[int, ...], dx: float, dy: float) -> np.ndarray:
    dst = src.copy()
    dst[list(ids), 0] += dx
    dst[list(ids), 1] += dy
    return dst


def _smile(src: np.ndarray, px: float) -> np.ndarray:
    """A smooth synthetic smile: landmarks near each mouth corner move up and out by ~px."""
    dst = src.copy()
    sigma = 0.1 * face_width(src[:, :2])
    for corner, side in ((61, -1.0), (291, 1.0)):
        d2 = np.sum((src[:, :2] - src[corner, :2]) ** 2, axis=1)
        w = np.exp(-d2 / (2 * sigma**2))
        dst[:, 0] += w * side * 0.6 * px
        dst[:, 1] -= w * px
    return dst


def test_mesh_is_a_closed_face_with_a_ring() -> None:
    mesh = warp_mesh()
    tris = mesh.triangles
    assert tris.min() == 0 and tris.max() == N_LANDMARKS + len(FACE_OVAL) - 1
    assert len(mesh.face_rows) == 852  # MediaPipe's tesselation
    # Every edge is shared by two triangles except the ring's outer loop: no hole in the face.
    edges: dict[tuple[int, int], int] = {}
    for a, b, c in tris:
        for u, v in ((a, b), (b, c), (c, a)):
            key = (min(u, v), max(u, v))
            edges[key] = edges.get(key, 0) + 1
    boundary = {k for k, n in edges.items() if n == 1}
    assert all(u >= N_LANDMARKS and v >= N_LANDMARKS for u, v in boundary)
    assert len(boundary) == len(FACE_OVAL)
    assert max(edges.values()) == 2


def test_grid_covers_the_whole_face(scene: tuple[list[Frame], np.ndarray]) -> None:
    frames, lms = scene
    src = lms[0, :, :2]
    ring = ring_points(src, RenderOptions().ring_margin)
    v = np.concatenate([src, ring])
    box = warp_box(v, 480, 480)
    assert box is not None
    step = 4
    field = triangle_field(v, v, warp_mesh().triangles)
    field.disp[:] = 1.0  # every triangle a translation by (1, 1): shows where the mesh is
    disp = displacement_grid(v, warp_mesh(), box, step, field)
    gy, gx = np.mgrid[0 : disp.shape[0], 0 : disp.shape[1]]
    px = box.x0 + gx * step + 1.5
    py = box.y0 + gy * step + 1.5
    inside = cv2.pointPolygonTest  # one grid point at a time: only ~2500 of them
    ring_poly = ring.astype(np.float32).reshape(-1, 1, 2)
    for y, x, d in zip(py.ravel(), px.ravel(), disp.reshape(-1, 2), strict=True):
        depth = inside(ring_poly, (float(x), float(y)), True)
        if depth > 2:
            assert d[0] == 1.0 and d[1] == 1.0, (x, y)
        elif depth < -1.5 * step:  # the rasteriser marks cells touching an edge
            assert d[0] == 0.0 and d[1] == 0.0, (x, y)


def test_zero_edit_and_no_face_return_the_decoded_picture(
    scene: tuple[list[Frame], np.ndarray],
) -> None:
    frames, lms = scene
    r = FaceRenderer()
    same = r.warp(frames[0].yuv, lms[0], lms[0].copy())
    assert same.outcome == "unchanged" and same.yuv is frames[0].yuv
    tiny_shift = lms[0] + np.float32(0.01)
    assert r.warp(frames[0].yuv, lms[0], tiny_shift).yuv is frames[0].yuv
    nan = np.full_like(lms[0], np.nan)
    assert r.warp(frames[0].yuv, nan, nan).outcome == "no_face"
    assert r.warp(frames[0].yuv, None, None).yuv is frames[0].yuv


def test_translation_is_exact_inside_and_nothing_changes_outside(
    scene: tuple[list[Frame], np.ndarray],
) -> None:
    frames, lms = scene
    yuv = frames[3].yuv
    src = lms[3]
    dst = _moved(src, tuple(range(N_LANDMARKS)), 4.0, -2.0)  # the whole face moves
    out = FaceRenderer().warp(yuv, src, dst)
    assert out.outcome == "edited" and out.box is not None
    y_in, u_in, v_in = i420_planes(yuv)
    y_out, u_out, v_out = i420_planes(out.yuv)
    inner = _oval_mask(dst, y_in.shape, erode=6)
    ys, xs = np.nonzero(inner)
    # Output pixel p shows input pixel p - (4, -2), bit for bit, in luma and chroma.
    assert np.array_equal(y_out[ys, xs], y_in[ys + 2, xs - 4])
    cin = inner[::2, ::2]
    cys, cxs = np.nonzero(cin)
    assert np.array_equal(u_out[cys, cxs], u_in[cys + 1, cxs - 2])
    assert np.array_equal(v_out[cys, cxs], v_in[cys + 1, cxs - 2])
    # Outside the ring of fixed points nothing moves (the box holds the ring).
    ring = ring_points(src[:, :2], RenderOptions().ring_margin)
    outside = np.ones(y_in.shape, dtype=np.uint8)
    cv2.fillPoly(outside, [np.round(ring).astype(np.int32)], 0)
    reach = 2 * RenderOptions().grid_step + 1  # edge cells of the coarse grid, then upsampling
    outside = cv2.erode(outside, np.ones((reach, reach), np.uint8)).astype(bool)
    assert np.array_equal(y_out[outside], y_in[outside])
    b = out.box
    chroma_out = np.ones(u_in.shape, dtype=bool)
    chroma_out[b.y0 // 2 : b.y1 // 2, b.x0 // 2 : b.x1 // 2] = False
    assert np.array_equal(u_out[chroma_out], u_in[chroma_out])
    assert np.array_equal(v_out[chroma_out], v_in[chroma_out])
    # The input picture itself is never written to.
    assert not np.shares_memory(out.yuv, yuv)


def test_cost_region_follows_the_face_not_the_frame(scene: tuple[list[Frame], np.ndarray]) -> None:
    frames, lms = scene
    src = lms[0]
    dst = _moved(src, INNER_LIP_UPPER, 0.0, -3.0)
    out = FaceRenderer().warp(frames[0].yuv, src, dst)
    assert out.box is not None
    w = face_width(src[:, :2])
    assert out.box.width <= 2 * w and out.box.height <= 2.5 * w
    assert out.box.x0 % 2 == 0 and out.box.y0 % 2 == 0 and out.box.x1 % 2 == 0


def test_small_landmark_noise_makes_a_small_change(scene: tuple[list[Frame], np.ndarray]) -> None:
    """The map is continuous in the landmarks (fixed mesh, clamped weights): no shimmer.

    0.1 px of landmark noise may move the displacement by about that much, never by pixels.
    """
    frames, lms = scene
    src = lms[5]
    dst = _smile(src, 6.0)
    r = FaceRenderer()
    base = r.displacement(src, dst, 480, 480)
    rng = np.random.default_rng(0)
    for _ in range(5):
        noise = rng.normal(0, 0.1, size=src.shape).astype(np.float32)
        noisy = r.displacement(src + noise, dst + noise, 480, 480)
        assert base is not None and noisy is not None
        if noisy[0] != base[0]:  # the box moved by a pixel: compare the common part
            continue
        assert np.abs(noisy[1] - base[1]).max() < 0.6
        assert np.abs(noisy[2] - base[2]).max() < 0.6


def test_tiny_face_passes_through(scene: tuple[list[Frame], np.ndarray]) -> None:
    frames, lms = scene
    src = lms[0].copy()
    centre = src[:, :2].mean(axis=0)
    src[:, :2] = centre + (src[:, :2] - centre) * (50.0 / face_width(src[:, :2]))
    dst = _moved(src, INNER_LIP_UPPER, 0.0, -1.0)
    out = FaceRenderer().warp(frames[0].yuv, src, dst)
    assert out.outcome == "tiny" and out.yuv is frames[0].yuv


@pytest.mark.parametrize("dx", [-300.0, 280.0])
def test_face_at_the_frame_edge(scene: tuple[list[Frame], np.ndarray], dx: float) -> None:
    frames, lms = scene
    src = lms[0].copy()
    src[:, 0] += dx  # half the face (or more) is outside the picture
    dst = _moved(src, (61, 291), 0.0, -5.0)
    out = FaceRenderer().warp(frames[0].yuv, src, dst)
    assert out.yuv.shape == frames[0].yuv.shape
    assert out.box is None or (out.box.x0 >= 0 and out.box.x1 <= 480)
    gone = src.copy()
    gone[:, 0] += 2000.0
    assert FaceRenderer().warp(frames[0].yuv, gone, gone + 3).outcome == "no_face"


def test_wider_lips_get_a_dark_cavity_not_a_smear(scene: tuple[list[Frame], np.ndarray]) -> None:
    frames, lms = scene
    # A frame with closed lips, opened by 12 px in the edit (the lower lip goes down).
    k = int(np.argmin([opening(lms[i, :, :2], INNER_LIP_PAIRS) for i in range(len(frames))]))
    src = lms[k]
    lower = tuple(i for i in INNER_LIP_LOWER[1:-1]) + (14, 17, 84, 314, 87, 317, 178, 402)
    dst = _moved(src, tuple(sorted(set(lower))), 0.0, 12.0)
    with_fill = FaceRenderer().warp(frames[k].yuv, src, dst)
    without = FaceRenderer(RenderOptions(mouth_fill=False)).warp(frames[k].yuv, src, dst)
    inner = np.concatenate([dst[list(INNER_LIP_UPPER), :2], dst[list(INNER_LIP_LOWER), :2][::-1]])
    y_in = i420_planes(frames[k].yuv)[0]
    mask = np.zeros(y_in.shape, dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], 1)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8)).astype(bool)
    assert mask.sum() > 100
    filled = i420_planes(with_fill.yuv)[0][mask].mean()
    stretched = i420_planes(without.yuv)[0][mask].mean()
    assert filled < stretched - 10
    assert filled < np.percentile(y_in[_oval_mask(src, y_in.shape)], 10)


def test_narrowed_eye_moves_rigidly(scene: tuple[list[Frame], np.ndarray]) -> None:
    """Lowering an upper lid covers the eye: the iris and sclera are not squashed."""
    frames, lms = scene
    src = lms[2]
    upper_lid = (466, 388, 387, 386, 385, 384, 398)
    dst = _moved(src, upper_lid, 0.0, 2.0)
    out = FaceRenderer().warp(frames[2].yuv, src, dst)
    y_in, y_out = i420_planes(frames[2].yuv)[0], i420_planes(out.yuv)[0]
    eye = np.zeros(y_in.shape, dtype=np.uint8)
    cv2.fillPoly(eye, [np.round(dst[list(LEFT_EYE), :2]).astype(np.int32)], 1)
    eye = cv2.erode(eye, np.ones((3, 3), np.uint8)).astype(bool)
    assert eye.sum() > 20
    assert np.array_equal(y_out[eye], y_in[eye])
    stretchy = FaceRenderer(RenderOptions(rigid_eyes=False)).warp(frames[2].yuv, src, dst)
    assert not np.array_equal(i420_planes(stretchy.yuv)[0][eye], y_in[eye])


def test_bad_grid_step_is_refused() -> None:
    with pytest.raises(InputError, match="grid_step"):
        FaceRenderer(RenderOptions(grid_step=3))


def test_side_by_side_joins_pictures_exactly(scene: tuple[list[Frame], np.ndarray]) -> None:
    frames, _ = scene
    a, b = frames[0], frames[7]
    joined = side_by_side(a.yuv, b.yuv)
    rgb = cv2.cvtColor(joined, cv2.COLOR_YUV2RGB_I420)
    assert np.array_equal(rgb, np.concatenate([a.rgb(), b.rgb()], axis=1))


def test_4k_frame_costs_the_face_not_the_frame(scene: tuple[list[Frame], np.ndarray]) -> None:
    """A 3840x2160 picture: only the face box is sampled; the rest of the planes is untouched."""
    _, lms = scene
    rng = np.random.default_rng(1)
    yuv = rng.integers(0, 256, size=(2160 * 3 // 2, 3840), dtype=np.uint8)
    src = lms[0].copy()
    src[:, 0] += 2500.0  # the face sits right of centre in the 4K picture
    src[:, 1] += 1200.0
    dst = _smile(src, 6.0)
    out = FaceRenderer().warp(yuv, src, dst)
    assert out.outcome == "edited" and out.box is not None
    assert out.box.width * out.box.height < 0.05 * 3840 * 2160
    y_in, y_out = i420_planes(yuv)[0], i420_planes(out.yuv)[0]
    b = out.box
    untouched = np.ones(y_in.shape, dtype=bool)
    untouched[b.y0 : b.y1, b.x0 : b.x1] = False
    assert np.array_equal(y_in[untouched], y_out[untouched])
    assert not np.array_equal(y_in[b.y0 : b.y1, b.x0 : b.x1], y_out[b.y0 : b.y1, b.x0 : b.x1])
