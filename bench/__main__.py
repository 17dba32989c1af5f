"""`python -m bench [--only NAME ...] [--repeats N]`: run the benchmark sections, print tables."""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Sequence

from .common import Section, context, machine_line, markdown_table

# One line per section module (bench/<name>.py with TITLE and run(ctx)); see bench/__init__.py.
SECTIONS = (
    "io_track",  # decode / decode+encode / tracking throughput
    "edit",  # end-to-end edit vs the floor and tracking; warp cost; memory vs length
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per measurement; the fastest is kept"
    )
    args = parser.parse_args(argv)
    names = args.only or SECTIONS
    print("# emodirector benchmarks\n")
    print(machine_line() + "\n")
    t0 = time.perf_counter()
    with context(repeats=args.repeats) as ctx:
        for name in names:
            module = importlib.import_module(f"{__package__}.{name}")
            t1 = time.perf_counter()
            result = module.run(ctx)
            section = result if isinstance(result, Section) else Section(list(result))
            print(f"## {module.TITLE}\n")
            print(markdown_table(section.rows) + "\n")
            for note in section.notes:
                print(f"- {note}")
            print(f"\n({name}: {time.perf_counter() - t1:.0f} s)\n", flush=True)
    print(f"Total {time.perf_counter() - t0:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
