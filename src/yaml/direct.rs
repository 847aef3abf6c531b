//! The common shape of a changed document, written directly, with a proof by construction:
//! block mappings and sequences of strings, integers, booleans and nulls, every string in a
//! form whose goyaml reading is known from the string alone. What falls outside that shape
//! (floats, multi-line or non-ASCII strings, long keys, a sequence directly in a sequence)
//! is left to the YAML writer and its read-back proof ([`super::emit`]).
//!
//! The layout is the YAML writer's own (two-space indentation, sequences at their key's
//! indentation, `{}` and `[]` for empty collections), so a document comes out the same
//! whichever way it is written; a test holds the two to that over the corpus.

use super::lexical::breaks_plain;
use super::resolve::{Plain, resolve_plain};
use serde_json::{Map, Value};

/// Longer keys would need the explicit `? ` form: goyaml takes a simple key of at most
/// 1024 characters.
const MAX_KEY: usize = 1_000;

/// The text of `value` as one document (ending with a newline), or `None` when it is not of
/// the shape written here.
pub fn emit_direct(value: &Value) -> Option<String> {
    let mut out = String::with_capacity(1024);
    match value {
        Value::Object(map) if !map.is_empty() => write_map(map, 0, &mut out)?,
        Value::Array(items) if !items.is_empty() => write_seq(items, 0, &mut out)?,
        _ => return None,
    }
    // Kept until the stream is written: no room to spare.
    out.shrink_to_fit();
    Some(out)
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A mapping's entries at `at` spaces (the first one's indentation already written when
/// `first_inline`... see `write_seq`).
fn write_map(map: &Map<String, Value>, at: usize, out: &mut String) -> Option<()> {
    for (n, (key, value)) in map.iter().enumerate() {
        if n > 0 || out.ends_with('\n') || out.is_empty() {
            indent(out, at);
        }
        if key.len() > MAX_KEY || key == "<<" {
            return None;
        }
        write_string(key, Place::Key, out)?;
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                write_map(inner, at + 2, out)?;
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                write_seq(items, at, out)?;
            }
            scalar => {
                out.push(' ');
                write_scalar(scalar, out)?;
                out.push('\n');
            }
        }
    }
    Some(())
}

/// A sequence's items at `at` spaces, each `- ` and the item; a mapping item's first entry
/// on the dash's line.
fn write_seq(items: &[Value], at: usize, out: &mut String) -> Option<()> {
    for item in items {
        indent(out, at);
        out.push_str("- ");
        match item {
            Value::Object(inner) if !inner.is_empty() => write_map(inner, at + 2, out)?,
            // A sequence directly in a sequence (`- - a`): left to the YAML writer.
            Value::Array(inner) if !inner.is_empty() => return None,
            scalar => {
                write_scalar(scalar, out)?;
                out.push('\n');
            }
        }
    }
    Some(())
}

fn write_scalar(value: &Value, out: &mut String) -> Option<()> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        // Integers only: how a float is spelled is the YAML writer's business.
        Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
        Value::Number(_) => return None,
        Value::String(s) => write_string(s, Place::Value, out)?,
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        _ => return None,
    }
    Some(())
}

/// Where a string stands: a mapping key or a value.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Key,
    Value,
}

/// A string written as the YAML writer writes it (plain, or double-quoted when a YAML 1.1
/// reader could take it for something else), where goyaml reads that text back as this very
/// string; `None` where either is not known for certain.
fn write_string(s: &str, place: Place, out: &mut String) -> Option<()> {
    // The writer's one exception: these single characters as values are single-quoted.
    if place == Place::Value && matches!(s, "." | "#" | "-") {
        out.push('\'');
        out.push_str(s);
        out.push('\'');
        return Some(());
    }
    match writer_writes_plain(s, place)? {
        // The writer writes plain only what resolves to a string: goyaml must scan it whole.
        true if goyaml_scans_plain(s) => out.push_str(s),
        true => return None,
        false if is_quotable(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        false => return None,
    }
    Some(())
}

/// Whether the YAML writer writes this single-line ASCII string plain (`Some(true)`) or
/// double-quoted (`Some(false)`), as far as that is plain from its rules (readable style,
/// YAML 1.1 ambiguities quoted); `None` for the rest, which the writer itself then writes.
fn writer_writes_plain(s: &str, place: Place) -> Option<bool> {
    let b = s.as_bytes();
    if !b.iter().all(|c| (b' '..=b'~').contains(c)) {
        return None;
    }
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return Some(false);
    };
    let quoted = first == b' '
        || last == b' '
        || matches!(s.get(..3), Some("---" | "..."))
            && b.get(3).is_none_or(|c| c.is_ascii_whitespace())
        || b",:[]{}#&*!|>'\"%@`".contains(&first)
        || (matches!(first, b'-' | b'?') && b.get(1).is_none_or(|&c| c == b' '))
        || breaks_plain(b)
        || last == b':'
        || (place == Place::Key
            && b.iter()
                .any(|c| matches!(c, b':' | b',' | b'[' | b']' | b'{' | b'}')));
    if quoted {
        return Some(false);
    }
    // The words and numbers a YAML 1.1 reader takes for something else: quoted where the
    // writer certainly quotes them, left to it otherwise.
    match resolve_plain(s) {
        _ if matches!(s, "<<" | "=") || is_decimal(s) => return Some(false),
        Plain::Bool(_) | Plain::Null | Plain::NonFinite => return Some(false),
        Plain::Str => {}
        _ => return None,
    }
    let word = s.trim_start_matches(['+', '-']);
    let is_word = |words: &[&str]| words.iter().any(|w| word.eq_ignore_ascii_case(w));
    if is_word(&[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", ".nan", ".inf",
    ]) {
        return None;
    }
    // What starts like a number: plain only with a letter no number or timestamp has.
    let numeric_start = matches!(first, b'0'..=b'9' | b'+' | b'-' | b'.' | b'_');
    if numeric_start {
        let digits = word.trim_start_matches(['.', '_']);
        let radix = (digits.get(..2))
            .is_some_and(|p| ["0x", "0o", "0b"].iter().any(|r| p.eq_ignore_ascii_case(r)));
        let telling = b.iter().any(|&c| {
            c.is_ascii_alphabetic() && !matches!(c.to_ascii_lowercase(), b'e' | b't' | b'z')
        });
        if radix || !telling {
            return None;
        }
    }
    Some(true)
}

/// Digits, or digits, a point and digits: a number to any YAML reader.
fn is_decimal(s: &str) -> bool {
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    match s.bytes().position(|c| c == b'.') {
        Some(point) => all_digits(&s[..point]) && all_digits(&s[point + 1..]),
        None => all_digits(s),
    }
}

/// Plain text goyaml scans as exactly this scalar: no indicator where it would act as one,
/// nothing that ends or folds a plain scalar. (What it resolves to, a string rather than
/// `yes`, `0644`, `1e3` or `~`, [`writer_writes_plain`] has checked.)
fn goyaml_scans_plain(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    b.iter().all(|c| (b' '..=b'~').contains(c))
        && (!b"-?:,[]{}#&*!|>'\"%@`".contains(&first)
            || (first == b'-' && b.get(1).is_some_and(|&c| c != b' ')))
        && first != b' '
        && last != b' '
        && last != b':'
        && !breaks_plain(b)
        && !(s.starts_with("---") || s.starts_with("..."))
}

/// Printable ASCII without `"` and `\`: inside double quotes, goyaml reads it as it is.
fn is_quotable(s: &str) -> bool {
    s.bytes()
        .all(|c| (b' '..=b'~').contains(&c) && c != b'"' && c != b'\\')
}
