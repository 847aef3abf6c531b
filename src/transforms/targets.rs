//! Helpers the pod-level and container-level built-in actions share: finding the pod spec
//! or the containers whatever the step's `target`, and reading or creating the maps
//! (`securityContext`, `resources`) they edit.

use super::{Context, Outcome};
use crate::images::{self, KnownUsers, RunsAs};
use crate::pod;
use crate::pointer::Lookup;
use serde_json::{Map, Value};

/// What a step's action was handed: a whole resource, a pod spec or one container.
enum Shape {
    Resource,
    PodSpec,
    Container,
}

fn shape(target: &Value) -> Shape {
    if is_resource(target) {
        Shape::Resource
    } else if target.get("containers").is_some() {
        Shape::PodSpec
    } else {
        Shape::Container
    }
}

/// A whole resource, as opposed to the pod spec or container a step may target instead.
pub fn is_resource(target: &Value) -> bool {
    target.get("kind").is_some_and(Value::is_string) && target.get("apiVersion").is_some()
}

/// The pod spec a pod-level action works on: the target itself with `target: podSpec`, or
/// the resource's pod template with `target: resource`. `Err` is the outcome to return when
/// there is none.
pub fn pod_spec<'v>(target: &'v mut Value, ctx: &Context) -> Result<&'v mut Value, Outcome> {
    match shape(target) {
        Shape::Resource => pod::pod_spec_mut(target, ctx.kind, ctx.group, ctx.pod_templates)
            .ok_or_else(|| Outcome::NotApplicable(format!("{} has no pod template", ctx.kind))),
        Shape::PodSpec => Ok(target),
        Shape::Container => Err(Outcome::NotApplicable(
            "this action works on pod specs: use `target: podSpec` or `target: resource`".into(),
        )),
    }
}

/// The containers a container-level action works on, with a description of each for
/// messages (`init container \`setup\``): every container of the pod spec the step's
/// `containerNames` picks with `target: resource` or `podSpec`, the target itself with
/// `target: containers` (the pipeline picked it).
pub fn containers<'v>(
    target: &'v mut Value,
    ctx: &Context,
) -> Result<Vec<(String, &'v mut Value)>, Outcome> {
    if let Shape::Container = shape(target) {
        let who = describe("containers", target);
        return Ok(vec![(who, target)]);
    }
    let spec = pod_spec(target, ctx)?;
    Ok(pod::containers_mut(spec)
        .into_iter()
        .filter(|(_, c)| ctx.picks_container(c))
        .map(|(list, c)| (describe(list, c), c))
        .collect())
}

/// `container \`web\``, `init container \`setup\``, `ephemeral container \`debug\``.
pub fn describe(list: &str, container: &Value) -> String {
    let name = container.get("name").and_then(Value::as_str).unwrap_or("");
    let kind = match list {
        "initContainers" => "init container",
        "ephemeralContainers" => "ephemeral container",
        _ => "container",
    };
    format!("{kind} `{name}`")
}

/// Windows pods (`spec.os.name: windows`): the API rejects most Linux security fields on
/// them, and the Pod Security Standards exempt them from those controls.
pub fn is_windows(pod_spec: &Value) -> bool {
    pod_spec.at("/os/name").and_then(Value::as_str) == Some("windows")
}

/// The map under `key` of an object, created when absent or `null` (`securityContext:` with
/// nothing after it reads as `null`). `None` when the holder or the value is not a map.
pub fn map_entry<'v>(holder: &'v mut Value, key: &str) -> Option<&'v mut Map<String, Value>> {
    child_map(holder.as_object_mut()?, key)
}

/// [`map_entry`] for a holder already known to be a map.
pub fn child_map<'m>(
    map: &'m mut Map<String, Value>,
    key: &str,
) -> Option<&'m mut Map<String, Value>> {
    let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// The list under `key`, created when absent or `null`. `None` when the value is not a list.
pub fn child_list<'m>(map: &'m mut Map<String, Value>, key: &str) -> Option<&'m mut Vec<Value>> {
    let slot = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut()
}

/// A value of the holder's `securityContext`, without creating anything.
pub fn security_field<'v>(holder: &'v Value, field: &str) -> Option<&'v Value> {
    holder.get("securityContext")?.get(field)
}

/// Who a container runs as, as far as the manifest and the `ImageUsers` files say.
#[derive(Debug)]
pub enum ContainerUser<'a> {
    /// `runAsUser` of the container, else of the pod (0 is root).
    RunAsUser(i64),
    /// No `runAsUser`; an `ImageUsers` file declares the image's user.
    Declared {
        image: String,
        declared: images::Declared<'a>,
    },
    /// No `runAsUser`, and no file knows the image (`None`: the container names none).
    Unknown { image: Option<String> },
    /// No `runAsUser`, and `image` is not a reference a runtime would pull.
    Invalid { image: String, why: String },
}

impl ContainerUser<'_> {
    /// Whether the container provably runs as a numeric non-root user: the only case in
    /// which the kubelet's `runAsNonRoot` check lets it start.
    pub fn is_numeric_non_root(&self) -> bool {
        match self {
            ContainerUser::RunAsUser(uid) => *uid > 0,
            ContainerUser::Declared { declared, .. } => {
                matches!(declared.runs_as(), RunsAs::NonRoot(_))
            }
            _ => false,
        }
    }
}

/// What user does this container run as, if known? Its own `runAsUser`, else `pod_uid` (the
/// pod's, or the one a step is about to give it), else what the run's `ImageUsers` files
/// declare for its image.
pub fn container_user<'a>(
    container: &Value,
    pod_uid: Option<i64>,
    known: &'a KnownUsers,
) -> ContainerUser<'a> {
    if let Some(uid) = security_field(container, "runAsUser")
        .and_then(Value::as_i64)
        .or(pod_uid)
    {
        return ContainerUser::RunAsUser(uid);
    }
    let Some(image) = container.get("image").and_then(Value::as_str) else {
        return ContainerUser::Unknown { image: None };
    };
    match known.user_of(image) {
        Ok(Some(declared)) => ContainerUser::Declared {
            image: normalised(image),
            declared,
        },
        Ok(None) => ContainerUser::Unknown {
            image: Some(normalised(image)),
        },
        Err(why) => ContainerUser::Invalid {
            image: image.to_string(),
            why: format!("{why:#}"),
        },
    }
}

/// The image reference as a runtime reads it (`docker.io/library/nginx:latest`), or as
/// written when it does not parse.
fn normalised(image: &str) -> String {
    images::ImageRef::parse(image).map_or_else(|_| image.to_string(), |i| i.to_string())
}

/// Sets `key` to `value` when it is absent (or `null`); true if it set it.
pub fn set_if_absent(map: &mut Map<String, Value>, key: &str, value: Value) -> bool {
    match map.get(key) {
        Some(existing) if !existing.is_null() => false,
        _ => {
            map.insert(key.to_string(), value);
            true
        }
    }
}

/// The outcome for what an action did: `Partial` with every reason when something was left
/// alone, `Applied` otherwise.
pub fn outcome(conflicts: Vec<String>) -> Outcome {
    if conflicts.is_empty() {
        Outcome::Applied
    } else {
        Outcome::Partial(conflicts.join("; "))
    }
}

/// [`outcome`], plus a note for each thing the reader should know about a change that is not
/// a conflict (a container that may still run as root with its capabilities dropped).
pub fn outcome_with_notes(conflicts: Vec<String>, notes: Vec<String>) -> Outcome {
    if notes.is_empty() {
        return outcome(conflicts);
    }
    let mut all = vec![outcome(conflicts)];
    all.extend(notes.into_iter().map(Outcome::Note));
    Outcome::Several(all)
}

/// Runs an action, built from `options` as a patch file would, on `target` inside a Pod, for
/// the actions' unit tests.
#[cfg(test)]
pub fn run_for_test<T>(options: Value, target: &mut Value) -> Outcome
where
    T: super::Transform + serde::de::DeserializeOwned,
{
    let action: T = serde_json::from_value(options).expect("valid options");
    let pod = crate::manifest::Manifest::from_value(
        1,
        serde_json::json!({"apiVersion": "v1", "kind": "Pod"}),
    );
    let stream = [];
    action
        .apply(
            target,
            &super::test_context(super::Mode::Overwrite, &pod, &stream),
        )
        .expect("the action applies")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use crate::transforms::{Mode, test_context};
    use serde_json::json;

    #[test]
    fn finds_the_pod_spec_whatever_the_target() {
        let m = Manifest::from_value(1, json!({"apiVersion": "apps/v1", "kind": "Deployment"}));
        let stream = [];
        let ctx = test_context(Mode::Overwrite, &m, &stream);
        let mut deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}});
        assert!(pod_spec(&mut deployment, &ctx).is_ok());
        let mut spec = json!({"containers": [{"name": "a"}], "initContainers": [{"name": "i"}]});
        let names: Vec<_> = containers(&mut spec, &ctx)
            .unwrap()
            .into_iter()
            .map(|(who, _)| who)
            .collect();
        assert_eq!(names, ["container `a`", "init container `i`"]);
        let mut container = json!({"name": "a", "image": "x"});
        assert!(matches!(
            pod_spec(&mut container, &ctx),
            Err(Outcome::NotApplicable(_))
        ));
        assert_eq!(containers(&mut container, &ctx).unwrap().len(), 1);
    }

    #[test]
    fn map_entry_replaces_null_and_refuses_scalars() {
        let mut c = json!({"securityContext": null, "resources": 3});
        assert!(map_entry(&mut c, "securityContext").is_some());
        assert_eq!(c["securityContext"], json!({}));
        assert!(map_entry(&mut c, "resources").is_none());
    }
}
