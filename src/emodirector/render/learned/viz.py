"""What a training run shows while it runs: TensorBoard logs and one self-contained HTML page.

Both live in the run folder. The HTML page (index.html) needs nothing but a browser: each row is
a fixed sample pair, input (the warp) | output (the network) | target (the real frame), as
base64 PNGs, with the loss history as a table; it is rewritten (atomically) every few steps.
TensorBoard logging needs the `tensorboard` package (installed by `make setup`); without it the
run still trains and writes the HTML page, and says so once.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .crops import to_rgb

TENSORBOARD_MISSING = (
    "TensorBoard logs are off: the `tensorboard` package is not installed "
    "(run `make setup`, or pip install tensorboard); the HTML page is still written."
)


def open_tensorboard(folder: Path) -> Any | None:
    """A torch SummaryWriter into `folder`/tensorboard, or None when tensorboard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(folder / "tensorboard"))


def _png(rgb: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def sample_grid(inputs: np.ndarray, outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(R*S, 3*S, 3) uint8 RGB: one row per sample, input | output | target (Y U V crops)."""
    rows = [
        np.concatenate([to_rgb(a), to_rgb(b), to_rgb(c)], axis=1)
        for a, b, c in zip(inputs, outputs, targets, strict=True)
    ]
    return np.concatenate(rows, axis=0)


def write_page(
    path: Path,
    title: str,
    step: int,
    minutes: float,
    inputs: np.ndarray,
    outputs: np.ndarray,
    targets: np.ndarray,
    history: list[tuple[int, float, float]],
    validation: Sequence[tuple[int, float, float, float]] = (),
) -> None:
    """Write the run's HTML page (atomically: a reader never sees half a page).

    history: (step, loss, warp-only loss on the same batch) rows; validation: (step, loss of the
    network, of the warp, the blend gain that would be chosen now) on the held-back frames.
    """
    rows = []
    for a, b, c in zip(inputs, outputs, targets, strict=True):
        cells = "".join(
            f'<td><img src="data:image/png;base64,{_png(to_rgb(x))}"></td>' for x in (a, b, c)
        )
        rows.append(f"<tr>{cells}</tr>")
    hist = "".join(
        f"<tr><td>{s}</td><td>{loss:.4f}</td><td>{warp:.4f}</td></tr>"
        for s, loss, warp in history[-40:]
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1em}} img{{width:192px;image-rendering:pixelated}}
td,th{{padding:2px 8px;text-align:center}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>step {step}, {minutes:.1f} min of training. Each row: input (the frame warped to the target
geometry) | output (the network) | target (the real frame). Loss: weighted L1 + gradient L1 over
the face crop; "warp only" is the same loss for the input itself.</p>
<table><tr><th>input (warp)</th><th>output (learned)</th><th>target (real)</th></tr>
{"".join(rows)}</table>
<h2>Loss</h2><table><tr><th>step</th><th>loss</th><th>warp only</th></tr>{hist}</table>
{_validation_table(validation)}
</body></html>
"""
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)


def _validation_table(rows: Sequence[tuple[int, float, float, float]]) -> str:
    if not rows:
        return ""
    cells = "".join(
        f"<tr><td>{s}</td><td>{net:.4f}</td><td>{warp:.4f}</td><td>{gain:.1f}</td></tr>"
        for s, net, warp, gain in rows[-40:]
    )
    return (
        "<h2>Validation (frames held back from training)</h2><p>The network on frames it never "
        "trained on; the model keeps the share of its correction (gain) that serves them best: "
        "a network that learned nothing general gets gain 0 and renders as the plain warp.</p>"
        "<table><tr><th>step</th><th>network</th><th>warp only</th><th>best gain</th></tr>"
        f"{cells}</table>"
    )


__all__ = ["TENSORBOARD_MISSING", "open_tensorboard", "sample_grid", "write_page"]
