//! `jsonPatch`: RFC 6902 operations (add, remove, replace, move, copy, test), with `*` and
//! `[name=value]` path segments, applied in order and all-or-nothing per target.
//!
//! In `ifAbsent` mode an `add` leaves an existing value alone, and an `add` to `.../-` (the end
//! of a list) skips an element that is already in the list, so running twice changes nothing.

use super::{Context, Mode, Outcome, Transform};
use crate::pointer::ExtPointer;
use crate::pointer::Lookup;
use crate::report::redact;
use anyhow::{Context as _, Result, anyhow, bail};
use json_patch::jsonptr::Pointer;
use json_patch::{AddOperation, CopyOperation, PatchErrorKind, PatchOperation, ReplaceOperation};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct JsonPatch {
    ops: Vec<Operation>,
    /// kustomize's JSON 6902 (evanphx/json-patch v4): `replace` of a missing map key adds it.
    #[serde(skip)]
    replace_adds: bool,
    /// Nodes this step's `copy` operations have added so far, over every resource.
    #[serde(skip)]
    copied: AtomicUsize,
}

impl JsonPatch {
    /// A kustomization's JSON 6902 patch, applied with kustomize's semantics.
    pub fn kustomize(ops: Value) -> Result<Self, serde_json::Error> {
        let mut patch: JsonPatch = serde_json::from_value(ops)?;
        patch.replace_adds = true;
        Ok(patch)
    }
}

#[derive(Debug, Deserialize)]
#[serde(try_from = "RawOperation")]
pub struct Operation {
    op: Op,
    path: ExtPointer,
    value: Value,
    from: Option<ExtPointer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Op {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperation {
    op: Op,
    path: ExtPointer,
    /// `Some(Value::Null)` for `value: null`, which RFC 6902 allows: `None` only when absent.
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
    from: Option<ExtPointer>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl TryFrom<RawOperation> for Operation {
    type Error = String;

    fn try_from(raw: RawOperation) -> Result<Self, String> {
        let needs_value = matches!(raw.op, Op::Add | Op::Replace | Op::Test);
        let needs_from = matches!(raw.op, Op::Move | Op::Copy);
        if needs_value && raw.value.is_none() {
            return Err(format!("`{}` needs a `value`", raw.op));
        }
        if needs_from && raw.from.is_none() {
            return Err(format!("`{}` needs a `from`", raw.op));
        }
        if !needs_value && raw.value.is_some() {
            return Err(format!("`{}` takes no `value`", raw.op));
        }
        if !needs_from && raw.from.is_some() {
            return Err(format!("`{}` takes no `from`", raw.op));
        }
        Ok(Operation {
            op: raw.op,
            path: raw.path,
            value: raw.value.unwrap_or(Value::Null),
            from: raw.from,
        })
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Add => "add",
            Op::Remove => "remove",
            Op::Replace => "replace",
            Op::Move => "move",
            Op::Copy => "copy",
            Op::Test => "test",
        })
    }
}

impl Transform for JsonPatch {
    const KEY: &'static str = "jsonPatch";
    const SUMMARY: &'static str =
        "RFC 6902 JSON Patch operations; paths may use `*` and `[name=value]` segments";
    const DOCS: &'static str = r#"Applies RFC 6902 JSON Patch operations (`add`, `remove`, `replace`, `move`, `copy`,
`test`) in order, all or nothing per target.

Paths are JSON pointers with two extensions: `*` means every element of a list (or every
value of a map), and `[name=web]` means the list elements whose `name` is `web`. A wildcard
over a list that is absent is a no-op, not an error; a `[name=web]` that matches nothing
fails a `replace`, `remove` or `test` (a misspelt name must not make a guard pass).

As in RFC 6902, `value: null` is a value (for `add`, `replace` and `test`), `test` compares
numbers by value (`1` equals `1.0`), and list indexes are `0` or digits without a leading
zero.

In `mode: ifAbsent` an `add` keeps a value that is already there (an explicit `null`, such as
`annotations:` with nothing after it, counts as absent and is replaced), and an append (`/-`)
skips an element the list already holds, so a second run changes nothing. A failing `test`
or a missing path is an error naming the patch file, step and resource, unless the step
says `onFailure: skip`.

Example:

```yaml
- name: pull-if-not-present
  select: {kind: [Deployment, StatefulSet]}
  mode: ifAbsent
  jsonPatch:
    - {op: add, path: "/spec/template/spec/containers/*/imagePullPolicy", value: IfNotPresent}
    - {op: replace, path: "/spec/template/spec/containers/[name=web]/image", value: "registry.internal/web:1.2"}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;
    const TARGETS: &'static [super::Target] = super::ANY_TARGET;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        for (i, op) in self.ops.iter().enumerate() {
            apply_operation(op, target, ctx, self.replace_adds, &self.copied)
                .with_context(|| format!("operation {} (`{}` {})", i + 1, op.op, op.path))?;
        }
        Ok(Outcome::Applied)
    }
}

fn apply_operation(
    op: &Operation,
    doc: &mut Value,
    ctx: &Context,
    replace_adds: bool,
    copied_so_far: &AtomicUsize,
) -> Result<()> {
    let from = match &op.from {
        Some(from) => {
            let mut found = from.expand(doc);
            if found.len() != 1 {
                bail!(
                    "`from` {from} must name exactly one place, it names {}",
                    found.len()
                );
            }
            found.pop()
        }
        None => None,
    };
    let paths = op.path.expand(doc);
    if paths.is_empty() && op.path.filters() && matches!(op.op, Op::Replace | Op::Remove | Op::Test)
    {
        // A misspelt `[name=...]` would otherwise make a guard `test` pass vacuously.
        bail!("{}: no element matches the path", op.path);
    }
    // Back to front, so removing list elements does not shift the ones still to come.
    for path in paths.into_iter().rev() {
        match op.op {
            Op::Add => {
                if ctx.mode == Mode::IfAbsent && already_there(doc, &path, &op.value) {
                    continue;
                }
                patch(
                    doc,
                    PatchOperation::Add(AddOperation {
                        path,
                        value: op.value.clone(),
                    }),
                )?
            }
            Op::Remove => {
                remove_keeping_order(doc, &path)?;
            }
            Op::Replace
                if replace_adds
                    && doc.at(path.as_str()).is_none()
                    && path
                        .split_back()
                        .and_then(|(parent, _)| doc.at(parent.as_str()))
                        .is_some_and(Value::is_object) =>
            {
                patch(
                    doc,
                    PatchOperation::Add(AddOperation {
                        path,
                        value: op.value.clone(),
                    }),
                )?
            }
            Op::Replace => patch(
                doc,
                PatchOperation::Replace(ReplaceOperation {
                    path,
                    value: op.value.clone(),
                }),
            )?,
            Op::Move => {
                let from = from.as_deref().unwrap_or(Pointer::root());
                let value = remove_keeping_order(doc, from)?;
                patch(doc, PatchOperation::Add(AddOperation { path, value }))?
            }
            Op::Copy => {
                let from = from.clone().unwrap_or_default();
                // `copy /data → /data/x` doubles the document: twenty of them in a patch file
                // would take gigabytes. Refuse to grow a document past what we would read.
                let copied = doc.at(from.as_str()).map_or(0, count_nodes);
                if count_nodes(doc).saturating_add(copied) > MAX_NODES {
                    bail!("copying {from} would grow the document beyond {MAX_NODES} nodes");
                }
                // And a step's copies over the whole stream, so that many small resources
                // cannot add up to what one large one may not.
                let total = copied_so_far.fetch_add(copied, Ordering::Relaxed) + copied;
                if total > MAX_COPIED_PER_STEP {
                    bail!(
                        "the step's copies would add more than {MAX_COPIED_PER_STEP} nodes to the stream"
                    );
                }
                patch(doc, PatchOperation::Copy(CopyOperation { from, path }))?
            }
            Op::Test => {
                let actual = doc.at(path.as_str());
                if !actual.is_some_and(|actual| same_json(actual, &op.value)) {
                    // Never quote Secret or ConfigMap data in an error message.
                    let hidden = redact::is_hidden(doc, path.as_str());
                    let show = |v: &Value| {
                        if hidden {
                            redact::REDACTED.to_string()
                        } else {
                            v.to_string()
                        }
                    };
                    bail!(
                        "test failed: {path} is {}, expected {}",
                        actual.map_or("absent".to_string(), show),
                        show(&op.value)
                    );
                }
            }
        }
    }
    Ok(())
}

/// JSON equality as RFC 6902 `test` defines it: numbers are equal when their values are
/// (`1` and `1.0`), maps whatever their key order, lists element by element.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// How large `copy` may grow a document: ten times the largest object etcd stores (1.5 MB
/// of JSON is at most ~100,000 nodes), and a bound on the memory a patch file can demand.
const MAX_NODES: usize = 1_000_000;

/// How many nodes one step's `copy` operations may add over the whole stream: the size of the
/// largest object etcd stores, and a bound on the time and memory one patch file can demand.
const MAX_COPIED_PER_STEP: usize = 100_000;

/// How many nodes `value` holds, counting stopped just past `MAX_NODES`; without recursion,
/// as copies can nest deeper than the stack allows.
fn count_nodes(value: &Value) -> usize {
    let mut count = 0;
    let mut pending = vec![value];
    while let Some(v) = pending.pop() {
        count += 1;
        if count > MAX_NODES {
            break;
        }
        match v {
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => pending.extend(map.values()),
            _ => {}
        }
    }
    count
}

/// For `ifAbsent`: the path holds a value already, or (for an append) the list holds the
/// value. An explicit `null` (`annotations:` with nothing after it) is absent, as it is to
/// Kubernetes, so `add /metadata/annotations {}` replaces it.
fn already_there(doc: &Value, path: &Pointer, value: &Value) -> bool {
    match path.split_back() {
        Some((parent, last)) if last.decoded() == "-" => doc
            .at(parent.as_str())
            .and_then(Value::as_array)
            .is_some_and(|items| items.contains(value)),
        _ => doc.at(path.as_str()).is_some_and(|v| !v.is_null()),
    }
}

fn patch(doc: &mut Value, op: PatchOperation) -> Result<()> {
    let path = op.path().to_owned();
    json_patch::patch(doc, &[op]).map_err(|e| match e.kind {
        PatchErrorKind::InvalidPointer => {
            anyhow!("{path}: the path (or its parent) does not exist")
        }
        PatchErrorKind::InvalidFromPointer => anyhow!("`from` does not exist"),
        other => anyhow!("{path}: {other}"),
    })
}

/// RFC 6902 `remove`, keeping the order of the remaining keys (json-patch's own `remove`
/// swaps the last key into the hole).
fn remove_keeping_order(doc: &mut Value, path: &Pointer) -> Result<Value> {
    let missing = || anyhow!("{path}: nothing there to remove");
    let (parent, last) = path
        .split_back()
        .ok_or_else(|| anyhow!("cannot remove the whole document"))?;
    match doc.pointer_mut(parent.as_str()).ok_or_else(missing)? {
        Value::Object(map) => map
            .shift_remove(last.decoded().as_ref())
            .ok_or_else(missing),
        Value::Array(items) => {
            let index = crate::pointer::array_index(&last.decoded())
                .ok_or_else(|| anyhow!("{path}: `{}` is not a list index", last.decoded()))?;
            if index < items.len() {
                Ok(items.remove(index))
            } else {
                Err(missing())
            }
        }
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use serde_json::json;

    fn run(ops: Value, doc: &mut Value, mode: Mode) -> Result<Outcome> {
        let patch: JsonPatch = serde_json::from_value(ops).unwrap();
        let pod = Manifest::from_value(1, json!({"kind": "Pod"}));
        patch.apply(
            doc,
            &crate::transforms::test_context(mode, &pod, std::slice::from_ref(&pod)),
        )
    }

    #[test]
    fn wildcard_add_to_every_container() {
        let mut doc =
            json!({"containers": [{"name": "a"}, {"name": "b", "imagePullPolicy": "Never"}]});
        run(
            json!([{"op": "add", "path": "/containers/*/imagePullPolicy", "value": "Always"}]),
            &mut doc,
            Mode::IfAbsent,
        )
        .unwrap();
        assert_eq!(doc["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(doc["containers"][1]["imagePullPolicy"], "Never");
    }

    #[test]
    fn wildcard_over_absent_list_is_a_no_op() {
        let mut doc = json!({"spec": {}});
        run(
            json!([{"op": "remove", "path": "/spec/initContainers/*/securityContext"}]),
            &mut doc,
            Mode::Overwrite,
        )
        .unwrap();
        assert_eq!(doc, json!({"spec": {}}));
    }

    #[test]
    fn remove_keeps_key_order() {
        let mut doc = json!({"a": 1, "b": 2, "c": 3, "d": 4});
        run(
            json!([{"op": "remove", "path": "/b"}]),
            &mut doc,
            Mode::Overwrite,
        )
        .unwrap();
        let keys: Vec<_> = doc.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["a", "c", "d"]);
    }

    #[test]
    fn remove_every_element_back_to_front() {
        let mut doc = json!({"l": [1, 2, 3]});
        run(
            json!([{"op": "remove", "path": "/l/*"}]),
            &mut doc,
            Mode::Overwrite,
        )
        .unwrap();
        assert_eq!(doc, json!({"l": []}));
    }

    #[test]
    fn append_if_absent_is_idempotent() {
        let mut doc = json!({"drop": ["NET_RAW"]});
        let ops = json!([{"op": "add", "path": "/drop/-", "value": "ALL"}]);
        run(ops.clone(), &mut doc, Mode::IfAbsent).unwrap();
        run(ops, &mut doc, Mode::IfAbsent).unwrap();
        assert_eq!(doc, json!({"drop": ["NET_RAW", "ALL"]}));
    }

    #[test]
    fn if_absent_replaces_explicit_nulls() {
        // gitea's postgresql-hl Service renders `annotations:` with nothing after it.
        let mut doc = json!({"metadata": {"annotations": null}});
        let ops = json!([
            {"op": "add", "path": "/metadata/annotations", "value": {}},
            {"op": "add", "path": "/metadata/annotations/x", "value": "y"}
        ]);
        run(ops.clone(), &mut doc, Mode::IfAbsent).unwrap();
        assert_eq!(doc, json!({"metadata": {"annotations": {"x": "y"}}}));
        run(ops, &mut doc, Mode::IfAbsent).unwrap();
        assert_eq!(doc, json!({"metadata": {"annotations": {"x": "y"}}}));
    }

    #[test]
    fn rfc_6902_null_values_number_equality_and_strict_indexes() {
        let mut doc = json!({"a": 1, "l": [1, 2, 3]});
        run(
            json!([
                {"op": "add", "path": "/n", "value": null},
                {"op": "test", "path": "/n", "value": null},
                {"op": "replace", "path": "/a", "value": null},
                {"op": "test", "path": "/l/0", "value": 1.0}
            ]),
            &mut doc,
            Mode::Overwrite,
        )
        .unwrap();
        assert_eq!(doc, json!({"a": null, "l": [1, 2, 3], "n": null}));
        assert!(
            serde_json::from_value::<JsonPatch>(json!([{"op": "add", "path": "/x"}])).is_err(),
            "a missing value is still an error"
        );
        for (op, path) in [("remove", "/l/01"), ("remove", "/l/+1"), ("move", "/l/01")] {
            let ops = if op == "move" {
                json!([{"op": op, "from": path, "path": "/m"}])
            } else {
                json!([{"op": op, "path": path}])
            };
            let e = run(ops, &mut doc, Mode::Overwrite).unwrap_err();
            assert!(
                format!("{e:#}").contains("is not a list index"),
                "{op} {path}: {e:#}"
            );
        }
        assert_eq!(doc["l"], json!([1, 2, 3]));
    }

    #[test]
    fn a_name_filter_that_matches_nothing_fails() {
        let mut doc = json!({"containers": [{"name": "web", "image": "a"}]});
        for op in [
            json!({"op": "replace", "path": "/containers/[name=wbe]/image", "value": "b"}),
            json!({"op": "remove", "path": "/containers/[name=wbe]/image"}),
            json!({"op": "test", "path": "/containers/[name=wbe]/image", "value": "a"}),
        ] {
            let e = run(json!([op]), &mut doc, Mode::Overwrite).unwrap_err();
            assert!(
                format!("{e:#}")
                    .ends_with("/containers/[name=wbe]/image: no element matches the path"),
                "{e:#}"
            );
        }
        run(
            json!([{"op": "test", "path": "/containers/[name=web]/image", "value": "a"}]),
            &mut doc,
            Mode::Overwrite,
        )
        .unwrap();
    }

    #[test]
    fn failures_say_where() {
        let mut doc = json!({"a": 1});
        let e = run(
            json!([{"op": "test", "path": "/a", "value": 2}]),
            &mut doc,
            Mode::Overwrite,
        )
        .unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "operation 1 (`test` /a): test failed: /a is 1, expected 2"
        );
        let e = run(
            json!([{"op": "add", "path": "/x/y", "value": 2}]),
            &mut doc,
            Mode::Overwrite,
        )
        .unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "operation 1 (`add` /x/y): /x/y: the path (or its parent) does not exist"
        );
    }

    #[test]
    fn copies_cannot_grow_a_document_without_bound() {
        let mut doc = json!({"data": {"k": "v"}});
        let ops: Vec<Value> = (0..40)
            .map(|i| json!({"op": "copy", "from": "/data", "path": format!("/data/x{i}")}))
            .collect();
        let e = run(Value::Array(ops), &mut doc, Mode::Overwrite).unwrap_err();
        assert!(
            format!("{e:#}")
                .contains("the step's copies would add more than 100000 nodes to the stream"),
            "{e:#}"
        );
    }

    #[test]
    fn move_keeps_order_of_the_rest() {
        let mut doc = json!({"a": 1, "b": 2, "c": 3});
        run(
            json!([{"op": "move", "from": "/a", "path": "/z"}]),
            &mut doc,
            Mode::Overwrite,
        )
        .unwrap();
        let keys: Vec<_> = doc.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["b", "c", "z"]);
    }
}
