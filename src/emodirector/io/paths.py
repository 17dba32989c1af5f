"""Output paths: one check of every output against every input before any work, a lock per
output while it is written, and temporary files renamed into place at the end.

Policy (the README's "Bad input" section says the same):
- No output may be an input (video, reference, presets, track) or another output of the same
  run, by any alias (relative path, symlink, hard link).
- An existing file is replaced only when emodirector wrote it (recognised by a mark it leaves:
  a tag in its videos, the schema keys of its track files, its name in reports and plots);
  any other file is kept and the run refused, unless `overwrite` (the CLI's --overwrite).
- Outputs are written under a short temporary name beside the final one,
  `.emodirector-PID-XXXXXXXX.part.EXT`, and renamed when complete. Such a file whose process is
  gone (a run killed with SIGKILL or a power cut) is removed by the next check of that folder.
- While a run writes an output it holds a lock (`.emodirector-HASH.lock`, flock) on its name:
  a second run writing the same file at the same time is refused before it starts.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import secrets
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import av.error

from ..errors import OutputError
from ..interrupts import deferred

PathLike = str | os.PathLike[str]
# Every file emodirector names itself in an output folder starts with this.
OWN_PREFIX = ".emodirector-"
# The tag the writer stores in a video's metadata, and that marks a file as ours.
OWN_MARK = "emodirector"
NAME_MAX = 255  # bytes in one file name (Linux, macOS)
_PART = re.compile(r"^\.emodirector-(\d+)-[0-9a-f]{8}\.part(\.[^/]*)?$")
_LOCK = re.compile(r"^\.emodirector-[0-9a-f]{16}\.lock$")
_VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
_SNIFF = 1 << 16  # bytes read to find the mark in a report, page or plot


@dataclass
class CheckedOutputs:
    """The outcome of check_outputs: the usable paths by role, and what was cleaned up."""

    paths: dict[str, Path] = field(default_factory=dict)  # role (e.g. "-o") -> path
    stale_removed: list[Path] = field(default_factory=list)  # partial files of killed runs

    def notes(self) -> list[str]:
        """One sentence per stale partial file removed, for the CLI to print."""
        return [
            f"removed {p} (a partial output left by an interrupted run)" for p in self.stale_removed
        ]


def check_outputs(
    outputs: Sequence[tuple[str, PathLike | None]],
    inputs: Sequence[tuple[str, PathLike | None]] = (),
    *,
    overwrite: bool = False,
) -> CheckedOutputs:
    """Refuse any output that cannot be written, is an input, is another output, or is an
    existing file emodirector did not write (unless `overwrite`); return the usable paths.

    outputs/inputs: (role, path) pairs; the role names the option in messages ("-o", "--json");
    None paths are skipped. Also removes stale partial files of killed runs from the output
    folders. Raises OutputError (one sentence: what is wrong, what to do).
    """
    checked = CheckedOutputs()
    ins = [(role, Path(p).expanduser()) for role, p in inputs if p is not None]
    for role, p in outputs:
        if p is None:
            continue
        out = usable_output(p)
        for irole, ip in ins:
            if same_file(out, ip):
                raise OutputError(
                    f"{out}: is the input file ({irole}); choose another path for {role} "
                    "(inputs are never overwritten)."
                )
        for orole, op in checked.paths.items():
            if same_file(out, op):
                raise OutputError(
                    f"{out}: {role} and {orole} name the same file; give each output its own name."
                )
        if not overwrite and out.exists() and not is_ours(out):
            raise OutputError(
                f"{out}: exists and was not written by emodirector; choose another name, or pass "
                "--overwrite to replace it."
            )
        checked.paths[role] = out
    folders = {q.resolve().parent for q in checked.paths.values()}
    checked.stale_removed = remove_stale_parts(folders)
    return checked


def check_output_path(output: PathLike, *inputs: PathLike) -> Path:
    """Refuse an output that would overwrite an input or cannot be written; return it.

    The one-output form of check_outputs, which replaces an existing file (the caller decides).
    """
    roles = [("an input", i) for i in inputs]
    return check_outputs([("the output", output)], roles, overwrite=True).paths["the output"]


def usable_output(output: PathLike) -> Path:
    """The output path if a file can be created there, else OutputError.

    Writability is tested by creating (and removing) a temporary file beside the output, so a
    read-only folder or file system is refused before any long work starts.
    """
    out = Path(output).expanduser()
    check_name(out)
    try:
        parent = out.resolve().parent
    except RuntimeError as exc:  # Python 3.11 raises this for a symlink loop
        raise OutputError(
            f"{out}: is a symbolic link that points to itself (a loop); remove it or give "
            "another name."
        ) from exc
    except OSError as exc:
        raise OutputError(f"{out}: unusable as an output ({exc.strerror}).") from exc
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


def check_name(path: Path, what: str = "file name") -> None:
    """Refuse a path with a component longer than the file system allows (255 bytes)."""
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            raise OutputError(
                f"{_short(part)}: this {what} is {size} bytes long; file systems allow "
                f"{NAME_MAX}. Give a shorter name."
            )


def _short(name: str) -> str:
    return name if len(name) <= 60 else f"{name[:28]}...{name[-28:]}"


def same_file(a: Path, b: Path) -> bool:
    """True when two paths name one file: same resolved path, or the same inode (hard link)."""
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and a.samefile(b)
    except (OSError, RuntimeError):
        return False


def is_ours(path: Path) -> bool:
    """True when emodirector wrote this file (it carries our mark)."""
    try:
        suffix = path.suffix.lower()
        if suffix in _VIDEO_SUFFIXES:
            with contextlib.closing(av.open(str(path))) as c:
                return any(
                    OWN_MARK in str(v) for k, v in c.metadata.items() if k.lower() == "comment"
                )
        if suffix == ".npz":
            with zipfile.ZipFile(path) as z:
                return {"kind.npy", "schema_version.npy"} <= set(z.namelist())
        with open(path, "rb") as f:
            return OWN_MARK.encode() in f.read(_SNIFF)
    except (OSError, zipfile.BadZipFile, av.error.FFmpegError, ValueError, UnicodeDecodeError):
        return False


# ------------------------------------------------------------------------ partial files, locks


def part_name(output: Path) -> str:
    """A short temporary name for `output` (the final name may be up to 255 bytes long)."""
    suffix = output.suffix if len(os.fsencode(output.suffix)) <= 16 else ""
    return f"{OWN_PREFIX}{os.getpid()}-{secrets.token_hex(4)}.part{suffix}"


def remove_stale_parts(folders: Iterable[Path]) -> list[Path]:
    """Remove our partial files whose process is gone, and unheld lock files; return them."""
    removed: list[Path] = []
    for folder in folders:
        try:
            names = [e.name for e in os.scandir(folder) if e.name.startswith(OWN_PREFIX)]
        except OSError:
            continue
        for name in names:
            path = folder / name
            m = _PART.match(name)
            if m is not None and not _alive(int(m.group(1))):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
            elif _LOCK.match(name):
                _remove_unheld_lock(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process
    return True


def _remove_unheld_lock(path: Path) -> None:
    """A lock file nobody holds (its run was killed) is removed; a held one is left alone."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path.unlink()
    except OSError:
        pass
    finally:
        os.close(fd)


def lock_path(output: Path) -> Path:
    """The lock file of an output: beside it, named by a hash of its resolved path."""
    full = output.resolve()
    digest = hashlib.sha256(os.fsencode(full)).hexdigest()[:16]
    return full.parent / f"{OWN_PREFIX}{digest}.lock"


@contextlib.contextmanager
def claimed(outputs: Iterable[Path]) -> Iterator[None]:
    """Hold the lock of each output for the block; OutputError when another process holds one.

    Two runs writing the same file at once would both report success and the last one would
    silently win; with the lock the second is refused before it starts any work.
    """
    with contextlib.ExitStack() as stack:
        for out in outputs:
            if out.parent.is_dir():  # a folder made later by this run holds no other writer
                with deferred():  # taken and registered for release, or not taken
                    stack.enter_context(_lock(out))
        yield


@contextlib.contextmanager
def _lock(output: Path) -> Iterator[None]:
    path = lock_path(output)
    fd = -1
    try:
        with deferred():  # a lock taken is a lock released
            fd = _acquire(path, output)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        if fd >= 0:
            with contextlib.suppress(OSError):
                path.unlink()
            os.close(fd)


def _acquire(path: Path, output: Path) -> int:
    """Open and flock the lock file; the fd of the file now at `path`."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(
                f"{output}: cannot create a lock file in {path.parent} ({exc.strerror})."
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputError(f"{output}: cannot lock it ({exc.strerror}).") from exc
            who = f" (process {holder})" if holder else ""
            raise OutputError(
                f"{output}: another emodirector run{who} is writing this file now; wait for it "
                "to finish or choose another name."
            ) from exc
        # The file may have been removed (and a new one made) between open and flock.
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except OSError:
            pass
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or "0") or None
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------- atomic write


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

    A failed or interrupted run (exception, Ctrl-C, SIGTERM) leaves nothing under the final name
    and removes the temporary file. The final file gets the usual permissions (0o666 minus umask).
    """
    out = Path(output)
    check_name(out)
    try:
        folder = out.resolve().parent
    except RuntimeError as exc:
        raise OutputError(
            f"{out}: is a symbolic link loop; remove it or give another name."
        ) from exc
    tmp_path = folder / part_name(out)
    created = False
    try:
        with deferred():  # a signal cannot land between creating the file and owning it
            try:
                fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except OSError as exc:
                raise OutputError(
                    f"{out}: cannot create a file in {folder} ({exc.strerror}); "
                    "check that the folder exists and that you can write to it."
                ) from exc
            created = True
            os.close(fd)
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, out)
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                tmp_path.unlink()
        raise


def paths_of(checked: CheckedOutputs, roles: Sequence[str]) -> list[Path]:
    """The checked paths of the given roles that were asked for, in that order."""
    return [checked.paths[r] for r in roles if r in checked.paths]
