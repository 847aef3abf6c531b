//! The actions a patch-file step can take. One file per action; adding one is a new file plus
//! one line in `registry!` below.

mod add_metadata;
mod align_health_checks;
mod check_pod_security;
mod default_resources;
mod disable_service_account_token;
pub mod field_specs;
mod generate_pod_disruption_budgets;
mod harden_containers;
pub mod json_patch;
mod merge_patch;
mod rewrite_image_registry;
mod rewrite_probe_paths;
mod run_as_non_root;
mod schedule_on_arm64;
pub mod set_entries;
mod set_image_pull_policy;
pub mod set_images;
mod set_seccomp;
mod spread_topology;
pub mod strategic_merge_patch;
mod stream_facts;
mod targets;
mod workloads;

use crate::manifest::Manifest;
use anyhow::Result;
use serde::Deserialize;
use serde::de::MapAccess;
use serde_json::Value;
pub use stream_facts::{Budgets, Fact, StreamIndex};

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

/// What a step's action is applied to inside each selected resource.
#[derive(Debug, Default, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Target {
    /// The whole resource.
    #[default]
    Resource,
    /// Every pod spec (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
    /// ReplicationController, Job, CronJob, and declared custom resources).
    PodSpec,
    /// Every container, init container and ephemeral container of every pod spec.
    Containers,
}

impl Target {
    /// How a patch file writes it.
    pub fn key(self) -> &'static str {
        match self {
            Target::Resource => "resource",
            Target::PodSpec => "podSpec",
            Target::Containers => "containers",
        }
    }
}

/// Every target: what the generic actions work on.
pub const ANY_TARGET: &[Target] = &[Target::Resource, Target::PodSpec, Target::Containers];
/// Pod-level actions: a pod spec, or a resource whose pod template they find.
pub const POD_TARGETS: &[Target] = &[Target::Resource, Target::PodSpec];

/// Which documents of the stream, besides its own target, an action reads in full.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StreamReads {
    Nothing,
    /// The heads (`apiVersion`, `kind`, `metadata`) of the other documents, which every
    /// document of `Context::stream` has: such a step cannot run before the whole stream is
    /// read, though it reads nothing more of it.
    Heads,
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
    /// Pod template paths the patch sets declare for custom resources.
    pub pod_templates: &'a [crate::pod::PodTemplatePath],
    /// The step's `containerNames`: the containers a container action works on.
    pub container_names: Option<&'a crate::select::Globs>,
    /// The resource the target belongs to, as it stood before this step.
    pub resource: &'a Manifest,
    /// Every document of the stream as it stood before this step touched this resource
    /// (earlier resources already show this step's changes). Only cross-resource actions
    /// look here, and their docs say so. Documents no step selects hold only `apiVersion`,
    /// `kind` and `metadata` here, unless the action's [`Transform::READS_STREAM`] names them.
    pub stream: &'a [Manifest],
    /// The `ImageUsers` files of the run: what user each image runs as, where known.
    pub images: &'a crate::images::KnownUsers,
    /// What cross-resource actions read of `stream`, indexed: such an action looks up the few
    /// documents it needs instead of scanning the stream for every resource, and a streaming
    /// run gives it this alone (`stream` is then empty).
    pub index: &'a StreamIndex,
    /// The PodDisruptionBudgets this step generated so far, for earlier resources; they join
    /// `stream` once the step is done (a PodDisruptionBudget generator looks here too).
    pub generated_budgets: &'a Budgets,
}

impl Context<'_> {
    /// Does the step's `containerNames` pick this container (every container when the step
    /// names none)?
    pub fn picks_container(&self, container: &Value) -> bool {
        let name = container.get("name").and_then(Value::as_str).unwrap_or("");
        self.container_names.is_none_or(|names| names.matches(name))
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
    /// Applied; and the reader of the report should know this about it (not a conflict:
    /// `--strict` does not fail on it).
    Note(String),
    /// Several of these for one target (a partial change with notes).
    Several(Vec<Outcome>),
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
    /// For an action that never changes its target (it reports on it, or generates documents
    /// with [`Outcome::Generate`]) and reads of every document, its target included, only
    /// `apiVersion`, `kind`, `metadata` and what these JSON pointers point at (`{template}`
    /// stands for the pod template's path): a streaming run then puts each document through
    /// the other steps on its way and decides this step's outcomes once the stream is read,
    /// from those parts of each document alone ([`crate::pipeline::run_streaming`]). `None`
    /// for any other action.
    const DECIDES_FROM: Option<&'static [&'static str]> = None;
    /// Whether the action works only on resources with a pod template, even as
    /// `target: resource`; the pipeline then skips other resources without reading them.
    const NEEDS_POD_TEMPLATE: bool = false;
    /// Whether the action works container by container whatever the step's target, so the
    /// step's `containerNames` picks the containers it touches (through
    /// [`Context::picks_container`]). For other actions `containerNames` needs
    /// `target: containers`.
    const PER_CONTAINER: bool = false;
    /// The step targets the action can work on; a step with another is refused when the
    /// patch file loads.
    const TARGETS: &'static [Target] = &[Target::Resource];

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome>;

    /// For an action that only looks (a check): its outcome from the target as it is, which
    /// spares the pipeline the copy a changing action works on. `None` for the others.
    fn inspect(&self, _target: &Value, _ctx: &Context) -> Option<Result<Outcome>> {
        None
    }
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

            /// See [`Transform::TARGETS`].
            pub fn targets(&self) -> &'static [Target] {
                match self {
                    $(Action::$ty(_) => <$module::$ty as Transform>::TARGETS),*
                }
            }

            /// See [`Transform::PER_CONTAINER`].
            pub fn per_container(&self) -> bool {
                match self {
                    $(Action::$ty(_) => <$module::$ty as Transform>::PER_CONTAINER),*
                }
            }

            /// See [`Transform::READS_STREAM`].
            pub fn reads_stream(&self) -> StreamReads {
                match self {
                    $(Action::$ty(_) => <$module::$ty as Transform>::READS_STREAM),*
                }
            }

            /// See [`Transform::DECIDES_FROM`].
            pub fn decides_from(&self) -> Option<&'static [&'static str]> {
                match self {
                    $(Action::$ty(_) => <$module::$ty as Transform>::DECIDES_FROM),*
                }
            }

            /// See [`Transform::inspect`].
            pub fn inspect(&self, target: &Value, ctx: &Context) -> Option<Result<Outcome>> {
                match self {
                    $(Action::$ty(action) => action.inspect(target, ctx)),*
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
    strategic_merge_patch::StrategicMergePatch,
    set_images::SetImages,
    set_entries::SetEntries,
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
        container_names: None,
        resource,
        stream,
        images: &crate::images::NO_IMAGE_USERS,
        generated_budgets: Box::leak(Box::default()),
    }
}
