//! Splits a multi-document YAML stream into documents the way Kubernetes does, and writes
//! the result back: untouched documents byte for byte, changed ones re-emitted.

use crate::manifest::{self, Manifest, Raw};
use crate::parallel;
use crate::yaml;
use anyhow::{Result, anyhow, bail};
use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

const BOM: &str = "\u{feff}";

/// How many documents a stream may hold unless `--max-documents` says otherwise: over a
/// hundred times what the largest Helm release or Argo CD application renders, and few
/// enough that a stream of the smallest documents still costs a bounded multiple of its size
/// (each document, however small, keeps a few hundred bytes of bookkeeping).
pub const MAX_DOCUMENTS: usize = 50_000;

/// The documents of a stream, and whether it began with a UTF-8 byte order mark.
#[derive(Debug)]
pub struct Stream {
    pub bom: bool,
    pub manifests: Vec<Manifest>,
}

/// Splits and parses a whole stream, every document in full. Fails (and names document,
/// template and line) on anything Kubernetes would reject or that we could not read faithfully.
pub fn read(input: &[u8]) -> Result<Stream> {
    let mut stream = read_lazily(input.to_vec())?;
    for m in &mut stream.manifests {
        m.read_fully()?;
    }
    Ok(stream)
}

/// [`read`], but each document's value holds only its head (`apiVersion`, `kind`,
/// `metadata`: what selectors look at) until [`Manifest::read_fully`]; the rest is checked,
/// not built. [`crate::pipeline::run`] reads in full what its steps select. Documents keep
/// their text as slices of the input rather than copies.
pub fn read_lazily(input: Vec<u8>) -> Result<Stream> {
    read_for(input, &|_| false, MAX_DOCUMENTS)
}

/// [`read_lazily`], but the documents `wants_whole` says yes to (from their head) are read
/// whole, in the same pass: one parse each (see [`yaml::read_document_head_unless`]). A
/// stream of more than `max_documents` is refused, as [`split_unread`] refuses it.
pub fn read_for(
    input: Vec<u8>,
    wants_whole: &(dyn Fn(&Manifest) -> bool + Sync),
    max_documents: usize,
) -> Result<Stream> {
    let mut stream = split_unread(input, max_documents)?;
    let sizes: Vec<usize> = stream.manifests.iter().map(|m| m.raw.len()).collect();
    let manifests: &[Manifest] = &stream.manifests;
    let parsed = parallel::map(&sizes, |i| read_head(&manifests[i], wants_whole));
    for (m, parsed) in stream.manifests.iter_mut().zip(parsed) {
        m.take_read(parsed)?;
    }
    Ok(stream)
}

/// Splits a stream into its documents without reading any: each has its text and place, no
/// value yet. [`read_head`] reads one (the pipeline's streaming run reads each on its way).
/// A stream of more than `max_documents` is refused where the next one would start.
pub fn split_unread(input: Vec<u8>, max_documents: usize) -> Result<Stream> {
    let text = utf8(input, 1, 0)?;
    let text = Arc::new(text);
    let (bom, offset) = match text.starts_with(BOM) {
        true => (true, BOM.len()),
        false => (false, 0),
    };
    let at = Counted {
        first_line: 1,
        before: 0,
        max_documents,
    };
    let chunks = split(&text[offset..], &at)?;
    let manifests = manifests_of(&text, offset, chunks, 0);
    Ok(Stream { bom, manifests })
}

/// The text of `input`, which starts at 1-based `line` and 0-based `byte` of the stream.
fn utf8(input: Vec<u8>, line: usize, byte: usize) -> Result<String> {
    String::from_utf8(input).map_err(|e| {
        let valid_up_to = e.utf8_error().valid_up_to();
        let line = line
            + e.as_bytes()[..valid_up_to]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
        anyhow!(
            "input is not valid UTF-8 (line {line}, byte {})",
            byte + valid_up_to + 1
        )
    })
}

/// The documents `chunks` of `text` (from `offset` on) make, numbered after `before` others.
fn manifests_of(
    text: &Arc<String>,
    offset: usize,
    chunks: Vec<Chunk>,
    before: usize,
) -> Vec<Manifest> {
    (chunks.into_iter().enumerate())
        .map(|(index, chunk)| Manifest {
            index: before + index + 1,
            line: chunk.line,
            separator: Raw::slice(
                text,
                offset + chunk.start - chunk.separator.len()..offset + chunk.start,
            ),
            raw: Raw::slice(
                text,
                offset + chunk.start..offset + chunk.start + chunk.body.len(),
            ),
            value: None,
            complete: false,
            before_change: None,
            first_change: None,
            hazards: Vec::new(),
            generated: false,
            list_item: None,
            emitted: None,
            head: None,
        })
        .collect()
}

/// How much of the input a streaming run holds at a time, read but not yet run: about this
/// much, cut where a document starts (a longer document is read whole).
pub const SEGMENT_BYTES: usize = 1 << 20;

/// A stream read a segment of whole documents at a time ([`Segments::next`]), so that a
/// streaming run never holds the whole input: each document is split from its segment as
/// [`split_unread`] splits the whole stream (the same documents, texts, lines and errors),
/// and a segment's memory goes once its documents let go of it.
pub struct Segments<R> {
    input: R,
    /// What the input is called in a read error (`stdin`, a path).
    name: String,
    /// Read, not yet handed out: whole lines up to `scanned`, then the rest.
    pending: Vec<u8>,
    /// Where the lines of `pending` not yet looked at start.
    scanned: usize,
    /// How far `pending` is known to hold no line break after `scanned` (a long line is
    /// searched once, not once a read).
    searched: usize,
    /// The start of the last `---` line found in `pending` (after its start).
    last_cut: Option<usize>,
    at_end: bool,
    /// The 1-based line and 0-based byte of the stream where `pending` starts.
    line: usize,
    byte: usize,
    documents: usize,
    max_documents: usize,
    segment_bytes: usize,
    bom: bool,
}

impl<R: std::io::Read> Segments<R> {
    pub fn new(input: R, name: &str, max_documents: usize, segment_bytes: usize) -> Self {
        Segments {
            input,
            name: name.to_string(),
            pending: Vec::new(),
            scanned: 0,
            searched: 0,
            last_cut: None,
            at_end: false,
            line: 1,
            byte: 0,
            documents: 0,
            max_documents,
            segment_bytes: segment_bytes.max(1),
            bom: false,
        }
    }

    /// Whether the stream began with a byte order mark (known once a segment was read).
    pub fn bom(&self) -> bool {
        self.bom
    }

    /// The documents of the next segment, split and unread; `None` after the last.
    pub fn next_documents(&mut self) -> Result<Option<Vec<Manifest>>> {
        loop {
            self.scan();
            if let Some(cut) = self
                .last_cut
                .filter(|_| self.pending.len() >= self.segment_bytes)
            {
                return self.segment(cut).map(Some);
            }
            if self.at_end {
                return match self.pending.is_empty() {
                    true => Ok(None),
                    false => self.segment(self.pending.len()).map(Some),
                };
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<()> {
        let start = self.pending.len();
        self.pending.resize(start + (64 << 10), 0);
        let read = loop {
            match self.input.read(&mut self.pending[start..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = match read {
            Ok(n) => n,
            Err(e) => bail!("cannot read {}: {e}", self.name),
        };
        self.pending.truncate(start + n);
        self.at_end = n == 0;
        Ok(())
    }

    /// Looks at the whole lines read since the last look for `---` lines that end a document
    /// (as [`split`] reads them; only ASCII blanks count here, which never cuts where `split`
    /// would not).
    fn scan(&mut self) {
        loop {
            let from = self.searched.max(self.scanned);
            let Some(found) = self.pending[from..].iter().position(|&b| b == b'\n') else {
                self.searched = self.pending.len();
                return;
            };
            let end = from + found + 1;
            let line = &self.pending[self.scanned..end];
            if self.scanned > 0
                && let Some(rest) = line.strip_prefix(b"---")
            {
                let rest = rest.trim_ascii();
                if rest.is_empty() || rest.starts_with(b"#") {
                    self.last_cut = Some(self.scanned);
                }
            }
            self.scanned = end;
        }
    }

    /// Hands out `pending` up to `cut` (the start of a `---` line, or the end).
    fn segment(&mut self, cut: usize) -> Result<Vec<Manifest>> {
        // The rest is copied (at most a document and a read), not the segment.
        let rest = self.pending.split_off(cut);
        let mut bytes = std::mem::replace(&mut self.pending, rest);
        bytes.shrink_to_fit();
        self.scanned -= cut.min(self.scanned);
        self.searched -= cut.min(self.searched);
        self.last_cut = None;
        let first = self.byte == 0;
        let text = utf8(bytes, self.line, self.byte)?;
        let (bom, offset) = match first && text.starts_with(BOM) {
            true => (true, BOM.len()),
            false => (false, 0),
        };
        self.bom |= bom;
        let at = Counted {
            first_line: self.line,
            before: self.documents,
            max_documents: self.max_documents,
        };
        let text = Arc::new(text);
        let chunks = split(&text[offset..], &at)?;
        let manifests = manifests_of(&text, offset, chunks, self.documents);
        self.documents += manifests.len();
        self.line += text.bytes().filter(|&b| b == b'\n').count();
        self.byte += cut;
        Ok(manifests)
    }
}

/// Reads the head of a document [`split_unread`] left unread, or the whole document if
/// `wants_whole` says yes to its head; [`Manifest::take_read`] takes the result.
pub fn read_head(
    m: &Manifest,
    wants_whole: &(dyn Fn(&Manifest) -> bool + Sync),
) -> Result<yaml::Parsed, yaml::ReadError> {
    let wants_all = |head: &[(String, serde_json::Value)]| {
        let mut with_head = Manifest::from_value(m.index, head.iter().cloned().collect());
        with_head.raw = m.raw.clone();
        wants_whole(&with_head)
    };
    yaml::read_document_head_unless(&m.raw, &wants_all)
}

struct Chunk<'a> {
    separator: &'a str,
    body: &'a str,
    /// Byte offset of `body` in the text split.
    start: usize,
    line: usize,
}

/// apimachinery's YAMLReader rule: a line starting with `---` ends a document when the rest
/// of the line is blank or a comment; anything else after `---` fails the whole stream in
/// kubectl and Helm, so it is an error here too. `---` indented inside a block scalar is
/// content, since it does not start the line.
/// Where a text [`split`] splits lies in the stream: the line it starts at, how many
/// documents came before it, and how many the stream may hold.
struct Counted {
    first_line: usize,
    before: usize,
    max_documents: usize,
}

fn split<'t>(text: &'t str, at: &Counted) -> Result<Vec<Chunk<'t>>> {
    let mut chunks = Vec::new();
    let max_documents = at.max_documents;
    let room = max_documents.saturating_sub(at.before);
    let too_many = |line: usize| {
        anyhow!(
            "input line {line}: the stream holds more than {max_documents} documents, the most pulse-harden reads unless told otherwise (far more than a Helm release or Argo CD application renders); raise the limit with --max-documents for a stream this large"
        )
    };
    let mut separator = "";
    let mut body_start = 0;
    let mut body_line = at.first_line;
    let mut offset = 0;
    for (line_no, line) in text.split_inclusive('\n').enumerate() {
        let line_no = at.first_line + line_no;
        if let Some(rest) = line.strip_prefix("---") {
            let rest = rest.trim();
            if rest.is_empty() || rest.starts_with('#') {
                if offset > body_start || !separator.is_empty() {
                    if chunks.len() == room {
                        return Err(too_many(body_line));
                    }
                    chunks.push(Chunk {
                        separator,
                        body: &text[body_start..offset],
                        start: body_start,
                        line: body_line,
                    });
                }
                separator = &text[offset..offset + line.len()];
                body_start = offset + line.len();
                body_line = line_no + 1;
            } else {
                // The content is not quoted: it could be part of a Secret's value.
                bail!(
                    "input line {line_no}: content after `---` on a document separator line; kubectl and Helm reject the whole stream (invalid Yaml document separator). Put the content on the next line"
                );
            }
        }
        offset += line.len();
    }
    if offset > body_start || !separator.is_empty() {
        if chunks.len() == room {
            return Err(too_many(body_line));
        }
        chunks.push(Chunk {
            separator,
            body: &text[body_start..],
            start: body_start,
            line: body_line,
        });
    }
    Ok(chunks)
}

/// Writes the stream back. Only documents whose value changed are re-emitted, under their
/// original header comments; everything else is copied byte for byte.
pub fn write(stream: &Stream) -> Result<Vec<u8>> {
    let rendered = render(stream)?;
    let mut out = Vec::with_capacity(rendered.len());
    rendered.write_to(&mut out)?;
    Ok(out)
}

/// The output stream as pieces: untouched text borrowed from the input, emitted text for
/// changed and generated documents. Everything that can fail has happened by the time it
/// exists, so writing it fails only if the writer does (nothing half-written on an error),
/// and the output is never held as a second copy of the stream.
pub struct Rendered<'a> {
    pieces: Vec<Cow<'a, str>>,
}

impl Rendered<'_> {
    /// Output size in bytes.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(|p| p.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.iter().all(|p| p.is_empty())
    }

    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
        for piece in &self.pieces {
            out.write_all(piece.as_bytes())?;
        }
        out.flush()
    }
}

/// Emits every changed and generated document and lays out the output (see [`write()`]).
pub fn render(stream: &Stream) -> Result<Rendered<'_>> {
    // Every document that needs emitting, emitted on every core; laid out in order below.
    let sizes: Vec<usize> = (stream.manifests.iter())
        .map(
            |m| match m.emitted.is_none() && (m.generated || m.is_changed()) {
                true => m.raw.len().max(1),
                false => 0,
            },
        )
        .collect();
    let mut emitted = parallel::map(&sizes, |i| match sizes[i] {
        0 => None,
        _ => Some(emit_document(&stream.manifests[i])),
    })
    .into_iter();
    let mut pieces: Vec<Cow<str>> = Vec::new();
    if stream.bom {
        pieces.push(BOM.into());
    }
    for m in &stream.manifests {
        // Emitted here, or by a streaming run on its way (line endings already the input's).
        let emitted: Option<Option<Cow<str>>> = match (&m.emitted, emitted.next().flatten()) {
            (Some(Ok(text)), _) => Some(text.as_deref().map(Cow::Borrowed)),
            (Some(Err(e)), _) => bail!("{e}"),
            (None, emitted) => emitted
                .transpose()?
                .map(|text| text.map(|text| Cow::Owned(with_line_endings_of(m, text)))),
        };
        if m.generated {
            let ends_a_line = pieces
                .iter()
                .rev()
                .find(|p| !p.is_empty())
                .is_none_or(|p| p.ends_with('\n'));
            if !ends_a_line {
                pieces.push("\n".into());
            }
            pieces.push("---\n".into());
            pieces.push(Cow::Borrowed(&m.raw));
            pieces.extend(emitted.flatten());
            continue;
        }
        pieces.push(Cow::Borrowed(&*m.separator));
        match emitted {
            None => pieces.push(Cow::Borrowed(&m.raw)),
            Some(None) => {}
            Some(Some(text)) => {
                pieces.push(manifest::header(&m.raw).into());
                pieces.push(text);
            }
        }
    }
    Ok(Rendered { pieces })
}

/// Emitted text with the line endings of the document it replaces: CR LF for a document
/// that had them.
pub fn with_line_endings_of(m: &Manifest, text: String) -> String {
    match !m.generated && m.raw.contains("\r\n") {
        true => text.replace('\n', "\r\n"),
        false => text,
    }
}

/// The text of a changed or generated document (`None`: an empty one); an error names it.
pub fn emit_document(m: &Manifest) -> Result<Option<String>> {
    if let Some(h) = m.hazards.first().filter(|_| !m.generated) {
        bail!(
            "cannot rewrite input {}, line {}, column {}: it holds {}; pulse-harden will not guess what Kubernetes reads there. Exclude the resource from the step, or change the chart",
            m.place(),
            m.line + h.line.saturating_sub(1),
            h.column,
            h.what
        );
    }
    let Some(value) = &m.value else {
        return Ok(None);
    };
    match m.generated {
        true => yaml::emit(value).map(Some),
        false => (yaml::emit(value).map(Some)).map_err(|e| anyhow!("input {}: {e}", m.place())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_most(max_documents: usize) -> Counted {
        Counted {
            first_line: 1,
            before: 0,
            max_documents,
        }
    }

    fn bodies(text: &str) -> Vec<(String, String)> {
        split(text, &at_most(MAX_DOCUMENTS))
            .unwrap()
            .into_iter()
            .map(|c| (c.separator.to_string(), c.body.to_string()))
            .collect()
    }

    #[test]
    fn splits_like_the_kubernetes_reader() {
        assert_eq!(
            bodies("a: 1\n---\nb: 2\n--- # note\nc: |\n  ---\n  x\n"),
            [
                ("".into(), "a: 1\n".into()),
                ("---\n".into(), "b: 2\n".into()),
                ("--- # note\n".into(), "c: |\n  ---\n  x\n".into()),
            ]
        );
        assert_eq!(
            bodies("---\r\na: 1\r\n"),
            [("---\r\n".into(), "a: 1\r\n".into())]
        );
        assert_eq!(bodies(""), Vec::<(String, String)>::new());
    }

    #[test]
    fn content_on_a_separator_line_is_rejected() {
        let e = (split("a: 1\n--- {b: 2}\n", &at_most(MAX_DOCUMENTS))
            .err()
            .unwrap())
        .to_string();
        assert!(e.starts_with("input line 2: content after `---`"), "{e}");
        assert!(split("---null\n", &at_most(MAX_DOCUMENTS)).is_err());
    }

    /// What [`Segments`] hands out with segments of `size` bytes, whole: the stream as
    /// [`split_unread`] splits it, or the same error.
    fn assert_segments_split_alike(input: &[u8], size: usize, max: usize) {
        let whole = split_unread(input.to_vec(), max);
        let mut segments = Segments::new(input, "stdin", max, size);
        let mut documents = Vec::new();
        let error = loop {
            match segments.next_documents() {
                Ok(Some(more)) => documents.extend(more),
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        let whole = match whole {
            Ok(whole) => whole,
            Err(e) => {
                assert_eq!(
                    error,
                    Some(e.to_string()),
                    "{input:?} in segments of {size}"
                );
                return;
            }
        };
        assert_eq!(error, None, "{input:?} in segments of {size}");
        assert_eq!(segments.bom(), whole.bom);
        let place = |m: &Manifest| (m.index, m.line, m.separator.to_string(), m.raw.to_string());
        let got: Vec<_> = documents.iter().map(place).collect();
        let want: Vec<_> = whole.manifests.iter().map(place).collect();
        assert_eq!(got, want, "{input:?} in segments of {size}");
    }

    #[test]
    fn segments_split_as_the_whole_stream_splits() {
        let inputs: [&[u8]; 14] = [
            b"",
            "\u{feff}".as_bytes(),
            "\u{feff}a: 1\n---\nb: 2\n".as_bytes(),
            b"a: 1\n---\nb: 2\n--- # note\nc: |\n  ---\n  x\n",
            b"---\r\na: 1\r\n---\r\nb: 2\r\n",
            b"---\n---\n---\n",
            b"a: 1\n---\nb: 2",
            b"# Source: x\n---  \t\nkind: A\n---\n\n# only comments\n",
            "a: 1\n---\u{a0}\nb: 2\n---\nc: 3\n".as_bytes(),
            b"a: 1\n--- {b: 2}\n",
            b"a: 1\n---\nb: 2\n----\nc: 3\n",
            b"a: 1\n---\nb: \xff\n",
            b"a: 1\n---\nb: 2\n---\nc: \xc3\n",
            b"a\n---\nb\n---\nc\n---\nd\n",
        ];
        for input in inputs {
            for size in [1, 3, 8, 13, 64, SEGMENT_BYTES] {
                assert_segments_split_alike(input, size, MAX_DOCUMENTS);
                assert_segments_split_alike(input, size, 2);
            }
        }
    }

    #[test]
    fn the_document_limit_counts_every_document() {
        let refused =
            |text: &str, max: usize| (split(text, &at_most(max)).err()).map(|e| e.to_string());
        assert_eq!(refused("a: 1\n---\nb: 2\n", 2), None);
        let e = refused("a: 1\n---\nb: 2\n", 1).unwrap_or_default();
        assert!(
            e.starts_with("input line 3: the stream holds more than 1 documents"),
            "{e}"
        );
        // An empty document after a last separator is a document too.
        let e = refused("---\na: 1\n---\nb: 2\n---\n", 2).unwrap_or_default();
        assert!(e.starts_with("input line 6: "), "{e}");
    }

    #[test]
    fn untouched_streams_come_back_byte_for_byte() {
        for text in [
            "\u{feff}a: 1\n",
            "---\n# Source: x\nkind: A\n---\n\n---\n# only comments\n",
            "a: 1\r\n---\r\nb: 2",
            "kind: A\n...\n---\nkind: B\n",
        ] {
            let stream = read(text.as_bytes()).unwrap();
            assert_eq!(write(&stream).unwrap(), text.as_bytes(), "{text:?}");
        }
    }

    #[test]
    fn errors_name_the_document_and_stream_line() {
        let e = read(b"---\n# Source: c/templates/a.yaml\nkind: A\n---\n# Source: c/templates/b.yaml\nkind: B\nx: [1, 2\n").unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.starts_with("input document 2 (c/templates/b.yaml), line 7"),
            "{e}"
        );
    }

    #[test]
    fn large_streams_read_in_parallel_keep_order_and_the_first_error() {
        let doc = |i: usize| {
            format!(
                "---\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  k: {}\n",
                "x".repeat(2_000)
            )
        };
        let mut text: String = (0..300).map(doc).collect();
        assert!(text.len() > parallel::MIN_BYTES);
        let stream = read(text.as_bytes()).unwrap();
        let names: Vec<_> = stream
            .manifests
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        assert_eq!(names, (0..300).map(|i| format!("c{i}")).collect::<Vec<_>>());
        assert_eq!(write(&stream).unwrap(), text.as_bytes());
        text.push_str("---\nkind: A\nx: [1\n");
        text.insert_str(doc(0).len(), "---\nkind: B\ny: {\n");
        let e = read(text.as_bytes()).unwrap_err().to_string();
        assert!(e.starts_with("input document 2, line 9"), "{e}");
    }

    #[test]
    fn invalid_utf8_is_located() {
        let e = read(b"a: 1\nb: \xff\n").unwrap_err().to_string();
        assert_eq!(e, "input is not valid UTF-8 (line 2, byte 9)");
    }
}
