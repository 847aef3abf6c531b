#!/usr/bin/env python3
"""`make bench`: times pulse-harden against kustomize (as a Helm post-renderer), Python +
PyYAML/libyaml and a plain serde-saphyr round trip, on the same generated Helm streams.

Every tool reads the stream on stdin and writes to /dev/null; wall time is measured around
spawn and wait, peak RSS by GNU time in one extra run. Reports medians, throughput, peak memory and start-up time (a tiny
one-document stream), and writes the tables to bench/results.md.

Two shapes of stream (bench/gen.py): `charts`, the real charts of ../shared/corpus/ repeated
(dominated by a few big CRDs nothing changes), and `workloads`, what a platform renders for
many releases (most documents workloads, every pod template changed by the profile).
pulse-harden runs `--profile restricted --profile ha` on `charts` and its default profile
(`restricted`) on `workloads`.

Environment: BENCH_RUNS (runs per tool and size, default 5; 3 for pulse-harden and the floor
from 20 MB, 1 for kustomize and Python there), BENCH_SHAPES (default "charts workloads"),
BENCH_SIZES (bytes, default "50000 2000000 50000000" for charts),
BENCH_WORKLOAD_SIZES (default "2000000 20000000 50000000"), BENCH_KUSTOMIZE_TIMEOUT (seconds,
default 120; a size kustomize timed out on is not tried larger), BENCH_DIR (work files,
default target/bench), KUBECTL, PYTHONPATH (PyYAML).
"""

import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("BENCH_DIR", ROOT / "target" / "bench"))
SHARED = Path(os.environ.get("SHARED", ROOT.parent / "shared"))
SHAPES = os.environ.get("BENCH_SHAPES", "charts workloads").split()
SIZES = {
    "charts": [int(s) for s in os.environ.get("BENCH_SIZES", "50000 2000000 50000000").split()],
    "workloads": [int(s) for s in os.environ.get(
        "BENCH_WORKLOAD_SIZES", "2000000 20000000 50000000").split()],
}
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
KUSTOMIZE_TIMEOUT = float(os.environ.get("BENCH_KUSTOMIZE_TIMEOUT", "120"))
KUBECTL = os.environ.get("KUBECTL", str(ROOT / ".tools" / "bin" / "kubectl"))
PULSE = ROOT / "target" / "release" / "pulse-harden"
FLOOR = ROOT / "target" / "release" / "examples" / "bench_roundtrip"
STARTUP_RUNS = 30
TINY = """---
# Source: tiny/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: tiny
data:
  a: "1"
"""


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(argv, stdin_path, timeout=None, env=None):
    """Wall and CPU (user + system, all threads and child processes) seconds of one run;
    (None, None) when it timed out."""
    with open(stdin_path, "rb") as stdin, open(os.devnull, "wb") as devnull:
        cpu = children_cpu()
        start = time.perf_counter()
        # A new session only where a timeout may have to kill a process tree: it keeps
        # Python from using vfork, which costs start-up time on every run.
        proc = subprocess.Popen(argv, stdin=stdin, stdout=devnull, stderr=subprocess.PIPE,
                                env=env, start_new_session=timeout is not None)
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.communicate()
            return None, None
        elapsed = time.perf_counter() - start
        cpu = children_cpu() - cpu
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(map(str, argv))} < {stdin_path} failed "
                 f"({proc.returncode}):\n{stderr.decode(errors='replace')}")
    return elapsed, cpu


def peak_rss_kib(argv, stdin_path, env=None):
    """Peak RSS of one run, from GNU time: wait4(2) from this Python process would also
    count the memory of the forked Python before exec."""
    report = WORK / "rss.txt"
    run_once(["/usr/bin/time", "-f", "%M", "-o", report, *argv], stdin_path, None, env)
    return int(report.read_text().split()[-1])


def measure(argv, stdin_path, runs, timeout=None, env=None):
    """Median wall seconds (None: timed out), peak RSS KiB, every run's wall time, and the
    median CPU seconds."""
    times, cpus = [], []
    for _ in range(runs):
        elapsed, cpu = run_once(argv, stdin_path, timeout, env)
        if elapsed is None:
            return None, None, times, None
        times.append(elapsed)
        cpus.append(cpu)
    peak = peak_rss_kib(argv, stdin_path, env)
    return statistics.median(times), peak, times, statistics.median(cpus)


def pulse_argv(shape="charts"):
    if shape == "workloads":
        return [PULSE], "its default profile (restricted)"

    def knows(profile):
        return subprocess.run([PULSE, "explain", profile], capture_output=True).returncode == 0

    if knows("restricted") and knows("ha"):
        return [PULSE, "--profile", "restricted", "--profile", "ha"], "--profile restricted --profile ha"
    return [PULSE, "-p", ROOT / "bench" / "profile.yaml"], "-p bench/profile.yaml"


def prepare(size, shape="charts"):
    stream = WORK / f"stream-{shape}-{size}.yaml"
    if not stream.exists():
        subprocess.run([sys.executable, ROOT / "bench" / "gen.py", SHARED / "corpus", str(size),
                        stream, shape], check=True)
    kdir = WORK / f"kustomize-{shape}-{size}"
    if not (kdir / "kustomization.yaml").exists():
        subprocess.run([sys.executable, ROOT / "bench" / "kustomization.py", stream, kdir],
                       check=True)
    return stream, kdir


def tools(kdir, shape="charts"):
    pulse, _ = pulse_argv(shape)
    return [
        ("pulse-harden", pulse, None),
        ("kustomize", [ROOT / "bench" / "kustomize-postrender.sh", kdir], KUSTOMIZE_TIMEOUT),
        ("python+libyaml", [sys.executable, ROOT / "bench" / "harden.py"], None),
        ("serde-saphyr round trip", [FLOOR], None),
    ]


def mib(kib):
    return f"{kib / 1024:.1f}" if kib else "–"


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, KUBECTL=KUBECTL)
    lines = []

    def out(line=""):
        print(line, flush=True)
        lines.append(line)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), platform.processor())
    kubectl_version = subprocess.run([KUBECTL, "version", "--client"], capture_output=True,
                                     text=True).stdout.split("\n")[1:2]
    out("# Benchmark results (raw)")
    out()
    out(f"Machine: {os.cpu_count()} cores ({cpu}), shared with other work; {time.strftime('%Y-%m-%d')}.")
    out(f"kubectl {' '.join(kubectl_version).strip()} (embedded kustomize); Python "
        f"{platform.python_version()}; medians of {RUNS} runs (from 20 MB: 3 for pulse-harden and "
        f"the floor, 1 for kustomize and Python); wall time around spawn and wait, CPU time "
        f"user + system, peak RSS from GNU time (one extra run).")
    out()

    # Start-up: a one-document stream, what Helm and Argo CD pay on every render.
    tiny = WORK / "tiny.yaml"
    tiny.write_text(TINY)
    _, tiny_k = WORK / "tiny.yaml", WORK / "kustomize-tiny"
    subprocess.run([sys.executable, ROOT / "bench" / "kustomization.py", tiny, tiny_k], check=True)
    out("## Start-up (one ConfigMap)")
    out()
    out("| tool | median ms | min ms | CPU ms | peak RSS MiB |")
    out("|---|---:|---:|---:|---:|")
    for name, argv, timeout in tools(tiny_k):
        median, peak, times, cpu = measure(argv, tiny, STARTUP_RUNS, timeout, env)
        out(f"| {name} | {median * 1000:.2f} | {min(times) * 1000:.2f} | {cpu * 1000:.2f} | {mib(peak)} |")
    out()

    for shape in SHAPES:
        per_shape(shape, env, out)
    (ROOT / "bench" / "results.md").write_text("\n".join(lines) + "\n")
    print("\nwritten to bench/results.md", file=sys.stderr)


def per_shape(shape, env, out):
    """Times every tool at every size of one shape and writes its tables."""
    sizes = SIZES[shape]
    _, pulse_args = pulse_argv(shape)
    results = {}
    gave_up = set()
    for size in sizes:
        stream, kdir = prepare(size, shape)
        nbytes = stream.stat().st_size
        for name, argv, timeout in tools(kdir, shape):
            if name in gave_up:
                results[(name, size)] = (None, None, nbytes, [], None)
                continue
            big = size >= 20_000_000
            runs = (3 if name in ("pulse-harden", "serde-saphyr round trip") else 1) if big else RUNS
            median, peak, times, cpu = measure(argv, stream, runs, timeout, env)
            results[(name, size)] = (median, peak, nbytes, times, cpu)
            if median is None:
                gave_up.add(name)
            shown = "timeout" if median is None else f"{median:.3f}s"
            print(f"  {shape}: {name} @ {nbytes} bytes: {shown}", file=sys.stderr, flush=True)

    title = {"charts": "real charts repeated (mostly untouched CRDs)",
             "workloads": "workload-dense (every pod template changed)"}[shape]
    out(f"## Per size: {title}")
    out()
    out(f"pulse-harden {pulse_args}; generated by `bench/gen.py ... {shape}`.")
    out()
    out("| input | tool | median s | runs (s) | MB/s | peak RSS MiB | time ÷ pulse-harden | CPU s | CPU ÷ pulse-harden |")
    out("|---|---|---:|---|---:|---:|---:|---:|---:|")
    for size in sizes:
        base, _, _, _, base_cpu = results[("pulse-harden", size)]
        for name, _, _ in tools(WORK, shape):
            median, peak, nbytes, times, cpu = results[(name, size)]
            label = f"{nbytes / 1e6:.2f} MB"
            if median is None:
                out(f"| {label} | {name} | > {KUSTOMIZE_TIMEOUT:.0f} | – | < {nbytes / 1e6 / KUSTOMIZE_TIMEOUT:.2f} | – | > {KUSTOMIZE_TIMEOUT / base:.0f}× | – | – |")
                continue
            runs_text = ", ".join(f"{t:.3f}" for t in times)
            out(f"| {label} | {name} | {median:.3f} | {runs_text} | {nbytes / 1e6 / median:.1f} | {mib(peak)} | {median / base:.1f}× | {cpu:.3f} | {cpu / base_cpu:.1f}× |")
    out()
    out(f"## pulse-harden growth and memory: {shape}")
    out()
    out("| input MB | median s | s per MB | CPU s | peak RSS MiB | budget 2×input+16 MiB |")
    out("|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        median, peak, nbytes, _, cpu = results[("pulse-harden", size)]
        budget = 2 * nbytes / 2**20 + 16
        out(f"| {nbytes / 1e6:.2f} | {median:.3f} | {median / (nbytes / 1e6):.4f} | {cpu:.3f} | {mib(peak)} | {budget:.1f} |")
    out()


if __name__ == "__main__":
    main()
