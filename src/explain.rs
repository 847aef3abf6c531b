//! `pulse-harden explain`: the actions and profiles, documented from the code itself, and
//! the README's action table (kept in step by a test).

use crate::patchfile::PatchSet;
use crate::{images, profiles, transforms};
use anyhow::Result;

/// The markers around the generated action table in the README.
pub const TABLE_BEGIN: &str = "<!-- transforms:begin -->";
pub const TABLE_END: &str = "<!-- transforms:end -->";

pub fn explain(name: Option<&str>) -> Result<String> {
    let mut out = String::new();
    match name {
        None => {
            out.push_str("Actions (one per step; `pulse-harden explain ACTION` for its docs):\n");
            for (key, summary) in transforms::Action::summaries() {
                out.push_str(&format!("  {key:<20} {summary}\n"));
            }
            out.push_str(
                "\nProfiles (--profile NAME; `pulse-harden explain NAME` for its steps):\n",
            );
            for p in profiles::PROFILES {
                out.push_str(&format!("  {:<20} {}\n", p.name, p.summary));
            }
            out.push_str("\nFiles besides patch sets (-p FILE; `pulse-harden explain KIND`):\n");
            out.push_str(&format!(
                "  {:<20} the user each image runs as, so runAsNonRoot can be set safely\n",
                images::KIND
            ));
        }
        Some(name) => {
            if let Some(p) = profiles::PROFILES.iter().find(|p| p.name == name) {
                out.push_str(&profile(p)?);
            } else if name == images::KIND {
                out.push_str(&format!("{name}\n\n{}", images::DOCS));
            } else if let Some(docs) = transforms::Action::docs(name) {
                out.push_str(&format!("{name}\n\n{docs}"));
            } else {
                anyhow::bail!("nothing called `{name}`; run `pulse-harden explain` for the list");
            }
        }
    }
    Ok(out)
}

/// A profile: its steps, one line each, then its patch file to copy from.
fn profile(p: &profiles::Profile) -> Result<String> {
    let mut out = format!("profile {}: {}\n", p.name, p.summary);
    for set in profiles::load(p.name)? {
        out.push_str(&format!("\nFrom {}:\n{}", set.origin, steps(&set)));
    }
    out.push_str("\nThe profile as patch files:\n");
    for (_, text) in p.sets {
        out.push('\n');
        out.push_str(text);
    }
    Ok(out)
}

/// One line per step: its name, its action, and its description's first line (or the
/// action's summary).
fn steps(set: &PatchSet) -> String {
    if set.steps.is_empty() {
        return "No steps.\n".to_string();
    }
    let mut out = String::from("Steps, in order:\n");
    let width = set.steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for step in &set.steps {
        let key = step.action.key();
        let what = step
            .description
            .as_deref()
            .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
            .or_else(|| {
                transforms::Action::summaries()
                    .find(|(k, _)| *k == key)
                    .map(|(_, summary)| summary)
            })
            .unwrap_or_default();
        out.push_str(&format!("  {:<width$}  ({key}) {what}\n", step.name));
    }
    out
}

/// The README's action table, one row per registered action, from the code.
pub fn markdown_table() -> String {
    let mut out = String::from("| action | what it does |\n|---|---|\n");
    for (key, summary) in transforms::Action::summaries() {
        out.push_str(&format!("| `{key}` | {} |\n", summary.replace('|', "\\|")));
    }
    out
}

/// `readme` with the text between the table markers replaced by [`markdown_table`];
/// `None` if the markers are missing.
pub fn with_markdown_table(readme: &str) -> Option<String> {
    let start = readme.find(TABLE_BEGIN)? + TABLE_BEGIN.len();
    let end = start + readme[start..].find(TABLE_END)?;
    Some(format!(
        "{}\n{}{}",
        &readme[..start],
        markdown_table(),
        &readme[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_action_and_profile() {
        let text = explain(None).unwrap();
        for key in transforms::Action::KEYS {
            assert!(text.contains(key), "{text}");
            assert!(markdown_table().contains(&format!("| `{key}` |")));
        }
        for p in profiles::PROFILES {
            assert!(text.contains(p.name), "{text}");
            assert!(explain(Some(p.name)).unwrap().starts_with("profile "));
        }
        assert!(explain(Some("jsonPatch")).unwrap().contains("Example"));
        assert!(text.contains("  ImageUsers "), "{text}");
        assert!(
            explain(Some("ImageUsers"))
                .unwrap()
                .starts_with("ImageUsers\n\nAn `ImageUsers` file")
        );
        assert!(explain(Some("nope")).is_err());
    }

    #[test]
    fn a_profile_lists_its_steps_one_line_each() {
        let set = crate::patchfile::parse(
            "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: seccomp\n    description: |\n      Pod seccomp profile.\n      More detail.\n    target: podSpec\n    mergePatch: {securityContext: {seccompProfile: {type: RuntimeDefault}}}\n  - name: pull\n    jsonPatch: []\n",
            "test",
        )
        .unwrap();
        assert_eq!(
            steps(&set),
            format!(
                "Steps, in order:\n  seccomp  (mergePatch) Pod seccomp profile.\n  pull     (jsonPatch) {}\n",
                transforms::Action::summaries().next().unwrap().1
            )
        );
    }

    #[test]
    fn replaces_only_the_table() {
        let readme = format!("intro\n{TABLE_BEGIN}\nold table\n{TABLE_END}\noutro\n");
        let new = with_markdown_table(&readme).unwrap();
        assert!(new.starts_with(&format!("intro\n{TABLE_BEGIN}\n| action |")));
        assert!(new.ends_with(&format!("|\n{TABLE_END}\noutro\n")));
        assert!(!new.contains("old table"));
        assert_eq!(with_markdown_table(&new).unwrap(), new);
        assert_eq!(with_markdown_table("no markers"), None);
    }
}
