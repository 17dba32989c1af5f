"""Save and load FaceTrack as a versioned .npz (schema below), with clear errors on bad files.

Schema version 1 keys:
  landmarks        float32 (T, 478, 3)  x, y pixels of the original frame; z in x's pixel scale
  blendshapes      float32 (T, 52)      ARKit coefficients in [0, 1]
  blendshape_names str     (52,)
  transforms       float32 (T, 4, 4)    MediaPipe facial transformation matrices
  boxes            float32 (T, 4)       x0, y0, x1, y1 pixels (bounding box of the landmarks)
  valid            bool    (T,)         False where no face: other arrays hold NaN there
  timestamps       float64 (T,)         seconds
  fps, width, height, source, face_index, schema_version, kind ("face_track"), meta_json
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import TrackFileError
from .outofcore import blocks, on_disk, release
from .types import N_BLENDSHAPES, N_LANDMARKS, FaceTrack
from .video import atomic_path

TRACK_SCHEMA_VERSION = 1
TRACK_KIND = "face_track"
SAVE_BLOCK = 256  # rows of an on-disk array written (then released) at a time


def track_arrays(track: FaceTrack) -> dict[str, Any]:
    """The npz payload of a track (also embedded by the edited-track file)."""
    return {
        "landmarks": np.asarray(track.landmarks, dtype=np.float32),  # no copy: may be on disk
        "blendshapes": track.blendshapes.astype(np.float32),
        "blendshape_names": np.array(track.blendshape_names),
        "transforms": track.transforms.astype(np.float32),
        "boxes": track.boxes.astype(np.float32),
        "valid": track.valid.astype(bool),
        "timestamps": track.timestamps.astype(np.float64),
        "fps": np.float64(track.fps),
        "width": np.int64(track.width),
        "height": np.int64(track.height),
        "source": np.array(track.source),
        "face_index": np.int64(track.face_index),
        "meta_json": np.array(json.dumps(track.meta)),
    }


def save_npz(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write a compressed npz atomically (temp file, then rename), as np.savez_compressed does,
    but arrays on disk (outofcore.py) are written block by block and their pages released, so
    saving a long track does not pull all its landmarks into memory."""
    out = Path(path)
    with (
        atomic_path(out) as tmp,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf,
    ):
        for name, value in payload.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                _write_npy(f, np.asanyarray(value))
    return out


def _write_npy(f: IO[bytes], a: np.ndarray) -> None:
    if not on_disk(a) or a.ndim == 0 or not a.flags.c_contiguous:
        np.lib.format.write_array(f, a, allow_pickle=False)
        return
    np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(a))
    for sl in blocks(a.shape[0], SAVE_BLOCK):
        f.write(a[sl].tobytes())
        release(a, sl.start, sl.stop)


def save_track(track: FaceTrack, path: str | os.PathLike[str]) -> Path:
    """Write `track` to `path` (.npz, schema TRACK_SCHEMA_VERSION)."""
    payload = track_arrays(track)
    payload["schema_version"] = np.int64(TRACK_SCHEMA_VERSION)
    payload["kind"] = np.array(TRACK_KIND)
    return save_npz(path, payload)


def open_npz(path: str | os.PathLike[str], kind: str, version: int) -> dict[str, Any]:
    """Read an npz fully, checking its kind and schema version; one clear error otherwise."""
    p = Path(path)
    if not p.is_file():
        raise TrackFileError(f"{p}: no such file.")
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise TrackFileError(
            f"{p}: not a readable .npz track file ({exc.__class__.__name__})."
        ) from exc
    got_kind = str(data.get("kind", ""))
    if got_kind != kind:
        raise TrackFileError(
            f"{p}: holds {got_kind or 'unknown data'!r}, expected a {kind!r} file."
        )
    got = int(data.get("schema_version", -1))
    if got != version:
        raise TrackFileError(
            f"{p}: schema version {got}, this emodirector reads version {version}; re-create it with this version."
        )
    return data


def track_from_arrays(data: dict[str, Any], origin: str) -> FaceTrack:
    """Rebuild a FaceTrack from npz arrays, checking shapes."""
    try:
        lm = np.asarray(data["landmarks"], dtype=np.float32)
        t = lm.shape[0]
        track = FaceTrack(
            landmarks=lm,
            blendshapes=np.asarray(data["blendshapes"], dtype=np.float32),
            blendshape_names=tuple(str(s) for s in data["blendshape_names"]),
            transforms=np.asarray(data["transforms"], dtype=np.float32),
            boxes=np.asarray(data["boxes"], dtype=np.float32),
            valid=np.asarray(data["valid"], dtype=bool),
            timestamps=np.asarray(data["timestamps"], dtype=np.float64),
            fps=float(data["fps"]),
            width=int(data["width"]),
            height=int(data["height"]),
            source=str(data["source"]),
            face_index=int(data.get("face_index", 0)),
            meta=json.loads(str(data.get("meta_json", "{}"))),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise TrackFileError(f"{origin}: track data is incomplete or corrupt ({exc}).") from exc
    shapes_ok = (
        lm.shape == (t, N_LANDMARKS, 3)
        and track.blendshapes.shape == (t, N_BLENDSHAPES)
        and track.transforms.shape == (t, 4, 4)
        and track.boxes.shape == (t, 4)
        and track.valid.shape == (t,)
        and track.timestamps.shape == (t,)
        and len(track.blendshape_names) == N_BLENDSHAPES
    )
    if not shapes_ok:
        raise TrackFileError(
            f"{origin}: array shapes do not agree with each other; the file is corrupt."
        )
    return track


def load_track(path: str | os.PathLike[str]) -> FaceTrack:
    """Read a track written by save_track."""
    return track_from_arrays(open_npz(path, TRACK_KIND, TRACK_SCHEMA_VERSION), str(path))


# ----------------------------------------------------------------------------- edited tracks
# Schema version 1 of kind "edited_track" (written by `emodirector manipulate`):
#   original_*          the original track, keys as in the face_track schema above
#   edited_landmarks    float32 (T, 478, 3)  same space as original_landmarks
#   edited_blendshapes  float32 (T, 52)
#   labels              str     (T,)         emotion label applied per frame, "" = unchanged
#   intensity           float32 (T,)         effective intensity per frame, in [0, 1.5]
#   edit_meta_json      str                  how the edit was asked for (request, schedule, ...)
#   schema_version, kind ("edited_track")

from .types import EditedTrack  # noqa: E402  (appended section: kept apart from the track code)

EDITED_SCHEMA_VERSION = 1
EDITED_KIND = "edited_track"


def save_edited(edited: EditedTrack, path: str | os.PathLike[str]) -> Path:
    """Write an EditedTrack (original and edited geometry + resolved schedule) to `path`."""
    payload = {f"original_{k}": v for k, v in track_arrays(edited.original).items()}
    payload.update(
        edited_landmarks=np.asarray(edited.landmarks, dtype=np.float32),
        edited_blendshapes=edited.blendshapes.astype(np.float32),
        labels=np.array(edited.labels, dtype=str),
        intensity=edited.intensity.astype(np.float32),
        edit_meta_json=np.array(json.dumps(edited.meta)),
        schema_version=np.int64(EDITED_SCHEMA_VERSION),
        kind=np.array(EDITED_KIND),
    )
    return save_npz(path, payload)


def load_edited(path: str | os.PathLike[str]) -> EditedTrack:
    """Read an edited track written by save_edited; TrackFileError if it is not one."""
    data = open_npz(path, EDITED_KIND, EDITED_SCHEMA_VERSION)
    pre = "original_"
    original = track_from_arrays(
        {k[len(pre) :]: v for k, v in data.items() if k.startswith(pre)}, str(path)
    )
    try:
        edited = EditedTrack(
            original=original,
            landmarks=np.asarray(data["edited_landmarks"], dtype=np.float32),
            blendshapes=np.asarray(data["edited_blendshapes"], dtype=np.float32),
            labels=tuple(str(s) for s in data["labels"]),
            intensity=np.asarray(data["intensity"], dtype=np.float32),
            meta=json.loads(str(data.get("edit_meta_json", "{}"))),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise TrackFileError(
            f"{path}: edited track data is incomplete or corrupt ({exc})."
        ) from exc
    t = original.n_frames
    if (
        edited.landmarks.shape != original.landmarks.shape
        or edited.blendshapes.shape != original.blendshapes.shape
        or len(edited.labels) != t
        or edited.intensity.shape != (t,)
    ):
        raise TrackFileError(
            f"{path}: edited and original arrays disagree in shape; the file is corrupt."
        )
    return edited
