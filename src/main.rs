//! pulse-harden: parse arguments, run, and map the outcome to an exit code
//! (0 success, 1 check failed, 2 error). Nothing reaches stdout unless the whole run succeeded.

mod cli;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command, RunArgs};
use pulse_harden::{explain, patchfile, pipeline, profiles, stream};
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("pulse-harden: error: {e:#}");
            ExitCode::from(2)
        }
        Err(_) => {
            eprintln!("pulse-harden: internal error (this is a bug); nothing was written");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Explain { name }) => {
            print!("{}", explain::explain(name.as_deref())?);
            Ok(ExitCode::SUCCESS)
        }
        None => harden(&cli.run),
    }
}

fn harden(args: &RunArgs) -> Result<ExitCode> {
    let mut sets = Vec::new();
    let mut profiles = args.profile.clone();
    if profiles.is_empty() && args.patches.is_empty() {
        profiles.push(profiles::DEFAULT_PROFILE.to_string());
    }
    for name in &profiles {
        sets.push(profiles::load(name.trim())?);
    }
    for path in &args.patches {
        sets.extend(patchfile::load_path(path)?);
    }

    let input = read_input(args.input.as_deref())?;
    let mut stream = stream::read_owned(input)?;
    pipeline::run(&mut stream.manifests, &sets)?;
    let output = stream::render(&stream)?;

    match &args.output {
        Some(path) => write_atomically(path, &output)?,
        None => write_stdout(&output)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn read_input(path: Option<&Path>) -> Result<Vec<u8>> {
    let mut input = Vec::new();
    match path {
        Some(path) => {
            input =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut input)
                .context("cannot read stdin")?;
        }
    }
    Ok(input)
}

fn write_stdout(output: &stream::Rendered) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match output.write_to(&mut stdout).and_then(|()| stdout.flush()) {
        // Whoever reads us stopped listening (`| head`): not our error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}

/// Writes next to the target and renames over it, so a reader never sees half a file.
fn write_atomically(path: &Path, output: &stream::Rendered) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let file_name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp_name = format!(
        ".{}.pulse-harden-{}",
        file_name.to_string_lossy(),
        std::process::id()
    );
    let tmp = dir.map_or_else(|| tmp_name.clone().into(), |d| d.join(&tmp_name));
    std::fs::File::create(&tmp)
        .and_then(|mut file| output.write_to(&mut file))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot replace {}", path.display())
    })
}
