//! `setImagePullPolicy`: each container's `imagePullPolicy` where the chart set none.

use super::targets;
use super::{Context, Outcome, Transform};
use anyhow::Result;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetImagePullPolicy {
    policy: PullPolicy,
    /// Replace a policy the chart set.
    #[serde(default, rename = "override")]
    override_explicit: bool,
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

impl Transform for SetImagePullPolicy {
    const KEY: &'static str = "setImagePullPolicy";
    const SUMMARY: &'static str = "each container's imagePullPolicy where unset";
    const DOCS: &'static str = r#"Sets `imagePullPolicy` on every container (init, regular, ephemeral) that has none.

Why: without it Kubernetes defaults to `Always` for `:latest` or untagged images and
`IfNotPresent` otherwise; an explicit policy makes the behaviour visible and lets a platform
enforce `Always` (images re-checked against the registry's credentials on every start) or
`IfNotPresent` (fewer registry pulls).

Harden without breaking: a policy the chart set is kept unless `override: true`.

Target: any — `resource`, `podSpec` or `containers` (use `containerNames` to pick some).

Options:

| option | default | meaning |
|---|---|---|
| `policy` | (required) | `Always`, `IfNotPresent` or `Never` |
| `override` | `false` | replace a policy the chart set |

Example:

```yaml
- name: always-pull
  target: containers
  setImagePullPolicy: {policy: Always}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;
    const TARGETS: &'static [super::Target] = super::ANY_TARGET;
    const PER_CONTAINER: bool = true;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        let containers = match targets::containers(target, ctx) {
            Ok(containers) => containers,
            Err(outcome) => return Ok(outcome),
        };
        for (_, container) in containers {
            let Some(container) = container.as_object_mut() else {
                continue;
            };
            let set = container
                .get("imagePullPolicy")
                .is_some_and(|p| !p.is_null());
            if !set || self.override_explicit {
                container.insert(
                    "imagePullPolicy".into(),
                    Value::String(self.policy.as_str().into()),
                );
            }
        }
        Ok(Outcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_only_missing_policies() {
        let mut spec =
            json!({"containers": [{"name": "a"}, {"name": "b", "imagePullPolicy": "Always"}]});
        crate::transforms::targets::run_for_test::<SetImagePullPolicy>(
            json!({"policy": "IfNotPresent"}),
            &mut spec,
        );
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(spec["containers"][1]["imagePullPolicy"], "Always");
        assert!(
            serde_json::from_value::<SetImagePullPolicy>(json!({"policy": "Sometimes"})).is_err()
        );
    }
}
