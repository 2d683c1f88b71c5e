"""Makes the face-rig contact sheets in docs/: for each shipped pack with a rig (docs/rig-PACK.png), 12
consecutive 25 fps frames of one spoken sentence (drawn by the WebGL2 player's renderFrame() on the audio clock)
and the 7 viseme poses.

    python -m tests.web.take_rig_contact_sheets [--out-dir docs]

The shipped packs come from two photos (Grace Hopper; scikit-image's astronaut, Eileen Collins), so the rig
is shown on a face it was not tuned on as well.
"""

import argparse
import json
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image, ImageDraw

from tests.support.services import cli_env, start_api
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, WEB_DIR
from tests.web.test_rig import SENTENCE, decode_png, open_rig_page

ROOT = Path(__file__).resolve().parents[2]
FPS = 25
FRAMES = 12
CELL = 176  # px: each frame is a square crop of the lower face, scaled to this
VISEMES = ["REST", "AA", "EE", "OH", "OO", "FF", "TH"]


def face_box(rig: dict) -> tuple[int, int, int]:
    """Square crop (x, y, size) around the mouth and chin: from the nose tip (landmark 1) to below the chin."""
    vertices = np.array(rig["vertices"])
    mouth = vertices[rig["mouth"]["inner_lip"]].mean(axis=0)
    face_height = np.hypot(*(vertices[152] - vertices[10]))
    size = int(0.75 * face_height)
    return int(mouth[0] - size / 2), int(mouth[1] - 0.4 * size), size


def label(cell: Image.Image, text: str) -> Image.Image:
    draw = ImageDraw.Draw(cell)
    draw.rectangle((0, 0, cell.width, 14), fill=(0, 0, 0))
    draw.text((3, 1), text, fill=(255, 255, 255))
    return cell


def sheet(rows: list[list[Image.Image]]) -> Image.Image:
    columns = max(len(row) for row in rows)
    out = Image.new("RGB", (columns * CELL, len(rows) * CELL), (40, 40, 40))
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            out.paste(cell, (c * CELL, r * CELL))
    return out


def contact_sheet(demo: SimpleNamespace, pack: str, rig: dict, result: dict) -> Image.Image:
    open_rig_page(demo, pack)
    x, y, size = face_box(rig)

    def cell(png: str, text: str) -> Image.Image:
        crop = Image.fromarray(decode_png(png).astype(np.uint8)).crop((x, y, x + size, y + size))
        return label(crop.resize((CELL, CELL), Image.LANCZOS), text)

    demo.page.evaluate("result => rigTools.holdSpeech(result)", result)
    # The 12 frames (0.48 s) where the rig moves most: the busiest stretch of the sentence.
    times = np.arange(0, result["duration_ms"], 1000 / FPS)
    openings = np.array([demo.page.evaluate("t => rigTools.frameAt(t).opening", float(t)) for t in times])
    start = max(range(len(times) - FRAMES), key=lambda i: np.abs(np.diff(openings[i:i + FRAMES])).sum())
    frames = []
    for t in times[start:start + FRAMES]:
        frame = demo.page.evaluate("t => rigTools.frameAt(t)", float(t))
        jaw = frame["controls"].get("jaw_open", 0)
        frames.append(cell(frame["png"], f"{t / 1000:.2f}s jaw {jaw:.2f}"))
    demo.page.evaluate("window.rigPage.player.stop()")
    poses = demo.page.evaluate("""visemes => {
        const player = window.rigPage.player;
        const rig = player.rig.rig;
        return visemes.map((viseme) => {
            player.drawRig(rig.controlNames.map((name) => rig.visemes[viseme]?.[name] ?? 0));
            return rigTools.png();
        });
    }""", VISEMES)
    visemes = [cell(png, viseme) for png, viseme in zip(poses, VISEMES, strict=True)]
    return sheet([frames[:6], frames[6:], visemes])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as temp:
        data_dir = Path(temp)
        env = cli_env(data_dir, QUEUE="embedded")
        packs = {path.parent.name: path.parent for path in sorted(WEB_DIR.glob("avatars/*/manifest.json"))
                 if json.loads(path.read_text()).get("format_version") == 2}
        api, base_url = start_api(env, data_dir / "api.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                demo = SimpleNamespace(page=page, base_url=base_url)
                page.goto(base_url + "/health")  # any page of the origin, to call the API from
                result = page.evaluate("""async (text) => {
                    const response = await fetch('/v1/avatar/render', {method: 'POST',
                        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({text})});
                    return response.json();
                }""", SENTENCE)
                for pack, directory in packs.items():
                    manifest = json.loads((directory / "manifest.json").read_text())
                    rig = json.loads((directory / manifest["rig"]).read_text())
                    out = args.out_dir / f"rig-{pack}.png"
                    contact_sheet(demo, pack, rig, result).save(out, optimize=True)
                    print(f"wrote {out}")
                browser.close()
        finally:
            api.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
