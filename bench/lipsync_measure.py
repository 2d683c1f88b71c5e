"""Measuring functions for ``lipsync_accuracy.py``: everything here judges mouth cues against the produced audio
by means independent of how the cues were made (the audio's loudness envelope and a pocketsphinx forced
alignment), so a bug in the cue builder cannot hide itself.

Sign convention everywhere: a POSITIVE number means the mouth is EARLY (leads the sound).
"""

import re
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from avatar_service.schemas import MouthCue

FRAME_MS = 10
VOWEL_VISEMES = frozenset({"AA", "EE", "OH", "OO"})
# ITU-R BT.1359-1 detectability thresholds (docs/sources.md, "Audio-visual synchronisation"): picture
# (mouth) may lead the sound by at most 125 ms and lag it by at most 45 ms before viewers notice.
MAX_EARLY_MS = 125.0
MAX_LATE_MS = 45.0
# ARPAbet vowels of the CMU dictionary that pocketsphinx's en-us model uses.
ARPABET_VOWELS = frozenset(
    {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
)
ALIGN_RATE = 16_000
# pocketsphinx reports frame i as starting at i × 10 ms, but frame i's 25.6 ms analysis window is centred at
# i × 10 + 12.8 ms; a phone change first seen in frame i happened between the centres of frames i−1 and i,
# i.e. at ≈ i × 10 + 7.8 ms. Added to every aligned time so both references use the acoustic time axis.
SPHINX_FRAME_CENTRE_MS = 7.8
# A mouth opening further than this from a vowel onset is not that vowel's opening (it is "missing").
MATCH_EARLY_MS = 250.0
MATCH_LATE_MS = 150.0
# A weight step this large inside one vowel shape also counts as an opening (e.g. s→EE 0.3 then i→EE 0.9).
OPENING_STEP = 0.2


# --- (a) openness vs loudness -------------------------------------------------------------------------------

def rms_envelope(samples: np.ndarray, sample_rate: int, frame_ms: int = FRAME_MS) -> np.ndarray:
    """RMS loudness per ``frame_ms`` frame."""
    frame = int(sample_rate * frame_ms / 1000)
    usable = len(samples) // frame * frame
    frames = samples[:usable].astype(np.float64).reshape(-1, frame)
    return np.sqrt(np.mean(frames**2, axis=1))


def openness_curve(cues: list[MouthCue], duration_ms: int, frame_ms: int = FRAME_MS) -> np.ndarray:
    """Mouth openness per frame from step cues: REST 0, any other shape its weight (held until the next cue)."""
    frames = int(np.ceil(duration_ms / frame_ms))
    times = np.arange(frames) * frame_ms + frame_ms / 2
    starts = np.array([cue.t_ms for cue in cues], dtype=float)
    values = np.array([0.0 if cue.viseme == "REST" else cue.weight for cue in cues])
    active = np.searchsorted(starts, times, side="right") - 1
    return np.where(active >= 0, values[np.clip(active, 0, None)], 0.0)


def best_lag(
    openness: np.ndarray, envelope: np.ndarray, max_lag_ms: int = 200, frame_ms: int = FRAME_MS
) -> tuple[float, float]:
    """The lag (ms, positive = mouth leads) maximising Pearson r between openness(t) and envelope(t + lag)."""
    n = min(len(openness), len(envelope))
    openness, envelope = openness[:n], envelope[:n]
    best = (0.0, -np.inf)
    for k in range(-max_lag_ms // frame_ms, max_lag_ms // frame_ms + 1):
        a = openness[: n - k] if k >= 0 else openness[-k:]
        b = envelope[k:] if k >= 0 else envelope[: n + k]
        if a.std() == 0 or b.std() == 0:
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        if r > best[1]:
            best = (float(k * frame_ms), r)
    return best


# --- (b) forced alignment -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AlignedPhone:
    word: str
    word_index: int  # position among the transcript's words (silences get -1)
    phone: str  # ARPAbet, or SIL
    start_ms: float
    end_ms: float

    @property
    def is_vowel(self) -> bool:
        return self.phone in ARPABET_VOWELS


class AlignmentFailed(RuntimeError):
    pass


def transcript_words(text: str) -> list[str]:
    """Lower-case words as the CMU dictionary spells them (the bench texts avoid digits and abbreviations)."""
    return re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower())


def resample_to(samples: np.ndarray, rate: int, target: int = ALIGN_RATE) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    divisor = gcd(rate, target)
    return resample_poly(samples, target // divisor, rate // divisor).astype(np.float32)


_DECODER = None


def _decoder():
    global _DECODER
    if _DECODER is None:
        import pocketsphinx

        # bestpath off: the lattice path can give a phone fewer frames than its HMM has states and the second
        # (phone-level) pass then fails (cmusphinx/pocketsphinx#339, #500).
        _DECODER = pocketsphinx.Decoder(loglevel="ERROR", bestpath=False)
    return _DECODER


def force_align(samples_16k: np.ndarray, text: str) -> list[AlignedPhone]:
    """Phone-level forced alignment of ``text`` to 16 kHz mono audio with pocketsphinx's bundled en-us model."""
    decoder = _decoder()
    words = transcript_words(text)
    missing = [w for w in words if decoder.lookup_word(w) is None]
    if missing:
        raise AlignmentFailed(f"words not in the CMU dictionary: {', '.join(sorted(set(missing)))}")
    pcm = (np.clip(samples_16k, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
    try:
        decoder.set_align_text(" ".join(words))
        for _ in range(2):  # pass 1: words; pass 2 (after set_alignment): phones
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            if _ == 0:
                decoder.set_alignment()
        alignment = decoder.get_alignment()
    except RuntimeError as error:
        raise AlignmentFailed(f"pocketsphinx could not align the audio: {error}") from error
    frame = 1000 / decoder.config["frate"]
    phones: list[AlignedPhone] = []
    index = 0
    for word in alignment:
        is_word = not word.name.startswith("<") and word.name.upper() != "SIL"
        for phone in word:
            start = phone.start * frame + SPHINX_FRAME_CENTRE_MS
            end = (phone.start + phone.duration) * frame + SPHINX_FRAME_CENTRE_MS
            name = word.name.split("(")[0]
            phones.append(AlignedPhone(name, index if is_word else -1, phone.name, start, end))
        index += is_word
    if index != len(words):
        raise AlignmentFailed(f"alignment has {index} words, transcript {len(words)}")
    return phones


def vowel_onsets(phones: list[AlignedPhone]) -> list[tuple[float, str]]:
    """(onset ms, ARPAbet vowel) for every vowel of the alignment."""
    return [(p.start_ms, p.phone) for p in phones if p.is_vowel]


def mouth_openings(cues: list[MouthCue]) -> list[tuple[float, str]]:
    """(time, viseme) where the mouth visibly moves into a vowel shape (AA EE OH OO): a new shape, or the
    same one clearly wider or narrower (the r-coloured vowel of "water" narrows the open "a" before it)."""
    openings = []
    for previous, cue in pairwise(cues):
        if cue.viseme not in VOWEL_VISEMES:
            continue
        if cue.viseme != previous.viseme or abs(cue.weight - previous.weight) >= OPENING_STEP:
            openings.append((float(cue.t_ms), cue.viseme))
    return openings


def match_in_order(
    references: list[float],
    candidates: list[float],
    early_ms: float,
    late_ms: float,
    compatible=lambda reference_index, candidate_index: True,
) -> list[float | None]:
    """Pair each reference time with at most one candidate, keeping both in time order (no crossing).

    Returns reference − candidate per reference (positive = candidate earlier), ``None`` when unpaired. A pair
    is allowed only for −``late_ms`` ≤ difference ≤ ``early_ms`` and ``compatible(i, j)``; among order-keeping
    pairings the one with the least total |difference| wins, an unpaired reference costing more than any
    allowed pair. Candidates may go unused. Dynamic programming, O(references × candidates).
    A difference costs its size relative to the side's limit (``early_ms`` or ``late_ms``), so an early pair
    is not passed over for a nearer late one the window tolerates less.
    """
    n, k = len(references), len(candidates)
    unpaired = 2.0  # more than any allowed pair (each costs at most 1)
    cost = np.full((n + 1, k + 1), np.inf)
    cost[0, :] = 0.0
    step = np.zeros((n + 1, k + 1), dtype=np.int8)  # 0 skip candidate, 1 skip reference, 2 pair
    for i in range(1, n + 1):
        cost[i, 0] = cost[i - 1, 0] + unpaired
        step[i, 0] = 1
        for j in range(1, k + 1):
            options = [cost[i, j - 1], cost[i - 1, j] + unpaired, np.inf]
            difference = references[i - 1] - candidates[j - 1]
            if -late_ms <= difference <= early_ms and compatible(i - 1, j - 1):
                options[2] = cost[i - 1, j - 1] + (
                    difference / early_ms if difference >= 0 else -difference / late_ms
                )
            choice = int(np.argmin(options))
            cost[i, j], step[i, j] = options[choice], choice
    result: list[float | None] = [None] * n
    i, j = n, k
    while i > 0:
        if j == 0 or step[i, j] == 1:
            i -= 1
        elif step[i, j] == 0:
            j -= 1
        else:
            result[i - 1] = references[i - 1] - candidates[j - 1]
            i, j = i - 1, j - 1
    return result


# Which mouth shapes can show each ARPAbet vowel. Generous on purpose: espeak and the CMU dictionary often
# disagree on reduced vowels ("to" tə vs T UW, "across" ɑ vs AO, "service" ɜ vs ER) and the judgement here is
# WHEN the mouth moves, not which shape the table picked.
EXPECTED_VISEMES: dict[str, frozenset[str]] = {
    **dict.fromkeys(("AA", "AW", "AY"), frozenset({"AA"})),
    # Open-mid front vowels sit between the open and the spread shape, and the dictionaries disagree on them
    # ("as" æz vs EH Z; "a" ɐ vs EY): either shape shows them.
    **dict.fromkeys(("AE", "EH", "EY"), frozenset({"AA", "EE"})),
    "IY": frozenset({"EE"}),
    **dict.fromkeys(("AO", "OW", "OY"), frozenset({"OH", "AA", "OO"})),
    **dict.fromkeys(("UH", "UW"), frozenset({"OO", "AA", "EE"})),
    **dict.fromkeys(("AH", "IH", "ER"), frozenset(VOWEL_VISEMES)),
}


def onset_errors(
    vowels: list[tuple[float, str]], openings: list[tuple[float, str]]
) -> list[float | None]:
    """For each audio vowel onset, vowel time − its own mouth opening (positive = mouth early).

    The opening must show a shape that can stand for that vowel (``EXPECTED_VISEMES``) and lie 250 ms before
    to 150 ms after it; each opening serves one vowel, in order. A vowel whose shape was merged into the
    previous one (the mouth never moves for it) gets ``None`` and counts as outside the window.
    """
    return match_in_order(
        [t for t, _ in vowels],
        [t for t, _ in openings],
        MATCH_EARLY_MS,
        MATCH_LATE_MS,
        lambda i, j: openings[j][1] in EXPECTED_VISEMES[vowels[i][1]],
    )


def inside_window(error: float | None) -> bool:
    return error is not None and -MAX_LATE_MS <= error <= MAX_EARLY_MS


@dataclass(frozen=True)
class OnsetStats:
    vowels: int
    inside_pct: float
    median_abs_ms: float
    median_ms: float  # signed: the systematic lead
    early_out: int  # mouth more than 125 ms early
    late_out: int  # mouth more than 45 ms late
    unmatched: int


def onset_stats(errors: list[float | None]) -> OnsetStats:
    matched = np.array([e for e in errors if e is not None], dtype=float)
    inside = sum(inside_window(e) for e in errors)
    return OnsetStats(
        vowels=len(errors),
        inside_pct=100.0 * inside / len(errors) if errors else float("nan"),
        median_abs_ms=float(np.median(np.abs(matched))) if matched.size else float("nan"),
        median_ms=float(np.median(matched)) if matched.size else float("nan"),
        early_out=int(np.sum(matched > MAX_EARLY_MS)),
        late_out=int(np.sum(matched < -MAX_LATE_MS)),
        unmatched=sum(e is None for e in errors),
    )


# --- reference bias: Piper's durations vs pocketsphinx vs the audio -----------------------------------------

def piper_words(phones, sample_rate: int) -> list[list[tuple[str, float]]]:
    """Piper's token spans grouped into words: each word a list of (token, start ms), stress marks included.

    Words are split at word gaps and pauses (punctuation, sentence edges), the same tokens the model uses.
    """
    words: list[list[tuple[str, float]]] = []
    current: list[tuple[str, float]] = []
    for span in phones:
        token = span.phone
        if any(ch.isalpha() for ch in token) or token in STRESS_AND_LENGTH:
            current.append((token, span.start_sample * 1000 / sample_rate))
        elif current:
            words.append(current)
            current = []
    if current:
        words.append(current)
    return [word for word in words if any(t not in STRESS_AND_LENGTH for t, _ in word)]


STRESS_AND_LENGTH = frozenset("ˈˌːˑ")
_IPA_VOWELS = set("aeiouyæɑɒɐəɛɜɘɵɪʊʌɔɚɝᵻɨʏøœɯ")


def piper_nuclei(word: list[tuple[str, float]], with_stress: bool = False) -> list[float]:
    """Start times of the vowel nuclei of one Piper word (a diphthong's two symbols are one nucleus).

    ``with_stress``: a nucleus starts where its stress mark's time slot starts (how ``cues.py`` folds it).
    """
    starts = []
    previous_vowel = False
    stress_start = None
    for token, start in word:
        if token in STRESS_AND_LENGTH:
            if token in "ˈˌ":
                stress_start = start
            continue
        is_vowel = token[0] in _IPA_VOWELS
        if is_vowel and not previous_vowel:
            starts.append(stress_start if with_stress and stress_start is not None else start)
        previous_vowel = is_vowel
        stress_start = None
    return starts


def word_start(word: list[tuple[str, float]], with_stress: bool = False) -> float:
    for token, start in word:
        if with_stress or token not in STRESS_AND_LENGTH:
            return start
    return word[0][1]


def reference_offsets(piper: list[float], sphinx: list[float], within_ms: float = 150.0) -> list[float]:
    """Piper time − pocketsphinx time for the events both references place within ``within_ms`` of each other.

    Paired in order by ``match_in_order`` (espeak and the CMU dictionary disagree on word and vowel counts,
    e.g. espeak joins "on the", so pairing by position would drift).
    """
    differences = match_in_order(sphinx, piper, within_ms, within_ms)
    return [-d for d in differences if d is not None]


def acoustic_onsets(envelope: np.ndarray, min_silence_ms: float = 150.0) -> list[float]:
    """Times (ms) where sound starts after ≥ ``min_silence_ms`` of silence (−35 dB re the 95th percentile)."""
    loud = float(np.percentile(envelope, 95))
    sounding = envelope > loud * 10 ** (-35 / 20)
    onsets = []
    quiet = min_silence_ms / FRAME_MS  # the file's start counts as silence
    for index, on in enumerate(sounding):
        if on and quiet * FRAME_MS >= min_silence_ms:
            onsets.append(index * FRAME_MS)
        quiet = 0 if on else quiet + 1
    return onsets


def nearest_offsets(times: list[float], references: list[float], within_ms: float = 150.0) -> list[float]:
    """time − nearest reference for each reference that has a time within ``within_ms``."""
    values = np.array(times)
    offsets = []
    for reference in references:
        if values.size == 0:
            break
        nearest = values[np.argmin(np.abs(values - reference))]
        if abs(nearest - reference) <= within_ms:
            offsets.append(float(nearest - reference))
    return offsets
