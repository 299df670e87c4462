#!/usr/bin/env bash
# What the real-engine tests need on a Debian machine, installed when missing (make test runs this):
# the Docker engine and tini, a static busybox for the mock image, OpenSSH for the remote-deploy test,
# Debian's OCI registry and htpasswd for the upgrade tests, PostgreSQL 15 for the rendered database SQL, Maven for the Kestra engine tests,
# openssl for the test Kubernetes control plane's certificates, containerd, runc and the CNI plugins for its
# node (the binaries: scripts/build-kube.sh). Without root it only says what is missing.
set -euo pipefail
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v docker-init >/dev/null 2>&1 || need+=(tini)
{ [[ -x /bin/busybox ]] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; } || need+=(busybox-static file)
command -v sshd >/dev/null 2>&1 || [[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
[[ -x /usr/bin/docker-registry ]] || need+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v git >/dev/null 2>&1 || need+=(git)
[[ -x /usr/lib/postgresql/15/bin/postgres ]] || need+=(postgresql-15)
command -v mvn >/dev/null 2>&1 || need+=(maven)  # the Kestra engine tests (tests/kestra-engine)
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # certificates of the test Kubernetes control plane
command -v containerd >/dev/null 2>&1 || need+=(containerd)  # the test Kubernetes node: its container runtime,
command -v runc >/dev/null 2>&1 || need+=(runc)
[[ -x /usr/lib/cni/bridge ]] || need+=(containernetworking-plugins)  # and its pod network
((${#need[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "the tests need: ${need[*]} (apt-get install -y ${need[*]}, as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
