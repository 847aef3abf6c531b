//! An independent Pod Security Standards checker (Kubernetes 1.32 policy) for tests: every
//! control of the baseline and restricted levels, on a pod template (`metadata` + `spec`).
//! Written from the standard's tables, one function per control, so tests do not trust the
//! product's own `checkPodSecurity` to grade the product.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Level {
    Baseline,
    Restricted,
}

/// A failed control: its name in the standard, and what fails it.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub control: &'static str,
    pub detail: String,
}

type Check = fn(&Pod) -> Vec<String>;

const BASELINE: &[(&str, Check)] = &[
    ("HostProcess", host_process),
    ("Host Namespaces", host_namespaces),
    ("Privileged Containers", privileged),
    ("Capabilities (baseline)", capabilities_baseline),
    ("HostPath Volumes", host_path_volumes),
    ("Host Ports", host_ports),
    ("AppArmor", app_armor),
    ("SELinux", se_linux),
    ("/proc Mount Type", proc_mount),
    ("Seccomp (baseline)", seccomp_baseline),
    ("Sysctls", sysctls),
];

const RESTRICTED: &[(&str, Check)] = &[
    ("Volume Types", volume_types),
    ("Privilege Escalation", privilege_escalation),
    ("Running as Non-root", running_as_non_root),
    ("Running as Non-root user", running_as_non_root_user),
    ("Seccomp", seccomp_restricted),
    ("Capabilities", capabilities_restricted),
];

/// Every control of `level` the pod template fails.
pub fn check(template: &Value, level: Level) -> Vec<Violation> {
    let pod = Pod::new(template);
    let mut checks: Vec<(&'static str, Check)> = BASELINE.to_vec();
    if level == Level::Restricted {
        checks.extend_from_slice(RESTRICTED);
    }
    checks
        .into_iter()
        .flat_map(|(control, check)| {
            check(&pod)
                .into_iter()
                .map(move |detail| Violation { control, detail })
        })
        .collect()
}

struct Pod<'a> {
    annotations: Option<&'a serde_json::Map<String, Value>>,
    spec: &'a Value,
    /// (name, container) of every init, regular and ephemeral container.
    containers: Vec<(String, &'a Value)>,
}

impl<'a> Pod<'a> {
    fn new(template: &'a Value) -> Pod<'a> {
        let spec = &template["spec"];
        let mut containers = Vec::new();
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            for c in spec[list].as_array().into_iter().flatten() {
                containers.push((c["name"].as_str().unwrap_or("?").to_string(), c));
            }
        }
        Pod {
            annotations: template["metadata"]["annotations"].as_object(),
            spec,
            containers,
        }
    }

    fn pod_sc(&self, pointer: &str) -> &'a Value {
        self.spec["securityContext"]
            .pointer(pointer)
            .unwrap_or(&Value::Null)
    }

    fn windows(&self) -> bool {
        self.spec["os"]["name"] == "windows"
    }

    /// The names of the containers whose security-context value at `pointer` is bad.
    fn containers_where(&self, pointer: &str, bad: impl Fn(&Value) -> bool) -> Vec<String> {
        self.containers
            .iter()
            .filter(|(_, c)| {
                bad(c["securityContext"]
                    .pointer(pointer)
                    .unwrap_or(&Value::Null))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }
}

fn named(what: &str, names: Vec<String>) -> Vec<String> {
    if names.is_empty() {
        Vec::new()
    } else {
        vec![format!("{what}: {}", names.join(", "))]
    }
}

fn host_process(pod: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    if pod.pod_sc("/windowsOptions/hostProcess") == true {
        out.push("pod hostProcess".into());
    }
    out.extend(named(
        "hostProcess containers",
        pod.containers_where("/windowsOptions/hostProcess", |v| *v == true),
    ));
    out
}

fn host_namespaces(pod: &Pod) -> Vec<String> {
    ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|f| pod.spec[*f] == true)
        .map(|f| format!("{f}: true"))
        .collect()
}

fn privileged(pod: &Pod) -> Vec<String> {
    named(
        "privileged",
        pod.containers_where("/privileged", |v| *v == true),
    )
}

fn capabilities_baseline(pod: &Pod) -> Vec<String> {
    const ALLOWED: [&str; 13] = [
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
    named(
        "adds capabilities beyond the default set",
        pod.containers_where("/capabilities/add", |add| {
            add.as_array()
                .into_iter()
                .flatten()
                .any(|cap| !ALLOWED.contains(&cap.as_str().unwrap_or("")))
        }),
    )
}

fn volumes<'a>(pod: &Pod<'a>) -> impl Iterator<Item = &'a Value> {
    pod.spec["volumes"].as_array().into_iter().flatten()
}

fn host_path_volumes(pod: &Pod) -> Vec<String> {
    volumes(pod)
        .filter(|v| !v["hostPath"].is_null())
        .map(|v| format!("hostPath volume {}", v["name"]))
        .collect()
}

fn host_ports(pod: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    for (name, c) in &pod.containers {
        for port in c["ports"].as_array().into_iter().flatten() {
            if port["hostPort"].as_i64().is_some_and(|p| p != 0) {
                out.push(format!("{name} hostPort {}", port["hostPort"]));
            }
        }
    }
    out
}

fn app_armor(pod: &Pod) -> Vec<String> {
    let bad_type = |v: &Value| !v.is_null() && *v != "RuntimeDefault" && *v != "Localhost";
    let mut out = Vec::new();
    if bad_type(pod.pod_sc("/appArmorProfile/type")) {
        out.push("pod appArmorProfile".into());
    }
    out.extend(named(
        "appArmorProfile",
        pod.containers_where("/appArmorProfile/type", bad_type),
    ));
    for (key, value) in pod.annotations.into_iter().flatten() {
        let value = value.as_str().unwrap_or("");
        if key.starts_with("container.apparmor.security.beta.kubernetes.io/")
            && value != "runtime/default"
            && !value.starts_with("localhost/")
        {
            out.push(format!("annotation {key}={value}"));
        }
    }
    out
}

fn se_linux(pod: &Pod) -> Vec<String> {
    let bad = |opts: &Value| {
        if opts.is_null() {
            return false;
        }
        let ty = opts["type"].as_str().unwrap_or("");
        let ok_type = matches!(
            ty,
            "" | "container_t" | "container_init_t" | "container_kvm_t" | "container_engine_t"
        );
        let empty = |f: &str| opts[f].as_str().unwrap_or("").is_empty();
        !(ok_type && empty("user") && empty("role"))
    };
    let mut out = Vec::new();
    if bad(pod.pod_sc("/seLinuxOptions")) {
        out.push("pod seLinuxOptions".into());
    }
    out.extend(named(
        "seLinuxOptions",
        pod.containers_where("/seLinuxOptions", bad),
    ));
    out
}

fn proc_mount(pod: &Pod) -> Vec<String> {
    named(
        "procMount",
        pod.containers_where("/procMount", |v| !v.is_null() && *v != "Default"),
    )
}

fn seccomp_baseline(pod: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    if pod.pod_sc("/seccompProfile/type") == "Unconfined" {
        out.push("pod seccomp Unconfined".into());
    }
    out.extend(named(
        "seccomp Unconfined",
        pod.containers_where("/seccompProfile/type", |v| *v == "Unconfined"),
    ));
    out
}

fn sysctls(pod: &Pod) -> Vec<String> {
    // Kubernetes 1.32: pod-security-admission's sysctlsAllowedV1Dot32.
    const SAFE: [&str; 12] = [
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
    pod.pod_sc("/sysctls")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .filter(|name| !SAFE.contains(name))
        .map(|name| format!("sysctl {name}"))
        .collect()
}

fn volume_types(pod: &Pod) -> Vec<String> {
    const ALLOWED: [&str; 9] = [
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
    volumes(pod)
        .filter(|v| {
            !v.as_object()
                .into_iter()
                .flatten()
                .any(|(k, val)| ALLOWED.contains(&k.as_str()) && !val.is_null())
        })
        .map(|v| format!("volume {}", v["name"]))
        .collect()
}

fn privilege_escalation(pod: &Pod) -> Vec<String> {
    if pod.windows() {
        return Vec::new();
    }
    named(
        "allowPrivilegeEscalation not false",
        pod.containers_where("/allowPrivilegeEscalation", |v| *v != false),
    )
}

fn running_as_non_root(pod: &Pod) -> Vec<String> {
    let pod_level = pod.pod_sc("/runAsNonRoot");
    let mut out = Vec::new();
    if *pod_level == false {
        out.push("pod runAsNonRoot: false".into());
    }
    let pod_true = *pod_level == true;
    out.extend(named(
        "not required to run as non-root",
        pod.containers_where("/runAsNonRoot", |v| {
            *v == false || (v.is_null() && !pod_true)
        }),
    ));
    out
}

fn running_as_non_root_user(pod: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    if *pod.pod_sc("/runAsUser") == 0 {
        out.push("pod runAsUser: 0".into());
    }
    out.extend(named(
        "runAsUser: 0",
        pod.containers_where("/runAsUser", |v| *v == 0),
    ));
    out
}

fn seccomp_restricted(pod: &Pod) -> Vec<String> {
    if pod.windows() {
        return Vec::new();
    }
    let allowed = |v: &Value| *v == "RuntimeDefault" || *v == "Localhost";
    let pod_level = pod.pod_sc("/seccompProfile/type");
    let mut out = Vec::new();
    if !pod_level.is_null() && !allowed(pod_level) {
        out.push(format!("pod seccomp {pod_level}"));
    }
    let pod_ok = allowed(pod_level);
    out.extend(named(
        "no RuntimeDefault/Localhost seccomp",
        pod.containers_where("/seccompProfile/type", |v| {
            if v.is_null() { !pod_ok } else { !allowed(v) }
        }),
    ));
    out
}

fn capabilities_restricted(pod: &Pod) -> Vec<String> {
    if pod.windows() {
        return Vec::new();
    }
    let mut out = named(
        "does not drop ALL",
        pod.containers_where("/capabilities/drop", |drop| {
            !drop.as_array().into_iter().flatten().any(|c| *c == "ALL")
        }),
    );
    out.extend(named(
        "adds more than NET_BIND_SERVICE",
        pod.containers_where("/capabilities/add", |add| {
            add.as_array()
                .into_iter()
                .flatten()
                .any(|c| *c != "NET_BIND_SERVICE")
        }),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Breaks one control of a restricted pod.
    type Breaker = fn(&mut Value);

    fn controls(spec: Value, level: Level) -> Vec<&'static str> {
        check(&json!({"spec": spec}), level)
            .into_iter()
            .map(|v| v.control)
            .collect()
    }

    fn restricted_pod() -> Value {
        json!({
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": "d", "emptyDir": {}}],
            "containers": [{"name": "a", "securityContext": {
                "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}]
        })
    }

    #[test]
    fn a_restricted_pod_passes() {
        assert!(controls(restricted_pod(), Level::Restricted).is_empty());
    }

    #[test]
    fn a_bare_pod_passes_baseline_and_fails_four_restricted_controls() {
        let bare = json!({"containers": [{"name": "a"}]});
        assert!(controls(bare.clone(), Level::Baseline).is_empty());
        assert_eq!(
            controls(bare, Level::Restricted),
            [
                "Privilege Escalation",
                "Running as Non-root",
                "Seccomp",
                "Capabilities"
            ]
        );
    }

    #[test]
    fn each_baseline_control_fails_on_its_own() {
        let cases: Vec<(&str, Breaker)> = vec![
            ("HostProcess", |p| {
                p["securityContext"]["windowsOptions"] = json!({"hostProcess": true})
            }),
            ("Host Namespaces", |p| p["hostPID"] = json!(true)),
            ("Privileged Containers", |p| {
                p["containers"][0]["securityContext"]["privileged"] = json!(true)
            }),
            ("Capabilities (baseline)", |p| {
                p["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["SYS_ADMIN"])
            }),
            ("HostPath Volumes", |p| {
                p["volumes"] = json!([{"name": "h", "hostPath": {"path": "/"}}])
            }),
            ("Host Ports", |p| {
                p["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 8080}])
            }),
            ("AppArmor", |p| {
                p["containers"][0]["securityContext"]["appArmorProfile"] =
                    json!({"type": "Unconfined"})
            }),
            ("SELinux", |p| {
                p["securityContext"]["seLinuxOptions"] = json!({"type": "spc_t"})
            }),
            ("/proc Mount Type", |p| {
                p["containers"][0]["securityContext"]["procMount"] = json!("Unmasked")
            }),
            ("Seccomp (baseline)", |p| {
                p["containers"][0]["securityContext"]["seccompProfile"] =
                    json!({"type": "Unconfined"})
            }),
            ("Sysctls", |p| {
                p["securityContext"]["sysctls"] = json!([{"name": "kernel.msgmax", "value": "1"}])
            }),
        ];
        for (control, break_it) in cases {
            let mut pod = restricted_pod();
            break_it(&mut pod);
            let failed = controls(pod, Level::Baseline);
            assert!(failed.contains(&control), "{control}: {failed:?}");
        }
    }

    #[test]
    fn each_restricted_control_fails_on_its_own() {
        let cases: Vec<(&str, Breaker)> = vec![
            (
                "Volume Types",
                |p| p["volumes"] = json!([{"name": "n", "nfs": {"server": "s", "path": "/"}}]),
            ),
            ("Privilege Escalation", |p| {
                p["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = json!(true)
            }),
            ("Running as Non-root", |p| {
                p["containers"][0]["securityContext"]["runAsNonRoot"] = json!(false)
            }),
            (
                "Running as Non-root user",
                |p| p["initContainers"] = json!([{"name": "i", "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]),
            ),
            ("Seccomp", |p| {
                p["securityContext"]
                    .as_object_mut()
                    .unwrap()
                    .remove("seccompProfile");
            }),
            ("Capabilities", |p| {
                p["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["CHOWN"])
            }),
        ];
        for (control, break_it) in cases {
            let mut pod = restricted_pod();
            break_it(&mut pod);
            let failed = controls(pod, Level::Restricted);
            assert_eq!(failed, [control], "{control}");
        }
    }

    #[test]
    fn windows_pods_are_exempt_from_linux_only_controls() {
        let pod = json!({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "a"}]});
        assert!(controls(pod, Level::Restricted).is_empty());
    }

    #[test]
    fn container_level_settings_can_satisfy_restricted() {
        let pod = json!({"containers": [{"name": "a", "securityContext": {
            "runAsNonRoot": true, "seccompProfile": {"type": "Localhost", "localhostProfile": "p"},
            "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]});
        assert!(controls(pod, Level::Restricted).is_empty());
    }
}
