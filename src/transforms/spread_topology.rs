//! `spreadTopology`: spreads a workload's pods over zones and nodes with
//! `topologySpreadConstraints` derived from the workload's own selector.

use super::workloads;
use super::{Context, Outcome, Transform};
use crate::pointer::Lookup;
use anyhow::Result;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SpreadTopology {
    #[serde(default = "default_keys", deserialize_with = "non_empty_keys")]
    topology_keys: Vec<String>,
    #[serde(default = "default_max_skew", deserialize_with = "positive")]
    max_skew: u32,
    #[serde(default)]
    when_unsatisfiable: WhenUnsatisfiable,
    /// Pod label keys whose values scope the spread; `[pod-template-hash]` for Deployments
    /// when absent, so a rollout's new pods spread among themselves.
    #[serde(default, deserialize_with = "label_keys")]
    match_label_keys: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
enum WhenUnsatisfiable {
    #[default]
    ScheduleAnyway,
    DoNotSchedule,
}

impl WhenUnsatisfiable {
    fn as_str(self) -> &'static str {
        match self {
            WhenUnsatisfiable::ScheduleAnyway => "ScheduleAnyway",
            WhenUnsatisfiable::DoNotSchedule => "DoNotSchedule",
        }
    }
}

fn default_keys() -> Vec<String> {
    vec![
        "topology.kubernetes.io/zone".into(),
        "kubernetes.io/hostname".into(),
    ]
}

fn default_max_skew() -> u32 {
    1
}

fn non_empty_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let keys = Vec::<String>::deserialize(d)?;
    if keys.is_empty() || keys.iter().any(String::is_empty) {
        return Err(serde::de::Error::custom(
            "`topologyKeys` needs at least one non-empty node label key",
        ));
    }
    for (i, key) in keys.iter().enumerate() {
        crate::names::check_qualified_name(key)
            .map_err(|e| serde::de::Error::custom(format!("topology key {e}")))?;
        if keys[..i].contains(key) {
            // The API rejects two constraints with the same topologyKey and whenUnsatisfiable.
            return Err(serde::de::Error::custom(format!(
                "topology key `{key}` is listed twice"
            )));
        }
    }
    Ok(keys)
}

fn label_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let keys = Vec::<String>::deserialize(d)?;
    for key in &keys {
        crate::names::check_qualified_name(key)
            .map_err(|e| serde::de::Error::custom(format!("matchLabelKeys: {e}")))?;
    }
    Ok(Some(keys))
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::custom("`maxSkew` must be at least 1"));
    }
    Ok(n)
}

impl Transform for SpreadTopology {
    const KEY: &'static str = "spreadTopology";
    const SUMMARY: &'static str =
        "spread a workload's pods over zones and nodes (topologySpreadConstraints)";
    const DOCS: &'static str = r#"Adds `topologySpreadConstraints` to a workload's pod template, one per topology key, whose
`labelSelector` is the workload's own `spec.selector`, so the scheduler spreads exactly that
workload's pods.

Why: without it the scheduler may put every replica on one node or in one zone, and a single
node drain or zone outage takes the whole service down even with several replicas.

For Deployments each constraint also gets `matchLabelKeys: [pod-template-hash]`, so during a
rollout the new ReplicaSet's pods are spread among themselves rather than counted with the
old ones (Kubernetes 1.27+; older API servers drop the field).

A topology key the pod template already has a constraint for is left alone (the chart's
constraint wins); the other keys are still added. Workloads without a `spec.selector` (a bare
Pod, a Job, a CronJob) and DaemonSets (one pod per node already) are skipped with a reason.

Target: `target: resource` (the default) on Deployments, StatefulSets, ReplicaSets and
custom resources with a declared pod template and a `spec.selector`.

Options:
- `topologyKeys`: node labels to spread over (default `[topology.kubernetes.io/zone,
  kubernetes.io/hostname]`).
- `maxSkew`: default `1`.
- `whenUnsatisfiable`: `ScheduleAnyway` (default: prefer spreading, never block scheduling)
  or `DoNotSchedule`.
- `matchLabelKeys`: default `[pod-template-hash]` for Deployments and none otherwise; keys
  the selector already names are left out (the API rejects them).

Example:

```yaml
- name: spread
  select: {kind: [Deployment, StatefulSet]}
  spreadTopology:
    topologyKeys: [topology.kubernetes.io/zone]
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        if !workloads::is_resource(target) {
            return Ok(Outcome::NotApplicable(
                "spreadTopology expects `target: resource`".into(),
            ));
        }
        let kind = ctx.kind;
        if kind == "DaemonSet" {
            return Ok(Outcome::NotApplicable(
                "a DaemonSet already runs one pod per node".into(),
            ));
        }
        let selector = target
            .at("/spec/selector")
            .filter(|s| {
                ["matchLabels", "matchExpressions"]
                    .iter()
                    .any(|k| s.get(k).is_some_and(|v| !is_empty(v)))
            })
            .cloned();
        let Some(selector) = selector else {
            return Ok(Outcome::NotApplicable(format!(
                "{kind} has no spec.selector with matchLabels or matchExpressions to spread by"
            )));
        };
        let Some(spec) = workloads::pod_spec(target, ctx) else {
            return Ok(Outcome::NotApplicable(format!(
                "{kind} has no pod template"
            )));
        };
        let selector_keys: Vec<String> = selector
            .get("matchLabels")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let match_label_keys: Vec<String> = match &self.match_label_keys {
            Some(keys) => keys.clone(),
            None if kind == "Deployment" => vec!["pod-template-hash".into()],
            None => Vec::new(),
        }
        .into_iter()
        .filter(|k| !selector_keys.contains(k))
        .collect();

        let Some(spec) = spec.as_object_mut() else {
            return Ok(Outcome::NotApplicable("the pod spec is not a map".into()));
        };
        let Some(constraints) = super::targets::child_list(spec, "topologySpreadConstraints")
        else {
            return Ok(Outcome::Conflict(
                "topologySpreadConstraints is not a list".into(),
            ));
        };
        let declared: Vec<String> = constraints
            .iter()
            .filter_map(|c| c.get("topologyKey").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        for key in &self.topology_keys {
            if declared.contains(key) {
                continue;
            }
            let mut constraint = Map::new();
            constraint.insert("maxSkew".into(), json!(self.max_skew));
            constraint.insert("topologyKey".into(), json!(key));
            constraint.insert(
                "whenUnsatisfiable".into(),
                json!(self.when_unsatisfiable.as_str()),
            );
            constraint.insert("labelSelector".into(), selector.clone());
            if !match_label_keys.is_empty() {
                constraint.insert("matchLabelKeys".into(), json!(match_label_keys));
            }
            constraints.push(Value::Object(constraint));
        }
        Ok(Outcome::Applied)
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use crate::transforms::{Mode, test_context};

    fn run(options: Value, mut doc: Value) -> (Value, Outcome) {
        let action: SpreadTopology = serde_json::from_value(options).unwrap();
        let m = Manifest::from_value(1, doc.clone());
        let outcome = action
            .apply(
                &mut doc,
                &test_context(Mode::Overwrite, &m, std::slice::from_ref(&m)),
            )
            .unwrap();
        (doc, outcome)
    }

    fn workload(kind: &str, constraints: Option<Value>) -> Value {
        let mut doc = json!({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web"}]}}}});
        if let Some(c) = constraints {
            doc["spec"]["template"]["spec"]["topologySpreadConstraints"] = c;
        }
        doc
    }

    #[test]
    fn deployments_get_both_keys_with_pod_template_hash() {
        let (doc, outcome) = run(json!({}), workload("Deployment", None));
        assert_eq!(outcome, Outcome::Applied);
        assert_eq!(
            doc["spec"]["template"]["spec"]["topologySpreadConstraints"],
            json!([
                {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                 "whenUnsatisfiable": "ScheduleAnyway",
                 "labelSelector": {"matchLabels": {"app": "web"}},
                 "matchLabelKeys": ["pod-template-hash"]},
                {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                 "whenUnsatisfiable": "ScheduleAnyway",
                 "labelSelector": {"matchLabels": {"app": "web"}},
                 "matchLabelKeys": ["pod-template-hash"]}
            ])
        );
        let (again, _) = run(json!({}), doc.clone());
        assert_eq!(again, doc, "idempotent");
    }

    #[test]
    fn keys_the_chart_declares_are_kept() {
        let mine = json!([{"maxSkew": 2, "topologyKey": "kubernetes.io/hostname",
                           "whenUnsatisfiable": "DoNotSchedule",
                           "labelSelector": {"matchLabels": {"app": "web"}}}]);
        let (doc, _) = run(
            json!({"maxSkew": 3, "whenUnsatisfiable": "DoNotSchedule"}),
            workload("StatefulSet", Some(mine.clone())),
        );
        let got = &doc["spec"]["template"]["spec"]["topologySpreadConstraints"];
        assert_eq!(got[0], mine[0]);
        assert_eq!(
            got[1],
            json!({"maxSkew": 3, "topologyKey": "topology.kubernetes.io/zone",
                   "whenUnsatisfiable": "DoNotSchedule",
                   "labelSelector": {"matchLabels": {"app": "web"}}})
        );
    }

    #[test]
    fn workloads_without_selectors_are_not_applicable() {
        for kind in ["CronJob", "Job", "DaemonSet"] {
            let mut doc = workload(kind, None);
            doc["spec"].as_object_mut().unwrap().remove("selector");
            let (after, outcome) = run(json!({}), doc.clone());
            assert!(matches!(outcome, Outcome::NotApplicable(_)), "{kind}");
            assert_eq!(after, doc);
        }
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": []}});
        assert!(matches!(run(json!({}), pod).1, Outcome::NotApplicable(_)));
    }

    #[test]
    fn options_are_validated() {
        for bad in [
            json!({"maxSkew": 0}),
            json!({"topologyKeys": []}),
            json!({"whenUnsatisfiable": "Sometimes"}),
            json!({"bogus": 1}),
        ] {
            assert!(serde_json::from_value::<SpreadTopology>(bad).is_err());
        }
        let (doc, _) = run(
            json!({"matchLabelKeys": ["app", "version"]}),
            workload("Deployment", None),
        );
        assert_eq!(
            doc["spec"]["template"]["spec"]["topologySpreadConstraints"][0]["matchLabelKeys"],
            json!(["version"])
        );
    }
}
