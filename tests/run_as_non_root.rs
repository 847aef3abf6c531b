//! No default may stop a pod from starting: over every chart of `../shared/corpus/` and
//! `helm create`'s scaffold (rendered by the real Helm 4), every container the `restricted`
//! profile puts under `runAsNonRoot: true` has an effective numeric non-root `runAsUser` or an
//! image an `ImageUsers` file declares to run as a numeric non-root user — checked here from
//! the output alone, with a reader of our own, not the product's. The pods it leaves alone are
//! reported with the container, its image and the fix, and `--strict` fails on them.

mod common;

use pulse_harden::{pod, stream};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn users_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/image-users/corpus.yaml")
}

/// `repository → user` of the fixture file (it lists repositories only).
fn declared_users() -> HashMap<String, String> {
    let text = std::fs::read_to_string(users_file()).unwrap();
    let mut users = HashMap::new();
    let mut image = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("- image: ") {
            image = Some(repository(rest.trim()));
        } else if let (Some(rest), Some(image)) = (line.strip_prefix("user: "), image.take()) {
            users.insert(image, rest.trim().trim_matches('"').to_string());
        }
    }
    users
}

/// The repository an image reference names, as container runtimes read it (docker.io and
/// its `library/` namespace by default; a first part with `.` or `:`, or `localhost`, is a
/// registry host), without tag or digest.
fn repository(image: &str) -> String {
    let name = image.split('@').next().unwrap_or(image);
    let name = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => &name[..i],
        _ => name,
    };
    match name.split_once('/') {
        Some((host, _)) if host.contains(['.', ':']) || host == "localhost" => name.to_string(),
        Some(_) => format!("docker.io/{name}"),
        None => format!("docker.io/library/{name}"),
    }
}

/// A declared user the kubelet accepts under runAsNonRoot: numeric (before any `:`) and not 0.
fn numeric_non_root(user: &str) -> bool {
    let uid = user.split(':').next().unwrap_or("");
    uid.parse::<u32>().is_ok_and(|uid| uid > 0)
}

fn field<'v>(holder: &'v Value, name: &str) -> Option<&'v Value> {
    holder.get("securityContext")?.get(name)
}

/// Every container of a pod spec, as `(description, container)`.
fn containers(spec: &Value) -> Vec<(String, &Value)> {
    pod::CONTAINER_LISTS
        .iter()
        .flat_map(|list| {
            spec.get(*list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(move |c| (format!("{list}/{}", c["name"].as_str().unwrap_or("")), c))
        })
        .collect()
}

/// Under `runAsNonRoot: true` (its own, else the pod's)?
fn non_root(spec: &Value, container: &Value) -> bool {
    field(container, "runAsNonRoot").or_else(|| field(spec, "runAsNonRoot"))
        == Some(&Value::Bool(true))
}

#[derive(Default)]
struct Tally {
    by_uid: usize,
    by_image: usize,
    failures: Vec<String>,
}

/// Checks every container that the run put under `runAsNonRoot: true` (it was not before).
fn check(chart: &str, input: &[u8], output: &[u8], declared: &HashMap<String, String>) -> Tally {
    let before = stream::read(input).unwrap().manifests;
    let after = stream::read(output).unwrap().manifests;
    assert_eq!(
        before.len(),
        after.len(),
        "{chart}: documents lost or added"
    );
    let mut tally = Tally::default();
    for (old, new) in before.iter().zip(&after) {
        let Some(path) = pod::template_path(new.kind(), new.group(), &[]) else {
            continue;
        };
        let spec_of = |m: &pulse_harden::manifest::Manifest| {
            m.value
                .as_ref()
                .and_then(|v| v.pointer(&format!("{path}/spec")))
                .cloned()
        };
        let (Some(old_spec), Some(new_spec)) = (spec_of(old), spec_of(new)) else {
            continue;
        };
        let old_containers = containers(&old_spec);
        for (i, (who, container)) in containers(&new_spec).into_iter().enumerate() {
            if !non_root(&new_spec, container) || non_root(&old_spec, old_containers[i].1) {
                continue;
            }
            let uid = field(container, "runAsUser")
                .or_else(|| field(&new_spec, "runAsUser"))
                .and_then(Value::as_i64);
            let image = container["image"].as_str().unwrap_or("");
            let user = declared.get(&repository(image));
            if uid.is_some_and(|uid| uid > 0) {
                tally.by_uid += 1;
            } else if uid.is_none() && user.is_some_and(|u| numeric_non_root(u)) {
                tally.by_image += 1;
            } else {
                tally.failures.push(format!(
                    "{chart}: {} {who} (image {image}) was put under runAsNonRoot: true with runAsUser {uid:?} and declared user {user:?}",
                    new.id()
                ));
            }
        }
    }
    tally
}

fn report_of(run: &common::Run) -> Value {
    serde_json::from_str(&run.stderr).expect("the JSON report on stderr")
}

/// The `run-as-non-root` conflicts of a JSON report, as `resource: reason`.
fn conflicts(report: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for resource in report["resources"].as_array().unwrap() {
        for step in resource["steps"].as_array().unwrap() {
            if step["step"] == "profile restricted: run-as-non-root" && step["result"] == "conflict"
            {
                out.push(format!(
                    "{}: {}",
                    resource["resource"].as_str().unwrap(),
                    step["reason"].as_str().unwrap()
                ));
            }
        }
    }
    out
}

fn restricted(extra: &[&str], input: &[u8]) -> common::Run {
    let mut cmd = common::pulse_harden();
    cmd.args([
        "--profile",
        "restricted",
        "--report",
        "-",
        "--report-format",
        "json",
    ])
    .args(extra);
    let run = common::feed(&mut cmd, input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run
}

/// The chart with every `runAsNonRoot` taken out (documents as JSON, which is YAML), so that
/// each of its containers depends on what the step decides: most corpus charts set it already.
fn without_run_as_non_root(input: &[u8]) -> Vec<u8> {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(sc)) = map.get_mut("securityContext") {
                    sc.remove("runAsNonRoot");
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for m in stream::read(input).unwrap().manifests {
        if let Some(mut value) = m.value {
            strip(&mut value);
            out.extend_from_slice(b"---\n");
            out.extend_from_slice(serde_json::to_string(&value).unwrap().as_bytes());
            out.push(b'\n');
        }
    }
    out
}

#[test]
fn no_container_is_put_under_run_as_non_root_without_a_known_non_root_user() {
    let mut charts = common::corpus::charts_and_scaffold();
    charts.push((
        "helm-create-unprivileged".into(),
        common::corpus::helm_create(
            "scaffold",
            &["--set", "image.repository=nginxinc/nginx-unprivileged"],
        ),
    ));
    let stripped: Vec<_> = charts
        .iter()
        .map(|(chart, input)| {
            (
                format!("{chart} (runAsNonRoot taken out)"),
                without_run_as_non_root(input),
            )
        })
        .collect();
    charts.extend(stripped);
    let users = users_file();
    let none = HashMap::new();
    let declared = declared_users();
    let (mut by_uid, mut by_image, mut failures) = (0, 0, Vec::new());
    for (chart, input) in &charts {
        // The images the file declares are the scaffold's; the rest run once, without it.
        let mut runs = vec![(vec![], &none)];
        if chart.starts_with("helm-create") {
            runs.push((vec!["-p", users.to_str().unwrap()], &declared));
        }
        for (args, known) in runs {
            let run = restricted(&args, input);
            let tally = check(chart, input, &run.stdout, known);
            by_uid += tally.by_uid;
            by_image += tally.by_image;
            failures.extend(tally.failures);
        }
    }
    eprintln!("{by_uid} containers made non-root by their runAsUser, {by_image} by their image");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        by_uid >= 15,
        "only {by_uid} containers checked by their runAsUser"
    );
    assert!(
        by_image >= 2,
        "only {by_image} containers checked by their image"
    );
}

#[test]
fn the_scaffold_is_reported_with_its_image_and_the_fix() {
    let input = common::corpus::helm_create("scaffold", &[]);
    let run = restricted(&[], &input);
    assert_eq!(
        run.stdout,
        restricted(&[], &run.stdout).stdout,
        "idempotent"
    );
    assert_eq!(
        conflicts(&report_of(&run)),
        [
            "Deployment/demo-scaffold: container `scaffold` (image docker.io/library/nginx:1.16.0) sets no runAsUser and its image may run as root; runAsNonRoot: true would then stop it from starting; set runAsUser in a step of your own, or list the image's user in an ImageUsers file",
            "Pod/demo-scaffold-test-connection: container `wget` (image docker.io/library/busybox:latest) sets no runAsUser and its image may run as root; runAsNonRoot: true would then stop it from starting; set runAsUser in a step of your own, or list the image's user in an ImageUsers file",
        ]
    );
    // With the images' users declared, the report says they run as root.
    let users = users_file();
    let run = restricted(&["-p", users.to_str().unwrap()], &input);
    let said = conflicts(&report_of(&run));
    assert!(
        said[0].ends_with(&format!("sets no runAsUser and its image runs as root (no user, says {}); runAsNonRoot: true would then stop it from starting; set runAsUser in a step of your own, or use a variant of the image that runs as a numeric non-root user", users.display())),
        "{said:?}"
    );
}

#[test]
fn the_unprivileged_nginx_variant_declared_in_an_image_users_file_is_made_non_root() {
    let input = common::corpus::helm_create(
        "scaffold",
        &[
            "--set",
            "image.repository=nginxinc/nginx-unprivileged",
            "--set",
            "image.tag=1.27-alpine",
            "--set",
            "service.port=8080",
        ],
    );
    let users = users_file();
    let run = restricted(&["-p", users.to_str().unwrap()], &input);
    let out = stream::read(&run.stdout).unwrap();
    let deployment = out
        .manifests
        .iter()
        .find(|m| m.kind() == "Deployment")
        .and_then(|m| m.value.clone())
        .unwrap();
    let sc = &deployment["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true, "{sc}");
    assert_eq!(sc.get("runAsUser"), None, "the image's own user is kept");
    // The busybox test pod is still reported, as running as root.
    let said = conflicts(&report_of(&run));
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("Pod/demo-scaffold-test-connection: container `wget` (image docker.io/library/busybox:latest) sets no runAsUser and its image runs as root"),
        "{said:?}"
    );
}

#[test]
fn strict_fails_on_a_pod_left_alone() {
    let input = common::corpus::helm_create("scaffold", &[]);
    let run = common::feed(
        common::pulse_harden().args(["--profile", "restricted", "--strict"]),
        &input,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("  conflict: Deployment/demo-scaffold [profile restricted: run-as-non-root]: container `scaffold` (image docker.io/library/nginx:1.16.0) sets no runAsUser and its image may run as root;"),
        "{}",
        run.stderr
    );
}

/// The text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in the README.
fn readme_block(name: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let begin = format!("<!-- {name}:begin -->");
    let start = readme.find(&begin).expect("the README block") + begin.len();
    let end = start
        + readme[start..]
            .find(&format!("<!-- {name}:end -->"))
            .unwrap();
    readme[start..end].to_string()
}

#[test]
fn the_readme_shows_the_real_report_for_the_scaffold() {
    let input = common::corpus::helm_create("demo", &[]);
    let run = common::feed(common::pulse_harden().args(["--report", "-"]), &input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let real: Vec<&str> = run.stderr.lines().collect();
    let mut at = 0;
    for line in readme_block("root-images").lines() {
        if line.is_empty() || line.starts_with("```") || line.starts_with("$ ") || line == "..." {
            continue;
        }
        // In the real report's order: each shown line comes after the one before.
        match real[at..].iter().position(|l| *l == line) {
            Some(i) => at += i + 1,
            None => panic!(
                "the README's line is not in the real report (in order):\n{line}\n\nreal report:\n{}",
                run.stderr
            ),
        }
    }
}

#[test]
fn the_readme_s_unprivileged_nginx_recipe_works_as_it_says() {
    let readme = readme_block("unprivileged-nginx");
    let start = readme.find("<<'YAML'\n").unwrap() + 8;
    let end = start + readme[start..].find("   YAML\n").unwrap();
    let users: String = readme[start..end]
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("   ").unwrap_or(l)))
        .collect();
    let dir = common::helm_home::temp_dir(&format!("readme-users-{}", std::process::id()));
    let file = dir.join("image-users.yaml");
    std::fs::write(&file, users).unwrap();
    let input = common::corpus::helm_create(
        "demo",
        &[
            "--set",
            "image.repository=nginxinc/nginx-unprivileged",
            "--set",
            "service.port=8080",
        ],
    );
    // `-p` with ImageUsers only: the default profile applies.
    let run = common::feed(
        common::pulse_harden().args([
            "-p".as_ref(),
            file.as_os_str(),
            "--report".as_ref(),
            "-".as_ref(),
        ]),
        &input,
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let deployment = stream::read(&run.stdout)
        .unwrap()
        .manifests
        .into_iter()
        .find(|m| m.kind() == "Deployment")
        .and_then(|m| m.value)
        .unwrap();
    let sc = &deployment["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true, "{sc}");
    assert!(
        run.stderr.contains(&format!(
            "its image runs as root (no user, says {})",
            file.display()
        )),
        "{}",
        run.stderr
    );
}
