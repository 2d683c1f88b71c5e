"""Streaming figures over a real WebSocket against `avatar-service serve` (embedded queue), in one run:

    python bench/bench_stream.py [--runs 20] [--streams 10] [--words-per-second 15]

- first audio: a client writes a text word by word; the time from sending the `text` message that completes
  the first clause ("Hello there, ") to receiving the first audio frame, measured at the client on loopback
  (so it includes the server's cut, synthesis and both WebSocket hops). Median and p90 of --runs streams,
  each with a different text, one at a time. Target (issue 10): <= 150 ms.
- concurrency: --streams streams at once, each writing a paragraph at --words-per-second like a language
  model. Each client plays its audio from the moment its first frame arrives (plus a 30 ms lead, as the
  player does); a segment arriving after its playback start is an underrun, after which the client's
  timeline shifts later by the delay, as the player's does. Reports the underruns and the smallest margin by
  which a segment arrived ahead of its turn (negative: the longest gap heard). Target: no underrun with 10 streams on 2 cores.
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from support.services import cli_env, start_api  # noqa: E402 (needs the sys.path line above)

FIRST_CLAUSE = "Hello there, "
SUBJECTS = ["the weather", "a recipe", "the train", "my garden", "a new book", "the meeting", "our trip",
            "the concert", "a museum", "the river", "an old friend", "the market"]
# The player schedules its first segment this far ahead (web/player/stream.js START_LEAD_S).
START_LEAD_S = 0.03


def paragraph(index: int) -> str:
    subject = SUBJECTS[index % len(SUBJECTS)]
    return (
        f"{FIRST_CLAUSE}let me tell you about {subject}, number {index}. It started on a quiet morning, "
        f"when nobody expected anything to happen. Then, slowly, the story of {subject} unfolded, one small "
        "detail after another, until everyone in the room was listening. That is where we stop for today."
    )


def first_audio_latency(url: str, index: int) -> float:
    """Seconds from the `text` message completing the first clause to the first audio frame."""
    with connect(url, max_size=None) as ws:
        ws.send(json.dumps({"type": "start"}))
        assert json.loads(ws.recv())["type"] == "ready"
        words = paragraph(index).split(" ")
        # "Hello" then "there, " : the second message completes the first clause.
        ws.send(json.dumps({"type": "text", "text": words[0] + " "}))
        time.sleep(0.05)
        sent = time.perf_counter()
        ws.send(json.dumps({"type": "text", "text": words[1] + " "}))
        while not isinstance(ws.recv(), bytes):
            pass
        latency = time.perf_counter() - sent
        ws.send(json.dumps({"type": "interrupt"}))
        return latency


def playback_margins(url: str, index: int, words_per_second: float, results: list, start_at: float) -> None:
    """One language-model-like client: margins (s) by which each segment arrived before its playback time."""
    margins: list[float] = []
    with connect(url, max_size=None) as ws:
        ws.send(json.dumps({"type": "start"}))
        rate = json.loads(ws.recv())["sample_rate"]
        time.sleep(max(0.0, start_at - time.perf_counter()))
        words = paragraph(index).split(" ")

        def writer() -> None:
            for word in words:
                ws.send(json.dumps({"type": "text", "text": word + " "}))
                time.sleep(1 / words_per_second)
            ws.send(json.dumps({"type": "end"}))

        threading.Thread(target=writer, daemon=True).start()
        playback_start = None
        segment = None
        while True:
            frame = ws.recv()
            now = time.perf_counter()
            if isinstance(frame, bytes):
                if playback_start is None:
                    playback_start = now + START_LEAD_S
                due = playback_start + segment["offset_samples"] / rate
                margins.append(due - now)
                if due < now:  # as the player does: the rest of the stream shifts later by the delay
                    playback_start += now + START_LEAD_S - due
                continue
            message = json.loads(frame)
            if message["type"] == "done":
                break
            if message["type"] == "segment":
                segment = message
    results.append(margins)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--words-per-second", type=float, default=15.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        env = cli_env(Path(data_dir), QUEUE="embedded", LOG_LEVEL="WARNING", MAX_STREAMS=str(max(20, args.streams)))
        api, base_url = start_api(env, Path(data_dir) / "api.log")
        url = base_url.replace("http://", "ws://") + "/v1/avatar/stream"
        try:
            first_audio_latency(url, -1)  # warm: voice loaded, code paths hot
            latencies = [first_audio_latency(url, run) * 1000 for run in range(args.runs)]
            latencies.sort()
            print(f"first clause -> first audio frame, {args.runs} streams one at a time: "
                  f"median {statistics.median(latencies):.0f} ms, p90 {latencies[int(0.9 * (len(latencies) - 1))]:.0f} ms, "
                  f"min {latencies[0]:.0f} ms, max {latencies[-1]:.0f} ms (target <= 150 ms)")

            results: list[list[float]] = []
            start_at = time.perf_counter() + 1.0
            threads = [
                threading.Thread(target=playback_margins, args=(url, i, args.words_per_second, results, start_at))
                for i in range(args.streams)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            margins = [margin for stream in results for margin in stream]
            underruns = sum(margin < 0 for margin in margins)
            print(f"{args.streams} concurrent streams at {args.words_per_second:g} words/s: {len(margins)} segments, "
                  f"{underruns} underruns, smallest margin {min(margins) * 1000:.0f} ms, "
                  f"median margin {statistics.median(margins) * 1000:.0f} ms (target: no underrun)")
        finally:
            api.kill()


if __name__ == "__main__":
    main()
