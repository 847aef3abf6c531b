//! Writes a changed document back as YAML, and proves it reads back as the same value.

use super::direct::emit_direct;
use super::read::{read_document, reads_as};
use anyhow::{Result, bail};
use serde::{Serialize, Serializer};
use serde_json::Value;
use serde_saphyr::{DoubleQuoted, SerializerOptions};

/// Emits `value` as one YAML document (no `---`), ending with a newline.
///
/// The common shape is written directly ([`emit_direct`]), where every scalar's reading is
/// known by construction (and, in debug builds and so in every test, checked by reading it
/// back all the same). Everything else goes to the YAML writer ([`emit_with_writer`]).
pub fn emit(value: &Value) -> Result<String> {
    if let Some(text) = emit_direct(value) {
        debug_assert!(reads_as(&text, value), "direct emit misread: {text}");
        return Ok(text);
    }
    emit_with_writer(value)
}

/// Emits `value` with the YAML writer (serde-saphyr).
///
/// The text is read back with the Kubernetes reader (goyaml v2's rules, which refuse some
/// text the YAML 1.2 writer would produce) and must equal `value`; if the default style does
/// not survive (an unforeseen plain scalar), every string is quoted instead; if that fails
/// too, nothing is emitted.
pub fn emit_with_writer(value: &Value) -> Result<String> {
    let mut readable = SerializerOptions::default();
    // A long one-line string stays on one line (annotations holding JSON, for example).
    readable.folded_wrap_chars = usize::MAX;
    let mut quoted = readable.clone();
    quoted.quote_all = true;
    for options in [readable, quoted] {
        let mut text = serde_saphyr::to_string_with_options(&Styled(value), options)?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        // The cheap proof first (it reads without building); a full read decides when it
        // cannot tell.
        if reads_as(&text, value) {
            return Ok(text);
        }
        let read_back = read_document(&text);
        if matches!(&read_back, Ok(p) if p.hazards.is_empty() && p.value.as_ref() == Some(value)) {
            return Ok(text);
        }
    }
    bail!("the YAML writer could not express this document without changing its meaning")
}

/// A value whose strings are written in a style goyaml reads back unchanged: the writer's
/// own choice, except where that would be a `|` block goyaml refuses.
struct Styled<'a>(&'a Value);

impl Serialize for Styled<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::String(text) if block_would_start_with_tab(text) => {
                DoubleQuoted(text).serialize(serializer)
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(Styled)),
            Value::Object(map) => serializer.collect_map(map.iter().map(|(k, v)| (k, Styled(v)))),
            other => other.serialize(serializer),
        }
    }
}

/// A multi-line string becomes a `|` block with no indentation indicator unless its first
/// line starts with a space; goyaml refuses such a block when its first content line
/// starts with a tab ("found a tab character where an indentation space is expected").
fn block_would_start_with_tab(text: &str) -> bool {
    text.contains('\n') && text.trim_start_matches('\n').starts_with('\t')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotes_what_kubernetes_would_misread() {
        let v = json!({"a": "yes", "b": "0644", "c": 493, "d": "on", "e": "1e3", "f": "~",
                       "g": "", "h": "y", "i": "1_000", "j": "0X1F", "k": "1:20", "l": "null"});
        let text = emit(&v).unwrap();
        assert_eq!(read_document(&text).unwrap().value.unwrap(), v, "{text}");
        assert!(text.contains("c: 493\n"), "{text}");
    }

    #[test]
    fn multi_line_strings_become_block_scalars() {
        let text = emit(&json!({"script": "#!/bin/sh\necho hi\n"})).unwrap();
        assert_eq!(text, "script: |\n  #!/bin/sh\n  echo hi\n");
    }

    #[test]
    fn tab_first_lines_are_double_quoted() {
        for s in ["\tset -e\n\techo hi\n", "\n\tx", "\t\nx"] {
            let text = emit(&json!({ "a": s, "b": [s] })).unwrap();
            assert!(text.starts_with("a: \""), "{text}");
            assert!(text.contains("- \""), "{text}");
        }
        // A tab later in the block is fine for goyaml: stays a block.
        let text = emit(&json!({"a": "x\n\ty\n"})).unwrap();
        assert_eq!(text, "a: |\n  x\n  \ty\n");
    }

    #[test]
    fn unicode_line_breaks_are_escaped() {
        let text = emit(&json!({"a": "x\u{85}y", "b": "x\u{2028}y\nz", "c\u{2029}": 1})).unwrap();
        assert!(!text.contains(['\u{85}', '\u{2028}', '\u{2029}']), "{text}");
        assert!(
            text.contains("\\N") && text.contains("\\L") && text.contains("\\P"),
            "{text}"
        );
    }

    #[test]
    fn long_lines_stay_on_one_line() {
        let long = "x ".repeat(100);
        let text = emit(&json!({ "a": long.trim() })).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
    }
}
