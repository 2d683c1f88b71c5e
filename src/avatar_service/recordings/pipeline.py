"""Lip sync for a recording the service did not synthesize: audio file (+ transcript) → phone timing →
mouth cues → eye events → OGG/Opus → the same RenderRecord a text render produces (docs/lipsync.md)."""

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from avatar_service import PIPELINE_VERSION
from avatar_service.align import Alignment, Recording, align, load_recording
from avatar_service.align.sphinx import SILENCE
from avatar_service.audio import write_audio
from avatar_service.errors import InvalidInput
from avatar_service.eyes import eye_events
from avatar_service.lipsync import mouth_cues
from avatar_service.lipsync.visemes import ARPABET_TO_IPA, DIPHTHONG_SPLIT
from avatar_service.schemas import MouthCue, RenderRecord, TimingMethod
from avatar_service.tts import PhoneSpan, Speech

# A lip-synced recording's record names no voice (RenderRecord.voice_id): the audio came with the request.
RECORDING_VOICE_ID = "recording"
# Ten minutes of speech are ~1500 words, ~9000 characters; twice that leaves room for punctuation and layout.
MAX_TRANSCRIPT_CHARS = 20_000
# The token the cue builder reads as a pause (lipsync/visemes.py: SILENT_TOKENS).
PAUSE_TOKEN = "_"


def check_transcript(transcript: str | None) -> str | None:
    """The transcript as given, or None for "no transcript"; InvalidInput when it is blank or too long."""
    if transcript is None:
        return None
    if not transcript.strip():
        raise InvalidInput("transcript", "is blank (leave it out to lip-sync without a transcript)")
    if len(transcript) > MAX_TRANSCRIPT_CHARS:
        raise InvalidInput(
            "transcript", f"is {len(transcript)} characters; the limit is {MAX_TRANSCRIPT_CHARS}"
        )
    return transcript


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lipsync_id_for(audio_digest: str, transcript: str | None) -> str:
    """Content hash naming a lip-sync result: the same audio bytes and transcript → the same id."""
    payload = json.dumps(
        {"v": PIPELINE_VERSION, "kind": "lipsync", "audio": audio_digest, "transcript": transcript},
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class TimedRecording:
    recording: Recording
    cues: list[MouthCue]
    timing: TimingMethod


def time_recording(audio_path: Path, transcript: str | None) -> TimedRecording:
    """Decode, align and shape: the mouth cues of a recording. Blocking CPU work; raises InvalidInput (field
    ``audio`` or ``transcript``) for input it cannot use."""
    recording = load_recording(audio_path)
    alignment = align(recording.speech_16k, check_transcript(transcript))
    return TimedRecording(recording, mouth_cues(speech_from_alignment(recording, alignment)), alignment.method)


def lipsync(
    audio_path: Path,
    transcript: str | None,
    audio_dir: Path,
    audio_format: str = "ogg",
    render_id: str | None = None,
) -> RenderRecord:
    """The full result for a recording, as a render's: cues, eye events, the audio stored as ``audio_format``
    under ``audio_dir``. ``render_id`` is computed from the file and transcript unless the caller has it."""
    started = time.perf_counter()
    timed = time_recording(audio_path, transcript)
    render_id = render_id or lipsync_id_for(file_digest(audio_path), transcript)
    recording = timed.recording
    events = eye_events(render_id, timed.cues, recording.duration_ms)
    audio = write_audio(recording.samples, recording.sample_rate, audio_dir / render_id, audio_format)
    return RenderRecord(
        render_id=render_id,
        voice_id=RECORDING_VOICE_ID,
        speed=1.0,
        duration_ms=recording.duration_ms,
        audio_file=audio.name,
        mouth_cues=timed.cues,
        eye_events=events,
        processing_time_ms=round((time.perf_counter() - started) * 1000),
        created_at=time.time(),
        timing=timed.timing,
    )


def speech_from_alignment(recording: Recording, alignment: Alignment) -> Speech:
    """The aligned phones as the cue builder's input: IPA spans over the recording's own samples, so recorded
    speech goes through exactly the rules synthesized speech does (lipsync/cues.py)."""
    rate = recording.sample_rate
    length = len(recording.samples)
    spans: list[PhoneSpan] = []
    for phone in alignment.phones:
        start = min(length, round(phone.start_ms * rate / 1000))
        end = min(length, round(phone.end_ms * rate / 1000))
        if end <= start:
            continue
        ipa = ARPABET_TO_IPA.get(phone.phone) if phone.phone != SILENCE else None
        if ipa is None:
            spans.append(PhoneSpan(PAUSE_TOKEN, start, end - start))
        elif len(ipa) == 1:
            spans.append(PhoneSpan(ipa[0], start, end - start))
        else:
            split = start + round((end - start) * DIPHTHONG_SPLIT)
            spans += [PhoneSpan(ipa[0], start, split - start), PhoneSpan(ipa[1], split, end - split)]
    return Speech(recording.samples, rate, spans)
