//! `rewriteProbePaths`: rewrites the `httpGet.path` of readiness, liveness and startup probes,
//! by container name and port, with prefix or (bounded, linear-time) regex rules.

use super::workloads::{self, resolve_port};
use super::{Context, Outcome, Transform};
use crate::pod;
use crate::pointer::Lookup;
use crate::select::Globs;
use anyhow::{Result, bail};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Longest regex pattern a patch file may hold, in bytes.
const MAX_PATTERN_LEN: usize = 1024;
/// How many times more than there are rules a path may be rewritten before the rules count
/// as never settling (a prefix rule that shrinks a path, `/api/v1/` → `/api/`, may apply
/// to `/api/v1/v1/x` twice).
const MAX_EXTRA_REWRITES: usize = 8;
/// Compiled-program budget for one pattern (the `regex` crate's size limit), so a pattern
/// such as `a{1000}{1000}` is refused when the patch file loads instead of eating memory.
const MAX_COMPILED_SIZE: usize = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RewriteProbePaths {
    /// Container name globs; every container when absent.
    #[serde(default)]
    containers: Option<Globs>,
    /// Probe ports (numbers or container port names); every port when absent.
    #[serde(default)]
    ports: Option<Vec<PortRef>>,
    /// Which probes; all three when absent.
    #[serde(default)]
    probes: Option<Vec<ProbeKind>>,
    /// Tried in order; the first rule that matches a path rewrites it.
    #[serde(deserialize_with = "non_empty_rules")]
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PortRef {
    Number(u64),
    Name(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum ProbeKind {
    Readiness,
    Liveness,
    Startup,
}

impl ProbeKind {
    const ALL: [ProbeKind; 3] = [
        ProbeKind::Readiness,
        ProbeKind::Liveness,
        ProbeKind::Startup,
    ];

    fn field(self) -> &'static str {
        match self {
            ProbeKind::Readiness => "readinessProbe",
            ProbeKind::Liveness => "livenessProbe",
            ProbeKind::Startup => "startupProbe",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
enum Rule {
    Prefix {
        from: String,
        to: String,
    },
    Regex {
        pattern: Pattern,
        replacement: String,
    },
}

fn non_empty_rules<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Rule>, D::Error> {
    let rules = Vec::<Rule>::deserialize(d)?;
    if rules.is_empty() {
        return Err(serde::de::Error::custom(
            "`rules` is empty: give at least one prefix or regex rule",
        ));
    }
    if let Some(cycle) = prefix_cycle(&rules) {
        return Err(serde::de::Error::custom(format!(
            "prefix rules {} can rewrite a path back to where it started, so every run would change it again",
            cycle.join(", then ")
        )));
    }
    if let Some(e) = never_settling(&rules) {
        return Err(serde::de::Error::custom(e));
    }
    Ok(rules)
}

/// The path the rules make of `path`, applied until no rule changes it any more (rules that
/// chain, `/a/` → `/b/` then `/b/` → `/c/`, end at `/c/` in one run, so a second run changes
/// nothing); `None` when no rule matches. Rules that never settle are an error.
fn settle(rules: &[Rule], path: &str) -> Result<Option<String>> {
    let mut trail = vec![path.to_string()];
    let mut current = path.to_string();
    while let Some(next) = rules.iter().find_map(|r| r.rewrite(&current)) {
        if next == current {
            break;
        }
        let revisits = trail.contains(&next);
        trail.push(next.clone());
        if revisits || trail.len() > rules.len() + MAX_EXTRA_REWRITES {
            bail!(
                "the rules are not idempotent: they rewrite {} and would go on; anchor the patterns so no rule matches what the rules write",
                trail
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(" → ")
            );
        }
        current = next;
    }
    Ok((trail.len() > 1 || rules.iter().any(|r| r.rewrite(path).is_some())).then_some(current))
}

/// Rules that never settle on a path they write themselves: each rule's output, when it is
/// plain text (a prefix rule's `to`, a regex replacement without `$` groups), is run through
/// the rules as a probe path would be. Catches regex rules that undo each other when the
/// patch file loads.
fn never_settling(rules: &[Rule]) -> Option<String> {
    rules.iter().find_map(|rule| {
        let written = match rule {
            Rule::Prefix { to, .. } => to.as_str(),
            Rule::Regex { replacement, .. } if !replacement.contains('$') => replacement.as_str(),
            Rule::Regex { .. } => return None,
        };
        settle(rules, written).err().map(|e| e.to_string())
    })
}

/// Prefix rules whose outputs feed each other round in a circle (`/a/` → `/b/`, then
/// `/b/` → `/a/`), described in order; `None` when there is no such circle. Rule `i` feeds
/// rule `j` when a path that `i` wrote can start with `j`'s `from`. A rule whose `to` starts
/// with its own `from` never matches its own output (see [`Rule::rewrite`]), and one whose
/// output only shrinks towards its `to` ends by itself.
fn prefix_cycle(rules: &[Rule]) -> Option<Vec<String>> {
    let prefixes: Vec<(usize, &str, &str)> = rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Rule::Prefix { from, to } => Some((i, from.as_str(), to.as_str())),
            Rule::Regex { .. } => None,
        })
        .collect();
    let feeds = |a: usize, b: usize| {
        let (_, _, to) = prefixes[a];
        let (_, from, b_to) = prefixes[b];
        // `b` leaves alone what already starts with its `to`, when that starts with its `from`.
        let guarded = b_to.starts_with(from) && to.starts_with(b_to);
        a != b && (to.starts_with(from) || from.starts_with(to)) && !guarded
    };
    // Depth-first search for a path back to the start, from every rule.
    fn back_to(
        start: usize,
        at: usize,
        n: usize,
        feeds: &dyn Fn(usize, usize) -> bool,
        trail: &mut Vec<usize>,
    ) -> bool {
        for next in 0..n {
            if !feeds(at, next) {
                continue;
            }
            if next == start {
                return true;
            }
            if !trail.contains(&next) {
                trail.push(next);
                if back_to(start, next, n, feeds, trail) {
                    return true;
                }
                trail.pop();
            }
        }
        false
    }
    (0..prefixes.len()).find_map(|start| {
        let mut trail = vec![start];
        back_to(start, start, prefixes.len(), &feeds, &mut trail).then(|| {
            trail
                .iter()
                .map(|&k| rules[prefixes[k].0].describe())
                .collect()
        })
    })
}

/// A regex checked when the patch file loads: bounded in length and compiled size.
#[derive(Debug)]
struct Pattern(Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        compile(&text)
            .map(Pattern)
            .map_err(serde::de::Error::custom)
    }
}

fn compile(text: &str) -> Result<Regex, String> {
    if text.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "regex pattern is {} bytes long; the limit is {MAX_PATTERN_LEN}",
            text.len()
        ));
    }
    RegexBuilder::new(text)
        .size_limit(MAX_COMPILED_SIZE)
        .dfa_size_limit(MAX_COMPILED_SIZE)
        .build()
        .map_err(|e| {
            // The parser's message draws a caret under the pattern over several lines; the
            // last line says what is wrong, which is what fits a one-line error.
            let message = e.to_string();
            let reason = message.lines().last().unwrap_or_default();
            let reason = reason.strip_prefix("error: ").unwrap_or(reason);
            format!("invalid regex pattern `{text}`: {reason}")
        })
}

impl Rule {
    /// The rewritten path, or `None` when the rule does not match it.
    fn rewrite(&self, path: &str) -> Option<String> {
        match self {
            Rule::Prefix { from, to } => {
                // `/` → `/app/` must not turn `/app/x` into `/app/app/x` on a second run.
                if to.starts_with(from.as_str()) && path.starts_with(to.as_str()) {
                    return None;
                }
                path.strip_prefix(from.as_str())
                    .map(|rest| format!("{to}{rest}"))
            }
            Rule::Regex {
                pattern,
                replacement,
            } => pattern
                .0
                .is_match(path)
                .then(|| pattern.0.replace(path, replacement.as_str()).into_owned()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Rule::Prefix { from, to } => format!("prefix `{from}` → `{to}`"),
            Rule::Regex {
                pattern,
                replacement,
            } => format!("regex `{}` → `{replacement}`", pattern.0.as_str()),
        }
    }
}

impl Transform for RewriteProbePaths {
    const KEY: &'static str = "rewriteProbePaths";
    const SUMMARY: &'static str =
        "rewrite the httpGet path of readiness/liveness/startup probes by container and port";
    const DOCS: &'static str = r#"Rewrites the `httpGet.path` of container probes (readiness, liveness and startup) with
prefix or regex rules, in the containers and on the ports you choose.

Why: an application moved behind a path prefix (`/api/v1/status` became
`/execution/api/v1/status`) while the chart's probes still ask for the old path, so pods
never become ready. This fixes the probes without forking the chart.

Target: `target: resource` (the default; every pod template of the resource, all container
lists), or `podSpec`, or `containers`; the step's `containerNames` picks containers too, with
any target.
`mode` makes no difference: a path is always rewritten when a rule matches it.

Options:
- `rules` (required): tried in order; the first that matches a path rewrites it, and the
  rules run again on the result until none changes it (`/a/` → `/b/` then `/b/` → `/c/`
  takes `/a/x` to `/c/x` in one run), so a second run changes nothing. Rules that lead round
  in a circle or match their own output are refused when the patch file loads (prefix rules,
  and regex rules whose replacement is plain text); a regex rule with `$` groups that never
  settles is an error when it runs.
  - `prefix: {from: /api/, to: /execution/api/}` replaces a leading `from`. When `to` starts
    with `from` (`/` → `/app/`), a path already starting with `to` is left alone, so a second
    run changes nothing.
  - `regex: {pattern: '^/healthz$', replacement: /health/live}`: the first match is replaced;
    `$1` / `${name}` refer to groups. Patterns use the `regex` crate's syntax (linear time,
    no look-around or back-references), at most 1024 bytes, and must compile within 1 MiB. A
    rule that would rewrite its own output again is an error: anchor the pattern.
- `containers`: container name glob or list of globs (all containers when absent).
- `ports`: probe ports to touch, numbers or container port names; `8080` also matches a probe
  on the port named `http` when that port is 8080, and the other way round (all when absent).
- `probes`: any of `readiness`, `liveness`, `startup` (all three when absent).

Probes without an explicit `httpGet.path` (exec, tcpSocket, grpc, or the implicit `/`) are
never touched. A resource where no probe matched is reported as skipped.

Example:

```yaml
- name: execution-api-probes
  select: {kind: Deployment, name: api}
  rewriteProbePaths:
    containers: execution-*
    ports: [8989]
    rules:
      - prefix: {from: /api/, to: /execution/api/}
      - regex: {pattern: '^/healthz$', replacement: /execution/api/v1/status}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;
    const TARGETS: &'static [super::Target] = super::ANY_TARGET;
    const PER_CONTAINER: bool = true;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        let containers: Vec<&mut Value> = if let Some(spec) = workloads::pod_spec(target, ctx) {
            pod::containers_mut(spec)
                .into_iter()
                .map(|(_, c)| c)
                .filter(|c| ctx.picks_container(c))
                .collect()
        } else if workloads::is_resource(target) {
            return Ok(Outcome::NotApplicable(format!(
                "{} has no pod template",
                ctx.kind
            )));
        } else {
            vec![target]
        };
        let mut matched = 0;
        for container in containers {
            matched += self.rewrite_container(container)?;
        }
        if matched == 0 {
            return Ok(Outcome::NotApplicable(
                "no httpGet probe path matched the step's containers, ports and rules".into(),
            ));
        }
        Ok(Outcome::Applied)
    }
}

impl RewriteProbePaths {
    /// Rewrites the selected probes of one container; returns how many matched a rule.
    fn rewrite_container(&self, container: &mut Value) -> Result<usize> {
        let name = container
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if self.containers.as_ref().is_some_and(|g| !g.matches(&name)) {
            return Ok(0);
        }
        let kinds = self.probes.as_deref().unwrap_or(&ProbeKind::ALL);
        let mut matched = 0;
        for kind in kinds {
            let Some(http) = container.at(&format!("/{}/httpGet", kind.field())) else {
                continue;
            };
            let Some(path) = http.get("path").and_then(Value::as_str) else {
                continue;
            };
            if !self.port_selected(http.get("port"), container) {
                continue;
            }
            let Some(new_path) = settle(&self.rules, path)? else {
                continue;
            };
            matched += 1;
            if let Some(slot) = container.pointer_mut(&format!("/{}/httpGet/path", kind.field())) {
                *slot = Value::String(new_path);
            }
        }
        Ok(matched)
    }

    fn port_selected(&self, probe_port: Option<&Value>, container: &Value) -> bool {
        let Some(wanted) = &self.ports else {
            return true;
        };
        let Some(probe_port) = probe_port else {
            return false;
        };
        let probe_number = resolve_port(probe_port, container);
        wanted.iter().any(|w| match w {
            PortRef::Number(n) => probe_number == Some(*n),
            PortRef::Name(name) => {
                probe_port.as_str() == Some(name.as_str())
                    || (probe_number.is_some()
                        && resolve_port(&Value::String(name.clone()), container) == probe_number)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use crate::transforms::{Mode, test_context};
    use serde_json::json;

    fn action(options: Value) -> RewriteProbePaths {
        serde_json::from_value(options).unwrap()
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "execution-api", "ports": [{"name": "http", "containerPort": 8989}],
                 "readinessProbe": {"httpGet": {"path": "/api/v1/status", "port": "http"}},
                 "livenessProbe": {"httpGet": {"path": "/api/v1/status", "port": 8989}}},
                {"name": "management-api",
                 "readinessProbe": {"httpGet": {"path": "/api/v1/status", "port": 8888}},
                 "startupProbe": {"exec": {"command": ["true"]}}}
            ]}}}
        })
    }

    fn run(a: &RewriteProbePaths, doc: &mut Value) -> Result<Outcome> {
        let m = Manifest::from_value(1, doc.clone());
        a.apply(
            doc,
            &test_context(Mode::Overwrite, &m, std::slice::from_ref(&m)),
        )
    }

    fn paths(doc: &Value) -> Vec<&str> {
        ["0/readinessProbe", "0/livenessProbe", "1/readinessProbe"]
            .iter()
            .map(|p| {
                doc.at(&format!("/spec/template/spec/containers/{p}/httpGet/path"))
                    .and_then(Value::as_str)
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn prefix_by_port_number_matches_named_probe_ports() {
        let a = action(json!({"ports": [8989], "rules": [
            {"prefix": {"from": "/api/", "to": "/execution/api/"}}]}));
        let mut doc = deployment();
        assert_eq!(run(&a, &mut doc).unwrap(), Outcome::Applied);
        assert_eq!(
            paths(&doc),
            [
                "/execution/api/v1/status",
                "/execution/api/v1/status",
                "/api/v1/status"
            ]
        );
        let before = doc.clone();
        assert!(matches!(run(&a, &mut doc), Ok(Outcome::NotApplicable(_))));
        assert_eq!(doc, before);
    }

    #[test]
    fn container_globs_probe_kinds_and_port_names() {
        let a = action(
            json!({"containers": "management-*", "probes": ["readiness"],
            "rules": [{"regex": {"pattern": "^/api/(.*)$", "replacement": "/management/api/$1"}}]}),
        );
        let mut doc = deployment();
        run(&a, &mut doc).unwrap();
        assert_eq!(
            paths(&doc),
            [
                "/api/v1/status",
                "/api/v1/status",
                "/management/api/v1/status"
            ]
        );
        let a = action(json!({"ports": ["http"], "probes": ["liveness"],
            "rules": [{"prefix": {"from": "/", "to": "/x/"}}]}));
        let mut doc = deployment();
        run(&a, &mut doc).unwrap();
        assert_eq!(paths(&doc)[1], "/x/api/v1/status");
        // A second run sees `/x/...` as already rewritten.
        let before = doc.clone();
        run(&a, &mut doc).unwrap();
        assert_eq!(doc, before);
    }

    #[test]
    fn works_on_a_single_container_target() {
        let a = action(json!({"rules": [{"prefix": {"from": "/api", "to": "/v2"}}]}));
        let mut container = deployment()
            .at("/spec/template/spec/containers/1")
            .cloned()
            .unwrap();
        let m = Manifest::from_value(1, deployment());
        let ctx = test_context(Mode::IfAbsent, &m, std::slice::from_ref(&m));
        assert_eq!(a.apply(&mut container, &ctx).unwrap(), Outcome::Applied);
        assert_eq!(
            container["readinessProbe"]["httpGet"]["path"],
            "/v2/v1/status"
        );
    }

    #[test]
    fn self_matching_regex_rules_are_refused() {
        // A rule that matches its own output, refused when loaded.
        let e = serde_json::from_value::<RewriteProbePaths>(
            json!({"rules": [{"regex": {"pattern": "status", "replacement": "status/x"}}]}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("are not idempotent"), "{e}");
        // The same with a group: only a run can tell.
        let a =
            action(json!({"rules": [{"regex": {"pattern": "(status)", "replacement": "$1/x"}}]}));
        let e = run(&a, &mut deployment()).unwrap_err().to_string();
        assert!(e.contains("are not idempotent"), "{e}");
        // Two regex rules that undo each other, with groups (so only a run can tell).
        let a = action(json!({"rules": [
            {"regex": {"pattern": "^/api/(.*)", "replacement": "/v2/$1"}},
            {"regex": {"pattern": "^/v2/(.*)", "replacement": "/api/$1"}}]}));
        let e = run(&a, &mut deployment()).unwrap_err().to_string();
        assert!(
            e.contains("`/api/v1/status` → `/v2/v1/status` → `/api/v1/status`"),
            "{e}"
        );
        // Without groups, the patch file is refused when it loads.
        let e = serde_json::from_value::<RewriteProbePaths>(json!({"rules": [
            {"regex": {"pattern": "^/healthz$", "replacement": "/ready"}},
            {"regex": {"pattern": "^/ready$", "replacement": "/healthz"}}]}))
        .unwrap_err()
        .to_string();
        assert!(e.contains("`/ready` → `/healthz` → `/ready`"), "{e}");
    }

    #[test]
    fn chained_rules_settle_in_one_run() {
        let a = action(json!({"rules": [
            {"prefix": {"from": "/api/", "to": "/b/"}},
            {"prefix": {"from": "/b/", "to": "/c/"}}]}));
        let mut doc = deployment();
        run(&a, &mut doc).unwrap();
        assert_eq!(paths(&doc), ["/c/v1/status"; 3]);
        let before = doc.clone();
        assert!(matches!(run(&a, &mut doc), Ok(Outcome::NotApplicable(_))));
        assert_eq!(doc, before);
    }

    #[test]
    fn prefix_cycles_are_refused_when_loaded() {
        let e = serde_json::from_value::<RewriteProbePaths>(json!({"rules": [
            {"prefix": {"from": "/x", "to": "/y"}},
            {"prefix": {"from": "/a/", "to": "/b/"}},
            {"prefix": {"from": "/b/", "to": "/a/"}}]}))
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "prefix rules prefix `/a/` → `/b/`, then prefix `/b/` → `/a/` can rewrite a path back to where it started, so every run would change it again"
        );
        // A rule whose output starts with its own input is guarded, and one that shrinks ends.
        for rules in [
            json!([{"prefix": {"from": "/", "to": "/app/"}}]),
            json!([{"prefix": {"from": "/", "to": "/app/"}}, {"prefix": {"from": "/app/old", "to": "/app/new"}}]),
            json!([{"prefix": {"from": "/api/v1/", "to": "/api/"}}]),
        ] {
            serde_json::from_value::<RewriteProbePaths>(json!({ "rules": rules })).unwrap();
        }
    }

    #[test]
    fn patterns_are_bounded_when_loaded() {
        let err = |pattern: String| {
            serde_json::from_value::<RewriteProbePaths>(
                json!({"rules": [{"regex": {"pattern": pattern, "replacement": ""}}]}),
            )
            .unwrap_err()
            .to_string()
        };
        assert!(err("a".repeat(2000)).contains("the limit is 1024"));
        assert!(err("(a{1000}){1000}".into()).contains("invalid regex pattern"));
        assert!(err("(?=x)".into()).contains("invalid regex pattern"));
        let unknown = serde_json::from_value::<RewriteProbePaths>(
            json!({"rules": [{"prefix": {"from": "/", "to": "/x/"}}], "bogus": 1}),
        )
        .unwrap_err()
        .to_string();
        assert!(unknown.contains("unknown field `bogus`"), "{unknown}");
        let empty = serde_json::from_value::<RewriteProbePaths>(json!({"rules": []}));
        assert!(empty.unwrap_err().to_string().contains("`rules` is empty"));
    }

    #[test]
    fn resources_without_pods_are_not_applicable() {
        let a = action(json!({"rules": [{"prefix": {"from": "/", "to": "/x/"}}]}));
        let mut svc = json!({"apiVersion": "v1", "kind": "Service"});
        let m = Manifest::from_value(1, svc.clone());
        let ctx = test_context(Mode::Overwrite, &m, std::slice::from_ref(&m));
        assert!(matches!(
            a.apply(&mut svc, &ctx),
            Ok(Outcome::NotApplicable(_))
        ));
    }
}
