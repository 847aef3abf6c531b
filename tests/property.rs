//! Property test over the library: for random Helm-like streams (with the YAML 1.1 hazards
//! charts really hold) and random patch sets — the generic actions, built-in actions, a
//! generator of new documents, and guards that fail — the output reads, to Kubernetes' own
//! reader (the goyaml oracle, not ours), as what the pipeline computed; documents no step
//! changed come out byte for byte; a second run changes nothing; the resources out are the
//! resources in plus the generated ones; and a failing guard fails the run, naming itself.
//!
//! The generic steps are idempotent by construction (each writes only its own keys, selects
//! only on what no step writes), so "a second run changes nothing" tests the engine and the
//! built-in actions, not the patch set.

use proptest::prelude::*;
use pulse_harden::patchfile::{self, PatchSet};
use pulse_harden::{pipeline, stream};

/// Scalars a YAML 1.1 reader and a YAML 1.2 writer disagree about, as chart authors write them.
const HAZARD_SCALARS: &[&str] = &[
    "\"yes\"",
    "'no'",
    "\"0644\"",
    "0644",
    "0o17",
    "0x1F",
    "on",
    "off",
    "y",
    "\"on\"",
    "1e3",
    "\"1e3\"",
    "~",
    "null",
    "\"\"",
    "1_000",
    "'12:30'",
    "12:30",
    "true",
    "3.0",
    "-1",
    "\"007\"",
    "plain text",
    "'with # hash'",
    "\"tab\\there\"",
];

/// Values a step may write, hazards included: the emitter must quote what needs quoting.
const STEP_VALUES: &[&str] = &[
    "\"yes\"",
    "\"0644\"",
    "420",
    "\"on\"",
    "true",
    "\"1e3\"",
    "\"~\"",
    "\"\"",
    "\"a: b\"",
    "\"multi\\nline\\n\"",
    "\"# not a comment\"",
    "[]",
    "{}",
    "[\"ALL\"]",
    "{a: \"y\"}",
];

const KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "Pod",
    "ConfigMap",
    "Service",
];
const NAMES: &[&str] = &["web", "api", "worker-0", "db", "web-canary"];

#[derive(Debug, Clone)]
struct Doc {
    separator: &'static str,
    source: Option<&'static str>,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    Empty(&'static str),
    Resource(Resource),
}

#[derive(Debug, Clone)]
struct Resource {
    kind: &'static str,
    name: &'static str,
    namespace: Option<&'static str>,
    app_label: Option<&'static str>,
    data: Vec<(usize, &'static str)>,
    block_scalar: Option<&'static str>,
    comment: bool,
    containers: Vec<Container>,
}

#[derive(Debug, Clone)]
struct Container {
    name: &'static str,
    pull_policy: Option<&'static str>,
    security_context: bool,
}

fn container() -> impl Strategy<Value = Container> {
    (
        prop::sample::select(&["web", "sidecar", "init"][..]),
        prop::option::of(prop::sample::select(
            &["Always", "IfNotPresent", "\"Never\""][..],
        )),
        any::<bool>(),
    )
        .prop_map(|(name, pull_policy, security_context)| Container {
            name,
            pull_policy,
            security_context,
        })
}

fn doc() -> impl Strategy<Value = Doc> {
    let empty =
        prop::sample::select(&["", "\n", "# only a comment\n", "null\n"][..]).prop_map(Body::Empty);
    let resource = (
        prop::sample::select(KINDS),
        prop::sample::select(NAMES),
        prop::option::of(prop::sample::select(&["default", "prod", "\"yes\""][..])),
        prop::option::of(prop::sample::select(&["web", "api", "\"0644\""][..])),
        prop::collection::vec((0..6usize, prop::sample::select(HAZARD_SCALARS)), 0..5),
        prop::option::of(prop::sample::select(
            &[
                "|\n    line one\n    line: two\n",
                ">-\n    folded\n    text\n",
                "|+\n    keep\n\n",
            ][..],
        )),
        any::<bool>(),
        prop::collection::vec(container(), 1..3),
    )
        .prop_map(
            |(kind, name, namespace, app_label, data, block_scalar, comment, containers)| {
                Body::Resource(Resource {
                    kind,
                    name,
                    namespace,
                    app_label,
                    data,
                    block_scalar,
                    comment,
                    containers,
                })
            },
        );
    (
        prop::sample::select(&["---\n", "--- # separator comment\n", "---\r\n"][..]),
        prop::option::of(prop::sample::select(
            &[
                "chart/templates/workload.yaml",
                "chart/templates/other.yaml",
            ][..],
        )),
        prop_oneof![1 => empty, 6 => resource],
    )
        .prop_map(|(separator, source, body)| Doc {
            separator,
            source,
            body,
        })
}

fn render(docs: &[Doc]) -> String {
    let mut out = String::new();
    for (i, d) in docs.iter().enumerate() {
        let mut text = String::new();
        // A first document without `---`, as `helm template` of a one-template chart.
        if i > 0 || d.separator != "---\n" {
            text.push_str(d.separator.trim_end_matches(['\r', '\n']));
            text.push('\n');
        }
        if let Some(source) = d.source {
            text.push_str(&format!("# Source: {source}\n"));
        }
        match &d.body {
            Body::Empty(t) => text.push_str(t),
            Body::Resource(r) => {
                let workload = !matches!(r.kind, "ConfigMap" | "Service");
                let api = match r.kind {
                    "Deployment" | "StatefulSet" | "DaemonSet" => "apps/v1",
                    "Job" => "batch/v1",
                    _ => "v1",
                };
                text.push_str(&format!(
                    "apiVersion: {api}\nkind: {}\nmetadata:\n  name: {}\n",
                    r.kind, r.name
                ));
                if let Some(ns) = r.namespace {
                    text.push_str(&format!("  namespace: {ns}\n"));
                }
                if let Some(app) = r.app_label {
                    text.push_str(&format!("  labels:\n    app: {app}\n"));
                }
                if r.comment {
                    text.push_str("# a comment the chart author wrote\n");
                }
                if !r.data.is_empty() || r.block_scalar.is_some() {
                    text.push_str("data:\n");
                    let mut seen = std::collections::HashSet::new();
                    for (k, v) in &r.data {
                        if seen.insert(k) {
                            text.push_str(&format!("  k{k}: {v}  # value {k}\n"));
                        }
                    }
                    if let Some(b) = r.block_scalar {
                        text.push_str(&format!("  script: {b}"));
                    }
                }
                if workload {
                    let mut pod = String::from("containers:\n");
                    for c in &r.containers {
                        pod.push_str(&format!(
                            "- name: {}\n  image: \"registry/{}:1.0\"\n",
                            c.name, c.name
                        ));
                        if let Some(p) = c.pull_policy {
                            pod.push_str(&format!("  imagePullPolicy: {p}\n"));
                        }
                        if c.security_context {
                            pod.push_str("  securityContext:\n    runAsUser: 0644\n    readOnlyRootFilesystem: yes\n");
                        }
                    }
                    let indent = if r.kind == "Pod" { "  " } else { "      " };
                    if r.kind == "Pod" {
                        text.push_str("spec:\n");
                    } else {
                        if matches!(r.kind, "Deployment" | "StatefulSet") {
                            // Replicated, with a selector: the budget generator acts on it.
                            text.push_str(&format!("spec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: {0}}}\n  template:\n    metadata:\n      labels: {{app: {0}}}\n    spec:\n", r.name));
                        } else {
                            text.push_str("spec:\n  template:\n    spec:\n");
                        }
                    }
                    for line in pod.lines() {
                        text.push_str(&format!("{indent}{line}\n"));
                    }
                }
            }
        }
        if d.separator.ends_with("\r\n") {
            text = text.replace('\n', "\r\n");
        }
        out.push_str(&text);
    }
    out
}

/// One step; `i` makes its keys its own, so no step undoes or enables another.
fn step(i: usize, action: usize, value: &str, select: &str, if_absent: bool) -> String {
    let mode = if if_absent { "ifAbsent" } else { "overwrite" };
    let head = format!(
        "  - name: step-{i}\n    select: {select}\n    mode: {mode}\n    onFailure: skip\n"
    );
    let body = match action {
        0 => format!("    mergePatch: {{metadata: {{annotations: {{step-{i}: {value}}}}}}}\n"),
        1 => format!("    target: containers\n    mergePatch: {{step{i}: {value}}}\n"),
        2 => format!("    target: podSpec\n    mergePatch: {{step{i}: {value}, securityContext: {{runAsNonRoot: true}}}}\n"),
        3 => format!("    jsonPatch:\n      - {{op: add, path: /metadata/labels/step-{i}, value: {value}}}\n"),
        4 => format!(
            "    jsonPatch:\n      - {{op: add, path: \"/spec/template/spec/containers/*/step{i}\", value: {value}}}\n"
        ),
        5 => "    jsonPatch:\n      - {op: replace, path: \"/spec/template/spec/containers/[name=web]/image\", value: \"mirror/web:1.0\"}\n".to_string(),
        6 => format!("    jsonPatch:\n      - {{op: remove, path: /data/k{}}}\n", i % 6),
        7 => format!("    mergePatch: {{data: {{k{}: null}}}}\n", i % 6),
        // Built-in actions, which must be idempotent on their own and never fail here.
        8 => return built_in(i, select, "    setSeccomp: {}\n"),
        9 => return built_in(i, select, "    hardenContainers: {}\n"),
        10 => return built_in(i, select, "    setImagePullPolicy: {policy: IfNotPresent}\n"),
        11 => return built_in(i, select, "    generatePodDisruptionBudgets: {}\n"),
        12 => return built_in(i, select, &format!("    addMetadata: {{annotations: {{step-{i}: \"on\"}}, podTemplates: true}}\n")),
        // A guard that fails on every resource it selects, with the default `onFailure: error`.
        _ => return format!("  - name: guard-{i}\n    select: {select}\n    jsonPatch:\n      - {{op: test, path: /metadata/name, value: no-such-name}}\n"),
    };
    head + &body
}

fn built_in(i: usize, select: &str, action: &str) -> String {
    format!("  - name: step-{i}\n    select: {select}\n{action}")
}

const SELECTORS: &[&str] = &[
    "{}",
    "{kind: Deployment}",
    "{kind: [StatefulSet, DaemonSet, Job]}",
    "{kind: \"*Set\"}",
    "{name: \"web*\"}",
    "{name: \"?b\", kind: \"[CD]*\"}",
    "{labelSelector: \"app=web\"}",
    "{labelSelector: \"app\"}",
    "{labelSelector: \"!app\"}",
    "{namespace: [\"\", default]}",
    "{source: \"*/workload.yaml\"}",
    "{labelSelector: \"app in (web, api)\", kind: \"*\"}",
];

fn patch_set() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            0..14usize,
            prop::sample::select(STEP_VALUES),
            prop::sample::select(SELECTORS),
            any::<bool>(),
        ),
        1..6,
    )
    .prop_map(|mut steps| {
        // The budget generator first: a step before it would change what it generates on
        // the second run only (generated documents are new to the steps before them).
        steps.sort_by_key(|(action, ..)| *action != 11);
        let mut text = String::from("apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n");
        for (i, (action, value, select, if_absent)) in steps.into_iter().enumerate() {
            text.push_str(&step(i, action, value, select, if_absent));
        }
        text
    })
}

fn harden(input: &[u8], sets: &[PatchSet]) -> (stream::Stream, Vec<u8>) {
    try_harden(input, sets).expect("no guard selected anything, so the run succeeds")
}

fn try_harden(input: &[u8], sets: &[PatchSet]) -> anyhow::Result<(stream::Stream, Vec<u8>)> {
    let mut s = stream::read(input).expect("generated streams read");
    pipeline::run(&mut s.manifests, sets)?;
    let out = stream::write(&s).expect("changed documents can be written");
    Ok((s, out))
}

/// What Kubernetes' YAML reader (the goyaml oracle) reads from `output`, document by document.
fn kubernetes_view(output: &[u8]) -> Vec<serde_json::Value> {
    let oracle = std::env::var_os("GOYAML_ORACLE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/goyaml-oracle")
        });
    let file = std::env::temp_dir().join(format!(
        "pulse-harden-property-{}-{:?}.yaml",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&file, output).unwrap();
    let out = std::process::Command::new(&oracle)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("the goyaml oracle at {}: {e}", oracle.display()));
    let _ = std::fs::remove_file(&file);
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(result.get("stream_error").is_none(), "{result}");
    result["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["json"].clone())
        .collect()
}

/// JSON equality with numbers compared by value (goyaml reads `3.0` as the number 3).
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The names of the guard steps (which fail whatever they select).
fn guards(patches: &str) -> Vec<String> {
    patches
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- name: guard-"))
        .map(|n| format!("guard-{n}"))
        .collect()
}

fn resource_ids(s: &stream::Stream) -> Vec<String> {
    let mut ids: Vec<String> = s
        .manifests
        .iter()
        .filter(|m| m.is_resource())
        .map(|m| m.id())
        .collect();
    ids.sort();
    ids
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn hardening_is_faithful_and_idempotent(docs in prop::collection::vec(doc(), 0..7), patches in patch_set()) {
        let input = render(&docs);
        let set = patchfile::parse(&patches, "random.yaml")
            .unwrap_or_else(|e| panic!("{e:#}\n{patches}"));
        let sets = [set];
        let original = stream::read(input.as_bytes()).expect("generated streams read");
        let (ran, output) = match try_harden(input.as_bytes(), &sets) {
            Ok(done) => done,
            Err(e) => {
                // Only a guard fails a run, and the error names it, the resource and where.
                let e = format!("{e:#}");
                let named = guards(&patches)
                    .iter()
                    .any(|g| e.starts_with(&format!("random.yaml: step `{g}` failed on ")));
                prop_assert!(named, "unexpected error: {}", e);
                prop_assert!(e.contains("test failed: /metadata/name is \""), "{}", e);
                prop_assert!(e.ends_with("expected \"no-such-name\""), "{}", e);
                return Ok(());
            }
        };
        // A guard that selected something must have failed the run.
        for guard in guards(&patches) {
            let step = sets[0].steps.iter().find(|s| s.name == guard).unwrap();
            prop_assert!(
                !ran.manifests.iter().any(|m| !m.generated && m.is_resource() && step.select.matches(m)),
                "guard {} selected a resource but the run succeeded", guard
            );
        }

        // The output reads, to Kubernetes' own reader, as the values the pipeline computed.
        let reread = stream::read(&output).expect("the output reads back");
        prop_assert_eq!(reread.manifests.len(), ran.manifests.len());
        // (Kubernetes skips empty and `null` documents.)
        let view: Vec<_> = kubernetes_view(&output).into_iter().filter(|v| !v.is_null()).collect();
        let ours: Vec<_> = ran.manifests.iter().filter_map(|m| m.value.as_ref()).filter(|v| !v.is_null()).collect();
        prop_assert_eq!(view.len(), ours.len());
        for (k8s, ours) in view.iter().zip(ours) {
            prop_assert!(same(k8s, ours), "a document reads, to Kubernetes, as\n{}\nnot\n{}", k8s, ours);
        }

        // Documents no step changed come out byte for byte.
        let mut originals = original.manifests.iter();
        for (out, m) in reread.manifests.iter().zip(&ran.manifests) {
            if m.generated {
                continue;
            }
            let before = originals.next().expect("no input document is lost");
            if !m.is_changed() {
                prop_assert_eq!(&out.separator, &before.separator);
                prop_assert_eq!(&out.raw, &before.raw);
            }
        }
        prop_assert!(originals.next().is_none(), "an input document is missing");

        // Running twice is running once.
        let (_, again) = harden(&output, &sets);
        prop_assert_eq!(String::from_utf8_lossy(&again), String::from_utf8_lossy(&output));

        // The resources out are the resources in, plus what steps generated.
        let mut expected = resource_ids(&original);
        expected.extend(ran.manifests.iter().filter(|m| m.generated && m.is_resource()).map(|m| m.id()));
        expected.sort();
        prop_assert_eq!(resource_ids(&reread), expected);
    }
}
