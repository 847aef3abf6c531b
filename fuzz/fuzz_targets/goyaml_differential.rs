//! Differential fuzzing against what Kubernetes reads: each input becomes a YAML fragment
//! inside a Deployment the default profile changes (`fuzz/differential.rs`), and every 64
//! inputs the goyaml oracle reads the inputs and outputs in one call. A divergence panics
//! with the diverging document in the message (it may be any of the last 64 inputs, not the
//! one libFuzzer saves): make it a golden case (`tests/golden/`) and fix the reader or writer.
//!
//! Needs the oracle: `make oracle`, or `GOYAML_ORACLE=/path/to/goyaml-oracle`.
#![no_main]

#[path = "../differential.rs"]
mod differential;

use std::path::PathBuf;
use std::sync::Mutex;

const BATCH: usize = 64;

static PENDING: Mutex<Vec<differential::Outcome>> = Mutex::new(Vec::new());

fn oracle() -> PathBuf {
    std::env::var_os("GOYAML_ORACLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".tools/bin/goyaml-oracle"))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let outcome = differential::Outcome::of(differential::document(data));
    let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    pending.push(outcome);
    if pending.len() < BATCH {
        return;
    }
    let batch = std::mem::take(&mut *pending);
    let dir = std::env::temp_dir().join(format!("pulse-harden-fuzz-{}", std::process::id()));
    let found = differential::divergences(&oracle(), &dir, &batch);
    assert!(found.is_empty(), "{}", found.join("\n\n"));
});
