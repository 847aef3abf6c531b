//! The YAML layer: the only module that knows which YAML crates we use.
//!
//! Reading follows what Kubernetes reads (goyaml v2 rules, see `resolve`); writing uses
//! serde-saphyr, whose emitter quotes every string a YAML 1.1 reader could mistake for
//! something else. A written document is proved to read back as its value before it is used:
//! by construction for the common shape (`direct`), by reading it back for the rest (`emit`).
//! Reading, too, has a fast path for the common shape (`quick`), tested against the full
//! reader (`read`).

mod direct;
mod emit;
mod lexical;
mod quick;
mod read;
mod resolve;

pub use direct::emit_direct;
pub use emit::{emit, emit_with_writer};
pub use quick::read_quickly;
pub use read::{
    Hazard, MAX_DEPTH, Parsed, ReadError, WantsAll, read_document, read_document_head,
    read_document_head_unless, read_in_full,
};

/// Reads a patch file (or any of our own configuration) into typed structs, with
/// `file:line:column` errors. Numbers and booleans are read as Kubernetes would read them.
pub fn from_config_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    let mut options = serde_saphyr::options::Options::default();
    options.legacy_octal_numbers = true;
    from_str_with(text, options)
}

/// Reads a patch inside a kustomization as kustomize (kyaml, YAML 1.2 rules) reads it: only
/// `true`/`false` are booleans, so `y`, `on` and `yes` stay strings.
pub fn from_kustomize_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    let mut options = serde_saphyr::options::Options::default();
    options.strict_booleans = true;
    from_str_with(text, options)
}

fn from_str_with<T: serde::de::DeserializeOwned>(
    text: &str,
    mut options: serde_saphyr::options::Options,
) -> Result<T, ConfigError> {
    options.with_snippet = false;
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let e = e.without_snippet();
        let location = e.location();
        let mut message = e.to_string();
        if let Some(loc) = &location {
            let suffix = format!(" at line {}, column {}", loc.line(), loc.column());
            if let Some(stripped) = message.strip_suffix(&suffix) {
                message = stripped.to_string();
            }
        }
        ConfigError {
            line: location.as_ref().map(|l| l.line() as usize),
            column: location.as_ref().map(|l| l.column() as usize),
            message,
        }
    })
}

/// The `apiVersion` of every pulse-harden file.
pub const API_VERSION: &str = "pulse-harden/v1";

/// The `apiVersion` field of our configuration files: only `pulse-harden/v1` reads.
#[derive(serde::Deserialize)]
pub enum ApiVersion {
    #[serde(rename = "pulse-harden/v1")]
    V1,
}

/// The optional `metadata` of our configuration files, for their reader.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Metadata {
    name: Option<String>,
    description: Option<String>,
}

/// An error in one of our configuration files, without the file name.
#[derive(Debug)]
pub struct ConfigError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}
