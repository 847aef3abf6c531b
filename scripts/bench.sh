#!/usr/bin/env bash
# `make bench`: builds the release binary and the round-trip floor, makes sure PyYAML with
# libyaml is importable (installing it into .tools/python from PyPI if not), and runs
# bench/run.py, which writes bench/results.md. Takes several minutes; not part of `make test`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
pydir="${BENCH_PYTHON_DIR:-$root/.tools/python}"
export PYTHONPATH="$pydir${PYTHONPATH:+:$PYTHONPATH}"
if ! python3 -c 'import yaml; yaml.CLoader, yaml.CDumper' 2>/dev/null; then
  echo "bench: installing PyYAML (with libyaml) into $pydir" >&2
  python3 -m pip install --quiet --upgrade --target "$pydir" pyyaml
fi
if [ ! -x /usr/bin/time ]; then
  echo "bench: installing GNU time (peak memory)" >&2
  apt-get update -qq && apt-get install -y -qq time >/dev/null
fi
cargo build --release --locked --bin pulse-harden --example bench_roundtrip
exec python3 bench/run.py
