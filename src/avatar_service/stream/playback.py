"""When a stream's client runs out of audio: the deadline of its next segment on the render pool.

The server models the client as the shipped player plays (docs/streaming.md, "The player"): playback starts
``START_LEAD_S`` after the first audio frame arrives, each segment starts where the previous one ended, and a
segment that arrives after its start time shifts the rest later (the gap of an underrun). Sent frames are taken
to arrive at once (loopback or a LAN; a far client's one-way delay only shifts every deadline alike).
"""

from dataclasses import dataclass

# The player schedules a run's first segment this far ahead of its arrival (web/player/stream.js START_LEAD_S,
# its jitter buffer; tests/stream/test_playback.py keeps the two equal).
START_LEAD_S = 0.1
# A stream with no audio ahead of its listener (its first segment, or text that came after the audio ran
# out) is due this long after it is queued: the target from a clause to its first audio (docs/streaming.md).
FIRST_AUDIO_S = 0.15


@dataclass
class PlaybackClock:
    """The moment (event-loop seconds) at which the audio sent so far has all been played at the client."""

    runs_out_at: float | None = None  # None: nothing sent since the start (or the last interrupt)

    def deadline(self, now: float) -> float:
        """When the next segment must be sent so that the client does not run dry."""
        if self.runs_out_at is None or self.runs_out_at <= now:
            return now + FIRST_AUDIO_S
        return self.runs_out_at

    def sent(self, now: float, seconds: float) -> None:
        """``seconds`` of audio sent at ``now``: after what is queued at the client, or from now if it ran dry."""
        if self.runs_out_at is None or self.runs_out_at < now:
            self.runs_out_at = now + START_LEAD_S
        self.runs_out_at += seconds

    def stop(self) -> None:
        """``interrupt``: the client drops what it had; the next segment starts a new run."""
        self.runs_out_at = None
