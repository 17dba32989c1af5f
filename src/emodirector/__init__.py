"""emodirector: change the emotion on a face in a real video, on a CPU, with no per-actor training.

Public API (a Python user needs nothing else):
  track_video(path, TrackOptions()) -> TrackResult (.track: FaceTrack)
  save_track / load_track: the versioned .npz track file
  VideoReader / VideoWriter / probe: streaming video I/O that keeps timing and audio
"""

from .errors import (
    EmodirectorError,
    InputError,
    ModelNotFoundError,
    NoFaceError,
    OutputError,
    TrackFileError,
    VideoError,
)
from .track import TrackOptions, TrackResult, list_faces, track_video
from .trackfile import load_track, save_track
from .types import EditedTrack, FaceTrack, Frame, VideoInfo
from .video import VideoReader, VideoWriter, probe

__version__ = "0.1.0"

__all__ = [
    "EditedTrack",
    "EmodirectorError",
    "FaceTrack",
    "Frame",
    "InputError",
    "ModelNotFoundError",
    "NoFaceError",
    "OutputError",
    "TrackFileError",
    "TrackOptions",
    "TrackResult",
    "VideoError",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "list_faces",
    "load_track",
    "probe",
    "save_track",
    "track_video",
]
