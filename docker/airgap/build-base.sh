#!/usr/bin/env bash
# STAND-IN (CI and registry-less machines only): builds the Python base image
# from Debian packages with debootstrap, because `docker pull python:3.11-slim`
# cannot reach a registry here. The production path uses the official image.
set -euo pipefail
DOCKER=${DOCKER:-docker}
IMAGE=${1:?usage: build-base.sh IMAGE}
if $DOCKER image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE already present"; exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is required for AIRGAP=1 (apt-get install debootstrap)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
echo 'deb http://deb.debian.org/debian bookworm main' >"$root/etc/apt/sources.list"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
# What python:3.11-slim leaves out too: documentation, manual pages and message
# catalogues (about 50 of the 169 MB); the packages' copyright files stay, as
# in Debian's slim images. dpkg is told not to unpack them again, so the
# stand-in Postgres and S3 images built on this base stay small as well.
find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
rm -rf "$root/usr/share/man/"* "$root/usr/share/locale/"* "$root/usr/share/info/"*
cat >"$root/etc/dpkg/dpkg.cfg.d/01-slim" <<'CFG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/info/*
CFG
tar -C "$root" -c . | $DOCKER import \
  -c 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["python3"]' - "$IMAGE" >/dev/null
echo "built stand-in base image $IMAGE"
