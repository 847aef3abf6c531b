#!/bin/sh
# Helm 4 runs this on `helm plugin install` and `helm plugin update` (plugin.yaml's
# platformHooks) with HELM_PLUGIN_DIR set to the installed plugin; its output reaches the
# user's terminal. It makes sure bin/pulse-harden exists there:
# - a packaged release (`make plugin-package`) already holds the binary: nothing to do
#   (plugin.yaml checks for it before calling this script, so no cargo is ever needed);
# - a source checkout (`helm plugin install <checkout or git URL>`) builds it with cargo;
#   without cargo the install fails with a message saying what to do instead.
# Usage: plugin-hook.sh install|update
set -eu

event="${1:-install}"
dir="${HELM_PLUGIN_DIR:?plugin-hook.sh runs as a Helm 4 plugin hook (HELM_PLUGIN_DIR is unset)}"
bin="$dir/bin/pulse-harden"

say() { printf 'pulse-harden: %s\n' "$*" >&2; }

if [ "$event" = install ] && [ -x "$bin" ]; then
  exit 0
fi
if [ ! -f "$dir/Cargo.toml" ]; then
  if [ -x "$bin" ]; then exit 0; fi
  say "this plugin package has no bin/pulse-harden and no sources to build it from."
  say "Install a package made by \`make plugin-package\`, or the source checkout."
  exit 1
fi
if ! command -v cargo >/dev/null 2>&1; then
  version="$(sed -n 's/^version: *//p' "$dir/plugin.yaml")"
  cat >&2 <<EOF
pulse-harden: cannot build bin/pulse-harden: this is a source checkout, and cargo (Rust)
  is not on PATH. Helm keeps the plugin registered without its binary, so first:
      helm plugin uninstall pulse-harden
  then either install Rust (https://rustup.rs) and run \`helm plugin install\` again,
  or install a packaged release, which holds the binary and needs no cargo:
      helm plugin install pulse-harden-$version.tgz --verify=false
  (\`make plugin-package\` on a machine with cargo makes one; \`make install-plugin\`
  builds and installs in one step).
EOF
  exit 1
fi

# CARGO_TARGET_DIR, if set, is honoured, so a build directory can be shared and reused.
target="${CARGO_TARGET_DIR:-$dir/target}"
say "building bin/pulse-harden from $dir with cargo (release; the first build takes minutes)"
cargo build --release --locked --quiet --manifest-path "$dir/Cargo.toml" --target-dir "$target"
mkdir -p "$dir/bin"
cp "$target/release/pulse-harden" "$bin.tmp"
chmod 0755 "$bin.tmp"
mv -f "$bin.tmp" "$bin"
# A copy Helm owns (installed from a git URL) need not keep the build; a linked checkout
# (installed from a local directory) keeps its target/ like any checkout.
if [ -z "${CARGO_TARGET_DIR:-}" ] && [ ! -L "$dir" ]; then
  rm -rf "$target"
fi
say "built $bin"
