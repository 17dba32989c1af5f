"""Command line: the only place that parses arguments, prints and exits.

Each command lives in its own module with `register(subparsers)`; it sets `func(args) -> int`.
Every EmodirectorError becomes one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from ..errors import EmodirectorError
from ..interrupts import Terminated, stop_signals_raise

# Command modules, in the order --help lists them.
COMMANDS = (
    "track",
    "inspect",
    "manipulate",
    "render",
    "edit",
    "report",
    "learn-presets",
    "ui",
    "train-renderer",
)

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
    for name in COMMANDS:
        module_name = f"{__name__}.{name.replace('-', '_')}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `emodirector` console script.

    SIGTERM and SIGHUP end a run as Ctrl-C does: partial files are removed, one line says so,
    and the exit status is 128 + the signal number (130 for Ctrl-C).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    with stop_signals_raise():
        try:
            return int(args.func(args) or 0)
        except EmodirectorError as exc:
            print(f"emodirector: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, Terminated) else signal.SIGINT
            name = "interrupted" if signum == signal.SIGINT else f"stopped by {exc}"
            print(
                f"emodirector: {name}; partial files were removed, nothing unfinished was left "
                "under a final name.",
                file=sys.stderr,
            )
            return 128 + int(signum)
        except BrokenPipeError:
            return EXIT_ERROR
        except OSError as exc:  # a file-system refusal no check foresaw: one line, no traceback
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"emodirector: error: {where}{exc.strerror or exc}.", file=sys.stderr)
            return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
