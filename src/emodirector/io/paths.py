"""Output paths: checks before any work, and temporary files renamed into place at the end."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import OutputError

PathLike = str | os.PathLike[str]


def check_output_path(output: PathLike, *inputs: PathLike) -> Path:
    """Refuse an output that would overwrite an input or cannot be written; return it.

    Writability is tested by creating (and removing) a temporary file beside the output, so a
    read-only folder or file system is refused before any long work starts.
    """
    out = Path(output).expanduser()
    for inp in inputs:
        ip = Path(inp).expanduser()
        if out.resolve() == ip.resolve() or (out.exists() and ip.exists() and out.samefile(ip)):
            raise OutputError(
                f"{out}: is the input file; choose another output path (inputs are never overwritten)."
            )
    parent = out.resolve().parent
    if not parent.is_dir():
        raise OutputError(f"{out}: folder {parent} does not exist; create it first.")
    if out.is_dir():
        raise OutputError(f"{out}: is a directory; give a file name such as {out / 'out.mp4'}.")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise OutputError(
            f"{out}: cannot write in {parent} ({exc.strerror}); choose a folder you can write to."
        ) from exc
    return out


def _umask() -> int:
    """The process umask, read without changing it (Linux); 0o022 where unknown."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


@contextlib.contextmanager
def atomic_path(output: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `output`; rename it to `output` only if the block succeeds.

    A failed or interrupted run (exception or Ctrl-C) leaves nothing under the final name and
    removes the temporary file. The final file gets the usual permissions (0o666 minus umask).
    """
    out = Path(output)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=out.resolve().parent, prefix=f".{out.stem}.", suffix=f".part{out.suffix}"
        )
    except OSError as exc:
        raise OutputError(
            f"{out}: cannot create a file in {out.resolve().parent} ({exc.strerror}); "
            "check that the folder exists and that you can write to it."
        ) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
