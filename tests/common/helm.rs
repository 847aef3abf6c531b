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

/// Runs `helm ARGS...` with a fresh HELM_*_HOME, so no repository, plugin or setting of the
/// machine leaks in, and returns its stdout. Panics with Helm's stderr on failure.
pub fn run(helm: &str, args: &[&std::ffi::OsStr]) -> Vec<u8> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let home = std::env::temp_dir().join(format!(
        "pulse-harden-helm-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let out = Command::new(binary(helm))
        .args(args)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env_remove("HELM_PLUGINS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {helm}: {e}"));
    let _ = std::fs::remove_dir_all(&home);
    assert!(
        out.status.success(),
        "{helm} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `helm template RELEASE CHART --namespace NAMESPACE [--values FILE]...`.
pub fn template(
    helm: &str,
    release: &str,
    chart: &Path,
    namespace: &str,
    values: &[PathBuf],
) -> Vec<u8> {
    let mut args = vec![
        "template".as_ref(),
        release.as_ref(),
        chart.as_os_str(),
        "--namespace".as_ref(),
        namespace.as_ref(),
    ];
    for file in values {
        args.push("--values".as_ref());
        args.push(file.as_os_str());
    }
    run(helm, &args)
}

/// `helm create NAME` inside `parent`: Helm's own scaffold chart, at `parent/NAME`.
pub fn create(helm: &str, parent: &Path, name: &str) -> PathBuf {
    let chart = parent.join(name);
    run(helm, &["create".as_ref(), chart.as_os_str()]);
    chart
}
