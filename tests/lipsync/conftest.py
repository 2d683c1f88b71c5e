"""Recordings the pipeline did not make, shared by the lip-sync tests: espeak-ng speech with its own phoneme
events, Piper speech re-encoded as MP3 and Opus at other sample rates, and a silent file."""

import shutil
import wave
from pathlib import Path

import pytest

from bench import lipsync_references as references
from tests.support import require

TEXT = (
    "Please open the valve slowly, check the pressure gauge, and call me when the water in the tank is warm "
    "enough for a shower."
)
# ~17 s from Piper: enough vowels (~85) that one borderline vowel moves the share by about 1 %.
WEATHER = (
    "The weather service says a cold front will move across the valley this afternoon, bringing strong winds "
    "and heavy rain to the northern towns. Drivers should slow down on the mountain roads, keep their lights "
    "on, and leave extra space between cars. By tomorrow morning the skies should clear, and the weekend looks "
    "bright and mild."
)
# Short sentences and clauses: many phones right after a pause.
PAUSES = (
    "Yes. No. Maybe later. Wait, look, over there! Come here, Anna. Stop. Go back, quickly, now. Thank you. "
    "Good night."
)
LABIALS = "Peter Piper picked a peck of pickled peppers. Bob, my brother, bought five blue boxes of big fresh figs."


@pytest.fixture(scope="session")
def espeak_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, references.Reference]:
    require(shutil.which("espeak-ng") is not None, "espeak-ng (Debian package)")
    reference = references.espeak_reference(TEXT)
    path = tmp_path_factory.mktemp("espeak") / "espeak.wav"
    path.write_bytes(reference.wav)
    return path, reference


@pytest.fixture(scope="session")
def silent_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_wav(tmp_path_factory.mktemp("silence") / "silence.wav", 2.0, rate=44_100)


def write_wav(path: Path, seconds: float, rate: int = 8_000) -> Path:
    """A silent mono WAV of ``seconds`` (its header declares that length)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0" * 2 * int(seconds * rate))
    return path


@pytest.fixture(scope="session")
def too_long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_wav(tmp_path_factory.mktemp("long") / "eleven-minutes.wav", 11 * 60)
