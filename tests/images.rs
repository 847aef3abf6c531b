//! `pulse-harden images`: listing the images of a stream, and resolving their users from real
//! registries (Debian's docker-registry on loopback, images pushed with skopeo).

mod common;

use common::registry::{Layout, Platform, Registry};

#[test]
fn registry_helper_pushes_images_and_indexes() {
    let open = Registry::start("smoke-open");
    let locked = Registry::start_with_auth("smoke-locked", "ci", "s3cret");
    open.push(&Layout::image("smoke-a", Some("10001")), "a", "1", None);
    open.push(&Layout::image("smoke-b", None), "b", "1", Some("v2s2"));
    locked.push(
        &Layout::index(
            "smoke-idx",
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
        ),
        "idx",
        "1",
        None,
    );
    assert!(open.digest("a", "1").starts_with("sha256:"));
    assert!(locked.digest("idx", "1").starts_with("sha256:"));
}
