//! Real charts for tests: the rendered charts of `../shared/corpus/` and `helm create`'s
//! scaffold rendered by the real Helm 4.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Every chart of `../shared/corpus/`, by file stem, in name order.
pub fn charts() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("missing corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, std::fs::read(p).unwrap())
        })
        .collect()
}

/// [`charts`], then `helm-create`: the scaffold as `helm create` writes it.
pub fn charts_and_scaffold() -> Vec<(String, Vec<u8>)> {
    let mut charts = charts();
    charts.push(("helm-create".into(), helm_create("scaffold", &[])));
    charts
}

/// `helm create CHART` + `helm template demo ./CHART` (namespace `demo`, Kubernetes 1.32)
/// with extra `helm template` arguments (`--set ...`), in a fresh directory with isolated Helm
/// homes.
pub fn helm_create(chart: &str, extra: &[&str]) -> Vec<u8> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let dir = super::helm_home::temp_dir(&format!(
        "scaffold-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let chart = super::helm::create("helm", &dir, chart);
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "template".as_ref(),
        "demo".as_ref(),
        chart.as_os_str(),
        "--namespace".as_ref(),
        "demo".as_ref(),
        "--kube-version".as_ref(),
        "1.32.0".as_ref(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let rendered = super::helm::run("helm", &args);
    let _ = std::fs::remove_dir_all(&dir);
    rendered
}
