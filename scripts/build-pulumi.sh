#!/usr/bin/env bash
# Build the Pulumi CLI from its Go module (the CLI is not on PyPI and no prebuilt binary can be
# downloaded here), cached per version. Prints the bin directory to put on PATH.
#   scripts/build-pulumi.sh            → ~/.cache/aipair/pulumi-v3.200.0/bin
# The module proxy serves pulumi/pkg/v3 only at some versions; its go.mod replaces the SDK with
# ../sdk, which is swapped here for the released SDK of the same version.
set -euo pipefail
version="${PULUMI_VERSION:-v3.200.0}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/aipair/pulumi-$version"
if [[ -x "$cache/bin/pulumi" ]] && "$cache/bin/pulumi" version 2>/dev/null | grep -q "${version#v}"; then
  echo "$cache/bin"
  exit 0
fi
command -v go >/dev/null || { echo "Go is needed to build the Pulumi CLI (apt-get install golang)" >&2; exit 1; }
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@$version" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))')
cp -r "$dir" "$work/pkg" && chmod -R u+w "$work/pkg"
cd "$work/pkg"
go mod edit -dropreplace=github.com/pulumi/pulumi/sdk/v3 -require="github.com/pulumi/pulumi/sdk/v3@$version"
go mod tidy >/dev/null 2>&1
mkdir -p "$cache/bin"
go build -o "$cache/bin/pulumi" \
  -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" ./cmd/pulumi >&2
"$cache/bin/pulumi" version >&2
echo "$cache/bin"
