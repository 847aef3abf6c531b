//! Kubernetes' rules for the names a patch file writes into resources: label and annotation
//! keys (qualified names), label values. A patch file that breaks them is refused when it
//! loads, instead of producing a manifest the API server rejects.

/// A qualified name (`app`, `example.com/tier`): what label and annotation keys must be.
pub fn check_qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !is_dns_subdomain(prefix)
    {
        return Err(format!(
            "`{key}` is not a valid key: its prefix must be a DNS subdomain (lower case letters, digits, `-` and `.`, at most 253 characters)"
        ));
    }
    if name.is_empty() || !is_name_part(name) {
        return Err(format!(
            "`{key}` is not a valid key: the name must be 1 to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A label value: empty, or up to 63 letters, digits, `-`, `_` or `.`, starting and ending
/// with a letter or digit.
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_name_part(value) {
        Ok(())
    } else {
        Err(format!(
            "`{value}` is not a valid label value: at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"
        ))
    }
}

/// 1 to 63 characters that `inner` allows, starting and ending with a letter or digit
/// (lower case only, when `inner` says so).
fn is_segment(s: &str, inner: impl Fn(u8) -> bool) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && inner(bytes[0])
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.iter().all(|&b| inner(b))
}

fn is_name_part(s: &str) -> bool {
    is_segment(s, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
    })
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            is_segment(label, |b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_follow_kubernetes() {
        for good in ["app", "app.kubernetes.io/name", "a_b.c-d", "example.com/X1"] {
            check_qualified_name(good).unwrap();
        }
        for bad in [
            "",
            "-app",
            "app-",
            "a b",
            "Example.com/x",
            "a/b/c",
            "/x",
            "x/",
            &"a".repeat(64),
        ] {
            assert!(check_qualified_name(bad).is_err(), "{bad}");
        }
        for good in ["", "v1", "a.b_c-d"] {
            check_label_value(good).unwrap();
        }
        for bad in ["api=x", "-x", "x y", &"a".repeat(64)] {
            assert!(check_label_value(bad).is_err(), "{bad}");
        }
    }
}
