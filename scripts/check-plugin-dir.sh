#!/usr/bin/env bash
# `make install-plugin` calls this before it builds anything. It refuses when HELM is not Helm 4,
# and when a Helm 3 on this machine loads its plugins from the directory Helm 4 would install
# pulse-harden into: Helm 3 reads every plugin.yaml there strictly, and one Helm 4 manifest
# stops *all* its plugins from loading. Usage: check-plugin-dir.sh HELM [HELM4_DATA_HOME]
set -euo pipefail
helm="${1:?usage: check-plugin-dir.sh HELM [HELM4_DATA_HOME]}"
data_home="${2:-}"

helm4() { if [ -n "$data_home" ]; then HELM_DATA_HOME="$data_home" "$helm" "$@"; else "$helm" "$@"; fi; }

version="$(helm4 version --short 2>&1 || true)"
case "$version" in
  v4.*) ;;
  *)
    echo "install-plugin needs Helm 4 (HELM=$helm is ${version:-not found});" \
      "with Helm 3, put the binary on PATH instead: make install" >&2
    exit 1
    ;;
esac
# Helm installs a plugin into $HELM_DATA_HOME/plugins (whatever HELM_PLUGINS says).
target="$(helm4 env HELM_DATA_HOME)/plugins"
helm4_path="$(command -v "$helm" || true)"

# Every Helm 3 we can find: $HELM3, and `helm`/`helm3` on PATH.
for candidate in ${HELM3:-} helm helm3; do
  path="$(command -v "$candidate" 2>/dev/null)" || continue
  [ -n "$helm4_path" ] && [ "$path" -ef "$helm4_path" ] && continue
  v3="$("$path" version --short 2>/dev/null)" || continue
  case "$v3" in v3.*) ;; *) continue ;; esac
  # Helm 3 loads plugins from every directory of its HELM_PLUGINS (a path list).
  IFS=: read -r -a dirs <<<"$("$path" env HELM_PLUGINS)"
  for dir in "${dirs[@]}"; do
    if [ "${dir%/}" = "${target%/}" ] || { [ -e "$dir" ] && [ "$dir" -ef "$target" ]; }; then
      cat >&2 <<MSG
make install-plugin: refusing to install into $target:
  Helm 3 ($path, $v3) loads its plugins from there too, and one Helm 4 plugin.yaml
  such as pulse-harden's stops every Helm 3 plugin from loading.
  Give Helm 4 its own data directory, and run Helm 4 with it:
      make install-plugin HELM4_DATA_HOME=\$HOME/.local/share/helm4
      alias helm4='HELM_DATA_HOME=\$HOME/.local/share/helm4 helm4'   # your Helm 4 command
  or use Helm 3 with pulse-harden on PATH, no plugin: make install
MSG
      exit 1
    fi
  done
done
