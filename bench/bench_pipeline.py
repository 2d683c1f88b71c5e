"""Render pipeline speed and memory: Piper synthesis alone vs. the whole pipeline, in one run.

    python bench/bench_pipeline.py [--repeats 7]

Piper alone is what a user would run instead: the same voice loaded with ``PiperVoice.load`` at its default
onnxruntime settings, ``synthesize`` consumed to the last chunk, interleaved with the pipeline's renders.

Targets (issue 2): pipeline ≤ 1.10× Piper alone; short text end to end ≤ 300 ms warm; real-time factor
≤ 0.1 on long text; peak memory of the rendering process ≤ 350 MB.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from avatar_service.config import Settings
from avatar_service.pipeline import Renderer
from avatar_service.schemas import parse_request
from avatar_service.tts import VoiceFiles

SHORT = "Hello! I am your avatar, and I can talk to you on any CPU."
MEDIUM = (
    "Welcome to the museum. This gallery shows paintings from the early nineteenth century, when artists "
    "began to leave their studios and paint outdoors. Take your time, and ask me about any picture you see. "
    "I can tell you who painted it, when, and why it mattered. Shall we begin with the landscape by the window?"
)
LONG = " ".join(
    [
        "Photosynthesis is the process plants use to turn light into chemical energy.",
        "Inside each leaf, chloroplasts capture sunlight with a green pigment called chlorophyll.",
        "That energy splits water molecules, releasing oxygen into the air we breathe.",
        "The plant then combines carbon dioxide with the stored energy to build sugars.",
        "Those sugars feed the plant, and through food chains, nearly every animal on Earth.",
        "Scientists measure the rate of photosynthesis by tracking how much oxygen a leaf gives off.",
        "Temperature, light intensity and the amount of carbon dioxide all change that rate.",
        "On a bright summer day, a single large tree can release enough oxygen for several people.",
        "In the ocean, tiny floating algae called phytoplankton do much of the same work.",
        "Together, they produce roughly half of the oxygen in our atmosphere.",
        "Without photosynthesis, the air would slowly lose its oxygen and life as we know it would end.",
        "So the next time you walk past a tree, remember the quiet chemistry happening in every leaf.",
        "It has been running for billions of years, powered by nothing more than sunlight and water.",
        "Questions about this topic come up often, so feel free to ask me anything at all about it.",
        "I can explain the light reactions, the Calvin cycle, or how farmers use this knowledge today.",
        "Let us start wherever you like.",
        "Or, if you prefer, we can look at how leaves change colour in autumn when the chlorophyll fades.",
        "Every answer begins with the same bright idea: light becomes life.",
    ]
)


def piper_alone(files: VoiceFiles) -> Callable[[str], float]:
    """Piper as a user would run it instead: the voice loaded with ``PiperVoice.load`` (its default
    onnxruntime settings); returns a function timing ``synthesize(text)`` to the last chunk, in seconds."""
    from piper import PiperVoice

    voice = PiperVoice.load(files.model_path, files.config_path)

    def seconds(text: str) -> float:
        started = time.perf_counter()
        for _chunk in voice.synthesize(text):
            pass
        return time.perf_counter() - started

    return seconds


def whole_pipeline(renderer: Renderer, text: str) -> tuple[float, int]:
    started = time.perf_counter()
    record = renderer.render(parse_request(text=text))
    return time.perf_counter() - started, record.duration_ms


MEMORY_PROBE = """
import json, sys, tempfile
from pathlib import Path
from avatar_service.config import Settings
from avatar_service.pipeline import Renderer
from avatar_service.schemas import parse_request
renderer = Renderer(Settings(data_dir=Path(tempfile.mkdtemp())))
for text in json.loads(sys.argv[1]):
    renderer.render(parse_request(text=text))
# VmHWM, not ru_maxrss: on Linux a spawned child's ru_maxrss starts at its parent's peak.
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]) / 1024)
"""


def rendering_process_peak_mb() -> float:
    """Peak RSS of a fresh process that only renders (this one also ran Piper alone)."""
    texts = json.dumps([SHORT, MEDIUM, LONG, LONG])
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, texts], capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        renderer = Renderer(Settings(data_dir=Path(data_dir)))
        renderer.warm_up()
        piper = piper_alone(renderer.catalog.get(None))
        for text in (SHORT, MEDIUM):  # warm caches (espeak, onnxruntime arenas)
            whole_pipeline(renderer, text)
            piper(text)

        print(f"{'text':<8}{'chars':>6}{'audio s':>9}{'piper ms':>10}{'pipeline ms':>13}{'ratio':>7}{'RTF':>7}")
        ratios = {}
        for name, text in (("short", SHORT), ("medium", MEDIUM), ("long", LONG)):
            piper_times, pipeline_times, durations = [], [], []
            for _ in range(args.repeats):  # interleaved, so load on the machine hits both alike
                piper_times.append(piper(text))
                elapsed, duration_ms = whole_pipeline(renderer, text)
                pipeline_times.append(elapsed)
                durations.append(duration_ms)
            piper_s = statistics.median(piper_times)
            pipeline_s = statistics.median(pipeline_times)
            audio_s = statistics.median(durations) / 1000
            ratios[name] = (pipeline_s / piper_s, pipeline_s, pipeline_s / audio_s)
            print(
                f"{name:<8}{len(text):>6}{audio_s:>9.2f}{piper_s * 1000:>10.0f}{pipeline_s * 1000:>13.0f}"
                f"{pipeline_s / piper_s:>7.2f}{pipeline_s / audio_s:>7.3f}"
            )

    peak_mb = rendering_process_peak_mb()
    overall = sum(r[1] for r in ratios.values())
    print()
    print(f"pipeline / Piper alone (sum of medians): {overall / sum(r[1] / r[0] for r in ratios.values()):.3f}  (target ≤ 1.10)")
    print(f"short text end to end, warm: {ratios['short'][1] * 1000:.0f} ms  (target ≤ 300 ms)")
    print(f"real-time factor, long text: {ratios['long'][2]:.3f}  (target ≤ 0.1)")
    print(f"peak memory of this rendering process: {peak_mb:.0f} MB  (target ≤ 350 MB)")


if __name__ == "__main__":
    main()
