"""Mouth cue timelines built from real Piper renders."""

import numpy as np
import pytest

from avatar_service.audio import decode_mono
from avatar_service.errors import InvalidInput
from avatar_service.lipsync.cues import Segment, _remove_flicker, loudness_envelope
from avatar_service.schemas import VISEMES, parse_request

TEXTS = [
    "Hello, world! Bob bought a big blue boat.",
    "I see a red kite over the hill.",
    "Thin things, vivid fur, and the weather there.",
    "Please wait. The quick brown fox jumps over the lazy dog; then it sleeps.",
    "Room 42 costs $3.50 per night, Dr. Smith said, on 12/05/2024.",
]


@pytest.fixture(scope="module")
def renders(renderer):
    return {text: renderer.render(parse_request(text=text)) for text in TEXTS}


@pytest.mark.parametrize("text", TEXTS)
def test_timeline_properties(renders, text):
    record = renders[text]
    cues = record.mouth_cues
    assert cues[0].t_ms == 0
    assert cues[-1].viseme == "REST"
    assert cues[-1].t_ms <= record.duration_ms
    times = [cue.t_ms for cue in cues]
    assert times == sorted(set(times)), "cue times must strictly increase"
    assert all(cue.viseme in VISEMES for cue in cues)
    assert all(0.0 <= cue.weight <= 1.0 for cue in cues)
    assert all(cue.weight == 0.0 for cue in cues if cue.viseme == "REST")
    for cue, following in zip(cues, cues[1:]):
        if cue.viseme != "REST":
            assert following.t_ms - cue.t_ms >= 50, f"flicker: {cue} lasts < 50 ms"
    assert len({cue.viseme for cue in cues}) >= 3


def test_word_gaps_do_not_close_the_mouth(renderer):
    # No bilabials and no punctuation: the mouth must stay open across all five word boundaries.
    cues = renderer.render(parse_request(text="I see a red kite")).mouth_cues
    spoken = [i for i, cue in enumerate(cues) if cue.viseme != "REST"]
    inner = cues[spoken[0]:spoken[-1] + 1]
    assert [cue for cue in inner if cue.viseme == "REST"] == []


def test_bilabials_close_the_mouth(renderer):
    cues = renderer.render(parse_request(text="Mama bought a baby a bib")).mouth_cues
    spoken = [i for i, cue in enumerate(cues) if cue.viseme != "REST"]
    closures = [cue for cue in cues[spoken[0]:spoken[-1]] if cue.viseme == "REST"]
    # m-m, b, b-b, b-b: at least four closures inside the phrase (adjacent ones may merge).
    assert len(closures) >= 4


def test_labiodentals_and_dentals_get_their_shapes(renders):
    visemes = {cue.viseme for cue in renders["Thin things, vivid fur, and the weather there."].mouth_cues}
    assert {"FF", "TH"} <= visemes


def test_punctuation_pauses_are_rest(renders):
    record = renders["Please wait. The quick brown fox jumps over the lazy dog; then it sleeps."]
    cues = record.mouth_cues
    long_rests = [
        following.t_ms - cue.t_ms
        for cue, following in zip(cues, cues[1:])
        if cue.viseme == "REST" and cue.t_ms > 0
    ]
    assert max(long_rests) >= 150, "the full stop after 'wait' should hold the mouth at rest"


def test_cues_track_the_audio_loudness(renderer, renders):
    """REST stretches sit where the produced audio is quiet, open vowels where it is loud (pooled over the
    renders: a short text may have no pause of 150 ms at all)."""
    rest, open_ = [], []
    for record in renders.values():
        samples, rate = decode_mono(renderer.settings.audio_dir / record.audio_file)
        envelope = loudness_envelope(samples, rate)

        def level(start_ms, end_ms, envelope=envelope):
            window = envelope[int(start_ms / 10):max(int(start_ms / 10) + 1, int(end_ms / 10))]
            return float(window.mean())

        cues = record.mouth_cues
        ends = [c.t_ms for c in cues[1:]] + [record.duration_ms]
        rest += [level(c.t_ms, e) for c, e in zip(cues, ends) if c.viseme == "REST" and e - c.t_ms >= 150]
        open_ += [level(c.t_ms, e) for c, e in zip(cues, ends) if c.viseme in ("AA", "OH") and c.weight >= 0.6]
    assert len(rest) >= 3 and len(open_) >= 10
    assert np.median(open_) > 4 * np.median(rest)


def test_unusual_text_renders(renderer):
    for text in [
        "🙂👍 Great job! 🎉",
        "Привет, мир. こんにちは。",
        "Supercalifragilisticexpialidocious" * 3,
        "NASA, FBI, e.g., i.e., etc. 1,234,567.89 and 3rd.",
    ]:
        record = renderer.render(parse_request(text=text))
        assert record.duration_ms > 0
        assert record.mouth_cues[0].t_ms == 0 and record.mouth_cues[-1].viseme == "REST"


def test_text_with_nothing_to_say_is_a_clear_error(renderer):
    with pytest.raises(InvalidInput, match="text: nothing speakable"):
        renderer.render(parse_request(text="?!..."))


def test_a_shape_squeezed_at_the_start_does_not_flicker():
    """Anticipation clamps the first cues at 0 ms; a shape left shorter than 50 ms must not remain."""
    import numpy as np

    from avatar_service.lipsync import mouth_cues
    from avatar_service.tts import PhoneSpan, Speech

    rate = 22050
    spans, start = [], 0
    for phone, ms in [("^", 10), ("h", 60), ("ə", 120), ("l", 60), ("o", 150), ("$", 200)]:
        count = rate * ms // 1000
        spans.append(PhoneSpan(phone, start, count))
        start += count
    loud = np.sin(np.arange(start) / 5).astype(np.float32) * 0.5
    loud[-rate * 200 // 1000:] = 0.0
    cues = mouth_cues(Speech(samples=loud, sample_rate=rate, phones=spans))
    assert cues[0].t_ms == 0
    for cue, following in zip(cues, cues[1:]):
        if cue.viseme != "REST":
            assert following.t_ms - cue.t_ms >= 50, cues


@pytest.mark.timeout(10)
def test_a_tiny_sound_between_short_pauses_closes_the_mouth_instead_of_looping():
    # Nothing can lend it time and no speaking neighbour can absorb it; this once looped forever (a worker
    # in the compose test hung on a 700-character text).
    segments = [Segment(0, 20, None), Segment(20, 30, "t", "TH", 0.3), Segment(30, 50, None)]
    assert _remove_flicker(segments) == [Segment(0, 50, None)]
