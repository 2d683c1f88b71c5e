"""Lip sync of recordings the service did not make: speed, memory and accuracy, in one run.

    python bench/bench_lipsync.py [--repeats 3] [--json FILE]

Speed (issue 13): real-time factor of `avatar-service lipsync` as a fresh process, start-up included, on
espeak-ng speech of ~10 s and ~60 s, with and without a transcript (target ≤ 0.1), its peak memory (the child's
ru_maxrss), and the warm in-process figure an API job pays. Medians of ``--repeats`` runs.
Accuracy: median |phone-onset error| against espeak-ng's own phoneme events and against Piper's durations on
its speech re-encoded as MP3/Opus at other rates (target ≤ 20 ms), and the share of vowel onsets whose mouth
opening lies inside ITU-R BT.1359's window (target ≥ 90 %), with and without a transcript.
The baseline users would otherwise run, Rhubarb Lip Sync, is not on any package registry this project may
use, so it is not measured here (its users report 1-3× the audio's length; see docs/lipsync.md).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lipsync_references as references  # noqa: E402
from lipsync_accuracy import TEXTS  # noqa: E402

from avatar_service.align import align, load_recording  # noqa: E402
from avatar_service.align.sphinx import SILENCE  # noqa: E402
from avatar_service.config import Settings  # noqa: E402
from avatar_service.pipeline import Renderer  # noqa: E402
from avatar_service.recordings.pipeline import time_recording  # noqa: E402

ACCURACY_TEXTS = ("labials", "questions", "weather", "instructions")
PIPER_ENCODINGS = (("mp3", 44_100), ("libopus", 48_000), ("mp3", 16_000))


def espeak_clip(seconds: float, directory: Path) -> tuple[Path, str, float]:
    """espeak-ng speech of about ``seconds``: the story text cut to length (espeak speaks ~3.8 words/s)."""
    words = TEXTS["story"].split()
    count = int(seconds * 3.8)
    text = " ".join((words * (count // len(words) + 1))[:count])
    reference = references.espeak_reference(text)
    path = directory / f"espeak-{seconds:.0f}s.wav"
    path.write_bytes(reference.wav)
    duration = len(references.wav_samples(reference.wav)) / 22_050
    return path, text, duration


def cold_run(audio: Path, transcript: Path | None) -> tuple[float, float, float]:
    """Wall time (s), CPU time (s) and peak memory (MB) of one `avatar-service lipsync` process, start-up
    included. CPU time is what the job costs on a machine shared with other work, where wall time is not."""
    command = [sys.executable, "-m", "avatar_service", "lipsync", str(audio), "--format", "rhubarb-tsv"]
    if transcript is not None:
        command += ["--transcript", str(transcript)]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(child.stderr.read().decode())
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def speed(repeats: int, directory: Path) -> list[dict]:
    rows = []
    for seconds in (10, 60):
        audio, text, duration = espeak_clip(seconds, directory)
        transcript = directory / f"{audio.stem}.txt"
        transcript.write_text(text, encoding="utf-8")
        for mode, transcript_path in (("transcript", transcript), ("none", None)):
            runs = [cold_run(audio, transcript_path) for _ in range(repeats)]
            time_recording(audio, text if transcript_path else None)  # warm this process's decoders
            warm = []
            for _ in range(repeats):
                started = time.perf_counter()
                time_recording(audio, text if transcript_path else None)
                warm.append(time.perf_counter() - started)
            rows.append({
                "audio_s": round(duration, 1),
                "transcript": mode,
                "cold_rtf": round(statistics.median(r[0] for r in runs) / duration, 3),
                "cold_cpu_rtf": round(statistics.median(r[1] for r in runs) / duration, 3),
                "warm_rtf": round(statistics.median(warm) / duration, 3),
                "peak_mb": round(max(r[2] for r in runs)),
            })
            print(rows[-1], flush=True)
    return rows


def _onset_figures(reference_onsets, vowel_onsets, audio: Path, transcript: str | None) -> dict:
    alignment = align(load_recording(audio).speech_16k, transcript)
    spoken = [p.start_ms for p in alignment.phones if p.phone != SILENCE]
    errors = references.phone_onset_errors(reference_onsets, spoken)
    timed = time_recording(audio, transcript)
    return {
        "median_abs_ms": round(float(np.median(np.abs(errors))), 1) if errors else None,
        "median_signed_ms": round(float(np.median(errors)), 1) if errors else None,
        "phones_paired_pct": round(100 * len(errors) / len(reference_onsets)),
        "vowels_in_window_pct": round(100 * references.vowel_window_share(vowel_onsets, timed.cues)),
    }


def accuracy(directory: Path) -> list[dict]:
    rows = []
    for name in ACCURACY_TEXTS:
        reference = references.espeak_reference(TEXTS[name])
        audio = directory / f"espeak-{name}.wav"
        audio.write_bytes(reference.wav)
        for mode, transcript in (("transcript", TEXTS[name]), ("none", None)):
            figures = _onset_figures(reference.onsets, reference.vowel_onsets, audio, transcript)
            rows.append({"source": "espeak-ng", "text": name, "transcript": mode, **figures})
            print(rows[-1], flush=True)
    renderer = Renderer(Settings(data_dir=directory / "data"))
    for name in ("questions", "weather"):
        speech = renderer.engine.synthesize(renderer.catalog.get(None), TEXTS[name])
        tokens = speech.tokens
        phones = references.piper_reference(tokens, speech.sample_rate)
        for codec, rate in PIPER_ENCODINGS:
            suffix = {"mp3": ".mp3", "libopus": ".ogg"}[codec]
            audio = references.encode(speech.samples, speech.sample_rate, codec, rate, directory / f"{name}-{rate}{suffix}")
            for mode, transcript in (("transcript", TEXTS[name]), ("none", None)):
                figures = _onset_figures(
                    [p.start_ms for p in phones], [p.start_ms for p in phones if p.is_vowel], audio, transcript
                )
                rows.append({"source": f"piper {codec} {rate} Hz", "text": name, "transcript": mode, **figures})
                print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        figures = {"speed": speed(args.repeats, directory), "accuracy": accuracy(directory)}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
