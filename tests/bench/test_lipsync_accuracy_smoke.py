"""The lip-sync bench's measuring functions on one real short render: they must see a shift we inject."""

from itertools import pairwise

import numpy as np

from avatar_service.audio import decode_mono
from avatar_service.schemas import MouthCue, parse_request
from bench import lipsync_accuracy as bench
from bench import lipsync_measure as m

TEXT = "Please open the valve slowly and call me when the water is warm."


def _shifted(cues: list[MouthCue], ms: int) -> list[MouthCue]:
    return [cues[0]] + [cue.model_copy(update={"t_ms": cue.t_ms + ms}) for cue in cues[1:]]


def test_measures_find_an_injected_shift(renderer) -> None:
    record, speech, audio_path = bench.render_with_speech(renderer, parse_request(text=TEXT))
    assert speech.phones, "the Speech of the same synthesis call was captured"
    samples, rate = decode_mono(audio_path)
    duration_ms = round(len(samples) * 1000 / rate)
    envelope = m.rms_envelope(samples, rate)

    # (a) delaying the mouth by 80 ms moves the best lag 80 ms toward "mouth late".
    lag, r = m.best_lag(m.openness_curve(record.mouth_cues, duration_ms), envelope)
    late_lag, _ = m.best_lag(m.openness_curve(_shifted(record.mouth_cues, 80), duration_ms), envelope)
    assert r > 0.3
    assert abs((lag - late_lag) - 80) <= 20  # the correlation peak is broad: 10 ms frames, noisy durations
    # An exact copy of the envelope, shifted 50 ms earlier, is found at +50 ms with r ≈ 1.
    assert m.best_lag(np.roll(envelope, -5), envelope)[0] == 50

    # (b) the forced alignment finds the vowels; late openings are judged late.
    aligned = m.force_align(m.resample_to(samples, rate), TEXT)
    vowels = m.vowel_onsets(aligned)
    assert len(vowels) >= 15
    assert all(a.start_ms <= b.start_ms for a, b in pairwise(aligned))
    base = m.onset_errors(vowels, m.mouth_openings(record.mouth_cues))
    assert m.onset_stats(base).unmatched <= len(vowels) // 4
    # Openings 100 ms after well-separated vowels are all judged late and outside the window.
    spaced = [(t, "AA") for t in range(0, 3000, 300)]
    late = m.onset_errors(spaced, [(t + 100, "AA") for t, _ in spaced])
    assert late == [-100.0] * len(spaced) and m.onset_stats(late).inside_pct == 0
    # Openings placed exactly 40 ms before every aligned vowel are all found, 40 ms early.
    exact = m.onset_errors(vowels, [(t - 40, min(m.EXPECTED_VISEMES[v])) for t, v in vowels])
    assert exact == [40.0] * len(vowels)


def test_window_and_order_keeping_match() -> None:
    assert m.inside_window(125) and m.inside_window(-45)
    assert not m.inside_window(126) and not m.inside_window(-46) and not m.inside_window(None)
    # One opening cannot serve two vowels: the second vowel is left unmatched rather than matched twice.
    errors = m.onset_errors([(100.0, "AA"), (200.0, "AA")], [(80.0, "AA")])
    assert errors == [20.0, None]
    # A shape that cannot stand for the vowel is not its opening.
    assert m.onset_errors([(100.0, "IY")], [(90.0, "OO")]) == [None]
