#!/bin/sh
# SeaweedFS as the platform's S3 store, one container.
#
# Only the S3 API is reachable from the network. weed's master, volume server and
# filer, and the S3 gateway's gRPC port (which takes identity changes from anyone
# who can reach it, with no authentication: docs/security.md), all listen on
# loopback; socat forwards the S3 port, 8333, to the gateway on 127.0.0.1:8334.
#
# Identities (one key per principal, bucket-level actions) come from s3.json in
# the container's credentials volume; `kill -s HUP` (platformctl rotate) makes
# weed read it again without a restart.
set -eu
config="${PLATFORM_SECRETS_DIR:-/run/secrets/platform}/s3.json"
if [ ! -r "$config" ]; then
  echo "s3: $config not found: the store's identities are written there by make up (platformctl sync)" >&2
  exit 1
fi
socat TCP-LISTEN:8333,fork,reuseaddr TCP:127.0.0.1:8334 &
exec weed server -dir=/data -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
  -master.volumeSizeLimitMB=1024 -volume.max=0 \
  -s3 -s3.port=8334 -s3.port.iceberg=0 -s3.port.lance=0 -s3.iam=false -s3.config="$config" "$@"
