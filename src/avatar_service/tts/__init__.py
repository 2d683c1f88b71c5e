"""Text to speech with Piper: voice discovery, download, and synthesis with per-phoneme durations."""

from avatar_service.tts.engine import PhoneSpan, PiperEngine, Speech
from avatar_service.tts.voices import VoiceCatalog, VoiceFiles

__all__ = ["PhoneSpan", "PiperEngine", "Speech", "VoiceCatalog", "VoiceFiles"]
