//! kustomize's field specs: a path such as `spec/template/metadata/labels` for the resources
//! of a group, version and kind, walked the way kustomize's `fieldspec` filter walks it
//! (through every element of a list on the way, creating maps when asked). Shared by the
//! actions that do what kustomize's label, annotation and image transformers do, and home of
//! kustomize 5.7's default field specs for them.

use crate::pointer::Lookup;
use anyhow::{Result, bail};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One field spec, as kustomize writes it (`fields:` of a `labels` entry).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FieldSpec {
    pub path: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub create: bool,
}

impl FieldSpec {
    fn matches(&self, resource: &Value) -> bool {
        let text = |p: &str| resource.at(p).and_then(Value::as_str).unwrap_or("");
        let api_version = text("/apiVersion");
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        (self.kind.is_empty() || self.kind == text("/kind"))
            && (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
    }

    /// Calls `set` on every node the path leads to in `resource`; with `create`, missing maps
    /// on the way (and a missing map at the end when `create_map`) are created.
    pub fn visit(
        &self,
        resource: &mut Value,
        create_map: bool,
        set: &mut dyn FnMut(&mut Value) -> Result<()>,
    ) -> Result<()> {
        if !self.matches(resource) {
            return Ok(());
        }
        let path: Vec<&str> = self.path.split('/').filter(|p| !p.is_empty()).collect();
        walk(resource, &path, self.create, create_map, set)
            .map_err(|e| e.context(format!("considering field `{}`", self.path)))
    }
}

fn walk(
    node: &mut Value,
    path: &[&str],
    create: bool,
    create_map: bool,
    set: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<()> {
    let Some((first, rest)) = path.split_first() else {
        return set(node);
    };
    match node {
        Value::Null => Ok(()),
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| walk(item, path, create, create_map, set)),
        Value::Object(map) => {
            let (name, is_list) = match first.strip_suffix("[]") {
                Some(name) => (name, true),
                None => (*first, false),
            };
            // kustomize creates nothing for a spec whose end is not a map (images).
            let creates = create && create_map && !is_list;
            if creates {
                let slot = map
                    .entry(name.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if slot.is_null() {
                    *slot = Value::Object(Map::new());
                }
            }
            match map.get_mut(name) {
                Some(next) => walk(next, rest, create, create_map, set),
                None => Ok(()),
            }
        }
        _ => bail!("expected a list or a map at `{first}`"),
    }
}

/// A field spec table row: path, group, version, kind, create.
type Row = (&'static str, &'static str, &'static str, &'static str, bool);

fn specs(rows: &[Row]) -> Vec<FieldSpec> {
    rows.iter()
        .map(|&(path, group, version, kind, create)| FieldSpec {
            path: path.into(),
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            create,
        })
        .collect()
}

const AFFINITY: &str = "spec/template/spec/affinity";

/// kustomize's `metadataLabels`: the resource and its pod templates.
const METADATA_LABELS: &[Row] = &[
    ("metadata/labels", "", "", "", true),
    (
        "spec/template/metadata/labels",
        "",
        "v1",
        "ReplicationController",
        true,
    ),
    ("spec/template/metadata/labels", "", "", "Deployment", true),
    ("spec/template/metadata/labels", "", "", "ReplicaSet", true),
    ("spec/template/metadata/labels", "", "", "DaemonSet", true),
    (
        "spec/template/metadata/labels",
        "apps",
        "",
        "StatefulSet",
        true,
    ),
    ("spec/template/metadata/labels", "batch", "", "Job", true),
    (
        "spec/jobTemplate/metadata/labels",
        "batch",
        "",
        "CronJob",
        true,
    ),
    (
        "spec/jobTemplate/spec/template/metadata/labels",
        "batch",
        "",
        "CronJob",
        true,
    ),
];

const VOLUME_CLAIM_TEMPLATE_LABELS: &[Row] = &[(
    "spec/volumeClaimTemplates[]/metadata/labels",
    "apps",
    "",
    "StatefulSet",
    true,
)];

/// kustomize's `commonLabels` field specs (selectors too) beyond the metadata ones.
fn selector_labels() -> Vec<FieldSpec> {
    let mut rows: Vec<(String, &str, &str, &str, bool)> = vec![
        ("spec/selector".into(), "", "v1", "Service", true),
        (
            "spec/selector".into(),
            "",
            "v1",
            "ReplicationController",
            true,
        ),
        (
            "spec/selector/matchLabels".into(),
            "",
            "",
            "Deployment",
            true,
        ),
    ];
    for kind in ["Deployment", "StatefulSet"] {
        if kind == "StatefulSet" {
            rows.push((
                "spec/selector/matchLabels".into(),
                "",
                "",
                "ReplicaSet",
                true,
            ));
            rows.push((
                "spec/selector/matchLabels".into(),
                "",
                "",
                "DaemonSet",
                true,
            ));
            rows.push((
                "spec/selector/matchLabels".into(),
                "apps",
                "",
                "StatefulSet",
                true,
            ));
        }
        for term in [
            "podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm",
            "podAffinity/requiredDuringSchedulingIgnoredDuringExecution",
            "podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm",
            "podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution",
        ] {
            rows.push((
                format!("{AFFINITY}/{term}/labelSelector/matchLabels"),
                "apps",
                "",
                kind,
                false,
            ));
        }
        rows.push((
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels".into(),
            "apps",
            "",
            kind,
            false,
        ));
    }
    rows.extend([
        (
            "spec/selector/matchLabels".into(),
            "batch",
            "",
            "Job",
            false,
        ),
        (
            "spec/jobTemplate/spec/selector/matchLabels".into(),
            "batch",
            "",
            "CronJob",
            false,
        ),
        (
            "spec/selector/matchLabels".into(),
            "policy",
            "",
            "PodDisruptionBudget",
            false,
        ),
        (
            "spec/podSelector/matchLabels".into(),
            "networking.k8s.io",
            "",
            "NetworkPolicy",
            false,
        ),
        (
            "spec/ingress/from/podSelector/matchLabels".into(),
            "networking.k8s.io",
            "",
            "NetworkPolicy",
            false,
        ),
        (
            "spec/egress/to/podSelector/matchLabels".into(),
            "networking.k8s.io",
            "",
            "NetworkPolicy",
            false,
        ),
    ]);
    rows.into_iter()
        .map(|(path, group, version, kind, create)| FieldSpec {
            path,
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            create,
        })
        .collect()
}

/// Where kustomize's `commonLabels` (and `labels` with `includeSelectors: true`) write.
pub fn common_labels() -> Vec<FieldSpec> {
    let mut all = selector_labels();
    all.extend(specs(METADATA_LABELS));
    all.extend(specs(VOLUME_CLAIM_TEMPLATE_LABELS));
    all
}

/// Where a `labels` entry writes: `metadata/labels`, plus pod templates with
/// `includeTemplates`, plus volume claim templates with `includeVolumeClaimTemplates`.
pub fn labels(templates: bool, volume_claim_templates: bool) -> Vec<FieldSpec> {
    let mut all = Vec::new();
    if templates {
        // kustomize 5.7's template labels include volume claim templates.
        all.extend(specs(METADATA_LABELS));
        all.extend(specs(VOLUME_CLAIM_TEMPLATE_LABELS));
    } else if volume_claim_templates {
        all.extend(specs(VOLUME_CLAIM_TEMPLATE_LABELS));
    }
    if !templates {
        all.extend(specs(&[("metadata/labels", "", "", "", true)]));
    }
    all
}

/// Where kustomize's `commonAnnotations` write.
pub fn common_annotations() -> Vec<FieldSpec> {
    specs(&[
        ("metadata/annotations", "", "", "", true),
        (
            "spec/template/metadata/annotations",
            "",
            "v1",
            "ReplicationController",
            true,
        ),
        (
            "spec/template/metadata/annotations",
            "",
            "",
            "Deployment",
            true,
        ),
        (
            "spec/template/metadata/annotations",
            "",
            "",
            "ReplicaSet",
            true,
        ),
        (
            "spec/template/metadata/annotations",
            "",
            "",
            "DaemonSet",
            true,
        ),
        (
            "spec/template/metadata/annotations",
            "",
            "",
            "StatefulSet",
            true,
        ),
        (
            "spec/template/metadata/annotations",
            "batch",
            "",
            "Job",
            true,
        ),
        (
            "spec/jobTemplate/metadata/annotations",
            "batch",
            "",
            "CronJob",
            true,
        ),
        (
            "spec/jobTemplate/spec/template/metadata/annotations",
            "batch",
            "",
            "CronJob",
            true,
        ),
    ])
}

/// Where kustomize's `images` transformer looks besides every `containers` and
/// `initContainers` list: image volumes.
pub fn image_volumes() -> Vec<FieldSpec> {
    specs(&[
        ("spec/volumes[]/image/reference", "", "", "", true),
        (
            "spec/template/spec/volumes[]/image/reference",
            "",
            "",
            "",
            true,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_lists_and_creates_maps_only_when_asked() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"podAffinityTerm": {"labelSelector": {"matchLabels": {"a": "b"}}}},
                {"podAffinityTerm": {"topologyKey": "x"}}]}}}}}});
        let mut n = 0;
        for spec in common_labels() {
            spec.visit(&mut d, true, &mut |node| {
                n += 1;
                node.as_object_mut().unwrap().insert("k".into(), json!("v"));
                Ok(())
            })
            .unwrap();
        }
        // metadata/labels, selector, template labels, and the one existing matchLabels.
        assert_eq!(n, 4);
        assert_eq!(d["spec"]["selector"]["matchLabels"], json!({"k": "v"}));
        assert!(d.at("/spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/1/podAffinityTerm/labelSelector").is_none());
    }
}
