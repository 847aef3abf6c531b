//! `disableServiceAccountToken`: pod-level `automountServiceAccountToken: false` where the
//! pod does not say (opt-in: workloads that call the Kubernetes API need their token).

use super::targets;
use super::{Context, Outcome, Transform};
use anyhow::Result;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DisableServiceAccountToken {
    /// Also set `false` where the pod explicitly asks for the token.
    #[serde(default, rename = "override")]
    override_explicit: bool,
}

impl Transform for DisableServiceAccountToken {
    const KEY: &'static str = "disableServiceAccountToken";
    const SUMMARY: &'static str =
        "pod-level automountServiceAccountToken: false where unset (opt-in)";
    const DOCS: &'static str = r#"Sets `automountServiceAccountToken: false` on every pod that does not set it.

Why: most applications never call the Kubernetes API, yet every pod gets a service account
token mounted by default; a stolen token is a foothold in the cluster. Not in any default
profile: operators, controllers and anything using client-go in-cluster need the token, and
pulse-harden cannot tell them apart — select the workloads you know.

Harden without breaking: a pod that explicitly sets `automountServiceAccountToken: true` keeps
it and is reported (`override: true` sets `false` anyway).

Target: `podSpec` (or `resource`, which finds the pod template itself).

Options:

| option | default | meaning |
|---|---|---|
| `override` | `false` | also turn off an explicit `true` |

Example:

```yaml
- name: no-api-token
  select: {labelSelector: "app.kubernetes.io/component in (web, worker)"}
  target: podSpec
  disableServiceAccountToken: {}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;
    const TARGETS: &'static [super::Target] = super::POD_TARGETS;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        let spec = match targets::pod_spec(target, ctx) {
            Ok(spec) => spec,
            Err(outcome) => return Ok(outcome),
        };
        let Some(spec) = spec.as_object_mut() else {
            return Ok(Outcome::NotApplicable("the pod spec is not a map".into()));
        };
        const FIELD: &str = "automountServiceAccountToken";
        if spec.get(FIELD) == Some(&Value::Bool(true)) && !self.override_explicit {
            return Ok(Outcome::Partial(
                "the pod explicitly mounts its service account token".into(),
            ));
        }
        spec.insert(FIELD.into(), Value::Bool(false));
        Ok(Outcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(options: Value, spec: &mut Value) -> Outcome {
        crate::transforms::targets::run_for_test::<DisableServiceAccountToken>(options, spec)
    }

    #[test]
    fn sets_false_unless_the_pod_asks_for_the_token() {
        let mut spec = json!({"containers": []});
        assert_eq!(run(json!({}), &mut spec), Outcome::Applied);
        assert_eq!(spec["automountServiceAccountToken"], false);
        let mut asks = json!({"automountServiceAccountToken": true, "containers": []});
        assert!(matches!(run(json!({}), &mut asks), Outcome::Partial(_)));
        assert_eq!(asks["automountServiceAccountToken"], true);
        run(json!({"override": true}), &mut asks);
        assert_eq!(asks["automountServiceAccountToken"], false);
    }
}
