//! Generated documents through real Helm: `--profile ha` over `helm create`'s chart (three
//! replicas) as a Helm 4 post-renderer plugin and as a Helm 3 post-renderer binary. Helm must
//! accept the PodDisruptionBudget, file it with the Deployment's template, and a second run
//! over Helm's output must add nothing.

mod common;

use common::helm_home::{HelmHome, ok};

/// Runs `binary ARGS` (Helm 4 or 3) in the test's own Helm home; must succeed.
fn helm(home: &HelmHome, binary: &str, args: &[&str]) -> Vec<u8> {
    ok(home.helm(binary).args(args)).into_bytes()
}

/// `helm create demo` with three replicas.
fn chart(home: &HelmHome, binary: &str) {
    helm(home, binary, &["create", "demo"]);
    let values = home.dir.join("demo/values.yaml");
    let text = std::fs::read_to_string(&values).unwrap();
    assert!(text.contains("replicaCount: 1\n"));
    std::fs::write(
        &values,
        text.replace("replicaCount: 1\n", "replicaCount: 3\n"),
    )
    .unwrap();
}

/// Helm's output must hold exactly one budget, filed under the Deployment's template, and
/// must come back unchanged from a second run.
fn check(rendered: &[u8]) {
    let text = String::from_utf8_lossy(rendered);
    let budgets: Vec<&str> = text
        .split("\n---\n")
        .filter(|doc| doc.contains("kind: PodDisruptionBudget"))
        .collect();
    assert_eq!(budgets.len(), 1, "{text}");
    assert!(
        budgets[0]
            .trim_start_matches("---\n")
            .starts_with("# Source: demo/templates/deployment.yaml\napiVersion: policy/v1\n"),
        "{}",
        budgets[0]
    );
    assert!(budgets[0].contains("  name: demo-pdb\n"), "{}", budgets[0]);

    let again = common::harden(&["--profile", "ha"], rendered);
    assert_eq!(
        String::from_utf8_lossy(&again),
        text,
        "a second run changed Helm's output"
    );
}

#[test]
fn helm4_plugin_files_the_budget_with_its_deployment() {
    let home = HelmHome::new("generation-helm4");
    chart(&home, "helm");
    let plugin = home.dir.join("plugin");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::write(
        plugin.join("plugin.yaml"),
        format!(
            "apiVersion: v1\ntype: postrenderer/v1\nname: pulse-harden-test\nversion: 0.1.0\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: {}\n",
            env!("CARGO_BIN_EXE_pulse-harden")
        ),
    )
    .unwrap();
    helm(&home, "helm", &["plugin", "install", "plugin"]);
    let out = helm(
        &home,
        "helm",
        &[
            "template",
            "demo",
            "./demo",
            "--post-renderer",
            "pulse-harden-test",
            "--post-renderer-args",
            "--profile",
            "--post-renderer-args",
            "ha",
        ],
    );
    // Helm 4 reads and removes the filename annotation; it must not be left behind.
    let text = String::from_utf8_lossy(&out);
    assert!(
        !text.contains("postrenderer.helm.sh/postrender-filename"),
        "{text}"
    );
    check(&out);
}

#[test]
fn helm3_post_renderer_keeps_the_source_header() {
    let home = HelmHome::new("generation-helm3");
    chart(&home, "helm3");
    let out = helm(
        &home,
        "helm3",
        &[
            "template",
            "demo",
            "./demo",
            "--post-renderer",
            env!("CARGO_BIN_EXE_pulse-harden"),
            "--post-renderer-args",
            "--profile",
            "--post-renderer-args",
            "ha",
        ],
    );
    check(&out);
}
