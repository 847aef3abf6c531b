//! Keeps Secret and ConfigMap data out of reports, diffs and error messages: every value
//! under `data`, `stringData` and `binaryData` is shown as `<redacted>`; keys stay visible.
//! A `List` (or `SecretList`, `ConfigMapList`) is redacted item by item.

use crate::pointer::Lookup;
use serde_json::Value;
use std::borrow::Cow;

/// What is shown instead of a Secret or ConfigMap data value.
pub const REDACTED: &str = "<redacted>";

/// What a diff shows for a data value that a step changed.
pub const REDACTED_CHANGED: &str = "<redacted, changed>";

const DATA_FIELDS: [&str; 3] = ["data", "stringData", "binaryData"];

/// The document as reports and diffs may show it: borrowed unchanged when it holds no
/// Secret or ConfigMap data.
pub fn document(doc: &Value) -> Cow<'_, Value> {
    if !holds_hidden_values(doc) {
        return Cow::Borrowed(doc);
    }
    let mut shown = doc.clone();
    redact_in_place(&mut shown);
    Cow::Owned(shown)
}

/// Two versions of a document as a diff may show them: redacted, with the data values that
/// differ marked [`REDACTED_CHANGED`] in `after` (otherwise a changed value would look the
/// same on both sides).
pub fn pair(before: &Value, after: &Value) -> (Value, Value) {
    let shown_before = document(before).into_owned();
    let mut shown_after = document(after).into_owned();
    mark_changed(before, after, &mut shown_after);
    (shown_before, shown_after)
}

/// Marks in `shown_after` the data values that differ between `before` and `after`, item by
/// item in a List.
fn mark_changed(before: &Value, after: &Value, shown_after: &mut Value) {
    if carries_data(after) {
        for field in DATA_FIELDS {
            let (Some(Value::Object(old)), Some(Value::Object(new))) =
                (before.get(field), after.get(field))
            else {
                continue;
            };
            for (key, value) in new {
                if old.get(key).is_some_and(|old_value| old_value != value) {
                    shown_after[field][key] = REDACTED_CHANGED.into();
                }
            }
        }
    }
    if let (Some(old), Some(new)) = (list_items(before), list_items(after)) {
        for (i, (old, new)) in old.iter().zip(new).enumerate() {
            if let Some(shown) = shown_after.pointer_mut(&format!("/items/{i}")) {
                mark_changed(old, new, shown);
            }
        }
    }
}

/// The value at `pointer` in `original` as it may be shown, taken from `shown` (the
/// [`document`] of `original`); `None` when `original` has nothing there.
pub fn value_at(original: &Value, shown: &Value, pointer: &str) -> Option<Value> {
    original.at(pointer)?;
    // A path below a redacted value (data values should be strings, but YAML allows more).
    Some(
        shown
            .at(pointer)
            .cloned()
            .unwrap_or_else(|| REDACTED.into()),
    )
}

/// Does anything at or below `pointer` in `doc` hold Secret or ConfigMap data? Error
/// messages that would quote the value there must not.
pub fn is_hidden(doc: &Value, pointer: &str) -> bool {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    hidden(doc, &tokens)
}

fn hidden(doc: &Value, tokens: &[String]) -> bool {
    match tokens {
        [] => holds_hidden_values(doc),
        [field, ..] if carries_data(doc) && DATA_FIELDS.contains(&field.as_str()) => true,
        [items, rest @ ..] if items == "items" => {
            let Some(list) = list_items(doc) else {
                return false;
            };
            match rest {
                [] => list.iter().any(holds_hidden_values),
                [index, rest @ ..] => index
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| list.get(i))
                    .is_some_and(|item| hidden(item, rest)),
            }
        }
        _ => false,
    }
}

/// Whether a document of this kind may hold Secret or ConfigMap data: a Secret, a
/// ConfigMap, or a List (of them, maybe); any spelling of the kind.
pub fn may_carry_data(kind: &str) -> bool {
    is_data_kind(kind) || is_list_kind(kind)
}

/// A Secret or ConfigMap, however its kind is spelled (`secret`, `SECRET`…): we hide more
/// rather than guess which spellings a client accepts.
fn carries_data(doc: &Value) -> bool {
    doc.get("kind")
        .and_then(Value::as_str)
        .is_some_and(is_data_kind)
}

fn is_data_kind(kind: &str) -> bool {
    kind.eq_ignore_ascii_case("Secret") || kind.eq_ignore_ascii_case("ConfigMap")
}

/// A kind ending in `List`, however spelled.
fn is_list_kind(kind: &str) -> bool {
    kind.len() >= 4
        && (kind.get(kind.len() - 4..)).is_some_and(|end| end.eq_ignore_ascii_case("list"))
}

fn kind_is(doc: &Value, kind: &str) -> bool {
    doc.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.eq_ignore_ascii_case(kind))
}

fn list_items(doc: &Value) -> Option<&Vec<Value>> {
    if !is_list_kind(doc.get("kind")?.as_str()?) {
        return None;
    }
    doc.get("items")?.as_array()
}

/// Is `doc` a Secret, or a list holding one? (A file it is written to is made owner-only.)
pub fn holds_secret(doc: &Value) -> bool {
    kind_is(doc, "Secret") || list_items(doc).is_some_and(|items| items.iter().any(holds_secret))
}

/// The error-message side of the rule: `message` with every Secret and ConfigMap data value
/// of `docs` that it quotes replaced by [`REDACTED`]. Messages are written never to quote
/// such values (the YAML reader quotes no scalar at all, a failing `test` says
/// `<redacted>`); this is the net under every error a run can end with once the stream is
/// read (see `main.rs`). Values shorter than [`SCRUB_MIN_LEN`] are replaced only where quoted
/// (`"v"`, `'v'`, `` `v` ``), so that `line 1` stays readable.
pub fn scrub<'a>(message: &str, docs: impl IntoIterator<Item = &'a Value>) -> String {
    let mut values: Vec<String> = Vec::new();
    for doc in docs {
        hidden_scalars(doc, &mut values);
    }
    // Longest first, so a value containing another is replaced whole.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    let mut out = message.to_string();
    for value in &values {
        for quote in ['"', '\'', '`'] {
            out = out.replace(&format!("{quote}{value}{quote}"), REDACTED);
        }
        if value.chars().count() >= SCRUB_MIN_LEN {
            out = out.replace(value.as_str(), REDACTED);
        }
    }
    out
}

/// Below this many characters a data value is scrubbed only where a message quotes it.
pub const SCRUB_MIN_LEN: usize = 3;

/// Every scalar under the data fields of `doc` (and of its list items), as a message could
/// spell it: as is, JSON-escaped, and line by line.
fn hidden_scalars(doc: &Value, out: &mut Vec<String>) {
    if carries_data(doc) {
        for field in DATA_FIELDS {
            if let Some(value) = doc.get(field) {
                scalars(value, out);
            }
        }
    }
    if let Some(items) = list_items(doc) {
        for item in items {
            hidden_scalars(item, out);
        }
    }
}

fn scalars(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => map.values().for_each(|v| scalars(v, out)),
        Value::Array(items) => items.iter().for_each(|v| scalars(v, out)),
        Value::Null => {}
        Value::String(s) => {
            if s.is_empty() {
                return;
            }
            out.push(s.clone());
            let json = value.to_string();
            if let Some(inner) = json.get(1..json.len() - 1).filter(|j| j != s) {
                out.push(inner.to_string());
            }
            if s.contains('\n') {
                out.extend(
                    s.lines()
                        .filter(|l| l.trim().chars().count() >= SCRUB_MIN_LEN)
                        .map(|l| l.trim().to_string()),
                );
            }
        }
        other => out.push(other.to_string()),
    }
}

fn holds_hidden_values(doc: &Value) -> bool {
    if carries_data(doc) && DATA_FIELDS.iter().any(|f| doc.get(f).is_some()) {
        return true;
    }
    list_items(doc).is_some_and(|items| items.iter().any(holds_hidden_values))
}

fn redact_in_place(doc: &mut Value) {
    if carries_data(doc) {
        for field in DATA_FIELDS {
            match doc.get_mut(field) {
                Some(Value::Object(map)) => {
                    for value in map.values_mut() {
                        *value = REDACTED.into();
                    }
                }
                Some(Value::Null) | None => {}
                Some(other) => *other = REDACTED.into(),
            }
        }
    }
    let is_list = list_items(doc).is_some();
    if is_list && let Some(Value::Array(items)) = doc.get_mut("items") {
        items.iter_mut().for_each(redact_in_place);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hides_values_keeps_keys() {
        let secret = json!({"kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
                            "data": {"a": "c2VjcmV0"}, "stringData": {"b": "plain"}});
        assert_eq!(
            *document(&secret),
            json!({"kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
                   "data": {"a": "<redacted>"}, "stringData": {"b": "<redacted>"}})
        );
        let deployment = json!({"kind": "Deployment", "data": {"a": "visible"}});
        assert!(matches!(document(&deployment), Cow::Borrowed(_)));
        let list = json!({"kind": "List", "items": [deployment, secret]});
        let shown = document(&list);
        assert_eq!(shown["items"][0]["data"]["a"], "visible");
        assert_eq!(shown["items"][1]["data"]["a"], "<redacted>");
    }

    #[test]
    fn a_pair_marks_changed_values() {
        let before = json!({"kind": "Secret", "data": {"a": "MQ==", "b": "Mg=="}});
        let after = json!({"kind": "Secret", "data": {"a": "MQ==", "b": "Mw==", "c": "NA=="}});
        let (old, new) = pair(&before, &after);
        assert_eq!(
            old,
            json!({"kind": "Secret", "data": {"a": REDACTED, "b": REDACTED}})
        );
        assert_eq!(
            new,
            json!({"kind": "Secret", "data": {"a": REDACTED, "b": REDACTED_CHANGED, "c": REDACTED}})
        );
    }

    #[test]
    fn a_pair_marks_changed_values_inside_a_list() {
        let list = |password: &str| json!({"kind": "List", "items": [{"kind": "Pod"}, {"kind": "Secret", "stringData": {"password": password}}]});
        let (old, new) = pair(&list("hunter2"), &list("changed"));
        assert_eq!(old["items"][1]["stringData"]["password"], REDACTED);
        assert_eq!(new["items"][1]["stringData"]["password"], REDACTED_CHANGED);
    }

    #[test]
    fn knows_which_paths_are_hidden() {
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
        assert!(is_hidden(&cm, "/data/k"));
        assert!(is_hidden(&cm, "/data"));
        assert!(is_hidden(&cm, "/binaryData/new"));
        assert!(is_hidden(&cm, ""));
        assert!(!is_hidden(&cm, "/metadata/name"));
        let list = json!({"kind": "List", "items": [{"kind": "Pod"}, cm]});
        assert!(is_hidden(&list, "/items/1/data/k"));
        assert!(is_hidden(&list, "/items"));
        assert!(!is_hidden(&list, "/items/0/data"));
        assert!(!is_hidden(
            &json!({"kind": "Pod", "data": {"k": "v"}}),
            "/data/k"
        ));
    }

    #[test]
    fn any_spelling_of_the_kind_is_redacted() {
        for kind in ["secret", "SECRET", "configMap", "configmap"] {
            let doc = json!({"kind": kind, "data": {"k": "v"}});
            assert_eq!(document(&doc)["data"]["k"], REDACTED, "{kind}");
            assert!(is_hidden(&doc, "/data/k"), "{kind}");
        }
        let list =
            json!({"kind": "secretlist", "items": [{"kind": "Secret", "stringData": {"k": "v"}}]});
        assert_eq!(document(&list)["items"][0]["stringData"]["k"], REDACTED);
        assert!(holds_secret(&list));
        assert!(!holds_secret(&json!({"kind": "ConfigMap"})));
    }

    #[test]
    fn scrub_removes_quoted_data_values_from_messages() {
        let secret = json!({"kind": "Secret", "metadata": {"name": "db"},
            "stringData": {"password": "hunter2", "pin": "42", "cert": "line one\nline two\n"},
            "data": {"n": 12345}});
        let message = "line 1: Secret/db: `hunter2` is wrong, \"42\" too, and 42 stays; \
                       \"line one\\nline two\\n\" (line two); 12345";
        assert_eq!(
            scrub(message, [&secret]),
            "line 1: Secret/db: <redacted> is wrong, <redacted> too, and 42 stays; \
             <redacted> (<redacted>); <redacted>"
        );
        let pod = json!({"kind": "Pod", "data": {"k": "hunter2"}});
        assert_eq!(scrub("hunter2", [&pod]), "hunter2");
    }

    #[test]
    fn a_path_below_a_redacted_value_is_redacted_too() {
        let cm = json!({"kind": "ConfigMap", "data": {"k": {"nested": "v"}}});
        let shown = document(&cm);
        assert_eq!(
            value_at(&cm, &shown, "/data/k/nested"),
            Some(REDACTED.into())
        );
        assert_eq!(value_at(&cm, &shown, "/data/absent"), None);
    }
}
