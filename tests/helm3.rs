//! pulse-harden as a Helm 3 post-renderer, with the real Helm 3.17.1: the binary found on
//! `$PATH`, `helm template` and `helm install --dry-run`, and Helm 3's plugins left working
//! (our Helm 4 plugin.yaml must never land in Helm 3's plugin directory).

mod common;
use common::helm_home as support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{HelmHome, SECCOMP_PATCH, TYPO_PATCH, document_from, fails, ok};

const HELM3: &str = "helm3";
const DEPLOYMENT: &str = "demo/templates/deployment.yaml";
const TEST_HOOK: &str = "demo/templates/tests/test-connection.yaml";

/// A Helm 3 home with the scaffold chart and a `bin/` holding `pulse-harden` (a link to the
/// test build), for `$PATH`.
fn home(name: &str) -> HelmHome {
    let home = HelmHome::new(name);
    let bin = home.dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(support::pulse_harden_path(), bin.join("pulse-harden")).unwrap();
    home.scaffold_chart(HELM3);
    home
}

/// `helm3 ARGS... --post-renderer pulse-harden`, pulse-harden found on `$PATH`.
fn post_rendered(home: &HelmHome, command: &[&str], args: &[&str]) -> Command {
    let mut cmd = home.helm(HELM3);
    cmd.env("PATH", path_with(&home.dir.join("bin")))
        .args(command)
        .args(["--post-renderer", "pulse-harden"]);
    for arg in args {
        cmd.args(["--post-renderer-args", arg]);
    }
    cmd
}

fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap()
}

/// Helm 3's `install --dry-run` insists on reaching a cluster even in client mode: it asks for
/// the server version and API discovery, and looks up each object. No cluster runs here, so
/// this answers discovery for the kinds of the scaffold chart and "not found" for everything
/// else; nothing is stored. Writes the home's kubeconfig to point at it.
fn discovery_only_api_server(home: &HelmHome) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer(stream);
        }
    });
    let kubeconfig = home.dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"http://127.0.0.1:{port}\"}}}}]\ncontexts: [{{name: c, context: {{cluster: c}}}}]\ncurrent-context: c\nusers: []\n"
        ),
    )
    .unwrap();
}

fn answer(mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let resources = |group_version: &str, kinds: &[(&str, &str)]| {
        let list: Vec<String> = kinds
            .iter()
            .map(|(name, kind)| {
                format!(r#"{{"name":"{name}","singularName":"","namespaced":true,"kind":"{kind}","verbs":["get","list","create"]}}"#)
            })
            .collect();
        format!(
            r#"{{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"{group_version}","resources":[{}]}}"#,
            list.join(",")
        )
    };
    let body = match path {
        "/version" => Some(r#"{"major":"1","minor":"32","gitVersion":"v1.32.0"}"#.to_string()),
        "/api" => Some(r#"{"kind":"APIVersions","versions":["v1"]}"#.to_string()),
        "/apis" => Some(
            r#"{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}]}"#
                .to_string(),
        ),
        "/api/v1" => Some(resources(
            "v1",
            &[
                ("services", "Service"),
                ("serviceaccounts", "ServiceAccount"),
                ("pods", "Pod"),
            ],
        )),
        "/apis/apps/v1" => Some(resources("apps/v1", &[("deployments", "Deployment")])),
        _ => None,
    };
    let (status, body) = match body {
        Some(body) => ("200 OK", body),
        None => (
            "404 Not Found",
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#
                .to_string(),
        ),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

#[test]
fn template_and_install_are_hardened_and_keep_source_comments() {
    let home = home("helm3-harden");
    home.write("seccomp.yaml", SECCOMP_PATCH);
    discovery_only_api_server(&home);
    for command in [
        &["template", "r", "demo"][..],
        &[
            "install",
            "r",
            "demo",
            "--dry-run=client",
            "--disable-openapi-validation",
        ][..],
    ] {
        // A relative patch path: Helm 3 runs the post-renderer in its own working directory.
        let out = ok(&mut post_rendered(&home, command, &["-p", "seccomp.yaml"]));
        let deployment = document_from(&out, DEPLOYMENT);
        assert!(
            deployment.contains("seccompProfile:\n          type: RuntimeDefault"),
            "{command:?}: not hardened:\n{out}"
        );
        // Helm 3 never post-renders hooks: the test Pod comes out as the chart wrote it.
        assert!(
            !document_from(&out, TEST_HOOK).contains("seccompProfile"),
            "{command:?}:\n{out}"
        );
        assert!(document_from(&out, "demo/templates/service.yaml").contains("kind: Service"));
        if command[0] == "install" {
            assert!(out.contains("STATUS: pending-install"), "{out}");
        }
    }
}

#[test]
fn profile_none_is_byte_for_byte_the_plain_render() {
    let home = home("helm3-none");
    let plain = ok(home.helm(HELM3).args(["template", "r", "demo"]));
    let ours = ok(&mut post_rendered(
        &home,
        &["template", "r", "demo"],
        &["--profile", "none"],
    ));
    assert_eq!(ours, plain);
}

#[test]
fn errors_reach_the_user_on_stderr_and_no_log_is_written() {
    let home = home("helm3-error");
    home.write("typo.yaml", TYPO_PATCH);
    let out = fails(&mut post_rendered(
        &home,
        &["template", "r", "demo"],
        &["-p", "typo.yaml"],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("typo.yaml:5:5: unknown field `targt`"),
        "{stderr}"
    );
    // The Helm 4 log is only for Helm 4: Helm 3 shows stderr.
    assert!(!home.cache().join("pulse-harden").exists());
}

/// A legacy Helm 3 CLI plugin, to see whether Helm 3 still loads its plugins.
fn install_hello_plugin(home: &HelmHome) {
    let src = home.dir.join("hello");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("plugin.yaml"),
        "name: hello\nversion: 0.1.0\nusage: says hello\ndescription: says hello\ncommand: echo hello\n",
    )
    .unwrap();
    ok(home.helm(HELM3).arg("plugin").arg("install").arg(&src));
}

fn helm3_plugins(home: &HelmHome) -> PathBuf {
    home.dir.join("data/plugins")
}

#[test]
fn helm3_plugins_keep_working_and_install_plugin_refuses_helm3() {
    let home = home("helm3-plugins");
    install_hello_plugin(&home);

    // `make install-plugin` with Helm 3 stops before it builds or installs anything.
    let mut make = Command::new("make");
    home.isolate(&mut make);
    let out = fails(
        make.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["-s", "install-plugin"])
            .arg(format!("HELM={}", support::tool(HELM3).display())),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("install-plugin needs Helm 4"), "{stderr}");

    let listed = ok(home.helm(HELM3).args(["plugin", "list"]));
    assert!(listed.lines().any(|l| l.starts_with("hello")), "{listed}");
    let names: Vec<_> = std::fs::read_dir(helm3_plugins(&home))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["hello"]);
    // Post-rendering works with the binary on PATH alone.
    ok(&mut post_rendered(&home, &["template", "r", "demo"], &[]));
}

#[test]
fn the_trap_our_plugin_yaml_in_helm3s_plugin_dir_breaks_every_plugin() {
    // Why the Makefile and README keep plugin.yaml away from Helm 3.
    let home = home("helm3-trap");
    install_hello_plugin(&home);
    let ours = helm3_plugins(&home).join("pulse-harden");
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin.yaml"),
        ours.join("plugin.yaml"),
    )
    .unwrap();
    let out = fails(home.helm(HELM3).args(["plugin", "list"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed to load plugins"), "{stderr}");
}

#[test]
fn seed_charts_are_hardened_and_pass_through_byte_for_byte() {
    let home = home("helm3-seeds");
    let hardening = support::hardening_args();
    let hardening: Vec<&str> = hardening.iter().map(String::as_str).collect();
    for &(chart, namespace, values) in support::SEED_CHARTS {
        let dir = support::seed_chart(chart);
        let values = dir.join(values);
        let (dir, values) = (dir.display().to_string(), values.display().to_string());
        let template = ["template", chart, &dir, "-n", namespace, "-f", &values];
        let hardened = ok(&mut post_rendered(&home, &template, &hardening));
        support::assert_workloads_hardened(&hardened);
        assert!(hardened.contains(&format!("# Source: {chart}/templates/")));
        let plain = ok(home.helm(HELM3).args(template));
        let untouched = ok(&mut post_rendered(&home, &template, &["--profile", "none"]));
        assert_eq!(
            untouched, plain,
            "{chart}: --profile none changed something"
        );
    }
}
