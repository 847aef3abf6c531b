//! Runs every step of every patch set, in order, over the selected resources, and records
//! what happened. A step changes a resource all or nothing.

use crate::images::{KnownUsers, NO_IMAGE_USERS};
use crate::lists;
use crate::manifest::{
    HELM4_FILENAME_ANNOTATION, Head, Manifest, Raw, SKIP_ANNOTATION, source_comment,
};
use crate::parallel;
use crate::patchfile::{OnConflict, OnFailure, PatchSet, Step, Target};
use crate::pod::{self, PodTemplatePath};
use crate::pointer::Lookup;
use crate::report::{self, Entry, Report, StepResult, redact};
use crate::transforms::{Budgets, Context, Fact, Outcome, StreamIndex, StreamReads};
use crate::yaml;
use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub fn run(manifests: &mut Vec<Manifest>, sets: &[PatchSet]) -> Result<Report> {
    run_with_image_users(manifests, sets, &NO_IMAGE_USERS)
}

/// [`run`], with `ImageUsers` files that every step of every set sees (`Context::images`).
pub fn run_with_image_users(
    manifests: &mut Vec<Manifest>,
    sets: &[PatchSet],
    images: &KnownUsers,
) -> Result<Report> {
    let keep = Keep {
        values: true,
        report: true,
    };
    run_step_by_step(manifests, sets, images, keep)
}

/// [`run_with_image_users`], keeping of the report only what the summary line counts unless
/// `keep.report` (as [`run_streaming`] does; `keep.values` is for it alone).
pub fn run_step_by_step(
    manifests: &mut Vec<Manifest>,
    sets: &[PatchSet],
    images: &KnownUsers,
    keep: Keep,
) -> Result<Report> {
    let templates = pod_templates(sets);
    let templates = templates.as_slice();
    // Helm applies a List's items one by one: steps see them as resources.
    let lists = lists::open(manifests)?;
    read_selected_fully(manifests, sets)?;
    let mut report = Report {
        notes: sets.iter().flat_map(|s| s.notes.iter().cloned()).collect(),
        ..Report::default()
    };
    for set in sets {
        for step in &set.steps {
            let step_id: Arc<str> = format!("{}: {}", set.origin, step.name).into();
            let run = (templates, images, keep);
            let ran = run_step(manifests, (set, step, &step_id), run)?;
            report.entries.extend(ran.entries);
            if ran.matched == 0 {
                report.unmatched_steps.push(step_id.to_string());
            }
        }
    }
    lists::close(manifests, lists);
    Ok(report)
}

/// What one step did over the stream: its report entries (all of them, or what the summary
/// counts, see [`keep_entry`]) and how many resources it selected.
struct Ran {
    entries: Vec<Entry>,
    matched: usize,
}

/// Runs one step over the documents of `manifests` it selects, and files the documents it
/// generates right after their owners.
fn run_step(
    manifests: &mut Vec<Manifest>,
    (set, step, step_id): (&PatchSet, &Step, &Arc<str>),
    (templates, images, keep): (&[PodTemplatePath], &KnownUsers, Keep),
) -> Result<Ran> {
    let mut entries = Vec::new();
    let mut matched = 0;
    // The documents this step generates, and their owners' positions; inserted after the
    // step, so its own loop never sees them (actions see the budgets among them, as facts).
    let mut generated: Vec<Manifest> = Vec::new();
    let mut owners: Vec<usize> = Vec::new();
    // Built when the step first generates a document: telling a generated resource
    // from one already in the stream must not compare every pair.
    let mut ids: Option<Ids> = None;
    let index = StreamIndex::default();
    let mut generated_budgets = Budgets::default();
    let none_generated = Budgets::default();
    // A step that reads no other document changes each one independently of the
    // others: on every core, a block of documents ahead of the loop below, which takes
    // the results in order. Blocks, so that the new values waiting to be taken stay a
    // few megabytes rather than a second copy of the stream. (Such a step generates
    // no documents; were one generated, the loop computes the rest itself, so that
    // every resource sees what the step generated before it.)
    let local = matches!(
        step.action.reads_stream(),
        StreamReads::Nothing | StreamReads::Heads
    );
    let sizes: Vec<usize> = match local {
        true => (manifests.iter())
            .map(|m| match selects(step, m) && !m.opted_out_of(&step.name) {
                true => m.raw.len().max(1),
                false => 0,
            })
            .collect(),
        false => Vec::new(),
    };
    let mut ahead = Vec::new().into_iter();
    let mut block_end = 0;
    for i in 0..manifests.len() {
        if local && i == block_end {
            block_end = block_after_bytes(&sizes, i, AHEAD_BYTES);
            let stream: &[Manifest] = manifests;
            let block = &sizes[i..block_end];
            ahead = parallel::map(block, |k| {
                let m = &stream[i + k];
                (block[k] > 0).then(|| {
                    let around = Around {
                        stream,
                        generated_budgets: &none_generated,
                        templates,
                        images,
                        index: &index,
                        listed: keep.report,
                    };
                    apply_step(set, step, m, around).map(|a| whole_resource(a, m))
                })
            })
            .into_iter();
        }
        let done_ahead = ahead.next().flatten().filter(|_| generated.is_empty());
        let m = &manifests[i];
        if !selects(step, m) {
            continue;
        }
        matched += 1;
        let (result, new_value, new_docs) = if let Some(applied) = done_ahead {
            applied?
        } else {
            let around = Around {
                stream: manifests,
                generated_budgets: &generated_budgets,
                templates,
                images,
                index: &index,
                listed: keep.report,
            };
            whole_resource(apply_step(set, step, m, around)?, m)
        };
        let entry = Entry {
            resource: m.id().into(),
            document: m.index,
            step: step_id.clone(),
            result,
        };
        keep_entry(&mut entries, entry, keep);
        for value in new_docs {
            let owner = &manifests[i];
            let ids = ids.get_or_insert_with(|| Ids::of(manifests.iter().chain(&generated)));
            let filed = file_generated(value, owner, (step, step_id), ids, &mut entries, keep)?;
            if let Some(doc) = filed {
                generated_budgets.add_if_budget(&doc, templates);
                generated.push(doc);
                owners.push(i);
            }
        }
        if let Some(change) = new_value {
            // The index of resource ids no longer holds if a step renamed one.
            ids = None;
            manifests[i].change(change);
        }
    }
    if !generated.is_empty() {
        insert_after_owners(manifests, owners, generated);
    }
    Ok(Ran { entries, matched })
}

/// Files a document the step generated for `owner`: its report entry, and the document itself
/// unless a resource of its id is already in the stream (`ids`), which is a conflict (with
/// `onConflict: error`, the run's error).
fn file_generated(
    value: Value,
    owner: &Manifest,
    (step, step_id): (&Step, &Arc<str>),
    ids: &mut Ids,
    entries: &mut Vec<Entry>,
    keep: Keep,
) -> Result<Option<Manifest>> {
    check_generated(&value, owner, step_id)?;
    let doc = generated_document(owner, value);
    let duplicate = ids.duplicate_of(&doc);
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
    let entry = Entry {
        resource: doc.id().into(),
        document: doc.index,
        step: step_id.clone(),
        result,
    };
    keep_entry(entries, entry, keep);
    Ok(match duplicate {
        Some(_) => None,
        None => {
            ids.add(&doc);
            Some(doc)
        }
    })
}

/// Files a report entry: all of it, or (a run that writes no report) what the summary line
/// counts ([`Entry::for_summary`]).
fn keep_entry(entries: &mut Vec<Entry>, entry: Entry, keep: Keep) {
    match keep.report {
        true => entries.push(entry),
        false => entries.extend(entry.for_summary()),
    }
}

/// Whether the run can go document by document ([`run_streaming`]): every step changes a
/// resource from that resource alone (`StreamReads::Nothing`), so no step waits for the rest
/// of the stream to be read; but for one step that changes no resource and whose outcomes
/// can wait until the stream is read ([`deferred`]).
pub fn streams(sets: &[PatchSet]) -> bool {
    (sets.iter().flat_map(|set| &set.steps))
        .all(|step| step.action.reads_stream() == StreamReads::Nothing)
        || deferred(sets).is_some()
}

/// Marks an error of a streaming run as the stream reader's: it names a place in the input and
/// never quotes a scalar, so it is not scrubbed of data values like the errors of steps (a
/// data value such as `line` would otherwise erase its location). A step-by-step run reads
/// the stream before the scrub begins; this keeps the two alike.
#[derive(Debug)]
pub struct InputError(String);

impl InputError {
    fn from(e: anyhow::Error) -> anyhow::Error {
        anyhow::Error::new(InputError(format!("{e:#}")))
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// How much text one block of a streaming run holds: its documents are read, put through
/// every step and emitted together, on every core, before the next block is read.
const STREAM_BLOCK_BYTES: usize = 128 << 10;

/// [`run_with_image_users`] for a run that [`streams`], over the documents `next` hands out a
/// segment at a time, unread ([`crate::stream::Segments`]); done, they join `manifests`. A
/// block of documents at a time, each document is read (whole if a step wants it), put through
/// every step of every set in order, and emitted (into `Manifest::emitted`, an error there kept
/// for the writer to report, as [`crate::stream::render`] would). Then, unless `keep.values`
/// (for `--diff`), it keeps only its head, and of its text what the output takes from it (all
/// of it, or the header comments above an emitted text), in an allocation of its own: memory
/// holds the output, a segment and a block, not the input or the stream parsed. Secret and
/// ConfigMap data and Lists stay whole (errors are scrubbed of data values; Lists count their
/// items).
///
/// The deferred step ([`deferred`]: a PodDisruptionBudget generator) is skipped on the way;
/// each document keeps instead what that step reads of it ([`Seen`]), as it stands before the
/// step. Once the stream is read, the step runs over those in stream order, as a run step by
/// step runs it over the stream, and each document it generates goes through the steps after
/// it and is filed after its owner (after its List, for a List's item).
///
/// The outcome is [`run_with_image_users`]'s: report entries in step order (those of the
/// documents the deferred step generated among the others' at their places), and the error a
/// run step by step would end with (the first read error, else the first step's first).
pub fn run_streaming(
    manifests: &mut Vec<Manifest>,
    next: &mut dyn FnMut() -> Result<Option<Vec<Manifest>>>,
    sets: &[PatchSet],
    images: &KnownUsers,
    keep: Keep,
) -> Result<Report> {
    let run = Streamed {
        templates: pod_templates(sets),
        wanted: Box::new(wants_whole(sets)),
        steps: (sets.iter())
            .flat_map(|set| set.steps.iter().map(move |step| (set, step)))
            .map(|(set, step)| {
                let id: Arc<str> = format!("{}: {}", set.origin, step.name).into();
                (set, step, id)
            })
            .collect(),
        images,
        keep,
        deferred: deferred(sets),
    };
    let mut by_step: Vec<Vec<Entry>> = run.steps.iter().map(|_| Vec::new()).collect();
    // Where each entry of a step after the deferred one stands, to file those of the
    // documents it generates among them.
    let mut places: Vec<Vec<Place>> = run.steps.iter().map(|_| Vec::new()).collect();
    let mut matched = vec![0usize; run.steps.len()];
    // What the deferred step reads of each document, and where each stands.
    let mut view: Vec<Seen> = Vec::new();
    let mut view_places: Vec<Place> = Vec::new();
    // The error to end with: (0, 0, place) for a read error, (1, step, place) for a
    // step's, the least of them (see above).
    let mut failure: Option<((u8, usize, Place), anyhow::Error)> = None;
    // A read error of a later segment comes before every step's error (the step-by-step run
    // reads the whole stream first).
    while let Some(mut segment) = next().map_err(InputError::from)? {
        let first_segment = manifests.is_empty();
        let base = manifests.len();
        let sizes: Vec<usize> = segment.iter().map(|m| m.raw.len().max(1)).collect();
        let mut start = 0;
        while start < sizes.len() {
            let end = block_after_bytes(&sizes, start, STREAM_BLOCK_BYTES);
            // The block's documents, taken out of the segment and put back done (in place: a
            // second list of every document would cost a few hundred bytes a document).
            let block: Vec<Mutex<Option<Manifest>>> = (segment[start..end].iter_mut())
                .map(|m| {
                    Mutex::new(Some(std::mem::replace(
                        m,
                        Manifest::from_value(0, Value::Null),
                    )))
                })
                .collect();
            // A stream of at least one block goes on every core, one block after the other.
            let on_every_core = match !first_segment || sizes.len() > end || start > 0 {
                true => STREAM_BLOCK_BYTES / 2,
                false => parallel::MIN_BYTES,
            };
            let done = parallel::map_from(on_every_core, &sizes[start..end], |k| {
                let m = block[k].lock().ok().and_then(|mut m| m.take());
                m.map(|m| run.document(m))
            });
            for (k, done) in (start..).zip(done) {
                let position = base + k;
                let Some(done) = done else {
                    bail!("internal error: document {} was not run", position + 1);
                };
                for (step, item, entry) in done.entries {
                    matched[step] += 1;
                    by_step[step].push(entry);
                    if run.deferred.is_some_and(|(deferred, _)| step > deferred) {
                        places[step].push((position, item, 0));
                    }
                }
                for (item, seen) in done.seen.into_iter().enumerate() {
                    view.push(seen);
                    view_places.push((position, item, 0));
                }
                if let Some((rank, step, item, e)) = done.error {
                    keep_least(&mut failure, (rank, step, (position, item, 0)), e);
                }
                segment[k] = done.manifest;
            }
            // A read error ends the run: no step's error can come before it any more. The
            // rest of the input is still split, unread: the step-by-step run splits the whole
            // stream before it reads a document, so an error there comes first.
            if let Some(((0, ..), e)) = failure {
                manifests.append(&mut segment);
                while next().map_err(InputError::from)?.is_some() {}
                return Err(e);
            }
            start = end;
        }
        manifests.append(&mut segment);
    }
    if let Some((deferred, _)) = run.deferred
        && failure
            .as_ref()
            .is_none_or(|((_, step, _), _)| *step > deferred)
    {
        let generated = run.deferred_step(deferred, view, view_places, &mut by_step[deferred])?;
        matched[deferred] = generated.matched;
        if let Some((at, e)) = generated.failure {
            keep_least(&mut failure, at, e);
        }
        // The documents it generated, filed after their owners, and their entries among those
        // of the steps after it.
        for (step, later) in generated.later.into_iter().enumerate() {
            if !later.is_empty() {
                matched[step] += later.len();
                let entries = std::mem::take(&mut by_step[step]);
                let places = std::mem::take(&mut places[step]);
                by_step[step] = merge_by_place(entries, places, later);
            }
        }
        let (owners, documents) = generated.documents.into_iter().unzip();
        insert_after_owners(manifests, owners, documents);
    }
    if let Some((_, e)) = failure {
        return Err(e);
    }
    let mut report = Report {
        notes: sets.iter().flat_map(|s| s.notes.iter().cloned()).collect(),
        ..Report::default()
    };
    // The first step's entries are moved, not copied: for a one-step run, they are all of them.
    report.entries = by_step.first_mut().map(std::mem::take).unwrap_or_default();
    report
        .entries
        .reserve_exact(by_step.iter().map(Vec::len).sum());
    for ((entries, matched), (_, _, step_id)) in by_step.into_iter().zip(matched).zip(&run.steps) {
        if matched == 0 {
            report.unmatched_steps.push(step_id.to_string());
        }
        report.entries.extend(entries);
    }
    Ok(report)
}

/// Where a report entry or an error of a streaming run stands in the order a run step by step
/// files them: the document's position in the stream; the item of a List (its List is 0,
/// its items follow) or 0; and 0 for the document itself, or 1 + n for the n-th document
/// the deferred step generated after it (see [`deferred`]).
type Place = (usize, usize, usize);

/// Keeps the error that comes first.
fn keep_least(
    failure: &mut Option<((u8, usize, Place), anyhow::Error)>,
    at: (u8, usize, Place),
    e: anyhow::Error,
) {
    if failure.as_ref().is_none_or(|(least, _)| at < *least) {
        *failure = Some((at, e));
    }
}

/// A step's entries (at `places`, in order) and those of generated documents (in order),
/// merged in the order of their places.
fn merge_by_place(
    entries: Vec<Entry>,
    places: Vec<Place>,
    later: Vec<(Place, Entry)>,
) -> Vec<Entry> {
    let mut merged = Vec::with_capacity(entries.len() + later.len());
    let mut later = later.into_iter().peekable();
    for (entry, place) in entries.into_iter().zip(places) {
        while let Some((_, entry)) = later.next_if(|(at, _)| *at < place) {
            merged.push(entry);
        }
        merged.push(entry);
    }
    merged.extend(later.map(|(_, entry)| entry));
    merged
}

/// The step of a streaming run whose outcomes wait until the whole stream is read, and what
/// it reads of each document: one step whose action decides from parts of the documents
/// ([`crate::transforms::Transform::DECIDES_FROM`]: a PodDisruptionBudget generator) among
/// steps that each read only their own resource.
fn deferred(sets: &[PatchSet]) -> Option<(usize, &'static [&'static str])> {
    let mut found = None;
    for (k, step) in sets.iter().flat_map(|set| &set.steps).enumerate() {
        match (step.action.reads_stream(), step.action.decides_from()) {
            (StreamReads::Nothing, _) => {}
            (_, Some(paths)) if found.is_none() => found = Some((k, paths)),
            _ => return None,
        }
    }
    found
}

/// What the deferred step of a streaming run reads of a document, kept small until the whole
/// stream is read (see [`Streamed::seen`]).
struct Seen {
    /// Who it is, for ids and messages: where it is, its `# Source:` header, its head.
    index: usize,
    line: usize,
    list_item: Option<usize>,
    complete: bool,
    header: Box<str>,
    head: Option<Box<Head>>,
    /// What the step reads of it as another document of the stream.
    fact: Option<Box<Fact>>,
    /// Whether the step selects it (asked of the whole document).
    selected: bool,
    /// For a document it selects: what it reads of it as its target.
    target: Option<Projected>,
}

/// What the deferred step reads of a document it selects ([`projection`]): as JSON, which
/// takes a tenth of the memory of the value; or the value itself where JSON might not read
/// back as the same value: a float (serde_json reads some back a bit off unless built with
/// `float_roundtrip`, which only its test builds here get), or nesting deeper than serde_json
/// reads (128 levels; the YAML reader allows 1,000).
enum Projected {
    Json(Box<str>),
    Deep(Box<Value>),
}

/// How deep a projection may nest to be kept as JSON.
const JSON_DEPTH: usize = 100;

impl Projected {
    fn of(value: Value) -> Projected {
        match reads_back(&value, JSON_DEPTH) {
            true => match serde_json::to_string(&value) {
                Ok(json) => Projected::Json(json.into()),
                Err(_) => Projected::Deep(Box::new(value)),
            },
            false => Projected::Deep(Box::new(value)),
        }
    }

    fn value(self) -> Result<Value> {
        match self {
            Projected::Json(json) => serde_json::from_str(&json)
                .map_err(|e| anyhow!("internal error: a projection did not read back: {e}")),
            Projected::Deep(value) => Ok(*value),
        }
    }
}

/// Whether `value` reads back from JSON as itself: it holds no float and nests at most
/// `levels` deep (a scalar is one level).
fn reads_back(value: &Value, levels: usize) -> bool {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(map) => Box::new(map.values()),
        Value::Number(n) => return levels > 0 && !n.is_f64(),
        _ => return levels > 0,
    };
    levels > 1
        && children
            .into_iter()
            .all(|child| reads_back(child, levels - 1))
}

impl Seen {
    /// The document as a manifest of this value, or of its head alone.
    fn manifest(&mut self, value: Option<Value>) -> Manifest {
        Manifest {
            line: self.line,
            raw: self.header.to_string().into(),
            head: value.is_none().then(|| self.head.take()).flatten(),
            value,
            complete: self.complete,
            list_item: self.list_item,
            ..Manifest::from_value(self.index, Value::Null)
        }
    }
}

/// What the deferred step did: how many resources it selected; the documents it generated,
/// put through the steps after it, each with its owner's position in the stream; their
/// report entries by step, each at its place (see [`Place`]); and their first error.
struct Generated {
    matched: usize,
    documents: Vec<(usize, Manifest)>,
    later: Vec<Vec<(Place, Entry)>>,
    failure: Option<((u8, usize, Place), anyhow::Error)>,
}

/// The end of the block of documents that starts at `start` and holds about `bytes` (at
/// least one document).
fn block_after_bytes(sizes: &[usize], start: usize, bytes: usize) -> usize {
    let mut held = 0;
    let mut end = start;
    while end < sizes.len() && (end == start || held < bytes) {
        held += sizes[end];
        end += 1;
    }
    end
}

/// What a streaming run needs for each document.
struct Streamed<'a> {
    templates: Vec<PodTemplatePath>,
    wanted: Box<dyn Fn(&Manifest) -> bool + Sync + 'a>,
    /// Every step of every set in order, with the name reports give it.
    steps: Vec<(&'a PatchSet, &'a Step, Arc<str>)>,
    images: &'a KnownUsers,
    keep: Keep,
    /// The step whose outcomes wait for the whole stream, and what it reads (see [`deferred`]).
    deferred: Option<(usize, &'static [&'static str])>,
}

/// What a streaming run keeps of each document once it is emitted.
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    /// The whole value before and after (for `--diff`), not just the head.
    pub values: bool,
    /// Every report entry in full (for a report, `--check`, `--strict`), not just what the
    /// summary line counts ([`Entry::for_summary`]).
    pub report: bool,
}

/// One document after a streaming run: its report entries (by step and List item, see
/// [`Place`]), the error it ended with: (0, 0) read, (1, step) a step's, and on which item;
/// and what the deferred step reads of it and its items.
struct DoneDocument {
    manifest: Manifest,
    entries: Vec<(usize, usize, Entry)>,
    error: Option<(u8, usize, usize, anyhow::Error)>,
    seen: Vec<Seen>,
}

impl Streamed<'_> {
    fn document(&self, mut m: Manifest) -> DoneDocument {
        let read = crate::stream::read_head(&m, &*self.wanted);
        if let Err(e) = m.take_read(read) {
            return DoneDocument {
                manifest: m,
                entries: Vec::new(),
                error: Some((0, 0, 0, InputError::from(e))),
                seen: Vec::new(),
            };
        }
        // A List is opened into its items, as `run_with_image_users` does for the stream.
        let mut docs = vec![m];
        let opened = match lists::open(&mut docs) {
            Ok(opened) => opened,
            Err(e) => return self.failed(docs, None, (0, 0, 0, InputError::from(e))),
        };
        for (n, d) in docs.iter_mut().enumerate() {
            if !d.complete
                && (self.wanted)(d)
                && let Err(e) = d.read_fully()
            {
                return self.failed(docs, Some(opened), (0, 0, n, InputError::from(e)));
            }
        }
        self.through_steps(docs, Some(opened), 0)
    }

    /// Puts a document (a List and its items, `opened`) through every step from `first` on,
    /// in order, and emits it (into `Manifest::emitted`, an error there kept for the writer to
    /// report, as [`crate::stream::render`] would). Of the deferred step it keeps what that
    /// step reads instead ([`Self::seen`]).
    fn through_steps(
        &self,
        mut docs: Vec<Manifest>,
        opened: Option<lists::Opened>,
        first: usize,
    ) -> DoneDocument {
        let mut entries = Vec::new();
        let mut seen = Vec::new();
        // Data the error scrub must know of, whatever the steps make of the document.
        let held_data = (docs.first()).is_some_and(|d| d.value.as_ref().is_some_and(holds_data));
        let none = Budgets::default();
        let index = StreamIndex::default();
        // Each document's id, shared by its entries until a step changes the document.
        let mut ids: Vec<Option<Arc<str>>> = vec![None; docs.len()];
        for (k, (set, step, step_id)) in self.steps.iter().enumerate().skip(first) {
            if let Some((deferred, paths)) = self.deferred
                && deferred == k
            {
                seen = docs.iter().map(|d| self.seen(d, step, paths)).collect();
                continue;
            }
            for (n, (d, id)) in docs.iter_mut().zip(ids.iter_mut()).enumerate() {
                if !selects(step, d) {
                    continue;
                }
                let around = Around {
                    stream: &[],
                    generated_budgets: &none,
                    templates: &self.templates,
                    images: self.images,
                    index: &index,
                    listed: self.keep.report,
                };
                let (result, new_value, new_docs) = match apply_step(set, step, d, around) {
                    Ok(applied) => applied,
                    Err(e) => {
                        let mut done = self.failed(docs, opened, (1, k, n, e));
                        done.entries = entries;
                        done.seen = seen;
                        return done;
                    }
                };
                if !new_docs.is_empty() {
                    let e = anyhow!("{step_id}: generated a document in a streaming run (a bug)");
                    let mut done = self.failed(docs, opened, (1, k, n, e));
                    done.seen = seen;
                    return done;
                }
                let entry = Entry {
                    resource: Arc::clone(id.get_or_insert_with(|| d.id().into())),
                    document: d.index,
                    step: step_id.clone(),
                    result,
                };
                entries.push((k, n, entry));
                if let Some(change) = new_value {
                    d.change(change);
                    *id = None;
                }
            }
        }
        if let Some(opened) = opened {
            lists::close(&mut docs, opened);
        }
        let Some(mut m) = docs.pop() else {
            let e = anyhow!("internal error: a document was lost");
            return DoneDocument {
                manifest: Manifest::from_value(0, Value::Null),
                entries,
                error: Some((0, 0, 0, e)),
                seen,
            };
        };
        if m.generated || m.is_changed() {
            let text = crate::stream::emit_document(&m);
            let text =
                text.map(|text| text.map(|text| crate::stream::with_line_endings_of(&m, text)));
            m.emitted = Some(text.map_err(|e| format!("{e:#}")));
        }
        if !self.keep.values {
            keep_only_what_is_needed(&mut m, held_data);
        }
        // Its text, no longer a slice of its segment, which can then go.
        let kept = match (&m.emitted, self.keep.values) {
            (Some(Ok(_)), false) => crate::manifest::header(&m.raw),
            _ => &m.raw,
        };
        let text = Arc::new(format!("{}{kept}", &*m.separator));
        let separator = m.separator.len();
        m.separator = Raw::slice(&text, 0..separator);
        m.raw = Raw::slice(&text, separator..text.len());
        if !self.keep.report {
            // The summary counts a changed resource once, and every conflict.
            let mut counted: Vec<Arc<str>> = Vec::new();
            entries = (entries.into_iter())
                .filter_map(|(k, n, entry)| Some((k, n, entry.for_summary()?)))
                .filter(|(_, _, entry)| match &entry.result {
                    StepResult::Changed { conflicts, .. } if conflicts.is_empty() => {
                        let first = !counted.contains(&entry.resource);
                        counted.push(Arc::clone(&entry.resource));
                        first
                    }
                    _ => true,
                })
                .collect();
            entries.shrink_to_fit();
        }
        DoneDocument {
            manifest: m,
            entries,
            error: None,
            seen,
        }
    }

    /// A document whose run ended with `error`, whole: a List gets its items back, so that
    /// the error is scrubbed of their Secret and ConfigMap data (see `main.rs`).
    fn failed(
        &self,
        mut docs: Vec<Manifest>,
        opened: Option<lists::Opened>,
        error: (u8, usize, usize, anyhow::Error),
    ) -> DoneDocument {
        if let Some(opened) = opened {
            lists::close(&mut docs, opened);
        }
        docs.truncate(1);
        let manifest = docs
            .pop()
            .unwrap_or_else(|| Manifest::from_value(0, Value::Null));
        DoneDocument {
            manifest,
            entries: Vec::new(),
            error: Some(error),
            seen: Vec::new(),
        }
    }

    /// What the deferred step (`step`, reading `paths` of its targets) reads of a document as
    /// it stands before that step: who it is; what it reads of other documents
    /// ([`Fact::of`]); and of a resource it selects, `apiVersion`, `kind`, `metadata` and what
    /// the paths point at.
    fn seen(&self, d: &Manifest, step: &Step, paths: &[&str]) -> Seen {
        let selected = selects(step, d);
        let target = match (&d.value, selected) {
            (Some(value), true) => {
                let template = pod::template_path(d.kind(), d.group(), &self.templates);
                Some(Projected::of(projection(value, template, paths)))
            }
            _ => None,
        };
        let head = match &d.value {
            Some(Value::Object(document)) if d.is_resource() => Some(Box::new(Head::of(document))),
            _ => None,
        };
        Seen {
            index: d.index,
            line: d.line,
            list_item: d.list_item,
            complete: d.complete,
            header: crate::manifest::header(&d.raw).into(),
            head,
            fact: Fact::of(d, &self.templates).map(Box::new),
            selected,
            target,
        }
    }

    /// Runs the deferred step (`k`) as a run step by step would over the stream (what it reads
    /// of every document in `view`, each at its place), its entries into `entries`; and puts
    /// the documents it generates through the steps after it.
    fn deferred_step(
        &self,
        k: usize,
        mut view: Vec<Seen>,
        places: Vec<Place>,
        entries: &mut Vec<Entry>,
    ) -> Result<Generated> {
        let (set, step, step_id) = &self.steps[k];
        let index = StreamIndex::of(
            view.iter_mut()
                .filter_map(|seen| seen.fact.take().map(|f| *f)),
        );
        // Every resource's id, for those the step generates (their heads are not needed after).
        let mut ids = Ids::of(std::iter::empty());
        for seen in view.iter_mut() {
            ids.add(&seen.manifest(None));
        }
        let mut budgets = Budgets::default();
        let mut generated = Generated {
            matched: 0,
            documents: Vec::new(),
            later: self.steps.iter().map(|_| Vec::new()).collect(),
            failure: None,
        };
        for (mut seen, (position, item, _)) in view.into_iter().zip(places) {
            if !seen.selected {
                continue;
            }
            generated.matched += 1;
            let target = seen.target.take().map(Projected::value).transpose()?;
            let m = seen.manifest(target);
            let around = Around {
                stream: &[],
                generated_budgets: &budgets,
                templates: &self.templates,
                images: self.images,
                index: &index,
                listed: self.keep.report,
            };
            let (result, change, new_docs) = apply_step(set, step, &m, around)?;
            if change.is_some() {
                bail!(
                    "internal error: {step_id} changed {} in a streaming run",
                    m.id()
                );
            }
            let entry = Entry {
                resource: m.id().into(),
                document: m.index,
                step: step_id.clone(),
                result,
            };
            keep_entry(entries, entry, self.keep);
            let mut n = 0;
            for value in new_docs {
                let filed =
                    file_generated(value, &m, (step, step_id), &mut ids, entries, self.keep)?;
                let Some(doc) = filed else {
                    continue;
                };
                budgets.add_if_budget(&doc, &self.templates);
                n += 1;
                let place = (position, item, n);
                let done = self.through_steps(vec![doc], None, k + 1);
                for (step, _, entry) in done.entries {
                    generated.later[step].push((place, entry));
                }
                if let Some((rank, step, _, e)) = done.error {
                    keep_least(&mut generated.failure, (rank, step, place), e);
                }
                generated.documents.push((position, done.manifest));
            }
        }
        Ok(generated)
    }
}

/// `apiVersion`, `kind` and `metadata` of a resource, and what `paths` point at in it (JSON
/// pointers; `{template}` stands for `template`, the pod template's path): where they are,
/// in maps. The pod template itself is there, as an empty map, if it is a map.
fn projection(value: &Value, template: Option<&str>, paths: &[&str]) -> Value {
    let mut seen = Map::new();
    for key in ["apiVersion", "kind", "metadata"] {
        if let Some(part) = value.get(key) {
            seen.insert(key.to_string(), part.clone());
        }
    }
    let mut seen = Value::Object(seen);
    if let Some(template) = template.filter(|t| value.at(t).is_some_and(Value::is_object))
        && !template.is_empty()
    {
        put_at(&mut seen, template, Value::Object(Map::new()));
    }
    for path in paths {
        let path = match (path.strip_prefix("{template}"), template) {
            (Some(rest), Some(template)) => format!("{template}{rest}"),
            (Some(_), None) => continue,
            (None, _) => path.to_string(),
        };
        if let Some(part) = value.at(&path) {
            put_at(&mut seen, &path, part.clone());
        }
    }
    seen
}

/// Puts `part` at the JSON pointer `at` of `value`, making the maps on the way.
fn put_at(value: &mut Value, at: &str, part: Value) {
    let mut slot = value;
    for token in at.split('/').skip(1) {
        let key = token.replace("~1", "/").replace("~0", "~");
        slot = match slot {
            Value::Object(map) => map.entry(key).or_insert_with(|| Value::Object(Map::new())),
            Value::Array(items) => {
                match crate::pointer::array_index(&key).and_then(|i| items.get_mut(i)) {
                    Some(item) => item,
                    None => return,
                }
            }
            _ => return,
        };
    }
    *slot = part;
}

/// Whether a document holds what [`keep_only_what_is_needed`] keeps whole: a List, Secret
/// or ConfigMap data, a Secret.
fn holds_data(v: &Value) -> bool {
    lists::is_list(v) || redact::is_hidden(v, "") || redact::holds_secret(v)
}

/// After a streaming run emitted a document: all that is read of it later is who it is
/// (kind, API version, name, namespace, and the template Helm 4's annotation names) for
/// ids, counts and reports, so its value gives way to a [`Head`]; except Secrets (the output
/// file's mode), Secret and ConfigMap data, which error messages are scrubbed of, and a
/// List, whose items are counted: those stay whole, before and after, and so does a
/// document that held data before a step took it out or changed its kind (`held_data`).
fn keep_only_what_is_needed(m: &mut Manifest, held_data: bool) {
    if held_data || m.value.as_ref().is_some_and(holds_data) {
        return;
    }
    if let Some(Value::Object(map)) = &m.value {
        m.head = Some(Box::new(Head::of(map)));
        m.value = None;
        m.before_change = None;
        m.first_change = None;
    }
    // `complete` stays as it was: whether the document was read whole (and so whether a
    // List-like kind is known to be no List holding Secrets, see `main.rs`).
}

/// The step's change as a whole new resource, made where the step ran (on a worker, for a
/// local step): the stream then keeps the resource before and after, and the main thread,
/// which only swaps them, allocates nothing (what a thread allocates stays in its arena).
fn whole_resource((result, change, generated): Applied, m: &Manifest) -> Applied {
    let change = change.map(|change| match (change.at.is_empty(), &m.value) {
        (false, Some(resource)) => {
            let mut value = resource.clone();
            if let Some(slot) = value.pointer_mut(&change.at) {
                *slot = change.value;
            }
            Changed {
                at: String::new(),
                value,
            }
        }
        _ => change,
    });
    (result, change, generated)
}

/// A transform must generate a whole resource: Helm 4 rejects a document without
/// `apiVersion`, `kind` and `metadata.name`. A failure here is a bug in the transform.
fn check_generated(value: &Value, owner: &Manifest, step_id: &str) -> Result<()> {
    let has = |pointer: &str| {
        value
            .at(pointer)
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

/// Whether some step needs the whole of this document rather than its head: a step selects it
/// (and, acting on pods, it has a pod template), or a cross-resource action reads its kind
/// (see `StreamReads`). The stream reader asks this of each head ([`crate::stream::read_for`]),
/// so such documents are parsed once.
pub fn wants_whole(sets: &[PatchSet]) -> impl Fn(&Manifest) -> bool + Sync + '_ {
    let templates = pod_templates(sets);
    let steps = move || {
        sets.iter()
            .flat_map(|set| set.steps.iter().map(move |step| (set, step)))
    };
    let mut everything = false;
    let mut kinds: Vec<&str> = Vec::new();
    for (_, step) in steps() {
        match step.action.reads_stream() {
            StreamReads::Nothing | StreamReads::Heads => {}
            StreamReads::Kinds(read) => kinds.extend(read),
            StreamReads::Everything => everything = true,
        }
    }
    // A pod-targeting step reports a resource without a pod template from its head alone.
    move |m: &Manifest| {
        everything
            || kinds.contains(&m.kind())
            || steps().any(|(_, step)| {
                selects(step, m)
                    && (pod::template_path(m.kind(), m.group(), &templates).is_some()
                        || !needs_pod(step))
            })
    }
}

/// A custom resource's pod template, declared in any patch set, is known to every step of the
/// run: a built-in profile hardens an Argo Rollout a team's file declares.
fn pod_templates(sets: &[PatchSet]) -> Vec<PodTemplatePath> {
    sets.iter()
        .flat_map(|set| set.pod_templates.iter().cloned())
        .collect()
}

/// The stream reader builds only what selectors look at, unless told otherwise. Documents
/// [`wants_whole`] still leaves with only their head are read in full here, and so are those
/// a cross-resource action reads (see `StreamReads`); the others are never changed, so what
/// was read of them holds for every step.
fn read_selected_fully(manifests: &mut [Manifest], sets: &[PatchSet]) -> Result<()> {
    let wanted = wants_whole(sets);
    let sizes: Vec<usize> = (manifests.iter())
        .map(|m| match !m.complete && wanted(m) {
            true => m.raw.len().max(1),
            false => 0,
        })
        .collect();
    let stream: &[Manifest] = manifests;
    let read = parallel::map(&sizes, |i| {
        (sizes[i] > 0).then(|| yaml::read_document(&stream[i].raw))
    });
    for (m, read) in manifests.iter_mut().zip(read) {
        if let Some(read) = read {
            m.complete_with(read)?;
        }
    }
    Ok(())
}

/// How much work (bytes of documents) a block of documents changed ahead holds.
const AHEAD_BYTES: usize = 4 << 20;

/// Inserts each generated document right after its owner (in the order generated), in one
/// pass: inserting them one by one would move the rest of the stream every time.
fn insert_after_owners(
    manifests: &mut Vec<Manifest>,
    owners: Vec<usize>,
    generated: Vec<Manifest>,
) {
    let mut generated = owners.into_iter().zip(generated).peekable();
    let old = std::mem::take(manifests);
    manifests.reserve(old.len() + generated.len());
    for (i, m) in old.into_iter().enumerate() {
        manifests.push(m);
        while let Some((_, doc)) = generated.next_if(|(owner, _)| *owner == i) {
            manifests.push(doc);
        }
    }
    manifests.extend(generated.map(|(_, doc)| doc));
}

/// The resources of the stream (and those generated so far in this step) by group, kind,
/// namespace and name: two documents for one object would make Helm and `kubectl apply` keep
/// only one of them, whichever comes last. The first of each id is the one kept.
struct Ids(HashMap<Box<str>, Box<str>>);

impl Ids {
    fn of<'m>(manifests: impl Iterator<Item = &'m Manifest>) -> Ids {
        let mut ids = Ids(HashMap::new());
        for m in manifests {
            ids.add(m);
        }
        ids
    }

    /// Group, kind, namespace and name, in one allocation (each part's length first).
    fn key(m: &Manifest) -> Box<str> {
        let parts = [m.group(), m.kind(), m.namespace(), m.name()];
        let [g, k, ns, n] = parts.map(str::len);
        format!("{g} {k} {ns} {n} {}", parts.concat()).into()
    }

    fn add(&mut self, m: &Manifest) {
        if m.is_resource() {
            self.0
                .entry(Ids::key(m))
                .or_insert_with(|| format!("{} in {}", m.id(), m.place()).into());
        }
    }

    /// Where the resource with `doc`'s id already is, if it is.
    fn duplicate_of(&self, doc: &Manifest) -> Option<String> {
        self.0.get(&Ids::key(doc)).map(|place| place.to_string())
    }
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

/// What a step did to one resource: the report entry, the new value of the part it changed
/// if it changed it, and the documents it generated.
type Applied = (StepResult, Option<Changed>, Vec<Value>);

/// The new value of the part of a resource a step works on: the whole resource, or for a
/// pod-level step its pod spec (copying only that part is what lets a step change a
/// resource all or nothing at the cost of its pod spec).
pub struct Changed {
    /// A JSON pointer into the resource ("" for all of it).
    pub at: String,
    pub value: Value,
}

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

/// What a step's action may look at besides the resource it changes.
#[derive(Clone, Copy)]
struct Around<'a> {
    /// The stream as the step has it so far (see `Context::stream`).
    stream: &'a [Manifest],
    /// The budgets the step generated so far (see `Context::generated_budgets`).
    generated_budgets: &'a Budgets,
    templates: &'a [PodTemplatePath],
    images: &'a KnownUsers,
    index: &'a StreamIndex,
    /// Whether the report lists what a step changed (paths, values before and after), or
    /// only counts that it changed something (a run that writes no report).
    listed: bool,
}

fn apply_step(set: &PatchSet, step: &Step, m: &Manifest, around: Around) -> Result<Applied> {
    if m.opted_out_of(&step.name) {
        let reason = format!("opted out with the {SKIP_ANNOTATION} annotation");
        return Ok((StepResult::Skipped { reason }, None, Vec::new()));
    }
    let templates = around.templates;
    let Some(resource) = &m.value else {
        let reason = "empty document".into();
        return Ok((StepResult::NotApplicable { reason }, None, Vec::new()));
    };
    // A step that acts inside the pod works on (a copy of) the pod spec alone.
    let spec_at = (pod::template_path(m.kind(), m.group(), templates))
        .map(|path| format!("{path}/spec"))
        .filter(|at| resource.at(at).is_some_and(Value::is_object));
    let at = match step.target {
        Target::Resource => String::new(),
        Target::PodSpec | Target::Containers => spec_at.clone().unwrap_or_default(),
    };
    if needs_pod(step) && spec_at.is_none() {
        // Without a pod there is nothing to do: skip the copy and compare of the resource.
        let reason = format!("{} has no pod template", m.kind());
        return Ok((StepResult::NotApplicable { reason }, None, Vec::new()));
    }
    let Some(before) = resource.at(&at) else {
        bail!("internal error: {} lost its pod spec", m.id());
    };
    // A check looks at the resource as it is; any other action works on a copy.
    let inspected = match step.target {
        Target::Resource => step.action.inspect(before, &context(step, m, around)),
        _ => None,
    };
    let looked = inspected.is_some();
    let mut working = Value::Null;
    let applied = match inspected {
        Some(outcome) => outcome.map(|outcome| {
            let mut notes = Notes::default();
            notes.add(outcome);
            notes
        }),
        None => {
            working = before.clone();
            apply_to_targets(step, m, around, &mut working)
        }
    };
    let notes = match applied {
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
    let changes = match (looked, around.listed) {
        (true, _) => Vec::new(),
        (false, true) => report::changes_at(&at, resource, before, &working),
        // Counted, not listed: one change stands for them all (what `changes_at` finds is
        // empty exactly when the two are equal, maps compared key by key).
        (false, false) if *before == working => Vec::new(),
        (false, false) => vec![report::Change {
            path: at.clone(),
            before: None,
            after: None,
        }],
    };
    if changes.is_empty() {
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
    Ok((
        StepResult::Changed {
            changes,
            conflicts,
            notes: notes.notes,
        },
        Some(Changed { at, value: working }),
        notes.generated,
    ))
}

/// What the step's action sees of the resource and the rest of the run.
fn context<'a>(step: &'a Step, m: &'a Manifest, around: Around<'a>) -> Context<'a> {
    Context {
        mode: step.mode,
        kind: m.kind(),
        group: m.group(),
        pod_templates: around.templates,
        container_names: step.container_names.as_ref(),
        resource: m,
        stream: around.stream,
        images: around.images,
        index: around.index,
        generated_budgets: around.generated_budgets,
    }
}

/// Applies the step's action to each of its targets inside one resource: `part` is the
/// resource, or for a pod-level step (`podSpec`, `containers`) its pod spec.
fn apply_to_targets(step: &Step, m: &Manifest, around: Around, part: &mut Value) -> Result<Notes> {
    let ctx = context(step, m, around);
    let mut notes = Notes::default();
    let mut note = |outcome: Outcome| notes.add(outcome);
    match step.target {
        Target::Resource => note(step.action.apply(part, &ctx)?),
        Target::PodSpec => note(step.action.apply(part, &ctx)?),
        Target::Containers => {
            for (list, container) in pod::containers_mut(part) {
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
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{patchfile, stream};

    const PDBS: &str = "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: pdbs\n    generatePodDisruptionBudgets: {}\n";

    /// A projection is kept as JSON only where JSON reads back as the same value: no float
    /// (a release build's serde_json reads some back a bit off), no deep nesting.
    #[test]
    fn projections_with_floats_or_deep_nesting_stay_values() {
        let plain = serde_json::json!({"a": [1, -2, u64::MAX, "x", null, true], "b": {"c": {}}});
        assert!(reads_back(&plain, JSON_DEPTH));
        assert!(matches!(Projected::of(plain.clone()), Projected::Json(_)));
        assert_eq!(Projected::of(plain.clone()).value().unwrap(), plain);
        let float = serde_json::json!({"a": {"b": [-9.419895434327705e175]}});
        assert!(!reads_back(&float, JSON_DEPTH));
        assert!(matches!(Projected::of(float), Projected::Deep(_)));
        let mut deep = serde_json::json!(1);
        for _ in 0..JSON_DEPTH {
            deep = serde_json::json!([deep]);
        }
        assert!(!reads_back(&deep, JSON_DEPTH));
        assert!(reads_back(&deep[0], JSON_DEPTH));
    }

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

    /// A run step by step that writes no report (Helm, Argo CD) keeps only what the summary
    /// line counts, and counts as a run with a report does: the same output, the same line.
    #[test]
    fn a_run_step_by_step_without_a_report_counts_what_one_with_a_report_counts() {
        let patches = "apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n  - name: label\n    mergePatch: {metadata: {labels: {x: y}}}\n  - name: pdbs\n    generatePodDisruptionBudgets: {}\n  - name: seccomp\n    setSeccomp: {}\n";
        // A budget of that name already there is a conflict; a ConfigMap gets no budget.
        let taken = "---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: b-pdb\nspec:\n  selector:\n    matchLabels: {app: other}\n";
        let input = format!(
            "{}{}{taken}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            workload("Deployment", "a", "", ""),
            workload("StatefulSet", "b", "", ""),
        );
        let sets = vec![patchfile::parse(patches, "p.yaml").unwrap()];
        let run = |report: bool| {
            let mut s = stream::read(input.as_bytes()).unwrap();
            let keep = Keep {
                values: false,
                report,
            };
            let report = run_step_by_step(&mut s.manifests, &sets, &NO_IMAGE_USERS, keep).unwrap();
            (
                String::from_utf8(stream::write(&s).unwrap()).unwrap(),
                report,
            )
        };
        let (out, full) = run(true);
        let (summary_out, summary) = run(false);
        assert_eq!(out, summary_out);
        let resources = 4;
        assert_eq!(
            summary.summary_line(resources),
            "pulse-harden: 4 resources, 4 changed, 1 generated, 1 conflict"
        );
        assert_eq!(
            summary.summary_line(resources),
            full.summary_line(resources)
        );
        assert!(summary.entries.len() < full.entries.len());
        assert!(summary.entries.iter().all(|e| match &e.result {
            StepResult::Changed { changes, .. } => changes.is_empty(),
            StepResult::Conflict { reason } => reason.is_empty(),
            StepResult::Generated { .. } => true,
            _ => false,
        }));
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
            .map(|e| &*e.resource)
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
