"""The page: gradio components wired to actions.py. The only module of emodirector that imports
gradio (installed by `make setup`; `pip install 'emotion-director[ui]'` elsewhere).

Nothing here reaches the internet: analytics off, no public link unless asked, system fonts.
"""

from __future__ import annotations

import html
import logging
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..emotions import load_presets
from ..errors import EmodirectorError, InputError
from ..types import ProgressHook
from .actions import Choice, copy_sample, describe_input, run_full, run_preview
from .jobs import Cancelled, JobQueue, ProgressText
from .options import MODES, RENDERERS, UIOptions
from .workspace import Workspace

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported
import gradio as gr  # noqa: E402

LOG = logging.getLogger("emodirector.ui")
TITLE = "emodirector: change the emotion on a face in a video"
INTRO = (
    "1. Upload a video with a face, or use the sample clip. "
    "2. Choose what to change. "
    "3. **Preview** the first seconds, then **Run the full edit**: you get the edited video, "
    "a side-by-side with the original, a report (did the emotion land, are the lips kept) "
    "and the files to download."
)
CSS = "#status {min-height: 2.5em} .report-frame {width: 100%; height: 1500px; border: 0}"


def _error(exc: BaseException) -> str:
    """The status line for a failure: the library's own message, never a traceback."""
    if isinstance(exc, Cancelled):
        return f"**Cancelled:** {exc}"
    if isinstance(exc, EmodirectorError):
        return f"**Error:** {exc}"
    LOG.error("unexpected error in the page:\n%s", "".join(traceback.format_exception(exc)))
    return (
        f"**Internal error:** {type(exc).__name__}: {exc}. The details are in the terminal "
        "that runs `emodirector ui`."
    )


def _progress_report(progress: gr.Progress) -> ProgressHook:
    """Progress reports shown as the page's bar, with frames, rate and ETA in words."""
    text = ProgressText()

    def report(stage: str, done: int, total: int | None) -> None:
        desc = text(stage, done, total)
        if total:
            progress((min(done, total), total), desc=desc, unit="frames")
        else:
            progress(None, desc=desc)

    return report


class App:
    """The page and the process-wide state it needs: the workspace and the edit slot."""

    def __init__(self, options: UIOptions | None = None, workspace: Workspace | None = None):
        options = options or UIOptions()
        options.limits.check()
        self.options = options
        self.workspace = workspace or Workspace(options.workdir)
        self.jobs = JobQueue()
        self.emotions = sorted(load_presets().presets)
        self.blocks = self._build()

    # ---- the page -------------------------------------------------------------------------

    def _build(self) -> gr.Blocks:
        # gradio serves copies of every file a handler returns from its own cache folder (under
        # the workspace when started by `emodirector ui`); every 10 minutes it drops copies older
        # than 30, and all of them when the app stops. Our own session folders go at tab close.
        with gr.Blocks(
            title="emodirector", analytics_enabled=False, delete_cache=(600, 1800)
        ) as blocks:
            gr.Markdown(f"# {TITLE}\n{INTRO}")
            video = gr.State(None)  # path of the loaded input video
            with gr.Row():
                with gr.Column(scale=2):
                    gr.Markdown("### 1. Video")
                    upload = gr.File(label="Upload a video", file_count="single", elem_id="upload")
                    sample = gr.Button("Use the sample clip", elem_id="sample")
                    facts = gr.Markdown(elem_id="facts")
                    face = gr.Dropdown(
                        label="Face to edit (several were found; 0 = largest)",
                        choices=[("0", 0)],
                        value=0,
                        visible=False,
                        elem_id="face",
                    )
                    original = gr.Video(label="Original", interactive=False, elem_id="original")
                    gr.Markdown("### 2. What to change")
                    mode = gr.Radio(list(MODES), value=MODES[0], label="Change", elem_id="mode")
                    with gr.Group(visible=True) as one:
                        emotion = gr.Dropdown(
                            self.emotions, value="happy", label="Emotion", elem_id="emotion"
                        )
                        intensity = gr.Slider(
                            0.0, 1.5, value=1.0, step=0.05, label="Intensity (1 = full preset)"
                        )
                    with gr.Group(visible=False) as several:
                        sequence = gr.Textbox(
                            label="Emotions in order (equal consecutive parts)",
                            placeholder="happy angry:0.6 sad",
                        )
                    with gr.Group(visible=False) as scheduled:
                        schedule = gr.Textbox(
                            label="Schedule (seconds:emotion:intensity, comma-separated)",
                            placeholder="0-1.2:happy:0.8, 1.2-end:sad",
                        )
                    with gr.Group(visible=False) as referenced:
                        reference = gr.File(label="Reference clip (its expressions are copied)")
                        ref_intensity = gr.Slider(
                            0.0, 1.5, value=Choice.reference_intensity, step=0.05,
                            label="Reference intensity",
                        )  # fmt: skip
                    with gr.Accordion("Advanced", open=False):
                        overrides = gr.Textbox(
                            label="Channel overrides (--set), e.g. mouthSmileLeft=+0.2, "
                            "browInnerUp=0.5",
                        )
                        transition = gr.Slider(
                            0.0, 2.0, value=Choice.transition, step=0.05,
                            label="Transition between parts (s)",
                        )  # fmt: skip
                        renderer = gr.Dropdown(
                            list(RENDERERS),
                            value=RENDERERS[0],
                            label="Renderer",
                            visible=len(RENDERERS) > 1,
                        )
                        if len(RENDERERS) == 1:
                            gr.Markdown(f"Renderer: {RENDERERS[0]} (the only one installed).")
                    gr.Markdown("### 3. Try, then run")
                    with gr.Row():
                        preview_btn = gr.Button(
                            f"Preview ({self.options.preview_seconds:g} s)", elem_id="preview"
                        )
                        run_btn = gr.Button("Run the full edit", variant="primary", elem_id="run")
                        cancel_btn = gr.Button("Cancel", variant="stop", elem_id="cancel")
                    status = gr.Markdown(elem_id="status")
                with gr.Column(scale=3):
                    stills = gr.Gallery(
                        label="Preview stills: original | edited",
                        columns=3,
                        object_fit="contain",
                        height=220,
                        elem_id="stills",
                    )
                    preview_video = gr.Video(
                        label="Preview: original | edited",
                        interactive=False,
                        elem_id="preview_video",
                    )
                    result_side = gr.Video(
                        label="Result: original | edited", interactive=False, elem_id="result_side"
                    )
                    result_video = gr.Video(
                        label="Edited video", interactive=False, height=360, elem_id="result_video"
                    )
                    report = gr.HTML(elem_id="report")
                    downloads = gr.File(
                        label="Downloads: video, side by side, report, tracks",
                        file_count="multiple",
                        elem_id="downloads",
                    )
            choice_inputs = [
                mode, emotion, intensity, sequence, schedule, reference, ref_intensity,
                overrides, transition, face, renderer,
            ]  # fmt: skip
            loaded = [upload, video, original, facts, face, status]
            upload.upload(self.on_upload, [upload], loaded)
            sample.click(self.on_sample, None, loaded)
            mode.change(
                lambda m: [gr.update(visible=m == x) for x in MODES],
                [mode],
                [one, several, scheduled, referenced],
            )
            preview_btn.click(
                self.on_preview,
                [video, *choice_inputs],
                [stills, preview_video, status],
                concurrency_id="edit",
                concurrency_limit=1,
            )
            run_btn.click(
                self.on_run,
                [video, *choice_inputs],
                [result_side, result_video, report, downloads, status],
                concurrency_id="edit",
                concurrency_limit=1,
            )
            cancel_btn.click(self.on_cancel, None, [status], concurrency_limit=None)
            blocks.unload(self.on_unload)
        return blocks

    # ---- what the controls do -------------------------------------------------------------

    def _load(self, path: str | None, keep: Any = None) -> list[Any]:
        """Outputs for a newly chosen video: upload box (`keep` on success, cleared on failure
        so that another file can be dropped), video state, player, facts, face choice, status."""
        hidden = gr.update(visible=False, choices=[("0", 0)], value=0)
        if not path:
            return [None, None, None, "", hidden, ""]
        try:
            f = describe_input(path, self.options.limits)
        except Exception as exc:  # every failure becomes one line in the page
            return [None, None, None, "", hidden, _error(exc)]
        lines = [f"**{Path(path).name}**: {f.summary()}"]
        if f.faces:
            lines.append(f"faces found: {len(f.faces)} (first seen at {f.face_time:.2f} s)")
            status = "Ready: choose what to change, then Preview or Run."
        else:
            lines.append("faces found: none in the first frames searched")
            status = "**Warning:** no face found in the first frames; an edit needs a face."
        choices = [(line.strip(), i) for i, line in enumerate(f.face_lines()[1:])]
        faces = gr.update(visible=len(f.faces) > 1, choices=choices or [("0", 0)], value=0)
        return [keep, path, path, "  \n".join(lines), faces, status]

    def on_upload(self, path: str | None) -> list[Any]:
        return self._load(path, keep=gr.update())

    def on_sample(self, request: gr.Request) -> list[Any]:
        try:
            path = copy_sample(self.workspace.session(_session(request)))
        except Exception as exc:
            return self._load(None)[:5] + [_error(exc)]
        return self._load(str(path))

    def _job(
        self,
        kind: str,
        request: gr.Request,
        progress: gr.Progress,
        work: Callable[[Path, ProgressHook], list[Any]],
    ) -> list[Any] | str:
        """Run one preview or edit in the process-wide slot; a status line when it fails."""
        session = _session(request)
        if self.jobs.busy():
            progress(None, desc=f"waiting: {self.jobs.waiting() + 1} edit(s) ahead of this one")
        try:
            return self.jobs.run(
                session,
                lambda hook: work(self.workspace.new_job(session, kind), hook),
                _progress_report(progress),
            )
        except Exception as exc:
            return _error(exc)

    def on_preview(
        self,
        video: str | None,
        mode: str,
        emotion: str,
        intensity: float,
        sequence: str,
        schedule: str,
        reference: str | None,
        ref_intensity: float,
        overrides: str,
        transition: float,
        face: int,
        renderer: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's way to ask for a bar)
    ) -> list[Any]:
        values = (mode, emotion, intensity, sequence, schedule, reference, ref_intensity,
                  overrides, transition, face, renderer)  # fmt: skip
        if not video:
            return [None, None, "**Error:** upload a video or use the sample clip first."]

        def work(folder: Path, hook: ProgressHook) -> list[Any]:
            r = run_preview(
                video,
                _choice(values),
                folder,
                seconds=self.options.preview_seconds,
                stills=self.options.stills,
                hook=hook,
            )
            shots = [(str(p), p.stem.split("_")[-1]) for p in r.stills]
            return [
                shots,
                str(r.side),
                f"Preview ({folder.name}): {r.frames} frames in {r.seconds:.1f} s.",
            ]

        out = self._job("preview", request, progress, work)
        return [None, None, out] if isinstance(out, str) else out

    def on_run(
        self,
        video: str | None,
        mode: str,
        emotion: str,
        intensity: float,
        sequence: str,
        schedule: str,
        reference: str | None,
        ref_intensity: float,
        overrides: str,
        transition: float,
        face: int,
        renderer: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's way to ask for a bar)
    ) -> list[Any]:
        values = (mode, emotion, intensity, sequence, schedule, reference, ref_intensity,
                  overrides, transition, face, renderer)  # fmt: skip
        if not video:
            return [None, None, "", None, "**Error:** upload a video or use the sample clip first."]

        def work(folder: Path, hook: ProgressHook) -> list[Any]:
            from ..cli.report import summary
            from ..html_report import render_html

            r = run_full(video, _choice(values), folder, hook=hook)
            page = html.escape(render_html(r.report), quote=True)
            frame = f"<iframe class='report-frame' title='edit report' srcdoc=\"{page}\"></iframe>"
            lines = "  \n".join(summary(r.report))
            done = (
                f"Done ({folder.name}): {r.frames} frames edited in {r.edit_seconds:.1f} s, "
                f"report in {r.report_seconds:.1f} s.  \n{lines}"
            )
            return [str(r.side), str(r.output), frame, [str(p) for p in r.downloads], done]

        out = self._job("edit", request, progress, work)
        return [None, None, "", None, out] if isinstance(out, str) else out

    def on_cancel(self, request: gr.Request) -> Any:
        if self.jobs.cancel(_session(request)):
            return "Cancelling: the edit stops at the next frame; nothing will be written."
        return gr.update()  # nothing runs: the last result's status stays

    def on_unload(self, request: gr.Request) -> None:
        session = _session(request)
        self.jobs.cancel(session)
        self.workspace.end(session)

    # ---- serving --------------------------------------------------------------------------

    def launch(self, *, block: bool = False) -> str:
        """Start the server; returns the page's local URL (a public one only with share=True)."""
        o = self.options
        _app, local, public = self.blocks.queue(max_size=32).launch(
            server_name=o.host,
            server_port=o.port or None,
            share=o.share,
            prevent_thread_lock=True,
            quiet=True,
            show_error=False,
            ssr_mode=False,
            inbrowser=False,
            allowed_paths=[str(self.workspace.root)],
            theme=gr.themes.Default(
                font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
            ),
            css=CSS,
            footer_links=[],
        )
        return str(local) if not o.share else f"{local} (public: {public})"

    def close(self) -> None:
        """Stop the server and remove every temporary file of the app."""
        self.blocks.close()
        self.jobs.close()
        self.workspace.close()


def _session(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", None) or "anonymous")


def _choice(values: tuple[Any, ...]) -> Choice:
    """The Choice from the page's controls, in the order of choice_inputs."""
    (mode, emotion, intensity, sequence, schedule, reference, ref_i, overrides, transition, face,
     renderer) = values  # fmt: skip
    try:
        face_index = int(face or 0)
    except (TypeError, ValueError) as exc:
        raise InputError(f"face {face!r}: choose one of the faces found.") from exc
    return Choice(
        mode=mode or MODES[0],
        emotion=emotion or "happy",
        intensity=float(intensity),
        sequence=sequence or "",
        schedule=schedule or "",
        reference=reference or None,
        reference_intensity=float(ref_i),
        overrides=overrides or "",
        transition=float(transition),
        face=face_index,
        renderer=renderer or RENDERERS[0],
    )


__all__ = ["App"]
