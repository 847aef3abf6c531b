//! The Argo CD config management plugin (`argocd/plugin.yaml`) run the way the CMP server
//! runs it: the `discover` and `generate` commands and args read from the YAML, the app
//! directory as working directory, the sidecar's environment plus Argo CD's build environment,
//! `PARAM_*` and `ARGOCD_ENV_*` — with the real helm and pulse-harden on PATH.

use super::helm_home::{self as support, HelmHome, SECCOMP_PATCH};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A command of the plugin spec: `command` followed by `args`, as the CMP server joins them.
pub fn plugin_command(pointer: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("argocd/plugin.yaml"))
            .unwrap();
    let plugin: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(plugin["kind"], "ConfigManagementPlugin");
    let spec = &plugin["spec"][pointer];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let (command, args) = if pointer == "discover" {
        (&spec["find"]["command"], &spec["find"]["args"])
    } else {
        (&spec["command"], &spec["args"])
    };
    let mut all = strings(command);
    all.extend(strings(args));
    assert!(
        !all.is_empty(),
        "no {pointer} command in argocd/plugin.yaml"
    );
    all
}

/// A repository checkout as the sidecar receives it: `apps/demo` is a chart (helm create's
/// scaffold plus a template that shows what Helm was told), with files outside the app
/// directory that it must not reach.
pub struct Repo {
    pub home: HelmHome,
    pub bin: PathBuf,
    pub app: PathBuf,
}

impl Repo {
    /// A sidecar with `helm` (Helm 4's `helm` or Helm 3's `helm3`) and pulse-harden on PATH.
    pub fn sidecar(name: &str, helm: &str) -> (HelmHome, PathBuf) {
        let home = HelmHome::new(name);
        let bin = home.dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(support::tool(helm), bin.join("helm")).unwrap();
        std::os::unix::fs::symlink(support::pulse_harden_path(), bin.join("pulse-harden")).unwrap();
        (home, bin)
    }

    /// A seed chart from `tests/charts/` as the app.
    pub fn seed(chart: &str) -> Self {
        let (home, bin) = Self::sidecar(&format!("argocd-seed-{chart}"), "helm");
        let app = home.dir.join("repo/apps").join(chart);
        support::copy_dir(&support::seed_chart(chart), &app);
        Repo { home, bin, app }
    }

    pub fn new(name: &str, helm: &str) -> Self {
        let (home, bin) = Self::sidecar(name, helm);
        let chart = home.scaffold_chart(helm);
        let app = home.dir.join("repo/apps/demo");
        std::fs::create_dir_all(app.parent().unwrap()).unwrap();
        std::fs::rename(chart, &app).unwrap();
        std::fs::write(
            app.join("templates/told.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: told\ndata:\n  namespace: {{ .Release.Namespace | quote }}\n  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}\n  monitoring: {{ .Capabilities.APIVersions.Has \"monitoring.coreos.com/v1\" | quote }}\n",
        )
        .unwrap();
        std::fs::create_dir_all(app.join("patches")).unwrap();
        std::fs::write(app.join("patches/seccomp.yaml"), SECCOMP_PATCH).unwrap();
        std::fs::write(app.join("values-prod.yaml"), "replicaCount: 3\n").unwrap();
        std::fs::write(home.dir.join("repo/outside.yaml"), SECCOMP_PATCH).unwrap();
        Repo { home, bin, app }
    }

    /// Runs a plugin command in `dir` with the sidecar's environment (PATH, HOME, Helm's
    /// homes), Argo CD's build environment and these extra variables.
    pub fn run(&self, which: &str, dir: &Path, vars: &[(&str, &str)]) -> Output {
        let argv = plugin_command(which);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).env_clear();
        self.home.isolate(&mut cmd);
        let system_path = std::env::var_os("PATH").unwrap_or_default();
        let mut path = vec![self.bin.clone()];
        path.extend(std::env::split_paths(&system_path));
        cmd.current_dir(dir)
            .env("PATH", std::env::join_paths(path).unwrap())
            .env("HOME", &self.home.dir)
            .env("TMPDIR", &self.home.dir)
            .env("ARGOCD_APP_NAME", "web")
            .env("ARGOCD_APP_NAMESPACE", "prod")
            .env("ARGOCD_APP_SOURCE_PATH", "apps/demo")
            .env("KUBE_VERSION", "1.32.0")
            .env(
                "KUBE_API_VERSIONS",
                "v1,apps/v1,policy/v1,monitoring.coreos.com/v1",
            )
            .envs(vars.iter().copied());
        cmd.output().unwrap()
    }

    pub fn generate(&self, vars: &[(&str, &str)]) -> Output {
        self.run("generate", &self.app, vars)
    }

    pub fn generated(&self, vars: &[(&str, &str)]) -> String {
        let out = self.generate(vars);
        assert!(
            out.status.success(),
            "generate failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Asserts that generate fails, prints nothing, and says `why` on stderr.
    pub fn generate_fails(&self, vars: &[(&str, &str)], why: &[&str]) {
        let out = self.generate(vars);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "should fail: {vars:?}");
        assert!(
            out.stdout.is_empty(),
            "printed a stream although it failed: {vars:?}\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        for part in why {
            assert!(
                stderr.contains(part),
                "{vars:?}: `{part}` not in:\n{stderr}"
            );
        }
        // The temporary stream is cleaned up.
        let leftovers: Vec<_> = std::fs::read_dir(&self.home.dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("pulse-harden-plugin")
            })
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
