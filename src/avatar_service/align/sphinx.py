"""When each phone is spoken, from pocketsphinx 5 and the English model its wheel ships (no download).

With a transcript (forced alignment): pass 1 aligns the words (``set_align_text``), pass 2 the phones inside
them (``set_alignment``, then ``get_alignment``: word → phone → state, 10 ms frames). ``bestpath`` is off and
the beams are wide, because the default lattice rescoring can hand a phone fewer frames than its HMM has
states and then fails with "Final result does not match the grammar" or drops the last words
(cmusphinx/pocketsphinx#339, #354). Recordings over ``pieces.MAX_PIECE_MS`` are cut in their pauses, each
cut taking the nearest word boundary from a word-level pass over the whole, and aligned piece by piece.

Without a transcript (recognition): each piece between pauses is recognised with the bundled language model,
and the words it heard are force-aligned like a transcript. The words may be wrong; the sounds they stand for
are close enough to shape a mouth (docs/lipsync.md has the measured figures).
"""

import re
import threading
from dataclasses import dataclass
from typing import Literal

import numpy as np

from avatar_service.align import pieces
from avatar_service.align.onsets import OnsetFinder
from avatar_service.align.pronounce import pronunciations
from avatar_service.align.recording import ALIGN_RATE
from avatar_service.errors import InvalidInput
from avatar_service.loudness import loudness_envelope

Method = Literal["forced-alignment", "recognition"]
SILENCE = "SIL"
FRAME_MS = 10
# pocketsphinx reports frame i as starting at i × 10 ms, but its 25.6 ms analysis window is centred at
# i × 10 + 12.8 ms; a change first seen in frame i happened between the centres of frames i−1 and i, at
# ≈ i × 10 + 7.8 ms (Sphinx front end: 25.625 ms window, 10 ms shift; docs/lipsync.md).
FRAME_CENTRE_MS = 7.8
# lm=None: alignment needs no language model, and not loading it saves ~0.35 s CPU and ~65 MB per decoder.
ALIGN_OPTIONS = {"lm": None, "bestpath": False, "beam": 1e-80, "wbeam": 1e-60, "pbeam": 1e-80}
# Recognition is the slow part without a transcript; narrower search limits kept the words close enough at
# about half the time (measured: 1.2 s instead of 2.8 s for 17.5 s of speech).
# When the search above fails on long or multi-sentence audio: no silence fillers, even wider beams
# (field-tested: succeeded where the above failed with "Failed to set up sub-word alignment").
FALLBACK_ALIGN_OPTIONS = {
    "lm": None, "bestpath": False, "fsgusefiller": False, "beam": 1e-100, "wbeam": 1e-80, "pbeam": 1e-100
}
RECOGNIZE_OPTIONS = {"bestpath": False, "fwdflat": False, "maxhmmpf": 2000, "maxwpf": 5, "beam": 1e-40}
# A transcript "fits" when its words cover the sounding audio: if more than this share of the frames that
# are clearly not silent fell into silence or filler, the words are not what was said.
MAX_UNCOVERED_SOUND = 0.5
# Within 20 dB of the loud (95th percentile) frames counts as sounding.
SOUNDING_RATIO = 0.1
# Sounding time per aligned phone: measured 55-70 ms on espeak-ng and Piper speech (slow speakers reach ~120);
# three times that means whole stretches of speech have no words.
MAX_SOUND_PER_PHONE_MS = 250.0
# No spoken phone holds a second of sound; the fallback search stretches the last word over whatever the
# transcript left out.
MAX_SOUND_IN_ONE_PHONE_MS = 1000


@dataclass(frozen=True)
class AlignedPhone:
    phone: str  # ARPAbet as in the CMU dictionary, or SIL
    start_ms: float
    end_ms: float


@dataclass(frozen=True)
class Alignment:
    phones: list[AlignedPhone]
    method: Method


def transcript_words(text: str) -> list[str]:
    """Lower-case words the way the CMU dictionary spells them (letters and inner apostrophes)."""
    return re.findall(r"[a-z]+(?:'[a-z]+)*", text.lower())


def align(speech_16k: np.ndarray, transcript: str | None) -> Alignment:
    """Phones with times in ms for 16 kHz int16 speech; InvalidInput(field="transcript") when it cannot fit."""
    if transcript is None:
        return _recognize_then_align(speech_16k)
    numbers = re.findall(r"\d+", transcript)
    if numbers:
        raise InvalidInput("transcript", f"contains digits ({', '.join(numbers[:5])}): spell numbers out as spoken")
    words = transcript_words(transcript)
    if not words:
        raise InvalidInput("transcript", "contains no words (letters a-z)")
    _DECODERS.add_words(words)
    phones: list[AlignedPhone] = []
    for start, end, piece_words in _transcript_pieces(speech_16k, words):
        phones += _align_words(speech_16k[start:end], piece_words, start * 1000 / ALIGN_RATE)
    _check_fit(speech_16k, phones, len(words))
    return Alignment(_onsets_after_pauses(speech_16k, phones), "forced-alignment")


class _Decoders(threading.local):
    """pocketsphinx decoders are not thread-safe and take ~0.3 s to load: one of each per thread, on demand."""

    def __init__(self) -> None:
        self._loaded: dict[str, object] = {}

    def _get(self, name: str, options: dict[str, object]):
        if name not in self._loaded:
            import pocketsphinx

            self._loaded[name] = pocketsphinx.Decoder(loglevel="FATAL", **options)
        return self._loaded[name]

    def add_words(self, words: list[str]) -> None:
        """Give the aligners a pronunciation for every word their dictionary lacks (align/pronounce.py)."""
        missing = sorted({word for word in words if self.aligner.lookup_word(word) is None})
        if not missing:
            return
        found = pronunciations(missing)
        unknown = [word for word in missing if word not in found]
        if unknown:
            raise InvalidInput("transcript", f"no pronunciation found for: {', '.join(unknown[:10])}")
        for decoder in (self.aligner, self.fallback_aligner):
            for word, phones in found.items():
                decoder.add_word(word, phones, True)

    @property
    def aligner(self):
        return self._get("aligner", ALIGN_OPTIONS)

    @property
    def fallback_aligner(self):
        return self._get("fallback_aligner", FALLBACK_ALIGN_OPTIONS)

    @property
    def recognizer(self):
        return self._get("recognizer", RECOGNIZE_OPTIONS)


_DECODERS = _Decoders()


def _decode(decoder, speech_16k: np.ndarray) -> None:
    decoder.start_utt()
    decoder.process_raw(speech_16k.tobytes(), full_utt=True)
    decoder.end_utt()


def _is_filler(name: str) -> bool:
    return name.startswith(("<", "[")) or name.upper() == SILENCE


def _transcript_pieces(speech_16k: np.ndarray, words: list[str]) -> list[tuple[int, int, list[str]]]:
    """(first sample, end sample, words) per piece. Short audio is one piece. Longer audio is cut in the middle
    of its pauses, and each cut takes the word boundary nearest to it from a word-level pass over the whole."""
    duration_ms = len(speech_16k) * 1000 // ALIGN_RATE
    quiet = pieces.pauses(speech_16k)
    cuts = pieces.cut_points([(start + end) // 2 for start, end in quiet], duration_ms)
    if not cuts:
        return [(0, len(speech_16k), words)]
    word_starts = _word_starts(speech_16k, words)
    result = []
    first_ms, first_word = 0, 0
    for cut in [*cuts, duration_ms]:
        # The piece ends before the first word starting after the cut (all words for the last piece).
        last_word = next((i for i, start in enumerate(word_starts) if start >= cut), len(words))
        if last_word > first_word:
            result.append((first_ms * ALIGN_RATE // 1000, cut * ALIGN_RATE // 1000, words[first_word:last_word]))
            first_ms, first_word = cut, last_word
    return result


def _word_starts(speech_16k: np.ndarray, words: list[str]) -> list[int]:
    """Start (ms) of each transcript word from a word-level pass over the whole recording.

    Over long stretches the search with silence fillers can still fail ("does not match the grammar"); without
    fillers and with even wider beams it succeeds, only absorbing pauses into the words around them, which is
    good enough to decide on which side of a pause each word lies (field-tested, docs/lipsync.md).
    """
    for attempt in (_DECODERS.aligner, _DECODERS.fallback_aligner):
        attempt.set_align_text(" ".join(words))
        try:
            _decode(attempt, speech_16k)
        except RuntimeError:
            continue
        if attempt.hyp() is None:
            continue
        starts = [s.start_frame * FRAME_MS for s in attempt.seg() if not _is_filler(s.word)]
        if len(starts) == len(words):
            return starts
    raise _does_not_fit("no word-level alignment of the whole recording")


def _align_words(speech_16k: np.ndarray, words: list[str], offset_ms: float) -> list[AlignedPhone]:
    """Both passes over one piece, phone times shifted by the piece's start. When the search with silence
    fillers fails ("Failed to set up sub-word alignment", seen on multi-sentence pieces), the one without
    fillers and with wider beams is tried; it absorbs pauses into neighbouring phones, which the cue builder
    then marks closed wherever the audio is silent (lipsync/cues.py)."""
    failure: object = None
    for decoder in (_DECODERS.aligner, _DECODERS.fallback_aligner):
        try:
            return _phone_pass(decoder, speech_16k, words, offset_ms)
        except (RuntimeError, _Misaligned) as error:
            failure = error
    raise _does_not_fit(failure)


class _Misaligned(Exception):
    """The decoder finished but placed a different number of words than it was given."""


def _phone_pass(decoder, speech_16k: np.ndarray, words: list[str], offset_ms: float) -> list[AlignedPhone]:
    decoder.set_align_text(" ".join(words))
    _decode(decoder, speech_16k)
    decoder.set_alignment()
    _decode(decoder, speech_16k)
    alignment = decoder.get_alignment()
    if alignment is None:
        raise _Misaligned("no alignment")
    phones = []
    aligned_words = 0
    for word in alignment:
        aligned_words += not _is_filler(word.name)
        for phone in word:
            start = offset_ms + phone.start * FRAME_MS + FRAME_CENTRE_MS
            end = start + phone.duration * FRAME_MS
            name = SILENCE if _is_filler(word.name) or _is_filler(phone.name) else phone.name
            phones.append(AlignedPhone(name, start, end))
    if aligned_words != len(words):
        raise _Misaligned(f"{aligned_words} of {len(words)} words placed")
    return phones


def _onsets_after_pauses(speech_16k: np.ndarray, phones: list[AlignedPhone]) -> list[AlignedPhone]:
    """Each phone after a silence, or first in the recording, starts where its sound does (align/onsets.py):
    pocketsphinx's frames start it early. The silence before it ends there too; the phone keeps a frame."""
    finder = OnsetFinder(speech_16k)
    result = list(phones)
    for index, phone in enumerate(result):
        before = result[index - 1] if index else None
        if phone.phone == SILENCE or (before is not None and before.phone != SILENCE):
            continue
        start = finder.onset(phone.start_ms, phone.end_ms - FRAME_MS)
        result[index] = AlignedPhone(phone.phone, start, phone.end_ms)
        if before is not None:
            result[index - 1] = AlignedPhone(before.phone, before.start_ms, start)
    return result


def _does_not_fit(reason: object) -> InvalidInput:
    detail = f" ({reason})" if reason else ""
    return InvalidInput("transcript", f"does not fit the audio: the words could not be aligned to it{detail}")


def _check_fit(speech_16k: np.ndarray, phones: list[AlignedPhone], word_count: int) -> None:
    """A forced alignment always places the words somewhere; these say whether they are what was said.

    Symptoms of a transcript that says less than the audio: sounding audio left outside every phone (the
    search with silence fillers parks it there), or too few phones for the sound, or one phone holding over
    a second of it (the fallback search, which has no fillers, stretches phones instead). A transcript that says more fails the alignment itself.
    """
    levels = loudness_envelope(speech_16k, ALIGN_RATE)
    if levels.size == 0:
        return
    sounding = levels > float(np.percentile(levels, 95)) * SOUNDING_RATIO
    covered = np.zeros_like(sounding)
    spoken = [phone for phone in phones if phone.phone != SILENCE]
    longest_ms = 0
    for phone in spoken:
        frames = slice(int(phone.start_ms // FRAME_MS), int(np.ceil(phone.end_ms / FRAME_MS)))
        covered[frames] = True
        longest_ms = max(longest_ms, int(sounding[frames].sum()) * FRAME_MS)
    total = int(sounding.sum())
    uncovered = float((sounding & ~covered).sum()) / total if total else 0.0
    if uncovered > MAX_UNCOVERED_SOUND:
        raise InvalidInput(
            "transcript",
            f"does not fit the audio: {uncovered:.0%} of the audible speech is not covered by its words",
        )
    per_phone_ms = total * FRAME_MS / max(1, len(spoken))
    if per_phone_ms > MAX_SOUND_PER_PHONE_MS or longest_ms > MAX_SOUND_IN_ONE_PHONE_MS:
        raise InvalidInput(
            "transcript",
            f"does not fit the audio: {word_count} words for {total * FRAME_MS / 1000:.1f} s of speech "
            "(the recording says more than the transcript)",
        )


def _recognize_then_align(speech_16k: np.ndarray) -> Alignment:
    duration_ms = len(speech_16k) * 1000 // ALIGN_RATE
    quiet = pieces.pauses(speech_16k)
    cuts = pieces.cut_points([(start + end) // 2 for start, end in quiet], duration_ms)
    bounds = [0, *cuts, duration_ms]
    phones: list[AlignedPhone] = []
    for first_ms, end_ms in zip(bounds, bounds[1:]):
        piece = speech_16k[first_ms * ALIGN_RATE // 1000:end_ms * ALIGN_RATE // 1000]
        recognizer = _DECODERS.recognizer
        _decode(recognizer, piece)
        segments = [
            (s.word.split("(")[0], s.start_frame * FRAME_MS, (s.end_frame + 1) * FRAME_MS)
            for s in recognizer.seg()
            if not _is_filler(s.word)
        ]
        words = [word for word, _start, _end in segments]
        if not words:
            continue
        try:
            phones += _align_words(piece, words, first_ms)
        except InvalidInput:
            # The phone pass can still fail on words the search only just fitted ("does not match the
            # grammar"): spread each word's dictionary phones evenly over the time recognition gave it.
            phones += _spread(recognizer, segments, first_ms)
    return Alignment(_onsets_after_pauses(speech_16k, phones), "recognition")


def _spread(decoder, segments: list[tuple[str, int, int]], offset_ms: float) -> list[AlignedPhone]:
    phones = []
    for word, start, end in segments:
        names = (decoder.lookup_word(word) or "").split()
        step = (end - start) / max(1, len(names))
        for index, name in enumerate(names):
            first = offset_ms + start + index * step + FRAME_CENTRE_MS
            phones.append(AlignedPhone(name, first, first + step))
    return phones
