"""Phone spans from one synthesis call → a step timeline of mouth cues.

The steps, each a pure function over plain lists:
1. ``_segments``: fold Piper's non-phone tokens into phones (stress marks into the next phone, length marks
   and other modifier letters into the previous one, half of each word gap to either side so word gaps never
   close the mouth) and turn
   punctuation and sentence edges into pauses.
2. ``_apply_silences``: any stretch where the audio itself is silent for ≥ 150 ms becomes a pause too.
3. ``_shape``: phone → viseme and weight (see ``visemes``), coarticulated consonants borrow the next vowel's
   shape, weights scaled by how loud the phone is.
4. ``_merge`` and ``_remove_flicker``: join equal neighbours; no shape shorter than 60 ms (Rhubarb uses 70 ms),
   bilabial closures held at least 40 ms (Rhubarb: 40–120 ms); a short shape borrows time from its
   neighbours before it is ever dropped.
5. Shift everything ``ANTICIPATION_MS`` earlier: lips move before the sound, and a mouth slightly early is
   far less noticeable than one late (ITU-R BT.1359: sound lagging picture is tolerated up to 125 ms,
   leading only 45 ms). The value is the one ``bench/lipsync_accuracy.py`` measured best.
"""

from dataclasses import dataclass, replace

import numpy as np

from avatar_service.lipsync import visemes
from avatar_service.schemas import MouthCue
from avatar_service.tts import Speech

# Measured by bench/lipsync_accuracy.py: the stress-mark slot (folded into the vowel) and coarticulated
# consonants already put vowel shapes ~20 ms ahead of a pocketsphinx alignment of the audio; 30 ms on top keeps
# the best openness/loudness lag at 0..+30 ms of mouth lead on every text at speeds 0.7-1.5, while 40 only adds
# early onset error (median |error| +5 ms, more vowels over 125 ms early).
ANTICIPATION_MS = 30.0
MIN_SHAPE_MS = 60.0
MIN_CLOSURE_MS = 40.0
MIN_SILENCE_MS = 150.0
ENVELOPE_FRAME_MS = 10.0
# A frame is silent below this fraction of the loud (95th percentile) level: about −32 dB.
SILENCE_RATIO = 0.025


@dataclass(frozen=True)
class Segment:
    """A stretch of time with one phone (or a pause, ``phone=None``)."""

    start_ms: float
    end_ms: float
    phone: str | None
    viseme: str = "REST"
    weight: float = 0.0

    @property
    def is_pause(self) -> bool:
        return self.phone is None

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms


def mouth_cues(speech: Speech) -> list[MouthCue]:
    """The cue timeline for ``speech``: first cue at 0, a REST at the end, no shape shorter than 60 ms."""
    envelope = loudness_envelope(speech.samples, speech.sample_rate)
    segments = _segments(speech)
    segments = _apply_silences(segments, envelope)
    segments = _shape(segments, envelope)
    segments = _remove_flicker(_merge(segments))
    return _to_cues(segments, speech.duration_ms)


def loudness_envelope(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS per 10 ms frame."""
    frame = max(1, int(sample_rate * ENVELOPE_FRAME_MS / 1000))
    usable = len(samples) // frame * frame
    if usable == 0:
        return np.zeros(0, dtype=np.float32)
    frames = samples[:usable].reshape(-1, frame)
    return np.sqrt(np.mean(frames.astype(np.float32) ** 2, axis=1))


def _segments(speech: Speech) -> list[Segment]:
    to_ms = 1000.0 / speech.sample_rate
    segments: list[Segment] = []
    carry_ms = 0.0  # time owed to the next phone (stress marks, the second half of a word gap)
    for span in speech.phones:
        start = span.start_sample * to_ms
        end = (span.start_sample + span.num_samples) * to_ms
        token = span.phone
        if token in visemes.STRESS_MARKS:
            carry_ms += end - start
        elif visemes.is_modifier(token) and segments and not segments[-1].is_pause:
            segments[-1] = replace(segments[-1], end_ms=end)
        elif token == visemes.WORD_GAP and segments and not segments[-1].is_pause:
            half = (end - start) / 2
            segments[-1] = replace(segments[-1], end_ms=start + half)
            carry_ms += half
        elif visemes.is_pause(token) or token == visemes.WORD_GAP:
            if carry_ms and segments and not segments[-1].is_pause:
                segments[-1] = replace(segments[-1], end_ms=segments[-1].end_ms + carry_ms)
            else:
                start -= carry_ms
            carry_ms = 0.0
            segments.append(Segment(start, end, None))
        else:
            segments.append(Segment(start - carry_ms, end, token))
            carry_ms = 0.0
    if carry_ms:
        segments.append(Segment(segments[-1].end_ms if segments else 0.0, speech.duration_ms, None))
    return segments


def _silent_intervals(envelope: np.ndarray) -> list[tuple[float, float]]:
    if envelope.size == 0:
        return []
    loud = float(np.percentile(envelope, 95))
    silent = envelope < max(loud * SILENCE_RATIO, 1e-4)
    intervals = []
    start = None
    for index, is_silent in enumerate(np.append(silent, False)):
        if is_silent and start is None:
            start = index
        elif not is_silent and start is not None:
            if (index - start) * ENVELOPE_FRAME_MS >= MIN_SILENCE_MS:
                intervals.append((start * ENVELOPE_FRAME_MS, index * ENVELOPE_FRAME_MS))
            start = None
    return intervals


def _apply_silences(segments: list[Segment], envelope: np.ndarray) -> list[Segment]:
    """Cut audible-silence intervals out of phone segments and mark them as pauses."""
    for silence_start, silence_end in _silent_intervals(envelope):
        result: list[Segment] = []
        for segment in segments:
            if segment.is_pause or segment.end_ms <= silence_start or segment.start_ms >= silence_end:
                result.append(segment)
                continue
            if segment.start_ms < silence_start:
                result.append(replace(segment, end_ms=silence_start))
            result.append(
                Segment(max(segment.start_ms, silence_start), min(segment.end_ms, silence_end), None)
            )
            if segment.end_ms > silence_end:
                result.append(replace(segment, start_ms=silence_end))
        segments = result
    return segments


def _shape(segments: list[Segment], envelope: np.ndarray) -> list[Segment]:
    loud = float(np.percentile(envelope, 95)) if envelope.size else 1.0
    shaped: list[Segment] = []
    for index, segment in enumerate(segments):
        if segment.is_pause:
            shaped.append(segment)
            continue
        shape = visemes.shape_of(segment.phone)
        if shape is visemes.COARTICULATED:
            neighbour = _nearest_vowel_shape(segments, index)
            viseme, weight = neighbour.viseme, neighbour.weight * shape.weight
        else:
            viseme, weight = shape.viseme, shape.weight
        if viseme != "REST":
            # Louder phones open wider: 70 % from the table, 30 % from the audio itself.
            level = _mean_level(envelope, segment) / loud if loud > 0 else 1.0
            weight *= 0.7 + 0.3 * min(1.0, level)
        shaped.append(replace(segment, viseme=viseme, weight=round(min(1.0, weight), 2)))
    return shaped


def _nearest_vowel_shape(segments: list[Segment], index: int) -> visemes.Shape:
    """The next vowel in the same stretch of speech (anticipation), else the previous one, else REST."""
    for step in (1, -1):
        cursor = index + step
        while 0 <= cursor < len(segments) and not segments[cursor].is_pause:
            phone = segments[cursor].phone
            if visemes.is_vowel(phone):
                return visemes.shape_of(phone)
            cursor += step
    return visemes.Shape("REST", 0.0)


def _mean_level(envelope: np.ndarray, segment: Segment) -> float:
    first = int(segment.start_ms / ENVELOPE_FRAME_MS)
    last = max(first + 1, int(np.ceil(segment.end_ms / ENVELOPE_FRAME_MS)))
    window = envelope[first:last]
    return float(window.mean()) if window.size else 0.0


def _merge(segments: list[Segment]) -> list[Segment]:
    """Join neighbours showing the same shape; the stronger weight wins."""
    merged: list[Segment] = []
    for segment in segments:
        if segment.duration_ms <= 0:
            continue
        if merged and merged[-1].viseme == segment.viseme and merged[-1].is_pause == segment.is_pause:
            previous = merged[-1]
            merged[-1] = replace(
                previous, end_ms=segment.end_ms, weight=max(previous.weight, segment.weight)
            )
        else:
            merged.append(segment)
    return merged


def _minimum_ms(segment: Segment) -> float:
    if segment.is_pause:
        return 0.0
    return MIN_CLOSURE_MS if segment.viseme == "REST" else MIN_SHAPE_MS


def _spare_ms(segment: Segment) -> float:
    """How much time a neighbour can lend without becoming too short itself (pauses lend up to half)."""
    if segment.is_pause:
        return segment.duration_ms / 2
    return max(0.0, segment.duration_ms - _minimum_ms(segment))


def _remove_flicker(segments: list[Segment]) -> list[Segment]:
    """Lengthen every too-short shape, shortest first, until none is left.

    A short shape first borrows time from its neighbours, so both stay visible; only when they cannot spare
    it is it merged into a speaking neighbour, and the shape that covers more (weight × time) wins.
    """
    segments = list(segments)
    while True:
        short = [i for i, s in enumerate(segments) if s.duration_ms < _minimum_ms(s) - 1e-6]
        if not short:
            return segments
        index = min(short, key=lambda i: segments[i].duration_ms)
        if not _borrow(segments, index):
            segments = _absorb(segments, index)


def _borrow(segments: list[Segment], index: int) -> bool:
    segment = segments[index]
    missing = _minimum_ms(segment) - segment.duration_ms
    neighbours = [n for n in (index - 1, index + 1) if 0 <= n < len(segments)]
    if sum(_spare_ms(segments[n]) for n in neighbours) < missing:
        return False
    start, end = segment.start_ms, segment.end_ms
    for n in sorted(neighbours, key=lambda n: -_spare_ms(segments[n])):
        take = min(missing, _spare_ms(segments[n]))
        missing -= take
        if n < index:
            segments[n] = replace(segments[n], end_ms=segments[n].end_ms - take)
            start -= take
        else:
            segments[n] = replace(segments[n], start_ms=segments[n].start_ms + take)
            end += take
    segments[index] = replace(segment, start_ms=start, end_ms=end)
    return True


def _absorb(segments: list[Segment], index: int) -> list[Segment]:
    segment = segments[index]
    speaking = [
        n for n in (index - 1, index + 1) if 0 <= n < len(segments) and not segments[n].is_pause
    ]
    if not speaking:
        # Too short to show and nothing to lend time (a whole text of one tiny sound): keep the mouth closed.
        segments[index] = replace(segment, viseme="REST", weight=0.0)
        return _merge(segments)
    neighbour = max(speaking, key=lambda n: segments[n].duration_ms)
    first, second = sorted((index, neighbour))
    a, b = segments[first], segments[second]
    winner = a if a.weight * a.duration_ms >= b.weight * b.duration_ms else b
    segments[first:second + 1] = [replace(winner, start_ms=a.start_ms, end_ms=b.end_ms)]
    return _merge(segments)


def _to_cues(segments: list[Segment], duration_ms: int) -> list[MouthCue]:
    cues: list[MouthCue] = [MouthCue(t_ms=0, viseme="REST", weight=0.0)]
    for segment in segments:
        t_ms = max(0, round(segment.start_ms - ANTICIPATION_MS))
        cue = MouthCue(t_ms=t_ms, viseme=segment.viseme, weight=segment.weight)
        if cues[-1].t_ms == t_ms:
            cues[-1] = cue
        elif (cues[-1].viseme, cues[-1].weight) != (cue.viseme, cue.weight):
            cues.append(cue)
    last_speech_end = max((s.end_ms for s in segments if s.viseme != "REST"), default=0.0)
    final_t = min(duration_ms, max(cues[-1].t_ms + 1, round(last_speech_end - ANTICIPATION_MS)))
    if cues[-1].viseme != "REST":
        cues.append(MouthCue(t_ms=final_t, viseme="REST", weight=0.0))
    return _drop_short_after_rounding(cues)


def _drop_short_after_rounding(cues: list[MouthCue]) -> list[MouthCue]:
    """Clamping the first cues at 0 can squeeze one shape; fold it into the next rather than flicker."""
    result: list[MouthCue] = []
    for index, cue in enumerate(cues):
        following = cues[index + 1].t_ms if index + 1 < len(cues) else None
        if (
            cue.viseme != "REST"
            and following is not None
            and following - cue.t_ms < MIN_SHAPE_MS - 10
            and index > 0
        ):
            continue
        if result and (result[-1].viseme, result[-1].weight) == (cue.viseme, cue.weight):
            continue
        result.append(cue)
    return result
