//! `pulse-harden explain`: the actions and profiles, documented from the code itself.

use crate::{profiles, transforms};
use anyhow::Result;

pub fn explain(name: Option<&str>) -> Result<String> {
    let mut out = String::new();
    match name {
        None => {
            out.push_str("Actions (one per step):\n");
            for (key, summary) in transforms::Action::summaries() {
                out.push_str(&format!("  {key:<14} {summary}\n"));
            }
            out.push_str("\nProfiles (--profile NAME):\n");
            for p in profiles::PROFILES {
                out.push_str(&format!("  {:<14} {}\n", p.name, p.summary));
            }
        }
        Some(name) => {
            if let Some(p) = profiles::PROFILES.iter().find(|p| p.name == name) {
                out.push_str(&format!("profile {}: {}\n", p.name, p.summary));
                for (_, text) in p.sets {
                    out.push('\n');
                    out.push_str(text);
                }
            } else if let Some(docs) = transforms::Action::docs(name) {
                out.push_str(&format!("{name}\n\n{docs}"));
            } else {
                anyhow::bail!("nothing called `{name}`; run `pulse-harden explain` for the list");
            }
        }
    }
    Ok(out)
}
