//! The properties the fuzz targets check, shared with `tests/hostile.rs`, which replays every
//! input the fuzzers ever crashed on (`fuzz/regressions/<target>/`) through the same checks.
//! Each function panics when a property breaks; errors from bad input are fine.

#![allow(dead_code)]

use pulse_harden::patchfile::{self, PatchSet};
use pulse_harden::{pipeline, stream};

const MARKER: &[u8] = b"\n#%STREAM%\n";

/// Steps ordered so that none undoes or enables another: running them twice is running once.
const FIXED: &str = r#"apiVersion: pulse-harden/v1
kind: PatchSet
steps:
  - name: container-defaults
    target: containers
    mode: ifAbsent
    mergePatch:
      imagePullPolicy: IfNotPresent
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
  - name: always-pull
    select: {kind: [Deployment, StatefulSet]}
    onFailure: skip
    jsonPatch:
      - {op: replace, path: /spec/template/spec/containers/*/imagePullPolicy, value: Always}
  - name: pod-defaults
    target: podSpec
    mode: ifAbsent
    mergePatch:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  - name: env-for-web
    select: {kind: "*", name: "web*"}
    mode: ifAbsent
    onFailure: skip
    jsonPatch:
      - {op: add, path: "/spec/template/spec/containers/[name=web]/env/-", value: {name: A, value: "yes"}}
  - name: drop-cpu-limits
    select: {labelSelector: "app"}
    onFailure: skip
    jsonPatch:
      - {op: remove, path: /spec/template/spec/containers/*/resources/limits/cpu}
  - name: label
    select: {namespace: ["", "default"], hooks: exclude}
    mergePatch:
      metadata: {labels: {hardened: "true"}, annotations: {note: "0644"}}
"#;

/// Engine: read → run → write, with a fuzzed stream and a fixed patch set, or a fuzzed patch
/// file and stream separated by a `#%STREAM%` line.
pub fn engine(data: &[u8]) {
    let (sets, input, check_twice) = match find(data, MARKER) {
        Some(at) => {
            let Ok(text) = std::str::from_utf8(&data[..at]) else {
                return;
            };
            let Ok(set) = patchfile::parse(text, "fuzz.yaml") else {
                return;
            };
            let twice = set.steps.len() == 1 && set.steps[0].action.key() == "mergePatch";
            (vec![set], &data[at + MARKER.len()..], twice)
        }
        None => {
            let set = patchfile::parse(FIXED, "fixed").expect("the fixed patch set parses");
            (vec![set], data, true)
        }
    };
    let Some(output) = harden(input, &sets) else {
        return;
    };
    let again = stream::read(&output).expect("our own output reads back");
    if check_twice {
        let second = harden(&output, &sets).expect("a second run succeeds where the first did");
        assert_eq!(
            String::from_utf8_lossy(&second),
            String::from_utf8_lossy(&output),
            "a second run changed the output"
        );
    }
    // The output means what the pipeline computed, document by document.
    let mut expected = stream::read(input).expect("read once already");
    pipeline::run(&mut expected.manifests, &sets).expect("ran once already");
    let values = |s: &stream::Stream| {
        s.manifests
            .iter()
            .map(|m| m.value.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        values(&again),
        values(&expected),
        "the output reads back differently"
    );
}

/// Stream reader: bytes fail to read, or read and write back byte for byte.
pub fn stream_roundtrip(data: &[u8]) {
    if let Ok(read) = stream::read(data) {
        let written = stream::write(&read).expect("an untouched stream always writes");
        assert_eq!(
            written, data,
            "an untouched stream must come back byte for byte"
        );
    }
}

/// Patch-file loader: any text is a patch set or an error.
pub fn patchfile_parse(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = patchfile::parse(text, "fuzz.yaml");
    }
}

fn harden(input: &[u8], sets: &[PatchSet]) -> Option<Vec<u8>> {
    let mut s = stream::read(input).ok()?;
    pipeline::run(&mut s.manifests, sets).ok()?;
    stream::write(&s).ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
