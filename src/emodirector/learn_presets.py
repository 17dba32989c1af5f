"""Learn emotion presets from labelled footage: the manipulator's training step.

Given clips labelled with a person and an emotion (optionally a time range of the clip), every
labelled range is tracked; each emotion's change is the mean blendshapes of its frames minus the
mean of the same person's neutral frames, so the person's face and resting expression drop out;
the changes are pooled over people (mean, and the spread between people). The result is a
presets file in the format of data/presets.json, usable with `--presets`, that also records the
full profile, its spread and how many people and frames it rests on.

Labels come from a CSV (file, person, emotion, optional start, end in seconds; paths relative
to the CSV's folder) or from a corpus folder in a known layout (MEAD, RAVDESS, CREMA-D).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .emotions import FIXED_CHANNELS, PresetBook, load_presets
from .errors import InputError, NoFaceError
from .track import BLENDSHAPE_NAMES, TrackOptions, track_video
from .types import FaceTrack, ProgressHook, no_progress
from .video import atomic_path

# Channels a learned preset may move: every emotional channel, plus the speech channels an
# emotion adds to (the jaw drop of surprise and fear, the upper lip of a grin or a sneer, the
# lower lip of a grin). Rounding (pucker, funnel), closure, rolls and sideways motion stay
# speech: they come from the words, not the emotion.
_SPEECH_ADDED = ("jawOpen", "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft",
                 "mouthLowerDownRight")  # fmt: skip
LEARNED_CHANNELS = tuple(
    n
    for n in BLENDSHAPE_NAMES
    if n not in FIXED_CHANNELS
    and (
        n in _SPEECH_ADDED
        or not n.startswith(
            (
                "jaw",
                "mouthClose",
                "mouthFunnel",
                "mouthPucker",
                "mouthRoll",
                "mouthShrug",
                "mouthLeft",
                "mouthRight",
            )
        )
    )  # fmt: skip
)
LAYOUTS = ("mead", "ravdess", "cremad")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".flv", ".webm")


@dataclass(frozen=True)
class LabelRow:
    """One labelled clip or time range of a clip."""

    file: Path
    person: str
    emotion: str  # a preset name (synonyms resolved), "neutral" for the reference
    start: float | None = None  # seconds; None = from the first frame
    end: float | None = None  # seconds; None = to the last frame
    where: str = ""  # "labels.csv line 3" or the corpus path, for messages


@dataclass(frozen=True)
class LearnOptions:
    """How to learn. The CLI reads its defaults from here."""

    min_change: float = 0.02  # channels whose pooled change is smaller are left out of a preset
    track: TrackOptions = field(default_factory=TrackOptions)


@dataclass
class LearnedEmotion:
    """One emotion's change from neutral, pooled over people (52 channels, MediaPipe order)."""

    profile: np.ndarray  # (52,) float64 mean over people of (emotion mean - neutral mean)
    spread: np.ndarray  # (52,) float64 standard deviation of that change between people
    people: int
    frames: int


# ----------------------------------------------------------------------------- labels


def read_labels(path: str | os.PathLike[str], book: PresetBook | None = None) -> list[LabelRow]:
    """Rows of a labels CSV, each checked (file exists, emotion known, range valid)."""
    book = book or load_presets()
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: no such labels file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot be read as a UTF-8 CSV file ({exc}).") from None
    reader = csv.DictReader(text.splitlines())
    need = {"file", "person", "emotion"}
    header = {h.strip().lower() for h in reader.fieldnames or []}
    if not need <= header:
        raise InputError(
            f"{p}: the first line must name the columns file, person, emotion "
            "(and optionally start, end in seconds)."
        )
    rows = []
    for n, raw in enumerate(reader, start=2):
        rec = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        rows.append(_row(rec, p.parent, f"{p} line {n}", book))
    if not rows:
        raise InputError(f"{p}: no labelled clip in the file.")
    return rows


def _row(rec: dict[str, str], folder: Path, where: str, book: PresetBook) -> LabelRow:
    if not rec.get("file") or not rec.get("person") or not rec.get("emotion"):
        raise InputError(f"{where}: give a file, a person and an emotion.")
    file = Path(rec["file"]).expanduser()
    file = file if file.is_absolute() else folder / file
    if not file.is_file():
        raise InputError(
            f"{where}: file {rec['file']!r} not found (paths are relative to the CSV)."
        )
    try:
        emotion = book.resolve(rec["emotion"]).name
    except InputError:
        valid = ", ".join(sorted(book.presets))
        raise InputError(
            f"{where}: unknown emotion {rec['emotion']!r}; valid ones are {valid}."
        ) from None
    start = _time(rec.get("start", ""), where, "start")
    end = _time(rec.get("end", ""), where, "end")
    if start is not None and end is not None and end <= start:
        raise InputError(f"{where}: the end ({end:g} s) must come after the start ({start:g} s).")
    return LabelRow(file, rec["person"], emotion, start, end, where)


def _time(text: str, where: str, what: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {what} {text!r} is not a number of seconds.") from None
    if not np.isfinite(value) or value < 0:
        raise InputError(f"{where}: {what} {text!r} must be a time in seconds from 0.")
    return value


# RAVDESS: 03-01-05-01-02-01-12.mp4 = modality-channel-EMOTION-intensity-statement-rep-ACTOR.
_RAVDESS = {
    "01": "neutral",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fear",
    "07": "disgusted",
    "08": "surprised",
}  # fmt: skip  (02 "calm" is not used)
# CREMA-D: 1001_DFA_ANG_XX.flv = ACTOR_sentence_EMOTION_level.
_CREMAD = {"NEU": "neutral", "HAP": "happy", "SAD": "sad", "ANG": "angry", "FEA": "fear",
           "DIS": "disgusted"}  # fmt: skip


def labels_from_layout(folder: str | os.PathLike[str], layout: str) -> list[LabelRow]:
    """Label rows for a corpus folder in a known layout (whole clips, no ranges).

    mead:    PERSON/video/front/EMOTION/level_N/NNN.mp4 (front view only; all levels)
    ravdess: Actor_NN/03-01-EE-II-SS-RR-NN.mp4 (any folder depth; 02 "calm" is skipped)
    cremad:  NNNN_SSS_EEE_LL.flv (any folder depth)
    """
    root = Path(folder)
    if layout not in LAYOUTS:
        raise InputError(f"layout {layout!r}: use one of {', '.join(LAYOUTS)}.")
    if not root.is_dir():
        raise InputError(f"{root}: no such corpus folder.")
    book = load_presets()
    rows = []
    for f in sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES):
        label = _layout_label(f.relative_to(root), layout)
        if label is not None:
            person, emotion = label
            rows.append(LabelRow(f, person, book.resolve(emotion).name, where=str(f)))
    if not rows:
        raise InputError(f"{root}: no video named as the {layout} layout expects was found.")
    return rows


def _layout_label(rel: Path, layout: str) -> tuple[str, str] | None:
    parts = rel.parts
    if layout == "mead":  # PERSON/video/front/EMOTION/level_N/NNN.mp4
        if len(parts) >= 6 and parts[-5:-3] == ("video", "front"):
            return parts[-6], parts[-3]
        return None
    if layout == "ravdess":
        m = re.fullmatch(r"0[12]-0[12]-(\d\d)-\d\d-\d\d-\d\d-(\d\d)", rel.stem)
        if m is None or m.group(1) not in _RAVDESS:
            return None
        return f"actor{m.group(2)}", _RAVDESS[m.group(1)]
    m = re.fullmatch(r"(\d+)_[A-Z]+_([A-Z]{3})_[A-Z0-9]+", rel.stem)
    if m is None or m.group(2) not in _CREMAD:
        return None
    return m.group(1), _CREMAD[m.group(2)]


def check_labels(rows: Sequence[LabelRow]) -> None:
    """Every person has a neutral reference; ranges of the same file do not overlap."""
    people = {r.person for r in rows}
    neutral = {r.person for r in rows if r.emotion == "neutral"}
    for person in sorted(people - neutral):
        first = next(r for r in rows if r.person == person)
        raise InputError(
            f"{first.where}: person {person!r} has no neutral reference; add a row with "
            "emotion neutral (a neutral clip or time range) for them."
        )
    if not any(r.emotion != "neutral" for r in rows):
        raise InputError("the labels hold only neutral clips: label some emotions too.")
    by_file: dict[Path, list[LabelRow]] = {}
    for r in rows:
        by_file.setdefault(r.file.resolve(), []).append(r)
    for same in by_file.values():
        spans = sorted(same, key=lambda r: r.start or 0.0)
        for a, b in zip(spans, spans[1:], strict=False):
            a_end = np.inf if a.end is None else a.end
            if (b.start or 0.0) < a_end:
                raise InputError(
                    f"{b.where}: its range {_span(b)} of {b.file.name} overlaps the range "
                    f"{_span(a)} of {a.where}; give each moment one label."
                )


def _span(r: LabelRow) -> str:
    return f"{r.start or 0:g}-{'end' if r.end is None else format(r.end, 'g')} s"


# ----------------------------------------------------------------------------- learning

Tracker = Callable[[LabelRow], FaceTrack]


def learn_from_tracks(items: Sequence[tuple[LabelRow, FaceTrack]]) -> dict[str, LearnedEmotion]:
    """Pool each emotion's change from the same person's neutral over people (pure numpy).

    Each person's neutral is the mean of their neutral frames (all their neutral rows); each
    person's emotion change is the mean of that emotion's frames minus it; people count equally.
    """
    sums: dict[tuple[str, str], list[np.ndarray]] = {}
    for row, track in items:
        b = track.blendshapes[track.valid].astype(np.float64)
        if b.shape[0] == 0:
            raise NoFaceError(
                f"{row.where}: {row.file.name} {_span(row)} has no frame with a face."
            )
        sums.setdefault((row.person, row.emotion), []).append(b)
    means = {k: (np.concatenate(v).mean(axis=0), sum(len(x) for x in v)) for k, v in sums.items()}
    out: dict[str, LearnedEmotion] = {}
    emotions = sorted({e for _, e in means if e != "neutral"})
    for emotion in emotions:
        changes, frames = [], 0
        for (person, e), (mean, n) in means.items():
            if e == emotion:
                changes.append(mean - means[person, "neutral"][0])
                frames += n
        c = np.stack(changes)
        out[emotion] = LearnedEmotion(c.mean(axis=0), c.std(axis=0), len(changes), frames)
    return out


def track_row(row: LabelRow, options: TrackOptions, hook: ProgressHook = no_progress) -> FaceTrack:
    """The track of one labelled range; InputError when the range holds no frame."""
    track = track_video(row.file, options, hook=hook, start=row.start, end=row.end).track
    if track.n_frames == 0:
        raise InputError(f"{row.where}: {row.file.name} {_span(row)} holds no frame.")
    return track


def learn_presets(
    rows: Sequence[LabelRow],
    options: LearnOptions = LearnOptions(),
    *,
    tracker: Tracker | None = None,
    hook: ProgressHook = no_progress,
) -> dict[str, LearnedEmotion]:
    """Track every labelled range (or use `tracker`) and learn each emotion's change."""
    check_labels(rows)

    def default(row: LabelRow) -> FaceTrack:
        return track_row(row, options.track, hook)

    track_of = tracker or default
    items = []
    for i, row in enumerate(rows):
        items.append((row, track_of(row)))
        hook("labelled clips", i + 1, len(rows))
    return learn_from_tracks(items)


def presets_document(
    learned: dict[str, LearnedEmotion], options: LearnOptions = LearnOptions(), source: str = ""
) -> dict[str, object]:
    """The presets file (format of data/presets.json) for the learned emotions."""
    book = load_presets()
    emotions: dict[str, object] = {}
    for name, le in learned.items():
        channels = {
            n: round(float(np.clip(le.profile[i], -1.0, 1.0)), 3)
            for i, n in enumerate(BLENDSHAPE_NAMES)
            if n in LEARNED_CHANNELS and abs(le.profile[i]) >= options.min_change
        }
        builtin = book.presets.get(name)
        emotions[name] = {
            "synonyms": list(builtin.synonyms) if builtin else [],
            "facs": builtin.facs if builtin else "",
            "rationale": f"Learned from {le.people} people ({le.frames} frames): the mean change "
            "of each channel from the same person's neutral frames; 'spread' is its standard "
            "deviation between people.",
            "channels": channels,
            "profile": {
                n: round(float(v), 4) for n, v in zip(BLENDSHAPE_NAMES, le.profile, strict=True)
            },
            "spread": {
                n: round(float(v), 4) for n, v in zip(BLENDSHAPE_NAMES, le.spread, strict=True)
            },
            "people": le.people,
            "frames": le.frames,
        }
    return {
        "format": "emodirector-presets",
        "version": 1,
        "about": "Learned by emodirector learn-presets"
        + (f" from {source}" if source else "")
        + ": each emotion's 'channels' are its mean change from the same person's neutral "
        f"(channels moving less than {options.min_change:g} left out), in MediaPipe's "
        "blendshape coding, applied in full at intensity 1. Pass it with --presets FILE.",
        "emotions": emotions,
    }


def write_presets(document: dict[str, object], path: str | os.PathLike[str]) -> Path:
    """Write a presets document atomically (temp name, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return Path(path)


__all__ = [
    "LAYOUTS",
    "LabelRow",
    "LearnOptions",
    "LearnedEmotion",
    "check_labels",
    "labels_from_layout",
    "learn_from_tracks",
    "learn_presets",
    "presets_document",
    "read_labels",
    "write_presets",
]
