//! `alignHealthChecks` (cross-resource): points each Azure ALB `HealthCheckPolicy` at the
//! readiness endpoint the pods behind its Service really serve.

use super::workloads::{self, resolve_port, service_selects};
use super::{Context, Mode, Outcome, Transform};
use crate::manifest::Manifest;
use crate::pointer::Lookup;
use anyhow::{Result, bail};
use serde::Deserialize;
use serde_json::{Map, Value};

const POLICY_GROUP: &str = "alb.networking.azure.io";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlignHealthChecks {}

impl Transform for AlignHealthChecks {
    const KEY: &'static str = "alignHealthChecks";
    const SUMMARY: &'static str = "cross-resource: set Azure ALB HealthCheckPolicy paths to the readiness probes of the pods behind their Service";
    const DOCS: &'static str = r#"**Cross-resource**: reads the whole stream. For each Azure Application Gateway for
Containers `HealthCheckPolicy` (`alb.networking.azure.io/v1`) whose `spec.targetRef` names a
Service, it follows that Service to the pods it selects and sets the policy's
`spec.default.http.path` to the path of their readiness probe.

Why: the load balancer probes the backends itself. When its path differs from the one the
application serves (the policy says `/api/v1/status`, the pods answer on
`/execution/api/v1/status`), every backend is marked unhealthy and all requests fail with 5xx,
although the pods are ready. The readiness probe is the path the chart author tested, and
the one Application Gateway for Containers itself probes when no HealthCheckPolicy exists.

How it resolves, all within the rendered stream:
1. `spec.targetRef` (kind `Service`, `name`, `namespace` defaulting to the policy's) names a
   Service of the stream.
2. The Service's `spec.selector` picks the workloads (any resource with a pod template,
   same namespace) whose pod template labels it matches.
3. Each Service port's `targetPort` (a number, a container port name, or the `port` when
   absent) picks the container serving it, by its declared `ports` (a pod with one container
   serves every port).
4. That container's `readinessProbe.httpGet` gives the path (and its port).

Which Service port: when the policy sets `spec.default.port`, the Service port whose `port` or
resolved container port equals it; otherwise every port of the Service, and they must all lead
to the same probe. The policy's `port` is the port the load balancer probes on the backend
target (the pod), so when the policy sets one it is set to the probe's port; it is also added
when the probe listens on another port than the one the Service sends traffic to.

Namespaces: a resource without `metadata.namespace` lands in Helm's release namespace,
which a post-renderer is not told. So an implied (empty) namespace matches any written one:
the Service is looked up in the targetRef's namespace first, then among Services with an
implied namespace; its pods are looked for in the Service's namespace and among workloads
with an implied one. Helm hooks and `helm test` pods (`helm.sh/hook`) are never backends of a
Service, so they are left out (Helm 4 post-renders them, Helm 3 does not). A chart that writes `namespace: {{ .Release.Namespace }}` in the
targetRef but leaves it out of its Services and Deployments (the Pulse-OS chart) resolves.

Reported, policy left unchanged:
- skipped: the policy checks gRPC, the Service or a workload it selects is not in the
  stream, the Service has no selector, no container serves the port, the container has no
  readiness probe, or its readiness probe is `exec`, `tcpSocket` or `grpc`;
- conflict: the pods disagree (several containers or workloads with different paths or
  ports, or some with an HTTP probe and some without), or, with `mode: ifAbsent`, the policy
  already sets another path or port.

Target: `target: resource`, selecting the HealthCheckPolicies (other resources are skipped).
It takes no options: write `alignHealthChecks: {}`.

Example:

```yaml
- name: align-alb-health-checks
  select: {group: alb.networking.azure.io, kind: HealthCheckPolicy}
  alignHealthChecks: {}
```
"#;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        if !workloads::is_resource(target) {
            return Ok(Outcome::NotApplicable(
                "alignHealthChecks expects `target: resource`".into(),
            ));
        }
        if ctx.kind != "HealthCheckPolicy" || ctx.group != POLICY_GROUP {
            return Ok(Outcome::NotApplicable(format!(
                "{} is not an Azure ALB HealthCheckPolicy ({POLICY_GROUP})",
                ctx.kind
            )));
        }
        if target
            .at("/spec/default/grpc")
            .is_some_and(|g| !g.is_null())
        {
            return Ok(Outcome::NotApplicable(
                "the policy checks gRPC health, not an HTTP path".into(),
            ));
        }
        let alignment = match resolve(target, ctx) {
            Ok(alignment) => alignment,
            Err(Unresolved::Skip(reason)) => return Ok(Outcome::NotApplicable(reason)),
            Err(Unresolved::Conflict(reason)) => return Ok(Outcome::Conflict(reason)),
        };
        let current_path = target.at("/spec/default/http/path").cloned();
        let current_port = target.at("/spec/default/port").cloned();
        let want_path = Value::String(alignment.path.clone());
        let want_port = Value::from(alignment.port);
        if ctx.mode == Mode::IfAbsent {
            if let Some(current) = current_path.as_ref().filter(|c| **c != want_path) {
                return Ok(Outcome::Conflict(format!(
                    "the policy probes {current} but {} serves readiness on {want_path}; mode ifAbsent keeps the policy's",
                    alignment.source
                )));
            }
            if alignment.set_port
                && let Some(current) = current_port.as_ref().filter(|c| **c != want_port)
            {
                return Ok(Outcome::Conflict(format!(
                    "the policy probes port {current} but {} serves readiness on port {want_port}; mode ifAbsent keeps the policy's",
                    alignment.source
                )));
            }
        }
        set_at(target, &["spec", "default", "http", "path"], want_path)?;
        if alignment.set_port {
            set_at(target, &["spec", "default", "port"], want_port)?;
        }
        Ok(Outcome::Applied)
    }
}

/// Where the policy should point.
#[derive(Debug, PartialEq)]
struct Alignment {
    path: String,
    port: u64,
    set_port: bool,
    /// `container x of Deployment/ns/y`, for messages.
    source: String,
}

enum Unresolved {
    Skip(String),
    Conflict(String),
}

/// One container serving one of the Service's ports, and what its readiness probe says.
struct Finding {
    service_port: u64,
    container_port: u64,
    source: String,
    probe: Result<(String, u64), String>,
}

fn resolve(policy: &Value, ctx: &Context) -> Result<Alignment, Unresolved> {
    let skip = |reason: String| Unresolved::Skip(reason);
    let target_ref = policy
        .at("/spec/targetRef")
        .and_then(Value::as_object)
        .ok_or_else(|| skip("the policy has no spec.targetRef".into()))?;
    let text = |key: &str| target_ref.get(key).and_then(Value::as_str).unwrap_or("");
    if text("kind") != "Service" || !matches!(text("group"), "" | "core") {
        return Err(skip(format!(
            "its targetRef names a {} in group `{}`, not a Service",
            text("kind"),
            text("group")
        )));
    }
    let namespace = match text("namespace") {
        "" => ctx.resource.namespace(),
        ns => ns,
    };
    let service_id = qualified("Service", namespace, text("name"));
    let is_target = |m: &&Manifest| {
        m.is_resource() && m.kind() == "Service" && m.group().is_empty() && m.name() == text("name")
    };
    let service = ctx
        .stream
        .iter()
        .filter(is_target)
        .find(|m| m.namespace() == namespace)
        .or_else(|| {
            ctx.stream
                .iter()
                .filter(is_target)
                .find(|m| m.namespace().is_empty())
        })
        .ok_or_else(|| skip(format!("{service_id} is not in the stream")))?;
    let selector = service
        .value
        .as_ref()
        .and_then(|v| v.at("/spec/selector"))
        .and_then(Value::as_object)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            skip(format!(
                "{service_id} has no selector, so its pods are not in the stream"
            ))
        })?;
    let ports = service_ports(service);
    if ports.is_empty() {
        return Err(skip(format!("{service_id} has no ports")));
    }
    let workloads: Vec<&Manifest> = ctx
        .stream
        .iter()
        .filter(|m| {
            // Hooks and `helm test` pods carry the app's labels but never serve its traffic
            // (Helm 3 does not even post-render them; Helm 4 does).
            m.is_resource()
                && !m.is_hook()
                && (m.namespace() == service.namespace()
                    || m.namespace().is_empty()
                    || service.namespace().is_empty())
        })
        .filter(|m| {
            workloads::pod_template(m, ctx.pod_templates)
                .is_some_and(|t| service_selects(selector, workloads::template_labels(t)))
        })
        .collect();
    if workloads.is_empty() {
        return Err(skip(format!(
            "no workload in the stream has the pods {service_id} selects"
        )));
    }
    let mut findings = Vec::new();
    for workload in workloads {
        if let Some(template) = workloads::pod_template(workload, ctx.pod_templates) {
            findings.extend(serving_containers(workload, template, &ports));
        }
    }
    let policy_port = policy.at("/spec/default/port").and_then(Value::as_u64);
    if let Some(port) = policy_port {
        findings.retain(|f| f.service_port == port || f.container_port == port);
        if findings.is_empty() {
            return Err(skip(format!(
                "the policy's port {port} is neither a port of {service_id} nor a container port behind it"
            )));
        }
    }
    if findings.is_empty() {
        return Err(skip(format!(
            "no container of the pods {service_id} selects serves its target port"
        )));
    }
    decide(findings, policy_port.is_some())
}

/// One answer from every finding, or why there is none.
fn decide(findings: Vec<Finding>, policy_sets_port: bool) -> Result<Alignment, Unresolved> {
    let mut answers: Vec<(String, u64)> = Vec::new();
    let mut problems = Vec::new();
    for f in &findings {
        match &f.probe {
            Ok(answer) if !answers.contains(answer) => answers.push(answer.clone()),
            Ok(_) => {}
            Err(reason) => problems.push(reason.clone()),
        }
    }
    if answers.is_empty() {
        return Err(Unresolved::Skip(problems.join("; ")));
    }
    if answers.len() > 1 || !problems.is_empty() {
        let mut seen: Vec<String> = findings
            .iter()
            .map(|f| match &f.probe {
                Ok((path, port)) => format!("{} serves {path} on port {port}", f.source),
                Err(reason) => reason.clone(),
            })
            .collect();
        seen.dedup();
        return Err(Unresolved::Conflict(format!(
            "ambiguous: {}; set spec.default.port on the policy or align the probes",
            seen.join("; ")
        )));
    }
    let (path, port) = answers.remove(0);
    let probe_elsewhere = findings.iter().any(|f| f.container_port != port);
    let source = findings
        .iter()
        .find(|f| f.probe.is_ok())
        .map(|f| f.source.clone())
        .unwrap_or_default();
    Ok(Alignment {
        path,
        port,
        set_port: policy_sets_port || probe_elsewhere,
        source,
    })
}

/// `(port, targetPort)` of every Service port; `targetPort` defaults to `port`.
fn service_ports(service: &Manifest) -> Vec<(u64, Value)> {
    let Some(ports) = service
        .value
        .as_ref()
        .and_then(|v| v.at("/spec/ports"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    ports
        .iter()
        .filter_map(|p| {
            let port = p.get("port")?.as_u64()?;
            let target = p
                .get("targetPort")
                .cloned()
                .unwrap_or_else(|| Value::from(port));
            Some((port, target))
        })
        .collect()
}

/// The containers of a pod template serving the Service's ports, with their readiness probes.
fn serving_containers(
    workload: &Manifest,
    template: &Value,
    ports: &[(u64, Value)],
) -> Vec<Finding> {
    let containers: &[Value] = template
        .at("/spec/containers")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let mut out = Vec::new();
    for (service_port, target_port) in ports {
        for container in containers {
            let Some(container_port) = served_port(container, target_port, containers.len()) else {
                continue;
            };
            let name = container.get("name").and_then(Value::as_str).unwrap_or("");
            let source = format!("container {name} of {}", workload.id());
            out.push(Finding {
                service_port: *service_port,
                container_port,
                probe: readiness(container, &source),
                source,
            });
        }
    }
    out
}

/// The container port this container serves `target_port` on, if it serves it.
fn served_port(container: &Value, target_port: &Value, container_count: usize) -> Option<u64> {
    let declared = |number: u64| {
        container
            .get("ports")
            .and_then(Value::as_array)
            .is_some_and(|ps| {
                ps.iter()
                    .any(|p| p.get("containerPort").and_then(Value::as_u64) == Some(number))
            })
    };
    match target_port {
        // A named target port is served only by the container that declares the name.
        Value::String(name) if name.parse::<u64>().is_err() => resolve_port(target_port, container),
        other => {
            let number = resolve_port(other, container)?;
            // Declaring ports is optional; a lone container serves whatever reaches the pod.
            (declared(number) || container_count == 1).then_some(number)
        }
    }
}

/// The readiness probe's path and port, or why it has none we can use.
fn readiness(container: &Value, source: &str) -> Result<(String, u64), String> {
    let Some(probe) = container.get("readinessProbe").and_then(Value::as_object) else {
        return Err(format!("{source} has no readiness probe"));
    };
    let Some(http) = probe.get("httpGet") else {
        let kind = ["exec", "tcpSocket", "grpc"]
            .into_iter()
            .find(|k| probe.contains_key(*k))
            .unwrap_or("non-HTTP");
        return Err(format!(
            "{source} has an {kind} readiness probe, not httpGet"
        ));
    };
    let path = http.get("path").and_then(Value::as_str).unwrap_or("/");
    let port = http
        .get("port")
        .and_then(|p| resolve_port(p, container))
        .ok_or_else(|| {
            format!("{source}'s readiness probe port is not one of the container's ports")
        })?;
    Ok((path.to_string(), port))
}

fn qualified(kind: &str, namespace: &str, name: &str) -> String {
    match namespace {
        "" => format!("{kind}/{name}"),
        ns => format!("{kind}/{ns}/{name}"),
    }
}

/// Sets a value at a path of map keys, creating the maps on the way (and replacing `null`s).
fn set_at(target: &mut Value, path: &[&str], value: Value) -> Result<()> {
    let mut here = target;
    for (i, key) in path.iter().enumerate() {
        if here.is_null() {
            *here = Value::Object(Map::new());
        }
        let Some(map) = here.as_object_mut() else {
            bail!("/{} is not a map", path[..i].join("/"));
        };
        if i + 1 == path.len() {
            map.insert((*key).to_string(), value);
            return Ok(());
        }
        here = map
            .entry((*key).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_context;
    use serde_json::json;

    fn policy(name: &str, service: &str, port: Option<u64>) -> Value {
        let mut p = json!({
            "apiVersion": "alb.networking.azure.io/v1", "kind": "HealthCheckPolicy",
            "metadata": {"name": name},
            "spec": {"targetRef": {"group": "", "kind": "Service", "name": service},
                     "default": {"interval": "5s", "http": {"path": "/api/v1/status"}}}
        });
        if let Some(port) = port {
            p["spec"]["default"]["port"] = json!(port);
        }
        p
    }

    fn service(name: &str, port: u64, target: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"selector": {"app": "api"},
                        "ports": [{"name": "http", "port": port, "targetPort": target}]}})
    }

    fn api(second_probe: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
        "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": {
          "metadata": {"labels": {"app": "api"}},
          "spec": {"containers": [
            {"name": "execution-api", "ports": [{"name": "exec-http", "containerPort": 8989}],
             "readinessProbe": {"httpGet": {"path": "/execution/api/v1/status", "port": 8989}}},
            {"name": "management-api", "ports": [{"name": "mgmt-http", "containerPort": 8888}],
             "readinessProbe": second_probe}
          ]}}}})
    }

    fn http(path: &str, port: Value) -> Value {
        json!({"httpGet": {"path": path, "port": port}})
    }

    fn run(policy: Value, others: Vec<Value>, mode: Mode) -> (Value, Outcome) {
        let mut stream = vec![Manifest::from_value(1, policy.clone())];
        stream.extend(
            others
                .into_iter()
                .enumerate()
                .map(|(i, v)| Manifest::from_value(i + 2, v)),
        );
        let mut target = policy;
        let outcome = AlignHealthChecks {}
            .apply(&mut target, &test_context(mode, &stream[0], &stream))
            .unwrap();
        (target, outcome)
    }

    #[test]
    fn follows_service_target_ports_to_the_readiness_path() {
        let probe = http("/management/api/v1/status", json!("mgmt-http"));
        let (p, outcome) = run(
            policy("exec", "execution-api", None),
            vec![
                service("execution-api", 80, json!(8989)),
                api(probe.clone()),
            ],
            Mode::Overwrite,
        );
        assert_eq!(outcome, Outcome::Applied);
        assert_eq!(
            p["spec"]["default"]["http"]["path"],
            "/execution/api/v1/status"
        );
        assert!(p["spec"]["default"].get("port").is_none());
        // A named targetPort, and a policy port given as the Service port: set to 8888.
        let (p, outcome) = run(
            policy("mgmt", "management-api", Some(8080)),
            vec![
                service("management-api", 8080, json!("mgmt-http")),
                api(probe),
            ],
            Mode::Overwrite,
        );
        assert_eq!(outcome, Outcome::Applied);
        assert_eq!(
            p["spec"]["default"]["http"]["path"],
            "/management/api/v1/status"
        );
        assert_eq!(p["spec"]["default"]["port"], 8888);
        assert_eq!(p["spec"]["default"]["interval"], "5s");
    }

    #[test]
    fn implied_namespaces_match_the_release_namespace_in_the_target_ref() {
        // Helm charts often leave metadata.namespace out and write the release namespace only
        // where a field needs it, as the Pulse-OS chart does in its targetRef.
        let mut p = policy("exec", "execution-api", None);
        p["spec"]["targetRef"]["namespace"] = json!("apps");
        let probe = http("/management/api/v1/status", json!("mgmt-http"));
        let (p, outcome) = run(
            p,
            vec![service("execution-api", 80, json!(8989)), api(probe)],
            Mode::Overwrite,
        );
        assert_eq!(outcome, Outcome::Applied);
        assert_eq!(
            p["spec"]["default"]["http"]["path"],
            "/execution/api/v1/status"
        );
        // A Service written into another namespace is not the one the policy names.
        let mut other = service("execution-api", 80, json!(8989));
        other["metadata"]["namespace"] = json!("elsewhere");
        let mut p = policy("exec", "execution-api", None);
        p["spec"]["targetRef"]["namespace"] = json!("apps");
        let (_, outcome) = run(p, vec![other], Mode::Overwrite);
        assert!(matches!(outcome, Outcome::NotApplicable(_)), "{outcome:?}");
    }

    #[test]
    fn a_probe_on_another_port_sets_the_port() {
        let mut workload = api(http("/x", json!(8888)));
        workload["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] =
            http("/ready", json!(9000));
        let (p, outcome) = run(
            policy("exec", "execution-api", None),
            vec![service("execution-api", 80, json!(8989)), workload],
            Mode::Overwrite,
        );
        assert_eq!(outcome, Outcome::Applied);
        assert_eq!(p["spec"]["default"]["port"], 9000);
    }

    #[test]
    fn reports_what_it_cannot_resolve() {
        let reason = |outcome: Outcome| match outcome {
            Outcome::NotApplicable(r) | Outcome::Conflict(r) => r,
            other => panic!("{other:?}"),
        };
        let (_, o) = run(policy("p", "missing", None), vec![], Mode::Overwrite);
        assert_eq!(reason(o), "Service/missing is not in the stream");
        let (_, o) = run(
            policy("p", "management-api", None),
            vec![service("management-api", 8080, json!(8888))],
            Mode::Overwrite,
        );
        assert!(reason(o).starts_with("no workload in the stream"));
        let exec = json!({"exec": {"command": ["python", "ready.py"]}});
        let (p, o) = run(
            policy("p", "management-api", None),
            vec![service("management-api", 8080, json!(8888)), api(exec)],
            Mode::Overwrite,
        );
        assert_eq!(
            o,
            Outcome::NotApplicable(
                "container management-api of Deployment/(release namespace)/api has an exec readiness probe, not httpGet"
                    .into()
            )
        );
        assert_eq!(p["spec"]["default"]["http"]["path"], "/api/v1/status");
        let (_, o) = run(
            policy("p", "management-api", None),
            vec![
                service("management-api", 8080, json!(8888)),
                api(Value::Null),
            ],
            Mode::Overwrite,
        );
        assert!(reason(o).ends_with("has no readiness probe"));
    }

    #[test]
    fn disagreeing_workloads_are_a_conflict() {
        let mut other = api(http("/b", json!(8888)));
        other["metadata"]["name"] = json!("api-canary");
        let (_, o) = run(
            policy("p", "management-api", None),
            vec![
                service("management-api", 8080, json!(8888)),
                api(http("/a", json!(8888))),
                other,
            ],
            Mode::Overwrite,
        );
        let Outcome::Conflict(reason) = o else {
            panic!("{o:?}")
        };
        assert!(reason.starts_with("ambiguous: container management-api of Deployment/(release namespace)/api serves /a on port 8888; container management-api of Deployment/(release namespace)/api-canary serves /b"), "{reason}");
    }

    #[test]
    fn hook_and_test_pods_are_not_backends() {
        let test_pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "api-test", "labels": {"app": "api"},
                         "annotations": {"helm.sh/hook": "test"}},
            "spec": {"containers": [{"name": "management-api",
                "ports": [{"containerPort": 8888}],
                "readinessProbe": {"httpGet": {"path": "/other", "port": 8888}}}]}});
        let (p, o) = run(
            policy("p", "management-api", None),
            vec![
                service("management-api", 8080, json!(8888)),
                api(http("/a", json!(8888))),
                test_pod,
            ],
            Mode::Overwrite,
        );
        assert_eq!(o, Outcome::Applied);
        assert_eq!(p["spec"]["default"]["http"]["path"], "/a");
    }

    #[test]
    fn if_absent_keeps_the_policy_path_and_reports_it() {
        let (p, o) = run(
            policy("p", "execution-api", None),
            vec![service("execution-api", 80, json!(8989)), api(Value::Null)],
            Mode::IfAbsent,
        );
        assert!(matches!(o, Outcome::Conflict(_)), "{o:?}");
        assert_eq!(p["spec"]["default"]["http"]["path"], "/api/v1/status");
    }

    #[test]
    fn grpc_policies_are_skipped() {
        let mut grpc = policy("p", "execution-api", None);
        grpc["spec"]["default"] = json!({"grpc": {}});
        let (p, o) = run(
            grpc.clone(),
            vec![service("execution-api", 80, json!(8989)), api(Value::Null)],
            Mode::Overwrite,
        );
        assert!(matches!(o, Outcome::NotApplicable(_)));
        assert_eq!(p, grpc);
    }

    #[test]
    fn other_resources_are_skipped() {
        let (_, o) = run(
            service("execution-api", 80, json!(8989)),
            vec![],
            Mode::Overwrite,
        );
        assert!(matches!(o, Outcome::NotApplicable(_)));
    }
}
