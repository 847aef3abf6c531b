//! pulse-harden as a Helm 4 `postrenderer/v1` plugin, with the real Helm 4.1.4: installed from
//! a directory and from a packaged tarball, run by `helm template` and `helm install
//! --dry-run=client`, hooks in the stream, and errors that reach the user although Helm 4
//! discards the plugin's stderr.

mod common;
use common::helm_home as support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use support::{HelmHome, SECCOMP_PATCH, TYPO_PATCH, document_from, fails, ok, temp_dir};

const HELM: &str = "helm";
const DEPLOYMENT: &str = "demo/templates/deployment.yaml";
const TEST_HOOK: &str = "demo/templates/tests/test-connection.yaml";

/// The plugin laid out as `make plugin` does (plugin.yaml + bin/pulse-harden), built once per
/// test binary from the test build of the binary.
fn plugin_layout() -> &'static Path {
    static LAYOUT: OnceLock<PathBuf> = OnceLock::new();
    LAYOUT.get_or_init(|| {
        let dir = temp_dir("helm4-layout").join("pulse-harden");
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin.yaml"),
            dir.join("plugin.yaml"),
        )
        .unwrap();
        std::fs::copy(support::pulse_harden_path(), dir.join("bin/pulse-harden")).unwrap();
        dir
    })
}

/// `helm plugin package` of the layout (unsigned), once per test binary.
fn plugin_tarball() -> &'static Path {
    static TARBALL: OnceLock<PathBuf> = OnceLock::new();
    TARBALL.get_or_init(|| {
        let home = HelmHome::new("helm4-package");
        let dest = home.dir.join("dist");
        ok(home
            .helm(HELM)
            .args(["plugin", "package", "--sign=false", "-d"])
            .arg(&dest)
            .arg(plugin_layout()));
        dest.join(format!("pulse-harden-{}.tgz", env!("CARGO_PKG_VERSION")))
    })
}

/// A Helm home with the plugin installed from the directory layout, and the scaffold chart.
fn home_with_plugin(name: &str) -> HelmHome {
    let home = HelmHome::new(name);
    ok(home
        .helm(HELM)
        .arg("plugin")
        .arg("install")
        .arg(plugin_layout()));
    home.scaffold_chart(HELM);
    home
}

/// `helm template r demo` (or another subcommand) with pulse-harden and these arguments.
fn post_rendered(home: &HelmHome, command: &[&str], args: &[&str]) -> std::process::Command {
    let mut cmd = home.helm(HELM);
    cmd.args(command).args(["--post-renderer", "pulse-harden"]);
    for arg in args {
        cmd.args(["--post-renderer-args", arg]);
    }
    cmd
}

fn last_run_log(home: &HelmHome) -> String {
    let path = home.cache().join("pulse-harden/last-run.log");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_hardened(stream: &str) {
    let deployment = document_from(stream, DEPLOYMENT);
    assert!(
        deployment.contains("seccompProfile:\n          type: RuntimeDefault"),
        "the Deployment was not hardened:\n{deployment}"
    );
    // Helm 4 takes its filename annotation back off before printing.
    assert!(!stream.contains("postrenderer.helm.sh"), "{stream}");
}

#[test]
fn plugin_yaml_has_the_crate_version() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin.yaml")).unwrap();
    assert!(
        manifest.contains(&format!("\nversion: {}\n", env!("CARGO_PKG_VERSION"))),
        "plugin.yaml's version must match Cargo.toml"
    );
}

#[test]
fn installed_from_a_directory_it_hardens_template_and_install() {
    let home = home_with_plugin("helm4-dir");
    let listed = ok(home.helm(HELM).args(["plugin", "list"]));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("pulse-harden") && l.contains("postrenderer/v1")),
        "{listed}"
    );
    let patch = home.write("seccomp.yaml", SECCOMP_PATCH);
    let patch = patch.to_str().unwrap();

    let rendered = ok(&mut post_rendered(
        &home,
        &["template", "r", "demo"],
        &["-p", patch],
    ));
    assert_hardened(&rendered);
    // The changed Deployment is still filed under its template.
    assert!(document_from(&rendered, DEPLOYMENT).contains("kind: Deployment"));

    let installed = ok(&mut post_rendered(
        &home,
        &["install", "r", "demo", "--dry-run=client"],
        &["-p", patch],
    ));
    assert_hardened(&installed);
    assert!(installed.contains("STATUS: pending-install"), "{installed}");
}

#[test]
fn installed_from_a_packaged_tarball() {
    let home = HelmHome::new("helm4-tarball");
    // Unsigned: Helm refuses it unless told not to verify.
    fails(
        home.helm(HELM)
            .arg("plugin")
            .arg("install")
            .arg(plugin_tarball()),
    );
    // It holds the binary: installing needs no cargo.
    ok(home
        .helm(HELM)
        .env("PATH", home.path_without_cargo())
        .args(["plugin", "install", "--verify=false"])
        .arg(plugin_tarball()));
    let installed = home.dir.join("data/plugins/pulse-harden");
    assert!(installed.join("bin/pulse-harden").is_file());
    home.scaffold_chart(HELM);
    home.write("seccomp.yaml", SECCOMP_PATCH);
    // A relative patch path: the plugin runs in helm's working directory.
    let rendered = ok(&mut post_rendered(
        &home,
        &["template", "r", "demo"],
        &["-p", "seccomp.yaml"],
    ));
    assert_hardened(&rendered);
}

#[test]
fn profile_none_changes_nothing() {
    let home = home_with_plugin("helm4-none");
    let ours = ok(&mut post_rendered(
        &home,
        &["template", "r", "demo"],
        &["--profile", "none"],
    ));
    // Helm 4 re-serializes the stream whenever a post-renderer runs (list indentation
    // changes), so compare with a post-renderer that is the identity: `cat`.
    install_identity_plugin(&home);
    let identity =
        ok(home
            .helm(HELM)
            .args(["template", "r", "demo", "--post-renderer", "identity"]));
    assert_eq!(ours, identity);
    // And it means the same as the render without any post-renderer.
    let plain = ok(home.helm(HELM).args(["template", "r", "demo"]));
    assert_eq!(values(&ours), values(&plain));
}

/// A post-renderer plugin that changes nothing: `cat`.
fn install_identity_plugin(home: &HelmHome) {
    let cat = home.dir.join("identity");
    std::fs::create_dir_all(&cat).unwrap();
    std::fs::write(
        cat.join("plugin.yaml"),
        "apiVersion: v1\ntype: postrenderer/v1\nname: identity\nversion: 0.1.0\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: cat\n",
    )
    .unwrap();
    ok(home.helm(HELM).arg("plugin").arg("install").arg(&cat));
}

/// The parsed documents of a stream, as Kubernetes reads them.
fn values(stream: &str) -> Vec<Option<serde_json::Value>> {
    pulse_harden::stream::read(stream.as_bytes())
        .unwrap()
        .manifests
        .into_iter()
        .map(|m| m.value)
        .collect()
}

#[test]
fn hooks_arrive_in_the_stream_and_can_be_selected() {
    let home = home_with_plugin("helm4-hooks");
    let label = |hooks: &str| {
        format!(
            "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: mark\n    select: {{hooks: {hooks}}}\n    mergePatch: {{metadata: {{labels: {{marked: \"yes\"}}}}}}\n"
        )
    };
    for (hooks, hook_marked, deployment_marked) in [("exclude", false, true), ("only", true, false)]
    {
        let patch = home.write(&format!("{hooks}.yaml"), &label(hooks));
        let rendered = ok(&mut post_rendered(
            &home,
            &["template", "r", "demo"],
            &["-p", patch.to_str().unwrap()],
        ));
        let marked = |source| document_from(&rendered, source).contains("marked: \"yes\"");
        assert_eq!(marked(TEST_HOOK), hook_marked, "hooks: {hooks}\n{rendered}");
        assert_eq!(
            marked(DEPLOYMENT),
            deployment_marked,
            "hooks: {hooks}\n{rendered}"
        );
    }
}

#[test]
fn empty_output_is_an_error_to_helm() {
    let home = home_with_plugin("helm4-empty");
    let chart = home.dir.join("empty");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: empty\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/off.yaml"),
        "{{- if false }}\na: b\n{{- end }}\n",
    )
    .unwrap();
    let out = fails(&mut post_rendered(&home, &["template", "r", "empty"], &[]));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("produced empty output"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let log = last_run_log(&home);
    assert!(log.contains("0 resources"), "{log}");
    assert!(log.contains("Helm 4 rejects empty"), "{log}");
}

#[test]
fn errors_and_the_summary_reach_the_user_through_the_log() {
    let home = home_with_plugin("helm4-log");
    let typo = home.write("typo.yaml", TYPO_PATCH);
    let out = fails(&mut post_rendered(
        &home,
        &["template", "r", "demo"],
        &["-p", typo.to_str().unwrap()],
    ));
    assert!(out.stdout.is_empty());
    let log = last_run_log(&home);
    assert!(
        log.contains(&format!("{}:5:5: unknown field `targt`", typo.display())),
        "{log}"
    );

    // A mistyped flag in --post-renderer-args is logged too.
    fails(&mut post_rendered(
        &home,
        &["template", "r", "demo"],
        &["--profle", "none"],
    ));
    let log = last_run_log(&home);
    assert!(log.contains("unexpected argument '--profle'"), "{log}");

    // Success: one line that says what was done.
    let patch = home.write("seccomp.yaml", SECCOMP_PATCH);
    let out = post_rendered(
        &home,
        &["template", "r", "demo"],
        &["-p", patch.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(out.status.success());
    let log = last_run_log(&home);
    assert!(
        log.ends_with("pulse-harden: 4 resources, 2 changed, 0 generated, 0 conflicts\n"),
        "{log}"
    );
    // Each run replaces the log: nothing of the two failed runs before is left.
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(!log.contains("--profle") && !log.contains("targt"), "{log}");
    // ... which stays out of a CI job's output: only errors go to Helm's stderr.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// In CI, Helm's stderr is a pipe and there is no terminal: the error, with its position,
/// reaches what the job captures, before Helm's own (uninformative) message.
#[test]
fn errors_reach_helm_stderr_in_ci() {
    let home = home_with_plugin("helm4-ci");
    home.write("typo.yaml", TYPO_PATCH);
    let relative = ["-p", "typo.yaml"];
    // `output()` pipes stdout and stderr, as a CI runner does; stdin is /dev/null.
    let out = fails(&mut post_rendered(
        &home,
        &["template", "r", "demo"],
        &relative,
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ours = "pulse-harden: error: typo.yaml:5:5: unknown field `targt`";
    let log_line = format!(
        "pulse-harden: the full log is in {}\n",
        home.cache().join("pulse-harden/last-run.log").display()
    );
    let helms = "plugin \"pulse-harden\" exited with error";
    assert!(stderr.starts_with(ours), "{stderr}");
    assert!(stderr.contains(&log_line), "{stderr}");
    assert!(stderr.find(&log_line) < stderr.find(helms), "{stderr}");
    assert!(out.stdout.is_empty());

    // `2>&1`: stderr is the pipe that carries the stream; nothing of ours goes into it
    // besides what Helm itself writes there.
    let script = format!(
        "{} template r demo --post-renderer pulse-harden --post-renderer-args -p --post-renderer-args typo.yaml 2>&1",
        support::tool(HELM).display()
    );
    let mut sh = std::process::Command::new("sh");
    home.isolate(&mut sh);
    let merged = fails(sh.current_dir(&home.dir).args(["-c", &script]));
    let merged = String::from_utf8_lossy(&merged.stdout);
    assert!(!merged.contains(ours), "{merged}");

    // Helm's stderr redirected to a regular file: never written through /proc (that would
    // write over Helm's own message); the log file has the error.
    let file = home.dir.join("stderr.txt");
    fails(
        post_rendered(&home, &["template", "r", "demo"], &relative)
            .stderr(std::fs::File::create(&file).unwrap()),
    );
    let captured = std::fs::read_to_string(&file).unwrap();
    assert!(captured.starts_with("Error: "), "{captured}");
    assert!(!captured.contains(ours), "{captured}");
    assert!(last_run_log(&home).contains("typo.yaml:5:5: unknown field `targt`"));
}

#[test]
fn seed_charts_are_hardened_and_pass_through_untouched() {
    let home = home_with_plugin("helm4-seeds");
    install_identity_plugin(&home);
    let hardening = support::hardening_args();
    let hardening: Vec<&str> = hardening.iter().map(String::as_str).collect();
    for &(chart, namespace, values) in support::SEED_CHARTS {
        let dir = support::seed_chart(chart);
        let values = dir.join(values);
        let base = |command: &str| {
            let mut args = vec![command.to_string(), chart.to_string()];
            args.push(dir.display().to_string());
            args.extend(["-n".into(), namespace.into(), "-f".into()]);
            args.push(values.display().to_string());
            args
        };
        let template = base("template");
        let template: Vec<&str> = template.iter().map(String::as_str).collect();
        let hardened = ok(&mut post_rendered(&home, &template, &hardening));
        support::assert_workloads_hardened(&hardened);
        assert!(!hardened.contains("postrenderer.helm.sh"), "{chart}");

        let untouched = ok(&mut post_rendered(&home, &template, &["--profile", "none"]));
        let identity = ok(home
            .helm(HELM)
            .args(&template)
            .args(["--post-renderer", "identity"]));
        assert_eq!(
            untouched, identity,
            "{chart}: --profile none changed something"
        );

        let install = base("install");
        let mut install: Vec<&str> = install.iter().map(String::as_str).collect();
        install.push("--dry-run=client");
        let installed = ok(&mut post_rendered(&home, &install, &hardening));
        support::assert_workloads_hardened(&installed);
    }
}

#[test]
fn errors_reach_the_terminal_when_there_is_one() {
    let home = home_with_plugin("helm4-tty");
    home.write("typo.yaml", TYPO_PATCH);
    // `script` runs helm on a pseudo-terminal and copies what reaches it to stdout.
    let helm = support::tool(HELM);
    let command = format!(
        "{} template r demo --post-renderer pulse-harden --post-renderer-args -p --post-renderer-args typo.yaml",
        helm.display()
    );
    let mut script = std::process::Command::new("script");
    home.isolate(&mut script);
    let out = script
        .current_dir(&home.dir)
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("`script` (util-linux) runs helm on a terminal");
    assert!(!out.status.success());
    let terminal = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert!(
        terminal.contains("pulse-harden: error: typo.yaml:5:5: unknown field `targt`"),
        "{terminal}"
    );
    assert!(
        terminal.contains("pulse-harden: the full log is in ")
            && terminal.contains("last-run.log\n"),
        "{terminal}"
    );
}
