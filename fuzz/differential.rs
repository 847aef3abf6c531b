//! The differential check against what Kubernetes reads, shared by the `goyaml_differential`
//! fuzz target and `tests/differential.rs`.
//!
//! Bytes become a small YAML fragment (scalars, keys, tags, quotes, escapes, line breaks,
//! block scalars — the spellings where YAML readers disagree) inside a Deployment, which the
//! default profile changes, so the document is read, changed and written again. The goyaml
//! oracle (apimachinery's splitter + sigs.k8s.io/yaml on goyaml v2) then reads input and
//! output, many cases per call: where it rejects the input, pulse-harden must refuse it; where
//! it accepts it, the output must read the same except for what the profile changed (the pod
//! spec), and must not be refused by goyaml v3 (Helm 4) unless the input was.

#![allow(dead_code)]

use pulse_harden::patchfile::PatchSet;
use pulse_harden::{pipeline, profiles, stream};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

const HEAD: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
x-fuzz:
";

/// Plain spellings goyaml v2 and YAML 1.2 read differently, or that are easy to mangle.
const PLAIN: &[&str] = &[
    "yes",
    "no",
    "y",
    "N",
    "on",
    "Off",
    "true",
    "tRUE",
    "~",
    "null",
    "Null",
    "0644",
    "0o17",
    "0x1F",
    "0X1F",
    "0b101",
    "-0b11",
    "1_000",
    "1_",
    ".5_0",
    "-.5_0",
    "._5",
    "1e3",
    "1E+3",
    "08",
    "0999",
    "1:20",
    ".inf",
    "-.Inf",
    ".nan",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "18446744073709551615",
    "9223372036854775808",
    "-9223372036854775808",
    "1.5",
    "-0",
    "+5",
    "<<",
    "=",
    "foo",
    "a b",
    "x#y",
    "x: y",
    "é",
    "0.1",
    "1e7",
    "-",
    "?",
    "@x",
    "%x",
    "!x",
    "123456789012345678901234",
    "0xFFFFFFFFFFFFFFFFFF",
    "1e400",
];

/// Node properties: tags (shorthand, verbatim, non-specific, local) and anchors.
const PREFIX: &[&str] = &[
    "",
    "",
    "",
    "",
    "!!str ",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!null ",
    "!!timestamp ",
    "!!binary ",
    "! ",
    "!<tag:yaml.org,2002:int> ",
    "!<tag:yaml.org,2002:bool> ",
    "!<tag:yaml.org,2002:str> ",
    "!<tag:yaml.org,2002:float> ",
    "!<!!int> ",
    "!!merge ",
    "!custom ",
    "&a1 ",
    "&a.b ",
];

/// Text inside quotes: blanks, line breaks (NEL, LS, PS, CR too; most followed by enough
/// indentation to stay inside the value), odd characters.
const QUOTED: &[&str] = &[
    "a",
    "b c",
    " ",
    "  ",
    "\t",
    "\n      ",
    "\n\n      ",
    "\n",
    "\u{85}",
    "\u{85}      ",
    "\u{2028}",
    "\u{2028}      ",
    "\u{2029}",
    "\r",
    "\r\n      ",
    "\u{feff}",
    "é",
    "#",
    ": ",
    " #",
    "\u{7f}",
    "\u{80}",
    "0644",
    "yes",
    "<<",
    "'",
    "\"",
];

/// Pieces of a block scalar's lines.
const LINE: &[&str] = &[
    "a", "b c", " ", "  ", "\t", "\u{85}", "\u{2028}", "\u{2029}", "é", "#", ": ", "---", "...",
    "yes", "", "\r", "\u{feff}",
];

/// What joins two plain words.
const JOIN: &[&str] = &[
    " ", "\t", "\u{85}", "\u{2028}", "#", " #", ": ", "\n      ", "-",
];

/// Escapes for double quotes, goyaml's and YAML 1.2's.
const ESCAPES: &[&str] = &[
    "\\/",
    "\\'",
    "\\\"",
    "\\x41",
    "\\x85",
    "\\ud83d",
    "\\ude00",
    "\\U0001F600",
    "\\U00110000",
    "\\N",
    "\\L",
    "\\P",
    "\\t",
    "\\\t",
    "\\n",
    "\\\\",
    "\\\n",
    "\\\n  ",
    "\\u00e9",
    "\\_",
    "\\0",
    "\\e",
    "\\uFEFF",
    "\\q",
];

const BLOCK_HEADERS: &[&str] = &["|", "|-", "|+", ">", ">-", "|2", ">+", "|-2"];

/// The bytes read one choice at a time; past the end every choice is the first.
struct Choices<'a> {
    data: &'a [u8],
    at: usize,
}

impl Choices<'_> {
    fn next(&mut self, below: usize) -> usize {
        let byte = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        byte as usize % below.max(1)
    }

    fn pick<'t>(&mut self, from: &[&'t str]) -> &'t str {
        from[self.next(from.len())]
    }

    fn more(&self) -> bool {
        self.at < self.data.len()
    }
}

/// A Deployment whose `x-fuzz` key holds a fragment made from `data`.
pub fn document(data: &[u8]) -> String {
    let mut c = Choices { data, at: 0 };
    let mut out = String::from(HEAD);
    let entries = 1 + c.next(3);
    for _ in 0..entries {
        entry(&mut c, &mut out, 2, 0);
    }
    out
}

fn entry(c: &mut Choices, out: &mut String, indent: usize, depth: usize) {
    out.push_str(&" ".repeat(indent));
    let key = scalar(c);
    out.push_str(&key);
    out.push(':');
    value(c, out, indent, depth);
}

fn value(c: &mut Choices, out: &mut String, indent: usize, depth: usize) {
    match c.next(if depth < 2 { 8 } else { 5 }) {
        0..=2 => {
            out.push(' ');
            out.push_str(&scalar(c));
            out.push('\n');
        }
        3 => {
            let items: Vec<String> = (0..1 + c.next(3)).map(|_| scalar(c)).collect();
            out.push_str(&format!(" [{}]\n", items.join(", ")));
        }
        4 => {
            out.push(' ');
            let prefix = if c.next(4) == 0 { c.pick(PREFIX) } else { "" };
            out.push_str(prefix);
            out.push_str(c.pick(BLOCK_HEADERS));
            out.push('\n');
            for _ in 0..1 + c.next(3) {
                let mut line = String::new();
                for _ in 0..1 + c.next(3) {
                    line.push_str(c.pick(LINE));
                }
                out.push_str(&" ".repeat(indent + 2));
                out.push_str(&line);
                out.push('\n');
            }
        }
        5 | 6 => {
            out.push('\n');
            for _ in 0..1 + c.next(2) {
                entry(c, out, indent + 2, depth + 1);
            }
        }
        _ => {
            out.push('\n');
            for _ in 0..1 + c.next(2) {
                out.push_str(&" ".repeat(indent + 2));
                out.push('-');
                value(c, out, indent + 2, depth + 1);
            }
        }
    }
}

fn scalar(c: &mut Choices) -> String {
    let mut s = String::from(c.pick(PREFIX));
    match c.next(5) {
        0 | 1 => {
            s.push_str(c.pick(PLAIN));
            if c.next(4) == 0 && c.more() {
                s.push_str(c.pick(JOIN));
                s.push_str(c.pick(PLAIN));
            }
        }
        2 => {
            s.push('\'');
            for _ in 0..1 + c.next(4) {
                match c.pick(QUOTED) {
                    "'" => s.push_str("''"),
                    t => s.push_str(t),
                }
            }
            s.push('\'');
        }
        3 => {
            s.push('"');
            for _ in 0..1 + c.next(4) {
                match (c.next(2), c.pick(QUOTED)) {
                    (0, _) => s.push_str(c.pick(ESCAPES)),
                    (_, "\"") => s.push_str("\\\""),
                    (_, t) => s.push_str(t),
                }
            }
            s.push('"');
        }
        _ => s.push_str("*a1"),
    }
    s
}

/// pulse-harden with the default profile, in process; the error text when it refuses.
pub fn harden(input: &str) -> Result<Vec<u8>, String> {
    static SETS: OnceLock<Vec<PatchSet>> = OnceLock::new();
    let sets = SETS.get_or_init(|| {
        profiles::load(profiles::DEFAULT_PROFILE).expect("the default profile loads")
    });
    let mut s = stream::read(input.as_bytes()).map_err(|e| format!("{e:#}"))?;
    pipeline::run(&mut s.manifests, sets).map_err(|e| format!("{e:#}"))?;
    stream::write(&s).map_err(|e| format!("{e:#}"))
}

/// One input and what pulse-harden made of it.
pub struct Outcome {
    pub input: String,
    pub output: Result<Vec<u8>, String>,
}

impl Outcome {
    pub fn of(input: String) -> Outcome {
        let output = harden(&input);
        Outcome { input, output }
    }
}

/// What the oracle read from one file: the documents, or why Kubernetes rejects the stream.
struct View {
    documents: Result<Vec<Value>, String>,
    v3_error: Option<String>,
}

fn view(result: &Value) -> View {
    let v3_error = result["v3"]["error"].as_str().map(str::to_string);
    if let Some(e) = result["stream_error"].as_str() {
        return View {
            documents: Err(e.to_string()),
            v3_error,
        };
    }
    let mut documents = Vec::new();
    for d in result["documents"].as_array().into_iter().flatten() {
        if let Some(e) = d["error"].as_str() {
            return View {
                documents: Err(e.to_string()),
                v3_error,
            };
        }
        let mut json = d["json"].clone();
        // What the profile changes.
        if let Some(template) = json
            .pointer_mut("/spec/template")
            .and_then(Value::as_object_mut)
        {
            template.shift_remove("spec");
        }
        documents.push(json);
    }
    View {
        documents: Ok(documents),
        v3_error,
    }
}

/// Runs the oracle once over every input and output (in `dir`) and lists each case where
/// pulse-harden and Kubernetes disagree.
pub fn divergences(oracle: &Path, dir: &Path, outcomes: &[Outcome]) -> Vec<String> {
    std::fs::create_dir_all(dir).expect("create the scratch directory");
    let mut paths = Vec::new();
    for (i, o) in outcomes.iter().enumerate() {
        let input = dir.join(format!("{i}-in.yaml"));
        std::fs::write(&input, &o.input).expect("write an input");
        paths.push(input);
        if let Ok(out) = &o.output {
            let output = dir.join(format!("{i}-out.yaml"));
            std::fs::write(&output, out).expect("write an output");
            paths.push(output);
        }
    }
    let run = Command::new(oracle)
        .args(&paths)
        .output()
        .expect("run the goyaml oracle");
    assert!(run.status.success(), "the goyaml oracle failed");
    let mut results = run
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).expect("the oracle writes JSON"));
    let mut found = Vec::new();
    for o in outcomes {
        let before = view(&results.next().expect("a result per input"));
        let after = o
            .output
            .as_ref()
            .ok()
            .map(|_| view(&results.next().expect("a result per output")));
        let problem = match (&before.documents, &o.output, after) {
            (Err(_), Err(_), _) => None,
            (Err(k8s), Ok(_), _) => Some(format!(
                "Kubernetes rejects the input ({k8s}), pulse-harden wrote output"
            )),
            // Refusing to guess (a value whose meaning depends on the Kubernetes version), and
            // the one known over-strict refusal (README, Fidelity): a block scalar whose
            // leading blank lines are indented deeper than its first line.
            (Ok(_), Err(ours), _)
                if ours.contains("will not guess")
                    || ours.contains("wrongly indented line in block scalar") =>
            {
                None
            }
            (Ok(_), Err(ours), _) => Some(format!(
                "Kubernetes accepts the input, pulse-harden refused it: {ours}"
            )),
            (Ok(docs), Ok(out), Some(after)) => match after.documents {
                Err(k8s) => Some(format!(
                    "Kubernetes rejects the output ({k8s}):\n{}",
                    String::from_utf8_lossy(out)
                )),
                Ok(out_docs) if &out_docs != docs => Some(format!(
                    "Kubernetes reads the output differently:\n  input  {}\n  output {}\n{}",
                    Value::Array(docs.clone()),
                    Value::Array(out_docs),
                    String::from_utf8_lossy(out)
                )),
                Ok(_) if before.v3_error.is_none() && after.v3_error.is_some() => Some(format!(
                    "goyaml v3 (Helm 4) rejects the output ({}):\n{}",
                    after.v3_error.unwrap_or_default(),
                    String::from_utf8_lossy(out)
                )),
                Ok(_) => None,
            },
            (Ok(_), Ok(_), None) => unreachable!("an output has a view"),
        };
        if let Some(problem) = problem {
            found.push(format!("input {:?}\n{problem}", o.input));
        }
    }
    found
}
