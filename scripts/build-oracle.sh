#!/usr/bin/env bash
# Builds the goyaml oracle (what Kubernetes reads from a YAML stream) into .tools/bin from
# Debian's Go packages: no module download, only apt.
set -euo pipefail
src="${1:?usage: build-oracle.sh DIR-WITH-main.go}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.tools/bin/goyaml-oracle"
mkdir -p "$(dirname "$out")"
if [ -x "$out" ] && [ "$out" -nt "$src/main.go" ]; then exit 0; fi

pkgs=(golang-go golang-k8s-sigs-yaml-dev golang-gopkg-yaml.v3-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-oracle: installing ${missing[*]}" >&2
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq
  $sudo_ apt-get install -y -qq "${missing[@]}" >/dev/null
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$src/main.go" "$tmp/"
(cd "$tmp" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$tmp/cache" GOFLAGS= go build -o "$out" main.go)
echo "built $out"
