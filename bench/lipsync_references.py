"""Reference speech with known phone timing, made by something other than this pipeline, for judging the
lip sync of recordings (``bench_lipsync.py`` and tests/lipsync):

- espeak-ng (Debian package) through its C API with phoneme events (speak_lib.h: ``espeak_Initialize`` with
  ``espeakINITIALIZE_PHONEME_EVENTS``; each ``espeakEVENT_PHONEME`` carries the phoneme mnemonic and its
  ``audio_position`` in ms). A different synthesizer, voice and phone set from Piper's.
- Piper speech re-encoded (MP3, Opus) at other sample rates, with the voice model's own per-phone durations
  as reference.

Errors are judged in order (``lipsync_measure.match_in_order``): the phone sets differ (espeak mnemonics vs
CMU ARPAbet), so phones are paired by time, never by position.
"""

import ctypes
import io
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lipsync_measure as m  # noqa: E402

from avatar_service.audio import wav_file  # noqa: E402
from avatar_service.lipsync import visemes  # noqa: E402
from avatar_service.schemas import MouthCue  # noqa: E402
from avatar_service.tts.engine import PAD, PhoneSpan  # noqa: E402

ESPEAK_LIBRARY = "libespeak-ng.so.1"
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_EVENT_PHONEME = 7
_EVENT_LIST_TERMINATED = 0
_CHARS_UTF8 = 1
# espeak-ng's English vowel mnemonics start with one of these (a, A:, @, 3:, E, eI, i:, I, 0, O:, oU, u:, U, V).
_ESPEAK_VOWEL_STARTS = frozenset("aAeEiIoOuUV03@")
# A phone onset paired with a reference onset further than this away is a different phone.
PHONE_MATCH_MS = 100.0
# A mouth opening for a vowel is wider than a consonant's borrowed shape (0.4 × the vowel's weight × 0.7-1.0
# for loudness, lipsync/visemes.py COARTICULATED and cues.py): counting those too let a mouth 100 ms late still
# find an "opening" near most vowels. Above 0.35 only quiet schwas (0.45 × 0.7-1.0) are sometimes missed.
OPENING_MIN_WEIGHT = 0.35


class _Event(ctypes.Structure):
    class _Id(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _Id),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class ReferencePhone:
    phone: str
    start_ms: float
    is_vowel: bool


@dataclass(frozen=True)
class Reference:
    wav: bytes  # the speech as a WAV file
    phones: list[ReferencePhone]

    @property
    def onsets(self) -> list[float]:
        return [p.start_ms for p in self.phones]

    @property
    def vowel_onsets(self) -> list[float]:
        return [p.start_ms for p in self.phones if p.is_vowel]


def espeak_reference(text: str, voice: str = "en-us") -> Reference:
    """Speak ``text`` with espeak-ng; the audio and every phoneme's start (ms) as espeak reports it."""
    library = ctypes.CDLL(ESPEAK_LIBRARY)
    rate = library.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_PHONEME_EVENTS)
    if rate <= 0:
        raise RuntimeError("espeak-ng did not initialise")
    library.espeak_SetVoiceByName(voice.encode())
    chunks: list[np.ndarray] = []
    phones: list[ReferencePhone] = []

    def collect(wav, count, events) -> int:
        if count > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_PHONEME:
                name = event.id.string.decode("ascii", "replace")
                if name and not name.startswith("_"):  # _ and _: are pauses
                    phones.append(ReferencePhone(name, float(event.audio_position), name[0] in _ESPEAK_VOWEL_STARTS))
            index += 1
        return 0

    callback = _CALLBACK(collect)  # kept referenced until synthesis ends
    library.espeak_SetSynthCallback(callback)
    data = text.encode("utf-8")
    library.espeak_Synth(data, len(data) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
    library.espeak_Synchronize()
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return Reference(wav_bytes(samples, rate), phones)


def piper_reference(tokens: list[PhoneSpan], sample_rate: int) -> list[ReferencePhone]:
    """Phone onsets from the voice model's per-token durations (``Speech.tokens`` of a synthesis).

    Within speech a phone's sound starts where the previous phone's own token (with its length mark) ends: the
    pad Piper puts after every id (docs/sources.md, "Piper voices"), word gaps and stress marks in between are
    already the next phone. Measured on Piper's own audio, independent of any
    aligner (docs/lipsync.md, "The Piper reference"): stop closures, sibilant edges and voicing onsets lie a
    median −6..+6 ms from the previous token's end for blank runs of 12 to 93 ms, and 17-88 ms before the
    phone's own token. After a pause (punctuation, sentence edge) there is no previous sound: the phone starts
    at its own token, where the energy rises (measured +7 ms). A diphthong's second symbol continues the first
    (the CMU dictionary has one phone for it)."""
    phones: list[ReferencePhone] = []
    previous_end: float | None = None  # end of the previous phone's own token; None after a pause
    previous_vowel = False
    for token in tokens:
        start_ms = token.start_sample * 1000 / sample_rate
        end_ms = (token.start_sample + token.num_samples) * 1000 / sample_rate
        if visemes.is_modifier(token.phone):
            previous_end = end_ms if previous_end is not None else None
            continue
        if token.phone == PAD or token.phone == " " or token.phone in visemes.STRESS_MARKS:
            continue
        if not any(ch.isalpha() for ch in token.phone):
            previous_end, previous_vowel = None, False
            continue
        # Not visemes.is_vowel: it counts s and z (shown with the EE shape) as vowels.
        vowel = token.phone[0] in m._IPA_VOWELS
        if not (vowel and previous_vowel):
            phones.append(ReferencePhone(token.phone, start_ms if previous_end is None else previous_end, vowel))
        previous_end, previous_vowel = end_ms, vowel
    return phones


# File suffix → the FFmpeg container format it names.
CONTAINERS = {".mp3": "mp3", ".ogg": "ogg", ".flac": "flac", ".m4a": "ipod", ".webm": "webm"}


def encode(
    samples: np.ndarray, sample_rate: int, codec: str, rate: int, path: Path, layout: str = "mono"
) -> Path:
    """Re-encode float mono samples as ``codec`` at ``rate`` Hz, ``mono`` or ``stereo`` (the same signal in both
    channels), into ``path`` (its suffix picks the container, see ``CONTAINERS``)."""
    import av

    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
    with av.open(str(path), mode="w", format=CONTAINERS[path.suffix]) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout=layout, rate=rate,
            frame_size=stream.codec_context.frame_size or None,
        )
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = sample_rate
        for part in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(part))
        container.mux(stream.encode(None))
    return path


def phone_onset_errors(reference: list[float], aligned: list[float]) -> list[float]:
    """Aligned − reference onset (ms, positive = aligned late) for every reference phone paired in order."""
    return [aligned_ms - reference_ms for reference_ms, aligned_ms in onset_pairs(reference, aligned)]


def onset_pairs(reference: list[float], aligned: list[float]) -> list[tuple[float, float]]:
    """(reference onset, the aligned onset paired with it) for every reference phone paired in order."""
    paired = m.match_in_order(reference, aligned, PHONE_MATCH_MS, PHONE_MATCH_MS)
    return [(start, start - difference) for start, difference in zip(reference, paired) if difference is not None]


def vowel_window_share(vowel_onsets: list[float], cues: list[MouthCue]) -> float:
    """Share of reference vowel onsets whose mouth opening lies inside ITU-R BT.1359's detectability window
    (mouth ≤ 125 ms early, ≤ 45 ms late); a vowel without its own opening counts as outside."""
    weights = {cue.t_ms: cue.weight for cue in cues}
    openings = [t for t, _viseme in m.mouth_openings(cues) if weights[int(t)] > OPENING_MIN_WEIGHT]
    errors = m.match_in_order(vowel_onsets, openings, m.MATCH_EARLY_MS, m.MATCH_LATE_MS)
    return sum(m.inside_window(e) for e in errors) / len(errors) if errors else float("nan")


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """int16 mono samples as a WAV file."""
    return wav_file(samples.astype("<i2").tobytes(), rate)


def wav_samples(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as reader:
        return np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
