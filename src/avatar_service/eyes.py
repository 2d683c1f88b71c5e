"""Eye events for a render: blinks and gaze shifts, grounded in measured human statistics.

Constants and where they come from (full references in docs/sources.md, "Human eye behaviour"):
- Speakers blink ~26/min (Bentivoglio et al. 1997); blinks cluster at pauses and phrase ends (Brych 2021).
- A blink: ~100 ms closing, 0–300 ms closed, a slower opening (VanderWerf et al. 2003); many are partial
  (half here, a design choice).
- Saccades last 20–200 ms and grow with amplitude (the main sequence: ~2.2 ms per degree + 21 ms,
  Carpenter 1988); speakers look away often and back at the listener at a turn's end.

A pure function of the render id (the seed) and the mouth cues (where the pauses are): the same request
with the same cues always gets the same events.
"""

import random

from avatar_service.schemas import EyeEvent, MouthCue

BLINKS_PER_MINUTE = 26.0
MIN_BLINK_GAP_MS = 600
# A blink planned this close to a pause moves into it: blinks cluster at phrase boundaries.
PAUSE_SNAP_MS = 900
MIN_PAUSE_MS = 150
PARTIAL_BLINK_SHARE = 0.5
SACCADE_INTERVAL_MS = (1000, 4000)
MAX_SACCADE_DEG = 12.0
AWAY_DIRECTIONS = ("left", "right", "up-left", "up-right", "down-left", "down-right", "down", "up")
# Horizontal gaze shifts are the most common while talking.
AWAY_WEIGHTS = (4, 4, 1.5, 1.5, 1.5, 1.5, 1, 0.5)


def eye_events(render_id: str, mouth_cues: list[MouthCue], duration_ms: int) -> list[EyeEvent]:
    rng = random.Random(seed_from(render_id))
    pauses = pause_starts(mouth_cues)
    events = _blinks(rng, pauses, duration_ms) + _saccades(rng, duration_ms)
    return sorted(events, key=lambda event: (event.t_ms, event.event_type))


def seed_from(render_id: str) -> int:
    """The render id is a hex content hash; its first 64 bits seed the generator."""
    return int(render_id[:16], 16) if render_id else 0


def pause_starts(mouth_cues: list[MouthCue]) -> list[int]:
    """Times where the mouth rests for at least ``MIN_PAUSE_MS`` after having spoken."""
    starts = []
    spoken = False
    for cue, following in zip(mouth_cues, mouth_cues[1:] + [None]):
        if cue.viseme != "REST":
            spoken = True
            continue
        end = following.t_ms if following else None
        if spoken and (end is None or end - cue.t_ms >= MIN_PAUSE_MS):
            starts.append(cue.t_ms)
    return starts


def _blinks(rng: random.Random, pauses: list[int], duration_ms: int) -> list[EyeEvent]:
    mean_gap_ms = 60_000 / BLINKS_PER_MINUTE
    blinks: list[EyeEvent] = []
    t = rng.uniform(0.2, 1.0) * mean_gap_ms
    while t < duration_ms:
        nearest = min(pauses, key=lambda p: abs(p - t), default=None)
        if nearest is not None and abs(nearest - t) <= PAUSE_SNAP_MS:
            t = nearest + rng.uniform(20, 120)
        if (not blinks or t - blinks[-1].t_ms >= MIN_BLINK_GAP_MS) and t < duration_ms:
            blinks.append(_blink(rng, round(t)))
        # Log-normal intervals with the conversational mean (σ 0.45 keeps the rate in the 10–32/min band).
        t += rng.lognormvariate(0, 0.45) * mean_gap_ms / 1.106
    return blinks


def _blink(rng: random.Random, t_ms: int) -> EyeEvent:
    partial = rng.random() < PARTIAL_BLINK_SHARE
    closed_ms = 0 if partial else rng.uniform(0, 120)
    duration = rng.uniform(90, 110) + closed_ms + rng.uniform(100, 150)
    return EyeEvent(
        t_ms=t_ms,
        event_type="blink",
        duration_ms=round(min(duration, 400)),
        amplitude=round(rng.uniform(0.55, 0.85), 2) if partial else 1.0,
    )


def _saccades(rng: random.Random, duration_ms: int) -> list[EyeEvent]:
    saccades: list[EyeEvent] = []
    looking_away = False
    t = rng.uniform(*SACCADE_INTERVAL_MS) * 0.6
    while t < duration_ms - 300:
        if looking_away and rng.random() < 0.6:
            saccades.append(_saccade(rng, round(t), "center", rng.uniform(0.4, 1.0)))
            looking_away = False
        else:
            direction = rng.choices(AWAY_DIRECTIONS, weights=AWAY_WEIGHTS)[0]
            saccades.append(_saccade(rng, round(t), direction, rng.uniform(0.25, 1.0)))
            looking_away = True
        t += rng.uniform(*SACCADE_INTERVAL_MS)
    if looking_away:
        # At the end of a turn the speaker looks back at the listener.
        back_at = max(saccades[-1].t_ms + 300, duration_ms - 400)
        saccades.append(_saccade(rng, min(back_at, duration_ms - 60), "center", saccades[-1].amplitude))
    return saccades


def _saccade(rng: random.Random, t_ms: int, direction: str, amplitude: float) -> EyeEvent:
    degrees = amplitude * MAX_SACCADE_DEG
    return EyeEvent(
        t_ms=max(0, t_ms),
        event_type="saccade",
        duration_ms=round(21 + 2.2 * degrees + rng.uniform(0, 8)),
        direction=direction,
        amplitude=round(amplitude, 2),
    )
