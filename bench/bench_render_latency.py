"""Uncached renders over real HTTP: one short sentence vs Piper alone, and renders/s under concurrent clients.

    python bench/bench_render_latency.py [--runs 20] [--clients 8] [--renders 24] [--rounds 3]
                                         [--idle-gap 0.2] [--baseline-src /path/to/other/checkout/src]

- single request: ``POST /v1/avatar/render`` of one short, new sentence against `avatar-service serve` at its
  defaults, paired with Piper alone on the same text in this process (``PiperVoice.load`` of the same voice,
  ``synthesize``, default onnxruntime settings — what a user would run instead). The pair's order alternates,
  and each request starts after --idle-gap seconds of idle (Piper's threads spin on ~50 ms after its calls).
  Reported: medians of the API time and of the per-pair ratio.
- under load: --clients threads send --renders distinct new texts between them; renders/s over the whole
  batch, median of --rounds rounds.
- --baseline-src starts a second server from another source tree (e.g. the main branch) and measures it in
  the same run, interleaved, so both see the same machine load.

Targets (issue 10, 2 cores): single request ≤ 1.15× Piper alone and ≤ 300 ms; renders/s under 8 clients not
lower than before.
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from bench_pipeline import piper_alone  # noqa: E402 (this script's folder is on sys.path)
from support.services import cli_env, start_api  # noqa: E402 (needs the sys.path line above)

from avatar_service.tts import VoiceCatalog  # noqa: E402

HEADERS = {"Content-Type": "application/json"}
# The default pause before each timed single request, so that each starts on an idle machine: Piper at its
# defaults leaves its onnxruntime threads spin-waiting after a call (~50 ms of a core, measured), which would
# otherwise land on whoever runs next (onnxruntime docs, "Thread management": session.intra_op.allow_spinning).
IDLE_GAP_S = 0.2
NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen"]


def short_sentence(tag: str, index: int) -> str:
    """A new ~55-character sentence per call (the cache must not answer), all of about the same length."""
    return f"Short sentence {tag} {NUMBERS[index % 15]} {NUMBERS[index // 15 % 15]} reaches the voice now."


def render_seconds(port: int, text: str) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    connection.request("POST", "/v1/avatar/render", body=json.dumps({"text": text}).encode(), headers=HEADERS)
    response = connection.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise SystemExit(f"HTTP {response.status}: {payload[:300]!r}")
    if json.loads(payload)["cached"]:
        raise SystemExit("benchmark texts must be new to the cache")
    return elapsed


def renders_per_second(port: int, tag: str, clients: int, renders: int) -> float:
    texts = [short_sentence(tag, index) for index in range(renders)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda text: render_seconds(port, text), texts))
    return renders / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="single requests (each paired with Piper alone)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the load test")
    parser.add_argument("--renders", type=int, default=24, help="distinct texts per load round")
    parser.add_argument("--rounds", type=int, default=3, help="load rounds per server")
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src/ to measure in the same run")
    parser.add_argument("--idle-gap", type=float, default=IDLE_GAP_S,
                        help="seconds of idle before each single request (0: back to back)")
    args = parser.parse_args()

    # Patched voice models are kept between runs (each code version makes its own copy once).
    voice_cache = Path(tempfile.gettempdir()) / "avatar-service-bench-voice-cache"
    trees = {"this": ROOT / "src"} | ({"baseline": args.baseline_src.resolve()} if args.baseline_src else {})
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as workdir:
        servers, ports = [], {}
        try:
            for name, src in trees.items():
                env = cli_env(
                    Path(workdir) / name, QUEUE="embedded", LOG_LEVEL="WARNING",
                    VOICE_CACHE_DIR=str(voice_cache), MAX_CONCURRENT_REQUESTS=str(max(16, 2 * args.clients)),
                )
                env["PYTHONPATH"] = str(src)  # that tree's own code
                server, base_url = start_api(env, Path(workdir) / f"{name}.log")
                servers.append(server)
                ports[name] = int(base_url.rsplit(":", 1)[1])
            piper = piper_alone(VoiceCatalog().get(None))
            for name, port in ports.items():  # warm up: voice load, espeak, onnxruntime arenas
                for index in range(3):
                    render_seconds(port, short_sentence(f"warm {name}", index))
            for index in range(3):
                piper(short_sentence("warm piper", index))

            api_s = {name: [] for name in ports}
            ratios = {name: [] for name in ports}
            piper_s = []
            for run in range(args.runs):
                text = short_sentence("single", run)
                # Who goes first rotates: a request right after another one runs slower (measured: the same code
                # in both servers, one always right after Piper alone, 195 vs 181 ms).
                contenders = ["piper", *ports]
                order = contenders[run % len(contenders):] + contenders[: run % len(contenders)]
                times = {}
                for who in order:
                    time.sleep(args.idle_gap)
                    times[who] = piper(text) if who == "piper" else render_seconds(ports[who], text)
                piper_s.append(times["piper"])
                for name in ports:
                    api_s[name].append(times[name])
                    ratios[name].append(times[name] / times["piper"])

            load = {name: [] for name in ports}
            for round_index in range(args.rounds):
                for name, port in ports.items():
                    load[name].append(renders_per_second(port, f"load {round_index}", args.clients, args.renders))
        finally:
            for server in servers:
                server.kill()

    ms = 1000.0
    print(f"{os.cpu_count()} cores, {args.runs} single requests {args.idle_gap:g} s apart, medians; "
          f"Piper alone {statistics.median(piper_s) * ms:.0f} ms")
    for name, src in trees.items():
        print(
            f"[{name}: {src}] single request {statistics.median(api_s[name]) * ms:.0f} ms "
            f"(target ≤ 300), ratio to Piper alone {statistics.median(ratios[name]):.2f} (target ≤ 1.15); "
            f"{args.clients} clients: {statistics.median(load[name]):.2f} renders/s "
            f"(rounds: {', '.join(f'{value:.2f}' for value in load[name])})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
