//! Runs every step of every patch set, in order, over the selected resources, and records
//! what happened. A step changes a resource all or nothing.

use crate::images::{KnownUsers, NO_IMAGE_USERS};
use crate::lists;
use crate::manifest::{HELM4_FILENAME_ANNOTATION, Manifest, SKIP_ANNOTATION, source_comment};
use crate::patchfile::{OnConflict, OnFailure, PatchSet, Step, Target};
use crate::pod::{self, PodTemplatePath};
use crate::report::{self, Entry, Report, StepResult};
use crate::transforms::{Context, Outcome, StreamReads};
use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Value};

pub fn run(manifests: &mut Vec<Manifest>, sets: &[PatchSet]) -> Result<Report> {
    run_with_image_users(manifests, sets, &NO_IMAGE_USERS)
}

/// [`run`], with `ImageUsers` files that every step of every set sees (`Context::images`).
pub fn run_with_image_users(
    manifests: &mut Vec<Manifest>,
    sets: &[PatchSet],
    images: &KnownUsers,
) -> Result<Report> {
    // A custom resource's pod template, declared in any patch set, is known to every step
    // of the run: a built-in profile hardens an Argo Rollout a team's file declares.
    let templates: Vec<PodTemplatePath> = sets
        .iter()
        .flat_map(|set| set.pod_templates.iter().cloned())
        .collect();
    let templates = templates.as_slice();
    // Helm applies a List's items one by one: steps see them as resources.
    let lists = lists::open(manifests)?;
    read_selected_fully(manifests, sets, templates)?;
    let mut report = Report {
        notes: sets.iter().flat_map(|s| s.notes.iter().cloned()).collect(),
        ..Report::default()
    };
    for set in sets {
        for step in &set.steps {
            let step_id = format!("{}: {}", set.origin, step.name);
            let mut matched = 0;
            // (owner position, document) for documents this step generates; inserted after the
            // step, so its own loop never sees them.
            // (The owners' positions are kept apart so actions can see the documents.)
            let mut generated: Vec<Manifest> = Vec::new();
            let mut owners: Vec<usize> = Vec::new();
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
                    apply_step(set, step, m, manifests, &generated, templates, images)?
                };
                report.entries.push(Entry {
                    resource: m.id(),
                    document: m.index,
                    step: step_id.clone(),
                    result,
                });
                for value in new_docs {
                    let owner = &manifests[i];
                    check_generated(&value, owner, &step_id)?;
                    let doc = generated_document(owner, value);
                    let duplicate = duplicate_of(&doc, manifests, &generated);
                    let result = match &duplicate {
                        Some(existing) => {
                            let reason = format!(
                                "generated {} for {} but {existing} is already in the stream; not added",
                                doc.id(),
                                owner.id()
                            );
                            if step.on_conflict == OnConflict::Error {
                                bail!("{step_id}: {reason}");
                            }
                            StepResult::Conflict { reason }
                        }
                        None => StepResult::Generated { owner: owner.id() },
                    };
                    report.entries.push(Entry {
                        resource: doc.id(),
                        document: doc.index,
                        step: step_id.clone(),
                        result,
                    });
                    if duplicate.is_none() {
                        generated.push(doc);
                        owners.push(i);
                    }
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
            for (owner, doc) in owners.into_iter().zip(generated).rev() {
                manifests.insert(owner + 1, doc);
            }
        }
    }
    lists::close(manifests, lists);
    Ok(report)
}

/// A transform must generate a whole resource: Helm 4 rejects a document without
/// `apiVersion`, `kind` and `metadata.name`. A failure here is a bug in the transform.
fn check_generated(value: &Value, owner: &Manifest, step_id: &str) -> Result<()> {
    let has = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    if !(has("/apiVersion") && has("/kind") && has("/metadata/name")) {
        bail!(
            "{step_id}: generated a document for {} without apiVersion, kind and metadata.name (a bug in the action)",
            owner.id()
        );
    }
    Ok(())
}

/// Whether the step can only act inside a pod template (so a resource without one is
/// skipped, from its head alone).
fn needs_pod(step: &Step) -> bool {
    step.target != Target::Resource || step.action.needs_pod_template()
}

fn selects(step: &Step, m: &Manifest) -> bool {
    m.is_resource() && step.select.matches(m) && !step.exclude.iter().any(|e| e.matches(m))
}

/// The stream reader builds only what selectors look at. Documents some step selects are read
/// in full here, and so are those a cross-resource action reads (see `StreamReads`); the
/// others are never changed, so what was read of them holds for every step.
fn read_selected_fully(
    manifests: &mut [Manifest],
    sets: &[PatchSet],
    templates: &[PodTemplatePath],
) -> Result<()> {
    let steps = || {
        sets.iter()
            .flat_map(|set| set.steps.iter().map(move |step| (set, step)))
    };
    let mut everything = false;
    let mut kinds: Vec<&str> = Vec::new();
    for (_, step) in steps() {
        match step.action.reads_stream() {
            StreamReads::Nothing => {}
            StreamReads::Kinds(read) => kinds.extend(read),
            StreamReads::Everything => everything = true,
        }
    }
    // A pod-targeting step reports a resource without a pod template from its head alone.
    let needs_body = |step: &Step, m: &Manifest| {
        selects(step, m)
            && (pod::template_path(m.kind(), m.group(), templates).is_some() || !needs_pod(step))
    };
    for m in manifests.iter_mut() {
        if everything || kinds.contains(&m.kind()) || steps().any(|(_, step)| needs_body(step, m)) {
            m.read_fully()?;
        }
    }
    Ok(())
}

/// The resource of the stream (or generated earlier in this step) with the same group,
/// kind, namespace and name as `doc`: two documents for one object would make Helm and
/// `kubectl apply` keep only one of them, whichever comes last.
fn duplicate_of(doc: &Manifest, manifests: &[Manifest], generated: &[Manifest]) -> Option<String> {
    let same = |m: &Manifest| {
        m.is_resource()
            && m.kind() == doc.kind()
            && m.group() == doc.group()
            && m.namespace() == doc.namespace()
            && m.name() == doc.name()
    };
    manifests
        .iter()
        .chain(generated)
        .find(|m| same(m))
        .map(|m| format!("{} in {}", m.id(), m.place()))
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
    notes: Vec<String>,
    conflicts: Vec<String>,
    not_applicable: Vec<String>,
    generated: Vec<Value>,
}

impl Notes {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Applied => {}
            Outcome::Partial(reason) => self.partial.push(reason),
            Outcome::Note(note) => self.notes.push(note),
            Outcome::Several(outcomes) => outcomes.into_iter().for_each(|o| self.add(o)),
            Outcome::Conflict(reason) => self.conflicts.push(reason),
            Outcome::NotApplicable(reason) => self.not_applicable.push(reason),
            Outcome::Generate(doc) => self.generated.push(doc),
        }
    }
}

fn apply_step(
    set: &PatchSet,
    step: &Step,
    m: &Manifest,
    stream: &[Manifest],
    generated: &[Manifest],
    templates: &[PodTemplatePath],
    images: &KnownUsers,
) -> Result<Applied> {
    let Some(before) = &m.value else {
        let reason = "empty document".into();
        return Ok((StepResult::NotApplicable { reason }, None, Vec::new()));
    };
    let has_pod = || {
        pod::template_path(m.kind(), m.group(), templates)
            .and_then(|path| before.pointer(&format!("{path}/spec")))
            .is_some_and(Value::is_object)
    };
    if needs_pod(step) && !has_pod() {
        // Without a pod there is nothing to do: skip the copy and compare of the resource.
        let reason = format!("{} has no pod template", m.kind());
        return Ok((StepResult::NotApplicable { reason }, None, Vec::new()));
    }
    let mut working = before.clone();
    let notes = match apply_to_targets(step, m, stream, generated, templates, images, &mut working)
    {
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
            StepResult::NotApplicable { reason }
        } else {
            StepResult::AlreadySet
        };
        return Ok((result, None, notes.generated));
    }
    let changes = report::changes(before, &working);
    Ok((
        StepResult::Changed {
            changes,
            conflicts,
            notes: notes.notes,
        },
        Some(working),
        notes.generated,
    ))
}

/// Applies the step's action to each of its targets inside one resource.
fn apply_to_targets(
    step: &Step,
    m: &Manifest,
    stream: &[Manifest],
    generated: &[Manifest],
    templates: &[PodTemplatePath],
    images: &KnownUsers,
    resource: &mut Value,
) -> Result<Notes> {
    let (kind, group) = (m.kind(), m.group());
    let ctx = Context {
        mode: step.mode,
        kind,
        group,
        pod_templates: templates,
        container_names: step.container_names.as_ref(),
        resource: m,
        stream,
        generated,
        images,
    };
    let mut notes = Notes::default();
    let mut note = |outcome: Outcome| notes.add(outcome);
    match step.target {
        Target::Resource => note(step.action.apply(resource, &ctx)?),
        Target::PodSpec | Target::Containers => {
            let Some(spec) = pod::pod_spec_mut(resource, kind, group, templates) else {
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
                    if ctx.picks_container(container) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{patchfile, stream};

    const PDBS: &str = "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: pdbs\n    generatePodDisruptionBudgets: {}\n";

    fn workload(kind: &str, name: &str, header: &str, annotations: &str) -> String {
        format!(
            "---\n{header}apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n{annotations}spec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: {name}-{kind}}}\n  template:\n    metadata:\n      labels: {{app: {name}-{kind}}}\n    spec:\n      containers: [{{name: c, image: x}}]\n"
        )
    }

    fn harden(input: &str, patches: &str) -> Result<(String, Report)> {
        let sets = vec![patchfile::parse(patches, "p.yaml")?];
        let mut s = stream::read(input.as_bytes())?;
        let report = run(&mut s.manifests, &sets)?;
        Ok((String::from_utf8(stream::write(&s)?)?, report))
    }

    #[test]
    fn generated_documents_follow_their_owner_with_its_source() {
        let helm3 = workload("Deployment", "a", "# Source: c/templates/a.yaml\n", "");
        let helm4 = workload(
            "StatefulSet",
            "b",
            "",
            "  annotations:\n    postrenderer.helm.sh/postrender-filename: c/templates/b.yaml\n",
        );
        let input = format!("{helm3}{helm4}");
        let (out, report) = harden(&input, PDBS).unwrap();
        let docs: Vec<&str> = out.split("---\n").filter(|d| !d.is_empty()).collect();
        assert_eq!(docs.len(), 4, "{out}");
        assert!(docs[1].starts_with("# Source: c/templates/a.yaml\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: a-pdb\n"), "{out}");
        assert!(docs[3].starts_with("apiVersion: policy/v1\n"), "{out}");
        assert!(
            docs[3].contains(
                "  annotations:\n    postrenderer.helm.sh/postrender-filename: c/templates/b.yaml\n"
            ),
            "{out}"
        );
        let generated: Vec<_> = report
            .entries
            .iter()
            .filter(|e| matches!(e.result, StepResult::Generated { .. }))
            .map(|e| e.resource.as_str())
            .collect();
        assert_eq!(
            generated,
            [
                "PodDisruptionBudget/(release namespace)/a-pdb",
                "PodDisruptionBudget/(release namespace)/b-pdb"
            ]
        );
        // A second run sees the budgets and adds nothing.
        let (again, _) = harden(&out, PDBS).unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn a_generated_duplicate_is_reported_not_added() {
        let input = format!(
            "{}{}",
            workload("Deployment", "web", "", ""),
            workload("StatefulSet", "web", "", "")
        );
        let (out, report) = harden(&input, PDBS).unwrap();
        assert_eq!(out.matches("kind: PodDisruptionBudget").count(), 1, "{out}");
        // The generator sees the budget it made for the Deployment (see
        // `Context::generated`); the pipeline would refuse the duplicate all the same.
        assert!(report.entries.iter().any(|e| matches!(&e.result,
            StepResult::Conflict { reason } if reason == "PodDisruptionBudget/(release namespace)/web-pdb (generated in this run) exists but selects other pods; not generating another of that name")));
        let strict = PDBS.replace("    generate", "    onConflict: error\n    generate");
        let e = harden(&input, &strict).unwrap_err().to_string();
        assert!(
            e.starts_with("p.yaml: step `pdbs` conflicts with StatefulSet/(release namespace)/web in document 2: PodDisruptionBudget/(release namespace)/web-pdb (generated in this run) exists"),
            "{e}"
        );
    }
}
