//! `runAsNonRoot`: pod-level `runAsNonRoot: true` where every container provably runs as a
//! numeric non-root user (its `runAsUser`, or its image's user from an `ImageUsers` file),
//! plus optional UID/GID defaults; every other pod is left alone and reported.

use super::targets::{self, ContainerUser, is_windows, map_entry, security_field, set_if_absent};
use super::{Context, Outcome, Transform};
use crate::images::RunsAs;
use anyhow::Result;
use serde::Deserialize;
use serde_json::{Value, json};
use std::num::NonZeroU32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunAsNonRoot {
    /// Pod-level `runAsUser` where the pod sets none. Off by default; see DOCS for why.
    run_as_user: Option<NonZeroU32>,
    run_as_group: Option<NonZeroU32>,
    fs_group: Option<NonZeroU32>,
    /// Container-level `runAsUser` for the containers whose user is not known to be a
    /// numeric non-root one. Off by default; see DOCS for what it can break.
    default_user: Option<NonZeroU32>,
}

impl Transform for RunAsNonRoot {
    const KEY: &'static str = "runAsNonRoot";
    const SUMMARY: &'static str = "pod-level runAsNonRoot: true where every container provably runs as a numeric non-root user; reports the rest";
    const DOCS: &'static str = r#"Sets `securityContext.runAsNonRoot: true` on every pod where it is **provably safe**, and
optionally pod-level `runAsUser`, `runAsGroup` and `fsGroup` where the pod sets none.

Why: the Pod Security Standards *restricted* level requires `runAsNonRoot: true` (on the pod,
or on every container), and that no container runs as UID 0. With it the kubelet refuses to
start a container whose user is root, instead of running it as root.

**Provably safe** means: every container of the pod (init, regular and ephemeral; hook and
test pods too) has an effective numeric `runAsUser` other than 0 (its own, or the pod's), or
its image is declared, in an `ImageUsers` file given with `-p`, to run as a numeric non-root
user (`10001`, `10001:10001`). Otherwise the kubelet checks the image's `USER` itself and
refuses the container with `CreateContainerConfigError` if it is root, unset, or a *name*
(`USER nginx`, `USER jenkins`: the kubelet cannot tell a name's UID), and the pod never
starts. pulse-harden cannot see images, so for any other container the step leaves the pod
alone and reports a **conflict** that names the container, its image and the fix:

```
container `web` (image docker.io/library/nginx:1.27) sets no runAsUser and its image may run
as root; runAsNonRoot: true would then stop it from starting; set runAsUser in a step of
your own, or list the image's user in an ImageUsers file
```

The step's `onConflict` decides: `skip` (the default) leaves the resource as it is, `error`
stops the run; `--strict` fails the run on any conflict. The ways out, safest first:

1. **Declare the image's user** in an `ImageUsers` file (`pulse-harden explain ImageUsers`):
   a numeric non-root user makes the pod safe; `0`, `""` or a name is reported as such.
2. **Use the image's unprivileged variant** (`nginxinc/nginx-unprivileged` runs as UID 101,
   Bitnami images as 1001) and declare it.
3. **Set a UID on purpose**, in a step of your own selecting that workload (`runAsUser`, or
   `defaultUser` below) — only for images that work under any UID.
4. **Exclude** the workload (`exclude:` in the step, or the `pulse-harden.io/skip`
   annotation): it keeps running as root, and the report says so.

Other conflicts, where the chart set something on purpose:

- A container that explicitly runs as UID 0 — `runAsUser: 0` on the container, or on the pod
  with no container-level override — would not start (or, with `runAsNonRoot: false` on the
  container, keep running as root): the pod is left alone. Typical case: an init container
  that `chown`s a volume.
- An explicit `runAsNonRoot: false` (pod or container) is kept and reported. A container
  that sets `runAsNonRoot` itself is not affected by the pod's, so it is not checked.
- Values the chart set are never replaced; the UID/GID options only fill gaps.
- Windows pods have no `runAsUser`: a container is safe when `windowsOptions.runAsUserName`
  (its own or the pod's) names a user other than `ContainerAdministrator`.

Options (all optional, each a non-zero number):

| option | meaning |
|---|---|
| `runAsUser` | pod-level UID where the pod sets none: every container without its own `runAsUser` runs as it, including images built to run as another user |
| `runAsGroup` | pod-level primary GID where the pod sets none |
| `fsGroup` | pod-level group owning mounted volumes where the pod sets none |
| `defaultUser` | container-level `runAsUser` only for the containers that need one: no `runAsUser` anywhere, and an image not declared to run as a numeric non-root user |

**What `runAsUser` and `defaultUser` can break** (both off by default, opt-in on purpose): the
container runs as a UID its image was not built for. Files the image owns for its own user
(a cache, a data directory, `/var/run/nginx.pid`) are not writable, so a program that
writes there fails at start-up or later; a program that binds a port below 1024, or that
`chown`s or switches users, fails; a UID with no `/etc/passwd` entry has no home directory
or name. Images built for Kubernetes (distroless `nonroot` = 65532, Bitnami, most
`*-unprivileged` variants) run under any UID; official images that start as root (`nginx`,
`postgres`, `redis`, `busybox` scripts writing outside `/tmp`) usually do not.

Target: `podSpec` (or `resource`, which finds the pod template itself).

Example:

```yaml
- name: non-root
  target: podSpec
  onConflict: skip
  runAsNonRoot: {}
- name: non-root-with-a-default-uid        # accepted on purpose for these workloads
  select: {labelSelector: "app.kubernetes.io/name in (legacy-api)"}
  target: podSpec
  runAsNonRoot: {defaultUser: 65532, runAsGroup: 65532, fsGroup: 65532}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;
    const TARGETS: &'static [super::Target] = super::POD_TARGETS;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        let spec = match targets::pod_spec(target, ctx) {
            Ok(spec) => spec,
            Err(outcome) => return Ok(outcome),
        };
        let windows = is_windows(spec);
        let chart_uid = security_field(spec, "runAsUser").and_then(Value::as_i64);
        // The pod-level UID the pod will have: the chart's, else the `runAsUser` option.
        let pod_uid = chart_uid.or(self
            .run_as_user
            .filter(|_| !windows)
            .map(|id| i64::from(id.get())));

        let mut root = Vec::new();
        for (list, container) in crate::pod::containers_mut(spec) {
            let uid = security_field(container, "runAsUser")
                .and_then(Value::as_i64)
                .or(chart_uid);
            if uid == Some(0) {
                root.push(targets::describe(list, container));
            }
        }
        if !root.is_empty() {
            return Ok(Outcome::Conflict(format!(
                "{} run{} as UID 0 (runAsUser: 0); runAsNonRoot: true would stop the pod from starting",
                root.join(", "),
                if root.len() == 1 { "s" } else { "" }
            )));
        }

        let pod_says = security_field(spec, "runAsNonRoot").cloned();
        let mut kept = Vec::new();
        let mut unsafe_containers = Vec::new();
        let mut need_default = Vec::new();
        let pod_user_name = windows_user_name(spec).map(str::to_string);
        for (index, (list, container)) in crate::pod::containers_mut(spec).into_iter().enumerate() {
            let who = targets::describe(list, container);
            match security_field(container, "runAsNonRoot") {
                Some(Value::Bool(false)) => {
                    kept.push(format!("{who} sets runAsNonRoot: false"));
                    continue;
                }
                // The container decides for itself; the pod's value does not reach it.
                Some(Value::Bool(true)) => continue,
                _ => {}
            }
            // Only a `runAsNonRoot: true` this step adds needs proving safe.
            if pod_says.as_ref().is_some_and(|v| !v.is_null()) {
                continue;
            }
            if windows {
                let name = windows_user_name(container).or(pod_user_name.as_deref());
                if name.is_none_or(|n| n.eq_ignore_ascii_case("ContainerAdministrator")) {
                    unsafe_containers.push(Unsafe::Windows(who));
                }
                continue;
            }
            let user = targets::container_user(container, pod_uid, ctx.images);
            if user.is_numeric_non_root() {
                continue;
            }
            if self.default_user.is_some() {
                need_default.push(index);
                continue;
            }
            unsafe_containers.push(Unsafe::User(who, describe_user(&user)));
        }
        if !unsafe_containers.is_empty() {
            return Ok(Outcome::Conflict(conflict(&unsafe_containers)));
        }

        if let Some(uid) = self.default_user {
            for (index, (_, container)) in crate::pod::containers_mut(spec).into_iter().enumerate()
            {
                if need_default.contains(&index)
                    && let Some(sc) = map_entry(container, "securityContext")
                {
                    set_if_absent(sc, "runAsUser", json!(uid.get()));
                }
            }
        }
        let Some(sc) = map_entry(spec, "securityContext") else {
            return Ok(Outcome::NotApplicable(
                "the pod's securityContext is not a map".into(),
            ));
        };
        if sc.get("runAsNonRoot") == Some(&Value::Bool(false)) {
            kept.insert(0, "the pod sets runAsNonRoot: false".into());
        }
        set_if_absent(sc, "runAsNonRoot", json!(true));
        if !windows {
            let defaults = [
                ("runAsUser", self.run_as_user),
                ("runAsGroup", self.run_as_group),
                ("fsGroup", self.fs_group),
            ];
            for (field, value) in defaults {
                if let Some(id) = value {
                    set_if_absent(sc, field, json!(id.get()));
                }
            }
        }
        Ok(targets::outcome(kept))
    }
}

/// A container `runAsNonRoot: true` could stop from starting.
enum Unsafe {
    /// Who, and what is known of its user (`sets no runAsUser and its image may run as root`).
    User(String, (String, Fix)),
    /// A Windows container with no non-administrator user name.
    Windows(String),
}

/// What the user can do about one unsafe container.
#[derive(Clone, Copy, PartialEq)]
enum Fix {
    /// Nobody said what user the image runs as.
    DeclareTheUser,
    /// The image is declared to run as root or as a name.
    OtherImage,
}

/// `windowsOptions.runAsUserName` of a pod spec's or container's security context.
fn windows_user_name(holder: &Value) -> Option<&str> {
    security_field(holder, "windowsOptions")?
        .get("runAsUserName")?
        .as_str()
}

/// What is known of a container's user that makes it unsafe, and the fix for it.
fn describe_user(user: &ContainerUser) -> (String, Fix) {
    const NO_UID: &str = "sets no runAsUser and its image";
    match user {
        ContainerUser::Unknown { image: Some(image) } => (
            format!("(image {image}) {NO_UID} may run as root"),
            Fix::DeclareTheUser,
        ),
        ContainerUser::Unknown { image: None } => (
            "sets no runAsUser and no image".to_string(),
            Fix::DeclareTheUser,
        ),
        ContainerUser::Invalid { image, why } => (
            format!(
                "(image `{image}`) sets no runAsUser, and its image is not a valid reference ({why})"
            ),
            Fix::DeclareTheUser,
        ),
        ContainerUser::Declared { image, declared } => {
            let origin = declared.origin;
            let said = match declared.runs_as() {
                RunsAs::Unset => format!("runs as root (no user, says {origin})"),
                RunsAs::Root => format!(
                    "runs as root (user \"{}\", says {origin})",
                    declared.entry.user
                ),
                RunsAs::Name(name) => format!(
                    "runs as the user name `{name}` (says {origin}), which the kubelet cannot check is not root"
                ),
                // Unreachable: a numeric non-root user is safe. Said plainly all the same.
                RunsAs::NonRoot(uid) => format!("runs as UID {uid} (says {origin})"),
            };
            (format!("(image {image}) {NO_UID} {said}"), Fix::OtherImage)
        }
        ContainerUser::RunAsUser(uid) => (format!("runs as UID {uid}"), Fix::OtherImage),
    }
}

/// The conflict for the containers `runAsNonRoot: true` could stop: each with what is known
/// of its user, then what would happen and the fixes that apply.
fn conflict(containers: &[Unsafe]) -> String {
    let mut items = Vec::new();
    let (mut linux, mut windows, mut declare, mut other_image) = (false, false, false, false);
    for container in containers {
        match container {
            Unsafe::User(who, (what, fix)) => {
                items.push(format!("{who} {what}"));
                linux = true;
                declare |= *fix == Fix::DeclareTheUser;
                other_image |= *fix == Fix::OtherImage;
            }
            Unsafe::Windows(who) => {
                items.push(format!(
                    "{who} sets no windowsOptions.runAsUserName and its image may run as ContainerAdministrator"
                ));
                windows = true;
            }
        }
    }
    let fixes: Vec<&str> = [
        (linux, "set runAsUser in a step of your own"),
        (
            windows,
            "set windowsOptions.runAsUserName in a step of your own",
        ),
        (declare, "list the image's user in an ImageUsers file"),
        (
            other_image,
            "use a variant of the image that runs as a numeric non-root user",
        ),
    ]
    .into_iter()
    .filter_map(|(wanted, fix)| wanted.then_some(fix))
    .collect();
    let fixes = match fixes.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, or {last}", rest.join(", ")),
        _ => fixes.join(""),
    };
    format!(
        "{}; runAsNonRoot: true would then stop {} from starting; {fixes}",
        items.join("; "),
        if containers.len() == 1 { "it" } else { "them" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::{ImageUsers, KnownUsers};
    use crate::manifest::Manifest;
    use crate::transforms::{Mode, test_context};

    fn run(options: Value, spec: &mut Value) -> Outcome {
        crate::transforms::targets::run_for_test::<RunAsNonRoot>(options, spec)
    }

    #[test]
    fn sets_run_as_non_root_and_fills_only_missing_ids() {
        let mut spec =
            json!({"securityContext": {"runAsUser": 1000}, "containers": [{"name": "a"}]});
        let outcome = run(
            json!({"runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 2000}),
            &mut spec,
        );
        assert_eq!(outcome, Outcome::Applied);
        assert_eq!(
            spec["securityContext"],
            json!({"runAsUser": 1000, "runAsNonRoot": true, "runAsGroup": 65532, "fsGroup": 2000})
        );
    }

    #[test]
    fn a_container_running_as_root_is_a_conflict() {
        let mut spec = json!({"securityContext": {"runAsUser": 1000}, "initContainers": [
            {"name": "chown", "securityContext": {"runAsUser": 0}}], "containers": [{"name": "a"}]});
        let before = spec.clone();
        assert_eq!(
            run(json!({}), &mut spec),
            Outcome::Conflict("init container `chown` runs as UID 0 (runAsUser: 0); runAsNonRoot: true would stop the pod from starting".into())
        );
        assert_eq!(spec, before);
        // A pod-level UID 0 counts for every container that does not override it.
        let mut pod_root = json!({"securityContext": {"runAsUser": 0}, "containers": [
            {"name": "a", "securityContext": {"runAsUser": 10}}, {"name": "b"}]});
        assert!(
            matches!(run(json!({}), &mut pod_root), Outcome::Conflict(r) if r.starts_with("container `b` runs"))
        );
        let mut overridden = json!({"securityContext": {"runAsUser": 0}, "containers": [
            {"name": "a", "securityContext": {"runAsUser": 10}}]});
        assert_eq!(run(json!({}), &mut overridden), Outcome::Applied);
    }

    /// Runs the action on `spec` with an `ImageUsers` file of these entries.
    fn run_knowing(options: Value, entries: &str, spec: &mut Value) -> Outcome {
        let file = ImageUsers::parse(
            &format!("apiVersion: pulse-harden/v1\nkind: ImageUsers\nimages:\n{entries}"),
            "users.yaml",
        )
        .unwrap();
        let known = KnownUsers::new(vec![file]);
        let action: RunAsNonRoot = serde_json::from_value(options).unwrap();
        let pod = Manifest::from_value(1, json!({"apiVersion": "v1", "kind": "Pod"}));
        let stream = [];
        let mut ctx = test_context(Mode::Overwrite, &pod, &stream);
        ctx.images = &known;
        action.apply(spec, &ctx).unwrap()
    }

    const USERS: &str = "  - {image: ghcr.io/acme/api, user: \"10001\"}\n  - {image: ghcr.io/acme/worker:2, user: \"10001:10001\"}\n  - {image: quay.io/minio/mc, user: \"0\"}\n  - {image: busybox, user: \"\"}\n  - {image: jenkins/jenkins, user: jenkins}\n";

    #[test]
    fn an_image_of_unknown_user_is_a_conflict_naming_container_image_and_fix() {
        let mut spec = json!({"containers": [{"name": "web", "image": "nginx:1.27"}]});
        let before = spec.clone();
        assert_eq!(
            run(json!({}), &mut spec),
            Outcome::Conflict("container `web` (image docker.io/library/nginx:1.27) sets no runAsUser and its image may run as root; runAsNonRoot: true would then stop it from starting; set runAsUser in a step of your own, or list the image's user in an ImageUsers file".into())
        );
        assert_eq!(spec, before);
    }

    #[test]
    fn a_node_agent_without_a_uid_is_a_conflict_and_with_one_is_not() {
        let mut agent = json!({"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}],
            "containers": [{"name": "a", "image": "fluent/fluent-bit:3"}]});
        assert!(matches!(run(json!({}), &mut agent), Outcome::Conflict(r)
            if r.starts_with("container `a` (image docker.io/fluent/fluent-bit:3) sets no runAsUser and its image may run as root")));
        let mut exporter = json!({"hostNetwork": true, "securityContext": {"runAsUser": 65534},
            "containers": [{"name": "a"}]});
        assert_eq!(run(json!({}), &mut exporter), Outcome::Applied);
    }

    #[test]
    fn an_image_declared_numeric_and_non_root_is_safe() {
        let mut spec = json!({"initContainers": [{"name": "migrate", "image": "ghcr.io/acme/api:1.4.2"}],
            "containers": [{"name": "worker", "image": "ghcr.io/acme/worker:2"}]});
        assert_eq!(run_knowing(json!({}), USERS, &mut spec), Outcome::Applied);
        assert_eq!(spec["securityContext"], json!({"runAsNonRoot": true}));
        // Another tag of the worker is not declared.
        let mut other =
            json!({"containers": [{"name": "worker", "image": "ghcr.io/acme/worker:3"}]});
        assert!(matches!(
            run_knowing(json!({}), USERS, &mut other),
            Outcome::Conflict(_)
        ));
    }

    #[test]
    fn an_image_declared_root_unset_or_named_is_a_conflict_that_says_so() {
        let mut spec = json!({"containers": [
            {"name": "mc", "image": "quay.io/minio/mc:RELEASE.2024-11-21T17-21-54Z"},
            {"name": "test", "image": "busybox:1.36"},
            {"name": "jenkins", "image": "jenkins/jenkins:2.462"},
            {"name": "api", "image": "ghcr.io/acme/api:1"}]});
        let before = spec.clone();
        assert_eq!(
            run_knowing(json!({}), USERS, &mut spec),
            Outcome::Conflict("container `mc` (image quay.io/minio/mc:RELEASE.2024-11-21T17-21-54Z) sets no runAsUser and its image runs as root (user \"0\", says users.yaml); container `test` (image docker.io/library/busybox:1.36) sets no runAsUser and its image runs as root (no user, says users.yaml); container `jenkins` (image docker.io/jenkins/jenkins:2.462) sets no runAsUser and its image runs as the user name `jenkins` (says users.yaml), which the kubelet cannot check is not root; runAsNonRoot: true would then stop them from starting; set runAsUser in a step of your own, or use a variant of the image that runs as a numeric non-root user".into())
        );
        assert_eq!(spec, before);
    }

    #[test]
    fn every_container_counts_init_and_ephemeral_too() {
        let mut spec = json!({"securityContext": {"runAsUser": 1000},
            "initContainers": [{"name": "i", "image": "busybox", "securityContext": {"runAsUser": 2000}}],
            "containers": [{"name": "a", "image": "x"}],
            "ephemeralContainers": [{"name": "debug", "image": "busybox"}]});
        assert_eq!(
            run(json!({}), &mut spec),
            Outcome::Applied,
            "the pod's UID covers them all"
        );
        let mut spec = json!({"initContainers": [{"name": "i", "image": "busybox"}],
            "containers": [{"name": "a", "image": "x", "securityContext": {"runAsUser": 1000}}],
            "ephemeralContainers": [{"name": "debug", "image": "alpine"}]});
        let Outcome::Conflict(reason) = run(json!({}), &mut spec) else {
            panic!("not a conflict")
        };
        assert!(reason.starts_with("init container `i` (image docker.io/library/busybox:latest) sets no runAsUser and its image may run as root; ephemeral container `debug` (image docker.io/library/alpine:latest) sets no runAsUser"), "{reason}");
        assert!(!reason.contains("container `a`"), "{reason}");
    }

    #[test]
    fn what_the_chart_set_itself_is_not_second_guessed() {
        // The pod already says runAsNonRoot: true: nothing is added, nothing to prove.
        let mut spec = json!({"securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "a", "image": "nginx"}]});
        assert_eq!(run(json!({}), &mut spec), Outcome::Applied);
        // A container that decides for itself is not reached by the pod's value.
        let mut spec = json!({"containers": [
            {"name": "a", "image": "nginx", "securityContext": {"runAsNonRoot": true}}]});
        assert_eq!(run(json!({}), &mut spec), Outcome::Applied);
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    }

    #[test]
    fn default_user_sets_a_uid_only_where_one_is_needed() {
        let mut spec = json!({"containers": [
            {"name": "web", "image": "nginx"},
            {"name": "api", "image": "ghcr.io/acme/api:1"},
            {"name": "own", "image": "x", "securityContext": {"runAsUser": 7}}]});
        assert_eq!(
            run_knowing(json!({"defaultUser": 65532}), USERS, &mut spec),
            Outcome::Applied
        );
        assert_eq!(
            spec["containers"][0]["securityContext"],
            json!({"runAsUser": 65532})
        );
        assert_eq!(
            spec["containers"][1].get("securityContext"),
            None,
            "its image's user stays"
        );
        assert_eq!(
            spec["containers"][2]["securityContext"],
            json!({"runAsUser": 7})
        );
        assert_eq!(spec["securityContext"], json!({"runAsNonRoot": true}));
        let err = serde_json::from_value::<RunAsNonRoot>(json!({"defaultUser": 0})).unwrap_err();
        assert!(err.to_string().contains("nonzero"), "{err}");
    }

    #[test]
    fn the_run_as_user_option_makes_every_container_safe() {
        let mut spec = json!({"containers": [{"name": "web", "image": "nginx"}]});
        assert_eq!(run(json!({"runAsUser": 101}), &mut spec), Outcome::Applied);
        assert_eq!(
            spec["securityContext"],
            json!({"runAsUser": 101, "runAsNonRoot": true})
        );
    }

    #[test]
    fn an_invalid_image_reference_is_a_conflict() {
        let mut spec = json!({"containers": [{"name": "a", "image": "Registry/App"}]});
        assert_eq!(
            run(json!({}), &mut spec),
            Outcome::Conflict("container `a` (image `Registry/App`) sets no runAsUser, and its image is not a valid reference (image reference `Registry/App` has an invalid repository name `App` (lowercase letters, digits and separators `.`, `_`, `__`, `-` between them)); runAsNonRoot: true would then stop it from starting; set runAsUser in a step of your own, or list the image's user in an ImageUsers file".into())
        );
    }

    #[test]
    fn explicit_false_is_kept_and_reported() {
        let mut spec =
            json!({"securityContext": {"runAsNonRoot": false}, "containers": [{"name": "a"}]});
        assert_eq!(
            run(json!({}), &mut spec),
            Outcome::Partial("the pod sets runAsNonRoot: false".into())
        );
        assert_eq!(spec["securityContext"]["runAsNonRoot"], false);
    }

    #[test]
    fn uid_zero_is_not_an_option() {
        let err = serde_json::from_value::<RunAsNonRoot>(json!({"runAsUser": 0})).unwrap_err();
        assert!(err.to_string().contains("nonzero"), "{err}");
    }

    #[test]
    fn windows_pods_get_only_run_as_non_root_with_a_user_name() {
        let mut spec = json!({"os": {"name": "windows"}, "securityContext":
            {"windowsOptions": {"runAsUserName": "ContainerUser"}}, "containers": [{"name": "a"}]});
        assert_eq!(run(json!({"runAsUser": 5}), &mut spec), Outcome::Applied);
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
        assert_eq!(spec["securityContext"].get("runAsUser"), None);
        let mut admin = json!({"os": {"name": "windows"}, "containers": [{"name": "a",
            "securityContext": {"windowsOptions": {"runAsUserName": "ContainerAdministrator"}}}]});
        assert_eq!(
            run(json!({"runAsUser": 5}), &mut admin),
            Outcome::Conflict("container `a` sets no windowsOptions.runAsUserName and its image may run as ContainerAdministrator; runAsNonRoot: true would then stop it from starting; set windowsOptions.runAsUserName in a step of your own".into())
        );
    }
}
