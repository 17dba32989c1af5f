"""PERSON.pt: the learned renderer's file (weights, the crop and network sizes, whose face).

One torch.save'd dict, read back with weights_only=True (no pickled code runs on load). Every
way it can be wrong (missing, truncated, another format, another version, another person) gives
one error that says what to do.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputError, ModelNotFoundError, OutputError
from ...video import atomic_path
from .net import build_net, import_torch

FORMAT = "emodirector.learned-renderer"
VERSION = 1


@dataclass(frozen=True)
class NetConfig:
    """The sizes a model was trained with; inference rebuilds the same network from them."""

    size: int = 128  # crop side in pixels (a multiple of 8)
    width: int = 16  # channels at full crop resolution
    work_scale: float = 1.0  # frames were shrunk by this before warping and cutting (training)
    motion: bool = False  # the input holds the warp's motion (crops.motion); older files lack it
    gain: float = 1.0  # share of the network's correction applied (calibrated on held-back frames)


@dataclass
class LearnedModel:
    """A loaded model: the network (eval mode) plus what it was trained on."""

    net: Any  # torch.nn.Module
    config: NetConfig
    identity: np.ndarray  # (k, 3) float64 mean stable-landmark shape of the person (report.py)
    sources: tuple[str, ...]  # the clips it was trained on (file names)
    steps: int  # training steps taken
    minutes: float  # training wall time


def save_model(
    path: str | os.PathLike[str],
    net: Any,
    config: NetConfig,
    identity: np.ndarray,
    sources: tuple[str, ...],
    steps: int,
    minutes: float,
) -> Path:
    """Write the model under a temporary name, then rename: never a half-written PERSON.pt."""
    torch = import_torch()
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": asdict(config),
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "identity": torch.from_numpy(np.asarray(identity, dtype=np.float64)),
        "sources": list(sources),
        "steps": int(steps),
        "minutes": float(minutes),
    }
    try:
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the model ({exc.strerror or exc}).") from exc
    return Path(path)


def load_model(path: str | os.PathLike[str]) -> LearnedModel:
    """Read PERSON.pt and rebuild its network (CPU, or the GPU when one is visible)."""
    p = Path(path)
    if not p.is_file():
        raise ModelNotFoundError(
            f"{p}: no such model file; train one with `emodirector train-renderer VIDEO -o {p.name}`."
        )
    torch = import_torch()
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds (zip, pickle, EOF) for a damaged file
        raise InputError(
            f"{p}: not a readable model file (damaged or truncated: {type(exc).__name__}); "
            "train it again with `emodirector train-renderer`."
        ) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(
            f"{p}: not an emodirector learned-renderer model (another format); give a file "
            "written by `emodirector train-renderer`."
        )
    if data.get("version") != VERSION:
        raise InputError(
            f"{p}: a learned-renderer model of version {data.get('version')}, this emodirector "
            f"reads version {VERSION}; train it again with this version."
        )
    try:
        config = NetConfig(**data["config"])
        from .crops import OUT_CHANNELS, in_channels

        net = build_net(config.width, in_channels(config.motion), OUT_CHANNELS)
        net.load_state_dict(data["state_dict"])
        identity = np.asarray(data["identity"].numpy(), dtype=np.float64)
    except (KeyError, TypeError, RuntimeError, AttributeError) as exc:
        raise InputError(
            f"{p}: the model file is incomplete or inconsistent ({type(exc).__name__}); "
            "train it again with `emodirector train-renderer`."
        ) from exc
    net.eval()
    return LearnedModel(
        net=net,
        config=config,
        identity=identity,
        sources=tuple(str(s) for s in data.get("sources", ())),
        steps=int(data.get("steps", 0)),
        minutes=float(data.get("minutes", 0.0)),
    )


__all__ = ["FORMAT", "VERSION", "LearnedModel", "NetConfig", "load_model", "save_model"]
