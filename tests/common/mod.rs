//! Helpers shared by integration tests (`mod common;`): the binary under test, the real Helm
//! binaries with isolated homes, and an independent Pod Security Standards checker.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod argocd;
pub mod corpus;
pub mod helm;
pub mod helm_home;
pub mod pss;
pub mod registry;

use std::io::Write;
use std::process::{Command, Stdio};

/// The binary under test, with none of the caller's `PULSE_HARDEN_*` settings, Helm plugin
/// context (which would turn on the Helm 4 log file) or `NO_COLOR`.
pub fn pulse_harden() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pulse-harden"));
    cmd.env_remove("NO_COLOR");
    for (var, _) in std::env::vars_os() {
        let name = var.to_string_lossy();
        if name.starts_with("PULSE_HARDEN_") || name.starts_with("HELM_PLUGIN") {
            cmd.env_remove(&var);
        }
    }
    cmd
}

/// How a run ended.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs `cmd` with `input` on stdin. The input is written from a thread, because the child may
/// stop reading early (a bad patch file fails before the stream is read).
pub fn feed(cmd: &mut Command, input: &[u8]) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pulse-harden");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for pulse-harden");
    let _ = writer.join();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `pulse-harden ARGS` on `input`; it must succeed. Returns stdout.
pub fn harden<S: AsRef<std::ffi::OsStr>>(args: &[S], input: &[u8]) -> Vec<u8> {
    let run = feed(pulse_harden().args(args), input);
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    assert!(
        run.code == 0,
        "pulse-harden {shown:?} exited with {}:\n{}",
        run.code,
        run.stderr
    );
    run.stdout
}
