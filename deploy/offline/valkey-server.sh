#!/bin/sh
# valkey-server with protected mode off by default, as the official image builds it
# (https://github.com/valkey-io/valkey-container: its Dockerfile flips the default in config.c). Only the
# compose network reaches this container, and the API and workers connect from other containers; with
# VALKEY_PASSWORD set, requirepass guards it anyway. A config file must stay the first argument, and options
# given here come after ours, so they win.
case "${1:-}" in
    "" | -*) exec /usr/local/libexec/valkey-server --protected-mode no "$@" ;;
    *) config="$1"; shift; exec /usr/local/libexec/valkey-server "$config" --protected-mode no "$@" ;;
esac
