//! Shared by the real-helm tests (Helm 4 plugin, Helm 3 post-renderer, Argo CD plugin): the
//! real binaries, isolated Helm homes, temp dirs, and a small hardening patch.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A real tool from `.tools/bin` (`make tools` fetches them).
pub fn tool(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/bin")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `make tools` to fetch the real Helm 3/4 binaries",
        path.display()
    );
    path
}

pub fn pulse_harden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pulse-harden"))
}

/// A fresh, empty directory for one test, under `target/tmp` (a fixed name, so reruns reuse
/// the space instead of filling /tmp).
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Helm's config, data and cache homes, private to one test.
pub struct HelmHome {
    pub dir: PathBuf,
}

impl HelmHome {
    pub fn new(name: &str) -> Self {
        Self {
            dir: temp_dir(name),
        }
    }

    pub fn cache(&self) -> PathBuf {
        self.dir.join("cache")
    }

    /// `helm` (or `helm3`) with only this home: no plugins, repositories or settings of the
    /// machine, no `PULSE_HARDEN_*` settings of the caller.
    pub fn helm(&self, binary: &str) -> Command {
        let mut cmd = Command::new(tool(binary));
        self.isolate(&mut cmd);
        cmd.current_dir(&self.dir);
        cmd
    }

    pub fn isolate(&self, cmd: &mut Command) {
        cmd.env("HELM_CONFIG_HOME", self.dir.join("config"))
            .env("HELM_DATA_HOME", self.dir.join("data"))
            .env("HELM_CACHE_HOME", self.cache())
            // No cluster of the machine's: a test that needs one writes this file.
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            .env_remove("HELM_PLUGINS")
            .env_remove("HELM_PLUGIN_NAME")
            .env_remove("HELM_PLUGIN_DIR")
            .env_remove("HELM_DEBUG")
            .env_remove("PULSE_HARDEN_PATCHES")
            .env_remove("PULSE_HARDEN_PROFILE")
            .env_remove("PULSE_HARDEN_PATCH_ROOT")
            .stdin(Stdio::null());
    }

    /// `helm create`'s scaffold chart, named `demo`, in this home's directory.
    pub fn scaffold_chart(&self, binary: &str) -> PathBuf {
        ok(self.helm(binary).args(["create", "demo"]));
        self.dir.join("demo")
    }

    /// A `PATH` directory with only what plugin.yaml's install hook needs (sh, sed, cat): no
    /// cargo, as on a machine without Rust.
    pub fn path_without_cargo(&self) -> PathBuf {
        let dir = self.dir.join("no-cargo-bin");
        if !dir.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            for tool in ["sh", "sed", "cat"] {
                let found = ok(Command::new("sh").args(["-c", &format!("command -v {tool}")]));
                std::os::unix::fs::symlink(found.trim(), dir.join(tool)).unwrap();
            }
        }
        dir
    }

    /// Writes a file into this home's directory and returns its absolute path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Runs the command, asserts success, returns stdout.
pub fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the command, asserts failure, returns its output.
pub fn fails(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success(),
        "{cmd:?} should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// Hardening of our own, until the shipped profiles land: a seccomp profile on every pod.
pub const SECCOMP_PATCH: &str = "\
apiVersion: pulse-harden/v1
kind: PatchSet
steps:
  - name: seccomp
    target: podSpec
    mergePatch:
      securityContext:
        seccompProfile: {type: RuntimeDefault}
";

/// A patch file with a typo (`targt`) on line 5, column 5.
pub const TYPO_PATCH: &str = "\
apiVersion: pulse-harden/v1
kind: PatchSet
steps:
  - name: seccomp
    targt: podSpec
    mergePatch: {}
";

/// The documents of a stream, each with the `# Source:` line above it (if any).
pub fn documents(stream: &str) -> Vec<(Option<String>, String)> {
    stream
        .split("\n---\n")
        .map(|doc| {
            let source = doc
                .lines()
                .find_map(|l| l.strip_prefix("# Source: "))
                .map(str::to_string);
            (source, doc.to_string())
        })
        .collect()
}

/// The document of the stream that came from this template.
pub fn document_from(stream: &str, source: &str) -> String {
    documents(stream)
        .into_iter()
        .find(|(s, _)| s.as_deref() == Some(source))
        .unwrap_or_else(|| panic!("no document from {source} in:\n{stream}"))
        .1
}

/// How the tests ask for hardening: the shipped `restricted` profile.
pub fn hardening_args() -> Vec<String> {
    vec!["--profile".into(), "restricted".into()]
}

/// The seed charts (`tests/charts/`): name, release namespace, values file.
pub const SEED_CHARTS: &[(&str, &str, &str)] = &[
    ("pulse-os", "apps", "values-full.yaml"),
    ("health-api", "health-api", "values-production.yaml"),
    ("etl-engine", "health-etl", "values-production.yaml"),
];

pub fn seed_chart(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/charts")
        .join(name)
}

/// Asserts that every workload's pod spec (Pods aside: Helm 3 never post-renders its hook
/// Pods) has a RuntimeDefault seccomp profile; returns how many workloads there were.
pub fn assert_workloads_hardened(stream: &str) -> usize {
    let parsed = pulse_harden::stream::read(stream.as_bytes()).unwrap();
    let mut workloads = 0;
    for manifest in &parsed.manifests {
        let Some(value) = &manifest.value else {
            continue;
        };
        let pointer = match value["kind"].as_str() {
            Some("Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job") => {
                "/spec/template/spec"
            }
            Some("CronJob") => "/spec/jobTemplate/spec/template/spec",
            _ => continue,
        };
        workloads += 1;
        let seccomp = value
            .pointer(&format!("{pointer}/securityContext/seccompProfile/type"))
            .and_then(serde_json::Value::as_str);
        assert_eq!(
            seccomp,
            Some("RuntimeDefault"),
            "{} {} not hardened:\n{stream}",
            value["kind"],
            value["metadata"]["name"]
        );
    }
    assert!(workloads > 0, "no workloads in:\n{stream}");
    workloads
}

/// Copies a directory tree (a chart into an app repository).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
