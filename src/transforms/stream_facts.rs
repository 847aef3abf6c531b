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
    budgets: Budgets,
}

impl Facts {
    fn new(facts: impl IntoIterator<Item = Fact>) -> Facts {
        let mut index = Facts {
            all: Vec::new(),
            kinds: HashMap::new(),
            labels: HashMap::new(),
            budgets: Budgets::default(),
        };
        for fact in facts {
            let at = index.all.len();
            (index.kinds)
                .entry((fact.kind().into(), fact.namespace().into()))
                .or_default()
                .push(at);
            for (k, v) in fact.pod_labels.iter().flat_map(|labels| labels.iter()) {
                if let Some(v) = v.as_str() {
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

    /// Every fact, in stream order.
    pub fn all(&self) -> &[Fact] {
        &self.all
    }

    /// The resources of `kind` in `namespace` (any API group), in stream order.
    pub fn of_kind<'s>(&'s self, kind: &str, namespace: &str) -> impl Iterator<Item = &'s Fact> {
        let found = self.kinds.get(&(Box::from(kind), Box::from(namespace)));
        found.into_iter().flatten().map(|&i| &self.all[i])
    }

    /// The resources in `namespace` whose pod template carries the label `key: value`, in
    /// stream order.
    pub fn with_template_label<'s>(
        &'s self,
        namespace: &str,
        (key, value): (&str, &str),
    ) -> impl Iterator<Item = &'s Fact> {
        let key = (Box::from(namespace), key.to_string(), value.to_string());
        self.labels
            .get(&key)
            .into_iter()
            .flatten()
            .map(|&i| &self.all[i])
    }

    /// The stream's PodDisruptionBudgets (any API group).
    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }
}

/// PodDisruptionBudgets (of the stream, or generated by a step so far) by namespace and the
/// first `matchLabels` entry of their `spec.selector` (those without one by namespace
/// alone), and by namespace and name: which of them could select pods with given labels is a
/// few lookups, not a scan of every one.
#[derive(Default)]
pub struct Budgets {
    all: Vec<Fact>,
    by_label: HashMap<(Box<str>, String, String), Vec<usize>>,
    unlabelled: HashMap<Box<str>, Vec<usize>>,
    by_name: HashMap<(Box<str>, Box<str>), Vec<usize>>,
}

impl Budgets {
    /// Files a budget (after those filed before).
    pub fn add(&mut self, budget: Fact) {
        let at = self.all.len();
        let first = (budget.selector())
            .and_then(|s| s.get("matchLabels"))
            .and_then(Value::as_object)
            .and_then(|wanted| wanted.iter().next())
            .and_then(|(k, v)| Some((k.clone(), v.as_str()?.to_string())));
        let list = match first {
            Some((k, v)) => (self.by_label)
                .entry((budget.namespace().into(), k, v))
                .or_default(),
            None => self
                .unlabelled
                .entry(budget.namespace().into())
                .or_default(),
        };
        list.push(at);
        (self.by_name)
            .entry((budget.namespace().into(), budget.name().into()))
            .or_default()
            .push(at);
        self.all.push(budget);
    }

    /// Files `m` if it is a PodDisruptionBudget (of any API group).
    pub fn add_if_budget(&mut self, m: &Manifest, templates: &[PodTemplatePath]) {
        if m.kind() == BUDGET
            && let Some(fact) = Fact::of(m, templates)
        {
            self.add(fact);
        }
    }

    /// Every budget of `namespace` whose selector could select pods with `labels` (a selector
    /// whose `matchLabels` holds an entry the labels lack cannot), and those named `name`, in
    /// the order filed.
    pub fn candidates(
        &self,
        namespace: &str,
        labels: Option<&Map<String, Value>>,
        name: Option<&str>,
    ) -> Vec<&Fact> {
        let namespace: Box<str> = namespace.into();
        let mut found: Vec<usize> = Vec::new();
        for (k, v) in labels.into_iter().flatten() {
            if let Some(v) = v.as_str() {
                let key = (namespace.clone(), k.clone(), v.to_string());
                found.extend(self.by_label.get(&key).into_iter().flatten());
            }
        }
        found.extend(self.unlabelled.get(&namespace).into_iter().flatten());
        if let Some(name) = name {
            let key = (namespace, Box::from(name));
            found.extend(self.by_name.get(&key).into_iter().flatten());
        }
        found.sort_unstable();
        found.dedup();
        found.into_iter().map(|i| &self.all[i]).collect()
    }
}
