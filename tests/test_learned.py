"""The learned renderer (render/learned/): a tiny configuration trains, saves, resumes and renders;
the loss falls; bad model files, clips and runs are refused with one clear message each."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import make_track, shared_clip
from emodirector.cli import main
from emodirector.errors import InputError, ModelNotFoundError
from emodirector.render import RenderOptions, make_renderer
from emodirector.track import TrackResult
from emodirector.types import EditedTrack

torch = pytest.importorskip("torch")

from emodirector.render.learned.modelfile import FORMAT, load_model, save_model  # noqa: E402
from emodirector.render.learned.train import (  # noqa: E402
    CHECKPOINT,
    GAINS,
    PairPool,
    TrainOptions,
    TrainProgress,
    TrainResult,
    best_gain,
    load_clip,
    loss_terms,
    train_renderer,
)

CLIP = "talking_frontal_c.mp4"
# Tiny: a 32-pixel crop, 4 channels, the first 30 % of the clip (52 frames), one pool of 16 pairs
# for the whole run (so the test can check that the loss on it falls).
TINY = TrainOptions(
    size=32,
    width=4,
    batch=4,
    pool=16,
    pool_passes=1000,
    steps=240,
    fraction=0.3,
    lr=3e-3,
    sample_every=120,
    threads=1,  # a fixed count: the resumed run must match the unbroken one bit for bit
)


@pytest.fixture(scope="module")
def track(tracked: Callable[..., TrackResult]) -> TrackResult:
    return tracked(shared_clip(CLIP))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, track: TrackResult) -> TrainResult:
    out = tmp_path_factory.mktemp("learned") / "person.pt"
    return train_renderer([shared_clip(CLIP)], [track.track], out, TINY)


@pytest.fixture(scope="module")
def model(trained: TrainResult) -> Path:
    return trained.model


def _with_gain(model: Path, gain: float, folder: Path) -> Path:
    """A copy of the model that keeps `gain` of its network's correction."""
    m = load_model(model)
    out = folder / f"gain{gain}.pt"
    save_model(out, m.net, replace(m.config, gain=gain), m.identity, m.sources, m.steps, m.minutes)
    return out


def _pool_loss(net: object, pool: PairPool) -> tuple[float, float]:
    """(network loss, warp-only loss) over a whole pool."""
    x, y, w = (torch.from_numpy(a) for a in pool.batch(0, len(pool.inputs)))
    with torch.no_grad():
        learned = loss_terms(torch, net(x), y, w, TINY.grad_weight).mean().item()  # type: ignore[operator]
        warp = loss_terms(torch, x[:, :3], y, w, TINY.grad_weight).mean().item()
    return learned, warp


def test_trains_saves_and_the_loss_falls(model: Path, track: TrackResult) -> None:
    m = load_model(model)
    assert m.steps == TINY.steps and m.config.size == TINY.size and m.sources == (CLIP,)
    run = model.with_name("person.run")
    assert (run / CHECKPOINT).is_file() and (run / "index.html").is_file()
    page = (run / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 3 * 4  # input | output | target, 4 rows
    assert any(p.name.startswith("events.out.tfevents") for p in (run / "tensorboard").iterdir())
    # The untrained network renders exactly the warp (zero-initialised residual); training on
    # the pool of epoch 0 must bring the loss on that pool below the warp's.
    pool = PairPool([load_clip(shared_clip(CLIP), track.track, TINY)], TINY, 0)
    learned, warp = _pool_loss(m.net, pool)
    assert learned < 0.97 * warp, (learned, warp)


def test_held_back_frames_choose_how_much_correction_to_keep(trained: TrainResult) -> None:
    """The last 10 % of the frames (5 of 52) are never trained on; the model keeps the share of
    its correction that serves them best, and says so on the page and in the file."""
    assert trained.validation_frames == 5
    assert trained.gain in GAINS and load_model(trained.model).config.gain == trained.gain
    assert trained.validation_loss <= trained.validation_warp  # gain 0 (the warp) is a choice
    assert "Validation (frames held back" in trained.page.read_text()
    assert best_gain(np.array([0.5, 0.4, 0.3, 0.35] + [0.6] * 7)) == 0.2
    assert best_gain(np.full(len(GAINS), 0.1)) == 0.0  # a tie keeps the plain warp


@pytest.mark.parametrize("blend", ["correct", "replace"])
def test_a_model_that_learned_nothing_renders_the_plain_warp(
    model: Path, track: TrackResult, tmp_path: Path, blend: str
) -> None:
    from emodirector.realism import decode_frames
    from emodirector.render import FaceEdit, WarpRenderer

    zero = _with_gain(model, 0.0, tmp_path)
    r = make_renderer(RenderOptions(renderer="learned", model=str(zero), learned_blend=blend))  # type: ignore[arg-type]
    edited = _edited(track)
    frame = decode_frames(shared_clip(CLIP), [3])[3]
    t = track.track
    face = FaceEdit(3, t.landmarks[3], edited.landmarks[3], t.blendshapes[3], t.blendshapes[3])
    out = r.render(frame.yuv, face)
    assert np.array_equal(out.yuv, WarpRenderer().render(frame.yuv, face).yuv)


def test_interrupted_run_resumes_to_the_same_model(
    tmp_path: Path, model: Path, track: TrackResult
) -> None:
    out = tmp_path / "again.pt"

    def stop_halfway(p: TrainProgress) -> None:
        if p.step == TINY.steps // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_renderer([shared_clip(CLIP)], [track.track], out, TINY, on_step=stop_halfway)
    assert not out.exists()  # no half-trained model under the final name
    assert (tmp_path / "again.run" / CHECKPOINT).is_file()
    with pytest.raises(InputError, match="--resume"):  # a run folder is never silently reused
        train_renderer([shared_clip(CLIP)], [track.track], out, TINY)
    train_renderer([shared_clip(CLIP)], [track.track], out, TINY, resume=True)
    a, b = load_model(model), load_model(out)
    assert b.steps == TINY.steps
    for (k, va), vb in zip(a.net.state_dict().items(), b.net.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k  # same seed, same steps: the same model, resumed or not
    with pytest.raises(InputError, match="other settings"):
        train_renderer([shared_clip(CLIP)], [track.track], out, replace(TINY, size=40), resume=True)


def _edited(track: TrackResult, shift: float = 4.0) -> EditedTrack:
    t = track.track
    dst = t.landmarks.copy()
    dst[:, 61, 1] -= shift  # lift the mouth corners
    dst[:, 291, 1] -= shift
    return EditedTrack(
        original=t,
        landmarks=dst,
        blendshapes=t.blendshapes.copy(),
        labels=("happy",) * t.n_frames,
        intensity=np.ones(t.n_frames, np.float32),
    )


@pytest.mark.parametrize("blend", ["correct", "replace"])
def test_renders_only_the_face(model: Path, track: TrackResult, tmp_path: Path, blend: str) -> None:
    from emodirector.realism import decode_frames
    from emodirector.render import FaceEdit, WarpRenderer

    full = _with_gain(model, 1.0, tmp_path)  # whatever the calibration chose, paste it all
    options = RenderOptions(renderer="learned", model=str(full), learned_blend=blend)  # type: ignore[arg-type]
    r = make_renderer(options)
    edited = _edited(track)
    r.prepare(shared_clip(CLIP), edited)
    frame = decode_frames(shared_clip(CLIP), [3])[3]
    t = track.track
    face = FaceEdit(3, t.landmarks[3], edited.landmarks[3], t.blendshapes[3], t.blendshapes[3])
    out = r.render(frame.yuv, face)
    warp = WarpRenderer().render(frame.yuv, face)
    assert out.outcome == "edited" and out.box == warp.box
    changed = np.flatnonzero((out.yuv != warp.yuv).any(axis=1))
    assert len(changed) > 0  # the network repainted something, only rows inside the warped box
    assert out.box is not None and changed.min() >= out.box.y0


def test_another_person_is_refused(model: Path, tracked: Callable[..., TrackResult]) -> None:
    other = tracked(shared_clip("smile_reference.mp4"))
    r = make_renderer(RenderOptions(renderer="learned", model=str(model)))
    with pytest.raises(InputError, match="trained on another person"):
        r.prepare(shared_clip("smile_reference.mp4"), _edited(other))


def test_clips_of_two_people_are_refused(
    tmp_path: Path, track: TrackResult, tracked: Callable[..., TrackResult]
) -> None:
    other = tracked(shared_clip("smile_reference.mp4")).track
    with pytest.raises(InputError, match="smile_reference.mp4 shows another person"):
        train_renderer(
            [shared_clip(CLIP), shared_clip("smile_reference.mp4")],
            [track.track, other],
            tmp_path / "two.pt",
            TINY,
        )
    assert not (tmp_path / "two.run").exists()  # refused before any work


def test_bad_model_files_are_refused(tmp_path: Path, model: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no such model file"):
        load_model(tmp_path / "missing.pt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(model.read_bytes()[: os.path.getsize(model) // 2])
    with pytest.raises(InputError, match="damaged or truncated"):
        load_model(cut)
    text = tmp_path / "text.pt"
    text.write_text("not a model")
    with pytest.raises(InputError, match="damaged or truncated"):
        load_model(text)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(InputError, match="another format"):
        load_model(other)
    data = torch.load(model, weights_only=True)
    assert data["format"] == FORMAT
    data["version"] = 999
    old = tmp_path / "old.pt"
    torch.save(data, old)
    with pytest.raises(InputError, match="version 999"):
        load_model(old)
    with pytest.raises(InputError, match="needs a model"):
        make_renderer(RenderOptions(renderer="learned"))


def test_bad_clips_are_refused(tmp_path: Path, track: TrackResult) -> None:
    with pytest.raises(InputError, match="at least 50"):
        train_renderer(
            [shared_clip(CLIP)], [track.track], tmp_path / "short.pt", replace(TINY, fraction=0.2)
        )
    n = 40
    valid = np.zeros(n, bool)
    valid[:5] = True
    absent = make_track(n, valid=valid, landmarks=np.ones((n, 478, 3), np.float32))
    full = replace(TINY, fraction=1.0)
    with pytest.raises(InputError, match="only 12 % of the frames"):
        train_renderer([shared_clip(CLIP)], [absent], tmp_path / "absent.pt", full)
    assert not (tmp_path / "short.pt").exists() and not (tmp_path / "absent.pt").exists()


def _one_error_line(capsys: pytest.CaptureFixture[str], message: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    err = [e for e in err if e.startswith("emodirector:")]  # MediaPipe logs on stderr too
    assert len(err) == 1 and err[0].startswith("emodirector: error:") and message in err[0], err


def test_cli_edit_with_the_learned_renderer(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from media import frame_times

    video = shared_clip(CLIP)
    out = tmp_path / "out.mp4"
    model = _with_gain(model, 1.0, tmp_path)  # the network's whole correction, whatever it learned
    args = ["edit", str(video), "--emotion", "happy", "--end", "0.6", "-o", str(out), "-q"]
    assert main([*args, "--renderer", str(model)]) == 0, capsys.readouterr().err
    assert "edited" in capsys.readouterr().out
    times = frame_times(out)
    assert len(times) == len([t for t in frame_times(video) if t < 0.6])
    # A damaged model and another person's clip: one clear line each, no output written.
    cut = tmp_path / "cut.pt"
    cut.write_bytes(model.read_bytes()[:1000])
    out2 = tmp_path / "out2.mp4"
    assert main([*args[:-3], "-o", str(out2), "-q", "--renderer", str(cut)]) == 2
    _one_error_line(capsys, "damaged or truncated")
    other = shared_clip("smile_reference.mp4")
    assert (
        main(
            [
                "edit",
                str(other),
                "--emotion",
                "happy",
                "--end",
                "0.3",
                "-o",
                str(out2),
                "-q",
                "--renderer",
                str(model),
            ]
        )  # fmt: skip
        == 2
    )
    _one_error_line(capsys, "trained on another person")
    assert not out2.exists()


def test_model_files_are_checked_before_tracking(
    tmp_path: Path,
    model: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A damaged model is refused, and a model that keeps none of its correction is named, before
    the clip is tracked (minutes on a long clip), not after."""
    import emodirector.pipeline as pipeline

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tracking started before the model was checked")

    cut = tmp_path / "cut.pt"
    cut.write_bytes(model.read_bytes()[:1000])
    out = tmp_path / "out.mp4"
    args = ["edit", str(shared_clip(CLIP)), "--emotion", "happy", "--end", "0.3", "-o", str(out)]
    with monkeypatch.context() as m:
        m.setattr(pipeline, "track_frames", refuse)
        assert main([*args, "-q", "--renderer", str(cut)]) == 2
    _one_error_line(capsys, "damaged or truncated")
    zero = _with_gain(model, 0.0, tmp_path)
    assert main([*args, "-q", "--renderer", str(zero)]) == 0
    err = capsys.readouterr().err
    assert err.count("gain 0") == 1 and "renders as the plain warp" in err, err


def test_cli_train_renderer_refuses_a_short_clip(
    tmp_path: Path, track: TrackResult, capsys: pytest.CaptureFixture[str]
) -> None:
    from emodirector.trackfile import save_track

    tpath = save_track(track.track, tmp_path / "track.npz")
    out = tmp_path / "person.pt"
    args = ["train-renderer", str(shared_clip(CLIP)), "--track", str(tpath), "-o", str(out), "-q"]
    assert main([*args, "--fraction", "0.2", "--steps", "1"]) == 2
    _one_error_line(capsys, "needs at least 50")
    assert main([*args, "--size", "30"]) == 2
    _one_error_line(capsys, "multiple of 8")
    assert not out.exists()


def test_no_disk_space_for_checkpoints(
    tmp_path: Path, track: TrackResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emodirector.errors import OutputError

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    out = tmp_path / "person.pt"
    with pytest.raises(OutputError, match="No space left on device.*free some disk space"):
        train_renderer([shared_clip(CLIP)], [track.track], out, replace(TINY, steps=2))
    assert not out.exists()
    assert [p.name for p in (tmp_path / "person.run").iterdir() if p.suffix == ".pt"] == []
