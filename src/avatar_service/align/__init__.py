"""Timing for recordings the service did not synthesize: decode any audio file, then find when each phone
is spoken (pocketsphinx forced alignment with a transcript, recognition then alignment without one)."""

from avatar_service.align.recording import MAX_RECORDING_BYTES, MAX_RECORDING_SECONDS, Recording, load_recording
from avatar_service.align.sphinx import AlignedPhone, Alignment, align

__all__ = [
    "MAX_RECORDING_BYTES",
    "MAX_RECORDING_SECONDS",
    "AlignedPhone",
    "Alignment",
    "Recording",
    "align",
    "load_recording",
]
