//! Runs every step of every patch set, in order, over the selected resources, and records
//! what happened. A step changes a resource all or nothing.

use crate::manifest::{Manifest, SKIP_ANNOTATION};
use crate::patchfile::{OnConflict, OnFailure, PatchSet, Step, Target};
use crate::pod;
use crate::report::{self, Entry, Report, StepResult};
use crate::transforms::{Context, Outcome};
use anyhow::{Result, anyhow, bail};
use serde_json::Value;

pub fn run(manifests: &mut [Manifest], sets: &[PatchSet]) -> Result<Report> {
    let mut report = Report::default();
    for set in sets {
        for step in &set.steps {
            let step_id = format!("{}: {}", set.origin, step.name);
            let mut matched = 0;
            for m in manifests.iter_mut() {
                if !m.is_resource()
                    || !step.select.matches(m)
                    || step.exclude.iter().any(|e| e.matches(m))
                {
                    continue;
                }
                matched += 1;
                let result = if m.opted_out_of(&step.name) {
                    StepResult::Skipped {
                        reason: format!("opted out with the {SKIP_ANNOTATION} annotation"),
                    }
                } else {
                    apply_step(set, step, m)?
                };
                report.entries.push(Entry {
                    resource: m.id(),
                    document: m.index,
                    step: step_id.clone(),
                    result,
                });
            }
            if matched == 0 {
                report.unmatched_steps.push(step_id);
            }
        }
    }
    Ok(report)
}

/// What the action said about each target of one resource.
#[derive(Default)]
struct Notes {
    partial: Vec<String>,
    conflicts: Vec<String>,
    not_applicable: Vec<String>,
}

fn apply_step(set: &PatchSet, step: &Step, m: &mut Manifest) -> Result<StepResult> {
    let Some(before) = &m.value else {
        return Ok(StepResult::Skipped {
            reason: "empty document".into(),
        });
    };
    let mut working = before.clone();
    let (kind, group) = (m.kind().to_string(), m.group().to_string());
    let notes = match apply_to_targets(set, step, &kind, &group, &mut working) {
        Ok(notes) => notes,
        Err(e) if step.on_failure == OnFailure::Skip => {
            return Ok(StepResult::Skipped {
                reason: format!("{e:#}"),
            });
        }
        Err(e) => {
            bail!(
                "{}: step `{}` failed on {} in {}: {e:#}",
                set.origin,
                step.name,
                m.id(),
                m.place()
            );
        }
    };
    let refused = !notes.conflicts.is_empty();
    let conflicts = if notes.conflicts.is_empty() {
        notes.partial
    } else {
        notes.conflicts
    };
    if !conflicts.is_empty() && step.on_conflict == OnConflict::Error {
        return Err(anyhow!(
            "{}: step `{}` conflicts with {} in {}: {}",
            set.origin,
            step.name,
            m.id(),
            m.place(),
            conflicts.join("; ")
        ));
    }
    if refused || working == *before {
        return Ok(if let Some(reason) = conflicts.first() {
            StepResult::Conflict {
                reason: reason.clone(),
            }
        } else if let Some(reason) = notes.not_applicable.into_iter().next() {
            StepResult::Skipped { reason }
        } else {
            StepResult::AlreadySet
        });
    }
    let changes = report::changes(before, &working);
    if m.before_change.is_none() {
        m.before_change = m.value.take();
    }
    m.value = Some(working);
    Ok(StepResult::Changed { changes, conflicts })
}

/// Applies the step's action to each of its targets inside one resource.
fn apply_to_targets(
    set: &PatchSet,
    step: &Step,
    kind: &str,
    group: &str,
    resource: &mut Value,
) -> Result<Notes> {
    let ctx = Context {
        mode: step.mode,
        kind,
        group,
        pod_templates: &set.pod_templates,
    };
    let mut notes = Notes::default();
    let mut note = |outcome: Outcome| match outcome {
        Outcome::Applied => {}
        Outcome::Partial(reason) => notes.partial.push(reason),
        Outcome::Conflict(reason) => notes.conflicts.push(reason),
        Outcome::NotApplicable(reason) => notes.not_applicable.push(reason),
    };
    match step.target {
        Target::Resource => note(step.action.apply(resource, &ctx)?),
        Target::PodSpec | Target::Containers => {
            let Some(spec) = pod::pod_spec_mut(resource, kind, group, &set.pod_templates) else {
                note(Outcome::NotApplicable(format!(
                    "{kind} has no pod template"
                )));
                return Ok(notes);
            };
            if step.target == Target::PodSpec {
                note(step.action.apply(spec, &ctx)?);
            } else {
                for (list, container) in pod::containers_mut(spec) {
                    let name = container
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    if step
                        .container_names
                        .as_ref()
                        .is_none_or(|names| names.matches(&name))
                    {
                        let outcome = step
                            .action
                            .apply(container, &ctx)
                            .map_err(|e| e.context(format!("{list} `{name}`")))?;
                        note(outcome);
                    }
                }
            }
        }
    }
    Ok(notes)
}
