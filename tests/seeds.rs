//! The seed charts (`tests/charts/`), rendered by real Helm and run through every shipped
//! profile: what a platform engineer expects to find in the output, field by field, plus one
//! golden file per chart and profile in `tests/seeds/` for a reviewer to read.
//! `BLESS=1 cargo test --test seeds` rewrites the golden files; review the diff.

mod common;

use common::helm;
use common::pss::{self, Level};
use pulse_harden::{patchfile, pipeline, stream};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// A seed chart and the values one of its real installs uses.
#[derive(Clone, Copy)]
struct Seed {
    /// Names the golden files: `tests/seeds/<name>.<profile>.yaml`.
    name: &'static str,
    chart: &'static str,
    release: &'static str,
    namespace: &'static str,
    values: &'static [&'static str],
}

const PULSE_OS: Seed = Seed {
    name: "pulse-os",
    chart: "pulse-os",
    release: "pulse-os",
    namespace: "apps",
    values: &["values-full.yaml"],
};
/// Pulse-OS with `targetRef.namespace` written out on the policies.
const PULSE_OS_TARGETREF_NAMESPACE: Seed = Seed {
    name: "pulse-os-targetref-namespace",
    values: &["values-full.yaml", "values-targetref-namespace.yaml"],
    ..PULSE_OS
};
const HEALTH_API: Seed = Seed {
    name: "health-api",
    chart: "health-api",
    release: "health-api",
    namespace: "health-api",
    values: &[],
};
const HEALTH_API_PRODUCTION: Seed = Seed {
    name: "health-api-production",
    values: &["values-production.yaml"],
    ..HEALTH_API
};
const ETL_ENGINE: Seed = Seed {
    name: "etl-engine",
    chart: "etl-engine",
    release: "etl-engine",
    namespace: "health-etl",
    values: &[],
};
const ETL_ENGINE_PRODUCTION: Seed = Seed {
    name: "etl-engine-production",
    values: &["values-production.yaml"],
    ..ETL_ENGINE
};

const ETL_ENGINE_FIXED_REPLICAS: Seed = Seed {
    name: "etl-engine-fixed-replicas",
    values: &["values-fixed-replicas.yaml"],
    ..ETL_ENGINE
};

/// Every chart and profile the golden files cover.
const RUNS: &[(Seed, &str)] = &[
    (PULSE_OS, "pulse-os"),
    (PULSE_OS, "restricted"),
    (PULSE_OS, "baseline"),
    (PULSE_OS, "ha"),
    (PULSE_OS, "arm64"),
    (HEALTH_API, "restricted"),
    (HEALTH_API, "baseline"),
    (HEALTH_API, "ha"),
    (HEALTH_API, "arm64"),
    (HEALTH_API_PRODUCTION, "arm64"),
    (ETL_ENGINE, "restricted"),
    (ETL_ENGINE, "baseline"),
    (ETL_ENGINE, "ha"),
    (ETL_ENGINE, "arm64"),
    (ETL_ENGINE_PRODUCTION, "arm64"),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

impl Seed {
    fn render_with(&self, helm: &str) -> Vec<u8> {
        let chart = root().join("tests/charts").join(self.chart);
        let values: Vec<PathBuf> = self.values.iter().map(|v| chart.join(v)).collect();
        helm::template(helm, self.release, &chart, self.namespace, &values)
    }

    /// The Helm 4 rendering, done once per seed for the whole test binary.
    fn rendered(&self) -> Vec<u8> {
        static CACHE: OnceLock<Mutex<HashMap<&'static str, Vec<u8>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(bytes) = cache.lock().unwrap().get(self.name) {
            return bytes.clone();
        }
        let bytes = self.render_with("helm");
        cache.lock().unwrap().insert(self.name, bytes.clone());
        bytes
    }

    /// Renders and runs the binary with `profile`, checking that a second run changes nothing.
    fn harden(&self, profile: &str) -> Hardened {
        let input = self.rendered();
        let first = common::harden(&profile_args(profile), &input);
        let second = common::harden(&profile_args(profile), &first);
        assert!(
            second == first,
            "{} with {profile}: a second run changed the output",
            self.name
        );
        let hardened = Hardened {
            label: format!("{} with {profile}", self.name),
            input: documents(&input),
            output: documents(&first),
            stdout: first,
        };
        // Generated documents are filed after their owners; the chart's keep their order.
        let kept: Vec<String> = ids(&hardened.stdout)
            .into_iter()
            .filter(|id| hardened.input.contains_key(id))
            .collect();
        assert_eq!(kept, ids(&input), "{}: documents reordered", hardened.label);
        hardened
    }
}

fn profile_args(profile: &str) -> Vec<String> {
    vec!["--profile".into(), profile.into()]
}

/// One document of a stream, found by `Kind/namespace/name`.
struct Doc {
    raw: String,
    value: Value,
}

struct Hardened {
    label: String,
    input: BTreeMap<String, Doc>,
    output: BTreeMap<String, Doc>,
    stdout: Vec<u8>,
}

/// `Kind/namespace/name` of every resource, in stream order.
fn ids(bytes: &[u8]) -> Vec<String> {
    let stream = stream::read(bytes).expect("the stream parses");
    stream
        .manifests
        .iter()
        .filter(|m| m.value.is_some())
        .map(key_of)
        .collect()
}

fn key_of(m: &pulse_harden::manifest::Manifest) -> String {
    format!("{}/{}/{}", m.kind(), m.namespace(), m.name())
}

fn documents(bytes: &[u8]) -> BTreeMap<String, Doc> {
    let stream = stream::read(bytes).expect("the stream parses");
    let mut docs = BTreeMap::new();
    for m in stream.manifests {
        let Some(value) = m.value.clone() else {
            continue;
        };
        let key = key_of(&m);
        let doc = Doc {
            raw: m.raw.to_string(),
            value,
        };
        assert!(docs.insert(key.clone(), doc).is_none(), "{key} twice");
    }
    docs
}

impl Hardened {
    fn doc(&self, key: &str) -> &Value {
        match self.output.get(key) {
            Some(doc) => &doc.value,
            None => panic!(
                "{}: no {key} in the output; it has {:?}",
                self.label,
                self.output.keys().collect::<Vec<_>>()
            ),
        }
    }

    /// Documents in the output that were not in the input.
    fn new_documents(&self) -> Vec<&str> {
        self.output
            .keys()
            .filter(|k| !self.input.contains_key(*k))
            .map(String::as_str)
            .collect()
    }

    fn unchanged(&self, key: &str) -> bool {
        match (self.input.get(key), self.output.get(key)) {
            (Some(a), Some(b)) => a.raw == b.raw,
            _ => false,
        }
    }

    fn pdbs(&self) -> Vec<&Value> {
        self.new_documents()
            .into_iter()
            .filter(|k| k.starts_with("PodDisruptionBudget/"))
            .map(|k| self.doc(k))
            .collect()
    }

    /// The generated PodDisruptionBudget whose selector is `selector`, if any.
    fn pdb_for(&self, selector: &Value) -> Option<&Value> {
        self.pdbs()
            .into_iter()
            .find(|pdb| pdb.pointer("/spec/selector/matchLabels") == Some(selector))
    }
}

/// The JSON pointer of the pod template of a built-in workload kind.
fn template_path(kind: &str) -> Option<&'static str> {
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => Some("/spec/template"),
        "CronJob" => Some("/spec/jobTemplate/spec/template"),
        _ => None,
    }
}

fn pod_spec<'v>(key: &str, doc: &'v Value) -> Option<&'v Value> {
    let kind = key.split('/').next()?;
    doc.pointer(&format!("{}/spec", template_path(kind)?))
}

fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .filter_map(|list| pod.get(list).and_then(Value::as_array))
        .flatten()
}

fn workloads(docs: &BTreeMap<String, Doc>) -> Vec<(&str, &Value)> {
    docs.iter()
        .filter_map(|(k, d)| pod_spec(k, &d.value).map(|pod| (k.as_str(), pod)))
        .collect()
}

/// The fields of a document that changed, as JSON pointers.
fn changed_paths(before: &Value, after: &Value) -> Vec<String> {
    json_patch::diff(before, after)
        .0
        .iter()
        .map(|op| op.path().to_string())
        .collect()
}

/// What a profile may change, as path segments one of which every changed field must have:
/// anything else changing means the profile touched what the chart set and it was not asked to.
fn allowed_segments(profile: &str) -> &'static [&'static str] {
    match profile {
        "restricted" | "baseline" => &[
            "securityContext",
            "volumes",
            "volumeMounts",
            "automountServiceAccountToken",
        ],
        "ha" => &["topologySpreadConstraints"],
        "arm64" => &["nodeSelector", "tolerations"],
        "pulse-os" => &[
            "securityContext",
            "volumes",
            "volumeMounts",
            "automountServiceAccountToken",
            "topologySpreadConstraints",
            "http",
        ],
        other => panic!("no expectations for profile {other}"),
    }
}

/// Only workloads change, and the health-check policies the Pulse-OS fix-ups align:
/// ConfigMaps (scripts, `0755` strings), Secrets, Services, Ingresses, HPAs, PVCs and
/// custom resources pass through byte for byte under every profile.
fn may_change(key: &str, profile: &str) -> bool {
    let kind = key.split('/').next().unwrap_or_default();
    template_path(kind).is_some() || (profile == "pulse-os" && kind == "HealthCheckPolicy")
}

fn bless() -> bool {
    std::env::var_os("BLESS").is_some()
}

#[test]
fn every_seed_renders_with_helm_4_and_3_and_passes_through_untouched() {
    for seed in [
        PULSE_OS,
        PULSE_OS_TARGETREF_NAMESPACE,
        HEALTH_API,
        HEALTH_API_PRODUCTION,
        ETL_ENGINE,
        ETL_ENGINE_PRODUCTION,
        ETL_ENGINE_FIXED_REPLICAS,
    ] {
        for helm in ["helm", "helm3"] {
            let input = seed.render_with(helm);
            let out = common::harden(&["--profile", "none"], &input);
            assert!(
                out == input,
                "{} rendered by {helm}: --profile none changed the stream",
                seed.name
            );
        }
    }
    // Without the `-f` files too: the defaults must render on their own.
    let pulse_os = root().join("tests/charts/pulse-os");
    let defaults = helm::template("helm", "pulse-os", &pulse_os, "apps", &[]);
    assert!(!documents(&defaults).contains_key("CronJob/apps/datahub-exporter"));
}

/// Every chart and profile: the output matches its golden file, documents no step had reason
/// to touch come out byte for byte, and changed ones differ only where the profile works.
#[test]
fn each_profile_changes_only_what_it_is_for() {
    let mut failures = Vec::new();
    for &(seed, profile) in RUNS {
        let out = seed.harden(profile);
        let golden = root()
            .join("tests/seeds")
            .join(format!("{}.{profile}.yaml", seed.name));
        if bless() {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, &out.stdout).unwrap();
        } else {
            match std::fs::read(&golden) {
                Ok(expected) if expected == out.stdout => {}
                Ok(_) => failures.push(format!(
                    "{}: output differs from {} (BLESS=1 to regenerate, then review the diff)",
                    out.label,
                    golden.display()
                )),
                Err(_) => failures.push(format!("{}: {} is missing", out.label, golden.display())),
            }
        }

        let allowed = allowed_segments(profile);
        for (key, before) in &out.input {
            let Some(after) = out.output.get(key) else {
                failures.push(format!("{}: {key} was dropped", out.label));
                continue;
            };
            let paths = changed_paths(&before.value, &after.value);
            if !may_change(key, profile) && before.raw != after.raw {
                failures.push(format!(
                    "{}: {key} is not byte for byte the input",
                    out.label
                ));
                continue;
            }
            if paths.is_empty() && before.raw != after.raw {
                failures.push(format!(
                    "{}: {key} means the same but its text changed",
                    out.label
                ));
            }
            for path in paths {
                if !path.split('/').any(|segment| allowed.contains(&segment)) {
                    failures.push(format!("{}: {key} changed at {path}", out.label));
                }
            }
        }
        for key in out.new_documents() {
            if !key.starts_with("PodDisruptionBudget/") {
                failures.push(format!("{}: unexpected new document {key}", out.label));
            } else if !out.output[key].raw.starts_with("# Source: ") {
                failures.push(format!(
                    "{}: {key} has no `# Source:` header naming its workload's template",
                    out.label
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

const HEALTH_API_DEPLOYMENT: &str = "Deployment/health-api/health-api";
const ETL_DEPLOYMENT: &str = "Deployment/health-etl/etl-engine";
/// The two health services, default values, with their Deployments.
const HEALTH_SERVICES: [(Seed, &str); 2] = [
    (HEALTH_API, HEALTH_API_DEPLOYMENT),
    (ETL_ENGINE, ETL_DEPLOYMENT),
];
const API: &str = "Deployment//api";
const WORKERS: &str = "Deployment/workers-blue/workers";
const EXPORTER: &str = "CronJob/apps/datahub-exporter";

#[test]
fn pulse_os_health_checks_probe_the_paths_the_containers_answer_on() {
    assert_health_checks_aligned(PULSE_OS);
}

/// The policies say `namespace: apps` (the release namespace) while the Services, rendered
/// with `helm template -n apps`, leave it implied. The same Service to Kubernetes.
#[test]
fn pulse_os_health_checks_align_when_the_policy_names_the_release_namespace() {
    assert_health_checks_aligned(PULSE_OS_TARGETREF_NAMESPACE);
}

fn assert_health_checks_aligned(seed: Seed) {
    let out = seed.harden("pulse-os");
    for (policy, path) in [
        (
            "HealthCheckPolicy//execution-api-health-check",
            "/execution/api/v1/status",
        ),
        (
            "HealthCheckPolicy//management-api-health-check",
            "/management/api/v1/status",
        ),
    ] {
        assert_eq!(
            out.input[policy].value.pointer("/spec/default/http/path"),
            Some(&json!("/api/v1/status")),
            "the seed's mismatch is gone from the chart"
        );
        let mut expected = out.input[policy].value.clone();
        *expected.pointer_mut("/spec/default/http/path").unwrap() = json!(path);
        assert_eq!(
            out.doc(policy),
            &expected,
            "{policy}: only the path changes"
        );
    }
    // The probes themselves are what the policies now follow: they stay as the chart has them.
    for (container, path) in [
        (0, "/execution/api/v1/status"),
        (1, "/management/api/v1/status"),
    ] {
        let probe =
            format!("/spec/template/spec/containers/{container}/readinessProbe/httpGet/path");
        assert_eq!(out.doc(API).pointer(&probe), Some(&json!(path)));
    }
}

#[test]
fn pulse_os_api_and_workers_get_disruption_budgets_and_zone_spread() {
    for profile in ["pulse-os", "ha"] {
        let out = PULSE_OS.harden(profile);
        for workload in [API, WORKERS] {
            let input = &out.input[workload].value;
            let selector = input.pointer("/spec/selector/matchLabels").unwrap();
            let pdb = out
                .pdb_for(selector)
                .unwrap_or_else(|| panic!("{profile}: no PodDisruptionBudget for {workload}"));
            assert_eq!(pdb["apiVersion"], "policy/v1");
            assert_eq!(pdb.pointer("/spec/maxUnavailable"), Some(&json!(1)));
            assert_eq!(
                pdb.pointer("/metadata/namespace"),
                input.pointer("/metadata/namespace"),
                "{profile}: the budget for {workload} must live in the workload's namespace"
            );
            assert_spread_by_own_selector(&out, workload);
        }
        assert_eq!(
            out.pdbs().len(),
            2,
            "{profile}: the exporter CronJob needs no budget"
        );
    }
}

/// Zone and hostname spread whose selector is the workload's own `matchLabels`.
fn assert_spread_by_own_selector(out: &Hardened, workload: &str) {
    let doc = out.doc(workload);
    let selector = doc.pointer("/spec/selector/matchLabels").unwrap();
    let constraints = doc
        .pointer("/spec/template/spec/topologySpreadConstraints")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{}: {workload} has no topology spread", out.label));
    let mut keys: Vec<_> = constraints
        .iter()
        .map(|c| c["topologyKey"].as_str().unwrap())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
    );
    for c in constraints {
        assert_eq!(c["labelSelector"]["matchLabels"], *selector, "{workload}");
        assert_eq!(c["maxSkew"], 1);
        assert_eq!(c["whenUnsatisfiable"], "ScheduleAnyway");
        assert_eq!(c["matchLabelKeys"], json!(["pod-template-hash"]));
    }
}

#[test]
fn pulse_os_workers_keep_their_exec_probes_spot_scheduling_and_drain_time() {
    let out = PULSE_OS.harden("pulse-os");
    let before = out.input[WORKERS]
        .value
        .pointer("/spec/template/spec")
        .unwrap();
    let after = out.doc(WORKERS).pointer("/spec/template/spec").unwrap();
    for field in [
        "tolerations",
        "affinity",
        "nodeSelector",
        "terminationGracePeriodSeconds",
    ] {
        assert_eq!(after[field], before[field], "workers {field}");
    }
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(
            after["containers"][0][probe], before["containers"][0][probe],
            "workers {probe}"
        );
    }
}

/// Every workload of a restricted output: RuntimeDefault seccomp, non-root, and every
/// container (init containers too) without privilege escalation and with all capabilities
/// dropped, while what the chart set (UID 1000, read-only root) stays.
fn assert_hardened(out: &Hardened) {
    let workloads = workloads(&out.output);
    assert!(!workloads.is_empty(), "{}: no workloads", out.label);
    for (key, pod) in workloads {
        let pod_context = &pod["securityContext"];
        for container in containers(pod) {
            let name = format!("{}: {key} container {}", out.label, container["name"]);
            let context = &container["securityContext"];
            let seccomp = context
                .pointer("/seccompProfile/type")
                .or(pod_context.pointer("/seccompProfile/type"));
            assert_eq!(seccomp, Some(&json!("RuntimeDefault")), "{name}: seccomp");
            let non_root = context
                .get("runAsNonRoot")
                .or(pod_context.get("runAsNonRoot"));
            assert_eq!(non_root, Some(&json!(true)), "{name}: runAsNonRoot");
            assert_eq!(
                context["allowPrivilegeEscalation"],
                json!(false),
                "{name}: allowPrivilegeEscalation"
            );
            let drops = context
                .pointer("/capabilities/drop")
                .and_then(Value::as_array);
            assert!(
                drops.is_some_and(|d| d.contains(&json!("ALL"))),
                "{name}: capabilities.drop has no ALL"
            );
            let uid = context.get("runAsUser").or(pod_context.get("runAsUser"));
            assert_eq!(uid, Some(&json!(1000)), "{name}: the chart's UID");
        }
    }
}

#[test]
fn restricted_hardens_every_workload_of_every_seed() {
    for (seed, profile) in [
        (PULSE_OS, "pulse-os"),
        (PULSE_OS, "restricted"),
        (HEALTH_API, "restricted"),
        (ETL_ENGINE, "restricted"),
    ] {
        assert_hardened(&seed.harden(profile));
    }
}

/// Checked by the independent `tests/common/pss.rs`, not by the product's `checkPodSecurity`.
#[test]
fn restricted_output_passes_pod_security_standards_restricted() {
    for (seed, profile) in [
        (PULSE_OS, "pulse-os"),
        (PULSE_OS, "restricted"),
        (HEALTH_API, "restricted"),
        (ETL_ENGINE, "restricted"),
    ] {
        let out = seed.harden(profile);
        let mut failing_before = 0;
        for (key, doc) in &out.output {
            let Some(path) = key.split('/').next().and_then(template_path) else {
                continue;
            };
            let violations = pss::check(doc.value.pointer(path).unwrap(), Level::Restricted);
            assert!(
                violations.is_empty(),
                "{}: {key}: {violations:#?}",
                out.label
            );
            let before = &out.input[key].value;
            if !pss::check(before.pointer(path).unwrap(), Level::Restricted).is_empty() {
                failing_before += 1;
            }
        }
        assert!(
            failing_before > 0,
            "{}: the rendered chart already passed",
            out.label
        );
        // Nothing in the seeds needs root or host access, so nothing is left to report.
        let conflicts: Vec<_> = report(&seed.rendered(), profile)
            .into_iter()
            .filter(|e| e["result"] == "conflict" || e.get("conflicts").is_some())
            .collect();
        assert!(conflicts.is_empty(), "{}: {conflicts:#?}", out.label);
    }
}

#[test]
fn health_services_keep_their_volumes_modes_and_read_only_root() {
    for (seed, workload) in HEALTH_SERVICES {
        let out = seed.harden("restricted");
        let before = out.input[workload]
            .value
            .pointer("/spec/template/spec")
            .unwrap();
        let after = out.doc(workload).pointer("/spec/template/spec").unwrap();
        // `defaultMode: 0755` is octal to Kubernetes: 493, however it is spelled now.
        let scripts = after["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "scripts")
            .unwrap();
        assert_eq!(scripts["configMap"]["defaultMode"], 493, "{workload}");
        let main = &after["containers"][0];
        assert_eq!(main["securityContext"]["readOnlyRootFilesystem"], true);
        let tmp_mounts = main["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["mountPath"] == "/tmp")
            .count();
        assert_eq!(tmp_mounts, 1, "{workload}: the chart already mounts /tmp");
        // The chart's volumes all survive unchanged, in order (hardening may only add).
        let volumes = before["volumes"].as_array().unwrap();
        assert_eq!(
            after["volumes"].as_array().unwrap()[..volumes.len()],
            volumes[..]
        );
        for field in [
            "livenessProbe",
            "readinessProbe",
            "resources",
            "env",
            "envFrom",
        ] {
            assert_eq!(
                main[field], before["containers"][0][field],
                "{workload} {field}"
            );
        }
    }
    let etl = ETL_ENGINE.harden("restricted");
    let etl_pod = etl
        .doc(ETL_DEPLOYMENT)
        .pointer("/spec/template/spec")
        .unwrap();
    let cache = etl_pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "model-cache")
        .unwrap();
    assert_eq!(cache["emptyDir"]["sizeLimit"], "5Gi");
    assert!(etl.unchanged("PersistentVolumeClaim/health-etl/etl-engine-data"));
    for key in [
        "ConfigMap/health-etl/etl-engine-scripts",
        "ConfigMap/health-etl/etl-engine-config",
    ] {
        assert!(etl.unchanged(key), "{key}");
    }
}

#[test]
fn health_api_gets_a_budget_from_its_hpa_and_the_single_replica_etl_engine_none() {
    let api = HEALTH_API.harden("ha");
    let deployment = HEALTH_API_DEPLOYMENT;
    assert!(
        api.input[deployment]
            .value
            .pointer("/spec/replicas")
            .is_none(),
        "the HPA owns the replica count"
    );
    let selector = api.input[deployment]
        .value
        .pointer("/spec/selector/matchLabels")
        .unwrap();
    let pdb = api
        .pdb_for(selector)
        .expect("health-api (HPA min 2) needs a budget");
    assert_eq!(
        pdb.pointer("/metadata/namespace"),
        Some(&json!("health-api"))
    );
    assert_eq!(pdb.pointer("/spec/maxUnavailable"), Some(&json!(1)));
    assert_eq!(api.pdbs().len(), 1);
    assert_spread_by_own_selector(&api, deployment);

    for seed in [ETL_ENGINE, ETL_ENGINE_FIXED_REPLICAS] {
        let etl = seed.harden("ha");
        assert!(
            etl.pdbs().is_empty(),
            "{}: a budget on one replica would block node drains",
            etl.label
        );
    }
    let fixed = ETL_ENGINE_FIXED_REPLICAS.rendered();
    assert_eq!(
        documents(&fixed)[ETL_DEPLOYMENT]
            .value
            .pointer("/spec/replicas"),
        Some(&json!(1))
    );
}

#[test]
fn arm64_pins_the_architecture_unless_the_chart_already_does() {
    for (seed, workload) in HEALTH_SERVICES {
        let out = seed.harden("arm64");
        assert_eq!(
            out.doc(workload)
                .pointer("/spec/template/spec/nodeSelector/kubernetes.io~1arch"),
            Some(&json!("arm64")),
            "{}",
            out.label
        );
    }
    for (seed, workload) in [
        (HEALTH_API_PRODUCTION, HEALTH_API_DEPLOYMENT),
        (ETL_ENGINE_PRODUCTION, ETL_DEPLOYMENT),
    ] {
        let out = seed.harden("arm64");
        assert_eq!(
            out.doc(workload)
                .pointer("/spec/template/spec/nodeSelector"),
            out.input[workload]
                .value
                .pointer("/spec/template/spec/nodeSelector"),
            "{}",
            out.label
        );
    }
    // Pulse-OS pins node pools, not architectures: the pools stay, arm64 joins them.
    let out = PULSE_OS.harden("arm64");
    for workload in [API, WORKERS, EXPORTER] {
        let pod = pod_spec(workload, out.doc(workload)).unwrap();
        assert_eq!(
            pod["nodeSelector"]["kubernetes.io/arch"], "arm64",
            "{workload}"
        );
        assert!(pod["nodeSelector"]["agentpool"].is_string(), "{workload}");
    }
}

/// Custom resources the 1.32 schema cannot know; their CRDs are not in the stream either.
const CUSTOM_KINDS: &[&str] = &[
    "AzureAppConfigurationProvider",
    "HTTPRoute",
    "HealthCheckPolicy",
];

/// `kubernetes-validate` (PyPI) bundles the official OpenAPI-derived JSON schemas per
/// Kubernetes version; `make tools` installs it into `.tools/venv`.
fn schema_validator() -> PathBuf {
    let path = std::env::var_os("KUBERNETES_VALIDATE").map_or_else(
        || root().join(".tools/venv/bin/kubernetes-validate"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "{} is missing: run `make tools` (scripts/fetch-schema-validator.sh)",
        path.display()
    );
    path
}

/// Validates every stream against the Kubernetes 1.32 schemas, unknown fields rejected, and
/// returns how many documents were checked. Only the seeds' custom resources may go unchecked.
fn assert_valid_for_kubernetes_1_32(label: &str, streams: &[(String, Vec<u8>)]) -> usize {
    let validator = schema_validator();
    let dir = std::env::temp_dir().join(format!(
        "pulse-harden-schema-{label}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (name, bytes) in streams {
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, bytes).unwrap();
        files.push(file);
    }
    let out = Command::new(&validator)
        .args(["--kubernetes-version", "1.32.0", "--strict"])
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", validator.display()));
    let _ = std::fs::remove_dir_all(&dir);
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let mut validated = 0;
    let mut problems = Vec::new();
    for line in report.lines() {
        if line.starts_with("INFO ") && line.contains(" passed for resource ") {
            validated += 1;
        } else if line.starts_with("WARN ") && line.contains("Couldn't find schema for kind") {
            if !CUSTOM_KINDS
                .iter()
                .any(|k| line.contains(&format!(" kind {k} ")))
            {
                problems.push(line.to_string());
            }
        } else if !line.trim().is_empty() {
            problems.push(line.to_string());
        }
    }
    assert!(
        out.status.success() && problems.is_empty(),
        "invalid for Kubernetes 1.32:\n{}",
        problems.join("\n")
    );
    validated
}

/// Every built-in kind of every seed output (the generated PodDisruptionBudgets included).
#[test]
fn every_seed_output_is_valid_for_kubernetes_1_32() {
    let outputs: Vec<_> = RUNS
        .iter()
        .map(|&(seed, profile)| {
            (
                format!("{}.{profile}", seed.name),
                seed.harden(profile).stdout,
            )
        })
        .collect();
    let validated = assert_valid_for_kubernetes_1_32("seeds", &outputs);
    assert!(validated > 50, "only {validated} documents validated");
}

/// The `restricted` profile over every chart of `../shared/corpus/` and `helm create`'s
/// scaffold: nothing it writes becomes invalid for Kubernetes 1.32. (The inputs all validate.)
#[test]
fn restricted_corpus_and_scaffold_stay_valid_for_kubernetes_1_32() {
    let corpus = root().join("../shared/corpus");
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("missing corpus {}: {e}", corpus.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    assert!(inputs.len() >= 10, "the corpus has {} charts", inputs.len());
    let scratch =
        std::env::temp_dir().join(format!("pulse-harden-scaffold-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let scaffold = helm::create("helm", &scratch, "scaffold");
    inputs.push((
        "scaffold".into(),
        helm::template("helm", "scaffold", &scaffold, "default", &[]),
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    let outputs: Vec<_> = inputs
        .iter()
        .map(|(name, bytes)| {
            let hardened = common::harden(&profile_args("restricted"), bytes);
            (format!("{name}.restricted"), hardened)
        })
        .collect();
    let validated = assert_valid_for_kubernetes_1_32("corpus", &outputs);
    assert!(validated > 150, "only {validated} documents validated");
}

/// The report of a run, through the library (the CLI prints it elsewhere), as JSON entries.
/// Profiles load from their files in `patches/`, the text the binary embeds.
fn report(input: &[u8], profile: &str) -> Vec<Value> {
    let files: &[&str] = match profile {
        "pulse-os" => &["restricted", "pulse-os"],
        other => &[other],
    };
    let sets: Vec<_> = files
        .iter()
        .flat_map(|f| {
            patchfile::load_path(&root().join(format!("patches/{f}.yaml")))
                .unwrap()
                .sets
        })
        .collect();
    let mut stream = stream::read(input).unwrap();
    let report = pipeline::run(&mut stream.manifests, &sets).unwrap();
    let report = serde_json::to_value(&report).unwrap();
    report["entries"].as_array().cloned().unwrap_or_default()
}

fn entries_for<'r>(report: &'r [Value], resource: &str, step: &str) -> Vec<&'r Value> {
    report
        .iter()
        .filter(|e| {
            e["resource"] == resource && e["step"].as_str().is_some_and(|s| s.ends_with(step))
        })
        .collect()
}

#[test]
fn pulse_os_report_says_what_was_aligned_and_leaves_nothing_unexplained() {
    let report = report(&PULSE_OS.rendered(), "pulse-os");
    for policy in [
        "HealthCheckPolicy/execution-api-health-check",
        "HealthCheckPolicy/management-api-health-check",
    ] {
        let entries = entries_for(&report, policy, ": align-alb-health-checks");
        assert_eq!(entries.len(), 1, "{policy}: {report:#?}");
        assert_eq!(
            entries[0]["result"], "changed",
            "{policy}: {:#}",
            entries[0]
        );
    }
    // Nothing in the seed is beyond fixing: no conflicts, nothing skipped that was selected.
    let unfixed: Vec<_> = report
        .iter()
        .filter(|e| e["result"] == "conflict")
        .collect();
    assert!(unfixed.is_empty(), "{unfixed:#?}");
    for workload in ["Deployment/api", "Deployment/workers-blue/workers"] {
        let spread = entries_for(&report, workload, ": spread-apis-and-workers");
        assert!(
            spread.iter().any(|e| e["result"] == "changed"),
            "{workload}: {spread:#?}"
        );
        assert!(
            report
                .iter()
                .any(|e| e["result"] == "generated" && e["owner"] == workload),
            "{workload}: no PodDisruptionBudget reported as generated"
        );
    }
}

/// The Celery workers answer probes with `python worker_readiness.py`: a load balancer health
/// check in front of them cannot follow that, and the report has to say so rather than guess.
#[test]
fn a_health_check_in_front_of_the_exec_probed_workers_is_reported_not_guessed() {
    let mut input = PULSE_OS.rendered();
    input.extend_from_slice(
        b"---
# Source: test/workers-health.yaml
apiVersion: v1
kind: Service
metadata:
  name: workers
  namespace: workers-blue
spec:
  selector:
    app.kubernetes.io/name: pulse-os
    app.kubernetes.io/component: workers
  ports:
    - port: 80
      targetPort: 9808
---
# Source: test/workers-health.yaml
apiVersion: alb.networking.azure.io/v1
kind: HealthCheckPolicy
metadata:
  name: workers-health-check
  namespace: workers-blue
spec:
  targetRef:
    kind: Service
    name: workers
  default:
    http:
      path: /api/v1/status
",
    );
    let report = report(&input, "pulse-os");
    let entries = entries_for(
        &report,
        "HealthCheckPolicy/workers-blue/workers-health-check",
        ": align-alb-health-checks",
    );
    assert_eq!(entries.len(), 1, "{report:#?}");
    assert_eq!(entries[0]["result"], "skipped", "{:#}", entries[0]);
    assert!(
        entries[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("exec")),
        "the reason names the exec probe: {:#}",
        entries[0]
    );
}
