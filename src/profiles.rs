//! The profiles we ship: patch sets from `patches/`, embedded in the binary.

use crate::patchfile::{self, PatchSet};
use anyhow::{Result, bail};

pub struct Profile {
    pub name: &'static str,
    pub summary: &'static str,
    pub text: &'static str,
}

/// `none` applies nothing: the stream passes through untouched.
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "none",
        summary: "applies nothing; every document passes through byte for byte",
        text: include_str!("../patches/none.yaml"),
    },
    Profile {
        name: "restricted",
        summary: "Pod Security Standards restricted where it breaks nothing; reports the rest",
        text: include_str!("../patches/restricted.yaml"),
    },
    Profile {
        name: "baseline",
        summary: "reports workloads failing Pod Security Standards baseline; changes nothing",
        text: include_str!("../patches/baseline.yaml"),
    },
    Profile {
        name: "ha",
        summary: "topology spread over zones and nodes, and PodDisruptionBudgets for replicated workloads",
        text: include_str!("../patches/ha.yaml"),
    },
    Profile {
        name: "arm64",
        summary: "schedule every pod on arm64 nodes; report pods pinned to another architecture",
        text: include_str!("../patches/arm64.yaml"),
    },
];

/// The profile used when neither `--profile` nor `--patches` is given: hardening is what
/// people install a hardening post-renderer for.
pub const DEFAULT_PROFILE: &str = "restricted";

pub fn load(name: &str) -> Result<PatchSet> {
    let Some(profile) = PROFILES.iter().find(|p| p.name == name) else {
        let names: Vec<_> = PROFILES.iter().map(|p| p.name).collect();
        bail!(
            "unknown profile `{name}`; the profiles are: {}",
            names.join(", ")
        );
    };
    patchfile::parse(profile.text, &format!("profile {}", profile.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_profile_loads() {
        for p in PROFILES {
            load(p.name).unwrap();
        }
    }
}
