//! pulse-harden: parse arguments, run, and map the outcome to an exit code
//! (0 success, 1 check failed, 2 error). Nothing reaches stdout unless the whole run succeeded.

mod cli;

use anyhow::{Context, Result};
use cli::{Cli, Command, ReportArgs, ReportFormat, RunArgs, When};
use pulse_harden::manifest::Manifest;
use pulse_harden::report::{self, Report, render};
use pulse_harden::{diff, explain, helm_log, patchfile, pipeline, profiles, stream};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli: Cli = helm_log::parse_args();
    let outcome = std::panic::catch_unwind(|| run(cli));
    // Helm 4 discards our stderr: as a Helm plugin, also log the outcome (see helm_log).
    helm_log::finish(&outcome);
    match outcome {
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
        sets.extend(profiles::load(name.trim())?);
    }
    for path in &args.patches {
        sets.extend(patchfile::load_path_within(
            path,
            args.patch_root.as_deref(),
        )?);
    }

    let input = read_input(args.input.as_deref())?;
    let mut stream = stream::read_for(input, &pipeline::wants_whole(&sets))?;
    let report = pipeline::run(&mut stream.manifests, &sets)?;
    let resources = render::Inputs::of(&stream.manifests).resources;
    helm_log::summarize(report.summary_line(resources), resources);
    let output = stream::render(&stream)?;

    if let Some(code) = tell(&args.report, &report, &stream.manifests)? {
        return Ok(code);
    }
    match &args.output {
        Some(path) => write_atomically(path, |f| output.write_to(f))?,
        None => write_stdout(&output)?,
    }
    // The process ends here: handing every parsed document back to the allocator, node by
    // node, would take a few percent of the run and free nothing anyone needs.
    std::mem::forget(output);
    std::mem::forget(stream);
    Ok(ExitCode::SUCCESS)
}

/// Writes the report, diffs and summary, and lists what `--check` and `--strict` fail on.
/// Returns the exit code when the run ends without writing the stream.
fn tell(args: &ReportArgs, report: &Report, manifests: &[Manifest]) -> Result<Option<ExitCode>> {
    let inputs = render::Inputs::of(manifests);
    let interactive = std::io::stderr().is_terminal();
    if let Some(path) = args.report.as_deref().filter(|p| !p.as_os_str().is_empty()) {
        let text = match args.report_format {
            ReportFormat::Text => render::text(report, &inputs),
            ReportFormat::Json => render::json(report, &inputs),
        };
        if path == Path::new("-") {
            to_stderr(&text);
        } else {
            write_atomically(path, |f| f.write_all(text.as_bytes()))
                .context("cannot write the report")?;
        }
    }
    if args.diff {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = !no_color && wanted(args.color, interactive);
        to_stderr(&diff::render(manifests, color)?);
    }
    let mut failed = false;
    if args.check && report.would_change() {
        to_stderr(&render::check_failure(report, &inputs));
        failed = true;
    }
    if args.strict {
        let violations = report.strict_violations();
        if !violations.is_empty() {
            let mut text = format!(
                "pulse-harden: strict mode failed ({}):\n",
                report::plural(violations.len(), "problem", "problems")
            );
            for line in violations {
                text.push_str(&format!("  {line}\n"));
            }
            to_stderr(&text);
            failed = true;
        }
    }
    if wanted(args.summary, interactive) {
        to_stderr(&format!("{}\n", report.summary_line(inputs.resources)));
    }
    Ok(match (failed, args.check) {
        (true, _) => Some(ExitCode::from(1)),
        (false, true) => Some(ExitCode::SUCCESS),
        (false, false) => None,
    })
}

fn wanted(when: When, interactive: bool) -> bool {
    match when {
        When::Auto => interactive,
        When::Always => true,
        When::Never => false,
    }
}

/// Diagnostics are best effort: a closed stderr must not turn a good run into a failure.
fn to_stderr(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_all(text.as_bytes())
        .and_then(|()| stderr.flush());
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
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
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
        .and_then(|mut file| write(&mut file))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot replace {}", path.display())
    })
}
