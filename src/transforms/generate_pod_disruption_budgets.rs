//! `generatePodDisruptionBudgets` (cross-resource): a `policy/v1` PodDisruptionBudget for each
//! replicated Deployment and StatefulSet the stream does not already cover.

use super::workloads::{self, selector_matches};
use super::{Context, Fact, Outcome, Transform};
use crate::manifest::Manifest;
use crate::pointer::Lookup;
use anyhow::{Result, bail};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};
use std::fmt;

#[derive(Debug, Deserialize)]
#[serde(try_from = "Options")]
pub struct GeneratePodDisruptionBudgets {
    budget: Budget,
    name_suffix: String,
}

/// The options as written; checked together in `TryFrom`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Options {
    #[serde(default)]
    max_unavailable: Option<IntOrPercent>,
    #[serde(default)]
    min_available: Option<IntOrPercent>,
    #[serde(default)]
    name_suffix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Budget {
    MaxUnavailable(IntOrPercent),
    MinAvailable(IntOrPercent),
}

/// A Kubernetes IntOrString budget: `1` or `"25%"`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum IntOrPercent {
    Int(u64),
    Percent(u64),
}

impl fmt::Display for IntOrPercent {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            IntOrPercent::Int(n) => write!(f, "{n}"),
            IntOrPercent::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl IntOrPercent {
    fn to_value(self) -> Value {
        match self {
            IntOrPercent::Int(n) => json!(n),
            IntOrPercent::Percent(_) => json!(self.to_string()),
        }
    }

    /// How many pods it stands for out of `replicas`; percentages round up, as the
    /// disruption controller rounds them.
    fn of(self, replicas: u64) -> u64 {
        match self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => (p * replicas).div_ceil(100),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrPercent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        let bad = |what: &str| {
            serde::de::Error::custom(format!(
                "expected a whole number or a percentage such as \"25%\", not {what}"
            ))
        };
        match Raw::deserialize(d).map_err(|_| bad("that"))? {
            Raw::Int(n) => Ok(IntOrPercent::Int(n)),
            Raw::Text(text) => {
                let p = text
                    .strip_suffix('%')
                    .and_then(|p| p.parse::<u64>().ok())
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| bad(&format!("`{text}`")))?;
                Ok(IntOrPercent::Percent(p))
            }
        }
    }
}

impl TryFrom<Options> for GeneratePodDisruptionBudgets {
    type Error = String;

    fn try_from(o: Options) -> Result<Self, String> {
        let budget = match (o.max_unavailable, o.min_available) {
            (Some(_), Some(_)) => {
                return Err("give `maxUnavailable` or `minAvailable`, not both".into());
            }
            (Some(IntOrPercent::Int(0) | IntOrPercent::Percent(0)), None) => {
                return Err(
                    "`maxUnavailable: 0` would block every node drain; use 1 or more".into(),
                );
            }
            (None, Some(IntOrPercent::Percent(100))) => {
                return Err(
                    "`minAvailable: 100%` would block every node drain; use maxUnavailable instead"
                        .into(),
                );
            }
            (Some(max), None) => Budget::MaxUnavailable(max),
            (None, Some(min)) => Budget::MinAvailable(min),
            (None, None) => Budget::MaxUnavailable(IntOrPercent::Int(1)),
        };
        let name_suffix = o.name_suffix.unwrap_or_else(|| "-pdb".into());
        if name_suffix.is_empty()
            || !name_suffix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        {
            return Err(format!(
                "`nameSuffix` `{name_suffix}` must be lowercase letters, digits, `-` or `.`"
            ));
        }
        Ok(GeneratePodDisruptionBudgets {
            budget,
            name_suffix,
        })
    }
}

impl Transform for GeneratePodDisruptionBudgets {
    const KEY: &'static str = "generatePodDisruptionBudgets";
    const SUMMARY: &'static str = "cross-resource: generate a policy/v1 PodDisruptionBudget for each replicated Deployment and StatefulSet";
    const DOCS: &'static str = r#"**Cross-resource**: reads the HorizontalPodAutoscalers and PodDisruptionBudgets of the
stream. For every Deployment and StatefulSet that runs
more than one replica, adds a `policy/v1` PodDisruptionBudget right after it, unless a
PodDisruptionBudget in the stream already selects its pods.

The workloads of the stream (Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, Pods…)
are read too, to see whose pods a new budget would select.

Why: without a budget, a node drain (cluster upgrade, autoscaler scale-down, spot eviction)
may evict every replica at once. With `maxUnavailable: 1` drains go one pod at a time and the
service stays up.

How many replicas: when a HorizontalPodAutoscaler of the stream (`autoscaling/v2` or `v1`,
same namespace, `scaleTargetRef` kind and name) scales the workload, its `minReplicas`
(default 1) decides, since the autoscaler may shrink the workload to it; otherwise
`spec.replicas` (absent means 1). Single-replica workloads never get a budget: it could only
ever block drains, and `minAvailable` budgets that leave no pod to evict (`minAvailable` ≥
the replicas) are refused with an error.

The budget:
- name `<workload><nameSuffix>` (`web-pdb`), the workload's namespace (none if it has none:
  Helm's release namespace applies), the workload's labels;
- `spec.selector`: the workload's `spec.selector`;
- `maxUnavailable: 1` unless configured.

It is filed after its workload with the workload's `# Source:` header and, for Helm 4, its
`postrenderer.helm.sh/postrender-filename` annotation, so Helm keeps it with the workload's
template. A second run sees the budget and generates nothing. A PodDisruptionBudget of that
name that selects other pods is reported as a conflict. Hooks get no budget (Helm deletes
hook resources on its own schedule).

**No pod under two budgets.** The eviction API refuses to evict a pod that more than one
PodDisruptionBudget selects ("more than one PodDisruptionBudget"), so a node drain would
block on it forever. A budget generated in this run covers pods just as the chart's own do:

- a workload whose pods a budget already selects (the chart's, or one generated for an
  earlier workload) gets none: that budget covers it;
- a workload whose selector would also select the pods of another workload of the namespace
  that a budget already covers (`{app: x}` next to `{app: x, c: a1}`) gets none either: the
  step reports a **conflict** naming both workloads and the budget.

Which of two overlapping workloads gets the budget depends on their order in the stream: the
broader selector first covers both, the narrower first gets its own and the broader is
reported.

Target: `target: resource` (the default).

Options (at most one of the first two):
- `maxUnavailable`: a number (≥ 1) or a percentage (`"25%"`); default `1`.
- `minAvailable`: a number or a percentage below 100%.
- `nameSuffix`: default `-pdb`.

Example:

```yaml
- name: pdbs
  select: {kind: [Deployment, StatefulSet]}
  generatePodDisruptionBudgets:
    maxUnavailable: 1
```
"#;

    /// Budgets and autoscalers, and the workloads whose pods a new budget could also select.
    const READS_STREAM: super::StreamReads = super::StreamReads::Kinds(&[
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
        "Pod",
    ]);

    /// Of each document it reads: whether it is a hook, its pod labels; a budget's selector;
    /// an autoscaler's target and floor; a workload's replicas and selector.
    const DECIDES_FROM: Option<&'static [&'static str]> = Some(&[
        "/spec/replicas",
        "/spec/selector",
        "/spec/scaleTargetRef/kind",
        "/spec/scaleTargetRef/name",
        "/spec/minReplicas",
        "{template}/metadata/labels",
    ]);

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        if !workloads::is_resource(target) {
            return Ok(Outcome::NotApplicable(
                "generatePodDisruptionBudgets expects `target: resource`".into(),
            ));
        }
        let workload = ctx.resource;
        if !matches!(ctx.kind, "Deployment" | "StatefulSet") || ctx.group != "apps" {
            return Ok(Outcome::NotApplicable(format!(
                "only Deployments and StatefulSets get a PodDisruptionBudget, not a {}",
                ctx.kind
            )));
        }
        if workload.is_hook() {
            return Ok(Outcome::NotApplicable(
                "Helm hooks get no PodDisruptionBudget".into(),
            ));
        }
        let Some(selector) = target
            .at("/spec/selector")
            .filter(|s| s.as_object().is_some_and(|s| !s.is_empty()))
        else {
            return Ok(Outcome::NotApplicable(
                "it has no spec.selector to select its pods by".into(),
            ));
        };
        let facts = ctx.index.facts(ctx.stream, ctx.pod_templates);
        let autoscalers = facts.of_kind("HorizontalPodAutoscaler", workload.namespace());
        let (replicas, why) = match replica_floor(target, workload, autoscalers) {
            Ok(found) => found,
            Err(reason) => return Ok(Outcome::NotApplicable(reason)),
        };
        if replicas <= 1 {
            return Ok(Outcome::NotApplicable(format!(
                "it runs fewer than two replicas ({why}); a PodDisruptionBudget could only block drains"
            )));
        }
        if let Budget::MinAvailable(min) = self.budget
            && min.of(replicas) >= replicas
        {
            bail!(
                "minAvailable {min} leaves none of its {replicas} replicas ({why}) evictable, which blocks every node drain; use maxUnavailable or a lower minAvailable"
            );
        }
        let labels = workloads::pod_template(workload, ctx.pod_templates)
            .and_then(workloads::template_labels);
        let namespace = workload.namespace();
        let name = format!("{}{}", workload.name(), self.name_suffix);
        // The chart's budgets and those this run generated (by earlier steps, or by this
        // step for earlier workloads) alike: a pod under two budgets cannot be evicted. Only
        // those that could select the pods or have the name are looked at, not every budget
        // of the namespace for every workload.
        let budgets = budgets_of(ctx, namespace, labels, Some(&name));
        for budget in &budgets {
            if selector_matches(budget_selector(budget), labels) {
                return Ok(Outcome::NotApplicable(format!(
                    "{} already covers its pods",
                    described(budget)
                )));
            }
            if budget.name() == name {
                return Ok(Outcome::Conflict(format!(
                    "{} exists but selects other pods; not generating another of that name",
                    described(budget)
                )));
            }
        }
        if let Some((other, budget)) = overlap(selector, workload, ctx) {
            return Ok(Outcome::Conflict(format!(
                "a PodDisruptionBudget for {} would also select the pods of {}, which {} already covers; the eviction API refuses to evict a pod under two budgets, so none is generated (give the workloads selectors that do not overlap, or a budget of your own)",
                workload.id(),
                other.id(),
                described(budget)
            )));
        }
        Ok(Outcome::Generate(self.budget_for(
            workload,
            &name,
            selector.clone(),
        )))
    }
}

impl GeneratePodDisruptionBudgets {
    fn budget_for(&self, workload: &Manifest, name: &str, selector: Value) -> Value {
        let mut metadata = Map::new();
        metadata.insert("name".into(), json!(name));
        if !workload.namespace().is_empty() {
            metadata.insert("namespace".into(), json!(workload.namespace()));
        }
        if let Some(labels) = workload.labels().filter(|l| !l.is_empty()) {
            metadata.insert("labels".into(), Value::Object(labels.clone()));
        }
        let mut spec = Map::new();
        match self.budget {
            Budget::MaxUnavailable(n) => spec.insert("maxUnavailable".into(), n.to_value()),
            Budget::MinAvailable(n) => spec.insert("minAvailable".into(), n.to_value()),
        };
        spec.insert("selector".into(), selector);
        json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": metadata,
            "spec": spec,
        })
    }
}

/// The other workload of the namespace whose pods `selector` would select and a budget
/// already covers, with that budget.
fn overlap<'s>(
    selector: &Value,
    workload: &Manifest,
    ctx: &Context<'s>,
) -> Option<(&'s Fact, &'s Fact)> {
    let facts = ctx.index.facts(ctx.stream, ctx.pod_templates);
    // Only workloads whose pod labels hold what the selector requires can be selected: those
    // are looked up, not the whole namespace scanned for every workload.
    let candidates = facts.with_pods_selectable_by(workload.namespace(), selector);
    candidates
        .filter(|other| {
            !other.is_hook()
                && other.namespace() == workload.namespace()
                && !(other.kind() == workload.kind() && other.name() == workload.name())
        })
        .find_map(|other| {
            let labels = other.pod_labels()?;
            if !selector_matches(selector, Some(labels)) {
                return None;
            }
            let budget = budgets_of(ctx, workload.namespace(), Some(labels), None)
                .into_iter()
                .find(|b| selector_matches(budget_selector(b), Some(labels)))?;
            Some((other, budget))
        })
}

/// The budgets of `namespace`, the stream's then those generated in this run, in order, that
/// could select pods with `labels` or are named `name` (every other budget neither does).
fn budgets_of<'s>(
    ctx: &Context<'s>,
    namespace: &str,
    labels: Option<&Map<String, Value>>,
    name: Option<&str>,
) -> Vec<&'s Fact> {
    let in_stream = ctx.index.facts(ctx.stream, ctx.pod_templates).budgets();
    (in_stream.candidates(namespace, labels, name).into_iter())
        .chain(ctx.generated_budgets.candidates(namespace, labels, name))
        .filter(|b| is_budget(b) && b.namespace() == namespace)
        .collect()
}

fn budget_selector(budget: &Fact) -> &Value {
    budget.selector().unwrap_or(&Value::Null)
}

/// `PodDisruptionBudget/ns/name`, and whether this run generated it.
fn described(budget: &Fact) -> String {
    if budget.generated() {
        format!("{} (generated in this run)", budget.id())
    } else {
        budget.id().to_string()
    }
}

fn is_budget(budget: &Fact) -> bool {
    budget.kind() == "PodDisruptionBudget" && budget.group() == "policy"
}

/// The fewest replicas the workload may run, and where that number comes from.
fn replica_floor<'m>(
    target: &Value,
    workload: &Manifest,
    mut autoscalers: impl Iterator<Item = &'m Fact>,
) -> Result<(u64, String), String> {
    let autoscaler = autoscalers.find(|hpa| {
        hpa.kind() == "HorizontalPodAutoscaler"
            && hpa.group() == "autoscaling"
            && hpa.namespace() == workload.namespace()
            && hpa.scale_target() == (Some(workload.kind()), Some(workload.name()))
    });
    if let Some(hpa) = autoscaler {
        let min = match hpa.min_replicas() {
            None | Some(Value::Null) => 1,
            Some(n) => n
                .as_u64()
                .ok_or_else(|| format!("{}'s minReplicas is not a number", hpa.id()))?,
        };
        return Ok((min, format!("{} minReplicas {min}", hpa.id())));
    }
    match target.at("/spec/replicas") {
        None | Some(Value::Null) => Ok((1, "no spec.replicas".into())),
        Some(n) => {
            let n = n
                .as_u64()
                .ok_or_else(|| "its spec.replicas is not a number".to_string())?;
            Ok((n, format!("spec.replicas {n}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::{Mode, test_context};

    fn deployment(replicas: Option<u64>) -> Value {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "apps", "labels": {"app": "api", "team": "x"}},
            "spec": {"selector": {"matchLabels": {"app": "api"}},
                     "template": {"metadata": {"labels": {"app": "api", "v": "1"}},
                                  "spec": {"containers": [{"name": "api"}]}}}});
        if let Some(r) = replicas {
            d["spec"]["replicas"] = json!(r);
        }
        d
    }

    fn hpa(min: u64) -> Value {
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": "api", "namespace": "apps"},
               "spec": {"minReplicas": min, "maxReplicas": 5,
                        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}}})
    }

    fn run_with(options: Value, workload: Value, others: Vec<Value>) -> Result<Outcome> {
        let action: GeneratePodDisruptionBudgets = serde_json::from_value(options).unwrap();
        let mut stream = vec![Manifest::from_value(1, workload.clone())];
        stream.extend(others.into_iter().map(|v| Manifest::from_value(2, v)));
        let mut target = workload;
        let before = target.clone();
        let outcome = action.apply(
            &mut target,
            &test_context(Mode::Overwrite, &stream[0], &stream),
        );
        assert_eq!(target, before, "the workload itself never changes");
        outcome
    }

    fn run(workload: Value, others: Vec<Value>) -> Outcome {
        run_with(json!({}), workload, others).unwrap()
    }

    #[test]
    fn replicated_workloads_get_a_budget() {
        let Outcome::Generate(pdb) = run(deployment(Some(3)), vec![]) else {
            panic!()
        };
        assert_eq!(
            pdb,
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                   "metadata": {"name": "api-pdb", "namespace": "apps",
                                "labels": {"app": "api", "team": "x"}},
                   "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "api"}}}})
        );
        // ... and a second run, which sees it, generates nothing.
        assert!(matches!(
            run(deployment(Some(3)), vec![pdb]),
            Outcome::NotApplicable(r) if r == "PodDisruptionBudget/apps/api-pdb already covers its pods"
        ));
    }

    #[test]
    fn single_replicas_get_none() {
        for (replicas, others) in [(None, vec![]), (Some(1), vec![]), (Some(3), vec![hpa(1)])] {
            assert!(matches!(
                run(deployment(replicas), others),
                Outcome::NotApplicable(r) if r.starts_with("it runs fewer than two replicas")
            ));
        }
        assert!(matches!(
            run(deployment(None), vec![hpa(2)]),
            Outcome::Generate(_)
        ));
    }

    #[test]
    fn options_shape_the_budget() {
        let Ok(Outcome::Generate(pdb)) = run_with(
            json!({"minAvailable": "50%", "nameSuffix": "-budget"}),
            deployment(Some(2)),
            vec![],
        ) else {
            panic!()
        };
        assert_eq!(pdb["metadata"]["name"], "api-budget");
        assert_eq!(
            pdb["spec"],
            json!({"minAvailable": "50%", "selector": {"matchLabels": {"app": "api"}}})
        );
        let e = run_with(json!({"minAvailable": 2}), deployment(Some(2)), vec![])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "minAvailable 2 leaves none of its 2 replicas (spec.replicas 2) evictable, which blocks every node drain; use maxUnavailable or a lower minAvailable"
        );
        for bad in [
            json!({"maxUnavailable": 0}),
            json!({"maxUnavailable": "0%"}),
            json!({"minAvailable": "100%"}),
            json!({"minAvailable": 1, "maxUnavailable": 1}),
            json!({"maxUnavailable": "half"}),
            json!({"nameSuffix": "_PDB"}),
            json!({"bogus": 1}),
        ] {
            assert!(
                serde_json::from_value::<GeneratePodDisruptionBudgets>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    fn workload(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "apps"},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels.clone()},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c"}]}}}})
    }

    /// Runs the step over each workload of `stream` in order, as the pipeline does: budgets
    /// generated for earlier workloads are in `Context::generated`.
    fn run_over(stream: Vec<Value>) -> Vec<Outcome> {
        let action: GeneratePodDisruptionBudgets = serde_json::from_value(json!({})).unwrap();
        let stream: Vec<Manifest> = stream
            .into_iter()
            .enumerate()
            .map(|(i, v)| Manifest::from_value(i + 1, v))
            .collect();
        let mut generated = crate::transforms::Budgets::default();
        let mut outcomes = Vec::new();
        for m in stream.iter().filter(|m| m.kind() == "Deployment") {
            let mut ctx = test_context(Mode::Overwrite, m, &stream);
            ctx.generated_budgets = &generated;
            let mut target = m.value.clone().unwrap();
            let outcome = action.apply(&mut target, &ctx).unwrap();
            if let Outcome::Generate(doc) = &outcome {
                let mut doc = Manifest::from_value(m.index, doc.clone());
                doc.generated = true;
                generated.add_if_budget(&doc, &[]);
            }
            outcomes.push(outcome);
        }
        outcomes
    }

    #[test]
    fn a_budget_generated_in_this_run_covers_the_pods_it_selects() {
        let outcomes = run_over(vec![
            workload("broad", json!({"app": "x"})),
            workload("narrow", json!({"app": "x", "c": "a1"})),
        ]);
        assert!(matches!(&outcomes[0], Outcome::Generate(_)));
        assert_eq!(
            outcomes[1],
            Outcome::NotApplicable(
                "PodDisruptionBudget/apps/broad-pdb (generated in this run) already covers its pods"
                    .into()
            )
        );
    }

    #[test]
    fn overlapping_selectors_never_give_a_pod_two_budgets() {
        let outcomes = run_over(vec![
            workload("narrow", json!({"app": "x", "c": "a1"})),
            workload("broad", json!({"app": "x"})),
        ]);
        assert!(matches!(&outcomes[0], Outcome::Generate(_)));
        assert_eq!(
            outcomes[1],
            Outcome::Conflict("a PodDisruptionBudget for Deployment/apps/broad would also select the pods of Deployment/apps/narrow, which PodDisruptionBudget/apps/narrow-pdb (generated in this run) already covers; the eviction API refuses to evict a pod under two budgets, so none is generated (give the workloads selectors that do not overlap, or a budget of your own)".into())
        );
        // The chart's own budget counts the same, for any workload it covers.
        let chart_budget = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "agents", "namespace": "apps"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"role": "agent"}}}});
        let mut agents = workload("agents", json!({"app": "x", "role": "agent"}));
        agents["kind"] = json!("DaemonSet");
        let outcomes = run_over(vec![
            chart_budget,
            agents,
            workload("broad", json!({"app": "x"})),
        ]);
        assert!(
            matches!(&outcomes[0], Outcome::Conflict(r) if r.contains("would also select the pods of DaemonSet/apps/agents, which PodDisruptionBudget/apps/agents already covers")),
            "{outcomes:?}"
        );
        // Other namespaces and hooks do not count.
        let mut elsewhere = workload("narrow", json!({"app": "x", "c": "a1"}));
        elsewhere["metadata"]["namespace"] = json!("other");
        let outcomes = run_over(vec![elsewhere, workload("broad", json!({"app": "x"}))]);
        assert!(
            outcomes.iter().all(|o| matches!(o, Outcome::Generate(_))),
            "{outcomes:?}"
        );
    }

    #[test]
    fn existing_budgets_are_respected() {
        let other = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "api-pdb", "namespace": "apps"},
            "spec": {"selector": {"matchLabels": {"app": "db"}}}});
        assert!(matches!(
            run(deployment(Some(2)), vec![other.clone()]),
            Outcome::Conflict(_)
        ));
        let mut elsewhere = other;
        elsewhere["metadata"]["namespace"] = json!("other");
        elsewhere["spec"]["selector"] = json!({});
        assert!(matches!(
            run(deployment(Some(2)), vec![elsewhere]),
            Outcome::Generate(_)
        ));
        let statefulset = {
            let mut d = deployment(Some(2));
            d["kind"] = json!("StatefulSet");
            d
        };
        assert!(matches!(run(statefulset, vec![]), Outcome::Generate(_)));
        let mut daemonset = deployment(Some(2));
        daemonset["kind"] = json!("DaemonSet");
        assert!(matches!(run(daemonset, vec![]), Outcome::NotApplicable(_)));
    }
}
