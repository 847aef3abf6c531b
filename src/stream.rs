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
    let text = String::from_utf8(input).map_err(|e| {
        let valid_up_to = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid_up_to]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        anyhow!(
            "input is not valid UTF-8 (line {line}, byte {})",
            valid_up_to + 1
        )
    })?;
    let text = Arc::new(text);
    let (bom, offset) = match text.starts_with(BOM) {
        true => (true, BOM.len()),
        false => (false, 0),
    };
    let chunks = split(&text[offset..], max_documents)?;
    let manifests = (chunks.into_iter().enumerate())
        .map(|(index, chunk)| Manifest {
            index: index + 1,
            line: chunk.line,
            separator: Raw::slice(
                &text,
                offset + chunk.start - chunk.separator.len()..offset + chunk.start,
            ),
            raw: Raw::slice(
                &text,
                offset + chunk.start..offset + chunk.start + chunk.body.len(),
            ),
            value: None,
            complete: false,
            before_change: None,
            hazards: Vec::new(),
            generated: false,
            list_item: None,
            emitted: None,
            head: None,
        })
        .collect();
    Ok(Stream { bom, manifests })
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
fn split(text: &str, max_documents: usize) -> Result<Vec<Chunk<'_>>> {
    let mut chunks = Vec::new();
    let too_many = |line: usize| {
        anyhow!(
            "input line {line}: the stream holds more than {max_documents} documents, the most pulse-harden reads unless told otherwise (far more than a Helm release or Argo CD application renders); raise the limit with --max-documents for a stream this large"
        )
    };
    let mut separator = "";
    let mut body_start = 0;
    let mut body_line = 1;
    let mut offset = 0;
    for (line_no, line) in text.split_inclusive('\n').enumerate() {
        let line_no = line_no + 1;
        if let Some(rest) = line.strip_prefix("---") {
            let rest = rest.trim();
            if rest.is_empty() || rest.starts_with('#') {
                if offset > body_start || !separator.is_empty() {
                    if chunks.len() == max_documents {
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
        if chunks.len() == max_documents {
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

    fn bodies(text: &str) -> Vec<(String, String)> {
        split(text, MAX_DOCUMENTS)
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
        let e = (split("a: 1\n--- {b: 2}\n", MAX_DOCUMENTS).err().unwrap()).to_string();
        assert!(e.starts_with("input line 2: content after `---`"), "{e}");
        assert!(split("---null\n", MAX_DOCUMENTS).is_err());
    }

    #[test]
    fn the_document_limit_counts_every_document() {
        let refused = |text: &str, max: usize| split(text, max).err().map(|e| e.to_string());
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
