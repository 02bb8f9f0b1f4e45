//! The feed client against the embedded server, over real HTTP on loopback: snapshot, live
//! updates, 409 must-refetch, 429/500 retries, 401, 404, a refused connection, and a server
//! that dies and comes back. The client's final state is compared with a fresh snapshot of the
//! server's truth.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::timeout;

use trigger_tui::app::{App, Msg, update};
use trigger_tui::client::{ExitReason, FeedConfig, FeedEvent, Transport, task};
use trigger_tui::config::Secret;
use trigger_tui::model::Run;
use trigger_tui::protocol::{Schema, parse_body};
use trigger_tui::server::{self, ServerConfig, ServerHandle};

/// A guard against a hung test, not a performance bound.
const PATIENCE: Duration = Duration::from_secs(120);

async fn start(runs: usize, speed: f64) -> ServerHandle {
    start_at(runs, speed, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
}

async fn start_at(runs: usize, speed: f64, addr: SocketAddr) -> ServerHandle {
    let config = ServerConfig {
        runs,
        speed,
        seed: 11,
        ..ServerConfig::default()
    };
    server::start(config, addr).await.expect("server starts")
}

fn feed_config(server: &ServerHandle) -> FeedConfig {
    FeedConfig {
        api_url: reqwest::Url::parse(&server.base_url()).unwrap(),
        batch_id: server.batch_id().to_string(),
        token: Secret::new(server.secret_key().to_string()),
        branch: None,
        skip_columns: vec![],
    }
}

/// Feeds events into an app until `done` says stop; returns the app and every event seen.
async fn drive(
    rx: &mut mpsc::Receiver<FeedEvent>,
    app: &mut App,
    events: &mut Vec<FeedEvent>,
    done: impl Fn(&App, &[FeedEvent]) -> bool,
) {
    timeout(PATIENCE, async {
        while let Some(event) = rx.recv().await {
            events.push(event.clone());
            update(app, Msg::Feed(event));
            if done(app, events) {
                return;
            }
        }
    })
    .await
    .expect("the feed reached the expected state in time");
}

/// The server's truth: a fresh snapshot request, decoded through the protocol.
async fn truth(server: &ServerHandle) -> BTreeMap<String, Run> {
    let url = format!(
        "{}/realtime/v1/batches/{}?offset=-1",
        server.base_url(),
        server.batch_id()
    );
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(server.secret_key())
        .header("x-trigger-electric-version", "1.0.0-beta.1")
        .header("x-trigger-api-version", "2025-07-16")
        .send()
        .await
        .unwrap();
    let schema = Schema::parse(response.headers()["electric-schema"].to_str().unwrap()).unwrap();
    let body = response.bytes().await.unwrap();
    let mut shape = trigger_tui::client::Shape::with_schema(schema);
    let flush = shape.apply(parse_body(&body).unwrap()).remove(0);
    flush
        .runs
        .into_iter()
        .map(|r| (r.id.clone(), (*r).clone()))
        .collect()
}

fn assert_matches_truth(app: &App, truth: &BTreeMap<String, Run>) {
    assert_eq!(app.runs.len(), truth.len(), "no run lost or duplicated");
    for run in &app.runs {
        let expected = truth
            .get(&run.id)
            .unwrap_or_else(|| panic!("{} not on the server", run.id));
        assert_eq!(
            run.to_sdk_json(),
            expected.to_sdk_json(),
            "run {} differs",
            run.id
        );
    }
}

fn new_app(server: &ServerHandle) -> App {
    App::new(server.batch_id(), "test", chrono::Utc::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_live_updates_converge_to_the_server() {
    let server = start(12, 40.0).await;
    let (tx, mut rx) = mpsc::channel(64);
    let feed = task::spawn(feed_config(&server), Transport::http().unwrap(), tx);
    let mut app = new_app(&server);
    let mut events = Vec::new();

    drive(&mut rx, &mut app, &mut events, |app, _| app.batch_done()).await;

    assert!(matches!(events.first(), Some(FeedEvent::Connecting)));
    assert!(events.iter().any(|e| matches!(e, FeedEvent::Live)));
    let flushes = events
        .iter()
        .filter(|e| matches!(e, FeedEvent::Runs(_)))
        .count();
    assert!(
        flushes > 3,
        "live updates arrived after the snapshot ({flushes} flushes)"
    );
    assert_eq!(app.batch_info.as_ref().and_then(|b| b.run_count), Some(12));
    assert!(app.runs.iter().all(|r| r.status.is_final()));
    assert_matches_truth(&app, &truth(&server).await);
    feed.abort();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_request_is_on_its_way_while_the_app_has_not_taken_the_last_answer() {
    // A server that moves only when told, with its first runs made.
    let config = ServerConfig {
        runs: 10,
        seed: 11,
        lockstep: true,
        ..ServerConfig::default()
    };
    let server = server::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let control = server.control();
    assert!(control.advance());
    let version = control.version();
    // Room for one event, and nobody reads: the task blocks handing on the snapshot.
    let (tx, rx) = mpsc::channel(1);
    let feed = task::spawn(feed_config(&server), Transport::http().unwrap(), tx);
    // The live request for what comes after the snapshot is held by the server all the same.
    timeout(PATIENCE, control.wait_for_live_requests(version, 1))
        .await
        .expect("the next request went out before the snapshot was taken");
    assert_eq!(rx.len(), 1, "the app has taken nothing yet");
    feed.abort();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn must_refetch_restarts_and_loses_no_run() {
    let server = start(10, 8.0).await;
    let control = server.control();
    let (tx, mut rx) = mpsc::channel(64);
    let feed = task::spawn(feed_config(&server), Transport::http().unwrap(), tx);
    let mut app = new_app(&server);
    let mut events = Vec::new();

    drive(&mut rx, &mut app, &mut events, |app, _| app.runs.len() >= 3).await;
    let old_handle = control.handle();
    control.rotate_handle();
    assert_ne!(control.handle(), old_handle);

    drive(&mut rx, &mut app, &mut events, |_, events| {
        events
            .iter()
            .any(|e| matches!(e, FeedEvent::Runs(f) if f.complete))
    })
    .await;
    drive(&mut rx, &mut app, &mut events, |app, _| app.batch_done()).await;
    assert_matches_truth(&app, &truth(&server).await);
    feed.abort();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_with_backoff() {
    let server = start(6, 20.0).await;
    let control = server.control();
    control.fail_next(429, 2);
    control.fail_next(500, 1);
    control.fail_next(503, 1);
    let (tx, mut rx) = mpsc::channel(64);
    let feed = task::spawn(feed_config(&server), Transport::http().unwrap(), tx);
    let mut app = new_app(&server);
    let mut events = Vec::new();

    drive(&mut rx, &mut app, &mut events, |app, _| app.batch_done()).await;

    let reasons: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            FeedEvent::Reconnecting {
                reason, attempt, ..
            } => Some(format!("{attempt}:{reason}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        vec!["1:HTTP 429", "2:HTTP 429", "3:HTTP 500", "4:HTTP 503"]
    );
    let delays: Vec<Duration> = events
        .iter()
        .filter_map(|e| match e {
            FeedEvent::Reconnecting { retry_in, .. } => Some(*retry_in),
            _ => None,
        })
        .collect();
    assert!(
        delays
            .iter()
            .all(|d| *d >= Duration::from_millis(100) && *d <= Duration::from_secs(10))
    );
    assert_matches_truth(&app, &truth(&server).await);
    feed.abort();
    server.shutdown().await;
}

async fn first_failure(config: FeedConfig) -> (String, String, ExitReason) {
    let (tx, mut rx) = mpsc::channel(64);
    let feed = task::spawn(config, Transport::http().unwrap(), tx);
    let failure = timeout(PATIENCE, async {
        while let Some(event) = rx.recv().await {
            if let FeedEvent::Failed {
                reason,
                detail,
                code,
            } = event
            {
                return (reason, detail, code);
            }
        }
        panic!("the feed ended without a failure");
    })
    .await
    .expect("a failure in time");
    feed.abort();
    failure
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_is_a_clear_401_and_never_echoes_the_key() {
    let server = start(3, 1.0).await;
    let mut config = feed_config(&server);
    config.token = Secret::new("tr_dev_wrong_key_12345".into());
    let (reason, detail, code) = first_failure(config).await;
    assert_eq!(code, ExitReason::Auth);
    assert!(reason.contains("401"), "{reason}");
    assert!(detail.contains("TRIGGER_SECRET_KEY"), "{detail}");
    assert!(!detail.contains("wrong_key_12345") && !reason.contains("wrong_key_12345"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_access_token_reads_the_feed_and_a_wrong_scope_is_a_clear_403() {
    let server = start(5, 40.0).await;
    let scope = format!("read:batch:{}", server.batch_id());
    let mut config = feed_config(&server);
    config.token = Secret::new(server.mint_token(&[scope.as_str()], Duration::from_secs(600)));
    let (tx, mut rx) = mpsc::channel(64);
    let feed = task::spawn(config.clone(), Transport::http().unwrap(), tx);
    let mut app = new_app(&server);
    drive(&mut rx, &mut app, &mut Vec::new(), |app, _| {
        app.batch_done()
    })
    .await;
    assert_matches_truth(&app, &truth(&server).await);
    feed.abort();

    config.token =
        Secret::new(server.mint_token(&["read:batch:batch_other"], Duration::from_secs(600)));
    let (reason, detail, code) = first_failure(config).await;
    assert_eq!(code, ExitReason::Auth);
    assert!(
        reason.contains("403") && detail.contains("read:batch:"),
        "{reason} / {detail}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_batch_is_a_clear_404() {
    let server = start(3, 1.0).await;
    let mut config = feed_config(&server);
    config.batch_id = "batch_doesnotexist".into();
    let (reason, detail, code) = first_failure(config).await;
    assert_eq!(code, ExitReason::NotFound);
    assert!(
        reason.contains("404") && detail.contains("batch_doesnotexist"),
        "{reason} / {detail}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_is_retried_not_fatal() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = FeedConfig {
        api_url: reqwest::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        batch_id: "batch_x".into(),
        token: Secret::new("tr_dev_x".into()),
        branch: None,
        skip_columns: vec![],
    };
    let (tx, mut rx) = mpsc::channel(64);
    let feed = task::spawn(config, Transport::http().unwrap(), tx);
    let mut attempts = Vec::new();
    timeout(PATIENCE, async {
        while let Some(event) = rx.recv().await {
            match event {
                FeedEvent::Reconnecting {
                    reason, attempt, ..
                } => {
                    assert!(reason.contains("connect"), "{reason}");
                    attempts.push(attempt);
                    if attempts.len() == 3 {
                        return;
                    }
                }
                FeedEvent::Failed { detail, .. } => {
                    panic!("refused connection was fatal: {detail}")
                }
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(attempts, vec![1, 2, 3]);
    feed.abort();
}

/// The binary, headless, pointed at servers it can never reach: each gives up after its
/// retries with one clear line on stderr and exit code 6 (README), instead of retrying for ever.
#[test]
fn a_server_that_never_answers_is_a_clear_error_with_exit_code_6() {
    let refused_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A plain TCP listener that accepts and says nothing TLS can read: https:// to it fails
    // the handshake.
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let plain_port = plain.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in plain.incoming().flatten() {
            use std::io::Write;
            let mut stream = stream;
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });
    // The three give up after the same backoff: run side by side.
    let cases = [
        (
            format!("http://127.0.0.1:{refused_port}"),
            "Connection refused",
        ),
        (
            format!("https://127.0.0.1:{plain_port}"),
            "TLS with 127.0.0.1 failed",
        ),
        (
            "https://trigger-tui-test.invalid".to_string(),
            "does not resolve",
        ),
    ];
    let outputs: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = cases
            .iter()
            .map(|(url, _)| scope.spawn(move || run_headless(url)))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for ((url, expected), output) in cases.iter().zip(outputs) {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(6), "{url}: {stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("trigger-tui: error: cannot reach the server")
                && last.contains(expected),
            "{url}: {last}"
        );
        assert!(!stderr.contains("tr_dev_never_shown"), "{stderr}");
    }
}

fn run_headless(url: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_trigger-tui"))
        .args(["--batch", "batch_x", "--output", "ndjson", "--api-url", url])
        .env("TRIGGER_SECRET_KEY", "tr_dev_never_shown")
        .env_remove("TRIGGER_ACCESS_TOKEN")
        .env("HOME", std::env::temp_dir())
        .env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("trigger-tui-no-config"),
        )
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_shows_reconnecting_then_catches_up() {
    let first = start(8, 10.0).await;
    let addr = first.addr();
    let mut config = feed_config(&first);
    let (tx, mut rx) = mpsc::channel(64);
    let mut app = new_app(&first);
    let mut events = Vec::new();
    config.batch_id = first.batch_id().to_string();
    let feed = task::spawn(config, Transport::http().unwrap(), tx);

    drive(&mut rx, &mut app, &mut events, |app, _| app.runs.len() >= 2).await;
    first.shutdown().await;
    drive(&mut rx, &mut app, &mut events, |_, events| {
        matches!(events.last(), Some(FeedEvent::Reconnecting { .. }))
    })
    .await;
    assert!(
        !app.runs.is_empty(),
        "runs stay on screen while reconnecting"
    );

    // The same seed on the same port: a new process would serve the same batch id.
    let second = start_at(8, 10.0, addr).await;
    drive(&mut rx, &mut app, &mut events, |app, _| app.batch_done()).await;
    assert_matches_truth(&app, &truth(&second).await);
    feed.abort();
    second.shutdown().await;
}
