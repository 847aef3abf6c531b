//! The differential fuzzer's bounded run: a fixed-seed proptest generates YAML fragments
//! (scalars, keys, tags, quotes, escapes, NEL/LS/PS, block scalars) inside a Deployment the
//! default profile changes, and the goyaml oracle must read input and output the same, or
//! reject the input where pulse-harden refuses it (`fuzz/differential.rs` has the rules; the
//! `goyaml_differential` fuzz target runs the same check on libFuzzer's inputs).
//!
//! `DIFFERENTIAL_CASES` (default 3000) and `DIFFERENTIAL_SEED` widen a run by hand.

#[path = "../fuzz/differential.rs"]
mod differential;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::PathBuf;

fn oracle() -> PathBuf {
    let path = std::env::var_os("GOYAML_ORACLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/goyaml-oracle")
        });
    assert!(
        path.exists(),
        "the goyaml oracle is missing at {}: run `make oracle` (or set GOYAML_ORACLE)",
        path.display()
    );
    path
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn kubernetes_reads_every_changed_document_as_it_read_the_input() {
    let cases = env_number("DIFFERENTIAL_CASES", 3000) as usize;
    let seed = env_number("DIFFERENTIAL_SEED", 0);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let bytes = proptest::collection::vec(proptest::num::u8::ANY, 0..48);
    let outcomes: Vec<_> = (0..cases)
        .map(|_| {
            let data = bytes.new_tree(&mut runner).expect("generate").current();
            differential::Outcome::of(differential::document(&data))
        })
        .collect();
    let dir =
        std::env::temp_dir().join(format!("pulse-harden-differential-{}", std::process::id()));
    let found = differential::divergences(&oracle(), &dir, &outcomes);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        found.is_empty(),
        "{} of {cases} cases diverge from goyaml:\n\n{}",
        found.len(),
        found
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}
