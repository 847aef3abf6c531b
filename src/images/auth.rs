//! Registry credentials and challenges: the `auths` of Docker's `config.json`
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`) and the `WWW-Authenticate`
//! header a registry answers 401 with. A credential never appears in a message.

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A user name and password for one registry. `Debug` hides the password.
#[derive(Clone, PartialEq)]
pub struct Basic {
    pub user: String,
    password: String,
}

impl Basic {
    pub fn new(user: &str, password: &str) -> Basic {
        Basic {
            user: user.to_string(),
            password: password.to_string(),
        }
    }

    /// The `Authorization` header value.
    pub fn header(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.user, self.password))
        )
    }
}

impl fmt::Debug for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Basic {{ user: {:?}, password: <hidden> }}", self.user)
    }
}

/// The credentials of Docker's `config.json`, by registry host.
#[derive(Debug, Default, Clone)]
pub struct Credentials {
    by_host: BTreeMap<String, Basic>,
    /// The file they came from, for messages.
    pub origin: Option<PathBuf>,
    /// The file names a credential helper (`credsStore`, `credHelpers`), which we do not run.
    pub uses_helpers: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    // `identitytoken` (an OAuth refresh token) needs a flow registries differ on; not read.
}

impl Credentials {
    /// Reads `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`; none when the
    /// file does not exist.
    pub fn from_environment() -> Result<Credentials> {
        let dir = match std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
                Some(home) => PathBuf::from(home).join(".docker"),
                None => return Ok(Credentials::default()),
            },
        };
        let path = dir.join("config.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Reads the text of a `config.json`. Errors name the file and the registry entry, never
    /// what the entry holds.
    pub fn parse(text: &str, path: &Path) -> Result<Credentials> {
        let file: ConfigFile = serde_json::from_str(text).map_err(|e| {
            // serde_json quotes the offending value in some messages: give only the position.
            anyhow::anyhow!(
                "{}:{}:{}: not a Docker config.json ({})",
                path.display(),
                e.line(),
                e.column(),
                match e.classify() {
                    serde_json::error::Category::Syntax | serde_json::error::Category::Eof =>
                        "invalid JSON",
                    _ => "unexpected value",
                }
            )
        })?;
        let mut by_host = BTreeMap::new();
        for (key, entry) in file.auths {
            let basic = match (&entry.auth, &entry.username, &entry.password) {
                (Some(auth), _, _) if !auth.is_empty() => decode_auth(auth).with_context(|| {
                    format!(
                        "{}: the `auth` of registry {key} is not base64 of user:password",
                        path.display()
                    )
                })?,
                (_, Some(user), Some(password)) => Basic::new(user, password),
                _ => continue,
            };
            by_host.insert(host_key(&key), basic);
        }
        Ok(Credentials {
            by_host,
            origin: Some(path.to_path_buf()),
            uses_helpers: file.creds_store.is_some_and(|s| !s.is_empty())
                || !file.cred_helpers.is_empty(),
        })
    }

    /// The credentials for a registry host (`docker.io`, `quay.io`, `127.0.0.1:5000`).
    pub fn for_host(&self, host: &str) -> Option<&Basic> {
        self.by_host.get(&host_key(host))
    }
}

fn decode_auth(auth: &str) -> Result<Basic> {
    let bytes = STANDARD.decode(auth.trim())?;
    let text = String::from_utf8(bytes)?;
    match text.split_once(':') {
        Some((user, password)) => Ok(Basic::new(user, password)),
        None => bail!("no `:`"),
    }
}

/// The host a `config.json` key stands for: keys may be `https://host/v1/`, `host` or
/// `host:port`; Docker Hub is written in several ways.
fn host_key(key: &str) -> String {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        _ => host,
    }
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq)]
pub enum Challenge {
    Basic,
    /// Get a token from `realm` for `service` and `scope`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    Other(String),
}

impl Challenge {
    /// Reads one challenge: `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
    pub fn parse(header: &str) -> Challenge {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        let params = parse_params(params);
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        if scheme.eq_ignore_ascii_case("basic") {
            Challenge::Basic
        } else if scheme.eq_ignore_ascii_case("bearer")
            && let Some(realm) = get("realm")
        {
            Challenge::Bearer {
                realm,
                service: get("service"),
                scope: get("scope"),
            }
        } else {
            Challenge::Other(scheme.to_string())
        }
    }
}

/// `k="v", k2=v2` pairs; a quoted value may hold commas (`scope="repository:a:pull,push"`).
fn parse_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end.min(quoted.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.push((key, value));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_auth_and_username_password_entries_by_host() {
        let text = r#"{"auths": {
            "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
            "127.0.0.1:5000": {"username": "ci", "password": "pw:with:colons"},
            "quay.io": {}
        }, "credHelpers": {"gcr.io": "gcloud"}}"#;
        let creds = Credentials::parse(text, Path::new("config.json")).unwrap();
        assert_eq!(
            creds.for_host("docker.io"),
            Some(&Basic::new("hub", "secret"))
        );
        assert_eq!(
            creds.for_host("127.0.0.1:5000"),
            Some(&Basic::new("ci", "pw:with:colons"))
        );
        assert_eq!(creds.for_host("quay.io"), None);
        assert!(creds.uses_helpers);
        assert_eq!(
            format!("{:?}", creds.for_host("docker.io").unwrap()),
            "Basic { user: \"hub\", password: <hidden> }"
        );
    }

    #[test]
    fn a_bad_entry_is_named_without_its_content() {
        let text = r#"{"auths": {"r.example": {"auth": "bm9jb2xvbg=="}}}"#;
        let e = Credentials::parse(text, Path::new("c.json")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.json: the `auth` of registry r.example is not base64 of user:password"
        );
        let e = Credentials::parse(r#"{"auths": "hunter2"}"#, Path::new("c.json")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.json:1:19: not a Docker config.json (unexpected value)"
        );
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn reads_bearer_and_basic_challenges() {
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#
            ),
            Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            }
        );
        assert_eq!(
            Challenge::parse(r#"Bearer realm=https://t.example/x, service=s"#),
            Challenge::Bearer {
                realm: "https://t.example/x".into(),
                service: Some("s".into()),
                scope: None,
            }
        );
        assert_eq!(Challenge::parse(r#"Basic realm="r""#), Challenge::Basic);
        assert_eq!(
            Challenge::parse("Negotiate"),
            Challenge::Other("Negotiate".into())
        );
    }
}
