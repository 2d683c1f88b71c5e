# Nginx for the air-gapped deployment (deploy/compose.offline.yml): Debian's package on the local Debian base,
# laid out like the official image, so compose mounts deploy/nginx.conf as conf.d/default.conf either way.
ARG BASE_IMAGE=avatar-debian:bookworm
FROM ${BASE_IMAGE}
# Debian's nginx.conf includes conf.d/*.conf and sites-enabled/*; the packaged default site also claims
# port 80, so it goes. Logs go to the container's output, as in the official image.
RUN rm -f /etc/nginx/sites-enabled/default \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
# SIGQUIT is Nginx's graceful shutdown (https://nginx.org/en/docs/control.html).
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
