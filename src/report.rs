//! What every step did to every resource: the changes (path, before, after), what was
//! skipped and why, and the steps that matched nothing.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub entries: Vec<Entry>,
    /// `origin: step` of every step that selected no resource.
    pub unmatched_steps: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// `Kind/namespace/name`.
    pub resource: String,
    pub document: usize,
    /// `origin: step`.
    pub step: String,
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
    },
    /// The step applied, but the resource already had what it sets.
    AlreadySet,
    /// The chart set something on purpose that the step would contradict: left alone.
    Conflict { reason: String },
    /// The step does not apply to this resource (opted out, no pod template, failure skipped).
    Skipped { reason: String },
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

/// The field-level difference between two versions of a resource.
pub fn changes(before: &Value, after: &Value) -> Vec<Change> {
    json_patch::diff(before, after)
        .0
        .iter()
        .map(|op| {
            let path = op.path().to_string();
            Change {
                before: before.pointer(&path).cloned(),
                after: after.pointer(&path).cloned(),
                path,
            }
        })
        .collect()
}
