"""Emotions in blendshape space: presets, schedules, transitions, reference style, overrides.

The edit is computed per blendshape channel, in three groups:
- emotional channels (brows, eye squint/wide, cheeks, smile, frown, stretch, press, dimple, sneer)
  move toward the person's calm baseline plus the preset's offset, keeping a share of the
  person's own motion so the face stays alive;
- speech channels (jaw, lip closure, funnel, pucker, roll, lower-lip down, upper-lip up, ...)
  follow the original; a preset may add to them, and a level held above a calm face's (a grin's
  raised upper lip, REST_CEILING) or a preset's `calms` list is brought down (the articulation
  check in articulation.py keeps the closures and the rhythm of the speech);
- blinks and gaze are never changed.
Segments (an emotion or a reference over a time range) are cross-faded with smoothsteps, so
consecutive frames never jump.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError
from .outofcore import blocks
from .track import BLENDSHAPE_NAMES
from .types import EditedTrack, FaceTrack

if TYPE_CHECKING:
    from .manipulate import EditRequest

SPEECH_CHANNELS = (
    "jawOpen", "jawForward", "jawLeft", "jawRight", "mouthClose", "mouthFunnel", "mouthPucker",
    "mouthRollLower", "mouthRollUpper", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLeft", "mouthRight", "mouthShrugLower",
    "mouthShrugUpper",
)  # fmt: skip
FIXED_CHANNELS = (
    "_neutral", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight",
)  # fmt: skip
EMOTIONAL_CHANNELS = tuple(
    n for n in BLENDSHAPE_NAMES if n not in SPEECH_CHANNELS and n not in FIXED_CHANNELS
)
_INDEX = {n: i for i, n in enumerate(BLENDSHAPE_NAMES)}
EMOTIONAL_MASK = np.array([n in EMOTIONAL_CHANNELS for n in BLENDSHAPE_NAMES])
SPEECH_MASK = np.array([n in SPEECH_CHANNELS for n in BLENDSHAPE_NAMES])
MIN_INTENSITY, MAX_INTENSITY = 0.0, 1.5


@dataclass(frozen=True)
class EmotionSpec:
    """One emotion label and how strongly to apply it (0 = unchanged, 1 = the full preset)."""

    name: str  # a preset name or synonym, e.g. "happy", "anger"
    intensity: float = 1.0  # in [0, 1.5]


@dataclass(frozen=True)
class Preset:
    """A target profile: offsets of blendshape channels above the person's calm baseline."""

    name: str
    offsets: np.ndarray  # (52,) float64, 0 for channels the preset leaves at the baseline
    synonyms: tuple[str, ...] = ()
    facs: str = ""  # the FACS action units it stands for
    keep: float | None = None  # share of the person's own emotional motion kept (None: options')
    calms: tuple[int, ...] = ()  # speech channels whose rise above the calm baseline is treated
    # as emotion too (neutral: the upper lip a grin raises over the teeth)


@dataclass(frozen=True)
class PresetBook:
    """The presets in use (built-in, plus those of a user file) and where they came from."""

    presets: dict[str, Preset]
    source: str  # "built-in" or "built-in + FILE", for error messages

    def resolve(self, name: str) -> Preset:
        """The preset called `name` (or one of its synonyms), case-insensitive."""
        key = name.strip().lower()
        for p in self.presets.values():
            if key == p.name.lower() or key in (s.lower() for s in p.synonyms):
                return p
        valid = ", ".join(sorted(self.presets))
        raise InputError(
            f"unknown emotion {name!r}: valid ones are {valid} (presets: {self.source})."
        )


def parse_emotion_spec(text: str) -> EmotionSpec:
    """'happy' or 'happy:0.6' -> EmotionSpec (the name is checked later against the presets)."""
    name, _, value = text.strip().partition(":")
    if not name:
        raise InputError(f"{text!r}: give an emotion name, e.g. happy or happy:0.6.")
    if not _:
        return EmotionSpec(name.strip(), 1.0)
    intensity = _number(value, f"{text!r}: intensity")
    return EmotionSpec(name.strip(), intensity)


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{what} {text.strip()!r} is not a number.") from None
    if not np.isfinite(value):
        raise InputError(f"{what} {text.strip()!r} is not a finite number.")
    return value


@dataclass(frozen=True)
class Override:
    """A manual change of one blendshape: add `value` (relative) or set it to `value`."""

    channel: int  # index into BLENDSHAPE_NAMES
    value: float
    relative: bool


def parse_override(text: str) -> Override:
    """'mouthSmileLeft=+0.2' (adds 0.2) or 'browInnerUp=0.5' (sets 0.5) -> Override."""
    name, eq, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not name or not value:
        raise InputError(f"--set {text!r}: write NAME=+0.2 (adds) or NAME=0.5 (sets).")
    if name not in _INDEX or name == "_neutral":
        valid = ", ".join(n for n in BLENDSHAPE_NAMES if n not in FIXED_CHANNELS)
        raise InputError(f"--set {text!r}: unknown blendshape {name!r}; valid ones: {valid}.")
    if name in FIXED_CHANNELS:
        raise InputError(f"--set {text!r}: blinks and gaze are kept as tracked and cannot be set.")
    relative = value[0] in "+-"
    number = _number(value, f"--set {text!r}: value")
    if not relative and not 0.0 <= number <= 1.0:
        raise InputError(f"--set {text!r}: a set value must lie in [0, 1].")
    if relative and abs(number) > 1.0:
        raise InputError(f"--set {text!r}: a change must lie in [-1, +1].")
    return Override(_INDEX[name], number, relative)


# ----------------------------------------------------------------------------- presets


def load_presets(path: str | None = None) -> PresetBook:
    """The built-in presets, with those of `path` (a JSON file) added or replacing them."""
    presets = dict(_builtin_presets())
    source = "built-in"
    if path is not None:
        presets.update(_read_presets_file(Path(path)))
        source = f"built-in + {path}"
    return PresetBook(presets, source)


@functools.lru_cache(maxsize=1)
def _builtin_presets() -> tuple[tuple[str, Preset], ...]:
    text = resources.files("emodirector").joinpath("data/presets.json").read_text("utf-8")
    return tuple(_presets_from(json.loads(text), "emodirector/data/presets.json").items())


def _read_presets_file(path: Path) -> dict[str, Preset]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InputError(f"--presets {path}: no such file.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"--presets {path}: not a readable JSON presets file ({exc}).") from None
    return _presets_from(data, str(path))


def _presets_from(data: Any, origin: str) -> dict[str, Preset]:
    emotions = data.get("emotions") if isinstance(data, dict) else None
    if not isinstance(emotions, dict) or not emotions:
        raise InputError(f"{origin}: expected an object with an 'emotions' table of presets.")
    out = {}
    for name, entry in emotions.items():
        out[name.lower()] = _preset(name.lower(), entry, origin)
    return out


def _preset(name: str, entry: Any, origin: str) -> Preset:
    channels = entry.get("channels") if isinstance(entry, dict) else None
    if not isinstance(channels, dict):
        raise InputError(f"{origin}: emotion {name!r} needs a 'channels' object of name: offset.")
    offsets = np.zeros(len(BLENDSHAPE_NAMES))
    for ch, value in channels.items():
        if ch not in _INDEX or ch in FIXED_CHANNELS:
            raise InputError(
                f"{origin}: emotion {name!r}: {ch!r} is not an editable blendshape name."
            )
        if not isinstance(value, int | float) or not -1.0 <= float(value) <= 1.0:
            raise InputError(f"{origin}: emotion {name!r}: {ch} must be a number in [-1, 1].")
        offsets[_INDEX[ch]] = float(value)
    synonyms = tuple(str(s).lower() for s in entry.get("synonyms", []))
    keep = entry.get("keep_dynamics")
    if keep is not None and (not isinstance(keep, int | float) or not 0.0 <= float(keep) <= 1.0):
        raise InputError(f"{origin}: emotion {name!r}: keep_dynamics must be a number in [0, 1].")
    calms = entry.get("calms", [])
    if not isinstance(calms, list) or any(c not in SPEECH_CHANNELS for c in calms):
        bad = [c for c in calms if c not in SPEECH_CHANNELS] if isinstance(calms, list) else calms
        raise InputError(
            f"{origin}: emotion {name!r}: 'calms' lists speech channels only; not {bad!r}."
        )
    return Preset(
        name,
        offsets,
        synonyms,
        str(entry.get("facs", "")),
        None if keep is None else float(keep),
        tuple(_INDEX[c] for c in calms),
    )


# ----------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class Segment:
    """One part of the edit: an emotion preset or a reference style over [start, end) seconds."""

    start: float  # seconds; -inf = from the first frame
    end: float  # seconds; +inf = to the last frame
    label: str  # preset name, or "ref:<name>"
    intensity: float
    preset: Preset | None = None
    reference: FaceTrack | None = None


def parse_schedule(
    text: str, book: PresetBook, duration: float, frame_gap: float, start_time: float = 0.0
) -> list[Segment]:
    """'0-2.5:happy:0.8, 2.5-end:sad' -> segments, checked for syntax, overlap and range."""
    items = [s.strip() for s in text.split(",")]
    if not any(items):
        raise InputError(f"schedule {text!r} is empty; write e.g. '0-2.5:happy:0.8, 2.5-end:sad'.")
    segments = [_schedule_item(item, book, duration, frame_gap) for item in items]
    segments.sort(key=lambda s: s.start)
    for a, b in zip(segments, segments[1:], strict=False):
        if b.start < a.end - 1e-9:
            raise InputError(
                f"schedule {text!r}: ranges {a.start:g}-{_end(a.end)} and {b.start:g}-{_end(b.end)} overlap."
            )
    # A range that starts at the first frame or ends at the last has no edge to fade there.
    return [
        replace(
            s,
            start=-np.inf if s.start <= start_time + 1e-9 else s.start,
            end=np.inf if s.end >= duration - 1e-9 else s.end,
        )
        for s in segments
    ]


_ITEM = re.compile(r"^\s*([0-9.]+)\s*-\s*([0-9.]+|end)\s*:\s*([^:]+?)\s*(?::\s*(.+))?$")


def _schedule_item(item: str, book: PresetBook, duration: float, frame_gap: float) -> Segment:
    m = _ITEM.match(item)
    if not m:
        raise InputError(
            f"schedule item {item!r}: write START-END:EMOTION[:INTENSITY] in seconds, e.g. 0-2.5:happy:0.8 or 2.5-end:sad."
        )
    start = _number(m.group(1), f"schedule item {item!r}: start")
    end = np.inf if m.group(2) == "end" else _number(m.group(2), f"schedule item {item!r}: end")
    if end <= start:
        raise InputError(f"schedule item {item!r}: the end must come after the start.")
    if start >= duration or (np.isfinite(end) and end > duration + frame_gap):
        raise InputError(
            f"schedule item {item!r} lies outside the video (0-{duration:.3f} s); use 'end' for the last frame."
        )
    preset = book.resolve(m.group(3))
    intensity = (
        1.0 if m.group(4) is None else _number(m.group(4), f"schedule item {item!r}: intensity")
    )
    _check_intensity(intensity, preset.name)
    return Segment(float(start), float(end), preset.name, intensity, preset=preset)


def _start(x: float) -> str:
    return "start" if not np.isfinite(x) else f"{x:g}"


def _end(x: float) -> str:
    return "end" if not np.isfinite(x) else f"{x:g}"


def _check_intensity(value: float, what: str) -> None:
    if not MIN_INTENSITY <= value <= MAX_INTENSITY:
        raise InputError(
            f"intensity {value} for {what}: give a value from 0 (unchanged) to 1.5 (1 = full preset)."
        )


def equal_parts(n: int, t0: float, t1: float) -> list[tuple[float, float]]:
    """n consecutive equal parts of [t0, t1); the outer edges are open (no fade at the ends)."""
    edges = [t0 + (t1 - t0) * k / n for k in range(n + 1)]
    edges[0], edges[-1] = -np.inf, np.inf
    return list(zip(edges[:-1], edges[1:], strict=True))


def segment_weights(segments: list[Segment], times: np.ndarray, transition: float) -> np.ndarray:
    """(S, T) weights in [0, 1]: each segment's membership with smooth edges.

    An edge shared with the next segment cross-fades over `transition` seconds centred on it
    (weights sum to 1 there); an edge facing unchanged frames fades inside the segment, so
    frames outside every range stay exactly unchanged.
    """
    weights = np.zeros((len(segments), times.shape[0]))
    for k, s in enumerate(segments):
        shared_start = any(abs(o.end - s.start) < 1e-9 for o in segments)
        shared_end = any(abs(o.start - s.end) < 1e-9 for o in segments)
        half = min(transition, (s.end - s.start) / 2)
        w = np.ones_like(times)
        if np.isfinite(s.start):
            lo = s.start - transition / 2 if shared_start else s.start
            w *= _ramp(times, lo, transition if shared_start else half)
        if np.isfinite(s.end):
            hi = s.end - transition / 2 if shared_end else s.end - half
            w *= 1.0 - _ramp(times, hi, transition if shared_end else half)
        weights[k] = w
    return weights


def _ramp(t: np.ndarray, start: float, length: float) -> np.ndarray:
    """0 before `start`, 1 after start + length, a smoothstep between (a step if length is 0)."""
    if length <= 0:
        return (t >= start).astype(float)
    x = np.clip((t - start) / length, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


# ----------------------------------------------------------------------------- the plan


@dataclass
class EditPlan:
    """The resolved request: segments, their per-frame weights, and overrides."""

    segments: list[Segment]
    weights: np.ndarray  # (S, T) float64 in [0, 1]
    overrides: list[Override]
    envelope: np.ndarray  # (T,) float64: where overrides apply (sum of weights, or all ones)
    labels: tuple[str, ...]  # (T,) dominant segment label, "" where unchanged
    intensity: np.ndarray  # (T,) float64 effective intensity
    text: str = ""  # the resolved segments, e.g. "start-2.5:happy:0.8; 2.5-end:sad:1"

    def describe(self) -> str:
        return self.text


def plan_edit(
    track: FaceTrack,
    request: EditRequest,
    book: PresetBook,
    references: Sequence[FaceTrack] = (),
) -> EditPlan:
    """Turn a request into per-frame segment weights over this track's timestamps."""
    times = np.asarray(track.timestamps, dtype=np.float64)
    gap = float(np.median(np.diff(times))) if times.shape[0] > 1 else 1.0 / max(track.fps, 1.0)
    duration = float(times[-1] + gap)
    segments = _segments(request, book, list(references), times, duration, gap)
    weights = segment_weights(segments, times, request.transition)
    overrides = [parse_override(o) for o in request.overrides]
    envelope = weights.sum(axis=0) if segments else np.ones_like(times)
    labels, intensity = _labels(segments, weights, overrides)
    text = "; ".join(f"{_start(s.start)}-{_end(s.end)}:{s.label}:{s.intensity:g}" for s in segments)
    if overrides:
        text = "; ".join(x for x in (text, "set " + ", ".join(request.overrides)) if x)
    return EditPlan(segments, weights, overrides, envelope, labels, intensity, text)


def _segments(
    request: EditRequest,
    book: PresetBook,
    references: list[FaceTrack],
    times: np.ndarray,
    duration: float,
    gap: float,
) -> list[Segment]:
    t0 = float(times[0])
    if request.emotion is not None:
        p = book.resolve(request.emotion.name)
        return [Segment(-np.inf, np.inf, p.name, request.emotion.intensity, preset=p)]
    if request.emotions:
        parts = equal_parts(len(request.emotions), t0, duration)
        presets = [book.resolve(e.name) for e in request.emotions]
        return [
            Segment(a, b, p.name, e.intensity, preset=p)
            for (a, b), p, e in zip(parts, presets, request.emotions, strict=True)
        ]
    if request.schedule is not None:
        return parse_schedule(request.schedule, book, duration, gap, t0)
    if references:
        parts = equal_parts(len(references), t0, duration)
        names = list(request.references) or [
            r.source or f"reference {i + 1}" for i, r in enumerate(references)
        ]
        return [
            Segment(a, b, f"ref:{Path(n).name}", request.reference_intensity, reference=r)
            for (a, b), r, n in zip(parts, references, names, strict=True)
        ]
    return []


def _labels(
    segments: list[Segment], weights: np.ndarray, overrides: list[Override]
) -> tuple[tuple[str, ...], np.ndarray]:
    t = weights.shape[1]
    if not segments:
        label = "set" if overrides else ""
        return (label,) * t, np.full(t, 1.0 if overrides else 0.0)
    dominant = np.argmax(weights, axis=0)
    strength = weights.max(axis=0)
    labels = tuple(
        segments[d].label if w > 0 else "" for d, w in zip(dominant, strength, strict=True)
    )
    intensity = (weights * np.array([s.intensity for s in segments])[:, None]).sum(axis=0)
    return labels, intensity


# ----------------------------------------------------------------------------- the edit


# The highest value an emotional channel takes on a calm face, in MediaPipe's coding (the
# neutral parts of the shared clips, smile_reference's first second included). A person whose
# calmest frames still hold an emotion (a man grinning through a whole clip) is taken to this
# level, so "neutral" removes it; the brows' and eye squint's resting values vary too much from
# person to person (0.0-0.8) to cap.
REST_CEILING = {
    "mouthUpperUp": 0.25, "mouthSmile": 0.1, "mouthFrown": 0.1, "mouthDimple": 0.15, "mouthStretch": 0.15,
    "mouthPress": 0.2, "browDown": 0.15, "eyeWide": 0.15, "cheekSquint": 0.1, "noseSneer": 0.1,
}  # fmt: skip


def rest_level(calm: np.ndarray) -> np.ndarray:
    """(52,) the calm baseline with each REST_CEILING channel capped at its ceiling."""
    out = calm.copy()
    for group, ceiling in REST_CEILING.items():
        cols = [_INDEX[n] for n in (group, group + "Left", group + "Right") if n in _INDEX]
        out[cols] = np.minimum(out[cols], ceiling)
    return out


def calm_baseline(blendshapes: np.ndarray, valid: np.ndarray, share: float = 0.2) -> np.ndarray:
    """(52,) the person's calm face: mean blendshapes of the frames least emotionally active.

    Taken jointly over frames (not per channel) so the baseline is a face the person made.
    """
    b = blendshapes[valid].astype(np.float64)
    activity = b[:, EMOTIONAL_MASK].sum(axis=1)
    n = max(1, int(round(share * b.shape[0])))
    calm = np.argsort(activity, kind="stable")[:n]
    return b[calm].mean(axis=0)


def preset_target(
    b: np.ndarray, base: np.ndarray, preset: Preset, intensity: float, keep: float
) -> np.ndarray:
    """(T, 52) blendshapes with `preset` fully applied at `intensity`.

    Emotional channels, at intensity 1: the rest level (the calm baseline, capped by
    REST_CEILING) + the offset + `keep` of the person's own deviation from the calm baseline;
    at intensity I the change from the original is I times that of intensity 1.
    Speech channels: the original plus intensity x offset.
    """
    if preset.keep is not None:
        keep = preset.keep
    level = rest_level(base)
    out = b.copy()
    emo = EMOTIONAL_MASK
    own = b[:, emo] - base[emo]  # the person's own emotional motion
    removed = min(1.0, intensity * (1.0 - keep))  # share of it taken away
    out[:, emo] = b[:, emo] + intensity * (level[emo] + preset.offsets[emo] - base[emo])
    out[:, emo] -= removed * own
    # Speech channels keep their motion; a level held above a calm face's (the upper lip of a
    # grin kept through the whole clip) is lowered to it.
    sp = SPEECH_MASK
    out[:, sp] = b[:, sp] + intensity * (preset.offsets[sp] + level[sp] - base[sp])
    for c in preset.calms:  # as the emotional channels: the rise above calm is taken away
        out[:, c] -= removed * np.maximum(b[:, c] - base[c], 0.0)
    return out


def reference_target(
    b: np.ndarray,
    base: np.ndarray,
    reference: FaceTrack,
    frames: np.ndarray,
    intensity: float,
) -> np.ndarray:
    """(T, 52) blendshapes with the reference's style: each emotional channel's activation above
    the calm baseline is quantile-matched to the reference's, keeping the target's own timing.

    The quantile map's slope is bounded (MIN/MAX_STYLE_SLOPE), anchored at the medians: a channel
    the target barely moves carries no timing (its ranks are noise), and a bimodal reference
    (calm, then a broad smile) would otherwise turn that noise into on/off jumps; a flat stretch
    of the reference would otherwise erase the target's own motion.
    """
    rb = reference.blendshapes[reference.valid].astype(np.float64)
    ref_act = rb - calm_baseline(reference.blendshapes, reference.valid)
    act = b - base
    out = b.copy()
    for c in np.flatnonzero(EMOTIONAL_MASK):
        mapped = _match_channel(act[:, c], frames, ref_act[:, c])
        out[:, c] = b[:, c] + intensity * (base[c] + mapped - b[:, c])
    return out


_LEVELS = np.linspace(0.02, 0.98, 49)  # quantile levels of the map; index 24 is the median
MAX_STYLE_SLOPE = 3.0  # a target change of x moves the styled channel by at most 3x ...
MIN_STYLE_SLOPE = 0.5  # ... and by at least x/2, so the target's own motion always shows


def _match_channel(a: np.ndarray, frames: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Monotone map of `a` (T,) onto the distribution of `ref`, fitted on a[frames]."""
    from scipy.ndimage import gaussian_filter1d

    smooth = gaussian_filter1d(a, 2.0, mode="nearest")  # rank on motion, not tracker jitter
    x = np.quantile(smooth[frames], _LEVELS) + np.arange(_LEVELS.size) * 1e-9
    y = _bound_slope(x, np.quantile(ref, _LEVELS))
    inside = np.clip(smooth, x[0], x[-1])
    return np.interp(inside, x, y) + (smooth - inside) + (a - smooth)


def _bound_slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """y rebuilt from its median outward with every step's slope within the style bounds."""
    dx = np.diff(x)
    steps = np.clip(np.diff(y), MIN_STYLE_SLOPE * dx, MAX_STYLE_SLOPE * dx)
    m = _LEVELS.size // 2
    out = np.empty_like(y)
    out[m] = y[m]
    out[m + 1 :] = y[m] + np.cumsum(steps[m:])
    out[:m] = y[m] - np.cumsum(steps[:m][::-1])[::-1]
    return out


def edit_blendshapes(
    track: FaceTrack,
    plan: EditPlan,
    keep: float,
    block: int = 4096,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """(T, 52) float64 edited blendshapes: segments cross-faded by weight, then overrides.

    `keep` is the share of the person's own emotional motion kept at intensity 1. Every frame's
    edit depends only on its own row (and on the calm baseline and reference maps, found over
    all frames first), so frames are edited `block` at a time: temporaries stay small.

    Rows of frames without a face are returned unchanged (NaN).

    `bounds` limits the edited values: [0, 1] is the tracker's range; the manipulator asks
    for a wider one (GEOMETRY_BOUNDS) because the geometry may go where the coding cannot,
    e.g. brows lowered below a browInnerUp of 0 on a face whose brows rest at 0.
    """
    out = track.blendshapes.astype(np.float64)
    valid_rows = np.flatnonzero(track.valid)
    base = calm_baseline(track.blendshapes, track.valid)
    styled = _reference_targets(out, valid_rows, base, plan)
    for sl in blocks(valid_rows.size, block):
        rows = valid_rows[sl]
        bv = out[rows]
        edit = np.zeros_like(bv)
        for s, w, ref in zip(plan.segments, plan.weights, styled, strict=True):
            if s.preset is not None:
                target = preset_target(bv, base, s.preset, s.intensity, keep)
            elif ref is not None:
                target = ref[sl]
            else:
                continue
            edit += w[rows][:, None] * (np.clip(target, *bounds) - bv)
        edited = bv + edit
        env = plan.envelope[rows]
        for o in plan.overrides:
            col = edited[:, o.channel]
            change = o.value if o.relative else o.value - col
            edited[:, o.channel] = col + env * change
        out[rows] = np.clip(edited, *bounds)
    return out


def _reference_targets(
    b: np.ndarray, rows: np.ndarray, base: np.ndarray, plan: EditPlan
) -> list[np.ndarray | None]:
    """Per segment, the styled blendshapes (n, 52) of the face frames `rows` of `b` (T, 52)
    for a reference segment, else None.

    The style map of a reference is fitted on the frames the segment dominates, so it needs
    all of them at once (one (n, 52) array per reference segment).
    """
    out: list[np.ndarray | None] = []
    for s, w in zip(plan.segments, plan.weights, strict=True):
        if s.preset is not None or s.reference is None:
            out.append(None)
            continue
        wv = w[rows]
        inside = np.flatnonzero(wv > 0.5) if (wv > 0.5).any() else np.flatnonzero(wv > 0)
        out.append(reference_target(b[rows], base, s.reference, inside, s.intensity))
    return out


# ----------------------------------------------------------------------------- plot


def changed_channels(edited: EditedTrack, min_change: float = 0.02) -> list[int]:
    """Indices of blendshapes whose edit moved them by more than `min_change` somewhere."""
    diff = np.abs(edited.blendshapes - edited.original.blendshapes)
    peak = np.nanmax(np.where(np.isnan(diff), 0.0, diff), axis=0)
    return [int(i) for i in np.argsort(-peak, kind="stable") if peak[i] > min_change]


def plot_curves(edited: EditedTrack, path: str | Path, max_channels: int = 12) -> Path:
    """Draw original (grey) vs edited (colour) curves of the changed channels, schedule shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .video import atomic_path

    chans = changed_channels(edited)[:max_channels]
    t = edited.original.timestamps
    rows = max(1, len(chans))
    fig, axes = plt.subplots(rows, 1, figsize=(9, 1.3 * rows + 0.8), sharex=True, squeeze=False)
    for ax, c in zip(axes[:, 0], chans or [0], strict=False):
        _shade(ax, t, edited)
        ax.plot(t, edited.original.blendshapes[:, c], color="0.55", lw=1.0, label="original")
        ax.plot(t, edited.blendshapes[:, c], color="C3", lw=1.2, label="edited")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(BLENDSHAPE_NAMES[c], rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(labelsize=7)
    if not chans:
        axes[0, 0].set_title("no channel changed", fontsize=9)
    axes[0, 0].legend(loc="upper right", fontsize=7, ncol=2)
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(edited.meta.get("request", ""), fontsize=9)
    fig.tight_layout()
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100, format="png", metadata={"Software": "emodirector"})
    plt.close(fig)
    return out


def _shade(ax: Any, t: np.ndarray, edited: EditedTrack) -> None:
    """Shade where each label applies, its opacity following the effective intensity."""
    labels = edited.labels
    names = sorted({lab for lab in labels if lab})
    for k, name in enumerate(names):
        mask = np.array([lab == name for lab in labels])
        ax.fill_between(
            t, 0, 1, where=mask, color=f"C{k % 10}", alpha=0.12, step="mid", lw=0,
            label=name if ax is ax.figure.axes[0] else None,
        )  # fmt: skip
