//! The Argo CD config management plugin (`argocd/plugin.yaml`), run the way the CMP server
//! runs it: the `discover` and `generate` commands and args read from the YAML, the app
//! directory as working directory, the sidecar's environment plus Argo CD's build environment,
//! `PARAM_*` and `ARGOCD_ENV_*` — with the real helm and pulse-harden on PATH.

mod common;
use common::argocd::Repo;
use common::helm_home as support;

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use support::{HelmHome, TYPO_PATCH};

#[test]
fn discover_claims_only_charts_that_opt_in() {
    let repo = Repo::new("argocd-discover", "helm");
    let claims = |dir: &Path, vars: &[(&str, &str)]| {
        let out = repo.run("discover", dir, vars);
        // Not ours: exit 0 with no output (an error would be logged for every other app).
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        !out.stdout.is_empty()
    };
    // Installing the sidecar changes no existing app: a plain chart stays Argo CD's.
    assert!(!claims(&repo.app, &[]));
    std::fs::write(repo.app.join(".pulse-harden"), "").unwrap();
    assert!(claims(&repo.app, &[]));
    let other = repo.home.dir.join("repo/apps/kustomized");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("kustomization.yaml"), "resources: []\n").unwrap();
    std::fs::write(other.join(".pulse-harden"), "").unwrap();
    assert!(!claims(&other, &[]));
    // The sidecar's switch for claiming every chart.
    std::fs::remove_file(repo.app.join(".pulse-harden")).unwrap();
    assert!(claims(&repo.app, &[("PULSE_HARDEN_DISCOVER", "charts")]));
    assert!(!claims(&other, &[("PULSE_HARDEN_DISCOVER", "charts")]));
}

#[test]
fn generate_takes_charts_that_render_json() {
    let repo = Repo::new("argocd-json", "helm3");
    let templates = repo.app.join("templates");
    std::fs::remove_dir_all(&templates).unwrap();
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("cm.json"),
        "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"{{ .Release.Name }}\"}}\n",
    )
    .unwrap();
    let out = repo.generated(&[("PARAM_PROFILE", "none")]);
    assert!(out.contains("\"kind\": \"ConfigMap\""), "{out}");
}

#[test]
fn generate_adds_the_report_as_a_configmap_when_asked() {
    let repo = Repo::new("argocd-report", "helm");
    let out = repo.generated(&[
        ("PARAM_PROFILE", "none"),
        ("PARAM_PATCHES_0", "patches/seccomp.yaml"),
        ("PARAM_REPORT_CONFIGMAP", "web-hardening"),
    ]);
    let report = out
        .split("\n---\n")
        .find(|d| d.contains("name: web-hardening"))
        .unwrap_or_else(|| panic!("no report ConfigMap:\n{out}"));
    assert!(report.contains("kind: ConfigMap"), "{report}");
    assert!(
        report.contains("app.kubernetes.io/managed-by: pulse-harden"),
        "{report}"
    );
    assert!(report.contains("report.txt: |"), "{report}");
    assert!(
        report.contains("Deployment/(release namespace)/web-demo"),
        "{report}"
    );
    assert!(report.contains("patches/seccomp.yaml"), "{report}");
    // Without the parameter, no ConfigMap.
    let plain = repo.generated(&[("PARAM_PROFILE", "none")]);
    assert!(!plain.contains("web-hardening"));
    repo.generate_fails(
        &[("PARAM_REPORT_CONFIGMAP", "Not A Name")],
        &["a ConfigMap name is lower-case letters"],
    );
}

#[test]
fn generate_is_strict_when_asked() {
    let repo = Repo::new("argocd-strict", "helm");
    std::fs::write(
        repo.app.join("patches/nothing.yaml"),
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: jobs-only\n    select: {kind: CronJob}\n    mergePatch: {metadata: {labels: {a: b}}}\n",
    )
    .unwrap();
    let vars = [
        ("PARAM_PROFILE", "none"),
        ("PARAM_PATCHES_0", "patches/nothing.yaml"),
    ];
    repo.generated(&vars);
    let strict = [vars[0], vars[1], ("PARAM_STRICT", "true")];
    repo.generate_fails(
        &strict,
        &["step matched nothing", "pulse-harden failed (exit 1)"],
    );
    repo.generate_fails(
        &[("PARAM_STRICT", "yes")],
        &["strict parameter is true or false"],
    );
}

#[test]
fn generate_renders_with_argo_cds_context_and_hardens() {
    for helm in ["helm", "helm3"] {
        let repo = Repo::new(&format!("argocd-generate-{helm}"), helm);
        let out = repo.generated(&[
            ("PARAM_PROFILE", "none"),
            ("PARAM_PATCHES_0", "patches/seccomp.yaml"),
            ("PARAM_VALUES_FILES_0", "values-prod.yaml"),
        ]);
        let deployment = support::document_from(&out, "demo/templates/deployment.yaml");
        assert!(
            deployment.contains("seccompProfile:\n          type: RuntimeDefault"),
            "{helm}: not hardened:\n{out}"
        );
        assert!(deployment.contains("name: web-demo"), "{deployment}");
        assert!(deployment.contains("replicas: 3"), "{deployment}");
        let told = support::document_from(&out, "demo/templates/told.yaml");
        assert!(told.contains("namespace: \"prod\""), "{told}");
        assert!(told.contains("kubeVersion: \"v1.32.0\""), "{told}");
        assert!(told.contains("monitoring: \"true\""), "{told}");
    }
}

#[test]
fn generate_takes_settings_from_env_entries_and_parameters_win() {
    let repo = Repo::new("argocd-env", "helm");
    std::fs::write(repo.app.join("values-one.yaml"), "replicaCount: 5\n").unwrap();
    let out = repo.generated(&[
        ("ARGOCD_ENV_RELEASE_NAME", "other"),
        ("ARGOCD_ENV_PATCHES", "patches/seccomp.yaml"),
        (
            "ARGOCD_ENV_VALUES_FILES",
            "values-prod.yaml, values-one.yaml",
        ),
    ]);
    let deployment = support::document_from(&out, "demo/templates/deployment.yaml");
    assert!(deployment.contains("name: other-demo"), "{deployment}");
    assert!(deployment.contains("replicas: 5"), "{deployment}");
    assert!(deployment.contains("seccompProfile"), "{deployment}");

    let out = repo.generated(&[
        ("ARGOCD_ENV_RELEASE_NAME", "other"),
        ("PARAM_RELEASE_NAME", "param"),
    ]);
    assert!(out.contains("name: param-demo"), "{out}");
}

#[test]
fn generate_fails_loudly_and_prints_nothing() {
    let repo = Repo::new("argocd-fail", "helm");
    std::fs::write(repo.app.join("bad-values.yaml"), "replicaCount: [3\n").unwrap();
    std::fs::write(repo.app.join("patches/typo.yaml"), TYPO_PATCH).unwrap();
    std::os::unix::fs::symlink(
        repo.home.dir.join("repo/outside.yaml"),
        repo.app.join("patches/linked.yaml"),
    )
    .unwrap();

    repo.generate_fails(
        &[("PARAM_VALUES_FILES_0", "bad-values.yaml")],
        &["bad-values.yaml", "helm template failed"],
    );
    repo.generate_fails(
        &[("PARAM_PATCHES_0", "patches/typo.yaml")],
        &[
            "patches/typo.yaml:5:5: unknown field `targt`",
            "pulse-harden failed",
        ],
    );
    repo.generate_fails(
        &[("PARAM_RELEASE_NAME", "Not_A_Release!")],
        &["invalid release name Not_A_Release", "at most 53"],
    );
    repo.generate_fails(
        &[("PARAM_PROFILE", "no-such-profile")],
        &["unknown profile `no-such-profile`", "pulse-harden failed"],
    );
    // Patch files and values files stay inside the app directory.
    for escape in ["../../outside.yaml", "patches/linked.yaml"] {
        repo.generate_fails(
            &[("PARAM_PATCHES_0", escape)],
            &[escape, "outside the patch root", "pulse-harden failed"],
        );
    }
    repo.generate_fails(
        &[("PARAM_VALUES_FILES_0", "../../outside.yaml")],
        &["values file ../../outside.yaml is outside the app directory"],
    );
    repo.generate_fails(
        &[("ARGOCD_ENV_VALUES_FILES", "/etc/hostname")],
        &["values file /etc/hostname is outside the app directory"],
    );
    repo.generate_fails(
        &[("PARAM_VALUES_FILES_0", "https://example.com/values.yaml")],
        &["is not a file in the app directory"],
    );

    // A chart that renders nothing: empty output would make Argo CD prune the whole app.
    let templates = repo.app.join("templates");
    std::fs::remove_dir_all(&templates).unwrap();
    std::fs::create_dir_all(&templates).unwrap();
    repo.generate_fails(
        &[],
        &[
            "the input holds no resources",
            "refusing to write an empty stream",
            "pulse-harden failed (exit 2)",
        ],
    );
}

#[test]
fn the_sidecar_patch_applies_to_the_repo_server_with_real_kubectl() {
    let home = HelmHome::new("argocd-sidecar");
    let repo_server = home.write(
        "repo-server.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: argocd-repo-server\nspec:\n  selector: {matchLabels: {app: repo}}\n  template:\n    metadata: {labels: {app: repo}}\n    spec:\n      containers:\n        - {name: argocd-repo-server, image: quay.io/argoproj/argocd:v3.0.0}\n      volumes:\n        - {name: var-files, emptyDir: {}}\n        - {name: plugins, emptyDir: {}}\n",
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let kubectl = || {
        let mut cmd = Command::new(support::tool("kubectl"));
        home.isolate(&mut cmd);
        cmd
    };
    let patched = support::ok(
        kubectl()
            .args(["patch", "--local", "-o", "json", "-f"])
            .arg(&repo_server)
            .arg("--patch-file")
            .arg(root.join("argocd/sidecar.yaml")),
    );
    let patched: Value = serde_json::from_str(&patched).unwrap();
    let spec = &patched["spec"]["template"]["spec"];
    let sidecar = spec["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pulse-harden")
        .expect("no pulse-harden container");
    assert_eq!(sidecar["command"][0], "/var/run/argocd/argocd-cmp-server");
    assert_eq!(sidecar["securityContext"]["runAsUser"], 999);
    let mounts: Vec<&str> = sidecar["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    for path in [
        "/var/run/argocd",
        "/home/argocd/cmp-server/plugins",
        "/home/argocd/cmp-server/config/plugin.yaml",
        "/tmp",
    ] {
        assert!(mounts.contains(&path), "{path} not mounted: {mounts:?}");
    }
    assert_eq!(spec["containers"].as_array().unwrap().len(), 2);
    assert_eq!(spec["volumes"].as_array().unwrap().len(), 4);

    // The ConfigMap the README tells to create, from the plugin file as it is.
    let configmap = support::ok(
        kubectl()
            .args([
                "create",
                "configmap",
                "pulse-harden-cmp",
                "--dry-run=client",
                "-o",
                "json",
            ])
            .arg(format!(
                "--from-file=plugin.yaml={}",
                root.join("argocd/plugin.yaml").display()
            )),
    );
    let configmap: Value = serde_json::from_str(&configmap).unwrap();
    assert!(
        configmap["data"]["plugin.yaml"]
            .as_str()
            .unwrap()
            .contains("kind: ConfigManagementPlugin")
    );
}

#[test]
fn generate_hardens_the_seed_charts() {
    for &(chart, namespace, values) in support::SEED_CHARTS {
        let repo = Repo::seed(chart);
        let hardening = support::hardening_args();
        let (name, value) = match hardening[0].as_str() {
            "--profile" => ("PARAM_PROFILE", hardening[1].clone()),
            // The fallback patch was written into the app directory.
            _ => ("PARAM_PATCHES_0", "hardening.yaml".to_string()),
        };
        let out = repo.generated(&[
            (name, &value),
            ("PARAM_VALUES_FILES_0", values),
            ("PARAM_RELEASE_NAME", chart),
            ("ARGOCD_APP_NAMESPACE", namespace),
        ]);
        support::assert_workloads_hardened(&out);
        assert!(
            out.contains(&format!("# Source: {chart}/templates/")),
            "{chart}"
        );
    }
}

/// The Argo CD example of `pulse-harden --help`, run as it is written in an app directory:
/// it hardens, refuses an empty render, and uses what the shipped plugin uses.
#[test]
fn the_help_example_is_the_plugins_pipeline() {
    let help = support::ok(Command::new(support::pulse_harden_path()).arg("--help"));
    let start = help
        .find("  bash -c '")
        .expect("no Argo CD example in --help");
    let rest = &help[start + "  bash -c '".len()..];
    let script = &rest[..rest
        .find("'\n")
        .expect("the example's quote does not close")];
    let plugin = common::argocd::plugin_command("generate").join("\n");
    for part in [
        "set -euo pipefail",
        "--patch-root=",
        "--require-resources",
        "helm template",
        " -- ",
    ] {
        assert!(
            script.contains(part),
            "--help example lacks `{part}`:\n{script}"
        );
        assert!(plugin.contains(part), "plugin.yaml lacks `{part}`");
    }
    let repo = Repo::new("argocd-help-example", "helm");
    let run = |app: &Path| {
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(script);
        repo.home.isolate(&mut cmd);
        let path = std::env::join_paths(std::iter::once(repo.bin.clone()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        cmd.current_dir(app)
            .env("PATH", path)
            .env("TMPDIR", &repo.home.dir)
            .env("ARGOCD_APP_NAME", "web")
            .env("ARGOCD_APP_NAMESPACE", "prod")
            .output()
            .unwrap()
    };
    let out = run(&repo.app);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stream = String::from_utf8(out.stdout).unwrap();
    let deployment = support::document_from(&stream, "demo/templates/deployment.yaml");
    assert!(deployment.contains("seccompProfile"), "{deployment}");
    let templates = repo.app.join("templates");
    std::fs::remove_dir_all(&templates).unwrap();
    std::fs::create_dir_all(&templates).unwrap();
    let empty = run(&repo.app);
    assert!(!empty.status.success());
    assert!(empty.stdout.is_empty());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("the input holds no resources"));
}

/// `--report-configmap` outside Argo CD: the JSON report under `report.json`, a name taken
/// already is an error.
#[test]
fn the_report_configmap_takes_the_report_format_and_a_free_name() {
    let stream = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: taken\n";
    let out = common::harden(
        &[
            "--profile",
            "none",
            "--report-configmap",
            "r",
            "--report-format",
            "json",
        ],
        stream.as_bytes(),
    );
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.starts_with(&format!("{stream}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r\n  labels:\n    app.kubernetes.io/managed-by: pulse-harden\ndata:\n  report.json: ")),
        "{out}"
    );
    let run = common::feed(
        common::pulse_harden().args(["--profile", "none", "--report-configmap", "taken"]),
        stream.as_bytes(),
    );
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    assert_eq!(
        run.stderr,
        "pulse-harden: error: --report-configmap taken: ConfigMap/(release namespace)/taken in document 1 has that name already\n"
    );
}

/// `--strict` refuses an empty input too (exit 1), even with no step to match nothing.
#[test]
fn strict_refuses_an_empty_input() {
    for input in ["", "---\n# only a comment\n---\n"] {
        let run = common::feed(
            common::pulse_harden().args(["--profile", "none", "--strict"]),
            input.as_bytes(),
        );
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stdout.is_empty());
        assert_eq!(
            run.stderr,
            "pulse-harden: strict mode failed (1 problem):\n  the input holds no resources (did the chart render nothing?)\n"
        );
    }
}
