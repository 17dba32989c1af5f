"""Build src/emodirector/data/basis_generic.npz from the shared expressive clips.

    .venv/bin/python scripts/build_basis.py [--data ../shared/data/expressive] [-o PATH]

Deterministic: the clips are tracked with the pinned model (CPU, VIDEO mode), the fit is a
closed-form ridge regression, values are rounded to 1e-6 and the zip members carry fixed
timestamps, so rebuilding gives the same file. Sources and licences: data/BASIS_SOURCES.md.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from emodirector.expression import build_generic_basis, save_basis  # noqa: E402
from emodirector.track import TrackOptions, track_video  # noqa: E402

# The six LivePortrait driving clips listed in data/BASIS_SOURCES.md (MIT), in a fixed order.
CLIPS = (
    "expressive_d3.mp4",
    "expressive_d6.mp4",
    "expressive_d9.mp4",
    "expressive_d10.mp4",
    "expressive_d18.mp4",
    "expressive_d19.mp4",
)
RIDGE = 0.002  # chosen by leave-one-clip-out error on these clips (see BASIS_SOURCES.md)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "expressive"))
    parser.add_argument(
        "-o", "--output", default=str(REPO / "src/emodirector/data/basis_generic.npz")
    )
    args = parser.parse_args()
    start = time.perf_counter()
    tracks = []
    for name in CLIPS:
        path = Path(args.data) / name
        if not path.is_file():
            print(f"build_basis: {path} not found; pass --data FOLDER", file=sys.stderr)
            return 2
        track = track_video(path, TrackOptions()).track
        print(f"{name}: {int(track.valid.sum())}/{track.n_frames} frames with a face")
        tracks.append(track)
    meta = {"clips": ", ".join(CLIPS), "frames": str(sum(int(t.valid.sum()) for t in tracks))}
    basis = build_generic_basis(tracks, lam=RIDGE, meta=meta)
    out = save_basis(basis, args.output)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}: sha256 {digest[:16]}, built in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
