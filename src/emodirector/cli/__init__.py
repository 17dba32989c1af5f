"""Command line: the only place that parses arguments, prints and exits.

Each command lives in its own module with `register(subparsers)`; it sets `func(args) -> int`.
Every EmodirectorError becomes one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import EmodirectorError

# Command modules, in the order --help lists them.
COMMANDS = ("track", "inspect", "manipulate", "render", "edit", "report", "train-renderer")

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emodirector",
        description=(
            "Change the emotion on a face in a real video while keeping speech, identity, "
            "head motion, background and audio. Runs on a CPU, no per-actor training."
        ),
        epilog="Run 'emodirector COMMAND --help' for the options of each command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        name = command.replace("-", "_")  # the module of a hyphenated command
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `emodirector` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EmodirectorError as exc:
        print(f"emodirector: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(
            "emodirector: interrupted; no output was written under the final name.", file=sys.stderr
        )
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
