//! Runs every step of every patch set, in order, over the selected resources, and records
//! what happened. A step changes a resource all or nothing.

use crate::manifest::{HELM4_FILENAME_ANNOTATION, Manifest, SKIP_ANNOTATION, source_comment};
use crate::patchfile::{OnConflict, OnFailure, PatchSet, Step, Target};
use crate::pod;
use crate::report::{self, Entry, Report, StepResult};
use crate::transforms::{Context, Outcome};
use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Value};

pub fn run(manifests: &mut Vec<Manifest>, sets: &[PatchSet]) -> Result<Report> {
    read_selected_fully(manifests, sets)?;
    let mut report = Report::default();
    for set in sets {
        for step in &set.steps {
            let step_id = format!("{}: {}", set.origin, step.name);
            let mut matched = 0;
            // (owner position, document) for documents this step generates; inserted after the
            // step, so its own loop never sees them.
            let mut generated: Vec<(usize, Manifest)> = Vec::new();
            for i in 0..manifests.len() {
                let m = &manifests[i];
                if !selects(step, m) {
                    continue;
                }
                matched += 1;
                let (result, new_value, new_docs) = if m.opted_out_of(&step.name) {
                    let reason = format!("opted out with the {SKIP_ANNOTATION} annotation");
                    (StepResult::Skipped { reason }, None, Vec::new())
                } else {
                    apply_step(set, step, m, manifests)?
                };
                report.entries.push(Entry {
                    resource: m.id(),
                    document: m.index,
                    step: step_id.clone(),
                    result,
                });
                for value in new_docs {
                    let doc = generated_document(&manifests[i], value);
                    report.entries.push(Entry {
                        resource: doc.id(),
                        document: doc.index,
                        step: step_id.clone(),
                        result: StepResult::Generated {
                            owner: manifests[i].id(),
                        },
                    });
                    generated.push((i, doc));
                }
                if let Some(value) = new_value {
                    let m = &mut manifests[i];
                    if m.before_change.is_none() {
                        m.before_change = m.value.take();
                    }
                    m.value = Some(value);
                }
            }
            if matched == 0 {
                report.unmatched_steps.push(step_id);
            }
            for (owner, doc) in generated.into_iter().rev() {
                manifests.insert(owner + 1, doc);
            }
        }
    }
    Ok(report)
}

fn selects(step: &Step, m: &Manifest) -> bool {
    m.is_resource() && step.select.matches(m) && !step.exclude.iter().any(|e| e.matches(m))
}

/// The stream reader builds only what selectors look at. Documents some step selects are read
/// in full here (all of them when an action looks at the whole stream); the others are never
/// changed, so what was read of them holds for every step.
fn read_selected_fully(manifests: &mut [Manifest], sets: &[PatchSet]) -> Result<()> {
    let steps = || {
        sets.iter()
            .flat_map(|set| set.steps.iter().map(move |step| (set, step)))
    };
    let everything = steps().any(|(_, step)| step.action.reads_stream());
    // A pod-targeting step reports a resource without a pod template from its head alone.
    let needs_body = |set: &PatchSet, step: &Step, m: &Manifest| {
        selects(step, m)
            && (step.target == Target::Resource
                || pod::template_path(m.kind(), m.group(), &set.pod_templates).is_some())
    };
    for m in manifests.iter_mut() {
        if everything || steps().any(|(set, step)| needs_body(set, step, m)) {
            m.read_fully()?;
        }
    }
    Ok(())
}

/// A generated document, filed with its owner: the owner's `# Source:` header (Helm 3 and
/// `helm template`) and Helm 4 filename annotation, so Helm keeps them together.
fn generated_document(owner: &Manifest, mut value: Value) -> Manifest {
    if let Some(filename) = owner.annotation(HELM4_FILENAME_ANNOTATION)
        && let Some(doc) = value.as_object_mut()
    {
        let metadata = doc
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(metadata) = metadata.as_object_mut() {
            let annotations = metadata
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(annotations) = annotations.as_object_mut() {
                annotations
                    .entry(HELM4_FILENAME_ANNOTATION)
                    .or_insert_with(|| Value::String(filename.to_string()));
            }
        }
    }
    let mut doc = Manifest::from_value(owner.index, value);
    doc.generated = true;
    if let Some(source) = source_comment(&owner.raw) {
        doc.raw = format!("# Source: {source}\n").into();
    }
    doc
}

/// What a step did to one resource: the report entry, the new value if it changed, and the
/// documents it generated.
type Applied = (StepResult, Option<Value>, Vec<Value>);

/// What the action said about each target of one resource.
#[derive(Default)]
struct Notes {
    partial: Vec<String>,
    conflicts: Vec<String>,
    not_applicable: Vec<String>,
    generated: Vec<Value>,
}

fn apply_step(set: &PatchSet, step: &Step, m: &Manifest, stream: &[Manifest]) -> Result<Applied> {
    let Some(before) = &m.value else {
        let reason = "empty document".into();
        return Ok((StepResult::Skipped { reason }, None, Vec::new()));
    };
    let has_pod = || {
        pod::template_path(m.kind(), m.group(), &set.pod_templates)
            .and_then(|path| before.pointer(&format!("{path}/spec")))
            .is_some_and(Value::is_object)
    };
    if step.target != Target::Resource && !has_pod() {
        // Without a pod there is nothing to do: skip the copy and compare of the resource.
        let reason = format!("{} has no pod template", m.kind());
        return Ok((StepResult::Skipped { reason }, None, Vec::new()));
    }
    let mut working = before.clone();
    let notes = match apply_to_targets(set, step, m, stream, &mut working) {
        Ok(notes) => notes,
        Err(e) if step.on_failure == OnFailure::Skip => {
            let reason = format!("{e:#}");
            return Ok((StepResult::Skipped { reason }, None, Vec::new()));
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
    if refused {
        let reason = conflicts.into_iter().next().unwrap_or_default();
        return Ok((StepResult::Conflict { reason }, None, Vec::new()));
    }
    if working == *before {
        let result = if let Some(reason) = conflicts.into_iter().next() {
            StepResult::Conflict { reason }
        } else if !notes.generated.is_empty() {
            StepResult::AlreadySet
        } else if let Some(reason) = notes.not_applicable.into_iter().next() {
            StepResult::Skipped { reason }
        } else {
            StepResult::AlreadySet
        };
        return Ok((result, None, notes.generated));
    }
    let changes = report::changes(before, &working);
    Ok((
        StepResult::Changed { changes, conflicts },
        Some(working),
        notes.generated,
    ))
}

/// Applies the step's action to each of its targets inside one resource.
fn apply_to_targets(
    set: &PatchSet,
    step: &Step,
    m: &Manifest,
    stream: &[Manifest],
    resource: &mut Value,
) -> Result<Notes> {
    let (kind, group) = (m.kind(), m.group());
    let ctx = Context {
        mode: step.mode,
        kind,
        group,
        pod_templates: &set.pod_templates,
        resource: m,
        stream,
    };
    let mut notes = Notes::default();
    let mut note = |outcome: Outcome| match outcome {
        Outcome::Applied => {}
        Outcome::Partial(reason) => notes.partial.push(reason),
        Outcome::Conflict(reason) => notes.conflicts.push(reason),
        Outcome::NotApplicable(reason) => notes.not_applicable.push(reason),
        Outcome::Generate(doc) => notes.generated.push(doc),
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
