"""Reliability under abuse and crashes, against real `avatar-service serve` / `worker` processes (one run).

    python bench/bench_reliability.py [--fuzz 300] [--slow 15] [--kill-rounds 3] [--jobs 6] [--worker-kills 2]

Prints one table:
- fuzzed requests / 5xx: seeded random requests (random Unicode with control characters and emoji, random
  speeds and voices, malformed JSON, random bytes, wrong types) to the render endpoints;
- slow clients held / lockout: N clients trickling bodies and N trickling headers, then a normal render:
  its status and latency, and how many slow clients the server timed out (BODY/HEADER_TIMEOUT_SECONDS=2 here);
- jobs accepted / lost under kill loops: rounds of "submit async jobs, kill -9 serve, restart" on one
  DATA_DIR; lost = accepted render ids that never complete (404 or failed) after the last restart;
- recovery times: from the restart to the last resumed job completing (embedded), and from SIGKILL of a
  worker mid-render to the job completing on another worker (Valkey; median of the kills).
Baseline for "lost": the same loop before the journal lost 15 of 24 accepted jobs (issue 11).
"""

import argparse
import json
import random
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from support.services import (  # noqa: E402
    ValkeyServer,
    cli_env,
    find_valkey_server,
    service_env,
    start_api,
    start_worker,
    wait_until,
)

ALPHABET = (
    "abcdefghijklmnopqrstuvwxyz ABC.,;:!?'\"-()0123456789"
    "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\x9f\t\n\r"
    "éüßøñ漢字ひらがな한국어"
    "\U0001f600\U0001f468\u200d\U0001f469\u200d\U0001f467\ufe0f\u202e\u2028\ufffd"
)
LONG_TEXT = (
    "A worker is killed in the middle of this render. Another worker takes the job over once the lease is no "
    "longer renewed, and renders it again from the start, so the client still gets the finished result."
)


def fuzz_body(rng: random.Random) -> tuple[bytes, str]:
    kind = rng.choice(["text", "text", "text", "fields", "json", "bytes"])
    if kind == "bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))), "application/json"
    if kind == "json":
        return rng.choice([b"{", b"[]", b"null", b'{"text": 5}', b'{"text": "a"', b'"text"']), "application/json"
    text = "".join(rng.choice(ALPHABET) for _ in range(rng.choice([1, 5, 40, 200])))
    body: dict = {"text": text}
    if kind == "fields":
        body["speed"] = rng.choice([0, 0.5, 1, 2, 3, -1, "fast", None, 1e308])
        body["voice_id"] = rng.choice(["en_US-joe-medium", "../../etc/passwd", "", "x" * 300, None, 7])
    return json.dumps(body).encode(), "application/json"


def fuzz(base_url: str, count: int) -> tuple[int, int, dict[int, int]]:
    rng = random.Random(11)
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=base_url, timeout=120) as client:
        for _ in range(count):
            body, content_type = fuzz_body(rng)
            path = rng.choice(["/v1/avatar/render_async", "/v1/avatar/render_async", "/v1/avatar/render"])
            status = client.post(path, content=body, headers={"Content-Type": content_type}).status_code
            statuses[status] = statuses.get(status, 0) + 1
    return count, sum(n for status, n in statuses.items() if status >= 500), statuses


def slow_clients(base_url: str, count: int) -> tuple[int, int, float, int]:
    host, port = base_url.removeprefix("http://").split(":")
    body = b'{"text": "slow"}'
    sockets = []
    for index in range(2 * count):
        sock = socket.create_connection((host, int(port)), timeout=30)
        head = b"POST /v1/avatar/render HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\n" % len(body)
        sock.sendall(head + (b"\r\n" + body[:3] if index % 2 == 0 else b""))  # slow body / slow header
        sockets.append(sock)
    time.sleep(0.3)
    started = time.perf_counter()
    response = httpx.post(base_url + "/v1/avatar/render", json={"text": "A normal client."}, timeout=60)
    latency = time.perf_counter() - started
    timed_out = 0
    for sock in sockets:
        try:
            data = sock.recv(4096)
            timed_out += data.startswith(b"HTTP/1.1 408") or data == b""
        except OSError:
            timed_out += 1
        sock.close()
    return 2 * count, int(response.status_code == 503), latency, timed_out


def kill_loop(workdir: Path, rounds: int, jobs: int) -> tuple[int, int, float]:
    env = cli_env(workdir / "kill-loop", RENDER_WORKERS="1")
    accepted: list[str] = []
    for round_index in range(rounds):
        api, base_url = start_api(env, workdir / f"kill-{round_index}.log")
        for job in range(jobs):
            text = f"Round {round_index}, job {job}: accepted, then the server is killed."
            response = httpx.post(base_url + "/v1/avatar/render_async", json={"text": text})
            if response.status_code == 202:
                accepted.append(response.json()["render_id"])
        time.sleep(0.5)  # some jobs running, most queued
        api.kill(signal.SIGKILL)
    restarted_at = time.perf_counter()
    api, base_url = start_api(env, workdir / "kill-final.log")
    lost = 0
    try:
        for render_id in accepted:
            def finished(url=f"{base_url}/v1/avatar/render/{render_id}"):
                response = httpx.get(url)
                return response.status_code == 404 or response.json()["status"] in ("completed", "failed")

            wait_until(finished, timeout=600, what=render_id, interval=0.2)
            response = httpx.get(f"{base_url}/v1/avatar/render/{render_id}")
            lost += response.status_code != 200 or response.json()["status"] != "completed"
        recovery = time.perf_counter() - restarted_at
    finally:
        api.kill()
    return len(accepted), lost, recovery


def worker_kills(workdir: Path, kills: int) -> list[float]:
    binary = find_valkey_server()
    if binary is None:
        return []
    valkey = ValkeyServer(binary, workdir)
    valkey.start()
    recoveries = []
    try:
        env = service_env(valkey, workdir / "valkey-data")
        api, base_url = start_api(env, workdir / "valkey-api.log")
        survivor = start_worker(env, workdir / "survivor.log")
        try:
            for kill in range(kills):
                doomed = start_worker(env, workdir / f"doomed-{kill}.log")
                survivor.popen.send_signal(signal.SIGSTOP)  # so the doomed worker takes the job
                render_id = httpx.post(base_url + "/v1/avatar/render_async",
                                       json={"text": f"{LONG_TEXT} Kill {kill}."}).json()["render_id"]
                wait_until(lambda rid=render_id, worker=doomed: f"{rid}:render(" in worker.log(),
                           timeout=60, what="the doomed worker")
                survivor.popen.send_signal(signal.SIGCONT)
                doomed.kill(signal.SIGKILL)
                killed_at = time.perf_counter()
                poll_url = f"{base_url}/v1/avatar/render/{render_id}"
                wait_until(lambda url=poll_url: httpx.get(url).json()["status"] == "completed",
                           timeout=120, what="the re-run", interval=0.1)
                recoveries.append(time.perf_counter() - killed_at)
        finally:
            survivor.kill()
            api.kill()
    finally:
        valkey.stop()
    return recoveries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fuzz", type=int, default=300)
    parser.add_argument("--slow", type=int, default=15, help="slow-body and slow-header clients, each")
    parser.add_argument("--kill-rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=6, help="async jobs accepted per kill round")
    parser.add_argument("--worker-kills", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = cli_env(workdir / "data", MAX_CONCURRENT_REQUESTS="10", BODY_TIMEOUT_SECONDS="2",
                      HEADER_TIMEOUT_SECONDS="2", MAX_PENDING_JOBS="1000")
        api, base_url = start_api(env, workdir / "api.log")
        try:
            sent, errors, statuses = fuzz(base_url, args.fuzz)
            held, lockout, latency, timed_out = slow_clients(base_url, args.slow)
        finally:
            api.kill()
        accepted, lost, recovery = kill_loop(workdir, args.kill_rounds, args.jobs)
        recoveries = worker_kills(workdir, args.worker_kills)

    rows = [
        ("fuzzed requests / 5xx", f"{sent} / {errors}", "statuses " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))),
        ("slow clients held / lockout", f"{held} / {lockout}",
         f"normal render answered in {latency:.2f} s; {timed_out} slow clients timed out"),
        ("jobs accepted / lost (kill -9 loops)", f"{accepted} / {lost}", f"{args.kill_rounds} rounds of {args.jobs}"),
        ("recovery: restart → all resumed done", f"{recovery:.1f} s", "embedded queue, RENDER_WORKERS=1"),
        ("recovery: worker SIGKILL → done elsewhere",
         f"{statistics.median(recoveries):.1f} s" if recoveries else "n/a",
         f"median of {len(recoveries)}: " + ", ".join(f"{r:.1f}" for r in recoveries) if recoveries else "no valkey-server"),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"{'measure'.ljust(width)} | result      | detail")
    print(f"{'-' * width}-|-------------|-------")
    for name, result, detail in rows:
        print(f"{name.ljust(width)} | {result.ljust(11)} | {detail}")


if __name__ == "__main__":
    main()
