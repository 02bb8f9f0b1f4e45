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
//! run is final; default: run until Ctrl-C).

use std::net::SocketAddr;
use std::time::Duration;

use trigger_tui::server::{self, ServerConfig};

fn parse_args() -> Result<(u16, ServerConfig, Option<u64>), String> {
    let mut port = 8787u16;
    let mut config = ServerConfig::default();
    let mut exit_after = None;
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
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok((port, config, exit_after))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (port, config, exit_after) = parse_args()?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();

    let runs = config.runs;
    let srv = server::start(config, SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("TRIGGER_API_URL={}", srv.base_url());
    println!("TRIGGER_SECRET_KEY={}", srv.secret_key());
    println!("BATCH_ID={}", srv.batch_id());
    let control = srv.control();
    let started = std::time::Instant::now();
    let done = async {
        control.wait_until_done().await;
        eprintln!("all {runs} runs final after {:.1} s", started.elapsed().as_secs_f64());
        match exit_after {
            Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = done => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    srv.shutdown().await;
    Ok(())
}
