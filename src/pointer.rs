//! JSON pointers with two extensions kustomize users have asked for for years:
//! `*` is every element of a list (or every value of a map), and `[name=web]` is every list
//! element whose `name` is `web`. `/spec/template/spec/containers/*/imagePullPolicy` works.

use jsonptr::PointerBuf;
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

/// How many segments a pointer may have: as deep as the YAML reader lets a document nest.
pub const MAX_SEGMENTS: usize = crate::yaml::MAX_DEPTH;

#[derive(Clone, PartialEq)]
pub struct ExtPointer {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Clone, PartialEq, Debug)]
enum Segment {
    Key(String),
    Every,
    Where { key: String, value: String },
}

impl ExtPointer {
    pub fn parse(text: &str) -> Result<ExtPointer, String> {
        if text.is_empty() {
            return Ok(ExtPointer {
                text: String::new(),
                segments: Vec::new(),
            });
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!("JSON pointer `{text}` must start with `/`"));
        };
        // No document we read nests deeper, and walking a longer pointer would only cost
        // stack (fifty thousand segments overflowed it).
        let depth = rest.split('/').count();
        if depth > MAX_SEGMENTS {
            return Err(format!(
                "JSON pointer of {depth} segments: documents nest at most {MAX_SEGMENTS} levels deep"
            ));
        }
        let segments = rest
            .split('/')
            .map(|raw| parse_segment(raw).map_err(|e| format!("JSON pointer `{text}`: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(ExtPointer {
            text: text.to_string(),
            segments,
        })
    }

    /// Whether a `[key=value]` segment filters list elements: such a pointer that names
    /// nothing is a mistake (a misspelt container name), not a wildcard over nothing.
    pub fn filters(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Where { .. }))
    }

    /// The concrete pointers this one stands for in `doc`. Without wildcards that is exactly
    /// one pointer, existing or not; a wildcard over something absent yields none.
    pub fn expand(&self, doc: &Value) -> Vec<PointerBuf> {
        let mut out = Vec::new();
        let mut path = Vec::new();
        expand_into(&self.segments, Some(doc), &mut path, &mut out);
        out
    }
}

/// A list index as RFC 6901 writes it: `0`, or digits without a leading zero (`01` and `+1`
/// are not indexes).
pub fn array_index(token: &str) -> Option<usize> {
    let canonical = token == "0"
        || (!token.is_empty()
            && !token.starts_with('0')
            && token.bytes().all(|b| b.is_ascii_digit()));
    if canonical { token.parse().ok() } else { None }
}

fn parse_segment(raw: &str) -> Result<Segment, String> {
    if raw == "*" {
        return Ok(Segment::Every);
    }
    if let Some(inner) = raw.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| format!("segment `{raw}` opens `[` without closing it"))?;
        let (key, value) = inner
            .split_once('=')
            .ok_or_else(|| format!("segment `{raw}` should look like `[name=value]`"))?;
        if key.is_empty() {
            return Err(format!("segment `{raw}` has an empty key"));
        }
        return Ok(Segment::Where {
            key: unescape(key)?,
            value: unescape(value)?,
        });
    }
    Ok(Segment::Key(unescape(raw)?))
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return Err(format!("`~` must be followed by 0 or 1 in `{raw}`")),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn expand_into(
    segments: &[Segment],
    current: Option<&Value>,
    path: &mut Vec<String>,
    out: &mut Vec<PointerBuf>,
) {
    let Some((first, rest)) = segments.split_first() else {
        out.push(PointerBuf::from_tokens(path.iter().map(String::as_str)));
        return;
    };
    let mut descend = |token: String, next: Option<&Value>, path: &mut Vec<String>| {
        path.push(token);
        expand_into(rest, next, path, out);
        path.pop();
    };
    match first {
        Segment::Key(key) => {
            let next = current.and_then(|v| match v {
                Value::Object(m) => m.get(key),
                Value::Array(a) => array_index(key).and_then(|i| a.get(i)),
                _ => None,
            });
            descend(key.clone(), next, path);
        }
        Segment::Every => match current {
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    descend(i.to_string(), Some(item), path);
                }
            }
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    descend(k.clone(), Some(v), path);
                }
            }
            _ => {}
        },
        Segment::Where { key, value } => {
            if let Some(Value::Array(items)) = current {
                for (i, item) in items.iter().enumerate() {
                    let matches = match item.get(key) {
                        Some(Value::String(s)) => s == value,
                        Some(other) => other.to_string().as_str() == value.as_str(),
                        None => false,
                    };
                    if matches {
                        descend(i.to_string(), Some(item), path);
                    }
                }
            }
        }
    }
}

impl fmt::Display for ExtPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for ExtPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExtPointer({:?})", self.text)
    }
}

impl<'de> Deserialize<'de> for ExtPointer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ExtPointer::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// [`Value::pointer`], without its allocation per segment: a segment without `~` is looked up
/// as it is. (Pod steps look up a few pointers in every document.)
pub trait Lookup {
    fn at(&self, pointer: &str) -> Option<&Value>;
}

impl Lookup for Value {
    fn at(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/').try_fold(self, |at, token| {
            let token = match token.contains('~') {
                true => std::borrow::Cow::Owned(token.replace("~1", "/").replace("~0", "~")),
                false => std::borrow::Cow::Borrowed(token),
            };
            match at {
                Value::Object(map) => map.get(token.as_ref()),
                Value::Array(items) => array_index(&token).and_then(|i| items.get(i)),
                _ => None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expand(p: &str, doc: &Value) -> Vec<String> {
        ExtPointer::parse(p)
            .unwrap()
            .expand(doc)
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn wildcards_expand_over_what_exists() {
        let doc = json!({"spec": {"containers": [{"name": "a"}, {"name": "web"}]}});
        assert_eq!(
            expand("/spec/containers/*/imagePullPolicy", &doc),
            [
                "/spec/containers/0/imagePullPolicy",
                "/spec/containers/1/imagePullPolicy"
            ]
        );
        assert_eq!(
            expand("/spec/containers/[name=web]/image", &doc),
            ["/spec/containers/1/image"]
        );
        assert!(expand("/spec/initContainers/*/image", &doc).is_empty());
        assert_eq!(expand("/spec/missing/x", &doc), ["/spec/missing/x"]);
        assert_eq!(expand("/a~1b/c~0d", &doc), ["/a~1b/c~0d"]);
    }

    #[test]
    fn list_indexes_are_canonical() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("12"), Some(12));
        for bad in ["01", "+1", "-1", "", "1a", "-"] {
            assert_eq!(array_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_pointers_are_rejected() {
        assert!(ExtPointer::parse("spec/x").is_err());
        assert!(ExtPointer::parse("/spec/~2").is_err());
        assert!(ExtPointer::parse("/spec/[name]").is_err());
        assert!(ExtPointer::parse("/spec/[name=x").is_err());
        assert_eq!(
            ExtPointer::parse(&"/a".repeat(50_000)).err().unwrap(),
            "JSON pointer of 50000 segments: documents nest at most 1000 levels deep"
        );
        assert!(ExtPointer::parse(&"/a".repeat(MAX_SEGMENTS)).is_ok());
    }

    #[test]
    fn lookup_finds_what_serde_json_finds() {
        let doc = serde_json::json!({"a": {"b/c": [10, {"d~e": 1}], "": {"x": 2}, "0": 3},
                                     "f": [[4]], "g": null});
        for pointer in [
            "",
            "/",
            "/a",
            "/a/b~1c",
            "/a/b~1c/0",
            "/a/b~1c/1/d~0e",
            "/a/b~1c/01",
            "/a/b~1c/+1",
            "/a/b~1c/2",
            "/a//x",
            "/a/0",
            "/f/0/0",
            "/f/-",
            "/g",
            "/g/x",
            "a",
            "/a/b~2c",
            "/a/b~1c/1/d~01e",
            "/nope",
        ] {
            assert_eq!(doc.at(pointer), doc.pointer(pointer), "{pointer}");
        }
    }
}
