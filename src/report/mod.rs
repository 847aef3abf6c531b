//! What every step did to every resource: the changes (path, before, after), what was
//! skipped and why, and the steps that matched nothing. Secret and ConfigMap data values
//! never enter a report (see [`redact`]); [`render`] turns a report into text or JSON.

pub mod redact;
pub mod render;

use crate::pointer::Lookup;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub entries: Vec<Entry>,
    /// `origin: step` of every step that selected no resource.
    pub unmatched_steps: Vec<String>,
    /// Files of patch directories that were not loaded, each with the reason.
    pub skipped_files: Vec<String>,
    /// What the patch sets say about how they were read.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// `Kind/namespace/name` (shared by a resource's entries).
    pub resource: Arc<str>,
    pub document: usize,
    /// `origin: step` (shared by the step's entries).
    pub step: Arc<str>,
    #[serde(flatten)]
    pub result: StepResult,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase", tag = "result")]
pub enum StepResult {
    /// The step changed these fields (and left the conflicting parts, if any, alone).
    Changed {
        changes: Vec<Change>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        conflicts: Vec<String>,
        /// What the reader should know about the change, not a conflict (a container that
        /// may still run as root now has no capabilities).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        notes: Vec<String>,
    },
    /// The step applied, but the resource already had what it sets.
    AlreadySet,
    /// The chart set something on purpose that the step would contradict: left alone.
    Conflict { reason: String },
    /// The step was not applied on purpose: the resource opted out, or it failed under
    /// `onFailure: skip`.
    Skipped { reason: String },
    /// The step does not apply to this kind of resource (a pod step on a Service, an empty
    /// document). The JSON report lists it as `skipped`; the text report only counts it.
    #[serde(rename = "skipped")]
    NotApplicable { reason: String },
    /// The step generated this resource for `owner` (a PodDisruptionBudget, say).
    Generated { owner: String },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// How many resources a run changed and generated, and what it left alone.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Input resources at least one step changed.
    pub changed: usize,
    /// Resources steps added to the stream.
    pub generated: usize,
    /// (step, resource) pairs where a conflict left the resource, or part of it, alone.
    pub conflicts: usize,
    pub unmatched_steps: usize,
}

impl Report {
    pub fn counts(&self) -> Counts {
        let generated: HashSet<(usize, &str)> = self
            .entries
            .iter()
            .filter(|e| matches!(e.result, StepResult::Generated { .. }))
            .map(|e| (e.document, &*e.resource))
            .collect();
        let changed: HashSet<(usize, &str)> = self
            .entries
            .iter()
            .filter(|e| matches!(e.result, StepResult::Changed { .. }))
            .map(|e| (e.document, &*e.resource))
            .filter(|key| !generated.contains(key))
            .collect();
        Counts {
            changed: changed.len(),
            generated: generated.len(),
            conflicts: self.entries.iter().filter(|e| e.has_conflict()).count(),
            unmatched_steps: self.unmatched_steps.len(),
        }
    }

    /// Would writing the stream change anything? (What `--check` fails on.)
    pub fn would_change(&self) -> bool {
        self.entries.iter().any(|e| {
            matches!(
                e.result,
                StepResult::Changed { .. } | StepResult::Generated { .. }
            )
        })
    }

    /// What `--strict` fails on: steps that matched nothing and conflicts left alone, one
    /// line each.
    pub fn strict_violations(&self) -> Vec<String> {
        let unmatched = self
            .unmatched_steps
            .iter()
            .map(|step| format!("step matched nothing: {step}"));
        let conflicts = self.entries.iter().flat_map(|e| {
            let reasons: Vec<&String> = match &e.result {
                StepResult::Conflict { reason } => vec![reason],
                StepResult::Changed { conflicts, .. } => conflicts.iter().collect(),
                _ => Vec::new(),
            };
            reasons
                .into_iter()
                .map(move |reason| format!("conflict: {} [{}]: {reason}", e.resource, e.step))
        });
        unmatched.chain(conflicts).collect()
    }

    /// `pulse-harden: 42 resources, 7 changed, 2 generated, 1 conflict`: the line printed on
    /// an interactive stderr (and in the Helm 4 log). `resources` counts the input resources.
    pub fn summary_line(&self, resources: usize) -> String {
        let counts = self.counts();
        format!(
            "pulse-harden: {}, {} changed, {} generated, {}",
            plural(resources, "resource", "resources"),
            counts.changed,
            counts.generated,
            plural(counts.conflicts, "conflict", "conflicts"),
        )
    }
}

impl Entry {
    /// The entry as far as the summary line and `--check`'s verdict read it ([`Report::counts`],
    /// [`Report::would_change`]), or `None` when they do not read it at all: for a run that
    /// writes no report, which would otherwise hold one as large as the stream.
    pub fn for_summary(self) -> Option<Entry> {
        let result = match self.result {
            StepResult::Changed { conflicts, .. } => StepResult::Changed {
                changes: Vec::new(),
                conflicts: match conflicts.is_empty() {
                    true => Vec::new(),
                    false => vec![String::new()],
                },
                notes: Vec::new(),
            },
            StepResult::Conflict { .. } => StepResult::Conflict {
                reason: String::new(),
            },
            generated @ StepResult::Generated { .. } => generated,
            StepResult::AlreadySet
            | StepResult::Skipped { .. }
            | StepResult::NotApplicable { .. } => return None,
        };
        Some(Entry { result, ..self })
    }

    fn has_conflict(&self) -> bool {
        match &self.result {
            StepResult::Conflict { .. } => true,
            StepResult::Changed { conflicts, .. } => !conflicts.is_empty(),
            _ => false,
        }
    }
}

/// `1 resource`, `2 resources`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The field-level difference between two versions of a resource: every changed path once,
/// as a pointer into both versions, with its value in each. Secret and ConfigMap data values
/// are replaced by [`redact::REDACTED`]; their keys stay visible.
pub fn changes(before: &Value, after: &Value) -> Vec<Change> {
    let shown_before = redact::document(before);
    let shown_after = redact::document(after);
    let mut paths = Vec::new();
    changed_paths(before, after, &mut String::new(), &mut paths);
    paths
        .into_iter()
        .map(|path| Change {
            before: redact::value_at(before, &shown_before, &path),
            after: redact::value_at(after, &shown_after, &path),
            path,
        })
        .collect()
}

/// [`changes`] for a step that worked on one part of `resource` (its pod spec, say): `before`
/// and `after` are that part, at pointer `at`; the paths are the resource's. A part holding
/// Secret or ConfigMap data is redacted whole.
pub fn changes_at(at: &str, resource: &Value, before: &Value, after: &Value) -> Vec<Change> {
    if at.is_empty() {
        return changes(before, after);
    }
    let hidden = redact::is_hidden(resource, at);
    let mut paths = Vec::new();
    changed_paths(before, after, &mut at.to_string(), &mut paths);
    let shown = |part: &Value, path: &str| {
        let value = part.at(&path[at.len()..])?;
        Some(match hidden {
            true => redact::REDACTED.into(),
            false => value.clone(),
        })
    };
    paths
        .into_iter()
        .map(|path| Change {
            before: shown(before, &path),
            after: shown(after, &path),
            path,
        })
        .collect()
}

/// Walks both trees together, once. A path names the same place in both versions: maps are
/// compared key by key; a list whose elements kept their places (same length, or only
/// appended to or cut at the end) element by element; any other list, whose elements moved,
/// is one change as a whole (an RFC 6902 diff would name places in intermediate states).
fn changed_paths(before: &Value, after: &Value, path: &mut String, out: &mut Vec<String>) {
    let at = |token: &str, path: &mut String, each: &mut dyn FnMut(&mut String)| {
        let len = path.len();
        path.push('/');
        if token.contains(['~', '/']) {
            path.push_str(&token.replace('~', "~0").replace('/', "~1"));
        } else {
            path.push_str(token);
        }
        each(path);
        path.truncate(len);
    };
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            for (key, old_value) in old {
                at(key, path, &mut |path| match new.get(key) {
                    Some(new_value) => changed_paths(old_value, new_value, path, out),
                    None => out.push(path.clone()),
                });
            }
            for key in new.keys().filter(|key| !old.contains_key(*key)) {
                at(key, path, &mut |path| out.push(path.clone()));
            }
        }
        (Value::Array(old), Value::Array(new))
            if old.len() == new.len() || old.starts_with(new) || new.starts_with(old) =>
        {
            for i in 0..old.len().max(new.len()) {
                at(
                    &i.to_string(),
                    path,
                    &mut |path| match (old.get(i), new.get(i)) {
                        (Some(a), Some(b)) => changed_paths(a, b, path, out),
                        _ => out.push(path.clone()),
                    },
                );
            }
        }
        _ if before == after => {}
        _ => out.push(path.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(resource: &str, document: usize, result: StepResult) -> Entry {
        Entry {
            resource: resource.into(),
            document,
            step: "p.yaml: s".into(),
            result,
        }
    }

    fn changed() -> StepResult {
        StepResult::Changed {
            changes: Vec::new(),
            conflicts: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn counts_resources_not_steps() {
        let report = Report {
            entries: vec![
                entry("Deployment/web", 1, changed()),
                entry("Deployment/web", 1, changed()),
                entry(
                    "PodDisruptionBudget/web",
                    1,
                    StepResult::Generated {
                        owner: "Deployment/web".into(),
                    },
                ),
                // A later step touching the generated resource does not make it "changed".
                entry("PodDisruptionBudget/web", 1, changed()),
                entry(
                    "Service/web",
                    2,
                    StepResult::Conflict {
                        reason: "set on purpose".into(),
                    },
                ),
                entry("Service/web", 2, StepResult::AlreadySet),
            ],
            unmatched_steps: vec!["p.yaml: nothing".into()],
            skipped_files: Vec::new(),
            notes: Vec::new(),
        };
        assert_eq!(
            report.counts(),
            Counts {
                changed: 1,
                generated: 1,
                conflicts: 1,
                unmatched_steps: 1
            }
        );
        assert_eq!(
            report.summary_line(3),
            "pulse-harden: 3 resources, 1 changed, 1 generated, 1 conflict"
        );
        assert!(report.would_change());
        assert_eq!(
            report.strict_violations(),
            [
                "step matched nothing: p.yaml: nothing",
                "conflict: Service/web [p.yaml: s]: set on purpose"
            ]
        );
        assert_eq!(
            Report::default().summary_line(1),
            "pulse-harden: 1 resource, 0 changed, 0 generated, 0 conflicts"
        );
    }

    fn shown(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| {
                let side = |v: &Option<Value>| v.as_ref().map_or("absent".into(), Value::to_string);
                format!("{}: {} → {}", c.path, side(&c.before), side(&c.after))
            })
            .collect()
    }

    #[test]
    fn every_changed_path_once_with_its_true_values() {
        // Elements removed from the middle: one change of the whole list, not paths into
        // the states between (`/args/1: "--b" → absent` three times).
        let before = json!({"args": ["--a", "--b", "--c", "--d"], "x": 1});
        let after = json!({"args": ["--x"], "x": 1});
        assert_eq!(
            shown(&changes(&before, &after)),
            [r#"/args: ["--a","--b","--c","--d"] → ["--x"]"#]
        );
        let after = json!({"args": ["--a", "--c"], "y": {"a/b": 2}});
        assert_eq!(
            shown(&changes(&before, &after)),
            [
                r#"/args: ["--a","--b","--c","--d"] → ["--a","--c"]"#,
                "/x: 1 → absent",
                r#"/y: absent → {"a/b":2}"#
            ]
        );
        // Elements that kept their places: element by element.
        let before = json!({"c": [{"name": "a"}, {"name": "b"}], "drop": ["NET_RAW"]});
        let after =
            json!({"c": [{"name": "a", "s": 1}, {"name": "b"}], "drop": ["NET_RAW", "ALL"]});
        assert_eq!(
            shown(&changes(&before, &after)),
            ["/c/0/s: absent → 1", r#"/drop/1: absent → "ALL""#]
        );
        assert_eq!(
            shown(&changes(&after, &before)),
            ["/c/0/s: 1 → absent", r#"/drop/1: "ALL" → absent"#]
        );
        assert_eq!(
            shown(&changes(&json!({"a~b": 1}), &json!({"a~b": 2}))),
            ["/a~0b: 1 → 2"]
        );
    }

    #[test]
    fn changes_hide_secret_and_config_map_values() {
        let before = json!({"kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "aHVudGVyMg=="}});
        let after = json!({"kind": "Secret", "metadata": {"name": "s", "labels": {"a": "b"}},
                           "data": {"password": "bmV3", "token": "dG9rZW4="}});
        let text = serde_json::to_string(&changes(&before, &after)).unwrap();
        assert!(!text.contains("aHVudGVyMg=="), "{text}");
        assert!(!text.contains("bmV3"), "{text}");
        assert!(!text.contains("dG9rZW4="), "{text}");
        assert!(
            text.contains(
                r#"{"path":"/data/password","before":"<redacted>","after":"<redacted>"}"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"{"path":"/data/token","after":"<redacted>"}"#),
            "{text}"
        );
        assert!(text.contains(r#""after":{"a":"b"}"#), "{text}");

        let before = json!({"kind": "ConfigMap", "metadata": {"name": "c"}});
        let after = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v1"}, "binaryData": {"b": "AA=="}});
        let text = serde_json::to_string(&changes(&before, &after)).unwrap();
        assert!(!text.contains("v1") && !text.contains("AA=="), "{text}");
        assert!(
            text.contains(r#"{"path":"/data","after":{"k":"<redacted>"}}"#),
            "{text}"
        );
    }
}
