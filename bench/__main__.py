"""`python -m bench [--only NAME ...] [--repeats N]`: run the benchmark sections, print tables.

A full run (no --only) also writes what it printed to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Sequence

from .common import REPO, Section, context, machine_lines, markdown_table

# One line per section module (bench/<name>.py with TITLE and run(ctx)); see bench/__init__.py.
SECTIONS = (
    "io_track",  # the main table: every stage at 360p, 720p, 1080p, as a ratio to decode+encode
    "edit",  # warp cost per frame; peak memory of a 10 s vs a 5-minute edit
    "reenact",  # realism: self-reenactment against real frames, warp vs warp + appearance
    "ui",  # the web page in headless Chromium: preview, 5 edits, memory, temp files; vs the CLI
    "learned",  # the learned renderer's cost per frame and its render pass at 720p
)
RESULTS = REPO / "bench" / "RESULTS.md"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs per measurement; the fastest is kept"
    )
    args = parser.parse_args(argv)
    names = args.only or SECTIONS
    lines = ["# emodirector benchmarks", ""]
    lines += [f"- {line}" for line in machine_lines()] + [""]
    print("\n".join(lines), flush=True)
    t0 = time.perf_counter()
    with context(repeats=args.repeats) as ctx:
        for name in names:
            module = importlib.import_module(f"{__package__}.{name}")
            t1 = time.perf_counter()
            result = module.run(ctx)
            section = result if isinstance(result, Section) else Section(list(result))
            text = [f"## {module.TITLE}", "", markdown_table(section.rows), ""]
            # A note that is a table row (or blank) is printed as it is; others as a list.
            text += [n if n.startswith("|") or not n else f"- {n}" for n in section.notes]
            text += ["", f"({name}: {time.perf_counter() - t1:.0f} s, best of {ctx.repeats})", ""]
            print("\n".join(text), flush=True)
            lines += text
    total = f"Total {time.perf_counter() - t0:.0f} s (`make bench`)."
    print(total)
    if args.only:
        print(f"(--only: {RESULTS.name} left as it was)")
    else:
        RESULTS.write_text("\n".join([*lines, total, ""]), encoding="utf-8")
        print(f"Written to {RESULTS.relative_to(REPO)}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
