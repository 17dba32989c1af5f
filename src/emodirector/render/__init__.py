"""Render: the edited face into the real frame. Renderers share one contract (base.py).

Why the default warp (warp.py) is shaped this way:
- One dense inverse map and one `cv2.remap` per plane, over the face box only (per-triangle
  `warpAffine` costs 110-200 ms a frame). The map is piecewise affine on a fixed mesh (mesh.py):
  MediaPipe's face tesselation, fans that close the eye holes, strips that close the mouth, and a
  strip out to a ring of fixed points beyond the face oval, so the displacement fades to zero
  before the box edge and hair, ears and background never move. The topology never changes
  between frames, so the map is continuous in the landmarks: no shimmer from re-triangulating.
- The map is computed on a coarse grid (a triangle-id raster, then barycentric weights clamped
  to the triangle, so a sliver never extrapolates) and upsampled; around the eyes and the mouth,
  whose lids and lips are a few pixels apart, on a grid of 1-2 pixels. The cost follows the
  face size, not the frame size.
- The decoder's I420 planes are warped directly (luma at full, chroma at half resolution): no
  colour conversion at all, so every pixel the warp does not move stays bit-identical.
- Eyes: the lids move over a rigid eye. Where the edit narrows an eye, its opening moves rigidly
  with the iris (the lid covers the eye instead of squashing the iris); where it widens, the iris
  stays rigid too (the part a source lid hid is its mirror image across the eye's axis) and
  only the sclera beyond it stretches, so the iris and its highlight stay round.
- Mouth (interior.py): when the edited lips part wider than the source's, the opening shows the
  person's own mouth interior (teeth, tongue, shadow) from open-mouth frames of the same clip,
  gathered once in prepare(), chosen per frame by mouth shape without flicker, relit to the
  frame; a clip that never opens its mouth gets a shaded cavity instead (mouth.py).
- Jaw: the chin and jawline are mesh vertices like any other, so a lowered jaw carries the chin
  and the skin below it down to the fixed ring; nothing beyond the ring moves.

Adding a renderer: implement `Renderer` (base.py) in a module of this package and add its
constructor to RENDERERS; the pipeline, the CLI's --renderer choices and the contract tests
pick it up from there.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import InputError
from .appearance import AppearanceOptions, AppearanceRenderer
from .base import FaceEdit, Outcome, RenderedFrame, Renderer, RenderOptions, i420_planes
from .mesh import (
    FACE_OVAL,
    INNER_LIP_LOWER,
    INNER_LIP_PAIRS,
    INNER_LIP_UPPER,
    LEFT_EYE,
    LEFT_EYE_PAIRS,
    LEFT_IRIS_CENTRE,
    OUTER_LIP,
    RIGHT_EYE,
    RIGHT_EYE_PAIRS,
    RIGHT_IRIS_CENTRE,
    Box,
    Mesh,
    face_width,
    opening,
    ring_points,
    warp_box,
    warp_mesh,
)
from .warp import WarpRenderer, displacement_grid, draw_order, triangle_field


# The renderers the pipeline can pick by name (RenderOptions.renderer), in --help order.
def _learned(options: RenderOptions) -> Renderer:
    """The learned renderer, imported only when asked for (it needs torch and a model file)."""
    from .learned import LearnedRenderer

    return LearnedRenderer(options)


RENDERERS: dict[str, Callable[[RenderOptions], Renderer]] = {
    "warp": WarpRenderer,
    "appearance": AppearanceRenderer,
    "learned": _learned,
}
# Renderers that need a model file of the person (RenderOptions.model) besides the frames.
NEEDS_MODEL = frozenset({"learned"})

# The plain warp under its historical name (the API before the renderer contract).
FaceRenderer = WarpRenderer


def check_renderer(options: RenderOptions) -> list[str]:
    """Refuse an unknown renderer name, or a missing or unreadable model, before any long work
    starts; returns notes for the user (e.g. a learned model that renders as the plain warp)."""
    _check_name(options)
    if options.renderer == "learned":
        from .learned import check_model_option

        return check_model_option(options)
    return []


def _check_name(options: RenderOptions) -> None:
    if options.renderer not in RENDERERS:
        names = ", ".join(RENDERERS)
        raise InputError(f"unknown renderer {options.renderer!r}: choose one of {names}.")


def make_renderer(options: RenderOptions = RenderOptions()) -> Renderer:
    """The renderer that `options.renderer` names, built with `options` (a renderer checks its
    own model as it loads it; check_renderer is for the preflight, before any long work)."""
    _check_name(options)
    return RENDERERS[options.renderer](options)


__all__ = [
    "AppearanceOptions",
    "AppearanceRenderer",
    "FACE_OVAL",
    "INNER_LIP_LOWER",
    "INNER_LIP_PAIRS",
    "INNER_LIP_UPPER",
    "LEFT_EYE",
    "LEFT_EYE_PAIRS",
    "LEFT_IRIS_CENTRE",
    "OUTER_LIP",
    "NEEDS_MODEL",
    "RENDERERS",
    "RIGHT_EYE",
    "RIGHT_EYE_PAIRS",
    "RIGHT_IRIS_CENTRE",
    "Box",
    "FaceEdit",
    "FaceRenderer",
    "Mesh",
    "Outcome",
    "RenderOptions",
    "RenderedFrame",
    "Renderer",
    "WarpRenderer",
    "check_renderer",
    "displacement_grid",
    "draw_order",
    "face_width",
    "i420_planes",
    "make_renderer",
    "opening",
    "ring_points",
    "triangle_field",
    "warp_box",
    "warp_mesh",
]
