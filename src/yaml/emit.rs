//! Writes a changed document back as YAML, and proves it reads back as the same value.

use super::read::{read_document, reads_as};
use anyhow::{Result, bail};
use serde_json::Value;
use serde_saphyr::SerializerOptions;

/// Emits `value` as one YAML document (no `---`), ending with a newline.
///
/// The text is read back with the Kubernetes reader and must equal `value`; if the default
/// style does not survive (an unforeseen plain scalar), every string is quoted instead; if
/// that fails too, nothing is emitted.
pub fn emit(value: &Value) -> Result<String> {
    let mut readable = SerializerOptions::default();
    // A long one-line string stays on one line (annotations holding JSON, for example).
    readable.folded_wrap_chars = usize::MAX;
    let mut quoted = readable.clone();
    quoted.quote_all = true;
    for options in [readable, quoted] {
        let mut text = serde_saphyr::to_string_with_options(value, options)?;
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
    fn long_lines_stay_on_one_line() {
        let long = "x ".repeat(100);
        let text = emit(&json!({ "a": long.trim() })).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
    }
}
