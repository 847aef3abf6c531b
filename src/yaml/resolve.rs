//! What a plain (unquoted) YAML scalar means to Kubernetes.
//!
//! Kubernetes turns YAML into JSON with sigs.k8s.io/yaml on top of goyaml v2, which
//! follows YAML 1.1 habits: `yes`/`on`/`y` are booleans, `0644` is octal, `1e3` is a float,
//! and underscores inside numbers are ignored. This is a port of goyaml v2's `resolve()`
//! behaviour, so pulse-harden reads every value exactly as the API server will.

/// The meaning of one plain scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Plain {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str,
    /// An integer beyond 64 bits: Kubernetes versions disagree on how to read it.
    BigInt,
    /// `.inf` or `.nan`: Kubernetes rejects the document when it converts it to JSON.
    NonFinite,
}

impl Plain {
    /// The JSON value `text`, read as this, stands for; `None` for a big integer (which
    /// Kubernetes versions read differently) and `.inf` or `.nan` (which it rejects).
    pub fn to_json(&self, text: &str) -> Option<serde_json::Value> {
        use serde_json::{Number, Value};
        Some(match *self {
            Plain::Null => Value::Null,
            Plain::Bool(b) => Value::Bool(b),
            Plain::Int(i) => Value::Number(i.into()),
            Plain::Uint(u) => Value::Number(u.into()),
            Plain::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Plain::Str => Value::String(text.to_string()),
            Plain::BigInt | Plain::NonFinite => return None,
        })
    }
}

/// Resolves an untagged plain scalar the way goyaml v2 does.
pub fn resolve_plain(text: &str) -> Plain {
    let Some(&first) = text.as_bytes().first() else {
        return Plain::Null;
    };
    if let Some(word) = keyword(text) {
        return word;
    }
    match first {
        // goyaml hands these straight to Go's `strconv.ParseFloat`, which takes `_` between
        // digits: `.5_0` is 0.5.
        b'.' => match go_parse_float_with_underscores(text) {
            Some(f) => Plain::Float(f),
            None => Plain::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => resolve_number(text),
        _ => Plain::Str,
    }
}

fn keyword(text: &str) -> Option<Plain> {
    Some(match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Plain::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Plain::Bool(false)
        }
        "~" | "null" | "Null" | "NULL" => Plain::Null,
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => Plain::NonFinite,
        _ => return None,
    })
}

/// Digits or a sign first: an int, a float, a timestamp (which goyaml v2 hands back as the
/// original string when decoding into an untyped value) or a string.
fn resolve_number(text: &str) -> Plain {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let as_int = go_parse_int(&plain);
    if let Ok(i) = as_int {
        return Plain::Int(i);
    }
    let as_uint = go_parse_uint(&plain);
    if let Ok(u) = as_uint {
        return Plain::Uint(u);
    }
    // goyaml would fall back to a lossy float (or a big.Int, depending on the version):
    // flag it instead of guessing.
    if as_uint == Err(NumError::Range) || as_int == Err(NumError::Range) {
        return Plain::BigInt;
    }
    if looks_like_yaml_float(&plain)
        && let Some(f) = go_parse_float(&plain)
    {
        return Plain::Float(f);
    }
    if let Some(binary) = plain.strip_prefix("0b") {
        if let Ok(i) = parse_signed_radix(binary, 2) {
            return Plain::Int(i);
        }
        if let Ok(u) = parse_magnitude(binary, 2) {
            return Plain::Uint(u);
        }
    } else if let Some(binary) = plain.strip_prefix("-0b")
        && let Ok(i) = parse_signed_radix(&format!("-{binary}"), 2)
    {
        return Plain::Int(i);
    }
    Plain::Str
}

#[derive(Debug, PartialEq, Clone, Copy)]
enum NumError {
    Syntax,
    Range,
}

/// Go's `strconv.ParseInt(s, 0, 64)`: optional sign, then `0x`, `0o`, `0b` or a leading `0`
/// (octal) selects the base.
fn go_parse_int(s: &str) -> Result<i64, NumError> {
    let (negative, body) = split_sign(s);
    let magnitude = go_parse_uint(body)?;
    if negative {
        if magnitude > i64::MAX as u64 + 1 {
            return Err(NumError::Range);
        }
        Ok((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).map_err(|_| NumError::Range)
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`: no sign allowed.
fn go_parse_uint(s: &str) -> Result<u64, NumError> {
    let (radix, digits) = if let Some(rest) = s.strip_prefix("0x").or(s.strip_prefix("0X")) {
        (16, rest)
    } else if let Some(rest) = s.strip_prefix("0o").or(s.strip_prefix("0O")) {
        (8, rest)
    } else if let Some(rest) = s.strip_prefix("0b").or(s.strip_prefix("0B")) {
        (2, rest)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    parse_magnitude(digits, radix)
}

/// Go's `strconv.ParseInt(s, radix, 64)` with an explicit radix (sign allowed, no prefix).
fn parse_signed_radix(s: &str, radix: u32) -> Result<i64, NumError> {
    let (negative, body) = split_sign(s);
    let magnitude = parse_magnitude(body, radix)?;
    if negative {
        if magnitude > i64::MAX as u64 + 1 {
            return Err(NumError::Range);
        }
        Ok((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).map_err(|_| NumError::Range)
    }
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

fn parse_magnitude(digits: &str, radix: u32) -> Result<u64, NumError> {
    if digits.is_empty() {
        return Err(NumError::Syntax);
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    for c in digits.chars() {
        let digit = c.to_digit(radix).ok_or(NumError::Syntax)?;
        match value
            .checked_mul(radix as u64)
            .and_then(|v| v.checked_add(digit as u64))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if overflow {
        Err(NumError::Range)
    } else {
        Ok(value)
    }
}

/// goyaml's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn looks_like_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal spellings that reach it here; a value out of
/// range is an error in Go (and the scalar stays a string), not infinity.
fn go_parse_float(s: &str) -> Option<f64> {
    if !s
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Go's `strconv.ParseFloat` for a decimal spelling that may hold `_` between digits (Go's
/// `underscoreOK`: each `_` sits between two digits).
fn go_parse_float_with_underscores(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut last = b'^';
    for (i, &c) in b.iter().enumerate() {
        let class = match c {
            b'0'..=b'9' => b'0',
            b'_' if last == b'0' => b'_',
            b'_' => return None,
            b'+' | b'-' if i == 0 => b'^',
            _ if last == b'_' => return None,
            _ => b'!',
        };
        last = class;
    }
    if last == b'_' {
        return None;
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if !looks_like_yaml_float(&plain) {
        return None;
    }
    go_parse_float(&plain)
}

/// A decimal spelling goyaml reads as a float (underscores dropped), beyond what fits an
/// integer included.
pub fn go_float_text(text: &str) -> Option<f64> {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if looks_like_yaml_float(&plain) {
        go_parse_float(&plain)
    } else {
        None
    }
}

/// goyaml's `parseTimestamp`: the layouts `2006-1-2T15:4:5.999999999Z07:00` (also with `t`
/// or a space and no zone) and `2006-1-2`, with Go's range checks. A `!!timestamp` scalar
/// that is none of these is an error to Kubernetes.
pub fn is_go_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    // A 4-digit year, exactly.
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let year: u32 = s[..4].parse().unwrap_or(0);
    i += 5;
    let Some(month) = go_getnum(b, &mut i) else {
        return false;
    };
    if b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    let Some(day) = go_getnum(b, &mut i) else {
        return false;
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in(month, year) {
        return false;
    }
    if i == b.len() {
        return true;
    }
    let zoned = match b[i] {
        b'T' | b't' => true,
        b' ' => false,
        _ => return false,
    };
    i += 1;
    let Some(hour) = go_getnum(b, &mut i) else {
        return false;
    };
    for limit in [60, 60] {
        if b.get(i) != Some(&b':') {
            return false;
        }
        i += 1;
        match go_getnum(b, &mut i) {
            Some(n) if n < limit => {}
            _ => return false,
        }
    }
    if hour >= 24 {
        return false;
    }
    // Optional fraction: `.` or `,` then digits.
    if matches!(b.get(i), Some(b'.' | b',')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if !zoned {
        return i == b.len();
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            let zone = &b[i + 1..];
            zone.len() == 5
                && zone[2] == b':'
                && [0, 1, 3, 4].iter().all(|&k| zone[k].is_ascii_digit())
        }
        _ => false,
    }
}

/// Go's `getnum(value, false)`: one or two digits.
fn go_getnum(b: &[u8], i: &mut usize) -> Option<u32> {
    let first = *b.get(*i).filter(|c| c.is_ascii_digit())?;
    *i += 1;
    let mut n = u32::from(first - b'0');
    if let Some(&c) = b.get(*i).filter(|c| c.is_ascii_digit()) {
        n = n * 10 + u32::from(c - b'0');
        *i += 1;
    }
    Some(n)
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A `!!binary` scalar as Kubernetes ends up with it: Go's standard base64 (line breaks
/// ignored, padding required), the bytes then turned into a JSON string, where every byte
/// that is not valid UTF-8 becomes U+FFFD. `None` when goyaml rejects the data.
pub fn decode_go_binary(text: &str) -> Option<String> {
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'\n' && c != b'\r').collect();
    if !digits.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut bytes = Vec::with_capacity(digits.len() / 4 * 3);
    let quanta = digits.len() / 4;
    for (q, quantum) in digits.chunks(4).enumerate() {
        let padding = quantum.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && q + 1 != quanta) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quantum[..4 - padding] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * padding as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        bytes.extend_from_slice(&decoded[..3 - padding]);
    }
    let mut out = String::with_capacity(bytes.len());
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{FFFD}');
                rest = &after[1..];
            }
        }
    }
    Some(out)
}

/// A float map key as sigs.k8s.io/yaml writes it: Go's `strconv.FormatFloat(f, 'g', -1, 32)`,
/// with `.inf`, `-.inf` and `.nan` for the non-finite values.
pub fn go_float_key(f: f64) -> String {
    let single = f as f32;
    if single.is_nan() {
        return ".nan".into();
    }
    if single.is_infinite() {
        return if single > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    // Rust's `{:e}` gives the shortest digits that read back as the same f32, as Go does.
    let scientific = format!("{:e}", single.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if single.is_sign_negative() { "-" } else { "" };
    if !(-4..6).contains(&exponent) {
        let (head, tail) = digits.split_at(1);
        let dot = if tail.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{head}{dot}{tail}e{exp_sign}{:02}", exponent.abs());
    }
    // Fixed notation: the decimal point goes after `exponent + 1` digits.
    let point = exponent + 1;
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_booleans_and_nulls() {
        for t in [
            "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
        ] {
            assert_eq!(resolve_plain(t), Plain::Bool(true), "{t}");
        }
        for f in [
            "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "FALSE",
        ] {
            assert_eq!(resolve_plain(f), Plain::Bool(false), "{f}");
        }
        for s in ["tRUE", "yES", "oN", "nO", "Yes!", "none"] {
            assert_eq!(resolve_plain(s), Plain::Str, "{s}");
        }
        for n in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(resolve_plain(n), Plain::Null, "{n}");
        }
    }

    #[test]
    fn integers_follow_go_parse_int() {
        assert_eq!(resolve_plain("0644"), Plain::Int(420));
        assert_eq!(resolve_plain("0755"), Plain::Int(493));
        assert_eq!(resolve_plain("-0644"), Plain::Int(-420));
        assert_eq!(resolve_plain("0_644"), Plain::Int(420));
        assert_eq!(resolve_plain("0x1F"), Plain::Int(31));
        assert_eq!(resolve_plain("0X1F"), Plain::Int(31));
        assert_eq!(resolve_plain("0o17"), Plain::Int(15));
        assert_eq!(resolve_plain("0b101"), Plain::Int(5));
        assert_eq!(resolve_plain("1_000"), Plain::Int(1000));
        assert_eq!(resolve_plain("1_"), Plain::Int(1));
        assert_eq!(resolve_plain("+5"), Plain::Int(5));
        assert_eq!(resolve_plain("0"), Plain::Int(0));
        assert_eq!(resolve_plain("-9223372036854775808"), Plain::Int(i64::MIN));
        assert_eq!(resolve_plain("18446744073709551615"), Plain::Uint(u64::MAX));
    }

    #[test]
    fn floats_follow_the_goyaml_pattern() {
        assert_eq!(resolve_plain("1e3"), Plain::Float(1000.0));
        assert_eq!(resolve_plain("1E+3"), Plain::Float(1000.0));
        assert_eq!(resolve_plain("-.5"), Plain::Float(-0.5));
        assert_eq!(resolve_plain(".5"), Plain::Float(0.5));
        assert_eq!(resolve_plain("1_000.5"), Plain::Float(1000.5));
        assert_eq!(resolve_plain("08"), Plain::Float(8.0));
        assert_eq!(resolve_plain("0999"), Plain::Float(999.0));
        assert_eq!(resolve_plain("1e400"), Plain::Str);
        assert_eq!(resolve_plain(".inf"), Plain::NonFinite);
        assert_eq!(resolve_plain("-.Inf"), Plain::NonFinite);
        assert_eq!(resolve_plain(".INf"), Plain::Str);
    }

    #[test]
    fn dot_floats_take_underscores_between_digits() {
        assert_eq!(resolve_plain(".5_0"), Plain::Float(0.5));
        assert_eq!(resolve_plain(".5e1_0"), Plain::Float(0.5e10));
        for s in ["._5", ".5_", ".5__0", ".5_e1", "."] {
            assert_eq!(resolve_plain(s), Plain::Str, "{s}");
        }
    }

    #[test]
    fn timestamps_follow_go_layouts() {
        for t in [
            "2001-12-14",
            "2001-1-2",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14T21:59:43Z",
            "2001-12-14 21:59:43.10",
            "2000-02-29",
        ] {
            assert!(is_go_timestamp(t), "{t}");
        }
        for t in [
            "foo",
            "2001-13-01",
            "2001-02-29",
            "01-12-14",
            "2001-12-14 21:59:43.10 -5",
            "2001-12-14T25:00:00Z",
            "2001-12-14T21:59:43",
        ] {
            assert!(!is_go_timestamp(t), "{t}");
        }
    }

    #[test]
    fn binary_decodes_like_go() {
        assert_eq!(decode_go_binary("aGVsbG8=").as_deref(), Some("hello"));
        assert_eq!(decode_go_binary("aGVs\nbG8=\n").as_deref(), Some("hello"));
        assert_eq!(decode_go_binary("/w==").as_deref(), Some("\u{FFFD}"));
        assert_eq!(decode_go_binary("").as_deref(), Some(""));
        for bad in ["aGVsbG8", "aG=sbG8=", "a===", "aGVs bG8="] {
            assert_eq!(decode_go_binary(bad), None, "{bad}");
        }
    }

    #[test]
    fn float_keys_are_formatted_as_go_formats_a_float32() {
        for (f, key) in [
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e7, "1e+07"),
            (123456.7, "123456.7"),
            (1.2345678901234568e23, "1.2345679e+23"),
            (0.00001, "1e-05"),
            (8.0, "8"),
            (-0.0, "-0"),
            (f64::INFINITY, ".inf"),
            (f64::NAN, ".nan"),
        ] {
            assert_eq!(go_float_key(f), key, "{f}");
        }
    }

    #[test]
    fn numbers_beyond_64_bits_are_flagged() {
        assert_eq!(resolve_plain("123456789012345678901234"), Plain::BigInt);
        assert_eq!(resolve_plain("-9223372036854775809"), Plain::BigInt);
        assert_eq!(resolve_plain("0xFFFFFFFFFFFFFFFFFF"), Plain::BigInt);
    }

    #[test]
    fn strings_that_look_almost_like_numbers() {
        for s in [
            "1:20",
            "22:22",
            "2001-12-14",
            "1.2.3",
            "0x",
            "-",
            "+",
            "1e",
            "0b2",
            "v1",
            "12ab",
            "=",
            "<<",
        ] {
            assert_eq!(resolve_plain(s), Plain::Str, "{s}");
        }
    }
}
