"""Mouth cues in Rhubarb Lip Sync's output formats, so its users (game engines; Blender, After Effects, Spine,
Moho plug-ins) can switch by changing one command.

Layouts follow Rhubarb Lip Sync's README ("Output formats"; `dat` from its Moho exporter): times in seconds
with two decimals, the duration truncated to a multiple of 0.01 s; `tsv` lines `<start>\\t<shape>` with a
last line at the end of the audio showing the closed mouth; `xml` and `json` cues with `start`, `end` and the
shape; `dat` is Moho switch data: `MohoSwitch1`, then `<frame> <shape>` lines with 1-based frame numbers at
``frame_rate`` (10–100 fps), and a closing X at the frame of the audio's end.

Shapes (Rhubarb's README, "Mouth shapes"): A closed (P B M), B slightly open with clenched teeth (most
consonants, EE), C open (EH, AE), D wide open (AA), E slightly rounded (AO, ER), F puckered (UW, OW, W), and the
extended G (F, V), H (long L), X idle. Our visemes map to them as documented in docs/lipsync.md:

| viseme | weight | shape |
|---|---|---|
| REST | – | A inside speech (a closure under ``MAX_CLOSURE_MS``), X otherwise (pauses, start, end) |
| AA | ≥ 0.85 | D |
| AA | ≥ 0.5 | C |
| AA | < 0.5 | B (schwa-like and consonants borrowing an open vowel's shape) |
| EE | any | B |
| OH | any | E |
| OO | any | F |
| FF | any | G |
| TH | any | H (the only shape that shows the tongue) |
"""

import json
from xml.sax.saxutils import escape

from avatar_service.schemas import MouthCue

FORMATS = ("rhubarb-tsv", "rhubarb-json", "rhubarb-xml", "dat")
DEFAULT_DAT_FRAME_RATE = 24.0
MIN_DAT_FRAME_RATE = 10.0
MAX_DAT_FRAME_RATE = 100.0
# A REST shorter than this between two speaking shapes is a lip closure (P B M), Rhubarb's A; a longer one is a
# pause, X. Rhubarb itself relaxes the mouth in pauses of 120-350 ms and rests it beyond.
MAX_CLOSURE_MS = 300
WIDE_OPEN_WEIGHT = 0.85
OPEN_WEIGHT = 0.5
_SHAPE_OF_VISEME = {"EE": "B", "OH": "E", "OO": "F", "FF": "G", "TH": "H"}


def shape_of(cue: MouthCue, previous: MouthCue | None, following: MouthCue | None, end_ms: int) -> str:
    """Rhubarb's shape letter for ``cue`` (its neighbours decide whether a REST is a closure or a pause)."""
    if cue.viseme == "REST":
        held_ms = (following.t_ms if following else end_ms) - cue.t_ms
        inside_speech = previous is not None and following is not None and previous.viseme != "REST"
        return "A" if inside_speech and following.viseme != "REST" and held_ms < MAX_CLOSURE_MS else "X"
    if cue.viseme == "AA":
        if cue.weight >= WIDE_OPEN_WEIGHT:
            return "D"
        return "C" if cue.weight >= OPEN_WEIGHT else "B"
    return _SHAPE_OF_VISEME[cue.viseme]


def rhubarb_cues(cues: list[MouthCue], duration_ms: int) -> list[tuple[int, int, str]]:
    """(start ms, end ms, shape) steps on Rhubarb's 10 ms grid, covering 0 to the truncated duration without
    gaps, equal neighbours joined, the last one X (the mouth closed at the end of the audio)."""
    end_ms = _grid(duration_ms)
    starts: list[tuple[int, str]] = []
    for index, cue in enumerate(cues):
        start = _grid(cue.t_ms)
        if start >= end_ms:
            break
        previous = cues[index - 1] if index > 0 else None
        following = cues[index + 1] if index + 1 < len(cues) else None
        shape = shape_of(cue, previous, following, duration_ms)
        if starts and starts[-1][0] == start:
            starts.pop()  # two cues in one 10 ms slot: the later one shows
        if not starts or starts[-1][1] != shape:
            starts.append((start, shape))
    if not starts:
        starts = [(0, "X")]
    elif starts[-1][1] != "X":
        # Speech running to the very end: close the mouth in the last slot, as Rhubarb's output always does.
        if starts[-1][0] < end_ms - 10:
            starts.append((end_ms - 10, "X"))
        else:
            starts[-1] = (starts[-1][0], "X")
    ends = [start for start, _shape in starts[1:]] + [max(end_ms, starts[-1][0])]
    return [(start, end, shape) for (start, shape), end in zip(starts, ends)]


def _grid(ms: int) -> int:
    return ms // 10 * 10


def _seconds(ms: int) -> str:
    """Seconds with two decimals, truncated to Rhubarb's 10 ms grid."""
    return f"{_grid(ms) // 10 / 100:.2f}"


def to_tsv(cues: list[MouthCue], duration_ms: int) -> str:
    steps = rhubarb_cues(cues, duration_ms)
    lines = [f"{_seconds(start)}\t{shape}" for start, _end, shape in steps]
    lines.append(f"{_seconds(duration_ms)}\tX")
    return "\n".join(lines) + "\n"


def to_json(cues: list[MouthCue], duration_ms: int, sound_file: str) -> str:
    steps = rhubarb_cues(cues, duration_ms)
    mouth_cues = ",\n".join(
        f'    {{ "start": {_seconds(start)}, "end": {_seconds(end)}, "value": "{shape}" }}'
        for start, end, shape in steps
    )
    return (
        "{\n"
        '  "metadata": {\n'
        f'    "soundFile": {json.dumps(sound_file)},\n'
        f'    "duration": {_seconds(duration_ms)}\n'
        "  },\n"
        '  "mouthCues": [\n'
        f"{mouth_cues}\n"
        "  ]\n"
        "}\n"
    )


def to_xml(cues: list[MouthCue], duration_ms: int, sound_file: str) -> str:
    steps = rhubarb_cues(cues, duration_ms)
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<rhubarbResult>",
        "  <metadata>",
        f"    <soundFile>{escape(sound_file)}</soundFile>",
        f"    <duration>{_seconds(duration_ms)}</duration>",
        "  </metadata>",
        "  <mouthCues>",
        *(
            f'    <mouthCue start="{_seconds(start)}" end="{_seconds(end)}">{shape}</mouthCue>'
            for start, end, shape in steps
        ),
        "  </mouthCues>",
        "</rhubarbResult>",
    ]
    return "\n".join(lines) + "\n"


def to_dat(cues: list[MouthCue], duration_ms: int, frame_rate: float = DEFAULT_DAT_FRAME_RATE) -> str:
    """Moho switch data. Two shapes starting in one frame: the later one is kept (it is what the mouth shows
    for most of that frame), so a short shape at a low frame rate is shifted rather than lost."""
    frames: list[tuple[int, str]] = []
    for start, _end, shape in rhubarb_cues(cues, duration_ms):
        frame = _frame(start, frame_rate)
        if frames and frames[-1][0] == frame:
            frames.pop()
        if not frames or frames[-1][1] != shape:
            frames.append((frame, shape))
    closing = _frame(duration_ms, frame_rate)
    if frames[-1][0] >= closing:
        closing = frames[-1][0] + 1
    lines = ["MohoSwitch1", *(f"{frame} {shape}" for frame, shape in frames), f"{closing} X"]
    return "\n".join(lines) + "\n"


def _frame(ms: int, frame_rate: float) -> int:
    """1-based frame of the 10 ms-grid time ``ms``."""
    return 1 + int(frame_rate * _grid(ms) / 1000)


def export(
    fmt: str, cues: list[MouthCue], duration_ms: int, sound_file: str, frame_rate: float = DEFAULT_DAT_FRAME_RATE
) -> str:
    """The cues in ``fmt`` (one of ``FORMATS``)."""
    if fmt == "rhubarb-tsv":
        return to_tsv(cues, duration_ms)
    if fmt == "rhubarb-json":
        return to_json(cues, duration_ms, sound_file)
    if fmt == "rhubarb-xml":
        return to_xml(cues, duration_ms, sound_file)
    if fmt == "dat":
        return to_dat(cues, duration_ms, frame_rate)
    raise ValueError(f"unknown format {fmt!r}")
