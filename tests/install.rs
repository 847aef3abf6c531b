//! Installing pulse-harden the ways Helm users do, with the real Helm 4.1.4 and Helm 3.17.1 in
//! throw-away Helm homes: `helm plugin install <checkout>` (plugin.yaml's install hook builds
//! the binary with cargo, or fails saying what to do), and `make install-plugin` on a machine
//! where a Helm 3 shares the plugin directory (refused; the README's steps keep Helm 3's
//! plugins loading).
//!
//! The builds here are real `cargo build --release` runs of a fresh checkout, made affordable:
//! one build directory kept across runs (`CARGO_TARGET_DIR`, which the hook and the Makefile
//! honour) and the release profile without LTO and optimisation (`CARGO_PROFILE_RELEASE_*`),
//! so a run recompiles only pulse-harden itself.

mod common;
use common::helm_home as support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use support::{HelmHome, fails, ok, temp_dir};

const HELM4: &str = "helm";
const HELM3: &str = "helm3";

/// The repository's files as a fresh clone of the working tree has them: tracked and new
/// files, nothing ignored (no `target/`, no `bin/`, no `dist/`).
fn checkout(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = temp_dir(name).join("pulse-harden");
    let listed = ok(Command::new("git").current_dir(root).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]));
    for file in listed.split('\0').filter(|f| !f.is_empty()) {
        let from = root.join(file);
        // Deleted in the working tree but not yet in the index.
        if !from.is_file() {
            continue;
        }
        let to = dir.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    assert!(dir.join("plugin.yaml").is_file());
    assert!(!dir.join("bin").exists());
    dir
}

/// One checkout for the `make` runs, so they share one build of it.
fn make_checkout() -> &'static Path {
    static CHECKOUT: OnceLock<PathBuf> = OnceLock::new();
    CHECKOUT.get_or_init(|| checkout("install-make-checkout"))
}

/// A real release build, cheaper: a kept build directory, no LTO, no optimisation.
fn with_cheap_release_build(cmd: &mut Command) -> &mut Command {
    cmd.env(
        "CARGO_TARGET_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("install-build"),
    )
    .env("CARGO_PROFILE_RELEASE_LTO", "false")
    .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
    .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `helm create`'s chart through the installed plugin, with the default profile.
fn assert_plugin_hardens(home: &HelmHome, helm4: &mut dyn FnMut() -> Command) {
    home.scaffold_chart(HELM4);
    let rendered = ok(helm4().args(["template", "r", "demo", "--post-renderer", "pulse-harden"]));
    support::assert_workloads_hardened(&rendered);
}

#[test]
fn helm_plugin_install_of_a_checkout_builds_the_binary() {
    let checkout = checkout("install-checkout");
    let home = HelmHome::new("install-hook");
    let out = with_cheap_release_build(home.helm(HELM4).args(["plugin", "install"]).arg(&checkout))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The hook's progress reaches the user (Helm passes its stderr through).
    assert!(
        stderr(&out).contains("pulse-harden: building bin/pulse-harden from "),
        "{}",
        stderr(&out)
    );
    assert!(checkout.join("bin/pulse-harden").is_file());
    let listed = ok(home.helm(HELM4).args(["plugin", "list"]));
    assert!(listed.contains("postrenderer/v1"), "{listed}");
    assert_plugin_hardens(&home, &mut || home.helm(HELM4));
}

/// `helm plugin install <git URL>`: Helm clones the repository and copies it into its plugin
/// directory; the hook builds the binary there.
#[test]
fn helm_plugin_install_of_a_git_url_builds_the_binary() {
    let repository = checkout("install-git");
    let git = |args: &[&str]| {
        ok(Command::new("git")
            .current_dir(&repository)
            .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
            .args(args))
    };
    git(&["init", "--quiet"]);
    git(&["add", "--all"]);
    git(&["commit", "--quiet", "--message", "a release"]);
    let home = HelmHome::new("install-git-home");
    let url = format!("file://{}", repository.display());
    let out = with_cheap_release_build(home.helm(HELM4).args([
        "plugin",
        "install",
        &url,
        "--verify=false",
    ]))
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let installed = home.dir.join("data/plugins/pulse-harden/bin/pulse-harden");
    assert!(installed.is_file(), "{}", stderr(&out));
    assert!(!repository.join("bin").exists());
    assert_plugin_hardens(&home, &mut || home.helm(HELM4));
}

#[test]
fn without_cargo_the_install_fails_saying_what_to_do() {
    let checkout = checkout("install-no-cargo");
    let home = HelmHome::new("install-no-cargo-home");
    let path = home.path_without_cargo();
    let out = fails(
        home.helm(HELM4)
            .env("PATH", &path)
            .args(["plugin", "install"])
            .arg(&checkout),
    );
    let message = format!(
        "pulse-harden: cannot build bin/pulse-harden: this is a source checkout, and cargo (Rust)
  is not on PATH. Helm keeps the plugin registered without its binary, so first:
      helm plugin uninstall pulse-harden
  then either install Rust (https://rustup.rs) and run `helm plugin install` again,
  or install a packaged release, which holds the binary and needs no cargo:
      helm plugin install pulse-harden-{}.tgz --verify=false
  (`make plugin-package` on a machine with cargo makes one; `make install-plugin`
  builds and installs in one step).
Error: plugin install hook for \"pulse-harden\" exited with error
",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(stderr(&out), message);
    // What the message says to do first works.
    ok(home
        .helm(HELM4)
        .args(["plugin", "uninstall", "pulse-harden"]));
}

/// A Helm 3 plugin (the legacy manifest Helm 3 reads), installed with Helm 3.
fn install_helm3_plugin(home: &HelmHome) {
    let dir = home.dir.join("hello");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("plugin.yaml"),
        "name: hello\nversion: 0.1.0\nusage: says hello\ndescription: a Helm 3 plugin\ncommand: echo hello from a Helm 3 plugin\n",
    )
    .unwrap();
    ok(home.helm(HELM3).args(["plugin", "install"]).arg(&dir));
}

fn helm3_plugins_load(home: &HelmHome) -> Result<String, String> {
    let out = home.helm(HELM3).arg("hello").output().unwrap();
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        false => Err(stderr(&out)),
    }
}

/// `make install-plugin` with Helm 4 as `HELM` and Helm 3 on `PATH` as `helm3`.
fn make_install_plugin(home: &HelmHome, checkout: &Path, path: &Path) -> Command {
    let mut make = Command::new("make");
    home.isolate(&mut make);
    let tools = support::tool(HELM3);
    let path = std::env::join_paths(
        [path.to_path_buf(), tools.parent().unwrap().to_path_buf()]
            .into_iter()
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    make.env("PATH", path)
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("MFLAGS")
        .arg("-C")
        .arg(checkout)
        .arg("install-plugin")
        .arg(format!("HELM={}", support::tool(HELM4).display()));
    make
}

#[test]
fn install_plugin_refuses_a_plugin_directory_helm3_shares() {
    let home = HelmHome::new("install-shared");
    install_helm3_plugin(&home);
    let checkout = checkout("install-shared-checkout");
    let out = fails(&mut make_install_plugin(&home, &checkout, &home.dir));
    let plugins = home.dir.join("data/plugins");
    let expected = format!(
        "make install-plugin: refusing to install into {}:
  Helm 3 ({}, v3.17.1+g980d8ac) loads its plugins from there too, and one Helm 4 plugin.yaml
  such as pulse-harden's stops every Helm 3 plugin from loading.
  Give Helm 4 its own data directory, and run Helm 4 with it:
      make install-plugin HELM4_DATA_HOME=$HOME/.local/share/helm4
      alias helm4='HELM_DATA_HOME=$HOME/.local/share/helm4 helm4'   # your Helm 4 command
  or use Helm 3 with pulse-harden on PATH, no plugin: make install
",
        plugins.display(),
        support::tool(HELM3).display()
    );
    assert!(stderr(&out).starts_with(&expected), "{}", stderr(&out));
    // Refused before building or installing anything.
    assert!(!checkout.join("dist").exists());
    assert!(!plugins.join("pulse-harden").exists());
    assert_eq!(
        helm3_plugins_load(&home).as_deref(),
        Ok("hello from a Helm 3 plugin\n")
    );

    // What the check prevents: the same install without it breaks every Helm 3 plugin.
    let layout = home.dir.join("layout/pulse-harden");
    std::fs::create_dir_all(layout.join("bin")).unwrap();
    std::fs::copy(checkout.join("plugin.yaml"), layout.join("plugin.yaml")).unwrap();
    std::fs::copy(
        support::pulse_harden_path(),
        layout.join("bin/pulse-harden"),
    )
    .unwrap();
    ok(home.helm(HELM4).args(["plugin", "install"]).arg(&layout));
    let broken = helm3_plugins_load(&home).unwrap_err();
    assert!(broken.contains("failed to load plugins"), "{broken}");
}

/// The README's Helm 4 install steps on a machine with Helm 3: Helm 4 gets its own data
/// directory, and Helm 3's plugins still load.
#[test]
fn readme_install_steps_keep_helm3_plugins_loading() {
    let home = HelmHome::new("install-readme");
    install_helm3_plugin(&home);
    let checkout = make_checkout();
    let helm4_data = home.dir.join("helm4");
    let out = with_cheap_release_build(
        make_install_plugin(&home, checkout, &home.dir)
            .arg(format!("HELM4_DATA_HOME={}", helm4_data.display())),
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(helm4_data.join("plugins/pulse-harden").exists());
    assert_eq!(
        helm3_plugins_load(&home).as_deref(),
        Ok("hello from a Helm 3 plugin\n")
    );
    let listed = ok(home.helm(HELM3).args(["plugin", "list"]));
    assert!(
        listed.contains("hello") && !listed.contains("pulse-harden"),
        "{listed}"
    );
    // Helm 4, run as the README says (HELM_DATA_HOME=...), has the plugin.
    assert_plugin_hardens(&home, &mut || {
        let mut helm4 = home.helm(HELM4);
        helm4.env("HELM_DATA_HOME", &helm4_data);
        helm4
    });
}

/// `make example > out.yaml` is YAML: make echoes no command, cargo talks on stderr.
#[test]
fn make_example_writes_only_yaml_to_stdout() {
    let mut make = Command::new("make");
    make.env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("MFLAGS")
        .current_dir(make_checkout())
        .arg("example");
    let out = with_cheap_release_build(&mut make).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stream = pulse_harden::stream::read(&out.stdout)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", String::from_utf8_lossy(&out.stdout)));
    let first = stream.manifests[0].value.as_ref().unwrap();
    assert!(first.get("apiVersion").is_some(), "{first}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("cargo") && !stdout.contains("pulse-harden -p"),
        "{stdout}"
    );
}

/// `make test` on a machine that lacks something fails first, before fetching or building
/// anything, and says what is missing and why.
#[test]
fn make_test_names_what_is_missing_before_doing_anything() {
    let missing = temp_dir("install-no-shared").join("shared");
    let mut make = Command::new("make");
    let out = fails(
        make.env_remove("MAKEFLAGS")
            .env_remove("MAKELEVEL")
            .env_remove("MFLAGS")
            .current_dir(make_checkout())
            .arg("test")
            .arg(format!("SHARED={}", missing.display())),
    );
    let expected = format!(
        "make test: cannot run, nothing was fetched or built. Missing:
  - {}: the shared directory beside this checkout (real chart renders in corpus/, the goyaml oracle's source in tools/goyaml-oracle/); put it there (the tests read ../shared/corpus)
The README's Development section says what `make test` fetches and where.
",
        missing.display()
    );
    assert!(stderr(&out).starts_with(&expected), "{}", stderr(&out));
    // Not even the lint ran.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
