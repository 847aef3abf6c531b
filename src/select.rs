//! Which resources a step applies to: kind, group, name and namespace globs, label and
//! annotation selectors, the Helm template a resource came from, and hooks.

use crate::glob::Glob;
use crate::manifest::Manifest;
use crate::names::{check_label_value, check_qualified_name};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Every field is optional; all the fields given must match. A list means "any of these".
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Selector {
    pub api_version: Option<Globs>,
    pub group: Option<Globs>,
    pub kind: Option<Globs>,
    pub name: Option<Globs>,
    pub namespace: Option<Globs>,
    pub label_selector: Option<LabelSelector>,
    pub annotation_selector: Option<LabelSelector>,
    /// The chart template path (`# Source:` or Helm 4's filename annotation).
    pub source: Option<Globs>,
    #[serde(default)]
    pub hooks: Hooks,
    /// Anchored regular expressions on the resource's identity, as kustomize's patch
    /// `target` writes them; set by the kustomization loader, not by patch files.
    #[serde(skip)]
    pub ids: Option<IdRegexes>,
}

/// kustomize's target vocabulary: group, version, kind, name and namespace, each an anchored
/// regular expression (`^(?:...)$`). A resource without a namespace is in `default`, as
/// kustomize sees it.
#[derive(Debug, Default, Clone)]
pub struct IdRegexes {
    pub group: Option<regex::Regex>,
    pub version: Option<regex::Regex>,
    pub kind: Option<regex::Regex>,
    pub name: Option<regex::Regex>,
    pub namespace: Option<regex::Regex>,
}

impl IdRegexes {
    /// Compiles `pattern` as kustomize does: anchored, and empty means "any".
    pub fn compile(pattern: &str) -> Result<Option<regex::Regex>, String> {
        if pattern.is_empty() {
            return Ok(None);
        }
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .map(Some)
            .map_err(|e| format!("invalid regular expression `{pattern}`: {e}"))
    }

    pub fn matches(&self, m: &Manifest) -> bool {
        let version = m.api_version().rsplit('/').next().unwrap_or("");
        let namespace = match m.namespace() {
            "" => "default",
            ns => ns,
        };
        let ok = |r: &Option<regex::Regex>, v: &str| r.as_ref().is_none_or(|r| r.is_match(v));
        ok(&self.group, m.group())
            && ok(&self.version, version)
            && ok(&self.kind, m.kind())
            && ok(&self.name, m.name())
            && ok(&self.namespace, namespace)
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Hooks {
    /// Hooks and ordinary resources alike.
    #[default]
    Include,
    /// Only resources that are not Helm hooks.
    Exclude,
    /// Only Helm hooks.
    Only,
}

impl Selector {
    pub fn matches(&self, m: &Manifest) -> bool {
        let globs = |g: &Option<Globs>, value: &str| g.as_ref().is_none_or(|g| g.matches(value));
        globs(&self.api_version, m.api_version())
            && globs(&self.group, m.group())
            && globs(&self.kind, m.kind())
            && globs(&self.name, m.name())
            && globs(&self.namespace, m.namespace())
            && (self.source.is_none() || m.source().is_some_and(|s| globs(&self.source, s)))
            && self
                .label_selector
                .as_ref()
                .is_none_or(|s| s.matches(m.labels()))
            && self
                .annotation_selector
                .as_ref()
                .is_none_or(|s| s.matches(m.annotations()))
            && self.ids.as_ref().is_none_or(|ids| ids.matches(m))
            && match self.hooks {
                Hooks::Include => true,
                Hooks::Exclude => !m.is_hook(),
                Hooks::Only => m.is_hook(),
            }
    }
}

/// One glob or a list of globs, written as a string or a YAML list.
#[derive(Debug, Clone)]
pub struct Globs(pub Vec<Glob>);

impl Globs {
    pub fn matches(&self, value: &str) -> bool {
        self.0.iter().any(|g| g.is_match(value))
    }
}

impl<'de> Deserialize<'de> for Globs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct GlobsVisitor;
        impl<'de> Visitor<'de> for GlobsVisitor {
            type Value = Globs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a glob or a list of globs")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Globs, E> {
                Ok(Globs(vec![Glob::new(v).map_err(E::custom)?]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Globs, A::Error> {
                let mut globs = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    globs.push(Glob::new(&s).map_err(de::Error::custom)?);
                }
                Ok(Globs(globs))
            }
        }
        d.deserialize_any(GlobsVisitor)
    }
}

/// A Kubernetes label selector in its string form: `app=web,tier!=db,env in (a,b),!legacy`.
/// Also accepted as a map of required key/value pairs (`{app: web}`).
#[derive(Debug, Clone)]
pub struct LabelSelector(Vec<Requirement>);

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("empty requirement in selector `{text}`"));
            }
            requirements
                .push(parse_requirement(part).map_err(|e| format!("{e} in selector `{text}`"))?);
        }
        Ok(LabelSelector(requirements))
    }

    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |key: &str| labels.and_then(|l| l.get(key)).map(value_text);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k).as_deref() == Some(v),
            Requirement::NotEquals(k, v) => get(k).as_deref() != Some(v),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Splits on commas that are not inside `( )`.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A label value as a selector writes it: what Kubernetes accepts as a label value
/// (`tier=api=x` has the value `api=x`, which no label can have).
fn checked_value(v: &str) -> Result<String, String> {
    let v = v.trim();
    check_label_value(v)?;
    Ok(v.to_string())
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let check_key = |k: &str| {
        if k.is_empty() {
            return Err("a requirement has no key".to_string());
        }
        check_qualified_name(k).map(|()| k.to_string())
    };
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(check_key(key.trim())?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(
            check_key(k.trim())?,
            checked_value(v)?,
        ));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(check_key(k.trim())?, checked_value(v)?));
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words[..] {
        let rest = rest.trim();
        let (negated, list) = if let Some(l) = rest.strip_prefix("notin") {
            (true, l)
        } else if let Some(l) = rest.strip_prefix("in") {
            (false, l)
        } else {
            return Err(format!("expected `in` or `notin` after `{key}`"));
        };
        let list = list
            .trim()
            .strip_prefix('(')
            .and_then(|l| l.strip_suffix(')'))
            .ok_or_else(|| format!("expected a `(a, b)` list after `{key} in`"))?;
        let values = list
            .split(',')
            .map(checked_value)
            .collect::<Result<_, _>>()?;
        let key = check_key(key)?;
        return Ok(if negated {
            Requirement::NotIn(key, values)
        } else {
            Requirement::In(key, values)
        });
    }
    Ok(Requirement::Exists(check_key(part)?))
}

impl<'de> Deserialize<'de> for LabelSelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SelectorVisitor;
        impl<'de> Visitor<'de> for SelectorVisitor {
            type Value = LabelSelector;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a label selector such as `app=web,tier in (api,worker)` or a map of labels",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LabelSelector, E> {
                LabelSelector::parse(v).map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<LabelSelector, A::Error> {
                let mut reqs = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    check_qualified_name(&k).map_err(de::Error::custom)?;
                    check_label_value(&v).map_err(de::Error::custom)?;
                    reqs.push(Requirement::Equals(k, v));
                }
                Ok(LabelSelector(reqs))
            }
        }
        d.deserialize_any(SelectorVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn label_selector_syntax() {
        let s =
            LabelSelector::parse("app=web, tier in (api, worker),!legacy,env!=dev,team").unwrap();
        let l = labels(json!({"app": "web", "tier": "api", "env": "prod", "team": "x"}));
        assert!(s.matches(Some(&l)));
        let l = labels(json!({"app": "web", "tier": "db", "env": "prod", "team": "x"}));
        assert!(!s.matches(Some(&l)));
        assert!(LabelSelector::parse("notin (a)").is_err());
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(LabelSelector::parse("a,,b").is_err());
        assert_eq!(
            LabelSelector::parse("tier=api=x").unwrap_err(),
            "`api=x` is not a valid label value: at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit in selector `tier=api=x`"
        );
        assert!(LabelSelector::parse("-bad=x").is_err());
        assert!(LabelSelector::parse("a in (x, y z)").is_err());
        assert!(LabelSelector::parse("app.kubernetes.io/name in (web, api), !x").is_ok());
    }

    #[test]
    fn notin_and_missing_labels() {
        let s = LabelSelector::parse("tier notin (db)").unwrap();
        assert!(s.matches(None));
        assert!(!s.matches(Some(&labels(json!({"tier": "db"})))));
    }
}
