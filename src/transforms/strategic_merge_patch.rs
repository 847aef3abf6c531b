//! `strategicMergePatch`: a Kubernetes strategic merge patch, merged the way kustomize
//! (kyaml's `merge2`) merges it, over the merge-key table generated from the Kubernetes API
//! schemas (`strategic_merge_keys.tsv`, by `scripts/gen-merge-keys.py`).

use super::{Context, Mode, Outcome, Transform};
use anyhow::{Result, bail};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// The patch, as written.
#[derive(Debug)]
pub struct StrategicMergePatch(Map<String, Value>);

impl StrategicMergePatch {
    /// A patch built by a loader (a kustomization's `patches` entry).
    pub fn new(patch: Map<String, Value>) -> Self {
        StrategicMergePatch(patch)
    }
}

impl<'de> Deserialize<'de> for StrategicMergePatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(map) => Ok(StrategicMergePatch(map)),
            _ => Err(serde::de::Error::custom(
                "a strategic merge patch is a map (the fields to merge into each target)",
            )),
        }
    }
}

impl Transform for StrategicMergePatch {
    const KEY: &'static str = "strategicMergePatch";
    const SUMMARY: &'static str = "Kubernetes strategic merge patch (lists of containers, env, volumes… merge by key; `$patch` directives)";
    const DOCS: &'static str = r#"Merges a patch into the target the way `kubectl patch` and kustomize do for
Kubernetes objects: maps merge key by key, `null` deletes a key, and the lists the Kubernetes
API declares mergeable merge element by element on their merge key — `containers`,
`initContainers`, `env` and `volumes` by `name`, `volumeMounts` by `mountPath`, container
`ports` by `containerPort` and `protocol`, `imagePullSecrets`, `hostAliases`,
`topologySpreadConstraints`, `finalizers`, … Other lists, and every list of a custom resource
(no schema), are replaced whole, as RFC 7396 does.

The merge keys come from the Kubernetes API's OpenAPI schemas
(`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`, `x-kubernetes-list-map-keys`),
generated into `src/transforms/strategic_merge_keys.tsv` by `scripts/gen-merge-keys.py`;
the table's first line names the Kubernetes version. Elements are ordered as kustomize orders
them: the patch's elements first, in patch order, then the ones only the target had.

Directives:

| directive | meaning |
|---|---|
| `$patch: delete` in a list element | remove the element with that key (`- {name: sidecar, $patch: delete}`) |
| `$patch: delete` in a map | remove that map |
| `$patch: replace` in a map, or as a list element `- $patch: replace` | replace instead of merging |
| `$patch: delete` as a list element alone | remove the whole list |
| `$deleteFromPrimitiveList/<field>: [values]` | remove these values from a list of scalars |
| `$setElementOrder/<field>: [elements]` | order the merged list: the listed elements first, in this order |
| `$retainKeys: [keys]` | keep only these keys of the map (then merge) |

kustomize (kyaml) does not implement the last three and copies them into its output as
fields; pulse-harden applies them as the API server does.

Targets: with `target: resource` the schema is the resource's kind; with `target: podSpec`
the patch is a PodSpec, with `target: containers` a Container.

In `mode: ifAbsent` only what is missing is added: values the chart set are kept, nothing is
deleted, and new list elements are added.

Example:

```yaml
- name: sidecar-env
  select: {kind: Deployment, name: web}
  strategicMergePatch:
    spec:
      template:
        spec:
          containers:
            - name: web
              env:
                - {name: LOG_FORMAT, value: json}
                - {name: DEBUG, $patch: delete}
            - name: legacy-sidecar
              $patch: delete
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        let schema = schema();
        // What the step handed over: the resource, its pod spec or one container.
        let ty = if super::targets::is_resource(target) {
            schema.kind(ctx.resource.api_version(), ctx.resource.kind())
        } else if target.get("containers").is_some() {
            schema.named("io.k8s.api.core.v1.PodSpec")
        } else {
            schema.named("io.k8s.api.core.v1.Container")
        };
        let merger = Merger {
            schema,
            if_absent: ctx.mode == Mode::IfAbsent,
            explicit_nulls: explicit_nulls(&ctx.resource.raw),
        };
        let patch = Value::Object(self.0.clone());
        let dest = std::mem::take(target);
        match merger.walk(Some(dest), Some(&patch), Sch::Type(ty), &mut Vec::new())? {
            Some(merged) => {
                *target = merged;
                Ok(Outcome::Applied)
            }
            None => bail!(
                "the patch deletes the whole target (`$patch: delete` at the top); pulse-harden does not remove documents"
            ),
        }
    }
}

/// Applies `patch` to `dest` with the merge keys of the type `type_name` (or none); for the
/// kustomization loader's tests and callers outside a step.
#[cfg(test)]
pub fn merge_for_test(
    dest: Value,
    patch: &Value,
    api_version: &str,
    kind: &str,
) -> Result<Option<Value>> {
    let schema = schema();
    let merger = Merger {
        schema,
        if_absent: false,
        explicit_nulls: HashSet::new(),
    };
    merger.walk(
        Some(dest),
        Some(patch),
        Sch::Type(schema.kind(api_version, kind)),
        &mut Vec::new(),
    )
}

/// The generated table, parsed once.
struct Schema {
    kinds: HashMap<(String, String), usize>,
    names: HashMap<String, usize>,
    types: Vec<HashMap<String, Field>>,
}

#[derive(Debug)]
struct Field {
    /// The type of the field's value (of each element, for lists), when it leads to more
    /// merge keys.
    child: Option<usize>,
    /// A list that merges element by element (strategy `merge`).
    merge: bool,
    /// The keys that identify an element; empty for a mergeable list of scalars.
    keys: Vec<String>,
}

const TABLE: &str = include_str!("strategic_merge_keys.tsv");

/// The Kubernetes version the table was generated for (its first line).
pub fn table_version() -> &'static str {
    TABLE
        .lines()
        .next()
        .and_then(|l| l.split("Kubernetes ").nth(1))
        .and_then(|l| l.split(':').next())
        .unwrap_or("unknown")
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut s = Schema {
            kinds: HashMap::new(),
            names: HashMap::new(),
            types: Vec::new(),
        };
        let id = |s: &mut Schema, name: &str| -> usize {
            if let Some(&i) = s.names.get(name) {
                return i;
            }
            s.types.push(HashMap::new());
            s.names.insert(name.to_string(), s.types.len() - 1);
            s.types.len() - 1
        };
        for line in TABLE.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split('\t').collect();
            match cols[..] {
                ["kind", api_version, kind, ty] => {
                    let t = id(&mut s, ty);
                    s.kinds
                        .insert((api_version.to_string(), kind.to_string()), t);
                }
                ["field", ty, field, child, strategy, keys, ..] => {
                    // Maps of objects (JSONSchemaProps) are walked without a schema.
                    let map = cols.get(6) == Some(&"map");
                    let t = id(&mut s, ty);
                    let child = (child != "-" && !map).then(|| id(&mut s, child));
                    let f = Field {
                        child,
                        merge: strategy.split(',').any(|p| p == "merge"),
                        keys: if keys == "-" {
                            Vec::new()
                        } else {
                            keys.split(',').map(str::to_string).collect()
                        },
                    };
                    s.types[t].insert(field.to_string(), f);
                }
                _ => {}
            }
        }
        s
    })
}

impl Schema {
    fn kind(&self, api_version: &str, kind: &str) -> Option<usize> {
        self.kinds
            .get(&(api_version.to_string(), kind.to_string()))
            .copied()
    }

    fn named(&self, name: &str) -> Option<usize> {
        self.names.get(name).copied()
    }
}

/// What is known about the value being merged: a map of a known type, or a list field.
#[derive(Clone, Copy)]
enum Sch<'s> {
    Type(Option<usize>),
    List(&'s Field),
}

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_FROM: &str = "$deleteFromPrimitiveList/";

struct Merger {
    schema: &'static Schema,
    if_absent: bool,
    /// Keys the document's text sets to a written `null` or `~`: kyaml keeps those, and
    /// drops the empty ones (`key:`), which read the same.
    explicit_nulls: HashSet<String>,
}

/// The keys a document's text sets to a written null (`key: null`, `key: ~`), in block style.
fn explicit_nulls(raw: &str) -> HashSet<String> {
    raw.lines()
        .filter_map(|line| {
            let line = line.split(" #").next().unwrap_or(line).trim_end();
            let line = line.trim_start().trim_start_matches("- ").trim_start();
            let (key, value) = line.split_once(": ")?;
            let key = key.trim().trim_matches('"').trim_matches('\'');
            matches!(value.trim(), "null" | "Null" | "NULL" | "~").then(|| key.to_string())
        })
        .collect()
}

enum Directive {
    Merge,
    Replace,
    Delete,
}

fn directive(value: Option<&Value>, path: &[String]) -> Result<Directive> {
    match value {
        None => Ok(Directive::Merge),
        Some(Value::String(s)) if s == "merge" => Ok(Directive::Merge),
        Some(Value::String(s)) if s == "replace" => Ok(Directive::Replace),
        Some(Value::String(s)) if s == "delete" => Ok(Directive::Delete),
        Some(other) => bail!(
            "{}unknown `$patch` directive {other}; expected merge, replace or delete",
            at(path)
        ),
    }
}

fn at(path: &[String]) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("at `{}`: ", path.join("."))
    }
}

fn is_directive_key(key: &str) -> bool {
    key == PATCH || key == RETAIN_KEYS || key.starts_with(SET_ORDER) || key.starts_with(DELETE_FROM)
}

fn shape(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "a map",
        Value::Array(_) => "a list",
        _ => "a scalar",
    }
}

/// The text kyaml compares merge keys by: the scalar as written, `""` when absent or empty.
fn key_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

impl Merger {
    /// Merges `patch` into `dest`; `None` means the field is removed.
    fn walk(
        &self,
        dest: Option<Value>,
        patch: Option<&Value>,
        sch: Sch,
        path: &mut Vec<String>,
    ) -> Result<Option<Value>> {
        let dest_live = dest.as_ref().filter(|d| !d.is_null());
        let patch_live = patch.filter(|p| !p.is_null());
        if let (Some(d), Some(p)) = (dest_live, patch_live)
            && shape(d) != shape(p)
        {
            bail!(
                "{}the patch has {} where the target has {}",
                at(path),
                shape(p),
                shape(d)
            );
        }
        match dest_live.or(patch_live) {
            Some(Value::Array(_)) => self.walk_list(dest, patch, sch, path),
            Some(Value::Object(_)) | None => self.walk_map(dest, patch, sch, path),
            Some(_) => Ok(match patch {
                Some(Value::Null) if self.if_absent => dest,
                Some(Value::Null) => None,
                Some(p) if !(self.if_absent && dest_live.is_some()) => Some(p.clone()),
                _ => dest,
            }),
        }
    }

    fn walk_map(
        &self,
        dest: Option<Value>,
        patch: Option<&Value>,
        sch: Sch,
        path: &mut Vec<String>,
    ) -> Result<Option<Value>> {
        let ty = match sch {
            Sch::Type(t) => t,
            Sch::List(_) => None,
        };
        let patch_map = match patch {
            Some(Value::Object(p)) => Some(p),
            Some(Value::Null) if !self.if_absent => return Ok(None),
            _ => None,
        };
        let mut result = match dest {
            Some(Value::Object(d)) => {
                let Some(p) = patch_map else {
                    return Ok(Some(Value::Object(d)));
                };
                match directive(p.get(PATCH), path)? {
                    Directive::Delete if !self.if_absent => return Ok(None),
                    Directive::Replace if !self.if_absent => strip(p),
                    _ => d,
                }
            }
            // Missing or null in the target: the patch, with its own directives applied.
            other => {
                let Some(p) = patch_map else {
                    return Ok(other);
                };
                if matches!(directive(p.get(PATCH), path)?, Directive::Delete) {
                    return Ok(None);
                }
                strip(p)
            }
        };
        let Some(patch) = patch_map else {
            return Ok(Some(Value::Object(result)));
        };
        if !self.if_absent
            && let Some(Value::Array(keep)) = patch.get(RETAIN_KEYS)
        {
            let keep: Vec<String> = keep.iter().map(|k| key_text(Some(k))).collect();
            result.retain(|k, _| keep.contains(k));
        }
        // kyaml walks the target's other fields too, and drops their empty (`key:`) values
        // on the way; a null read from YAML looks the same, so every null goes.
        let untouched: Vec<String> = result
            .keys()
            .filter(|k| !patch.contains_key(*k))
            .cloned()
            .collect();
        for key in untouched {
            let sub = self.field_schema(ty, &key);
            if let Some(v) = result.get_mut(&key) {
                if !v.is_null() {
                    tidy(v, sub, self.schema, &self.explicit_nulls);
                } else if !self.explicit_nulls.contains(&key) {
                    result.shift_remove(&key);
                }
            }
        }
        for (key, value) in patch {
            if is_directive_key(key) {
                continue;
            }
            let sub = self.field_schema(ty, key);
            path.push(key.clone());
            let merged = self.walk(result.get(key).cloned(), Some(value), sub, path)?;
            path.pop();
            match merged {
                Some(v) => {
                    result.insert(key.clone(), v);
                }
                None => {
                    result.shift_remove(key);
                }
            }
        }
        for (key, value) in patch {
            if let Some(field) = key.strip_prefix(DELETE_FROM)
                && !self.if_absent
                && let (Some(Value::Array(list)), Value::Array(gone)) =
                    (result.get_mut(field), value)
            {
                list.retain(|v| !gone.contains(v));
            }
            if let Some(field) = key.strip_prefix(SET_ORDER)
                && let (Some(Value::Array(list)), Value::Array(order)) =
                    (result.get_mut(field), value)
            {
                let keys = match self.field_schema(ty, field) {
                    Sch::List(f) => f.keys.clone(),
                    Sch::Type(_) => Vec::new(),
                };
                set_order(list, order, &keys);
            }
        }
        Ok(Some(Value::Object(result)))
    }

    fn field_schema(&self, ty: Option<usize>, key: &str) -> Sch<'static> {
        let field = ty.and_then(|t| self.schema.types[t].get(key));
        match field {
            Some(f) if f.merge => Sch::List(f),
            Some(f) => Sch::Type(f.child),
            None => Sch::Type(None),
        }
    }

    fn walk_list(
        &self,
        dest: Option<Value>,
        patch: Option<&Value>,
        sch: Sch,
        path: &mut Vec<String>,
    ) -> Result<Option<Value>> {
        let Sch::List(field) = sch else {
            // Not mergeable: the patch replaces the list whole.
            return Ok(match patch {
                None => dest,
                Some(_) if self.if_absent && dest.as_ref().is_some_and(|d| !d.is_null()) => dest,
                Some(Value::Null) => None,
                Some(p) => Some(p.clone()),
            });
        };
        let patch_list = match patch {
            Some(Value::Array(p)) => p,
            Some(Value::Null) if !self.if_absent => return Ok(None),
            _ => return Ok(dest),
        };
        // A `$patch` element alone is a directive for the whole list.
        let directive_at = patch_list.iter().position(|e| {
            e.as_object()
                .is_some_and(|m| m.len() == 1 && m.contains_key(PATCH))
        });
        let directive = match directive_at {
            Some(i) => self::directive(patch_list[i].get(PATCH), path)?,
            None => Directive::Merge,
        };
        let patch_items: Vec<&Value> = patch_list
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != directive_at)
            .map(|(_, e)| e)
            .collect();
        let dest_items: Vec<Value> = match (dest, &directive) {
            (_, Directive::Delete) if !self.if_absent => return Ok(None),
            (_, Directive::Replace) if !self.if_absent => Vec::new(),
            (Some(Value::Array(d)), _) => d,
            // Missing in the target: the patch merged into itself, so its directives apply.
            _ => patch_items.iter().map(|e| (*e).clone()).collect(),
        };
        if field.keys.is_empty() {
            // A list of scalars (finalizers): the patch's values first, then the others.
            let mut out: Vec<Value> = Vec::new();
            for v in patch_items.iter().copied().chain(dest_items.iter()) {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            return Ok(Some(Value::Array(out)));
        }
        let keys = &field.keys;
        let tuple =
            |e: &Value| -> Vec<String> { keys.iter().map(|k| key_text(e.get(k))).collect() };
        let mut tuples: Vec<Vec<String>> = Vec::new();
        for e in patch_items.iter().copied().chain(dest_items.iter()) {
            let t = tuple(e);
            if !tuples.contains(&t) {
                tuples.push(t);
            }
        }
        if keys.len() > 1 {
            // Tuples that agree where both have a value name one element (a port with and
            // without `protocol`).
            for i in 0..tuples.len() {
                for j in 0..tuples.len() {
                    if let Some(m) = agree(&tuples[i], &tuples[j]) {
                        tuples[i] = m.clone();
                        tuples[j] = m;
                    }
                }
            }
        }
        // With more than one key in use, kyaml re-appends the target's elements after the
        // patch-only ones, in the target's order.
        let keys_in_use = (0..keys.len())
            .filter(|&i| tuples.iter().any(|t| !t[i].is_empty()))
            .count();
        let find_at = |items: &[&Value], t: &[String]| -> Option<usize> {
            let wanted: Vec<(&String, &String)> =
                keys.iter().zip(t).filter(|(_, v)| !v.is_empty()).collect();
            let wanted = if wanted.is_empty() {
                keys.iter().zip(t).collect()
            } else {
                wanted
            };
            items.iter().position(|e| {
                wanted
                    .iter()
                    .all(|(k, v)| key_text(e.get(k.as_str())) == **v)
            })
        };
        let find = |items: &[&Value], t: &[String]| -> Option<Value> {
            find_at(items, t).map(|i| items[i].clone())
        };
        let dest_refs: Vec<&Value> = dest_items.iter().collect();
        // (key tuple, element, position of the target element it came from)
        let mut out: Vec<(Vec<String>, Value, Option<usize>)> = Vec::new();
        for t in tuples {
            let at_dest = find_at(&dest_refs, &t);
            let d = at_dest.map(|i| dest_refs[i].clone());
            let p = find(&patch_items, &t);
            path.push(format!("[{}]", t.join(",")));
            let merged = self.walk(d, p.as_ref(), Sch::Type(field.child), path)?;
            path.pop();
            let Some(mut merged) = merged.filter(|m| m.as_object().is_some_and(|o| !o.is_empty()))
            else {
                out.retain(|(seen, ..)| *seen != t);
                continue;
            };
            if let Some(m) = merged.as_object_mut() {
                for (k, v) in keys.iter().zip(&t) {
                    if !v.is_empty() && !m.contains_key(k) {
                        m.insert(k.clone(), scalar(v));
                    }
                }
            }
            match out.iter_mut().find(|(seen, ..)| *seen == t) {
                Some(slot) => slot.1 = merged,
                None => out.push((t, merged, at_dest)),
            }
        }
        if keys_in_use > 1 {
            // Stable: patch-only elements keep their order, before the target's in its order.
            out.sort_by_key(|(_, _, from)| from.map_or((0, 0), |i| (1, i)));
        }
        Ok(Some(Value::Array(
            out.into_iter().map(|(_, v, _)| v).collect(),
        )))
    }
}

/// What kyaml's walk does to a part of the target the patch does not mention: null map values
/// go, and so do empty elements of mergeable lists.
fn tidy(value: &mut Value, sch: Sch, schema: &Schema, keep: &HashSet<String>) {
    match (value, sch) {
        (Value::Object(map), Sch::Type(ty)) => {
            map.retain(|k, v| !v.is_null() || keep.contains(k));
            for (key, v) in map.iter_mut() {
                let field = ty.and_then(|t| schema.types[t].get(key));
                let sub = match field {
                    Some(f) if f.merge => Sch::List(f),
                    Some(f) => Sch::Type(f.child),
                    None => Sch::Type(None),
                };
                tidy(v, sub, schema, keep);
            }
        }
        (Value::Array(items), Sch::List(field)) if !field.keys.is_empty() => {
            for item in items.iter_mut() {
                tidy(item, Sch::Type(field.child), schema, keep);
            }
            items.retain(|i| !i.as_object().is_some_and(Map::is_empty));
        }
        _ => {}
    }
}

/// The map without its directive keys.
fn strip(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| !is_directive_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Two key tuples that agree wherever both have a value, and share one: kyaml's `match`.
fn agree(a: &[String], b: &[String]) -> Option<Vec<String>> {
    let mut common = false;
    let mut out = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            out.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else if x.is_empty() {
            out.push(y.clone());
        } else {
            out.push(x.clone());
        }
    }
    common.then_some(out)
}

/// A key value put back into an element, typed as YAML would read it unquoted.
fn scalar(text: &str) -> Value {
    text.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(text.to_string()))
}

/// `$setElementOrder`: the listed elements first, in that order, then the others as they were.
fn set_order(list: &mut Vec<Value>, order: &[Value], keys: &[String]) {
    let same = |a: &Value, b: &Value| {
        if keys.is_empty() {
            a == b
        } else {
            keys.iter()
                .all(|k| key_text(a.get(k)) == key_text(b.get(k)))
        }
    };
    let mut rest = std::mem::take(list);
    for wanted in order {
        if let Some(i) = rest.iter().position(|e| same(e, wanted)) {
            list.push(rest.remove(i));
        }
    }
    list.extend(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"template": {"spec": spec}}})
    }

    fn merge(dest: Value, patch: Value) -> Value {
        merge_for_test(dest, &patch, "apps/v1", "Deployment")
            .unwrap()
            .unwrap()
    }

    #[test]
    fn the_table_names_its_kubernetes_version_and_knows_pod_lists() {
        assert_eq!(table_version(), "v1.35.0");
        let s = schema();
        let pod = s.named("io.k8s.api.core.v1.PodSpec").unwrap();
        assert_eq!(s.types[pod]["containers"].keys, ["name"]);
        assert_eq!(s.types[pod]["volumes"].keys, ["name"]);
        let c = s.named("io.k8s.api.core.v1.Container").unwrap();
        assert_eq!(s.types[c]["volumeMounts"].keys, ["mountPath"]);
        assert_eq!(s.types[c]["ports"].keys, ["containerPort", "protocol"]);
        assert!(!s.types[c].contains_key("args"));
    }

    #[test]
    fn containers_and_env_merge_by_name_patch_elements_first() {
        let dest = deployment(json!({"containers": [
            {"name": "c", "image": "a", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "side", "image": "b"}]}));
        let out = merge(
            dest,
            deployment(json!({"containers": [
                {"name": "c", "env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"}]},
                {"name": "side", "$patch": "delete"},
                {"name": "new", "image": "x"}]})),
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "c", "image": "a", "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "1"}]},
                   {"name": "new", "image": "x"}])
        );
    }

    #[test]
    fn unknown_kinds_replace_lists_and_null_deletes() {
        let out = merge_for_test(
            json!({"spec": {"items": [{"name": "a"}], "x": 1, "y": {"z": 1}}}),
            &json!({"spec": {"items": [{"name": "b"}], "x": null, "y": {"$patch": "replace", "w": 2}}}),
            "example.com/v1",
            "Widget",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            out,
            json!({"spec": {"items": [{"name": "b"}], "y": {"w": 2}}})
        );
    }

    #[test]
    fn list_directives_and_primitive_lists() {
        let out = merge(
            json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"template": {"spec": {
                "containers": [{"name": "c", "args": ["x", "y"]}], "volumes": [{"name": "v", "emptyDir": {}}]}}}}),
            json!({"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]},
                   "spec": {"template": {"spec": {
                "containers": [{"$patch": "replace"}, {"name": "n"}],
                "volumes": [{"name": "v", "$retainKeys": ["name", "configMap"], "configMap": {"name": "cm"}}]}}}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["c", "b"]));
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "n"}])
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["volumes"],
            json!([{"name": "v", "configMap": {"name": "cm"}}])
        );
    }

    #[test]
    fn set_element_order_and_shape_errors() {
        let out = merge(
            deployment(json!({"containers": [{"name": "a"}, {"name": "b"}]})),
            deployment(
                json!({"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                              "containers": [{"name": "a", "image": "i"}]}),
            ),
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b"}, {"name": "a", "image": "i"}])
        );
        let e = merge_for_test(
            deployment(json!({"containers": []})),
            &deployment(json!({"containers": {"a": 1}})),
            "apps/v1",
            "Deployment",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "at `spec.template.spec.containers`: the patch has a map where the target has a list"
        );
    }

    fn apply(patch: Value, target: &mut Value, mode: Mode) {
        let action: StrategicMergePatch = serde_json::from_value(patch).unwrap();
        let d = crate::manifest::Manifest::from_value(
            1,
            json!({"apiVersion": "apps/v1", "kind": "Deployment"}),
        );
        let stream = [];
        let ctx = crate::transforms::test_context(mode, &d, &stream);
        assert_eq!(action.apply(target, &ctx).unwrap(), Outcome::Applied);
    }

    #[test]
    fn pod_spec_and_container_targets_use_their_own_merge_keys() {
        let mut spec = json!({"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}]});
        apply(
            json!({"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]}),
            &mut spec,
            Mode::Overwrite,
        );
        assert_eq!(
            spec["containers"][0]["env"],
            json!([{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}])
        );
        let mut container =
            json!({"name": "a", "volumeMounts": [{"name": "v", "mountPath": "/v"}]});
        apply(
            json!({"volumeMounts": [{"name": "w", "mountPath": "/v", "readOnly": true}]}),
            &mut container,
            Mode::Overwrite,
        );
        assert_eq!(
            container["volumeMounts"],
            json!([{"name": "w", "mountPath": "/v", "readOnly": true}])
        );
    }

    #[test]
    fn if_absent_adds_only_what_is_missing() {
        let mut spec = json!({"containers": [{"name": "a", "image": "x", "env": [{"name": "X", "value": "1"}]}],
                              "hostNetwork": true});
        apply(
            json!({"hostNetwork": null, "containers": [
                {"name": "a", "image": "y", "env": [{"name": "X", "value": "2"}, {"name": "Z", "value": "3"}]},
                {"name": "b", "image": "z"}]}),
            &mut spec,
            Mode::IfAbsent,
        );
        assert_eq!(
            spec,
            json!({"containers": [
                {"name": "a", "image": "x", "env": [{"name": "X", "value": "1"}, {"name": "Z", "value": "3"}]},
                {"name": "b", "image": "z"}], "hostNetwork": true})
        );
    }
}
