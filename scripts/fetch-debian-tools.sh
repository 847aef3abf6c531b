#!/usr/bin/env bash
# Installs what the tests need from Debian packages:
#   docker-registry  the CNCF distribution registry, started on loopback by tests/common/registry.rs
#   skopeo           pushes the OCI layouts the registry tests build
#   htpasswd         (apache2-utils) for the registry behind basic auth
#   openssl          signs the tokens of the registry behind bearer-token auth
#   /usr/bin/time    (GNU time) the peak memory of each run in tests/hostile.rs
# Idempotent: nothing is installed when all of them are already there.
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -x /usr/bin/time ] || missing+=(time)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "fetch-debian-tools: installing ${missing[*]}" >&2
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
for tool in docker-registry skopeo htpasswd openssl /usr/bin/time; do command -v "$tool" >/dev/null; done
