"""Phone spans from one synthesis call → a step timeline of mouth cues.

The steps, each a pure function over plain lists (docs/pipeline.md explains each choice):
1. ``_segments``: fold Piper's non-phone tokens into phones (stress marks and ``^`` into the next phone, length
   marks and other modifiers into the previous one, half of each word gap to either side so word gaps never
   close the mouth) and turn punctuation and sentence ends into pauses.
2. ``_apply_silences``: a stretch where the audio itself is silent for ≥ 150 ms becomes a pause too.
3. ``_shape``: phone → viseme and weight (see ``visemes``); lip-neutral consonants borrow a neighbouring
   vowel's shape; weights scaled by how loud the phone is.
4. ``_merge`` and ``_remove_flicker``: join equal neighbours; no shape shorter than 50 ms (Rhubarb uses 70 ms),
   bilabial closures held at least 40 ms (Rhubarb: 40–120 ms); a short shape borrows time from its
   neighbours before it is ever dropped.
5. Shift everything ``ANTICIPATION_MS`` earlier: lips move before the sound, and a mouth slightly early is
   far less noticeable than one late (ITU-R BT.1359: sound lagging picture is tolerated up to 125 ms,
   leading only 45 ms).
"""

from dataclasses import dataclass, replace

import numpy as np

from avatar_service.lipsync import visemes
from avatar_service.loudness import ENVELOPE_FRAME_MS, loudness_envelope, quiet_stretches
from avatar_service.schemas import MouthCue
from avatar_service.tts import Speech

# Measured by bench/lipsync_accuracy.py against a forced alignment of the produced audio: with 30 ms the
# mouth leads by a median ~20 ms and the openness/loudness lag is +10..+20 ms; 20 ms put the lag at 0 on some
# texts, 40-45 ms pushed more vowel onsets out of the window than they brought in.
ANTICIPATION_MS = 30.0
# 50 ms is the promise (no flicker); 1 ms more survives rounding cue times to whole milliseconds.
MIN_SHAPE_MS = 51.0
MIN_CLOSURE_MS = 40.0
# Same-viseme neighbours whose weights differ by this much stay separate cues (a visible opening).
SAME_SHAPE_WEIGHT_STEP = 0.25
MIN_SILENCE_MS = 150.0
SOFT_ONSET_MS = 100.0
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
    """The cue timeline for ``speech``: first cue at 0, a REST at the end, no shape shorter than 50 ms."""
    envelope = loudness_envelope(speech.samples, speech.sample_rate)
    segments = _segments(speech)
    segments = _apply_silences(segments, envelope)
    segments = _shape(segments, envelope)
    segments = _remove_flicker(_merge(segments))
    return _to_cues(segments, speech.duration_ms)


def _segments(speech: Speech) -> list[Segment]:
    to_ms = 1000.0 / speech.sample_rate
    segments: list[Segment] = []
    carry_ms = 0.0  # time owed to the next phone (stress marks, ^, the second half of a word gap)
    for span in speech.phones:
        start = span.start_sample * to_ms
        end = (span.start_sample + span.num_samples) * to_ms
        token = span.phone
        if token in visemes.STRESS_MARKS or token == visemes.UTTERANCE_START:
            # Measured against a forced alignment, a stressed vowel's sound begins in its stress mark's
            # slot, and a sentence's first sound within the ^ slot: both belong to the next phone.
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


def _apply_silences(segments: list[Segment], envelope: np.ndarray) -> list[Segment]:
    """Mark stretches of audible silence inside phone segments as pauses.

    The last ``SOFT_ONSET_MS`` of each silence are left alone: soft onsets (a quiet ð, a breathy vowel) stay
    under the threshold for a while, and cutting them would open the mouth late.
    """
    for silence_start, sound_start in quiet_stretches(envelope, SILENCE_RATIO, MIN_SILENCE_MS, floor=1e-4):
        silence_end = sound_start - SOFT_ONSET_MS
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
    """The shape a lip-neutral consonant borrows.

    Only a consonant right before a vowel anticipates it (the lips start forming the vowel during that
    consonant); any other keeps the previous vowel's shape, so in "and leave" the n and d do not jump ahead
    to the EE of "leave". At the start of a stretch of speech, consonants before that one stay at rest.
    """
    following = segments[index + 1] if index + 1 < len(segments) else None
    if following is not None and not following.is_pause and visemes.is_vowel(following.phone):
        return visemes.shape_of(following.phone)
    cursor = index - 1
    while cursor >= 0 and not segments[cursor].is_pause:
        if visemes.is_vowel(segments[cursor].phone):
            return visemes.shape_of(segments[cursor].phone)
        cursor -= 1
    return visemes.Shape("REST", 0.0)


def _mean_level(envelope: np.ndarray, segment: Segment) -> float:
    first = int(segment.start_ms / ENVELOPE_FRAME_MS)
    last = max(first + 1, int(np.ceil(segment.end_ms / ENVELOPE_FRAME_MS)))
    window = envelope[first:last]
    return float(window.mean()) if window.size else 0.0


def _merge(segments: list[Segment]) -> list[Segment]:
    """Join neighbours showing the same shape at a similar weight.

    A clear step in weight stays a cue of its own: in "says" the s (EE 0.3) and the vowel (EE 0.8) share a
    viseme, and merging them would hide the moment the vowel opens the mouth.
    """
    merged: list[Segment] = []
    for segment in segments:
        if segment.duration_ms <= 0:
            continue
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and previous.viseme == segment.viseme
            and previous.is_pause == segment.is_pause
            and abs(previous.weight - segment.weight) < SAME_SHAPE_WEIGHT_STEP
        ):
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
    """Merge a too-short shape with a speaking neighbour; a vowel's shape outlives a consonant's."""
    segment = segments[index]
    speaking = [
        n for n in (index - 1, index + 1) if 0 <= n < len(segments) and not segments[n].is_pause
    ]
    if not speaking:
        # Too short to show and nothing to lend time (a tiny sound between short pauses, or a whole text of
        # one): keep the mouth closed. It becomes a pause, which has no minimum, so the caller's loop ends.
        segments[index] = replace(segment, phone=None, viseme="REST", weight=0.0)
        return _merge(segments)
    # Prefer swallowing a consonant neighbour, then the longer one.
    neighbour = max(
        speaking, key=lambda n: (not visemes.is_vowel(segments[n].phone), segments[n].duration_ms)
    )
    first, second = sorted((index, neighbour))
    a, b = segments[first], segments[second]
    winner = max((a, b), key=lambda s: (visemes.is_vowel(s.phone), s.weight * s.duration_ms))
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
    """Clamping the first cues at 0 can squeeze a shape: let the next one take over rather than flicker
    (the very first cue stays at 0, as a rest)."""
    result: list[MouthCue] = []
    for index, cue in enumerate(cues):
        following = cues[index + 1].t_ms if index + 1 < len(cues) else None
        if cue.viseme != "REST" and following is not None and following - cue.t_ms < MIN_SHAPE_MS - 1:
            if index > 0:
                continue
            cue = MouthCue(t_ms=0, viseme="REST", weight=0.0)
        if result and (result[-1].viseme, result[-1].weight) == (cue.viseme, cue.weight):
            continue
        result.append(cue)
    return result
