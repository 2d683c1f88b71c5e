"""Rhubarb Lip Sync's output formats, read back with readers written from its README ("Output formats") and
its Moho exporter's layout, on the cues of a real recording."""

import json
import re
import xml.etree.ElementTree as ElementTree

import pytest

from avatar_service.lipsync import rhubarb
from avatar_service.recordings.pipeline import time_recording
from avatar_service.schemas import MouthCue
from tests.lipsync.conftest import TEXT

SHAPES = set("ABCDEFGHX")


@pytest.fixture(scope="module")
def timed(espeak_clip):
    path, _reference = espeak_clip
    return time_recording(path, TEXT)


def read_tsv(text: str) -> list[tuple[float, str]]:
    """Each line: a time in seconds, a tab, a shape; the last line is the end of the recording."""
    rows = []
    for line in text.splitlines():
        time, shape = line.split("\t")
        assert re.fullmatch(r"\d+\.\d\d", time), line
        rows.append((float(time), shape))
    return rows


def read_json(text: str) -> tuple[float, list[tuple[float, float, str]]]:
    document = json.loads(text)
    assert set(document) == {"metadata", "mouthCues"} and set(document["metadata"]) == {"soundFile", "duration"}
    cues = [(cue["start"], cue["end"], cue["value"]) for cue in document["mouthCues"]]
    return document["metadata"]["duration"], cues


def read_xml(text: str) -> tuple[float, list[tuple[float, float, str]]]:
    root = ElementTree.fromstring(text.encode("utf-8"))
    assert root.tag == "rhubarbResult"
    duration = float(root.findtext("metadata/duration"))
    assert root.findtext("metadata/soundFile")
    cues = [(float(c.get("start")), float(c.get("end")), c.text) for c in root.findall("mouthCues/mouthCue")]
    return duration, cues


def read_dat(text: str) -> list[tuple[int, str]]:
    """Moho switch data: a "MohoSwitch1" header, then "<frame> <shape>" lines with 1-based frames."""
    lines = text.splitlines()
    assert lines[0] == "MohoSwitch1"
    rows = []
    for line in lines[1:]:
        frame, shape = line.split(" ")
        rows.append((int(frame), shape))
    return rows


def _truncated_seconds(duration_ms: int) -> float:
    return duration_ms // 10 / 100


def _check_intervals(duration: float, cues: list[tuple[float, float, str]], duration_ms: int) -> None:
    assert duration == _truncated_seconds(duration_ms)
    assert cues[0][0] == 0.0 and cues[-1][1] == duration and cues[-1][2] == "X"
    assert {shape for _, _, shape in cues} <= SHAPES
    for (start, end, shape), following in zip(cues, cues[1:] + [None]):
        assert start < end, "every cue lasts"
        if following is not None:
            assert end == following[0], "each cue ends where the next starts"
            assert shape != following[2], "equal neighbours are joined"


def test_tsv(timed) -> None:
    text = rhubarb.export("rhubarb-tsv", timed.cues, timed.recording.duration_ms, "speech.wav")
    rows = read_tsv(text)
    times = [t for t, _ in rows]
    assert times[0] == 0.0 and times == sorted(times)
    assert rows[-1] == (_truncated_seconds(timed.recording.duration_ms), "X")
    assert {shape for _, shape in rows} <= SHAPES
    assert len({shape for _, shape in rows}) >= 5, "a real sentence uses most shapes"


def test_json_and_xml_carry_the_same_cues(timed) -> None:
    duration_ms = timed.recording.duration_ms
    json_duration, json_cues = read_json(rhubarb.export("rhubarb-json", timed.cues, duration_ms, 'C:\\a "b".wav'))
    xml_duration, xml_cues = read_xml(rhubarb.export("rhubarb-xml", timed.cues, duration_ms, "a & <b>.wav"))
    _check_intervals(json_duration, json_cues, duration_ms)
    _check_intervals(xml_duration, xml_cues, duration_ms)
    assert json_cues == xml_cues
    tsv = read_tsv(rhubarb.export("rhubarb-tsv", timed.cues, duration_ms, "x"))
    assert [(start, shape) for start, _, shape in json_cues] == tsv[:-1]


@pytest.mark.parametrize("frame_rate", [24.0, 100.0, 10.0])
def test_dat_frames(timed, frame_rate) -> None:
    duration_ms = timed.recording.duration_ms
    rows = read_dat(rhubarb.to_dat(timed.cues, duration_ms, frame_rate))
    frames = [frame for frame, _ in rows]
    assert frames[0] == 1 and all(a < b for a, b in zip(frames, frames[1:]))
    assert rows[-1][1] == "X" and frames[-1] >= int(frame_rate * duration_ms / 1000)
    assert {shape for _, shape in rows} <= SHAPES


def test_shape_mapping() -> None:
    """The documented mapping: closures inside speech are A, pauses X; open vowels C/D by weight; EE is B."""
    def cue(t, viseme, weight=0.9):
        return MouthCue(t_ms=t, viseme=viseme, weight=weight if viseme != "REST" else 0.0)

    cues = [cue(0, "REST"), cue(100, "AA"), cue(300, "REST"), cue(360, "AA", 0.6), cue(500, "EE"), cue(600, "OH"),
            cue(700, "OO"), cue(800, "FF"), cue(900, "TH"), cue(1000, "AA", 0.3), cue(1100, "REST")]
    steps = rhubarb.rhubarb_cues(cues, 2000)
    assert [shape for _, _, shape in steps] == ["X", "D", "A", "C", "B", "E", "F", "G", "H", "B", "X"]
    # A long REST between words is a pause, not a closure.
    assert rhubarb.rhubarb_cues([cue(0, "AA"), cue(100, "REST"), cue(600, "AA"), cue(700, "REST")], 800)[1][2] == "X"


def test_speech_to_the_last_moment_still_ends_closed() -> None:
    cues = [MouthCue(t_ms=0, viseme="REST", weight=0.0), MouthCue(t_ms=40, viseme="AA", weight=1.0)]
    steps = rhubarb.rhubarb_cues(cues, 477)
    assert steps[-1] == (460, 470, "X") and steps[-2][2] == "D"
    assert read_tsv(rhubarb.to_tsv(cues, 477))[-1] == (0.47, "X")
