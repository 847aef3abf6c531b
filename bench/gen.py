#!/usr/bin/env python3
"""Generates a realistic rendered Helm stream of about SIZE bytes from the real charts in
../shared/corpus/: their documents repeated in order, each repetition with renamed resources
and namespaces (so kustomize sees no duplicate IDs), keeping `# Source:` headers, hooks, CRDs
and big ConfigMaps as they are. Deterministic: same corpus and size, same bytes.

usage: gen.py CORPUS_DIR SIZE_BYTES OUT_FILE [SHAPE]

SHAPE `charts` (the default) is the stream above. SHAPE `workloads` is what a platform renders
for many small releases: per release a few Deployments, a StatefulSet, a DaemonSet, a Job, a
CronJob and a test Pod (1-3 containers each, most with an init container, realistic probes,
env, resources and volumes), with the Services, ConfigMaps and ServiceAccounts beside them;
about a tenth of the pods set an opposite value on purpose (`allowPrivilegeEscalation: true`,
`runAsNonRoot: false`, seccomp `Unconfined`, an added capability), so a profile has conflicts
to report. Every pod template is changed by the default profile. CORPUS_DIR is not read.
"""

import random
import re
import sys
from pathlib import Path

# Small charts first, so that the ~50 KB stream is a mix of several charts rather than the
# start of argo-cd (1.9 MB, mostly CRDs); one round of all of them is a ~2 MB stream.
CHARTS = [
    "nginx.yaml",
    "postgresql-backup.yaml",
    "ingress-nginx.yaml",
    "grafana-persistence.yaml",
    "fluent-bit.yaml",
    "descheduler.yaml",
    "elasticsearch.yaml",
    "prometheus.yaml",
    "cert-manager.yaml",
    "argo-cd.yaml",
]

# `metadata.name` / `metadata.namespace` of a document: two-space indented under `metadata:`.
NAME_LINE = re.compile(r'^(  (?:name|namespace): )("?)([^"\n]*)("?)[ \t]*$')


def documents(text):
    """Splits on `---` lines, keeping each document's header comments with it."""
    docs, current = [], []
    for line in text.splitlines(keepends=True):
        if line.startswith("---") and line[3:].strip() == "":
            if current:
                docs.append("".join(current))
            current = []
        else:
            current.append(line)
    if current and "".join(current).strip():
        docs.append("".join(current))
    return docs


def rename(doc, suffix):
    """Appends `suffix` to the document's own name and namespace, nothing else."""
    out, in_metadata = [], False
    for line in doc.splitlines(keepends=True):
        if line.startswith("metadata:"):
            in_metadata = True
        elif in_metadata and line.strip() and not line.startswith(" "):
            in_metadata = False
        elif in_metadata:
            match = NAME_LINE.match(line.rstrip("\n"))
            if match:
                head, open_q, value, close_q = match.groups()
                line = f"{head}{open_q}{value}{suffix}{close_q}\n"
        out.append(line)
    return "".join(out)


# --- the workload-dense shape ---------------------------------------------------------------

IMAGES = ["nginx:1.27.3", "ghcr.io/acme/api:2.14.1", "quay.io/prometheus/node-exporter:v1.8.2",
          "docker.io/bitnami/redis:7.4.1", "registry.k8s.io/pause:3.10",
          "acme.azurecr.io/worker@sha256:" + "ab12" * 16, "busybox:1.36"]


def container(rng, name, init=False):
    image = rng.choice(IMAGES)
    lines = [f"- name: {name}", f"  image: \"{image}\"", "  imagePullPolicy: IfNotPresent"]
    if init:
        lines += ["  command: [\"sh\", \"-c\", \"until nc -z db 5432; do sleep 1; done\"]"]
    else:
        port = rng.choice([80, 8080, 8443, 9090, 3000])
        lines += ["  args:", "    - --log-level=info", f"    - --listen=:{port}",
                  "  ports:", f"    - name: http", f"      containerPort: {port}",
                  "      protocol: TCP", "  env:"]
        for i in range(rng.randint(2, 6)):
            lines += [f"    - name: SETTING_{i}", f"      value: \"{rng.choice(['true', 'yes', '0644', 'on', 'x'])}\""]
        lines += ["    - name: POD_NAME", "      valueFrom:", "        fieldRef:",
                  "          fieldPath: metadata.name"]
        for probe in ("livenessProbe", "readinessProbe"):
            lines += [f"  {probe}:", "    httpGet:", f"      path: /{probe[:5]}z",
                      "      port: http", "    initialDelaySeconds: 5", "    periodSeconds: 10"]
        lines += ["  resources:", "    requests:", "      cpu: 100m", "      memory: 128Mi",
                  "    limits:", "      memory: 256Mi", "  volumeMounts:",
                  "    - name: config", "      mountPath: /etc/app", "      readOnly: true"]
    if rng.random() < 0.1:
        lines += ["  securityContext:", rng.choice([
            "    allowPrivilegeEscalation: true",
            "    capabilities:\n      add: [\"NET_ADMIN\"]",
            "    runAsUser: 0",
            "    privileged: false\n    readOnlyRootFilesystem: true"])]
    return lines


def pod_spec(rng, release, app, indent):
    lines = [f"serviceAccountName: {release}"]
    if rng.random() < 0.1:
        lines += ["securityContext:", rng.choice([
            "  runAsNonRoot: false", "  seccompProfile:\n    type: Unconfined",
            "  fsGroup: 1001"])]
    if rng.random() < 0.7:
        lines.append("initContainers:")
        lines += ["  " + l for l in container(rng, "wait-for-db", init=True)]
    lines.append("containers:")
    for c in range(rng.randint(1, 3)):
        lines += ["  " + l for l in container(rng, app if c == 0 else f"{app}-sidecar-{c}")]
    lines += ["volumes:", "  - name: config", "    configMap:", f"      name: {release}-config"]
    pad = " " * indent
    return "".join(f"{pad}{l}\n" for line in lines for l in line.split("\n"))


def meta(release, name, namespace, app=None, kind_extra=""):
    labels = (f"    app.kubernetes.io/name: {app or name}\n"
              f"    app.kubernetes.io/instance: {release}\n"
              f"    app.kubernetes.io/managed-by: Helm\n"
              f"    helm.sh/chart: {release}-1.4.2\n")
    return f"metadata:\n  name: {name}\n  namespace: {namespace}\n  labels:\n{labels}{kind_extra}"


def template(rng, release, app, indent):
    pad = " " * indent
    return (f"{pad}template:\n{pad}  metadata:\n{pad}    labels:\n"
            f"{pad}      app.kubernetes.io/name: {app}\n{pad}      app.kubernetes.io/instance: {release}\n"
            f"{pad}    annotations:\n{pad}      checksum/config: \"{rng.getrandbits(128):032x}\"\n"
            f"{pad}  spec:\n" + pod_spec(rng, release, app, indent + 4))


def selector(release, app):
    return (f"  selector:\n    matchLabels:\n      app.kubernetes.io/name: {app}\n"
            f"      app.kubernetes.io/instance: {release}\n")


def release_documents(rng, number):
    release, ns = f"rel{number}", f"team-{number % 37}"
    src = lambda t: f"# Source: {release}/templates/{t}.yaml\n"
    docs = [
        src("serviceaccount") + f"apiVersion: v1\nkind: ServiceAccount\n" + meta(release, release, ns),
        src("configmap") + "apiVersion: v1\nkind: ConfigMap\n" + meta(release, f"{release}-config", ns)
        + "data:\n  app.yaml: |\n    listen: :8080\n    log: info\n  FEATURE: \"on\"\n",
    ]
    for d in range(rng.randint(1, 3)):
        app = f"{release}-api{d}"
        docs.append(src("service") + "apiVersion: v1\nkind: Service\n" + meta(release, app, ns)
                    + f"spec:\n  type: ClusterIP\n  ports:\n    - port: 80\n      targetPort: http\n"
                    f"  selector:\n    app.kubernetes.io/name: {app}\n")
        docs.append(src("deployment") + "apiVersion: apps/v1\nkind: Deployment\n" + meta(release, app, ns)
                    + f"spec:\n  replicas: {rng.choice([1, 2, 3])}\n" + selector(release, app)
                    + template(rng, release, app, 2))
    app = f"{release}-db"
    docs.append(src("statefulset") + "apiVersion: apps/v1\nkind: StatefulSet\n" + meta(release, app, ns)
                + f"spec:\n  serviceName: {app}\n  replicas: 3\n" + selector(release, app)
                + template(rng, release, app, 2))
    if rng.random() < 0.5:
        app = f"{release}-agent"
        docs.append(src("daemonset") + "apiVersion: apps/v1\nkind: DaemonSet\n" + meta(release, app, ns)
                    + "spec:\n" + selector(release, app) + template(rng, release, app, 2))
    app = f"{release}-migrate"
    docs.append(src("job") + "apiVersion: batch/v1\nkind: Job\n"
                + meta(release, app, ns, kind_extra="  annotations:\n    helm.sh/hook: pre-upgrade\n")
                + "spec:\n  backoffLimit: 2\n" + template(rng, release, app, 2).replace(
                    "    spec:\n", "    spec:\n      restartPolicy: Never\n", 1))
    app = f"{release}-cleanup"
    docs.append(src("cronjob") + "apiVersion: batch/v1\nkind: CronJob\n" + meta(release, app, ns)
                + "spec:\n  schedule: \"*/15 * * * *\"\n  jobTemplate:\n    spec:\n"
                + template(rng, release, app, 6).replace(
                    "        spec:\n", "        spec:\n          restartPolicy: OnFailure\n", 1))
    app = f"{release}-test"
    docs.append(src("tests/test-connection") + "apiVersion: v1\nkind: Pod\n"
                + meta(release, app, ns, kind_extra="  annotations:\n    helm.sh/hook: test\n")
                + "spec:\n  restartPolicy: Never\n" + pod_spec(rng, release, app, 2))
    return docs


def workloads(size):
    rng = random.Random(12)
    parts, total, number = [], 0, 0
    while total < size:
        for doc in release_documents(rng, number):
            text = "---\n" + doc
            parts.append(text)
            total += len(text.encode())
        number += 1
    return "".join(parts)


def main():
    corpus, size, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    if (sys.argv[4:5] or ["charts"])[0] == "workloads":
        out.write_text(workloads(size))
        return
    charts = [documents((corpus / name).read_text()) for name in CHARTS]
    parts, total, round_no = [], 0, 0
    while total < size:
        for docs in charts:
            for doc in docs:
                if total >= size:
                    break
                text = "---\n" + (rename(doc, f"-r{round_no}") if round_no else doc)
                parts.append(text)
                total += len(text.encode())
        round_no += 1
    out.write_text("".join(parts))


if __name__ == "__main__":
    main()
