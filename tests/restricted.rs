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
    let output = common::harden(&["--profile", "restricted"], input);
    let (before, after) = (ids(input), ids(&output));
    if before != after {
        failures.push(format!(
            "{chart}: documents differ: {} in, {} out\nin:  {before:?}\nout: {after:?}",
            before.len(),
            after.len()
        ));
    }
    if common::harden(&["--profile", "restricted"], &output) != output {
        failures.push(format!("{chart}: a second run changed the output"));
    }

    let mut manifests = stream::read(input).unwrap().manifests;
    let sets = profiles::load("restricted").unwrap();
    let report = pipeline::run(&mut manifests, &sets).unwrap();
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

#[test]
fn restricted_profile_over_real_charts() {
    let charts = common::corpus::charts_and_scaffold();
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
