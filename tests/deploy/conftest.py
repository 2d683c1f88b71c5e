"""Real Nginx (Debian's package) in front of a real `avatar-service serve`, set up from deploy/nginx.conf."""

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, home of the shared `support` package

from support.services import Process, cli_env, free_port, start_api, wait_until  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = ROOT / "web"


@dataclass
class Stack:
    nginx_url: str
    api: Process
    api_url: str
    data_dir: Path


def nginx_test_config(workdir: Path, listen_port: int, api_port: int, data_dir: Path) -> str:
    """deploy/nginx.conf with the container's names and paths swapped for this machine's, wrapped in the
    main-context lines the nginx image would provide; logs, pid and temp files stay in ``workdir``."""
    server_conf = (ROOT / "deploy" / "nginx.conf").read_text()
    replacements = {
        "server api:8000;": f"server 127.0.0.1:{api_port};",
        "listen 80;": f"listen 127.0.0.1:{listen_port};",
        "root /srv/web;": f"root {WEB_DIR};",
        "alias /data/audio/;": f"alias {data_dir / 'audio'}/;",
    }
    for container_value, local_value in replacements.items():
        assert container_value in server_conf, f"deploy/nginx.conf no longer has {container_value!r}"
        server_conf = server_conf.replace(container_value, local_value)
    temp_kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp_paths = "\n".join(f"    {kind}_temp_path {workdir / kind};" for kind in temp_kinds)
    # As root, Nginx's workers would drop to `nobody`, who cannot read pytest's private temp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""{user}
daemon off;
worker_processes 1;
pid {workdir / 'nginx.pid'};
error_log {workdir / 'error.log'} info;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {workdir / 'access.log'};
{temp_paths}
{server_conf}
}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file() else None)
    if nginx is None:
        message = "no nginx: apt-get install nginx"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)

    workdir = tmp_path_factory.mktemp("nginx")
    data_dir = tmp_path_factory.mktemp("data")
    api, api_url = start_api(cli_env(data_dir, QUEUE="embedded", WEB_DIR=str(WEB_DIR)), workdir / "api.log")
    port = free_port()
    config = workdir / "nginx.conf"
    config.write_text(nginx_test_config(workdir, port, int(api_url.rsplit(":", 1)[1]), data_dir))
    command = [nginx, "-p", str(workdir), "-c", str(config), "-e", str(workdir / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    server = Process(command, os.environ.copy(), workdir / "nginx.out")
    nginx_url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert server.popen.poll() is None, (workdir / "error.log").read_text()
        try:
            httpx.get(nginx_url + "/health", timeout=2)
            return True
        except httpx.TransportError:
            return False

    wait_until(answers, timeout=20, what="nginx")
    yield Stack(nginx_url, api, api_url, data_dir)
    server.kill(signal.SIGQUIT)
    api.kill()
