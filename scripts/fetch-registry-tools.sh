#!/usr/bin/env bash
# Installs what the registry tests need, from Debian packages: `docker-registry` (the CNCF
# distribution registry, started on loopback by tests/common/registry.rs), `skopeo` (pushes
# the OCI layouts the tests build) and `htpasswd` (apache2-utils, for the registry behind basic
# auth) and `openssl` (signs the tokens of the registry behind bearer-token auth).
# Idempotent: nothing is installed when all four are already on PATH.
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "fetch-registry-tools: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian package starts its own registry service where an init system runs; the tests
# start theirs, so stop it if it came up.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  "${sudo[@]}" systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
for tool in docker-registry skopeo htpasswd openssl; do command -v "$tool" >/dev/null; done
