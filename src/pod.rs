//! Where pods live inside workloads: the pod template of every built-in workload kind, plus
//! the ones a patch set declares for custom resources (Argo Rollouts' `spec.template`, say).

use crate::select::Globs;
use serde::Deserialize;
use serde_json::Value;

/// The container lists of a pod spec, in the order steps visit them.
pub const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// A pod template path declared in a patch set for a custom resource.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodTemplatePath {
    /// API group glob, e.g. `argoproj.io`; any group when absent.
    pub group: Option<Globs>,
    pub kind: Globs,
    /// JSON pointer to the pod template (the object holding `metadata` and `spec`).
    #[serde(deserialize_with = "pointer")]
    pub path: String,
}

fn pointer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let path = String::deserialize(d)?;
    if !path.starts_with('/') {
        return Err(serde::de::Error::custom(format!(
            "pod template path `{path}` must be a JSON pointer starting with `/` (e.g. /spec/template)"
        )));
    }
    Ok(path)
}

/// The JSON pointer to the pod template (`metadata` + `spec`) of a resource, if it has one.
pub fn template_path<'a>(
    kind: &str,
    group: &str,
    custom: &'a [PodTemplatePath],
) -> Option<&'a str> {
    let builtin = match kind {
        "Pod" => Some(""),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => Some("/spec/template"),
        "CronJob" => Some("/spec/jobTemplate/spec/template"),
        "PodTemplate" => Some("/template"),
        _ => None,
    };
    builtin.or_else(|| {
        custom
            .iter()
            .find(|c| c.kind.matches(kind) && c.group.as_ref().is_none_or(|g| g.matches(group)))
            .map(|c| c.path.as_str())
    })
}

/// The pod spec of a resource, if it has one.
pub fn pod_spec_mut<'v>(
    resource: &'v mut Value,
    kind: &str,
    group: &str,
    custom: &[PodTemplatePath],
) -> Option<&'v mut Value> {
    let path = template_path(kind, group, custom)?;
    resource
        .pointer_mut(&format!("{path}/spec"))
        .filter(|spec| spec.is_object())
}

/// Every container of a pod spec (init, regular and ephemeral), with the list it is in.
pub fn containers_mut(pod_spec: &mut Value) -> Vec<(&'static str, &mut Value)> {
    let Some(spec) = pod_spec.as_object_mut() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (list_name, list) in spec.iter_mut() {
        let Some(list_name) = CONTAINER_LISTS.iter().find(|l| **l == list_name.as_str()) else {
            continue;
        };
        if let Value::Array(items) = list {
            out.extend(items.iter_mut().map(|c| (*list_name, c)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_pod_specs_in_every_workload_kind() {
        // Every kind the README lists, each with its pod spec where Kubernetes keeps it.
        let spec = json!({"containers": [{"name": "c"}]});
        let template = json!({"spec": {"template": {"spec": spec}}});
        for (kind, group, mut resource) in [
            ("Pod", "", json!({"spec": spec})),
            ("Deployment", "apps", template.clone()),
            ("StatefulSet", "apps", template.clone()),
            ("DaemonSet", "apps", template.clone()),
            ("ReplicaSet", "apps", template.clone()),
            ("ReplicationController", "", template.clone()),
            ("Job", "batch", template.clone()),
            (
                "CronJob",
                "batch",
                json!({"spec": {"jobTemplate": template}}),
            ),
            ("PodTemplate", "", json!({"template": {"spec": spec}})),
        ] {
            assert_eq!(
                pod_spec_mut(&mut resource, kind, group, &[]).cloned(),
                Some(spec.clone()),
                "{kind}"
            );
        }
        let declared: PodTemplatePath = serde_json::from_value(
            json!({"group": "argoproj.io", "kind": "Rollout", "path": "/spec/template"}),
        )
        .unwrap();
        let mut rollout = template.clone();
        assert!(
            pod_spec_mut(
                &mut rollout,
                "Rollout",
                "argoproj.io",
                std::slice::from_ref(&declared)
            )
            .is_some()
        );
        assert!(
            pod_spec_mut(
                &mut rollout,
                "Rollout",
                "other.io",
                std::slice::from_ref(&declared)
            )
            .is_none()
        );
        assert!(pod_spec_mut(&mut rollout, "Rollout", "argoproj.io", &[]).is_none());
        let mut cron =
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}});
        assert!(pod_spec_mut(&mut cron, "CronJob", "batch", &[]).is_some());
        let mut pod =
            json!({"spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "i"}]}});
        let spec = pod_spec_mut(&mut pod, "Pod", "", &[]).unwrap();
        let names: Vec<_> = containers_mut(spec).into_iter().map(|(l, _)| l).collect();
        assert_eq!(names, ["containers", "initContainers"]);
        let mut svc = json!({"spec": {"ports": []}});
        assert!(pod_spec_mut(&mut svc, "Service", "", &[]).is_none());
    }
}
