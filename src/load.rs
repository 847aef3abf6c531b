//! What `-p PATH` reads: one file, or a directory tree of files, each handed to the loader for
//! its `kind`. A new kind of file that may sit among patch files is one line in [`LOADERS`];
//! loading is not applying, so a loader only adds to [`Loaded`].
//!
//! In a directory, every `*.yaml`/`*.yml` file is read, sub-directories included, in path
//! order (hidden entries, such as `.git`, are not). A file whose `kind` no loader takes (a
//! README example, a values file) is skipped and named in the report; a file named on its own
//! must be one of the kinds.

use crate::images::ImageUsers;
use crate::patchfile::{self, PatchRoot, PatchSet};
use crate::yaml;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Everything the files of `-p` paths hold, in the order given.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sets: Vec<PatchSet>,
    /// `ImageUsers` files: they apply to the whole run.
    pub image_users: Vec<ImageUsers>,
    /// Files of a directory that were not loaded, with the reason (for the report).
    pub skipped: Vec<String>,
}

impl Loaded {
    pub fn extend(&mut self, other: Loaded) {
        self.sets.extend(other.sets);
        self.image_users.extend(other.image_users);
        self.skipped.extend(other.skipped);
    }
}

/// Adds what one file holds (`text`, named `origin` in errors) to what was loaded.
type Loader = fn(text: &str, origin: &str, into: &mut Loaded) -> Result<()>;

/// The loaders, by the `kind` of the file they read.
const LOADERS: &[(&str, Loader)] = &[
    ("PatchSet", |text, origin, into| {
        into.sets.push(patchfile::parse(text, origin)?);
        Ok(())
    }),
    (crate::images::KIND, |text, origin, into| {
        into.image_users.push(ImageUsers::parse(text, origin)?);
        Ok(())
    }),
];

/// Loads a file or directory of patch files (see the module docs).
pub fn load_path(path: &Path) -> Result<Loaded> {
    load_path_within(path, None)
}

/// Like [`load_path`], but with a `root` (`--patch-root`, Argo CD's app directory) the path is
/// resolved relative to it, and the path and every file it leads to must stay inside it once
/// `..` and symlinks are resolved. Loading a patch file only ever reads that file: a patch file
/// cannot include other files or run commands.
pub fn load_path_within(path: &Path, root: Option<&Path>) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    load(path, root, &mut loaded)?;
    Ok(loaded)
}

/// Loads `path` (a file or a directory) into `into`; see [`load_path_within`] for `root`.
pub fn load(path: &Path, root: Option<&Path>, into: &mut Loaded) -> Result<()> {
    let root = root.map(PatchRoot::open).transpose()?;
    let location = match &root {
        Some(root) => root.confine(path, path)?,
        None => path.to_path_buf(),
    };
    // A directory with a kustomization is that kustomization (its patch files are not patch
    // sets of their own).
    if let Some(file) = location
        .is_dir()
        .then(|| crate::kustomize::in_directory(&location))
        .flatten()
    {
        let shown = file
            .file_name()
            .map_or_else(|| path.to_path_buf(), |n| path.join(n));
        return load_kustomization(&file, &shown, root.as_ref(), into);
    }
    if !location.is_dir() {
        if crate::kustomize::is_kustomization(&location) {
            return load_kustomization(&location, path, root.as_ref(), into);
        }
        let text = read(&location, path)?;
        let origin = path.display().to_string();
        // Named on its own, it must be a kind we load: anything else gets the patch-set
        // reader's error, with its position.
        let loader = loader_for(&text, &origin)?.unwrap_or(LOADERS[0].1);
        return loader(&text, &origin, into);
    }
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    walk(&location, path, &mut seen, &mut files)?;
    if files.is_empty() {
        bail!("patch directory {} holds no .yaml files", path.display());
    }
    for (file, shown) in files {
        let file = match &root {
            Some(root) => root.confine(&file, &shown)?,
            None => file,
        };
        if crate::kustomize::is_kustomization(&file) {
            load_kustomization(&file, &shown, root.as_ref(), into)?;
            continue;
        }
        let text = read(&file, &shown)?;
        let origin = shown.display().to_string();
        match loader_for(&text, &origin)? {
            Some(loader) => loader(&text, &origin, into)?,
            None => into.skipped.push(format!(
                "{origin}: not loaded, {}",
                match kind_of(&text, &origin)? {
                    Some(kind) => format!("`kind: {kind}` is not a kind pulse-harden reads"),
                    None => "it has no `kind`".to_string(),
                }
            )),
        }
    }
    Ok(())
}

/// The YAML files under `dir` (shown as under `shown`), sorted by path, sub-directories
/// included; a directory reached twice through symlinks is read once.
fn walk(
    dir: &Path,
    shown: &Path,
    seen: &mut HashSet<PathBuf>,
    files: &mut Vec<(PathBuf, PathBuf)>,
) -> Result<()> {
    let canonical = dir
        .canonicalize()
        .with_context(|| format!("cannot read patch directory {}", shown.display()))?;
    if !seen.insert(canonical) {
        return Ok(());
    }
    if let Some(file) = crate::kustomize::in_directory(dir) {
        let shown = file
            .file_name()
            .map_or_else(|| shown.to_path_buf(), |n| shown.join(n));
        files.push((file, shown));
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read patch directory {}", shown.display()))?
        .filter_map(|entry| entry.ok().map(|e| (e.path(), e.file_name())))
        .filter(|(_, name)| !name.to_string_lossy().starts_with('.'))
        .collect();
    entries.sort();
    for (entry, name) in entries {
        let shown = shown.join(&name);
        if entry.is_dir() {
            walk(&entry, &shown, seen, files)?;
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            // Every `.yaml` that is not a directory: a FIFO or device among them is refused
            // by `read`, not skipped.
            files.push((entry, shown));
        }
    }
    Ok(())
}

/// Reads a kustomization (see [`crate::kustomize`]); its `path:` entries are read relative to
/// it, inside its own directory tree (kustomize's default load restriction) and inside the
/// patch root, when there is one.
fn load_kustomization(
    path: &Path,
    shown: &Path,
    root: Option<&PatchRoot>,
    into: &mut Loaded,
) -> Result<()> {
    let text = read(path, shown)?;
    let (dir, shown_dir) = (
        path.parent().unwrap_or(Path::new(".")),
        shown.parent().unwrap_or(Path::new("")),
    );
    let read_relative = |relative: &str| -> Result<String> {
        let file = dir.join(relative);
        let shown = shown_dir.join(relative);
        let file = match root {
            Some(root) => root.confine(&file, &shown)?,
            None => file,
        };
        if let (Ok(real), Ok(home)) = (file.canonicalize(), dir.canonicalize())
            && !real.starts_with(&home)
        {
            bail!(
                "patch file {} is outside the kustomization's directory; kustomize's load restrictions forbid that too",
                shown.display()
            );
        }
        read(&file, &shown)
    };
    into.sets.push(crate::kustomize::parse(
        &text,
        &shown.display().to_string(),
        &read_relative,
    )?);
    Ok(())
}

/// Reads the file at `path`; `shown` names it in messages. Only a regular file: a FIFO
/// would block the run forever and a device could be endless.
fn read(path: &Path, shown: &Path) -> Result<String> {
    let not_regular = || {
        anyhow::anyhow!(
            "patch file {} is not a regular file or directory (a FIFO, socket or device?); \
             refusing to read it",
            shown.display()
        )
    };
    let cannot_read = || format!("cannot read patch file {}", shown.display());
    if !std::fs::metadata(path).with_context(cannot_read)?.is_file() {
        return Err(not_regular());
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Opened without blocking, and checked again: it may have been swapped since.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NONBLOCK | libc::O_NOCTTY,
    );
    let mut file = options.open(path).with_context(cannot_read)?;
    if !file.metadata().with_context(cannot_read)?.is_file() {
        return Err(not_regular());
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text).with_context(cannot_read)?;
    Ok(text)
}

/// The loader for this file's `kind`, if there is one.
fn loader_for(text: &str, origin: &str) -> Result<Option<Loader>> {
    let kind = kind_of(text, origin)?;
    Ok(LOADERS
        .iter()
        .find(|(k, _)| Some(*k) == kind.as_deref())
        .map(|(_, loader)| *loader))
}

/// The top-level `kind` of a YAML file (of its first document, when it holds several, as
/// example manifests do). A file that is not YAML is an error with its position: it may well
/// be a broken patch file.
fn kind_of(text: &str, origin: &str) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct Kind {
        kind: Option<String>,
    }
    let e = match yaml::read_document_head(text) {
        Ok(parsed) => {
            return Ok(parsed
                .value
                .and_then(|value| serde_json::from_value::<Kind>(value).ok())
                .and_then(|k| k.kind));
        }
        Err(e) => e,
    };
    match crate::stream::read(text.as_bytes()) {
        Ok(stream) if stream.manifests.len() > 1 => Ok(stream
            .manifests
            .first()
            .map(|m| m.kind().to_string())
            .filter(|kind| !kind.is_empty())),
        _ => bail!("{origin}:{}:{}: {}", e.line, e.column, e.message),
    }
}
