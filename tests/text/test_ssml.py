"""SSML through the real pipeline: breaks are real silence with a closed mouth, tags are never spoken."""

import statistics

from avatar_service.schemas import parse_request
from avatar_service.text.language import Language
from avatar_service.text.prepare import Spoken, prepare
from avatar_service.text.ssml import Pause

EN = Language("en", "us")


def durations(renderer, text: str, runs: int = 5) -> list[int]:
    return [renderer.render(parse_request(text=text), audio_format="wav").duration_ms for _ in range(runs)]


def test_break_adds_its_length_and_tags_are_not_spoken(renderer):
    # Median of 5: Piper's durations vary from call to call. Reading the tags aloud would add far more.
    with_break = statistics.median(durations(renderer, '<speak>Hello <break time="500ms"/> world</speak>'))
    plain = statistics.median(durations(renderer, "Hello world"))
    assert abs(with_break - (plain + 500)) <= 150, (with_break, plain)


def test_break_is_rest_in_the_mouth_cues(renderer):
    record = renderer.render(parse_request(text='<speak>Hello <break time="1s"/> world</speak>'), audio_format="wav")
    cues = record.mouth_cues
    longest_rest = max(
        following.t_ms - cue.t_ms for cue, following in zip(cues, cues[1:]) if cue.viseme == "REST"
    )
    assert longest_rest >= 900, cues


def test_prosody_rate_slows_that_part_only(renderer):
    slow = statistics.median(durations(renderer, '<speak><prosody rate="50%">Good morning everyone</prosody></speak>', 3))
    normal = statistics.median(durations(renderer, "<speak>Good morning everyone</speak>", 3))
    assert slow > normal * 1.4


def test_subset_is_interpreted_not_read():
    pieces = prepare(
        '<speak xmlns="http://www.w3.org/2001/10/synthesis">Call <say-as interpret-as="characters">IBM</say-as> '
        'on <say-as interpret-as="date" format="mdy">3/4/2025</say-as>, the '
        '<say-as interpret-as="ordinal">3</say-as> <sub alias="World Wide Web">WWW</sub>'
        '<break strength="weak"/><prosody rate="fast">now <say-as interpret-as="cardinal">12</say-as></prosody></speak>',
        EN,
    )
    assert pieces == [
        Spoken("Call I-B-M on March fourth twenty twenty-five, the third World Wide Web"),
        Pause(250),
        Spoken("now twelve", 1.25),
    ]
