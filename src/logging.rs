//! The tracing registry: an `EnvFilter` (`TRIGGER_TUI_LOG`, default `info,trigger_tui=debug`),
//! then either tui-logger's layer (the dashboard's log pane; nothing is written to the terminal
//! while it is raw) or a stderr writer (headless modes), and optionally a plain file.

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
                    .with_writer(Mutex::new(SafeWriter(f))),
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
            // `init_logger` is not called: it starts a thread that wakes every 10 ms to move
            // events into the pane's buffer, most of a quiet dashboard's CPU. The event loop
            // moves them instead ([`move_to_pane`]) on each tick and before each frame.
            tui_logger::set_default_level(tui_logger::LevelFilter::Trace);
            let _ = registry
                .with(tui_logger::TuiTracingSubscriberLayer)
                .try_init();
        }
        Sink::Stderr => {
            let stderr = tracing_subscriber::fmt::layer()
                .with_writer(|| SafeWriter(std::io::stderr()))
                // No colours: the safe writer would show their escapes as text.
                .with_ansi(false)
                .with_target(false);
            let _ = registry.with(stderr).try_init();
        }
    }
    Ok(())
}

/// Moves the log events recorded since the last call into the log pane's buffer.
pub fn move_to_pane() {
    tui_logger::move_events();
}

/// Writes log text with control and invisible characters escaped (`\e`, `\u{202e}` …), so a
/// run id or error message from the server cannot drive the terminal that shows the log, or a
/// `cat` of the log file. Line breaks between events stay.
pub struct SafeWriter<W>(pub W);

impl<W: std::io::Write> std::io::Write for SafeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let mut safe = String::with_capacity(text.len());
        let mut lines = text.split('\n').peekable();
        while let Some(line) = lines.next() {
            safe.push_str(&crate::sanitize::sanitize_line(line));
            if lines.peek().is_some() {
                safe.push('\n');
            }
        }
        self.0.write_all(safe.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
