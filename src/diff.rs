//! `--diff`: a unified diff of every changed or generated document, the input text against
//! the output text, with Secret and ConfigMap data values redacted.

use crate::manifest::{self, Manifest};
use crate::message::printable;
use crate::report::redact;
use crate::yaml;
use anyhow::{Context, Result};
use serde_json::Value;
use similar::TextDiff;

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The diffs of the whole stream as the pipeline left it, one per changed or generated
/// document, in stream order; empty when nothing changed. `color` adds ANSI colours.
pub fn render(manifests: &[Manifest], color: bool) -> Result<String> {
    let mut out = String::new();
    for m in manifests {
        let Some((old_label, old, new)) = sides(m)? else {
            continue;
        };
        let new_label = format!("{} (output)", m.id());
        let text = TextDiff::from_lines(&old, &new)
            .unified_diff()
            .context_radius(3)
            .header(&old_label, &new_label)
            .to_string();
        // Input text could hold escape sequences: made printable before our own colours.
        let text = printable(&text);
        if color {
            out.push_str(&colorize(&text));
        } else {
            out.push_str(&text);
        }
    }
    Ok(out)
}

/// The old label and the old and new text of a document, or `None` if it did not change.
fn sides(m: &Manifest) -> Result<Option<(String, String, String)>> {
    if m.generated {
        let Some(value) = &m.value else {
            return Ok(None);
        };
        return Ok(Some((
            "/dev/null".to_string(),
            String::new(),
            document_text(m, &redact::document(value))?,
        )));
    }
    if !m.is_changed() {
        return Ok(None);
    }
    let (Some(before), Some(after)) = (m.before(), &m.value) else {
        return Ok(None);
    };
    let before = &*before;
    let label = match m.source() {
        Some(source) => format!("{} (input document {}, {source})", m.id(), m.index),
        None => format!("{} (input document {})", m.id(), m.index),
    };
    if redact::is_hidden(before, "") || redact::is_hidden(after, "") {
        // The input text would show the values; the re-emitted, redacted document does not.
        let (before, after) = redact::pair(before, after);
        return Ok(Some((
            label,
            document_text(m, &before)?,
            document_text(m, &after)?,
        )));
    }
    // Line endings are not a change worth showing.
    let old = m.raw.replace("\r\n", "\n");
    Ok(Some((
        label,
        old,
        document_text(m, &redact::document(after))?,
    )))
}

/// The document as written to the output: header comments, then the emitted value (which
/// the caller has redacted).
fn document_text(m: &Manifest, value: &Value) -> Result<String> {
    let emitted = yaml::emit(value).with_context(|| format!("cannot show {}", m.place()))?;
    Ok(format!(
        "{}{emitted}",
        manifest::header(&m.raw).replace("\r\n", "\n")
    ))
}

/// Colours the unified diff of one document: its two file header lines bold, hunk headers
/// cyan, removed lines red, added lines green.
fn colorize(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len() * 2);
    for (i, line) in diff.split_inclusive('\n').enumerate() {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        // A removed content line can itself start with `---`: only the first two lines are
        // file headers.
        let color = if i < 2 {
            BOLD
        } else if body.starts_with("@@") {
            CYAN
        } else if body.starts_with('-') {
            RED
        } else if body.starts_with('+') {
            GREEN
        } else {
            ""
        };
        if color.is_empty() {
            out.push_str(line);
        } else {
            out.push_str(&format!("{color}{body}{RESET}{newline}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_generated_resource_is_diffed_against_nothing() {
        let mut doc = Manifest::from_value(
            1,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "c2VjcmV0"}}),
        );
        doc.generated = true;
        doc.raw = "# Source: c/templates/a.yaml\n".into();
        let text = render(&[doc], false).unwrap();
        assert_eq!(
            text,
            "--- /dev/null\n+++ Secret/(release namespace)/s (output)\n@@ -0,0 +1,7 @@\n+# Source: c/templates/a.yaml\n+apiVersion: v1\n+kind: Secret\n+metadata:\n+  name: s\n+data:\n+  k: <redacted>\n"
        );
    }

    #[test]
    fn colours_only_what_a_diff_line_is() {
        let diff = "--- a\n+++ b\n@@ -1 +1 @@\n--- x\n+y\n z\n";
        assert_eq!(
            colorize(diff),
            format!(
                "{BOLD}--- a{RESET}\n{BOLD}+++ b{RESET}\n{CYAN}@@ -1 +1 @@{RESET}\n{RED}--- x{RESET}\n{GREEN}+y{RESET}\n z\n"
            )
        );
    }
}
