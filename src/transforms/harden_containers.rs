//! `hardenContainers`: per-container security context — no privilege escalation, not
//! privileged, every capability dropped — and optionally a read-only root filesystem with
//! writable `emptyDir` mounts where programs expect to write.

use super::targets::{self, ContainerUser, child_map, is_windows, map_entry, set_if_absent};
use super::{Context, Outcome, Transform};
use anyhow::Result;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashSet;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HardenContainers {
    #[serde(default)]
    read_only_root_filesystem: bool,
    #[serde(default = "default_writable_paths")]
    writable_paths: Vec<AbsolutePath>,
    #[serde(default = "default_allowed_capabilities")]
    allowed_capabilities: Vec<String>,
    #[serde(default, rename = "override")]
    override_explicit: bool,
}

fn default_writable_paths() -> Vec<AbsolutePath> {
    vec![AbsolutePath("/tmp".into())]
}

fn default_allowed_capabilities() -> Vec<String> {
    vec!["NET_BIND_SERVICE".into()]
}

/// A mount path: absolute, so it can be compared with the container's `mountPath`s.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct AbsolutePath(String);

impl TryFrom<String> for AbsolutePath {
    type Error = String;

    fn try_from(path: String) -> Result<Self, String> {
        let trimmed = path.trim_end_matches('/');
        if !path.starts_with('/')
            || trimmed.is_empty()
            || trimmed
                .split('/')
                .skip(1)
                .any(|part| matches!(part, "" | "." | ".."))
        {
            return Err(format!(
                "writable path `{path}` must be an absolute path below `/`, without `//`, `.` or `..`"
            ));
        }
        Ok(AbsolutePath(trimmed.to_string()))
    }
}

impl Transform for HardenContainers {
    const KEY: &'static str = "hardenContainers";
    const SUMMARY: &'static str = "per container: no privilege escalation, not privileged, drop ALL capabilities (+ optional read-only root fs)";
    const DOCS: &'static str = r#"Hardens the `securityContext` of every container, init container and ephemeral container
of a pod:

- `allowPrivilegeEscalation: false` where absent;
- `privileged: false` where absent;
- `capabilities.drop` gains `ALL` (what is already in `drop` and in `add` stays; `all` in
  lower case does not count, as it does not for the Pod Security Standards);
- with `readOnlyRootFilesystem: true`: `readOnlyRootFilesystem: true` where absent, plus a
  writable `emptyDir` mounted at each of `writablePaths` (`/tmp` by default) unless the
  container already mounts something there.

Why: these are the container controls of the Pod Security Standards *restricted* level
(privilege escalation, capabilities) and of *baseline* (privileged). Dropping `ALL` removes
the runtime's default capability set; a capability the chart explicitly adds is kept.

Harden without breaking:

- A container that is explicitly `privileged: true` is a node agent or similar that needs it:
  the container is left entirely as it is and reported as a conflict (`override: true` flips
  it to `false`).
- An explicit `allowPrivilegeEscalation: true` is kept and reported (`override: true` sets
  `false`). A container that adds `SYS_ADMIN` keeps it unset: the API rejects
  `allowPrivilegeEscalation: false` together with `SYS_ADMIN`.
- Capabilities in `add` other than `allowedCapabilities` (the restricted level allows only
  `NET_BIND_SERVICE`) are kept and reported: the chart asked for them.
- **Containers that may still run as root.** A container runs as root unless it has a
  numeric non-root `runAsUser` (its own or the pod's), an image an `ImageUsers` file declares
  to run as one, or `runAsNonRoot: true` (its own or the pod's: the kubelet then refuses to
  run it as root). For one that may run as root, dropping `ALL` takes away what root is
  usually relied on for — `CAP_DAC_OVERRIDE`, `CAP_CHOWN`, `CAP_SETUID` — so root can no
  longer read or write files it does not own, `chown` or switch users. Most programs in
  containers never need that (their files are root's own), so `ALL` is still dropped, and
  the report says so in a **note** next to the change (a note is not a conflict: `--strict`
  does not fail on it). One exception, where root needs it: a pod with `hostPath` volumes
  (a node agent: log collectors read journals and other pods' logs owned by other users)
  keeps the capabilities of its containers that may run as root, reported as a conflict.
  A container that explicitly runs as UID 0 keeps its capabilities, reported too.
- An explicit `readOnlyRootFilesystem: false` is kept and reported. A root filesystem the
  chart already made read-only gets no extra mounts: the chart chose its writable paths.
- New volumes are named after the container and the path (`web-tmp`), made unique among the
  pod's volumes; mounts only go where nothing is mounted at that path already.
- Windows pods are skipped: the API rejects these fields on them.

The writable mounts need the pod's `volumes`, so the action works on pod specs.

Target: `podSpec` (or `resource`, which finds the pod template itself); the step's
`containerNames` picks the containers (all when absent).

Options:

| option | default | meaning |
|---|---|---|
| `readOnlyRootFilesystem` | `false` | also make the root filesystem read-only (not a PSS control; breaks programs that write outside `writablePaths`) |
| `writablePaths` | `[/tmp]` | absolute paths that get a writable `emptyDir` when the root filesystem is made read-only |
| `allowedCapabilities` | `[NET_BIND_SERVICE]` | capabilities `add` may hold without being reported |
| `override` | `false` | flip explicit `privileged: true` and `allowPrivilegeEscalation: true` to `false` |

Example:

```yaml
- name: harden-containers
  target: podSpec
  hardenContainers: {}
- name: read-only-root
  select: {labelSelector: "tier=api"}
  target: podSpec
  hardenContainers:
    readOnlyRootFilesystem: true
    writablePaths: [/tmp, /var/cache/nginx]
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;
    const TARGETS: &'static [super::Target] = super::POD_TARGETS;
    const PER_CONTAINER: bool = true;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        let spec = match targets::pod_spec(target, ctx) {
            Ok(spec) => spec,
            Err(outcome) => return Ok(outcome),
        };
        if is_windows(spec) {
            return Ok(Outcome::NotApplicable(
                "Windows pods take no Linux security context".into(),
            ));
        }
        let mut volume_names: HashSet<String> = spec
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        let pod_uid = targets::security_field(spec, "runAsUser").and_then(Value::as_i64);
        let pod_non_root =
            targets::security_field(spec, "runAsNonRoot") == Some(&Value::Bool(true));
        let host_path = uses_host_path(spec);
        let mut new_volumes = Vec::new();
        let mut conflicts = Vec::new();
        let mut notes = Vec::new();
        for (list, container) in crate::pod::containers_mut(spec) {
            if !ctx.picks_container(container) {
                continue;
            }
            let who = targets::describe(list, container);
            let user = targets::container_user(container, pod_uid, ctx.images);
            let root = if matches!(user, ContainerUser::RunAsUser(0)) {
                Root::Is
            } else if user.is_numeric_non_root()
                || targets::security_field(container, "runAsNonRoot")
                    .map_or(pod_non_root, |v| v == &Value::Bool(true))
            {
                Root::IsNot
            } else {
                Root::May
            };
            let made_read_only =
                self.harden(container, &who, root, host_path, &mut conflicts, &mut notes);
            if made_read_only {
                self.mount_writable_paths(container, &mut volume_names, &mut new_volumes);
            }
        }
        if !new_volumes.is_empty()
            && let Some(spec) = spec.as_object_mut()
        {
            let volumes = spec
                .entry("volumes")
                .or_insert_with(|| Value::Array(Vec::new()));
            if volumes.is_null() {
                *volumes = Value::Array(Vec::new());
            }
            if let Some(volumes) = volumes.as_array_mut() {
                volumes.extend(new_volumes);
            }
        }
        Ok(targets::outcome_with_notes(conflicts, notes))
    }
}

/// Whether a container runs as root, as far as the manifest and the `ImageUsers` files say.
#[derive(Clone, Copy, PartialEq)]
enum Root {
    /// `runAsUser: 0`.
    Is,
    /// A numeric non-root UID (its own, the pod's or its image's), or `runAsNonRoot: true`
    /// (the kubelet then refuses it rather than run it as root).
    IsNot,
    /// Nothing says: its image may run as root.
    May,
}

/// Does the pod mount directories of its node (a node agent, such as a log collector)?
fn uses_host_path(spec: &Value) -> bool {
    spec.get("volumes")
        .and_then(Value::as_array)
        .is_some_and(|v| v.iter().any(|v| v.get("hostPath").is_some()))
}

impl HardenContainers {
    /// Hardens one container's security context; true if it made the root filesystem
    /// read-only (so it needs writable mounts).
    fn harden(
        &self,
        container: &mut Value,
        who: &str,
        root: Root,
        host_path: bool,
        conflicts: &mut Vec<String>,
        notes: &mut Vec<String>,
    ) -> bool {
        let Some(sc) = map_entry(container, "securityContext") else {
            conflicts.push(format!("{who} has a securityContext that is not a map"));
            return false;
        };
        if sc.get("privileged") == Some(&Value::Bool(true)) {
            if !self.override_explicit {
                conflicts.push(format!("{who} is privileged (privileged: true)"));
                return false;
            }
            sc.insert("privileged".into(), json!(false));
        }
        set_if_absent(sc, "privileged", json!(false));

        let added = added_capabilities(sc);
        let disallowed: Vec<&str> = added
            .iter()
            .map(String::as_str)
            .filter(|cap| {
                !self
                    .allowed_capabilities
                    .iter()
                    .any(|allowed| normalize(allowed) == *cap)
            })
            .collect();
        if !disallowed.is_empty() {
            conflicts.push(format!(
                "{who} adds capabilities {} (allowed: {})",
                disallowed.join(", "),
                self.allowed_capabilities.join(", ")
            ));
        }
        let sys_admin = added.iter().any(|cap| cap == "SYS_ADMIN");
        match root {
            // Already dropped by the chart: nothing to do, nothing to say.
            _ if drops_all(sc) => {}
            // A container explicitly run as UID 0 is root for a reason (chown a volume, set a
            // sysctl): dropping its default capabilities would take that away.
            Root::Is => conflicts.push(format!(
                "{who} runs as UID 0, so its capabilities are left as they are"
            )),
            // A node agent that may run as root reads files on the node owned by other users
            // (journals, other pods' logs): without CAP_DAC_OVERRIDE/DAC_READ_SEARCH it cannot.
            Root::May if host_path => conflicts.push(format!(
                "{who} may run as root in a pod with hostPath volumes (a node agent), so its capabilities are left as they are: root without them cannot read the node's files it does not own"
            )),
            Root::May => {
                if drop_all(sc, who, conflicts) {
                    notes.push(format!(
                        "{who} may still run as root (no runAsUser, and its image is not known to run as a numeric non-root user): with every capability dropped, root cannot read or write files it does not own"
                    ));
                }
            }
            Root::IsNot => {
                drop_all(sc, who, conflicts);
            }
        }

        match sc.get("allowPrivilegeEscalation") {
            Some(Value::Bool(false)) => {}
            _ if sys_admin => conflicts.push(format!(
                "{who} adds SYS_ADMIN, which the API does not allow with allowPrivilegeEscalation: false"
            )),
            Some(Value::Bool(true)) if !self.override_explicit => conflicts.push(format!(
                "{who} allows privilege escalation (allowPrivilegeEscalation: true)"
            )),
            _ => {
                sc.insert("allowPrivilegeEscalation".into(), json!(false));
            }
        }

        if !self.read_only_root_filesystem {
            return false;
        }
        match sc.get("readOnlyRootFilesystem") {
            Some(Value::Bool(false)) => {
                conflicts.push(format!(
                    "{who} needs a writable root filesystem (readOnlyRootFilesystem: false)"
                ));
                false
            }
            Some(value) if !value.is_null() => false,
            _ => {
                sc.insert("readOnlyRootFilesystem".into(), json!(true));
                true
            }
        }
    }

    /// Mounts a fresh `emptyDir` at each writable path the container has nothing mounted at.
    fn mount_writable_paths(
        &self,
        container: &mut Value,
        volume_names: &mut HashSet<String>,
        new_volumes: &mut Vec<Value>,
    ) {
        let container_name = container
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("container")
            .to_string();
        let Some(container) = container.as_object_mut() else {
            return;
        };
        let mounts = container
            .entry("volumeMounts")
            .or_insert_with(|| Value::Array(Vec::new()));
        if mounts.is_null() {
            *mounts = Value::Array(Vec::new());
        }
        let Some(mounts) = mounts.as_array_mut() else {
            return;
        };
        for AbsolutePath(path) in &self.writable_paths {
            let mounted = mounts.iter().any(|m| {
                m.get("mountPath")
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.trim_end_matches('/') == path)
            });
            if mounted {
                continue;
            }
            let name = unique_volume_name(&container_name, path, volume_names);
            mounts.push(json!({"name": name, "mountPath": path}));
            new_volumes.push(json!({"name": name, "emptyDir": {}}));
        }
    }
}

/// The capabilities in `add`, upper-case and without the `CAP_` prefix the API tolerates.
fn added_capabilities(sc: &Map<String, Value>) -> Vec<String> {
    sc.get("capabilities")
        .and_then(|c| c.get("add"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(normalize)
        .collect()
}

fn normalize(capability: &str) -> String {
    let upper = capability.trim().to_ascii_uppercase();
    upper.strip_prefix("CAP_").unwrap_or(&upper).to_string()
}

/// Adds `ALL` to `capabilities.drop`, keeping what is there; true if it added it.
fn drop_all(sc: &mut Map<String, Value>, who: &str, conflicts: &mut Vec<String>) -> bool {
    if drops_all(sc) {
        return false;
    }
    let Some(caps) = child_map(sc, "capabilities") else {
        conflicts.push(format!("{who} has capabilities that are not a map"));
        return false;
    };
    let drop = caps
        .entry("drop")
        .or_insert_with(|| Value::Array(Vec::new()));
    if drop.is_null() {
        *drop = Value::Array(Vec::new());
    }
    match drop.as_array_mut() {
        Some(drop) => {
            drop.push(json!("ALL"));
            true
        }
        None => {
            conflicts.push(format!("{who} has capabilities.drop that is not a list"));
            false
        }
    }
}

/// Does `capabilities.drop` already hold `ALL`? Exactly `ALL`: the Pod Security Standards
/// (and `checkPodSecurity`) do not count `all` or `CAP_ALL`, so neither do we.
fn drops_all(sc: &Map<String, Value>) -> bool {
    sc.get("capabilities")
        .and_then(|c| c.get("drop"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|cap| cap == "ALL")
}

/// `<container>-<path>` as a DNS label (at most 63 characters), with `-2`, `-3`… when taken.
fn unique_volume_name(container: &str, path: &str, taken: &mut HashSet<String>) -> String {
    let raw = format!("{container}-{path}");
    let mut label = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if c == '-' && (label.is_empty() || label.ends_with('-')) {
            continue;
        }
        label.push(c);
    }
    let base: String = label.trim_end_matches('-').chars().take(56).collect();
    let base = base.trim_end_matches('-').to_string();
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(options: Value, spec: &mut Value) -> Outcome {
        crate::transforms::targets::run_for_test::<HardenContainers>(options, spec)
    }

    #[test]
    fn hardens_every_container_list() {
        let mut spec = json!({
            "securityContext": {"runAsNonRoot": true},
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "web", "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["NET_RAW"]}}}],
        });
        assert_eq!(run(json!({}), &mut spec), Outcome::Applied);
        assert_eq!(
            spec["initContainers"][0]["securityContext"],
            json!({"privileged": false, "capabilities": {"drop": ["ALL"]}, "allowPrivilegeEscalation": false})
        );
        assert_eq!(
            spec["containers"][0]["securityContext"],
            json!({"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["NET_RAW", "ALL"]}, "privileged": false, "allowPrivilegeEscalation": false})
        );
    }

    #[test]
    fn lower_case_all_is_not_dropping_all() {
        // The Pod Security Standards compare `ALL` exactly: `all` drops nothing they count.
        let mut spec = json!({"containers": [{"name": "a", "securityContext": {"capabilities": {"drop": ["all"]}}}]});
        run(json!({}), &mut spec);
        assert_eq!(
            spec["containers"][0]["securityContext"]["capabilities"]["drop"],
            json!(["all", "ALL"])
        );
    }

    #[test]
    fn privileged_containers_are_left_alone_unless_overridden() {
        let spec = json!({"securityContext": {"runAsUser": 1000}, "containers": [
            {"name": "agent", "securityContext": {"privileged": true}},
            {"name": "side"}]});
        let mut reported = spec.clone();
        assert_eq!(
            run(json!({}), &mut reported),
            Outcome::Partial("container `agent` is privileged (privileged: true)".into())
        );
        assert_eq!(reported["containers"][0], spec["containers"][0]);
        assert_eq!(
            reported["containers"][1]["securityContext"]["allowPrivilegeEscalation"],
            false
        );
        let mut overridden = spec.clone();
        assert_eq!(
            run(json!({"override": true}), &mut overridden),
            Outcome::Applied
        );
        assert_eq!(
            overridden["containers"][0]["securityContext"]["privileged"],
            false
        );
    }

    #[test]
    fn disallowed_capabilities_are_kept_and_reported() {
        let mut spec = json!({"securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "a", "securityContext": {"capabilities": {"add": ["CAP_SYS_ADMIN", "CHOWN"]}}}]});
        let Outcome::Partial(reason) = run(json!({}), &mut spec) else {
            panic!("expected a partial outcome");
        };
        assert_eq!(
            reason,
            "container `a` adds capabilities SYS_ADMIN, CHOWN (allowed: NET_BIND_SERVICE); container `a` adds SYS_ADMIN, which the API does not allow with allowPrivilegeEscalation: false"
        );
        let sc = &spec["containers"][0]["securityContext"];
        assert_eq!(sc["capabilities"]["add"], json!(["CAP_SYS_ADMIN", "CHOWN"]));
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
        assert!(sc.get("allowPrivilegeEscalation").is_none());
    }

    #[test]
    fn containers_running_as_root_keep_their_capabilities() {
        let mut spec = json!({"initContainers": [{"name": "chown", "securityContext": {"runAsUser": 0}}],
            "containers": [{"name": "a", "securityContext": {"runAsUser": 1000}}]});
        assert_eq!(
            run(json!({}), &mut spec),
            Outcome::Partial(
                "init container `chown` runs as UID 0, so its capabilities are left as they are"
                    .into()
            )
        );
        assert_eq!(
            spec["initContainers"][0]["securityContext"],
            json!({"runAsUser": 0, "privileged": false, "allowPrivilegeEscalation": false})
        );
    }

    const MAY_BE_ROOT: &str = "may still run as root (no runAsUser, and its image is not known to run as a numeric non-root user): with every capability dropped, root cannot read or write files it does not own";

    #[test]
    fn a_container_that_may_run_as_root_gets_a_note_next_to_drop_all() {
        let mut spec = json!({"containers": [{"name": "web", "image": "nginx"},
            {"name": "api", "image": "api", "securityContext": {"runAsUser": 10001}}]});
        assert_eq!(
            run(json!({}), &mut spec),
            Outcome::Several(vec![
                Outcome::Applied,
                Outcome::Note(format!("container `web` {MAY_BE_ROOT}"))
            ])
        );
        assert_eq!(
            spec["containers"][0]["securityContext"]["capabilities"],
            json!({"drop": ["ALL"]})
        );
        // Already dropped by the chart: nothing changed, nothing to say.
        let mut dropped = json!({"containers": [{"name": "web", "image": "nginx",
            "securityContext": {"privileged": false, "allowPrivilegeEscalation": false,
                                "capabilities": {"drop": ["ALL"]}}}]});
        assert_eq!(run(json!({}), &mut dropped), Outcome::Applied);
    }

    #[test]
    fn a_node_agent_that_may_run_as_root_keeps_its_capabilities() {
        let agent = json!({"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}],
            "containers": [{"name": "collector", "image": "fluent/fluent-bit"},
                           {"name": "exporter", "image": "x", "securityContext": {"runAsUser": 65534}}]});
        let mut spec = agent.clone();
        assert_eq!(
            run(json!({}), &mut spec),
            Outcome::Partial("container `collector` may run as root in a pod with hostPath volumes (a node agent), so its capabilities are left as they are: root without them cannot read the node's files it does not own".into())
        );
        let collector = &spec["containers"][0]["securityContext"];
        assert_eq!(collector.get("capabilities"), None);
        assert_eq!(collector["allowPrivilegeEscalation"], false);
        // A non-root exporter in the same pod loses nothing it could use.
        assert_eq!(
            spec["containers"][1]["securityContext"]["capabilities"],
            json!({"drop": ["ALL"]})
        );
        // runAsNonRoot: true on the pod: nothing there runs as root, so all are dropped.
        let mut non_root = agent.clone();
        non_root["securityContext"] = json!({"runAsNonRoot": true});
        assert_eq!(run(json!({}), &mut non_root), Outcome::Applied);
        assert_eq!(
            non_root["containers"][0]["securityContext"]["capabilities"],
            json!({"drop": ["ALL"]})
        );
    }

    #[test]
    fn explicit_privilege_escalation_is_kept() {
        let mut spec = json!({"containers": [{"name": "a", "securityContext": {"runAsUser": 1000, "allowPrivilegeEscalation": true}}]});
        assert!(matches!(run(json!({}), &mut spec), Outcome::Partial(_)));
        assert_eq!(
            spec["containers"][0]["securityContext"]["allowPrivilegeEscalation"],
            true
        );
    }

    #[test]
    fn read_only_root_mounts_writable_paths_without_collisions() {
        let mut spec = json!({
            "securityContext": {"runAsNonRoot": true},
            "volumes": [{"name": "web-tmp", "configMap": {"name": "x"}}],
            "containers": [
                {"name": "web"},
                {"name": "cache", "volumeMounts": [{"name": "data", "mountPath": "/tmp/"}]},
                {"name": "fixed", "securityContext": {"readOnlyRootFilesystem": true}}],
        });
        let outcome = run(
            json!({"readOnlyRootFilesystem": true, "writablePaths": ["/tmp", "/var/run/"]}),
            &mut spec,
        );
        assert_eq!(outcome, Outcome::Applied);
        assert_eq!(
            spec["containers"][0]["volumeMounts"],
            json!([{"name": "web-tmp-2", "mountPath": "/tmp"}, {"name": "web-var-run", "mountPath": "/var/run"}])
        );
        assert_eq!(
            spec["containers"][1]["volumeMounts"],
            json!([{"name": "data", "mountPath": "/tmp/"}, {"name": "cache-var-run", "mountPath": "/var/run"}])
        );
        assert!(spec["containers"][2].get("volumeMounts").is_none());
        assert_eq!(
            spec["volumes"],
            json!([
                {"name": "web-tmp", "configMap": {"name": "x"}},
                {"name": "web-tmp-2", "emptyDir": {}},
                {"name": "web-var-run", "emptyDir": {}},
                {"name": "cache-var-run", "emptyDir": {}}])
        );
        // A second run finds the root filesystems read-only and adds nothing.
        let again = spec.clone();
        run(json!({"readOnlyRootFilesystem": true}), &mut spec);
        assert_eq!(spec, again);
    }

    #[test]
    fn writable_paths_must_be_absolute() {
        let err = serde_json::from_value::<HardenContainers>(json!({"writablePaths": ["tmp"]}))
            .unwrap_err();
        assert!(
            err.to_string().contains("must be an absolute path"),
            "{err}"
        );
    }

    #[test]
    fn volume_names_are_dns_labels() {
        let mut taken = HashSet::new();
        let long = "x".repeat(80);
        let name = unique_volume_name("My_App", &format!("/{long}"), &mut taken);
        assert!(name.starts_with("my-app-xxx") && name.len() <= 63, "{name}");
    }
}
