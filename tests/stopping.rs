//! The script mode stops when told to, even while nothing reads its output: a stop signal
//! ends `--output ndjson` that is blocked writing to a full pipe (a CI job's `timeout` must be
//! able to end it), with exit code 0 and a line on stderr that says why.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_trigger-tui");
/// A guard against a hung test, not a performance bound (a debug build under load).
const PATIENCE: Duration = Duration::from_secs(30);

/// Whether some thread of the process sleeps in a pipe write (Linux's `wchan`).
fn blocked_writing(child: &Child) -> bool {
    let tasks = format!("/proc/{}/task", child.id());
    std::fs::read_dir(tasks)
        .into_iter()
        .flatten()
        .flatten()
        .any(|task| {
            std::fs::read_to_string(task.path().join("wchan"))
                .is_ok_and(|w| w.contains("pipe_write"))
        })
}

fn wait_exit(child: &mut Child) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn a_stop_signal_ends_ndjson_blocked_on_a_pipe_nobody_reads() {
    let mut child = Command::new(BIN)
        .args([
            "--demo", "--runs", "3000", "--speed", "max", "--output", "ndjson",
        ])
        .env_remove("TRIGGER_SECRET_KEY")
        .env_remove("TRIGGER_API_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte so the stream has begun, then read no more: the pipe fills.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"{");
    let start = Instant::now();
    while !blocked_writing(&child) {
        assert!(
            start.elapsed() < PATIENCE,
            "the printer never blocked on the full pipe"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_exit(&mut child);
    if status.is_none() {
        let _ = child.kill();
    }
    let status = status.expect("SIGTERM ends the process while its output is not read");
    assert!(status.success(), "a stop signal exits 0: {status:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("stopped by SIGTERM (standard output was not being read)"),
        "{stderr}"
    );
    drop(stdout);
}
