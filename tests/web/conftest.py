"""A real `avatar-service serve` (serving the page, the packs and the API) and Debian's Chromium via Playwright.

Never `playwright install`: the tests drive the system's /usr/bin/chromium (docs/sources.md "Browser tests").
"""

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import require
from tests.support.placeholder_pack import PLACEHOLDER_ID, write_placeholder_pack
from tests.support.services import cli_env, start_api

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # Without these, Chromium keeps trying to reach Google's hosts, which this network refuses.
    "--disable-background-networking",
    "--autoplay-policy=no-user-gesture-required",
]
# A format-1 pack of flat blocks (Canvas 2D compositor), written into the API's PACKS_DIR by `api_url`.
PLACEHOLDER = PLACEHOLDER_ID
PHOTOREAL = "grace_hopper_v1"
WEB_DIR = Path(__file__).resolve().parents[2] / "web"

# Page-side helpers the tests call through page.evaluate: read canvas regions and compare them.
PIXEL_HELPERS = """
window.__pixels = {
  grab(box) {
    const canvas = document.getElementById("avatar");
    return canvas.getContext("2d").getImageData(box.x, box.y, box.width, box.height).data;
  },
  // Mean absolute difference per channel (0..255) between two grabs of the same box.
  diff(a, b) {
    let sum = 0;
    for (let i = 0; i < a.length; i += 1) sum += Math.abs(a[i] - b[i]);
    return sum / a.length;
  },
  // The integer pixel box a layer was drawn into in the last frame.
  layerBox(part) {
    const place = window.avatarDemo.player.lastFrame[part];
    return {
      x: Math.round(place.x - place.width / 2), y: Math.round(place.y - place.height / 2),
      width: Math.round(place.width), height: Math.round(place.height),
    };
  },
  // Sample `box` on every animation frame for `ms` (or until `until()` is true); largest diff from `reference`.
  async maxDiffOver(box, reference, ms) {
    let largest = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      await new Promise(requestAnimationFrame);
      largest = Math.max(largest, this.diff(this.grab(box), reference));
    }
    return largest;
  },
};
"""


@pytest.fixture(scope="session")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`avatar-service serve` on a free port with a temp DATA_DIR (PACKS_DIR = its avatars/, holding the
    placeholder pack) and the embedded queue."""
    data_dir = tmp_path_factory.mktemp("web-api-data")
    write_placeholder_pack(data_dir / "avatars")
    env = cli_env(data_dir, QUEUE="embedded")
    api, base_url = start_api(env, data_dir / "api.log")
    yield base_url
    api.kill()


@pytest.fixture(scope="session")
def browser():
    require(importlib.util.find_spec("playwright") is not None, "the playwright Python package")
    require(Path(CHROMIUM).is_file(), "Debian chromium (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Demo:
    """One browser context (fresh localStorage) on the demo page, recording console errors."""

    def __init__(self, context, base_url: str) -> None:
        self.context = context
        self.base_url = base_url
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.add_init_script(PIXEL_HELPERS)

    def open(self, **params: str) -> None:
        query = "&".join(f"{key}={value}" for key, value in params.items())
        self.page.goto(f"{self.base_url}/?{query}")
        self.page.evaluate("window.avatarDemo.ready")

    def evaluate(self, script: str, arg=None):
        return self.page.evaluate(script, arg)


@pytest.fixture
def demo(browser, api_url: str) -> Iterator[Demo]:
    context = browser.new_context(viewport={"width": 1100, "height": 820})
    yield Demo(context, api_url)
    context.close()
