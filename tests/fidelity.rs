//! Fidelity against what Kubernetes itself reads.
//!
//! Every stream in `tests/fidelity/` and in the shared corpus of real charts (rendered with
//! Helm 4.1.4) goes through pulse-harden twice: with the `none` profile it must come back
//! byte for byte; with a patch that touches every resource, the goyaml oracle
//! (`../shared/tools/goyaml-oracle`: apimachinery's document split + sigs.k8s.io/yaml on
//! goyaml v2, exactly what kubectl and Helm use) must read the same JSON from input and
//! output except for the one annotation the patch added. A second run changes nothing.
//!
//! The oracle binary comes from `make oracle` (`.tools/bin/goyaml-oracle`) or `$GOYAML_ORACLE`.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROBE_ANNOTATION: &str = "pulse-harden.io/fidelity-probe";
const TOUCH_EVERYTHING: &str = r#"apiVersion: pulse-harden/v1
kind: PatchSet
steps:
  - name: touch-every-resource
    exclude:
      - name: "hazard-*"
    mergePatch:
      metadata:
        annotations:
          pulse-harden.io/fidelity-probe: "touched"
"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` next to the repository, or `$SHARED` (a git worktree lives elsewhere).
fn shared() -> PathBuf {
    std::env::var_os("SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared"))
}

fn oracle() -> PathBuf {
    let path = std::env::var_os("GOYAML_ORACLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools/bin/goyaml-oracle"));
    assert!(
        path.exists(),
        "the goyaml oracle is missing at {}: run `make oracle` (or set GOYAML_ORACLE)",
        path.display()
    );
    path
}

fn streams() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [root().join("tests/fidelity"), shared().join("corpus")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            panic!("missing {}", dir.display());
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The documents the oracle reads from a file (errors included, as strings).
fn k8s_view(path: &Path) -> Vec<Value> {
    let out = Command::new(oracle()).arg(path).output().unwrap();
    assert!(out.status.success(), "oracle failed on {}", path.display());
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        result.get("stream_error").is_none(),
        "{}: {}",
        path.display(),
        result["stream_error"]
    );
    result["documents"].as_array().unwrap().clone()
}

/// The document without the probe annotation. `annotations: {}` and `annotations: null` mean
/// "none" to Kubernetes, and the merge patch turns both into a map, so none of the three is
/// told apart.
fn without_probe(mut doc: Value) -> Value {
    if let Some(json) = doc.get_mut("json") {
        strip_probe(json);
    }
    doc
}

/// [`without_probe`] on one resource, and on the items of a List (which steps change item by
/// item, as Helm applies them).
fn strip_probe(resource: &mut Value) {
    if let Some(items) = resource.get_mut("items").and_then(Value::as_array_mut) {
        items.iter_mut().for_each(strip_probe);
    }
    if let Some(meta) = resource.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.shift_remove(PROBE_ANNOTATION);
        }
        if meta
            .get("annotations")
            .is_some_and(|a| a.is_null() || a.as_object().is_some_and(|m| m.is_empty()))
        {
            meta.shift_remove("annotations");
        }
    }
}

/// The resources (List items counted one by one) of a document as the oracle read it, and how
/// many of them carry the probe annotation.
fn probes(doc: &Value) -> (usize, usize) {
    fn count(resource: &Value, out: &mut (usize, usize)) {
        match resource.get("items").and_then(Value::as_array) {
            Some(items)
                if resource["kind"]
                    .as_str()
                    .is_some_and(|k| k.ends_with("List")) =>
            {
                items.iter().for_each(|item| count(item, out))
            }
            _ if resource.get("kind").is_some_and(Value::is_string) => {
                out.0 += 1;
                if resource.pointer("/metadata/annotations/pulse-harden.io~1fidelity-probe")
                    == Some(&Value::from("touched"))
                {
                    out.1 += 1;
                }
            }
            _ => {}
        }
    }
    let mut out = (0, 0);
    if let Some(json) = doc.get("json")
        && json.is_object()
        && !json["metadata"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("hazard-"))
    {
        count(json, &mut out);
    }
    out
}

#[test]
fn untouched_streams_are_byte_identical() {
    for path in streams() {
        let input = std::fs::read(&path).unwrap();
        let output = common::harden(&["--profile", "none"], &input);
        assert!(output == input, "{} changed", path.display());
    }
}

#[test]
fn rewritten_documents_mean_the_same_to_kubernetes() {
    let dir = std::env::temp_dir().join(format!("pulse-harden-fidelity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let patch = dir.join("touch.yaml");
    std::fs::write(&patch, TOUCH_EVERYTHING).unwrap();
    let patch_arg = patch.to_str().unwrap();
    let mut failures = Vec::new();
    let streams = streams();
    let corpus = streams
        .iter()
        .filter(|p| p.starts_with(root().join("../shared/corpus")))
        .count();
    assert!(
        corpus > 0,
        "no real chart in ../shared/corpus: the test would prove nothing"
    );
    let (mut resources, mut touched) = (0, 0);
    for path in streams {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let input = std::fs::read(&path).unwrap();
        let output = common::harden(&["-p", patch_arg], &input);
        let out_path = dir.join(&name);
        std::fs::write(&out_path, &output).unwrap();

        let after_raw = k8s_view(&out_path);
        // The probe must have landed on every resource it selects: a run that changed nothing
        // would otherwise compare equal.
        for (i, doc) in after_raw.iter().enumerate() {
            let (r, t) = probes(doc);
            resources += r;
            touched += t;
            if t != r {
                failures.push(format!(
                    "{name} document {}: the probe annotation is on {t} of {r} resources",
                    i + 1
                ));
            }
        }
        let before: Vec<Value> = k8s_view(&path).into_iter().map(without_probe).collect();
        let after: Vec<Value> = after_raw.into_iter().map(without_probe).collect();
        if before.len() != after.len() {
            failures.push(format!(
                "{name}: {} documents became {}",
                before.len(),
                after.len()
            ));
            continue;
        }
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            if b != a {
                failures.push(format!(
                    "{name} document {}:\n  before {b}\n  after  {a}",
                    i + 1
                ));
            }
        }
        let again = common::harden(&["-p", patch_arg], &output);
        if again != output {
            failures.push(format!("{name}: a second run changed the output"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        touched > 100,
        "only {touched} of {resources} resources were rewritten"
    );
}
