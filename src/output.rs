//! `--output ndjson`: no terminal UI; every run the feed yields is printed as one JSON line in
//! the SDK's run shape, for scripts, CI and the comparison with the official SDK.
//!
//! The same `App` and `update` as the dashboard keep the state, so "done" means the same thing
//! in both modes: every run the batch record counts was seen and all are final.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;

use crate::app::{App, Msg, update};
use crate::client::packets::{self, Field};
use crate::client::{ExitReason, FeedConfig, FeedEvent, Transport};
use crate::model::{Packet, Run};
use crate::sanitize::{is_safe_canonical_json, sanitize_line, write_safe_json};
use crate::tui::Signals;

/// Exit codes of the headless mode (documented in the README).
pub mod exit {
    /// The batch finished (`--exit-when-done`) or the user stopped the program.
    pub const OK: u8 = 0;
    /// An unexpected failure (network setup, I/O).
    pub const FAILURE: u8 = 1;
    /// Bad usage or configuration: no credential, no batch, a bad flag or config file.
    pub const USAGE: u8 = 2;
    /// The server rejected the credential (401) or its scope (403).
    pub const AUTH: u8 = 3;
    /// The batch does not exist (404).
    pub const NOT_FOUND: u8 = 4;
    /// The server does not speak the protocol (missing headers, unreadable bodies).
    pub const PROTOCOL: u8 = 5;
    /// The server could not be reached and never answered (DNS, refused, TLS, proxy).
    pub const UNREACHABLE: u8 = 6;

    /// The exit code for a feed that failed for good.
    pub fn for_failure(reason: super::ExitReason) -> u8 {
        use super::ExitReason;
        match reason {
            ExitReason::Auth => AUTH,
            ExitReason::NotFound => NOT_FOUND,
            ExitReason::Protocol => PROTOCOL,
            ExitReason::Unreachable => UNREACHABLE,
            ExitReason::Other => FAILURE,
            ExitReason::EndOfReplay => OK,
        }
    }
}

/// Fetches offloaded packets for printing, once per run, field and path.
pub struct PacketFetcher {
    pub transport: Transport,
    pub config: FeedConfig,
    cache: HashMap<(String, Field, String), Packet>,
}

impl PacketFetcher {
    pub fn new(transport: Transport, config: FeedConfig) -> Self {
        Self {
            transport,
            config,
            cache: HashMap::new(),
        }
    }

    /// The run with its `application/store` payload and output replaced by the fetched data,
    /// as the SDK yields it. A failed fetch leaves the storage path and says why on stderr.
    async fn resolve(&mut self, run: &Run) -> Option<Run> {
        let mut resolved: Option<Run> = None;
        for field in [Field::Payload, Field::Output] {
            let packet = match field {
                Field::Payload => &run.payload,
                Field::Output => &run.output,
            };
            let Some(packet) = packet
                .as_ref()
                .filter(|p| &*p.data_type == "application/store")
            else {
                continue;
            };
            let key = (run.id.clone(), field, packet.data.to_string());
            let fetched = match self.cache.get(&key) {
                Some(p) => p.clone(),
                None => {
                    match packets::fetch(
                        &self.transport,
                        &self.config,
                        &run.id,
                        field,
                        &packet.data,
                    )
                    .await
                    {
                        Ok(p) => {
                            self.cache.insert(key, p.clone());
                            p
                        }
                        Err(e) => {
                            eprintln!(
                                "trigger-tui: warning: {} {}: {}",
                                sanitize_line(&run.id),
                                field.name(),
                                sanitize_line(&e)
                            );
                            continue;
                        }
                    }
                }
            };
            let target = resolved.get_or_insert_with(|| run.clone());
            match field {
                Field::Payload => target.payload = Some(fetched),
                Field::Output => target.output = Some(fetched),
            }
        }
        resolved
    }
}

/// JSON text that is safe on a terminal: besides the C0 controls JSON always escapes, C1
/// controls, DEL, and bidi and zero-width characters are written as `\uXXXX` escapes too. The
/// parsed value is the same; only the bytes differ.
pub fn terminal_safe_json(value: &serde_json::Value) -> String {
    let mut out = Vec::new();
    write_safe_json(&mut out, value);
    // The serializer writes UTF-8 only.
    String::from_utf8(out).unwrap_or_default()
}

/// The last printed form of each run's packets: a payload rarely changes between the states
/// of a run, so it is decoded and serialized once rather than once per printed line.
#[derive(Default)]
struct DecodeCache {
    /// By run id: the payload's, the output's and the metadata's packet and printed text.
    entries: foldhash::HashMap<String, [Option<Printed>; 3]>,
}

/// A packet and its printed JSON text (`None`: the field is left out).
type Printed = (Packet, Option<Arc<str>>);

impl DecodeCache {
    fn get(&mut self, run_id: &str, field: &'static str, packet: &Packet) -> Option<Arc<str>> {
        let slot = match field {
            "payload" => 0,
            "output" => 1,
            _ => 2,
        };
        // An update that left the packet alone shares its text with the last run (a pointer
        // compare); a packet sent again unchanged compares equal.
        if let Some(Some((cached, text))) = self.entries.get(run_id).map(|e| &e[slot])
            && (Arc::ptr_eq(&cached.data, &packet.data) || cached.data == packet.data)
            && cached.data_type == packet.data_type
        {
            return text.clone();
        }
        // Plain JSON (metadata, mostly) often is already as it would be printed.
        let text =
            if &*packet.data_type == "application/json" && is_safe_canonical_json(&packet.data) {
                Some(packet.data.clone())
            } else {
                packet.canonical().map(|value| {
                    let mut out = Vec::new();
                    write_safe_json(&mut out, &value);
                    Arc::from(String::from_utf8(out).unwrap_or_default())
                })
            };
        let entry = match self.entries.get_mut(run_id) {
            Some(entry) => entry,
            None => self.entries.entry(run_id.to_string()).or_default(),
        };
        entry[slot] = Some((packet.clone(), text.clone()));
        text
    }
}

/// How long a stop signal waits for the printer to stop by itself before the process ends
/// without it.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The stop signal the watch thread has seen (0: none), so that a printer in the middle of a
/// long write stops at the next line instead of finishing it.
static STOP_SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// At most this much output goes out in one write, always ending at a line: the printer looks
/// for a stop signal between writes.
const WRITE_CHUNK: usize = 1 << 16;

#[cfg(unix)]
fn signal_name(signal: i32) -> &'static str {
    use signal_hook::consts::*;
    match signal {
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        SIGINT => "SIGINT",
        SIGQUIT => "SIGQUIT",
        SIGUSR1 => "SIGUSR1",
        SIGUSR2 => "SIGUSR2",
        SIGALRM => "SIGALRM",
        _ => "a signal",
    }
}

/// Ends the process on a stop signal even when the printer cannot: blocked writing to a pipe
/// nobody reads (or reads too slowly), the only worker never gets to see the signal, and a CI
/// job's `timeout` would wait for ever. The printer normally stops first, at a line's end,
/// with its own message; this waits [`STOP_GRACE`] for it. A thread that sleeps until a signal
/// comes: no cost otherwise. The signals are the ones [`crate::tui::Signals`] stops on.
#[cfg(unix)]
pub fn stop_on_signal_even_if_blocked() {
    use signal_hook::consts::*;
    let kinds = [SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM];
    let Ok(mut signals) = signal_hook::iterator::Signals::new(kinds) else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("stop-watch".into())
        .spawn(move || {
            let Some(signal) = signals.forever().next() else {
                return;
            };
            STOP_SIGNAL.store(signal, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(STOP_GRACE);
            // stderr may be the same unread pipe: the message must not hold up the exit.
            let name = signal_name(signal);
            let _ = std::thread::Builder::new().spawn(move || {
                eprintln!("trigger-tui: stopped by {name} (the output could not be written)");
            });
            std::thread::sleep(std::time::Duration::from_millis(100));
            std::process::exit(i32::from(exit::OK));
        });
    if let Err(e) = spawned {
        tracing::warn!("no stop watch for a blocked output: {e}");
    }
}

#[cfg(not(unix))]
pub fn stop_on_signal_even_if_blocked() {}

/// The stop signal's name, once one has come.
fn stop_requested() -> Option<&'static str> {
    match STOP_SIGNAL.load(std::sync::atomic::Ordering::SeqCst) {
        0 => None,
        #[cfg(unix)]
        signal => Some(signal_name(signal)),
        #[cfg(not(unix))]
        _ => Some("a signal"),
    }
}

/// What became of a write of whole lines.
enum Written {
    All,
    /// The reader went away (e.g. `head` had enough).
    Closed,
    /// A stop signal came; the output ends at a line.
    Stopped(&'static str),
}

/// Writes `lines` (whole lines) in chunks of about [`WRITE_CHUNK`] that end at a line (a
/// longer line goes whole), asking `stop` for a stop signal before each.
fn write_lines(
    out: &mut (dyn Write + Send),
    mut lines: &[u8],
    stop: impl Fn() -> Option<&'static str>,
) -> Written {
    while !lines.is_empty() {
        if let Some(name) = stop() {
            return Written::Stopped(name);
        }
        let end = if lines.len() <= WRITE_CHUNK {
            lines.len()
        } else {
            match lines[..WRITE_CHUNK].iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => lines[WRITE_CHUNK..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(lines.len(), |i| WRITE_CHUNK + i + 1),
            }
        };
        if out
            .write_all(&lines[..end])
            .and_then(|()| out.flush())
            .is_err()
        {
            return Written::Closed;
        }
        lines = &lines[end..];
    }
    Written::All
}

/// Prints runs as they arrive until the feed fails, a signal arrives, or (with
/// `exit_when_done`) the batch is done. Returns the exit code.
pub async fn run_ndjson(
    mut app: App,
    mut feed_rx: mpsc::Receiver<FeedEvent>,
    exit_when_done: bool,
    mut fetcher: PacketFetcher,
    out: &mut (dyn Write + Send),
) -> u8 {
    let mut signals = Signals::new();
    let mut decoded = DecodeCache::default();
    let mut lines = Vec::with_capacity(1 << 16);
    loop {
        let event = tokio::select! {
            event = feed_rx.recv() => event,
            name = signals.next() => {
                eprintln!("trigger-tui: stopped by {name}");
                return exit::OK;
            }
        };
        let Some(event) = event else {
            eprintln!("trigger-tui: error: the feed stopped unexpectedly");
            return exit::FAILURE;
        };
        match &event {
            FeedEvent::Runs(flush) => {
                lines.clear();
                for run in &flush.runs {
                    let resolved = fetcher.resolve(run).await;
                    let run = resolved.as_ref().unwrap_or(run);
                    run.write_sdk_json(&mut lines, &mut |field, packet| {
                        decoded.get(&run.id, field, packet)
                    });
                    lines.push(b'\n');
                }
                match write_lines(out, &lines, stop_requested) {
                    Written::All => {}
                    // stdout closed (e.g. piped into `head`): nothing more to do.
                    Written::Closed => return exit::OK,
                    Written::Stopped(name) => {
                        eprintln!("trigger-tui: stopped by {name}");
                        return exit::OK;
                    }
                }
            }
            FeedEvent::Failed {
                code: ExitReason::EndOfReplay,
                ..
            } => {
                if exit_when_done && !app.batch_done() {
                    // A script asked for the whole batch and the recording stops short of it.
                    eprintln!(
                        "trigger-tui: error: the recorded session ends before the batch is done"
                    );
                    return exit::FAILURE;
                }
                eprintln!("trigger-tui: end of the recorded session");
                return exit::OK;
            }
            FeedEvent::Failed { detail, code, .. } => {
                eprintln!("trigger-tui: error: {}", sanitize_line(detail));
                return exit::for_failure(*code);
            }
            // Reconnects are logged (to stderr) by the feed task itself.
            _ => {}
        }
        update(&mut app, Msg::Tick(Utc::now()));
        update(&mut app, Msg::Feed(event));
        if exit_when_done && app.batch_done() && app.batch_info.is_some() {
            return exit::OK;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize::is_invisible;

    /// Records each write.
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_go_out_in_chunks_that_end_at_a_line() {
        let mut lines = Vec::new();
        for i in 0..300 {
            lines.extend(format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(700)).as_bytes());
        }
        let long = format!("{{\"pad\":\"{}\"}}\n", "y".repeat(3 * WRITE_CHUNK));
        lines.extend(long.as_bytes());
        lines.extend(b"{\"last\":1}\n");
        let mut out = Writes(Vec::new());
        assert!(matches!(
            write_lines(&mut out, &lines, || None),
            Written::All
        ));
        assert!(out.0.len() > 3, "{} writes", out.0.len());
        assert_eq!(out.0.concat(), lines);
        for chunk in &out.0 {
            assert_eq!(chunk.last(), Some(&b'\n'));
            assert!(chunk.len() <= WRITE_CHUNK || chunk.ends_with(long.as_bytes()));
        }
    }

    #[test]
    fn a_stop_between_chunks_ends_the_output_at_a_line() {
        let lines: Vec<u8> = (0..1000)
            .flat_map(|i| format!("{{\"n\":{i:0200}}}\n").into_bytes())
            .collect();
        let mut out = Writes(Vec::new());
        let asked = std::cell::Cell::new(0);
        let stop = || {
            asked.set(asked.get() + 1);
            (asked.get() > 2).then_some("SIGTERM")
        };
        assert!(matches!(
            write_lines(&mut out, &lines, stop),
            Written::Stopped("SIGTERM")
        ));
        assert_eq!(out.0.len(), 2);
        let written = out.0.concat();
        assert!(written.len() < lines.len() && lines.starts_with(&written));
        assert_eq!(written.last(), Some(&b'\n'));
    }

    #[test]
    fn terminal_safe_json_escapes_c1_del_and_bidi_but_keeps_the_value() {
        let value = serde_json::json!({
            "t": "a\u{9b}31m\u{7f}b\u{202e}c\u{200b}d ü 数据 🚀 \u{61c}\u{e0041}",
            "e": "\u{1b}[2J"
        });
        let text = terminal_safe_json(&value);
        assert!(!text.chars().any(|c| c.is_control()), "{text}");
        assert!(!text.chars().any(is_invisible), "{text}");
        assert!(text.contains("ü 数据 🚀"));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
