"""Seeded noise vs Piper's own sampling: speed, and the spread of lengths and loudness over seeds, in one run.

    python bench/bench_seeded_noise.py [--seeds 20]

Both sides run the engine's own synthesis code with the same onnxruntime settings (ONNX_THREADS threads,
spinning off) on the same voice, so the only difference is the model: Piper's graph with only the alignment
output added (its two unseeded RandomNormalLike nodes sample the noise), or the service's patched graph
whose noise comes from numpy's generator seeded per call (tts/noise.py).
For each text, --seeds calls each, interleaved. Expect: times within noise of each other; the mean and spread
of lengths and RMS loudness alike (the noise has the same distribution, only its source changed).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

from avatar_service.config import Settings  # noqa: E402
from avatar_service.pipeline import Renderer  # noqa: E402
from avatar_service.tts.engine import LoadedVoice, synthesize_with  # noqa: E402

TEXTS = {
    "short": "Hello! I am your avatar, and I can talk to you on any CPU.",
    "medium": (
        "Welcome to the museum. This gallery shows paintings from the early nineteenth century, when artists "
        "began to leave their studios and paint outdoors. Take your time, and ask me about any picture you see."
    ),
}


def original_piper(renderer: Renderer):
    """The engine's synthesis on Piper's model with only the alignment output added, patched in memory as
    ``PiperVoice.load(include_alignments=True)`` does; returns synthesize(text) → samples."""
    import onnx
    import onnxruntime
    from piper.patch_voice_with_alignment import add_alignment_output

    files = renderer.catalog.get(None)
    model = onnx.load(str(files.model_path))
    add_alignment_output(model)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = renderer.settings.onnx_threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
    )
    piper_voice = renderer.engine.load(files)
    voice = LoadedVoice(piper_voice, session, noise_channels={})  # no noise inputs: the graph samples it

    def synthesize(text: str) -> np.ndarray:
        return synthesize_with(voice, files.voice_id, text, 1.0, seed=0).samples

    return synthesize


def describe(values: list[float]) -> str:
    return f"{statistics.mean(values):8.3f} ± {statistics.stdev(values):6.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        renderer = Renderer(Settings(data_dir=Path(data_dir)))
        files = renderer.catalog.get(None)
        original = original_piper(renderer)

        def seeded(text: str, seed: int) -> np.ndarray:
            return renderer.engine.synthesize(files, text, 1.0, seed=seed).samples

        for text in TEXTS.values():  # warm both
            original(text)
            seeded(text, 0)

        print(f"{args.seeds} calls each; mean ± sd over calls; times are medians")
        print(f"{'text':<8}{'side':<10}{'ms':>8}{'length s':>20}{'RMS':>20}")
        for name, text in TEXTS.items():
            results = {"original": ([], [], []), "seeded": ([], [], [])}
            for seed in range(args.seeds):
                for side in ("original", "seeded") if seed % 2 == 0 else ("seeded", "original"):
                    started = time.perf_counter()
                    samples = original(text) if side == "original" else seeded(text, seed)
                    elapsed = time.perf_counter() - started
                    times, lengths, loudness = results[side]
                    times.append(elapsed)
                    lengths.append(len(samples) / renderer.engine.load(files).config.sample_rate)
                    loudness.append(float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))))
            for side, (times, lengths, loudness) in results.items():
                print(
                    f"{name:<8}{side:<10}{statistics.median(times) * 1000:>8.0f}"
                    f"{describe(lengths):>20}{describe(loudness):>20}"
                )
            ratio = statistics.median(results["seeded"][0]) / statistics.median(results["original"][0])
            print(f"{name:<8}seeded / original time: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
