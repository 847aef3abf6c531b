//! The benchmark's floor: a plain round trip of a whole stream through the YAML crate
//! pulse-harden uses (serde-saphyr → `serde_json::Value` → serde-saphyr), stdin to stdout.
//! No Kubernetes semantics, no selectors, no byte-for-byte passthrough.

use std::io::{Read, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let mut options = serde_saphyr::options::Options::default();
    // The default budget (250,000 nodes per stream) refuses a 50 MB stream.
    options.budget = None;
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple_with_options(&input, options)?;
    let output = serde_saphyr::to_string_multiple(&documents)?;
    std::io::stdout().write_all(output.as_bytes())?;
    Ok(())
}
