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

const DEMO: &[&str] = &[
    "--demo", "--runs", "3000", "--speed", "max", "--output", "ndjson",
];

/// Starts `command` with stdout piped, reads one byte so the stream has begun, then reads no
/// more until the process is blocked on the full pipe, and sends SIGTERM. Returns the exit
/// status (`None`: it did not end, and was killed) and the child.
fn stop_while_blocked(mut command: Command) -> (Option<std::process::ExitStatus>, Child) {
    let mut child = command
        .env_remove("TRIGGER_SECRET_KEY")
        .env_remove("TRIGGER_API_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
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
    drop(stdout);
    (status, child)
}

#[test]
fn a_stop_signal_ends_ndjson_blocked_on_a_pipe_nobody_reads() {
    let mut command = Command::new(BIN);
    command.args(DEMO).stderr(Stdio::piped());
    let (status, mut child) = stop_while_blocked(command);
    let status = status.expect("SIGTERM ends the process while its output is not read");
    assert!(status.success(), "a stop signal exits 0: {status:?}");
    let mut stderr = String::new();
    let mut pipe = child.stderr.take().unwrap();
    pipe.read_to_string(&mut stderr).unwrap();
    assert!(
        stderr.contains("stopped by SIGTERM (the output could not be written)"),
        "{stderr}"
    );
}

/// `2>&1` into the same unread pipe: the message cannot be written either, and must not hold
/// up the exit.
#[test]
fn a_stop_signal_ends_ndjson_whose_stderr_is_the_same_unread_pipe() {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(BIN)
        .args(DEMO);
    let (status, _) = stop_while_blocked(command);
    let status = status.expect("SIGTERM ends the process while stdout and stderr are not read");
    assert!(status.success(), "a stop signal exits 0: {status:?}");
}
