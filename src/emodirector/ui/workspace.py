"""Per-session temporary folders under one root, removed when the session ends or the app stops.

Why: every preview and edit writes videos, reports and tracks; a page left open for a day must
not fill the disk. Each session keeps only its latest job's files; closing the tab removes the
session's folder, and closing the app removes the root.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import threading
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9_-]")


class Workspace:
    """The root folder of the app's temporary files and one sub-folder per session."""

    def __init__(self, parent: str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="emodirector-ui-", dir=parent))
        self._lock = threading.Lock()
        self._jobs = 0

    def session(self, session: str) -> Path:
        """The session's folder (created on first use)."""
        d = self.root / (_SAFE.sub("_", session) or "anonymous")
        d.mkdir(parents=True, exist_ok=True)
        return d

    def new_job(self, session: str, kind: str) -> Path:
        """A fresh folder for one preview or edit; the session's earlier folders of this kind
        are removed (their files were already handed to the page)."""
        home = self.session(session)
        for old in home.glob(f"{kind}-*"):
            shutil.rmtree(old, ignore_errors=True)
        with self._lock:
            self._jobs += 1
            n = self._jobs
        d = home / f"{kind}-{n}"
        d.mkdir()
        return d

    def end(self, session: str) -> None:
        """Remove everything the session wrote."""
        shutil.rmtree(self.root / (_SAFE.sub("_", session) or "anonymous"), ignore_errors=True)

    def close(self) -> None:
        """Remove the whole root (the app is stopping)."""
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)

    def size_bytes(self) -> int:
        """Bytes of all files under the root now."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


__all__ = ["Workspace"]
