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

/// Resolves an untagged plain scalar the way goyaml v2 does.
pub fn resolve_plain(text: &str) -> Plain {
    let Some(&first) = text.as_bytes().first() else {
        return Plain::Null;
    };
    if let Some(word) = keyword(text) {
        return word;
    }
    match first {
        b'.' => match go_parse_float(text) {
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
