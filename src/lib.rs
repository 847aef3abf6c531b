//! pulse-harden as a library: the stream engine, patch files and transforms behind the CLI,
//! for the binary, the fuzz targets and the benchmarks.
//!
//! stdin → [`stream::read`] → [`pipeline::run`] (steps of [`patchfile::PatchSet`]s) → [`stream::write`] → stdout.

pub mod diff;
pub mod explain;
pub mod files;
pub mod glob;
pub mod helm_log;
pub mod images;
pub mod kustomize;
pub mod lists;
pub mod load;
pub mod manifest;
pub mod message;
pub mod names;
pub mod parallel;
pub mod patchfile;
pub mod pipeline;
pub mod pod;
pub mod pointer;
pub mod profiles;
pub mod report;
pub mod select;
pub mod stream;
pub mod transforms;
pub mod yaml;
