"""API figures over real HTTP against `avatar-service serve` (embedded queue), all in one run:

    python bench/bench_api.py [--requests 2000] [--clients 4] [--seconds 5] [--uncached 8] [--render-workers 1]

- cached latency: one keep-alive client sends the same (cached) render request; p50 / p99 / max in ms;
- cached throughput: --clients processes, each a keep-alive client in a loop for --seconds; total req/s and
  p99 under that load (the clients share the machine's cores with the server, as a local load test does);
- uncached renders/s: --uncached distinct ~60-character texts sent at once (RENDER_WORKERS threads render).

Targets (issue 3, 2 cores): cached p99 <= 10 ms, >= 500 cached req/s. The server logs at WARNING (no access
log), as a production deployment behind a proxy that keeps its own access log would.
"""

import argparse
import http.client
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from support.services import cli_env, start_api  # noqa: E402 (needs the sys.path line above)

CACHED_BODY = json.dumps({"text": "Hello! This answer comes from the cache.", "speed": 1.0}).encode()
HEADERS = {"Content-Type": "application/json"}


def post(connection: http.client.HTTPConnection, body: bytes) -> dict:
    connection.request("POST", "/v1/avatar/render", body=body, headers=HEADERS)
    response = connection.getresponse()
    payload = response.read()
    if response.status != 200:
        raise SystemExit(f"HTTP {response.status}: {payload[:300]!r}")
    return json.loads(payload)


def timed_requests(port: int, count: int) -> list[float]:
    """Latencies (s) of ``count`` sequential cached requests on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("POST", "/v1/avatar/render", body=CACHED_BODY, headers=HEADERS)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            raise SystemExit(f"cached request answered HTTP {response.status}")
    connection.close()
    return latencies


def client_loop(port: int, seconds: float, start_at: float, results) -> None:
    """One load-generating client process: cached requests back to back until the deadline."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = time.perf_counter() + seconds
    latencies = []
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        connection.request("POST", "/v1/avatar/render", body=CACHED_BODY, headers=HEADERS)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"cached request under load answered HTTP {response.status}")
        latencies.append(time.perf_counter() - started)
    results.put(latencies)


def concurrent_throughput(port: int, clients: int, seconds: float) -> tuple[float, list[float]]:
    results = multiprocessing.Queue()
    start_at = time.time() + 0.5  # all clients start together, after their processes are up
    processes = [
        multiprocessing.Process(target=client_loop, args=(port, seconds, start_at, results)) for _ in range(clients)
    ]
    for process in processes:
        process.start()
    latencies = [value for _ in processes for value in results.get(timeout=seconds + 60)]
    for process in processes:
        process.join()
    return len(latencies) / seconds, latencies


def uncached_renders(port: int, count: int) -> tuple[float, list[int]]:
    texts = [f"Uncached request number {index}: the quick brown fox jumps over it." for index in range(count)]

    def render(text: str) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        result = post(connection, json.dumps({"text": text}).encode())
        connection.close()
        assert not result["cached"], "benchmark texts must be new to the cache"
        return result["processing_time_ms"]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        processing = list(pool.map(render, texts))
    return count / (time.perf_counter() - started), processing


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="sequential cached requests for latency")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client processes")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the throughput run")
    parser.add_argument("--uncached", type=int, default=8, help="distinct texts rendered at once")
    parser.add_argument("--render-workers", type=int, default=1, help="RENDER_WORKERS of the server")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-api-") as workdir:
        env = cli_env(
            Path(workdir) / "data",
            QUEUE="embedded",
            LOG_LEVEL="WARNING",
            RENDER_WORKERS=str(args.render_workers),
            # Above the client count: this measures speed, not the overload limit.
            MAX_CONCURRENT_REQUESTS=str(max(64, args.clients * 2, args.uncached * 2)),
        )
        server, base_url = start_api(env, Path(workdir) / "serve.log")
        port = int(base_url.rsplit(":", 1)[1])
        try:
            warm = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            post(warm, CACHED_BODY)  # renders once; every request below is a cache hit
            assert post(warm, CACHED_BODY)["cached"]
            warm.close()
            timed_requests(port, 200)  # warm-up: connection, code paths, record LRU

            latencies = timed_requests(port, args.requests)
            throughput, loaded = concurrent_throughput(port, args.clients, args.seconds)
            renders_per_s, processing = uncached_renders(port, args.uncached)
        finally:
            server.kill()

    ms = 1000.0
    print(
        f"cached latency, 1 client, {args.requests} requests: p50 {percentile(latencies, 0.5) * ms:.2f} ms, "
        f"p99 {percentile(latencies, 0.99) * ms:.2f} ms, max {max(latencies) * ms:.2f} ms "
        f"(target p99 <= 10 ms)"
    )
    print(
        f"cached throughput, {args.clients} clients x {args.seconds:g} s: {throughput:.0f} req/s "
        f"(target >= 500), p50 {percentile(loaded, 0.5) * ms:.2f} ms, p99 {percentile(loaded, 0.99) * ms:.2f} ms"
    )
    print(
        f"uncached: {args.uncached} distinct short texts at once, RENDER_WORKERS={args.render_workers}: "
        f"{renders_per_s:.2f} renders/s "
        f"(median processing_time_ms {statistics.median(processing):.0f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
