"""Piper synthesis that returns the audio together with the duration the model gave each phoneme.

Piper's VITS models compute a per-phoneme-id sample count (the ``w_ceil`` tensor) that sums exactly to the
audio length. We expose it by patching the ONNX graph once and caching the patched copy, which then loads in
~0.35 s without ``onnx`` (piper1-gpl docs/ALIGNMENTS.md; docs/sources.md "Piper voices"). The same patch
turns the model's two noise samplers into inputs, which we fill from a seed: the same text, speed and seed
give the same samples and durations, bit for bit (see docs/pipeline.md, "Deterministic renders"). Mouth
timing still comes from the same call as the audio.
"""

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar_service.errors import InvalidInput, InvalidVoiceModel
from avatar_service.tts.noise import NOISE_INPUTS, noise_feeds
from avatar_service.tts.voices import VoiceFiles

_LOGGER = logging.getLogger(__name__)

PAD = "_"
# About 27 % of a Piper utterance does not scale with length_scale: every phoneme id lasts at least one
# 256-sample frame after rounding up, and the pads between phonemes are mostly at that floor (measured on
# en_US-joe-medium: length_scale 0.5 gave 0.64× the duration, 2.0 gave 1.75×). ``length_scale_for`` corrects
# for it so that speed 2.0 really takes half as long.
FIXED_DURATION_SHARE = 0.27


# About 3 s of speech per model call bounds a rendering process's peak memory (README, "Performance").
MAX_PHONEMES_PER_CALL = 60
CLAUSE_BREAKS = frozenset(",;:—–")


def length_scale_for(speed: float, voice_length_scale: float = 1.0) -> float:
    """Piper length scale that makes speech ``speed`` times as fast as the voice's own pace."""
    return voice_length_scale * (1 / speed - FIXED_DURATION_SHARE) / (1 - FIXED_DURATION_SHARE)


@dataclass(frozen=True)
class PhoneSpan:
    """One model token (phone, stress/length mark, space, punctuation, ^ or $) and where it sits in the audio."""

    phone: str
    start_sample: int
    num_samples: int


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    phones: list[PhoneSpan]

    @property
    def duration_ms(self) -> int:
        return round(len(self.samples) * 1000 / self.sample_rate)


# Part of a patched model's cache key: bump it whenever tts/patch.py changes what it makes, so copies made by
# an older version are made again (2: noise inputs added).
PATCH_FORMAT = 2


@dataclass(frozen=True)
class LoadedVoice:
    """A voice ready to synthesize: Piper's object for text → ids, and the session that runs the model."""

    piper: object  # piper.PiperVoice: phonemizer, id map and config
    session: object  # onnxruntime.InferenceSession of the patched model; concurrent runs share it
    noise_channels: dict[str, int]  # the noise inputs the model declares → channels


class PiperEngine:
    """Loads each voice once (thread-safe) and synthesizes text with phoneme timings.

    Thread policy: one onnxruntime session per voice with ``onnx_threads`` intra-op threads (default 2),
    shared by every render in the process, with the pool's spin-waiting off. A lone request then runs as
    fast as Piper at its defaults on two cores, and concurrent renders do not lose a core to a pool thread
    spinning between parallel sections (onnxruntime docs, "Thread management": allow_spinning trades CPU
    for latency). The thread count is fixed rather than chosen per call because it changes the result:
    onnxruntime splits some kernels' work by it, so 1 and 2 threads give audio that differs in its last
    bits, while a fixed count gives the same bits alone or under load (tests/tts/test_thread_policy.py;
    measurements in docs/pipeline.md).
    """

    def __init__(self, patched_models_dir: Path, onnx_threads: int = 2) -> None:
        self._patched_dir = patched_models_dir
        self._onnx_threads = onnx_threads
        self._voices: dict[Path, LoadedVoice] = {}
        self._lock = threading.Lock()

    def synthesize(self, voice_files: VoiceFiles, text: str, speed: float = 1.0, *, seed: int = 0) -> Speech:
        """Speech for ``text``; the same voice, text, speed and ``seed`` (≥ 0) always give the same result."""
        return synthesize_with(self._loaded(voice_files), voice_files.voice_id, text, speed, seed)

    def load(self, voice_files: VoiceFiles):  # -> piper.PiperVoice
        """The voice's Piper object (phonemizer, ids, config), loaded once. Synthesize through this engine:
        the object's session is the patched model, which needs the noise inputs ``synthesize`` feeds."""
        return self._loaded(voice_files).piper

    def _loaded(self, voice_files: VoiceFiles) -> LoadedVoice:
        with self._lock:
            voice = self._voices.get(voice_files.model_path)
            if voice is None:
                voice = self._load_uncached(voice_files)
                self._voices[voice_files.model_path] = voice
            return voice

    def _load_uncached(self, voice_files: VoiceFiles) -> LoadedVoice:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        try:
            config = PiperConfig.from_dict(json.loads(voice_files.config_path.read_text("utf-8")))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self._onnx_threads  # 0 = one per core
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = onnxruntime.InferenceSession(
                str(self._patched_model(voice_files)),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )
            noise_channels = {
                model_input.name: model_input.shape[0]
                for model_input in session.get_inputs()
                if model_input.name in NOISE_INPUTS
            }
            return LoadedVoice(PiperVoice(config=config, session=session), session, noise_channels)
        except Exception as error:  # onnxruntime and json raise many types for a bad file
            raise InvalidVoiceModel(
                f"voice_id: {voice_files.voice_id!r} is not a valid Piper model "
                f"({voice_files.model_path.name}: {type(error).__name__}: {str(error)[:200]})"
            ) from error

    def _patched_model(self, voice_files: VoiceFiles) -> Path:
        """A copy of the model with the duration tensor as an output, made once per model file."""
        stat = voice_files.model_path.stat()
        key = hashlib.sha256(
            f"{voice_files.model_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{PATCH_FORMAT}".encode()
        ).hexdigest()[:16]
        patched = self._patched_dir / f"{voice_files.voice_id}-{key}.onnx"
        if patched.is_file():
            return patched
        self._patched_dir.mkdir(parents=True, exist_ok=True)
        partial = patched.with_suffix(f".{os.getpid()}.{threading.get_ident()}.partial")
        # In a child process: see tts/patch.py for why.
        done = subprocess.run(
            [sys.executable, "-m", "avatar_service.tts.patch", str(voice_files.model_path), str(partial)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            last_line = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise InvalidVoiceModel(f"voice_id: {voice_files.voice_id!r} could not be patched: {last_line}")
        partial.replace(patched)  # atomic: a concurrent loader sees a whole file or none
        _LOGGER.info("cached alignment-patched model %s", patched)
        return patched


def synthesize_with(loaded: LoadedVoice, voice_id: str, text: str, speed: float, seed: int) -> Speech:
    """``PiperEngine.synthesize`` on an already loaded voice (benchmarks also run it on Piper's own model)."""
    voice = loaded.piper
    length_scale = length_scale_for(speed, voice.config.length_scale)
    id_to_phone = _id_to_phone(voice.config.phoneme_id_map)
    audio_parts: list[np.ndarray] = []
    phones: list[PhoneSpan] = []
    offset = 0
    for sentence in voice.phonemize(text):
        if not sentence:
            continue
        sentence_audio = []
        for piece in split_long_sentence(sentence):
            phoneme_ids = voice.phonemes_to_ids(piece)
            audio, samples_per_id = _run_model(loaded, phoneme_ids, length_scale, seed)
            if samples_per_id is None or len(samples_per_id) != len(phoneme_ids):
                raise InvalidVoiceModel(f"voice_id: {voice_id!r} does not expose phoneme durations")
            phones.extend(_phone_spans(phoneme_ids, samples_per_id, id_to_phone, offset))
            sentence_audio.append(audio.reshape(-1))
            offset += audio.size
        audio_parts.append(_normalized(np.concatenate(sentence_audio)))
    if not audio_parts:
        raise InvalidInput("text", "nothing speakable in it (only punctuation or symbols)")
    samples = np.concatenate(audio_parts).astype(np.float32, copy=False)
    return Speech(samples=samples, sample_rate=voice.config.sample_rate, phones=phones)


def _run_model(
    voice: LoadedVoice, phoneme_ids: list[int], length_scale: float, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """One model call: raw audio and samples per phoneme id (None if the model does not expose them).

    The inputs are those of Piper's ``PiperVoice.phoneme_ids_to_audio``, plus the seeded noise.
    """
    config = voice.piper.config
    feeds = {
        "input": np.array([phoneme_ids], dtype=np.int64),
        "input_lengths": np.array([len(phoneme_ids)], dtype=np.int64),
        "scales": np.array([config.noise_scale, length_scale, config.noise_w_scale], dtype=np.float32),
        **noise_feeds(voice.noise_channels, phoneme_ids, length_scale, seed),
    }
    if config.num_speakers > 1:
        feeds["sid"] = np.array([config.default_speaker_id], dtype=np.int64)
    outputs = voice.session.run(None, feeds)
    audio = outputs[0].reshape(-1)
    if len(outputs) < 2:
        return audio, None
    return audio, (outputs[1].reshape(-1) * config.hop_length).astype(np.int64)


def split_long_sentence(phonemes: list[str], limit: int = MAX_PHONEMES_PER_CALL) -> list[list[str]]:
    """Cut a sentence longer than ``limit`` phonemes at the clause or word boundary nearest its middle.

    The model's decoder needs memory in proportion to the audio it makes in one call (~19 MB per second
    of speech here), so one unpunctuated 5000-character "sentence" would need gigabytes. Cutting after a
    comma or at a word gap keeps the prosody of each part natural.
    """
    if len(phonemes) <= limit:
        return [phonemes]
    middle = len(phonemes) // 2
    # Cut after the gap that follows a clause break, else after any word gap: pieces end in a space.
    after_gaps = [i + 1 for i, p in enumerate(phonemes[:-1]) if p == " " and i > 0]
    boundaries = [i for i in after_gaps if phonemes[i - 2] in CLAUSE_BREAKS] or after_gaps
    cut = min(boundaries, key=lambda i: abs(i - middle)) if boundaries else middle
    cut = min(max(cut, 1), len(phonemes) - 1)
    return split_long_sentence(phonemes[:cut], limit) + split_long_sentence(phonemes[cut:], limit)


def _normalized(audio: np.ndarray) -> np.ndarray:
    """Peak-normalise one sentence and clip, as Piper's own ``synthesize`` does."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-8:
        return np.zeros_like(audio, dtype=np.float32)
    return np.clip(audio / peak, -1.0, 1.0).astype(np.float32)


def _id_to_phone(phoneme_id_map: dict[str, list[int]]) -> dict[int, str]:
    reverse: dict[int, str] = {}
    for phone, ids in phoneme_id_map.items():
        for phone_id in ids:
            reverse.setdefault(phone_id, phone)
    return reverse


def _phone_spans(
    phoneme_ids: list[int], samples_per_id: np.ndarray, id_to_phone: dict[int, str], offset: int
) -> list[PhoneSpan]:
    """Per-id durations to per-token spans; the pad after each token belongs to that token, as in Piper."""
    spans: list[PhoneSpan] = []
    start = offset
    for phone_id, count in zip(phoneme_ids, samples_per_id.tolist()):
        count = int(count)
        phone = id_to_phone.get(phone_id, "?")
        if phone == PAD and spans:
            last = spans[-1]
            spans[-1] = PhoneSpan(last.phone, last.start_sample, last.num_samples + count)
        else:
            spans.append(PhoneSpan(phone, start, count))
        start += count
    return spans
