//! Getting messages to Helm 4 users. Helm 4.1 discards a post-renderer plugin's stderr (it only
//! says `plugin "pulse-harden" exited with error`), so when we run as a Helm plugin the error
//! chain, or a one-line summary of what was done, also goes to a log file under Helm's cache
//! directory — `$HELM_CACHE_HOME/pulse-harden/last-run.log` — and an error to Helm's own stderr
//! (see [`write_to_helm_stderr`]) or the terminal, if there is one.

use crate::files::{self, Mode};
use crate::message::printable;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

/// The log's place under Helm's cache directory.
pub const LOG_FILE: &str = "pulse-harden/last-run.log";

/// The summary of a successful run, kept until [`finish`] writes it.
static SUMMARY: OnceLock<String> = OnceLock::new();

/// Remembers what a run did (the report's summary line), for [`finish`]. Cheap and silent
/// outside Helm.
pub fn summarize(summary: String, resources: usize) {
    let mut line = summary;
    if resources == 0 {
        line.push_str(
            " (the chart rendered nothing, and Helm 4 rejects empty post-renderer output)",
        );
    }
    let _ = SUMMARY.set(line);
}

/// Parses the command line like `P::parse()`, but a bad flag given through
/// `--post-renderer-args` is logged before clap exits with its usage error.
pub fn parse_args<P: clap::Parser>() -> P {
    P::try_parse().unwrap_or_else(|e| {
        if !e.use_stderr() {
            e.exit() // --help, --version
        }
        // A bad value is quoted by clap: printed plain and escaped, like every message.
        let rendered = e.render().to_string();
        if let Some(log) = log_path() {
            let message = format!("pulse-harden: {rendered}").trim_end().to_string();
            report_to_user(&log, &message, true);
        }
        eprint!("{}", printable(&rendered));
        std::process::exit(e.exit_code())
    })
}

/// Records how the run ended, when running as a Helm plugin: a no-op otherwise (Helm 3 and
/// every other caller see stderr). Never fails the run: a log that cannot be written is only
/// mentioned on stderr.
pub fn finish(outcome: &std::thread::Result<anyhow::Result<ExitCode>>) {
    let Some(log) = log_path() else { return };
    let message = match outcome {
        Ok(Ok(code)) if *code == ExitCode::SUCCESS => match SUMMARY.get() {
            Some(summary) => summary.clone(),
            // Subcommands such as `explain` are not post-render runs.
            None => return,
        },
        Ok(Ok(_)) => match SUMMARY.get() {
            Some(summary) => format!("{summary} (exit code 1: check failed)"),
            None => "pulse-harden: check failed (exit code 1)".to_string(),
        },
        Ok(Err(e)) => format!("pulse-harden: error: {e:#}"),
        Err(_) => "pulse-harden: internal error (this is a bug); nothing was written".to_string(),
    };
    let failed = !matches!(outcome, Ok(Ok(code)) if *code == ExitCode::SUCCESS);
    report_to_user(&log, &message, failed);
}

/// Writes the message to the log file and to where the user sees it: Helm's own stderr when
/// that is a pipe or a terminal (CI, a shell), else the terminal, if there is one.
fn report_to_user(log: &Path, message: &str, failed: bool) {
    let message = &*printable(message);
    let invocation: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| printable(&a.to_string_lossy()).into_owned())
        .collect();
    let logged = match write_log(log, &invocation, message) {
        Ok(()) => true,
        Err(e) => {
            eprintln!(
                "{}",
                printable(&format!(
                    "pulse-harden: cannot write {}: {e:#}",
                    log.display()
                ))
            );
            false
        }
    };
    let pointer = if failed && logged {
        format!("\npulse-harden: the full log is in {}", log.display())
    } else {
        String::new()
    };
    let text = format!("{message}{pointer}\n");
    // When our own stderr is a terminal the user sees it there; say it once. A success
    // summary goes only to a terminal, never into a CI log.
    if std::io::stderr().is_terminal() {
        return;
    }
    if !(failed && write_to_helm_stderr(&text)) {
        write_tty(&text);
    }
}

/// The log file when running as a Helm plugin (Helm sets both variables for a plugin's
/// process), `None` otherwise.
pub fn log_path() -> Option<PathBuf> {
    let is_set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if !is_set("HELM_PLUGIN_NAME") || !is_set("HELM_PLUGIN_DIR") {
        return None;
    }
    Some(helm_cache_home()?.join(LOG_FILE))
}

/// Helm's cache directory, found the way Helm finds it: `$HELM_CACHE_HOME`, else
/// `$XDG_CACHE_HOME/helm`, else the platform's cache directory plus `helm`.
fn helm_cache_home() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("HELM_CACHE_HOME") {
        return Some(dir.into());
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("helm"));
    }
    let base = if cfg!(windows) {
        PathBuf::from(var("TEMP")?)
    } else if cfg!(target_os = "macos") {
        PathBuf::from(var("HOME")?).join("Library").join("Caches")
    } else {
        PathBuf::from(var("HOME")?).join(".cache")
    };
    Some(base.join("helm"))
}

/// The log holds error messages about the user's charts: its directory is made 0700 and the
/// file 0600, and a link planted at either name is refused or replaced, never followed.
fn write_log(path: &Path, invocation: &[String], message: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    let text = format!(
        "pulse-harden {} as Helm plugin `{}`, arguments: {}\n{message}\n",
        env!("CARGO_PKG_VERSION"),
        std::env::var("HELM_PLUGIN_NAME").unwrap_or_default(),
        if invocation.is_empty() {
            "(none)".to_string()
        } else {
            invocation.join(" ")
        }
    );
    files::replace(path, Mode::OwnerOnly, |f| f.write_all(text.as_bytes()))
}

/// Creates `dir` (0700) or makes sure the one there is a real directory of ours, 0700.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        match std::fs::symlink_metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)?;
            }
            Err(e) => return Err(e.into()),
            Ok(meta) if !meta.is_dir() => {
                anyhow::bail!("{} is not a directory (a symlink?)", dir.display())
            }
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
            Ok(_) => {}
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// Helm 4 reads a plugin's stderr into a buffer it throws away, but the plugin's parent is the
/// `helm` process, and its stderr is what the user (or the CI job) sees. On Linux that is
/// reachable as `/proc/<parent>/fd/2`. Written only when the parent is Helm and that stderr is
/// a pipe or a terminal — opening a regular file that way would write at its start, over what
/// Helm already wrote — and not the same as Helm's stdout (`2>&1 | kubectl apply -f -`), which
/// carries the stream. Returns whether the text was written.
fn write_to_helm_stderr(text: &str) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let parent = std::os::unix::process::parent_id();
        let is_helm = std::fs::read_to_string(format!("/proc/{parent}/comm"))
            .is_ok_and(|name| name.trim_end().starts_with("helm"));
        if !is_helm {
            return false;
        }
        let stream_like = |kind: std::fs::FileType| kind.is_fifo() || kind.is_char_device();
        let path = format!("/proc/{parent}/fd/2");
        let Ok(target) = std::fs::metadata(&path) else {
            return false;
        };
        let same_as_stdout = std::fs::metadata(format!("/proc/{parent}/fd/1"))
            .is_ok_and(|out| (out.dev(), out.ino()) == (target.dev(), target.ino()));
        if !stream_like(target.file_type()) || same_as_stdout {
            return false;
        }
        // Checked again on what was opened: the descriptor may have changed in between.
        if let Ok(mut stderr) = std::fs::OpenOptions::new().append(true).open(&path)
            && stderr.metadata().is_ok_and(|m| stream_like(m.file_type()))
        {
            return stderr.write_all(text.as_bytes()).is_ok();
        }
        false
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = text;
        false
    }
}

/// Writes to the controlling terminal, if the process has one; silently does nothing
/// otherwise (CI, a cron job, a container without a tty).
fn write_tty(text: &str) {
    if cfg!(unix)
        && let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty")
    {
        let _ = tty.write_all(text.as_bytes());
    }
}
