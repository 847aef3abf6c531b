//! Runs the real Helm binaries from `.tools/bin` with isolated config, data and cache homes.

use super::helm_home::HelmHome;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `helm ARGS...` (`helm` is Helm 4, `helm3` Helm 3) with fresh Helm homes, so no
/// repository, plugin or setting of the machine leaks in, and returns its stdout. Panics with
/// Helm's stderr on failure.
pub fn run(helm: &str, args: &[&std::ffi::OsStr]) -> Vec<u8> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let home = HelmHome::new(&format!(
        "helm-run-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let out = home
        .helm(helm)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {helm}: {e}"));
    let _ = std::fs::remove_dir_all(&home.dir);
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
