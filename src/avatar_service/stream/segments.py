"""A stream's timeline: each synthesized segment placed after the previous one, with absolute face times.

Positions are kept in samples, not milliseconds, so rounding never accumulates: a segment's ``offset_ms`` and
``duration_ms`` are both taken from exact sample positions, which makes ``offset_ms`` of segment n+1 equal
``offset_ms + duration_ms`` of segment n, and the last segment's end the length of all the audio sent.
"""

from dataclasses import dataclass
from typing import Literal

from avatar_service.audio import encode_ogg_opus, pcm16_bytes
from avatar_service.pipeline import Renderer, Utterance
from avatar_service.schemas import render_id_for
from avatar_service.tts import VoiceFiles

AudioFormat = Literal["pcm16", "opus"]


@dataclass(frozen=True)
class SpokenSegment:
    text: str
    spoken: Utterance
    audio: bytes


def speak_segment(
    renderer: Renderer, voice: VoiceFiles, text: str, speed: float, seq: int, audio_format: AudioFormat
) -> SpokenSegment:
    """Synthesize one segment and encode its audio (blocking CPU work: runs on the render pool).

    The eye events are seeded from the segment's number and text, so the same stream gives the same eyes.
    """
    seed = render_id_for(f"{seq}\n{text}", voice.voice_id, speed)
    with renderer.working() as alone:
        spoken = renderer.speak(voice, text, speed, seed, alone)
        samples, rate = spoken.speech.samples, spoken.speech.sample_rate
        audio = pcm16_bytes(samples) if audio_format == "pcm16" else encode_ogg_opus(samples, rate)
    return SpokenSegment(text, spoken, audio)


@dataclass
class StreamTimeline:
    sample_rate: int
    samples: int = 0  # audio placed so far
    next_seq: int = 0

    @property
    def offset_ms(self) -> int:
        return self._ms(self.samples)

    def place(self, segment: SpokenSegment) -> dict:
        """The ``segment`` message for ``segment``, placed at the end of the timeline (which then grows)."""
        offset_samples = self.samples
        num_samples = len(segment.spoken.speech.samples)
        offset_exact_ms = offset_samples * 1000 / self.sample_rate
        end_ms = self._ms(offset_samples + num_samples)
        message = {
            "type": "segment",
            "seq": self.next_seq,
            "offset_ms": self._ms(offset_samples),
            "duration_ms": end_ms - self._ms(offset_samples),
            "offset_samples": offset_samples,
            "num_samples": num_samples,
            "text": segment.text,
            "mouth_cues": [
                {**cue.model_dump(mode="json"), "t_ms": round(offset_exact_ms + cue.t_ms)}
                for cue in segment.spoken.mouth_cues
            ],
            "eye_events": [
                {**event.model_dump(mode="json"), "t_ms": round(offset_exact_ms + event.t_ms)}
                for event in segment.spoken.eye_events
            ],
        }
        self.samples += num_samples
        self.next_seq += 1
        return message

    def _ms(self, samples: int) -> int:
        return round(samples * 1000 / self.sample_rate)
