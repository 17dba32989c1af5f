"""What the page can be told when it starts. `emodirector ui` reads its defaults from here."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..render import NEEDS_MODEL
from ..render import RENDERERS as _LIBRARY_RENDERERS
from .limits import UILimits

# The renderers the page offers: the library's registry (render.RENDERERS), in its order, less
# those that need a trained model of the person (the page has no model upload yet). The page shows
# a choice as soon as there is more than one.
RENDERERS: tuple[str, ...] = tuple(n for n in _LIBRARY_RENDERERS if n not in NEEDS_MODEL)

# What to change, as the page names the four ways `emodirector edit` offers.
MODES: tuple[str, ...] = (
    "one emotion",  # --emotion E:I
    "several in sequence",  # --emotions E1 E2 ...
    "schedule",  # --schedule "0-1:happy, 1-end:sad"
    "reference clip",  # --ref CLIP
)


@dataclass(frozen=True)
class UIOptions:
    """How the app runs. Public sharing stays off unless `share` is asked for explicitly."""

    host: str = "127.0.0.1"  # only this machine can reach the page
    port: int = 7860  # 0 = any free port
    share: bool = False  # a public gradio.live link (needs the internet); off by default
    limits: UILimits = field(default_factory=UILimits)
    preview_seconds: float = 2.0  # length of the preview clip, from the start of the video
    stills: int = 3  # original | edited stills shown after a preview
    workdir: str | None = None  # where session folders go; None = the system temp folder
