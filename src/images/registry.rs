//! The small part of the OCI distribution API that `images --resolve` needs: GET a manifest
//! (or index) and GET a blob, with basic or bearer-token auth, over HTTPS unless a registry is
//! named with `--plain-http`. Only the `images` subcommand creates a [`Client`]: rendering
//! never reaches the network.

use super::auth::{Basic, Challenge, Credentials};
use anyhow::{Context, Result, anyhow, bail};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use ureq::Agent;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// Media types of image manifests and indexes, Docker's and OCI's.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Larger manifests or configs than these are refused rather than read into memory.
const MANIFEST_LIMIT: u64 = 4 << 20;
const BLOB_LIMIT: u64 = 16 << 20;

/// Where Docker Hub's API is (`docker.io` names the registry, not a host that serves it).
const DOCKER_HUB_API: &str = "registry-1.docker.io";

#[derive(Debug, Clone)]
pub struct Options {
    /// Registries reached over plain HTTP: `host` (any port) or `host:port`.
    pub plain_http: Vec<String>,
    /// For each request, from connecting to reading the whole body.
    pub timeout: Duration,
    /// A PEM file of the certificates to trust for HTTPS instead of Mozilla's (`SSL_CERT_FILE`).
    pub ca_file: Option<PathBuf>,
}

/// A registry client. Shareable between threads; remembers per repository the authorization
/// that worked, so a token is asked for once.
pub struct Client {
    /// Through the environment's proxy (`HTTPS_PROXY`, `NO_PROXY`, ...).
    proxied: Agent,
    /// Loopback registries, never through a proxy.
    direct: Agent,
    plain_http: Vec<String>,
    credentials: Credentials,
    authorizations: Mutex<HashMap<String, String>>,
}

/// A manifest or index as the registry sent it.
#[derive(Debug)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    /// From `Content-Type`, else the document's own `mediaType`.
    pub media_type: String,
    /// `sha256:` of the bytes: what a pod pins with `image@digest`.
    pub digest: String,
}

impl Client {
    pub fn new(options: &Options, credentials: Credentials) -> Result<Client> {
        let roots = match &options.ca_file {
            Some(path) => RootCerts::Specific(Arc::new(certificates(path)?)),
            None => RootCerts::WebPki,
        };
        let tls = TlsConfig::builder().root_certs(roots).build();
        let agent = |proxy: Option<ureq::Proxy>| -> Agent {
            Agent::config_builder()
                .tls_config(tls.clone())
                .http_status_as_error(false)
                .timeout_global(Some(options.timeout))
                .timeout_connect(Some(options.timeout.min(Duration::from_secs(10))))
                .user_agent(concat!("pulse-harden/", env!("CARGO_PKG_VERSION")))
                .proxy(proxy)
                .build()
                .new_agent()
        };
        Ok(Client {
            proxied: agent(ureq::Proxy::try_from_env()),
            direct: agent(None),
            // `http://host:port/` is what people paste; the host is what counts.
            plain_http: options
                .plain_http
                .iter()
                .map(|p| {
                    let p = p.trim();
                    let p = p.strip_prefix("http://").unwrap_or(p);
                    p.trim_end_matches('/').to_string()
                })
                .collect(),
            credentials,
            authorizations: Mutex::new(HashMap::new()),
        })
    }

    /// GET `/v2/REPO/manifests/REFERENCE` (a tag or a digest). A digest reference is checked
    /// against the bytes received.
    pub fn manifest(&self, host: &str, repo: &str, reference: &str) -> Result<Manifest> {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let (bytes, content_type) = self.get(host, repo, &path, MANIFEST_ACCEPT, MANIFEST_LIMIT)?;
        let digest = sha256(&bytes);
        if reference.starts_with("sha256:") && reference != digest {
            bail!(
                "registry {host} sent a manifest for {repo}@{reference} whose digest is {digest}"
            );
        }
        let media_type = content_type
            .map(|t| t.split(';').next().unwrap_or_default().trim().to_string())
            .filter(|t| t.starts_with("application/vnd."))
            .or_else(|| {
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()?
                    .get("mediaType")?
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default();
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// GET `/v2/REPO/blobs/DIGEST`, checked against the digest.
    pub fn blob(&self, host: &str, repo: &str, digest: &str) -> Result<Vec<u8>> {
        let path = format!("/v2/{repo}/blobs/{digest}");
        let (bytes, _) = self.get(host, repo, &path, "*/*", BLOB_LIMIT)?;
        if digest.starts_with("sha256:") && sha256(&bytes) != digest {
            bail!("registry {host} sent a blob for {repo}@{digest} with another digest");
        }
        Ok(bytes)
    }

    fn base_url(&self, host: &str) -> String {
        let endpoint = if host == "docker.io" {
            DOCKER_HUB_API
        } else {
            host
        };
        let scheme = if self.is_plain_http(host) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{endpoint}")
    }

    fn is_plain_http(&self, host: &str) -> bool {
        let name = host_name(host);
        self.plain_http
            .iter()
            .any(|p| p.eq_ignore_ascii_case(host) || (!has_port(p) && p.eq_ignore_ascii_case(name)))
    }

    fn agent(&self, host: &str) -> &Agent {
        let name = host_name(host)
            .trim_start_matches('[')
            .trim_end_matches(']');
        let loopback = name.eq_ignore_ascii_case("localhost")
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if loopback {
            &self.direct
        } else {
            &self.proxied
        }
    }

    /// GET with the repository's authorization; on 401, answers the challenge once and
    /// retries. Returns the body and its `Content-Type`.
    fn get(
        &self,
        host: &str,
        repo: &str,
        path: &str,
        accept: &str,
        limit: u64,
    ) -> Result<(Vec<u8>, Option<String>)> {
        let key = format!("{host}/{repo}");
        let url = format!("{}{path}", self.base_url(host));
        let mut authorization = self.lock().get(&key).cloned();
        let mut answered = false;
        loop {
            let mut request = self.agent(host).get(&url).header("Accept", accept);
            if let Some(value) = &authorization {
                request = request.header("Authorization", value);
            }
            let mut response = request.call().map_err(|e| self.transport_error(host, e))?;
            let status = response.status().as_u16();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            match status {
                200 => {
                    let content_type = header("content-type");
                    let body = response
                        .body_mut()
                        .with_config()
                        .limit(limit)
                        .read_to_vec()
                        .map_err(|e| self.transport_error(host, e))?;
                    if let Some(value) = authorization {
                        self.lock().insert(key, value);
                    }
                    return Ok((body, content_type));
                }
                401 if !answered => {
                    let challenge = header("www-authenticate").with_context(|| {
                        format!("registry {host} answered 401 without a WWW-Authenticate challenge")
                    })?;
                    authorization = Some(self.answer(host, repo, &Challenge::parse(&challenge))?);
                    answered = true;
                }
                401 => bail!(
                    "registry {host} refused the credentials{} (HTTP 401)",
                    self.credentials_origin()
                ),
                _ => {
                    let body = response
                        .body_mut()
                        .with_config()
                        .limit(64 << 10)
                        .read_to_string()
                        .unwrap_or_default();
                    let why = registry_errors(&body);
                    bail!("registry {host} answered HTTP {status} for {path}{why}");
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A panicking worker cannot leave the map half-updated (one insert): keep using it.
        self.authorizations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The `Authorization` header that answers a 401 challenge.
    fn answer(&self, host: &str, repo: &str, challenge: &Challenge) -> Result<String> {
        let basic = self.credentials.for_host(host);
        match challenge {
            Challenge::Basic => match basic {
                Some(basic) => Ok(basic.header()),
                None => bail!(
                    "registry {host} needs credentials{}",
                    self.where_to_log_in(host)
                ),
            },
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => self.token(
                host,
                repo,
                realm,
                service.as_deref(),
                scope.as_deref(),
                basic,
            ),
            Challenge::Other(scheme) => {
                bail!(
                    "registry {host} asks for {scheme} authentication, which pulse-harden does not speak"
                )
            }
        }
    }

    /// A bearer token from the challenge's realm, asked with the registry's credentials if
    /// there are any (anonymously otherwise, as public repositories allow).
    fn token(
        &self,
        host: &str,
        repo: &str,
        realm: &str,
        service: Option<&str>,
        scope: Option<&str>,
        basic: Option<&Basic>,
    ) -> Result<String> {
        let realm_host = realm
            .strip_prefix("https://")
            .or_else(|| realm.strip_prefix("http://"))
            .and_then(|rest| rest.split(['/', '?']).next())
            .filter(|h| !h.is_empty())
            .with_context(|| format!("registry {host} names a token service that is not a URL"))?;
        let https = realm.starts_with("https://");
        if !https && !self.is_plain_http(realm_host) {
            bail!(
                "registry {host} sends credentials to a token service over plain HTTP ({realm_host}); \
                 pass --plain-http {realm_host} if that is intended"
            );
        }
        let default_scope = format!("repository:{repo}:pull");
        let mut url = realm.to_string();
        let mut separator = if url.contains('?') { '&' } else { '?' };
        for (name, value) in [
            ("service", service),
            ("scope", Some(scope.unwrap_or(&default_scope))),
        ] {
            if let Some(value) = value {
                url.push(separator);
                url.push_str(name);
                url.push('=');
                url.push_str(&query_escape(value));
                separator = '&';
            }
        }
        let mut request = self.agent(realm_host).get(&url);
        if let Some(basic) = basic {
            request = request.header("Authorization", &basic.header());
        }
        let mut response = request
            .call()
            .map_err(|e| self.transport_error(realm_host, e))
            .with_context(|| format!("cannot get a token for registry {host}"))?;
        let status = response.status().as_u16();
        if status == 401 || status == 403 {
            if basic.is_some() {
                bail!(
                    "the token service of registry {host} ({realm_host}) refused the credentials{} (HTTP {status})",
                    self.credentials_origin()
                );
            }
            bail!(
                "registry {host} needs credentials{}",
                self.where_to_log_in(host)
            );
        }
        if status != 200 {
            bail!("the token service of registry {host} ({realm_host}) answered HTTP {status}");
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| self.transport_error(realm_host, e))?;
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            anyhow!("the token service of registry {host} ({realm_host}) sent no JSON token")
        })?;
        match parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
        {
            Some(token) => Ok(format!("Bearer {token}")),
            None => bail!("the token service of registry {host} ({realm_host}) sent no token"),
        }
    }

    fn credentials_origin(&self) -> String {
        match &self.credentials.origin {
            Some(path) => format!(" from {}", path.display()),
            None => String::new(),
        }
    }

    fn where_to_log_in(&self, host: &str) -> String {
        let file = match &self.credentials.origin {
            Some(path) => path.display().to_string(),
            None => "$DOCKER_CONFIG/config.json (or ~/.docker/config.json)".to_string(),
        };
        let helpers = if self.credentials.uses_helpers {
            "; credential helpers (credsStore, credHelpers) are not run"
        } else {
            ""
        };
        format!(": none for {host} in {file} (`docker login {host}` or an `auths` entry){helpers}")
    }

    fn transport_error(&self, host: &str, e: ureq::Error) -> anyhow::Error {
        let scheme = if self.is_plain_http(host) {
            "http"
        } else {
            "https"
        };
        // A registry without TLS answers the TLS handshake with plain HTTP, which rustls
        // reads as a corrupt message; a certificate it cannot check is another matter.
        let text = e.to_string();
        let not_tls = matches!(e, ureq::Error::Protocol(_)) || text.contains("corrupt message");
        let bad_certificate = text.contains("certificate");
        match e {
            ureq::Error::Timeout(_) => {
                anyhow!("cannot reach registry {host} ({scheme}): timed out")
            }
            ureq::Error::HostNotFound => {
                anyhow!("cannot reach registry {host} ({scheme}): host not found")
            }
            // The standard resolver's failure comes as an I/O error.
            ureq::Error::Io(io) if io.to_string().contains("lookup address") => {
                anyhow!("cannot reach registry {host} ({scheme}): host not found")
            }
            ureq::Error::BodyExceedsLimit(limit) => {
                anyhow!("registry {host} sent more than {limit} bytes; refused")
            }
            // It answered, but not in TLS: most likely a registry without TLS.
            e if not_tls && scheme == "https" => anyhow!(
                "cannot reach registry {host} (https): {e}; if it serves plain HTTP, pass --plain-http {host}"
            ),
            e if bad_certificate && scheme == "https" => anyhow!(
                "cannot reach registry {host} (https): {e}; if a private CA signs its certificate, \
                 point SSL_CERT_FILE at a PEM file of the certificates to trust"
            ),
            ureq::Error::Io(io) => anyhow!("cannot reach registry {host} ({scheme}): {io}"),
            e => anyhow!("cannot reach registry {host} ({scheme}): {e}"),
        }
    }
}

/// The certificates of a PEM file.
fn certificates(path: &std::path::Path) -> Result<Vec<Certificate<'static>>> {
    let what = || format!("SSL_CERT_FILE {}", path.display());
    let pem = std::fs::read(path).with_context(|| format!("cannot read {}", what()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let PemItem::Certificate(cert) =
            item.with_context(|| format!("{} is not PEM", what()))?
        {
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        bail!("{} holds no certificate", what());
    }
    Ok(certs)
}

/// `host` of `host:port` (IPv6 in brackets kept whole).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.split_once(':').map_or(host, |(h, _)| h)
}

fn has_port(host: &str) -> bool {
    host.len() != host_name(host).len()
}

/// `sha256:` + hex of the bytes.
pub fn sha256(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in Sha256::digest(bytes) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Percent-encodes a query value.
fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The codes and messages of a distribution API error body (`{"errors": [...]}`), shortened
/// and without control characters: a registry's words, shown to a terminal.
fn registry_errors(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        code: Option<String>,
        message: Option<String>,
    }
    let Ok(errors) = serde_json::from_str::<Errors>(body) else {
        return String::new();
    };
    let text: Vec<String> = errors
        .errors
        .iter()
        .map(|e| {
            let mut parts = Vec::new();
            parts.extend(e.code.as_deref());
            parts.extend(e.message.as_deref());
            parts.join(": ")
        })
        .collect();
    let text: String = text
        .join("; ")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(plain_http: &[&str]) -> Client {
        Client::new(
            &Options {
                plain_http: plain_http.iter().map(|s| s.to_string()).collect(),
                timeout: Duration::from_secs(1),
                ca_file: None,
            },
            Credentials::default(),
        )
        .unwrap()
    }

    #[test]
    fn https_unless_named_plain_with_or_without_port() {
        let c = client(&["127.0.0.1", "http://reg.local:5000/"]);
        assert_eq!(c.base_url("127.0.0.1:5999"), "http://127.0.0.1:5999");
        assert_eq!(c.base_url("reg.local:5000"), "http://reg.local:5000");
        assert_eq!(c.base_url("reg.local:5001"), "https://reg.local:5001");
        assert_eq!(c.base_url("docker.io"), "https://registry-1.docker.io");
        assert_eq!(c.base_url("[::1]:5000"), "https://[::1]:5000");
    }

    #[test]
    fn registry_error_bodies_are_shortened_and_cleaned() {
        assert_eq!(
            registry_errors(
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown\u001b[31m","detail":{}}]}"#
            ),
            ": MANIFEST_UNKNOWN: manifest unknown[31m"
        );
        assert_eq!(registry_errors("<html>"), "");
        assert_eq!(
            query_escape("repository:a/b:pull"),
            "repository%3Aa%2Fb%3Apull"
        );
    }
}
