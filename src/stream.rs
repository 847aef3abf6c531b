//! Splits a multi-document YAML stream into documents the way Kubernetes does, and writes
//! the result back: untouched documents byte for byte, changed ones re-emitted.

use crate::manifest::{self, Manifest};
use crate::yaml;
use anyhow::{Result, anyhow, bail};

const BOM: &str = "\u{feff}";

/// The documents of a stream, and whether it began with a UTF-8 byte order mark.
#[derive(Debug)]
pub struct Stream {
    pub bom: bool,
    pub manifests: Vec<Manifest>,
}

/// Splits and parses a whole stream. Fails (and names document, template and line) on
/// anything Kubernetes would reject or that we could not read faithfully.
pub fn read(input: &[u8]) -> Result<Stream> {
    let text = std::str::from_utf8(input).map_err(|e| {
        let valid = &input[..e.valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        anyhow!(
            "input is not valid UTF-8 (line {line}, byte {})",
            e.valid_up_to() + 1
        )
    })?;
    let (bom, text) = match text.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut manifests = Vec::new();
    for (index, chunk) in split(text)?.into_iter().enumerate() {
        let mut m = Manifest {
            index: index + 1,
            line: chunk.line,
            separator: chunk.separator.to_string(),
            raw: chunk.body.to_string(),
            value: None,
            complete: false,
            before_change: None,
            hazards: Vec::new(),
            generated: false,
        };
        let parsed = yaml::read_document_head(chunk.body).map_err(|e| m.read_error(e))?;
        m.value = parsed.value;
        m.hazards = parsed.hazards;
        m.complete = parsed.complete;
        manifests.push(m);
    }
    Ok(Stream { bom, manifests })
}

struct Chunk<'a> {
    separator: &'a str,
    body: &'a str,
    line: usize,
}

/// apimachinery's YAMLReader rule: a line starting with `---` ends a document when the rest
/// of the line is blank or a comment; anything else after `---` fails the whole stream in
/// kubectl and Helm, so it is an error here too. `---` indented inside a block scalar is
/// content, since it does not start the line.
fn split(text: &str) -> Result<Vec<Chunk<'_>>> {
    let mut chunks = Vec::new();
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
                    chunks.push(Chunk {
                        separator,
                        body: &text[body_start..offset],
                        line: body_line,
                    });
                }
                separator = &text[offset..offset + line.len()];
                body_start = offset + line.len();
                body_line = line_no + 1;
            } else {
                bail!(
                    "input line {line_no}: `{}` puts content on a document separator line; kubectl and Helm reject the whole stream (invalid Yaml document separator). Put the content on the next line",
                    line.trim_end()
                );
            }
        }
        offset += line.len();
    }
    if offset > body_start || !separator.is_empty() {
        chunks.push(Chunk {
            separator,
            body: &text[body_start..],
            line: body_line,
        });
    }
    Ok(chunks)
}

/// Writes the stream back. Only documents whose value changed are re-emitted, under their
/// original header comments; everything else is copied byte for byte.
pub fn write(stream: &Stream) -> Result<Vec<u8>> {
    let mut out = String::new();
    if stream.bom {
        out.push_str(BOM);
    }
    for m in &stream.manifests {
        if m.generated {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("---\n");
            out.push_str(&m.raw);
            if let Some(value) = &m.value {
                out.push_str(&yaml::emit(value)?);
            }
            continue;
        }
        out.push_str(&m.separator);
        if !m.is_changed() {
            out.push_str(&m.raw);
            continue;
        }
        if let Some(h) = m.hazards.first() {
            bail!(
                "cannot rewrite input {}, line {}, column {}: it holds {}; pulse-harden will not guess what Kubernetes reads there. Exclude the resource from the step, or change the chart",
                m.place(),
                m.line + h.line.saturating_sub(1),
                h.column,
                h.what
            );
        }
        let Some(value) = &m.value else { continue };
        let emitted = yaml::emit(value).map_err(|e| anyhow!("input {}: {e}", m.place()))?;
        let header = manifest::header(&m.raw);
        if m.raw.contains("\r\n") {
            out.push_str(header);
            out.push_str(&emitted.replace('\n', "\r\n"));
        } else {
            out.push_str(header);
            out.push_str(&emitted);
        }
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(text: &str) -> Vec<(String, String)> {
        split(text)
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
        let e = split("a: 1\n--- {b: 2}\n").err().unwrap().to_string();
        assert!(e.starts_with("input line 2: `--- {b: 2}`"), "{e}");
        assert!(split("---null\n").is_err());
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
    fn invalid_utf8_is_located() {
        let e = read(b"a: 1\nb: \xff\n").unwrap_err().to_string();
        assert_eq!(e, "input is not valid UTF-8 (line 2, byte 9)");
    }
}
