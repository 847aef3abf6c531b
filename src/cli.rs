//! Command-line flags. Every run flag can also come from a `PULSE_HARDEN_*` environment
//! variable, because Helm 3 and Argo CD pass settings to post-renderers that way.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  # Helm 4: pulse-harden installed as a post-renderer plugin. Helm shows a post-renderer's
  # stderr only when it fails, so send the change report to a file
  helm upgrade --install web ./chart --post-renderer pulse-harden \\
      --post-renderer-args -p --post-renderer-args /etc/pulse-harden/patches \\
      --post-renderer-args --report --post-renderer-args /tmp/web-report.txt

  # Helm 3: the binary on $PATH; settings from the environment (works with Helm 4 too)
  PULSE_HARDEN_PATCHES=/etc/pulse-harden/patches PULSE_HARDEN_REPORT=/tmp/web-report.txt \\
      helm upgrade --install web ./chart --post-renderer pulse-harden

  # Argo CD config management plugin, the heart of argocd/plugin.yaml's `generate` (which
  # also checks every value first): pipefail, Application values only as values, patch files
  # confined to the app directory, an empty render refused (--strict refuses it too), the
  # stream printed only when both succeeded; stderr shows in the Argo CD UI on failure
  bash -c 'set -euo pipefail; out=$(mktemp)
      helm template --namespace=\"$ARGOCD_APP_NAMESPACE\" -- \"$ARGOCD_APP_NAME\" . \\
        | pulse-harden --patch-root=\"$PWD\" --patches=patches/ --require-resources > \"$out\"
      cat \"$out\"'

  # CI gate: fail when the rendered chart is not hardened, and show what would change
  helm template web ./chart | pulse-harden -p patches/ --check --diff

  # Review what each step did, for people or for programs
  helm template web ./chart | pulse-harden -p patches/ --report - > hardened.yaml
  helm template web ./chart | pulse-harden -p patches/ -o hardened.yaml \\
      --report report.json --report-format json

Patch files (-p) are YAML `kind: PatchSet` documents; `pulse-harden explain` lists the
actions and profiles. The summary line on stderr appears only on a terminal
(PULSE_HARDEN_SUMMARY=always|never overrides).

Exit codes:
  0  success; with --check: nothing would change
  1  --check: something would change; --strict: a step matched nothing, a conflict was
     left alone, or the input held no resource (nothing is written to stdout)
  2  error: bad input, bad patch file, a step that cannot apply (nothing is written to
     stdout)";

#[derive(Debug, Parser)]
#[command(
    name = "pulse-harden",
    version,
    about = "Harden and fix rendered Kubernetes manifests: a Helm post-renderer that changes only what you ask",
    long_about = "Reads a multi-document YAML stream (from Helm, `helm template` or a file), applies the \
steps of the given patch sets and built-in profiles, and writes the stream back. Documents no step \
changes come out byte for byte; changed ones keep their meaning to Kubernetes for every field not changed. \
On any error nothing is written to stdout.",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the actions and profiles, or describe one of them.
    Explain {
        /// An action key (e.g. `jsonPatch`) or a profile name.
        name: Option<String>,
    },
    /// List the images a stream's pods use (normalised, with the resources using them); with
    /// --resolve, read each image's user from its registry and write an `ImageUsers` file.
    Images(ImagesArgs),
}

/// `pulse-harden images`: the only command that may reach the network, and only with
/// `--resolve`.
#[derive(Debug, Args)]
#[command(after_help = IMAGES_EXAMPLES)]
pub struct ImagesArgs {
    /// Read the stream from this file instead of stdin.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Fetch each image's config from its registry and write an `ImageUsers` file (sorted,
    /// with the digest each reference resolved to and when) instead of the listing.
    #[arg(long)]
    pub resolve: bool,

    /// Write to this file (atomically) instead of stdout; nothing is written on any error.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// An `ImageUsers` file to keep: only images it says nothing about are resolved, and its
    /// entries are written back with the new ones. A file that does not exist yet is empty.
    #[arg(
        short = 'p',
        long = "existing",
        value_name = "EXISTING",
        requires = "resolve"
    )]
    pub existing: Option<PathBuf>,

    /// For a multi-platform image, the platform whose user is recorded.
    #[arg(
        long,
        value_name = "OS/ARCH",
        default_value = "linux/amd64",
        requires = "resolve"
    )]
    pub platform: pulse_harden::images::resolve::Platform,

    /// Reach this registry over plain HTTP instead of HTTPS: `HOST` (any port) or
    /// `HOST:PORT`. Repeatable.
    #[arg(long = "plain-http", value_name = "HOST[:PORT]", requires = "resolve")]
    pub plain_http: Vec<String>,

    /// Give up on a registry request after this many seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30,
        requires = "resolve"
    )]
    pub timeout: u64,

    /// At most this many images are resolved at once.
    #[arg(long, value_name = "N", default_value_t = 8, requires = "resolve")]
    pub parallel: usize,
}

const IMAGES_EXAMPLES: &str = "\
Examples:
  # The images a chart uses, and which resources use them
  helm template web ./chart | pulse-harden images

  # CI: record (and refresh) what user each image runs as; commit image-users.yaml and
  # render with `-p image-users.yaml`, which never reaches the network
  helm template web ./chart \\
      | pulse-harden images --resolve -p image-users.yaml -o image-users.yaml

Credentials come from $DOCKER_CONFIG/config.json (else ~/.docker/config.json), `auths`
entries; registries that answer with a bearer-token challenge are asked for a token with them.
HTTPS_PROXY/NO_PROXY are honoured (never for loopback registries). HTTPS certificates are
checked against Mozilla's roots, or against the PEM file SSL_CERT_FILE names.

Exit codes:
  0  success
  2  error: bad input, or a registry or image that could not be read (named; no file is
     written)";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Patch file or directory of patch files (read with its sub-directories, in path order;
    /// files of other kinds are skipped and named in the report). Repeatable; applied after
    /// any profiles, in the order given.
    #[arg(
        short,
        long = "patches",
        value_name = "PATH",
        env = "PULSE_HARDEN_PATCHES",
        value_parser = items::<PathBuf, ':'>
    )]
    pub patches: Vec<Items<PathBuf>>,

    /// Built-in profile to apply (see `pulse-harden explain`). Repeatable or comma-separated;
    /// `none` applies nothing.
    #[arg(
        long,
        value_name = "NAME",
        env = "PULSE_HARDEN_PROFILE",
        value_parser = items::<String, ','>
    )]
    pub profile: Vec<Items<String>>,

    /// Resolve patch paths relative to this directory and refuse any that lead out of it
    /// (`..`, absolute paths, symlinks): for patch files from an app repository (Argo CD).
    #[arg(long, value_name = "DIR", env = "PULSE_HARDEN_PATCH_ROOT")]
    pub patch_root: Option<PathBuf>,

    /// Read the stream from this file instead of stdin.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Write the result to this file (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Refuse (exit 2) a stream of more documents than this: what a runaway stream of tiny
    /// documents can cost stays bounded.
    #[arg(
        long,
        value_name = "N",
        env = "PULSE_HARDEN_MAX_DOCUMENTS",
        default_value_t = crate::stream::MAX_DOCUMENTS
    )]
    pub max_documents: usize,

    #[command(flatten)]
    pub report: ReportArgs,
}

/// What a run tells about itself besides the stream: the change report, check mode, diffs
/// and the summary line.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Write a change report to FILE (`-` for stderr): every resource a step selected, what
    /// each step did and why, every changed field with before and after, the steps that
    /// matched nothing. Helm shows a post-renderer's stderr only when it fails: use a file.
    #[arg(long, value_name = "FILE", env = "PULSE_HARDEN_REPORT")]
    pub report: Option<PathBuf>,

    /// The report's format: `text` for people, `json` for programs (versioned).
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value_t,
        env = "PULSE_HARDEN_REPORT_FORMAT"
    )]
    pub report_format: ReportFormat,

    /// CI gate: write no stream; exit 1 and list on stderr what would change when any step
    /// would change or generate something, exit 0 when the stream is already compliant.
    #[arg(long)]
    pub check: bool,

    /// Also fail (exit 1, nothing on stdout) when a step matched no resource, a conflict
    /// left a resource (or part of it) alone, or the input holds no resource.
    #[arg(long, env = "PULSE_HARDEN_STRICT")]
    pub strict: bool,

    /// Fail (exit 2, nothing on stdout) when the input holds no resource: an empty render
    /// is a mistake where empty output deletes things (Argo CD with auto-prune).
    #[arg(long, env = "PULSE_HARDEN_REQUIRE_RESOURCES")]
    pub require_resources: bool,

    /// Add the change report to the stream as a ConfigMap of this name (data key
    /// `report.txt`, or `report.json` with `--report-format json`), where Argo CD shows it.
    #[arg(
        long,
        value_name = "NAME",
        env = "PULSE_HARDEN_REPORT_CONFIGMAP",
        value_parser = configmap_name
    )]
    pub report_configmap: Option<String>,

    /// Print a unified diff of every changed or generated resource to stderr.
    #[arg(long)]
    pub diff: bool,

    /// Colour the diff: `auto` (when stderr is a terminal), `always` or `never`. `NO_COLOR`
    /// turns colour off whatever this says.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t)]
    pub color: When,

    /// The summary line on stderr: `auto` (when stderr is a terminal), `always` or `never`.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value_t,
        env = "PULSE_HARDEN_SUMMARY",
        hide = true
    )]
    pub summary: When,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, ValueEnum)]
pub enum ReportFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, ValueEnum)]
pub enum When {
    #[default]
    Auto,
    Always,
    Never,
}

/// A ConfigMap name as Kubernetes takes it: a DNS-1123 subdomain.
fn configmap_name(name: &str) -> Result<String, String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() <= 253 && name.split('.').all(label_ok) {
        Ok(name.to_string())
    } else {
        Err("a ConfigMap name is lower-case letters, digits, `-` and `.` (a DNS-1123 subdomain, at most 253 characters)".into())
    }
}

/// The items of one `-p a:b` or `--profile a,b` (or of its environment variable), split at
/// `SEP`: an empty item (`PULSE_HARDEN_PATCHES=`, a trailing `:`) is no item, not an error.
#[derive(Debug, Clone)]
pub struct Items<T>(pub Vec<T>);

fn items<T: From<String>, const SEP: char>(text: &str) -> Result<Items<T>, String> {
    Ok(Items(
        text.split(SEP)
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| T::from(item.to_string()))
            .collect(),
    ))
}

/// All the items given, in order.
pub fn flatten<T>(lists: &[Items<T>]) -> impl Iterator<Item = &T> {
    lists.iter().flat_map(|list| list.0.iter())
}
