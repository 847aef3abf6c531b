//! A kustomization as a patch set: turns what a kustomize post-renderer would apply to the
//! rendered chart (`patches`, `patchesStrategicMerge`, `patchesJson6902`, `images`, `labels`,
//! `commonLabels`, `commonAnnotations`) into ordinary steps, in kustomize's order, so the
//! pipeline, report and `--diff` treat them like any other step.
//!
//! `resources` is not read: the stream on stdin is the resource. Any other kustomize field
//! is an error naming it, never silently ignored.

use crate::patchfile::{OnConflict, OnFailure, PatchSet, Step, Target};
use crate::select::{IdRegexes, LabelSelector, Selector};
use crate::transforms::field_specs::{self, FieldSpec};
use crate::transforms::set_entries::SetEntries;
use crate::transforms::set_images::{Image, SetImages};
use crate::transforms::strategic_merge_patch::StrategicMergePatch;
use crate::transforms::{Action, Mode};
use crate::yaml;
use anyhow::{Result, anyhow, bail};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;
use std::fmt;
use std::path::Path;

/// The file names kustomize looks for in a directory, in its order.
pub const FILE_NAMES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Whether `path` names a kustomization file.
pub fn is_kustomization(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| FILE_NAMES.contains(&n))
}

/// The kustomization file of a directory, if it holds one.
pub fn in_directory(dir: &Path) -> Option<std::path::PathBuf> {
    FILE_NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// The fields pulse-harden applies.
const SUPPORTED: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "images",
    "labels",
    "commonLabels",
    "commonAnnotations",
];

/// kustomize fields that would need the resources kustomize reads itself, or that rename,
/// generate or move objects; rejected with a reason.
const UNSUPPORTED: &[&str] = &[
    "namespace",
    "namePrefix",
    "nameSuffix",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
    "openapi",
    "imageTags",
];

#[derive(Default)]
struct Kustomization {
    resources: bool,
    patches: Vec<Spanned<PatchEntry>>,
    patches_strategic_merge: Vec<Spanned<String>>,
    patches_json6902: Vec<Spanned<PatchEntry>>,
    images: Vec<Image>,
    labels: Vec<LabelEntry>,
    common_labels: Map<String, Value>,
    common_annotations: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PatchEntry {
    path: Option<String>,
    patch: Option<String>,
    target: Option<TargetSelector>,
    #[serde(default)]
    #[allow(dead_code)] // read only to refuse `true`
    options: PatchOptions,
}

/// Renaming or re-kinding a resource is refused (Helm tracks objects by name and kind), so
/// only `false` is accepted.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PatchOptions {
    #[serde(default, deserialize_with = "must_be_false")]
    #[allow(dead_code)]
    allow_name_change: bool,
    #[serde(default, deserialize_with = "must_be_false")]
    #[allow(dead_code)]
    allow_kind_change: bool,
}

fn must_be_false<'de, D: de::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match bool::deserialize(d)? {
        false => Ok(false),
        true => Err(de::Error::custom(
            "renaming or changing the kind of a resource is not supported: Helm tracks its objects by kind and name",
        )),
    }
}

/// kustomize's patch `target`: anchored regular expressions, and label/annotation selectors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TargetSelector {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    label_selector: Option<LabelSelector>,
    annotation_selector: Option<LabelSelector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LabelEntry {
    #[serde(default)]
    pairs: Map<String, Value>,
    #[serde(default)]
    include_selectors: bool,
    #[serde(default)]
    include_templates: bool,
    #[serde(default)]
    include_volume_claim_templates: bool,
    #[serde(default)]
    fields: Vec<FieldSpec>,
}

impl<'de> Deserialize<'de> for Kustomization {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(KustomizationVisitor)
    }
}

struct KustomizationVisitor;

impl<'de> Visitor<'de> for KustomizationVisitor {
    type Value = Kustomization;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a kustomization (a map with patches, images, labels, …)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kustomization, A::Error> {
        let mut k = Kustomization::default();
        while let Some(spanned) = map.next_key::<Spanned<String>>()? {
            let key = spanned.value;
            // serde-saphyr has no position for errors raised here: name it in the message.
            let place = format!(
                "{}:{}",
                spanned.referenced.line(),
                spanned.referenced.column()
            );
            match key.as_str() {
                "apiVersion" | "kind" | "metadata" => {
                    map.next_value::<de::IgnoredAny>()?;
                }
                "resources" => {
                    map.next_value::<de::IgnoredAny>()?;
                    k.resources = true;
                }
                "patches" => k.patches = map.next_value()?,
                "patchesStrategicMerge" => k.patches_strategic_merge = map.next_value()?,
                "patchesJson6902" => k.patches_json6902 = map.next_value()?,
                "images" => k.images = map.next_value()?,
                "labels" => k.labels = map.next_value()?,
                "commonLabels" => k.common_labels = map.next_value()?,
                "commonAnnotations" => k.common_annotations = map.next_value()?,
                other if UNSUPPORTED.contains(&other) => {
                    return Err(de::Error::custom(format!(
                        "{place}: `{other}` is not supported: pulse-harden applies {} to the rendered stream; \
                         do `{other}` in the chart or its values instead",
                        SUPPORTED[4..].join(", ")
                    )));
                }
                other => {
                    return Err(de::Error::custom(format!(
                        "{place}: unknown field `{other}`, expected one of {}",
                        SUPPORTED.join(", ")
                    )));
                }
            }
        }
        Ok(k)
    }
}

/// Where a step came from, for errors: `kustomization.yaml:12:5`.
fn at<T>(origin: &str, s: &Spanned<T>) -> String {
    format!("{origin}:{}:{}", s.referenced.line(), s.referenced.column())
}

/// Reads a kustomization. `origin` names it in messages; `read` reads the files its `path:`
/// entries name, relative to the kustomization's directory.
pub fn parse(text: &str, origin: &str, read: &dyn Fn(&str) -> Result<String>) -> Result<PatchSet> {
    let k: Kustomization = yaml::from_config_str(text).map_err(|e| {
        match (e.line, e.column) {
            (Some(line), Some(column)) => anyhow!("{origin}:{line}:{column}: {}", e.message),
            // The visitor put the place first.
            _ if e.message.starts_with(|c: char| c.is_ascii_digit()) => {
                anyhow!("{origin}:{}", e.message)
            }
            _ => anyhow!("{origin}: {}", e.message),
        }
    })?;
    let mut steps = Vec::new();
    // kustomize's transformer order: patchesStrategicMerge, patches, labels, commonLabels,
    // commonAnnotations, patchesJson6902, images.
    for (i, entry) in k.patches_strategic_merge.iter().enumerate() {
        let where_ = at(origin, entry);
        let text = match read_if_file(&entry.value, read) {
            Some(text) => text.map_err(|e| anyhow!("{where_}: {e:#}"))?,
            None => entry.value.clone(),
        };
        let docs = documents(&text).map_err(|e| anyhow!("{where_}: {e}"))?;
        for (j, doc) in docs.into_iter().enumerate() {
            let name = format!("patchesStrategicMerge[{i}]{}", suffix(j));
            steps.push(smp_step(name, doc, None).map_err(|e| anyhow!("{where_}: {e}"))?);
        }
    }
    for (i, entry) in k.patches.iter().enumerate() {
        steps.extend(patch_steps("patches", i, entry, origin, read)?);
    }
    for (i, label) in k.labels.iter().enumerate() {
        let mut fields = label.fields.clone();
        if label.include_selectors {
            fields.extend(field_specs::common_labels());
        } else {
            fields.extend(field_specs::labels(
                label.include_templates,
                label.include_volume_claim_templates,
            ));
        }
        steps.push(step(
            format!("labels[{i}]"),
            Selector::default(),
            Action::SetEntries(SetEntries::new(label.pairs.clone(), fields)),
        ));
    }
    if !k.common_labels.is_empty() {
        steps.push(step(
            "commonLabels".into(),
            Selector::default(),
            Action::SetEntries(SetEntries::new(
                k.common_labels.clone(),
                field_specs::common_labels(),
            )),
        ));
    }
    if !k.common_annotations.is_empty() {
        steps.push(step(
            "commonAnnotations".into(),
            Selector::default(),
            Action::SetEntries(SetEntries::new(
                k.common_annotations.clone(),
                field_specs::common_annotations(),
            )),
        ));
    }
    for (i, entry) in k.patches_json6902.iter().enumerate() {
        if entry.value.target.is_none() {
            bail!(
                "{}: a patchesJson6902 entry needs a `target`",
                at(origin, entry)
            );
        }
        steps.extend(patch_steps("patchesJson6902", i, entry, origin, read)?);
    }
    if !k.images.is_empty() {
        steps.push(step(
            "images".into(),
            Selector::default(),
            Action::SetImages(SetImages::new(k.images)),
        ));
    }
    // kustomize writes every object without an empty `metadata.annotations`.
    steps.push(step(
        "kustomize drops empty annotations".into(),
        Selector::default(),
        Action::SetEntries(SetEntries::drop_empty_annotations()),
    ));
    let notes = if k.resources {
        vec![format!(
            "{origin}: `resources` is not read; the stream on stdin is the resource"
        )]
    } else {
        Vec::new()
    };
    Ok(PatchSet {
        origin: origin.to_string(),
        pod_templates: Vec::new(),
        steps,
        notes,
    })
}

fn suffix(j: usize) -> String {
    if j == 0 {
        String::new()
    } else {
        format!("#{j}")
    }
}

/// kustomize reads an entry of `patchesStrategicMerge` as a file when it is one line without
/// YAML structure, else as the patch itself.
fn read_if_file(entry: &str, read: &dyn Fn(&str) -> Result<String>) -> Option<Result<String>> {
    let trimmed = entry.trim();
    if trimmed.contains('\n') || trimmed.contains(": ") || trimmed.ends_with(':') {
        return None;
    }
    Some(read(trimmed))
}

/// The YAML documents of a patch text.
fn documents(text: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut flush = |current: &mut String| -> Result<(), String> {
        if !current.trim().is_empty() {
            let v: Value = yaml::from_kustomize_str(current).map_err(|e| {
                format!(
                    "{}the patch is not valid YAML: {}",
                    e.line
                        .map_or(String::new(), |l| format!("patch line {l}: ")),
                    e.message
                )
            })?;
            if !v.is_null() {
                docs.push(v);
            }
        }
        current.clear();
        Ok(())
    };
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") {
            flush(&mut current)?;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    flush(&mut current)?;
    Ok(docs)
}

fn patch_steps(
    field: &str,
    i: usize,
    entry: &Spanned<PatchEntry>,
    origin: &str,
    read: &dyn Fn(&str) -> Result<String>,
) -> Result<Vec<Step>> {
    let where_ = at(origin, entry);
    let e = &entry.value;
    let text = match (&e.patch, &e.path) {
        (Some(p), None) if !p.trim().is_empty() => p.clone(),
        (None, Some(path)) => read(path).map_err(|err| anyhow!("{where_}: {err:#}"))?,
        (Some(_), Some(_)) => bail!("{where_}: give `patch` or `path`, not both"),
        _ => bail!("{where_}: a {field} entry needs `patch` or `path`"),
    };
    let docs = documents(&text).map_err(|err| anyhow!("{where_}: {err}"))?;
    let select = match &e.target {
        Some(t) => Some(target_selector(t).map_err(|err| anyhow!("{where_}: {err}"))?),
        None => None,
    };
    // A list is a JSON 6902 patch, maps are strategic merge patches: kustomize's detection.
    if let [Value::Array(_)] = &docs[..] {
        let Some(select) = select else {
            bail!("{where_}: a JSON 6902 patch needs a `target`");
        };
        let ops = docs.into_iter().next().unwrap_or_default();
        let action = crate::transforms::json_patch::JsonPatch::kustomize(ops)
            .map_err(|err| anyhow!("{where_}: invalid JSON 6902 patch: {err}"))?;
        return Ok(vec![step(
            format!("{field}[{i}]"),
            select,
            Action::JsonPatch(action),
        )]);
    }
    if docs.is_empty() {
        bail!("{where_}: the patch is empty");
    }
    if select.is_some() && docs.len() > 1 {
        bail!(
            "{where_}: a patch with a `target` holds one strategic merge patch, this one holds {}",
            docs.len()
        );
    }
    docs.into_iter()
        .enumerate()
        .map(|(j, doc)| {
            smp_step(format!("{field}[{i}]{}", suffix(j)), doc, select.clone())
                .map_err(|err| anyhow!("{where_}: {err}"))
        })
        .collect()
}

fn target_selector(t: &TargetSelector) -> Result<Selector, String> {
    let ids = IdRegexes {
        group: IdRegexes::compile(&t.group)?,
        version: IdRegexes::compile(&t.version)?,
        kind: IdRegexes::compile(&t.kind)?,
        name: IdRegexes::compile(&t.name)?,
        namespace: IdRegexes::compile(&t.namespace)?,
    };
    Ok(Selector {
        label_selector: t.label_selector.clone(),
        annotation_selector: t.annotation_selector.clone(),
        ids: Some(ids),
        ..Selector::default()
    })
}

/// A strategic merge step. Without a target the patch's own apiVersion, kind, name and
/// namespace pick the resource; the patch never changes them (kustomize restores them).
fn smp_step(name: String, doc: Value, select: Option<Selector>) -> Result<Step, String> {
    let Value::Object(mut patch) = doc else {
        return Err("a strategic merge patch must be a map".into());
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let api_version = text(patch.get("apiVersion"));
    let kind = text(patch.get("kind"));
    let metadata = patch.get("metadata");
    let res_name = text(metadata.and_then(|m| m.get("name")));
    let namespace = text(metadata.and_then(|m| m.get("namespace")));
    let targeted = select.is_some();
    let select = match select {
        Some(s) => s,
        None => {
            if kind.is_empty() || res_name.is_empty() {
                return Err(
                    "a strategic merge patch without a `target` needs `kind` and `metadata.name`"
                        .into(),
                );
            }
            let (group, version) = match api_version.rsplit_once('/') {
                Some((g, v)) => (g.to_string(), v.to_string()),
                None => (String::new(), api_version.clone()),
            };
            let exact = |s: &str| {
                IdRegexes::compile(&regex::escape(s)).map(|r| r.or_else(|| Some(empty())))
            };
            let ids = IdRegexes {
                group: exact(&group)?,
                version: if version.is_empty() {
                    None
                } else {
                    exact(&version)?
                },
                kind: exact(&kind)?,
                name: exact(&res_name)?,
                namespace: exact(if namespace.is_empty() {
                    "default"
                } else {
                    &namespace
                })?,
            };
            Selector {
                ids: Some(ids),
                ..Selector::default()
            }
        }
    };
    patch.shift_remove("apiVersion");
    patch.shift_remove("kind");
    if let Some(Value::Object(m)) = patch.get_mut("metadata") {
        m.shift_remove("name");
        m.shift_remove("namespace");
        // kustomize writes annotations as strings (`5` is "5"), and copies a patch with a
        // `target` through its labels and annotations as strings, so there even `null` is
        // "null".
        for field in ["labels", "annotations"] {
            if let Some(Value::Object(entries)) = m.get_mut(field) {
                for value in entries.values_mut() {
                    match value {
                        Value::Null if targeted => *value = Value::String("null".into()),
                        Value::Number(_) | Value::Bool(_) if targeted || field == "annotations" => {
                            *value = Value::String(value.to_string());
                        }
                        _ => {}
                    }
                }
            }
        }
        if m.is_empty() {
            patch.shift_remove("metadata");
        }
    }
    Ok(step(
        name,
        select,
        Action::StrategicMergePatch(StrategicMergePatch::new(patch)),
    ))
}

/// The regex that matches only the empty string (an empty group is the core group).
fn empty() -> regex::Regex {
    regex::Regex::new("^$").expect("a constant regex")
}

fn step(name: String, select: Selector, action: Action) -> Step {
    Step {
        name,
        description: None,
        select,
        exclude: Vec::new(),
        target: Target::Resource,
        container_names: None,
        mode: Mode::Overwrite,
        on_failure: OnFailure::Error,
        on_conflict: OnConflict::Skip,
        action,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(path: &str) -> Result<String> {
        bail!("cannot read {path}")
    }

    fn err(text: &str) -> String {
        format!(
            "{:#}",
            parse(text, "kustomization.yaml", &no_files).unwrap_err()
        )
    }

    #[test]
    fn fields_become_steps_in_kustomize_order() {
        let set = parse(
            "resources: [all.yaml]\nimages:\n- {name: nginx, newTag: '1'}\ncommonLabels: {a: b}\npatches:\n- patch: |\n    - {op: remove, path: /spec/replicas}\n  target: {kind: Deployment}\n",
            "kustomization.yaml",
            &no_files,
        )
        .unwrap();
        let names: Vec<_> = set.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "patches[0]",
                "commonLabels",
                "images",
                "kustomize drops empty annotations"
            ]
        );
        assert_eq!(set.steps[0].action.key(), "jsonPatch");
    }

    #[test]
    fn other_fields_are_errors_with_their_place() {
        assert_eq!(
            err("resources: [all.yaml]\nnamespace: prod\n"),
            "kustomization.yaml:2:1: `namespace` is not supported: pulse-harden applies patches, patchesStrategicMerge, patchesJson6902, images, labels, commonLabels, commonAnnotations to the rendered stream; do `namespace` in the chart or its values instead"
        );
        assert!(err("bogus: 1\n").starts_with("kustomization.yaml:1:"));
        assert_eq!(
            err("patches:\n  - target: {kind: Deployment}\n"),
            "kustomization.yaml:2:5: a patches entry needs `patch` or `path`"
        );
        assert!(
            err("patches:\n  - patch: x\n    options: {allowNameChange: true}\n")
                .starts_with("kustomization.yaml:3:"),
        );
        assert_eq!(
            err("patches:\n  - path: p.yaml\n"),
            "kustomization.yaml:2:5: cannot read p.yaml"
        );
    }
}
