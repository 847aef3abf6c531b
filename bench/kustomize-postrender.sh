#!/usr/bin/env bash
# kustomize as a Helm post-renderer (the Helm docs' pattern): the stream from stdin becomes
# the kustomization's only resource, the result goes to stdout.
# usage: kustomize-postrender.sh KUSTOMIZATION_DIR  (a kustomization.yaml naming all.yaml)
set -euo pipefail
cat > "$1/all.yaml"
exec "${KUBECTL:-kubectl}" kustomize "$1"
