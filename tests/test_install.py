"""The project as a user installs it: non-editable, into a fresh venv, used from a folder other than the checkout.

The venv sees the shared site-packages (--system-site-packages) for the heavy dependencies, but the project
itself is built into a wheel and installed with `pip install --no-deps .`: the test checks that this copy, not
the checkout, is the one that runs. Then the README's steps: `pack create` from a photo, `serve`, the new pack in
/v1/avatars with its files served, and a render.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.packs.conftest import GRACE_HOPPER
from tests.support import require
from tests.support.services import free_port, wait_until

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.tracking


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a venv holding a wheel build of this checkout."""
    require(importlib.util.find_spec("mediapipe") is not None, "mediapipe (the [tracking] extra)")
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", str(REPO)],
        capture_output=True, text=True, timeout=600, env=user_env(),
    )
    assert done.returncode == 0, done.stderr
    return venv / "bin"


def user_env(**extra: str) -> dict[str, str]:
    """A user's shell: no PYTHONPATH pointing at the checkout, no DATA_DIR or PACKS_DIR."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DATA_DIR", "PACKS_DIR", "WEB_DIR")}
    return {**env, **extra}


def test_wheel_install_creates_a_pack_and_serves_it_from_another_folder(installed, tmp_path):
    home = tmp_path / "elsewhere"
    home.mkdir()
    env = user_env(XDG_DATA_HOME=str(tmp_path / "xdg"))
    where = subprocess.run(
        [str(installed / "python"), "-c", "import avatar_service; print(avatar_service.__file__)"],
        cwd=home, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert where.startswith(str(installed.parent)), where  # the wheel's copy, not the checkout

    created = subprocess.run(
        [str(installed / "avatar-service"), "pack", "create", "--photo", str(GRACE_HOPPER), "--id", "me_v1",
         "--name", "Me", "--attribution", "test photo"],
        cwd=home, env=env, capture_output=True, text=True, timeout=300,
    )
    assert created.returncode == 0, created.stderr
    validated = subprocess.run(
        [str(installed / "avatar-service"), "pack", "validate", "me_v1"], cwd=home, env=env, capture_output=True,
        text=True, timeout=120,
    )
    assert validated.returncode == 0 and "ok: me_v1" in validated.stdout, validated.stderr

    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [str(installed / "avatar-service"), "serve", "--port", str(port)], cwd=home, env=env,
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy() -> bool:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                return httpx.get(f"{base}/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, timeout=90, what="the installed serve to answer")
        packs = {pack["id"]: pack for pack in httpx.get(f"{base}/v1/avatars").json()}
        manifest = httpx.get(base + packs["me_v1"]["manifest_url"]).json()
        files = [httpx.get(f"{base}/avatars/me_v1/{name}") for name in (manifest["base_face"], manifest["idle_video"])]
        rendered = httpx.post(f"{base}/v1/avatar/render", json={"text": "Hello from the wheel."}, timeout=120)
        audio = httpx.get(rendered.json()["audio_url"])
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        log.close()

    assert "grace_hopper_v1" in packs  # the shipped packs are still there
    assert manifest["name"] == "Me"
    assert all(file.status_code == 200 and len(file.content) > 1000 for file in files)
    assert rendered.status_code == 200 and audio.status_code == 200 and audio.content[:4] == b"OggS"
    assert not (home / "data").exists() and not (home / "web").exists()
    assert (tmp_path / "xdg" / "avatar-service" / "avatars" / "me_v1" / "manifest.json").is_file()
