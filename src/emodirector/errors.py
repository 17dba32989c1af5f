"""Exceptions: one base class, so the CLI can turn any of them into one clear line."""

from __future__ import annotations


class EmodirectorError(Exception):
    """Base of every error a user can act on; the message says what is wrong and what to do."""


class VideoError(EmodirectorError):
    """The input video cannot be opened, has no video stream, or cannot be decoded."""


class OutputError(EmodirectorError):
    """The output path is unusable (same as the input, missing folder, no permission)."""


class ModelNotFoundError(EmodirectorError):
    """The face landmarker model file is missing or is not the pinned one."""


class NoFaceError(EmodirectorError):
    """No face was found where one is required (an edit of a video with no face)."""


class TrackFileError(EmodirectorError):
    """A track file is unreadable, of another schema version, or does not match the video."""


class InputError(EmodirectorError):
    """An option value is invalid (unknown emotion, intensity out of range, bad schedule)."""
