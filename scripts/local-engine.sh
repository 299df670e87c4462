#!/usr/bin/env bash
# Make sure a Docker engine answers: use the one DOCKER_HOST (or the default socket) points at, or start
# the local dockerd (systemd when present, else in the background). Used by `make demo`.
set -euo pipefail
if docker info >/dev/null 2>&1; then
  echo "Docker engine $(docker info --format '{{.ServerVersion}}') answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}"
  exit 0
fi
if [[ -n "${DOCKER_HOST:-}" ]]; then
  echo "DOCKER_HOST=$DOCKER_HOST does not answer; unset it to use a local engine" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "no Docker engine here: apt-get install -y docker.io iptables (or run: aipair host bootstrap)" >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "starting dockerd needs root: run this with sudo" >&2
  exit 1
fi
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  systemctl start docker
else
  nohup dockerd >/var/log/aipair-dockerd.log 2>&1 &
fi
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    echo "started Docker engine $(docker info --format '{{.ServerVersion}}')"
    exit 0
  fi
  sleep 0.5
done
echo "dockerd did not start; see /var/log/aipair-dockerd.log" >&2
exit 1
