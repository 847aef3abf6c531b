//! A real OCI registry for tests: Debian's `docker-registry` (the CNCF distribution registry)
//! started on a free loopback port with its own storage, with or without htpasswd basic auth,
//! and images built here as OCI layouts and pushed with the real `skopeo`.
//! `scripts/fetch-debian-tools.sh` (`make tools`) installs all three tools.

use super::helm_home::temp_dir;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOOLS_HINT: &str = "run `make tools` (scripts/fetch-debian-tools.sh installs docker-registry, skopeo and apache2-utils)";

/// A running registry on 127.0.0.1; stopped (and its storage removed) on drop.
pub struct Registry {
    child: Option<Child>,
    dir: PathBuf,
    /// `127.0.0.1:PORT`
    pub host: String,
    /// `(user, password)` when the registry is behind auth.
    pub creds: Option<(String, String)>,
    /// The token service, for a registry behind bearer-token auth.
    pub tokens: Option<TokenServer>,
    /// The self-signed certificate (PEM) of a registry serving HTTPS.
    pub certificate: Option<PathBuf>,
}

impl Registry {
    /// A registry anyone may push to and pull from.
    pub fn start(name: &str) -> Registry {
        Self::start_inner(name, None)
    }

    /// A registry behind htpasswd basic auth (bcrypt, as the registry requires).
    pub fn start_with_auth(name: &str, user: &str, password: &str) -> Registry {
        Self::start_inner(name, Some((user.to_string(), password.to_string())))
    }

    /// A registry behind bearer-token auth, as Docker Hub, GHCR or Harbor are: it answers 401
    /// with a `WWW-Authenticate: Bearer realm=…` challenge naming a token service (a small
    /// one run here, checking `user`/`password` with basic auth), and accepts the signed
    /// token that service hands out for `repositories`.
    pub fn start_with_tokens(
        name: &str,
        user: &str,
        password: &str,
        repositories: &[&str],
    ) -> Registry {
        let dir = temp_dir(&format!("registry-{name}"));
        let tokens = TokenServer::start(&dir, user, password, repositories);
        let auth = format!(
            "auth:\n  token:\n    realm: http://{}/token\n    service: {TOKEN_SERVICE}\n    \
             issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
            tokens.host,
            dir.join("token-cert.pem").display()
        );
        let mut registry = Self::serve(
            dir,
            Some((user.to_string(), password.to_string())),
            auth,
            "",
        );
        registry.tokens = Some(tokens);
        registry
    }

    /// A registry serving HTTPS with a certificate for 127.0.0.1 signed by a private CA made
    /// here (the CA's certificate, PEM, is [`Registry::certificate`]).
    pub fn start_https(name: &str) -> Registry {
        let dir = temp_dir(&format!("registry-{name}"));
        let file = |name: &str| dir.join(name);
        std::fs::write(
            file("leaf.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap_or_else(|e| panic!("openssl: {e}; {TOOLS_HINT}"));
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=pulse-harden test CA",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "tls-key.pem",
            "-out",
            "tls.csr",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "tls.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "tls-cert.pem",
        ]);
        let tls = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            file("tls-cert.pem").display(),
            file("tls-key.pem").display()
        );
        let mut registry = Self::serve(dir.clone(), None, String::new(), &tls);
        registry.certificate = Some(file("ca.pem"));
        registry
    }

    fn start_inner(name: &str, creds: Option<(String, String)>) -> Registry {
        let dir = temp_dir(&format!("registry-{name}"));
        let mut auth = String::new();
        if let Some((user, password)) = &creds {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .stderr(Stdio::inherit())
                .output()
                .unwrap_or_else(|e| panic!("htpasswd: {e}; {TOOLS_HINT}"));
            assert!(out.status.success(), "htpasswd failed");
            let file = dir.join("htpasswd");
            std::fs::write(&file, out.stdout).unwrap();
            auth = format!(
                "auth:\n  htpasswd:\n    realm: pulse-harden-test\n    path: {}\n",
                file.display()
            );
        }
        Self::serve(dir, creds, auth, "")
    }

    fn serve(dir: PathBuf, creds: Option<(String, String)>, auth: String, tls: &str) -> Registry {
        // A port that was free a moment ago; another process could take it before the registry
        // binds, so a registry that does not come up is retried on a new port.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap();
            let host = format!("127.0.0.1:{port}");
            let config = dir.join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                     http:\n  addr: {host}\n{tls}{auth}",
                    dir.join("storage").display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.join("registry.log")).unwrap();
            let child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("docker-registry: {e}; {TOOLS_HINT}"));
            let mut registry = Registry {
                child: Some(child),
                dir: dir.clone(),
                host,
                creds: creds.clone(),
                tokens: None,
                certificate: None,
            };
            if registry.wait_until_up() {
                return registry;
            }
            registry.stop();
        }
        let log = std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
        panic!("docker-registry did not start:\n{log}");
    }

    /// True once the registry accepts connections; false when it exited or 10 s passed.
    fn wait_until_up(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                return false;
            }
            if TcpStream::connect(&self.host).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Stops the registry (its address then refuses connections); idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `HOST/NAME:TAG` of an image in this registry.
    pub fn image(&self, name: &str, tag: &str) -> String {
        format!("{}/{name}:{tag}", self.host)
    }

    /// Pushes the layout's image (all of it, for an index) as `NAME:TAG` with skopeo. `format`
    /// `Some("v2s2")` converts to Docker's schema 2 media types on the way.
    pub fn push(&self, layout: &Layout, name: &str, tag: &str, format: Option<&str>) {
        let mut cmd = Command::new("skopeo");
        cmd.args([
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
        ]);
        if layout.is_index {
            cmd.arg("--all");
        }
        if let Some(format) = format {
            cmd.args(["--format", format]);
        }
        if let Some((user, password)) = &self.creds {
            cmd.arg("--dest-creds").arg(format!("{user}:{password}"));
        }
        let out = cmd
            .arg(format!("oci:{}:{}", layout.dir.display(), layout.tag))
            .arg(format!("docker://{}", self.image(name, tag)))
            .env("HOME", &self.dir) // no credentials or registries.conf of the machine
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("skopeo: {e}; {TOOLS_HINT}"));
        assert!(
            out.status.success(),
            "skopeo copy to {} failed:\n{}",
            self.image(name, tag),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The digest of `NAME:TAG`'s manifest (or index) as stored (skopeo compresses layers on
    /// push, so it differs from the layout's).
    pub fn digest(&self, name: &str, tag: &str) -> String {
        let mut cmd = Command::new("skopeo");
        cmd.args([
            "--insecure-policy",
            "inspect",
            "--raw",
            "--tls-verify=false",
        ]);
        if let Some((user, password)) = &self.creds {
            cmd.arg("--creds").arg(format!("{user}:{password}"));
        }
        let out = cmd
            .arg(format!("docker://{}", self.image(name, tag)))
            .env("HOME", &self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("skopeo: {e}; {TOOLS_HINT}"));
        assert!(out.status.success(), "skopeo inspect failed");
        sha256(&out.stdout)
    }

    /// A `config.json` for `DOCKER_CONFIG` with this registry's credentials as a base64 `auth`
    /// entry; returns the directory to point `DOCKER_CONFIG` at.
    pub fn docker_config(&self, dir: &Path) -> PathBuf {
        use base64::Engine;
        let (user, password) = self.creds.as_ref().expect("a registry with auth");
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            format!(
                "{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}\n",
                self.host
            ),
        )
        .unwrap();
        dir.to_path_buf()
    }

    /// What the registry logged (errors only).
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.join("registry.log")) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An OCI image layout on disk (`oci-layout`, `index.json`, `blobs/sha256/…`) holding one image
/// or one multi-platform index under `tag`.
pub struct Layout {
    pub dir: PathBuf,
    pub tag: String,
    is_index: bool,
}

/// One platform of an image: `os`, `architecture` and the config's `User` (`None`: unset).
#[derive(Clone, Copy)]
pub struct Platform<'a> {
    pub os: &'a str,
    pub arch: &'a str,
    pub user: Option<&'a str>,
}

impl Layout {
    /// A single-platform (linux/amd64) image whose config declares `user`.
    pub fn image(name: &str, user: Option<&str>) -> Layout {
        let dir = Self::new_dir(name);
        let (digest, size) = write_manifest(
            &dir,
            Platform {
                os: "linux",
                arch: "amd64",
                user,
            },
        );
        write_index(&dir, &[(digest, size, None)], "latest");
        Layout {
            dir,
            tag: "latest".into(),
            is_index: false,
        }
    }

    /// A multi-platform image: an image index with one manifest per platform.
    pub fn index(name: &str, platforms: &[Platform]) -> Layout {
        let dir = Self::new_dir(name);
        let entries: Vec<_> = platforms
            .iter()
            .map(|p| {
                let (digest, size) = write_manifest(&dir, *p);
                format!(
                    r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":{size},"platform":{{"architecture":"{}","os":"{}"}}}}"#,
                    p.arch, p.os
                )
            })
            .collect();
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
            entries.join(",")
        );
        let (digest, size) = write_blob(&dir, index.as_bytes());
        write_index(&dir, &[(digest, size, Some("index"))], "latest");
        Layout {
            dir,
            tag: "latest".into(),
            is_index: true,
        }
    }

    fn new_dir(name: &str) -> PathBuf {
        let dir = temp_dir(&format!("oci-{name}"));
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        dir
    }
}

/// Writes a blob under its digest; returns `(sha256:…, size)`.
fn write_blob(dir: &Path, bytes: &[u8]) -> (String, usize) {
    let digest = sha256(bytes);
    let hex = digest.trim_start_matches("sha256:");
    std::fs::write(dir.join("blobs/sha256").join(hex), bytes).unwrap();
    (digest, bytes.len())
}

fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// One image manifest: an empty tar layer and a config declaring the platform's user.
fn write_manifest(dir: &Path, p: Platform) -> (String, usize) {
    // An empty tar archive (two zero blocks); uncompressed layers are valid OCI.
    let (layer, layer_size) = write_blob(dir, &[0u8; 1024]);
    let user = match p.user {
        Some(user) => format!(r#""User":"{user}","#),
        None => String::new(),
    };
    let config = format!(
        r#"{{"architecture":"{}","os":"{}","config":{{{user}"Env":["PATH=/usr/bin"]}},"rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#,
        p.arch, p.os
    );
    let (config, config_size) = write_blob(dir, config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#
    );
    write_blob(dir, manifest.as_bytes())
}

/// The layout's `index.json`, naming the top manifest `tag`.
fn write_index(dir: &Path, entries: &[(String, usize, Option<&str>)], tag: &str) {
    let manifests: Vec<_> = entries
        .iter()
        .map(|(digest, size, kind)| {
            let media_type = match kind {
                Some(_) => "application/vnd.oci.image.index.v1+json",
                None => "application/vnd.oci.image.manifest.v1+json",
            };
            format!(
                r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{size},"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}"#
            )
        })
        .collect();
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            manifests.join(",")
        ),
    )
    .unwrap();
}

const TOKEN_SERVICE: &str = "pulse-harden-test-registry";
const TOKEN_ISSUER: &str = "pulse-harden-test-tokens";

/// A token service for a registry's bearer-token auth: answers `GET /token?service=…&scope=…`
/// with basic auth checked, handing out a JWT (RS256, signed with `openssl` and carrying its
/// certificate, which the registry trusts) that allows pull and push on the repositories it
/// was started with. Records each request line.
pub struct TokenServer {
    pub host: String,
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TokenServer {
    fn start(dir: &Path, user: &str, password: &str, repositories: &[&str]) -> TokenServer {
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let key = dir.join("token-key.pem");
        let cert = dir.join("token-cert.pem");
        let openssl = |args: &[&std::ffi::OsStr], input: Option<&[u8]>| -> Vec<u8> {
            let mut child = Command::new("openssl")
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("openssl");
            let mut stdin = child.stdin.take().unwrap();
            if let Some(input) = input {
                stdin.write_all(input).unwrap();
            }
            drop(stdin);
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        let os = |s: &str| std::ffi::OsString::from(s);
        openssl(
            &[
                &os("req"),
                &os("-x509"),
                &os("-newkey"),
                &os("rsa:2048"),
                &os("-nodes"),
                &os("-days"),
                &os("2"),
                &os("-subj"),
                &os("/CN=pulse-harden test tokens"),
                &os("-keyout"),
                key.as_os_str(),
                &os("-out"),
                cert.as_os_str(),
            ],
            None,
        );
        let der = openssl(
            &[
                &os("x509"),
                &os("-in"),
                cert.as_os_str(),
                &os("-outform"),
                &os("DER"),
            ],
            None,
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let access: Vec<String> = repositories
            .iter()
            .map(|r| format!(r#"{{"type":"repository","name":"{r}","actions":["pull","push"]}}"#))
            .collect();
        let header = format!(
            r#"{{"alg":"RS256","typ":"JWT","x5c":["{}"]}}"#,
            STANDARD.encode(der)
        );
        let claims = format!(
            r#"{{"iss":"{TOKEN_ISSUER}","sub":"{user}","aud":"{TOKEN_SERVICE}","exp":{},"nbf":{},"iat":{},"jti":"1","access":[{}]}}"#,
            now + 3600,
            now - 60,
            now - 60,
            access.join(",")
        );
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let signature = openssl(
            &[&os("dgst"), &os("-sha256"), &os("-sign"), key.as_os_str()],
            Some(input.as_bytes()),
        );
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
        let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let line = head.lines().next().unwrap_or_default().to_string();
                    let authorized = head.lines().any(|l| {
                        l.split_once(':').is_some_and(|(k, v)| {
                            k.eq_ignore_ascii_case("authorization") && v.trim() == expected
                        })
                    });
                    requests.lock().unwrap().push(line);
                    let (status, body) = if authorized {
                        (
                            "200 OK",
                            format!(r#"{{"token":"{token}","expires_in":3600}}"#),
                        )
                    } else {
                        (
                            "401 Unauthorized",
                            r#"{"details":"bad credentials"}"#.to_string(),
                        )
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            })
        };
        TokenServer {
            host,
            requests,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.host); // wakes the accept loop
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
