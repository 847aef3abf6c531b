//! One document of the stream: its raw text, where it came from, and its parsed value.

use crate::yaml::Hazard;
use serde_json::{Map, Value};

/// The annotation Helm 4 puts on every document it hands to a post-renderer.
pub const HELM4_FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";
/// The annotation that makes a resource a Helm hook.
pub const HELM_HOOK_ANNOTATION: &str = "helm.sh/hook";
/// The per-resource opt-out: `"all"` or a comma-separated list of step names.
pub const SKIP_ANNOTATION: &str = "pulse-harden.io/skip";

#[derive(Debug)]
pub struct Manifest {
    /// 1-based position in the stream.
    pub index: usize,
    /// 1-based line of the stream where the document's text starts.
    pub line: usize,
    /// The `---` line that opened it (empty for a first document without one).
    pub separator: String,
    /// The document's text as it came in.
    pub raw: String,
    /// The parsed document; `None` for empty, comment-only and `null` documents.
    pub value: Option<Value>,
    /// The value before the first step changed it; set only once something changed.
    pub before_change: Option<Value>,
    pub hazards: Vec<Hazard>,
    /// Made by a step (a PodDisruptionBudget, say), not read from the input.
    pub generated: bool,
}

impl Manifest {
    pub fn kind(&self) -> &str {
        self.str_at(&["kind"])
    }

    pub fn api_version(&self) -> &str {
        self.str_at(&["apiVersion"])
    }

    /// The API group: `apps` for `apps/v1`, empty for the core group (`v1`).
    pub fn group(&self) -> &str {
        self.api_version()
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    pub fn name(&self) -> &str {
        self.str_at(&["metadata", "name"])
    }

    pub fn namespace(&self) -> &str {
        self.str_at(&["metadata", "namespace"])
    }

    pub fn labels(&self) -> Option<&Map<String, Value>> {
        self.map_at(&["metadata", "labels"])
    }

    pub fn annotations(&self) -> Option<&Map<String, Value>> {
        self.map_at(&["metadata", "annotations"])
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations()?.get(key)?.as_str()
    }

    /// Is it a resource at all (a mapping with a kind), as opposed to an empty document or
    /// a stray scalar?
    pub fn is_resource(&self) -> bool {
        matches!(&self.value, Some(Value::Object(_))) && !self.kind().is_empty()
    }

    pub fn is_hook(&self) -> bool {
        self.annotation(HELM_HOOK_ANNOTATION).is_some()
    }

    /// The chart template this document was rendered from: Helm 4's annotation, else
    /// the `# Source:` comment Helm 3 and `helm template` write.
    pub fn source(&self) -> Option<&str> {
        self.annotation(HELM4_FILENAME_ANNOTATION)
            .or_else(|| source_comment(&self.raw))
    }

    /// `Kind/namespace/name` (or `Kind/name` when cluster-scoped), for messages and reports.
    pub fn id(&self) -> String {
        if !self.is_resource() {
            return format!("document {}", self.index);
        }
        match self.namespace() {
            "" => format!("{}/{}", self.kind(), self.name()),
            ns => format!("{}/{}/{}", self.kind(), ns, self.name()),
        }
    }

    /// Where the document is, for error messages: `document 3 (chart/templates/x.yaml)`.
    pub fn place(&self) -> String {
        match self.source() {
            Some(source) => format!("document {} ({source})", self.index),
            None => format!("document {}", self.index),
        }
    }

    /// Step names this resource opted out of, or `None` for "all".
    pub fn opted_out_of(&self, step: &str) -> bool {
        self.annotation(SKIP_ANNOTATION).is_some_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|name| name == "all" || name == step)
        })
    }

    pub fn is_changed(&self) -> bool {
        self.before_change
            .as_ref()
            .is_some_and(|before| Some(before) != self.value.as_ref())
    }

    fn str_at(&self, path: &[&str]) -> &str {
        let mut v = match &self.value {
            Some(v) => v,
            None => return "",
        };
        for key in path {
            match v.get(key) {
                Some(next) => v = next,
                None => return "",
            }
        }
        v.as_str().unwrap_or("")
    }

    fn map_at(&self, path: &[&str]) -> Option<&Map<String, Value>> {
        let mut v = self.value.as_ref()?;
        for key in path {
            v = v.get(key)?;
        }
        v.as_object()
    }
}

/// The template path in a `# Source: chart/templates/x.yaml` header line.
pub fn source_comment(raw: &str) -> Option<&str> {
    header_lines(raw).find_map(|line| {
        line.trim_start()
            .strip_prefix('#')?
            .trim_start()
            .strip_prefix("Source:")
            .map(str::trim)
    })
}

/// The leading blank and comment lines of a document (Helm's `# Source:` lives there).
pub fn header(raw: &str) -> &str {
    let mut end = 0;
    for line in raw.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            end += line.len();
        } else {
            break;
        }
    }
    &raw[..end]
}

fn header_lines(raw: &str) -> impl Iterator<Item = &str> {
    header(raw).lines()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_helm_source_comment() {
        let raw = "# Source: demo/templates/deployment.yaml\napiVersion: apps/v1\n";
        assert_eq!(source_comment(raw), Some("demo/templates/deployment.yaml"));
        assert_eq!(header(raw), "# Source: demo/templates/deployment.yaml\n");
        assert_eq!(source_comment("kind: Pod\n# Source: late\n"), None);
    }
}
