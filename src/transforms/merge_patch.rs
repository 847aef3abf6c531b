//! `mergePatch`: an RFC 7396 JSON Merge Patch. Maps merge key by key, `null` deletes, and
//! lists are replaced whole — so for container-level edits use `target: containers`.
//!
//! In `ifAbsent` mode only missing keys are added: nothing the chart set is overwritten
//! and nothing is deleted. An explicit `null` counts as missing.

use super::{Context, Mode, Outcome, Transform};
use anyhow::Result;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug)]
pub struct MergePatch(Map<String, Value>);

impl<'de> Deserialize<'de> for MergePatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapOnly;
        impl<'de> serde::de::Visitor<'de> for MapOnly {
            type Value = Map<String, Value>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map (the fields to merge into each target)")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Map::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.insert(k, v);
                }
                Ok(out)
            }
        }
        d.deserialize_any(MapOnly).map(MergePatch)
    }
}

impl Transform for MergePatch {
    const KEY: &'static str = "mergePatch";
    const SUMMARY: &'static str =
        "RFC 7396 JSON Merge Patch (maps merge, `null` deletes, lists are replaced)";
    const DOCS: &'static str = r#"Merges a map into the target, as RFC 7396 JSON Merge Patch: maps merge key by key,
`null` deletes a key, and any other value (lists included) replaces what was there.

Why: the shortest way to set a handful of fields. Lists are replaced whole, so to edit
containers use `target: containers` and merge into each container instead.

In `mode: ifAbsent` only missing keys are added; values the chart set are kept. A key
written with nothing after it (`securityContext:`, which reads as `null`) counts as
missing, as it does to Kubernetes.

Example:

```yaml
- name: seccomp-runtime-default
  target: podSpec
  mode: ifAbsent
  mergePatch:
    securityContext:
      seccompProfile: {type: RuntimeDefault}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;
    const TARGETS: &'static [super::Target] = super::ANY_TARGET;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        match (ctx.mode, target) {
            (Mode::Overwrite, target) => merge(target, &self.0),
            (Mode::IfAbsent, Value::Object(target)) => fill_missing(target, &self.0),
            (Mode::IfAbsent, _) => {
                return Ok(Outcome::NotApplicable("the target is not a map".into()));
            }
        }
        Ok(Outcome::Applied)
    }
}

fn merge(target: &mut Value, patch: &Map<String, Value>) {
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        match value {
            // shift_remove keeps the order of the other keys.
            Value::Null => {
                target.shift_remove(key);
            }
            Value::Object(inner) => merge(target.entry(key.clone()).or_insert(Value::Null), inner),
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
}

/// `ifAbsent`: adds what the target lacks. An explicit `null` (`securityContext:` with
/// nothing after it) is absent, as Kubernetes reads it.
fn fill_missing(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        match (target.get_mut(key).filter(|v| !v.is_null()), value) {
            (_, Value::Null) => {}
            (None, Value::Object(inner)) => {
                let mut fresh = Value::Object(Map::new());
                merge(&mut fresh, inner);
                target.insert(key.clone(), fresh);
            }
            (None, other) => {
                target.insert(key.clone(), other.clone());
            }
            (Some(Value::Object(existing)), Value::Object(inner)) => fill_missing(existing, inner),
            (Some(_), _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use serde_json::json;

    fn run(patch: Value, doc: &mut Value, mode: Mode) {
        let p: MergePatch = serde_json::from_value(patch).unwrap();
        let pod = Manifest::from_value(1, json!({"kind": "Pod"}));
        p.apply(
            doc,
            &crate::transforms::test_context(mode, &pod, std::slice::from_ref(&pod)),
        )
        .unwrap();
    }

    #[test]
    fn rfc_7396_semantics_with_order_kept() {
        let mut doc = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2], "f": 0});
        run(
            json!({"a": null, "b": {"c": null, "x": 1}, "e": [3]}),
            &mut doc,
            Mode::Overwrite,
        );
        assert_eq!(doc, json!({"b": {"d": 3, "x": 1}, "e": [3], "f": 0}));
        let keys: Vec<_> = doc.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["b", "e", "f"]);
    }

    #[test]
    fn if_absent_respects_what_is_set() {
        let mut doc = json!({"securityContext": {"runAsUser": 0}});
        run(
            json!({"securityContext": {"runAsUser": 1000, "runAsNonRoot": true}, "x": {"y": null, "z": 1}}),
            &mut doc,
            Mode::IfAbsent,
        );
        assert_eq!(
            doc,
            json!({"securityContext": {"runAsUser": 0, "runAsNonRoot": true}, "x": {"z": 1}})
        );
    }

    #[test]
    fn if_absent_fills_explicit_nulls() {
        // `securityContext:` with nothing after it, as Helm renders an empty value.
        let mut doc = json!({"securityContext": null, "a": {"b": null}});
        run(
            json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "a": {"b": 1}}),
            &mut doc,
            Mode::IfAbsent,
        );
        assert_eq!(
            doc,
            json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "a": {"b": 1}})
        );
    }
}
