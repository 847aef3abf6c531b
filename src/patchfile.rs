//! Patch files: the schema, and validation with `file:line:column` errors (files and
//! directories are read by `load.rs`, which also reads `ImageUsers` files; profiles by
//! `profiles.rs`).
//!
//! ```yaml
//! apiVersion: pulse-harden/v1
//! kind: PatchSet
//! steps:
//!   - name: pull-if-not-present
//!     select: {kind: [Deployment, StatefulSet]}
//!     mode: ifAbsent
//!     jsonPatch:
//!       - {op: add, path: /spec/template/spec/containers/*/imagePullPolicy, value: IfNotPresent}
//! ```

use crate::pod::PodTemplatePath;
use crate::select::{Globs, Selector};
pub use crate::transforms::Target;
use crate::transforms::{Action, Mode};
use crate::yaml::{self, ApiVersion, Metadata};
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// An ordered list of steps, from one patch file or profile.
#[derive(Debug)]
pub struct PatchSet {
    /// Where it came from, for messages: a file path or `profile restricted`.
    pub origin: String,
    pub pod_templates: Vec<PodTemplatePath>,
    pub steps: Vec<Step>,
    /// What the report should say about how the set was read (a kustomization's
    /// `resources` not being read, say).
    pub notes: Vec<String>,
}

#[derive(Debug)]
pub struct Step {
    pub name: String,
    /// Free text for the reader of the patch file.
    #[allow(dead_code)]
    pub description: Option<String>,
    pub select: Selector,
    pub exclude: Vec<Selector>,
    pub target: Target,
    pub container_names: Option<Globs>,
    pub mode: Mode,
    pub on_failure: OnFailure,
    pub on_conflict: OnConflict,
    pub action: Action,
}

/// What happens when a step's action cannot apply to a resource (a failed `test`, a
/// missing path).
#[derive(Debug, Default, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnFailure {
    /// Stop with an error naming the patch file, step and resource.
    #[default]
    Error,
    /// Leave that resource unchanged and report it as skipped.
    Skip,
}

/// What happens when the chart explicitly set something a step would contradict (a
/// container that runs as UID 0, a pod pinned to another architecture).
#[derive(Debug, Default, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnConflict {
    /// Leave that resource unchanged and report the conflict.
    #[default]
    Skip,
    /// Stop with an error naming the conflict.
    Error,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PatchSetFile {
    #[allow(dead_code)]
    api_version: ApiVersion,
    #[allow(dead_code)]
    kind: PatchSetKind,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<Metadata>,
    #[serde(default)]
    pod_templates: Vec<PodTemplatePath>,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
enum PatchSetKind {
    PatchSet,
    /// Never read as a patch set ([`parse_file`] hands it to `images`); listed so an unknown
    /// kind's error names both kinds a file given with `-p` may have.
    #[allow(dead_code)]
    ImageUsers,
}

const STEP_FIELDS: &[&str] = &[
    "name",
    "description",
    "select",
    "exclude",
    "target",
    "containerNames",
    "mode",
    "onFailure",
    "onConflict",
];

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(StepVisitor)
    }
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = Step;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a step: a map with `name`, an optional `select`, and one action")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
        let mut name: Option<String> = None;
        let mut description = None;
        let mut select = None;
        let mut exclude = None;
        let mut target = None;
        let mut container_names = None;
        let mut mode = None;
        let mut on_failure = None;
        let mut on_conflict = None;
        let mut action: Option<Action> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" => name = Some(map.next_value()?),
                "description" => description = Some(map.next_value()?),
                "select" => select = Some(map.next_value()?),
                "exclude" => exclude = Some(map.next_value()?),
                "target" => target = Some(map.next_value()?),
                "containerNames" => container_names = Some(map.next_value()?),
                "mode" => mode = Some(map.next_value()?),
                "onFailure" => on_failure = Some(map.next_value()?),
                "onConflict" => on_conflict = Some(map.next_value()?),
                other => match Action::from_step_entry(other, &mut map)? {
                    Some(found) => {
                        if let Some(first) = &action {
                            return Err(de::Error::custom(format!(
                                "a step has exactly one action, this one has `{}` and `{}`",
                                first.key(),
                                found.key()
                            )));
                        }
                        action = Some(found);
                    }
                    None => return Err(de::Error::unknown_field(other, step_keys())),
                },
            }
        }
        let name: String = name.ok_or_else(|| de::Error::missing_field("name"))?;
        let action = action.ok_or_else(|| {
            de::Error::custom(format!(
                "step `{name}` has no action; give it one of: {}",
                Action::KEYS.join(", ")
            ))
        })?;
        let target: Target = target.unwrap_or_default();
        if !action.targets().contains(&target) {
            let fits: Vec<String> = action
                .targets()
                .iter()
                .map(|t| format!("`{}`", t.key()))
                .collect();
            return Err(de::Error::custom(format!(
                "step `{name}`: `{}` cannot work with `target: {}`; it works on {}",
                action.key(),
                target.key(),
                fits.join(" or ")
            )));
        }
        if container_names.is_some() && target != Target::Containers && !action.per_container() {
            return Err(de::Error::custom(format!(
                "step `{name}`: `containerNames` needs `target: containers` with `{}`, which does not work container by container",
                action.key()
            )));
        }
        Ok(Step {
            name,
            description,
            select: select.unwrap_or_default(),
            exclude: exclude.unwrap_or_default(),
            target,
            container_names,
            mode: mode.unwrap_or_default(),
            on_failure: on_failure.unwrap_or_default(),
            on_conflict: on_conflict.unwrap_or_default(),
            action,
        })
    }
}

/// Every key a step may have. serde wants `&'static [&'static str]`; built once, so a library
/// caller that sees many bad patch files does not leak a list per error.
fn step_keys() -> &'static [&'static str] {
    static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| STEP_FIELDS.iter().chain(Action::KEYS).copied().collect())
}

/// Reads one patch set from text; `origin` names it in errors (`file:line:column: ...`).
pub fn parse(text: &str, origin: &str) -> Result<PatchSet> {
    let file: PatchSetFile = yaml::from_config_str(text).map_err(|e| {
        // The typed reader stops at the first value it cannot use, which for a mis-indented
        // line is a scalar run on into the next line (`unknown variant `containers mode``):
        // a YAML syntax error anywhere in the file is the real cause, so it wins.
        if let Err(syntax) = yaml::read_document(text) {
            return anyhow::anyhow!(
                "{origin}:{}:{}: {}",
                syntax.line,
                syntax.column,
                syntax.message
            );
        }
        let at = match (e.line, e.column) {
            (Some(line), Some(column)) => format!("{origin}:{line}:{column}"),
            _ => origin.to_string(),
        };
        anyhow::anyhow!("{at}: {}", e.message)
    })?;
    check_unique_names(text, origin, &file.steps)?;
    Ok(PatchSet {
        origin: origin.to_string(),
        pod_templates: file.pod_templates,
        steps: file.steps,
        notes: Vec::new(),
    })
}

fn check_unique_names(text: &str, origin: &str, steps: &[Step]) -> Result<()> {
    let mut seen = HashSet::new();
    for step in steps {
        if !seen.insert(step.name.as_str()) {
            // Point at the second `name:` line that repeats it.
            let line = duplicate_name_line(text, &step.name);
            let at = line.map_or(origin.to_string(), |l| format!("{origin}:{l}"));
            bail!(
                "{at}: step name `{}` is used twice in this patch set",
                step.name
            );
        }
    }
    Ok(())
}

fn duplicate_name_line(text: &str, name: &str) -> Option<usize> {
    #[derive(Deserialize)]
    struct Names {
        steps: Vec<NameOnly>,
    }
    #[derive(Deserialize)]
    struct NameOnly {
        name: Spanned<String>,
    }
    let names: Names = yaml::from_config_str(text).ok()?;
    names
        .steps
        .iter()
        .filter(|s| s.name.value == name)
        .nth(1)
        .map(|s| s.name.referenced.line() as usize)
}

// Loading files and directories lives in `load.rs`; these names stay for callers.
pub use crate::load::{Loaded as PatchFiles, load_path, load_path_within};

/// The directory patch files must stay inside, canonicalised once.
pub(crate) struct PatchRoot(PathBuf);

impl PatchRoot {
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        let canonical = dir
            .canonicalize()
            .with_context(|| format!("cannot open the patch root {}", dir.display()))?;
        if !canonical.is_dir() {
            bail!("the patch root {} is not a directory", dir.display());
        }
        Ok(Self(canonical))
    }

    /// Resolves `path` (relative to the root unless absolute) to its canonical location, which
    /// must lie inside the root; `shown` names it in errors. A path that does not resolve and
    /// one that resolves outside get the same error, which names neither where a link leads
    /// nor whether anything exists outside the root.
    pub(crate) fn confine(&self, path: &Path, shown: &Path) -> Result<PathBuf> {
        match self.0.join(path).canonicalize() {
            Ok(canonical) if canonical.starts_with(&self.0) => Ok(canonical),
            _ => bail!(
                "patch file {} is missing or outside the patch root (--patch-root): patch \
                 files must exist inside it, reached without `..` or symlinks out",
                shown.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        format!("{:#}", parse(text, "p.yaml").unwrap_err())
    }

    const HEAD: &str = "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n";

    #[test]
    fn a_full_step_parses() {
        let set = parse(
            &format!(
                "{HEAD}  - name: pull\n    select:\n      kind: [Deployment, StatefulSet]\n      labelSelector: app=web\n    exclude:\n      - name: legacy-*\n    target: containers\n    mode: ifAbsent\n    jsonPatch:\n      - {{op: add, path: /imagePullPolicy, value: IfNotPresent}}\n"
            ),
            "p.yaml",
        )
        .unwrap();
        assert_eq!(set.steps.len(), 1);
        assert_eq!(set.steps[0].target, Target::Containers);
        assert_eq!(set.steps[0].action.key(), "jsonPatch");
    }

    /// Every option the API server would reject in the result, refused where it is written.
    #[test]
    fn invalid_options_are_located_errors() {
        let step = |body: &str| err(&format!("{HEAD}  - name: a\n{body}"));
        let cases = [
            (
                "    defaultResources: {requests: {memory: -64Mi}}\n",
                "p.yaml:5:34: `memory`: `\"-64Mi\"` is negative; a resource quantity must not be",
            ),
            (
                "    defaultResources: {limits: {cpu: 100 m}}\n",
                "p.yaml:5:32: `cpu`: `\"100 m\"` is not a Kubernetes quantity (e.g. 100m, 256Mi, 1)",
            ),
            (
                "    defaultResources: {requests: {cpus: 1}}\n",
                "p.yaml:5:34: `cpus` is not a container resource: use cpu, memory, ephemeral-storage, hugepages-<size> or a domain-qualified extended resource",
            ),
            (
                "    spreadTopology: {topologyKeys: [kubernetes.io/hostname, kubernetes.io/hostname]}\n",
                "p.yaml:5:36: topology key `kubernetes.io/hostname` is listed twice",
            ),
            (
                "    scheduleOnArm64:\n      tolerations: [{key: arch, operator: Exists, value: arm64}]\n",
                "p.yaml:6:20: toleration 1: `operator: Exists` takes no `value`",
            ),
            (
                "    setSeccomp: {type: Localhost, localhostProfile: /etc/profile.json}\n",
                "p.yaml:5:17: `localhostProfile` `/etc/profile.json` must be a path relative to the kubelet's seccomp directory, without `..`",
            ),
            (
                "    setSeccomp: {type: Localhost, localhostProfile: ../x.json}\n",
                "p.yaml:5:17: `localhostProfile` `../x.json` must be a path relative to the kubelet's seccomp directory, without `..`",
            ),
            (
                "    hardenContainers: {readOnlyRootFilesystem: true, writablePaths: [\"//\"]}\n",
                "p.yaml:5:70: writable path `//` must be an absolute path below `/`, without `//`, `.` or `..`",
            ),
            (
                "    addMetadata: {labels: {team: platform team}}\n",
                "p.yaml:5:27: label `platform team` is not a valid label value: at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
            ),
            (
                "    addMetadata: {annotations: {-owner: x}}\n",
                "p.yaml:5:32: annotation `-owner` is not a valid key: the name must be 1 to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
            ),
            (
                "    select: {labelSelector: tier=api=x}\n    mergePatch: {}\n",
                "p.yaml:5:29: `api=x` is not a valid label value: at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit in selector `tier=api=x`",
            ),
            (
                "    target: containers\n    setSeccomp: {}\n",
                "p.yaml:4:5: step `a`: `setSeccomp` cannot work with `target: containers`; it works on `resource` or `podSpec`",
            ),
            (
                "    target: podSpec\n    generatePodDisruptionBudgets: {}\n",
                "p.yaml:4:5: step `a`: `generatePodDisruptionBudgets` cannot work with `target: podSpec`; it works on `resource`",
            ),
        ];
        let mut wrong = Vec::new();
        for (body, want) in cases {
            let got = step(body);
            if got != want {
                wrong.push(format!("{body}  want {want}\n  got  {got}"));
            }
        }
        assert_eq!(
            err(
                "apiVersion: pulse-harden/v1\nkind: PatchSet\npodTemplates:\n  - {kind: Rollout, path: spec/template}\nsteps: []\n"
            ),
            "p.yaml:4:27: pod template path `spec/template` must be a JSON pointer starting with `/` (e.g. /spec/template)"
        );
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn container_names_work_with_container_actions_only() {
        let step = |target: &str, action: &str| {
            parse(
                &format!("{HEAD}  - name: a\n{target}    containerNames: [web]\n    {action}\n"),
                "p.yaml",
            )
        };
        step("", "setImagePullPolicy: {policy: Always}").unwrap();
        step("    target: podSpec\n", "hardenContainers: {}").unwrap();
        step("    target: containers\n", "mergePatch: {}").unwrap();
        assert_eq!(
            format!("{:#}", step("", "mergePatch: {}").unwrap_err()),
            "p.yaml:4:5: step `a`: `containerNames` needs `target: containers` with `mergePatch`, which does not work container by container"
        );
        assert!(step("    target: podSpec\n", "setSeccomp: {}").is_err());
    }

    #[test]
    fn errors_point_at_file_line_column() {
        assert_eq!(
            err(&format!("{HEAD}  - name: a\n    bogus: 1\n")),
            format!(
                "p.yaml:5:5: unknown field `bogus`, expected one of name, description, select, exclude, target, containerNames, mode, onFailure, onConflict, {}",
                Action::KEYS.join(", ")
            )
        );
        assert_eq!(
            err(&format!(
                "{HEAD}  - name: a\n    mode: sometimes\n    mergePatch: {{}}\n"
            )),
            "p.yaml:5:11: unknown variant `sometimes`, expected one of overwrite, ifAbsent"
        );
        assert_eq!(
            err("apiVersion: pulse-harden/v2\nkind: PatchSet\nsteps: []\n"),
            "p.yaml:1:13: unknown variant `pulse-harden/v2`, expected one of pulse-harden/v1"
        );
        assert_eq!(
            err("apiVersion: pulse-harden/v1\nkind: Patches\nsteps: []\n"),
            "p.yaml:2:7: unknown variant `Patches`, expected one of PatchSet, ImageUsers"
        );
        assert_eq!(
            err(&format!(
                "{HEAD}  - name: a\n    select: {{kind: \"[Dep\"}}\n    mergePatch: {{}}\n"
            )),
            "p.yaml:5:20: glob `[Dep` has an unclosed `[`"
        );
        assert_eq!(
            err(&format!(
                "{HEAD}  - name: a\n    jsonPatch:\n      - {{op: add, path: spec/x, value: 1}}\n"
            )),
            "p.yaml:6:25: JSON pointer `spec/x` must start with `/`"
        );
        assert_eq!(
            err(&format!(
                "{HEAD}  - name: a\n    mergePatch: {{}}\n  - name: a\n    mergePatch: {{}}\n"
            )),
            "p.yaml:6: step name `a` is used twice in this patch set"
        );
    }

    #[test]
    fn a_mis_indented_line_is_a_yaml_error_at_its_position() {
        assert_eq!(
            err(&format!(
                "{HEAD}  - name: a\n    target: containers\n      mode: ifAbsent\n    mergePatch: {{}}\n"
            )),
            "p.yaml:6:11: mapping values are not allowed in this context"
        );
    }

    /// A fresh directory tree: `root/` (the patch root) beside `outside/`.
    fn tree(name: &str) -> (PathBuf, PathBuf) {
        let base = std::env::temp_dir().join(format!(
            "pulse-harden-patchroot-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        let (root, outside) = (base.join("root"), base.join("outside"));
        std::fs::create_dir_all(root.join("patches")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let valid = format!("{HEAD}  - name: a\n    mergePatch: {{}}\n");
        std::fs::write(root.join("patches/a.yaml"), &valid).unwrap();
        std::fs::write(outside.join("secret.yaml"), &valid).unwrap();
        (root, outside)
    }

    fn escaped(shown: &str) -> String {
        format!(
            "patch file {shown} is missing or outside the patch root (--patch-root): patch files must exist inside it, reached without `..` or symlinks out"
        )
    }

    fn confined(root: &Path, path: &str) -> Result<PatchFiles> {
        load_path_within(Path::new(path), Some(root))
    }

    #[test]
    fn paths_under_the_patch_root_resolve_relative_to_it() {
        let (root, _) = tree("inside");
        let sets = confined(&root, "patches/a.yaml").unwrap().sets;
        assert_eq!(sets[0].origin, "patches/a.yaml");
        let sets = confined(&root, "patches").unwrap().sets;
        assert_eq!(sets[0].origin, "patches/a.yaml");
        // `..` that stays inside, and a symlink to a file inside, are fine.
        confined(&root, "patches/../patches/a.yaml").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("patches/a.yaml", root.join("link.yaml")).unwrap();
            confined(&root, "link.yaml").unwrap();
        }
        remove_tree(&root);
    }

    #[test]
    fn a_directory_may_hold_image_users_beside_patch_sets() {
        let (root, _) = tree("image-users");
        std::fs::write(
            root.join("patches/users.yaml"),
            "apiVersion: pulse-harden/v1\nkind: ImageUsers\nimages:\n  - {image: nginx, user: \"101\"}\n",
        )
        .unwrap();
        let loaded = confined(&root, "patches").unwrap();
        assert_eq!(loaded.sets.len(), 1);
        assert_eq!(loaded.image_users.len(), 1);
        assert_eq!(loaded.image_users[0].origin, "patches/users.yaml");
        // Its errors point into it, like a patch set's.
        std::fs::write(
            root.join("patches/users.yaml"),
            "apiVersion: pulse-harden/v1\nkind: ImageUsers\nimages:\n  - {image: nginx, uid: 1}\n",
        )
        .unwrap();
        assert_eq!(
            format!("{:#}", confined(&root, "patches").unwrap_err()),
            "patches/users.yaml:4:20: unknown field `uid`, expected one of image, user, digest, resolved"
        );
        remove_tree(&root);
    }

    fn remove_tree(root: &Path) {
        let _ = std::fs::remove_dir_all(root.parent().unwrap());
    }

    #[test]
    fn escapes_from_the_patch_root_are_errors() {
        let (root, outside) = tree("escape");
        let outside_file = outside.join("secret.yaml");
        for path in [
            "../outside/secret.yaml".to_string(),
            "patches/../../outside/secret.yaml".to_string(),
            outside_file.display().to_string(),
        ] {
            let e = format!("{:#}", confined(&root, &path).unwrap_err());
            assert_eq!(e, escaped(&path));
        }
        // Missing or outside: the same words, so nothing is learnt about outside.
        let e = format!("{:#}", confined(&root, "patches/missing.yaml").unwrap_err());
        assert_eq!(e, escaped("patches/missing.yaml"));
        let e = format!(
            "{:#}",
            confined(&root, "../outside/missing.yaml").unwrap_err()
        );
        assert_eq!(e, escaped("../outside/missing.yaml"));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_patch_root_are_errors() {
        use std::os::unix::fs::symlink;
        let (root, outside) = tree("symlink");
        symlink(outside.join("secret.yaml"), root.join("patches/b.yaml")).unwrap();
        symlink(&outside, root.join("linked-dir")).unwrap();
        for (path, shown) in [
            ("patches/b.yaml", "patches/b.yaml"),
            // A directory whose file links out.
            ("patches", "patches/b.yaml"),
            // A directory that is itself a link out.
            ("linked-dir", "linked-dir"),
        ] {
            let e = format!("{:#}", confined(&root, path).unwrap_err());
            assert_eq!(e, escaped(shown), "{path}");
        }
        // Without a patch root the same links load: confinement is opt-in.
        load_path(&root.join("patches/b.yaml")).unwrap();
        remove_tree(&root);
    }
}
