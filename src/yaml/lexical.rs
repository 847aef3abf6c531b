//! goyaml's lexical rules where they differ from the YAML 1.2 parser underneath us.
//!
//! goyaml v2 is a port of libyaml, a YAML 1.1 scanner: NEL, LS and PS (U+0085, U+2028, U+2029)
//! are line breaks, not content; a block scalar's first content line may not start with a tab;
//! double quotes take `\'` but not `\/` and no surrogate escapes. granit-parser follows YAML 1.2
//! on all of these, so this module adjusts its input and its scalars until they read as goyaml
//! reads them.

use std::borrow::Cow;

/// Whether `text` holds `: ` or ` #`: in a plain scalar, where goyaml sees a mapping value or
/// a comment begin, and ends the scalar. (One pass over the bytes: this is asked of every
/// string read quickly or written.)
pub fn breaks_plain(text: &[u8]) -> bool {
    text.windows(2)
        .any(|pair| matches!(pair, [b':', b' '] | [b' ', b'#']))
}

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
        if needs_edits(original.as_bytes()) {
            let b = original.as_bytes();
            let crlf_at = |at: usize| b.get(at) == Some(&b'\r') && b.get(at + 1) == Some(&b'\n');
            prepared.edits = original
                .match_indices([NEL, LS, PS, '\r'])
                .filter_map(|(at, c)| match c {
                    // Kubernetes' stream reader turns each CR LF into LF before goyaml reads
                    // the document, so a CR before a CR LF pairs up with that LF.
                    "\r" if crlf_at(at) && at > 0 && b[at - 1] == b'\r' => Some((at, 2, "\n")),
                    "\r" if crlf_at(at) || crlf_at(at + 1) => None,
                    // A lone CR is a line break to both readers; written as LF it cannot pair
                    // up with the LF that replaces a NEL after it.
                    _ => Some((at, c.len(), "\n")),
                })
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

    /// Respells, at `at` (an offset in `text` where the parser stopped), what goyaml reads
    /// and the parser refuses, without changing what goyaml reads. False when there was
    /// nothing to respell there.
    pub fn respell(&mut self, at: usize, what: Respell) -> bool {
        let Some(rest) = self.text.get(at..) else {
            return false;
        };
        let edits: Vec<(usize, usize, &'static str)> = match what {
            // `\'` (goyaml's escape for `'`) as `\x27`.
            Respell::QuoteEscapes if rest.starts_with('"') => {
                let mut found = Vec::new();
                let mut chars = rest.char_indices().skip(1);
                while let Some((i, c)) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some((_, '\'')) = chars.next() {
                                found.push((self.original_offset(at + i), 2, "\\x27"));
                            }
                        }
                        _ => {}
                    }
                }
                found
            }
            // goyaml's alias names are `[0-9A-Za-z_-]+`: `*a:` is the alias `a` and a `:`.
            Respell::AliasEnd if rest.starts_with('*') => {
                let name = rest[1..]
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
                    .count();
                match rest.as_bytes().get(1 + name) {
                    Some(b':' | b',' | b']' | b'}' | b'?' | b'%' | b'@' | b'`') if name > 0 => {
                        vec![(self.original_offset(at + 1 + name), 0, " ")]
                    }
                    _ => Vec::new(),
                }
            }
            // A plain `-` before a flow indicator is the string "-" to goyaml.
            Respell::LoneDash if rest.starts_with('-') => {
                vec![(self.original_offset(at), 1, "'-'")]
            }
            _ => Vec::new(),
        };
        if edits.is_empty() {
            return false;
        }
        self.edits.extend(edits);
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

/// Bytes that may start something [`first_unprintable`] or [`needs_edits`] looks for: a
/// table lookup per byte, so the common case (nothing found) costs one pass and no branches
/// on the byte's value.
const SUSPECT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b != 0x09 && b != 0x0a;
        b += 1;
    }
    table[0x7f] = true;
    table[0xc2] = true;
    table[0xe2] = true;
    table[0xef] = true;
    table
};

/// Whether the text holds a NEL, LS or PS, or a CR before a CR LF.
fn needs_edits(b: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = b[from..].iter().position(|&c| SUSPECT[usize::from(c)]) {
        let at = from + p;
        let next = |k: usize| b.get(at + k).copied();
        match b[at] {
            0xc2 if next(1) == Some(0x85) => return true,
            0xe2 if next(1) == Some(0x80) && matches!(next(2), Some(0xa8 | 0xa9)) => return true,
            b'\r' if next(1) == Some(b'\r') && next(2) == Some(b'\n') => return true,
            _ => {}
        }
        from = at + 1;
    }
    false
}

/// Where the text first holds a character goyaml's reader refuses ("control characters are
/// not allowed"): YAML's printable set is tab, LF, CR, U+0020–U+007E, NEL, U+00A0–U+D7FF,
/// U+E000–U+FFFD and beyond U+FFFF. The YAML 1.2 parser lets DEL and the C1 controls through.
pub fn first_unprintable(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(p) = b[from..].iter().position(|&c| SUSPECT[usize::from(c)]) {
        let at = from + p;
        let next = |k: usize| b.get(at + k).copied().unwrap_or(0);
        match b[at] {
            b'\r' | 0xe2 => {}
            // U+0080–U+009F, except NEL.
            0xc2 if (0x80..=0x9f).contains(&next(1)) && next(1) != 0x85 => return Some(at),
            0xc2 => {}
            // U+FFFE, U+FFFF.
            0xef if next(1) == 0xbf && matches!(next(2), 0xbe | 0xbf) => return Some(at),
            0xef => {}
            _ => return Some(at),
        }
        from = at + 1;
    }
    None
}

/// Where the text first holds a CR that is neither part of a CR LF nor before one (which
/// Kubernetes' reader pairs with that LF).
pub fn first_lone_cr(text: &str) -> Option<usize> {
    if !text.contains('\r') {
        return None;
    }
    let b = text.as_bytes();
    (0..b.len()).find(|&i| {
        b[i] == b'\r' && b.get(i + 1) != Some(&b'\n') && !b[i + 1..].starts_with(b"\r\n")
    })
}

/// What [`Prepared::respell`] looks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Respell {
    QuoteEscapes,
    AliasEnd,
    LoneDash,
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
        // Kubernetes' stream reader made this CR LF an LF, which pairs with the CR before it.
        '\r' if chars.get(*i) == Some(&'\r') && chars.get(*i + 1) == Some(&'\n') => {
            *i += 2;
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

/// Where a block scalar's lines start: just after its header line (the `|` or `>` line),
/// found from where the parser says the content starts.
pub fn block_lines_start(text: &str, start: usize) -> usize {
    let start = start.min(text.len());
    let mut line_start = text[..start].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    if !text[line_start..start].bytes().all(|b| b == b' ') {
        // The content starts on the header line (an empty block).
        return text[start..]
            .find(['\n', '\r'])
            .map_or(text.len(), |i| start + i + 1);
    }
    // Back over blank lines to the header.
    while line_start > 0 {
        let prev_start = text[..line_start - 1]
            .rfind(['\n', '\r'])
            .map_or(0, |i| i + 1);
        if !text[prev_start..line_start - 1]
            .bytes()
            .all(|b| b == b' ' || b == b'\t' || b == b'\r')
        {
            break;
        }
        line_start = prev_start;
    }
    line_start
}

/// goyaml refuses a block scalar where a tab stands in for indentation ("found a tab character
/// where an indentation space is expected"): before the indentation is known (no indicator,
/// no content line yet), any line whose spaces end at a tab; after, any line up to the one
/// that ends the block whose spaces stop short of the indentation at a tab. `lines` is where
/// the block's lines start ([`block_lines_start`]).
pub fn block_has_tab_indentation(text: &str, lines: usize) -> bool {
    let lines = lines.min(text.len());
    let header_start = text[..lines.saturating_sub(1)]
        .rfind(['\n', '\r'])
        .map_or(0, |i| i + 1);
    let header = &text[header_start..lines.saturating_sub(1).max(header_start)];
    let mut indent = indentation_indicator(header).map(|d| parent_column(header) + d);
    for line in text[lines..].split(['\n', '\r']) {
        let spaces = line.bytes().take_while(|&b| b == b' ').count();
        let next = line.as_bytes().get(spaces);
        match indent {
            None if next == Some(&b'\t') => return true,
            None if next.is_none() => {}
            None => indent = Some(spaces.max(1)),
            Some(n) if spaces >= n => {}
            Some(_) if next == Some(&b'\t') => return true,
            Some(_) if next.is_none() => {}
            Some(_) => break,
        }
    }
    false
}

/// The digit of a block scalar header's indentation indicator (`|2`, `>-4`).
fn indentation_indicator(header: &str) -> Option<usize> {
    let header = header.split(" #").next().unwrap_or(header).trim_end();
    let indicators = header
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-')
        .len();
    header[indicators..]
        .bytes()
        .find(u8::is_ascii_digit)
        .map(|d| usize::from(d - b'0'))
}

/// The indentation of the collection a block scalar header's node sits in: the column of its
/// key, or of the `- ` it is an item of.
fn parent_column(header: &str) -> usize {
    let mut column = header.bytes().take_while(|&b| b == b' ').count();
    let mut rest = &header[column..];
    let mut dash = None;
    while let Some(after) = rest.strip_prefix("- ") {
        dash = Some(column);
        let spaces = after.bytes().take_while(|&b| b == b' ').count();
        column += 2 + spaces;
        rest = &after[spaces..];
    }
    match (dash, rest.as_bytes().first()) {
        // The block is the item itself (`- |2`, `- !tag |2`).
        (Some(d), Some(b'|' | b'>' | b'!' | b'&')) => d,
        _ => column,
    }
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
        assert_eq!(fold("'a\r\r\n\nb'", Flow::Single).unwrap(), "a\nb");
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
        assert!(prepared.respell(3, Respell::QuoteEscapes));
        let text = prepared.text.to_string();
        let q = text.find("'q'").unwrap();
        assert_eq!(prepared.original_slice(q, q + 3), "'q'");
        let end = text.find("\nb").unwrap();
        assert_eq!(prepared.original_slice(3, end), "\"x\\'y\u{2028}z\"");
        assert!(prepared.has_separator(3, end));
        assert!(!prepared.has_separator(q, q + 3));
    }

    #[test]
    fn control_characters_are_found() {
        assert_eq!(
            first_unprintable("a: b\tc\u{85}\u{a0}é\u{feff}\u{1F600}\r\n"),
            None
        );
        assert_eq!(first_unprintable("a: \u{7f}"), Some(3));
        assert_eq!(first_unprintable("é\u{80}"), Some(2));
        assert_eq!(first_unprintable("\u{ffff}"), Some(0));
        assert_eq!(first_unprintable("x\u{1b}"), Some(1));
    }

    #[test]
    fn tabs_as_block_indentation() {
        let tab = |text: &str, content: &str| {
            let start = text.find(content).unwrap();
            block_has_tab_indentation(text, block_lines_start(text, start))
        };
        assert!(tab("a: |\n  \tx\nb: 1\n", "\tx"));
        assert!(!tab("a: |2\n  \tx\n", "\tx"));
        assert!(!tab("a: |\n  x\n", "x"));
        assert!(tab("a: |+\n     a\n    \n    \t\nb: 1\n", "a\n"));
        assert!(!tab("a: |\n  x\n   \ty\n  \n\n b\n\tc\n", "x"));
        assert!(tab("a: |\n\n  x\n \ty\n", "x"));
        assert!(tab("a: |+\n    b c\r\t\n", "b c"));
        assert!(tab("x:\n  k: |-2\n    \n\t  \n", "\t  "));
        assert!(!tab("x:\n  - |2\n     \tx\n", "\tx"));
        assert!(tab("x:\n  - k: |2\n     \tx\n", "\tx"));
    }
}
