"""Docker is not available here, so the compose deployment is checked by reading it: it parses, and every
file, port, volume and variable it mentions exists where it points."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from avatar_service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SETTINGS_ENV_NAMES = {name.upper() for name in Settings.model_fields}
# Read by uvicorn itself, not by Settings: trust X-Forwarded-* from the Nginx container.
SERVER_ENV_NAMES = {"FORWARDED_ALLOW_IPS"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def compose_variables() -> set[str]:
    """``${NAME}`` and ``${NAME:-default}``, which compose fills in (``$${...}`` is the container shell's)."""
    text = (DEPLOY / "docker-compose.yml").read_text()
    return set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))


def test_services_for_a_scalable_deployment(compose):
    services = compose["services"]
    assert {"valkey", "api", "worker", "nginx"} <= set(services)
    worker = services["worker"]
    # `--scale worker=N` needs workers without a fixed name or published port.
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"] == ["avatar-service", "worker"]
    assert services["api"]["command"][:2] == ["avatar-service", "serve"]


def test_the_image_builds_from_files_that_exist(compose):
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "avatar-service" in scripts
    for name in ("api", "worker"):
        build = compose["services"][name]["build"]
        context = (DEPLOY / build["context"]).resolve()
        dockerfile = context / build["dockerfile"]
        assert dockerfile.is_file(), dockerfile
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY "):
                for source in line.split()[1:-1]:
                    assert (context / source).exists(), f"{dockerfile.name}: COPY {source} is missing"


def test_bind_mounts_and_volumes_exist(compose):
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"


def test_service_environment_names_are_real_settings(compose):
    for name in ("api", "worker"):
        environment = compose["services"][name]["environment"]
        unknown = set(environment) - SETTINGS_ENV_NAMES - SERVER_ENV_NAMES
        assert not unknown, f"{name}: {unknown} are not Settings fields"
        settings = Settings(**{key.lower(): value for key, value in environment.items()
                               if key in SETTINGS_ENV_NAMES})
        assert settings.queue_kind == "valkey"
        assert settings.valkey_host in compose["services"]  # the host name is the Valkey service
        assert settings.valkey_port == 6379


def test_env_example_keys_are_settings_or_compose_variables(env_example):
    variables = compose_variables()
    unknown = set(env_example) - SETTINGS_ENV_NAMES - variables
    assert not unknown, f".env.example: {unknown} are neither Settings fields nor used by docker-compose.yml"
    assert "AUDIO_BASE_URL" in env_example  # the public base URL
    # Every compose variable without a default is provided by .env.example.
    text = (DEPLOY / "docker-compose.yml").read_text()
    for name in variables:
        has_default = re.search(r"(?<!\$)\$\{" + name + r":?-", text)
        assert has_default or name in env_example, f"${{{name}}} has no default and no .env.example entry"


def test_env_example_values_are_valid_settings(env_example):
    values = {key.lower(): value for key, value in env_example.items() if key in SETTINGS_ENV_NAMES and value}
    Settings(**values)  # raises on a bad value, e.g. a non-numeric limit


def test_nginx_and_the_services_agree_on_ports_and_paths(compose):
    services = compose["services"]
    nginx_conf = (DEPLOY / "nginx.conf").read_text()
    api_command = services["api"]["command"]
    api_port = api_command[api_command.index("--port") + 1]
    assert re.search(rf"server\s+api:{api_port};", nginx_conf)
    assert re.search(r"listen\s+80;", nginx_conf)
    assert services["nginx"]["ports"][0].endswith(":80")

    mounts = {mount.split(":")[1]: mount.split(":")[0] for mount in services["nginx"]["volumes"]}
    assert mounts["/etc/nginx/conf.d/default.conf"] == "./nginx.conf"
    web_root = re.search(r"root\s+(\S+);", nginx_conf).group(1)
    assert mounts[web_root] == "../web"
    # Nginx serves audio from the same volume the API and workers write to, at DATA_DIR/audio.
    audio_alias = re.search(r"location /audio/ \{\s*alias\s+(\S+);", nginx_conf).group(1)
    for name in ("api", "worker"):
        data_dir = services[name]["environment"]["DATA_DIR"]
        data_volume = next(m.split(":")[0] for m in services[name]["volumes"] if m.split(":")[1] == data_dir)
        nginx_target = next(
            m.split(":")[1] for m in services["nginx"]["volumes"] if m.startswith(data_volume + ":")
        )
        assert audio_alias.rstrip("/") == str(Settings(data_dir=nginx_target).audio_dir)
        assert nginx_target == data_dir
