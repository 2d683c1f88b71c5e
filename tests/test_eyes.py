"""Eye events: human-like statistics and determinism from the content hash."""

import statistics

import pytest

from avatar_service.eyes import eye_events, pause_starts
from avatar_service.schemas import MouthCue


def speech_with_pauses(duration_ms: int, pause_every_ms: int = 2500) -> list[MouthCue]:
    """A synthetic cue track: speech with a 300 ms pause every ``pause_every_ms``."""
    cues = [MouthCue(t_ms=0, viseme="REST", weight=0.0)]
    t = 100
    while t < duration_ms - 400:
        cues.append(MouthCue(t_ms=t, viseme="AA", weight=0.8))
        t += pause_every_ms - 300
        cues.append(MouthCue(t_ms=t, viseme="REST", weight=0.0))
        t += 300
    cues.append(MouthCue(t_ms=duration_ms - 200, viseme="REST", weight=0.0))
    return cues


def test_same_render_id_gives_identical_events():
    cues = speech_with_pauses(20_000)
    first = eye_events("ab" * 16, cues, 20_000)
    assert first == eye_events("ab" * 16, cues, 20_000)
    assert first != eye_events("cd" * 16, cues, 20_000)


def test_same_request_gives_identical_eye_events_end_to_end(renderer):
    from avatar_service.schemas import parse_request

    request = parse_request(text="Look at me. Now look away, and back again.")
    record = renderer.render(request)
    assert record.eye_events == eye_events(record.render_id, record.mouth_cues, record.duration_ms)


@pytest.mark.parametrize("seed", ["0123456789abcdef" * 2, "fedcba9876543210" * 2, "00ff" * 8])
def test_blinks_follow_conversational_statistics(seed):
    duration = 120_000
    events = eye_events(seed, speech_with_pauses(duration), duration)
    blinks = [e for e in events if e.event_type == "blink"]
    rate = len(blinks) / (duration / 60_000)
    assert 15 <= rate <= 35, rate  # speakers: ~26/min, normal range ~10-32 (Bentivoglio 1997)
    assert all(100 <= b.duration_ms <= 400 for b in blinks)
    partial = [b for b in blinks if b.amplitude < 1.0]
    assert 0.25 <= len(partial) / len(blinks) <= 0.75
    gaps = [b.t_ms - a.t_ms for a, b in zip(blinks, blinks[1:])]
    assert min(gaps) >= 600


def test_blinks_cluster_at_pauses():
    duration = 120_000
    cues = speech_with_pauses(duration)
    pauses = pause_starts(cues)
    near = total = 0
    for seed in ("1" * 32, "2" * 32, "3" * 32):
        blinks = [e for e in eye_events(seed, cues, duration) if e.event_type == "blink"]
        total += len(blinks)
        near += sum(1 for b in blinks if any(0 <= b.t_ms - p <= 300 for p in pauses))
    # Pauses cover 300 ms of every 2.5 s (12 %); most blinks should land in them.
    assert near / total > 0.5


def test_saccades_are_short_spaced_and_end_looking_at_the_listener():
    duration = 60_000
    events = eye_events("9" * 32, speech_with_pauses(duration), duration)
    saccades = [e for e in events if e.event_type == "saccade"]
    assert all(20 <= s.duration_ms <= 200 for s in saccades)
    gaps = [b.t_ms - a.t_ms for a, b in zip(saccades, saccades[1:])]
    assert 1000 <= statistics.median(gaps) <= 4000
    assert saccades[-1].direction == "center"
    # Main sequence: bigger gaze shifts take longer.
    small = [s.duration_ms for s in saccades if s.amplitude < 0.5]
    large = [s.duration_ms for s in saccades if s.amplitude > 0.8]
    if small and large:
        assert statistics.mean(large) > statistics.mean(small)
    assert all(e.t_ms < duration for e in events)
