//! `setImages`: kustomize's `images` transformer — change the name, tag or digest of the
//! images that match a name, in every `containers` and `initContainers` list and image volume.

use super::field_specs;
use super::{Context, Outcome, Transform};
use anyhow::{Context as _, Result};
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct SetImages(Vec<Image>);

impl SetImages {
    /// Built by a loader (a kustomization's `images`).
    pub fn new(images: Vec<Image>) -> Self {
        SetImages(images)
    }
}

/// One `images` entry, as a kustomization writes it.
#[derive(Debug, Deserialize)]
#[serde(try_from = "ImageOptions")]
pub struct Image {
    options: ImageOptions,
    /// kustomize matches the name as a regular expression followed by an optional tag and
    /// digest.
    matcher: Regex,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageOptions {
    pub name: String,
    #[serde(default)]
    pub new_name: String,
    #[serde(default, deserialize_with = "text")]
    pub new_tag: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default, deserialize_with = "text")]
    pub tag_suffix: String,
}

/// A tag written as a number (`newTag: 1.27`) is the text as written, as kustomize reads it.
fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

impl TryFrom<ImageOptions> for Image {
    type Error = String;

    fn try_from(options: ImageOptions) -> Result<Self, String> {
        if options.name.is_empty() {
            return Err("an image entry needs a `name`".into());
        }
        let matcher = Regex::new(&format!(
            "^{}(:[a-zA-Z0-9_.{{}}-]*)?(@[a-zA-Z0-9]+([.+_-][a-zA-Z0-9]+)*:[a-zA-Z0-9_.{{}}-]*)?$",
            options.name
        ))
        .map_err(|e| format!("image name `{}` is not a valid pattern: {e}", options.name))?;
        Ok(Image { options, matcher })
    }
}

impl Image {
    /// The new reference for `image`, or `None` when this entry does not match it.
    fn rewrite(&self, image: &str) -> Option<String> {
        if !self.matcher.is_match(image) {
            return None;
        }
        let o = &self.options;
        let (mut name, mut tag, mut digest) = split(image);
        if !o.new_name.is_empty() {
            name = o.new_name.clone();
        }
        match (o.new_tag.is_empty(), o.digest.is_empty()) {
            (false, false) => (tag, digest) = (o.new_tag.clone(), o.digest.clone()),
            (false, true) => (tag, digest) = (o.new_tag.clone(), String::new()),
            (true, false) => (tag, digest) = (String::new(), o.digest.clone()),
            (true, true) if !o.tag_suffix.is_empty() => {
                tag.push_str(&o.tag_suffix);
                digest = String::new();
            }
            (true, true) => {}
        }
        if !tag.is_empty() {
            name = format!("{name}:{tag}");
        }
        if !digest.is_empty() {
            name = format!("{name}@{digest}");
        }
        Some(name)
    }
}

/// Name, tag and digest of an image reference, split as kustomize splits it (a `:` before the
/// first `/` is a registry port).
fn split(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image.into(), String::new(), String::new()),
        (c, Some(d)) if c.is_none_or(|c| d < c) => {
            (image[..d].into(), String::new(), image[d + 1..].into())
        }
        (Some(c), Some(d)) => (
            image[..c].into(),
            image[c + 1..d].into(),
            image[d + 1..].into(),
        ),
        (Some(c), None) => (image[..c].into(), image[c + 1..].into(), String::new()),
        (None, Some(_)) => (image.into(), String::new(), String::new()),
    }
}

impl Transform for SetImages {
    const KEY: &'static str = "setImages";
    const SUMMARY: &'static str =
        "kustomize's `images`: new name, tag or digest for the images that match a name";
    const DOCS: &'static str = r#"Changes container images the way a kustomization's `images:` field does: each
entry matches images by `name` (with any tag or digest) and sets `newName`, `newTag`,
`digest` (or appends `tagSuffix`). `newTag` drops the digest, `digest` drops the tag, both
keep both. Entries apply in order.

It looks where kustomize looks: every `containers` and `initContainers` list anywhere in the
resource (pods, workloads, CronJobs, custom resources), and image volumes
(`spec.volumes[].image.reference`, `spec.template.spec.volumes[].image.reference`).
CustomResourceDefinitions are left alone.

Target: `resource` (the default).

Example:

```yaml
- name: pin-nginx
  setImages:
    - {name: nginx, newName: registry.internal/nginx, newTag: "1.27.3"}
    - {name: busybox, digest: "sha256:5acba83a746c7608ed544dc1533b87c737a0b0fb730301639a0179f9344b1678"}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        if ctx.kind == "CustomResourceDefinition" {
            return Ok(Outcome::NotApplicable(
                "kustomize leaves CustomResourceDefinitions alone".into(),
            ));
        }
        for image in &self.0 {
            let mut set = |node: &mut Value| -> Result<()> {
                if let Some(new) = node.as_str().and_then(|s| image.rewrite(s)) {
                    *node = Value::String(new);
                }
                Ok(())
            };
            containers_anywhere(target, &mut set);
            for spec in field_specs::image_volumes() {
                spec.visit(target, false, &mut set)
                    .with_context(|| format!("image `{}`", image.options.name))?;
            }
        }
        Ok(Outcome::Applied)
    }
}

/// Calls `set` on the `image` of every element of every `containers` and `initContainers`
/// list, at any depth.
fn containers_anywhere(node: &mut Value, set: &mut dyn FnMut(&mut Value) -> Result<()>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                containers_anywhere(value, set);
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(list) = value
                {
                    for c in list {
                        if let Some(image) = c.get_mut("image") {
                            let _ = set(image);
                        }
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| containers_anywhere(i, set)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image(v: Value) -> Image {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn kustomize_name_tag_digest_rules() {
        let i = image(json!({"name": "nginx", "newTag": "1.2"}));
        assert_eq!(i.rewrite("nginx").as_deref(), Some("nginx:1.2"));
        assert_eq!(
            i.rewrite("nginx:1.0@sha256:abc").as_deref(),
            Some("nginx:1.2")
        );
        assert_eq!(i.rewrite("docker.io/nginx:1.0"), None);
        assert_eq!(i.rewrite("nginx-other:1.0"), None);
        let i =
            image(json!({"name": "localhost:5000/app", "newName": "r/app", "digest": "sha256:d"}));
        assert_eq!(
            i.rewrite("localhost:5000/app:3").as_deref(),
            Some("r/app@sha256:d")
        );
        let i = image(json!({"name": "a", "tagSuffix": "-fips"}));
        assert_eq!(i.rewrite("a:1").as_deref(), Some("a:1-fips"));
        assert_eq!(
            split("host:5000/x/y:t@sha256:1"),
            ("host:5000/x/y".into(), "t".into(), "sha256:1".into())
        );
    }
}
