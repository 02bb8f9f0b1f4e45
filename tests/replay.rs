//! Recorded sessions under `tests/fixtures/` replayed through the real client code with no
//! network: the binary's `--output ndjson` must print exactly what it printed live.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::path::Path;
use std::process::Command;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Replays `name.jsonl` headless and checks it prints exactly `name.expected.ndjson`, what the
/// live session printed when it was recorded.
fn replay_prints_what_was_recorded(name: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_trigger-tui"))
        .arg("--replay")
        .arg(fixture(&format!("{name}.jsonl")))
        .args(["--output", "ndjson"])
        .env_remove("TRIGGER_SECRET_KEY")
        .env_remove("TRIGGER_ACCESS_TOKEN")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = std::fs::read_to_string(fixture(&format!("{name}.expected.ndjson"))).unwrap();
    let actual = String::from_utf8(output.stdout).unwrap();
    assert_eq!(actual.lines().count(), expected.lines().count(), "{name}");
    assert!(
        actual == expected,
        "{name}: replay differs from the live session"
    );
}

#[test]
fn replayed_demo_session_prints_what_the_live_session_printed() {
    replay_prints_what_was_recorded("demo-8-runs");
}

/// Recorded with `--demo --runs 6 --seed 11 --speed max --faults 409,429,5xx,truncate
/// --fault-rate 0.3`: must-refetches, rate limits, server errors and cut-off bodies, each
/// answered through the same retry and refetch code as live.
#[test]
fn replayed_session_under_faults_prints_what_the_live_session_printed() {
    replay_prints_what_was_recorded("faults-6-runs");
    let text = std::fs::read_to_string(fixture("faults-6-runs.jsonl")).unwrap();
    for status in ["\"status\":409", "\"status\":429", "\"status\":503"] {
        assert!(text.contains(status), "the recording has a {status} answer");
    }
}

/// Recorded with `--demo --runs 0 --exit-when-done`: an empty batch prints nothing and ends.
#[test]
fn replayed_empty_batch_prints_nothing_and_ends() {
    replay_prints_what_was_recorded("empty-batch");
}

#[test]
fn an_empty_batch_is_done_at_once_with_exit_when_done() {
    let output = Command::new(env!("CARGO_BIN_EXE_trigger-tui"))
        .args([
            "--demo",
            "--runs",
            "0",
            "--output",
            "ndjson",
            "--exit-when-done",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
}

#[test]
fn recorded_sessions_hold_no_credential() {
    for name in ["demo-8-runs", "faults-6-runs", "empty-batch"] {
        let text = std::fs::read_to_string(fixture(&format!("{name}.jsonl"))).unwrap();
        assert!(text.contains("Bearer <redacted>"), "{name}");
        assert!(!text.contains("tr_dev_"), "a key leaked into {name}");
    }
}

#[test]
fn a_missing_recording_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_trigger-tui"))
        .args([
            "--replay",
            "/nonexistent/session.jsonl",
            "--output",
            "ndjson",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot replay"));
}

#[test]
fn a_recording_of_another_batch_is_a_usage_error_naming_the_recorded_one() {
    let output = Command::new(env!("CARGO_BIN_EXE_trigger-tui"))
        .arg("--replay")
        .arg(fixture("demo-8-runs.jsonl"))
        .args(["--batch", "batch_other", "--output", "ndjson"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not batch_other"), "{stderr}");
}

/// A recording cut before the batch is done: `--exit-when-done` asked for the whole batch, so
/// the replay's end is an error (exit 1), not the batch's end.
#[test]
fn a_replay_that_ends_before_the_batch_is_done_fails_with_exit_when_done() {
    let full = std::fs::read_to_string(fixture("demo-8-runs.jsonl")).unwrap();
    let cut: String = full.lines().take(12).map(|l| format!("{l}\n")).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.jsonl");
    std::fs::write(&path, cut).unwrap();
    let replay = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_trigger-tui"))
            .arg("--replay")
            .arg(&path)
            .args(["--output", "ndjson"])
            .args(extra)
            .output()
            .unwrap()
    };
    let output = replay(&["--exit-when-done"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("ends before the batch is done"));
    // Without the flag, the end of the recording is just the end.
    assert_eq!(replay(&[]).status.code(), Some(0));
}
