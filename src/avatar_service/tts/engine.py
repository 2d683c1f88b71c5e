"""Piper synthesis that returns the audio together with the duration the model gave each phoneme.

Piper's VITS models compute a per-phoneme-id sample count (the ``w_ceil`` tensor) that sums exactly to the
audio length. We expose it by patching the ONNX graph once and caching the patched copy, which then loads in
~0.35 s without ``onnx`` (piper1-gpl docs/ALIGNMENTS.md; docs/sources.md "Piper voices"). The same patch
turns the model's two noise samplers into inputs, which we fill from a seed: the same text, speed and seed
give the same samples and durations, bit for bit (see docs/pipeline.md, "Deterministic renders"), and cuts
the model so that a lone request can use every core and a busy engine one core per render, with the same
bits (docs/pipeline.md, "Threads"). Mouth timing still comes from the same call as the audio.
"""

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
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
    phones: list[PhoneSpan]  # model tokens, each with the pad after it (as in Piper's alignments)
    # Every model token on its own, pads included, for speech the model made (empty otherwise): where a
    # phone's sound starts depends on the pads before it (docs/lipsync.md, "The Piper reference").
    tokens: list[PhoneSpan] = field(default_factory=list)

    @property
    def duration_ms(self) -> int:
        return round(len(self.samples) * 1000 / self.sample_rate)


# Part of a patched model's cache key: bump it whenever tts/patch.py changes what it makes, so copies made by
# an older version are made again (2: noise inputs added; 3: decoder cut off into a model of its own; 4: the
# front's long sums cut for thread counts; 5: the decoder's convolutions on rows; 6: its receptive field in
# the decoder's metadata).
PATCH_FORMAT = 6


@dataclass(frozen=True)
class LoadedVoice:
    """A voice ready to synthesize: Piper's object for text → ids, and the session that runs the model."""

    piper: object  # piper.PiperVoice: phonemizer, id map and config
    session: object  # onnxruntime.InferenceSession: the front on one thread (or the whole model); runs share it
    noise_channels: dict[str, int]  # the noise inputs the model declares → channels
    decoder: object | None = None  # one-thread session of the cut-off decoder, if the model has one
    front_alone: object | None = None  # the front on ``onnx_threads`` threads, for a render running alone
    # Threads (``onnx_threads`` − 1) that decode a render's other pieces of latent while it decodes one itself.
    decoder_pool: ThreadPoolExecutor | None = None
    alone_threads: int = 1  # ``onnx_threads``: the front_alone session's threads, and a lone render's pieces
    # Latent frames of context each piece gets on both sides: the decoder's receptive field, counted when it was
    # patched. HiFi-GAN's audio for a frame depends on the latent a few frames around it; beyond that, a piece's
    # samples come from the same numbers summed in the same order as the whole latent's (tts/patch.py
    # ``decoder_on_rows``), so the pieces joined are the whole's bits. en_US-joe-medium: 13 (12 measured).
    decoder_context: int = 0


# The patched decoder's metadata key for its receptive field in latent frames (tts/patch.py receptive_frames).
CONTEXT_FRAMES_KEY = "avatar_service.context_frames"
# onnxruntime's matrix products (the decoder's transposed convolutions, and its plain ones where they stay
# 1-D) sum in longer blocks when they have 64 or fewer columns, here latent frames (tts/patch.py, SUM_BLOCK):
# a piece decoded from that few frames would round differently from the whole. Every piece gets more.
NARROW_FRAMES = 64


class PiperEngine:
    """Loads each voice once (thread-safe) and synthesizes text with phoneme timings.

    Thread policy (docs/pipeline.md, "Threads"): a render running alone uses ``onnx_threads`` threads, renders
    under load one thread each, and the bits are the same either way. Each voice's front (text encoder,
    durations, flow) has a one-thread session and an ``onnx_threads`` one, shared by every render in the
    process. The front's sums are cut so that any of those thread counts gives the same bits
    (tts/patch.py ``split_long_sums``). The decoder has one one-thread session: a render alone decodes its
    latent in ``onnx_threads`` pieces side by side, with context enough that they give the whole's bits
    (``LoadedVoice.decoder_context``), which was faster than one call on several threads. The all-core front
    spin-waits between its operators but stops when its call ends (``_session``).
    """

    def __init__(self, patched_models_dir: Path, onnx_threads: int = 2, cores: int = 1) -> None:
        self._patched_dir = patched_models_dir
        self._onnx_threads = onnx_threads or os.cpu_count() or 1
        self._cores = max(1, cores)
        self._voices: dict[Path, LoadedVoice] = {}
        self._lock = threading.Lock()
        self._running = 0  # renders in progress, across threads
        self.waiting = 0  # renders queued for a thread, as the render pool last said (render_pool.py)

    def synthesize(
        self, voice_files: VoiceFiles, text: str, speed: float = 1.0, *, seed: int = 0, alone: bool | None = None
    ) -> Speech:
        """Speech for ``text``; the same voice, text, speed and ``seed`` (≥ 0) always give the same result.

        ``alone``: what ``running_render`` told the caller for its whole render (so that its other work, e.g.
        encoding, counts too); by default this call asks for itself."""
        loaded = self._loaded(voice_files)
        if alone is not None:
            return synthesize_with(loaded, voice_files.voice_id, text, speed, seed, alone=alone)
        with self.running_render() as alone_now:
            return synthesize_with(loaded, voice_files.voice_id, text, speed, seed, alone=alone_now)

    @contextmanager
    def running_render(self) -> Iterator[bool]:
        """Count a render as running until the block ends; yields whether it has the cores to itself: more than
        one core per render running or waiting when it starts."""
        with self._lock:
            self._running += 1
            alone = self._cores // (self._running + self.waiting) > 1
        try:
            yield alone
        finally:
            with self._lock:
                self._running -= 1

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
        from piper import PiperVoice
        from piper.config import PiperConfig

        try:
            config = PiperConfig.from_dict(json.loads(voice_files.config_path.read_text("utf-8")))
            front_path, decoder_path = self._patched_model(voice_files)
            front_alone = decoder_pool = None
            context = 0
            if decoder_path is None:  # no decoder to cut off, so no front cut for thread counts: one session
                session, decoder = _session(front_path, self._onnx_threads), None
            elif self._cores > 1 and self._onnx_threads > 1:
                # A render alone comes first (and may be all a kiosk ever sees); the one-thread front is made
                # when load first comes, so a process that never sees load never holds it.
                front_alone = _session(front_path, self._onnx_threads)
                session, decoder = _LazySession(front_path, 1), _session(decoder_path, 1)
                # A decoder whose receptive field is unknown is decoded in one call, alone or not.
                context = int(decoder.get_modelmeta().custom_metadata_map.get(CONTEXT_FRAMES_KEY, 0))
                if context:
                    decoder_pool = ThreadPoolExecutor(self._onnx_threads - 1, thread_name_prefix="decoder-piece")
            else:
                session, decoder = _session(front_path, 1), _session(decoder_path, 1)
            noise_channels = {
                model_input.name: model_input.shape[0]
                for model_input in (front_alone or session).get_inputs()
                if model_input.name in NOISE_INPUTS
            }
            return LoadedVoice(
                PiperVoice(config=config, session=session), session, noise_channels, decoder, front_alone,
                decoder_pool, self._onnx_threads, context,
            )
        except Exception as error:  # onnxruntime and json raise many types for a bad file
            raise InvalidVoiceModel(
                f"voice_id: {voice_files.voice_id!r} is not a valid Piper model "
                f"({voice_files.model_path.name}: {type(error).__name__}: {str(error)[:200]})"
            ) from error

    def _patched_model(self, voice_files: VoiceFiles) -> tuple[Path, Path | None]:
        """The patched model's front and decoder files (no decoder file if it has none), made once per model.

        The front is written last, so its presence means the patch finished.
        """
        stat = voice_files.model_path.stat()
        key = hashlib.sha256(
            f"{voice_files.model_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{PATCH_FORMAT}:"
            f"{self._onnx_threads}".encode()
        ).hexdigest()[:16]
        front = self._patched_dir / f"{voice_files.voice_id}-{key}.onnx"
        decoder = self._patched_dir / f"{voice_files.voice_id}-{key}.decoder.onnx"
        if not front.is_file():
            self._patch(voice_files, front, decoder)
        return front, (decoder if decoder.is_file() else None)

    def _patch(self, voice_files: VoiceFiles, front: Path, decoder: Path) -> None:
        self._patched_dir.mkdir(parents=True, exist_ok=True)
        suffix = f".{os.getpid()}.{threading.get_ident()}.partial"
        partials = (front.with_suffix(suffix), decoder.with_suffix(suffix))
        # In a child process: see tts/patch.py for why.
        done = subprocess.run(
            [
                sys.executable, "-m", "avatar_service.tts.patch",
                str(voice_files.model_path), *map(str, partials), str(self._onnx_threads),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            for partial in partials:
                partial.unlink(missing_ok=True)
            last_line = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise InvalidVoiceModel(f"voice_id: {voice_files.voice_id!r} could not be patched: {last_line}")
        # Each rename is atomic; the front goes last, so a concurrent loader never sees it without its decoder.
        if partials[1].is_file():
            partials[1].replace(decoder)
        partials[0].replace(front)
        _LOGGER.info("cached alignment-patched model %s", front)


class _LazySession:
    """An onnxruntime session made when first asked for (thread-safe), with the session methods the engine uses.

    ``ready`` asks without waiting: the first such question starts making the session on a thread of its own,
    so that the render asking goes on with another session meanwhile; ``run`` waits for it.
    """

    def __init__(self, model_path: Path, threads: int) -> None:
        self._model_path, self._threads = model_path, threads
        self._session = None
        self._lock = threading.Lock()
        self._making = False  # a thread is making it

    def ready(self) -> bool:
        if self._session is not None:
            return True
        with self._lock:
            if not self._making:
                self._making = True
                threading.Thread(target=self._made, name="onnx-session", daemon=True).start()
        return False

    def _made(self):  # -> onnxruntime.InferenceSession
        with self._lock:
            if self._session is None:
                self._session = _session(self._model_path, self._threads)
            return self._session

    def run(self, *args, **kwargs):
        return self._made().run(*args, **kwargs)

    def get_inputs(self):
        return self._made().get_inputs()

    def get_session_options(self):
        return self._made().get_session_options()


def _ready(session) -> bool:
    """Whether a one-thread session can run now without being made first (see _LazySession.ready)."""
    return not isinstance(session, _LazySession) or session.ready()


def _session(model_path: Path, threads: int):  # -> onnxruntime.InferenceSession
    """A session on ``threads`` threads. Several threads spin-wait for work between a call's operators, which
    made the front 12 % faster (50 → 43 ms), and stop at the call's end ("session.force_spinning_stop",
    onnxruntime's session option keys): a thread spinning on after the call slowed the decoding after it
    by ~30 % (onnxruntime docs, "Thread management")."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    spinning = "1" if threads > 1 else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
    options.add_session_config_entry("session.force_spinning_stop", spinning)
    return onnxruntime.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])


def synthesize_with(
    loaded: LoadedVoice,
    voice_id: str,
    text: str,
    speed: float,
    seed: int,
    *,
    alone: bool = False,
) -> Speech:
    """``PiperEngine.synthesize`` on an already loaded voice (benchmarks also run it on Piper's own model).

    ``alone``: the render has the cores to itself, so the model runs on its ``onnx_threads`` sessions.
    """
    voice = loaded.piper
    length_scale = length_scale_for(speed, voice.config.length_scale)
    id_to_phone = _id_to_phone(voice.config.phoneme_id_map)
    audio_parts: list[np.ndarray] = []
    tokens: list[PhoneSpan] = []
    offset = 0
    for sentence in voice.phonemize(text):
        if not sentence:
            continue
        sentence_audio = []
        for piece in split_long_sentence(sentence):
            phoneme_ids = voice.phonemes_to_ids(piece)
            audio, samples_per_id = _run_model(loaded, phoneme_ids, length_scale, seed, alone)
            if samples_per_id is None or len(samples_per_id) != len(phoneme_ids):
                raise InvalidVoiceModel(f"voice_id: {voice_id!r} does not expose phoneme durations")
            tokens.extend(_token_spans(phoneme_ids, samples_per_id, id_to_phone, offset))
            sentence_audio.append(audio.reshape(-1))
            offset += audio.size
        audio_parts.append(_normalized(np.concatenate(sentence_audio)))
    if not audio_parts:
        raise InvalidInput("text", "nothing speakable in it (only punctuation or symbols)")
    samples = np.concatenate(audio_parts).astype(np.float32, copy=False)
    return Speech(samples, voice.config.sample_rate, _pads_folded(tokens), tokens)


def _run_model(
    voice: LoadedVoice,
    phoneme_ids: list[int],
    length_scale: float,
    seed: int,
    alone: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One model call: raw audio and samples per phoneme id (None if the model does not expose them).

    With a decoder, the front's outputs are the decoder's inputs (the latent first) and then the durations.
    """
    config = voice.piper.config
    # A render under load runs on the all-core front too while the one-thread front is still being made (the
    # first time load comes, ~0.5 s): the bits are the same, and the render does not wait for it.
    all_cores = voice.front_alone is not None and (alone or not _ready(voice.session))
    front = voice.front_alone if all_cores else voice.session
    outputs = front.run(None, model_feeds(voice, phoneme_ids, length_scale, seed))
    if voice.decoder is not None:
        latent, *_ = outputs
        latent_name, *other_names = [decoder_input.name for decoder_input in voice.decoder.get_inputs()]
        others = dict(zip(other_names, outputs[1:]))
        pieces = voice.alone_threads if alone and voice.decoder_pool is not None else 1
        audio = _decoded(voice.decoder, latent_name, latent, others, pieces, voice.decoder_context, voice.decoder_pool)
        outputs = [audio, *outputs[1 + len(others) :]]
    audio = outputs[0].reshape(-1)
    if len(outputs) < 2:
        return audio, None
    return audio, (outputs[1].reshape(-1) * config.hop_length).astype(np.int64)


def _decoded(
    decoder,
    latent_name: str,
    latent: np.ndarray,
    others: dict,
    pieces: int,
    context: int,
    pool: ThreadPoolExecutor | None,
) -> np.ndarray:
    """The decoder's audio for ``latent`` [batch, channels, frames], in up to ``pieces`` pieces decoded side by
    side (one here, the others on ``pool``'s threads), each with ``context`` frames of context on both sides
    (the decoder's receptive field) and cut back to its own frames: the same bits as one call."""
    frames = latent.shape[2]
    # The end pieces have context on one side only: their own frames must make up the rest.
    pieces = min(pieces, frames // max(1, NARROW_FRAMES + 1 - context))
    if pieces < 2 or pool is None:
        return decoder.run(None, {latent_name: latent, **others})[0].reshape(-1)
    bounds = [round(index * frames / pieces) for index in range(pieces + 1)]

    def piece(index: int) -> np.ndarray:
        first, last = bounds[index], bounds[index + 1]
        start, stop = max(0, first - context), min(frames, last + context)
        audio = decoder.run(None, {latent_name: latent[:, :, start:stop], **others})[0].reshape(-1)
        per_frame = audio.size // (stop - start)
        return audio[(first - start) * per_frame : (last - start) * per_frame]

    others_done = [pool.submit(piece, index) for index in range(1, pieces)]
    return np.concatenate([piece(0), *(done.result() for done in others_done)])


def model_feeds(voice: LoadedVoice, phoneme_ids: list[int], length_scale: float, seed: int) -> dict:
    """The inputs of one call of the model (or its front): Piper's ``phoneme_ids_to_audio`` ones plus the
    seeded noise."""
    config = voice.piper.config
    feeds = {
        "input": np.array([phoneme_ids], dtype=np.int64),
        "input_lengths": np.array([len(phoneme_ids)], dtype=np.int64),
        "scales": np.array([config.noise_scale, length_scale, config.noise_w_scale], dtype=np.float32),
        **noise_feeds(voice.noise_channels, phoneme_ids, length_scale, seed),
    }
    if config.num_speakers > 1:
        feeds["sid"] = np.array([config.default_speaker_id], dtype=np.int64)
    return feeds


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


def _token_spans(
    phoneme_ids: list[int], samples_per_id: np.ndarray, id_to_phone: dict[int, str], offset: int
) -> list[PhoneSpan]:
    """Per-id durations to one span per id, from sample ``offset``."""
    spans: list[PhoneSpan] = []
    start = offset
    for phone_id, count in zip(phoneme_ids, samples_per_id.tolist()):
        spans.append(PhoneSpan(id_to_phone.get(phone_id, "?"), start, int(count)))
        start += int(count)
    return spans


def _pads_folded(tokens: list[PhoneSpan]) -> list[PhoneSpan]:
    """The pad after each token belongs to that token, as in Piper's alignments."""
    spans: list[PhoneSpan] = []
    for token in tokens:
        if token.phone == PAD and spans:
            last = spans[-1]
            spans[-1] = PhoneSpan(last.phone, last.start_sample, last.num_samples + token.num_samples)
        else:
            spans.append(token)
    return spans
