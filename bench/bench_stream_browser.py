"""Browser figure: the player's `stream.write()` → first audible sample, in headless Chromium, real server:

    python bench/bench_stream_browser.py [--runs 20]

Each run opens a stream (`player.stream({})`), waits for `ready`, writes a first clause in one `write()` and
takes the time from that call to the moment its first sample reaches the output: the scheduled start time
mapped to performance.now() with AudioContext.getOutputTimestamp() (Web Audio API), so the output latency
the browser reports is included. Median and p90 of --runs streams. Target (issue 10): <= 250 ms.
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.support.services import cli_env, start_api  # noqa: E402 (needs the sys.path line above)
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, PLACEHOLDER  # noqa: E402

ONE_RUN = """
async (text) => {
  const { player } = window.avatarDemo;
  const stream = player.stream({});
  await new Promise((resolve) => stream.addEventListener("ready", resolve, { once: true }));
  stream.write(text);
  while (stream.firstAudibleAt === null) await new Promise((resolve) => setTimeout(resolve, 2));
  const latency = stream.firstAudibleAt - stream.firstWriteAt;
  stream.close();
  return latency;
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as data_dir:
        api, base_url = start_api(cli_env(Path(data_dir), QUEUE="embedded", LOG_LEVEL="WARNING"),
                                  Path(data_dir) / "api.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(f"{base_url}/?avatar={PLACEHOLDER}&motion=0")
                page.evaluate("window.avatarDemo.ready")
                page.evaluate(ONE_RUN, "Warming up, ")
                # The same first clause as bench_stream.py, so the two figures differ only by the browser side.
                latencies = sorted(page.evaluate(ONE_RUN, "Hello there, ") for _ in range(args.runs))
                browser.close()
        finally:
            api.kill()
    print(f"write() -> first audible sample, {args.runs} streams in Chromium: median "
          f"{statistics.median(latencies):.0f} ms, p90 {latencies[int(0.9 * (len(latencies) - 1))]:.0f} ms, "
          f"min {latencies[0]:.0f} ms, max {latencies[-1]:.0f} ms (target <= 250 ms)")


if __name__ == "__main__":
    main()
