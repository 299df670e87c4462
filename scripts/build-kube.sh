#!/usr/bin/env bash
# Build a real Kubernetes control plane for the tests from the Go module proxy (no release binary can be
# downloaded here): etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and a kubelet, at the exact
# versions of tests/kube/go.mod. Prints the bin directory to put on PATH (or to hand to the test fixture).
#   scripts/build-kube.sh            → ~/.cache/aipair/kube-<key>/bin
# The binaries are cached outside the clone, keyed by go.sum and the Go version; the Go build cache is
# left where Go keeps it (~4 GB cold). Cold: ~6 minutes on 2 idle cores and ~3 GB of memory.
# k8s.io/kubernetes replaces its staging modules (k8s.io/api, client-go, …) with local paths, which a
# dependent module ignores: tests/kube/go.mod pins each of them at the matching v0.x release instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
module="$root/tests/kube"
command -v go >/dev/null || { echo "Go 1.26+ is needed to build the test control plane (see tests/kube/go.mod)" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly
key=$( (cat "$module/go.sum" "$module/go.mod"; go version) | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/aipair/kube-$key"
tools=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet)
complete() { local t; for t in "${tools[@]}"; do [[ -x "$cache/bin/$t" ]] || return 1; done; }
if complete; then
  echo "$cache/bin"
  exit 0
fi
version=$(cd "$module" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=$(echo "$version" | cut -d. -f2)
stamp=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
ldflags="-s -w"
for pkg in "${stamp[@]}"; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
echo "building the test control plane (Kubernetes $version) into $cache/bin: a few minutes the first time" >&2
mkdir -p "${cache%/*}"
staging=$(mktemp -d "${cache%/*}/.kube-build.XXXXXX")  # beside the cache: the final mv is atomic
trap 'rm -rf "$staging"' EXIT
(cd "$module" && go build -trimpath -ldflags "$ldflags" -o "$staging/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet \
  go.etcd.io/etcd/server/v3) >&2
mv "$staging/server" "$staging/etcd"  # the etcd module's root is its main package: go names it "server"
mkdir -p "$cache"
rm -rf "$cache/bin"
mv "$staging" "$cache/bin"
trap - EXIT
"$cache/bin/kube-apiserver" --version >&2
echo "$cache/bin"
