//! Input and output plumbing: `-f`, `-o` (atomic), settings from the environment, `--help`.

use std::process::{Command, Stdio};

mod common;

fn bin() -> Command {
    common::pulse_harden()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pulse-harden-io-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const STREAM: &str = "---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: \"yes\"\n";
const PATCH: &str = "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: label\n    mergePatch: {metadata: {labels: {team: platform}}}\n";
const PATCHED: &str = "---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels:\n    team: platform\ndata:\n  a: \"yes\"\n";

#[test]
fn reads_a_file_and_writes_another_atomically() {
    let dir = temp_dir("files");
    std::fs::write(dir.join("in.yaml"), STREAM).unwrap();
    std::fs::write(dir.join("p.yaml"), PATCH).unwrap();
    std::fs::write(dir.join("out.yaml"), "old content").unwrap();
    let out = bin()
        .current_dir(&dir)
        .args(["-p", "p.yaml", "-f", "in.yaml", "-o", "out.yaml"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(dir.join("out.yaml")).unwrap(),
        PATCHED
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        3,
        "temporary files left behind: {leftovers:?}"
    );
}

#[test]
fn a_failed_run_leaves_the_output_file_alone() {
    let dir = temp_dir("fail");
    std::fs::write(dir.join("in.yaml"), "a: [1, 2\n").unwrap();
    std::fs::write(dir.join("out.yaml"), "old content").unwrap();
    let out = bin()
        .current_dir(&dir)
        .args(["--profile", "none", "-f", "in.yaml", "-o", "out.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.join("out.yaml")).unwrap(),
        "old content"
    );
}

/// A Deployment none of the profiles has touched.
const WORKLOAD: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - {name: web, image: web:1}\n";

/// Runs the binary in `dir` with `args`, the environment `env` and `input` on stdin; it must
/// succeed. Returns stdout.
fn harden_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)], input: &str) -> String {
    let mut cmd = bin();
    cmd.current_dir(dir).args(args).envs(env.iter().copied());
    let run = common::feed(&mut cmd, input.as_bytes());
    assert_eq!(run.code, 0, "{args:?} {env:?}: {}", run.stderr);
    String::from_utf8(run.stdout).unwrap()
}

const SECCOMP: &str = "seccompProfile:\n          type: RuntimeDefault";
const SPREAD: &str = "topologySpreadConstraints:";

#[test]
fn patches_and_profiles_from_the_environment() {
    let dir = temp_dir("env");
    std::fs::write(dir.join("a.yaml"), PATCH).unwrap();
    std::fs::write(
        dir.join("b.yaml"),
        PATCH
            .replace("name: label", "name: other")
            .replace("team: platform", "tier: web"),
    )
    .unwrap();
    let patches = ("PULSE_HARDEN_PATCHES", "a.yaml:b.yaml");
    // Both patch files, in order, and the profile named in the environment.
    let out = harden_in(
        &dir,
        &[],
        &[patches, ("PULSE_HARDEN_PROFILE", "restricted")],
        WORKLOAD,
    );
    assert!(
        out.contains("  labels:\n    team: platform\n    tier: web\n"),
        "{out}"
    );
    assert!(
        out.contains(SECCOMP),
        "the profile from the environment did not apply:\n{out}"
    );
    // `none` from the environment: the patch files alone.
    let out = harden_in(
        &dir,
        &[],
        &[patches, ("PULSE_HARDEN_PROFILE", "none")],
        WORKLOAD,
    );
    assert!(out.contains("tier: web") && !out.contains(SECCOMP), "{out}");
    // The profile alone replaces the default (restricted); a list is split at commas.
    let out = harden_in(&dir, &[], &[("PULSE_HARDEN_PROFILE", "ha")], WORKLOAD);
    assert!(out.contains(SPREAD) && !out.contains(SECCOMP), "{out}");
    let out = harden_in(
        &dir,
        &[],
        &[("PULSE_HARDEN_PROFILE", "restricted,ha")],
        WORKLOAD,
    );
    assert!(out.contains(SPREAD) && out.contains(SECCOMP), "{out}");
}

#[test]
fn the_restricted_profile_applies_when_no_steps_are_given() {
    let dir = temp_dir("default");
    let out = harden_in(&dir, &[], &[], WORKLOAD);
    assert!(out.contains(SECCOMP), "{out}");
    // The image's user is unknown: runAsNonRoot could stop the pod, so it is left out...
    assert!(!out.contains("runAsNonRoot"), "{out}");
    // ... and set where the container runs as a numeric non-root user.
    let with_user = WORKLOAD.replace(
        "image: web:1}",
        "image: web:1, securityContext: {runAsUser: 1000}}",
    );
    let safe = harden_in(&dir, &[], &[], &with_user);
    assert!(safe.contains("runAsNonRoot: true"), "{safe}");
    assert!(
        out.contains("allowPrivilegeEscalation: false") && out.contains("- ALL"),
        "{out}"
    );
    assert!(!out.contains(SPREAD), "only the default profile:\n{out}");
    assert_eq!(
        harden_in(&dir, &["--profile", "none"], &[], WORKLOAD),
        WORKLOAD
    );
    // A patch file alone replaces the default.
    std::fs::write(dir.join("p.yaml"), PATCH).unwrap();
    let out = harden_in(&dir, &["-p", "p.yaml"], &[], WORKLOAD);
    assert!(
        out.contains("team: platform") && !out.contains(SECCOMP),
        "{out}"
    );
}

#[test]
fn the_patch_root_from_the_environment_confines_patch_paths() {
    let dir = temp_dir("root");
    let root = dir.join("app");
    std::fs::create_dir_all(root.join("hardening")).unwrap();
    std::fs::write(root.join("hardening/p.yaml"), PATCH).unwrap();
    std::fs::write(dir.join("outside.yaml"), PATCH).unwrap();
    let root_env = ("PULSE_HARDEN_PATCH_ROOT", root.to_str().unwrap());
    // Relative to the root, not to the working directory (`dir`).
    let out = harden_in(&dir, &["-p", "hardening/p.yaml"], &[root_env], STREAM);
    assert_eq!(out, PATCHED);
    for path in [
        "../outside.yaml",
        dir.join("outside.yaml").to_str().unwrap(),
    ] {
        let mut cmd = bin();
        cmd.current_dir(&dir)
            .args(["-p", path])
            .env(root_env.0, root_env.1);
        let run = common::feed(&mut cmd, STREAM.as_bytes());
        assert_eq!(run.code, 2, "{path}: {}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(
            run.stderr.contains("outside the patch root"),
            "{path}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_patch_directory_applies_its_files_in_name_order() {
    let dir = temp_dir("dir");
    std::fs::create_dir(dir.join("patches")).unwrap();
    std::fs::write(
        dir.join("patches/20-second.yaml"),
        PATCH.replace("team: platform", "team: second"),
    )
    .unwrap();
    std::fs::write(dir.join("patches/10-first.yaml"), PATCH).unwrap();
    std::fs::write(dir.join("patches/README.md"), "not a patch").unwrap();
    std::fs::write(dir.join("in.yaml"), STREAM).unwrap();
    let out = bin()
        .current_dir(&dir)
        .args(["-p", "patches", "-f", "in.yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("team: second")
    );
}

/// A patch directory is read as a tree: sub-directories too, in path order; YAML files of
/// other kinds (a values file, an example manifest) are skipped and named in the report;
/// hidden directories are not read; a file that is not YAML is an error with its position.
#[test]
fn a_patch_directory_tree_loads_patch_sets_and_notes_other_files() {
    let dir = temp_dir("tree");
    let patches = dir.join("patches");
    let label = |team: &str| PATCH.replace("team: platform", &format!("team: {team}"));
    for (file, text) in [
        ("10-first.yaml", label("first")),
        ("20-team/a.yaml", label("nested")),
        (
            "20-team/examples/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n".to_string(),
        ),
        ("values.yaml", "replicaCount: 2\n".to_string()),
        (".git/config.yaml", "not: [read\n".to_string()),
        (
            "20-team/examples/two.yaml",
            "kind: ConfigMap\nmetadata: {name: a}\n---\nkind: ConfigMap\nmetadata: {name: b}\n"
                .to_string(),
        ),
        (
            "30-last.yml",
            label("last").replace("name: label", "name: label-last"),
        ),
    ] {
        let path = patches.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(dir.join("in.yaml"), STREAM).unwrap();
    let run = |args: &[&str]| bin().current_dir(&dir).args(args).output().unwrap();
    let out = run(&["-p", "patches", "-f", "in.yaml", "--report", "report.txt"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(dir.join("report.txt")).unwrap();
    let steps: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("  changed"))
        .collect();
    assert_eq!(
        steps,
        [
            "  changed      patches/10-first.yaml: label",
            "  changed      patches/20-team/a.yaml: label",
            "  changed      patches/30-last.yml: label-last",
        ]
    );
    assert!(
        report.ends_with(
            "\nFiles in patch directories that were not loaded:
  patches/20-team/examples/deployment.yaml: not loaded, `kind: Deployment` is not a kind pulse-harden reads
  patches/20-team/examples/two.yaml: not loaded, `kind: ConfigMap` is not a kind pulse-harden reads
  patches/values.yaml: not loaded, it has no `kind`
"
        ),
        "{report}"
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("team: last")
    );
    let out = run(&[
        "-p",
        "patches",
        "-f",
        "in.yaml",
        "--report",
        "-",
        "--report-format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(
        json["skippedFiles"].as_array().map(Vec::len),
        Some(3),
        "{json}"
    );

    // Named on its own, a file must be a patch set.
    let out = run(&["-p", "patches/values.yaml", "-f", "in.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pulse-harden: error: patches/values.yaml:1:1: unknown field `replicaCount`, expected one of apiVersion, kind, metadata, podTemplates, steps\n"
    );

    // A file that is not YAML may be a broken patch set: an error, not a skip.
    std::fs::write(
        patches.join("20-team/broken.yaml"),
        "steps:\n  - name: a\n   bad: indent\n",
    )
    .unwrap();
    let out = run(&["-p", "patches", "-f", "in.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("pulse-harden: error: patches/20-team/broken.yaml:3:"),
        "{stderr}"
    );
}

#[test]
fn help_teaches_and_version_answers() {
    let help = bin().arg("--help").output().unwrap();
    let text = String::from_utf8(help.stdout).unwrap();
    for needle in [
        "--post-renderer pulse-harden",
        "-p, --patches",
        "Exit codes",
        "PULSE_HARDEN_PATCHES",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
    let version = bin().arg("--version").output().unwrap();
    assert!(
        String::from_utf8(version.stdout)
            .unwrap()
            .starts_with("pulse-harden ")
    );
}

#[test]
fn a_missing_patch_file_is_a_clear_error() {
    let out = bin()
        .args(["-p", "/nonexistent/p.yaml", "--profile", "none"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pulse-harden: error: cannot read patch file /nonexistent/p.yaml: No such file or directory (os error 2)\n"
    );
}
