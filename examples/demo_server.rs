//! Runs the embedded demo server by hand, e.g. to point the official SDK harness at it:
//!
//! ```sh
//! cargo run --example demo_server -- --port 8787 --runs 20 --speed 5 --seed 7
//! TRIGGER_API_URL=http://127.0.0.1:8787 TRIGGER_SECRET_KEY=tr_dev_demo_trigger_tui_local \
//!   node sdk-subscribe.mjs --batch <printed id> --final --expect-runs 20 --require-final
//! ```
//!
//! Flags: `--port` (default 8787), `--runs`, `--seed`, `--speed` (`inf` for no waiting),
//! `--hold-ms` (live hold), `--batch-id`, `--exit-after-done-ms` (stop that long after every
//! run is final; default: run until Ctrl-C), `--chaos-ms` (every that many ms, inject a fault
//! in turn: two 503s, three 429s, a handle rotation, one 500), `--faults` (random faults on the
//! realtime feeds: `none|drop|409|429|5xx|slow|truncate|duplicate`, comma-mixable),
//! `--fault-rate` (share of feed requests that get one, default 0.2), `--faults-for-ms` (switch
//! the faults off after that long; default: keep them on).
//!
//! It also prints `TRIGGER_ACCESS_TOKEN`, a public access token scoped to the batch, to use in
//! place of the secret key.

use std::net::SocketAddr;
use std::time::Duration;

use trigger_tui::server::{self, Control, FaultConfig, ServerConfig};

struct Args {
    port: u16,
    config: ServerConfig,
    exit_after_done_ms: Option<u64>,
    chaos_ms: Option<u64>,
    faults_for_ms: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut port = 8787u16;
    let mut config = ServerConfig::default();
    let mut exit_after = None;
    let mut chaos = None;
    let mut faults = "none".to_owned();
    let mut fault_rate = 0.2f64;
    let mut faults_for = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--port" => port = value.parse().map_err(|e| bad(&e))?,
            "--runs" => config.runs = value.parse().map_err(|e| bad(&e))?,
            "--seed" => config.seed = value.parse().map_err(|e| bad(&e))?,
            "--speed" if value == "inf" => config.speed = f64::INFINITY,
            "--speed" => config.speed = value.parse().map_err(|e| bad(&e))?,
            "--hold-ms" => {
                config.live_hold = Duration::from_millis(value.parse().map_err(|e| bad(&e))?);
            }
            "--batch-id" => config.batch_id = Some(value),
            "--exit-after-done-ms" => exit_after = Some(value.parse().map_err(|e| bad(&e))?),
            "--chaos-ms" => chaos = Some(value.parse().map_err(|e| bad(&e))?),
            "--faults" => faults = value,
            "--fault-rate" => fault_rate = value.parse().map_err(|e| bad(&e))?,
            "--faults-for-ms" => faults_for = Some(value.parse().map_err(|e| bad(&e))?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    config.faults = FaultConfig::parse(&faults, fault_rate).map_err(|e| e.to_string())?;
    Ok(Args {
        port,
        config,
        exit_after_done_ms: exit_after,
        chaos_ms: chaos,
        faults_for_ms: faults_for,
    })
}

/// Injects one fault after another, forever.
async fn chaos(control: Control, every: Duration) {
    for step in 0u64.. {
        tokio::time::sleep(every).await;
        match step % 4 {
            0 => control.fail_next(503, 2),
            1 => control.fail_next(429, 3),
            2 => control.rotate_handle(),
            _ => control.fail_next(500, 1),
        }
        tracing::info!(step, "chaos: injected a fault");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Args {
        port,
        config,
        exit_after_done_ms: exit_after,
        chaos_ms,
        faults_for_ms,
    } = parse_args()?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let runs = config.runs;
    let srv = server::start(config, SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("TRIGGER_API_URL={}", srv.base_url());
    println!("TRIGGER_SECRET_KEY={}", srv.secret_key());
    println!("BATCH_ID={}", srv.batch_id());
    let scope = format!("read:batch:{}", srv.batch_id());
    let token = srv.mint_token(&[&scope], Duration::from_secs(24 * 3_600));
    println!("TRIGGER_ACCESS_TOKEN={token}");
    let control = srv.control();
    eprintln!("faults: {}", control.faults());
    if let Some(ms) = chaos_ms.filter(|ms| *ms > 0) {
        tokio::spawn(chaos(control.clone(), Duration::from_millis(ms)));
    }
    if let Some(ms) = faults_for_ms {
        let control = control.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            control.set_faults(FaultConfig::none());
            eprintln!(
                "faults off after {ms} ms; injected {}",
                control.injected_faults().len()
            );
        });
    }
    let started = std::time::Instant::now();
    let done = async {
        control.wait_until_done().await;
        eprintln!(
            "all {runs} runs final after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        match exit_after {
            Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = done => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let mut injected = std::collections::BTreeMap::<String, usize>::new();
    for kind in control.injected_faults() {
        *injected.entry(kind.to_string()).or_default() += 1;
    }
    eprintln!("injected faults: {injected:?}");
    srv.shutdown().await;
    Ok(())
}
