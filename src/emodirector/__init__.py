"""emodirector: change the emotion on a face in a real video, on a CPU, with no per-actor training.

Public API (a Python user needs nothing else):
  track_video(path, TrackOptions()) -> TrackResult (.track: FaceTrack)
  save_track / load_track: the versioned .npz track file
  manipulate(track, EditRequest(emotion=EmotionSpec("happy", 0.8))) -> EditedTrack
  save_edited / load_edited: the edited track file (original + edited geometry + schedule)
  render_video(video, edited, output, RenderVideoOptions()) -> RenderStats
  edit(video, request, output, EditOptions()) -> EditResult: all of the above in one call
  VideoReader / VideoWriter / probe: streaming video I/O that keeps timing and audio
"""

from .emotions import EmotionSpec
from .errors import (
    EmodirectorError,
    InputError,
    ModelNotFoundError,
    NoFaceError,
    OutputError,
    TrackFileError,
    VideoError,
)
from .manipulate import EditRequest, ManipulateOptions, load_references, manipulate
from .pipeline import (
    EditOptions,
    EditResult,
    RenderStats,
    RenderVideoOptions,
    edit,
    render_video,
)
from .render import RenderOptions
from .track import TrackOptions, TrackResult, list_faces, track_video
from .trackfile import load_edited, load_track, save_edited, save_track
from .types import EditedTrack, FaceTrack, Frame, VideoInfo
from .video import VideoReader, VideoWriter, probe

__version__ = "0.1.0"

__all__ = [
    "render_video",
    "edit",
    "RenderOptions",
    "RenderVideoOptions",
    "RenderStats",
    "EditResult",
    "EditOptions",
    "EditRequest",
    "EditedTrack",
    "EmodirectorError",
    "EmotionSpec",
    "FaceTrack",
    "Frame",
    "InputError",
    "ManipulateOptions",
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
    "load_edited",
    "load_references",
    "load_track",
    "manipulate",
    "probe",
    "save_edited",
    "save_track",
    "track_video",
]
