//! `runAsNonRoot`: pod-level `runAsNonRoot: true` plus optional UID/GID defaults, refusing
//! pods with a container that explicitly runs as UID 0 (that pod would not start).

use super::targets::{self, is_windows, map_entry, security_field, set_if_absent};
use super::{Context, Outcome, Transform};
use anyhow::Result;
use serde::Deserialize;
use serde_json::{Value, json};
use std::num::NonZeroU32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunAsNonRoot {
    /// Pod-level `runAsUser` where the pod sets none. Off by default; see DOCS for why.
    run_as_user: Option<NonZeroU32>,
    run_as_group: Option<NonZeroU32>,
    fs_group: Option<NonZeroU32>,
}

impl Transform for RunAsNonRoot {
    const KEY: &'static str = "runAsNonRoot";
    const SUMMARY: &'static str = "pod-level runAsNonRoot: true (+ optional UID/GID defaults); refuses pods that run as UID 0";
    const DOCS: &'static str = r#"Sets `securityContext.runAsNonRoot: true` on every pod that does not set it, and
optionally pod-level `runAsUser`, `runAsGroup` and `fsGroup` where the pod sets none.

Why: the Pod Security Standards *restricted* level requires `runAsNonRoot: true` (on the pod,
or on every container), and that no container runs as UID 0. With it the kubelet refuses to
start a container whose user is root, instead of running it as root.

Harden without breaking:

- If any container (init, regular or ephemeral) explicitly runs as UID 0 — `runAsUser: 0` on
  the container, or on the pod with no container-level override — the pod would fail to start
  (or, for a container that also says `runAsNonRoot: false`, keep running as root), so the
  action changes nothing in that pod and reports a **conflict**. The step's `onConflict`
  decides: `skip` (the default) leaves the resource as it is, `error` stops the run.
  Typical case: an init container that `chown`s a volume.
- A pod that uses host namespaces or `hostPath` volumes — a node agent, which usually runs as
  root from an image with no `USER` — is a **conflict** too, unless every container has an
  explicit UID (then the kubelet's check cannot fail on the image).
- An explicit `runAsNonRoot: false` (pod or container) is kept and reported.
- Values the chart set are never replaced; the UID/GID defaults only fill gaps.

**About images that run as root with no `runAsUser` anywhere.** `runAsNonRoot: true` alone
makes the kubelet check the image's `USER`: if it is root (or a name rather than a number)
the container fails with `CreateContainerConfigError`. pulse-harden cannot see images, so it
cannot tell. `runAsUser` is therefore **off by default**: forcing a UID on an image that
already runs as its own non-root user (the common case for images built for Kubernetes, e.g.
UID 999 or 65532) would change the owner its files were built for and break it far more
quietly than the kubelet's clear refusal. For images you know run as root, give
`runAsUser` (e.g. `65532`) in a step selecting those workloads.

Windows pods get `runAsNonRoot` only: the API rejects UID/GID fields on them.

Target: `podSpec` (or `resource`, which finds the pod template itself).

Options (all optional, each a non-zero number):

| option | meaning |
|---|---|
| `runAsUser` | pod-level UID where the pod sets none |
| `runAsGroup` | pod-level primary GID where the pod sets none |
| `fsGroup` | pod-level group owning mounted volumes where the pod sets none |

Example:

```yaml
- name: non-root
  target: podSpec
  onConflict: skip
  runAsNonRoot: {}
- name: non-root-legacy-images
  select: {labelSelector: "app.kubernetes.io/name in (legacy-api)"}
  target: podSpec
  runAsNonRoot: {runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;
    const TARGETS: &'static [super::Target] = super::POD_TARGETS;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        let spec = match targets::pod_spec(target, ctx) {
            Ok(spec) => spec,
            Err(outcome) => return Ok(outcome),
        };
        let pod_uid = security_field(spec, "runAsUser").and_then(Value::as_i64);
        let mut root = Vec::new();
        for (list, container) in crate::pod::containers_mut(spec) {
            let uid = security_field(container, "runAsUser")
                .and_then(Value::as_i64)
                .or(pod_uid);
            if uid == Some(0) {
                root.push(targets::describe(list, container));
            }
        }
        if root.is_empty()
            && let Some(access) = host_access(spec)
            && !every_container_has_a_user(spec, pod_uid)
        {
            return Ok(Outcome::Conflict(format!(
                "the pod {access}, like node agents that run as root, and not every container sets runAsUser; runAsNonRoot: true would likely stop it from starting"
            )));
        }
        if !root.is_empty() {
            return Ok(Outcome::Conflict(format!(
                "{} run{} as UID 0 (runAsUser: 0); runAsNonRoot: true would stop the pod from starting",
                root.join(", "),
                if root.len() == 1 { "s" } else { "" }
            )));
        }

        let mut kept = Vec::new();
        for (list, container) in crate::pod::containers_mut(spec) {
            if security_field(container, "runAsNonRoot") == Some(&Value::Bool(false)) {
                kept.push(format!(
                    "{} sets runAsNonRoot: false",
                    targets::describe(list, container)
                ));
            }
        }
        let windows = is_windows(spec);
        let Some(sc) = map_entry(spec, "securityContext") else {
            return Ok(Outcome::NotApplicable(
                "the pod's securityContext is not a map".into(),
            ));
        };
        if sc.get("runAsNonRoot") == Some(&Value::Bool(false)) {
            kept.insert(0, "the pod sets runAsNonRoot: false".into());
        }
        set_if_absent(sc, "runAsNonRoot", json!(true));
        if !windows {
            let defaults = [
                ("runAsUser", self.run_as_user),
                ("runAsGroup", self.run_as_group),
                ("fsGroup", self.fs_group),
            ];
            for (field, value) in defaults {
                if let Some(id) = value {
                    set_if_absent(sc, field, json!(id.get()));
                }
            }
        }
        Ok(targets::outcome(kept))
    }
}

/// How the pod reaches into its node (host namespaces, `hostPath` volumes), if it does.
fn host_access(spec: &Value) -> Option<String> {
    let mut access: Vec<String> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|f| spec.get(*f) == Some(&Value::Bool(true)))
        .map(|f| format!("{f}: true"))
        .collect();
    let host_path = spec
        .get("volumes")
        .and_then(Value::as_array)
        .is_some_and(|v| v.iter().any(|v| v.get("hostPath").is_some()));
    if host_path {
        access.push("hostPath volumes".into());
    }
    (!access.is_empty()).then(|| format!("uses {}", access.join(", ")))
}

/// Does every container run as an explicit UID (its own or the pod's)?
fn every_container_has_a_user(spec: &mut Value, pod_uid: Option<i64>) -> bool {
    crate::pod::containers_mut(spec).into_iter().all(|(_, c)| {
        security_field(c, "runAsUser")
            .and_then(Value::as_i64)
            .or(pod_uid)
            .is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(options: Value, spec: &mut Value) -> Outcome {
        crate::transforms::targets::run_for_test::<RunAsNonRoot>(options, spec)
    }

    #[test]
    fn sets_run_as_non_root_and_fills_only_missing_ids() {
        let mut spec =
            json!({"securityContext": {"runAsUser": 1000}, "containers": [{"name": "a"}]});
        let outcome = run(
            json!({"runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 2000}),
            &mut spec,
        );
        assert_eq!(outcome, Outcome::Applied);
        assert_eq!(
            spec["securityContext"],
            json!({"runAsUser": 1000, "runAsNonRoot": true, "runAsGroup": 65532, "fsGroup": 2000})
        );
    }

    #[test]
    fn a_container_running_as_root_is_a_conflict() {
        let mut spec = json!({"securityContext": {"runAsUser": 1000}, "initContainers": [
            {"name": "chown", "securityContext": {"runAsUser": 0}}], "containers": [{"name": "a"}]});
        let before = spec.clone();
        assert_eq!(
            run(json!({}), &mut spec),
            Outcome::Conflict("init container `chown` runs as UID 0 (runAsUser: 0); runAsNonRoot: true would stop the pod from starting".into())
        );
        assert_eq!(spec, before);
        // A pod-level UID 0 counts for every container that does not override it.
        let mut pod_root = json!({"securityContext": {"runAsUser": 0}, "containers": [
            {"name": "a", "securityContext": {"runAsUser": 10}}, {"name": "b"}]});
        assert!(
            matches!(run(json!({}), &mut pod_root), Outcome::Conflict(r) if r.starts_with("container `b` runs"))
        );
        let mut overridden = json!({"securityContext": {"runAsUser": 0}, "containers": [
            {"name": "a", "securityContext": {"runAsUser": 10}}]});
        assert_eq!(run(json!({}), &mut overridden), Outcome::Applied);
    }

    #[test]
    fn node_agents_without_a_uid_are_a_conflict() {
        let mut agent = json!({"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}],
            "containers": [{"name": "a"}]});
        assert_eq!(
            run(json!({}), &mut agent),
            Outcome::Conflict("the pod uses hostPath volumes, like node agents that run as root, and not every container sets runAsUser; runAsNonRoot: true would likely stop it from starting".into())
        );
        let mut exporter = json!({"hostNetwork": true, "securityContext": {"runAsUser": 65534},
            "containers": [{"name": "a"}]});
        assert_eq!(run(json!({}), &mut exporter), Outcome::Applied);
    }

    #[test]
    fn explicit_false_is_kept_and_reported() {
        let mut spec =
            json!({"securityContext": {"runAsNonRoot": false}, "containers": [{"name": "a"}]});
        assert_eq!(
            run(json!({}), &mut spec),
            Outcome::Partial("the pod sets runAsNonRoot: false".into())
        );
        assert_eq!(spec["securityContext"]["runAsNonRoot"], false);
    }

    #[test]
    fn uid_zero_is_not_an_option() {
        let err = serde_json::from_value::<RunAsNonRoot>(json!({"runAsUser": 0})).unwrap_err();
        assert!(err.to_string().contains("nonzero"), "{err}");
    }

    #[test]
    fn windows_pods_get_only_run_as_non_root() {
        let mut spec = json!({"os": {"name": "windows"}, "containers": []});
        run(json!({"runAsUser": 5}), &mut spec);
        assert_eq!(spec["securityContext"], json!({"runAsNonRoot": true}));
    }
}
