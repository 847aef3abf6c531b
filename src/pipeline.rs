//! Runs every step of every patch set, in order, over the selected resources, and records
//! what happened. A step changes a resource all or nothing.

use crate::manifest::Manifest;
use crate::patchfile::{OnFailure, PatchSet, Step, Target};
use crate::pod;
use crate::report::{self, Entry, Report, StepResult};
use crate::transforms::{Context, Outcome};
use anyhow::{Result, anyhow};
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
                        reason: format!(
                            "opted out with the {} annotation",
                            crate::manifest::SKIP_ANNOTATION
                        ),
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

fn apply_step(set: &PatchSet, step: &Step, m: &mut Manifest) -> Result<StepResult> {
    let Some(before) = &m.value else {
        return Ok(StepResult::Skipped {
            reason: "empty document".into(),
        });
    };
    let mut working = before.clone();
    let (kind, group) = (m.kind().to_string(), m.group().to_string());
    let skips = match apply_to_targets(set, step, &kind, &group, &mut working) {
        Ok(skips) => skips,
        Err(e) if step.on_failure == OnFailure::Skip => {
            return Ok(StepResult::Skipped {
                reason: format!("{e:#}"),
            });
        }
        Err(e) => {
            return Err(anyhow!(
                "{}: step `{}` failed on {} in {}: {e:#}",
                set.origin,
                step.name,
                m.id(),
                m.place()
            ));
        }
    };
    if working == *before {
        return Ok(match skips.into_iter().next() {
            Some(reason) => StepResult::Skipped { reason },
            None => StepResult::AlreadySet,
        });
    }
    let changes = report::changes(before, &working);
    if m.before_change.is_none() {
        m.before_change = m.value.take();
    }
    m.value = Some(working);
    Ok(StepResult::Changed { changes })
}

/// Applies the step's action to each of its targets inside one resource; returns the
/// reasons for targets it skipped.
fn apply_to_targets(
    set: &PatchSet,
    step: &Step,
    kind: &str,
    group: &str,
    resource: &mut Value,
) -> Result<Vec<String>> {
    let ctx = Context { mode: step.mode };
    let mut skips = Vec::new();
    let mut note = |outcome: Outcome| {
        if let Outcome::Skipped(reason) = outcome {
            skips.push(reason);
        }
    };
    match step.target {
        Target::Resource => note(step.action.apply(resource, &ctx)?),
        Target::PodSpec | Target::Containers => {
            let Some(spec) = pod::pod_spec_mut(resource, kind, group, &set.pod_templates) else {
                return Ok(vec![format!("{kind} has no pod template")]);
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
    Ok(skips)
}
