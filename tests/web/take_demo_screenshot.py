"""Makes docs/demo-speaking.png: the demo, served by a real `avatar-service serve`, caught mid-speech (the
default pack is drawn by its WebGL2 face rig).

    python -m tests.web.take_demo_screenshot [--out docs/demo-speaking.png]

The audio is paused on a frame where the mouth is well open; the face follows the audio clock, so it
holds that shape for the picture.
"""

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.support.services import cli_env, start_api
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
TEXT = "Hello! I am Grace. I speak with Piper's voice, and my lips and eyes move in sync with it."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "demo-speaking.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        api, base_url = start_api(cli_env(Path(data_dir), QUEUE="embedded"), Path(data_dir) / "api.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1100, "height": 800})
                page.goto(base_url + "/")
                page.evaluate("window.avatarDemo.ready")
                page.fill("#text", TEXT)
                page.click("#speak")
                page.wait_for_function("window.avatarDemo.player.speaking", timeout=60_000)
                # A wide-open vowel (AA or OH), so the picture shows the mouth moving: with the face rig, the
                # jaw well open; with sprites, mostly an open frame.
                page.wait_for_function(
                    """() => { const p = window.avatarDemo.player;
                               const visemes = p.pack.manifest.mouth.visemes;
                               const weight = (v) => p.lastFrame.mouthWeights[visemes.indexOf(v)] ?? 0;
                               const open = p.rendererName === 'webgl2-rig' ? p.lastFrame.controls.jaw_open > 0.6
                                                                             : weight('AA') + weight('OH') > 0.7;
                               if (open) p.audio.pause();
                               return open; }""",
                    timeout=30_000, polling="raf",
                )
                # The paused audio clock may sit a little before the frame seen (it advances in coarse steps):
                # with the rig, move it to the widest opening nearby; the face holds that frame's shape.
                page.evaluate("""async () => {
                    const p = window.avatarDemo.player;
                    if (p.rendererName !== 'webgl2-rig') return;
                    const { controlWeightsAt } = await import('/player/trajectory.js');
                    const rig = p.rig.rig;
                    const index = rig.controlNames.indexOf('jaw_open');
                    const jaw = (ms) => controlWeightsAt(p.speech.cues, ms, rig.visemes, rig.controlNames)[index];
                    const now = p.audio.currentTime * 1000;
                    let best = now;
                    for (let ms = now - 200; ms <= now + 200; ms += 5) if (jaw(ms) > jaw(best)) best = ms;
                    p.audio.currentTime = best / 1000;
                }""")
                page.wait_for_timeout(100)
                page.screenshot(path=str(args.out))
                browser.close()
        finally:
            api.kill()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
