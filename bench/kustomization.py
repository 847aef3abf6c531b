#!/usr/bin/env python3
"""Writes the kustomization a Helm user would need for the benchmark profile on STREAM, the
post-renderer pattern from the Helm docs: the rendered stream as the only resource, plus
patches. kustomize cannot say "every container" (a strategic merge patch addresses containers
by name, a JSON patch by index), nor "only where absent" (both patch kinds overwrite), so
this writes one strategic merge patch per workload, naming its containers, and the chart's
own settings are overwritten where they differ. Generated once, outside the timing.

usage: kustomization.py STREAM OUT_DIR
"""

import sys
from pathlib import Path

import yaml

TEMPLATE_PATHS = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def container_security():
    """A fresh mapping per container, so the patch text has no YAML aliases."""
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def patch_for(doc):
    kind = doc.get("kind")
    if kind not in TEMPLATE_PATHS:
        return None
    template = doc
    for key in TEMPLATE_PATHS[kind]:
        template = template.get(key) or {}
    spec = template.get("spec") or {}
    pod_patch = {"securityContext": {"runAsNonRoot": True,
                                     "seccompProfile": {"type": "RuntimeDefault"}}}
    for list_name in ("initContainers", "containers"):
        names = [c["name"] for c in spec.get(list_name) or [] if "name" in c]
        if names:
            pod_patch[list_name] = [{"name": n, "securityContext": container_security()}
                                    for n in names]
    if kind in ("Deployment", "StatefulSet"):
        pod_patch["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway"}]
    body = {"spec": pod_patch}
    for key in reversed(TEMPLATE_PATHS[kind]):
        body = {key: body}
    meta = doc.get("metadata") or {}
    target = {"kind": kind, "name": meta.get("name")}
    if meta.get("namespace"):
        target["namespace"] = meta["namespace"]
    body = {"apiVersion": doc.get("apiVersion"), "kind": kind,
            "metadata": {"name": meta.get("name")}, **body}
    return {"target": target, "patch": yaml.dump(body, Dumper=yaml.CDumper, sort_keys=False)}


def main():
    stream, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    with stream.open() as f:
        docs = [d for d in yaml.load_all(f, Loader=yaml.CLoader) if isinstance(d, dict)]
    patches = [p for p in map(patch_for, docs) if p]
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "resources": ["all.yaml"], "patches": patches}
    (out / "kustomization.yaml").write_text(
        yaml.dump(kustomization, Dumper=yaml.CDumper, sort_keys=False))


if __name__ == "__main__":
    main()
