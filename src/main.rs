//! pulse-harden: parse arguments, run, and map the outcome to an exit code
//! (0 success, 1 check failed, 2 error). Nothing reaches stdout unless the whole run succeeded.

mod cli;

use anyhow::{Context, Result, anyhow, bail};
use cli::{Cli, Command, ImagesArgs, ReportArgs, ReportFormat, RunArgs, When};
use pulse_harden::files::{self, Mode};
use pulse_harden::images::KnownUsers;
use pulse_harden::manifest::Manifest;
use pulse_harden::message::{printable, printable_json};
use pulse_harden::patchfile::PatchSet;
use pulse_harden::report::{self, Report, StepResult, redact, render};
use pulse_harden::{diff, explain, helm_log, load, pipeline, profiles, stream};
use serde_json::json;
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
            to_stderr(&format!("pulse-harden: error: {e:#}\n"));
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
        Some(Command::Images(args)) => images(&args),
        None => harden(&cli.run),
    }
}

fn harden(args: &RunArgs) -> Result<ExitCode> {
    let mut given = load::Loaded::default();
    for path in cli::flatten(&args.patches) {
        load::load(path, args.patch_root.as_deref(), &mut given)?;
    }
    // Without steps of its own (no --profile, no patch set: at most ImageUsers files), a run
    // hardens with the default profile.
    let mut profiles: Vec<&str> = cli::flatten(&args.profile).map(|p| p.as_str()).collect();
    if profiles.is_empty() && given.sets.is_empty() {
        profiles.push(profiles::DEFAULT_PROFILE);
    }
    let mut loaded = load::Loaded::default();
    for name in profiles {
        loaded.sets.extend(profiles::load(name.trim())?);
    }
    loaded.extend(given);

    // A run whose every step reads only its own resource (but for a PodDisruptionBudget
    // generator, decided at the end) streams: the input is read a segment at a time, and each
    // document is read, changed and emitted on its way (`pipeline::run_streaming`). Otherwise
    // the whole stream is read first; documents a step will read whole are read whole at
    // once, one parse each.
    let mut segments = match pipeline::streams(&loaded.sets) {
        true => Some(open_input(args.input.as_deref(), args.max_documents)?),
        false => None,
    };
    let mut stream = match &segments {
        Some(_) => stream::Stream {
            bom: false,
            manifests: Vec::new(),
        },
        None => stream::read_for(
            read_input(args.input.as_deref())?,
            &pipeline::wants_whole(&loaded.sets),
            args.max_documents,
        )?,
    };
    // Every error from here on may stem from a document: it passes the scrub, so that no
    // Secret or ConfigMap data value can reach stderr or the Helm log.
    let images = KnownUsers::new(loaded.image_users);
    let result = harden_stream(
        &mut stream,
        segments.as_mut(),
        &loaded.sets,
        &images,
        loaded.skipped,
        args,
    )
    .map_err(|e| {
        // A reader's error quotes no scalar, and scrubbing it could erase its location.
        if e.downcast_ref::<pipeline::InputError>().is_some() {
            return e;
        }
        let befores: Vec<_> = stream.manifests.iter().filter_map(|m| m.before()).collect();
        // Secrets and ConfigMaps no step read whole still hold data a message may quote (a
        // container's env value copied from one, a `test` value guessing it): they are read
        // now, for the scrub alone. (Their text is whole: no step changed them.)
        let unread: Vec<_> = (stream.manifests.iter())
            .filter(|m| !m.complete && redact::may_carry_data(m.kind()))
            .filter_map(|m| pulse_harden::yaml::read_document(&m.raw).ok()?.value)
            .collect();
        let values = (stream.manifests.iter())
            .flat_map(|m| m.value.iter())
            .chain(befores.iter().map(|before| &**before))
            .chain(&unread);
        anyhow!(redact::scrub(&format!("{e:#}"), values))
    });
    // The process ends here: handing every parsed document back to the allocator, node by
    // node, would take a few percent of the run and free nothing anyone needs.
    std::mem::forget(stream);
    result
}

/// Runs the steps and tells the outcome: over `segments` as they are read, for a run that
/// streams (`stream` then starts empty), or over `stream`, read whole.
fn harden_stream(
    stream: &mut stream::Stream,
    segments: Option<&mut Segments>,
    sets: &[PatchSet],
    images: &KnownUsers,
    skipped_files: Vec<String>,
    args: &RunArgs,
) -> Result<ExitCode> {
    let r = &args.report;
    // A run that writes no report keeps only what its summary line counts.
    let keep = pipeline::Keep {
        values: r.diff,
        report: r.report.is_some() || r.check || r.strict || r.report_configmap.is_some(),
    };
    let mut report = match segments {
        Some(segments) => {
            let report = pipeline::run_streaming(
                &mut stream.manifests,
                &mut || segments.next_documents(),
                sets,
                images,
                keep,
            );
            stream.bom = segments.bom();
            report?
        }
        None => pipeline::run_step_by_step(&mut stream.manifests, sets, images, keep)?,
    };
    report.skipped_files = skipped_files;
    let resources = render::resources(&stream.manifests);
    if resources == 0 && args.report.require_resources {
        bail!(
            "the input holds no resources (did the chart render nothing?); refusing to write an empty stream (--require-resources)"
        );
    }
    helm_log::summarize(report.summary_line(resources), resources);
    if let Some(name) = &args.report.report_configmap {
        add_report_configmap(stream, name, &report, args.report.report_format)?;
    }
    let private = stream.manifests.iter().any(holds_secret);
    let output = stream::render(stream)?;

    if let Some(code) = tell(&args.report, &report, &stream.manifests, private)? {
        return Ok(code);
    }
    match &args.output {
        Some(path) => files::replace(path, Mode::KeepExisting { private }, |f| output.write_to(f))?,
        None => write_stdout(|out| output.write_to(out))?,
    }
    // The output borrows the stream, forgotten too (see `harden`).
    std::mem::forget(output);
    Ok(ExitCode::SUCCESS)
}

/// `pulse-harden images`: the listing, or with `--resolve` the `ImageUsers` file. The only
/// path that creates a registry client.
fn images(args: &ImagesArgs) -> Result<ExitCode> {
    use pulse_harden::images::{ImageUsers, auth, list, registry, resolve};
    let input = read_input(args.input.as_deref())?;
    let stream = stream::read(&input)?;
    let used = list::images_of(&stream.manifests)?;
    let text = if args.resolve {
        let existing = match &args.existing {
            Some(path) if path.exists() => ImageUsers::load(path)?,
            Some(path) => ImageUsers {
                origin: path.display().to_string(),
                images: Vec::new(),
            },
            None => ImageUsers {
                origin: String::new(),
                images: Vec::new(),
            },
        };
        let in_stream = used.len();
        let wanted: Vec<_> = used
            .into_iter()
            .map(|u| u.image)
            .filter(|image| existing.user_for(image).is_none())
            .collect();
        let known = in_stream - wanted.len();
        let client = registry::Client::new(
            &registry::Options {
                plain_http: args.plain_http.clone(),
                timeout: std::time::Duration::from_secs(args.timeout.max(1)),
                ca_file: std::env::var_os("SSL_CERT_FILE")
                    .filter(|f| !f.is_empty())
                    .map(Into::into),
            },
            auth::Credentials::from_environment()?,
        )?;
        let resolved = resolve::resolve_all(&client, &wanted, &args.platform, args.parallel)?;
        for r in &resolved {
            if let Some(note) = &r.note {
                to_stderr(&format!("pulse-harden: {}: {note}\n", r.image));
            }
        }
        let known = match known {
            0 => String::new(),
            n => format!("; {n} more already in {}", existing.origin),
        };
        to_stderr(&format!(
            "pulse-harden: resolved {} from their registries{known}\n",
            report::plural(resolved.len(), "image", "images"),
        ));
        resolve::update(existing, &resolved, &resolve::timestamp()).to_yaml()?
    } else {
        list::render(&used)
    };
    match &args.output {
        Some(path) => files::replace(path, Mode::KeepExisting { private: false }, |f| {
            f.write_all(text.as_bytes())
        })?,
        None => write_stdout(|out| out.write_all(text.as_bytes()))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Does the document hold a Secret? A list read only up to its head might.
fn holds_secret(m: &Manifest) -> bool {
    m.value.as_ref().is_some_and(redact::holds_secret)
        || (!m.complete && m.kind().to_ascii_lowercase().ends_with("list"))
}

/// `--report-configmap NAME`: the report as a ConfigMap at the end of the stream, where Argo
/// CD (which shows a plugin's stderr only when it fails) shows it like any resource.
fn add_report_configmap(
    stream: &mut stream::Stream,
    name: &str,
    report: &Report,
    format: ReportFormat,
) -> Result<()> {
    if let Some(m) = stream.manifests.iter().find(|m| {
        m.is_resource() && m.kind() == "ConfigMap" && m.group().is_empty() && m.name() == name
    }) {
        bail!(
            "--report-configmap {name}: {} in {} has that name already",
            m.id(),
            m.place()
        );
    }
    let inputs = render::Inputs::of(&stream.manifests);
    let (key, text) = match format {
        ReportFormat::Text => (
            "report.txt",
            printable(&render::text(report, &inputs)).into_owned(),
        ),
        ReportFormat::Json => ("report.json", render::json(report, &inputs)),
    };
    let value = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "pulse-harden"},
        },
        "data": {key: text},
    });
    let mut doc = Manifest::from_value(stream.manifests.len() + 1, value);
    doc.generated = true;
    stream.manifests.push(doc);
    Ok(())
}

/// Writes the report, diffs and summary, and lists what `--check` and `--strict` fail on.
/// Returns the exit code when the run ends without writing the stream.
fn tell(
    args: &ReportArgs,
    report: &Report,
    manifests: &[Manifest],
    private: bool,
) -> Result<Option<ExitCode>> {
    // What reports name (each document's template) is gathered only for a report.
    let resources = render::resources(manifests);
    let gathered = std::cell::OnceCell::new();
    let inputs = || gathered.get_or_init(|| render::Inputs::of(manifests));
    let interactive = std::io::stderr().is_terminal();
    let path = args.report.as_deref().filter(|p| !p.as_os_str().is_empty());
    // A program reading the JSON report from stderr gets exactly one JSON document there:
    // what --check and --strict would list is in it (`changes`, `conflicts`,
    // `unmatchedSteps`), and the exit code says the rest. Without `--report`, --check and
    // --strict put the JSON report on stderr instead of their text.
    let json = args.report_format == ReportFormat::Json;
    // Steps that changed a document and then changed it back leave it as it was: writing the
    // stream would change nothing, so --check passes (as it does on that output).
    let documents_change = manifests
        .iter()
        .any(|m| !m.generated && (m.emitted.is_some() || m.is_changed()));
    let generates =
        (report.entries.iter()).any(|e| matches!(e.result, StepResult::Generated { .. }));
    let would_change = report.would_change() && (documents_change || generates);
    let fails =
        (args.check && would_change) || (args.strict && !report.strict_violations().is_empty());
    let path = match path {
        None if json && fails => Some(Path::new("-")),
        other => other,
    };
    if json && path == Some(Path::new("-")) {
        if args.diff {
            anyhow::bail!(
                "--diff writes text to stderr, where the JSON report goes: write the report to a file (--report FILE)"
            );
        }
        write_stderr(&printable_json(&render::json(report, inputs())));
        return Ok(ending(fails, args.check));
    }
    if let Some(path) = path {
        let text = match args.report_format {
            ReportFormat::Text => printable(&render::text(report, inputs())).into_owned(),
            ReportFormat::Json => printable_json(&render::json(report, inputs())).into_owned(),
        };
        if path == Path::new("-") {
            to_stderr(&text);
        } else {
            files::replace(path, Mode::KeepExisting { private }, |f| {
                f.write_all(text.as_bytes())
            })
            .context("cannot write the report")?;
        }
    }
    if args.diff {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = !no_color && wanted(args.color, interactive);
        // Escaped inside, around its own colours.
        write_stderr(&diff::render(manifests, color)?);
    }
    let mut failed = false;
    if args.check && would_change {
        to_stderr(&render::check_failure(report, inputs()));
        failed = true;
    }
    if args.strict {
        let mut violations = report.strict_violations();
        if resources == 0 {
            violations.push("the input holds no resources (did the chart render nothing?)".into());
        }
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
        to_stderr(&format!("{}\n", report.summary_line(resources)));
    }
    Ok(ending(failed, args.check))
}

/// The exit code of a run that ends without writing the stream: a failed check or strict
/// run, or any `--check` run; `None` when the stream is to be written.
fn ending(failed: bool, check: bool) -> Option<ExitCode> {
    match (failed, check) {
        (true, _) => Some(ExitCode::from(1)),
        (false, true) => Some(ExitCode::SUCCESS),
        (false, false) => None,
    }
}

fn wanted(when: When, interactive: bool) -> bool {
    match when {
        When::Auto => interactive,
        When::Always => true,
        When::Never => false,
    }
}

/// Messages for people: input text in them is made [`printable`].
fn to_stderr(text: &str) {
    write_stderr(&printable(text));
}

/// Diagnostics are best effort: a closed stderr must not turn a good run into a failure.
fn write_stderr(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_all(text.as_bytes())
        .and_then(|()| stderr.flush());
}

/// The input of a streaming run, read a segment at a time.
type Segments = stream::Segments<Box<dyn Read>>;

fn open_input(path: Option<&Path>, max_documents: usize) -> Result<Segments> {
    let (input, name): (Box<dyn Read>, String) = match path {
        Some(path) => (
            Box::new(
                std::fs::File::open(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            ),
            path.display().to_string(),
        ),
        None => (Box::new(std::io::stdin().lock()), "stdin".into()),
    };
    Ok(Segments::new(
        input,
        &name,
        max_documents,
        stream::SEGMENT_BYTES,
    ))
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
            // Held until the stream is written: not with the room its growth left over.
            input.shrink_to_fit();
        }
    }
    Ok(input)
}

fn write_stdout(write: impl FnOnce(&mut std::io::StdoutLock) -> std::io::Result<()>) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match write(&mut stdout).and_then(|()| stdout.flush()) {
        // Whoever reads us stopped listening (`| head`): not our error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}
