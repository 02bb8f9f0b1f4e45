//! The credential never leaks: the real binary, given a known secret key, is run against the
//! embedded server in `--output ndjson` mode with every log turned up (`TRIGGER_TUI_LOG=trace`),
//! a log file (`--log-file`) and a session recording (`--record`); once with the right key (the
//! batch runs to the end, offloaded packets are fetched) and once with a wrong one (401, exit 3).
//! Every channel (stdout, stderr, the log file, the record file) is searched for the key. The
//! config types' `Debug` output is searched too.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use clap::Parser;

use trigger_tui::cli::Cli;
use trigger_tui::client::FeedConfig;
use trigger_tui::config::{self, FileConfig, Secret};
use trigger_tui::server::{self, ServerConfig, ServerHandle};

const BIN: &str = env!("CARGO_BIN_EXE_trigger-tui");
const CANARY: &str = "tr_dev_SECRET_canary_12345";
/// A part of the canary that would still give it away if it were cut or split.
const CANARY_CORE: &str = "SECRET_canary";

async fn start(secret_key: &str) -> ServerHandle {
    let config = ServerConfig {
        runs: 12,
        seed: 3,
        speed: 60.0,
        secret_key: secret_key.to_string(),
        ..ServerConfig::default()
    };
    server::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap()
}

/// Runs the binary headless against `server` with the canary as its key, all logs on.
async fn run_ndjson(server: &ServerHandle, dir: &Path) -> Output {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args([
        "--api-url",
        &server.base_url(),
        "--batch",
        server.batch_id(),
        "--output",
        "ndjson",
        "--exit-when-done",
        "--log-file",
        dir.join("trace.log").to_str().unwrap(),
        "--record",
        dir.join("session.jsonl").to_str().unwrap(),
    ])
    .env_remove("TRIGGER_ACCESS_TOKEN")
    .env_remove("TRIGGER_API_URL")
    .env("TRIGGER_SECRET_KEY", CANARY)
    .env("TRIGGER_TUI_LOG", "trace")
    .env("RUST_BACKTRACE", "1")
    .env("HOME", dir)
    .env("XDG_CONFIG_HOME", dir)
    .stdin(std::process::Stdio::null());
    let run = tokio::task::spawn_blocking(move || cmd.output());
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the binary finished in time")
        .unwrap()
        .unwrap()
}

/// Every channel, by name, with its bytes.
fn channels(output: &Output, dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all = vec![
        ("stdout".to_string(), output.stdout.clone()),
        ("stderr".to_string(), output.stderr.clone()),
    ];
    for file in ["trace.log", "session.jsonl"] {
        let bytes =
            std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file} was not written: {e}"));
        all.push((file.to_string(), bytes));
    }
    all
}

fn assert_no_canary(channels: &[(String, Vec<u8>)]) {
    for (name, bytes) in channels {
        let text = String::from_utf8_lossy(bytes);
        for needle in [CANARY, CANARY_CORE] {
            if let Some(at) = text.find(needle) {
                let from = text[..at]
                    .char_indices()
                    .rev()
                    .nth(120)
                    .map_or(0, |(i, _)| i);
                panic!(
                    "the key leaks into {name}: …{}…",
                    &text[from..(at + needle.len() + 40).min(text.len())]
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_never_reaches_any_output_channel() {
    let server = start(CANARY).await;
    let dir = tempfile::tempdir().unwrap();
    let output = run_ndjson(&server, dir.path()).await;
    let all = channels(&output, dir.path());
    assert!(
        output.status.success(),
        "the batch ran to the end: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    // The run did use the key, and every channel saw a lot of traffic.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().any(|l| l.contains("\"isCompleted\":true")),
        "{stdout}"
    );
    let log = String::from_utf8_lossy(&all[2].1);
    assert!(
        log.lines().count() > 20 && log.contains("TRACE"),
        "the trace log is written: {} lines",
        log.lines().count()
    );
    let record = String::from_utf8_lossy(&all[3].1);
    assert!(
        record.contains("Bearer <redacted>"),
        "the record holds the (redacted) authorization header"
    );
    assert!(record.contains("/realtime/v1/batches/"));
    assert_no_canary(&all);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_is_not_echoed_either() {
    // The server expects another key: the canary is refused with 401.
    let server = start("tr_dev_some_other_key").await;
    let dir = tempfile::tempdir().unwrap();
    let output = run_ndjson(&server, dir.path()).await;
    assert_eq!(
        output.status.code(),
        Some(3),
        "401 exits 3: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let all = channels(&output, dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("401"), "the failure is explained: {stderr}");
    assert!(
        String::from_utf8_lossy(&all[3].1).contains("\"status\":401"),
        "the refusal is recorded"
    );
    assert_no_canary(&all);
    server.shutdown().await;
}

#[test]
fn config_types_never_print_the_key() {
    let args = Cli::try_parse_from(["trigger-tui", "--batch", "batch_1"]).unwrap();
    let env = |name: &str| (name == "TRIGGER_SECRET_KEY").then(|| CANARY.to_string());
    let settings = config::resolve(&args.watch, &FileConfig::default(), &env).unwrap();
    assert_eq!(
        settings.token.as_ref().map(Secret::expose),
        Some(CANARY),
        "the key was read"
    );

    let token_env = FileConfig {
        token_env: Some("MY_KEY".into()),
        ..FileConfig::default()
    };
    let from_file_env = config::resolve(&args.watch, &token_env, &|name: &str| {
        (name == "MY_KEY").then(|| CANARY.to_string())
    })
    .unwrap();

    let feed = FeedConfig {
        api_url: reqwest::Url::parse("https://api.trigger.dev").unwrap(),
        batch_id: "batch_1".into(),
        token: Secret::new(CANARY.into()),
        branch: None,
        skip_columns: vec![],
    };
    let jwt = Secret::new(format!("eyJhbGciOiJIUzI1NiJ9.{CANARY}.sig"));
    let printed = [
        format!("{settings:?}"),
        format!("{settings:#?}"),
        format!("{from_file_env:?}"),
        format!("{feed:?}"),
        format!("{feed:#?}"),
        format!("{:?}", Secret::new(CANARY.into())),
        format!("{}", Secret::new(CANARY.into())),
        format!("{jwt:?} {jwt}"),
        format!("{args:?}"),
    ];
    for text in &printed {
        assert!(
            !text.contains(CANARY) && !text.contains(CANARY_CORE),
            "leaks: {text}"
        );
    }
    assert!(printed[0].contains("redacted"), "{}", printed[0]);
}

/// `ServerConfig` derives `Debug` with its `secret_key` in the clear. Nothing logs it today, but
/// one `tracing::info!(?config)` would print the key every server accepts.
#[test]
fn server_config_debug_does_not_print_the_key() {
    let config = ServerConfig {
        secret_key: CANARY.into(),
        ..ServerConfig::default()
    };
    let text = format!("{config:?}");
    assert!(!text.contains(CANARY), "leaks: {text}");
}
