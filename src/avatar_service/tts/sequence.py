"""Several syntheses and pauses joined into one ``Speech`` (SSML breaks and rate changes, docs/text.md)."""

import numpy as np

from avatar_service.tts.engine import PAD, PhoneSpan, Speech

# Below this the edge of an utterance counts as already silent (≈ −46 dB of the peak-normalized sentence).
EDGE_SILENCE_LEVEL = 0.005


def join(parts: list[Speech | int], sample_rate: int) -> Speech:
    """Speech parts and pauses (ints, in ms) one after another; phone spans move with their audio.

    A pause becomes a pad span, which the cue builder shows as REST. Its length counts the silence the
    neighbouring utterances already end and start with, so a 500 ms break is 500 ms of silence between the
    words rather than 500 ms added to Piper's own edge silence.
    """
    samples: list[np.ndarray] = []
    phones: list[PhoneSpan] = []
    offset = 0
    for index, part in enumerate(parts):
        if isinstance(part, Speech):
            samples.append(part.samples)
            phones.extend(PhoneSpan(p.phone, p.start_sample + offset, p.num_samples) for p in part.phones)
            offset += len(part.samples)
            continue
        wanted = round(part * sample_rate / 1000)
        before = parts[index - 1] if index > 0 else None
        after = parts[index + 1] if index + 1 < len(parts) else None
        already = _edge_silence(before, from_end=True) + _edge_silence(after, from_end=False)
        count = max(0, wanted - already)
        samples.append(np.zeros(count, dtype=np.float32))
        phones.append(PhoneSpan(PAD, offset, count))
        offset += count
    return Speech(samples=np.concatenate(samples).astype(np.float32, copy=False), sample_rate=sample_rate, phones=phones)


def _edge_silence(part: Speech | int | None, *, from_end: bool) -> int:
    if not isinstance(part, Speech) or part.samples.size == 0:
        return 0
    audible = np.flatnonzero(np.abs(part.samples) >= EDGE_SILENCE_LEVEL)
    if audible.size == 0:
        return part.samples.size
    return int(part.samples.size - 1 - audible[-1]) if from_end else int(audible[0])
