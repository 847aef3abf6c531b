//! A report as people read it (text, grouped by resource) and as programs read it (JSON,
//! versioned: see the README's "Reports, check mode and diffs").

use super::{Counts, Entry, Report, StepResult, plural};
use crate::manifest::Manifest;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;

/// The version of the JSON report's shape; it changes only when a field changes meaning or
/// goes away (new fields may appear within a version).
pub const JSON_VERSION: u32 = 1;

/// What a report says about the stream besides the entries: how many resources came in and
/// which chart template each input document came from.
#[derive(Debug, Default)]
pub struct Inputs {
    pub resources: usize,
    templates: HashMap<usize, String>,
}

impl Inputs {
    /// Reads the stream as the pipeline left it (generated documents are told apart).
    pub fn of(manifests: &[Manifest]) -> Inputs {
        Inputs {
            resources: resources(manifests),
            templates: (manifests.iter().filter(|m| !m.generated))
                .filter_map(|m| Some((m.index, m.source()?.to_string())))
                .collect(),
        }
    }
}

/// How many resources came in (generated ones aside); a List counts its items, which Helm
/// applies one by one.
pub fn resources(manifests: &[Manifest]) -> usize {
    (manifests.iter())
        .filter(|m| !m.generated && m.is_resource())
        .map(|m| match &m.value {
            Some(list) if crate::lists::is_list(list) => {
                list["items"].as_array().map_or(0, Vec::len)
            }
            _ => 1,
        })
        .sum()
}

/// The entries of one resource, in step order.
struct Group<'a> {
    resource: &'a str,
    document: usize,
    /// A generated resource is filed with its owner's template.
    template: Option<&'a str>,
    generated: bool,
    entries: Vec<&'a Entry>,
}

/// The report's entries grouped by resource, in stream order.
fn groups<'a>(
    report: &'a Report,
    inputs: &'a Inputs,
    keep: impl Fn(&Entry) -> bool,
) -> Vec<Group<'a>> {
    let mut by_resource: IndexMap<(usize, &str), Group> = IndexMap::new();
    for entry in report.entries.iter().filter(|e| keep(e)) {
        let group = by_resource
            .entry((entry.document, &*entry.resource))
            .or_insert_with(|| Group {
                resource: &entry.resource,
                document: entry.document,
                template: inputs.templates.get(&entry.document).map(String::as_str),
                generated: false,
                entries: Vec::new(),
            });
        group.generated |= matches!(entry.result, StepResult::Generated { .. });
        group.entries.push(entry);
    }
    let mut groups: Vec<Group> = by_resource.into_values().collect();
    // Stable: a generated resource stays after its owner (same document).
    groups.sort_by_key(|g| g.document);
    groups
}

/// The human report: a summary line, then every resource a step acted on or reported on with
/// what each step did, how many other resources there were (no step applies to them, as a pod
/// step to a Service), then the steps that matched nothing.
pub fn text(report: &Report, inputs: &Inputs) -> String {
    let mut out = report.summary_line(inputs.resources);
    out.push('\n');
    let groups = groups(report, inputs, |e| {
        !matches!(e.result, StepResult::NotApplicable { .. })
    });
    write_groups(&mut out, &groups);
    let listed = groups.iter().filter(|g| !g.generated).count();
    match inputs.resources.saturating_sub(listed) {
        _ if report.entries.is_empty() => out.push_str("\nNo step selected any resource.\n"),
        0 => {}
        1 => out.push_str("\n1 other resource, not listed: no step applies to it.\n"),
        rest => {
            let _ = writeln!(
                out,
                "\n{rest} other resources, not listed: no step applies to them."
            );
        }
    }
    if !report.unmatched_steps.is_empty() {
        out.push_str("\nSteps that matched nothing:\n");
        for step in &report.unmatched_steps {
            let _ = writeln!(out, "  {step}");
        }
    }
    if !report.skipped_files.is_empty() {
        out.push_str("\nFiles in patch directories that were not loaded:\n");
        for file in &report.skipped_files {
            let _ = writeln!(out, "  {file}");
        }
    }
    if !report.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for note in &report.notes {
            let _ = writeln!(out, "  {note}");
        }
    }
    out
}

/// What `--check` lists when it fails: only the resources that would change or be
/// generated, and how.
pub fn check_failure(report: &Report, inputs: &Inputs) -> String {
    let groups = groups(report, inputs, |e| {
        matches!(
            e.result,
            StepResult::Changed { .. } | StepResult::Generated { .. }
        )
    });
    let changed = groups.iter().filter(|g| !g.generated).count();
    let generated = groups.len() - changed;
    let mut parts = Vec::new();
    if changed > 0 {
        parts.push(format!(
            "{} would change",
            plural(changed, "resource", "resources")
        ));
    }
    if generated > 0 {
        parts.push(format!(
            "{} would be generated",
            plural(generated, "resource", "resources")
        ));
    }
    let mut out = format!("pulse-harden: check failed: {}\n", parts.join(", "));
    write_groups(&mut out, &groups);
    out
}

fn write_groups(out: &mut String, groups: &[Group]) {
    for group in groups {
        out.push('\n');
        out.push_str(group.resource);
        match group.template {
            Some(template) => {
                let _ = writeln!(out, " ({template})");
            }
            None => {
                let _ = writeln!(out, " (document {})", group.document);
            }
        }
        let mut rest = group.entries.as_slice();
        while let Some((entry, after)) = rest.split_first() {
            let same_skip = after
                .iter()
                .take_while(|next| same_skip(entry, next))
                .count();
            if same_skip > 0 {
                write_skips(out, &rest[..=same_skip]);
                rest = &after[same_skip..];
            } else {
                write_entry(out, entry);
                rest = after;
            }
        }
    }
}

/// Steps of one patch set skipped for the same reason: one line, not one per step (a pod
/// step on a Service is not applicable for the same reason every time).
fn same_skip(a: &Entry, b: &Entry) -> bool {
    match (&a.result, &b.result) {
        (StepResult::Skipped { reason: x }, StepResult::Skipped { reason: y }) => {
            x == y && origin(&a.step).0 == origin(&b.step).0
        }
        _ => false,
    }
}

fn write_skips(out: &mut String, entries: &[&Entry]) {
    let (origin, _) = origin(&entries[0].step);
    let names: Vec<&str> = entries.iter().map(|e| self::origin(&e.step).1).collect();
    if let StepResult::Skipped { reason } = &entries[0].result {
        out.push_str(&format!(
            "  skipped      {origin}: {} — {reason}\n",
            names.join(", ")
        ));
    }
}

/// A step id `origin: name` split in two (at the first `: `; the id is only shown).
fn origin(step: &str) -> (&str, &str) {
    step.split_once(": ").unwrap_or(("", step))
}

fn write_entry(out: &mut String, entry: &Entry) {
    let step = &entry.step;
    let line = match &entry.result {
        StepResult::Changed {
            changes,
            conflicts,
            notes,
        } => {
            let mut lines = format!("  changed      {step}\n");
            for change in changes {
                lines.push_str(&format!(
                    "                 {}: {} → {}\n",
                    shown_path(&change.path),
                    shown_value(change.before.as_ref()),
                    shown_value(change.after.as_ref())
                ));
            }
            for conflict in conflicts {
                lines.push_str(&format!("                 left alone: {conflict}\n"));
            }
            for note in notes {
                lines.push_str(&format!("                 note: {note}\n"));
            }
            lines
        }
        StepResult::AlreadySet => format!("  already set  {step}\n"),
        StepResult::Conflict { reason } => format!("  conflict     {step} — {reason}\n"),
        StepResult::Skipped { reason } | StepResult::NotApplicable { reason } => {
            format!("  skipped      {step} — {reason}\n")
        }
        StepResult::Generated { owner } => format!("  generated    {step} (for {owner})\n"),
    };
    out.push_str(&line);
}

fn shown_path(path: &str) -> &str {
    if path.is_empty() {
        "(whole resource)"
    } else {
        path
    }
}

fn shown_value(value: Option<&Value>) -> String {
    value.map_or_else(|| "absent".to_string(), Value::to_string)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    version: u32,
    summary: JsonSummary,
    resources: Vec<JsonResource<'a>>,
    unmatched_steps: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    skipped_files: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSummary {
    resources: usize,
    #[serde(flatten)]
    counts: Counts,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonResource<'a> {
    resource: &'a str,
    document: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<&'a str>,
    generated: bool,
    steps: Vec<JsonStep<'a>>,
}

#[derive(Serialize)]
struct JsonStep<'a> {
    step: &'a str,
    #[serde(flatten)]
    result: &'a StepResult,
}

/// The machine report (pretty-printed JSON, ending with a newline).
pub fn json(report: &Report, inputs: &Inputs) -> String {
    let resources = groups(report, inputs, |_| true)
        .into_iter()
        .map(|g| JsonResource {
            resource: g.resource,
            document: g.document,
            template: g.template,
            generated: g.generated,
            steps: g
                .entries
                .iter()
                .map(|e| JsonStep {
                    step: &e.step,
                    result: &e.result,
                })
                .collect(),
        })
        .collect();
    let doc = JsonReport {
        version: JSON_VERSION,
        summary: JsonSummary {
            resources: inputs.resources,
            counts: report.counts(),
        },
        resources,
        unmatched_steps: &report.unmatched_steps,
        skipped_files: &report.skipped_files,
        notes: &report.notes,
    };
    // Plain structs of strings, numbers and JSON values: serializing them cannot fail.
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Change;
    use serde_json::json;

    /// Results no shipped transform produces yet: conflicts, partial changes, generation.
    fn report() -> Report {
        let entry = |resource: &str, document, step: &str, result| Entry {
            resource: resource.into(),
            document,
            step: format!("profile restricted: {step}").into(),
            result,
        };
        Report {
            entries: vec![
                entry(
                    "Deployment/shop/api",
                    1,
                    "non-root",
                    StepResult::Changed {
                        changes: vec![Change {
                            path: "/spec/template/spec/containers/0/securityContext/runAsNonRoot"
                                .into(),
                            before: None,
                            after: Some(json!(true)),
                        }],
                        conflicts: vec!["container `db` runs as UID 0".into()],
                        notes: vec!["container `web` may still run as root".into()],
                    },
                ),
                entry(
                    "Deployment/shop/api",
                    1,
                    "arch",
                    StepResult::Conflict {
                        reason: "pinned to arm64".into(),
                    },
                ),
                entry(
                    "PodDisruptionBudget/shop/api",
                    1,
                    "pdb",
                    StepResult::Generated {
                        owner: "Deployment/shop/api".into(),
                    },
                ),
            ],
            unmatched_steps: Vec::new(),
            skipped_files: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn inputs() -> Inputs {
        Inputs {
            resources: 1,
            templates: [(1, "shop/templates/api.yaml".to_string())].into(),
        }
    }

    #[test]
    fn text_shows_conflicts_and_generated_resources() {
        assert_eq!(
            text(&report(), &inputs()),
            "pulse-harden: 1 resource, 1 changed, 1 generated, 2 conflicts

Deployment/shop/api (shop/templates/api.yaml)
  changed      profile restricted: non-root
                 /spec/template/spec/containers/0/securityContext/runAsNonRoot: absent → true
                 left alone: container `db` runs as UID 0
                 note: container `web` may still run as root
  conflict     profile restricted: arch — pinned to arm64

PodDisruptionBudget/shop/api (shop/templates/api.yaml)
  generated    profile restricted: pdb (for Deployment/shop/api)
"
        );
        assert_eq!(
            check_failure(&report(), &inputs()).lines().next(),
            Some(
                "pulse-harden: check failed: 1 resource would change, 1 resource would be generated"
            )
        );
    }

    #[test]
    fn json_marks_generated_resources() {
        let doc: Value = serde_json::from_str(&json(&report(), &inputs())).unwrap();
        assert_eq!(doc["summary"]["conflicts"], 2);
        assert_eq!(doc["resources"][1]["generated"], true);
        assert_eq!(
            doc["resources"][1]["steps"][0],
            json!({"step": "profile restricted: pdb", "result": "generated", "owner": "Deployment/shop/api"})
        );
        assert_eq!(
            doc["resources"][0]["steps"][0]["conflicts"],
            json!(["container `db` runs as UID 0"])
        );
        assert_eq!(
            doc["resources"][0]["steps"][0]["notes"],
            json!(["container `web` may still run as root"])
        );
        // A note is not a conflict: the count above and --strict leave it out.
        assert!(
            !report()
                .strict_violations()
                .iter()
                .any(|v| v.contains("may still run as root"))
        );
    }
}
