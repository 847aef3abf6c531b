//! Patch files: the schema, loading from files, directories and embedded profiles, and
//! validation with `file:line:column` errors.
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
use crate::transforms::{Action, Mode};
use crate::yaml;
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
enum ApiVersion {
    #[serde(rename = "pulse-harden/v1")]
    V1,
}

#[derive(Deserialize)]
enum PatchSetKind {
    PatchSet,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Metadata {
    name: Option<String>,
    description: Option<String>,
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
        Ok(Step {
            name,
            description,
            select: select.unwrap_or_default(),
            exclude: exclude.unwrap_or_default(),
            target: target.unwrap_or_default(),
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

/// Loads a patch file, or every `*.yaml`/`*.yml` file of a directory in name order.
pub fn load_path(path: &Path) -> Result<Vec<PatchSet>> {
    load_path_within(path, None)
}

/// Like [`load_path`], but with a `root` (`--patch-root`, Argo CD's app directory) the path is
/// resolved relative to it, and the path and every file it leads to must stay inside it once
/// `..` and symlinks are resolved. Loading a patch file only ever reads that file: a patch file
/// cannot include other files or run commands.
pub fn load_path_within(path: &Path, root: Option<&Path>) -> Result<Vec<PatchSet>> {
    let root = root.map(PatchRoot::open).transpose()?;
    let location = match &root {
        Some(root) => root.confine(path, path)?,
        None => path.to_path_buf(),
    };
    // A directory with a kustomization is that kustomization (its patch files are not
    // patch sets of their own).
    let kustomization = location
        .is_dir()
        .then(|| crate::kustomize::in_directory(&location))
        .flatten();
    let (location, path) = match kustomization {
        Some(file) => {
            let shown = file
                .file_name()
                .map_or_else(|| path.to_path_buf(), |n| path.join(n));
            (file, shown)
        }
        None => (location, path.to_path_buf()),
    };
    let path = path.as_path();
    if location.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(&location)
            .with_context(|| format!("cannot read patch directory {}", path.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("patch directory {} holds no .yaml files", path.display());
        }
        return files
            .iter()
            .map(|file| {
                // Name the file as the user would: the given directory plus the file name.
                let shown = file
                    .file_name()
                    .map_or_else(|| file.clone(), |n| path.join(n));
                match &root {
                    Some(root) => load_file(&root.confine(file, &shown)?, &shown, Some(root)),
                    None => load_file(file, &shown, None),
                }
            })
            .collect();
    }
    Ok(vec![load_file(&location, path, root.as_ref())?])
}

/// The directory patch files must stay inside, canonicalised once.
struct PatchRoot(PathBuf);

impl PatchRoot {
    fn open(dir: &Path) -> Result<Self> {
        let canonical = dir
            .canonicalize()
            .with_context(|| format!("cannot open the patch root {}", dir.display()))?;
        if !canonical.is_dir() {
            bail!("the patch root {} is not a directory", dir.display());
        }
        Ok(Self(canonical))
    }

    /// Resolves `path` (relative to the root unless absolute) to its canonical location, which
    /// must lie inside the root; `shown` names it in errors.
    fn confine(&self, path: &Path, shown: &Path) -> Result<PathBuf> {
        let canonical = self.0.join(path).canonicalize().with_context(|| {
            format!(
                "cannot find patch file {} under the patch root {}",
                shown.display(),
                self.0.display()
            )
        })?;
        if !canonical.starts_with(&self.0) {
            bail!(
                "patch file {} leads to {}, outside the patch root {} (--patch-root): \
                 patch files must stay inside it, without `..` or symlinks out",
                shown.display(),
                canonical.display(),
                self.0.display()
            );
        }
        Ok(canonical)
    }
}

/// Reads the file at `path`; `shown` names it in messages. A kustomization is read by
/// [`crate::kustomize`], whose `path:` entries are read relative to it (inside the patch root,
/// when there is one).
fn load_file(path: &Path, shown: &Path, root: Option<&PatchRoot>) -> Result<PatchSet> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read patch file {}", shown.display()))?;
    if crate::kustomize::is_kustomization(path) {
        let (dir, shown_dir) = (
            path.parent().unwrap_or(Path::new(".")),
            shown.parent().unwrap_or(Path::new("")),
        );
        let read = |relative: &str| -> Result<String> {
            let file = dir.join(relative);
            let file = match root {
                Some(root) => root.confine(&file, &shown_dir.join(relative))?,
                None => file,
            };
            // kustomize's default load restriction (rootOnly): a kustomization reads files
            // in its own directory tree only.
            if let (Ok(real), Ok(home)) = (file.canonicalize(), dir.canonicalize())
                && !real.starts_with(&home)
            {
                bail!(
                    "patch file {} is outside the kustomization's directory; kustomize's load restrictions forbid that too",
                    shown_dir.join(relative).display()
                );
            }
            std::fs::read_to_string(&file).with_context(|| {
                format!(
                    "cannot read patch file {}",
                    shown_dir.join(relative).display()
                )
            })
        };
        return crate::kustomize::parse(&text, &shown.display().to_string(), &read);
    }
    parse(&text, &shown.display().to_string())
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

    fn confined(root: &Path, path: &str) -> Result<Vec<PatchSet>> {
        load_path_within(Path::new(path), Some(root))
    }

    #[test]
    fn paths_under_the_patch_root_resolve_relative_to_it() {
        let (root, _) = tree("inside");
        let sets = confined(&root, "patches/a.yaml").unwrap();
        assert_eq!(sets[0].origin, "patches/a.yaml");
        let sets = confined(&root, "patches").unwrap();
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
            assert!(e.contains("outside the patch root"), "{path}: {e}");
            assert!(
                e.starts_with(&format!("patch file {path} leads to ")),
                "{e}"
            );
        }
        let e = format!("{:#}", confined(&root, "patches/missing.yaml").unwrap_err());
        assert!(
            e.starts_with("cannot find patch file patches/missing.yaml under the patch root"),
            "{e}"
        );
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
            assert!(
                e.starts_with(&format!("patch file {shown} leads to "))
                    && e.contains("outside the patch root"),
                "{path}: {e}"
            );
        }
        // Without a patch root the same links load: confinement is opt-in.
        load_path(&root.join("patches/b.yaml")).unwrap();
        remove_tree(&root);
    }
}
