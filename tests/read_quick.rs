//! The quick reader (`yaml::read_quickly`, the fast path for plain documents) against the
//! full reader it stands in for: wherever it reads a document, it reads what the full reader
//! reads, whole and head only, with no hazard; whatever is outside its plain shape it leaves
//! to the full reader. Over every document of the corpus, the shapes it must leave alone, and
//! generated documents of hostile lines.

mod common;

use proptest::prelude::*;
use pulse_harden::{stream, yaml};

/// Whether the quick reader read `text`; where it did, the full reader agrees.
fn agrees(text: &str) -> bool {
    let mut read = false;
    for head_only in [false, true] {
        let Some(quick) = yaml::read_quickly(text, head_only) else {
            assert!(!read, "read whole but not head only: {text:?}");
            continue;
        };
        let full = yaml::read_in_full(text, head_only)
            .unwrap_or_else(|e| panic!("quick read {text:?}, the full reader refuses it: {e}"));
        assert_eq!(quick.value, full.value, "{text:?}");
        assert_eq!(quick.complete, full.complete, "{text:?}");
        assert!(
            full.hazards.is_empty() && quick.hazards.is_empty(),
            "{text:?}"
        );
        read = true;
    }
    read
}

#[test]
fn corpus_documents_read_as_the_full_reader_reads_them() {
    let (mut quick, mut all) = (0, 0);
    for (name, text) in common::corpus::charts() {
        let s = stream::split_unread(text, stream::MAX_DOCUMENTS)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for m in &s.manifests {
            all += 1;
            quick += agrees(&m.raw) as usize;
        }
    }
    // Most real documents are of the plain shape; were none, the fast path would be dead.
    assert!(
        quick * 2 > all,
        "only {quick} of {all} documents read quickly"
    );
}

#[test]
fn plain_shapes_are_read_quickly() {
    for text in [
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c0}\n",
        "# Source: x.yaml\nkind: A\nspec:\n  list:\n  - a\n  - b: 1\n    c: [x, \"y, z\"]\n  m: ~\n",
        "a:\n  - name: x\n    args:\n    - --flag=1\n    - \"quoted\"\nb: 'single'\n",
        "\"helm.sh/hook\": test\n'k': v # comment\nempty: {}\nnone: []\n",
        "spec:  \n  ports:\n  - port: 80   \n",
        "a:\n  {}\nb:\n  - x\n",
        "- 1\n- yes\n- 0644\n- 1e3\n- -1\n- .5\n",
        "kind: A\nspec: {a: b}\nkind: B\n",
    ] {
        assert!(agrees(text), "not read quickly: {text:?}");
    }
}

#[test]
fn other_shapes_are_left_to_the_full_reader() {
    for text in [
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: |\n  text\n",
        "a: >\n  text\n",
        "a: \"esc\\n\"\n",
        "a: 'it''s'\n",
        "a: two\n  lines\n",
        "a:\tb\n",
        "a: b\r\n",
        "a: caf\u{e9}\n",
        "<<: {a: 1}\n",
        "a: b: c\n",
        "a: [x,\n  y]\n",
        "a: {b: c: d}\n",
        "a: [-, x]\n",
        "a: {b?: c}\n",
        "a: 99999999999999999999\n",
        "a: .inf\n",
        "1: x\n",
        "yes: x\n",
        "- - a\n",
        "- ? a\n",
        "? a\n: b\n",
        "a: b\n...\n",
        "%YAML 1.1\n---\na: b\n",
        "a: [b]c\n",
        "a: \"b\"c\n",
        "a: \"b\"#c\n",
        "a: x#\n b\n",
        "just a scalar\n",
        "",
        "# only a comment\n",
    ] {
        assert!(
            yaml::read_quickly(text, false).is_none() && yaml::read_quickly(text, true).is_none(),
            "read quickly: {text:?}"
        );
    }
}

/// goyaml gives up on a key without `?` past 1024 characters, quotes included: such a key is
/// an error to Kubernetes, and so to the full reader, never read quickly.
#[test]
fn keys_longer_than_goyaml_takes_are_left_to_the_full_reader() {
    let long = "k".repeat(1025);
    for text in [
        format!("{long}: 1\n"),
        format!("'{}': 1\n", &long[2..]),
        format!("a:\n  {long}: 1\n"),
        format!("- {long}: 1\n"),
        format!("-   {long}: 1\n"),
        format!("a: {{{long}: b}}\n"),
        format!("a: {{'{}': b}}\n", &long[2..]),
    ] {
        assert!(yaml::read_quickly(&text, false).is_none(), "{text}");
        assert!(yaml::read_in_full(&text, false).is_err(), "{text}");
    }
    assert!(agrees(&format!("{}: 1\n", &long[..1000])));
}

#[test]
fn nesting_deeper_than_the_quick_reader_goes_is_left_to_the_full_reader() {
    let mut text = String::new();
    for depth in 0..100 {
        text.push_str(&" ".repeat(depth));
        text.push_str("a:\n");
    }
    assert!(yaml::read_quickly(&text, false).is_none());
    assert!(yaml::read_in_full(&text, false).is_ok());
}

/// A line of a generated document: indentation, perhaps a list item, perhaps a key, perhaps a
/// value, built from the tokens that change what YAML means.
fn line() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        8 => "[a-z][a-z0-9]{1,4}",
        2 => "[ -~]{1,6}",
        1 => Just("yes".to_string()),
        1 => Just("0644".to_string()),
        1 => Just("~".to_string()),
        1 => Just("-".to_string()),
        1 => Just("<<".to_string()),
        1 => Just("\"q\"".to_string()),
        1 => Just("'s'".to_string()),
        1 => Just("[a, \"b\"]".to_string()),
        1 => Just("{a: b}".to_string()),
        1 => Just("{}".to_string()),
        1 => Just("# c".to_string()),
        1 => Just("&a x".to_string()),
        1 => Just("*a".to_string()),
    ];
    (
        prop_oneof![4 => (0usize..3).prop_map(|n| n * 2), 1 => 0usize..6],
        any::<bool>(),
        proptest::option::of(word.clone()),
        proptest::option::of(word),
        prop_oneof![Just(""), Just(" "), Just(" # c")],
    )
        .prop_map(|(indent, item, key, value, end)| {
            let mut line = " ".repeat(indent);
            if item {
                line.push_str("- ");
            }
            if let Some(key) = key {
                line.push_str(&key);
                line.push(':');
            }
            if let Some(value) = value {
                line.push(' ');
                line.push_str(&value);
            }
            line.push_str(end);
            line
        })
}

#[test]
fn generated_documents_read_as_the_full_reader_reads_them() {
    let quick = std::sync::atomic::AtomicUsize::new(0);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 5000,
        ..ProptestConfig::default()
    });
    runner
        .run(&proptest::collection::vec(line(), 1..6), |lines| {
            if agrees(&(lines.join("\n") + "\n")) {
                quick.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    // Enough of them are of the plain shape for the comparison to mean something.
    let quick = quick.into_inner();
    assert!(
        quick >= 500,
        "only {quick} of 5000 generated documents read quickly"
    );
}
