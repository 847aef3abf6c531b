//! Reports, check and strict mode, diffs, the summary line and exit codes, through the real
//! binary; the report file through real Helm 3 and Helm 4; and the README's generated
//! action table (`BLESS=1 cargo test --test report` rewrites it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A stream with a Secret and a ConfigMap whose values steps change and test.
const CASE: &str = "tests/golden/report-text";

/// Every Secret and ConfigMap value in that case, before and after, and the value a step
/// tests for: none may show anywhere but in the hardened stream itself.
const SECRET_VALUES: &[&str] = &[
    "c3VwZXItc2VjcmV0LXZhbHVl",
    "plain-token-value",
    "bmV3LXNlY3JldC12YWx1ZQ==",
    "db-password-value",
    "guessed-token-value",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn case_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(CASE)
}

fn bin() -> Command {
    common::pulse_harden()
}

/// Runs the binary in the case directory with `-p patches.yaml`, the case's input on stdin.
fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let input = std::fs::read(case_dir().join("input.yaml")).unwrap();
    run_on(&input, args, env)
}

fn run_on(input: &[u8], args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = bin();
    cmd.current_dir(case_dir())
        .args(["-p", "patches.yaml"])
        .args(args)
        .envs(env.iter().copied());
    let run = common::feed(&mut cmd, input);
    Run {
        code: run.code,
        stdout: String::from_utf8(run.stdout).unwrap(),
        stderr: run.stderr,
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("pulse-harden-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn assert_no_secret(what: &str, text: &str) {
    for value in SECRET_VALUES {
        assert!(!text.contains(value), "{what} shows `{value}`:\n{text}");
    }
}

#[test]
fn secret_and_config_map_values_appear_nowhere() {
    let dir = temp_dir("redact");
    for format in ["text", "json"] {
        let report = dir.join(format!("report.{format}"));
        let out = run(
            &[
                "--check",
                "--strict",
                "--diff",
                "--color=always",
                "--report-format",
                format,
                "--report",
                report.to_str().unwrap(),
            ],
            &[("PULSE_HARDEN_SUMMARY", "always")],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let report = std::fs::read_to_string(&report).unwrap();
        let everything = format!("{}{}{report}", out.stdout, out.stderr);
        assert_no_secret(&format!("--check with a {format} report"), &everything);
        // Not vacuous: the keys, the redaction and the diff are there.
        assert!(report.contains("/data/password"), "{report}");
        assert!(report.contains("<redacted>"), "{report}");
        assert!(out.stderr.contains("password: <redacted, changed>"));
    }

    // A normal run writes the values where they belong (stdout), and nowhere else.
    let out = run(&["--report", "-", "--diff"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("bmV3LXNlY3JldC12YWx1ZQ=="));
    assert_no_secret("stderr of a normal run", &out.stderr);
}

#[test]
fn a_failed_test_on_secret_data_does_not_quote_it() {
    let dir = temp_dir("test-op");
    std::fs::write(
        dir.join("p.yaml"),
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: guess\n    select: {kind: Secret}\n    jsonPatch:\n      - {op: test, path: /data/password, value: guessed-token-value}\n",
    )
    .unwrap();
    let out = bin()
        .args(["-p", dir.join("p.yaml").to_str().unwrap(), "-f"])
        .arg(case_dir().join("input.yaml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        stderr,
        "pulse-harden: error: p.yaml: step `guess` failed on Secret/shop/api-credentials in document 4 (shop/templates/secret.yaml): operation 1 (`test` /data/password): test failed: /data/password is <redacted>, expected <redacted>\n"
            .replace("p.yaml", dir.join("p.yaml").to_str().unwrap())
    );
}

#[test]
fn the_json_report_has_a_stable_shape() {
    let out = run(&["--report", "-", "--report-format", "json"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stderr).unwrap();
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        keys(&report),
        ["version", "summary", "resources", "unmatchedSteps"]
    );
    assert_eq!(report["version"], 1);
    assert_eq!(
        report["summary"],
        serde_json::json!({"resources": 5, "changed": 3, "generated": 0, "conflicts": 0, "unmatchedSteps": 1})
    );
    assert_eq!(
        report["unmatchedSteps"],
        serde_json::json!(["patches.yaml: ingress-class"])
    );
    let resources = report["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 5);
    for resource in resources {
        assert_eq!(
            keys(resource),
            ["resource", "document", "template", "generated", "steps"]
        );
        for step in resource["steps"].as_array().unwrap() {
            let result = step["result"].as_str().unwrap();
            let want: &[&str] = match result {
                "changed" => &["step", "result", "changes"],
                "alreadySet" => &["step", "result"],
                "skipped" | "conflict" => &["step", "result", "reason"],
                "generated" => &["step", "result", "owner"],
                other => panic!("unknown result {other}"),
            };
            assert_eq!(keys(step), want, "{step}");
        }
    }
    let api = &resources[0];
    assert_eq!(api["resource"], "Deployment/shop/api");
    assert_eq!(api["template"], "shop/templates/api.yaml");
    assert_eq!(
        api["steps"][1]["changes"],
        serde_json::json!([{"path": "/spec/template/spec/containers/1/imagePullPolicy", "after": "IfNotPresent"}])
    );
}

/// A program reading the JSON report from stderr must be able to parse all of stderr: no
/// check or strict text, no summary line after it.
#[test]
fn a_json_report_on_stderr_is_all_of_stderr_with_check_and_strict() {
    let summary = [("PULSE_HARDEN_SUMMARY", "always")];
    for args in [
        &["--check", "--report", "-", "--report-format", "json"][..],
        &["--strict", "--report", "-", "--report-format", "json"],
        &[
            "--check",
            "--strict",
            "--report",
            "-",
            "--report-format",
            "json",
        ],
        // Without --report, check and strict put the JSON report on stderr.
        &["--check", "--strict", "--report-format", "json"],
    ] {
        let out = run(args, &summary);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty());
        let report: serde_json::Value = serde_json::from_str(&out.stderr).unwrap_or_else(|e| {
            panic!(
                "{args:?}: stderr is not one JSON document ({e}):\n{}",
                out.stderr
            )
        });
        assert_eq!(report["summary"]["changed"], 3, "{args:?}");
        assert_eq!(report["unmatchedSteps"][0], "patches.yaml: ingress-class");
    }
    let diff = run(
        &[
            "--check",
            "--diff",
            "--report",
            "-",
            "--report-format",
            "json",
        ],
        &[],
    );
    assert_eq!(
        (diff.code, diff.stderr.as_str()),
        (
            2,
            "pulse-harden: error: --diff writes text to stderr, where the JSON report goes: write the report to a file (--report FILE)\n"
        )
    );
}

#[test]
fn exit_codes_and_nothing_on_stdout_unless_it_succeeded() {
    let dir = temp_dir("exit");
    let out_file = dir.join("out.yaml");
    let out_arg = out_file.to_str().unwrap();

    let ok = run(&[], &[]);
    assert_eq!((ok.code, ok.stderr.as_str()), (0, ""));
    assert!(!ok.stdout.is_empty());

    // --check: would change → 1, lists the changes on stderr, writes no stream anywhere.
    let check = run(&["--check", "-o", out_arg], &[]);
    assert_eq!(check.code, 1);
    assert!(check.stdout.is_empty());
    assert!(!out_file.exists());
    assert!(
        check
            .stderr
            .starts_with("pulse-harden: check failed: 3 resources would change\n"),
        "{}",
        check.stderr
    );

    // --check on a compliant stream → 0, silent, still no stream.
    let compliant = run_on(ok.stdout.as_bytes(), &["--check"], &[]);
    assert_eq!(
        (
            compliant.code,
            compliant.stdout.as_str(),
            compliant.stderr.as_str()
        ),
        (0, "", "")
    );

    // --strict without --check: a step matched nothing → 1 and no stream, not half a one.
    for strict in [
        run(&["--strict", "-o", out_arg], &[]),
        run(&[], &[("PULSE_HARDEN_STRICT", "true")]),
    ] {
        assert_eq!(strict.code, 1);
        assert!(strict.stdout.is_empty());
        assert_eq!(
            strict.stderr,
            "pulse-harden: strict mode failed (1 problem):\n  step matched nothing: patches.yaml: ingress-class\n"
        );
    }
    assert!(!out_file.exists());
    assert_eq!(run(&[], &[("PULSE_HARDEN_STRICT", "false")]).code, 0);

    // Errors → 2.
    let bad = run_on(b"a: [1, 2\n", &["--check"], &[]);
    assert_eq!(bad.code, 2);
    assert!(bad.stdout.is_empty());
    let unwritable = run(&["--report", "/nonexistent/dir/report.txt"], &[]);
    assert_eq!(unwritable.code, 2);
    assert!(unwritable.stdout.is_empty());
    assert!(
        unwritable
            .stderr
            .starts_with("pulse-harden: error: cannot write the report: "),
        "{}",
        unwritable.stderr
    );
}

#[test]
fn the_report_goes_to_the_file_an_environment_variable_names() {
    let dir = temp_dir("env");
    let report = dir.join("report.json");
    let out = run(
        &[],
        &[
            ("PULSE_HARDEN_REPORT", report.to_str().unwrap()),
            ("PULSE_HARDEN_REPORT_FORMAT", "json"),
        ],
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["summary"]["changed"], 3);
}

#[test]
fn colour_and_summary_only_on_a_terminal_unless_asked() {
    let summary = "pulse-harden: 5 resources, 3 changed, 0 generated, 0 conflicts\n";
    let piped = run(&["--diff"], &[]);
    assert_eq!(piped.code, 0);
    assert!(!piped.stderr.contains('\x1b'), "colour on a pipe");
    assert!(
        !piped.stderr.contains("pulse-harden: "),
        "summary on a pipe"
    );

    let forced = run(
        &["--diff", "--color", "always"],
        &[("PULSE_HARDEN_SUMMARY", "always")],
    );
    assert!(forced.stderr.contains("\x1b[31m-"), "{}", forced.stderr);
    assert!(forced.stderr.ends_with(summary), "{}", forced.stderr);

    let no_color = run(&["--diff", "--color", "always"], &[("NO_COLOR", "1")]);
    assert!(!no_color.stderr.contains('\x1b'));
    assert!(no_color.stderr.contains("\n-"), "the diff itself stays");
    // `NO_COLOR` counts only when set and not empty (no-color.org).
    let empty = run(&["--diff", "--color", "always"], &[("NO_COLOR", "")]);
    assert!(empty.stderr.contains("\x1b[31m-"), "{}", empty.stderr);

    let quiet = run(&["--summary", "never"], &[]);
    assert_eq!(quiet.stderr, "");
}

/// A real terminal: `script` (util-linux, in every Debian) runs the binary on a
/// pseudo-terminal. Without it this test fails rather than pass on a pipe's behaviour.
#[test]
fn on_a_terminal_the_summary_shows_and_the_diff_is_coloured() {
    assert!(
        Command::new("script").arg("--version").output().is_ok(),
        "`script` (util-linux) is needed to test what a terminal shows"
    );
    let command = format!(
        "'{}' -p patches.yaml -f input.yaml --diff -o /dev/null",
        env!("CARGO_BIN_EXE_pulse-harden")
    );
    let out = Command::new("script")
        .current_dir(case_dir())
        .args(["-qec", &command, "/dev/null"])
        .env_remove("NO_COLOR")
        .env_remove("PULSE_HARDEN_SUMMARY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("\x1b[32m+"),
        "no colour on a terminal:\n{text}"
    );
    assert!(
        text.contains("pulse-harden: 5 resources, 3 changed, 0 generated, 0 conflicts"),
        "no summary on a terminal:\n{text}"
    );
    let no_color = Command::new("script")
        .current_dir(case_dir())
        .args(["-qec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&no_color.stdout).contains("\x1b[32m"));
}

/// The fenced block of `lang` in the README that follows the line containing `after`.
fn readme_block(after: &str, lang: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find(after)
        .unwrap_or_else(|| panic!("README: `{after}`"));
    let fence = format!("```{lang}\n");
    let body = &readme[start..];
    let open = body.find(&fence).unwrap() + fence.len();
    let close = body[open..].find("\n```").unwrap();
    body[open..open + close + 1].to_string()
}

/// Is `part` (the README's abridged JSON) contained in `whole` (the real report)? Maps:
/// every key of `part`, with a contained value; lists: every element contained in some
/// element of `whole`.
fn contained(part: &serde_json::Value, whole: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (part, whole) {
        (Value::Object(p), Value::Object(w)) => p
            .iter()
            .all(|(k, v)| w.get(k).is_some_and(|wv| contained(v, wv))),
        (Value::Array(p), Value::Array(w)) => {
            p.iter().all(|pv| w.iter().any(|wv| contained(pv, wv)))
        }
        _ => part == whole,
    }
}

/// The README's example text report and JSON report are what the binary says for the Health
/// API seed chart rendered by the real Helm 4, with the example patch set.
#[test]
fn the_readme_report_examples_are_the_real_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let home = temp_dir("readme-examples");
    let rendered = helm_in("helm", &home)
        .current_dir(root)
        .args([
            "template",
            "health-api",
            "tests/charts/health-api",
            "-n",
            "health-api",
        ])
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let harden = |args: &[&str]| {
        let mut cmd = bin();
        cmd.current_dir(root)
            .args(["-p", "examples/patches.yaml"])
            .args(args);
        let run = common::feed(&mut cmd, &rendered.stdout);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stderr
    };

    let console = readme_block("real report for the Health API seed chart", "console");
    let shown: String = console
        .lines()
        .skip_while(|l| l.starts_with('$') || l.starts_with("    "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        harden(&["--report", "-"]),
        shown,
        "the README's text report is not the real one"
    );

    let readme_json: serde_json::Value =
        serde_json::from_str(&readme_block("**The JSON report**", "json")).unwrap();
    let real: serde_json::Value =
        serde_json::from_str(&harden(&["--report", "-", "--report-format", "json"])).unwrap();
    assert_eq!(readme_json["summary"], real["summary"]);
    assert!(
        contained(&readme_json, &real),
        "the README's JSON report is not part of the real one:\n{real:#}"
    );
    // The summary line the README shows for the Helm 4 log and PULSE_HARDEN_SUMMARY.
    let summary = shown.lines().next().unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains(&format!("`{summary}`")), "{summary}");
    let _ = std::fs::remove_dir_all(&home);
}

fn helm(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `make tools`",
        path.display()
    );
    path
}

/// A Helm command with its own config, data and cache directories.
fn helm_in(name: &str, home: &Path) -> Command {
    let mut cmd = Command::new(helm(name));
    cmd.env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env_remove("HELM_PLUGINS");
    for var in [
        "PULSE_HARDEN_PATCHES",
        "PULSE_HARDEN_PROFILE",
        "PULSE_HARDEN_REPORT",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// A one-template chart and a patch set, for the Helm runs.
fn chart(dir: &Path) {
    std::fs::create_dir_all(dir.join("chart/templates")).unwrap();
    std::fs::write(
        dir.join("chart/Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("chart/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  a: \"1\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("p.yaml"),
        "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: label\n    mergePatch: {metadata: {labels: {team: x}}}\n",
    )
    .unwrap();
}

const HELM_REPORT: &str = "pulse-harden: 1 resource, 1 changed, 0 generated, 0 conflicts\n\nConfigMap/(release namespace)/demo (demo/templates/cm.yaml)\n  changed      PATCHES: label\n                 /metadata/labels: absent → {\"team\":\"x\"}\n";

/// The stdout of a command that must have succeeded.
fn succeeded(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The two ways the README gives to see the report under Helm: `--post-renderer-args` and
/// the environment.
fn check_helm_reports(dir: &Path, renderer: &str, helm: impl Fn() -> Command) {
    let patches = dir.join("p.yaml");
    let want = HELM_REPORT.replace("PATCHES", patches.to_str().unwrap());
    let by_args = dir.join("args-report.txt");
    let out = helm()
        .args(["template", "demo"])
        .arg(dir.join("chart"))
        .args(["--post-renderer", renderer])
        .args(["--post-renderer-args", "-p", "--post-renderer-args"])
        .arg(&patches)
        .args(["--post-renderer-args", "--report", "--post-renderer-args"])
        .arg(&by_args)
        .output()
        .unwrap();
    assert!(succeeded(&out).contains("team: x"));
    assert_eq!(std::fs::read_to_string(&by_args).unwrap(), want);

    let by_env = dir.join("env-report.txt");
    let out = helm()
        .args(["template", "demo"])
        .arg(dir.join("chart"))
        .args(["--post-renderer", renderer])
        .env("PULSE_HARDEN_PATCHES", &patches)
        .env("PULSE_HARDEN_REPORT", &by_env)
        .output()
        .unwrap();
    succeeded(&out);
    assert_eq!(std::fs::read_to_string(&by_env).unwrap(), want);
}

#[test]
fn helm3_writes_the_report_where_asked() {
    let dir = temp_dir("helm3");
    chart(&dir);
    check_helm_reports(&dir, env!("CARGO_BIN_EXE_pulse-harden"), || {
        helm_in("helm3", &dir)
    });
}

#[test]
fn helm4_writes_the_report_where_asked() {
    let dir = temp_dir("helm4");
    chart(&dir);
    // A throwaway postrenderer/v1 plugin that runs the binary under test.
    std::fs::create_dir_all(dir.join("plugin")).unwrap();
    std::fs::write(
        dir.join("plugin/plugin.yaml"),
        format!(
            "apiVersion: v1\ntype: postrenderer/v1\nname: pulse-harden-report-test\nversion: 0.1.0\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: {}\n",
            env!("CARGO_BIN_EXE_pulse-harden")
        ),
    )
    .unwrap();
    let install = helm_in("helm", &dir)
        .args(["plugin", "install"])
        .arg(dir.join("plugin"))
        .output()
        .unwrap();
    succeeded(&install);
    check_helm_reports(&dir, "pulse-harden-report-test", || helm_in("helm", &dir));
}

#[test]
fn the_readme_action_table_is_generated_from_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let current = pulse_harden::explain::with_markdown_table(&readme)
        .expect("README.md lacks the <!-- transforms:begin --> / <!-- transforms:end --> markers");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, current).unwrap();
        return;
    }
    assert!(
        readme == current,
        "README.md's action table is stale: run `BLESS=1 cargo test --test report` (or `make bless`)"
    );
}

#[test]
fn help_shows_worked_examples_and_exit_codes() {
    let help = String::from_utf8(bin().arg("--help").output().unwrap().stdout).unwrap();
    for needle in [
        "# Helm 4",
        "# Helm 3",
        "# Argo CD",
        "# CI gate",
        "--check --diff",
        "--post-renderer-args --report",
        "PULSE_HARDEN_REPORT=",
        "--report-format <FORMAT>",
        "--strict",
        "Exit codes:\n  0  success",
        "  1  --check",
        "  2  error",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
    assert!(!help.contains("--summary"), "the summary flag is hidden");
}

#[test]
fn explain_lists_and_describes() {
    let explain = |args: &[&str]| {
        let out = bin().arg("explain").args(args).output().unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, list) = explain(&[]);
    assert_eq!(code, Some(0));
    assert!(
        list.contains("  jsonPatch ") && list.contains("  none "),
        "{list}"
    );
    let (code, docs) = explain(&["mergePatch"]);
    assert_eq!(code, Some(0));
    assert!(docs.starts_with("mergePatch\n\n") && docs.contains("Example"));
    let (code, profile) = explain(&["none"]);
    assert_eq!(code, Some(0));
    assert!(profile.starts_with("profile none: "), "{profile}");
    assert_eq!(explain(&["nothing-by-this-name"]).0, Some(2));
}

/// The README's text report example is the real report: the Health API seed chart rendered by
/// Helm 4 with the example patch set. Only the resources a step acted on are listed, and the
/// rest are counted.
#[test]
fn the_readme_text_report_is_real() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let command = "$ helm template health-api tests/charts/health-api -n health-api \\\n    | pulse-harden -p examples/patches.yaml --report - > hardened.yaml\n";
    let start = readme.find(command).expect("the README's report example") + command.len();
    let shown = &readme[start..start + readme[start..].find("```").unwrap()];

    let home = temp_dir("readme-report");
    let rendered = helm_in("helm", &home)
        .current_dir(root)
        .args(["template", "health-api", "tests/charts/health-api"])
        .args(["-n", "health-api"])
        .output()
        .unwrap();
    let rendered = succeeded(&rendered);
    let run = common::feed(
        common::pulse_harden().current_dir(root).args([
            "-p",
            "examples/patches.yaml",
            "--report",
            "-",
        ]),
        rendered.as_bytes(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(shown, run.stderr);
    assert!(
        run.stderr
            .contains("\n7 other resources, not listed: no step applies to them.\n")
    );
}

/// Steps that change a document and then change it back leave it byte for byte, and --check
/// says so: writing the stream would change nothing (the report still lists both steps).
#[test]
fn steps_that_cancel_out_pass_check() {
    let dir = temp_dir("cancel-out");
    let patches = "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: add\n    mergePatch: {metadata: {labels: {tmp: x}}}\n  - name: remove\n    mergePatch: {metadata: {labels: {tmp: null}}}\n";
    std::fs::write(dir.join("p.yaml"), patches).unwrap();
    let input =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {app: a}}\ndata: {k: v}\n";
    let mut cmd = bin();
    cmd.current_dir(&dir).args(["-p", "p.yaml"]);
    let out = common::feed(&mut cmd, input.as_bytes());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), input);
    let mut cmd = bin();
    cmd.current_dir(&dir)
        .args(["-p", "p.yaml", "--check", "--report", "-"]);
    let out = common::feed(&mut cmd, input.as_bytes());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("add"), "{}", out.stderr);
}
