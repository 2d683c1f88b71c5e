"""Mouth cues from the TTS model's own phoneme durations."""

from avatar_service.lipsync.cues import mouth_cues

__all__ = ["mouth_cues"]
