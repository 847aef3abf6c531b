//! The `ImageUsers` file: the user each image runs as, kept next to the patch files (by hand,
//! or written by `pulse-harden images --resolve`) and passed with `-p` like a patch set.
//!
//! ```yaml
//! apiVersion: pulse-harden/v1
//! kind: ImageUsers
//! images:
//!   - image: quay.io/minio/mc            # a repository: any tag or digest
//!     user: "0"
//!   - image: ghcr.io/acme/api:1.4.2      # one tag (or @sha256:… one digest)
//!     user: "10001"
//!     digest: sha256:…                   # optional: what the tag resolved to
//!     resolved: "2026-11-29T20:00:00Z"   # optional: when
//! ```

use super::reference::{ImageRef, check_digest};
use crate::yaml::{self, API_VERSION, ApiVersion, Metadata};
use anyhow::{Context, Result, anyhow, bail};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_saphyr::Spanned;
use std::fmt;
use std::path::Path;

/// What `pulse-harden explain ImageUsers` prints.
pub const DOCS: &str = r#"An `ImageUsers` file says what user each image runs as. Keep it next to your patch files
and pass it with `-p` like a patch set (a `-p` directory picks it up too); every
`runAsNonRoot` step of the run, in every profile, uses it. It is only data: reading it never
touches the network. `pulse-harden images --resolve` writes one from the registries.

Why: `runAsNonRoot: true` makes the kubelet check the user in the image's config, and refuse
the container (`CreateContainerConfigError`) when it is root, unset or a name. pulse-harden
cannot see images, so it sets `runAsNonRoot` only where every container has a numeric
non-root `runAsUser` or an image this file declares to run as a numeric non-root user, and
reports every other pod as a conflict.

```yaml
apiVersion: pulse-harden/v1
kind: ImageUsers
images:
  - image: quay.io/minio/mc            # a repository: any tag or digest
    user: "0"
  - image: ghcr.io/acme/api:1.4.2      # one tag (or @sha256:... one digest)
    user: "10001"
  - image: nginxinc/nginx-unprivileged # docker.io/nginxinc/nginx-unprivileged
    user: "101"
  - image: docker.io/jenkins/jenkins
    user: jenkins                      # a name: the kubelet cannot verify it, so not safe
```

Fields of an entry:

| field | meaning |
|---|---|
| `image` | a repository (every tag and digest of it), a tag, or a digest; normalised as container runtimes do: `nginx` is `docker.io/library/nginx`, `bitnami/redis` is `docker.io/bitnami/redis`, and a first part with a `.` or `:`, or `localhost`, is a registry host |
| `user` | the image config's `User`: `10001` or `10001:10001` (safe), `0`, `root` or `""` (root), or a name such as `nginx` (not safe: the kubelet cannot tell its UID) |
| `digest` | optional: the digest the tag resolved to (`sha256:...`), written by `images --resolve`; a container pinned to another digest does not match the entry |
| `resolved` | optional: when it was resolved; kept as written |

Which entry applies to a container's image: the one with its exact digest, else its exact
tag (no tag and no digest is `latest`), else its repository. Between files, the most exact
entry wins, and between equally exact ones the file given last. An image listed twice in one
file is an error, pointing at `file:line:column` like every error in a patch file.
"#;

/// One `ImageUsers` file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageUsers {
    /// Where it came from, for messages: the file path as given.
    pub origin: String,
    /// The entries, in file order.
    pub images: Vec<ImageUser>,
}

/// One entry: an image (a repository, a tag or a digest) and the user its config declares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageUser {
    /// Normalised; a repository alone (no tag, no digest) stands for all of its images.
    #[serde(serialize_with = "display")]
    pub image: ImageRef,
    /// The image config's `User` as written there: `""` (root), `0`, `10001`, `10001:10001`,
    /// or a name such as `nginx` or `app:app`.
    pub user: String,
    /// The digest the tag resolved to (written by `images --resolve`), `sha256:…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// When it was resolved (written by `images --resolve`); kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
}

/// What a declared user means for `runAsNonRoot: true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsAs<'a> {
    /// A numeric UID other than 0 (`10001`, `10001:10001`): the kubelet lets it start.
    NonRoot(u32),
    /// UID 0 (`0`, `root`, `0:0`): the kubelet refuses it.
    Root,
    /// No user (`""`): the image runs as root, and the kubelet refuses it.
    Unset,
    /// A user name (`jenkins`, `app:app`): the kubelet cannot check a name, so it refuses it.
    Name(&'a str),
}

impl ImageUser {
    /// What the declared user means to the kubelet's `runAsNonRoot` check, which looks only
    /// at the part before `:` (the group does not matter).
    pub fn runs_as(&self) -> RunsAs<'_> {
        let user = self.user.split_once(':').map_or(&*self.user, |(u, _)| u);
        match user {
            "" => RunsAs::Unset,
            "root" => RunsAs::Root,
            _ if user.bytes().all(|b| b.is_ascii_digit()) => match user.parse::<u32>() {
                Ok(0) => RunsAs::Root,
                Ok(uid) => RunsAs::NonRoot(uid),
                // Beyond any UID the kernel has: not a user the kubelet would accept.
                Err(_) => RunsAs::Name(user),
            },
            _ => RunsAs::Name(user),
        }
    }

    /// How well the entry matches a container's image, if at all: an exact digest beats an
    /// exact tag, which beats the repository.
    pub(super) fn matches(&self, image: &ImageRef) -> Option<Match> {
        if self.image.repository() != image.repository() {
            return None;
        }
        let recorded = self.image.digest().or(self.digest.as_deref());
        if let Some(wanted) = image.digest() {
            if recorded == Some(wanted) {
                return Some(Match::Digest);
            }
            // The tag resolved to another image than the one the container pins.
            if recorded.is_some() && self.image.tag().is_some() {
                return None;
            }
        }
        if self.image.digest().is_none()
            && let Some(tag) = self.image.tag()
        {
            return (image.tag() == Some(tag)).then_some(Match::Tag);
        }
        self.image.is_repository().then_some(Match::Repository)
    }
}

/// How an entry matched; later variants are more exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Match {
    Repository,
    Tag,
    Digest,
}

impl ImageUsers {
    /// Reads an `ImageUsers` file from text; `origin` names it in errors
    /// (`file:line:column: ...`).
    pub fn parse(text: &str, origin: &str) -> Result<ImageUsers> {
        let file: File = yaml::from_config_str(text).map_err(|e| {
            let at = match (e.line, e.column) {
                (Some(line), Some(column)) => format!("{origin}:{line}:{column}"),
                _ => origin.to_string(),
            };
            anyhow!("{at}: {}", e.message)
        })?;
        let mut images: Vec<ImageUser> = Vec::with_capacity(file.images.len());
        let mut lines: Vec<u64> = Vec::with_capacity(file.images.len());
        for entry in file.images {
            let at = &entry.image.referenced;
            let place = format!("{origin}:{}:{}", at.line(), at.column());
            let ImageField(image) = entry.image.value;
            if let Some(first) = images.iter().position(|e| e.image == image) {
                bail!(
                    "{place}: image `{image}` is listed twice in this file (first on line {})",
                    lines[first]
                );
            }
            if let (Some(pinned), Some(Spanned { value, .. })) = (image.digest(), &entry.digest)
                && pinned != value.0
            {
                bail!(
                    "{place}: image `{image}` pins a digest, and `digest: {}` names another",
                    value.0
                );
            }
            lines.push(at.line());
            images.push(ImageUser {
                image,
                user: entry.user.0,
                digest: entry.digest.map(|d| d.value.0),
                resolved: entry.resolved,
            });
        }
        Ok(ImageUsers {
            origin: origin.to_string(),
            images,
        })
    }

    /// Reads an `ImageUsers` file.
    pub fn load(path: &Path) -> Result<ImageUsers> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read image users file {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The entry that says what user `image` (a container's image, from [`ImageRef::parse`])
    /// runs as: the exact digest, else the exact tag, else the repository.
    pub fn user_for(&self, image: &ImageRef) -> Option<&ImageUser> {
        self.best_match(image).map(|(_, user)| user)
    }

    /// Like [`ImageUsers::user_for`], with how exact the match is. The first of equally
    /// exact entries wins.
    pub(super) fn best_match(&self, image: &ImageRef) -> Option<(Match, &ImageUser)> {
        let mut best: Option<(Match, &ImageUser)> = None;
        for entry in &self.images {
            if let Some(rank) = entry.matches(image)
                && best.is_none_or(|(b, _)| rank > b)
            {
                best = Some((rank, entry));
            }
        }
        best
    }

    /// The file as YAML (`apiVersion`, `kind`, `images`), which [`ImageUsers::parse`] reads
    /// back as the same entries.
    pub fn to_yaml(&self) -> Result<String> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Out<'a> {
            api_version: &'a str,
            kind: &'a str,
            images: &'a [ImageUser],
        }
        let value = serde_json::to_value(Out {
            api_version: API_VERSION,
            kind: KIND,
            images: &self.images,
        })?;
        yaml::emit(&value)
    }
}

/// The `kind` that marks an `ImageUsers` file.
pub const KIND: &str = "ImageUsers";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct File {
    #[allow(dead_code)]
    api_version: ApiVersion,
    #[allow(dead_code)]
    kind: Kind,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<Metadata>,
    images: Vec<Entry>,
}

#[derive(Deserialize)]
enum Kind {
    ImageUsers,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    image: Spanned<ImageField>,
    user: UserField,
    #[serde(default)]
    digest: Option<Spanned<DigestField>>,
    #[serde(default)]
    resolved: Option<String>,
}

/// An entry's `image`, checked while it is read so an error has its line and column.
struct ImageField(ImageRef);

impl<'de> Deserialize<'de> for ImageField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ImageRef::parse_pattern(&text)
            .map(ImageField)
            .map_err(de::Error::custom)
    }
}

struct DigestField(String);

impl<'de> Deserialize<'de> for DigestField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        check_digest(&text).map_err(de::Error::custom)?;
        Ok(DigestField(text))
    }
}

/// `user` as a string; a plain number (`user: 10001`) is read as its digits.
struct UserField(String);

impl<'de> Deserialize<'de> for UserField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = UserField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a user: a string such as \"10001\", \"10001:10001\" or \"app\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UserField, E> {
                Ok(UserField(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UserField, E> {
                Ok(UserField(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UserField, E> {
                if v < 0 {
                    return Err(E::custom(format!("a user cannot be negative ({v})")));
                }
                Ok(UserField(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

fn display<S: Serializer>(image: &ImageRef, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "apiVersion: pulse-harden/v1\nkind: ImageUsers\nimages:\n";
    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const OTHER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn users(entries: &str) -> ImageUsers {
        ImageUsers::parse(&format!("{HEAD}{entries}"), "u.yaml").unwrap()
    }

    fn err(entries: &str) -> String {
        format!(
            "{:#}",
            ImageUsers::parse(&format!("{HEAD}{entries}"), "u.yaml").unwrap_err()
        )
    }

    fn user_of<'a>(file: &'a ImageUsers, image: &str) -> Option<&'a str> {
        file.user_for(&ImageRef::parse(image).unwrap())
            .map(|u| u.user.as_str())
    }

    #[test]
    fn the_issue_example_parses() {
        let file = users(
            "  - image: quay.io/minio/mc            # a repository: any tag or digest\n    user: \"0\"\n  - image: ghcr.io/acme/api:1.4.2\n    user: \"10001\"\n  - image: docker.io/jenkins/jenkins\n    user: jenkins\n",
        );
        assert_eq!(file.images.len(), 3);
        assert_eq!(user_of(&file, "quay.io/minio/mc:RELEASE.2024"), Some("0"));
        assert_eq!(user_of(&file, "ghcr.io/acme/api:1.4.2"), Some("10001"));
        assert_eq!(user_of(&file, "ghcr.io/acme/api:1.4.3"), None);
        assert_eq!(user_of(&file, "jenkins/jenkins:lts"), Some("jenkins"));
        assert_eq!(user_of(&file, "nginx"), None);
    }

    #[test]
    fn a_digest_beats_a_tag_which_beats_the_repository() {
        let file = users(&format!(
            "  - image: nginx\n    user: \"0\"\n  - image: nginx:1.27\n    user: \"101\"\n  - image: nginx@{SHA}\n    user: \"102\"\n"
        ));
        assert_eq!(user_of(&file, "nginx:1.26"), Some("0"));
        assert_eq!(
            user_of(&file, "nginx"),
            Some("0"),
            "`latest` is a tag like any"
        );
        assert_eq!(user_of(&file, "docker.io/library/nginx:1.27"), Some("101"));
        assert_eq!(user_of(&file, &format!("nginx:1.27@{SHA}")), Some("102"));
        assert_eq!(user_of(&file, &format!("nginx@{OTHER}")), Some("0"));
    }

    #[test]
    fn a_resolved_digest_matches_the_pinned_image_and_no_other() {
        let file = users(&format!(
            "  - image: ghcr.io/acme/api:1.4.2\n    user: \"10001\"\n    digest: {SHA}\n    resolved: \"2026-11-29T20:00:00Z\"\n"
        ));
        assert_eq!(file.images[0].digest.as_deref(), Some(SHA));
        assert_eq!(
            file.images[0].resolved.as_deref(),
            Some("2026-11-29T20:00:00Z")
        );
        assert_eq!(user_of(&file, "ghcr.io/acme/api:1.4.2"), Some("10001"));
        assert_eq!(
            user_of(&file, &format!("ghcr.io/acme/api@{SHA}")),
            Some("10001")
        );
        // The container pins another image than the tag resolved to.
        assert_eq!(
            user_of(&file, &format!("ghcr.io/acme/api:1.4.2@{OTHER}")),
            None
        );
    }

    #[test]
    fn what_a_user_means() {
        let runs_as = |user: &str| {
            ImageUser {
                image: ImageRef::parse("x").unwrap(),
                user: user.into(),
                digest: None,
                resolved: None,
            }
            .runs_as()
            .to_owned_for_test()
        };
        assert_eq!(runs_as("10001"), "NonRoot(10001)");
        assert_eq!(runs_as("10001:10001"), "NonRoot(10001)");
        assert_eq!(runs_as("1000:app"), "NonRoot(1000)");
        assert_eq!(runs_as("0"), "Root");
        assert_eq!(runs_as("0:1000"), "Root");
        assert_eq!(runs_as("root"), "Root");
        assert_eq!(runs_as(""), "Unset");
        assert_eq!(runs_as("jenkins"), "Name(\"jenkins\")");
        assert_eq!(runs_as("app:app"), "Name(\"app\")");
        assert_eq!(runs_as("99999999999"), "Name(\"99999999999\")");
    }

    impl RunsAs<'_> {
        fn to_owned_for_test(self) -> String {
            format!("{self:?}")
        }
    }

    #[test]
    fn a_plain_number_is_a_user() {
        let file = users("  - image: a\n    user: 10001\n  - image: b\n    user: 0\n");
        assert_eq!(file.images[0].user, "10001");
        assert_eq!(file.images[1].runs_as(), RunsAs::Root);
    }

    #[test]
    fn errors_point_at_file_line_column() {
        assert_eq!(
            err("  - image: Nginx\n    user: \"1\"\n"),
            "u.yaml:4:12: image reference `Nginx` has an invalid repository name `Nginx` (lowercase letters, digits and separators `.`, `_`, `__`, `-` between them)"
        );
        assert_eq!(
            err("  - image: a\n    user: \"1\"\n  - image: docker.io/library/a\n    user: \"2\"\n"),
            "u.yaml:6:12: image `docker.io/library/a` is listed twice in this file (first on line 4)"
        );
        assert_eq!(
            err("  - image: a\n    usr: \"1\"\n"),
            "u.yaml:5:5: unknown field `usr`, expected one of image, user, digest, resolved"
        );
        assert_eq!(err("  - image: a\n"), "u.yaml:4:5: missing field `user`");
        assert_eq!(
            err("  - image: a\n    user: \"1\"\n    digest: sha256:abc\n"),
            "u.yaml:6:13: invalid digest `sha256:abc` (expected sha256:<64 hex digits>)"
        );
        assert_eq!(
            err(&format!(
                "  - image: a@{SHA}\n    user: \"1\"\n    digest: {OTHER}\n"
            )),
            format!(
                "u.yaml:4:12: image `docker.io/library/a@{SHA}` pins a digest, and `digest: {OTHER}` names another"
            )
        );
        assert_eq!(
            err("  - image: a\n    user: -1\n"),
            "u.yaml:5:11: a user cannot be negative (-1)"
        );
        assert_eq!(
            format!(
                "{:#}",
                ImageUsers::parse("apiVersion: pulse-harden/v1\nkind: ImageUsers\n", "u.yaml")
                    .unwrap_err()
            ),
            "u.yaml:2:1: missing field `images`"
        );
    }

    #[test]
    fn the_docs_example_reads_and_means_what_it_says() {
        let start = DOCS.find("```yaml\n").unwrap() + 8;
        let end = start + DOCS[start..].find("```").unwrap();
        let file = ImageUsers::parse(&DOCS[start..end], "docs").unwrap();
        let runs_as: Vec<_> = file
            .images
            .iter()
            .map(|e| format!("{:?}", e.runs_as()))
            .collect();
        assert_eq!(
            runs_as,
            [
                "Root",
                "NonRoot(10001)",
                "NonRoot(101)",
                "Name(\"jenkins\")"
            ]
        );
        assert_eq!(
            user_of(&file, "nginxinc/nginx-unprivileged:1.27-alpine"),
            Some("101")
        );
    }

    #[test]
    fn writes_what_it_reads() {
        let file = users(&format!(
            "  - image: nginx:1.27\n    user: \"101\"\n  - image: ghcr.io/acme/api:1.4.2\n    user: \"10001:10001\"\n    digest: {SHA}\n    resolved: \"2026-11-29T20:00:00Z\"\n  - image: quay.io/minio/mc\n    user: \"\"\n"
        ));
        let text = file.to_yaml().unwrap();
        assert!(
            text.starts_with("apiVersion: pulse-harden/v1\nkind: ImageUsers\nimages:\n"),
            "{text}"
        );
        assert!(
            text.contains("image: docker.io/library/nginx:1.27\n"),
            "{text}"
        );
        assert!(
            text.contains("user: '101'\n") || text.contains("user: \"101\"\n"),
            "{text}"
        );
        assert_eq!(ImageUsers::parse(&text, "u.yaml").unwrap(), file);
    }
}
