//! `rewriteImageRegistry`: moves container images to another registry (a mirror, a
//! pull-through cache) by prefix, Docker Hub's implicit names included.

use super::targets;
use super::{Context, Outcome, Transform};
use anyhow::Result;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RewriteImageRegistry {
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(try_from = "RuleOptions")]
struct Rule {
    from: String,
    to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleOptions {
    from: String,
    to: String,
}

impl TryFrom<RuleOptions> for Rule {
    type Error = String;

    fn try_from(o: RuleOptions) -> Result<Self, String> {
        let from = o.from.trim_end_matches('/').to_string();
        let to = o.to.trim_end_matches('/').to_string();
        if from.is_empty() || to.is_empty() {
            return Err("`from` and `to` must name a registry or repository prefix".into());
        }
        // A rule whose result it would match again would rewrite on every run.
        if prefix_matches(&to, &from) {
            return Err(format!(
                "`to: {to}` starts with `from: {from}`, so a second run would rewrite it again"
            ));
        }
        Ok(Rule { from, to })
    }
}

/// Does `image` start with the path prefix `prefix` (whole path segments only)?
fn prefix_matches(image: &str, prefix: &str) -> bool {
    image
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', ':', '@']))
}

/// The fully qualified form of an image reference: `nginx` is `docker.io/library/nginx`,
/// `bitnami/nginx` is `docker.io/bitnami/nginx`; a first segment with a `.` or `:`, or
/// `localhost`, is a registry.
fn qualified(image: &str) -> String {
    let first = image.split('/').next().unwrap_or("");
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_registry {
        image.to_string()
    } else if image.contains('/') {
        format!("docker.io/{image}")
    } else {
        format!("docker.io/library/{image}")
    }
}

impl RewriteImageRegistry {
    fn rewrite(&self, image: &str) -> Option<String> {
        let full = qualified(image);
        self.rules.iter().find_map(|rule| {
            for candidate in [image, full.as_str()] {
                if prefix_matches(candidate, &rule.from) {
                    return Some(format!("{}{}", rule.to, &candidate[rule.from.len()..]));
                }
            }
            None
        })
    }
}

impl Transform for RewriteImageRegistry {
    const KEY: &'static str = "rewriteImageRegistry";
    const SUMMARY: &'static str = "rewrite container image registries by prefix (mirrors, caches)";
    const DOCS: &'static str = r#"Rewrites the `image` of every container (init, regular, ephemeral) whose reference starts
with a rule's `from` prefix, replacing that prefix with `to`. The first matching rule wins.

Why: air-gapped clusters, pull-through caches and Docker Hub rate limits all need images
pulled from somewhere other than where the chart says, without forking the chart.

Prefixes match whole path segments (`docker.io/bitnami` matches `docker.io/bitnami/nginx`, not
`docker.io/bitnamilegacy/nginx`). Docker Hub's short names count as what they mean: `nginx` is
`docker.io/library/nginx` and `bitnami/nginx` is `docker.io/bitnami/nginx`, so
`from: docker.io` catches them. Tags and digests are kept. A rule whose `to` starts with its
own `from` is refused when the patch file is read: it would rewrite again on every run.

Target: any — `resource`, `podSpec` or `containers` (use `containerNames` to pick some).

Options: `rules`, a list of `{from, to}`.

Example:

```yaml
- name: use-mirror
  rewriteImageRegistry:
    rules:
      - {from: docker.io, to: mirror.example.com/dockerhub}
      - {from: quay.io/jetstack, to: mirror.example.com/jetstack}
```
"#;

    const READS_STREAM: super::StreamReads = super::StreamReads::Nothing;
    const TARGETS: &'static [super::Target] = super::ANY_TARGET;
    const PER_CONTAINER: bool = true;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
        let containers = match targets::containers(target, ctx) {
            Ok(containers) => containers,
            Err(outcome) => return Ok(outcome),
        };
        for (_, container) in containers {
            let Some(image) = container.get("image").and_then(Value::as_str) else {
                continue;
            };
            if let Some(new_image) = self.rewrite(image) {
                container["image"] = Value::String(new_image);
            }
        }
        Ok(Outcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn action() -> RewriteImageRegistry {
        serde_json::from_value(json!({"rules": [
            {"from": "quay.io/jetstack", "to": "mirror.example.com/jetstack"},
            {"from": "docker.io/", "to": "mirror.example.com/hub"}]}))
        .unwrap()
    }

    #[test]
    fn rewrites_by_whole_segments_and_docker_hub_short_names() {
        let a = action();
        assert_eq!(
            a.rewrite("nginx:1.27").as_deref(),
            Some("mirror.example.com/hub/library/nginx:1.27")
        );
        assert_eq!(
            a.rewrite("bitnami/nginx@sha256:ab").as_deref(),
            Some("mirror.example.com/hub/bitnami/nginx@sha256:ab")
        );
        assert_eq!(
            a.rewrite("quay.io/jetstack/cert-manager:v1").as_deref(),
            Some("mirror.example.com/jetstack/cert-manager:v1")
        );
        assert_eq!(a.rewrite("quay.io/jetstackx/y"), None);
        assert_eq!(a.rewrite("registry.k8s.io/pause:3.9"), None);
        assert_eq!(a.rewrite("localhost:5000/app"), None);
    }

    #[test]
    fn refuses_rules_that_would_rewrite_forever() {
        let err = serde_json::from_value::<RewriteImageRegistry>(
            json!({"rules": [{"from": "docker.io", "to": "docker.io/mirror"}]}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("second run"), "{err}");
    }
}
