#!/usr/bin/env python3
"""Generates a realistic rendered Helm stream of about SIZE bytes from the real charts in
../shared/corpus/: their documents repeated in order, each repetition with renamed resources
and namespaces (so kustomize sees no duplicate IDs), keeping `# Source:` headers, hooks, CRDs
and big ConfigMaps as they are. Deterministic: same corpus and size, same bytes.

usage: gen.py CORPUS_DIR SIZE_BYTES OUT_FILE
"""

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


def main():
    corpus, size, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
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
