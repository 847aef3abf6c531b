//! Reads one YAML document into a `serde_json::Value` with the meaning Kubernetes gives it.
//!
//! The syntax comes from granit-parser (the parser under serde-saphyr); the meaning of every
//! scalar, key, alias and merge key follows goyaml v2 + sigs.k8s.io/yaml, which is what kubectl,
//! Helm and the API server use. Whatever Kubernetes itself would read differently depending on
//! its version, or cannot turn into JSON, is recorded as a [`Hazard`]: harmless while the
//! document passes through untouched, a refusal when a step wants to re-emit it.

use super::lexical::{self, Flow, Prepared, Respell};
use super::resolve::{
    Plain, decode_go_binary, go_float_key, go_float_text, is_go_timestamp, resolve_plain,
};
use serde_json::{Map, Number, Value};
use serde_saphyr::granit_parser::{
    ErrorKind, Event, Options, Parser, ScalarStyle, Span, StructureStyle, Tag,
};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// How deep collections may nest; real manifests stay far below this.
pub const MAX_DEPTH: usize = 1_000;
/// How many nodes one document may expand to, aliases included.
pub const MAX_NODES: usize = 5_000_000;

const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";
/// How many spellings goyaml takes and the parser refuses (`\'` in double quotes, `*a:`,
/// `[-, x]`) one document may hold; past that it is refused.
const MAX_RESPELLINGS: usize = 64;

/// The top-level keys selectors look at: all a head read builds.
pub(super) const HEAD_KEYS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// A document as read: `None` when it holds no node (empty, comments only, or `null`).
#[derive(Debug)]
pub struct Parsed {
    pub value: Option<Value>,
    pub hazards: Vec<Hazard>,
    /// False after a head read that left out top-level keys other than `apiVersion`, `kind`
    /// and `metadata`.
    pub complete: bool,
}

/// Something in a document that pulse-harden refuses to re-emit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hazard {
    pub line: usize,
    pub column: usize,
    pub what: String,
}

/// A position inside the document text (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ReadError {}

#[derive(Clone, Copy)]
struct Pos {
    line: usize,
    column: usize,
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        first_node: usize,
    },
    Map {
        /// Entries in the order assignments happen (duplicates and merges included); the map
        /// is built once at the end, at its final size: a workload's values are held twice
        /// while steps run, so slack in every map adds up.
        entries: Vec<(String, Value)>,
        anchor: usize,
        first_node: usize,
        key: Option<Key>,
        /// The keys that were not strings (rare), with what they were.
        typed_keys: Vec<(String, KeyType)>,
    },
    /// A collection a head read checks but does not build.
    Skip {
        is_map: bool,
        anchor: usize,
        first_node: usize,
        /// For a sequence: every item so far is a mapping (a valid `<<` value).
        all_maps: bool,
        /// For a mapping: the next node is a key.
        expect_key: bool,
        /// For a mapping: the pending value belongs to a `<<` key at this position.
        merge_at: Option<Pos>,
    },
}

/// What a key that is not a string was before it became one.
#[derive(Clone, Copy, PartialEq)]
enum KeyType {
    Bool,
    Int,
    Float,
}

impl KeyType {
    fn of(value: &Value) -> Option<KeyType> {
        match value {
            Value::Bool(_) => Some(KeyType::Bool),
            Value::Number(n) if n.is_f64() => Some(KeyType::Float),
            Value::Number(_) => Some(KeyType::Int),
            _ => None,
        }
    }
}

enum Key {
    Name(String),
    Merge(Pos),
    /// A top-level key a head read leaves out: its value is checked, not built.
    Skipped,
}

/// What a skipped node is, as far as a `<<` merge key cares.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Scalar,
    Seq { all_maps: bool },
    Map,
}

/// Why a read stopped: a real error, or a head read that needs a full read (a top-level
/// `<<`, or a built part aliasing a skipped one), or a double-quoted scalar at this offset
/// holds `\'` (which goyaml takes and the parser does not) and must be respelled first.
#[derive(Debug)]
enum Stop {
    Error(ReadError),
    NeedFull,
    Respell(usize, Respell, ReadError),
}

impl From<ReadError> for Stop {
    fn from(e: ReadError) -> Stop {
        Stop::Error(e)
    }
}

/// A finished node on its way to its parent.
struct Node {
    value: Value,
    pos: Pos,
    is_merge_key: bool,
}

struct Reader<'a> {
    stack: Vec<Frame>,
    /// Every anchor by id: its value (for a collection, a placeholder for its slot) and size.
    anchors: HashMap<usize, (Value, usize)>,
    /// The anchored collections, each stored once where it was defined: copying them there
    /// would cost size × depth for anchors nested in anchors. The tree holds a placeholder
    /// that takes the collection back at the end; an alias gets a copy.
    slots: Vec<Value>,
    /// Anchors inside skipped parts: their shape and size, no value.
    skipped_anchors: HashMap<usize, (Shape, usize)>,
    nodes: usize,
    /// The part of `nodes` that aliases repeat.
    alias_nodes: usize,
    hazards: Vec<Hazard>,
    root: Option<Value>,
    head_only: bool,
    skipped_any: bool,
    /// For a head read: asked once, at the first top-level key outside the head, whether to
    /// read the whole document after all.
    wants_all: Option<&'a WantsAll<'a>>,
    /// For each open collection: whether it is a flow (`[...]`, `{...}`) collection.
    flow: Vec<bool>,
}

/// Whether a document whose head (the top-level entries read so far) is this should be read
/// whole.
pub type WantsAll<'a> = dyn Fn(&[(String, Value)]) -> bool + Sync + 'a;

/// Reads a whole document.
pub fn read_document(text: &str) -> Result<Parsed, ReadError> {
    match read(text, false, None) {
        Ok(parsed) => Ok(parsed),
        Err(Stop::Error(e)) => Err(e),
        Err(Stop::NeedFull | Stop::Respell(..)) => {
            unreachable!("a full read never asks for a full read, respelling is done")
        }
    }
}

/// Reads a document's `apiVersion`, `kind` and `metadata` (what selectors look at), and
/// checks the rest without building it: the same errors as [`read_document`], at about half
/// the cost. The value is complete when the document is not a mapping or when the head
/// could not be read on its own.
pub fn read_document_head(text: &str) -> Result<Parsed, ReadError> {
    read_document_head_unless(text, &|_| false)
}

/// [`read_document_head`], but a document `wants_all` says yes to, from its head, is read whole
/// in the same pass: one parse, where reading it whole later would take a second. It is asked
/// at the first top-level key outside the head (`spec` after `metadata`, usually); the head
/// it sees may lack what comes later, so a caller still checks `complete`.
pub fn read_document_head_unless(
    text: &str,
    wants_all: &WantsAll<'_>,
) -> Result<Parsed, ReadError> {
    match read(text, true, Some(wants_all)) {
        Ok(parsed) => Ok(parsed),
        Err(Stop::Error(e)) => Err(e),
        Err(Stop::NeedFull) => read_document(text),
        Err(Stop::Respell(..)) => unreachable!("respelling is done"),
    }
}

/// Reads the text as goyaml sees it (see [`lexical`]): control characters refused, NEL, LS
/// and PS as line breaks, and the spellings goyaml takes and the parser refuses (`\'` in
/// double quotes, `*a:`, `[-, x]`) respelled as the parser reaches them.
fn read(text: &str, head_only: bool, wants_all: Option<&WantsAll<'_>>) -> Result<Parsed, Stop> {
    if let Some(parsed) = super::quick::read(text, head_only, wants_all) {
        #[cfg(debug_assertions)]
        check_quick_read(text, head_only, wants_all, &parsed);
        return Ok(parsed);
    }
    read_in_full_unless(text, head_only, wants_all)
}

/// Debug builds (and so every test) read each document the quick reader read again in
/// full, and stop on any difference.
#[cfg(debug_assertions)]
fn check_quick_read(text: &str, head_only: bool, wants_all: Option<&WantsAll<'_>>, quick: &Parsed) {
    let full = read_in_full_unless(text, head_only, wants_all);
    let agree = match &full {
        Ok(full) => {
            full.value == quick.value
                && full.hazards == quick.hazards
                && full.complete == quick.complete
        }
        Err(_) => false,
    };
    assert!(
        agree,
        "the quick reader read {text:?} as {quick:?}, the full reader as {full:?}"
    );
}

/// Reads a document with the full reader only, never the quick one ([`super::quick`]):
/// what the quick reader is tested against. `head_only` as [`read_document_head`].
pub fn read_in_full(text: &str, head_only: bool) -> Result<Parsed, ReadError> {
    match read_in_full_unless(text, head_only, None) {
        Ok(parsed) => Ok(parsed),
        Err(Stop::Error(e)) => Err(e),
        Err(Stop::NeedFull) => read_in_full(text, false),
        Err(Stop::Respell(..)) => unreachable!("respelling is done"),
    }
}

fn read_in_full_unless(
    text: &str,
    head_only: bool,
    wants_all: Option<&WantsAll<'_>>,
) -> Result<Parsed, Stop> {
    if let Some(at) = lexical::first_unprintable(text) {
        let (line, column) = line_and_column(text, at);
        return Err(Stop::Error(ReadError {
            line,
            column,
            message: "a control character, which Kubernetes does not allow in YAML".into(),
        }));
    }
    let mut prepared = Prepared::new(text);
    // Each respelling reads the document again: a bound keeps hostile input linear.
    let mut respellings = 0;
    loop {
        match read_prepared(&prepared, head_only, wants_all) {
            Ok(mut parsed) => {
                if let Some(at) = lexical::first_lone_cr(text) {
                    let (line, column) = line_and_column(text, at);
                    parsed.hazards.insert(
                        0,
                        Hazard {
                            line,
                            column,
                            what: "a carriage return that is not part of a CR LF, a line break to Kubernetes whose every effect pulse-harden does not model".into(),
                        },
                    );
                }
                return Ok(parsed);
            }
            Err(Stop::Respell(at, what, error)) => {
                respellings += 1;
                if respellings > MAX_RESPELLINGS || !prepared.respell(at, what) {
                    return Err(Stop::Error(error));
                }
            }
            other => return other,
        }
    }
}

/// The 1-based line and column of a byte offset.
fn line_and_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

fn read_prepared(
    prepared: &Prepared,
    head_only: bool,
    wants_all: Option<&WantsAll<'_>>,
) -> Result<Parsed, Stop> {
    let text: &str = &prepared.text;
    let mut reader = Reader::new(head_only, wants_all);
    let mut parser = parser(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let error = ReadError {
                line: e.marker().line(),
                column: e.marker().col() + 1,
                message: e.info().to_string(),
            };
            // Spellings goyaml reads and the parser refuses: respelled, then read again.
            let what = match e.kind() {
                ErrorKind::UnknownQuotedScalarEscape => Some(Respell::QuoteEscapes),
                ErrorKind::UnknownAnchor | ErrorKind::SimpleKeyExpected => Some(Respell::AliasEnd),
                ErrorKind::PlainScalarStartsWithDashFlowIndicator => Some(Respell::LoneDash),
                _ => None,
            };
            match (what, e.marker().byte_offset()) {
                (Some(what), Some(at)) => Stop::Respell(at, what, error),
                _ => Stop::Error(error),
            }
        })?;
        let pos = Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        if let Some(tag) = span.tag_span()
            && let Some(start) = tag.start.byte_offset()
            && matches!(
                text.as_bytes().get(start + tag.len()),
                Some(b',' | b'[' | b']')
            )
        {
            reader.hazard(
                pos,
                "a tag followed directly by `,`, `[` or `]`, which Kubernetes reads as part of the tag".into(),
            );
        }
        match &event {
            Event::SequenceStart(style, ..) | Event::MappingStart(style, ..) => {
                reader.flow.push(*style == StructureStyle::Flow);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                reader.flow.pop();
            }
            // In flow context goyaml v2 reads `?` as a key indicator or the end of a plain
            // scalar, and a leading `:` as a value indicator.
            Event::Scalar(text, ScalarStyle::Plain, ..)
                if reader.flow.last() == Some(&true)
                    && (text.starts_with(':') || text.contains('?')) =>
            {
                reader.hazard(
                    pos,
                    "a plain scalar inside `[...]` or `{...}` that starts with `:` or holds `?`, which Kubernetes reads as an indicator".into(),
                );
            }
            _ => {}
        }
        match event {
            // goyaml decodes the first document of what the stream splitter hands it and never
            // looks past its end: whatever follows a `...` is ignored, as Kubernetes ignores it.
            Event::DocumentEnd => break,
            Event::Scalar(text, style, anchor, tag) if reader.skipping() => {
                let text = goyaml_scalar_text(prepared, text, style, &span, pos, &mut reader)?;
                let is_merge_key = if reader.at_key() {
                    // Checked as a full read checks it: some keys Kubernetes rejects.
                    let node = reader.scalar(&text, style, tag.as_deref(), pos)?;
                    let is_merge_key = node.is_merge_key;
                    if !is_merge_key {
                        reader.key_name(node)?;
                    }
                    is_merge_key
                } else {
                    reader.check_scalar(&text, style, tag.as_deref(), pos)?
                };
                reader.count(1, pos)?;
                if anchor != 0 {
                    reader.skipped_anchors.insert(anchor, (Shape::Scalar, 1));
                }
                reader.finish_skipped(Shape::Scalar, is_merge_key, pos)?;
            }
            Event::Alias(id) if reader.skipping() => {
                let (shape, size) = match (reader.anchors.get(&id), reader.skipped_anchors.get(&id))
                {
                    (Some((value, size)), _) => (reader.shape_of(value), *size),
                    (None, Some(&(shape, size))) => (shape, size),
                    (None, None) => {
                        return Err(err(pos, "alias to an anchor that is not complete yet").into());
                    }
                };
                // Counted as the full read counts it, so both refuse the same alias bombs.
                reader.count(size + 1, pos)?;
                reader.count_alias(size, pos)?;
                reader.finish_skipped(shape, false, pos)?;
            }
            Event::SequenceStart(_, anchor, _) | Event::MappingStart(_, anchor, _)
                if reader.skipping() =>
            {
                reader.count(1, pos)?;
                let is_map = matches!(event, Event::MappingStart(..));
                reader.push(
                    Frame::Skip {
                        is_map,
                        anchor,
                        first_node: reader.nodes,
                        all_maps: true,
                        expect_key: true,
                        merge_at: None,
                    },
                    pos,
                )?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let text = goyaml_scalar_text(prepared, text, style, &span, pos, &mut reader)?;
                let node = reader.scalar(&text, style, tag.as_deref(), pos)?;
                reader.count(1, pos)?;
                if anchor != 0 {
                    if reader.at_key() && non_finite_key(&text, style, tag.as_deref()) {
                        // The key is the word; its alias as a value is a float JSON cannot hold.
                        reader.hazard(
                            pos,
                            "an anchored `.inf` or `.nan` key, whose alias Kubernetes cannot convert to JSON".into(),
                        );
                    }
                    reader.anchors.insert(anchor, (node.value.clone(), 1));
                }
                reader.finish(node)?;
            }
            Event::Alias(id) => {
                let Some(&(_, size)) = reader.anchors.get(&id) else {
                    if reader.skipped_anchors.contains_key(&id) {
                        return Err(Stop::NeedFull);
                    }
                    return Err(err(pos, "alias to an anchor that is not complete yet").into());
                };
                // Count before cloning, so a bomb is refused before it takes memory. goyaml
                // counts the alias node itself too.
                reader.count(size + 1, pos)?;
                reader.count_alias(size, pos)?;
                let value = reader.resolved_copy(&reader.anchors[&id].0);
                reader.finish(Node {
                    value,
                    pos,
                    is_merge_key: false,
                })?;
            }
            Event::SequenceStart(_, anchor, _) => {
                reader.count(1, pos)?;
                reader.push(
                    Frame::Seq {
                        items: Vec::new(),
                        anchor,
                        first_node: reader.nodes,
                    },
                    pos,
                )?;
            }
            Event::MappingStart(_, anchor, _) => {
                reader.count(1, pos)?;
                reader.push(
                    Frame::Map {
                        entries: Vec::new(),
                        anchor,
                        first_node: reader.nodes,
                        key: None,
                        typed_keys: Vec::new(),
                    },
                    pos,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor, first_node) = match reader.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        anchor,
                        first_node,
                    }) => {
                        let mut items = items;
                        items.shrink_to_fit();
                        (Value::Array(items), anchor, first_node)
                    }
                    Some(Frame::Map {
                        entries,
                        anchor,
                        first_node,
                        ..
                    }) => (Value::Object(build_map(entries)), anchor, first_node),
                    Some(Frame::Skip {
                        is_map,
                        anchor,
                        first_node,
                        all_maps,
                        ..
                    }) => {
                        let shape = if is_map {
                            Shape::Map
                        } else {
                            Shape::Seq { all_maps }
                        };
                        if anchor != 0 {
                            let size = reader.nodes - first_node + 1;
                            reader.skipped_anchors.insert(anchor, (shape, size));
                        }
                        reader.finish_skipped(shape, false, pos)?;
                        continue;
                    }
                    None => return Err(err(pos, "unbalanced collection end").into()),
                };
                let value = match anchor {
                    0 => value,
                    _ => {
                        let size = reader.nodes - first_node + 1;
                        let placeholder = reader.store_anchored(value);
                        reader.anchors.insert(anchor, (placeholder.clone(), size));
                        placeholder
                    }
                };
                reader.finish(Node {
                    value,
                    pos,
                    is_merge_key: false,
                })?;
            }
            Event::Anchor(_, name) if !is_goyaml_anchor_name(&name) => {
                return Err(err(
                    pos,
                    "an anchor name with a character other than letters, digits, `_` and `-` (Kubernetes rejects it)",
                )
                .into());
            }
            Event::UnresolvedAlias(name) => {
                return Err(err(pos, &format!("alias *{name} has no anchor")).into());
            }
            _ => {}
        }
    }
    let mut root = reader.root.take();
    if let Some(root) = &mut root {
        reader.take_anchored_back(root);
    }
    let value = match root {
        Some(Value::Null) | None => None,
        some => some,
    };
    Ok(Parsed {
        value,
        hazards: reader.hazards,
        complete: !reader.skipped_any,
    })
}

/// What a placeholder for an anchored collection starts with: a NUL and a number drawn once
/// per process, so no scalar of the input can pass for one.
fn placeholder_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        format!("\u{0}pulse-harden anchor {random:016x} ")
    })
}

/// The slot (of `slots` slots) a placeholder stands for.
fn slot_of(value: &Value, slots: usize) -> Option<usize> {
    match value {
        Value::String(s) if slots > 0 => s
            .strip_prefix(placeholder_prefix())?
            .parse()
            .ok()
            .filter(|&i| i < slots),
        _ => None,
    }
}

/// Replaces every placeholder in `root`, at any depth (and in what replaces it), with
/// `fill(slot)`. Without recursion: values nest as deep as the reader allows.
fn fill_placeholders(root: &mut Value, slots: usize, mut fill: impl FnMut(usize) -> Value) {
    let mut pending = vec![root];
    while let Some(v) = pending.pop() {
        if let Some(i) = slot_of(v, slots) {
            *v = fill(i);
        }
        match v {
            Value::Array(items) => pending.extend(items.iter_mut()),
            Value::Object(map) => pending.extend(map.values_mut()),
            _ => {}
        }
    }
}

/// The event parser, as every read here uses it.
fn parser(text: &str) -> Parser<'_, serde_saphyr::granit_parser::StrInput<'_>> {
    let mut options = Options::default();
    options.emit_anchor_events = true;
    // Comments are still checked as syntax; we have no use for their text.
    options.emit_comments = false;
    // goyaml reads a BOM inside a document as a character of the text.
    options.bom_inside_document_as_content = true;
    Parser::new_from_str_with_options(text, options)
}

/// Whether `text`, one document we emitted, reads as exactly `expected`: `true` only when a
/// full read would give `expected` without hazards. It walks the events against `expected`
/// instead of building a value (the read-back of every changed document, at a fraction of the
/// cost); keys must come in `expected`'s order, and anything unusual (an anchor, an alias, a
/// merge key, a second document, a tag, a scalar inside `[...]` or `{...}`, text goyaml's
/// lexical rules read otherwise: control characters, NEL/LS/PS, a lone CR) answers `false`,
/// after which the caller reads in full. Scalars and keys are resolved by the reader's own
/// rules, escapes and block scalars as goyaml reads them (see [`goyaml_scalar_text`]).
pub fn reads_as(text: &str, expected: &Value) -> bool {
    if lexical::first_unprintable(text).is_some() || lexical::first_lone_cr(text).is_some() {
        return false;
    }
    let prepared = Prepared::new(text);
    if matches!(prepared.text, Cow::Owned(_)) {
        return false;
    }
    enum Cursor<'v> {
        Seq(std::slice::Iter<'v, Value>),
        Map {
            entries: serde_json::map::Iter<'v>,
            value: Option<&'v Value>,
        },
    }
    let mut reader = Reader::new(false, None);
    let mut stack: Vec<Cursor> = Vec::new();
    let (mut root, mut documents) = (Some(expected), 0);
    let mut parser = parser(text);
    while let Some(next) = parser.next_event() {
        let Ok((event, span)) = next else {
            return false;
        };
        if span.tag_span().is_some() {
            return false;
        }
        match &event {
            Event::SequenceStart(style, ..) | Event::MappingStart(style, ..) => {
                reader.flow.push(*style == StructureStyle::Flow);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                reader.flow.pop();
            }
            Event::Scalar(..) if reader.flow.last() == Some(&true) => return false,
            _ => {}
        }
        let pos = Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        let (is_node, anchor) = match &event {
            Event::Scalar(_, _, anchor, _)
            | Event::SequenceStart(_, anchor, _)
            | Event::MappingStart(_, anchor, _) => (true, *anchor),
            Event::Alias(_) | Event::Anchor(..) | Event::UnresolvedAlias(_) => return false,
            _ => (false, 0),
        };
        if anchor != 0 {
            return false;
        }
        if let Event::DocumentStart(..) = event {
            documents += 1;
            if documents > 1 {
                return false;
            }
        }
        // The value this node must be, or (for a key) the entry it must name.
        let mut want_key = None;
        let want = if !is_node {
            None
        } else {
            match stack.last_mut() {
                None => root.take(),
                Some(Cursor::Seq(items)) => items.next(),
                Some(Cursor::Map { entries, value }) => match value.take() {
                    Some(v) => Some(v),
                    None => match entries.next() {
                        Some((key, v)) => {
                            *value = Some(v);
                            want_key = Some(key);
                            None
                        }
                        None => return false,
                    },
                },
            }
        };
        match event {
            Event::Scalar(text, style, _, tag) => {
                let Ok(text) = goyaml_scalar_text(&prepared, text, style, &span, pos, &mut reader)
                else {
                    return false;
                };
                let Ok(node) = reader.scalar(&text, style, tag.as_deref(), pos) else {
                    return false;
                };
                let matches = match want_key {
                    Some(key) => {
                        !node.is_merge_key && reader.key_name(node).is_ok_and(|name| name == *key)
                    }
                    None => want == Some(&node.value),
                };
                if !matches {
                    return false;
                }
            }
            Event::SequenceStart(..) => match want {
                Some(Value::Array(items)) => stack.push(Cursor::Seq(items.iter())),
                _ => return false,
            },
            Event::MappingStart(..) => match want {
                Some(Value::Object(map)) => stack.push(Cursor::Map {
                    entries: map.iter(),
                    value: None,
                }),
                _ => return false,
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Cursor::Seq(rest)) if rest.len() == 0 => {}
                _ => return false,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Cursor::Map {
                    entries,
                    value: None,
                }) if entries.len() == 0 => {}
                _ => return false,
            },
            _ => {}
        }
    }
    root.is_none() && stack.is_empty() && reader.hazards.is_empty() && !expected.is_null()
}

/// The scalar's text as goyaml reads it where the parser reads it differently: line breaks
/// that were NEL, LS or PS, escapes in double quotes, and tabs that open a block scalar.
fn goyaml_scalar_text<'t>(
    prepared: &Prepared,
    text: Cow<'t, str>,
    style: ScalarStyle,
    span: &Span,
    pos: Pos,
    reader: &mut Reader,
) -> Result<Cow<'t, str>, ReadError> {
    let Some(range) = span.byte_range() else {
        return Ok(text);
    };
    let flow = match style {
        ScalarStyle::Plain => Flow::Plain,
        ScalarStyle::SingleQuoted => Flow::Single,
        ScalarStyle::DoubleQuoted => Flow::Double,
        _ => {
            let lines = lexical::block_lines_start(&prepared.text, range.start);
            if lexical::block_has_tab_indentation(&prepared.text, lines) {
                return Err(err(
                    pos,
                    "a tab where a block scalar's indentation should be (Kubernetes rejects it: found a tab character where an indentation space is expected)",
                ));
            }
            if prepared.has_separator(lines, range.end) {
                reader.hazard(
                    pos,
                    "a block scalar with a line separator (U+2028 or U+2029) in it".into(),
                );
            }
            return Ok(text);
        }
    };
    let raw = prepared.original_slice(range.start, range.end);
    if prepared.has_separator(range.start, range.end)
        || (flow == Flow::Double && raw.contains('\\'))
    {
        return lexical::fold(raw, flow)
            .map(Cow::Owned)
            .map_err(|message| err(pos, message));
    }
    Ok(text)
}

/// The `tag:yaml.org,2002:` suffix of a core tag, however it is spelled (`!!int` or the
/// verbatim `!<tag:yaml.org,2002:int>`): goyaml resolves both alike.
fn core_suffix(tag: Option<&Tag>) -> Option<&str> {
    let tag = tag?;
    if tag.handle() == CORE_TAG_PREFIX {
        Some(tag.suffix())
    } else if tag.handle().is_empty() {
        tag.suffix().strip_prefix(CORE_TAG_PREFIX)
    } else {
        None
    }
}

/// A `.inf`/`.nan` scalar that is a float to goyaml (plain and untagged, or tagged `!!float`).
fn non_finite_key(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> bool {
    let float = match tag {
        None => style == ScalarStyle::Plain,
        Some(_) => core_suffix(tag) == Some("float"),
    };
    float && resolve_plain(text) == Plain::NonFinite
}

/// goyaml's merge key: the text `<<`, plain and untagged, or with the non-specific tag `!`
/// (quoted too: libyaml calls both "implicit"), or tagged `!!merge`. `!!merge foo` is the
/// ordinary key `foo`.
fn is_merge_key(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> bool {
    let non_specific = tag.is_some_and(|t| t.handle().is_empty() && t.suffix() == "!");
    text == "<<"
        && ((style == ScalarStyle::Plain && tag.is_none())
            || non_specific
            || core_suffix(tag) == Some("merge"))
}

/// goyaml v2 scans anchor and alias names as `[0-9A-Za-z_-]+`; YAML 1.2 parsers take more.
fn is_goyaml_anchor_name(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn err(pos: Pos, message: &str) -> ReadError {
    ReadError {
        line: pos.line,
        column: pos.column,
        message: message.to_string(),
    }
}

impl<'a> Reader<'a> {
    fn new(head_only: bool, wants_all: Option<&'a WantsAll<'a>>) -> Reader<'a> {
        Reader {
            stack: Vec::new(),
            anchors: HashMap::new(),
            slots: Vec::new(),
            skipped_anchors: HashMap::new(),
            nodes: 0,
            alias_nodes: 0,
            hazards: Vec::new(),
            root: None,
            head_only,
            skipped_any: false,
            wants_all,
            flow: Vec::new(),
        }
    }

    /// Is the next node a mapping key?
    fn at_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(
                Frame::Map { key: None, .. }
                    | Frame::Skip {
                        is_map: true,
                        expect_key: true,
                        ..
                    }
            )
        )
    }

    /// Is the next node inside a part a head read leaves out?
    fn skipping(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(
                Frame::Skip { .. }
                    | Frame::Map {
                        key: Some(Key::Skipped),
                        ..
                    }
            )
        )
    }

    /// Checks a scalar a head read leaves out (a tag it cannot decode is an error either
    /// way) and tells whether it is a `<<` merge key.
    fn check_scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        pos: Pos,
    ) -> Result<bool, ReadError> {
        if let Some(suffix @ ("int" | "float" | "bool" | "null" | "timestamp" | "binary")) =
            core_suffix(tag)
        {
            self.tagged_value(text, suffix, pos)?;
        }
        // Values only (this is never a key): a key `.inf` is the string ".inf".
        if style == ScalarStyle::Plain
            && tag.is_none()
            && text.starts_with(['.', '+', '-'])
            && resolve_plain(text) == Plain::NonFinite
        {
            return Err(err(pos, NON_FINITE));
        }
        Ok(is_merge_key(text, style, tag))
    }

    /// Hands a node a head read left out to its parent: checks what a `<<` key needs.
    fn finish_skipped(&mut self, shape: Shape, is_merge_key: bool, pos: Pos) -> Result<(), Stop> {
        match self.stack.last_mut() {
            Some(Frame::Skip {
                is_map: true,
                expect_key,
                merge_at,
                ..
            }) => {
                if *expect_key {
                    if shape != Shape::Scalar {
                        return Err(err(pos, KEY_NOT_SCALAR).into());
                    }
                    if is_merge_key {
                        *merge_at = Some(pos);
                    }
                    *expect_key = false;
                } else {
                    *expect_key = true;
                    if let Some(at) = merge_at.take()
                        && !matches!(shape, Shape::Map | Shape::Seq { all_maps: true })
                    {
                        return Err(err(at, MERGE_NEEDS_MAPS).into());
                    }
                }
            }
            Some(Frame::Skip {
                is_map: false,
                all_maps,
                ..
            }) => *all_maps &= shape == Shape::Map,
            Some(Frame::Map { key, .. }) => *key = None,
            _ => {}
        }
        Ok(())
    }

    fn count(&mut self, nodes: usize, pos: Pos) -> Result<(), ReadError> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(err(
                pos,
                &format!("aliases expand this document beyond {MAX_NODES} nodes"),
            ));
        }
        Ok(())
    }

    /// goyaml v2's "excessive aliasing" rule, which Kubernetes applies: past 1,000 nodes, at
    /// most 99% of them may come from aliases, falling to 10% between 400,000 and 4,000,000
    /// nodes. It also keeps memory proportional to the input: a few hundred bytes of "billion
    /// laughs" stop at a few thousand nodes.
    fn count_alias(&mut self, nodes: usize, pos: Pos) -> Result<(), ReadError> {
        const LOW: f64 = 400_000.0;
        const HIGH: f64 = 4_000_000.0;
        self.alias_nodes = self.alias_nodes.saturating_add(nodes);
        let total = self.nodes as f64;
        let allowed = 0.99 - 0.89 * ((total - LOW) / (HIGH - LOW)).clamp(0.0, 1.0);
        if self.alias_nodes > 100 && self.nodes > 1_000 && self.alias_nodes as f64 / total > allowed
        {
            return Err(err(
                pos,
                "aliases make up more of this document than Kubernetes allows (excessive aliasing, an alias bomb?)",
            ));
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, pos: Pos) -> Result<(), ReadError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(err(
                pos,
                &format!("collections nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn hazard(&mut self, pos: Pos, what: String) {
        self.hazards.push(Hazard {
            line: pos.line,
            column: pos.column,
            what,
        });
    }

    /// Error and hazard messages say where a scalar is and what is wrong with it, never
    /// what it holds: it may be a Secret's value, and the document's kind may come after it.
    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        pos: Pos,
    ) -> Result<Node, ReadError> {
        let plain = style == ScalarStyle::Plain;
        let core_suffix = core_suffix(tag);
        let is_merge_key = is_merge_key(text, style, tag);
        let is_key = self.at_key();
        let value = match (tag, core_suffix) {
            // sigs.k8s.io/yaml writes a `.inf` or `.nan` key as that word.
            _ if is_key && non_finite_key(text, style, tag) => {
                Value::String(go_float_key(if text.starts_with('-') {
                    f64::NEG_INFINITY
                } else if text.ends_with(['n', 'N']) {
                    f64::NAN
                } else {
                    f64::INFINITY
                }))
            }
            (None, _) if plain => self.plain_value(text, pos)?,
            (None, _) => Value::String(text.to_string()),
            (
                Some(_),
                Some(suffix @ ("int" | "float" | "bool" | "null" | "timestamp" | "binary")),
            ) => self.tagged_value(text, suffix, pos)?,
            // `!!str`, `!`, local and unknown tags: goyaml keeps the text.
            (Some(_), _) => Value::String(text.to_string()),
        };
        Ok(Node {
            value,
            pos,
            is_merge_key,
        })
    }

    fn plain_value(&mut self, text: &str, pos: Pos) -> Result<Value, ReadError> {
        let plain = resolve_plain(text);
        if let Some(value) = plain.to_json(text) {
            return Ok(value);
        }
        if plain == Plain::NonFinite {
            return Err(err(pos, NON_FINITE));
        }
        self.hazard(
            pos,
            "an integer that does not fit in 64 bits (Kubernetes versions read it differently)"
                .into(),
        );
        Ok(Value::String(text.to_string()))
    }

    fn tagged_value(&mut self, text: &str, suffix: &str, pos: Pos) -> Result<Value, ReadError> {
        match suffix {
            // Decoded into an untyped value, a timestamp stays the text it was.
            "timestamp" if is_go_timestamp(text) => return Ok(Value::String(text.to_string())),
            "timestamp" => {
                return Err(err(
                    pos,
                    "a !!timestamp scalar that is not a timestamp (Kubernetes rejects it)",
                ));
            }
            "binary" => {
                return decode_go_binary(text).map(Value::String).ok_or_else(|| {
                    err(
                        pos,
                        "a !!binary scalar that is not valid base64 (Kubernetes rejects it)",
                    )
                });
            }
            _ => {}
        }
        let resolved = resolve_plain(text);
        let value = match (suffix, resolved) {
            ("int", Plain::Int(_) | Plain::Uint(_) | Plain::BigInt)
            | ("float", Plain::Float(_) | Plain::NonFinite)
            | ("bool", Plain::Bool(_))
            | ("null", Plain::Null) => self.plain_value(text, pos)?,
            ("float", Plain::Int(i)) => {
                Number::from_f64(i as f64).map_or(Value::Null, Value::Number)
            }
            // goyaml v2 turns only a signed integer into a float; a decimal beyond 64 bits
            // it reads as a float to begin with.
            ("float", Plain::BigInt) if go_float_text(text).is_some() => go_float_text(text)
                .and_then(Number::from_f64)
                .map_or(Value::Null, Value::Number),
            _ => {
                return Err(err(
                    pos,
                    &format!(
                        "a scalar goyaml cannot decode as a !!{suffix} (Kubernetes rejects it)"
                    ),
                ));
            }
        };
        Ok(value)
    }

    /// Stores an anchored collection in its slot; the placeholder goes where it was defined.
    fn store_anchored(&mut self, value: Value) -> Value {
        self.slots.push(value);
        Value::String(format!("{}{}", placeholder_prefix(), self.slots.len() - 1))
    }

    /// The slot a placeholder stands for.
    fn slot_of(&self, value: &Value) -> Option<usize> {
        slot_of(value, self.slots.len())
    }

    /// What a node is, looking through a placeholder.
    fn shape_of(&self, value: &Value) -> Shape {
        let real = |v: &'_ Value| -> bool {
            matches!(
                self.slot_of(v).map_or(v, |i| &self.slots[i]),
                Value::Object(_)
            )
        };
        match self.slot_of(value).map_or(value, |i| &self.slots[i]) {
            Value::Object(_) => Shape::Map,
            Value::Array(items) => Shape::Seq {
                all_maps: items.iter().all(real),
            },
            _ => Shape::Scalar,
        }
    }

    /// A whole copy of `value` with every placeholder in it replaced by a copy of its
    /// collection: what an alias stands for (its cost is what `count` counted for it).
    fn resolved_copy(&self, value: &Value) -> Value {
        let mut copy = self
            .slot_of(value)
            .map_or(value, |i| &self.slots[i])
            .clone();
        let len = self.slots.len();
        fill_placeholders(&mut copy, len, |i| self.slots[i].clone());
        copy
    }

    /// Puts every anchored collection back where it was defined. Each placeholder is in the
    /// tree once (aliases, merges and keys got copies), so each collection moves, uncopied.
    fn take_anchored_back(&mut self, root: &mut Value) {
        let len = self.slots.len();
        if len > 0 {
            fill_placeholders(root, len, |i| std::mem::take(&mut self.slots[i]));
        }
    }

    /// At the first top-level key a head read would leave out: whether to read the whole
    /// document instead (see [`read_document_head_unless`]).
    fn reads_all_after_all(&mut self) -> bool {
        let Some(wants_all) = self.wants_all.take() else {
            return false;
        };
        let wanted = match self.stack.first() {
            Some(Frame::Map { entries, .. }) => wants_all(entries),
            _ => false,
        };
        if wanted {
            self.head_only = false;
        }
        wanted
    }

    /// Hands a finished node to its parent: the next item of a sequence, or the key or value
    /// of a mapping entry.
    fn finish(&mut self, mut node: Node) -> Result<(), Stop> {
        // Items and values keep their placeholders for the end; a key needs its collections
        // now, and a merge the maps it merges (what they hold can stay placeholders: each
        // still appears once).
        if !self.slots.is_empty() {
            match self.stack.last() {
                Some(Frame::Map { key: None, .. })
                    if node.value.is_array()
                        || node.value.is_object()
                        || self.slot_of(&node.value).is_some() =>
                {
                    node.value = self.resolved_copy(&node.value);
                }
                Some(Frame::Map {
                    key: Some(Key::Merge(_)),
                    ..
                }) => {
                    if let Some(i) = self.slot_of(&node.value) {
                        node.value = self.slots[i].clone();
                    }
                    if let Value::Array(items) = &mut node.value {
                        for item in items {
                            if let Some(i) = self.slot_of(item) {
                                *item = self.slots[i].clone();
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
            let at_root = self.stack.len() == 1;
            let key = if node.is_merge_key {
                if self.head_only && at_root {
                    return Err(Stop::NeedFull);
                }
                Key::Merge(node.pos)
            } else {
                let typed = KeyType::of(&node.value);
                let key_pos = node.pos;
                match self.key_name(node)? {
                    name if self.head_only
                        && at_root
                        && !HEAD_KEYS.contains(&name.as_str())
                        && !self.reads_all_after_all() =>
                    {
                        self.skipped_any = true;
                        Key::Skipped
                    }
                    name => {
                        if self.key_collides(&name, typed) {
                            self.hazard(
                                key_pos,
                                "two keys of different types (a string and a boolean or number, say) that Kubernetes turns into the same string, keeping one of them at random".into(),
                            );
                        }
                        Key::Name(name)
                    }
                }
            };
            if let Some(Frame::Map { key: slot, .. }) = self.stack.last_mut() {
                *slot = Some(key);
            }
            return Ok(());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node.value),
            Some(Frame::Seq { items, .. }) => items.push(node.value),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(Key::Name(name)) => entries.push((name, node.value)),
                Some(Key::Merge(pos)) => merge_into(entries, node.value, pos)?,
                Some(Key::Skipped) | None => {}
            },
            Some(Frame::Skip { .. }) => {}
        }
        Ok(())
    }

    /// Whether a key (`typed`: what it was, if not a string) turns into the same string as an
    /// earlier key of the current map that was of another type: goyaml keeps both (they differ
    /// in Go), and sigs.k8s.io/yaml then keeps whichever its map iteration reaches last.
    /// Records the key's type for the keys after it.
    fn key_collides(&mut self, name: &str, typed: Option<KeyType>) -> bool {
        let Some(Frame::Map {
            entries,
            typed_keys,
            ..
        }) = self.stack.last_mut()
        else {
            return false;
        };
        match typed {
            None => typed_keys.iter().any(|(k, _)| k == name),
            Some(t) => {
                let earlier = entries.iter().filter(|(k, _)| k == name).count();
                let same_type = typed_keys
                    .iter()
                    .filter(|(k, other)| k == name && *other == t)
                    .count();
                typed_keys.push((name.to_string(), t));
                earlier > same_type
            }
        }
    }

    /// Map keys become JSON object keys the way sigs.k8s.io/yaml converts them: strings,
    /// booleans, 64-bit signed integers and floats (as Go formats a float32); it rejects
    /// null keys, unsigned integers beyond the signed range, and lists and maps.
    fn key_name(&mut self, node: Node) -> Result<String, ReadError> {
        let refused = |what: &str| {
            err(
                node.pos,
                &format!("a map key that is {what}, which Kubernetes rejects"),
            )
        };
        Ok(match node.value {
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => i.to_string(),
                (None, Some(f)) if n.is_f64() => go_float_key(f),
                _ => return Err(refused("an integer beyond the signed 64-bit range")),
            },
            Value::Null => return Err(refused("null")),
            Value::Array(_) | Value::Object(_) => return Err(err(node.pos, KEY_NOT_SCALAR)),
        })
    }
}

const NON_FINITE: &str =
    "a `.inf` or `.nan` value, which Kubernetes cannot convert to JSON (it rejects the document)";

const KEY_NOT_SCALAR: &str = "a map key that is a list or a map, which Kubernetes rejects";

/// goyaml v2 merge semantics: entries are assigned in order, so `<<` overrides keys written
/// before it and is overridden by keys written after it; in a list of maps the first map wins.
const MERGE_NEEDS_MAPS: &str = "a `<<` merge key needs a map or a list of maps";

/// Assigns the entries in order: a duplicate key keeps its first position and its last value,
/// as in goyaml v2.
pub(super) fn build_map(entries: Vec<(String, Value)>) -> Map<String, Value> {
    let mut map = Map::with_capacity(entries.len());
    for (key, value) in entries {
        map.insert(key, value);
    }
    map
}

fn merge_into(map: &mut Vec<(String, Value)>, value: Value, pos: Pos) -> Result<(), ReadError> {
    let wrong = || err(pos, MERGE_NEEDS_MAPS);
    match value {
        Value::Object(source) => {
            map.extend(source);
            Ok(())
        }
        Value::Array(sources) => {
            for source in sources.into_iter().rev() {
                let Value::Object(source) = source else {
                    return Err(wrong());
                };
                map.extend(source);
            }
            Ok(())
        }
        _ => Err(wrong()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Value {
        read_document(text).unwrap().value.unwrap()
    }

    #[test]
    fn reads_scalars_as_kubernetes_does() {
        let v = read(
            "a: yes\nb: \"yes\"\nc: 0644\nd: '0644'\ne: 1e3\nf: ~\ng: \"\"\nh: |\n  x\n  y\ni: !!str 12\nj: !!int \"12\"\n",
        );
        assert_eq!(
            v,
            json!({"a": true, "b": "yes", "c": 420, "d": "0644", "e": 1000.0, "f": null,
                   "g": "", "h": "x\ny\n", "i": "12", "j": 12})
        );
    }

    #[test]
    fn non_string_keys_are_converted_like_sigs_yaml() {
        let v = read("0644: a\nyes: b\n8080: c\n\"on\": d\n");
        assert_eq!(v, json!({"420": "a", "true": "b", "8080": "c", "on": "d"}));
    }

    #[test]
    fn tags_resolve_as_goyaml_resolves_them() {
        let v = read(
            "a: !<tag:yaml.org,2002:int> \"2\"\nb: !<tag:yaml.org,2002:bool> yes\nc: ! 12\nd: !!timestamp 2001-12-14\ne: !!binary aGVsbG8=\n",
        );
        assert_eq!(
            v,
            json!({"a": 2, "b": true, "c": "12", "d": "2001-12-14", "e": "hello"})
        );
        for bad in ["a: !!timestamp foo\n", "a: !!binary aGVsbG8\n"] {
            let e = read_document(bad).unwrap_err();
            assert!(e.message.contains("Kubernetes rejects it"), "{e}");
        }
    }

    #[test]
    fn goyaml_line_breaks_and_escapes() {
        let v = read(
            "a: 'Loading\u{85} please wait'\nb: \"x \u{2028} y\"\nc: [x\u{2028} y]\nd: 1 # c\u{85}e: \"it\\'s\"\nf: \u{feff}x\n",
        );
        assert_eq!(
            read("a: &a1 x\nb:\n  *a1: [-, -x]\n"),
            json!({"a": "x", "b": {"x": ["-", "-x"]}})
        );
        assert_eq!(
            v,
            json!({"a": "Loading please wait", "b": "x\u{2028}y", "c": ["x\u{2028}y"], "d": 1,
                   "e": "it's", "f": "\u{feff}x"})
        );
        for bad in [
            "a: \"a\\/b\"\n",
            "a: \"\\ud83d\\ude00\"\n",
            "a: |\n  \tx\n",
            "a: |\n\n  \tx\n",
            "a: |\n\n  x\n \ty\n",
            "a: |+\n     a\n    \u{85}\n    \t\n",
        ] {
            assert!(read_document(bad).is_err(), "{bad:?}");
        }
        assert_eq!(read("a: |\n  x\n  \ty\n"), json!({"a": "x\n\ty\n"}));
    }

    #[test]
    fn lone_carriage_returns_are_hazards() {
        let parsed = read_document("a: 'x\ry'\n").unwrap();
        assert_eq!(parsed.hazards.len(), 1);
        assert_eq!((parsed.hazards[0].line, parsed.hazards[0].column), (1, 6));
        for text in ["a: x\r\nb: y\r\n", "a: 'x\r\r\n  y'\n"] {
            assert!(read_document(text).unwrap().hazards.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn deeper_leading_blank_lines_in_a_block_are_refused() {
        // The one known difference, on the safe side: goyaml reads an empty block here.
        let e = read_document("a: >\n     \n    x\n").unwrap_err();
        assert!(e.message.contains("wrongly indented"), "{e}");
    }

    #[test]
    fn what_follows_a_document_end_is_ignored_as_goyaml_ignores_it() {
        for text in [
            "a: 1\n...\n%YAML 1.1\n",
            "a: 1\n...\nb: 2\n",
            "a: 1\n...\n[x\n",
        ] {
            assert_eq!(read(text), json!({"a": 1}), "{text:?}");
        }
    }

    #[test]
    fn merge_keys_follow_goyaml_v2_order() {
        let v = read(
            "base: &b {host: localhost, port: 1}\nbefore:\n  host: first\n  <<: *b\nafter:\n  <<: *b\n  host: last\n",
        );
        // `! <<` and `!!merge <<` merge; `!!merge foo` is the key `foo`; a quoted `"<<"` is a key.
        assert_eq!(
            read(
                "m: &m {x: 1}\na:\n  ! <<: *m\nb:\n  !!merge <<: *m\n!!merge foo: 1\nc: {\"<<\": 2}\nd: {! '<<': *m}\n"
            ),
            json!({"m": {"x": 1}, "a": {"x": 1}, "b": {"x": 1}, "foo": 1, "c": {"<<": 2}, "d": {"x": 1}})
        );
        assert_eq!(v["before"], json!({"host": "localhost", "port": 1}));
        assert_eq!(v["after"], json!({"host": "last", "port": 1}));
        // `y` is a boolean key to Kubernetes.
        assert_eq!(read("y: 1\n"), json!({"true": 1}));
    }

    #[test]
    fn duplicate_keys_last_wins() {
        assert_eq!(read("a: 1\nb: 2\na: 3\n"), json!({"a": 3, "b": 2}));
        assert_eq!(
            read("1: a\n1: b\ny: c\nyes: d\n"),
            json!({"1": "b", "true": "d"})
        );
        // Different types, one string: Kubernetes keeps one at random.
        for text in [
            "true: a\n\"true\": b\n",
            "1: a\n1.0: b\n",
            "a: {\"1\": x, 1: y}\n",
        ] {
            assert_eq!(read_document(text).unwrap().hazards.len(), 1, "{text:?}");
        }
    }

    #[test]
    fn flow_spellings_goyaml_reads_otherwise_are_hazards() {
        let parsed = read_document("a: [!x, yes]\nb: [!x ,yes]\n").unwrap();
        assert_eq!(parsed.hazards.len(), 1, "{:?}", parsed.hazards);
        for text in ["a: [?x]\n", "a: [x?y]\n", "a: {b: :x}\n", "&a .nan: *a\n"] {
            assert_eq!(read_document(text).unwrap().hazards.len(), 1, "{text:?}");
        }
        for text in ["a: [x:y, http://x]\n", "a: x?y\n", "a: ?x\n"] {
            assert!(read_document(text).unwrap().hazards.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn empty_and_null_documents_have_no_value() {
        for text in ["", "# only a comment\n", "null\n", "~\n", "\n\n"] {
            assert_eq!(read_document(text).unwrap().value, None, "{text:?}");
        }
    }

    #[test]
    fn hazards_are_recorded_not_guessed() {
        let parsed =
            read_document("a: 0xFFFFFFFFFFFFFFFFFF\nb: 123456789012345678901234\n").unwrap();
        assert_eq!(parsed.hazards.len(), 2);
        assert_eq!(parsed.hazards[0].line, 1);
        assert_eq!(parsed.hazards[1].line, 2);
        let e = read_document("a: 1\nb: [-.Inf]\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, NON_FINITE));
    }

    #[test]
    fn anchor_names_goyaml_rejects_are_errors() {
        assert!(read_document("a: &ok-name_1 1\nb: *ok-name_1\n").is_ok());
        let e = read_document("a: &ok-name_1 1\nb: &a.b 2\nc: *a.b\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 4), "{e}");
        assert!(e.message.contains("anchor name"), "{e}");
    }

    #[test]
    fn alias_bombs_are_stopped() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                [prev.as_str(); 10].join(", ")
            ));
        }
        let e = read_document(&text).unwrap_err();
        assert!(e.message.contains("excessive aliasing"), "{e}");
        // Aliasing goyaml accepts: a few anchors, reused.
        let v = read("a: &a {x: [1, 2, 3]}\nb: *a\nc: [*a, *a]\n");
        assert_eq!(v["c"][1], json!({"x": [1, 2, 3]}));
    }

    #[test]
    fn anchored_collections_are_shared_until_aliased() {
        let v = read(
            "a: &x [&y {k: 1}, 2]\nb: *x\nc: *y\nd: {<<: [*y]}\ne: {<<: &z {m: [&w 1]}, nn: *w}\nf: *z\ng:\n  <<: [&m {p: 1}, {q: 2}]\nh: *m\n",
        );
        assert_eq!(
            v,
            json!({"a": [{"k": 1}, 2], "b": [{"k": 1}, 2], "c": {"k": 1}, "d": {"k": 1},
                   "e": {"m": [1], "nn": 1}, "f": {"m": [1]}, "g": {"p": 1, "q": 2}, "h": {"p": 1}})
        );
        // Nested anchors nobody aliases cost their size, not size × depth.
        let depth = 200;
        let text = format!(
            "x: {}{}{}\n",
            (0..depth).map(|i| format!("&a{i} [")).collect::<String>(),
            vec!["v"; 20_000].join(", "),
            "]".repeat(depth)
        );
        let started = std::time::Instant::now();
        let v = read(&text);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let mut inner = &v["x"];
        for _ in 1..depth {
            inner = &inner[0];
        }
        assert_eq!(inner.as_array().map(Vec::len), Some(20_000));
        // A duplicate key drops an anchored value; its alias still reads it.
        assert_eq!(read("a: &x [1]\na: 2\nb: *x\n"), json!({"a": 2, "b": [1]}));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(20_000) + &"]".repeat(20_000);
        let e = read_document(&text).unwrap_err();
        assert!(e.message.contains("recursion limit"), "{e}");
    }

    /// A head read fails exactly where a full read fails, and otherwise yields the full
    /// value's `apiVersion`, `kind` and `metadata` (or the full value, when it says so).
    fn assert_head_read_agrees(text: &str) {
        match (read_document(text), read_document_head(text)) {
            (Ok(full), Ok(head)) => {
                assert!(full.complete, "{text:?}");
                let expected = match (&full.value, head.complete) {
                    (Some(Value::Object(map)), false) => Some(Value::Object(
                        map.iter()
                            .filter(|(k, _)| HEAD_KEYS.contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    )),
                    (value, _) => value.clone(),
                };
                assert_eq!(head.value, expected, "{text:?}");
            }
            (Err(full), Err(head)) => assert_eq!(full, head, "{text:?}"),
            (full, head) => panic!("{text:?}: full read {full:?}, head read {head:?}"),
        }
    }

    #[test]
    fn head_reads_agree_with_full_reads() {
        let bomb = {
            let mut text =
                String::from("kind: A\nspec:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
            for i in 1..10 {
                let prev = format!("*a{}", i - 1);
                text.push_str(&format!(
                    "  a{i}: &a{i} [{}]\n",
                    [prev.as_str(); 10].join(", ")
                ));
            }
            text
        };
        let deep = format!(
            "kind: A\nspec: {}{}\n",
            "[".repeat(2_000),
            "]".repeat(2_000)
        );
        let cases = [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {x: 'y'}\ndata:\n  k: |\n    v\n",
            "kind: A\nspec: {x: &a [1]}\nmetadata: {labels: *a}\n",
            "kind: A\nmetadata: &m {name: a}\nspec: {copy: *m}\n",
            "<<: {kind: A}\nspec: 1\n",
            "kind: A\nspec:\n  <<: 1\n",
            "kind: A\nspec:\n  a: &m {x: 1}\n  b:\n    <<: [*m, {y: 2}]\n",
            "kind: A\nspec:\n  b:\n    <<: [1]\n",
            "kind: A\nspec:\n  b:\n    <<: []\n",
            "kind: A\nspec:\n  s: &s x\n  b:\n    <<: *s\n",
            "kind: A\nspec:\n  !!merge x: 1\n",
            "kind: A\nspec: !!int abc\n",
            "kind: A\nspec: !!float 1\nmetadata: !!bool yes\n",
            "kind: A\nspec: *nope\n",
            "kind: A\nspec: &a [*a]\n",
            "kind: A\nspec: [1, 2\n",
            "kind: A\nspec: 1\n...\nkind: B\n",
            "kind: A\nspec: {0644: a, yes: b, 1.5: c}\nkind: B\n",
            "kind: A\nspec: 0xFFFFFFFFFFFFFFFFFF\n",
            "kind: A\nspec: {~: 1}\n",
            "kind: A\nspec: {18446744073709551615: 1}\n",
            "kind: A\nspec: {[1]: 2}\n",
            "kind: A\nspec: {a: &k [1], *k : 2}\n",
            "kind: A\nspec: {1.5: a, .inf: b, !!float -.Inf: c}\n",
            "kind: A\nspec: {a: .nan}\n",
            "kind: A\nspec: [+.inf]\n",
            "kind: A\nspec: {a: \"x\\/y\"}\n",
            "kind: A\nspec: \"it\\'s\"\nmetadata: {n: \"\\'\"}\n",
            "kind: A\nmetadata: {a: &a1 x, b: {*a1: y}}\nspec: [-, *a1]\n",
            "? [complex]\n: key\nkind: A\n",
            "- a\n- b\n",
            "just a scalar\n",
            "",
            "# comment only\n",
            &bomb,
            &deep,
        ];
        for text in cases {
            assert_head_read_agrees(text);
        }
        assert!(!read_document_head(cases[0]).unwrap().complete);
        let example = include_str!("../../examples/rendered.yaml");
        for document in example.split("\n---\n") {
            assert_head_read_agrees(document);
        }
    }

    #[test]
    fn a_head_read_can_read_the_whole_document_in_the_same_pass() {
        let text =
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {x: &a [1]}\nstatus: *a\n";
        let pods = |head: &[(String, Value)]| {
            head.iter()
                .any(|(k, v)| k == "kind" && v.as_str() == Some("Pod"))
        };
        let whole = read_document_head_unless(text, &pods).unwrap();
        assert!(whole.complete);
        assert_eq!(whole.value, read_document(text).unwrap().value);
        let head = read_document_head_unless(&text.replace("Pod", "Job"), &pods).unwrap();
        assert!(!head.complete);
        assert_eq!(head.value.unwrap().get("spec"), None);
    }

    #[test]
    fn reads_as_agrees_with_a_full_read() {
        let text = "a: yes\nb: \"yes\"\nc: 0644\n0644: k\nd:\n- 1\n- e: ~\nf: |\n  x\ng: []\n";
        let value = read(text);
        assert!(reads_as(text, &value));
        for other in [json!({"a": true}), json!(null), json!([1]), {
            let mut v = value.clone();
            v["d"][1]["e"] = json!("~");
            v
        }] {
            assert!(!reads_as(text, &other), "{other}");
        }
        // Not sure without a full read: anchors, merges, a second document, hazards.
        for text in [
            "a: &x [1]\nb: *x\n",
            "a: {<<: {b: 1}}\n",
            "a: 1\n...\n---\nb: 2\n",
            "a: 0xFFFFFFFFFFFFFFFFFF\n",
        ] {
            let full = read_document(text)
                .ok()
                .and_then(|p| p.value)
                .unwrap_or(Value::Null);
            assert!(!reads_as(text, &full), "{text:?}");
        }
        // Text goyaml reads otherwise than the parser underneath: never proved by the walk.
        for (text, parsers_reading) in [
            ("a: \"x\\/y\"\n", json!({"a": "x/y"})),
            ("a: \"x\u{85}y\"\n", json!({"a": "x y"})),
            ("a: x\u{2028}y\n", json!({"a": "x\u{2028}y"})),
            ("a: |\n\tx\n", json!({"a": "\tx\n"})),
            ("a: !!str 1\n", json!({"a": "1"})),
            ("a: [x, y]\n", json!({"a": ["x", "y"]})),
            ("a: x\rb: y\n", json!({"a": "x\rb: y"})),
        ] {
            assert!(!reads_as(text, &parsers_reading), "{text:?}");
        }
        let example = include_str!("../../examples/rendered.yaml");
        for document in example.split("\n---\n") {
            if let Some(value) = read_document(document).unwrap().value {
                assert!(reads_as(document, &value), "{document}");
            }
        }
    }

    #[test]
    fn syntax_errors_have_positions() {
        let at = |text: &str| {
            let e = read_document(text).unwrap_err();
            (e.line, e.column)
        };
        // Line and 1-based column of the character the reader stopped at: the `:` that
        // cannot follow `c` inside an unclosed `[`, the `:` of a wrongly indented key.
        assert_eq!(at("a: 1\nb: [1, 2\nc: 3\n"), (3, 2));
        assert_eq!(at("a: 1\n  b: 2\n"), (2, 4));
        // A tab as indentation: at the tab or just after it.
        let (line, column) = at("a: 1\nb:\n\t- x\n");
        assert!(line == 3 && (1..=2).contains(&column), "{line}:{column}");
    }
}
