//! A quick reader for the plainest documents, which are most of a rendered stream: block
//! maps and lists, one to a line, of plain scalars, quoted strings without escapes and
//! one-line flow collections of plain words, in printable ASCII. Anything else (an anchor, a
//! tag, a block scalar, an escape, a tab, a scalar over two lines, a key that is neither a
//! plain word nor a quoted string without escapes, or longer than goyaml takes, a value
//! Kubernetes versions read differently) makes it answer `None`, and the full reader
//! ([`super::read`]) reads the document: the two agree on every document this one reads,
//! which debug builds (and so every test) check on each of them.
//!
//! What this reader accepts is valid YAML to goyaml and to the parser by its shape, so it
//! needs no errors of its own; each scalar means what [`resolve_plain`] says, as in the full
//! reader.

use super::lexical::breaks_plain;
use super::read::{HEAD_KEYS, Parsed, WantsAll, build_map};
use super::resolve::{Plain, resolve_plain};
use serde_json::Value;

/// Past this size a document goes to the full reader, which counts its nodes against
/// `MAX_NODES`: this one never builds as many.
const MAX_BYTES: usize = 4 << 20;
/// Past this depth, too.
const MAX_DEPTH: usize = 64;

/// A whole document read by the quick reader alone, or `None` where it would hand the
/// document to the full reader ([`super::read_in_full`]), which reads it the same way.
pub fn read_quickly(text: &str, head_only: bool) -> Option<Parsed> {
    read(text, head_only, None)
}

/// The document read, or `None` when it is not of the plain shape this reader reads (or holds
/// no node). `head_only` and `wants_all` as in [`super::read::read_document_head_unless`].
pub(super) fn read(
    text: &str,
    head_only: bool,
    wants_all: Option<&WantsAll<'_>>,
) -> Option<Parsed> {
    if text.len() > MAX_BYTES {
        return None;
    }
    let mut reader = Quick {
        lines: lines(text)?,
        at: 0,
        depth: 0,
    };
    let first = reader.lines.first()?;
    let value = match is_item(first.text) {
        true => reader.seq(first.indent)?,
        false => {
            let mut entries = reader.map(first.indent, None)?;
            if reader.at != reader.lines.len() {
                return None;
            }
            let mut complete = true;
            if head_only
                && let Some(i) = entries.iter().position(|(k, _)| !HEAD_KEYS.contains(&&**k))
                && !wants_all.is_some_and(|wants_all| wants_all(&entries[..i]))
            {
                entries.retain(|(k, _)| HEAD_KEYS.contains(&&**k));
                complete = false;
            }
            return Some(Parsed {
                value: Some(Value::Object(build_map(entries))),
                hazards: Vec::new(),
                complete,
            });
        }
    };
    (reader.at == reader.lines.len()).then_some(Parsed {
        value: Some(value),
        hazards: Vec::new(),
        complete: true,
    })
}

/// A line that holds a node: its indentation and the rest.
#[derive(Clone, Copy)]
struct Line<'t> {
    indent: usize,
    text: &'t str,
}

/// The lines that hold nodes (blank and comment lines hold none), without the spaces that
/// end them; `None` if a byte is not printable ASCII (a tab, a carriage return, a control
/// character, any non-ASCII).
fn lines(text: &str) -> Option<Vec<Line<'_>>> {
    if !text
        .bytes()
        .all(|b| b == b'\n' || (b' '..=b'~').contains(&b))
    {
        return None;
    }
    let mut lines = Vec::new();
    for line in text.split('\n') {
        let rest = line.trim_start_matches(' ');
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        lines.push(Line {
            indent: line.len() - rest.len(),
            text: rest.trim_end_matches(' '),
        });
    }
    Some(lines)
}

struct Quick<'t> {
    lines: Vec<Line<'t>>,
    /// The next line to read.
    at: usize,
    depth: usize,
}

impl<'t> Quick<'t> {
    fn next_indent(&self) -> Option<usize> {
        self.lines.get(self.at).map(|l| l.indent)
    }

    /// The block node whose first line is the next one, at that line's indentation, under
    /// a node at `parent`: a list, a map, or a scalar on a line of its own.
    fn nested(&mut self, parent: usize) -> Option<Value> {
        let line = *self.lines.get(self.at)?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let value = if is_item(line.text) {
            self.seq(line.indent)?
        } else if key(line.text).is_some() {
            Value::Object(build_map(self.map(line.indent, None)?))
        } else {
            self.at += 1;
            self.scalar_at(parent, line.text)?
        };
        self.depth -= 1;
        Some(value)
    }

    /// The entries of a block map at `indent`, from the next line on; `first` is an entry
    /// already read (the one after a list item's `- `).
    fn map(
        &mut self,
        indent: usize,
        first: Option<(String, Value)>,
    ) -> Option<Vec<(String, Value)>> {
        let mut entries: Vec<(String, Value)> = first.into_iter().collect();
        while let Some(line) = self.lines.get(self.at).copied() {
            if line.indent < indent {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let (key, rest) = key(line.text)?;
            self.at += 1;
            let value = self.value_after(indent, rest)?;
            entries.push((key.to_string(), value));
        }
        Some(entries)
    }

    /// The value of a map entry at `indent` whose line goes on with `rest` after the colon.
    fn value_after(&mut self, indent: usize, rest: &str) -> Option<Value> {
        let rest = rest.trim_start_matches(' ');
        if !rest.is_empty() && !rest.starts_with('#') {
            return self.scalar_at(indent, rest);
        }
        match self.lines.get(self.at) {
            Some(next) if next.indent > indent => self.nested(indent),
            // A list may sit at the indentation of its key.
            Some(next) if next.indent == indent && is_item(next.text) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                let value = self.seq(indent)?;
                self.depth -= 1;
                Some(value)
            }
            _ => Some(Value::Null),
        }
    }

    /// A scalar or flow collection that ends a line of a node at `indent`; a deeper line
    /// after it would go on with it, which is not the plain shape.
    fn scalar_at(&self, indent: usize, text: &str) -> Option<Value> {
        let value = scalar(text)?;
        match self.next_indent() {
            Some(next) if next > indent => None,
            _ => Some(value),
        }
    }

    /// The items of a block list at `indent`, from the next line on.
    fn seq(&mut self, indent: usize) -> Option<Value> {
        let mut items = Vec::new();
        while let Some(line) = self.lines.get(self.at).copied() {
            if line.indent != indent || !is_item(line.text) {
                if line.indent > indent {
                    return None;
                }
                break;
            }
            self.at += 1;
            let rest = &line.text[1..];
            let content = rest.trim_start_matches(' ');
            let item = if content.is_empty() {
                match self.next_indent() {
                    Some(next) if next > indent => self.nested(indent)?,
                    _ => Value::Null,
                }
            } else if is_item(content) {
                // A list in a list on one line.
                return None;
            } else if let Some((key, after)) = key(content) {
                // A map whose first entry follows the `- `: its column is the map's.
                let column = indent + 1 + (rest.len() - content.len());
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                let value = self.value_after(column, after)?;
                let entries = self.map(column, Some((key.to_string(), value)))?;
                self.depth -= 1;
                Value::Object(build_map(entries))
            } else {
                self.scalar_at(indent, content)?
            };
            items.push(item);
        }
        items.shrink_to_fit();
        Some(Value::Array(items))
    }
}

/// A block list item: `-` alone or followed by a space.
fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// A key, a colon, and the rest of the line (empty, or starting with a space). The key is a
/// plain word that reads as a string, or a quoted string without escapes.
fn key(text: &str) -> Option<(&str, &str)> {
    let (key, rest) = match text.as_bytes().first()? {
        b'"' | b'\'' => quoted(text)?,
        _ => {
            let b = text.as_bytes();
            let end = b.iter().position(|&c| !is_key_byte(c))?;
            let key = &text[..end];
            let starts_plain = b[0].is_ascii_alphanumeric() || matches!(b[0], b'_' | b'.' | b'/');
            if end == 0
                || !starts_plain
                || key.starts_with("..")
                || !matches!(resolve_plain(key), Plain::Str)
            {
                return None;
            }
            (key, &text[end..])
        }
    };
    if text.len() - rest.len() > MAX_KEY_BYTES {
        return None;
    }
    let rest = rest.strip_prefix(':')?;
    (rest.is_empty() || rest.starts_with(' ')).then_some((key, rest))
}

/// goyaml (libyaml) gives up on a key without `?` that runs past 1024 characters, quotes
/// included (a 1025-character key is an error to Kubernetes); longer keys, with a margin, are
/// the full reader's, which refuses them as goyaml does.
const MAX_KEY_BYTES: usize = 1000;

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-')
}

/// A scalar or one-line flow collection, then nothing but a comment.
fn scalar(text: &str) -> Option<Value> {
    let (value, rest) = match text.as_bytes().first()? {
        b'"' | b'\'' => {
            let (inner, rest) = quoted(text)?;
            (Value::String(inner.to_string()), rest)
        }
        b'[' | b'{' => flow(text)?,
        _ => {
            let end = text.find(" #").unwrap_or(text.len());
            return plain(text[..end].trim_end_matches(' '));
        }
    };
    let after = rest.trim_start_matches(' ');
    let ends = after.is_empty() || (after.starts_with('#') && after.len() < rest.len());
    ends.then_some(value)
}

/// A quoted string at the start of `text` with no escape (`\` in double quotes, `''` in
/// single ones), and what follows it.
fn quoted(text: &str) -> Option<(&str, &str)> {
    let quote = *text.as_bytes().first()?;
    let close = 1 + text[1..].find(char::from(quote))?;
    let inner = &text[1..close];
    let rest = &text[close + 1..];
    let escaped = match quote {
        b'"' => inner.contains('\\'),
        _ => rest.starts_with('\''),
    };
    (!escaped).then_some((inner, rest))
}

/// A one-line flow list of words and quoted strings, or a flow map of them keyed by words or
/// quoted strings, at the start of `text`, and what follows it.
fn flow(text: &str) -> Option<(Value, &str)> {
    let is_map = text.starts_with('{');
    let close = if is_map { '}' } else { ']' };
    let mut items = Vec::new();
    let mut entries = Vec::new();
    let mut rest = text[1..].trim_start_matches(' ');
    if let Some(after) = rest.strip_prefix(close) {
        rest = after;
    } else {
        loop {
            if is_map {
                let (key, after) = flow_item(rest)?;
                let Value::String(key) = key else {
                    return None;
                };
                if rest.len() - after.len() > MAX_KEY_BYTES {
                    return None;
                }
                let after = after.strip_prefix(": ")?.trim_start_matches(' ');
                let (value, after) = flow_item(after)?;
                entries.push((key, value));
                rest = after;
            } else {
                let (item, after) = flow_item(rest)?;
                items.push(item);
                rest = after;
            }
            rest = rest.trim_start_matches(' ');
            if let Some(after) = rest.strip_prefix(',') {
                rest = after.trim_start_matches(' ');
            } else {
                rest = rest.strip_prefix(close)?;
                break;
            }
        }
    }
    let value = match is_map {
        true => Value::Object(build_map(entries)),
        false => Value::Array(items),
    };
    Some((value, rest))
}

/// A quoted string or a word (letters, digits and `_ . / = + -`, not `-` alone) in a flow
/// collection, and what follows it.
fn flow_item(text: &str) -> Option<(Value, &str)> {
    if text.starts_with(['"', '\'']) {
        let (inner, rest) = quoted(text)?;
        return Some((Value::String(inner.to_string()), rest));
    }
    let b = text.as_bytes();
    let end = (b.iter())
        .position(|&c| !(c.is_ascii_alphanumeric() || b"_./=+-".contains(&c)))
        .unwrap_or(b.len());
    let word = &text[..end];
    if end == 0
        || word == "-"
        || !matches!(b.get(end), None | Some(b' ' | b',' | b']' | b'}' | b':'))
    {
        return None;
    }
    Some((plain_value(word)?, &text[end..]))
}

/// A plain scalar in block context: it starts with no indicator, and holds no `: `, ` #`,
/// bracket or brace, and does not end in `:`.
fn plain(text: &str) -> Option<Value> {
    let b = text.as_bytes();
    let starts_plain = match *b.first()? {
        b'-' => b.len() > 1 && b[1] != b' ',
        c => c.is_ascii_alphanumeric() || b"_./$(=+~^;".contains(&c),
    };
    if !starts_plain
        || text.ends_with(':')
        || breaks_plain(b)
        || b.iter().any(|c| b"[]{}".contains(c))
    {
        return None;
    }
    plain_value(text)
}

/// What a plain scalar means, as the full reader reads it; `None` where that records a
/// hazard or an error.
fn plain_value(text: &str) -> Option<Value> {
    resolve_plain(text).to_json(text)
}
