"""How much work a request asks for, measured before any synthesis: its phoneme count.

Characters are a poor measure of cost: espeak-ng reads an emoji by its name, so 4,900 characters of family
emoji become ~14,000 phonemes (~12 minutes of speech), while 5,000 characters of English prose are ~5,700.
Piper's cost grows with phonemes (see docs/pipeline.md), so the cap is on phonemes: MAX_PHONEMES_PER_REQUEST.
Phonemizing with espeak-ng takes ~40 ms for 5,000 characters and needs only the voice's JSON config, so the
API checks it before queueing, in either queue mode, without loading the voice model.
"""

import json
import threading

from avatar_service.errors import InvalidInput, InvalidVoiceModel
from avatar_service.tts.voices import VoiceFiles

# Piper speaks ~20 phonemes per second at speed 1 (tts/engine.py: 60 phonemes ≈ 3 s).
PHONEMES_PER_SECOND = 20


class PhonemeBudget:
    """Refuses (422, field ``text``) a request whose text phonemizes to more than ``limit`` phonemes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._phonemizers: dict[str, object] = {}  # config path → session-less PiperVoice
        self._lock = threading.Lock()

    def check(self, voice: VoiceFiles, text: str) -> int:
        """The text's phoneme count; raises InvalidInput past the limit. Blocking: call it off the event loop."""
        count = sum(len(sentence) for sentence in self._phonemizer(voice).phonemize(text))
        if count > self.limit:
            minutes = self.limit / PHONEMES_PER_SECOND / 60
            raise InvalidInput(
                "text",
                f"asks for {count} phonemes of speech, over the limit of {self.limit} per request "
                f"(MAX_PHONEMES_PER_REQUEST, about {minutes:.0f} minutes of speech); split the text",
            )
        return count

    def _phonemizer(self, voice: VoiceFiles):  # -> piper.PiperVoice
        from piper import PiperVoice
        from piper.config import PiperConfig

        key = str(voice.config_path)
        with self._lock:
            phonemizer = self._phonemizers.get(key)
            if phonemizer is None:
                try:
                    config = PiperConfig.from_dict(json.loads(voice.config_path.read_text("utf-8")))
                except (OSError, ValueError, KeyError, TypeError) as error:
                    raise InvalidVoiceModel(
                        f"voice_id: {voice.voice_id!r} has an unreadable config ({type(error).__name__}: {error})"
                    ) from error
                # PiperVoice.phonemize reads only the config (and takes Piper's espeak-ng lock, which the
                # render threads share), so no ONNX session is needed to count phonemes.
                phonemizer = PiperVoice(session=None, config=config)
                self._phonemizers[key] = phonemizer
            return phonemizer
