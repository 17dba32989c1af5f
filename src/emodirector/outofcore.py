"""Per-frame arrays kept out of core: file-backed ndarrays whose pages are dropped after use.

Why: a (T, 478, 3) float32 landmark array costs 5.7 KB per frame (51 MB for 5 minutes at
30 fps) and an edit holds two of them (tracked and edited), so an edit whose memory must not
grow with the length of the video (issue 5) cannot keep them in anonymous memory. The edit
pipeline writes them to unlinked temporary files mapped shared: every reader still sees an
ordinary ndarray, and a stage that has used a block of rows calls `release`, which takes those
pages out of the process (the data stays in the file, warm in the kernel's page cache, which
is not the process's memory). `release` does nothing on an ordinary in-memory array, so one
code path serves both kinds.
"""

from __future__ import annotations

import mmap
import tempfile
from collections.abc import Iterator
from typing import IO

import numpy as np
import numpy.typing as npt

_PAGE = mmap.PAGESIZE


def _mapped(file: IO[bytes], shape: tuple[int, ...], dtype: npt.DTypeLike) -> np.ndarray:
    """The whole of `file` as a writable, shared-mapped ndarray of `shape` (file may be closed)."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if nbytes == 0:
        return np.empty(shape, dtype=dtype)
    file.flush()
    mm = mmap.mmap(file.fileno(), nbytes, access=mmap.ACCESS_WRITE)
    return np.frombuffer(mm, dtype=dtype).reshape(shape)


def disk_array(
    shape: tuple[int, ...], dtype: npt.DTypeLike, directory: str | None = None
) -> np.ndarray:
    """A zero-filled array of `shape` in an unlinked temporary file (freed with the array)."""
    with tempfile.TemporaryFile(dir=directory) as f:
        f.truncate(int(np.prod(shape)) * np.dtype(dtype).itemsize)
        return _mapped(f, shape, dtype)


def _mmap_of(a: np.ndarray) -> tuple[mmap.mmap, np.ndarray] | None:
    """The mmap an array's memory comes from and the array that spans it, or None."""
    root = a
    while isinstance(root.base, np.ndarray):
        root = root.base
    base = root.base
    if isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap):
        return base.obj, root
    return None


def on_disk(a: np.ndarray) -> bool:
    """Whether `a` lives in a file mapping (made by this module) rather than in memory."""
    return _mmap_of(a) is not None


def empty_rows(like: np.ndarray, dtype: npt.DTypeLike) -> np.ndarray:
    """An array of like's shape and `dtype`, on disk when `like` is, else in memory."""
    if on_disk(like):
        return disk_array(like.shape, dtype)
    return np.empty(like.shape, dtype=dtype)


def release(a: np.ndarray, start: int, stop: int) -> None:
    """Drop the pages of rows [start, stop) of a C-contiguous file-backed array from the process.

    The data stays in the file; the next read of those rows maps them again. Pages shared with
    neighbouring rows are dropped too, which is harmless for a shared file mapping.
    """
    found = _mmap_of(a)
    stop = min(stop, a.shape[0])
    if found is None or stop <= start or not a.flags.c_contiguous:
        return
    mm, root = found
    begin = a[start:stop].ctypes.data - root.ctypes.data
    end = begin + a[start:stop].nbytes
    first = begin // _PAGE * _PAGE
    last = min(-(-end // _PAGE) * _PAGE, len(mm))
    if last > first:
        mm.madvise(mmap.MADV_DONTNEED, first, last - first)


def blocks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most `size` rows covering range(n)."""
    for start in range(0, n, max(1, size)):
        yield slice(start, min(start + size, n))


class RowBuffer:
    """Rows of one shape appended one at a time, in memory (capacity doubles as needed)."""

    def __init__(self, row_shape: tuple[int, ...], dtype: npt.DTypeLike) -> None:
        self._rows = np.empty((16, *row_shape), dtype=dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, row: np.ndarray | float | None) -> None:
        """Add a row (None: a row of NaN)."""
        if self._n == self._rows.shape[0]:
            grown = np.empty((2 * self._n, *self._rows.shape[1:]), dtype=self._rows.dtype)
            grown[: self._n] = self._rows
            self._rows = grown
        self._rows[self._n] = np.nan if row is None else row
        self._n += 1

    def overwrite(self, index: int, row: np.ndarray | float | None) -> None:
        """Replace row `index` (None: NaN)."""
        self._rows[index] = np.nan if row is None else row

    def array(self) -> np.ndarray:
        """The rows as one (n, *row_shape) array; the buffer must not be used afterwards."""
        out = self._rows[: self._n].copy() if self._n < self._rows.shape[0] else self._rows
        self._rows = self._rows[:0]
        return out


class RowFile:
    """Rows of one shape appended one at a time to an unlinked temporary file.

    Nothing of the rows stays in the process while they are written (plain file writes); array()
    maps the file as a (n, *row_shape) array at the end.
    """

    def __init__(
        self, row_shape: tuple[int, ...], dtype: npt.DTypeLike, directory: str | None = None
    ) -> None:
        self._shape = row_shape
        self._dtype = np.dtype(dtype)
        self._nan = np.full(row_shape, np.nan, dtype=self._dtype).tobytes()
        self._row_bytes = len(self._nan)
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=directory)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def _bytes(self, row: np.ndarray | None) -> bytes:
        if row is None:
            return self._nan
        return np.ascontiguousarray(row, dtype=self._dtype).reshape(self._shape).tobytes()

    def append(self, row: np.ndarray | None) -> None:
        """Add a row (None: a row of NaN)."""
        self._file.write(self._bytes(row))
        self._n += 1

    def overwrite(self, index: int, row: np.ndarray | None) -> None:
        """Replace row `index` (None: NaN)."""
        self._file.seek(index * self._row_bytes)
        self._file.write(self._bytes(row))
        self._file.seek(0, 2)

    def array(self) -> np.ndarray:
        """The rows, mapped from the file; the file is closed (the mapping keeps the data)."""
        try:
            return _mapped(self._file, (self._n, *self._shape), self._dtype)
        finally:
            self._file.close()

    def close(self) -> None:
        """Discard the rows (an error stopped the writing)."""
        self._file.close()


__all__ = ["RowBuffer", "RowFile", "blocks", "disk_array", "empty_rows", "on_disk", "release"]
