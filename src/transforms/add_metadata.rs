//! `addMetadata`: common labels and annotations on resources, and optionally on their pod
//! templates; values the chart set are kept and reported.

use super::targets::{child_map, outcome};
use super::{Context, Outcome, Transform};
use crate::names::{check_label_value, check_qualified_name};
use crate::pod;
use anyhow::Result;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddMetadata {
    #[serde(default, deserialize_with = "labels")]
    labels: Strings,
    #[serde(default, deserialize_with = "annotations")]
    annotations: Strings,
    /// Also on the pod templates of workloads.
    #[serde(default)]
    pod_templates: bool,
}

/// Name → value, in the order written; values must be strings, as Kubernetes wants.
#[derive(Debug, Default, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
struct Strings(Vec<(String, String)>);

impl TryFrom<Map<String, Value>> for Strings {
    type Error = String;

    fn try_from(map: Map<String, Value>) -> Result<Self, String> {
        map.into_iter()
            .map(|(name, value)| match value {
                Value::String(s) => Ok((name, s)),
                other => Err(format!(
                    "the value of `{name}` must be a string; quote it: \"{other}\""
                )),
            })
            .collect::<Result<_, String>>()
            .map(Strings)
    }
}

/// Labels whose keys and values Kubernetes accepts.
fn labels<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Strings, D::Error> {
    let labels = Strings::deserialize(d)?;
    for (key, value) in &labels.0 {
        check_qualified_name(key)
            .and_then(|()| check_label_value(value))
            .map_err(|e| serde::de::Error::custom(format!("label {e}")))?;
    }
    Ok(labels)
}

/// Annotations whose keys Kubernetes accepts (any string is a value).
fn annotations<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Strings, D::Error> {
    let annotations = Strings::deserialize(d)?;
    for (key, _) in &annotations.0 {
        check_qualified_name(key)
            .map_err(|e| serde::de::Error::custom(format!("annotation {e}")))?;
    }
    Ok(annotations)
}

impl Transform for AddMetadata {
    const KEY: &'static str = "addMetadata";
    const SUMMARY: &'static str =
        "common labels/annotations on resources (optionally their pod templates too)";
    const DOCS: &'static str = r#"Adds labels and annotations to each selected resource's `metadata`, and with
`podTemplates: true` to the `metadata` of its pod template too (so the pods carry them).

Why: ownership, cost-centre and compliance labels that every resource must carry, on charts
you do not own.

Harden without breaking: a label or annotation the chart already set to another value is
kept and reported. Selectors (`spec.selector`) are never touched, so adding pod-template
labels cannot orphan pods — but changing a pod template does roll a workload's pods.

Target: `resource` (the default).

Options:

| option | default | meaning |
|---|---|---|
| `labels` | `{}` | label name → value |
| `annotations` | `{}` | annotation name → value |
| `podTemplates` | `false` | also on the pod templates of workloads |

Example:

```yaml
- name: ownership
  addMetadata:
    labels: {team: platform, cost-centre: "4711"}
    annotations: {example.com/owner: platform@example.com}
    podTemplates: true
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        if target.get("kind").is_none() {
            return Ok(Outcome::NotApplicable(
                "addMetadata works on whole resources: leave `target` at `resource`".into(),
            ));
        }
        let mut conflicts = Vec::new();
        self.add_to(target, "", &mut conflicts);
        if self.pod_templates
            && let Some(path) = pod::template_path(ctx.kind, ctx.group, ctx.pod_templates)
            && !path.is_empty()
            && let Some(template) = target.pointer_mut(path)
        {
            self.add_to(template, "the pod template's ", &mut conflicts);
        }
        Ok(outcome(conflicts))
    }
}

impl AddMetadata {
    fn add_to(&self, object: &mut Value, whose: &str, conflicts: &mut Vec<String>) {
        let Some(metadata) = object
            .as_object_mut()
            .and_then(|o| child_map(o, "metadata"))
        else {
            conflicts.push(format!("{whose}metadata is not a map"));
            return;
        };
        for (field, entries) in [
            ("labels", &self.labels.0),
            ("annotations", &self.annotations.0),
        ] {
            if entries.is_empty() {
                continue;
            }
            let Some(map) = child_map(metadata, field) else {
                conflicts.push(format!("{whose}{field} are not a map"));
                continue;
            };
            for (key, value) in entries {
                match map.get(key) {
                    Some(Value::String(existing)) if existing == value => {}
                    Some(existing) if !existing.is_null() => {
                        conflicts.push(format!("{whose}{field} already set {key}={existing}"))
                    }
                    _ => {
                        map.insert(key.clone(), Value::String(value.clone()));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use crate::transforms::{Mode, test_context};
    use serde_json::json;

    #[test]
    fn adds_to_resource_and_pod_template_keeping_chart_values() {
        let action: AddMetadata = serde_json::from_value(
            json!({"labels": {"team": "platform", "app": "x"}, "podTemplates": true}),
        )
        .unwrap();
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"app": "web"}},
            "spec": {"template": {"spec": {"containers": []}}}});
        let m = Manifest::from_value(1, d.clone());
        let stream = [];
        let outcome = action
            .apply(&mut d, &test_context(Mode::Overwrite, &m, &stream))
            .unwrap();
        assert_eq!(
            outcome,
            Outcome::Partial("labels already set app=\"web\"".into())
        );
        assert_eq!(
            d["metadata"]["labels"],
            json!({"app": "web", "team": "platform"})
        );
        assert_eq!(
            d["spec"]["template"]["metadata"],
            json!({"labels": {"team": "platform", "app": "x"}})
        );
    }
}
