#!/usr/bin/env python3
"""The benchmark profile (bench/profile.yaml) in Python with PyYAML's libyaml bindings
(CLoader/CDumper): stdin to stdout. Every document is parsed and re-emitted, since PyYAML
cannot pass text through; only-if-absent is written out by hand."""

import sys

import yaml

POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
SPREAD = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
           "whenUnsatisfiable": "ScheduleAnyway"}]


def merge_if_absent(target, patch):
    for key, value in patch.items():
        if key not in target:
            target[key] = value
        elif isinstance(value, dict) and isinstance(target[key], dict):
            merge_if_absent(target[key], value)


def harden(doc):
    if not isinstance(doc, dict):
        return
    path = POD_SPEC_PATHS.get(doc.get("kind"))
    spec = doc
    for key in path or ("-",):
        spec = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return
    merge_if_absent(spec, {"securityContext": {"runAsNonRoot": True,
                                               "seccompProfile": {"type": "RuntimeDefault"}}})
    for list_name in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(list_name) or []:
            merge_if_absent(container, {"securityContext": {
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}})
    if doc["kind"] in ("Deployment", "StatefulSet"):
        merge_if_absent(spec, {"topologySpreadConstraints": SPREAD})


def main():
    docs = list(yaml.load_all(sys.stdin, Loader=yaml.CLoader))
    for doc in docs:
        harden(doc)
    yaml.dump_all(docs, sys.stdout, Dumper=yaml.CDumper, sort_keys=False,
                  explicit_start=True)


if __name__ == "__main__":
    main()
