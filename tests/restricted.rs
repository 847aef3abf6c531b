//! The `restricted` profile over real charts: every chart of `../shared/corpus/` and the
//! scaffold of `helm create`, rendered by the real helm binary.
//!
//! For each chart, on what the binary writes: nothing is lost (same documents, same ids, same
//! order), the output reads back, a second run changes nothing, and every workload of the
//! output either passes the Pod Security Standards restricted level (checked by
//! `tests/common/pss.rs`, not by the product) or is reported as a conflict with a reason, by a
//! hardening step when it still fails a control the profile sets. The per-chart table prints
//! with `--nocapture`.

mod common;

use common::pss::{self, Level};
use pulse_harden::{pod, stream};
use serde_json::Value;
/// `Kind/namespace/name` of every document, in order.
fn ids(bytes: &[u8]) -> Vec<String> {
    let s = stream::read(bytes).expect("the stream reads back");
    s.manifests.iter().map(|m| m.id()).collect()
}

/// The conflicts the binary's JSON report gives for a resource, as (step, reason).
fn conflicts(report: &Value, id: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for resource in report["resources"].as_array().into_iter().flatten() {
        if resource["resource"] != id {
            continue;
        }
        for step in resource["steps"].as_array().into_iter().flatten() {
            let name = step["step"].as_str().unwrap_or("").to_string();
            match step["result"].as_str() {
                Some("conflict") => {
                    out.push((name, step["reason"].as_str().unwrap_or("").to_string()));
                }
                Some("changed") => {
                    for c in step["conflicts"].as_array().into_iter().flatten() {
                        out.push((name.clone(), c.as_str().unwrap_or("").to_string()));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The profile's own check step, as opposed to the steps that harden.
const CHECK_STEP: &str = "profile restricted: pod-security-restricted";

/// The controls the profile sets itself (seccomp, runAsNonRoot, and per container no
/// privilege escalation and drop ALL). A workload still failing one of them in the output
/// must have a hardening step say why it left it alone; the check step reporting it is not
/// enough (a profile that hardened nothing would pass that way).
const HARDENED: &[&str] = &[
    "Seccomp",
    "Running as Non-root",
    "Privilege Escalation",
    "Capabilities",
];

struct Row {
    chart: String,
    workloads: usize,
    passed: usize,
    reported: usize,
}

/// Runs every check on one rendered chart, on what the binary wrote (stream and JSON report);
/// returns its row or the failures.
fn check_chart(chart: &str, input: &[u8]) -> Result<Row, Vec<String>> {
    let mut failures = Vec::new();
    let run = common::feed(
        common::pulse_harden().args([
            "--profile",
            "restricted",
            "--report",
            "-",
            "--report-format",
            "json",
        ]),
        input,
    );
    assert_eq!(run.code, 0, "{chart}: {}", run.stderr);
    let output = run.stdout;
    let report: Value = serde_json::from_str(&run.stderr).expect("the JSON report");
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

    let manifests = stream::read(&output).unwrap().manifests;
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
        let reasons = conflicts(&report, &id);
        let flagged = reasons.iter().any(|(step, _)| step == CHECK_STEP);
        if flagged == violations.is_empty() {
            failures.push(format!(
                "{chart}: {id}: checkPodSecurity and the test's PSS checker disagree; test checker: {violations:?}"
            ));
        }
        if violations.is_empty() {
            row.passed += 1;
            continue;
        }
        let explained = reasons.iter().any(|(step, _)| step != CHECK_STEP);
        let unexplained: Vec<_> = violations
            .iter()
            .filter(|v| HARDENED.contains(&v.control))
            .collect();
        if !unexplained.is_empty() && !explained {
            failures.push(format!(
                "{chart}: {id} still fails controls the profile sets, and no hardening step said why: {unexplained:?}"
            ));
        } else if reasons.is_empty() {
            failures.push(format!(
                "{chart}: {id} fails PSS restricted and nothing reported it: {violations:?}"
            ));
        } else {
            row.reported += 1;
            let shown: Vec<_> = reasons.iter().map(|(_, r)| r.as_str()).collect();
            eprintln!("  {chart}: {id}: {}", shown.join(" | "));
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
    // An empty corpus, or charts with no workloads, would prove nothing.
    assert!(charts.len() > 1, "no corpus charts found");
    assert!(
        total(|r| r.passed) > total(|r| r.workloads) / 2,
        "most workloads of real charts should pass restricted once hardened"
    );
}
