//! What reaches a terminal or the Helm log: input text (a `# Source:` comment, a key, a
//! resource name) can hold control characters and escape sequences that a terminal would
//! act on. Every message we print or log goes through [`printable`].

use std::borrow::Cow;

/// `text` with every control character (but newline and tab) and every Unicode bidi
/// control written as a visible `\u{..}` escape, so nothing from the input can move the
/// cursor, recolour, retitle, or reorder what the user reads.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape_with(text, |c, out| out.extend(c.escape_unicode()))
}

/// [`printable`] for JSON text: the same characters, as JSON's own `\u007f` escapes (they can
/// only occur inside strings), so the text stays valid JSON.
pub fn printable_json(json: &str) -> Cow<'_, str> {
    // Every such character is in the Basic Multilingual Plane: one `\uXXXX`.
    escape_with(json, |c, out| out.push_str(&format!("\\u{:04x}", c as u32)))
}

fn escape_with(text: &str, escape: impl Fn(char, &mut String)) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if needs_escape(c) {
            escape(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert!(matches!(printable("plain\n\ttext ü"), Cow::Borrowed(_)));
        assert_eq!(
            printable("a\x1b]0;title\x07b\rc\u{9b}2J\u{202e}d"),
            "a\\u{1b}]0;title\\u{7}b\\u{d}c\\u{9b}2J\\u{202e}d"
        );
        let json = serde_json::json!({"k": "a\u{1b}b\u{7f}c\u{9b}d\u{202e}"}).to_string();
        let shown = printable_json(&json);
        assert_eq!(shown, r#"{"k":"a\u001bb\u007fc\u009bd\u202e"}"#);
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back["k"], "a\u{1b}b\u{7f}c\u{9b}d\u{202e}");
    }
}
