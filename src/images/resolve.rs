//! `images --resolve`: what user each image runs as, read from its registry. Manifest (or
//! index, then the platform's manifest), then the config blob, then `config.User`.

use super::registry::{self, Client};
use super::{ImageRef, ImageUser, ImageUsers};
use crate::pointer::Lookup;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An `os/architecture[/variant]`, as `--platform` and image indexes name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Default for Platform {
    /// What most clusters run, and what `images --resolve` reads unless told otherwise.
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _]
                if !os.is_empty() && !arch.is_empty() && !parts.iter().any(|p| p.is_empty()) =>
            {
                Ok(Platform {
                    os: os.to_string(),
                    architecture: arch.to_string(),
                    variant: parts.get(2).map(|v| v.to_string()),
                })
            }
            _ => Err(format!(
                "`{text}` is not a platform: write os/architecture[/variant], e.g. linux/arm64"
            )),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// What the registry says about one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    /// The image as the stream names it, normalised.
    pub image: ImageRef,
    /// The config's `User`, as written (`""` when unset).
    pub user: String,
    /// The digest the reference resolved to (of the index, for a multi-platform image).
    pub digest: String,
    /// Worth telling, not failing on: platforms of an index that run as different users.
    pub note: Option<String>,
}

/// Resolves every image with at most `parallel` requests in flight; on any failure, an error
/// listing every image that failed and why.
pub fn resolve_all(
    client: &Client,
    images: &[ImageRef],
    platform: &Platform,
    parallel: usize,
) -> Result<Vec<Resolution>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Resolution>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, images.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(image) = images.get(i) else { break };
                    let result = resolve(client, image, platform);
                    results
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((i, result));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut resolved = Vec::new();
    let mut failures = Vec::new();
    for (_, result) in results {
        match result {
            Ok(r) => resolved.push(r),
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    if !failures.is_empty() {
        failures.sort();
        let count = match failures.len() {
            1 => "1 image".to_string(),
            n => format!("{n} images"),
        };
        bail!(
            "cannot resolve {count}; nothing was written:\n  {}",
            failures.join("\n  ")
        );
    }
    resolved.sort_by_key(|r| r.image.to_string());
    Ok(resolved)
}

/// Resolves one image: its digest and its config's user for `platform`.
pub fn resolve(client: &Client, image: &ImageRef, platform: &Platform) -> Result<Resolution> {
    let host = image.domain();
    let repo = image.path();
    let reference = image.digest().or(image.tag()).unwrap_or(super::DEFAULT_TAG);
    let inner = || -> Result<Resolution> {
        let top = client.manifest(host, repo, reference)?;
        let doc = json(&top.bytes, host, "manifest")?;
        let media_type = media_type(&top.media_type, &doc);
        let (user, note) = match media_type.as_str() {
            registry::OCI_INDEX | registry::DOCKER_LIST => {
                index_user(client, host, repo, &doc, platform)?
            }
            registry::OCI_MANIFEST | registry::DOCKER_MANIFEST => {
                (config_user(client, host, repo, &doc)?, None)
            }
            "application/vnd.docker.distribution.manifest.v1+json"
            | "application/vnd.docker.distribution.manifest.v1+prettyjws" => {
                bail!(
                    "registry {host} serves it as a Docker schema 1 manifest, which has no config to read"
                )
            }
            other => bail!("registry {host} sent a manifest of unknown type `{other}`"),
        };
        Ok(Resolution {
            image: image.clone(),
            user,
            digest: image.digest().map_or(top.digest, str::to_string),
            note,
        })
    };
    inner().with_context(|| format!("{image}"))
}

/// The manifest's media type: the header's, or the document's own, or (schema 2 documents
/// may have neither) guessed from its shape.
fn media_type(header: &str, doc: &Value) -> String {
    if !header.is_empty() && header != "application/json" {
        return header.to_string();
    }
    if let Some(own) = doc.get("mediaType").and_then(Value::as_str) {
        return own.to_string();
    }
    if doc.get("manifests").is_some() {
        registry::OCI_INDEX.to_string()
    } else {
        registry::OCI_MANIFEST.to_string()
    }
}

fn json(bytes: &[u8], host: &str, what: &str) -> Result<Value> {
    serde_json::from_slice(bytes)
        .map_err(|_| anyhow!("registry {host} sent a {what} that is not JSON"))
}

/// The user of `platform`'s manifest in an index; a note when other platforms run as other
/// users.
fn index_user(
    client: &Client,
    host: &str,
    repo: &str,
    index: &Value,
    platform: &Platform,
) -> Result<(String, Option<String>)> {
    let entries: Vec<(Platform, &str)> = index
        .get("manifests")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|m| {
                    let p = m.get("platform")?;
                    let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
                    Some((
                        Platform {
                            os: text("os")?,
                            architecture: text("architecture")?,
                            variant: text("variant"),
                        },
                        m.get("digest")?.as_str()?,
                    ))
                })
                // Build attestations are listed as `unknown/unknown`: not images.
                .filter(|(p, _)| p.os != "unknown")
                .collect()
        })
        .unwrap_or_default();
    let chosen = entries
        .iter()
        .position(|(p, _)| {
            p.os == platform.os
                && p.architecture == platform.architecture
                && (platform.variant.is_none() || p.variant == platform.variant)
        })
        .with_context(|| {
            let available: Vec<String> = entries.iter().map(|(p, _)| p.to_string()).collect();
            format!(
                "has no {platform} image (it has {}); choose one with --platform",
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                }
            )
        })?;
    let mut users = Vec::new();
    for (p, digest) in &entries {
        let manifest = client.manifest(host, repo, digest)?;
        let doc = json(&manifest.bytes, host, "manifest")?;
        users.push((p, config_user(client, host, repo, &doc)?));
    }
    let user = users[chosen].1.clone();
    let others: Vec<String> = users
        .iter()
        .filter(|(_, u)| *u != user)
        .map(|(p, u)| format!("{p} as {}", shown(u)))
        .collect();
    let note = (!others.is_empty()).then(|| {
        format!(
            "platforms disagree on the user: {} runs as {}, {}; recorded {}'s (--platform chooses another)",
            users[chosen].0,
            shown(&user),
            others.join(", "),
            users[chosen].0,
        )
    });
    Ok((user, note))
}

/// `config.User` of an image manifest's config blob.
fn config_user(client: &Client, host: &str, repo: &str, manifest: &Value) -> Result<String> {
    let digest = manifest
        .at("/config/digest")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("registry {host} sent an image manifest without a config"))?;
    let blob = client.blob(host, repo, digest)?;
    let config = json(&blob, host, "image config")?;
    match config.at("/config/User") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(user)) => Ok(user.clone()),
        Some(_) => bail!("registry {host}: the image config's User is not a string"),
    }
}

/// The `ImageUsers` file to write: `existing`'s entries, and one per resolution (replacing an
/// entry for the same image), sorted by image.
pub fn update(existing: ImageUsers, resolved: &[Resolution], when: &str) -> ImageUsers {
    let mut images = existing.images;
    for r in resolved {
        images.retain(|e| e.image != r.image);
        images.push(ImageUser {
            image: r.image.clone(),
            user: r.user.clone(),
            digest: Some(r.digest.clone()),
            resolved: Some(when.to_string()),
        });
    }
    images.sort_by_cached_key(|e| e.image.to_string());
    ImageUsers {
        origin: existing.origin,
        images,
    }
}

/// Now, as RFC 3339 UTC to the second; `SOURCE_DATE_EPOCH` (seconds) fixes it, for
/// reproducible files.
pub fn timestamp() -> String {
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    rfc3339(seconds)
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ` (the proleptic Gregorian calendar, from
/// Howard Hinnant's days-to-civil algorithm).
fn rfc3339(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A user as people read it: unset is root.
pub fn shown(user: &str) -> String {
    if user.is_empty() {
        "root (no user set)".to_string()
    } else {
        format!("`{user}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_print() {
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert_eq!(Platform::default().to_string(), "linux/amd64");
        assert_eq!(
            "linux".parse::<Platform>().unwrap_err(),
            "`linux` is not a platform: write os/architecture[/variant], e.g. linux/arm64"
        );
        assert!("linux//v8".parse::<Platform>().is_err());
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_984_496), "2026-11-29T20:34:56Z");
    }
}
