//! `defaultResources`: CPU/memory requests and limits for containers that set none
//! (opt-in), never producing a request above its limit.

use super::targets::{self, child_map};
use super::{Context, Outcome, Transform};
use anyhow::Result;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize)]
#[serde(try_from = "Options")]
pub struct DefaultResources {
    requests: Quantities,
    limits: Quantities,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Options {
    #[serde(default)]
    requests: Quantities,
    #[serde(default)]
    limits: Quantities,
}

impl TryFrom<Options> for DefaultResources {
    type Error = String;

    /// The API rejects a container whose request is above its limit: so do we, here.
    fn try_from(o: Options) -> Result<Self, String> {
        for (name, request) in &o.requests.0 {
            if let Some((_, limit)) = o.limits.0.iter().find(|(n, _)| n == name)
                && request.value > limit.value
            {
                return Err(format!(
                    "the default request {name}: {} is above the default limit {name}: {}",
                    request.text, limit.text
                ));
            }
        }
        Ok(DefaultResources {
            requests: o.requests,
            limits: o.limits,
        })
    }
}

/// Resource name → quantity, in the order written.
#[derive(Debug, Default, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
struct Quantities(Vec<(String, Quantity)>);

impl TryFrom<Map<String, Value>> for Quantities {
    type Error = String;

    fn try_from(map: Map<String, Value>) -> Result<Self, String> {
        map.into_iter()
            .map(|(name, value)| {
                check_resource_name(&name)?;
                let quantity = Quantity::try_from(value).map_err(|e| format!("`{name}`: {e}"))?;
                Ok((name, quantity))
            })
            .collect::<Result<_, String>>()
            .map(Quantities)
    }
}

/// A container resource name the API accepts: `cpu`, `memory`, `ephemeral-storage`,
/// `hugepages-<size>`, or an extended resource with a domain (`nvidia.com/gpu`).
fn check_resource_name(name: &str) -> Result<(), String> {
    let standard = matches!(name, "cpu" | "memory" | "ephemeral-storage")
        || name
            .strip_prefix("hugepages-")
            .is_some_and(|size| parse_quantity(size).is_some());
    let extended = name.contains('/')
        && crate::names::check_qualified_name(name).is_ok()
        && !name.starts_with("kubernetes.io/");
    if standard || extended {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a container resource: use cpu, memory, ephemeral-storage, hugepages-<size> or a domain-qualified extended resource"
        ))
    }
}

/// A Kubernetes quantity (`100m`, `256Mi`, `1.5`), kept as written, compared by value.
#[derive(Debug, Clone)]
struct Quantity {
    text: Value,
    value: f64,
}

impl TryFrom<Value> for Quantity {
    type Error = String;

    fn try_from(text: Value) -> Result<Self, String> {
        let value = match &text {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => parse_quantity(s),
            _ => None,
        }
        .ok_or_else(|| format!("`{text}` is not a Kubernetes quantity (e.g. 100m, 256Mi, 1)"))?;
        if value < 0.0 {
            return Err(format!(
                "`{text}` is negative; a resource quantity must not be"
            ));
        }
        Ok(Quantity { text, value })
    }
}

/// The value of a quantity string: a decimal number with an optional binary (`Ki`…`Ei`),
/// decimal (`m`, `k`, `M`…`E`) or exponent (`e3`) suffix, as Kubernetes writes it (no
/// spaces, one sign at the front).
fn parse_quantity(s: &str) -> Option<f64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let split = s
        .char_indices()
        .skip(1)
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
        .map_or(s.len(), |(i, _)| i);
    let (number, suffix) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => 10f64.powi(exponent.strip_prefix(['e', 'E'])?.parse().ok()?),
    };
    Some(number * factor)
}

fn quantity_of(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_quantity(s),
        _ => None,
    }
}

impl Transform for DefaultResources {
    const KEY: &'static str = "defaultResources";
    const SUMMARY: &'static str =
        "container resource requests/limits where unset (opt-in); never request above limit";
    const DOCS: &'static str = r#"Gives every container (init, regular, ephemeral) the resource `requests` and `limits`
it does not set, resource by resource.

Why: containers without requests are scheduled as if they cost nothing and are evicted first
(BestEffort); without a memory limit one leak can starve a node. Not in any default profile:
good numbers depend on the workload — select the workloads you know.

Harden without breaking:

- Only missing entries are added: a chart's `requests.cpu` stays even if `limits.cpu` is
  added beside it.
- A request is not added where the chart set only the limit: Kubernetes already defaults
  the request to the limit.
- A limit is not added below a request the chart set (the API would reject the pod); that is
  reported.

Target: any — `resource`, `podSpec` or `containers` (use `containerNames` to pick some).

Options: `requests` and `limits`, maps of resource name to quantity (`100m`, `256Mi`).

Example:

```yaml
- name: default-resources
  select: {namespace: "team-*"}
  target: containers
  defaultResources:
    requests: {cpu: 50m, memory: 64Mi}
    limits: {memory: 256Mi}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;
    const TARGETS: &'static [super::Target] = super::ANY_TARGET;
    const PER_CONTAINER: bool = true;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        let containers = match targets::containers(target, ctx) {
            Ok(containers) => containers,
            Err(outcome) => return Ok(outcome),
        };
        let mut conflicts = Vec::new();
        for (who, container) in containers {
            let Some(resources) = targets::map_entry(container, "resources") else {
                conflicts.push(format!("{who} has resources that are not a map"));
                continue;
            };
            let existing_limit = |resources: &Map<String, Value>, name: &str| {
                resources.get("limits").and_then(|l| l.get(name)).cloned()
            };
            for (name, quantity) in &self.requests.0 {
                if existing_limit(resources, name).is_some() {
                    continue;
                }
                if let Some(requests) = child_map(resources, "requests") {
                    targets::set_if_absent(requests, name, quantity.text.clone());
                }
            }
            for (name, quantity) in &self.limits.0 {
                let request = quantity_of(resources.get("requests").and_then(|r| r.get(name)));
                if existing_limit(resources, name).is_some() {
                    continue;
                }
                if request.is_some_and(|r| r > quantity.value) {
                    conflicts.push(format!(
                        "{who} requests more {name} than the default limit {}",
                        quantity.text
                    ));
                    continue;
                }
                if let Some(limits) = child_map(resources, "limits") {
                    targets::set_if_absent(limits, name, quantity.text.clone());
                }
            }
        }
        Ok(targets::outcome(conflicts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(options: Value, container: &mut Value) -> Outcome {
        crate::transforms::targets::run_for_test::<DefaultResources>(options, container)
    }

    #[test]
    fn fills_gaps_without_inverting_requests_and_limits() {
        let options = json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi", "cpu": 1}});
        let mut c = json!({"name": "a", "resources": {"requests": {"memory": "1Gi"}, "limits": {"cpu": "2"}}});
        let outcome = run(options, &mut c);
        assert_eq!(
            outcome,
            Outcome::Partial(
                "container `a` requests more memory than the default limit \"256Mi\"".into()
            )
        );
        // cpu: the chart's limit stands and Kubernetes defaults the request to it.
        assert_eq!(
            c["resources"],
            json!({"requests": {"memory": "1Gi"}, "limits": {"cpu": "2"}})
        );
        let mut bare = json!({"name": "b"});
        run(
            json!({"requests": {"cpu": "50m"}, "limits": {"memory": "256Mi"}}),
            &mut bare,
        );
        assert_eq!(
            bare["resources"],
            json!({"requests": {"cpu": "50m"}, "limits": {"memory": "256Mi"}})
        );
    }

    #[test]
    fn parses_quantities() {
        assert_eq!(parse_quantity("100m"), Some(0.1));
        assert_eq!(parse_quantity("1Gi"), Some(1024f64.powi(3)));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("1.5"), Some(1.5));
        assert_eq!(parse_quantity("lots"), None);
        for bad in ["100 m", "1.2.3", "--1", "1e", "1mi", "1MB", " 1"] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
        let err = |options: Value| {
            serde_json::from_value::<DefaultResources>(options)
                .unwrap_err()
                .to_string()
        };
        assert!(err(json!({"limits": {"cpu": "x"}})).contains("not a Kubernetes quantity"));
        assert_eq!(
            err(json!({"requests": {"memory": "-64Mi"}})),
            "`memory`: `\"-64Mi\"` is negative; a resource quantity must not be"
        );
        assert!(
            err(json!({"requests": {"cpus": "1"}})).contains("`cpus` is not a container resource")
        );
        assert!(
            err(json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}))
                .contains("is above the default limit")
        );
        serde_json::from_value::<DefaultResources>(
            json!({"requests": {"hugepages-2Mi": "1Gi", "nvidia.com/gpu": 1}}),
        )
        .unwrap();
    }
}
