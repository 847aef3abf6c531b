//! `setSeccomp`: a pod-level seccomp profile (`RuntimeDefault` by default) where the chart
//! set none; an explicit `Unconfined` is reported, and replaced only with `override: true`.

use super::targets::{self, is_windows, map_entry};
use super::{Context, Outcome, Transform};
use crate::pointer::Lookup;
use anyhow::Result;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
/// Built from [`Options`], which validates the combination of `type` and `localhostProfile`.
#[serde(try_from = "Options")]
pub struct SetSeccomp {
    profile: Value,
    replace_unconfined: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Options {
    #[serde(default, rename = "type")]
    profile_type: ProfileType,
    localhost_profile: Option<String>,
    #[serde(default, rename = "override")]
    override_unconfined: bool,
}

#[derive(Debug, Default, Deserialize)]
enum ProfileType {
    #[default]
    RuntimeDefault,
    Localhost,
}

impl TryFrom<Options> for SetSeccomp {
    type Error = String;

    fn try_from(o: Options) -> Result<Self, String> {
        let profile = match (o.profile_type, o.localhost_profile) {
            (ProfileType::RuntimeDefault, None) => json!({"type": "RuntimeDefault"}),
            (ProfileType::RuntimeDefault, Some(_)) => {
                return Err("`localhostProfile` goes with `type: Localhost`".into());
            }
            (ProfileType::Localhost, Some(path))
                if path.starts_with('/') || path.split('/').any(|part| part == "..") =>
            {
                return Err(format!(
                    "`localhostProfile` `{path}` must be a path relative to the kubelet's seccomp directory, without `..`"
                ));
            }
            (ProfileType::Localhost, Some(path)) if !path.is_empty() => {
                json!({"type": "Localhost", "localhostProfile": path})
            }
            (ProfileType::Localhost, _) => {
                return Err("`type: Localhost` needs `localhostProfile` (a path relative to the kubelet's seccomp directory)".into());
            }
        };
        Ok(SetSeccomp {
            profile,
            replace_unconfined: o.override_unconfined,
        })
    }
}

impl Transform for SetSeccomp {
    const KEY: &'static str = "setSeccomp";
    const SUMMARY: &'static str =
        "pod-level seccomp profile (RuntimeDefault) where absent; reports explicit Unconfined";
    const DOCS: &'static str = r#"Sets the pod-level `securityContext.seccompProfile` (`type: RuntimeDefault` unless told
otherwise) on every pod that has none.

Why: the Pod Security Standards *restricted* level requires a seccomp profile on every
container, and `RuntimeDefault` blocks the syscalls container runtimes consider dangerous
with no known effect on ordinary applications. Setting it on the pod covers every container
that does not choose its own.

Harden without breaking: a profile the chart already set (`RuntimeDefault` or `Localhost`) is
kept. A pod or container that explicitly asks for `Unconfined` is reported as a conflict and
left so — the pod-level default is still added when only some containers are unconfined, as
their own setting wins over it. With `override: true` an `Unconfined` profile is replaced by
the configured one. Windows pods (`spec.os.name: windows`) are skipped: the API rejects
seccomp settings on them.

Target: `podSpec` (or `resource`, which finds the pod template itself).

Options:

| option | default | meaning |
|---|---|---|
| `type` | `RuntimeDefault` | `RuntimeDefault` or `Localhost` |
| `localhostProfile` | — | with `type: Localhost`: the profile's path relative to the kubelet's seccomp directory |
| `override` | `false` | replace an explicit `Unconfined` (pod or container) instead of reporting it |

Example:

```yaml
- name: seccomp
  target: podSpec
  setSeccomp: {}
- name: seccomp-audit-profile
  select: {namespace: payments}
  target: podSpec
  setSeccomp: {type: Localhost, localhostProfile: profiles/audit.json}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;
    const TARGETS: &'static [super::Target] = super::POD_TARGETS;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        let spec = match targets::pod_spec(target, ctx) {
            Ok(spec) => spec,
            Err(outcome) => return Ok(outcome),
        };
        if is_windows(spec) {
            return Ok(Outcome::NotApplicable(
                "Windows pods take no seccomp profile".into(),
            ));
        }
        let mut conflicts = Vec::new();
        let pod_type = spec
            .at("/securityContext/seccompProfile/type")
            .and_then(Value::as_str)
            .map(str::to_string);
        match pod_type.as_deref() {
            None => self.set(spec),
            Some("Unconfined") if self.replace_unconfined => self.set(spec),
            Some("Unconfined") => {
                conflicts.push("the pod sets seccompProfile type Unconfined".to_string())
            }
            Some(_) => {}
        }
        for (list, container) in crate::pod::containers_mut(spec) {
            let unconfined = container
                .at("/securityContext/seccompProfile/type")
                .and_then(Value::as_str)
                == Some("Unconfined");
            if !unconfined {
                continue;
            }
            if self.replace_unconfined {
                self.set(container);
            } else {
                conflicts.push(format!(
                    "{} sets seccompProfile type Unconfined",
                    targets::describe(list, container)
                ));
            }
        }
        Ok(targets::outcome(conflicts))
    }
}

impl SetSeccomp {
    /// Sets the configured profile in the holder's (pod's or container's) security context.
    fn set(&self, holder: &mut Value) {
        if let Some(sc) = map_entry(holder, "securityContext") {
            sc.insert("seccompProfile".into(), self.profile.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(options: Value, spec: &mut Value) -> Outcome {
        crate::transforms::targets::run_for_test::<SetSeccomp>(options, spec)
    }

    #[test]
    fn sets_runtime_default_where_absent_and_keeps_the_rest() {
        let mut spec = json!({"securityContext": {"runAsUser": 1}, "containers": [{"name": "a"}]});
        assert_eq!(run(json!({}), &mut spec), Outcome::Applied);
        assert_eq!(
            spec["securityContext"],
            json!({"runAsUser": 1, "seccompProfile": {"type": "RuntimeDefault"}})
        );
        let mut localhost = json!({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}, "containers": []});
        let before = localhost.clone();
        assert_eq!(run(json!({}), &mut localhost), Outcome::Applied);
        assert_eq!(localhost, before);
    }

    #[test]
    fn unconfined_is_reported_unless_overridden() {
        let spec = json!({"containers": [
            {"name": "a", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
            {"name": "b"}]});
        let mut reported = spec.clone();
        assert_eq!(
            run(json!({}), &mut reported),
            Outcome::Partial("container `a` sets seccompProfile type Unconfined".into())
        );
        assert_eq!(
            reported["containers"][0]["securityContext"]["seccompProfile"]["type"],
            "Unconfined"
        );
        assert_eq!(
            reported["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let mut overridden = spec.clone();
        assert_eq!(
            run(json!({"override": true}), &mut overridden),
            Outcome::Applied
        );
        assert_eq!(
            overridden["containers"][0]["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let mut pod = json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": []});
        assert!(matches!(run(json!({}), &mut pod), Outcome::Partial(_)));
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "Unconfined"
        );
    }

    #[test]
    fn localhost_needs_a_profile_path() {
        let err = serde_json::from_value::<SetSeccomp>(json!({"type": "Localhost"})).unwrap_err();
        assert!(err.to_string().contains("needs `localhostProfile`"));
        let err = serde_json::from_value::<SetSeccomp>(json!({"typo": 1})).unwrap_err();
        assert!(err.to_string().contains("unknown field `typo`"));
        let mut spec = json!({"containers": []});
        run(
            json!({"type": "Localhost", "localhostProfile": "a.json"}),
            &mut spec,
        );
        assert_eq!(
            spec["securityContext"]["seccompProfile"],
            json!({"type": "Localhost", "localhostProfile": "a.json"})
        );
    }

    #[test]
    fn windows_pods_are_skipped() {
        let mut spec = json!({"os": {"name": "windows"}, "containers": []});
        assert!(matches!(
            run(json!({}), &mut spec),
            Outcome::NotApplicable(_)
        ));
    }
}
