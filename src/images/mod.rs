//! Images as a small domain of their own: references normalised the way container runtimes
//! read them ([`ImageRef`]), the `ImageUsers` file that says what user each image runs as
//! ([`ImageUsers`]), and the one question the transforms ask: what user does this container's
//! image run as, if known ([`KnownUsers::user_of`])? Only `pulse-harden images --resolve`
//! reaches the network: [`registry`] and [`resolve`] read users from registries, [`auth`]
//! finds credentials, [`list`] lists a stream's images. Rendering never creates a client.

pub mod auth;
pub mod list;
mod reference;
pub mod registry;
pub mod resolve;
mod users;

pub use reference::{DEFAULT_DOMAIN, DEFAULT_TAG, ImageRef};
pub use users::{DOCS, ImageUser, ImageUsers, KIND, RunsAs};

use anyhow::Result;

/// Every `ImageUsers` file given to a run, in the order given; all of them apply to every
/// step of every patch set and profile.
#[derive(Debug, Default, Clone)]
pub struct KnownUsers {
    files: Vec<ImageUsers>,
}

/// What an `ImageUsers` file declares for one container's image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Declared<'a> {
    pub entry: &'a ImageUser,
    /// The file that says so (its path as given).
    pub origin: &'a str,
}

impl<'a> Declared<'a> {
    pub fn runs_as(&self) -> RunsAs<'a> {
        self.entry.runs_as()
    }
}

/// No file: every image's user is unknown.
pub static NO_IMAGE_USERS: KnownUsers = KnownUsers { files: Vec::new() };

impl KnownUsers {
    pub fn new(files: Vec<ImageUsers>) -> Self {
        Self { files }
    }

    pub fn files(&self) -> &[ImageUsers] {
        &self.files
    }

    /// What user does the image `image` (a container's `image` field, as written) run as, if
    /// any file says? The most exact entry of all files wins (digest, then tag, then
    /// repository); between equally exact entries of different files, the file given last.
    /// An error says why `image` is not a reference a runtime would pull.
    pub fn user_of(&self, image: &str) -> Result<Option<Declared<'_>>> {
        let image = ImageRef::parse(image)?;
        let mut best = None;
        for file in &self.files {
            if let Some((rank, entry)) = file.best_match(&image)
                && best.is_none_or(|(b, _)| rank >= b)
            {
                best = Some((
                    rank,
                    Declared {
                        entry,
                        origin: &file.origin,
                    },
                ));
            }
        }
        Ok(best.map(|(_, declared)| declared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(origin: &str, entries: &str) -> ImageUsers {
        ImageUsers::parse(
            &format!("apiVersion: pulse-harden/v1\nkind: ImageUsers\nimages:\n{entries}"),
            origin,
        )
        .unwrap()
    }

    #[test]
    fn the_most_exact_entry_of_all_files_wins_then_the_last_file() {
        let known = KnownUsers::new(vec![
            file(
                "a.yaml",
                "  - {image: nginx:1.27, user: \"101\"}\n  - {image: busybox, user: \"\"}\n",
            ),
            file(
                "b.yaml",
                "  - {image: nginx, user: \"0\"}\n  - {image: busybox, user: \"65534\"}\n",
            ),
        ]);
        let of = |image: &str| {
            known
                .user_of(image)
                .unwrap()
                .map(|d| (d.entry.user.as_str(), d.origin))
        };
        assert_eq!(of("nginx:1.27"), Some(("101", "a.yaml")));
        assert_eq!(of("nginx:1.26"), Some(("0", "b.yaml")));
        assert_eq!(of("busybox:1.36"), Some(("65534", "b.yaml")));
        assert_eq!(of("quay.io/other"), None);
        assert_eq!(
            known.user_of("Not An Image").unwrap_err().to_string(),
            "image reference `Not An Image` contains white space"
        );
        assert!(KnownUsers::default().user_of("nginx").unwrap().is_none());
    }
}
