//! A streaming run decides a PodDisruptionBudget generator's outcomes once the whole stream is
//! read, from what it kept of each document (`pipeline::run_streaming`, `Transform::DECIDES_FROM`).
//! For random streams of workloads, autoscalers, budgets, Lists, hooks and opt-outs, and random
//! steps before and after the generator (one of which may fail), it must end exactly as the
//! run step by step ends: the same output bytes, the same report (or summary line), or the
//! same error.

mod common;

use common::helm_home::temp_dir;
use common::{feed, pulse_harden};
use proptest::prelude::*;
use pulse_harden::images::NO_IMAGE_USERS;
use pulse_harden::patchfile::{self, PatchSet};
use pulse_harden::pipeline::{self, Keep};
use pulse_harden::stream::{self, Segments, Stream};

const NAMESPACES: &[&str] = &["", "a", "b"];
const NAMES: &[&str] = &["web", "api", "web-pdb", "db"];
const WORKLOADS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Pod",
    "CronJob",
    "Job",
];
const LABELS: &[&str] = &["{app: x}", "{app: y}", "{app: x, c: '1'}", "{c: '1'}", "{}"];
const SELECTORS: &[&str] = &[
    "{matchLabels: {app: x}}",
    "{matchLabels: {app: y}}",
    "{matchLabels: {app: x, c: '1'}}",
    "{matchExpressions: [{key: c, operator: Exists}]}",
    "{matchExpressions: [{key: app, operator: In, values: [x]}]}",
    "{matchLabels: {c: '1'}, matchExpressions: [{key: app, operator: In, values: [x, y]}]}",
    "{}",
    "null",
];
const REPLICAS: &[&str] = &[
    "",
    "  replicas: 1\n",
    "  replicas: 2\n",
    "  replicas: 3\n",
    "  replicas: two\n",
];
const ANNOTATIONS: &[&str] = &[
    "",
    "  annotations: {helm.sh/hook: pre-install}\n",
    "  annotations: {pulse-harden.io/skip: pdbs}\n",
    "  annotations: {postrenderer.helm.sh/postrender-filename: c/templates/w.yaml}\n",
];

/// One document of the stream, from indexes into the tables above.
#[derive(Debug, Clone)]
enum Doc {
    Workload {
        kind: usize,
        name: usize,
        namespace: usize,
        labels: usize,
        selector: usize,
        replicas: usize,
        annotations: usize,
        source: bool,
    },
    Autoscaler {
        name: usize,
        namespace: usize,
        min: usize,
    },
    Budget {
        name: usize,
        namespace: usize,
        selector: usize,
        group: usize,
    },
    ConfigMap {
        name: usize,
    },
    List(Vec<Doc>),
    Scalar,
}

fn leaf() -> impl Strategy<Value = Doc> {
    prop_oneof![
        6 => (0..WORKLOADS.len(), 0..NAMES.len(), 0..NAMESPACES.len(), 0..LABELS.len(),
              0..SELECTORS.len(), 0..REPLICAS.len(), 0..ANNOTATIONS.len(), any::<bool>())
            .prop_map(|(kind, name, namespace, labels, selector, replicas, annotations, source)| {
                Doc::Workload { kind, name, namespace, labels, selector, replicas, annotations, source }
            }),
        2 => (0..NAMES.len(), 0..NAMESPACES.len(), 0..4usize)
            .prop_map(|(name, namespace, min)| Doc::Autoscaler { name, namespace, min }),
        2 => (0..NAMES.len(), 0..NAMESPACES.len(), 0..SELECTORS.len(), 0..3usize)
            .prop_map(|(name, namespace, selector, group)| Doc::Budget { name, namespace, selector, group }),
        1 => (0..NAMES.len()).prop_map(|name| Doc::ConfigMap { name }),
        1 => Just(Doc::Scalar),
    ]
}

fn doc() -> impl Strategy<Value = Doc> {
    prop_oneof![
        8 => leaf(),
        1 => prop::collection::vec(leaf(), 0..4).prop_map(Doc::List),
    ]
}

/// The document's YAML (`indent`: inside a List's items).
fn yaml(doc: &Doc) -> String {
    match doc {
        Doc::Workload {
            kind,
            name,
            namespace,
            labels,
            selector,
            replicas,
            annotations,
            source,
        } => {
            let kind = WORKLOADS[*kind];
            let (api, template_at) = match kind {
                "Pod" => ("v1", None),
                "CronJob" | "Job" => ("batch/v1", Some("jobTemplate")),
                _ => ("apps/v1", Some("template")),
            };
            let labels = LABELS[*labels];
            let mut out = String::new();
            if *source {
                out.push_str("# Source: c/templates/w.yaml\n");
            }
            out.push_str(&format!(
                "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {}\n",
                NAMES[*name]
            ));
            if !NAMESPACES[*namespace].is_empty() {
                out.push_str(&format!("  namespace: {}\n", NAMESPACES[*namespace]));
            }
            out.push_str(&format!("  labels: {labels}\n"));
            out.push_str(ANNOTATIONS[*annotations]);
            match template_at {
                None => out.push_str("spec:\n  containers: [{name: c, image: x}]\n"),
                Some(at) => {
                    out.push_str("spec:\n");
                    out.push_str(REPLICAS[*replicas]);
                    out.push_str(&format!("  selector: {}\n", SELECTORS[*selector]));
                    let pod = format!(
                        "{{metadata: {{labels: {labels}}}, spec: {{containers: [{{name: c, image: x}}]}}}}"
                    );
                    match at {
                        "template" => out.push_str(&format!("  template: {pod}\n")),
                        _ => out.push_str(&format!(
                            "  schedule: '* * * * *'\n  jobTemplate: {{spec: {{template: {pod}}}}}\n"
                        )),
                    }
                }
            }
            out
        }
        Doc::Autoscaler {
            name,
            namespace,
            min,
        } => {
            let min = [
                "",
                "  minReplicas: 1\n",
                "  minReplicas: 2\n",
                "  minReplicas: x\n",
            ][*min];
            format!(
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {}\n  namespace: {}\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {}}}\n{min}  maxReplicas: 5\n",
                NAMES[*name],
                ["default", "a", "b"][*namespace],
                NAMES[*name]
            )
        }
        Doc::Budget {
            name,
            namespace,
            selector,
            group,
        } => format!(
            "apiVersion: {}\nkind: PodDisruptionBudget\nmetadata:\n  name: {}\n  namespace: {}\nspec:\n  maxUnavailable: 1\n  selector: {}\n",
            ["policy/v1", "policy/v1beta1", "example.com/v1"][*group],
            NAMES[*name],
            ["default", "a", "b"][*namespace],
            SELECTORS[*selector]
        ),
        Doc::ConfigMap { name } => format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\ndata:\n  k: v\n",
            NAMES[*name]
        ),
        Doc::List(items) => {
            let mut out = String::from("apiVersion: v1\nkind: List\nitems:\n");
            for item in items {
                let text = yaml(item);
                let text = text
                    .lines()
                    .filter(|line| !line.starts_with('#'))
                    .collect::<Vec<_>>();
                if text.is_empty() {
                    continue;
                }
                for (n, line) in text.iter().enumerate() {
                    let lead = if n == 0 { "- " } else { "  " };
                    out.push_str(&format!("{lead}{line}\n"));
                }
            }
            out
        }
        Doc::Scalar => "just text\n".into(),
    }
}

/// Steps before and after the generator, and the generator's own shape.
#[derive(Debug, Clone)]
struct Steps {
    before: usize,
    generator: usize,
    after: usize,
}

const BEFORE: &[&str] = &[
    "",
    "  - name: label\n    select: {kind: [Deployment, StatefulSet]}\n    mergePatch: {metadata: {labels: {team: t}}}\n",
    "  - name: spread\n    spreadTopology: {}\n",
    "  - name: guard\n    select: {name: db}\n    jsonPatch:\n      - {op: test, path: /metadata/name, value: nope}\n",
];
const GENERATOR: &[&str] = &[
    "  - name: pdbs\n    generatePodDisruptionBudgets: {}\n",
    "  - name: pdbs\n    select: {kind: [Deployment, StatefulSet], hooks: exclude}\n    generatePodDisruptionBudgets: {maxUnavailable: \"50%\"}\n",
    "  - name: pdbs\n    select: {kind: Deployment}\n    exclude: [{labelSelector: c}]\n    onConflict: error\n    generatePodDisruptionBudgets: {nameSuffix: -pdb}\n",
    "  - name: pdbs\n    generatePodDisruptionBudgets: {minAvailable: 2}\n",
    "  - name: pdbs\n    onFailure: skip\n    generatePodDisruptionBudgets: {minAvailable: 2}\n",
    "  - name: pdbs\n    select: {labelSelector: \"!c\"}\n    generatePodDisruptionBudgets: {}\n",
];
const AFTER: &[&str] = &[
    "",
    "  - name: mark\n    mergePatch: {metadata: {annotations: {marked: \"yes\"}}}\n",
    "  - name: guard-after\n    select: {kind: PodDisruptionBudget}\n    jsonPatch:\n      - {op: test, path: /spec/maxUnavailable, value: 7}\n",
    "  - name: seccomp\n    setSeccomp: {}\n",
];

fn patch_set(steps: &Steps) -> Vec<PatchSet> {
    let text = format!(
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n{}{}{}",
        BEFORE[steps.before], GENERATOR[steps.generator], AFTER[steps.after]
    );
    vec![patchfile::parse(&text, "p.yaml").expect("the patch set loads")]
}

/// How a run ended: the output and the report (or its summary line), or the error.
fn outcome(
    result: anyhow::Result<pulse_harden::report::Report>,
    stream: Stream,
    keep: Keep,
) -> String {
    match result {
        Err(e) => format!("error: {e:#}"),
        Ok(report) => {
            let resources = pulse_harden::report::render::resources(&stream.manifests);
            let output = stream::render(&stream).map(|rendered| {
                let mut out = Vec::new();
                rendered.write_to(&mut out).expect("written to memory");
                String::from_utf8(out).expect("UTF-8")
            });
            let report = match keep.report {
                true => serde_json::to_string_pretty(&report).expect("a report serializes"),
                false => report.summary_line(resources),
            };
            format!("{output:?}\n{report}")
        }
    }
}

fn step_by_step(input: &str, sets: &[PatchSet], keep: Keep) -> String {
    let mut stream = match stream::read_for(
        input.as_bytes().to_vec(),
        &pipeline::wants_whole(sets),
        50_000,
    ) {
        Ok(stream) => stream,
        Err(e) => return format!("error: {e:#}"),
    };
    let result = pipeline::run_step_by_step(&mut stream.manifests, sets, &NO_IMAGE_USERS, keep);
    outcome(result, stream, keep)
}

fn streamed(input: &str, sets: &[PatchSet], keep: Keep, segment_bytes: usize) -> String {
    let mut segments = Segments::new(input.as_bytes(), "stdin", 50_000, segment_bytes);
    let mut manifests = Vec::new();
    let result = pipeline::run_streaming(
        &mut manifests,
        &mut || segments.next_documents(),
        sets,
        &NO_IMAGE_USERS,
        keep,
    );
    let stream = Stream {
        bom: segments.bom(),
        manifests,
    };
    outcome(result, stream, keep)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn the_generator_decided_at_the_end_of_a_stream_decides_as_step_by_step(
        docs in prop::collection::vec(doc(), 0..14),
        before in 0..BEFORE.len(),
        generator in 0..GENERATOR.len(),
        after in 0..AFTER.len(),
        report in any::<bool>(),
        values in any::<bool>(),
        segment_bytes in prop::sample::select(&[64usize, 1 << 20][..]),
    ) {
        let input: String = docs.iter().map(|d| format!("---\n{}", yaml(d))).collect();
        let sets = patch_set(&Steps { before, generator, after });
        prop_assert!(pipeline::streams(&sets), "the run streams");
        let keep = Keep { values, report };
        let expected = step_by_step(&input, &sets, keep);
        let got = streamed(&input, &sets, keep, segment_bytes);
        prop_assert_eq!(got, expected, "input:\n{}", input);
    }
}

/// What the generator copies from a Deployment comes out as the run step by step writes it,
/// though a streaming run keeps it as JSON meanwhile: floats that need all 17 digits, and
/// values nested deeper than JSON is read back. The binary, not the library: the features a
/// test build gives serde_json are not the release build's.
#[test]
fn what_the_generator_copies_comes_out_the_same() {
    let dir = temp_dir("deferred-copies");
    std::fs::write(
        dir.join("pdbs.yaml"),
        format!(
            "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n{}",
            GENERATOR[0]
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("arm.yaml"),
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n- name: arm\n  select: {kind: NoSuchKind}\n  scheduleOnArm64: {}\n",
    )
    .unwrap();
    let floats = [
        "-9.419895434327705e+175",
        "5.5191713487143376e-46",
        "-5.0133857111462676e-80",
        "0.30000000000000004",
        "5e-324",
        "1.7976931348623157e308",
    ];
    let labels: String = (floats.iter().enumerate())
        .map(|(n, f)| format!(", w{n}: {f}"))
        .collect();
    let deep = format!("{}1{}", "[".repeat(130), "]".repeat(130));
    let input = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {{app: web{labels}}}\n  annotations: {{deep: {deep}}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: web}}, x: {deep}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: c, image: x}}]}}\n"
    );
    let run = |extra: &[&str]| {
        let mut cmd = pulse_harden();
        cmd.current_dir(&dir).args(["-p", "pdbs.yaml"]).args(extra);
        let run = feed(&mut cmd, input.as_bytes());
        assert_eq!(run.code, 0, "{extra:?}: {}", run.stderr);
        String::from_utf8(run.stdout).expect("UTF-8")
    };
    let streamed = run(&[]);
    let step_by_step = run(&["-p", "arm.yaml"]);
    assert_eq!(streamed, step_by_step);
    assert_eq!(
        streamed.matches("kind: PodDisruptionBudget").count(),
        1,
        "{streamed}"
    );
    // Copied into the budget's labels as written (the last two are written another way).
    for float in &floats[..4] {
        assert_eq!(streamed.matches(float).count(), 2, "{float}: {streamed}");
    }
}
