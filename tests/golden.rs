//! Golden cases: each directory under `tests/golden/` is a run of the real binary.
//!
//! A case holds `input.yaml`, optionally `patches.yaml` (passed as `-p patches.yaml`) and
//! `args` (one extra argument per line), and either `expected.yaml` (exit 0, stdout; plus
//! `expected.stderr` when the run also writes to stderr: a report, a diff) or only
//! `expected.stderr` (stdout empty, exit code from `expected.exit`, default 2). The binary
//! runs with the case directory as working directory. Every successful case is also run
//! on its own output, which must come back unchanged (idempotence).
//! `BLESS=1 cargo test --test golden` rewrites the expected files; review the diff.

mod common;

use common::Run;
use std::path::{Path, PathBuf};

fn run(case: &Path, input: &[u8]) -> Run {
    let mut cmd = common::pulse_harden();
    cmd.current_dir(case);
    if case.join("patches.yaml").exists() {
        cmd.args(["-p", "patches.yaml"]);
    }
    if let Ok(args) = std::fs::read_to_string(case.join("args")) {
        cmd.args(args.lines().filter(|l| !l.trim().is_empty()));
    }
    common::feed(&mut cmd, input)
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input.yaml").exists())
        .collect();
    cases.sort();
    cases
}

#[test]
fn golden_cases() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(!cases.is_empty(), "no golden cases found");
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let input = std::fs::read(case.join("input.yaml")).unwrap();
        let result = run(case, &input);
        let stderr_file = case.join("expected.stderr");
        let expect_error = stderr_file.exists() && !case.join("expected.yaml").exists();
        if bless {
            if result.code == 0 && !expect_error {
                std::fs::write(case.join("expected.yaml"), &result.stdout).unwrap();
                if !result.stderr.is_empty() {
                    std::fs::write(&stderr_file, &result.stderr).unwrap();
                }
            } else {
                std::fs::write(case.join("expected.stderr"), &result.stderr).unwrap();
                if result.code != 2 {
                    std::fs::write(case.join("expected.exit"), format!("{}\n", result.code))
                        .unwrap();
                }
            }
            continue;
        }
        if expect_error {
            let want = std::fs::read_to_string(case.join("expected.stderr")).unwrap();
            let code: i32 = std::fs::read_to_string(case.join("expected.exit"))
                .map(|s| s.trim().parse().unwrap())
                .unwrap_or(2);
            if result.code != code || result.stderr != want || !result.stdout.is_empty() {
                failures.push(format!(
                    "{name}: want exit {code} and stderr\n{want}\ngot exit {} and stderr\n{}\nstdout: {} bytes",
                    result.code,
                    result.stderr,
                    result.stdout.len()
                ));
            }
            continue;
        }
        let want = std::fs::read(case.join("expected.yaml")).unwrap();
        if let Ok(want_stderr) = std::fs::read_to_string(&stderr_file)
            && result.stderr != want_stderr
        {
            failures.push(format!(
                "{name}: want stderr\n{want_stderr}\ngot\n{}",
                result.stderr
            ));
        }
        if result.code != 0 || result.stdout != want {
            failures.push(format!(
                "{name}: exit {}, stderr:\n{}\nstdout:\n{}",
                result.code,
                result.stderr,
                String::from_utf8_lossy(&result.stdout)
            ));
            continue;
        }
        let again = run(case, &result.stdout);
        if again.code != 0 || again.stdout != result.stdout {
            failures.push(format!(
                "{name}: not idempotent; second run exit {}:\n{}",
                again.code,
                String::from_utf8_lossy(&again.stdout)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A case whose name promises a report (`…-reported`, `…-conflict`, `report-…`) must run
/// with one and check it: otherwise it passes whatever the report says.
#[test]
fn cases_named_for_a_report_check_one() {
    let mut missing = Vec::new();
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if !["report", "conflict", "unresolved"]
            .iter()
            .any(|w| name.contains(w))
        {
            continue;
        }
        let error_case = !case.join("expected.yaml").exists();
        let args = std::fs::read_to_string(case.join("args")).unwrap_or_default();
        let tells = args
            .lines()
            .any(|a| matches!(a.trim(), "--report" | "--check" | "--strict"));
        let stderr = std::fs::read_to_string(case.join("expected.stderr")).unwrap_or_default();
        // A compliant `--check` is silent; anything else that tells must say something.
        let silent_check = args.lines().any(|a| a.trim() == "--check");
        if !(error_case || tells) || (stderr.is_empty() && !silent_check) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "golden cases named for a report that do not check one: {missing:?}"
    );
}
