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

#[test]
fn replayed_demo_session_prints_what_the_live_session_printed() {
    let output = Command::new(env!("CARGO_BIN_EXE_trigger-tui"))
        .arg("--replay")
        .arg(fixture("demo-8-runs.jsonl"))
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
    let expected = std::fs::read_to_string(fixture("demo-8-runs.expected.ndjson")).unwrap();
    let actual = String::from_utf8(output.stdout).unwrap();
    assert_eq!(actual.lines().count(), expected.lines().count());
    assert!(actual == expected, "replay differs from the live session");
}

#[test]
fn recorded_sessions_hold_no_credential() {
    let text = std::fs::read_to_string(fixture("demo-8-runs.jsonl")).unwrap();
    assert!(text.contains("Bearer <redacted>"));
    assert!(!text.contains("tr_dev_"), "a key leaked into the recording");
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
