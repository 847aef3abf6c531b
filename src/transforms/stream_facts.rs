//! What a cross-resource action reads of the other documents of the stream (the
//! PodDisruptionBudget generator: autoscalers, budgets and pod labels), kept small and
//! indexed. Built from the stream the first time an action asks during a step, or from what a
//! streaming run kept of each document on its way ([`crate::pipeline::run_streaming`]), which
//! then holds no document parsed.

use super::workloads;
use crate::manifest::Manifest;
use crate::pod::PodTemplatePath;
use crate::pointer::Lookup;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::OnceLock;

const AUTOSCALER: &str = "HorizontalPodAutoscaler";
const BUDGET: &str = "PodDisruptionBudget";

/// What is read of one resource: who it is and, by kind, the little read of it (a stream may
/// hold tens of thousands: a few allocations each).
#[derive(Debug, Clone)]
pub struct Fact {
    /// Its id (`Kind/namespace/name`, see [`Manifest::id`]), kind, API group, namespace and
    /// name, one after the other.
    text: Box<str>,
    /// Where each but the last ends in `text`.
    ends: [usize; 4],
    hook: bool,
    generated: bool,
    /// The labels of its pod template, where it has one whose labels are a map.
    pod_labels: Option<Box<Map<String, Value>>>,
    detail: Option<Box<Detail>>,
}

/// What is read of a budget or an autoscaler besides its head and pod labels.
#[derive(Debug, Clone)]
enum Detail {
    /// A PodDisruptionBudget's `spec.selector`.
    Budget(Option<Value>),
    /// An autoscaler's `spec.scaleTargetRef` kind and name (where strings) and
    /// `spec.minReplicas`.
    Autoscaler {
        kind: Option<Box<str>>,
        name: Option<Box<str>>,
        min_replicas: Option<Value>,
    },
}

impl Fact {
    /// What is read of `m` (`templates`: the run's declared pod templates): of an autoscaler,
    /// a budget (any API group), or a resource whose pod template has labels. `None` for any
    /// other document, which no cross-resource action reads.
    pub fn of(m: &Manifest, templates: &[PodTemplatePath]) -> Option<Fact> {
        if !m.is_resource() {
            return None;
        }
        let pod_labels = workloads::pod_template(m, templates)
            .and_then(workloads::template_labels)
            .map(|labels| Box::new(labels.clone()));
        let at = |pointer: &str| m.value.as_ref().and_then(|v| v.at(pointer));
        let text = |pointer: &str| at(pointer).and_then(Value::as_str).map(Box::from);
        let detail = match m.kind() {
            BUDGET => Some(Detail::Budget(at("/spec/selector").cloned())),
            AUTOSCALER => Some(Detail::Autoscaler {
                kind: text("/spec/scaleTargetRef/kind"),
                name: text("/spec/scaleTargetRef/name"),
                min_replicas: at("/spec/minReplicas").cloned(),
            }),
            _ if pod_labels.is_some() => None,
            _ => return None,
        };
        let parts = [&*m.id(), m.kind(), m.group(), m.namespace(), m.name()];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0; 4];
        for (n, part) in parts.iter().enumerate() {
            text.push_str(part);
            if let Some(end) = ends.get_mut(n) {
                *end = text.len();
            }
        }
        Some(Fact {
            text: text.into(),
            ends,
            hook: m.is_hook(),
            generated: m.generated,
            pod_labels,
            detail: detail.map(Box::new),
        })
    }

    /// Part `n` of `text`.
    fn part(&self, n: usize) -> &str {
        let start = match n {
            0 => 0,
            n => self.ends[n - 1],
        };
        let end = self.ends.get(n).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or("")
    }

    /// `Kind/namespace/name` (see [`Manifest::id`]).
    pub fn id(&self) -> &str {
        self.part(0)
    }

    pub fn kind(&self) -> &str {
        self.part(1)
    }

    pub fn group(&self) -> &str {
        self.part(2)
    }

    pub fn namespace(&self) -> &str {
        self.part(3)
    }

    pub fn name(&self) -> &str {
        self.part(4)
    }

    pub fn is_hook(&self) -> bool {
        self.hook
    }

    /// Made by a step of this run, not read from the input.
    pub fn generated(&self) -> bool {
        self.generated
    }

    pub fn pod_labels(&self) -> Option<&Map<String, Value>> {
        self.pod_labels.as_deref()
    }

    /// A budget's `spec.selector`.
    pub fn selector(&self) -> Option<&Value> {
        match self.detail.as_deref() {
            Some(Detail::Budget(selector)) => selector.as_ref(),
            _ => None,
        }
    }

    /// An autoscaler's `spec.scaleTargetRef` kind and name.
    pub fn scale_target(&self) -> (Option<&str>, Option<&str>) {
        match self.detail.as_deref() {
            Some(Detail::Autoscaler { kind, name, .. }) => (kind.as_deref(), name.as_deref()),
            _ => (None, None),
        }
    }

    /// An autoscaler's `spec.minReplicas`.
    pub fn min_replicas(&self) -> Option<&Value> {
        match self.detail.as_deref() {
            Some(Detail::Autoscaler { min_replicas, .. }) => min_replicas.as_ref(),
            _ => None,
        }
    }
}

/// The facts of the stream (see [`Fact`]), indexed, built the first time an action asks during
/// a step (documents a step generates join the stream after it), or given whole. A step that
/// changes a resource's kind, namespace or pod labels would not show here; the actions that
/// use the index change nothing.
#[derive(Default)]
pub struct StreamIndex {
    facts: OnceLock<Facts>,
}

impl StreamIndex {
    /// An index of these facts, those of the stream in its order.
    pub fn of(facts: impl IntoIterator<Item = Fact>) -> StreamIndex {
        StreamIndex {
            facts: OnceLock::from(Facts::new(facts)),
        }
    }

    /// The facts of `stream`, which is read for them the first time only.
    pub fn facts(&self, stream: &[Manifest], templates: &[PodTemplatePath]) -> &Facts {
        self.facts
            .get_or_init(|| Facts::new(stream.iter().filter_map(|m| Fact::of(m, templates))))
    }
}

/// The facts of the stream, in its order, with the lookups actions make.
pub struct Facts {
    all: Vec<Fact>,
    /// By kind and namespace.
    kinds: HashMap<(Box<str>, Box<str>), Vec<usize>>,
    /// Those with pod labels, by namespace and each label.
    labels: HashMap<(Box<str>, String, String), Vec<usize>>,
    /// Those with pod labels, by namespace and each key whose value is a string.
    keys: HashMap<(Box<str>, String), Vec<usize>>,
    /// Those with pod labels, by namespace.
    with_pods: HashMap<Box<str>, Vec<usize>>,
    budgets: Budgets,
}

impl Facts {
    fn new(facts: impl IntoIterator<Item = Fact>) -> Facts {
        let mut index = Facts {
            all: Vec::new(),
            kinds: HashMap::new(),
            labels: HashMap::new(),
            keys: HashMap::new(),
            with_pods: HashMap::new(),
            budgets: Budgets::default(),
        };
        for fact in facts {
            let at = index.all.len();
            (index.kinds)
                .entry((fact.kind().into(), fact.namespace().into()))
                .or_default()
                .push(at);
            if fact.pod_labels.is_some() {
                (index.with_pods)
                    .entry(fact.namespace().into())
                    .or_default()
                    .push(at);
            }
            for (k, v) in fact.pod_labels.iter().flat_map(|labels| labels.iter()) {
                if let Some(v) = v.as_str() {
                    (index.keys)
                        .entry((fact.namespace().into(), k.clone()))
                        .or_default()
                        .push(at);
                    (index.labels)
                        .entry((fact.namespace().into(), k.clone(), v.to_string()))
                        .or_default()
                        .push(at);
                }
            }
            if fact.kind() == BUDGET {
                index.budgets.add(fact.clone());
            }
            index.all.push(fact);
        }
        index
    }

    /// The resources of `namespace` with pod labels that `selector` could select, in stream
    /// order: those carrying the one of its required labels ([`workloads::required_labels`])
    /// that the fewest carry, or without any, every one of the namespace. (Selectors that all
    /// start with the same label, `tier: web`, must not make each lookup a scan.)
    pub fn with_pods_selectable_by<'s>(
        &'s self,
        namespace: &str,
        selector: &Value,
    ) -> impl Iterator<Item = &'s Fact> {
        let namespace: Box<str> = namespace.into();
        let carrying = |(k, v): (&str, &str)| {
            let key = (namespace.clone(), k.to_string(), v.to_string());
            self.labels.get(&key).map_or(&[][..], Vec::as_slice)
        };
        // The fewest carrying one required label, or one of the values of an `In`.
        let with_key = |k: &str| {
            let key = (namespace.clone(), k.to_string());
            self.keys.get(&key).map_or(&[][..], Vec::as_slice)
        };
        let required = (workloads::required_labels(selector)
            .into_iter()
            .map(carrying))
        .chain(workloads::required_keys(selector).into_iter().map(with_key));
        let fewest = required.min_by_key(|found| found.len());
        let alternatives = workloads::label_alternatives(selector).map(|(key, values)| {
            let found: Vec<&[usize]> = (values.into_iter())
                .map(|value| carrying((key, value)))
                .collect();
            found
        });
        let found: Vec<usize> = match (fewest, alternatives) {
            (Some(fewest), Some(any))
                if fewest.len() <= any.iter().map(|found| found.len()).sum() =>
            {
                fewest.to_vec()
            }
            (_, Some(any)) => {
                let mut any: Vec<usize> = any.concat();
                any.sort_unstable();
                any.dedup();
                any
            }
            (Some(fewest), None) => fewest.to_vec(),
            (None, None) => (self.with_pods.get(&namespace)).map_or_else(Vec::new, Vec::clone),
        };
        found.into_iter().map(|i| &self.all[i])
    }

    /// The resources of `kind` in `namespace` (any API group), in stream order.
    pub fn of_kind<'s>(&'s self, kind: &str, namespace: &str) -> impl Iterator<Item = &'s Fact> {
        let found = self.kinds.get(&(Box::from(kind), Box::from(namespace)));
        found.into_iter().flatten().map(|&i| &self.all[i])
    }

    /// The stream's PodDisruptionBudgets (any API group).
    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }
}

/// PodDisruptionBudgets (of the stream, or generated by a step so far) by namespace and the
/// labels a pod must carry for each to select it ([`workloads::required_labels`]), and by
/// namespace and name: which of them could select pods with given labels is a walk over the
/// few whose required labels the pods have, not a scan of every one. The required labels,
/// sorted, are paths in a trie from the namespace's root; the pods' labels, sorted, lead to
/// every budget whose path is a subsequence of them.
#[derive(Default)]
pub struct Budgets {
    all: Vec<Fact>,
    roots: HashMap<Box<str>, usize>,
    /// The budgets whose path ends at each node.
    ends: Vec<Vec<usize>>,
    /// (node, hash of a label, or of a key alone) → the edges from the node with that hash.
    edges: HashMap<(usize, u64), Vec<Edge>>,
    hasher: std::collections::hash_map::RandomState,
    /// Budgets that require no label, by namespace: candidates for every pod.
    unlabelled: HashMap<Box<str>, Vec<usize>>,
    by_name: HashMap<(Box<str>, Box<str>), Vec<usize>>,
}

/// A label, key and value (none: any value), and the node it leads to.
type Edge = (Box<str>, Option<Box<str>>, usize);

impl Budgets {
    /// Files a budget (after those filed before).
    pub fn add(&mut self, budget: Fact) {
        let at = self.all.len();
        let selector = budget.selector().unwrap_or(&Value::Null);
        let mut required: Vec<(&str, Option<&str>)> = (workloads::required_labels(selector))
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .collect();
        required.extend(
            workloads::required_keys(selector)
                .into_iter()
                .map(|k| (k, None)),
        );
        // One path each for the values of an `In` expression: a pod it selects carries one.
        let paths: Vec<Vec<(&str, Option<&str>)>> = match workloads::label_alternatives(selector) {
            Some((key, values)) => (values.into_iter())
                .map(|value| [&required[..], &[(key, Some(value))]].concat())
                .collect(),
            None => vec![required],
        };
        for path in paths {
            self.file(at, budget.namespace(), path);
        }
        (self.by_name)
            .entry((budget.namespace().into(), budget.name().into()))
            .or_default()
            .push(at);
        self.all.push(budget);
    }

    /// Files budget `at` of `namespace` under the labels a pod must carry for it to select it.
    fn file(&mut self, at: usize, namespace: &str, mut required: Vec<(&str, Option<&str>)>) {
        required.sort_unstable();
        required.dedup();
        // A key required with a value needs no entry of its own: one label meets both.
        let valued: Vec<&str> = (required.iter())
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| *k)
            .collect();
        required.retain(|(k, v)| v.is_some() || !valued.contains(k));
        if required.is_empty() {
            let list = self.unlabelled.entry(namespace.into()).or_default();
            list.push(at);
            return;
        }
        let mut node = match self.roots.get(namespace) {
            Some(&root) => root,
            None => {
                let root = self.new_node();
                self.roots.insert(namespace.into(), root);
                root
            }
        };
        for (k, v) in required {
            node = match self.child(node, k, v) {
                Some(child) => child,
                None => {
                    let child = self.new_node();
                    let hash = self.hash(k, v);
                    let edge = (k.into(), v.map(Box::from), child);
                    self.edges.entry((node, hash)).or_default().push(edge);
                    child
                }
            };
        }
        self.ends[node].push(at);
    }

    fn new_node(&mut self) -> usize {
        self.ends.push(Vec::new());
        self.ends.len() - 1
    }

    fn hash(&self, key: &str, value: Option<&str>) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one((key, value))
    }

    fn child(&self, node: usize, key: &str, value: Option<&str>) -> Option<usize> {
        let edges = self.edges.get(&(node, self.hash(key, value)))?;
        (edges.iter())
            .find(|(k, v, _)| &**k == key && v.as_deref() == value)
            .map(|&(_, _, child)| child)
    }

    /// Files `m` if it is a PodDisruptionBudget (of any API group).
    pub fn add_if_budget(&mut self, m: &Manifest, templates: &[PodTemplatePath]) {
        if m.kind() == BUDGET
            && let Some(fact) = Fact::of(m, templates)
        {
            self.add(fact);
        }
    }

    /// Every budget of `namespace` whose selector could select pods with `labels` (one whose
    /// required labels the pods lack cannot), and those named `name`, in the order filed.
    pub fn candidates(
        &self,
        namespace: &str,
        labels: Option<&Map<String, Value>>,
        name: Option<&str>,
    ) -> Vec<&Fact> {
        let mut found: Vec<usize> = Vec::new();
        if let Some(&root) = self.roots.get(namespace) {
            let mut have: Vec<(&str, &str)> = (labels.into_iter().flatten())
                .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                .collect();
            have.sort_unstable();
            // (a node, the first of `have` that may follow its path)
            let mut walk = vec![(root, 0)];
            while let Some((node, from)) = walk.pop() {
                found.extend(&self.ends[node]);
                for (n, (k, v)) in have.iter().enumerate().skip(from) {
                    // The label, or its key alone (an `Exists`).
                    for value in [Some(*v), None] {
                        if let Some(child) = self.child(node, k, value) {
                            walk.push((child, n + 1));
                        }
                    }
                }
            }
        }
        found.extend(self.unlabelled.get(namespace).into_iter().flatten());
        if let Some(name) = name {
            let key = (Box::from(namespace), Box::from(name));
            found.extend(self.by_name.get(&key).into_iter().flatten());
        }
        found.sort_unstable();
        found.dedup();
        found.into_iter().map(|i| &self.all[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::workloads::selector_matches;
    use proptest::prelude::*;
    use serde_json::json;

    const LABELS: &[(&str, &str)] = &[
        ("app", "x"),
        ("app", "y"),
        ("tier", "web"),
        ("c", "1"),
        ("app", "z"),
        ("c", "z"),
    ];

    fn labels(picks: &[usize]) -> Map<String, Value> {
        picks
            .iter()
            .map(|&i| (LABELS[i].0.to_string(), json!(LABELS[i].1)))
            .collect()
    }

    /// A selector of `matchLabels` and `In`/`Exists`/`NotIn` expressions from `picks`.
    fn selector(match_labels: &[usize], expressions: &[(usize, usize)]) -> Value {
        let expressions: Vec<Value> = (expressions.iter())
            .map(|&(i, op)| {
                let (key, value) = LABELS[i];
                match op {
                    0 => json!({"key": key, "operator": "In", "values": [value]}),
                    1 => json!({"key": key, "operator": "In", "values": [value, "z"]}),
                    2 => json!({"key": key, "operator": "Exists"}),
                    _ => json!({"key": key, "operator": "NotIn", "values": [value]}),
                }
            })
            .collect();
        json!({"matchLabels": labels(match_labels), "matchExpressions": expressions})
    }

    fn manifest(kind: &str, name: String, namespace: &str, spec: Value) -> Manifest {
        let api = if kind == BUDGET {
            "policy/v1"
        } else {
            "apps/v1"
        };
        Manifest::from_value(
            1,
            json!({"apiVersion": api, "kind": kind,
                   "metadata": {"name": name, "namespace": namespace}, "spec": spec}),
        )
    }

    fn picks() -> impl Strategy<Value = Vec<usize>> {
        prop::collection::vec(0..LABELS.len(), 0..3)
    }

    fn expressions() -> impl Strategy<Value = Vec<(usize, usize)>> {
        prop::collection::vec((0..LABELS.len(), 0..4usize), 0..2)
    }

    proptest! {
        /// The lookups find, in stream order, every budget and every workload a scan would
        /// find: whatever the selector selects, and the budget of that name.
        #[test]
        fn lookups_find_what_a_scan_finds(
            budgets in prop::collection::vec((picks(), expressions(), 0..2usize), 0..12),
            pods in prop::collection::vec((picks(), 0..2usize), 0..12),
            query in (picks(), picks(), expressions(), 0..2usize, 0..12usize),
        ) {
            let namespaces = ["a", "b"];
            let mut index = Budgets::default();
            let mut filed = Vec::new();
            for (n, (match_labels, expressions, ns)) in budgets.iter().enumerate() {
                let spec = json!({"selector": selector(match_labels, expressions)});
                let m = manifest(BUDGET, format!("b{n}"), namespaces[*ns], spec);
                index.add_if_budget(&m, &[]);
                filed.push(m);
            }
            let workloads: Vec<Manifest> = (pods.iter().enumerate())
                .map(|(n, (picks, ns))| {
                    let template = json!({"metadata": {"labels": labels(picks)}});
                    manifest("Deployment", format!("w{n}"), namespaces[*ns], json!({"template": template}))
                })
                .collect();
            let facts = Facts::new(workloads.iter().filter_map(|m| Fact::of(m, &[])));
            let (pod, match_labels, expressions, ns, named) = query;
            let (pod, namespace) = (labels(&pod), namespaces[ns]);
            let name = format!("b{named}");

            let found: Vec<&str> = (index.candidates(namespace, Some(&pod), Some(&name)).iter())
                .map(|f| f.name())
                .collect();
            let wanted: Vec<&str> = (filed.iter())
                .filter(|m| m.namespace() == namespace)
                .filter(|m| {
                    let selector = m.value.as_ref().and_then(|v| v.get("spec")).and_then(|s| s.get("selector"));
                    m.name() == name || selector.is_some_and(|s| selector_matches(s, Some(&pod)))
                })
                .map(|m| m.name())
                .collect();
            prop_assert!(wanted.iter().all(|w| found.contains(w)), "{wanted:?} not all in {found:?}");
            prop_assert!(found.windows(2).all(|w| w[0][1..].parse::<usize>().ok() < w[1][1..].parse::<usize>().ok()), "{found:?}");

            let query = selector(&match_labels, &expressions);
            let found: Vec<&str> = facts.with_pods_selectable_by(namespace, &query).map(|f| f.name()).collect();
            let wanted: Vec<&str> = (workloads.iter())
                .filter(|m| m.namespace() == namespace)
                .filter(|m| {
                    let labels = m.value.as_ref().and_then(|v| v.pointer("/spec/template/metadata/labels")).and_then(Value::as_object);
                    selector_matches(&query, labels)
                })
                .map(|m| m.name())
                .collect();
            prop_assert!(wanted.iter().all(|w| found.contains(w)), "{wanted:?} not all in {found:?}");
            prop_assert!(found.windows(2).all(|w| w[0][1..].parse::<usize>().ok() < w[1][1..].parse::<usize>().ok()), "{found:?}");
        }
    }
}
