//! `setEntries`: kustomize's label and annotation transformers — set string entries in the
//! maps that kustomize field specs name (labels, selectors, pod templates, annotations).

use super::field_specs::FieldSpec;
use super::{Context, Outcome, Transform};
use anyhow::{Result, bail};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetEntries {
    /// Key → value, set (overwriting) in every map the field specs lead to.
    entries: Map<String, Value>,
    fields: Vec<FieldSpec>,
    /// Drop an empty or null `metadata.annotations`, as kustomize does to every object it
    /// writes; set by the kustomization loader only.
    #[serde(skip)]
    drop_empty_annotations: bool,
}

impl SetEntries {
    /// Built by a loader (a kustomization's `labels`, `commonLabels`, `commonAnnotations`).
    pub fn new(entries: Map<String, Value>, fields: Vec<FieldSpec>) -> Self {
        SetEntries {
            entries,
            fields,
            drop_empty_annotations: false,
        }
    }

    /// What kustomize does to every object it writes: an empty or null
    /// `metadata.annotations` goes.
    pub fn drop_empty_annotations() -> Self {
        SetEntries {
            entries: Map::new(),
            fields: Vec::new(),
            drop_empty_annotations: true,
        }
    }
}

impl Transform for SetEntries {
    const KEY: &'static str = "setEntries";
    const SUMMARY: &'static str =
        "kustomize's labels/annotations transformers: entries set at field-spec paths";
    const DOCS: &'static str = r#"Sets string entries in the maps that kustomize-style field specs lead to,
overwriting what was there: what a kustomization's `commonLabels`, `labels` and
`commonAnnotations` do (the kustomization loader writes these steps for you, with kustomize
5.7's default field specs).

A field spec is a `path` (`spec/template/metadata/labels`; `name[]` walks every element of a
list, and any list on the way is walked element by element), optionally limited to a `group`,
`version` and `kind`, and `create: true` to create missing maps on the way.

Beware: labels written into selectors (`spec/selector/matchLabels`) change an immutable field
of Deployments and StatefulSets; kustomize does it for `commonLabels`, and so does this.

Target: `resource` (the default).

Example:

```yaml
- name: team-label
  setEntries:
    entries: {team: platform}
    fields:
      - {path: metadata/labels, create: true}
      - {path: spec/template/metadata/labels, kind: Deployment, create: true}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;

    fn apply(&self, target: &mut Value, _ctx: &Context) -> Result<Outcome> {
        let mut keys: Vec<&String> = self.entries.keys().collect();
        keys.sort();
        for key in keys {
            let value = match &self.entries[key] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            for spec in &self.fields {
                spec.visit(target, true, &mut |node| {
                    if node.is_null() {
                        *node = Value::Object(Map::new());
                    }
                    let Some(map) = node.as_object_mut() else {
                        bail!("expected a map to set `{key}` in");
                    };
                    map.insert(key.clone(), Value::String(value.clone()));
                    Ok(())
                })?;
            }
        }
        if self.drop_empty_annotations
            && let Some(metadata) = target.get_mut("metadata").and_then(Value::as_object_mut)
            && metadata
                .get("annotations")
                .is_some_and(|a| a.is_null() || a.as_object().is_some_and(Map::is_empty))
        {
            metadata.shift_remove("annotations");
        }
        Ok(Outcome::Applied)
    }
}
