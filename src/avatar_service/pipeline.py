"""The render pipeline in one place: text → Piper speech → mouth cues → eye events → audio file → record."""

import functools
import json
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from avatar_service.audio import write_audio
from avatar_service.config import Settings
from avatar_service.eyes import eye_events
from avatar_service.lipsync import mouth_cues
from avatar_service.schemas import (
    MAX_SPEED,
    MIN_SPEED,
    EyeEvent,
    MouthCue,
    RenderRecord,
    RenderRequest,
    render_id_for,
)
from avatar_service.text.language import Language
from avatar_service.text.prepare import Spoken, check, prepare
from avatar_service.tts import PiperEngine, Speech, VoiceCatalog, VoiceFiles
from avatar_service.tts.sequence import join


@dataclass(frozen=True)
class Utterance:
    """A text's speech and the face timelines made from it (times from the start of its audio)."""

    speech: Speech
    mouth_cues: list[MouthCue]
    eye_events: list[EyeEvent]


def speech_seed(render_id: str, piece: int = 0) -> int:
    """Piper's noise seed for one piece of a render (SSML breaks cut a text into pieces): its content hash read
    as a number, plus the piece's index, so a re-render is identical."""
    return int(render_id, 16) + piece


class Renderer:
    """Holds the loaded voices; ``render`` is blocking CPU work, safe to call from several threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = VoiceCatalog(
            settings.resolved_voices_dir, settings.default_voice, settings.piper_model
        )
        self.engine = PiperEngine(
            settings.resolved_voice_cache_dir, settings.onnx_threads, settings.render_workers
        )

    def working(self) -> AbstractContextManager[bool]:
        """Count a render as running for the whole block (synthesis and encoding); yields whether it has the
        cores to itself, for ``speak``: a render that starts alone uses every core (tts/engine.py)."""
        return self.engine.running_render()

    def tell_waiting(self, renders: int) -> None:
        """How many renders wait for a thread (the render pool tells): a render that starts with others
        waiting takes one core, not all of them."""
        self.engine.waiting = renders

    def voice_ids(self) -> list[str]:
        return self.catalog.ids()

    def default_voice_id(self) -> str:
        return self.catalog.default_id()

    def resolve(self, request: RenderRequest) -> tuple[str, str]:
        """The voice id the request will use and its render id (content hash); raises UnknownVoice, or
        InvalidInput for text the pipeline would refuse (malformed SSML, nothing speakable)."""
        voice = self.catalog.get(request.voice_id)
        check(request.text, voice_language(voice))
        return voice.voice_id, render_id_for(request.text, voice.voice_id, request.speed)

    def warm_up(self) -> None:
        """Load the default voice now rather than on the first request."""
        self.engine.load(self.catalog.get(None))

    def speak(self, voice: VoiceFiles, text: str, speed: float, seed: str, alone: bool | None = None) -> Utterance:
        """Normalize ``text`` (or read its SSML), synthesize it and time the face to it; ``seed`` (a hex
        digest) seeds Piper's noise and the eye events. Blocking CPU work (renders and stream segments both
        come here); ``alone``: what ``working`` said for the render (see PiperEngine.synthesize)."""
        pieces = prepare(text, voice_language(voice))
        speech = join(
            [
                self.engine.synthesize(
                    voice, piece.text, _clamped(speed * piece.rate), seed=speech_seed(seed, index), alone=alone
                )
                if isinstance(piece, Spoken)
                else piece.ms
                for index, piece in enumerate(pieces)
            ],
            self.engine.load(voice).config.sample_rate,
        )
        cues = mouth_cues(speech)
        return Utterance(speech, cues, eye_events(seed, cues, speech.duration_ms))

    def render(
        self, request: RenderRequest, audio_format: str = "ogg", audio_dir: Path | None = None
    ) -> RenderRecord:
        started = time.perf_counter()
        voice = self.catalog.get(request.voice_id)
        render_id = render_id_for(request.text, voice.voice_id, request.speed)

        with self.working() as alone:
            utterance = self.speak(voice, request.text, request.speed, render_id, alone)
            speech = utterance.speech
            audio_path = write_audio(
                speech.samples,
                speech.sample_rate,
                (audio_dir or self.settings.audio_dir) / render_id,
                audio_format,
            )

        return RenderRecord(
            render_id=render_id,
            voice_id=voice.voice_id,
            speed=request.speed,
            duration_ms=speech.duration_ms,
            audio_file=audio_path.name,
            mouth_cues=utterance.mouth_cues,
            eye_events=utterance.eye_events,
            processing_time_ms=round((time.perf_counter() - started) * 1000),
            created_at=time.time(),
        )


def voice_language(voice: VoiceFiles) -> Language:
    """The language the voice reads (its espeak-ng voice, in the model's .onnx.json), without loading it.
    Asked on every request (``resolve``), so the config is read once per version of the file."""
    try:
        modified = voice.config_path.stat().st_mtime_ns
    except OSError:
        modified = None
    return _config_language(voice.config_path, modified)


@functools.lru_cache(maxsize=64)
def _config_language(config_path: Path, _modified_ns: int | None) -> Language:
    try:
        config = json.loads(config_path.read_text("utf-8"))
        return Language.from_espeak_voice(config["espeak"]["voice"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return Language("en")  # no espeak voice named: the service's own default language


def _clamped(speed: float) -> float:
    """An SSML rate applies on top of the request's speed, within the speeds the voice is made for."""
    return min(MAX_SPEED, max(MIN_SPEED, speed))
