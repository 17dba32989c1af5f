"""Video and file I/O: reading (reader.py), writing (writer.py), output paths (paths.py)."""

from .paths import atomic_path, check_output_path
from .reader import DecodeStats, VideoReader, fingerprint, pack_i420, probe, rgb_to_i420
from .writer import DEFAULT_CRF, DEFAULT_PRESET, OUTPUT_MUXERS, VideoWriter

__all__ = [
    "DEFAULT_CRF",
    "DEFAULT_PRESET",
    "OUTPUT_MUXERS",
    "DecodeStats",
    "VideoReader",
    "VideoWriter",
    "atomic_path",
    "check_output_path",
    "fingerprint",
    "pack_i420",
    "probe",
    "rgb_to_i420",
]
