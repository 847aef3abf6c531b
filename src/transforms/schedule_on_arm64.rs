//! `scheduleOnArm64`: pins pods to ARM64 nodes (`kubernetes.io/arch` nodeSelector, optional
//! tolerations), refusing pods the chart already pinned to another architecture, and leaving
//! DaemonSets (node agents) unpinned unless asked.

use super::workloads;
use super::{Context, Outcome, Transform};
use crate::pointer::Lookup;
use anyhow::Result;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

const ARCH_LABEL: &str = "kubernetes.io/arch";
/// The label before Kubernetes 1.14; still on some nodes and in old charts.
const BETA_ARCH_LABEL: &str = "beta.kubernetes.io/arch";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleOnArm64 {
    #[serde(default = "default_architecture", deserialize_with = "architecture")]
    architecture: String,
    #[serde(default, deserialize_with = "tolerations")]
    tolerations: Vec<Toleration>,
    /// Pin DaemonSets too (and the hooks of a release that has only DaemonSets).
    #[serde(default)]
    pin_daemon_sets: bool,
}

/// Tolerations the API server accepts (its `ValidateTolerations`).
fn tolerations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Toleration>, D::Error> {
    let tolerations = Vec::<Toleration>::deserialize(d)?;
    for (i, t) in tolerations.iter().enumerate() {
        t.check()
            .map_err(|e| serde::de::Error::custom(format!("toleration {}: {e}", i + 1)))?;
    }
    Ok(tolerations)
}

fn default_architecture() -> String {
    "arm64".into()
}

fn architecture<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let arch = String::deserialize(d)?;
    if arch.is_empty() || !arch.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(serde::de::Error::custom(format!(
            "`architecture` must be a GOARCH name such as arm64 or amd64, not `{arch}`"
        )));
    }
    Ok(arch)
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Toleration {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    operator: Option<TolerationOperator>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    effect: Option<TaintEffect>,
    #[serde(default)]
    toleration_seconds: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
enum TolerationOperator {
    Equal,
    Exists,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl Toleration {
    fn check(&self) -> Result<(), String> {
        let key = self.key.as_deref().unwrap_or("");
        let value = self.value.as_deref().unwrap_or("");
        let exists = self.operator == Some(TolerationOperator::Exists);
        if !key.is_empty() {
            crate::names::check_qualified_name(key)?;
        } else if !exists {
            return Err("a toleration without a `key` needs `operator: Exists`".into());
        }
        if exists && !value.is_empty() {
            return Err("`operator: Exists` takes no `value`".into());
        }
        crate::names::check_label_value(value)?;
        if self.toleration_seconds.is_some() && self.effect != Some(TaintEffect::NoExecute) {
            return Err("`tolerationSeconds` goes with `effect: NoExecute`".into());
        }
        Ok(())
    }

    fn to_value(&self) -> Value {
        let mut out = Map::new();
        if let Some(key) = &self.key {
            out.insert("key".into(), json!(key));
        }
        if let Some(op) = self.operator {
            out.insert("operator".into(), json!(format!("{op:?}")));
        }
        if let Some(value) = &self.value {
            out.insert("value".into(), json!(value));
        }
        if let Some(effect) = self.effect {
            out.insert("effect".into(), json!(format!("{effect:?}")));
        }
        if let Some(seconds) = self.toleration_seconds {
            out.insert("tolerationSeconds".into(), json!(seconds));
        }
        Value::Object(out)
    }

    /// The fields Kubernetes compares, with its defaults (`operator: Equal`) filled in.
    fn normalized(t: &Value) -> (String, String, String, String, Option<i64>) {
        let text = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let operator = match text("operator").as_str() {
            "" => "Equal".to_string(),
            op => op.to_string(),
        };
        (
            text("key"),
            operator,
            text("value"),
            text("effect"),
            t.get("tolerationSeconds").and_then(Value::as_i64),
        )
    }
}

impl Transform for ScheduleOnArm64 {
    const KEY: &'static str = "scheduleOnArm64";
    const SUMMARY: &'static str =
        "schedule pods on ARM64 nodes (kubernetes.io/arch nodeSelector, optional tolerations)";
    const DOCS: &'static str = r#"Sets the pod's `nodeSelector` `kubernetes.io/arch: arm64` (the architecture is
configurable) and adds the tolerations you list unless the pod already has them.

Why: on clusters with ARM nodes (Oracle OKE Always Free Ampere A1, AWS Graviton, Azure
Cobalt) a multi-arch image should land on the cheap ARM pool, and an x86-only image must not
land there by accident. Pinning the architecture makes the placement explicit.

If the chart already pins another architecture — a `nodeSelector` on `kubernetes.io/arch` or
the old `beta.kubernetes.io/arch`, or a *required* node affinity whose terms all exclude the
architecture (`In` without it, `NotIn` with it, `DoesNotExist`) — the pod is left alone and a
conflict is reported: the chart likely ships an image for that architecture only, and pinning
it to ARM would leave it Pending forever. A pod already pinned to the same architecture is
left as it is. Preferred affinities are not pins and are kept.

**DaemonSets are left unpinned** unless `pinDaemonSets: true`, and reported as skipped with
the reason: a DaemonSet runs an agent on every node (log collectors, metrics exporters, CNI
and CSI plugins), and pinning it to one architecture takes it off every node of the others,
which then lose their logs, metrics or networking on a mixed cluster. Their images are
usually multi-arch, so they need no pin. Set `pinDaemonSets: true` on a cluster that has
only nodes of this architecture, or for a DaemonSet whose image exists only for it.

**Helm hooks and test pods** (`helm.sh/hook`) are ordinary short-lived pods and are pinned
like Deployments, with one exception that follows their workloads' choice: in a release
whose workloads are all DaemonSets (a log-agent chart), its hooks and tests are left
unpinned like them, unless `pinDaemonSets: true`.

Target: `target: resource` (the default: the pod template of every workload kind and of
declared custom resources) or `target: podSpec`.

Options:
- `architecture`: default `arm64`.
- `tolerations`: Kubernetes tolerations (`key`, `operator`, `value`, `effect`,
  `tolerationSeconds`) to add when the pod has no equal one (for an ARM pool that is tainted).
- `pinDaemonSets`: default `false`; `true` pins DaemonSets too (and the hooks of a
  release of DaemonSets only).

Example:

```yaml
- name: arm64
  select: {kind: [Deployment, StatefulSet, DaemonSet, Job, CronJob]}
  scheduleOnArm64:
    tolerations:
      - {key: kubernetes.io/arch, operator: Equal, value: arm64, effect: NoSchedule}
- name: arm64-only-cluster-agents
  select: {kind: DaemonSet, name: "log-agent*"}
  scheduleOnArm64: {pinDaemonSets: true}
```
"#;

    /// The kinds and hook annotations of the other documents: their heads, which every
    /// document of `Context::stream` has.
    const READS_STREAM: super::StreamReads = super::StreamReads::Heads;
    const TARGETS: &'static [super::Target] = super::POD_TARGETS;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        if !self.pin_daemon_sets {
            if ctx.kind == "DaemonSet" && ctx.group == "apps" {
                return Ok(Outcome::NotApplicable(
                    "a DaemonSet runs on every node: pinned to one architecture, the nodes of the others would lose it (pinDaemonSets: true pins it)".into(),
                ));
            }
            if ctx.resource.is_hook() && only_daemon_sets(ctx) {
                return Ok(Outcome::NotApplicable(
                    "a Helm hook of a release whose workloads are all DaemonSets: left unpinned like them (pinDaemonSets: true pins it)".into(),
                ));
            }
        }
        let is_resource = workloads::is_resource(target);
        let Some(spec) = workloads::pod_spec(target, ctx) else {
            return Ok(Outcome::NotApplicable(if is_resource {
                format!("{} has no pod template", ctx.kind)
            } else {
                "scheduleOnArm64 expects `target: resource` or `target: podSpec`".into()
            }));
        };
        if let Some(reason) = self.pinned_elsewhere(spec) {
            return Ok(Outcome::Conflict(reason));
        }
        let Some(spec) = spec.as_object_mut() else {
            return Ok(Outcome::NotApplicable("the pod spec is not a map".into()));
        };
        let Some(node_selector) = super::targets::child_map(spec, "nodeSelector") else {
            return Ok(Outcome::Conflict("nodeSelector is not a map".into()));
        };
        node_selector.insert(ARCH_LABEL.into(), json!(self.architecture));
        if self.tolerations.is_empty() {
            return Ok(Outcome::Applied);
        }
        let Some(tolerations) = super::targets::child_list(spec, "tolerations") else {
            return Ok(Outcome::Partial(
                "tolerations is not a list; none added".into(),
            ));
        };
        for wanted in &self.tolerations {
            let wanted = wanted.to_value();
            let key = Toleration::normalized(&wanted);
            if !tolerations.iter().any(|t| Toleration::normalized(t) == key) {
                tolerations.push(wanted);
            }
        }
        Ok(Outcome::Applied)
    }
}

impl ScheduleOnArm64 {
    /// Why the pod cannot run on this architecture as the chart wrote it, if it cannot.
    fn pinned_elsewhere(&self, spec: &Value) -> Option<String> {
        let arch = self.architecture.as_str();
        for label in [ARCH_LABEL, BETA_ARCH_LABEL] {
            if let Some(pinned) = spec.at(&format!("/nodeSelector/{}", label.replace('/', "~1")))
                && pinned.as_str() != Some(arch)
            {
                return Some(format!(
                    "the pod's nodeSelector pins {label}={}; scheduling it on {arch} nodes would leave it Pending",
                    text(pinned)
                ));
            }
        }
        let terms = spec
            .at("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
            .and_then(Value::as_array)
            .filter(|terms| !terms.is_empty())?;
        let mut exclusions = Vec::new();
        for term in terms {
            match term_excludes(term, arch) {
                Some(why) => exclusions.push(why),
                // One term admitting the architecture keeps the pod schedulable.
                None => return None,
            }
        }
        Some(format!(
            "the pod's required node affinity excludes {arch} ({}); scheduling it on {arch} nodes would leave it Pending",
            exclusions.join("; or ")
        ))
    }
}

/// Are the workloads of the stream (hooks aside) all DaemonSets, and is there one?
fn only_daemon_sets(ctx: &Context) -> bool {
    let mut workloads = ctx.stream.iter().filter(|m| {
        m.is_resource()
            && !m.is_hook()
            && crate::pod::template_path(m.kind(), m.group(), ctx.pod_templates).is_some()
    });
    let mut any = false;
    let all = workloads.all(|m| {
        any = true;
        m.kind() == "DaemonSet" && m.group() == "apps"
    });
    any && all
}

/// Why a node selector term excludes nodes of this architecture, if it does.
fn term_excludes(term: &Value, arch: &str) -> Option<String> {
    let expressions = term.get("matchExpressions")?.as_array()?;
    expressions.iter().find_map(|e| {
        let key = e.get("key").and_then(Value::as_str)?;
        if key != ARCH_LABEL && key != BETA_ARCH_LABEL {
            return None;
        }
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|vs| vs.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let operator = e.get("operator").and_then(Value::as_str).unwrap_or("");
        let excludes = match operator {
            "In" => !values.contains(&arch),
            "NotIn" => values.contains(&arch),
            "DoesNotExist" => true,
            _ => false,
        };
        excludes.then(|| format!("{key} {operator} [{}]", values.join(", ")))
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use crate::transforms::{Mode, test_context};

    fn run(options: Value, spec: Value) -> (Value, Outcome) {
        let action: ScheduleOnArm64 = serde_json::from_value(options).unwrap();
        let mut doc = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                             "metadata": {"name": "web"}, "spec": {"template": {"spec": spec}}});
        let m = Manifest::from_value(1, doc.clone());
        let outcome = action
            .apply(
                &mut doc,
                &test_context(Mode::Overwrite, &m, std::slice::from_ref(&m)),
            )
            .unwrap();
        (doc["spec"]["template"]["spec"].clone(), outcome)
    }

    fn affinity(operator: &str, values: Value) -> Value {
        json!({"containers": [], "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": operator,
                                       "values": values}]}]}}}})
    }

    #[test]
    fn adds_the_node_selector_and_missing_tolerations() {
        let options = json!({"tolerations": [
            {"key": "arch", "operator": "Equal", "value": "arm64", "effect": "NoSchedule"},
            {"key": "spot", "operator": "Exists"}]});
        let spec = json!({"containers": [], "nodeSelector": {"pool": "apps"},
                          "tolerations": [{"key": "spot", "operator": "Exists"}]});
        let (spec, outcome) = run(options.clone(), spec);
        assert_eq!(outcome, Outcome::Applied);
        assert_eq!(
            spec["nodeSelector"],
            json!({"pool": "apps", "kubernetes.io/arch": "arm64"})
        );
        assert_eq!(
            spec["tolerations"],
            json!([{"key": "spot", "operator": "Exists"},
                   {"key": "arch", "operator": "Equal", "value": "arm64", "effect": "NoSchedule"}])
        );
        let (again, _) = run(options, spec.clone());
        assert_eq!(again, spec, "idempotent");
    }

    #[test]
    fn another_pinned_architecture_is_a_conflict() {
        let (spec, outcome) = run(
            json!({}),
            json!({"containers": [], "nodeSelector": {"beta.kubernetes.io/arch": "amd64"}}),
        );
        assert_eq!(
            outcome,
            Outcome::Conflict("the pod's nodeSelector pins beta.kubernetes.io/arch=amd64; scheduling it on arm64 nodes would leave it Pending".into())
        );
        assert!(spec["nodeSelector"].get("kubernetes.io/arch").is_none());
        assert!(matches!(
            run(json!({}), affinity("In", json!(["amd64"]))).1,
            Outcome::Conflict(_)
        ));
        assert!(matches!(
            run(json!({}), affinity("NotIn", json!(["arm64"]))).1,
            Outcome::Conflict(_)
        ));
        assert_eq!(
            run(json!({}), affinity("In", json!(["amd64", "arm64"]))).1,
            Outcome::Applied
        );
        assert_eq!(
            run(
                json!({"architecture": "amd64"}),
                affinity("NotIn", json!(["arm64"]))
            )
            .1,
            Outcome::Applied
        );
    }

    #[test]
    fn one_admitting_term_is_enough() {
        let mut spec = affinity("In", json!(["amd64"]));
        spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"]
            .as_array_mut()
            .unwrap()
            .push(json!({"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}]}));
        assert_eq!(run(json!({}), spec).1, Outcome::Applied);
    }

    /// Runs the action on each document of `docs` (YAML), with all of them as the stream.
    fn run_stream(options: Value, docs: &[Value]) -> Vec<Outcome> {
        let action: ScheduleOnArm64 = serde_json::from_value(options).unwrap();
        let stream: Vec<Manifest> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| Manifest::from_value(i + 1, d.clone()))
            .collect();
        stream
            .iter()
            .map(|m| {
                let mut doc = m.value.clone().unwrap();
                action
                    .apply(&mut doc, &test_context(Mode::Overwrite, m, &stream))
                    .unwrap()
            })
            .collect()
    }

    fn pod(kind: &str, hook: bool) -> Value {
        let mut doc = json!({"apiVersion": if kind == "Pod" { "v1" } else { "apps/v1" },
            "kind": kind, "metadata": {"name": kind.to_lowercase()}});
        let spec = json!({"containers": [{"name": "c", "image": "x"}]});
        if kind == "Pod" {
            doc["spec"] = spec;
        } else {
            doc["spec"] = json!({"template": {"spec": spec}});
        }
        if hook {
            doc["metadata"]["annotations"] = json!({"helm.sh/hook": "test"});
        }
        doc
    }

    #[test]
    fn daemon_sets_stay_unpinned_unless_asked() {
        let agent = [pod("DaemonSet", false)];
        let outcomes = run_stream(json!({}), &agent);
        assert_eq!(
            outcomes,
            [Outcome::NotApplicable("a DaemonSet runs on every node: pinned to one architecture, the nodes of the others would lose it (pinDaemonSets: true pins it)".into())]
        );
        assert_eq!(
            run_stream(json!({"pinDaemonSets": true}), &agent),
            [Outcome::Applied]
        );
    }

    #[test]
    fn hooks_follow_their_release_s_workloads() {
        // A release of DaemonSets only: its test pod stays unpinned too.
        let agents = [pod("DaemonSet", false), pod("Pod", true)];
        let outcomes = run_stream(json!({}), &agents);
        assert_eq!(
            outcomes[1],
            Outcome::NotApplicable("a Helm hook of a release whose workloads are all DaemonSets: left unpinned like them (pinDaemonSets: true pins it)".into())
        );
        assert_eq!(
            run_stream(json!({"pinDaemonSets": true}), &agents),
            [Outcome::Applied, Outcome::Applied]
        );
        // With a Deployment in the release, hooks are pinned like it.
        let app = [
            pod("DaemonSet", false),
            pod("Deployment", false),
            pod("Pod", true),
        ];
        let outcomes = run_stream(json!({}), &app);
        assert_eq!(outcomes[1..], [Outcome::Applied, Outcome::Applied]);
        // Hooks alone are ordinary pods.
        assert_eq!(
            run_stream(json!({}), &[pod("Pod", true)]),
            [Outcome::Applied]
        );
    }

    #[test]
    fn options_are_validated() {
        for bad in [
            json!({"architecture": "arm 64"}),
            json!({"tolerations": [{"key": "a", "effect": "Sometimes"}]}),
            json!({"tolerations": [{"key": "a", "bogus": 1}]}),
        ] {
            assert!(serde_json::from_value::<ScheduleOnArm64>(bad).is_err());
        }
    }
}
