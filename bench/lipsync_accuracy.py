"""Lip-sync accuracy: do the mouth cues match the PRODUCED audio? Checked by means independent of the cue builder.

(a) Envelope lag: the lag (−200..+200 ms) that best correlates mouth openness from the cues (REST 0, other
    shapes their weight, per 10 ms) with the decoded audio file's RMS loudness per 10 ms, and that r.
    Target: best lag 0..60 ms of mouth lead.
(b) Vowel onsets: a pocketsphinx forced alignment (its bundled en-us model) of the decoded audio, resampled to
    16 kHz; each ARPAbet vowel onset is matched to the nearest mouth opening (a cue into AA/EE/OH/OO, or a
    clearly wider one). Targets: ≥ 95 % inside ITU-R BT.1359's detectability window (mouth ≤ 125 ms early,
    ≤ 45 ms late), median |error| ≤ 30 ms.
Also: the systematic offset between Piper's own phone durations and pocketsphinx (and both against the audio's
onset of sound after silences), and the same figures at speed 0.7 and 1.5.

Run:  VOICE_CACHE_DIR=/tmp/pcache python bench/lipsync_accuracy.py   (≈ 1 min on 2 cores)
Positive numbers always mean the mouth (or Piper) is EARLY.
"""

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lipsync_measure as m

from avatar_service.audio import decode_mono
from avatar_service.config import Settings
from avatar_service.lipsync.cues import ANTICIPATION_MS
from avatar_service.pipeline import Renderer
from avatar_service.schemas import RenderRecord, RenderRequest, parse_request
from avatar_service.tts import Speech

# Varied content, every word in the CMU dictionary (no digits or abbreviations, so the forced alignment's
# transcript is exactly what was spoken): short (~60 chars), medium (~300) and long (~1500).
TEXTS: dict[str, str] = {
    "short": "Good morning! I hope you slept well and feel ready for today.",
    "labials": (
        "Peter Piper picked a peck of pickled peppers. Bob, my brother, bought five blue boxes of big fresh "
        "figs from the village market."
    ),
    "questions": (
        "Why would anyone leave the house without an umbrella? Honestly, I have no idea! Maybe they simply "
        "forgot, or maybe they enjoy getting wet."
    ),
    "weather": (
        "The weather service says a cold front will move across the valley this afternoon, bringing strong "
        "winds and heavy rain to the northern towns. Drivers should slow down on the mountain roads, keep their "
        "lights on, and leave extra space between cars. By tomorrow morning the skies should clear, and the "
        "weekend looks bright and mild."
    ),
    "instructions": (
        "Please open the valve slowly, check the pressure gauge, and call me when the water in the tank is "
        "warm enough for a shower. Then close the lid, wash your hands, and write the reading in the book."
    ),
    "story": (
        "Once upon a time, a young woman named Clara lived in a small house at the edge of a quiet forest. "
        "Every morning she walked down to the river with two wooden buckets, filled them with cold, clear "
        "water, and carried them back up the hill. The path was steep and rough, and by the time she reached "
        "her door, her arms ached and her shoes were soaked. One autumn day, as the leaves turned gold and red, "
        "she noticed an old man sitting on a rock beside the water. He wore a long gray coat, and his beard "
        "was as white as the morning fog. He asked her why she worked so hard for something the sky gave away "
        "for free. Clara laughed and told him that the rain never fell when she needed it most. The old man "
        "smiled, reached into his pocket, and handed her a small brass key. He said that behind her house, "
        "under the roots of the tallest oak, she would find a door. She thanked him, though she did not "
        "believe a word of it. That evening, curious and a little tired, she took a lamp and went to look. "
        "Beneath the great tree, hidden by moss and stones, there was indeed a tiny iron door. The key turned "
        "with a soft click, and the door swung open onto a spring of bright, bubbling water. From that day on, "
        "Clara never carried a bucket up the hill again. She shared the spring with her neighbors, and every "
        "autumn she returned to the river to look for the old man, hoping to thank him once more."
    ),
}
SPEED_CHECK_TEXTS = ("weather", "instructions", "questions")

TARGET_INSIDE_PCT = 95.0
TARGET_MEDIAN_ABS_MS = 30.0
TARGET_LAG_MS = (0.0, 60.0)


@dataclass
class Measurement:
    name: str
    speed: float
    chars: int
    duration_ms: int
    lag_ms: float
    r: float
    errors: list[float | None]
    openness: np.ndarray
    envelope: np.ndarray
    piper_word_offsets: list[float]  # Piper − pocketsphinx, word starts
    piper_vowel_offsets: list[float]  # Piper − pocketsphinx, vowel onsets
    piper_vowel_offsets_stress: list[float]  # the same, a nucleus starting at its stress mark
    piper_vs_sound: list[float]  # Piper word start − acoustic onset after silence
    sphinx_vs_sound: list[float]  # pocketsphinx word start − acoustic onset after silence

    @property
    def stats(self) -> m.OnsetStats:
        return m.onset_stats(self.errors)


def render_with_speech(renderer: Renderer, request: RenderRequest) -> tuple[RenderRecord, Speech, Path]:
    """Render through the real pipeline and keep the Speech (Piper's phone spans) of that same call."""
    captured: list[Speech] = []
    synthesize = renderer.engine.synthesize

    def capturing(*args, **kwargs):
        speech = synthesize(*args, **kwargs)
        captured.append(speech)
        return speech

    renderer.engine.synthesize = capturing
    try:
        record = renderer.render(request)
    finally:
        del renderer.engine.synthesize  # back to the class's method
    return record, captured[0], renderer.settings.audio_dir / record.audio_file


def measure(renderer: Renderer, name: str, text: str, speed: float) -> Measurement:
    record, speech, audio_path = render_with_speech(renderer, parse_request(text=text, speed=speed))
    samples, rate = decode_mono(audio_path)
    duration_ms = round(len(samples) * 1000 / rate)
    envelope = m.rms_envelope(samples, rate)
    openness = m.openness_curve(record.mouth_cues, duration_ms)
    lag_ms, r = m.best_lag(openness, envelope)

    aligned = m.force_align(m.resample_to(samples, rate), text)
    errors = m.onset_errors(m.vowel_onsets(aligned), m.mouth_openings(record.mouth_cues))

    words = m.piper_words(speech.phones, speech.sample_rate)
    sphinx_word_starts = [
        p.start_ms for i, p in enumerate(aligned)
        if p.word_index >= 0 and (i == 0 or aligned[i - 1].word_index != p.word_index)
    ]
    sphinx_vowels = [t for t, _ in m.vowel_onsets(aligned)]
    piper_word_starts = [m.word_start(w) for w in words]
    sound = m.acoustic_onsets(envelope)
    return Measurement(
        name=name, speed=speed, chars=len(text), duration_ms=duration_ms, lag_ms=lag_ms, r=r,
        errors=errors, openness=openness, envelope=envelope,
        piper_word_offsets=m.reference_offsets(piper_word_starts, sphinx_word_starts),
        piper_vowel_offsets=m.reference_offsets(
            [t for w in words for t in m.piper_nuclei(w)], sphinx_vowels
        ),
        piper_vowel_offsets_stress=m.reference_offsets(
            [t for w in words for t in m.piper_nuclei(w, with_stress=True)], sphinx_vowels
        ),
        piper_vs_sound=m.nearest_offsets(piper_word_starts, sound),
        sphinx_vs_sound=m.nearest_offsets(sphinx_word_starts, sound),
    )


def pooled_lag(rows: list[Measurement]) -> tuple[float, float]:
    """Best lag over all texts at once (curves joined with 300 ms of silence so lags never cross texts)."""
    gap = np.zeros(30)
    openness = np.concatenate([np.concatenate([row.openness[: len(row.envelope)], gap]) for row in rows])
    envelope = np.concatenate([np.concatenate([row.envelope[: len(row.openness)], gap]) for row in rows])
    return m.best_lag(openness, envelope)


def _median(values: list[float]) -> str:
    return f"{np.median(values):+6.1f}" if values else "   n/a"


def print_table(rows: list[Measurement]) -> None:
    header = (
        f"{'text':<13}{'speed':>5}{'chars':>6}{'audio s':>8}{'lag ms':>7}{'r':>6}{'vowels':>7}"
        f"{'inside %':>9}{'med|e|':>7}{'med e':>7}{'>125early':>10}{'>45late':>8}{'unmatched':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        s = row.stats
        print(
            f"{row.name:<13}{row.speed:>5.1f}{row.chars:>6}{row.duration_ms / 1000:>8.1f}{row.lag_ms:>+7.0f}"
            f"{row.r:>6.2f}{s.vowels:>7}{s.inside_pct:>9.1f}{s.median_abs_ms:>7.1f}{s.median_ms:>+7.1f}"
            f"{s.early_out:>10}{s.late_out:>8}{s.unmatched:>10}"
        )


def print_summary(label: str, rows: list[Measurement]) -> bool:
    errors = [e for row in rows for e in row.errors]
    stats = m.onset_stats(errors)
    lag, r = pooled_lag(rows)
    lags = [row.lag_ms for row in rows]
    checks = [
        (f"vowel onsets inside BT.1359 window: {stats.inside_pct:.1f} % of {stats.vowels}",
         f"≥ {TARGET_INSIDE_PCT:.0f} %", stats.inside_pct >= TARGET_INSIDE_PCT),
        (f"median |onset error|: {stats.median_abs_ms:.1f} ms (signed median {stats.median_ms:+.1f}, + = mouth early)",
         f"≤ {TARGET_MEDIAN_ABS_MS:.0f} ms", stats.median_abs_ms <= TARGET_MEDIAN_ABS_MS),
        (f"best envelope lag, all texts pooled: {lag:+.0f} ms (r = {r:.2f}); per text {min(lags):+.0f}..{max(lags):+.0f}",
         "0..60 ms lead", TARGET_LAG_MS[0] <= lag <= TARGET_LAG_MS[1]),
    ]
    print(f"\n{label}")
    for text, target, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}   target {target}")
    return all(ok for _, _, ok in checks)


def print_offsets(rows: list[Measurement]) -> None:
    def pooled(attribute: str) -> list[float]:
        return [x for row in rows for x in getattr(row, attribute)]

    print("\nReference offsets (median of first − second, ms; + = the first one is LATER):")
    print(f"  Piper − pocketsphinx, word starts:              {_median(pooled('piper_word_offsets'))}"
          f"  (n={len(pooled('piper_word_offsets'))})")
    print(f"  Piper − pocketsphinx, vowel onsets:             {_median(pooled('piper_vowel_offsets'))}"
          f"  (n={len(pooled('piper_vowel_offsets'))})")
    print(f"  Piper − pocketsphinx, vowels from stress mark:  {_median(pooled('piper_vowel_offsets_stress'))}"
          f"  (n={len(pooled('piper_vowel_offsets_stress'))})")
    print(f"  Piper word start − sound onset after silence:   {_median(pooled('piper_vs_sound'))}"
          f"  (n={len(pooled('piper_vs_sound'))})")
    print(f"  pocketsphinx word start − sound onset:          {_median(pooled('sphinx_vs_sound'))}"
          f"  (n={len(pooled('sphinx_vs_sound'))})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", nargs="*", default=list(TEXTS), choices=list(TEXTS))
    parser.add_argument("--speeds", nargs="*", type=float, default=[0.7, 1.5],
                        help="extra speeds checked on a few medium texts (default 0.7 1.5)")
    args = parser.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="lipsync-bench-"))
    renderer = Renderer(Settings(data_dir=data_dir))
    renderer.warm_up()
    print(f"ANTICIPATION_MS = {ANTICIPATION_MS:g}; voice {renderer.default_voice_id()}; "
          f"VOICE_CACHE_DIR={os.environ.get('VOICE_CACHE_DIR', '(unset)')}\n")
    started = time.perf_counter()
    rows = [measure(renderer, name, TEXTS[name], 1.0) for name in args.texts]
    speed_rows = [
        measure(renderer, name, TEXTS[name], speed)
        for speed in args.speeds for name in SPEED_CHECK_TEXTS if name in args.texts
    ]
    print_table(rows + speed_rows)
    ok = print_summary("Speed 1.0, all texts:", rows)
    for speed in args.speeds:
        at_speed = [row for row in speed_rows if row.speed == speed]
        if at_speed:
            ok &= print_summary(f"Speed {speed:g}:", at_speed)
    print_offsets(rows)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
