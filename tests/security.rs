//! One test per way in (issue 10, SECURITY.md), each replayed the way an attacker would: an
//! Application's parameters through the Argo CD plugin as the CMP server runs it (Helm 4
//! and Helm 3), Secrets that make errors, files planted where pulse-harden writes, FIFOs,
//! escape sequences. Every attack must fail safely: non-zero exit where it is an error,
//! nothing on stdout, no secret anywhere.

mod common;

use common::argocd::Repo;
use common::helm_home::{ok, temp_dir};
use common::{Run, feed, pulse_harden};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the tests hide in Secrets and ConfigMaps; it must never come out.
const SECRET: &str = "hunter2-Sup3rS3cret";
/// A part of it, so a message quoting half the value is caught too.
const SECRET_PART: &str = "Sup3rS3cret";

const LABEL_EVERYTHING: &str = "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: label\n    mergePatch: {metadata: {labels: {hardened: \"true\"}}}\n";

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET_PART),
        "{what} shows the secret:\n{text}"
    );
}

/// pulse-harden under `sh` with umask 022, as in a usual shell.
fn with_umask(dir: &Path, args: &[&str]) -> Command {
    let cmd = pulse_harden();
    let program = cmd.get_program().to_owned();
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(program)
        .args(args)
        .current_dir(dir);
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => sh.env(key, v),
            None => sh.env_remove(key),
        };
    }
    sh
}

/// An outside file an app must not reach: another app's values, with a marker value.
fn plant_outside_values(repo: &Repo) -> PathBuf {
    let other = repo.home.dir.join("repo/other-app");
    std::fs::create_dir_all(&other).unwrap();
    let path = other.join("values.yaml");
    std::fs::write(&path, format!("replicaCount: 77\nleak: {SECRET}\n")).unwrap();
    path
}

/// A template that prints `.Values.leak` (base64, so it survives as one token).
fn add_leak_template(repo: &Repo) {
    std::fs::write(
        repo.app.join("templates/leak.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  leak: {{ .Values.leak | default \"none\" | quote }}\n",
    )
    .unwrap();
}

#[test]
fn argocd_release_name_cannot_inject_helm_flags() {
    for helm in ["helm", "helm3"] {
        let repo = Repo::new(&format!("security-release-{helm}"), helm);
        add_leak_template(&repo);
        let outside = plant_outside_values(&repo);
        let evil = repo.app.join("evil.sh");
        std::fs::write(&evil, "#!/bin/sh\ntouch \"$(dirname \"$0\")/pwned\"\ncat\n").unwrap();
        std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
        let outside = outside.display().to_string();
        let attacks = [
            "--post-renderer=./evil.sh".to_string(),
            "--post-renderer=evil.sh".to_string(),
            format!("--values={outside}"),
            format!("-f{outside}"),
            format!("--set-file=leak={outside}"),
            "--show-only=templates/told.yaml".to_string(),
            format!("web --values={outside}"),
            "Web".to_string(),
            "a".repeat(54),
        ];
        for attack in &attacks {
            for var in ["PARAM_RELEASE_NAME", "ARGOCD_ENV_RELEASE_NAME"] {
                repo.generate_fails(&[(var, attack)], &["invalid release name"]);
            }
            // The Application's own name is the default release name.
            repo.generate_fails(&[("ARGOCD_APP_NAME", attack)], &["invalid release name"]);
        }
        assert!(!repo.app.join("pwned").exists(), "{helm} ran evil.sh");
        // What Helm itself takes still works.
        let out = repo.generated(&[
            ("PARAM_RELEASE_NAME", "web.v2-1"),
            ("PARAM_PROFILE", "none"),
        ]);
        assert!(out.contains("name: web.v2-1-demo"), "{out}");
        assert!(!out.contains(SECRET), "{out}");
    }
}

#[test]
fn argocd_values_files_cannot_smuggle_another_file() {
    for helm in ["helm", "helm3"] {
        let repo = Repo::new(&format!("security-values-{helm}"), helm);
        add_leak_template(&repo);
        let outside = plant_outside_values(&repo);
        // Helm splits --values at commas: `v,<absolute path>` inside the app directory would
        // be read as `v` and the outside file.
        let smuggled = repo
            .app
            .join(format!("v,{}", outside.parent().unwrap().display()));
        std::fs::create_dir_all(&smuggled).unwrap();
        std::fs::write(smuggled.join("values.yaml"), "replicaCount: 1\n").unwrap();
        std::fs::write(repo.app.join("v"), "replicaCount: 2\n").unwrap();
        let name = format!("v,{}", outside.display());
        // (A FIFO in the app directory makes Helm refuse the chart itself.)
        std::fs::write(repo.app.join("-"), "replicaCount: 3\n").unwrap();
        for (file, why) in [
            (name.as_str(), "comma"),
            ("templates", "not a regular file"),
        ] {
            repo.generate_fails(&[("PARAM_VALUES_FILES_0", file)], &[why]);
        }
        // `-` is a file of the app here, not Helm's stdin.
        let out = repo.generated(&[("PARAM_VALUES_FILES_0", "-"), ("PARAM_PROFILE", "none")]);
        assert!(out.contains("replicas: 3"), "{out}");
        assert!(!out.contains(SECRET));
    }
}

#[test]
fn argocd_namespace_and_cluster_values_are_checked() {
    let repo = Repo::new("security-namespace", "helm3");
    for namespace in ["Prod", "--values=/etc/passwd", "a_b", &"n".repeat(64)] {
        repo.generate_fails(
            &[("ARGOCD_APP_NAMESPACE", namespace)],
            &["invalid destination namespace"],
        );
    }
    repo.generate_fails(&[("KUBE_VERSION", "1.32 --x")], &["invalid KUBE_VERSION"]);
    repo.generate_fails(
        &[("KUBE_API_VERSIONS", "v1,--set=a=b")],
        &["invalid API version"],
    );
}

/// Documents whose data holds [`SECRET`] in a way that makes reading them fail.
fn unreadable_secrets() -> Vec<String> {
    let mut docs = Vec::new();
    for kind in ["Secret", "secret", "SECRET", "ConfigMap", "configmap"] {
        for field in ["stringData", "data", "binaryData"] {
            for tag in [
                "!!int ",
                "!!float ",
                "!!bool ",
                "!!null ",
                "!!int '",
                "!!float \"",
            ] {
                let closing = match tag.chars().last() {
                    Some(q @ ('\'' | '"')) => q.to_string(),
                    _ => String::new(),
                };
                docs.push(format!(
                    "apiVersion: v1\nkind: {kind}\nmetadata:\n  name: s\n{field}:\n  password: {tag}{SECRET}{closing}\n"
                ));
            }
        }
    }
    // The kind after the data; flow style; a List.
    docs.push(format!(
        "stringData:\n  password: !!int {SECRET}\nkind: Secret\napiVersion: v1\n"
    ));
    docs.push(format!(
        "{{apiVersion: v1, kind: Secret, data: {{password: !!bool {SECRET}}}}}\n"
    ));
    docs.push(format!(
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata: {{name: s}}\n    stringData:\n      password: !!int {SECRET}\n"
    ));
    // A value split over lines so one starts with `---`: a separator line to Kubernetes.
    docs.push(format!(
        "apiVersion: v1\nkind: Secret\nstringData:\n  password: \"a\n---{SECRET}\"\n"
    ));
    docs
}

/// Runs pulse-harden as a Helm 4 plugin would be run (so it also writes its log) on `input`,
/// and returns the run and the log.
fn run_as_helm_plugin(dir: &Path, args: &[&str], input: &[u8]) -> (Run, String) {
    let cache = dir.join("cache");
    let run = feed(
        pulse_harden()
            .args(args)
            .env("HELM_PLUGIN_NAME", "pulse-harden")
            .env("HELM_PLUGIN_DIR", dir)
            .env("HELM_CACHE_HOME", &cache),
        input,
    );
    let log = std::fs::read_to_string(cache.join("pulse-harden/last-run.log")).unwrap_or_default();
    (run, log)
}

#[test]
fn secret_values_that_fail_to_read_are_never_quoted() {
    let dir = temp_dir("security-tags");
    for doc in unreadable_secrets() {
        let (run, log) = run_as_helm_plugin(&dir, &["--profile", "none"], doc.as_bytes());
        assert_eq!(run.code, 2, "{doc}\n{}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(run.stderr.contains("line "), "no position: {}", run.stderr);
        assert_no_secret(&format!("stderr for\n{doc}"), &run.stderr);
        assert_no_secret(&format!("the Helm log for\n{doc}"), &log);
    }
}

#[test]
fn an_over_wide_number_in_a_secret_a_step_touches_is_not_quoted() {
    let dir = temp_dir("security-hazards");
    std::fs::write(dir.join("label.yaml"), LABEL_EVERYTHING).unwrap();
    let patch = dir.join("label.yaml").display().to_string();
    for (kind, value) in [
        ("Secret", "1234567890123456789012345678901234"),
        ("secret", "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
        ("ConfigMap", "-98765432109876543210987654321"),
    ] {
        let doc =
            format!("apiVersion: v1\nkind: {kind}\nmetadata:\n  name: s\ndata:\n  big: {value}\n");
        let (run, log) = run_as_helm_plugin(&dir, &["-p", &patch], doc.as_bytes());
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(run.stderr.contains("line 6, column 8"), "{}", run.stderr);
        for text in [&run.stderr, &log] {
            assert!(!text.contains(&value[2..12]), "quoted: {text}");
        }
    }
}

#[test]
fn no_output_path_shows_a_secret_whatever_the_kind_spelling() {
    let dir = temp_dir("security-outputs");
    let change = "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: rotate\n    mergePatch: {metadata: {labels: {rotated: \"yes\"}}, stringData: {password: new-value}}\n";
    std::fs::write(dir.join("rotate.yaml"), change).unwrap();
    let patch = dir.join("rotate.yaml").display().to_string();
    for kind in ["Secret", "secret", "SECRET", "configMap"] {
        let doc = format!(
            "apiVersion: v1\nkind: {kind}\nmetadata:\n  name: s\nstringData:\n  password: {SECRET}\n"
        );
        let list = format!(
            "apiVersion: v1\nkind: list\nitems:\n  - apiVersion: v1\n    kind: {kind}\n    metadata: {{name: s}}\n    stringData:\n      password: {SECRET}\n"
        );
        for input in [&doc, &list] {
            for args in [
                vec!["--report", "-"],
                vec!["--report", "-", "--report-format", "json"],
                vec!["--diff", "--color", "always"],
                vec!["--check", "--diff"],
                vec!["--strict", "--report", "-", "--summary", "always"],
                vec!["--report-configmap", "report"],
            ] {
                let mut all = vec!["-p", patch.as_str()];
                all.extend(args.iter().copied());
                let (run, log) = run_as_helm_plugin(&dir, &all, input.as_bytes());
                assert_no_secret(&format!("{all:?} stderr"), &run.stderr);
                assert_no_secret(&format!("{all:?} log"), &log);
                // The stream itself holds the new value, and the report ConfigMap none.
                let stdout = String::from_utf8_lossy(&run.stdout);
                if let Some(report) = stdout.split("name: report").nth(1) {
                    assert_no_secret("the report ConfigMap", report);
                }
            }
            // A report file too.
            let report = dir.join("report.txt");
            let run = feed(
                pulse_harden().args(["-p", &patch, "--report"]).arg(&report),
                input.as_bytes(),
            );
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert_no_secret(
                "the report file",
                &std::fs::read_to_string(&report).unwrap(),
            );
        }
    }
}

const STREAM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
const SECRET_STREAM: &str =
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  k: v\n";

#[test]
fn output_files_keep_or_get_private_permissions() {
    let dir = temp_dir("security-modes");
    std::fs::write(dir.join("in.yaml"), STREAM).unwrap();
    std::fs::write(dir.join("secret.yaml"), SECRET_STREAM).unwrap();
    let run = |input: &str, output: &str| {
        ok(&mut with_umask(
            &dir,
            &["--profile", "none", "-f", input, "-o", output],
        ))
    };
    // Replacing a private file keeps it private (it was made 0644 before).
    std::fs::write(dir.join("kept.yaml"), "old").unwrap();
    std::fs::set_permissions(
        dir.join("kept.yaml"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    run("in.yaml", "kept.yaml");
    assert_eq!(mode(&dir.join("kept.yaml")), 0o600);
    assert_eq!(
        std::fs::read_to_string(dir.join("kept.yaml")).unwrap(),
        STREAM
    );
    // A new file holding a Secret is private; one without follows the umask.
    run("secret.yaml", "new-secret.yaml");
    assert_eq!(mode(&dir.join("new-secret.yaml")), 0o600);
    run("in.yaml", "new-plain.yaml");
    assert_eq!(mode(&dir.join("new-plain.yaml")), 0o644);
    // `kind: secret` inside a List counts too.
    std::fs::write(
        dir.join("list.yaml"),
        "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: secret, metadata: {name: s}}\n",
    )
    .unwrap();
    run("list.yaml", "new-list.yaml");
    assert_eq!(mode(&dir.join("new-list.yaml")), 0o600);
}

/// Links at every temporary name the old code could pick (`.<name>.pulse-harden-<pid>` for
/// the next few thousand process ids), pointing at a file the attacker wants overwritten.
fn plant_links(dir: &Path, name: &str, target: &Path) {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1);
    for pid in last..last + 3_000 {
        let _ = symlink(target, dir.join(format!(".{name}.pulse-harden-{pid}")));
    }
}

#[test]
fn a_link_planted_for_the_temporary_file_is_never_followed() {
    let dir = temp_dir("security-links");
    std::fs::write(dir.join("in.yaml"), SECRET_STREAM).unwrap();
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    for (flag, name) in [("-o", "out.yaml"), ("--report", "report.txt")] {
        plant_links(&dir, name, &victim);
        let mut args = vec!["--profile", "none", "-f", "in.yaml", "-o", "out.yaml"];
        if flag == "--report" {
            args.extend([flag, name]);
        }
        let out = with_umask(&dir, &args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "precious",
            "{flag}"
        );
        let written = std::fs::symlink_metadata(dir.join(name)).unwrap();
        assert!(written.is_file(), "{flag}: the output is a link");
        assert_eq!(mode(&dir.join(name)), 0o600, "{flag}");
    }
}

#[test]
fn the_helm_log_is_private_and_follows_no_link() {
    let dir = temp_dir("security-log");
    let log_dir = dir.join("cache/pulse-harden");
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    // A log directory left 0755 by an older version, a link planted at the log's name.
    std::fs::create_dir_all(&log_dir).unwrap();
    std::fs::set_permissions(&log_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    symlink(&victim, log_dir.join("last-run.log")).unwrap();
    let (run, log) = run_as_helm_plugin(&dir, &["--profile", "nope"], STREAM.as_bytes());
    assert_eq!(run.code, 2);
    assert!(log.contains("unknown profile `nope`"), "{log}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(
        std::fs::symlink_metadata(log_dir.join("last-run.log"))
            .unwrap()
            .is_file()
    );
    assert_eq!(mode(&log_dir), 0o700);
    assert_eq!(mode(&log_dir.join("last-run.log")), 0o600);
    // A fresh cache: created 0700 / 0600.
    let fresh = temp_dir("security-log-fresh");
    run_as_helm_plugin(&fresh, &["--profile", "none"], STREAM.as_bytes());
    assert_eq!(mode(&fresh.join("cache/pulse-harden")), 0o700);
    assert_eq!(mode(&fresh.join("cache/pulse-harden/last-run.log")), 0o600);
    // The log directory itself a link: refused, nothing written through it.
    let linked = temp_dir("security-log-linked");
    let elsewhere = linked.join("elsewhere");
    std::fs::create_dir_all(linked.join("cache")).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    symlink(&elsewhere, linked.join("cache/pulse-harden")).unwrap();
    let (run, _) = run_as_helm_plugin(&linked, &["--profile", "none"], STREAM.as_bytes());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("is not a directory"), "{}", run.stderr);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

/// `pulse-harden ARGS` on STREAM, killed after 20 s: a run that waits forever fails.
fn run_with_deadline(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut child = pulse_harden()
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(out.stdout.is_empty());
            return (
                status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pulse-harden {args:?} hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_fifo_or_device_given_as_a_patch_file_is_refused_not_waited_for() {
    let dir = temp_dir("security-fifo");
    std::fs::create_dir_all(dir.join("root")).unwrap();
    mkfifo(&dir.join("root/p.yaml"));
    // A socket, and a link to a device (not one that reads forever on the old code).
    let _socket = std::os::unix::net::UnixListener::bind(dir.join("root/s.yaml")).unwrap();
    symlink("/dev/tty", dir.join("root/tty.yaml")).unwrap();
    std::fs::write(dir.join("in.yaml"), STREAM).unwrap();
    for args in [
        vec!["-p", "root/p.yaml", "-f", "in.yaml"],
        vec!["--patch-root", "root", "-p", "p.yaml", "-f", "in.yaml"],
        vec!["-p", "root/s.yaml", "-f", "in.yaml"],
        vec!["-p", "root/tty.yaml", "-f", "in.yaml"],
        // In a patch directory too.
        vec!["-p", "root", "-f", "in.yaml"],
    ] {
        let (code, stderr) = run_with_deadline(&dir, &args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("is not a regular file or directory"),
            "{stderr}"
        );
    }
}

#[test]
fn patch_root_errors_tell_nothing_about_outside() {
    let dir = temp_dir("security-patch-root");
    let root = dir.join("app");
    std::fs::create_dir_all(&root).unwrap();
    let outside = dir.join("private-place");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("exists.yaml"), LABEL_EVERYTHING).unwrap();
    symlink(
        outside.join("exists.yaml"),
        root.join("link-to-existing.yaml"),
    )
    .unwrap();
    symlink(
        outside.join("missing.yaml"),
        root.join("link-to-missing.yaml"),
    )
    .unwrap();
    let message = |path: &str| {
        let (code, stderr) = run_with_deadline(
            &root,
            &["--patch-root", ".", "-p", path, "--profile", "none"],
        );
        assert_eq!(code, 2, "{stderr}");
        let private = outside.display().to_string();
        assert!(!stderr.contains(&private), "{path}: {stderr}");
        assert!(stderr.contains("outside the patch root"), "{stderr}");
        stderr.replace(path, "PATH")
    };
    let existing = message("../private-place/exists.yaml");
    assert_eq!(message("../private-place/missing.yaml"), existing);
    assert_eq!(message("link-to-existing.yaml"), existing);
    assert_eq!(message("link-to-missing.yaml"), existing);
    assert_eq!(message("no-such-file.yaml"), existing);
}

#[test]
fn escape_sequences_from_the_input_never_reach_a_terminal_or_the_log() {
    let dir = temp_dir("security-escapes");
    std::fs::write(dir.join("label.yaml"), LABEL_EVERYTHING).unwrap();
    let patch = dir.join("label.yaml").display().to_string();
    // A `# Source:` comment, a key and a name with escape sequences (OSC title, CSI clear,
    // carriage return), in a document that fails and in one that is reported.
    let evil = "\u{1b}]0;pwned\u{7}\u{1b}[2J\r";
    let failing = format!(
        "# Source: chart/templates/{evil}.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  \"k{evil}\": !!int x\n"
    );
    // YAML allows these only as escapes in double quotes (and bidi controls anywhere).
    let escaped = r"\e]0;pwned\a\e[2J\r\x9b\u202e";
    let reported = format!(
        "# Source: chart/templates/\u{202e}x.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"c{escaped}\"\n  labels: {{\"a{escaped}\": b}}\n"
    );
    for (input, args) in [
        (&failing, vec!["--profile", "none"]),
        (
            &reported,
            vec![
                "-p",
                patch.as_str(),
                "--report",
                "-",
                "--diff",
                "--summary",
                "always",
            ],
        ),
        (&reported, vec!["-p", patch.as_str(), "--check"]),
        (&reported, vec!["--profile", evil]),
        // clap quotes a bad value: escaped too.
        (&reported, vec!["--color", evil]),
    ] {
        let quoted = args[0] != "--color";
        let (run, log) = run_as_helm_plugin(&dir, &args, input.as_bytes());
        for (what, text) in [("stderr", &run.stderr), ("log", &log)] {
            assert!(
                !text.contains(['\u{1b}', '\r', '\u{7}', '\u{9b}', '\u{202e}']),
                "{args:?}: raw control characters in {what}: {text:?}"
            );
        }
        if quoted {
            assert!(run.stderr.contains("\\u{1b}"), "{args:?}: {}", run.stderr);
        }
    }
    // The JSON report stays JSON: escaped the JSON way, with the name intact once parsed.
    let run = feed(
        pulse_harden().args(["-p", &patch, "--report", "-", "--report-format", "json"]),
        reported.as_bytes(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stderr.contains(['\u{1b}', '\u{9b}', '\u{202e}']),
        "{}",
        run.stderr
    );
    let report: serde_json::Value = serde_json::from_str(&run.stderr).unwrap();
    assert!(
        run.stderr.contains(
            r#""ConfigMap/(release namespace)/c\u001b]0;pwned\u0007\u001b[2J\r\u009b\u202e""#
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        report["resources"][0]["resource"],
        "ConfigMap/(release namespace)/c\u{1b}]0;pwned\u{7}\u{1b}[2J\r\u{9b}\u{202e}"
    );
}

#[test]
fn empty_items_in_the_patch_list_are_absent() {
    let dir = temp_dir("security-empty-items");
    std::fs::write(dir.join("label.yaml"), LABEL_EVERYTHING).unwrap();
    for (value, labelled) in [("", false), ("label.yaml:", true), (":label.yaml::", true)] {
        let run = feed(
            pulse_harden()
                .current_dir(&dir)
                .env("PULSE_HARDEN_PATCHES", value)
                .env("PULSE_HARDEN_PROFILE", "none,"),
            STREAM.as_bytes(),
        );
        assert_eq!(run.code, 0, "{value:?}: {}", run.stderr);
        let out = String::from_utf8_lossy(&run.stdout);
        assert_eq!(
            out.contains("hardened: \"true\""),
            labelled,
            "{value:?}: {out}"
        );
    }
    // Nothing at all: the default profile, as when the variable is unset.
    let run = feed(
        pulse_harden().env("PULSE_HARDEN_PATCHES", ":"),
        STREAM.as_bytes(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// `-o /dev/stdout` and `--report /dev/stderr` write to the device or pipe; they never put a
/// file in place of the link (as root, the old rename-over replaced `/dev` entries). A FIFO
/// anywhere else, which someone else may be reading, is refused.
/// (Not run against the old code: it would replace this machine's `/dev/stdout`.)
#[test]
fn device_paths_are_written_not_replaced() {
    let dir = temp_dir("security-devices");
    std::fs::write(dir.join("in.yaml"), STREAM).unwrap();
    let before = std::fs::read_link("/dev/stdout").ok();
    let stdout = ok(pulse_harden()
        .current_dir(&dir)
        .args(["--profile", "none", "-f", "in.yaml", "-o", "/dev/stdout"])
        .args(["--report", "/dev/stderr"]));
    assert_eq!(stdout, STREAM);
    assert_eq!(std::fs::read_link("/dev/stdout").ok(), before);
    mkfifo(&dir.join("out.fifo"));
    let (code, stderr) = run_with_deadline(
        &dir,
        &["--profile", "none", "-f", "in.yaml", "-o", "out.fifo"],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("out.fifo is a FIFO, socket or device"),
        "{stderr}"
    );
}

/// A step that fails on a List's item quotes what it compared; whether the run streams
/// (local steps only) or reads the stream first (a step reading other documents), the error
/// is scrubbed of the List's Secret data (the streaming run once lost the List's items on
/// an error, and with them the scrub).
#[test]
fn a_failing_step_in_a_list_never_quotes_its_secret_items() {
    let dir = temp_dir("security-list-error");
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n- {{apiVersion: v1, kind: Secret, metadata: {{name: s1}}, stringData: {{password: {SECRET}}}}}\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {{name: web}}\n  spec: {{template: {{spec: {{containers: [{{name: c, image: nginx}}]}}}}}}\n"
    );
    let guess = format!(
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n- name: p\n  select: {{kind: Deployment}}\n  jsonPatch: [{{op: test, path: /metadata/name, value: {SECRET}}}]\n"
    );
    fails_scrubbed(
        &dir,
        &list,
        &guess,
        "test failed: /metadata/name is \"web\", expected <redacted>",
    );
}

/// A Secret or ConfigMap no step selects is read only up to its head; a failing step on
/// another resource may still quote its data (an env value copied from it, a `test` value
/// guessing it). Both runs scrub the error of it all the same (they once did not: the scrub
/// knew only the data of documents read whole).
#[test]
fn data_of_secrets_no_step_reads_is_never_quoted() {
    let dir = temp_dir("security-unread-secret");
    let stream = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{password: {SECRET}}}\n---\napiVersion: v1\nkind: configmap\nmetadata: {{name: c}}\ndata: {{config: guessed-{SECRET_PART}}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  template:\n    spec:\n      containers: [{{name: c, image: nginx, env: [{{name: P, value: {SECRET}}}]}}]\n"
    );
    let guess = format!(
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n- name: p\n  select: {{kind: Deployment}}\n  target: containers\n  jsonPatch: [{{op: test, path: /env/0/value, value: guessed-{SECRET_PART}}}]\n"
    );
    fails_scrubbed(
        &dir,
        &stream,
        &guess,
        "test failed: /env/0/value is <redacted>, expected <redacted>",
    );
}

/// A step may take data out of a ConfigMap or turn a Secret into another kind; the error of a
/// later step still never quotes what they held (a streaming run once kept only what a
/// document held at its end). With and without a PodDisruptionBudget generator, whose run
/// streams too.
#[test]
fn data_a_step_took_out_is_never_quoted() {
    let dir = temp_dir("security-data-taken-out");
    let stream = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata: {{key: {SECRET}}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{password: guessed-{SECRET_PART}}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers: [{{name: c, image: nginx, env: [{{name: P, value: {SECRET}}}]}}]\n"
    );
    for pdbs in ["", "- name: pdbs\n  generatePodDisruptionBudgets: {}\n"] {
        let guess = format!(
            "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n- name: strip\n  select: {{kind: ConfigMap}}\n  mergePatch: {{data: null}}\n- name: retype\n  select: {{kind: Secret}}\n  jsonPatch: [{{op: replace, path: /kind, value: Opaque}}]\n{pdbs}- name: p\n  select: {{kind: Deployment}}\n  target: containers\n  jsonPatch: [{{op: test, path: /env/0/value, value: guessed-{SECRET_PART}}}]\n"
        );
        fails_scrubbed(
            &dir,
            &stream,
            &guess,
            "test failed: /env/0/value is <redacted>, expected <redacted>",
        );
    }
}

/// Runs the patch set `guess` on `input`, streaming and reading the stream first (with a
/// step that reads other documents' heads, selecting nothing): it must fail with `message`,
/// and quote no secret.
fn fails_scrubbed(dir: &Path, input: &str, guess: &str, message: &str) {
    std::fs::write(dir.join("guess.yaml"), guess).unwrap();
    std::fs::write(
        dir.join("arm.yaml"),
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n- name: arm\n  select: {kind: NoSuchKind}\n  scheduleOnArm64: {}\n",
    )
    .unwrap();
    for extra in [&[][..], &["-p", "arm.yaml"][..]] {
        let mut cmd = pulse_harden();
        cmd.current_dir(dir).args(["-p", "guess.yaml"]).args(extra);
        let run = feed(&mut cmd, input.as_bytes());
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(run.stderr.contains(message), "{extra:?}: {}", run.stderr);
        assert_no_secret(&format!("{extra:?}"), &run.stderr);
    }
}

/// Both runs, the streaming one (local steps only) and the one that reads the stream first
/// (a step that reads other documents' heads, selecting nothing), with the label step.
fn both_runs(dir: &Path) -> [Vec<String>; 2] {
    std::fs::write(dir.join("label.yaml"), LABEL_EVERYTHING).unwrap();
    std::fs::write(
        dir.join("arm.yaml"),
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n- name: arm\n  select: {kind: NoSuchKind}\n  scheduleOnArm64: {}\n",
    )
    .unwrap();
    let args = |extra: &[&str]| {
        let mut all = vec!["-p".to_string(), "label.yaml".to_string()];
        all.extend(extra.iter().map(|s| s.to_string()));
        all
    };
    [args(&[]), args(&["-p", "arm.yaml"])]
}

/// A custom resource whose kind ends in `List` is no List of Secrets once read whole: the
/// output file follows the umask in both runs (the streaming run once forgot it had read
/// the document whole and made the file private).
#[test]
fn a_list_like_custom_resource_does_not_make_the_output_private() {
    let dir = temp_dir("security-allowlist");
    std::fs::write(
        dir.join("allow.yaml"),
        "apiVersion: example.com/v1\nkind: AllowList\nmetadata: {name: a}\nspec: {ips: [1.2.3.4]}\n",
    )
    .unwrap();
    std::fs::write(dir.join("secret.yaml"), SECRET_STREAM).unwrap();
    for (n, args) in both_runs(&dir).iter().enumerate() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let plain = format!("plain-{n}.yaml");
        let secret = format!("secret-{n}.yaml");
        ok(&mut with_umask(
            &dir,
            &[&args[..], &["-f", "allow.yaml", "-o", &plain]].concat(),
        ));
        assert_eq!(mode(&dir.join(&plain)), 0o644, "{args:?}");
        ok(&mut with_umask(
            &dir,
            &[&args[..], &["-f", "secret.yaml", "-o", &secret]].concat(),
        ));
        assert_eq!(mode(&dir.join(&secret)), 0o600, "{args:?}");
    }
}

/// A read error names its place, and no ConfigMap value erases it: the reader quotes no
/// scalar, so its errors are not scrubbed, in either run.
#[test]
fn read_errors_keep_their_place_whatever_the_data_values() {
    let dir = temp_dir("security-read-error");
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: \"unclosed bracket\", l: line, d: document}\n---\na: [\n";
    for args in both_runs(&dir) {
        let mut cmd = pulse_harden();
        cmd.current_dir(&dir).args(&args);
        let run = feed(&mut cmd, input.as_bytes());
        assert_eq!(run.code, 2);
        assert!(run.stdout.is_empty());
        assert_eq!(
            run.stderr,
            "pulse-harden: error: input document 2, line 6, column 4: unclosed bracket '['\n",
            "{args:?}"
        );
    }
}
