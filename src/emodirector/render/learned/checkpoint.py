"""The run folder's checkpoint: what `train-renderer --resume` continues from.

Written atomically (every minute, at the end and on Ctrl-C); read back with weights_only=True. A
resumed run must use the options that shape the training data and the network (_RESUME_KEYS); the
budget may grow.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import InputError, OutputError
from ...video import atomic_path

if TYPE_CHECKING:
    from .train import TrainOptions

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = "emodirector.learned-renderer-checkpoint"


def save_checkpoint(
    torch: Any,
    path: Path,
    net: Any,
    opt: Any,
    options: TrainOptions,
    sources: tuple[str, ...],
    step: int,
    elapsed: float,
    history: list[tuple[int, float, float]],
    validation: list[tuple[int, float, float, float]],
) -> None:
    payload = {
        "format": CHECKPOINT_FORMAT,
        "options": asdict(options),
        "sources": list(sources),
        "step": step,
        "elapsed": elapsed,
        "history": [list(h) for h in history],
        "validation": [list(v) for v in validation],
        "net": net.state_dict(),
        "opt": opt.state_dict(),
    }
    try:
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
    except OSError as exc:
        raise OutputError(
            f"{path}: cannot write the checkpoint ({exc.strerror or exc}); free some disk space "
            "or give another --run-dir, then run again with --resume."
        ) from exc


# Options that must match for --resume to continue the same run (the budget may grow).
_RESUME_KEYS = (
    "size", "width", "batch", "seed", "fraction", "pool", "pool_passes", "mouth_gain", "grad_weight",
    "motion", "augment", "clip", "validation", "max_pose_deg",
)  # fmt: skip


def load_checkpoint(
    torch: Any,
    path: Path,
    net: Any,
    opt: Any,
    options: TrainOptions,
    sources: tuple[str, ...],
) -> tuple[int, float, list[tuple[int, float, float]], list[tuple[int, float, float, float]]]:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged checkpoint: torch raises zip, pickle or EOF errors
        raise InputError(
            f"{path}: the checkpoint is damaged ({type(exc).__name__}); delete it and train "
            "without --resume."
        ) from exc
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise InputError(
            f"{path}: not a train-renderer checkpoint; delete it or use another --run-dir."
        )
    old = data["options"]
    differ = [k for k in _RESUME_KEYS if old.get(k) != asdict(options)[k]]
    if differ or tuple(data["sources"]) != sources:
        what = ", ".join(differ) if differ else "the clips"
        raise InputError(
            f"--resume: the checkpoint in {path.parent} was trained with other settings ({what}); "
            "give the same clips and options, or another --run-dir."
        )
    net.load_state_dict(data["net"])
    opt.load_state_dict(data["opt"])
    history = [(int(h[0]), float(h[1]), float(h[2])) for h in data["history"]]
    validation = [
        (int(v[0]), float(v[1]), float(v[2]), float(v[3])) for v in data.get("validation", [])
    ]
    return int(data["step"]), float(data["elapsed"]), history, validation


__all__ = ["CHECKPOINT", "CHECKPOINT_FORMAT", "load_checkpoint", "save_checkpoint"]
