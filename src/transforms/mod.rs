//! The actions a patch-file step can take. One file per action; adding one is a new file plus
//! one line in `registry!` below.

mod add_metadata;
mod align_health_checks;
mod check_pod_security;
mod default_resources;
mod disable_service_account_token;
mod generate_pod_disruption_budgets;
mod harden_containers;
mod json_patch;
mod merge_patch;
mod rewrite_image_registry;
mod rewrite_probe_paths;
mod run_as_non_root;
mod schedule_on_arm64;
mod set_image_pull_policy;
mod set_seccomp;
mod spread_topology;
mod targets;
mod workloads;

use crate::manifest::Manifest;
use anyhow::Result;
use serde::Deserialize;
use serde::de::MapAccess;
use serde_json::Value;
use std::collections::HashMap;

/// How a step treats values the chart already set.
#[derive(Debug, Default, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Set the value whatever was there (RFC 6902 / RFC 7396 semantics).
    #[default]
    Overwrite,
    /// Only add what is missing: respect what the chart author set on purpose.
    IfAbsent,
}

/// Which documents of the stream, besides its own target, an action reads in full.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StreamReads {
    Nothing,
    /// Documents of these kinds (a PodDisruptionBudget generator reads HPAs and PDBs).
    Kinds(&'static [&'static str]),
    /// Every document: the safe default.
    Everything,
}

/// What an action sees besides its target.
pub struct Context<'a> {
    pub mode: Mode,
    /// Kind and API group of the resource the target belongs to.
    pub kind: &'a str,
    pub group: &'a str,
    /// Pod template paths the patch set declares for custom resources.
    pub pod_templates: &'a [crate::pod::PodTemplatePath],
    /// The resource the target belongs to, as it stood before this step.
    pub resource: &'a Manifest,
    /// Every document of the stream as it stood before this step touched this resource
    /// (earlier resources already show this step's changes). Only cross-resource actions
    /// look here, and their docs say so. Documents no step selects hold only `apiVersion`,
    /// `kind` and `metadata` here, unless the action's [`Transform::READS_STREAM`] names them.
    pub stream: &'a [Manifest],
    /// Where the documents of each kind are in `stream`, by namespace: a cross-resource action
    /// looks up the few documents it needs instead of scanning the stream for every resource.
    pub index: &'a StreamIndex,
}

/// Positions in the stream of the resources of each kind, by namespace, built the first time
/// an action asks during a step (documents a step generates join the stream after it). A
/// step that changes a resource's kind or namespace would not show here; the actions that use
/// the index change nothing.
#[derive(Default)]
pub struct StreamIndex(std::sync::OnceLock<HashMap<(String, String), Vec<usize>>>);

impl StreamIndex {
    /// The positions of the resources of `kind` in `namespace` (any API group), in stream order.
    pub fn of_kind<'s>(&'s self, stream: &[Manifest], kind: &str, namespace: &str) -> &'s [usize] {
        let index = self.0.get_or_init(|| {
            let mut index: HashMap<(String, String), Vec<usize>> = HashMap::new();
            for (i, m) in stream.iter().enumerate().filter(|(_, m)| m.is_resource()) {
                index
                    .entry((m.kind().to_string(), m.namespace().to_string()))
                    .or_default()
                    .push(i);
            }
            index
        });
        index
            .get(&(kind.to_string(), namespace.to_string()))
            .map_or(&[], Vec::as_slice)
    }
}

/// How an action went for one target; the pipeline reports everything but `Applied`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done, or nothing needed doing (the pipeline compares values to tell which).
    Applied,
    /// Applied what it safely could; the chart explicitly set something else this action
    /// would contradict, and that part was left alone (reported as a conflict).
    Partial(String),
    /// The chart explicitly set something this action would contradict, so the action changed
    /// nothing here. The step then leaves the whole resource alone (or, with
    /// `onConflict: error`, fails the run).
    Conflict(String),
    /// The action does not apply to this target (no pod template, say).
    NotApplicable(String),
    /// A new document to add to the stream after this resource (a PodDisruptionBudget for a
    /// Deployment, say). The pipeline gives it the owner's `# Source:` header and Helm 4
    /// filename annotation, so Helm files it with its owner.
    Generate(Value),
}

/// One action: applied to a target value (a resource, a pod spec or a container).
pub trait Transform {
    /// The key that names the action in a patch-file step.
    const KEY: &'static str;
    /// One line for `explain` and the README's table.
    const SUMMARY: &'static str;
    /// The user documentation `pulse-harden explain KEY` prints (Markdown): what it does,
    /// why, its options, and a patch-file example.
    const DOCS: &'static str;
    /// Which other documents the action reads through `Context::stream`; those are read in
    /// full first. An action that only changes its own target says `Nothing`, so documents
    /// no step selects are never fully parsed.
    const READS_STREAM: StreamReads = StreamReads::Everything;
    /// Whether the action works only on resources with a pod template, even as
    /// `target: resource`; the pipeline then skips other resources without reading them.
    const NEEDS_POD_TEMPLATE: bool = false;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome>;
}

macro_rules! registry {
    ($($module:ident :: $ty:ident),* $(,)?) => {
        /// The action of a step, one variant per transform.
        #[derive(Debug)]
        pub enum Action {
            $($ty($module::$ty)),*
        }

        impl Action {
            /// Every action key, in registry order.
            pub const KEYS: &'static [&'static str] = &[$(<$module::$ty as Transform>::KEY),*];

            /// Reads the action named `key` from a step being deserialized; `None` if no action
            /// has that key.
            pub fn from_step_entry<'de, A: MapAccess<'de>>(
                key: &str,
                map: &mut A,
            ) -> Result<Option<Action>, A::Error> {
                $(if key == <$module::$ty as Transform>::KEY {
                    return map.next_value().map(|v| Some(Action::$ty(v)));
                })*
                Ok(None)
            }

            /// Every action's key and one-line summary, in registry order.
            pub fn summaries() -> impl Iterator<Item = (&'static str, &'static str)> {
                [$((<$module::$ty as Transform>::KEY, <$module::$ty as Transform>::SUMMARY)),*].into_iter()
            }

            /// The documentation of the action with this key.
            pub fn docs(key: &str) -> Option<&'static str> {
                [$((<$module::$ty as Transform>::KEY, <$module::$ty as Transform>::DOCS)),*]
                    .into_iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, docs)| docs)
            }

            pub fn key(&self) -> &'static str {
                match self {
                    $(Action::$ty(_) => <$module::$ty as Transform>::KEY),*
                }
            }

            /// See [`Transform::NEEDS_POD_TEMPLATE`].
            pub fn needs_pod_template(&self) -> bool {
                match self {
                    $(Action::$ty(_) => <$module::$ty as Transform>::NEEDS_POD_TEMPLATE),*
                }
            }

            /// See [`Transform::READS_STREAM`].
            pub fn reads_stream(&self) -> StreamReads {
                match self {
                    $(Action::$ty(_) => <$module::$ty as Transform>::READS_STREAM),*
                }
            }

            pub fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
                match self {
                    $(Action::$ty(action) => action.apply(target, ctx)),*
                }
            }
        }
    };
}

registry! {
    json_patch::JsonPatch,
    merge_patch::MergePatch,
    set_seccomp::SetSeccomp,
    run_as_non_root::RunAsNonRoot,
    harden_containers::HardenContainers,
    check_pod_security::CheckPodSecurity,
    disable_service_account_token::DisableServiceAccountToken,
    set_image_pull_policy::SetImagePullPolicy,
    default_resources::DefaultResources,
    rewrite_image_registry::RewriteImageRegistry,
    add_metadata::AddMetadata,
    rewrite_probe_paths::RewriteProbePaths,
    align_health_checks::AlignHealthChecks,
    spread_topology::SpreadTopology,
    schedule_on_arm64::ScheduleOnArm64,
    generate_pod_disruption_budgets::GeneratePodDisruptionBudgets,
}

/// A context for an action's unit tests: `resource` alone in its stream.
#[cfg(test)]
pub fn test_context<'a>(mode: Mode, resource: &'a Manifest, stream: &'a [Manifest]) -> Context<'a> {
    // Leaked: a test builds a handful of contexts.
    let index: &'static StreamIndex = Box::leak(Box::default());
    Context {
        index,
        mode,
        kind: resource.kind(),
        group: resource.group(),
        pod_templates: &[],
        resource,
        stream,
    }
}
