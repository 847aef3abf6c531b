//! The profiles we ship: patch sets from `patches/`, embedded in the binary.

use crate::patchfile::{self, PatchSet};
use anyhow::{Result, bail};

pub struct Profile {
    pub name: &'static str,
    pub summary: &'static str,
    /// The patch sets it applies, in order: (the name errors and reports give it, its text).
    pub sets: &'static [(&'static str, &'static str)],
}

const NONE: (&str, &str) = ("none", include_str!("../patches/none.yaml"));
const RESTRICTED: (&str, &str) = ("restricted", include_str!("../patches/restricted.yaml"));
const BASELINE: (&str, &str) = ("baseline", include_str!("../patches/baseline.yaml"));
const HA: (&str, &str) = ("ha", include_str!("../patches/ha.yaml"));
const ARM64: (&str, &str) = ("arm64", include_str!("../patches/arm64.yaml"));
const PULSE_OS: (&str, &str) = ("pulse-os", include_str!("../patches/pulse-os.yaml"));

pub const PROFILES: &[Profile] = &[
    Profile {
        name: "none",
        summary: "applies nothing; every document passes through byte for byte",
        sets: &[NONE],
    },
    Profile {
        name: "restricted",
        summary: "Pod Security Standards restricted where it breaks nothing; reports the rest",
        sets: &[RESTRICTED],
    },
    Profile {
        name: "baseline",
        summary: "reports workloads failing Pod Security Standards baseline; changes nothing",
        sets: &[BASELINE],
    },
    Profile {
        name: "ha",
        summary: "topology spread over zones and nodes, and PodDisruptionBudgets for replicated workloads",
        sets: &[HA],
    },
    Profile {
        name: "arm64",
        summary: "schedule pods on arm64 nodes, DaemonSets aside; report pods pinned to another architecture",
        sets: &[ARM64],
    },
    Profile {
        name: "pulse-os",
        summary: "the Pulse-OS chart: restricted, health checks aligned with the probes, spread and PDBs for APIs and workers",
        sets: &[RESTRICTED, PULSE_OS],
    },
];

/// The profile used when neither `--profile` nor `--patches` is given: hardening is what
/// people install a hardening post-renderer for.
pub const DEFAULT_PROFILE: &str = "restricted";

/// The patch sets of a profile, in the order they apply.
pub fn load(name: &str) -> Result<Vec<PatchSet>> {
    let Some(profile) = PROFILES.iter().find(|p| p.name == name) else {
        let names: Vec<_> = PROFILES.iter().map(|p| p.name).collect();
        bail!(
            "unknown profile `{name}`; the profiles are: {}",
            names.join(", ")
        );
    };
    profile
        .sets
        .iter()
        .map(|(set, text)| patchfile::parse(text, &format!("profile {set}")))
        .collect()
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
