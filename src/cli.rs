//! Command-line flags. Every run flag can also come from a `PULSE_HARDEN_*` environment
//! variable, because Helm 3 and Argo CD pass settings to post-renderers that way.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  # Harden a rendered chart with your own patch files
  helm template web ./chart | pulse-harden -p patches/ > hardened.yaml

  # Helm 4: pulse-harden installed as a post-renderer plugin
  helm upgrade --install web ./chart --post-renderer pulse-harden \\
      --post-renderer-args --profile --post-renderer-args restricted

  # Helm 3: the binary on $PATH
  helm upgrade --install web ./chart --post-renderer pulse-harden

  # A stream that passes through untouched
  pulse-harden --profile none < rendered.yaml

Patch files (-p) are YAML `kind: PatchSet` documents; `pulse-harden explain` lists the
actions a step can take. Exit codes: 0 success, 1 check failed, 2 error.";

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
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Patch file or directory of patch files (applied in name order). Repeatable; applied
    /// after any profiles, in the order given.
    #[arg(
        short,
        long = "patches",
        value_name = "PATH",
        env = "PULSE_HARDEN_PATCHES",
        value_delimiter = ':'
    )]
    pub patches: Vec<PathBuf>,

    /// Built-in profile to apply (see `pulse-harden explain`). Repeatable or comma-separated;
    /// `none` applies nothing.
    #[arg(
        long,
        value_name = "NAME",
        env = "PULSE_HARDEN_PROFILE",
        value_delimiter = ','
    )]
    pub profile: Vec<String>,

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
}
