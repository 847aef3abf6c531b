//! Image references, normalised the way container runtimes read them (the grammar of
//! `github.com/distribution/reference`, which containerd, CRI-O and Docker share):
//! `nginx` is `docker.io/library/nginx:latest`, `bitnami/redis` is `docker.io/bitnami/redis`,
//! a first component with a `.` or `:`, or `localhost`, is a registry host.

use anyhow::{Result, bail};
use std::fmt;

/// The registry an image with no registry host comes from.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The namespace of Docker Hub's official images (`nginx` is `library/nginx`).
const OFFICIAL_NAMESPACE: &str = "library";
/// The tag a runtime pulls when a reference names neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";

/// A normalised image reference: registry host, repository path, tag and digest.
///
/// ```
/// use pulse_harden::images::ImageRef;
/// let nginx = ImageRef::parse("nginx").unwrap();
/// assert_eq!(nginx.to_string(), "docker.io/library/nginx:latest");
/// assert_eq!(nginx.repository(), "docker.io/library/nginx");
/// let pinned = ImageRef::parse("ghcr.io/acme/api:1.4.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").unwrap();
/// assert_eq!(pinned.tag(), Some("1.4.2"));
/// assert!(pinned.digest().is_some());
/// // In an ImageUsers file a repository alone stands for every tag and digest.
/// assert!(ImageRef::parse_pattern("quay.io/minio/mc").unwrap().is_repository());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// Reads a container's `image` as a runtime pulls it: with neither a tag nor a digest it
    /// is the `latest` tag.
    pub fn parse(text: &str) -> Result<ImageRef> {
        let mut image = Self::parse_pattern(text)?;
        if image.is_repository() {
            image.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(image)
    }

    /// Reads a reference that may name a whole repository (neither tag nor digest), as the
    /// `image` of an `ImageUsers` entry does: `quay.io/minio/mc` is every tag and digest of it.
    pub fn parse_pattern(text: &str) -> Result<ImageRef> {
        if text.is_empty() {
            bail!("an image reference cannot be empty");
        }
        if text.trim() != text || text.chars().any(char::is_whitespace) {
            bail!("image reference `{text}` contains white space");
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => match check_digest(digest) {
                Ok(()) => (rest, Some(digest.to_string())),
                Err(why) => bail!("image reference `{text}` has an {why}"),
            },
            None => (text, None),
        };
        // A tag follows the last `:` after the last `/` (a `:` before it is a registry port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(parse_tag(text, &rest[at + 1..])?))
            }
            None => (rest, None),
        };
        let (domain, path) = split_domain(name);
        if domain.is_empty() || !valid_domain(domain) {
            bail!("image reference `{text}` has an invalid registry host `{domain}`");
        }
        if path.is_empty() {
            bail!("image reference `{text}` names no repository");
        }
        for component in path.split('/') {
            if !valid_path_component(component) {
                bail!(
                    "image reference `{text}` has an invalid repository name `{path}` \
                     (lowercase letters, digits and separators `.`, `_`, `__`, `-` between them)"
                );
            }
        }
        let domain = match domain {
            // Docker Hub's legacy name, which distribution/reference normalises too.
            "index.docker.io" => DEFAULT_DOMAIN,
            other => other,
        };
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("{OFFICIAL_NAMESPACE}/{path}")
        } else {
            path.to_string()
        };
        Ok(ImageRef {
            domain: domain.to_string(),
            path,
            tag,
            digest,
        })
    }

    /// The registry host (with its port, if any): `docker.io`, `quay.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry: `library/nginx`, `minio/mc`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The repository without tag or digest: `docker.io/library/nginx`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, `algorithm:hex` (`sha256:…`).
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Whether it names a whole repository: neither a tag nor a digest (only from
    /// [`ImageRef::parse_pattern`]).
    pub fn is_repository(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }
}

/// The normalised reference: `domain/path[:tag][@digest]`.
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

/// Splits the registry host from the path, as `distribution/reference` does: the first
/// component is a host if it has a `.` or `:`, is `localhost`, or has an uppercase letter
/// (repository names are lowercase, so it cannot be one).
fn split_domain(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DEFAULT_DOMAIN, name),
    }
}

/// A host name (labels of letters, digits and `-`, joined by `.`), optionally `:port`, or a
/// bracketed IPv6 address with an optional port.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(inner) = domain.strip_prefix('[') {
        let Some((address, after)) = inner.split_once(']') else {
            return false;
        };
        if address.is_empty() || !address.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return false;
        }
        match after {
            "" => return true,
            other => match other.strip_prefix(':') {
                Some(port) => ("ipv6", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    host.split('.').all(label_ok)
        && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or any run of `-`.
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn parse_tag(text: &str, tag: &str) -> Result<String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        bail!("image reference `{text}` has an invalid tag `{tag}`");
    }
    Ok(tag.to_string())
}

/// `algorithm:hex`; a `sha256` digest is 64 lowercase hex digits. The error says what is
/// wrong with it (`invalid digest …`), for the caller to say where.
pub(crate) fn check_digest(digest: &str) -> Result<(), String> {
    let invalid = || format!("invalid digest `{digest}` (expected sha256:<64 hex digits>)");
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(invalid());
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '.' | '_' | '-')
        });
    let hex_ok = hex.len() >= 32
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    let length_ok = match algorithm {
        "sha256" => hex.len() == 64,
        "sha512" => hex.len() == 128,
        _ => true,
    };
    if algorithm_ok && hex_ok && length_ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn norm(text: &str) -> String {
        ImageRef::parse(text).unwrap().to_string()
    }

    #[test]
    fn normalises_like_container_runtimes() {
        for (given, normalised) in [
            ("nginx", "docker.io/library/nginx:latest"),
            ("nginx:1.27", "docker.io/library/nginx:1.27"),
            ("library/nginx", "docker.io/library/nginx:latest"),
            ("docker.io/nginx", "docker.io/library/nginx:latest"),
            ("index.docker.io/nginx:1", "docker.io/library/nginx:1"),
            ("bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"),
            ("quay.io/minio/mc", "quay.io/minio/mc:latest"),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/app:v1", "localhost:5000/app:v1"),
            ("registry:5000/team/app", "registry:5000/team/app:latest"),
            ("my.registry/a/b/c:1.0", "my.registry/a/b/c:1.0"),
            ("[::1]:5000/app:v1", "[::1]:5000/app:v1"),
            (
                "jenkins/jenkins:2.462-jdk17",
                "docker.io/jenkins/jenkins:2.462-jdk17",
            ),
        ] {
            assert_eq!(norm(given), normalised, "{given}");
        }
    }

    #[test]
    fn digests_and_tags() {
        let pinned = ImageRef::parse(&format!("nginx@{SHA}")).unwrap();
        assert_eq!(pinned.tag(), None, "a digest alone gets no default tag");
        assert_eq!(pinned.digest(), Some(SHA));
        assert_eq!(pinned.to_string(), format!("docker.io/library/nginx@{SHA}"));
        let both = ImageRef::parse(&format!("ghcr.io/acme/api:1.4.2@{SHA}")).unwrap();
        assert_eq!((both.tag(), both.digest()), (Some("1.4.2"), Some(SHA)));
        assert_eq!(both.repository(), "ghcr.io/acme/api");
        assert_eq!(both.domain(), "ghcr.io");
        assert_eq!(both.path(), "acme/api");
    }

    #[test]
    fn a_pattern_may_name_a_whole_repository() {
        let repo = ImageRef::parse_pattern("nginx").unwrap();
        assert!(repo.is_repository());
        assert_eq!(repo.to_string(), "docker.io/library/nginx");
        assert!(!ImageRef::parse_pattern("nginx:1").unwrap().is_repository());
    }

    #[test]
    fn a_host_needs_a_dot_a_port_or_localhost() {
        // `foo/bar`: `foo` is a Docker Hub namespace, not a host.
        assert_eq!(ImageRef::parse("foo/bar").unwrap().domain(), "docker.io");
        assert_eq!(ImageRef::parse("foo.io/bar").unwrap().domain(), "foo.io");
        assert_eq!(ImageRef::parse("foo:80/bar").unwrap().domain(), "foo:80");
    }

    #[test]
    fn invalid_references_say_why() {
        for (given, message) in [
            ("", "an image reference cannot be empty"),
            (
                "Nginx",
                "image reference `Nginx` has an invalid repository name `Nginx` (lowercase letters, digits and separators `.`, `_`, `__`, `-` between them)",
            ),
            ("nginx:", "image reference `nginx:` has an invalid tag ``"),
            (
                "nginx:-x",
                "image reference `nginx:-x` has an invalid tag `-x`",
            ),
            (
                "nginx@sha256:abc",
                "image reference `nginx@sha256:abc` has an invalid digest `sha256:abc` (expected sha256:<64 hex digits>)",
            ),
            (
                "nginx latest",
                "image reference `nginx latest` contains white space",
            ),
            ("quay.io/", "image reference `quay.io/` names no repository"),
            (
                "a..b/c",
                "image reference `a..b/c` has an invalid registry host `a..b`",
            ),
            ("a/b--c/d__e/f.g", ""),
            (
                "a/b___c",
                "image reference `a/b___c` has an invalid repository name `a/b___c` (lowercase letters, digits and separators `.`, `_`, `__`, `-` between them)",
            ),
        ] {
            match ImageRef::parse(given) {
                Ok(image) => assert!(message.is_empty(), "{given} parsed as {image}"),
                Err(e) => assert_eq!(e.to_string(), message, "{given}"),
            }
        }
    }
}
