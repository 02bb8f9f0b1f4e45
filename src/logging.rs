//! The tracing registry: an `EnvFilter` (`TRIGGER_TUI_LOG`, default `info,trigger_tui=debug`),
//! then either tui-logger's layer (the dashboard's log pane; nothing is written to the terminal
//! while it is raw) or a stderr writer (headless modes), and optionally a plain file.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Where log lines go besides the optional file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// tui-logger's buffer, shown in the log pane.
    LogPane,
    /// Standard error (headless modes and `serve`).
    Stderr,
}

const DEFAULT_FILTER: &str = "info,trigger_tui=debug";
/// Headless modes print to stderr, where a line per request would drown the useful ones.
const DEFAULT_STDERR_FILTER: &str = "warn,trigger_tui=info";

/// Installs the global subscriber. Logging is best effort: a file that cannot be opened is
/// reported as an error for the caller to print before the terminal goes raw.
pub fn init(sink: Sink, file: Option<&Path>) -> Result<(), std::io::Error> {
    let default = match sink {
        Sink::LogPane => DEFAULT_FILTER,
        Sink::Stderr => DEFAULT_STDERR_FILTER,
    };
    let filter =
        || EnvFilter::try_from_env("TRIGGER_TUI_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let file_layer = match file {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(Mutex::new(f)),
            )
        }
        None => None,
    };
    let registry = tracing_subscriber::registry()
        .with(filter())
        .with(file_layer);
    match sink {
        Sink::LogPane => {
            // The level filter is the EnvFilter's job; tui-logger keeps everything it is given.
            let _ = tui_logger::init_logger(tui_logger::LevelFilter::Trace);
            tui_logger::set_default_level(tui_logger::LevelFilter::Trace);
            let _ = registry
                .with(tui_logger::TuiTracingSubscriberLayer)
                .try_init();
        }
        Sink::Stderr => {
            let stderr = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_target(false);
            let _ = registry.with(stderr).try_init();
        }
    }
    Ok(())
}
