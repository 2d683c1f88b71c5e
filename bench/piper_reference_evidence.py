"""Where in Piper's audio a phone's sound starts, relative to the model's token durations, measured on the audio
alone (no aligner): the evidence for the reference convention of ``lipsync_references.piper_reference``.

    python bench/piper_reference_evidence.py

Piper puts a pad token after every phone id, and word gaps and stress marks are tokens with durations too
(docs/sources.md, "Piper voices"). Between two phones there is therefore a run of 1-9 such tokens (12-104 ms).
For phone pairs with a sharp acoustic landmark at their boundary (Stevens, "Toward a model for lexical access
based on acoustic landmarks and distinctive features", JASA 111(4), 2002: closures and releases are abrupt
changes of band energy), the landmark is timed where a band-energy measure crosses halfway between its values
in the two phones, and compared with (a) the end of the first phone's own token and (b) the start of the
second phone's token. If (a) stays near zero whatever the run's length while (b) grows with it, the run is
already the second phone's sound. Phones after a pause have no landmark of that kind; for them the energy
onset (first 1 ms step louder than −35 dB re the loud frames, as align/pieces.py defines a pause) is compared
with the phone's own token start.
"""

import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lipsync_accuracy import TEXTS  # noqa: E402
from lipsync_measure import _IPA_VOWELS, resample_to  # noqa: E402

from avatar_service.align.onsets import OnsetFinder  # noqa: E402
from avatar_service.config import Settings  # noqa: E402
from avatar_service.lipsync import visemes  # noqa: E402
from avatar_service.pipeline import Renderer  # noqa: E402
from avatar_service.tts.engine import PAD  # noqa: E402

SIBILANTS, VOICELESS_STOPS = set("sʃ"), set("ptk")
WINDOW_MS = 8
_BETWEEN_PHONES = {PAD, " ", *visemes.STRESS_MARKS}


def band_measures(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Per 1 ms (window centred): spectral tilt (dB of >4 kHz over 0.1-1 kHz energy) and total energy (dB)."""
    window, step = rate * WINDOW_MS // 1000, rate // 1000
    count = (len(samples) - window) // step
    frames = samples[np.arange(count)[:, None] * step + np.arange(window)[None, :]] * np.hanning(window)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-12
    frequency = np.fft.rfftfreq(window, 1 / rate)
    low = power[:, (frequency > 100) & (frequency < 1000)].sum(axis=1)
    high = power[:, frequency > 4000].sum(axis=1)
    return 10 * np.log10(high / low), 10 * np.log10(power.sum(axis=1))


def landmark_kind(first: str, second: str) -> tuple[str, int, bool] | None:
    """(name, measure: 0 tilt / 1 energy, rising?) for a phone pair with a sharp landmark between them."""
    vowel_first, vowel_second = first[0] in _IPA_VOWELS, second[0] in _IPA_VOWELS
    if vowel_first and second[0] in SIBILANTS:
        return "vowel → sibilant", 0, True
    if first[0] in SIBILANTS and vowel_second:
        return "sibilant → vowel", 0, False
    if vowel_first and second[0] in VOICELESS_STOPS:
        return "vowel → p t k closure", 1, False
    if first[0] in SIBILANTS and second[0] in VOICELESS_STOPS:
        return "sibilant → p t k closure", 1, False
    if first[0] in VOICELESS_STOPS and vowel_second:
        return "p t k → vowel", 1, True
    return None


def landmarks(speech, tokens) -> list[tuple[str, float, float, float]]:
    """(kind, landmark − end of the first phone's token, landmark − start of the second's, run length) in ms."""
    rate = speech.sample_rate
    measures = band_measures(speech.samples.astype(np.float64), rate)
    centre = WINDOW_MS / 2
    spans = [(t.phone, t.start_sample * 1000 / rate, (t.start_sample + t.num_samples) * 1000 / rate) for t in tokens]
    phones = [i for i, span in enumerate(spans) if any(ch.isalpha() for ch in span[0])]
    found = []
    for i, j in zip(phones, phones[1:]):
        if any(spans[k][0] not in _BETWEEN_PHONES for k in range(i + 1, j)):
            continue  # a pause, or a length mark that belongs to the first phone
        kind = landmark_kind(spans[i][0], spans[j][0])
        if kind is None:
            continue
        name, measure, rising = kind
        (_, first_start, first_end), (_, second_start, second_end) = spans[i], spans[j]
        a, b = int((first_start + first_end) / 2 - centre), int((second_start + second_end) / 2 - centre)
        curve = measures[measure][a:b + 1]
        if curve.size < 10:
            continue
        halfway = (curve[:5].mean() + curve[-5:].mean()) / 2
        crossed = np.flatnonzero(curve > halfway if rising else curve < halfway)
        if crossed.size:
            time = a + int(crossed[0]) + centre
            found.append((name, time - first_end, time - second_start, second_start - first_end))
    return found


def onsets_after_pauses(speech, tokens) -> list[tuple[float, float]]:
    """(energy onset − token start, the pause's end − token start) in ms for each phone right after a pause
    token (punctuation, sentence edge); the pause's end is where the tokens between it and the phone start."""
    rate = speech.sample_rate
    speech_16k = (resample_to(speech.samples, rate) * 32767).astype(np.int16)
    finder = OnsetFinder(speech_16k)
    found, pause_end = [], 0.0
    for token in tokens:
        start = token.start_sample * 1000 / rate
        if any(ch.isalpha() for ch in token.phone):
            if pause_end is not None:
                onset = finder.onset(start - 60, start + 60)
                if onset != start - 60:
                    found.append((onset - start, pause_end - start))
            pause_end = None
        elif token.phone not in _BETWEEN_PHONES and not visemes.is_modifier(token.phone):
            pause_end = (token.start_sample + token.num_samples) * 1000 / rate
    return found


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        renderer = Renderer(Settings(data_dir=Path(scratch) / "data"))
        voice = renderer.catalog.get(None)
        found, after_pauses = [], []
        for text in TEXTS.values():
            speech = renderer.engine.synthesize(voice, text)
            tokens = speech.tokens
            found += landmarks(speech, tokens)
            after_pauses += onsets_after_pauses(speech, tokens)
    by_kind, by_run = defaultdict(list), defaultdict(list)
    for name, to_end, to_start, run in found:
        by_kind[name].append((to_end, to_start, run))
        by_run[f"{run:3.0f} ms of tokens between"].append((to_end, to_start, run))
    print("landmark − end of the previous phone's token | − start of the phone's token (medians, ms)")
    for label, rows in [*sorted(by_kind.items()), *sorted(by_run.items())]:
        ends, starts = [r[0] for r in rows], [r[1] for r in rows]
        print(f"  {label:28s} n={len(rows):4d}  {statistics.median(ends):6.1f} | {statistics.median(starts):6.1f}")
    onsets = [onset for onset, _ in after_pauses]
    print(f"after a pause (n={len(onsets)}): energy onset − token start: median {statistics.median(onsets):.1f} ms "
          f"(quartiles {np.percentile(onsets, 25):.1f} / {np.percentile(onsets, 75):.1f}); the tokens between the "
          f"pause and the phone start a median {-statistics.median(end for _, end in after_pauses):.1f} ms before it")


if __name__ == "__main__":
    main()
