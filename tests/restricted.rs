//! The `restricted` profile over real charts: every chart of `../shared/corpus/` and the
//! scaffold of `helm create`, rendered by the real helm binary.
//!
//! For each chart: nothing is lost (same documents, same ids, same order), the output reads
//! back, a second run changes nothing, and every workload either passes the Pod Security
//! Standards restricted level (checked by `tests/common/pss.rs`, not by the product) or is
//! reported as a conflict with a reason. The per-chart table prints with `--nocapture`.

mod common;

use common::pss::{self, Level};
use pulse_harden::report::{Report, StepResult};
use pulse_harden::{pipeline, pod, profiles, stream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pulse_harden(input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_pulse-harden"))
        .args(["--profile", "restricted"])
        .env_remove("PULSE_HARDEN_PATCHES")
        .env_remove("PULSE_HARDEN_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pulse-harden");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "pulse-harden --profile restricted failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `Kind/namespace/name` of every document, in order.
fn ids(bytes: &[u8]) -> Vec<String> {
    let s = stream::read(bytes).expect("the stream reads back");
    s.manifests.iter().map(|m| m.id()).collect()
}

/// Was this resource reported with a conflict by any step?
fn reported(report: &Report, id: &str) -> Vec<String> {
    report
        .entries
        .iter()
        .filter(|e| e.resource == id)
        .flat_map(|e| match &e.result {
            StepResult::Conflict { reason } => vec![reason.clone()],
            StepResult::Changed { conflicts, .. } => conflicts.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// Did the profile's own `checkPodSecurity` step flag this resource?
fn flagged_by_check_step(report: &Report, id: &str) -> bool {
    report.entries.iter().any(|e| {
        e.resource == id
            && e.step.ends_with("pod-security-restricted")
            && matches!(e.result, StepResult::Conflict { .. })
    })
}

struct Row {
    chart: String,
    workloads: usize,
    passed: usize,
    reported: usize,
}

/// Runs every check on one rendered chart; returns its row or the failures.
fn check_chart(chart: &str, input: &[u8]) -> Result<Row, Vec<String>> {
    let mut failures = Vec::new();
    let output = pulse_harden(input);
    let (before, after) = (ids(input), ids(&output));
    if before != after {
        failures.push(format!(
            "{chart}: documents differ: {} in, {} out\nin:  {before:?}\nout: {after:?}",
            before.len(),
            after.len()
        ));
    }
    if pulse_harden(&output) != output {
        failures.push(format!("{chart}: a second run changed the output"));
    }

    let mut manifests = stream::read(input).unwrap().manifests;
    let set = profiles::load("restricted").unwrap();
    let report = pipeline::run(&mut manifests, &[set]).unwrap();
    let mut row = Row {
        chart: chart.to_string(),
        workloads: 0,
        passed: 0,
        reported: 0,
    };
    for m in &manifests {
        let Some(path) = pod::template_path(m.kind(), m.group(), &[]) else {
            continue;
        };
        let Some(template) = m.value.as_ref().and_then(|v| v.pointer(path)) else {
            continue;
        };
        row.workloads += 1;
        let id = m.id();
        let violations = pss::check(template, Level::Restricted);
        if flagged_by_check_step(&report, &id) == violations.is_empty() {
            failures.push(format!(
                "{chart}: {id}: checkPodSecurity and the test's PSS checker disagree; test checker: {violations:?}"
            ));
        }
        if violations.is_empty() {
            row.passed += 1;
            continue;
        }
        let reasons = reported(&report, &id);
        if reasons.iter().any(|r| !r.is_empty()) {
            row.reported += 1;
            eprintln!("  {chart}: {id}: {}", reasons.join(" | "));
        } else {
            failures.push(format!(
                "{chart}: {id} fails PSS restricted and nothing reported it: {violations:?}"
            ));
        }
    }
    if failures.is_empty() {
        Ok(row)
    } else {
        Err(failures)
    }
}

fn helm() -> PathBuf {
    let helm = root().join(".tools/bin/helm");
    assert!(
        helm.exists(),
        "helm is missing at {}: run `make tools`",
        helm.display()
    );
    helm
}

/// `helm create` + `helm template` in a fresh directory with isolated Helm homes.
fn render_helm_create_scaffold() -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("pulse-harden-restricted-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(helm())
            .args(args)
            .current_dir(&dir)
            .env("HELM_CONFIG_HOME", dir.join("config"))
            .env("HELM_DATA_HOME", dir.join("data"))
            .env("HELM_CACHE_HOME", dir.join("cache"))
            .env_remove("HELM_PLUGINS")
            .output()
            .expect("run helm");
        assert!(
            out.status.success(),
            "helm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    run(&["create", "scaffold"]);
    let rendered = run(&[
        "template",
        "demo",
        "./scaffold",
        "--namespace",
        "demo",
        "--kube-version",
        "1.32.0",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    rendered
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = root().join("../shared/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("missing corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| (file_stem(p), std::fs::read(p).unwrap()))
        .collect()
}

fn file_stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

#[test]
fn restricted_profile_over_real_charts() {
    let mut charts = corpus();
    charts.push(("helm-create".into(), render_helm_create_scaffold()));
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (chart, input) in &charts {
        match check_chart(chart, input) {
            Ok(row) => rows.push(row),
            Err(f) => failures.extend(f),
        }
    }
    eprintln!(
        "\n{:<22} {:>9} {:>7} {:>9}",
        "chart", "workloads", "passed", "reported"
    );
    for r in &rows {
        eprintln!(
            "{:<22} {:>9} {:>7} {:>9}",
            r.chart, r.workloads, r.passed, r.reported
        );
    }
    let total = |f: fn(&Row) -> usize| rows.iter().map(f).sum::<usize>();
    eprintln!(
        "{:<22} {:>9} {:>7} {:>9}",
        "total",
        total(|r| r.workloads),
        total(|r| r.passed),
        total(|r| r.reported)
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(rows.len(), charts.len());
}
