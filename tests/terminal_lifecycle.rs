//! Terminal lifecycle (CASES.md C14): the real binary in a real pseudo-terminal (portable-pty),
//! ended every way it can end, must leave the terminal as it found it.
//!
//! - a forced panic while drawing (`TRIGGER_TUI_DEBUG_PANIC=render`): non-zero exit (101), the
//!   alternate screen left (`ESC[?1049l`) and the cursor shown (`ESC[?25h`) after the last
//!   frame, the panic message printed after that, on the normal screen, and the PTY back in
//!   cooked mode (`stty -a` in the same PTY shows `icanon` and `echo`);
//! - a fatal feed error (a server answering 401): the dashboard shows it and waits; `q` exits
//!   with code 3 (README), restored, and the error printed after the restore;
//! - SIGTERM: exit 0, restored;
//! - the PTY closed from the master side (hang-up): the process ends within a few seconds,
//!   without panicking;
//! - resizing to 20x5 and back while it runs: no panic, the "too small" notice, then the
//!   dashboard again, and `q` still quits cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, ExitStatus, MasterPty, PtySize, SlavePty};

const BIN: &str = env!("CARGO_BIN_EXE_trigger-tui");
/// A guard against a hung test, not a performance bound (a debug build under load).
const PATIENCE: Duration = Duration::from_secs(30);

const ENTER_ALT: &[u8] = b"\x1b[?1049h";
const LEAVE_ALT: &[u8] = b"\x1b[?1049l";
const SHOW_CURSOR: &[u8] = b"\x1b[?25h";
const PASTE_ON: &[u8] = b"\x1b[?2004h";
const PASTE_OFF: &[u8] = b"\x1b[?2004l";

fn size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// The binary running in a fresh PTY, with everything it writes collected.
struct Pty {
    master: Option<Box<dyn MasterPty + Send>>,
    slave: Option<Box<dyn SlavePty + Send>>,
    writer: Option<Box<dyn Write + Send>>,
    child: Box<dyn Child + Send + Sync>,
    output: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    _home: tempfile::TempDir,
}

impl Pty {
    fn spawn(args: &[&str], env: &[(&str, &str)]) -> Pty {
        let pair = portable_pty::native_pty_system()
            .openpty(size(120, 40))
            .expect("open a PTY");
        let home = tempfile::tempdir().unwrap();
        let mut cmd = CommandBuilder::new(BIN);
        cmd.args(args);
        for name in [
            "TRIGGER_SECRET_KEY",
            "TRIGGER_ACCESS_TOKEN",
            "TRIGGER_API_URL",
            "TRIGGER_TUI_LOG",
            "TRIGGER_TUI_DEBUG_PANIC",
            "RUST_BACKTRACE",
            "RUST_LIB_BACKTRACE",
        ] {
            cmd.env_remove(name);
        }
        // No user config file can change the outcome.
        cmd.env("HOME", home.path());
        cmd.env("XDG_CONFIG_HOME", home.path());
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn trigger-tui");
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (output, stop) = (output.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while !stop.load(Ordering::SeqCst) {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => output.lock().unwrap().extend_from_slice(&buf[..n]),
                    }
                }
            })
        };
        Pty {
            master: Some(pair.master),
            slave: Some(pair.slave),
            writer: Some(writer),
            child,
            output,
            stop,
            reader: Some(reader),
            _home: home,
        }
    }

    fn output(&self) -> Vec<u8> {
        self.output.lock().unwrap().clone()
    }

    fn len(&self) -> usize {
        self.output.lock().unwrap().len()
    }

    /// Waits until `needle` appears at or after byte `from` of the output.
    fn wait_for(&mut self, needle: &str, from: usize) {
        let started = Instant::now();
        loop {
            let out = self.output();
            if out.len() > from && find(&out[from..], needle.as_bytes()).is_some() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader catch the last bytes.
                std::thread::sleep(Duration::from_millis(200));
                let out = self.output();
                if out.len() > from && find(&out[from..], needle.as_bytes()).is_some() {
                    return;
                }
                panic!(
                    "exited ({status:?}) before showing {needle:?}; output:\n{}",
                    String::from_utf8_lossy(&out)
                );
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{needle:?} not shown in {PATIENCE:?}; output:\n{}",
                String::from_utf8_lossy(&out)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        let writer = self.writer.as_mut().unwrap();
        writer.write_all(bytes).unwrap();
        writer.flush().unwrap();
    }

    fn resize(&self, cols: u16, rows: u16) {
        self.master
            .as_ref()
            .unwrap()
            .resize(size(cols, rows))
            .unwrap();
    }

    fn pid(&self) -> u32 {
        self.child.process_id().expect("a pid")
    }

    /// Waits for the process to end, at most `within`.
    fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(status) = self.child.try_wait().unwrap() {
                // What it wrote last is in flight: let the reader collect it.
                std::thread::sleep(Duration::from_millis(300));
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Runs `stty -a` in the same PTY (after the binary ended) and returns what it printed.
    fn stty(&mut self) -> String {
        let before = self.len();
        let mut cmd = CommandBuilder::new("stty");
        cmd.arg("-a");
        let mut stty = self
            .slave
            .as_ref()
            .unwrap()
            .spawn_command(cmd)
            .expect("spawn stty");
        stty.wait().unwrap();
        self.wait_for("icanon", before);
        String::from_utf8_lossy(&self.output()[before..]).into_owned()
    }

    /// Closes every handle on the master side: the terminal hangs up.
    fn hang_up(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The reader holds a copy of the master: it returns after its next read, and the
        // dashboard redraws often enough (the clock ticks) for that to come soon.
        let reader = self.reader.take().unwrap();
        let started = Instant::now();
        while !reader.is_finished() {
            assert!(started.elapsed() < PATIENCE, "the reader never returned");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(self.writer.take());
        drop(self.slave.take());
        drop(self.master.take());
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The terminal was handed back: after the last frame, the alternate screen is left and the
/// cursor shown again. Returns where the restore starts (the first `ESC[?1049l` after the
/// last `ESC[?1049h`).
fn assert_restored(out: &[u8]) -> usize {
    let text = String::from_utf8_lossy(out);
    let entered = rfind(out, ENTER_ALT).unwrap_or_else(|| panic!("never drew:\n{text}"));
    let left = entered
        + find(&out[entered..], LEAVE_ALT)
            .unwrap_or_else(|| panic!("the alternate screen was never left:\n{text}"));
    let shown = rfind(out, SHOW_CURSOR)
        .unwrap_or_else(|| panic!("the cursor was never shown again:\n{text}"));
    // The cursor is shown after the last frame hid it (ratatui hides it on every draw).
    let hidden = rfind(out, b"\x1b[?25l").unwrap_or(0);
    assert!(shown > hidden, "the cursor is left hidden");
    // Bracketed paste was turned on, and is off again before the screen is handed back (a
    // shell left in it reads every paste wrapped in ESC[200~ … ESC[201~).
    let on = rfind(out, PASTE_ON).unwrap_or_else(|| panic!("no bracketed paste:\n{text}"));
    let off = on
        + find(&out[on..], PASTE_OFF)
            .unwrap_or_else(|| panic!("bracketed paste is left on:\n{text}"));
    assert!(
        off < left,
        "bracketed paste is turned off after the screen is left"
    );
    // Nothing asks the terminal where the cursor is on the way out: the answer would arrive
    // on the shell's input once the program has gone.
    assert!(
        find(&out[entered..], b"\x1b[6n").is_none(),
        "a cursor position query, whose answer lands in the shell:\n{text}"
    );
    left
}

fn assert_cooked(stty: &str) {
    let flags: Vec<&str> = stty.split_whitespace().collect();
    for flag in ["icanon", "echo"] {
        assert!(
            flags.contains(&flag) && !flags.contains(&format!("-{flag}").as_str()),
            "the PTY is not back in cooked mode ({flag}): {stty}"
        );
    }
}

#[test]
fn a_panic_while_drawing_restores_the_terminal_and_exits_non_zero() {
    let mut pty = Pty::spawn(&["--demo"], &[("TRIGGER_TUI_DEBUG_PANIC", "render")]);
    let status = pty
        .wait_exit(PATIENCE)
        .expect("the panicking dashboard ended");
    assert!(!status.success(), "a panic exits non-zero: {status:?}");
    assert_eq!(status.exit_code(), 101, "{status:?}");
    let out = pty.output();
    let restored = assert_restored(&out);
    let message = find(&out, b"forced panic").unwrap_or_else(|| {
        panic!(
            "the panic message is not printed:\n{}",
            String::from_utf8_lossy(&out)
        )
    });
    assert!(
        message > restored,
        "the panic message is printed before the restore, on the alternate screen"
    );
    assert_cooked(&pty.stty());
}

/// After a panic the terminal is restored twice: by ratatui's panic hook (before the report is
/// printed) and again by `TerminalGuard::drop` while unwinding (after it). The second
/// `ESC[?1049l` arrives on the normal screen, where terminals (xterm, VTE, tmux) still restore
/// the cursor saved on entry (DECRC): the cursor jumps back above the report, and the shell
/// prompt then overwrites the panic message.
#[test]
fn a_panic_report_is_not_overwritten_by_a_second_restore() {
    let mut pty = Pty::spawn(&["--demo"], &[("TRIGGER_TUI_DEBUG_PANIC", "render")]);
    pty.wait_exit(PATIENCE)
        .expect("the panicking dashboard ended");
    let out = pty.output();
    let message = find(&out, b"forced panic").expect("the panic message");
    assert!(
        find(&out[message..], LEAVE_ALT).is_none(),
        "ESC[?1049l after the panic report: the cursor is restored to above it, and the next \
         output overwrites it:\n{}",
        String::from_utf8_lossy(&out[message..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_feed_error_is_shown_then_q_exits_3_restored() {
    // A server that rejects the key: 401 on the feed.
    let config = trigger_tui::server::ServerConfig {
        runs: 3,
        secret_key: "tr_dev_the_right_key".into(),
        ..trigger_tui::server::ServerConfig::default()
    };
    let server = trigger_tui::server::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let url = server.base_url();
    let batch = server.batch_id().to_string();
    let (status, out, stty) = tokio::task::spawn_blocking(move || {
        let mut pty = Pty::spawn(
            &["--api-url", &url, "--batch", &batch],
            &[("TRIGGER_SECRET_KEY", "tr_dev_a_wrong_key")],
        );
        // The dashboard shows the failure and waits for the user.
        pty.wait_for("401", 0);
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            matches!(pty.child.try_wait(), Ok(None)),
            "the dashboard quit by itself on a failed feed"
        );
        pty.send(b"q");
        let status = pty.wait_exit(PATIENCE).expect("q quits");
        let stty = pty.stty();
        (status, pty.output(), stty)
    })
    .await
    .unwrap();
    assert_eq!(status.exit_code(), 3, "401 exits 3 (README): {status:?}");
    let restored = assert_restored(&out);
    let message = rfind(&out, b"trigger-tui: error:").unwrap_or_else(|| {
        panic!(
            "the error is not printed again after the restore:\n{}",
            String::from_utf8_lossy(&out)
        )
    });
    assert!(
        message > restored,
        "the error is printed on the normal screen"
    );
    assert!(
        !String::from_utf8_lossy(&out).contains("tr_dev_a_wrong_key"),
        "the key is never shown"
    );
    assert_cooked(&stty);
    server.shutdown().await;
}

#[test]
fn sigterm_exits_0_and_restores() {
    let mut pty = Pty::spawn(&["--demo"], &[]);
    pty.wait_for("Runs (", 0);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pty.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = pty.wait_exit(PATIENCE).expect("SIGTERM ends the dashboard");
    assert!(status.success(), "SIGTERM exits 0: {status:?}");
    assert_restored(&pty.output());
    assert_cooked(&pty.stty());
}

/// A paste is text, never keys: a run id with a `q` in it, pasted into the table, does not
/// quit; pasted into the filter prompt it filters, as one line.
#[test]
fn pasted_text_does_not_act_as_keys() {
    let mut pty = Pty::spawn(&["--demo"], &[]);
    pty.wait_for("Runs (", 0);
    pty.send(b"\x1b[200~run_qq\x1b[201~");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        matches!(pty.child.try_wait(), Ok(None)),
        "a pasted q quit the dashboard"
    );
    let before = pty.len();
    pty.send(b"/");
    pty.send(b"\x1b[200~zz\nno such run\x1b[201~");
    pty.wait_for("zz no such run", before);
    pty.send(b"\r");
    pty.send(b"q");
    let status = pty.wait_exit(PATIENCE).expect("q quits");
    assert!(status.success(), "{status:?}");
    assert_restored(&pty.output());
    assert_cooked(&pty.stty());
}

#[test]
fn hang_up_ends_the_process_within_seconds_without_panicking() {
    let mut pty = Pty::spawn(&["--demo"], &[]);
    pty.wait_for("Runs (", 0);
    pty.hang_up();
    let status = pty
        .wait_exit(Duration::from_secs(5))
        .expect("the process ends within 5 s of the hang-up");
    assert_ne!(
        status.exit_code(),
        101,
        "the process panicked on the hang-up: {status:?}"
    );
}

#[test]
fn resizing_to_20x5_and_back_keeps_running() {
    let mut pty = Pty::spawn(&["--demo"], &[]);
    pty.wait_for("Runs (", 0);
    let before = pty.len();
    pty.resize(20, 5);
    pty.wait_for("too small", before);
    let before = pty.len();
    pty.resize(120, 40);
    pty.wait_for("Runs (", before);
    // A size of nothing at all, too.
    pty.resize(0, 0);
    std::thread::sleep(Duration::from_millis(300));
    let before = pty.len();
    pty.resize(100, 30);
    pty.wait_for("Runs (", before);
    assert!(
        matches!(pty.child.try_wait(), Ok(None)),
        "the dashboard died while resizing:\n{}",
        String::from_utf8_lossy(&pty.output())
    );
    pty.send(b"q");
    let status = pty.wait_exit(PATIENCE).expect("q quits");
    assert!(status.success(), "{status:?}");
    assert_restored(&pty.output());
    assert_cooked(&pty.stty());
}

/// The end of a replayed session is the end, not a failure: the header says so in a neutral
/// colour, `q` exits 0 with nothing printed as an error, and the terminal is restored.
#[test]
fn the_end_of_a_replay_is_not_a_failure_and_q_exits_0() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/demo-8-runs.jsonl"
    );
    let mut pty = Pty::spawn(&["--replay", fixture], &[]);
    pty.wait_for("end of the recorded session", 0);
    pty.send(b"q");
    let status = pty.wait_exit(PATIENCE).expect("q ends the dashboard");
    let out = pty.output();
    assert_eq!(status.exit_code(), 0, "{status:?}");
    assert_restored(&out);
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("error"), "{text}");
    assert!(!text.contains("✖ failed"), "{text}");
    assert_cooked(&pty.stty());
}
