"""The server's model of the client's playback clock: when the audio sent so far runs out."""

import re
from pathlib import Path

import pytest

from avatar_service.stream.playback import FIRST_AUDIO_S, START_LEAD_S, PlaybackClock


def test_the_first_segment_is_due_within_the_first_audio_target():
    assert PlaybackClock().deadline(now=10.0) == pytest.approx(10.0 + FIRST_AUDIO_S)


def test_later_segments_are_due_when_the_audio_sent_runs_out():
    clock = PlaybackClock()
    clock.sent(now=10.0, seconds=0.8)  # playback starts after the player's lead
    clock.sent(now=10.3, seconds=2.0)  # queued behind the first segment
    assert clock.deadline(now=10.5) == pytest.approx(10.0 + START_LEAD_S + 2.8)
    # the further ahead a stream is, the later its deadline: a stream about to run dry sorts first
    assert clock.deadline(now=12.8) == clock.deadline(now=10.5)


def test_a_late_segment_starts_a_new_run_as_the_player_shifts_its_timeline():
    clock = PlaybackClock()
    clock.sent(now=10.0, seconds=1.0)  # runs out at 10.0 + START_LEAD_S + 1.0 = 11.1
    assert clock.deadline(now=11.5) == pytest.approx(11.5 + FIRST_AUDIO_S)  # ran dry: due like a first segment
    clock.sent(now=11.6, seconds=1.0)  # 0.57 s late: played from its arrival plus the lead
    assert clock.runs_out_at == pytest.approx(11.6 + START_LEAD_S + 1.0)


def test_interrupt_forgets_the_audio_the_client_dropped():
    clock = PlaybackClock()
    clock.sent(now=10.0, seconds=5.0)
    clock.stop()
    assert clock.deadline(now=10.2) == pytest.approx(10.2 + FIRST_AUDIO_S)


def test_the_server_models_the_players_own_start_lead():
    """The deadlines are only right if the lead is the one web/player/stream.js schedules with."""
    source = (Path(__file__).resolve().parents[2] / "web" / "player" / "stream.js").read_text("utf-8")
    player_lead = re.search(r"^const START_LEAD_S = ([0-9.]+);", source, re.MULTILINE)
    assert player_lead is not None, "web/player/stream.js no longer declares START_LEAD_S"
    assert float(player_lead.group(1)) == START_LEAD_S
