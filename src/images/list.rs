//! `pulse-harden images`: the images a stream's pods use, normalised, each with the resources
//! that use it. No network.

use super::ImageRef;
use crate::manifest::Manifest;
use crate::pod;
use crate::pointer::Lookup;
use anyhow::{Result, anyhow};
use serde_json::Value;
use std::collections::BTreeMap;

/// One image and the resources (`Kind/namespace/name`) whose pods use it, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub struct UsedImage {
    pub image: ImageRef,
    pub users: Vec<String>,
}

/// Every image of every container (init, regular, ephemeral) of every pod template in the
/// stream, sorted by normalised reference. The manifests must have been read in full.
/// An image no runtime could pull is an error naming the resource and container.
pub fn images_of(manifests: &[Manifest]) -> Result<Vec<UsedImage>> {
    let mut by_image: BTreeMap<String, UsedImage> = BTreeMap::new();
    for m in manifests.iter().filter(|m| m.is_resource()) {
        let Some(path) = pod::template_path(m.kind(), m.group(), &[]) else {
            continue;
        };
        let Some(spec) = m.value.as_ref().and_then(|v| v.at(&format!("{path}/spec"))) else {
            continue;
        };
        for list in pod::CONTAINER_LISTS {
            for container in spec
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(text) = container.get("image").and_then(Value::as_str) else {
                    continue;
                };
                let image = ImageRef::parse(text).map_err(|e| {
                    let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
                    anyhow!("{}, container {name}: {e}", m.id())
                })?;
                let entry = by_image
                    .entry(image.to_string())
                    .or_insert_with(|| UsedImage {
                        image,
                        users: Vec::new(),
                    });
                let id = m.id();
                if !entry.users.contains(&id) {
                    entry.users.push(id);
                }
            }
        }
    }
    Ok(by_image.into_values().collect())
}

/// The listing: one image per line, then the resources using it.
pub fn render(images: &[UsedImage]) -> String {
    let width = images
        .iter()
        .map(|i| i.image.to_string().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for used in images {
        out.push_str(&format!(
            "{:width$}  {}\n",
            used.image.to_string(),
            used.users.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream;

    #[test]
    fn lists_normalised_images_with_the_resources_using_them() {
        let text = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
spec:
  template:
    spec:
      initContainers: [{name: init, image: busybox}]
      containers: [{name: web, image: nginx}, {name: side, image: 'docker.io/library/nginx:latest'}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: b, image: 'quay.io/minio/mc:RELEASE.2024'}]}}}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {image: nginx}
";
        let stream = stream::read(text.as_bytes()).unwrap();
        let images = images_of(&stream.manifests).unwrap();
        assert_eq!(
            render(&images),
            "\
docker.io/library/busybox:latest  Deployment/prod/web
docker.io/library/nginx:latest    Deployment/prod/web
quay.io/minio/mc:RELEASE.2024     CronJob/(release namespace)/backup
"
        );
    }

    #[test]
    fn an_image_no_runtime_could_pull_names_its_resource() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: 'Bad Image'}]}\n";
        let stream = stream::read(text.as_bytes()).unwrap();
        assert_eq!(
            images_of(&stream.manifests).unwrap_err().to_string(),
            "Pod/(release namespace)/p, container c: image reference `Bad Image` contains white space"
        );
    }
}
