"""Measure what the emotion edits achieve on the shared talking clips (issue #9).

For each clip (the first SECONDS of it) x emotion x intensity: manipulate -> render -> re-track
the output -> `emodirector report` (library call, the original's track reused). Prints and writes
(JSON + Markdown) four tables:

1. FER target-probability rise (after - before) per emotion x clip, as `report` measures it;
2. achieved blendshape change (re-tracked edited - re-tracked original, mean over frames, L/R
   averaged) against the real acted emotions of ../shared/REAL_EXPRESSIONS.md table 1: cosine
   and norm ratio over MEASURE_GROUPS (REAL_SIGNATURES below);
3. articulation: inner-lip opening correlation, share of the original's closed-lip frames still
   closed, jawOpen correlation (all re-tracked), the identity distance of `report` and its
   re-tracked landmark jitter ratio (edited / original);
4. requested (edited track) vs achieved (re-tracked) change per channel group, pooled over clips:
   the delivery ratio used to calibrate the presets.

Usage: python scripts/measure_emotions.py [--seconds 3.5] [--intensity 1 1.5] [--clips a b]
       [--emotions happy sad] [--out DIR] [--presets FILE]
Needs ../shared/data/videos beside the checkout. About 10 s per clip x emotion on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from emodirector.demo import sample_clip
from emodirector.manipulate import EditRequest, EmotionSpec, manipulate
from emodirector.pipeline import render_video
from emodirector.report import ReportOptions, report
from emodirector.signatures import (
    MEASURE_GROUPS,
    REAL_SIGNATURES,
    cosine_and_ratio,
    group_columns,
    group_means,
    real_vector,
)
from emodirector.track import BLENDSHAPE_NAMES, TrackOptions, track_video
from emodirector.types import FaceTrack

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "data" / "videos"
CLIPS = (
    "talking_frontal_a",
    "talking_frontal_b",
    "talking_frontal_c",
    "talking_vfr",
    "head_motion",
)
EMOTIONS = ("happy", "sad", "angry", "surprised", "fear", "disgusted", "contempt", "neutral")

FER_TARGET = {"surprised": "surprise", "disgusted": "disgust"}
CLOSED = 0.04  # inner-lip opening (inter-ocular units) below which the lips count as closed


def jaw_length(landmarks: np.ndarray) -> np.ndarray:
    """(T,) chin (152) to nose tip (1) distance / nose bridge (168) to nose tip distance."""
    lm = landmarks[:, :, :2].astype(np.float64)
    return np.linalg.norm(lm[:, 152] - lm[:, 1], axis=1) / np.linalg.norm(
        lm[:, 168] - lm[:, 1], axis=1
    )


def closed_kept(open_o: np.ndarray, open_e: np.ndarray) -> float:
    """Share of the original's closed-lip frames (opening < CLOSED) that are closed when edited."""
    ok = np.isfinite(open_o) & np.isfinite(open_e)
    closed = ok & (open_o < CLOSED)
    return float((open_e[closed] < CLOSED).mean()) if closed.any() else float("nan")


def corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or a[ok].std() == 0 or b[ok].std() == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def measure_one(
    video: Path,
    track: FaceTrack,
    emotion: str,
    intensity: float,
    seconds: float,
    presets: str | None,
) -> dict:
    request = EditRequest(emotion=EmotionSpec(emotion, intensity), presets=presets)
    edited = manipulate(track, request)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        render_video(video, edited, out, window=(0.0, seconds))
        after = track_video(out).track
        # contempt has no FER class; for neutral the class to watch is the happy it removes
        target = {"contempt": None, "neutral": "happy"}.get(
            emotion, FER_TARGET.get(emotion, emotion)
        )
        rep = report(video, out, ReportOptions(emotion=target), tracks=(track, after))
    both = track.valid & after.valid
    orig = track.blendshapes[both].astype(np.float64)
    requested = group_means(edited.blendshapes[both].astype(np.float64) - orig)
    achieved = group_means(after.blendshapes[both].astype(np.float64) - orig)
    jaw = BLENDSHAPE_NAMES.index("jawOpen")
    # The jaw's speech motion in the geometry: chin to nose tip over the nose's length (points
    # no edit moves), re-tracked.
    chin_o, chin_e = jaw_length(track.landmarks[both]), jaw_length(after.landmarks[both])
    row = {
        "chin_corr": corr(chin_o, chin_e),
        "clip": video.stem,
        "emotion": emotion,
        "intensity": intensity,
        "requested": requested.tolist(),
        "achieved": achieved.tolist(),
        "lip_corr": rep.lips["correlation"],
        "closed_kept": closed_kept(rep.opening_before, rep.opening_after),
        "closed_frames": int((rep.opening_before < CLOSED).sum()),
        "jaw_corr": corr(track.blendshapes[both, jaw], after.blendshapes[both, jaw]),
        "identity": rep.identity["distance"],
        "jitter_ratio": rep.stability["ratio"],
        "identity_threshold": rep.identity["threshold"],
        "mean_opening_before": rep.lips["mean_opening_before"],
        "mean_opening_after": rep.lips["mean_opening_after"],
    }
    if rep.emotion is not None:
        row["fer_target"] = rep.emotion["target"]
        row["fer_before"] = rep.emotion["target_prob_before"]
        row["fer_after"] = rep.emotion["target_prob_after"]
        row["top_before"] = rep.emotion["target_top_share_before"]
        row["top_after"] = rep.emotion["target_top_share_after"]
    if emotion == "neutral":
        smile = [BLENDSHAPE_NAMES.index(n) for n in ("mouthSmileLeft", "mouthSmileRight")]
        row["smile_before"] = float(track.blendshapes[both][:, smile].mean())
        row["smile_after"] = float(after.blendshapes[both][:, smile].mean())
    return row


def probe_one(video: Path, track: FaceTrack, group: str, amount: float, seconds: float) -> dict:
    """Ask for `amount` of one group alone (a relative --set on its channels); no report."""
    names = [BLENDSHAPE_NAMES[c] for c in group_columns(group)]
    request = EditRequest(overrides=tuple(f"{n}={amount:+g}" for n in names))
    edited = manipulate(track, request)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        render_video(video, edited, out, window=(0.0, seconds))
        after = track_video(out).track
    both = track.valid & after.valid
    orig = track.blendshapes[both].astype(np.float64)
    requested = group_means(edited.blendshapes[both].astype(np.float64) - orig)
    achieved = group_means(after.blendshapes[both].astype(np.float64) - orig)
    g = MEASURE_GROUPS.index(group)
    return {"clip": video.stem, "group": group, "amount": amount, "requested": requested[g],
            "achieved": achieved[g], "all_achieved": achieved.tolist()}  # fmt: skip


def probe(args: argparse.Namespace) -> int:
    rows = []
    for clip in args.clips:
        video = sample_clip() if clip == "demo" else VIDEOS / f"{clip}.mp4"
        track = track_video(video, TrackOptions(), start=0.0, end=args.seconds).track
        for group in MEASURE_GROUPS:
            for amount in (-args.probe, args.probe) if group.startswith("brow") else (args.probe,):
                row = probe_one(video, track, group, amount, args.seconds)
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "all_achieved"}),
                      file=sys.stderr, flush=True)  # fmt: skip
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "probe.json").write_text(json.dumps(rows, indent=1))
    for group in MEASURE_GROUPS:
        for sign in (-1, 1):
            sel = [r for r in rows if r["group"] == group and np.sign(r["amount"]) == sign]
            if sel:
                req = np.mean([r["requested"] for r in sel])
                ach = np.mean([r["achieved"] for r in sel])
                print(f"{group:15s} {sign:+d}: requested {req:+.3f} achieved {ach:+.3f} "
                      f"delivery {ach / req:.2f}")  # fmt: skip
    return 0


def tables(rows: list[dict], intensity: float) -> list[str]:
    rows = [r for r in rows if r["intensity"] == intensity]
    clips = list(dict.fromkeys(r["clip"] for r in rows))
    emotions = list(dict.fromkeys(r["emotion"] for r in rows))
    by = {(r["emotion"], r["clip"]): r for r in rows}
    out = [f"### Intensity {intensity:g}", "", "FER target probability rise (after - before):", ""]
    out += ["| emotion | " + " | ".join(clips) + " | mean |", "|---" * (len(clips) + 2) + "|"]
    for e in emotions:
        vals = [by[(e, c)].get("fer_after", np.nan) - by[(e, c)].get("fer_before", np.nan)
                if (e, c) in by else np.nan for c in clips]  # fmt: skip
        if all(np.isnan(vals)):
            continue
        cells = [f"{v:+.2f}" for v in vals]
        out.append(f"| {e} | " + " | ".join(cells) + f" | **{np.nanmean(vals):+.2f}** |")
    out += ["", "Achieved (re-tracked) vs real (REAL_EXPRESSIONS.md table 1), mean over clips:", ""]
    out += ["| emotion | cosine | norm ratio | per clip cosine | achieved (largest groups) |"]
    out += ["|---|---|---|---|---|"]
    for e in emotions:
        if e not in REAL_SIGNATURES:
            continue
        ach = np.mean([by[(e, c)]["achieved"] for c in clips if (e, c) in by], axis=0)
        cos, ratio = cosine_and_ratio(ach, real_vector(e))
        per = [cosine_and_ratio(np.array(by[(e, c)]["achieved"]), real_vector(e))[0]
               for c in clips if (e, c) in by]  # fmt: skip
        top = np.argsort(-np.abs(ach))[:5]
        desc = ", ".join(f"{MEASURE_GROUPS[i]} {ach[i]:+.2f}" for i in top)
        out.append(
            f"| {e} | {cos:.2f} | {ratio:.2f} | "
            + " ".join(f"{p:.2f}" for p in per)
            + f" | {desc} |"
        )
    out += ["", "Articulation (re-tracked) and identity, per clip x emotion:", ""]
    out += ["| emotion | clip | lip-opening corr | closed kept (frames) | jawOpen corr | "
            "chin corr | opening before -> after | identity (thr) | jitter ratio |",
            "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for e in emotions:
        for c in clips:
            r = by.get((e, c))
            if r is None:
                continue
            out.append(
                f"| {e} | {c} | {_f(r['lip_corr'])} | {_f(r['closed_kept'])} "
                f"({r['closed_frames']}) | {_f(r['jaw_corr'])} | {_f(r['chin_corr'])} | "
                f"{r['mean_opening_before']:.3f} -> {r['mean_opening_after']:.3f} | "
                f"{r['identity']:.4f} ({r['identity_threshold']}) | "
                f"{_f(r.get('jitter_ratio'))} |"
            )
    jit = [r["jitter_ratio"] for r in rows if r.get("jitter_ratio") is not None]
    if jit:
        out += ["", f"Re-tracked jitter ratio (`report` stability, edited / original): mean "
                f"{np.nanmean(jit):.3f}, range {np.nanmin(jit):.3f}-{np.nanmax(jit):.3f}"]  # fmt: skip
    out += ["", "Requested vs achieved change per group (mean over clips):", ""]
    out += [
        "| emotion | " + " | ".join(MEASURE_GROUPS) + " |",
        "|---" * (len(MEASURE_GROUPS) + 1) + "|",
    ]
    for e in emotions:
        req = np.mean([by[(e, c)]["requested"] for c in clips if (e, c) in by], axis=0)
        ach = np.mean([by[(e, c)]["achieved"] for c in clips if (e, c) in by], axis=0)
        out.append(
            f"| {e} | "
            + " | ".join(f"{a:+.2f}/{b:+.2f}" for a, b in zip(req, ach, strict=True))
            + " |"
        )
    neutral = [by[("neutral", c)] for c in clips if ("neutral", c) in by]
    if neutral:
        out += [
            "",
            "Neutral (the FER row above is P(happy)): mouthSmile and happy, before -> after:",
            "",
        ]
        for r in neutral:
            out.append(
                f"- {r['clip']}: mouthSmile {r['smile_before']:.3f} -> {r['smile_after']:.3f} "
                f"({r['smile_after'] / r['smile_before'] - 1:+.0%}); P(happy) "
                f"{r['fer_before']:.2f} -> {r['fer_after']:.2f}; happy on top "
                f"{r['top_before']:.0%} -> {r['top_after']:.0%}"
            )
    return out + [""]


def _f(v: float | None) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.5)
    ap.add_argument("--intensity", type=float, nargs="+", default=[1.0])
    ap.add_argument("--clips", nargs="+", default=list(CLIPS))
    ap.add_argument("--emotions", nargs="+", default=list(EMOTIONS))
    ap.add_argument("--presets", default=None)
    ap.add_argument("--out", default="measure_out")
    ap.add_argument("--probe", type=float, default=None, help="probe each group alone by this")
    ap.add_argument(
        "--merge", nargs="+", default=None, help="only print the tables of rows.json files"
    )
    args = ap.parse_args(argv)
    if args.probe is not None:
        return probe(args)
    if args.merge:
        rows = [r for f in args.merge for r in json.loads(Path(f).read_text())]
        rows = [
            r
            for r in rows
            if r["clip"] in args.clips or r["clip"] == "single_face" and "demo" in args.clips
        ]
        text = [line for i in sorted({r["intensity"] for r in rows}) for line in tables(rows, i)]
        print("\n".join(text))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for clip in args.clips:
        video = sample_clip() if clip == "demo" else VIDEOS / f"{clip}.mp4"
        track = track_video(video, TrackOptions(), start=0.0, end=args.seconds).track
        for intensity in args.intensity:
            for emotion in args.emotions:
                row = measure_one(video, track, emotion, intensity, args.seconds, args.presets)
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k not in ("requested", "achieved")}),
                      file=sys.stderr, flush=True)  # fmt: skip
                (out / "rows.json").write_text(json.dumps(rows, indent=1))
    text = []
    for intensity in args.intensity:
        text += tables(rows, intensity)
    (out / "tables.md").write_text("\n".join(text))
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
