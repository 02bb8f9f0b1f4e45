//! Convergence under faults: the real feed task, over loopback HTTP, against the embedded server
//! injecting every kind of fault (`drop`, `409`, `429`, `5xx`, `slow`, `truncate`, `duplicate`)
//! alone and in random mixes, over many seeds and batch sizes up to 1,000 runs.
//!
//! Each case: start the server with a fault configuration; fold every `FeedEvent` into an `App`
//! with `update`, as the dashboard does, until the server's batch is done; play out the rest of
//! the plan (`Control::advance`) and stop the faults (`set_faults(FaultConfig::none())`); then
//! the app must reach the server's truth and stay live:
//! - the same set of runs (nothing lost, nothing duplicated), each run equal, field by field,
//!   to the run decoded from a fresh snapshot request (no stale status, output, cost …);
//! - the fresh snapshot agrees with `Control::snapshot_rows()` (the store itself);
//! - the feed never gave up (`FeedEvent::Failed`) on a transient fault, and ends `Live`.
//!
//! Case counts are kept small for CI (`CONVERGENCE_CASES`, default 12, plus one case per fault
//! kind and one 1,000-run case with every kind). `scripts/soak-convergence.sh` runs many more.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use tokio::sync::mpsc;

use trigger_tui::app::{App, Connection, Msg, update};
use trigger_tui::client::{FeedConfig, FeedEvent, Transport, task};
use trigger_tui::config::Secret;
use trigger_tui::model::Run;
use trigger_tui::protocol::{Schema, parse_body};
use trigger_tui::server::{self, FaultConfig, FaultKind, ServerConfig, ServerHandle};

/// How long the simulation may take, faults and all, before the case is a failure.
const SIM_PATIENCE: Duration = Duration::from_secs(120);
/// How long the client may take to reach the truth once the faults stop. The longest wait a
/// client may be in is the 409-storm backoff (up to 30 s), then one held live request.
const CONVERGE_PATIENCE: Duration = Duration::from_secs(90);

/// One case: a batch and the faults injected while it runs.
#[derive(Debug, Clone)]
struct Scenario {
    seed: u64,
    runs: usize,
    kinds: Vec<FaultKind>,
    rate: f64,
    /// Sim time per wall time: the plan lasts about 70 s of sim time.
    speed: f64,
}

/// What a case saw, for the log line.
#[derive(Debug, Default)]
struct Report {
    /// The newest `updatedAt` the app has shown for each run: it must never go back (a stale
    /// response applied over a newer one), not even for a moment.
    newest: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>,
    injected: BTreeMap<FaultKind, usize>,
    reconnects: usize,
    refetches: usize,
    flushes: usize,
    sim: Duration,
    converge: Duration,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        any::<u64>(),
        prop_oneof![3 => 1usize..=60, 2 => 61usize..=300, 1 => 301usize..=1_000],
        proptest::sample::subsequence(FaultKind::ALL.to_vec(), 1..=FaultKind::ALL.len()),
        0.1f64..0.6,
        10.0f64..60.0,
    )
        .prop_map(|(seed, runs, kinds, rate, speed)| Scenario {
            seed,
            runs,
            kinds,
            rate,
            speed,
        })
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

/// The server's truth: a fresh snapshot request (faults are off by then), decoded through the
/// protocol; and the same rows read from the store, decoded with the snapshot's schema. The two
/// must agree.
async fn truth(server: &ServerHandle) -> Result<BTreeMap<String, Run>, String> {
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
        .map_err(|e| format!("truth request: {e}"))?;
    if response.status() != 200 {
        return Err(format!("truth request: HTTP {}", response.status()));
    }
    let schema = Schema::parse(
        response.headers()["electric-schema"]
            .to_str()
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    let mut shape = trigger_tui::client::Shape::with_schema(schema.clone());
    let mut flushes = shape.apply(parse_body(&body).map_err(|e| e.to_string())?);
    if flushes.len() != 1 {
        return Err(format!("the snapshot made {} flushes", flushes.len()));
    }
    let truth: BTreeMap<String, Run> = flushes
        .remove(0)
        .runs
        .into_iter()
        .map(|r| (r.id.clone(), (*r).clone()))
        .collect();

    let store: BTreeMap<String, Run> = server
        .control()
        .snapshot_rows()
        .into_iter()
        .map(|row| {
            let row: Vec<(String, Option<String>)> = row
                .as_object()
                .expect("a row is an object")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string)))
                .collect();
            let run = Run::from_row(row.as_slice(), &schema);
            (run.id.clone(), run)
        })
        .collect();
    if store != truth {
        return Err(format!(
            "the snapshot ({} runs) and the store ({} runs) disagree",
            truth.len(),
            store.len()
        ));
    }
    Ok(truth)
}

/// Where the app differs from the truth; empty when it matches.
fn differences(app: &App, truth: &BTreeMap<String, Run>) -> Vec<String> {
    let mut out = Vec::new();
    if app.runs.len() != truth.len() {
        out.push(format!(
            "{} runs in the app, {} on the server",
            app.runs.len(),
            truth.len()
        ));
    }
    if app.summary.total() != app.runs.len() {
        out.push(format!(
            "the summary counts {} runs, the table holds {}",
            app.summary.total(),
            app.runs.len()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for run in &app.runs {
        if !seen.insert(run.id.as_str()) {
            out.push(format!("{} twice in the table", run.id));
        }
        match truth.get(&run.id) {
            None => out.push(format!("{} is not on the server", run.id)),
            Some(expected) if expected != run => out.push(format!(
                "{} differs:\n  app:    {}\n  server: {}",
                run.id,
                run.to_sdk_json(),
                expected.to_sdk_json()
            )),
            Some(_) => {}
        }
    }
    for id in truth.keys() {
        if app.run(id).is_none() {
            out.push(format!("{id} is missing from the app"));
        }
    }
    out
}

/// Applies one event; a feed that gives up on a transient fault fails the case.
fn apply(app: &mut App, report: &mut Report, event: FeedEvent) -> Result<(), String> {
    match &event {
        FeedEvent::Failed { detail, .. } => {
            return Err(format!("the feed gave up on a transient fault: {detail}"));
        }
        FeedEvent::Reconnecting { reason, .. } => {
            report.reconnects += 1;
            if reason.contains("409") {
                report.refetches += 1;
            }
        }
        FeedEvent::Runs(flush) => {
            report.flushes += 1;
            if flush.complete {
                report.refetches += 1;
            }
        }
        _ => {}
    }
    update(app, Msg::Feed(event));
    // At every step: one row per run, and no run older than the app already showed.
    if app.summary.total() != app.runs.len() {
        return Err(format!(
            "the summary counts {} runs, the table holds {}",
            app.summary.total(),
            app.runs.len()
        ));
    }
    for run in &app.runs {
        let Some(at) = run.updated_at else { continue };
        let newest = report.newest.entry(run.id.clone()).or_insert(at);
        if at < *newest {
            return Err(format!(
                "{} went back from the state of {newest} to that of {at}: a stale response",
                run.id
            ));
        }
        *newest = at;
    }
    Ok(())
}

/// Receives events for up to `wait`; `Ok(false)` when none came.
async fn pump(
    rx: &mut mpsc::Receiver<FeedEvent>,
    app: &mut App,
    report: &mut Report,
    wait: Duration,
) -> Result<(), String> {
    match tokio::time::timeout(wait, rx.recv()).await {
        Ok(Some(event)) => apply(app, report, event)?,
        Ok(None) => return Err("the feed task ended".into()),
        Err(_) => return Ok(()),
    }
    // And whatever else is queued, as the dashboard's loop does before drawing.
    while let Ok(event) = rx.try_recv() {
        apply(app, report, event)?;
    }
    Ok(())
}

async fn converge(s: &Scenario) -> Result<Report, String> {
    let faults = FaultConfig::new(s.kinds.iter().copied(), s.rate).map_err(|e| e.to_string())?;
    let config = ServerConfig {
        runs: s.runs,
        seed: s.seed,
        speed: s.speed,
        // Short holds, so that held requests time out and are answered bare, too.
        live_hold: Duration::from_secs(2),
        faults,
        ..ServerConfig::default()
    };
    let server = server::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .map_err(|e| format!("server: {e}"))?;
    let control = server.control();
    let (tx, mut rx) = mpsc::channel(64);
    let feed = task::spawn(feed_config(&server), Transport::http().unwrap(), tx);
    let mut app = App::new(server.batch_id(), "convergence", chrono::Utc::now());
    let mut report = Report::default();

    let result = async {
        // While the batch runs, with faults.
        let started = Instant::now();
        while !control.is_done() {
            if started.elapsed() > SIM_PATIENCE {
                return Err(format!("the batch was not done after {SIM_PATIENCE:?}"));
            }
            pump(&mut rx, &mut app, &mut report, Duration::from_millis(50)).await?;
        }
        // The rest of the plan (late metadata, costs) at once, then no more faults.
        while control.advance() {}
        control.set_faults(FaultConfig::none());
        report.sim = started.elapsed();
        for kind in control.injected_faults() {
            *report.injected.entry(kind).or_default() += 1;
        }
        let truth = truth(&server).await?;
        if truth.len() != s.runs {
            return Err(format!("the server has {} of {} runs", truth.len(), s.runs));
        }

        // Without faults the client must reach the truth, and say it is live.
        let stopped = Instant::now();
        loop {
            let diffs = differences(&app, &truth);
            if diffs.is_empty() && app.connection == Connection::Live {
                break;
            }
            if stopped.elapsed() > CONVERGE_PATIENCE {
                let shown: Vec<&String> = diffs.iter().take(6).collect();
                return Err(format!(
                    "{CONVERGE_PATIENCE:?} after the faults stopped the app still differs from \
                     the server ({} differences; connection {:?}): {shown:#?}",
                    diffs.len(),
                    app.connection
                ));
            }
            pump(&mut rx, &mut app, &mut report, Duration::from_millis(100)).await?;
        }
        report.converge = stopped.elapsed();
        if !app.batch_done() {
            return Err("the app does not consider the finished batch done".into());
        }
        Ok(())
    }
    .await;

    feed.abort();
    server.shutdown().await;
    result.map(|()| report)
}

/// Runs one scenario on its own runtime (two workers, like the binary) and logs what it saw.
fn run_case(s: &Scenario) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let result = runtime.block_on(converge(s));
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(report) => {
            eprintln!(
                "converged: seed {} runs {} faults {:?} at {:.2} speed {:.0}: injected {:?}, \
                 {} reconnects, {} refetches, {} flushes; sim {:.1?}, converged {:.1?} after \
                 the faults stopped; {:.1?} in all",
                s.seed,
                s.runs,
                s.kinds.iter().map(|k| k.name()).collect::<Vec<_>>(),
                s.rate,
                s.speed,
                report
                    .injected
                    .iter()
                    .map(|(k, n)| format!("{k}×{n}"))
                    .collect::<Vec<_>>(),
                report.reconnects,
                report.refetches,
                report.flushes,
                report.sim,
                report.converge,
                started.elapsed()
            );
            Ok(())
        }
        Err(e) => Err(TestCaseError::fail(format!("{s:?}: {e}"))),
    }
}

fn cases() -> u32 {
    std::env::var("CONVERGENCE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12)
}

#[test]
fn random_fault_mixes_converge_to_the_server() {
    let config = Config {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/convergence.txt"
        )))),
        source_file: Some(file!()),
        // A case takes seconds and a failure is about timing as much as input: shrink little.
        max_shrink_iters: 4,
        ..Config::default()
    };
    let started = Instant::now();
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&scenario(), |s| run_case(&s)) {
        panic!("{e}");
    }
    eprintln!(
        "random fault mixes: {} cases converged in {:.1?}",
        cases(),
        started.elapsed()
    );
}

#[test]
fn every_fault_kind_alone_converges() {
    for (i, kind) in FaultKind::ALL.into_iter().enumerate() {
        let s = Scenario {
            seed: 100 + i as u64,
            runs: 80,
            kinds: vec![kind],
            rate: 0.35,
            speed: 20.0,
        };
        run_case(&s).unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
}

#[test]
fn a_thousand_runs_under_every_fault_converge() {
    let s = Scenario {
        seed: 1_000,
        runs: 1_000,
        kinds: FaultKind::ALL.to_vec(),
        rate: 0.3,
        speed: 15.0,
    };
    run_case(&s).unwrap_or_else(|e| panic!("{e}"));
}
