//! goyaml's lexical rules where they differ from the YAML 1.2 parser underneath us.
//!
//! goyaml v2 is a port of libyaml, a YAML 1.1 scanner: NEL, LS and PS (U+0085, U+2028, U+2029)
//! are line breaks, not content; a block scalar's first content line may not start with a tab;
//! double quotes take `\'` but not `\/` and no surrogate escapes. granit-parser follows YAML 1.2
//! on all of these, so this module adjusts its input and its scalars until they read as goyaml
//! reads them.

use std::borrow::Cow;

const NEL: char = '\u{85}';
const LS: char = '\u{2028}';
const PS: char = '\u{2029}';

/// A document's text as the parser sees it: every NEL, LS and PS turned into `\n` (so lines,
/// indentation and comments end where goyaml ends them), and every `\'` escape goyaml allows
/// in double quotes spelled `\x27`. Offsets in it map back to the original text.
pub struct Prepared<'a> {
    pub original: &'a str,
    pub text: Cow<'a, str>,
    /// (offset in the original, bytes replaced, replacement), in text order.
    edits: Vec<(usize, usize, &'static str)>,
    /// (offset in `text` just after an edit, bytes `text` gained up to there).
    shifts: Vec<(usize, isize)>,
}

impl<'a> Prepared<'a> {
    pub fn new(original: &'a str) -> Prepared<'a> {
        let mut prepared = Prepared {
            original,
            text: Cow::Borrowed(original),
            edits: Vec::new(),
            shifts: Vec::new(),
        };
        if original.contains([NEL, LS, PS]) {
            prepared.edits = original
                .match_indices([NEL, LS, PS])
                .map(|(at, c)| (at, c.len(), "\n"))
                .collect();
            prepared.apply();
        }
        prepared
    }

    fn apply(&mut self) {
        self.edits.sort_unstable_by_key(|e| e.0);
        let mut text = String::with_capacity(self.original.len() + 2 * self.edits.len());
        let mut shifts = Vec::with_capacity(self.edits.len());
        let (mut copied, mut gained) = (0, 0isize);
        for &(at, len, replacement) in &self.edits {
            text.push_str(&self.original[copied..at]);
            text.push_str(replacement);
            copied = at + len;
            gained += replacement.len() as isize - len as isize;
            shifts.push((text.len(), gained));
        }
        text.push_str(&self.original[copied..]);
        self.text = Cow::Owned(text);
        self.shifts = shifts;
    }

    /// Rewrites the `\'` escapes of the double-quoted scalar starting at `at` (an offset in
    /// `text`) as `\x27`, which the parser knows. False when there were none.
    pub fn respell_quote_escapes(&mut self, at: usize) -> bool {
        let Some(rest) = self.text.get(at..).filter(|r| r.starts_with('"')) else {
            return false;
        };
        let mut found = Vec::new();
        let mut chars = rest.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => break,
                '\\' => {
                    if let Some((_, '\'')) = chars.next() {
                        found.push(self.original_offset(at + i));
                    }
                }
                _ => {}
            }
        }
        if found.is_empty() {
            return false;
        }
        self.edits
            .extend(found.into_iter().map(|o| (o, 2, "\\x27")));
        self.apply();
        true
    }

    fn original_offset(&self, offset: usize) -> usize {
        let edits = self.shifts.partition_point(|&(at, _)| at <= offset);
        let gained = edits.checked_sub(1).map_or(0, |i| self.shifts[i].1);
        (offset as isize - gained).clamp(0, self.original.len() as isize) as usize
    }

    /// The original text of a range of `text`.
    pub fn original_slice(&self, start: usize, end: usize) -> &'a str {
        self.original
            .get(self.original_offset(start)..self.original_offset(end))
            .unwrap_or("")
    }

    /// Whether a range of `text` holds a line break that was an LS or PS.
    pub fn has_separator(&self, start: usize, end: usize) -> bool {
        !self.edits.is_empty() && self.original_slice(start, end).contains([LS, PS])
    }
}

/// The scalar styles goyaml folds line by line.
#[derive(Clone, Copy, PartialEq)]
pub enum Flow {
    Plain,
    Single,
    Double,
}

/// A flow scalar's value as libyaml's `scan_flow_scalar` / `scan_plain_scalar` build it from
/// its source text (quotes included): escapes decoded, lines folded, with NEL, LS and PS as
/// line breaks (NEL folds like `\n`; LS and PS are kept where a break is kept).
pub fn fold(raw: &str, style: Flow) -> Result<String, &'static str> {
    let inner = match style {
        Flow::Plain => raw,
        Flow::Single | Flow::Double => raw
            .get(1..raw.len().saturating_sub(1))
            .ok_or("an unterminated quoted scalar")?,
    };
    let chars: Vec<char> = inner.chars().collect();
    let mut out = String::with_capacity(inner.len());
    let (mut whitespace, mut leading_break, mut trailing_breaks) =
        (String::new(), String::new(), String::new());
    let mut i = 0;
    while i < chars.len() {
        let mut leading_blanks = false;
        // Non-blank characters.
        while i < chars.len() && !is_blank(chars[i]) && !is_break(chars[i]) {
            let c = chars[i];
            if style == Flow::Single && c == '\'' && chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
            } else if style == Flow::Double && c == '\\' {
                if chars.get(i + 1).is_some_and(|&n| is_break(n)) {
                    i += 1;
                    read_break(&chars, &mut i);
                    leading_blanks = true;
                    break;
                }
                out.push(escape(&chars, &mut i)?);
            } else {
                out.push(c);
                i += 1;
            }
        }
        // At the closing quote (or the end of a plain scalar).
        if i >= chars.len() {
            break;
        }
        // Blanks and line breaks.
        while i < chars.len() && (is_blank(chars[i]) || is_break(chars[i])) {
            if is_blank(chars[i]) {
                if !leading_blanks {
                    whitespace.push(chars[i]);
                }
                i += 1;
            } else if !leading_blanks {
                whitespace.clear();
                leading_break.push(read_break(&chars, &mut i));
                leading_blanks = true;
            } else {
                trailing_breaks.push(read_break(&chars, &mut i));
            }
        }
        // A plain scalar ends at its last non-blank character; quotes keep what is before them.
        if style == Flow::Plain && i >= chars.len() {
            break;
        }
        if leading_blanks {
            if leading_break.starts_with('\n') {
                if trailing_breaks.is_empty() {
                    out.push(' ');
                } else {
                    out.push_str(&trailing_breaks);
                }
            } else {
                out.push_str(&leading_break);
                out.push_str(&trailing_breaks);
            }
            leading_break.clear();
            trailing_breaks.clear();
        } else {
            out.push_str(&whitespace);
            whitespace.clear();
        }
    }
    Ok(out)
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | NEL | LS | PS)
}

/// libyaml's `READ_LINE`: CR LF, CR, LF and NEL read as `\n`; LS and PS as themselves.
fn read_break(chars: &[char], i: &mut usize) -> char {
    let c = chars[*i];
    *i += 1;
    match c {
        '\r' if chars.get(*i) == Some(&'\n') => {
            *i += 1;
            '\n'
        }
        '\r' | '\n' | NEL => '\n',
        other => other,
    }
}

/// One escape sequence at `chars[*i]` (a backslash), as goyaml decodes it.
fn escape(chars: &[char], i: &mut usize) -> Result<char, &'static str> {
    const UNKNOWN: &str = "found unknown escape character (Kubernetes rejects it)";
    let Some(&kind) = chars.get(*i + 1) else {
        return Err(UNKNOWN);
    };
    *i += 2;
    let digits = match kind {
        '0' => return Ok('\0'),
        'a' => return Ok('\x07'),
        'b' => return Ok('\x08'),
        't' | '\t' => return Ok('\t'),
        'n' => return Ok('\n'),
        'v' => return Ok('\x0b'),
        'f' => return Ok('\x0c'),
        'r' => return Ok('\r'),
        'e' => return Ok('\x1b'),
        ' ' => return Ok(' '),
        '"' => return Ok('"'),
        '\'' => return Ok('\''),
        '\\' => return Ok('\\'),
        'N' => return Ok(NEL),
        '_' => return Ok('\u{a0}'),
        'L' => return Ok(LS),
        'P' => return Ok(PS),
        'x' => 2,
        'u' => 4,
        'U' => 8,
        _ => return Err(UNKNOWN),
    };
    let hex: String = chars.iter().skip(*i).take(digits).collect();
    if hex.len() != digits || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("did not find expected hexadecimal number");
    }
    *i += digits;
    u32::from_str_radix(&hex, 16)
        .ok()
        .and_then(char::from_u32)
        .ok_or("found an invalid Unicode character escape code (a surrogate or beyond U+10FFFF; Kubernetes rejects it)")
}

/// goyaml refuses a block scalar (without an indentation indicator) whose first content
/// line starts with a tab after its indentation: "found a tab character where an indentation
/// space is expected". `start` is where the parser says the content starts.
pub fn block_starts_with_tab(text: &str, start: usize) -> bool {
    let before = &text[..start.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    if !text[start.min(text.len())..].starts_with('\t')
        || !before[line_start..].bytes().all(|b| b == b' ')
    {
        return false;
    }
    // The header: the last line before the content that is not blank.
    let header = before[..line_start]
        .trim_end_matches([' ', '\t', '\n', '\r'])
        .rsplit('\n')
        .next()
        .unwrap_or("");
    let header = header.split(" #").next().unwrap_or(header).trim_end();
    let indicators = header
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-')
        .len();
    !header[indicators..].bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_unicode_line_breaks_as_goyaml_does() {
        assert_eq!(
            fold("'Loading\u{85} please wait'", Flow::Single).unwrap(),
            "Loading please wait"
        );
        assert_eq!(fold("'x\u{2028} y'", Flow::Single).unwrap(), "x\u{2028}y");
        assert_eq!(
            fold("\"x \u{2028} y\"", Flow::Double).unwrap(),
            "x\u{2028}y"
        );
        assert_eq!(
            fold("'x\u{2028}\n y'", Flow::Single).unwrap(),
            "x\u{2028}\ny"
        );
        assert_eq!(fold("'x\n\u{2028}y'", Flow::Single).unwrap(), "x\u{2028}y");
        assert_eq!(fold("'x\u{85}\u{85}y'", Flow::Single).unwrap(), "x\ny");
        assert_eq!(fold("x\u{2028} y", Flow::Plain).unwrap(), "x\u{2028}y");
        assert_eq!(fold("\"a  \n  b\\\n  c \"", Flow::Double).unwrap(), "a bc ");
        assert_eq!(fold("'it''s'", Flow::Single).unwrap(), "it's");
    }

    #[test]
    fn escapes_follow_goyaml() {
        assert_eq!(
            fold(r#""it\'s \x41\u00e9\U0001F600\N""#, Flow::Double).unwrap(),
            "it's A\u{e9}\u{1F600}\u{85}"
        );
        assert!(
            fold(r#""a\/b""#, Flow::Double)
                .unwrap_err()
                .contains("unknown escape")
        );
        assert!(
            fold(r#""\ud83d\ude00""#, Flow::Double)
                .unwrap_err()
                .contains("invalid Unicode")
        );
        assert!(fold(r#""\U00110000""#, Flow::Double).is_err());
    }

    #[test]
    fn offsets_map_back_through_every_edit() {
        let original = "a: \"x\\'y\u{2028}z\"\nb: \u{85}'q'\n";
        let mut prepared = Prepared::new(original);
        assert!(prepared.respell_quote_escapes(3));
        let text = prepared.text.to_string();
        let q = text.find("'q'").unwrap();
        assert_eq!(prepared.original_slice(q, q + 3), "'q'");
        let end = text.find("\nb").unwrap();
        assert_eq!(prepared.original_slice(3, end), "\"x\\'y\u{2028}z\"");
        assert!(prepared.has_separator(3, end));
        assert!(!prepared.has_separator(q, q + 3));
    }

    #[test]
    fn tab_first_block_lines() {
        let text = "a: |\n  \tx\nb: |2\n  \tx\nc: |\n  x\n";
        assert!(block_starts_with_tab(text, 7));
        assert!(!block_starts_with_tab(text, text.find("\tx\nc").unwrap()));
        assert!(!block_starts_with_tab(text, text.rfind('x').unwrap()));
    }
}
