//! `kind: List` (and `DeploymentList`, `SecretList`…): Helm and `kubectl apply` take a List
//! apart and apply its items, so every item is a resource that steps select, change and
//! report, like a document of its own. The pipeline opens each List into its items before
//! the steps run and closes them back into the List after.

use crate::manifest::{Manifest, header};
use anyhow::Result;
use serde_json::Value;
use std::collections::HashMap;

/// Is this value a list of resources (`kind` ending in `List`, with `items`)?
pub fn is_list(value: &Value) -> bool {
    value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.ends_with("List"))
        && value.get("items").is_some_and(Value::is_array)
}

/// The Lists of the stream, by document index, while they are open.
#[derive(Default)]
pub struct Opened(HashMap<usize, Value>);

/// Puts each List's items into the stream right after it, as documents of their own (with
/// the List's document index and template), and takes the List's value out meanwhile so no
/// step selects the List itself.
pub fn open(manifests: &mut Vec<Manifest>) -> Result<Opened> {
    let mut opened = Opened::default();
    let mut i = 0;
    while i < manifests.len() {
        let m = &mut manifests[i];
        i += 1;
        // The head tells whether it can be a List; only those are read in full here.
        if m.generated || !m.kind().ends_with("List") {
            continue;
        }
        m.read_fully()?;
        let Some(value) = m.value.take_if(|v| is_list(v)) else {
            continue;
        };
        let source = match m.source() {
            Some(source) => format!("# Source: {source}\n"),
            None => header(&m.raw).to_string(),
        };
        let index = m.index;
        let items: Vec<Manifest> = value
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(n, item)| {
                let mut item = Manifest::from_value(index, item.clone());
                item.raw = source.clone().into();
                item.list_item = Some(n);
                item
            })
            .collect();
        let count = items.len();
        manifests.splice(i..i, items);
        i += count;
        opened.0.insert(index, value);
    }
    Ok(opened)
}

/// Puts the items back into their Lists; a List whose items changed is changed. Documents
/// steps generated for an item stay in the stream, after the List.
pub fn close(manifests: &mut Vec<Manifest>, mut opened: Opened) {
    if opened.0.is_empty() {
        return;
    }
    let mut out = Vec::with_capacity(manifests.len());
    let mut list_at: Option<usize> = None;
    let mut later = Vec::new();
    for m in manifests.drain(..) {
        if m.list_item.is_some() {
            if let Some(at) = list_at {
                put_back(&mut out[at], m);
            }
            continue;
        }
        if m.generated && list_at.is_some() {
            later.push(m);
            continue;
        }
        out.append(&mut later);
        list_at = None;
        let mut m = m;
        if !m.generated
            && m.value.is_none()
            && let Some(value) = opened.0.remove(&m.index)
        {
            m.value = Some(value);
            m.before_change = None;
            m.first_change = None;
            list_at = Some(out.len());
        }
        out.push(m);
    }
    out.append(&mut later);
    *manifests = out;
}

/// Writes an item's value back into its List, marking the List changed when the item is.
fn put_back(list: &mut Manifest, item: Manifest) {
    let (Some(n), true) = (item.list_item, item.is_changed()) else {
        return;
    };
    if list.before_change.is_none() {
        let before = match list.before() {
            Some(before) => Some(before.into_owned()),
            None => list.value.clone(),
        };
        list.before_change = before.map(Box::new);
        list.first_change = None;
    }
    let slot = list
        .value
        .as_mut()
        .and_then(|value| value.get_mut("items"))
        .and_then(|items| items.get_mut(n));
    if let (Some(slot), Some(new)) = (slot, item.value) {
        *slot = new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream;
    use serde_json::json;

    #[test]
    fn items_become_resources_and_go_back_into_their_list() {
        let input = "# Source: c/templates/list.yaml\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n";
        let mut s = stream::read_lazily(input.as_bytes().to_vec()).unwrap();
        let opened = open(&mut s.manifests).unwrap();
        let ids: Vec<_> = s.manifests.iter().map(Manifest::id).collect();
        assert_eq!(
            ids,
            [
                "document 1",
                "ConfigMap/(release namespace)/a",
                "Secret/(release namespace)/b",
                "Service/(release namespace)/s"
            ]
        );
        assert_eq!(s.manifests[2].source(), Some("c/templates/list.yaml"));
        assert_eq!(s.manifests[2].index, 1);
        s.manifests[2].before_change = s.manifests[2].value.clone().map(Box::new);
        s.manifests[2].value =
            Some(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c"}}));
        close(&mut s.manifests, opened);
        assert_eq!(s.manifests.len(), 2);
        assert!(s.manifests[0].is_changed());
        assert_eq!(
            s.manifests[0].value.as_ref().unwrap()["items"][1]["metadata"]["name"],
            "c"
        );
        assert!(!s.manifests[1].is_changed());
    }
}
