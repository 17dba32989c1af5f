"""Video I/O, as it was imported before the io/ package: a re-export of emodirector.io."""

from .io import (
    DEFAULT_CRF,
    DEFAULT_PRESET,
    OUTPUT_MUXERS,
    DecodeStats,
    VideoReader,
    VideoWriter,
    atomic_path,
    check_output_path,
    pack_i420,
    probe,
    rgb_to_i420,
)

__all__ = [
    "DEFAULT_CRF",
    "DEFAULT_PRESET",
    "OUTPUT_MUXERS",
    "DecodeStats",
    "VideoReader",
    "VideoWriter",
    "atomic_path",
    "check_output_path",
    "pack_i420",
    "probe",
    "rgb_to_i420",
]
