#!/bin/sh
# Every image's entrypoint: export this container's credentials, then run the command.
# A principal's credentials reach its containers as a file, never as container
# environment (docker inspect shows none): `env` in the volume mounted at
# PLATFORM_SECRETS_DIR holds NAME=value lines (platformctl.credentials). The
# command is the image's CMD or what a run launcher passes: `exec "$@"` keeps it
# PID 1. Without the file (Kubernetes, which injects Secrets as env) nothing changes.
set -eu
file="${PLATFORM_SECRETS_DIR:-/run/secrets/platform}/env"
if [ -r "$file" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      ''|'#'*) continue ;;
      [A-Za-z_]*=*) name=${line%%=*} ;;
      *) echo "entrypoint: $file: not NAME=value: skipped a line" >&2; continue ;;
    esac
    case "$name" in
      *[!A-Za-z0-9_]*) echo "entrypoint: $file: bad variable name: skipped a line" >&2; continue ;;
    esac
    export "$line"
  done <"$file"
fi
exec "$@"
