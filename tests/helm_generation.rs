//! Generated documents through real Helm: `--profile ha` over `helm create`'s chart (three
//! replicas) as a Helm 4 post-renderer plugin and as a Helm 3 post-renderer binary. Helm must
//! accept the PodDisruptionBudget, file it with the Deployment's template, and a second run
//! over Helm's output must add nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tool(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `make tools` first",
        path.display()
    );
    path
}

/// A scratch directory with Helm's own homes in it, so no user configuration leaks in.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("pulse-harden-helm-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn helm(&self, binary: &str, args: &[&str]) -> Output {
        let out = Command::new(tool(binary))
            .args(args)
            .current_dir(&self.0)
            .env("HELM_CONFIG_HOME", self.0.join("config"))
            .env("HELM_DATA_HOME", self.0.join("data"))
            .env("HELM_CACHE_HOME", self.0.join("cache"))
            .env_remove("HELM_PLUGINS")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{binary} {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `helm create demo` with three replicas.
    fn chart(&self, binary: &str) {
        self.helm(binary, &["create", "demo"]);
        let values = self.0.join("demo/values.yaml");
        let text = std::fs::read_to_string(&values).unwrap();
        assert!(text.contains("replicaCount: 1\n"));
        std::fs::write(
            &values,
            text.replace("replicaCount: 1\n", "replicaCount: 3\n"),
        )
        .unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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

    let mut again = Command::new(env!("CARGO_BIN_EXE_pulse-harden"))
        .args(["--profile", "ha"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        again.stdin.take().unwrap().write_all(rendered).unwrap();
    }
    let again = again.wait_with_output().unwrap();
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        text,
        "a second run changed Helm's output"
    );
}

#[test]
fn helm4_plugin_files_the_budget_with_its_deployment() {
    let scratch = Scratch::new("v4");
    scratch.chart("helm");
    let plugin = scratch.0.join("plugin");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::write(
        plugin.join("plugin.yaml"),
        format!(
            "apiVersion: v1\ntype: postrenderer/v1\nname: pulse-harden-test\nversion: 0.1.0\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: {}\n",
            env!("CARGO_BIN_EXE_pulse-harden")
        ),
    )
    .unwrap();
    scratch.helm("helm", &["plugin", "install", "plugin"]);
    let out = scratch.helm(
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
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("postrenderer.helm.sh/postrender-filename"),
        "{text}"
    );
    check(&out.stdout);
}

#[test]
fn helm3_post_renderer_keeps_the_source_header() {
    let scratch = Scratch::new("v3");
    scratch.chart("helm3");
    let out = scratch.helm(
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
    check(&out.stdout);
}
