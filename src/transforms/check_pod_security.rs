//! `checkPodSecurity`: reports, as a conflict, every Pod Security Standards control a pod
//! still fails — what the fixing steps before it could not or would not change.

use super::{Context, Outcome, Transform};
use crate::pod;
use crate::pointer::Lookup;
use anyhow::Result;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckPodSecurity {
    #[serde(default)]
    level: Level,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Level {
    Baseline,
    #[default]
    Restricted,
}

impl Transform for CheckPodSecurity {
    const KEY: &'static str = "checkPodSecurity";
    const SUMMARY: &'static str =
        "reports every Pod Security Standards control (baseline or restricted) a pod still fails";
    const DOCS: &'static str = r#"Checks each pod template against a Pod Security Standards level (Kubernetes 1.32) and
reports every control it fails as a **conflict** naming the control and the offending
field. It changes nothing.

Why: put it after the fixing steps of a profile and the report says, per workload, what could
not be hardened without breaking it — host namespaces, `hostPath` volumes, host ports,
privileged node agents, init containers that must run as root, capabilities the chart asks
for — instead of leaving you to find out at admission time. With `onConflict: error` it turns
the run into a gate.

Controls, `baseline`: HostProcess, host namespaces (`hostNetwork`, `hostPID`, `hostIPC`),
privileged containers, capabilities beyond the default set, `hostPath` volumes, host ports,
AppArmor, SELinux, `/proc` mount type, seccomp (no `Unconfined`), sysctls outside the safe set
(Kubernetes 1.32's, with `net.ipv4.tcp_rmem` and `net.ipv4.tcp_wmem`).

`restricted` adds: volume types (only `configMap`, `csi`, `downwardAPI`, `emptyDir`,
`ephemeral`, `image`, `persistentVolumeClaim`, `projected`, `secret`), privilege escalation
(`allowPrivilegeEscalation: false` on every container), running as non-root
(`runAsNonRoot: true`), running as a non-root user (no `runAsUser: 0`), seccomp
(`RuntimeDefault` or `Localhost` on every container), capabilities (drop `ALL`, add only
`NET_BIND_SERVICE`). Windows pods are exempt from privilege escalation, seccomp and
capabilities, as in the standard.

Target: `resource` (the default; it reads the pod template's annotations too).

Options:

| option | default | meaning |
|---|---|---|
| `level` | `restricted` | `baseline` or `restricted` |

Example:

```yaml
- name: pod-security-restricted
  checkPodSecurity: {level: restricted}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;
    const NEEDS_POD_TEMPLATE: bool = true;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        self.check_resource(target, ctx)
    }

    fn inspect(&self, target: &Value, ctx: &Context) -> Option<Result<Outcome>> {
        Some(self.check_resource(target, ctx))
    }
}

impl CheckPodSecurity {
    fn check_resource(&self, target: &Value, ctx: &Context) -> Result<Outcome> {
        let is_resource = target.get("kind").is_some();
        let Some(path) = pod::template_path(ctx.kind, ctx.group, ctx.pod_templates) else {
            return Ok(Outcome::NotApplicable(format!(
                "{} has no pod template",
                ctx.kind
            )));
        };
        if !is_resource {
            return Ok(Outcome::NotApplicable(
                "checkPodSecurity works on whole resources: leave `target` at `resource`".into(),
            ));
        }
        let Some(template) = target.at(path) else {
            return Ok(Outcome::NotApplicable("no pod template".into()));
        };
        let failures = check(template, self.level);
        if failures.is_empty() {
            Ok(Outcome::Applied)
        } else {
            let level = match self.level {
                Level::Baseline => "baseline",
                Level::Restricted => "restricted",
            };
            Ok(Outcome::Conflict(format!(
                "fails Pod Security Standards {level}: {}",
                failures.join("; ")
            )))
        }
    }
}

const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The safe sysctls of Kubernetes 1.32 (pod-security-admission's `sysctlsAllowedV1Dot32`).
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
];

const SELINUX_TYPES: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

const RESTRICTED_VOLUME_SOURCES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Every failed control of a pod template (`metadata` + `spec`), one message each.
fn check(template: &Value, level: Level) -> Vec<String> {
    let empty = Value::Object(Map::new());
    let spec = template.get("spec").unwrap_or(&empty);
    let pod_sc = spec.get("securityContext").unwrap_or(&empty);
    let restricted = level == Level::Restricted;
    let windows = spec.at("/os/name").and_then(Value::as_str) == Some("windows");
    let mut failures = Vec::new();
    let mut fail = |control: &str, detail: String| failures.push(format!("{control} ({detail})"));

    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(field) == Some(&Value::Bool(true)) {
            fail("host namespaces", format!("{field}: true"));
        }
    }
    if pod_sc.at("/windowsOptions/hostProcess") == Some(&Value::Bool(true)) {
        fail("hostProcess", "the pod".into());
    }
    check_common_context(pod_sc, "the pod", restricted, &mut fail);
    for sysctl in array(pod_sc.get("sysctls")) {
        let name = sysctl.get("name").and_then(Value::as_str).unwrap_or("");
        if !SAFE_SYSCTLS.contains(&name) {
            fail("sysctls", format!("{name} is not a safe sysctl"));
        }
    }
    if let Some(annotations) = template
        .at("/metadata/annotations")
        .and_then(Value::as_object)
    {
        for (key, value) in annotations {
            let value = value.as_str().unwrap_or("");
            if key.starts_with("container.apparmor.security.beta.kubernetes.io/")
                && value != "runtime/default"
                && !value.starts_with("localhost/")
            {
                fail("AppArmor", format!("annotation {key}: {value}"));
            }
        }
    }
    for volume in array(spec.get("volumes")) {
        let name = volume.get("name").and_then(Value::as_str).unwrap_or("");
        let source = volume
            .as_object()
            .and_then(|v| v.keys().find(|k| *k != "name"))
            .map_or("", String::as_str);
        if source == "hostPath" {
            fail("hostPath volumes", format!("volume `{name}`"));
        } else if restricted && !RESTRICTED_VOLUME_SOURCES.contains(&source) {
            fail("volume types", format!("volume `{name}` is {source}"));
        }
    }

    let pod_non_root = pod_sc.get("runAsNonRoot") == Some(&Value::Bool(true));
    let pod_seccomp = pod_sc.at("/seccompProfile/type").and_then(Value::as_str);
    for list in pod::CONTAINER_LISTS {
        for container in array(spec.get(list)) {
            let who = super::targets::describe(list, container);
            let sc = container.get("securityContext").unwrap_or(&empty);
            let flag = |field: &str| sc.get(field).and_then(Value::as_bool);
            if flag("privileged") == Some(true) {
                fail("privileged", who.clone());
            }
            if sc.at("/windowsOptions/hostProcess") == Some(&Value::Bool(true)) {
                fail("hostProcess", who.clone());
            }
            check_common_context(sc, &who, restricted, &mut fail);
            if sc
                .get("procMount")
                .and_then(Value::as_str)
                .is_some_and(|m| m != "Default")
            {
                fail("/proc mount", format!("{who} sets procMount"));
            }
            for port in array(container.get("ports")) {
                if port.get("hostPort").and_then(Value::as_i64).unwrap_or(0) != 0 {
                    fail(
                        "host ports",
                        format!("{who} uses hostPort {}", port["hostPort"]),
                    );
                }
            }
            let added: Vec<&str> = array(sc.at("/capabilities/add"))
                .filter_map(Value::as_str)
                .collect();
            for cap in &added {
                if !BASELINE_CAPABILITIES.contains(cap)
                    || (restricted && !windows && *cap != "NET_BIND_SERVICE")
                {
                    fail("capabilities", format!("{who} adds {cap}"));
                }
            }
            if !restricted {
                continue;
            }
            match flag("runAsNonRoot") {
                Some(false) => fail(
                    "running as non-root",
                    format!("{who} sets runAsNonRoot: false"),
                ),
                None if !pod_non_root => fail(
                    "running as non-root",
                    format!("{who} is not required to run as non-root"),
                ),
                _ => {}
            }
            if windows {
                continue;
            }
            if flag("allowPrivilegeEscalation") != Some(false) {
                fail(
                    "privilege escalation",
                    format!("{who} does not set allowPrivilegeEscalation: false"),
                );
            }
            let drops_all = array(sc.at("/capabilities/drop"))
                .filter_map(Value::as_str)
                .any(|cap| cap == "ALL");
            if !drops_all {
                fail("capabilities", format!("{who} does not drop ALL"));
            }
            let seccomp = sc
                .at("/seccompProfile/type")
                .and_then(Value::as_str)
                .or(pod_seccomp);
            if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
                fail(
                    "seccomp",
                    format!("{who} has no RuntimeDefault or Localhost profile"),
                );
            }
        }
    }
    if restricted && pod_sc.get("runAsNonRoot") == Some(&Value::Bool(false)) {
        failures.push("running as non-root (the pod sets runAsNonRoot: false)".into());
    }
    failures
}

/// The controls that read the same fields on the pod and on each container: SELinux,
/// AppArmor, seccomp `Unconfined`, and (restricted) `runAsUser: 0`.
fn check_common_context(
    sc: &Value,
    who: &str,
    restricted: bool,
    fail: &mut impl FnMut(&str, String),
) {
    if restricted && sc.get("runAsUser").and_then(Value::as_i64) == Some(0) {
        fail(
            "running as non-root user",
            format!("{who} sets runAsUser: 0"),
        );
    }
    if let Some(selinux) = sc.get("seLinuxOptions") {
        let field = |f: &str| selinux.get(f).and_then(Value::as_str).unwrap_or("");
        if !SELINUX_TYPES.contains(&field("type"))
            || !field("user").is_empty()
            || !field("role").is_empty()
        {
            fail("SELinux", format!("{who} sets custom seLinuxOptions"));
        }
    }
    if let Some(kind) = sc.at("/appArmorProfile/type").and_then(Value::as_str)
        && kind != "RuntimeDefault"
        && kind != "Localhost"
    {
        fail("AppArmor", format!("{who} sets appArmorProfile {kind}"));
    }
    if sc.at("/seccompProfile/type").and_then(Value::as_str) == Some("Unconfined") {
        fail("seccomp", format!("{who} sets seccompProfile Unconfined"));
    }
}

fn array(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value.and_then(Value::as_array).into_iter().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use crate::transforms::{Mode, test_context};
    use serde_json::json;

    fn run(level: &str, pod_spec: Value) -> Outcome {
        let action: CheckPodSecurity = serde_json::from_value(json!({"level": level})).unwrap();
        let mut pod =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec});
        let m = Manifest::from_value(1, pod.clone());
        let stream = [];
        action
            .apply(&mut pod, &test_context(Mode::Overwrite, &m, &stream))
            .unwrap()
    }

    fn hardened() -> Value {
        json!({"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": "c", "configMap": {"name": "c"}}],
            "containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}]})
    }

    #[test]
    fn a_hardened_pod_passes_both_levels() {
        assert_eq!(run("restricted", hardened()), Outcome::Applied);
        assert_eq!(run("baseline", hardened()), Outcome::Applied);
    }

    #[test]
    fn a_default_pod_passes_baseline_only() {
        let pod = json!({"containers": [{"name": "a"}]});
        assert_eq!(run("baseline", pod.clone()), Outcome::Applied);
        let Outcome::Conflict(reason) = run("restricted", pod) else {
            panic!("expected a conflict");
        };
        assert_eq!(
            reason,
            "fails Pod Security Standards restricted: running as non-root (container `a` is not required to run as non-root); privilege escalation (container `a` does not set allowPrivilegeEscalation: false); capabilities (container `a` does not drop ALL); seccomp (container `a` has no RuntimeDefault or Localhost profile)"
        );
    }

    #[test]
    fn kubernetes_1_32_safe_sysctls_and_exact_all() {
        let mut pod = hardened();
        pod["securityContext"]["sysctls"] = json!([
            {"name": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456"},
            {"name": "net.ipv4.tcp_wmem", "value": "4096 16384 4194304"}]);
        assert_eq!(run("baseline", pod.clone()), Outcome::Applied);
        assert_eq!(run("restricted", pod.clone()), Outcome::Applied);
        pod["containers"][0]["securityContext"]["capabilities"]["drop"] = json!(["all"]);
        let Outcome::Conflict(reason) = run("restricted", pod) else {
            panic!("expected a conflict");
        };
        assert!(
            reason.contains("container `a` does not drop ALL"),
            "{reason}"
        );
    }

    #[test]
    fn node_agents_fail_baseline_with_every_reason() {
        let mut pod = hardened();
        pod["hostNetwork"] = json!(true);
        pod["volumes"] = json!([{"name": "logs", "hostPath": {"path": "/var/log"}}, {"name": "n", "nfs": {"server": "s", "path": "/"}}]);
        pod["securityContext"]["sysctls"] = json!([{"name": "kernel.msgmax", "value": "1"}]);
        pod["containers"][0]["securityContext"]["privileged"] = json!(true);
        pod["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 80}]);
        pod["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["SYS_ADMIN"]);
        let Outcome::Conflict(reason) = run("baseline", pod) else {
            panic!("expected a conflict");
        };
        assert_eq!(
            reason,
            "fails Pod Security Standards baseline: host namespaces (hostNetwork: true); sysctls (kernel.msgmax is not a safe sysctl); hostPath volumes (volume `logs`); privileged (container `a`); host ports (container `a` uses hostPort 80); capabilities (container `a` adds SYS_ADMIN)"
        );
    }

    #[test]
    fn root_users_and_restricted_volume_types() {
        let mut pod = hardened();
        pod["initContainers"] = json!([{"name": "chown", "securityContext": {"runAsUser": 0,
            "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]);
        pod["volumes"] = json!([{"name": "n", "nfs": {"server": "s", "path": "/"}}]);
        let Outcome::Conflict(reason) = run("restricted", pod) else {
            panic!("expected a conflict");
        };
        assert_eq!(
            reason,
            "fails Pod Security Standards restricted: volume types (volume `n` is nfs); running as non-root user (init container `chown` sets runAsUser: 0)"
        );
    }
}
