#!/usr/bin/env bash
# Installs kubernetes-validate into a Python venv (default .tools/venv) so the seed tests can
# check output against the official Kubernetes 1.32 OpenAPI-derived JSON schemas offline.
# The PyPI package bundles those schemas per Kubernetes version (1.25 to 1.37 in 1.37.0),
# so nothing is fetched at test time. Idempotent: a venv with the pinned version is kept.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$root/.tools/venv}"
version=1.37.0

if [ -x "$venv/bin/kubernetes-validate" ] &&
  [ "$("$venv/bin/kubernetes-validate" --version 2>/dev/null)" = "$version" ]; then
  exit 0
fi
# Debian splits venv support out of python3; install it the way fetch-tools.sh installs npm.
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
  echo "fetch-schema-validator: installing python3-venv" >&2
  sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if_needed apt-get update -qq
  sudo_if_needed apt-get install -y -qq python3 python3-venv >/dev/null
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$version"
"$venv/bin/kubernetes-validate" --version
