"""The render pipeline in one place: text → Piper speech → mouth cues → eye events → audio file → record."""

import time
from pathlib import Path

from avatar_service.audio import write_audio
from avatar_service.config import Settings
from avatar_service.eyes import eye_events
from avatar_service.lipsync import mouth_cues
from avatar_service.schemas import RenderRecord, RenderRequest, render_id_for
from avatar_service.tts import PiperEngine, VoiceCatalog


def speech_seed(render_id: str) -> int:
    """Piper's noise seed for a render: its content hash read as a number, so a re-render is identical."""
    return int(render_id, 16)


class Renderer:
    """Holds the loaded voices; ``render`` is blocking CPU work, safe to call from several threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = VoiceCatalog(
            settings.resolved_voices_dir, settings.default_voice, settings.piper_model
        )
        self.engine = PiperEngine(settings.resolved_voice_cache_dir, settings.onnx_threads)

    def voice_ids(self) -> list[str]:
        return self.catalog.ids()

    def default_voice_id(self) -> str:
        return self.catalog.default_id()

    def resolve(self, request: RenderRequest) -> tuple[str, str]:
        """The voice id the request will use and its render id (content hash); raises UnknownVoice."""
        voice = self.catalog.get(request.voice_id)
        return voice.voice_id, render_id_for(request.text, voice.voice_id, request.speed)

    def warm_up(self) -> None:
        """Load the default voice now rather than on the first request."""
        self.engine.load(self.catalog.get(None))

    def render(
        self, request: RenderRequest, audio_format: str = "ogg", audio_dir: Path | None = None
    ) -> RenderRecord:
        started = time.perf_counter()
        voice = self.catalog.get(request.voice_id)
        render_id = render_id_for(request.text, voice.voice_id, request.speed)

        speech = self.engine.synthesize(voice, request.text, request.speed, seed=speech_seed(render_id))
        cues = mouth_cues(speech)
        events = eye_events(render_id, cues, speech.duration_ms)
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
            mouth_cues=cues,
            eye_events=events,
            processing_time_ms=round((time.perf_counter() - started) * 1000),
            created_at=time.time(),
        )
