//! `pulse-harden images`: listing the images of a stream, and resolving their users from real
//! registries (Debian's docker-registry on loopback, one open and one behind basic auth, with
//! images pushed by skopeo), then rendering with the file and no registry at all.

mod common;

use common::helm_home::temp_dir;
use common::registry::{Layout, Platform, Registry};
use common::{Run, feed, pulse_harden};
use pulse_harden::images::ImageUsers;
use std::path::Path;

/// Fixed "now" for the `resolved` field: files are reproducible.
const EPOCH: &str = "1795984496";
const WHEN: &str = "2026-11-29T20:34:56Z";

fn deployment(name: &str, image: &str) -> String {
    format!(
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: apps\n\
         spec:\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      \
         labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: main\n          \
         image: {image}\n"
    )
}

/// One entry of an `ImageUsers` file: image, user, digest, resolved.
type Entry = (String, String, Option<String>, Option<String>);

/// The entries of an `ImageUsers` file as written, read back by pulse-harden's own reader;
/// also checks the file's head and that it is sorted.
fn entries(text: &str) -> Vec<Entry> {
    assert!(
        text.starts_with("apiVersion: pulse-harden/v1\nkind: ImageUsers\n"),
        "{text}"
    );
    let file = ImageUsers::parse(text, "written").unwrap();
    let entries: Vec<Entry> = file
        .images
        .into_iter()
        .map(|e| (e.image.to_string(), e.user, e.digest, e.resolved))
        .collect();
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(entries, sorted, "not sorted:\n{text}");
    entries
}

fn resolved(image: &str, user: &str, digest: String) -> Entry {
    (image.into(), user.into(), Some(digest), Some(WHEN.into()))
}

fn images(args: &[&str], input: &str, docker_config: &Path) -> Run {
    feed(
        pulse_harden()
            .arg("images")
            .args(args)
            .env("DOCKER_CONFIG", docker_config)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .env_remove("ALL_PROXY"),
        input.as_bytes(),
    )
}

#[test]
fn lists_each_image_once_normalised_with_the_resources_using_it() {
    let stream = [
        deployment("web", "nginx"),
        deployment("api", "docker.io/library/nginx:latest"),
        deployment("job", "quay.io/minio/mc:RELEASE.2024-01-01"),
    ]
    .concat();
    let run = images(&[], &stream, Path::new("/nonexistent"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        String::from_utf8(run.stdout).unwrap(),
        "\
docker.io/library/nginx:latest       Deployment/apps/web, Deployment/apps/api
quay.io/minio/mc:RELEASE.2024-01-01  Deployment/apps/job
"
    );
}

/// The images of the hidden check: every kind of `User`, on an open registry and one behind
/// basic auth, and a two-platform index whose platforms disagree.
struct World {
    open: Registry,
    locked: Registry,
    docker_config: std::path::PathBuf,
    /// (deployment name, image, user the file must record)
    images: Vec<(&'static str, String, &'static str)>,
}

fn world(name: &str) -> World {
    let open = Registry::start(&format!("{name}-open"));
    let locked = Registry::start_with_auth(&format!("{name}-locked"), "ci", "pa55:word");
    let mut images = Vec::new();
    for (deploy, user, registry, format) in [
        ("unset", None, &open, None),
        ("root", Some("0"), &open, Some("v2s2")),
        ("numeric", Some("10001"), &locked, None),
        ("named", Some("app"), &locked, None),
        ("pair", Some("1000:1000"), &open, None),
    ] {
        let layout = Layout::image(&format!("{name}-{deploy}"), user);
        registry.push(&layout, deploy, "1.0", format);
        images.push((deploy, registry.image(deploy, "1.0"), user.unwrap_or("")));
    }
    let index = Layout::index(
        &format!("{name}-multi"),
        &[
            Platform {
                os: "linux",
                arch: "amd64",
                user: Some("10001"),
            },
            Platform {
                os: "linux",
                arch: "arm64",
                user: Some("0"),
            },
        ],
    );
    locked.push(&index, "multi", "2", None);
    images.push(("multi", locked.image("multi", "2"), "10001"));
    let docker_config = locked.docker_config(&temp_dir(&format!("{name}-docker")));
    World {
        open,
        locked,
        docker_config,
        images,
    }
}

impl World {
    fn stream(&self) -> String {
        self.images
            .iter()
            .map(|(deploy, image, _)| deployment(deploy, image))
            .collect()
    }

    fn digest(&self, image: &str) -> String {
        let registry = if image.starts_with(&self.open.host) {
            &self.open
        } else {
            &self.locked
        };
        let (name, tag) = image[registry.host.len() + 1..].split_once(':').unwrap();
        registry.digest(name, tag)
    }

    /// The entries `images --resolve` must write.
    fn expected_entries(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = self
            .images
            .iter()
            .map(|(_, image, user)| resolved(image, user, self.digest(image)))
            .collect();
        entries.sort();
        entries
    }
}

#[test]
fn resolves_every_kind_of_user_then_renders_without_any_registry() {
    let mut world = world("resolve");
    let dir = temp_dir("images-resolve");
    let users = dir.join("users.yaml");
    let stream = world.stream();
    // The README's CI recipe, on its first run: the file to keep does not exist yet.
    let u = users.to_str().unwrap();
    let run = images(
        &["--resolve", "--plain-http", "127.0.0.1", "-p", u, "-o", u],
        &stream,
        &world.docker_config,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let written = std::fs::read_to_string(&users).unwrap();
    assert_eq!(entries(&written), world.expected_entries());
    // The index's platforms disagree: said, and the default platform's user recorded.
    assert!(
        run.stderr.contains(&format!(
            "{}: platforms disagree on the user: linux/amd64 runs as `10001`, linux/arm64 as `0`; recorded linux/amd64's (--platform chooses another)\n",
            world.locked.image("multi", "2")
        )),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("pa55"), "{}", run.stderr);

    // No registry from here on: rendering needs none.
    world.open.stop();
    world.locked.stop();
    let report = dir.join("report.json");
    let run = feed(
        pulse_harden().args([
            "--profile",
            "restricted",
            "-p",
            users.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "--report-format",
            "json",
        ]),
        stream.as_bytes(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = String::from_utf8(run.stdout).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let docs: Vec<&str> = out.split("\n---\n").collect();
    for (name, image, user) in &world.images {
        let doc = docs
            .iter()
            .find(|d| d.contains(&format!("name: {name}\n")))
            .unwrap();
        let step = report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == format!("Deployment/apps/{name}"))
            .and_then(|r| {
                r["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["step"] == "profile restricted: run-as-non-root")
            })
            .unwrap();
        // Exactly the images declaring a numeric non-root user get runAsNonRoot.
        let safe = matches!(*name, "numeric" | "pair" | "multi");
        assert_eq!(doc.contains("runAsNonRoot: true"), safe, "{name}:\n{doc}");
        if safe {
            assert_eq!(step["result"], "changed", "{name}: {step}");
        } else {
            assert_eq!(step["result"], "conflict", "{name}: {step}");
            let reason = step["reason"].as_str().unwrap();
            let said = match *user {
                "" => "runs as root (no user".to_string(),
                "0" => "runs as root".to_string(),
                name => format!("runs as the user name `{name}`"),
            };
            assert!(
                reason.contains(&format!("(image {image})")) && reason.contains(&said),
                "{name}: {reason}"
            );
        }
    }

    // An image the file does not list: the README's words for it.
    let unknown = deployment("unknown", "quay.io/acme/tool:2");
    let run = feed(
        pulse_harden().args(["--profile", "restricted", "-p", u, "--report", "-"]),
        unknown.as_bytes(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "container `main` (image quay.io/acme/tool:2) sets no runAsUser and its image may run as root; \
             runAsNonRoot: true would then stop it from starting; set runAsUser in a step of your own, \
             or list the image's user in an ImageUsers file"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn the_platform_flag_chooses_an_index_entry() {
    let world = world("platform");
    let image = world.locked.image("multi", "2");
    let run = images(
        &[
            "--resolve",
            "--plain-http",
            "127.0.0.1",
            "--platform",
            "linux/arm64",
        ],
        &deployment("multi", &image),
        &world.docker_config,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = String::from_utf8(run.stdout).unwrap();
    assert_eq!(
        entries(&text),
        [resolved(&image, "0", world.locked.digest("multi", "2"))]
    );
    let run = images(
        &[
            "--resolve",
            "--plain-http",
            "127.0.0.1",
            "--platform",
            "linux/s390x",
        ],
        &deployment("multi", &image),
        &world.docker_config,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!(
            "{image}: has no linux/s390x image (it has linux/amd64, linux/arm64); choose one with --platform"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn an_existing_file_is_kept_and_only_what_it_lacks_is_resolved() {
    let open = Registry::start("existing");
    open.push(
        &Layout::image("existing-new", Some("10001")),
        "new",
        "1",
        None,
    );
    open.push(
        &Layout::image("existing-known", Some("0")),
        "known",
        "1",
        None,
    );
    let dir = temp_dir("images-existing");
    let file = dir.join("image-users.yaml");
    // Hand-written entries: one for an image the registry would say otherwise about, one for an
    // image on a registry that does not exist. Neither may be asked for.
    let known = open.image("known", "1");
    std::fs::write(
        &file,
        format!(
            "apiVersion: pulse-harden/v1\nkind: ImageUsers\nimages:\n  - image: {known}\n    user: \"4242\"\n  - image: 127.0.0.1:9/ghost\n    user: \"7\"\n"
        ),
    )
    .unwrap();
    let stream = [
        deployment("new", &open.image("new", "1")),
        deployment("known", &known),
        deployment("ghost", "127.0.0.1:9/ghost:3"),
    ]
    .concat();
    let f = file.to_str().unwrap();
    let run = images(
        &["--resolve", "--plain-http", "127.0.0.1", "-p", f, "-o", f],
        &stream,
        &dir,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!("pulse-harden: resolved 1 image from their registries; 2 more already in {f}\n")
    );
    let mut expected = vec![
        ("127.0.0.1:9/ghost".into(), "7".into(), None, None),
        (known, "4242".into(), None, None),
        resolved(&open.image("new", "1"), "10001", open.digest("new", "1")),
    ];
    expected.sort();
    assert_eq!(entries(&std::fs::read_to_string(&file).unwrap()), expected);
}

#[test]
fn an_unreachable_registry_is_named_and_no_file_is_written() {
    let mut gone = Registry::start("gone");
    gone.push(&Layout::image("gone", Some("10001")), "app", "1", None);
    let image = gone.image("app", "1");
    gone.stop();
    let dir = temp_dir("images-unreachable");
    let out = dir.join("users.yaml");
    std::fs::write(&out, "previous content\n").unwrap();
    let run = images(
        &[
            "--resolve",
            "--plain-http",
            "127.0.0.1",
            "--timeout",
            "5",
            "-o",
            out.to_str().unwrap(),
        ],
        &deployment("app", &image),
        &dir,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!(
            "pulse-harden: error: cannot resolve 1 image; nothing was written:\n  {image}: cannot reach registry {} (http): ",
            gone.host
        )),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous content\n");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "a temp file was left"
    );
}

#[test]
fn a_registry_behind_auth_needs_the_right_credentials_and_never_shows_them() {
    let locked = Registry::start_with_auth("denied", "ci", "right-pass");
    locked.push(&Layout::image("denied", Some("10001")), "app", "1", None);
    let image = locked.image("app", "1");
    let stream = deployment("app", &image);
    let dir = temp_dir("images-denied");
    let args = ["--resolve", "--plain-http", "127.0.0.1"];

    let run = images(&args, &stream, &dir.join("no-config"));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!(
            "{image}: registry {} needs credentials: none for {} in $DOCKER_CONFIG/config.json",
            locked.host, locked.host
        )),
        "{}",
        run.stderr
    );

    // A credential helper is not run, and the message says so.
    let helper = dir.join("helper");
    std::fs::create_dir_all(&helper).unwrap();
    std::fs::write(helper.join("config.json"), r#"{"credsStore": "desktop"}"#).unwrap();
    let run = images(&args, &stream, &helper);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!(
            "registry {} needs credentials: none for {} in {}/config.json (`docker login {}` or an `auths` entry); credential helpers (credsStore, credHelpers) are not run",
            locked.host,
            locked.host,
            helper.display(),
            locked.host
        )),
        "{}",
        run.stderr
    );

    let wrong = dir.join("wrong");
    std::fs::create_dir_all(&wrong).unwrap();
    std::fs::write(
        wrong.join("config.json"),
        format!(
            "{{\"auths\": {{\"http://{}\": {{\"username\": \"ci\", \"password\": \"wrong-pass\"}}}}}}",
            locked.host
        ),
    )
    .unwrap();
    let run = images(&args, &stream, &wrong);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!(
            "{image}: registry {} refused the credentials from {}/config.json (HTTP 401)",
            locked.host,
            wrong.display()
        )),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wrong-pass"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn registries_are_reached_over_https_unless_named_plain() {
    let open = Registry::start("https");
    open.push(&Layout::image("https", Some("10001")), "app", "1", None);
    let image = open.image("app", "1");
    let dir = temp_dir("images-https");
    let run = images(
        &["--resolve", "--timeout", "5"],
        &deployment("app", &image),
        &dir,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!(
            "{image}: cannot reach registry {} (https): ",
            open.host
        )) && run
            .stderr
            .contains(&format!("pass --plain-http {}", open.host)),
        "{}",
        run.stderr
    );
    // `--plain-http HOST:PORT` names one registry; another port of the host stays HTTPS.
    let run = images(
        &["--resolve", "--plain-http", &open.host],
        &deployment("app", &image),
        &dir,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = images(
        &["--resolve", "--timeout", "5", "--plain-http", "127.0.0.1:1"],
        &deployment("app", &image),
        &dir,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn a_registry_with_bearer_tokens_gets_one_with_the_config_json_credentials() {
    let registry = Registry::start_with_tokens("tokens", "robot", "t0ken-pass", &["app"]);
    registry.push(&Layout::image("tokens", Some("10001")), "app", "1", None);
    let image = registry.image("app", "1");
    let dir = temp_dir("images-tokens");
    let config = registry.docker_config(&dir.join("docker"));
    let tokens = registry.tokens.as_ref().unwrap();
    tokens.requests.lock().unwrap().clear();
    let run = images(
        &["--resolve", "--plain-http", "127.0.0.1"],
        &deployment("app", &image),
        &config,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let asked = tokens.requests.lock().unwrap().clone();
    assert_eq!(
        entries(&String::from_utf8(run.stdout).unwrap()),
        [resolved(&image, "10001", registry.digest("app", "1"))]
    );
    // One token for the repository (asked for its pull scope), used for manifest and blob.
    assert_eq!(
        asked,
        ["GET /token?service=pulse-harden-test-registry&scope=repository%3Aapp%3Apull HTTP/1.1"]
    );

    // Without credentials the token service refuses, and the message says where they go.
    let run = images(
        &["--resolve", "--plain-http", "127.0.0.1"],
        &deployment("app", &image),
        &dir.join("none"),
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!(
            "{image}: registry {} needs credentials: none for {} in $DOCKER_CONFIG/config.json",
            registry.host, registry.host
        )),
        "{}",
        run.stderr
    );
}

/// A registry that accepts connections and never answers: `--timeout` gives up on it, and no
/// more than `--parallel` requests are ever in flight.
#[test]
fn requests_time_out_and_at_most_parallel_are_in_flight() {
    use std::net::TcpListener;
    use std::time::{Duration, Instant};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let accepted = accepted.clone();
        std::thread::spawn(move || {
            // Connections are kept open, unanswered, until the test ends.
            let mut open = Vec::new();
            for stream in listener.incoming().flatten() {
                accepted.lock().unwrap().push(Instant::now());
                open.push(stream);
            }
        });
    }
    let stream: String = (1..=5)
        .map(|i| deployment(&format!("d{i}"), &format!("{host}/app{i}:1")))
        .collect();
    let dir = temp_dir("images-timeout");
    let run = images(
        &[
            "--resolve",
            "--plain-http",
            &host,
            "--timeout",
            "2",
            "--parallel",
            "2",
        ],
        &stream,
        &dir,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("pulse-harden: error: cannot resolve 5 images; nothing was written:\n")
            && run
                .stderr
                .matches(&format!("cannot reach registry {host} (http): timed out"))
                .count()
                == 5,
        "{}",
        run.stderr
    );
    // The first two requests wait out their timeout before a third starts.
    let accepted = accepted.lock().unwrap();
    assert_eq!(accepted.len(), 5);
    let first = accepted[0];
    let early = accepted
        .iter()
        .filter(|t| t.duration_since(first) < Duration::from_millis(1500))
        .count();
    assert_eq!(early, 2, "{accepted:?}");
}

/// An HTTPS proxy from the environment is used for registries, but never for loopback ones.
#[test]
fn the_environment_proxy_is_used_except_for_loopback_registries() {
    let open = Registry::start("proxy");
    open.push(&Layout::image("proxy", Some("10001")), "app", "1", None);
    let dir = temp_dir("images-proxy");
    let dead_proxy = "http://127.0.0.1:9"; // nothing listens there
    let run = |image: &str, no_proxy: &str| {
        feed(
            pulse_harden()
                .args([
                    "images",
                    "--resolve",
                    "--plain-http",
                    "127.0.0.1",
                    "--timeout",
                    "5",
                ])
                .env("DOCKER_CONFIG", &dir)
                .env("HTTPS_PROXY", dead_proxy)
                .env("NO_PROXY", no_proxy),
            deployment("app", image).as_bytes(),
        )
    };
    // Loopback: straight to the registry, though the proxy is dead.
    let ok = run(&open.image("app", "1"), "");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    // Elsewhere: through the (dead) proxy; with NO_PROXY naming it, straight (and the name
    // does not resolve).
    let proxied = run("registry.invalid/app:1", "");
    assert!(
        proxied
            .stderr
            .contains("cannot reach registry registry.invalid (https): ")
            && !proxied.stderr.contains("host not found"),
        "{}",
        proxied.stderr
    );
    let direct = run("registry.invalid/app:1", "registry.invalid");
    assert!(
        direct
            .stderr
            .contains("cannot reach registry registry.invalid (https): host not found"),
        "{}",
        direct.stderr
    );
}

/// HTTPS, the default: a registry whose certificate a private CA signed is trusted through
/// `SSL_CERT_FILE`, and refused (with the way out) without it.
#[test]
fn https_registries_are_checked_against_ssl_cert_file_when_set() {
    let registry = Registry::start_https("tls");
    registry.push(&Layout::image("tls", Some("10001")), "app", "1", None);
    let image = registry.image("app", "1");
    let dir = temp_dir("images-tls");
    let cert = registry.certificate.clone().unwrap();
    let resolve = |ca: Option<&Path>| {
        let mut cmd = pulse_harden();
        cmd.args(["images", "--resolve", "--timeout", "5"])
            .env("DOCKER_CONFIG", &dir)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env_remove("SSL_CERT_FILE");
        if let Some(ca) = ca {
            cmd.env("SSL_CERT_FILE", ca);
        }
        feed(&mut cmd, deployment("app", &image).as_bytes())
    };
    let run = resolve(Some(&cert));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        entries(&String::from_utf8(run.stdout).unwrap()),
        [resolved(&image, "10001", registry.digest("app", "1"))]
    );
    let run = resolve(None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!("{image}: cannot reach registry {} (https): ", registry.host))
            && run.stderr.contains(
                "if a private CA signs its certificate, point SSL_CERT_FILE at a PEM file of the certificates to trust"
            ),
        "{}",
        run.stderr
    );
    let run = resolve(Some(&dir.join("missing.pem")));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with(&format!(
            "pulse-harden: error: cannot read SSL_CERT_FILE {}",
            dir.join("missing.pem").display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn a_tag_the_registry_does_not_have_is_named_with_the_registry_s_words() {
    let open = Registry::start("missing-tag");
    open.push(
        &Layout::image("missing-tag", Some("10001")),
        "app",
        "1",
        None,
    );
    let image = open.image("app", "2");
    let run = images(
        &["--resolve", "--plain-http", "127.0.0.1"],
        &deployment("app", &image),
        &temp_dir("images-missing-tag"),
    );
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        format!(
            "pulse-harden: error: cannot resolve 1 image; nothing was written:\n  {image}: registry {} answered HTTP 404 for /v2/app/manifests/2: MANIFEST_UNKNOWN: manifest unknown\n",
            open.host
        )
    );
}
