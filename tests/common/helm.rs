//! Runs the real Helm binaries from `.tools/bin` with isolated config, data and cache homes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `helm` is Helm 4, `helm3` is Helm 3; both live in `.tools/bin` (`make tools`).
pub fn binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/bin")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `make tools` to fetch the real Helm binaries",
        path.display()
    );
    path
}

/// `helm template RELEASE CHART -n NAMESPACE [-f VALUES]...` with a fresh HELM_*_HOME, so no
/// repository, plugin or setting of the machine leaks in. Panics with Helm's stderr on failure.
pub fn template(
    helm: &str,
    release: &str,
    chart: &Path,
    namespace: &str,
    values: &[PathBuf],
) -> Vec<u8> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let home = std::env::temp_dir().join(format!(
        "pulse-harden-helm-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let mut cmd = Command::new(binary(helm));
    cmd.args(["template", release])
        .arg(chart)
        .args(["--namespace", namespace])
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env_remove("HELM_PLUGINS");
    for file in values {
        cmd.arg("--values").arg(file);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {helm}: {e}"));
    let _ = std::fs::remove_dir_all(&home);
    assert!(
        out.status.success(),
        "{helm} template {release} {} failed:\n{}",
        chart.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
