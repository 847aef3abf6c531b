//! Hostile input, through the real binary: every case ends in a clear error (exit 2, a located
//! message, nothing on stdout) or in correct output, within bounded time and memory (peak RSS
//! of the child, as GNU time reports it). Also replays every input the fuzzers crashed on.
//!
//! Sizes are cut down where a debug build would take more than a few seconds; the `#[ignore]`d
//! `full_size_*` tests run them at full size in an optimised build (`make test-hostile-full`,
//! which `make test`, and so CI, runs).

#[path = "../fuzz/checks.rs"]
mod checks;
mod common;

use pulse_harden::glob::Glob;
use pulse_harden::stream;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;

/// A patch set that changes every resource, so documents are parsed, changed and re-emitted.
const LABEL_PATCH: &str = "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: label\n    mergePatch: {metadata: {labels: {hardened: \"true\"}}}\n";

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
    peak_rss: u64,
    elapsed: Duration,
}

impl Run {
    /// Exit 2, nothing on stdout, and a message that says where and what.
    fn assert_clear_error(&self, needles: &[&str]) {
        assert_eq!(self.code, 2, "stderr: {}", self.stderr);
        assert!(self.stdout.is_empty(), "something reached stdout on error");
        assert!(
            self.stderr.starts_with("pulse-harden: error: "),
            "{}",
            self.stderr
        );
        assert!(
            !self.stderr.contains("internal error"),
            "a panic: {}",
            self.stderr
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "`{needle}` missing from: {}",
                self.stderr
            );
        }
    }

    fn assert_success(&self) {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
    }

    fn assert_within(&self, seconds: u64, rss: u64) {
        // No reading is not a small reading: a bound checked against 0 would always hold.
        assert!(
            self.peak_rss >= MIB,
            "peak RSS was not measured ({} bytes)",
            self.peak_rss
        );
        assert!(
            self.elapsed < Duration::from_secs(seconds),
            "took {:?}",
            self.elapsed
        );
        assert!(
            self.peak_rss <= rss,
            "peak RSS {} MiB, bound {} MiB",
            self.peak_rss / MIB,
            rss / MIB
        );
    }
}

/// Runs the binary with `input` on stdin and an optional patch file; measures time and peak RSS.
fn run(input: &[u8], patches: Option<&str>) -> Run {
    run_command(common::pulse_harden(), input, patches)
}

/// GNU time: it forks the command from its own small process and reports the child's
/// `ru_maxrss` (`scripts/fetch-debian-tools.sh`, run by `make tools`, installs it).
const GNU_TIME: &str = "/usr/bin/time";

/// [`run`] with a command of one's own (other arguments). The command runs under GNU time,
/// which reports its peak RSS however soon it exits. (Neither `wait4` from here nor polling
/// the child's VmHWM would do: Linux carries the spawning process's high-water mark over
/// `exec`, so `wait4` measures this test process; and a child that fails on its first file
/// can exit before a poll ever sees it.)
fn run_command(cmd: std::process::Command, input: &[u8], patches: Option<&str>) -> Run {
    assert!(
        Path::new(GNU_TIME).is_file(),
        "{GNU_TIME} (GNU time) measures peak memory here; run `make tools` to install it"
    );
    let dir = TempDir(temp_dir());
    let report = dir.0.join("time.txt");
    let mut timed = std::process::Command::new(GNU_TIME);
    timed
        .args(["-f", "%M", "-o"])
        .arg(&report)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => timed.env(key, value),
            None => timed.env_remove(key),
        };
    }
    if let Some(cwd) = cmd.get_current_dir() {
        timed.current_dir(cwd);
    }
    if let Some(text) = patches {
        let path = dir.0.join("patches.yaml");
        std::fs::write(&path, text).unwrap();
        timed.arg("-p").arg(&path);
    }
    let started = Instant::now();
    let mut child = timed
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    std::thread::scope(|s| {
        // The child may stop reading early (an error on the first line): not a failure here.
        s.spawn(move || {
            let _ = stdin.write_all(input);
        });
        let out = s.spawn(move || {
            let mut buf = Vec::new();
            stdout.read_to_end(&mut buf).unwrap();
            buf
        });
        let err = s.spawn(move || {
            let mut buf = String::new();
            stderr.read_to_string(&mut buf).unwrap();
            buf
        });
        let status = child.wait().unwrap();
        let elapsed = started.elapsed();
        Run {
            // GNU time exits with the command's status (128 + the signal, if one killed it).
            code: status.code().unwrap_or(-1),
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
            peak_rss: max_rss(&report),
            elapsed,
        }
    })
}

/// The peak RSS GNU time wrote, in bytes: the last line of its report, in KiB (lines before
/// it say how the command ended, if not with 0).
fn max_rss(report: &Path) -> u64 {
    let text = std::fs::read_to_string(report).unwrap_or_default();
    text.lines()
        .last()
        .and_then(|line| line.trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pulse-harden-hostile-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// "Billion laughs": each level repeats the one before ten times.
fn alias_bomb(indent: &str, levels: usize) -> String {
    let mut text = format!("{indent}l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..levels {
        let previous = format!("*l{}", i - 1);
        text.push_str(&format!(
            "{indent}l{i}: &l{i} [{}]\n",
            [previous.as_str(); 10].join(", ")
        ));
    }
    text
}

#[test]
fn billion_laughs_is_refused_quickly_in_little_memory() {
    let input = format!(
        "apiVersion: v1\nkind: ConfigMap\ndata:\n{}",
        alias_bomb("  ", 10)
    );
    for patches in [None, Some(LABEL_PATCH)] {
        let r = run(input.as_bytes(), patches);
        r.assert_clear_error(&["input document 1, line 7", "excessive aliasing"]);
        r.assert_within(20, 64 * MIB);
    }
    // goyaml (so Kubernetes) already refuses four levels (12,345 nodes from 250 bytes), and
    // reads three (1,234 nodes); so do we.
    let four = format!(
        "apiVersion: v1\nkind: ConfigMap\ndata:\n{}",
        alias_bomb("  ", 4)
    );
    run(four.as_bytes(), None).assert_clear_error(&["line 7", "excessive aliasing"]);
    let three = format!(
        "apiVersion: v1\nkind: ConfigMap\ndata:\n{}",
        alias_bomb("  ", 3)
    );
    let r = run(three.as_bytes(), None);
    r.assert_success();
    assert_eq!(r.stdout, three.as_bytes());
}

#[test]
fn an_alias_bomb_in_a_patch_file_is_refused() {
    let patch = format!(
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: bomb\n    mergePatch:\n{}",
        alias_bomb("      ", 10)
    );
    let r = run(b"kind: A\n", Some(&patch));
    r.assert_clear_error(&["patches.yaml:", "excessive aliasing"]);
    r.assert_within(30, 256 * MIB);
}

#[test]
fn nesting_ten_thousand_levels_deep_is_an_error() {
    let depth = 10_000;
    let flow_seq = "[".repeat(depth) + &"]".repeat(depth);
    let flow_map = "{a: ".repeat(depth) + "1" + &"}".repeat(depth);
    let block = "- ".repeat(depth) + "x";
    for nested in [flow_seq, flow_map, block] {
        let input = format!("kind: A\nx:\n  {nested}\n");
        for patches in [None, Some(LABEL_PATCH)] {
            let r = run(input.as_bytes(), patches);
            r.assert_clear_error(&["input document 1, line 3", "recursion limit"]);
            r.assert_within(20, 64 * MIB);
        }
    }
    // In a patch file too.
    let patch = format!(
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: deep\n    mergePatch: {}\n",
        "{a: ".repeat(depth) + "1" + &"}".repeat(depth)
    );
    let r = run(b"kind: A\n", Some(&patch));
    r.assert_clear_error(&["patches.yaml:5:"]);
    r.assert_within(20, 64 * MIB);
}

/// One ConfigMap whose only value is a `size`-byte plain scalar; patched, so it is parsed,
/// changed and re-emitted, and the scalar must come out whole.
fn huge_scalar(size: usize) {
    let blob = "x".repeat(size);
    let input =
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: {blob}\n");
    let r = run(input.as_bytes(), Some(LABEL_PATCH));
    r.assert_success();
    let expected = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  labels:\n    hardened: \"true\"\ndata:\n  blob: {blob}\n"
    );
    let out = String::from_utf8(r.stdout.clone()).unwrap();
    assert_eq!(out.len(), expected.len());
    assert!(out == expected, "the scalar did not come out whole");
    // Issue 12's bound: 4 × input + 64 MiB (the input, the parsed value and the output each
    // hold the scalar once; 3.9 × at 100 MiB, release build).
    r.assert_within(60, 4 * input.len() as u64 + 64 * MIB);
    eprintln!(
        "{} MiB scalar: {:?}, peak RSS {} MiB",
        size as u64 / MIB,
        r.elapsed,
        r.peak_rss / MIB
    );
}

#[test]
fn a_huge_single_scalar_comes_out_whole() {
    huge_scalar(10 * MIB as usize);
}

#[test]
#[ignore = "100 MB; run with `make test-hostile-full` (optimised build; `make test` runs it)"]
fn full_size_a_100_mb_scalar_comes_out_whole() {
    huge_scalar(100 * MIB as usize);
}

#[test]
fn invalid_utf8_is_located() {
    let r = run(b"kind: A\nname: caf\xe9\n", None);
    r.assert_clear_error(&["not valid UTF-8 (line 2, byte 18)"]);
}

#[test]
fn nul_bytes_are_located_errors_like_goyaml() {
    // goyaml: "control characters are not allowed", wherever they are.
    for (input, at) in [
        (&b"kind: A\nname: a\x00b\n"[..], "line 2, column 8"),
        (b"kind: A\nname: \"a\x00b\"\n", "line 2, column 9"),
        (b"kind: A # note\x00\n", "line 1, column 15"),
        (b"---\n# Source: x\x00\nkind: A\n", "line 2, column 12"),
    ] {
        let r = run(input, None);
        r.assert_clear_error(&["input document 1", at]);
    }
}

#[test]
fn bare_scalars_and_lists_pass_through_untouched() {
    // Not resources: no step selects them, so they come out byte for byte, like a comment.
    untouched_then_labelled(
        "just a scalar\n---\n- a\n- 0644\n---\napiVersion: v1\nkind: ConfigMap\n",
        "just a scalar\n---\n- a\n- 0644\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    hardened: \"true\"\n",
    );
}

/// Without steps `input` comes out byte for byte; with `LABEL_PATCH` it comes out as `labelled`.
fn untouched_then_labelled(input: &str, labelled: &str) {
    let r = run(input.as_bytes(), None);
    r.assert_success();
    assert_eq!(String::from_utf8_lossy(&r.stdout), input);
    let r = run(input.as_bytes(), Some(LABEL_PATCH));
    r.assert_success();
    assert_eq!(String::from_utf8_lossy(&r.stdout), labelled);
}

#[test]
fn duplicate_keys_mean_what_they_mean_to_kubernetes() {
    // goyaml v2 (kubectl, Helm 3, the API server's YAML path) keeps the last value; Helm 3
    // accepts charts with duplicate keys. Untouched, the document passes as it is; changed,
    // it is written once, with the value Kubernetes would have used.
    untouched_then_labelled(
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: first\n  a: last\n",
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: last\nmetadata:\n  labels:\n    hardened: \"true\"\n",
    );
}

#[test]
fn keys_kubernetes_rejects_are_refused_and_others_become_strings() {
    // sigs.k8s.io/yaml rejects a list, map or null key and an integer beyond the signed 64-bit
    // range: the stream is refused, touched or not, as the cluster would refuse it. (The
    // position of a collection is where it ends: collections are located by their closing
    // event.)
    for (input, at, what) in [
        (
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  ? [1, 2]\n  : x\n",
            "line 4, column 10",
            "a map key that is a list or a map",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  {a: 1}: y\n",
            "line 4, column 8",
            "a map key that is a list or a map",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  ~: z\n",
            "line 4, column 3",
            "a map key that is null",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  18446744073709551615: z\n",
            "line 4, column 3",
            "a map key that is an integer beyond the signed 64-bit range",
        ),
    ] {
        for patch in [None, Some(LABEL_PATCH)] {
            let r = run(input.as_bytes(), patch);
            r.assert_clear_error(&["input document 1", at, what]);
        }
    }
    // Integer, boolean and float keys are strings to Kubernetes (sigs.k8s.io/yaml; a float as
    // Go formats a float32).
    let r = run(
        b"apiVersion: v1\nkind: ConfigMap\ndata:\n  8080: a\n  yes: b\n  1.5: c\n  1e7: d\n",
        Some(LABEL_PATCH),
    );
    r.assert_success();
    let out = String::from_utf8(r.stdout).unwrap();
    assert!(
        out.contains("\"8080\": a\n  \"true\": b\n  \"1.5\": c\n  \"1e+07\": d\n"),
        "{out}"
    );
}

#[test]
fn tabs_in_indentation_are_located_errors() {
    let r = run(b"kind: A\nmetadata:\n\tname: x\n", None);
    r.assert_clear_error(&["input document 1, line 3, column", "tabs"]);
    // A tab inside a value is content, not indentation.
    let r = run(b"kind: A\nnote: a\tb\n", Some(LABEL_PATCH));
    r.assert_success();
}

/// `count` ConfigMaps of one line of data each: every one is read, patched and re-emitted,
/// within the issue's bound of 4 × input + 64 MiB. Each document, however small, keeps a few
/// hundred bytes of bookkeeping; the document limit (`--max-documents`, 50,000 by default)
/// keeps their sum inside the 64 MiB.
fn tiny_documents(count: usize) {
    let input = tiny_stream(count);
    let r = run(input.as_bytes(), None);
    r.assert_success();
    assert!(r.stdout == input.as_bytes(), "not byte for byte");
    let size = input.len() as u64;
    r.assert_within(120, 4 * size + 64 * MIB);
    let r = run(input.as_bytes(), Some(LABEL_PATCH));
    r.assert_success();
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(out.matches("hardened: \"true\"\n").count(), count);
    assert_eq!(out.matches("---\n").count(), count);
    r.assert_within(300, 4 * size + 64 * MIB);
    eprintln!(
        "{count} documents ({} KiB): {:?}, peak RSS {} MiB",
        size / 1024,
        r.elapsed,
        r.peak_rss / MIB
    );
}

fn tiny_stream(count: usize) -> String {
    let mut input = String::new();
    for i in 0..count {
        input.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"
        ));
    }
    input
}

#[test]
fn a_stream_of_many_tiny_documents() {
    tiny_documents(5_000);
}

#[test]
#[ignore = "50,000 documents; run with `make test-hostile-full` (optimised build; `make test` runs it)"]
fn full_size_a_stream_of_50_000_tiny_documents() {
    tiny_documents(stream::MAX_DOCUMENTS);
}

/// One document more than `--max-documents` allows: exit 2, naming the line where it starts,
/// and no more of the stream read; the limit raised, the same stream goes through.
#[test]
fn more_documents_than_the_limit_are_refused() {
    let input = tiny_stream(4);
    let limited = |n: &str| {
        let mut cmd = common::pulse_harden();
        cmd.args(["--max-documents", n]);
        run_command(cmd, input.as_bytes(), Some(LABEL_PATCH))
    };
    limited("3").assert_clear_error(&[
        "input line 14: the stream holds more than 3 documents",
        "raise the limit with --max-documents",
    ]);
    limited("4").assert_success();
    // From the environment, as Helm 3 and Argo CD pass settings.
    let mut cmd = common::pulse_harden();
    cmd.env("PULSE_HARDEN_MAX_DOCUMENTS", "3");
    run_command(cmd, input.as_bytes(), None).assert_clear_error(&["more than 3 documents"]);
}

/// A stream longer than a segment of the streaming run, with a YAML error in its first
/// document and a second error further on: the error is the one the step-by-step run (which
/// splits the whole stream before it reads a document) ends with, whichever run it is.
#[test]
fn a_later_split_error_comes_before_an_earlier_read_error_as_in_a_whole_read() {
    let padding = tiny_stream(2 * stream::SEGMENT_BYTES / 60);
    for later in [
        "--- x\n".as_bytes(),
        b"---\nkind: ConfigMap\ndata: {a: \xff}\n",
    ] {
        let mut input = b"kind: [\n".to_vec();
        input.extend_from_slice(padding.as_bytes());
        input.extend_from_slice(later);
        let streamed = run(&input, None);
        let mut cmd = common::pulse_harden();
        cmd.args(["--profile", "ha"]);
        let whole = run_command(cmd, &input, None);
        whole.assert_clear_error(&["input "]);
        assert!(!whole.stderr.contains("bracket"), "{}", whole.stderr);
        streamed.assert_clear_error(&[]);
        assert_eq!(streamed.stderr, whole.stderr);
    }
}

/// The issue's case: a million tiny documents. Refused at the one too many, within the bound of
/// 4 × input + 64 MiB, under the default limit.
#[test]
#[ignore = "1M documents; run with `make test-hostile-full` (optimised build; `make test` runs it)"]
fn full_size_a_million_tiny_documents_are_refused() {
    let input = tiny_stream(1_000_000);
    for patches in [None, Some(LABEL_PATCH)] {
        let r = run(input.as_bytes(), patches);
        r.assert_clear_error(&["the stream holds more than 50000 documents"]);
        r.assert_within(30, 4 * input.len() as u64 + 64 * MIB);
    }
}

#[test]
fn json_input_is_yaml() {
    let input = br#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}, "data": {"mode": "0644", "on": "yes", "n": 1e3}}"#;
    let r = run(input, None);
    r.assert_success();
    assert_eq!(r.stdout, input);
    let r = run(input, Some(LABEL_PATCH));
    r.assert_success();
    let out = stream::read(&r.stdout).unwrap();
    let value = out.manifests[0].value.clone().unwrap();
    assert_eq!(
        value,
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "j", "labels": {"hardened": "true"}},
            "data": {"mode": "0644", "on": "yes", "n": 1000.0}})
    );
}

#[test]
fn a_truncated_stream_is_an_error_or_a_shorter_stream() {
    let input = std::fs::read(golden("wildcard-pull-policy/input.yaml")).unwrap();
    // Every cut point, through the library: reads and writes back byte for byte, or fails.
    // Hardened (every line end and every 7th byte, to stay quick in debug): the output reads
    // back as what the pipeline computed, and a second run changes nothing.
    for cut in 0..input.len() {
        checks::stream_roundtrip(&input[..cut]);
        if cut % 7 == 0 || input.get(cut.wrapping_sub(1)) == Some(&b'\n') {
            checks::engine(&input[..cut]);
        }
    }
    // A few through the binary: inside a quoted string, a flow list, and mid-document.
    let text = "---\nkind: ConfigMap\nmetadata:\n  name: \"web\"\ndata: [1, 2]\n";
    for (cut_after, at) in [("name: \"we", "line 4"), ("data: [1,", "line 5")] {
        let cut = text.find(cut_after).unwrap() + cut_after.len();
        let r = run(&text.as_bytes()[..cut], Some(LABEL_PATCH));
        r.assert_clear_error(&["input document 1", at]);
    }
    let cut = text.find("metadata").unwrap();
    let r = run(&text.as_bytes()[..cut], Some(LABEL_PATCH));
    r.assert_success();
    assert_eq!(
        String::from_utf8(r.stdout).unwrap(),
        "---\nkind: ConfigMap\nmetadata:\n  labels:\n    hardened: \"true\"\n"
    );
}

#[test]
fn pathological_globs_stay_linear() {
    // Backtracking only over the last `*`: at most pattern × text steps, never exponential.
    let pattern = "*a".repeat(30) + "b";
    let glob = Glob::new(&pattern).unwrap();
    let started = Instant::now();
    assert!(!glob.is_match(&"a".repeat(20_000)));
    assert!(started.elapsed() < Duration::from_secs(5));
    // And through a patch file, selecting on a long name.
    let patch = format!(
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: s\n    select: {{name: \"{pattern}\", kind: \"{pattern}\"}}\n    mergePatch: {{x: 1}}\n"
    );
    let input = format!(
        "kind: {}\nmetadata: {{name: {}}}\n",
        "a".repeat(10_000),
        "a".repeat(10_000)
    );
    let r = run(input.as_bytes(), Some(&patch));
    r.assert_success();
    assert_eq!(r.stdout, input.as_bytes());
    r.assert_within(20, 64 * MIB);
}

/// A patch file whose step `name` copies `/data` into itself `count` times: each copy doubles it.
fn copies_of_data(name: &str, count: usize) -> String {
    let mut patch = format!(
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: {name}\n    jsonPatch:\n"
    );
    for i in 0..count {
        patch.push_str(&format!(
            "      - {{op: copy, from: /data, path: /data/x{i}}}\n"
        ));
    }
    patch
}

#[test]
fn a_patch_file_cannot_make_a_document_explode() {
    // Each copy doubles `data`: forty would need 2^40 nodes.
    let patch = copies_of_data("double", 40);
    let r = run(b"kind: A\ndata: {k: v}\n", Some(&patch));
    r.assert_clear_error(&[
        "step `double` failed on A/ in document 1",
        "the step's copies would add more than 100000 nodes to the stream",
    ]);
    r.assert_within(30, 64 * MIB);
}

/// Many copies of small values over many resources: each resource stays small, but what a
/// step may copy is bounded over the whole stream (issue 12: 200 copy operations on ten
/// ConfigMaps took 44 s).
#[test]
fn copies_over_many_resources_are_bounded_per_step() {
    let patch = copies_of_data("copies", 200);
    let input: String = (0..10)
        .map(|i| format!("---\nkind: ConfigMap\nmetadata: {{name: c{i}}}\ndata: {{k: v}}\n"))
        .collect();
    let r = run(input.as_bytes(), Some(&patch));
    r.assert_clear_error(&[
        "step `copies` failed on ConfigMap/(release namespace)/c",
        "the step's copies would add more than 100000 nodes to the stream",
    ]);
    r.assert_within(2, 4 * (input.len() + patch.len()) as u64 + 64 * MIB);
}

/// A JSON pointer far deeper than any document: a located error, not a stack overflow
/// (issue 12: fifty thousand segments aborted the process).
#[test]
fn a_pointer_deeper_than_any_document_is_a_located_error() {
    let patch = format!(
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: deep\n    jsonPatch:\n      - {{op: add, path: \"{}\", value: 1}}\n",
        "/a".repeat(50_000)
    );
    let r = run(b"kind: A\n", Some(&patch));
    r.assert_clear_error(&[
        "patches.yaml:6:",
        "JSON pointer of 50000 segments: documents nest at most 1000 levels deep",
    ]);
    r.assert_within(2, 64 * MIB);
}

/// `count` two-replica Deployments in one namespace, no budgets yet: the `ha` profile makes a
/// PodDisruptionBudget for each, which must not compare every pair (issue 12: 5,000 took 28 s).
fn replicated_deployments(count: usize, selector: fn(usize) -> String, own_key: bool) -> String {
    (0..count)
        .map(|i| format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d{i}, namespace: ns}}\nspec:\n  replicas: 2\n  selector: {}\n  template:\n    metadata: {{labels: {{tier: web, app: d{i}{}}}}}\n    spec: {{containers: [{{name: c, image: x}}]}}\n",
            selector(i),
            if own_key { format!(", d{i}: \"on\"") } else { String::new() }
        ))
        .collect()
}

fn budgets_for_every_deployment(count: usize, seconds: u64, rss_per_input_byte: u64) {
    let input = replicated_deployments(count, |i| format!("{{matchLabels: {{app: d{i}}}}}"), false);
    budgets_for(&input, count, seconds, rss_per_input_byte);
}

fn budgets_for(input: &str, count: usize, seconds: u64, rss_per_input_byte: u64) {
    let mut cmd = common::pulse_harden();
    cmd.args(["--profile", "ha"]);
    let r = run_command(cmd, input.as_bytes(), None);
    r.assert_success();
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(out.matches("kind: PodDisruptionBudget").count(), count);
    r.assert_within(seconds, rss_per_input_byte * input.len() as u64 + 64 * MIB);
}

#[test]
fn budgets_for_thousands_of_deployments_take_linear_time() {
    // A debug build; at full size in release below.
    budgets_for_every_deployment(2_000, 20, 4);
}

/// Selectors that all hold the same label first (`tier: web`, as every release of one chart
/// does), or select only by a `matchExpressions` `In` or `Exists`: each lookup must still be
/// a few, not a scan of every workload and budget (5,000 took 96 s and 38 s; 3,000 selecting
/// by `Exists` on a key of their own, 49 s).
#[test]
fn budgets_for_deployments_whose_selectors_share_a_label_take_linear_time() {
    let shapes: [fn(usize) -> String; 4] = [
        |i| format!("{{matchLabels: {{tier: web, app: d{i}}}}}"),
        |i| format!("{{matchExpressions: [{{key: app, operator: In, values: [d{i}]}}]}}"),
        |i| {
            format!(
                "{{matchExpressions: [{{key: tier, operator: Exists}}, {{key: app, operator: In, values: [d{i}, other]}}]}}"
            )
        },
        // Each Deployment's pods carry a label key of their own, `d{i}`.
        |i| format!("{{matchExpressions: [{{key: d{i}, operator: Exists}}]}}"),
    ];
    for selector in shapes {
        let input = replicated_deployments(2_000, selector, true);
        budgets_for(&input, 2_000, 20, 4);
    }
}

#[test]
#[ignore = "10,000 Deployments; run with `make test-hostile-full` (release build)"]
fn full_size_budgets_for_ten_thousand_deployments() {
    // Issue 12's bound: 4 × input + 64 MiB (73 MiB). The run streams and decides the budgets
    // once the stream is read, from a few hundred bytes kept of each Deployment: 0.85 s of CPU
    // and 64 MiB on a 2-core VM. Holding every Deployment parsed, as the run step by step
    // does, took 186 MiB. (Time: issue 12 asks for 2 s; the bound leaves room for a shared
    // machine.)
    budgets_for_every_deployment(10_000, 10, 4);
}

/// Anchors nested in anchors, never aliased: each defined node used to be copied when defined,
/// so the cost grew with size × depth (issue 12: 200 KB took 2.5 GB and 4–13 s).
fn nested_anchors(size: usize) -> String {
    let mut text = String::from("kind: ConfigMap\nmetadata: {name: anchors}\ndata:\n  x: ");
    let mut depth = 0;
    while text.len() < size / 2 && depth < 200 {
        text.push_str(&format!("&a{depth} ["));
        depth += 1;
    }
    let mut i = 0;
    while text.len() + 2 * depth < size {
        text.push_str(&format!("v{i}, "));
        i += 1;
    }
    text.push_str(&"]".repeat(depth));
    text.push('\n');
    text
}

fn nested_anchors_within(seconds: u64) {
    let input = nested_anchors(200_000);
    for patches in [None, Some(LABEL_PATCH)] {
        let r = run(input.as_bytes(), patches);
        r.assert_success();
        r.assert_within(seconds, 4 * input.len() as u64 + 64 * MIB);
    }
}

#[test]
fn nested_anchors_cost_their_size_not_more() {
    // A debug build; the memory bound is what tells (2.5 GB before).
    nested_anchors_within(20);
}

#[test]
#[ignore = "the time bound needs a release build; run with `make test-hostile-full`"]
fn full_size_nested_anchors_cost_their_size_not_more() {
    nested_anchors_within(2);
}

#[test]
fn a_patch_file_cannot_run_commands_or_read_files() {
    // Keys that would in other tools are unknown fields here, at the top and in a step.
    for key in [
        "exec", "command", "include", "import", "file", "script", "env",
    ] {
        let top = format!(
            "apiVersion: pulse-harden/v1\nkind: PatchSet\n{key}: /etc/hostname\nsteps: []\n"
        );
        let r = run(b"kind: A\n", Some(&top));
        r.assert_clear_error(&["patches.yaml:3:1:", &format!("unknown field `{key}`")]);
        let step = format!(
            "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: s\n    {key}: cat /etc/hostname\n    mergePatch: {{}}\n"
        );
        let r = run(b"kind: A\n", Some(&step));
        r.assert_clear_error(&["patches.yaml:5:5:", &format!("unknown field `{key}`")]);
    }
    // A tag is not an instruction: `!include` leaves the text as it is.
    let patch = "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: s\n    mergePatch: {data: {x: !include /etc/hostname}}\n";
    let r = run(b"kind: A\n", Some(patch));
    r.assert_success();
    assert_eq!(
        String::from_utf8(r.stdout).unwrap(),
        "kind: A\ndata:\n  x: /etc/hostname\n"
    );
}

fn golden(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(path)
}

#[test]
fn fuzz_regressions_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    type Check = fn(&[u8]);
    let targets: [(&str, Check); 3] = [
        ("stream_roundtrip", checks::stream_roundtrip),
        ("patchfile_parse", checks::patchfile_parse),
        ("engine", checks::engine),
    ];
    let mut replayed = 0;
    for entry in std::fs::read_dir(&root).expect("fuzz/regressions") {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        // A directory no check knows would be skipped silently: a new fuzz target needs one.
        let (_, check) = targets
            .iter()
            .find(|(target, _)| *target == name)
            .unwrap_or_else(|| panic!("fuzz/regressions/{name}: no check replays this target"));
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            eprintln!("replaying {}", path.display());
            check(&std::fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no fuzz regression was replayed");
}

/// A release's worth of workloads, `n` times over with names of their own: Deployments with
/// an init container and two containers (env, probes, resources), every one of which the
/// default profile changes.
fn workload_dense(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 4096);
    let mut n = 0;
    while out.len() < bytes {
        out.push_str(&format!(
            "---\n# Source: r{n}/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api-{n}\n  namespace: team-{m}\n  labels: {{app.kubernetes.io/name: api-{n}, app.kubernetes.io/managed-by: Helm}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: api-{n}}}}}\n  template:\n    metadata:\n      labels: {{app: api-{n}}}\n      annotations: {{checksum/config: 598b88dbaa99e07987751d4ca8501e2c}}\n    spec:\n      initContainers:\n        - name: wait\n          image: busybox:1.36\n          command: [sh, -c, 'until nc -z db 5432; do sleep 1; done']\n      containers:\n        - name: api\n          image: registry.example.com/team/api:1.{n}\n          args: [--listen=:8080, --log-level=info]\n          env:\n            - {{name: FEATURE, value: \"yes\"}}\n            - {{name: PORT, value: \"8080\"}}\n          ports: [{{name: http, containerPort: 8080}}]\n          readinessProbe: {{httpGet: {{path: /ready, port: http}}, periodSeconds: 10}}\n          resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{memory: 256Mi}}}}\n        - name: sidecar\n          image: envoyproxy/envoy:v1.31.0\n          securityContext: {{runAsUser: 101}}\n---\n# Source: r{n}/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata: {{name: api-{n}, namespace: team-{m}}}\nspec:\n  selector: {{app: api-{n}}}\n  ports: [{{port: 80, targetPort: http}}]\n",
            m = n % 50
        ));
        n += 1;
    }
    out
}

/// Issue 12: a stream of workloads, every one changed by the default profile, streams
/// through: read, changed and emitted a block at a time, its memory near the output rather
/// than a multiple of the parsed stream (which held 20× the input).
fn workload_dense_streams(bytes: usize, seconds: u64) {
    let input = workload_dense(bytes);
    let r = run(input.as_bytes(), None);
    r.assert_success();
    let out = String::from_utf8_lossy(&r.stdout);
    let workloads = input.matches("kind: Deployment").count();
    assert_eq!(out.matches("seccompProfile:").count(), workloads);
    let size = input.len() as u64;
    // The input is read a segment at a time and let go of: what a run holds is its output
    // (half again the input here), a few hundred bytes a document, a segment and a block.
    r.assert_within(seconds, r.stdout.len() as u64 + 40 * MIB);
    eprintln!(
        "workload-dense {} MiB: {:?}, peak RSS {} MiB",
        size / MIB,
        r.elapsed,
        r.peak_rss / MIB
    );
}

#[test]
fn a_workload_dense_stream_streams_through() {
    workload_dense_streams(2 * MIB as usize, 60);
}

#[test]
#[ignore = "20 MB of workloads; run with `make test-hostile-full` (optimised build; `make test` runs it)"]
fn full_size_a_workload_dense_stream_streams_through() {
    workload_dense_streams(20 * MIB as usize, 20);
}
