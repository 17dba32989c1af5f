"""The web page (`emodirector ui`): a Gradio app over the library API, nothing more.

Layout: options.py (what the page can be told: host, port, limits, renderers), limits.py (input
file size and duration), jobs.py (one edit at a time per process, a visible queue, cancel,
progress text), workspace.py (per-session temporary folders, removed when a session ends),
actions.py (what each button does, as plain functions of the library; no gradio), app.py (the
page itself; the only module that imports gradio, so the library and the CLI work without it).
"""

from .actions import Choice, FullResult, PreviewResult, describe_input, run_full, run_preview
from .jobs import Cancelled, JobQueue, ProgressText
from .limits import UILimits, check_facts, check_size
from .options import MODES, RENDERERS, UIOptions
from .workspace import Workspace

__all__ = [
    "MODES",
    "RENDERERS",
    "Cancelled",
    "Choice",
    "FullResult",
    "JobQueue",
    "PreviewResult",
    "ProgressText",
    "UILimits",
    "UIOptions",
    "Workspace",
    "check_facts",
    "check_size",
    "describe_input",
    "run_full",
    "run_preview",
]
