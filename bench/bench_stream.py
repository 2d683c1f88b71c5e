"""Streaming figures over a real WebSocket against `avatar-service serve` (embedded queue), in one run:

    python bench/bench_stream.py [--runs 20] [--rounds 5] [--streams 10] [--words-per-second 15]
                                 [--baseline-src /path/to/other/checkout/src] [--details]

- first audio: a client writes a text word by word; the time from sending the `text` message that completes
  the first clause ("Hello there, ") to receiving the first audio frame, measured at the client on loopback
  (so it includes the server's cut, synthesis and both WebSocket hops). Median and p90 of --runs streams,
  each with a different text, one at a time. Target (issue 10): <= 150 ms.
- concurrency: --streams streams at once, each writing a paragraph at --words-per-second like a language
  model. Each client plays its audio from the moment its first frame arrives (plus the player's start lead, as the
  player does); a segment arriving after its playback start is an underrun, after which the client's
  timeline shifts later by the delay plus the lead, as the player's does (that shift is the gap heard).
  Per round: the late segments, the longest gap and the median margin by which segments arrived ahead of
  their turn; medians over --rounds rounds. Target: no underrun with 10 streams on 2 cores.
- --baseline-src starts a second server from another source tree (e.g. the main branch) and measures it in
  the same run, interleaved (first-audio runs alternate; each concurrency round runs both, in alternating
  order), so a shared, noisy machine affects both alike. The 1-minute load average is printed before/after.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from support.services import cli_env, start_api  # noqa: E402 (needs the sys.path line above)

from avatar_service.stream.playback import START_LEAD_S  # noqa: E402 (the player's lead, as the server models it)

FIRST_CLAUSE = "Hello there, "
SUBJECTS = ["the weather", "a recipe", "the train", "my garden", "a new book", "the meeting", "our trip",
            "the concert", "a museum", "the river", "an old friend", "the market"]


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


@dataclass(frozen=True)
class Arrival:
    stream: int
    seq: int
    text: str
    margin_s: float  # how long before its playback start the segment's audio arrived (negative: late)


def playback_margins(url: str, index: int, words_per_second: float, results: list, start_at: float) -> None:
    """One language-model-like client: how early each segment arrived before its playback time."""
    arrivals: list[Arrival] = []
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
                arrivals.append(Arrival(index, segment["seq"], segment["text"], due - now))
                if due < now:  # as the player does: the rest of the stream shifts later by the delay
                    playback_start += now + START_LEAD_S - due
                continue
            message = json.loads(frame)
            if message["type"] == "done":
                break
            if message["type"] == "segment":
                segment = message
    results.extend(arrivals)


def concurrent_round(url: str, streams: int, words_per_second: float) -> list[Arrival]:
    results: list[Arrival] = []
    start_at = time.perf_counter() + 1.0
    threads = [
        threading.Thread(target=playback_margins, args=(url, i, words_per_second, results, start_at))
        for i in range(streams)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def load_average() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="first-audio streams, one at a time, per server")
    parser.add_argument("--rounds", type=int, default=5, help="concurrency rounds per server")
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--words-per-second", type=float, default=15.0)
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src/ to measure in the same run")
    parser.add_argument("--details", action="store_true", help="print every late segment")
    args = parser.parse_args()

    trees = {"this": ROOT / "src"} | ({"baseline": args.baseline_src.resolve()} if args.baseline_src else {})
    voice_cache = Path(tempfile.gettempdir()) / "avatar-service-bench-voice-cache"
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as workdir:
        servers, urls = [], {}
        try:
            for name, src in trees.items():
                env = cli_env(Path(workdir) / name, QUEUE="embedded", LOG_LEVEL="WARNING",
                              VOICE_CACHE_DIR=str(voice_cache), MAX_STREAMS=str(max(20, args.streams)))
                env["PYTHONPATH"] = str(src)  # that tree's own code
                server, base_url = start_api(env, Path(workdir) / f"{name}.log")
                servers.append(server)
                urls[name] = base_url.replace("http://", "ws://") + "/v1/avatar/stream"
            for url in urls.values():
                first_audio_latency(url, -1)  # warm: voice loaded, code paths hot

            latencies: dict[str, list[float]] = {name: [] for name in urls}
            for run in range(args.runs):
                for name in (list(urls) if run % 2 == 0 else list(urls)[::-1]):
                    latencies[name].append(first_audio_latency(urls[name], run) * 1000)

            rounds: dict[str, list[list[Arrival]]] = {name: [] for name in urls}
            for round_index in range(args.rounds):
                for name in (list(urls) if round_index % 2 == 0 else list(urls)[::-1]):
                    rounds[name].append(concurrent_round(urls[name], args.streams, args.words_per_second))
        finally:
            for server in servers:
                server.kill()

    print(f"{os.cpu_count()} cores; 1-minute load average {load_before} before, {load_average()} after")
    for name, src in trees.items():
        values = sorted(latencies[name])
        print(f"[{name}: {src}]")
        print(f"  first clause -> first audio frame, {args.runs} streams one at a time: "
              f"median {statistics.median(values):.0f} ms, p90 {values[int(0.9 * (len(values) - 1))]:.0f} ms, "
              f"min {values[0]:.0f} ms, max {values[-1]:.0f} ms (target <= 150 ms)")
        late = [sum(a.margin_s < 0 for a in arrivals) for arrivals in rounds[name]]
        gaps = [max([START_LEAD_S - a.margin_s for a in arrivals if a.margin_s < 0], default=0.0) * 1000
                for arrivals in rounds[name]]
        margins = [statistics.median(a.margin_s for a in arrivals) * 1000 for arrivals in rounds[name]]
        segments = [len(arrivals) for arrivals in rounds[name]]
        print(f"  {args.streams} concurrent streams at {args.words_per_second:g} words/s, {args.rounds} rounds "
              f"of {statistics.median(segments):.0f} segments: late segments median {statistics.median(late):g} "
              f"(rounds: {', '.join(map(str, late))}); longest gap median {statistics.median(gaps):.0f} ms "
              f"(rounds: {', '.join(f'{gap:.0f}' for gap in gaps)}); median margin "
              f"{statistics.median(margins):.0f} ms (target: no underrun)")
        if args.details:
            for round_index, arrivals in enumerate(rounds[name]):
                for a in sorted(arrivals, key=lambda a: a.margin_s)[:6]:
                    print(f"    round {round_index} stream {a.stream} seq {a.seq} margin {a.margin_s * 1000:+.0f} ms "
                          f"{a.text!r}")


if __name__ == "__main__":
    main()
