//! The direct writer (`yaml::emit_direct`, the fast path for changed documents) against the
//! YAML writer it stands in for: wherever it writes a document, it writes the same text, and
//! that text reads back (goyaml rules) as the value. Over every document of the corpus and
//! over generated strings of every printable ASCII shape.

mod common;

use proptest::prelude::*;
use pulse_harden::{stream, yaml};
use serde_json::{Value, json};

/// The direct text, checked against the writer's; whether it was written directly.
fn agrees(value: &Value) -> bool {
    let Some(direct) = yaml::emit_direct(value) else {
        return false;
    };
    let writer = yaml::emit_with_writer(value).expect("the YAML writer emits it");
    assert_eq!(direct, writer, "direct and writer differ for {value}");
    let read = yaml::read_document(&direct).expect("reads back");
    assert_eq!(read.value.as_ref(), Some(value), "{direct}");
    assert!(read.hazards.is_empty(), "{direct}");
    true
}

#[test]
fn corpus_documents_come_out_as_the_writer_writes_them() {
    let (mut direct, mut all) = (0, 0);
    for (name, text) in common::corpus::charts() {
        let s = stream::read(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for m in &s.manifests {
            if let Some(value) = &m.value {
                all += 1;
                direct += agrees(value) as usize;
            }
        }
    }
    // Most real documents are of the direct shape; were none, the fast path would be dead.
    assert!(
        direct * 2 > all,
        "only {direct} of {all} documents written directly"
    );
}

fn ascii_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,12}",
        "[a-z0-9:/.=@%$;()^~ +_-]{1,12}",
        Just("yes".to_string()),
        Just("0644".to_string()),
        Just("1_000".to_string()),
        Just("2001-12-14".to_string()),
        Just("-".to_string()),
        Just("~".to_string()),
        Just(".inf".to_string()),
        Just("<<".to_string()),
        Just("=".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn every_ascii_string_is_written_as_the_writer_writes_it(
        key in ascii_string(),
        value in ascii_string(),
        n in any::<i64>(),
    ) {
        agrees(&json!({ "k": value, "n": n, "list": [value, {"a": value}], "m": {} }));
        agrees(&json!({ key.clone(): "v", "nested": { key: [] } }));
    }
}
