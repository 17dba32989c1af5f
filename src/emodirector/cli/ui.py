"""`emodirector ui [--host H] [--port P]`: the web page, on this machine only unless asked."""

from __future__ import annotations

import argparse
import os
import signal
import threading

from ..ui.limits import UILimits
from ..ui.options import UIOptions
from .common import info

_UI = UIOptions()
_LIMITS = UILimits()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ui",
        help="start the web page: upload a video, preview, edit, see the report",
        description="Start a local web page (Gradio) that does what `emodirector edit` does: "
        "upload a video or use the sample clip, choose the emotion, preview a few seconds, run "
        "the full edit with a progress bar, watch it beside the original, read the report and "
        "download the files. One edit runs at a time; others wait in a queue.",
    )
    p.add_argument(
        "--host",
        default=_UI.host,
        help="address to serve on (default %(default)s: only this machine; 0.0.0.0 opens it "
        "to the network)",
    )
    p.add_argument(
        "--port", type=int, default=_UI.port, help="port (default %(default)s; 0 = any free one)"
    )
    p.add_argument(
        "--share",
        action="store_true",
        help="also make a public gradio.live link (needs the internet; off by default)",
    )
    p.add_argument(
        "--max-mb",
        type=float,
        default=_LIMITS.max_megabytes,
        metavar="MB",
        help="largest video file accepted (default %(default)g MB)",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=_LIMITS.max_seconds,
        metavar="S",
        help="longest video accepted (default %(default)g s)",
    )
    p.add_argument(
        "--preview-seconds",
        type=float,
        default=_UI.preview_seconds,
        metavar="S",
        help="length of the preview, from the start of the video (default %(default)g s)",
    )
    p.add_argument(
        "--workdir",
        metavar="DIR",
        help="folder for the session files (default: the system temp folder); everything the "
        "page writes goes into one sub-folder of it, removed when the page stops",
    )
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> UIOptions:
    """UIOptions from the parsed arguments (defaults from UIOptions itself)."""
    from ..errors import InputError

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: give a port from 1 to 65535 (or 0 for any).")
    if not args.preview_seconds > 0:
        raise InputError(f"--preview-seconds {args.preview_seconds}: give a positive number.")
    limits = UILimits(max_megabytes=args.max_mb, max_seconds=args.max_seconds)
    limits.check()
    return UIOptions(
        host=args.host,
        port=args.port,
        share=bool(args.share),
        limits=limits,
        preview_seconds=args.preview_seconds,
        workdir=args.workdir,
    )


def run(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    from ..ui.workspace import Workspace

    workspace = Workspace(options.workdir)
    # gradio keeps uploads and served copies in its own cache: put it under the workspace, so
    # that stopping the app removes every temporary file it made.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(workspace.root / "gradio"))
    try:
        try:
            from ..ui.app import App
        except ModuleNotFoundError as exc:
            if exc.name != "gradio":
                raise
            from ..errors import InputError

            raise InputError(
                "the web page needs gradio: run `make setup`, or pip install 'emotion-director[ui]'."
            ) from exc
        # A plain `kill` (SIGTERM) ends the app like Ctrl-C: the finally blocks remove the files.
        signal.signal(signal.SIGTERM, _interrupt)
        app = App(options, workspace)
        url = app.launch()
        info(f"emodirector ui: open {url} in a browser (Ctrl-C stops it)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            info("emodirector ui: stopped; its temporary files are removed.")
        finally:
            app.close()
    finally:
        workspace.close()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


__all__ = ["options_from_args", "register", "run"]
