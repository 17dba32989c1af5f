"""A self-contained HTML page for a Report: headline table, plots and still pairs, all inline.

Why inline: the page is one file a user can mail or attach to a ticket; plots and stills are
embedded as base64 (PNG plots, JPEG stills), with no script, stylesheet or image fetched from anywhere.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .report import Report
from .video import atomic_path

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 9px}
th{background:#f3f3f3;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.warn{color:#a40}.stills img{margin:2px}figure{display:inline-block;margin:0.4em}
figcaption{font-size:0.85em;color:#555;text-align:center}
"""


def _jpeg(rgb: np.ndarray) -> str:
    """base64 JPEG of an (H, W, 3) uint8 RGB photo (a PNG of a photo is ~5× larger)."""
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88]
    )
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise ValueError("JPEG encoding failed")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3f}" if np.isfinite(v) else "–"
    return html.escape(str(v))


def _plots(rep: Report) -> str:
    """base64 PNG of the per-frame curves: target probability, lip opening, identity distance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = rep.time_s
    fig, axes = plt.subplots(3, 1, figsize=(9, 7.5), sharex=True)
    target = rep.emotion["target"] if rep.emotion else None
    ax = axes[0]
    if target:
        ax.plot(t, rep.target_before, label="original", color="#777")
        ax.plot(t, rep.target_after, label="edited", color="#c33")
        ax.set_ylim(0, 1)
        ax.legend(loc="upper right", fontsize=8)
    ax.set_ylabel(f"P({target})" if target else "emotion (skipped)")
    ax = axes[1]
    ax.plot(t, rep.opening_before, label="original", color="#777")
    ax.plot(t, rep.opening_after, label="edited", color="#36c")
    ax.set_ylabel("inner-lip opening\n(× eye distance)")
    ax.legend(loc="upper right", fontsize=8)
    ax = axes[2]
    ax.plot(t, rep.identity_distance, color="#393")
    ax.axhline(rep.identity["threshold"], color="#a40", ls="--", lw=1, label="threshold")
    ax.set_ylabel("landmark-shape\ndistance")
    ax.set_xlabel("time (s)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(
        f"<tr><th>{html.escape(k)}</th><td class=n>{_fmt(v)}</td></tr>" for k, v in pairs
    )


def _headline(rep: Report) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    e = rep.emotion
    if e:
        how = " (inferred)" if e["target_inferred"] else ""
        rows += [
            ("target emotion" + how, e["target"]),
            (
                "P(target) before → after",
                f"{e['target_prob_before']:.3f} → {e['target_prob_after']:.3f}",
            ),
            (
                "frames with target on top",
                f"{e['target_top_share_before']:.0%} → {e['target_top_share_after']:.0%}",
            ),
        ]
    lips, ident, stab = rep.lips, rep.identity, rep.stability
    rows += [
        ("lip-opening correlation", lips["correlation"]),
        ("lip-opening mean |difference| (× eye distance)", lips["mean_abs_diff"]),
        ("mouth-corner lift (× eye distance, + = up)", lips["corner_lift"]),
        ("landmark-shape distance (threshold)", f"{ident['distance']:.4f} ({ident['threshold']})"),
        ("jitter ratio edited / original", stab["ratio"]),
    ]
    return rows


def _channels(rep: Report) -> str:
    """Requested vs achieved per channel group (empty without the edited track)."""
    ch = rep.channels
    if ch is None:
        return ""
    rows = "".join(
        f"<tr><th>{html.escape(g)}</th><td class=n>{v['requested']:+.3f}</td>"
        f"<td class=n>{v['achieved']:+.3f}</td><td class=n>{_fmt(v['delivered'])}</td>"
        f"<td>{'did not come through' if g in ch['not_through'] else ''}</td></tr>"
        for g, v in ch["groups"].items()
    )
    real = ch.get("vs_real")
    vs = (
        f"<p>Achieved vs real acted {html.escape(real['emotion'])} (MEAD, REAL_EXPRESSIONS): "
        f"cosine {_fmt(real['cosine'])}, size ratio {_fmt(real['norm_ratio'])}.</p>"
        if real
        else ""
    )
    return (
        "<h2>Channels: requested vs achieved</h2><table><tr><th>group (L/R averaged)</th>"
        "<th>requested</th><th>achieved (re-tracked)</th><th>share</th><th></th></tr>"
        f"{rows}</table>{vs}"
    )


def render_html(rep: Report) -> str:
    """The page as a string."""
    c = rep.container
    o, e = c["original"], c["edited"]
    container = [
        (
            "frames (original / edited / matched)",
            f"{o['frames']} / {e['frames']} / {rep.frames['matched']}",
        ),
        ("resolution", f"{o['width']}×{o['height']} / {e['width']}×{e['height']}"),
        ("duration (s)", f"{o['duration_s']:.3f} / {e['duration_s']:.3f}"),
        ("largest time difference of matched frames (s)", c["max_time_diff_s"]),
        ("audio present", f"{_fmt(o['has_audio'])} / {_fmt(e['has_audio'])}"),
        ("audio packets identical", c["audio_identical"]),
    ]
    if c.get("original_range_s") is not None:
        r = c["original_range_s"]
        end = "end" if r[1] is None else f"{r[1]:g} s"
        container.insert(0, ("original compared over", f"{r[0]:g} s – {end}"))
    warnings = "".join(f"<li class=warn>{html.escape(w)}</li>" for w in rep.warnings)
    stills = "".join(
        f"<figure><img src='data:image/jpeg;base64,{_jpeg(np.concatenate([a, b], axis=1))}' "
        f"alt='original and edited face at {t:.2f} s'><figcaption>{t:.2f} s: original | edited"
        "</figcaption></figure>"
        for t, a, b in rep.stills
    )
    title = f"emodirector report: {Path(rep.edited).name}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>original: <code>{html.escape(rep.original)}</code><br>"
        f"edited: <code>{html.escape(rep.edited)}</code></p>"
        + (f"<ul>{warnings}</ul>" if warnings else "")
        + f"<h2>Headline</h2><table>{_rows(_headline(rep))}</table>"
        f"<h2>Over time</h2><img src='data:image/png;base64,{_plots(rep)}' alt='curves over time'>"
        + _channels(rep)
        + f"<h2>Stills</h2><div class=stills>{stills or '<p>none</p>'}</div>"
        f"<h2>Container</h2><table>{_rows(container)}</table>"
        "<p>Emotion: FER-2013 mini-Xception classifier (independent of the tracker). Identity: "
        "a landmark-shape distance, not a face-recognition embedding; below the threshold is no "
        "proof of identity.</p></body></html>\n"
    )


def write_html(rep: Report, path: str | os.PathLike[str]) -> Path:
    """Write the page atomically (temp name, then rename)."""
    text = render_html(rep)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
