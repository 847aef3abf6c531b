//! What the scheduling and cross-resource transforms need to know about workloads: where a
//! target's pod spec is, Kubernetes label selectors, and the pod templates of the stream.

use super::Context;
use crate::manifest::Manifest;
use crate::pod::{self, PodTemplatePath};
use crate::pointer::Lookup;
use serde_json::{Map, Value};

/// The pod spec a step's target holds: the resource's pod template spec for `target:
/// resource`, the target itself for `target: podSpec`. `None` for anything else.
pub fn pod_spec<'v>(target: &'v mut Value, ctx: &Context) -> Option<&'v mut Value> {
    super::targets::pod_spec(target, ctx).ok()
}

pub use super::targets::is_resource;

/// The pod template (`metadata` + `spec`) of a document, if it has one.
pub fn pod_template<'m>(m: &'m Manifest, custom: &[PodTemplatePath]) -> Option<&'m Value> {
    let path = pod::template_path(m.kind(), m.group(), custom)?;
    m.value.as_ref()?.at(path).filter(|t| t.is_object())
}

/// The labels of a pod template.
pub fn template_labels(template: &Value) -> Option<&Map<String, Value>> {
    template.at("/metadata/labels")?.as_object()
}

/// Does a Kubernetes `LabelSelector` (`matchLabels` + `matchExpressions`) select pods with
/// these labels? An empty selector selects everything, a missing (`null`) one nothing, as in
/// `metav1.LabelSelectorAsSelector`. A selector we cannot read selects nothing.
pub fn selector_matches(selector: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let Some(selector) = selector.as_object() else {
        return false;
    };
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    let match_labels_ok = match selector.get("matchLabels") {
        None | Some(Value::Null) => true,
        Some(Value::Object(wanted)) => wanted
            .iter()
            .all(|(k, v)| v.as_str().is_some_and(|v| label(k) == Some(v))),
        Some(_) => false,
    };
    let expressions_ok = match selector.get("matchExpressions") {
        None | Some(Value::Null) => true,
        Some(Value::Array(expressions)) => expressions.iter().all(|e| {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|vs| vs.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match e.get("operator").and_then(Value::as_str) {
                Some("In") => label(key).is_some_and(|v| values.contains(&v)),
                Some("NotIn") => label(key).is_none_or(|v| !values.contains(&v)),
                Some("Exists") => label(key).is_some(),
                Some("DoesNotExist") => label(key).is_none(),
                _ => false,
            }
        }),
        Some(_) => false,
    };
    match_labels_ok && expressions_ok
}

/// The labels, `key: value`, a pod must carry for `selector` to select it: its `matchLabels`
/// and its `In` expressions of one value. Every pod [`selector_matches`] selects has them all
/// (an index keyed by them finds every candidate); a selector without any selects on other
/// grounds or nothing.
pub fn required_labels(selector: &Value) -> Vec<(&str, &str)> {
    let mut required: Vec<(&str, &str)> = Vec::new();
    if let Some(wanted) = selector.get("matchLabels").and_then(Value::as_object) {
        required.extend(
            wanted
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?))),
        );
    }
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    for e in expressions.into_iter().flatten() {
        let values = e.get("values").and_then(Value::as_array);
        if let (Some("In"), Some(key), Some([value])) = (
            e.get("operator").and_then(Value::as_str),
            e.get("key").and_then(Value::as_str),
            values.map(Vec::as_slice),
        ) && let Some(value) = value.as_str()
        {
            required.push((key, value));
        }
    }
    required
}

/// The label keys a pod must carry (with a string value) for `selector` to select it: those
/// of its `Exists` expressions.
pub fn required_keys(selector: &Value) -> Vec<&str> {
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    (expressions.into_iter().flatten())
        .filter(|e| e.get("operator").and_then(Value::as_str) == Some("Exists"))
        .filter_map(|e| e.get("key").and_then(Value::as_str))
        .collect()
}

/// The first `In` expression of `selector` with several values, as its key and the values
/// that are strings: every pod the selector selects carries one of them.
pub fn label_alternatives(selector: &Value) -> Option<(&str, Vec<&str>)> {
    let expressions = selector.get("matchExpressions").and_then(Value::as_array)?;
    expressions.iter().find_map(|e| {
        let values = e.get("values").and_then(Value::as_array)?;
        match (
            e.get("operator").and_then(Value::as_str),
            e.get("key").and_then(Value::as_str),
        ) {
            (Some("In"), Some(key)) if values.len() > 1 => {
                Some((key, values.iter().filter_map(Value::as_str).collect()))
            }
            _ => None,
        }
    })
}

/// Does a Service's `spec.selector` (a plain map) select pods with these labels? A Service
/// without a selector selects no pods (its endpoints are managed elsewhere).
pub fn service_selects(selector: &Map<String, Value>, labels: Option<&Map<String, Value>>) -> bool {
    !selector.is_empty()
        && selector.iter().all(|(k, v)| {
            v.as_str()
                .is_some_and(|v| labels.and_then(|l| l.get(k)).and_then(Value::as_str) == Some(v))
        })
}

/// The number a container port reference (`8080` or `http`) stands for in this container.
pub fn resolve_port(port: &Value, container: &Value) -> Option<u64> {
    match port {
        Value::Number(n) => n.as_u64(),
        Value::String(name) => name.parse().ok().or_else(|| {
            container
                .get("ports")?
                .as_array()?
                .iter()
                .find(|p| p.get("name").and_then(Value::as_str) == Some(name))?
                .get("containerPort")?
                .as_u64()
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn label_selectors_follow_kubernetes() {
        let l = labels(json!({"app": "web", "tier": "api"}));
        assert!(selector_matches(&json!({}), Some(&l)), "empty selects all");
        assert!(
            !selector_matches(&Value::Null, Some(&l)),
            "null selects none"
        );
        assert!(selector_matches(
            &json!({"matchLabels": {"app": "web"}}),
            Some(&l)
        ));
        assert!(!selector_matches(
            &json!({"matchLabels": {"app": "db"}}),
            Some(&l)
        ));
        let expr = |op: &str, values: Value| json!({"matchExpressions": [{"key": "tier", "operator": op, "values": values}]});
        assert!(selector_matches(&expr("In", json!(["api", "x"])), Some(&l)));
        assert!(!selector_matches(&expr("NotIn", json!(["api"])), Some(&l)));
        assert!(selector_matches(&expr("Exists", Value::Null), Some(&l)));
        assert!(!selector_matches(
            &expr("DoesNotExist", Value::Null),
            Some(&l)
        ));
        assert!(!selector_matches(&expr("Bogus", Value::Null), Some(&l)));
    }

    #[test]
    fn service_selectors_and_ports() {
        let l = labels(json!({"app": "web"}));
        assert!(service_selects(&labels(json!({"app": "web"})), Some(&l)));
        assert!(!service_selects(&labels(json!({})), Some(&l)));
        let c = json!({"ports": [{"name": "http", "containerPort": 8080}]});
        assert_eq!(resolve_port(&json!("http"), &c), Some(8080));
        assert_eq!(resolve_port(&json!(9000), &c), Some(9000));
        assert_eq!(resolve_port(&json!("metrics"), &c), None);
    }
}
