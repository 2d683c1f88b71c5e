# The wheelhouse as an image, so deploy/Dockerfile can copy it in a build stage without it being part of the
# repository's build context (deploy/offline-build.sh builds it with the wheelhouse directory as context).
ARG BASE_IMAGE=avatar-debian:bookworm
FROM ${BASE_IMAGE}
COPY . /wheels
