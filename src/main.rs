//! trigger-tui: parse the command line, install hooks and logging, pick a mode, run it.

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;
use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio::sync::mpsc;

use trigger_tui::app::{App, Connection};
use trigger_tui::cli::{Cli, Command, OutputMode, ServeArgs, SimArgs, WatchArgs};
use trigger_tui::client::{FeedConfig, Transport, task};
use trigger_tui::config::{self, Secret};
use trigger_tui::output::{self, exit};
use trigger_tui::tui::{self, Exit, Signals, TerminalGuard};
use trigger_tui::{logging, server};

/// The feed task builds runs on one thread and the printer or the UI drops them on another;
/// glibc's allocator spent a quarter of the headless client's time on that (perf, 10,000 runs).
/// jemalloc halves it and keeps peak memory where it was (mimalloc was as fast, with 1.7 times
/// the peak RSS).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Capacity of the feed → app channel: bounded, so a stalled UI slows the feed instead of
/// queueing without limit.
const FEED_CHANNEL: usize = 64;

fn main() -> ExitCode {
    // Hooks first, so the terminal guard's restore runs before any report is printed.
    if let Err(e) = color_eyre::install() {
        eprintln!("trigger-tui: could not install the error hooks: {e}");
    }
    let cli = Cli::parse();
    // One worker beside the main thread (the UI or the printer): the feed and the embedded
    // server run there. Two workers cost more in wake-ups than they gave on two cores: 1.3 s
    // against 1.1 s wall for a 10,000-run stream (`scripts/bench-vs-sdk.sh`).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trigger-tui: could not start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Some(Command::Serve(args)) => serve(args).await,
            None => watch(cli.watch).await,
        }
    });
    // Do not wait for lingering long-polls or the server's held requests.
    runtime.shutdown_background();
    match code {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("trigger-tui: error: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

fn server_config(sim: &SimArgs) -> Result<server::ServerConfig> {
    let faults = server::FaultConfig::parse(&sim.faults, sim.fault_rate).map_err(|e| {
        eyre!(
            "--faults {:?} --fault-rate {}: {e}",
            sim.faults,
            sim.fault_rate
        )
    })?;
    Ok(server::ServerConfig {
        runs: sim.runs,
        seed: sim.seed,
        speed: sim.speed,
        faults,
        ..server::ServerConfig::default()
    })
}

/// `trigger-tui serve`: the embedded server alone, until a signal.
async fn serve(args: ServeArgs) -> Result<u8> {
    logging::init(logging::Sink::Stderr, None).wrap_err("could not set up logging")?;
    let addr = SocketAddr::new(args.host, args.port);
    let config = match server_config(&args.sim) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("trigger-tui serve: {e}");
            return Ok(exit::USAGE);
        }
    };
    let handle = server::start(config, addr)
        .await
        .wrap_err_with(|| format!("could not listen on {addr}"))?;
    println!("trigger-tui serve: listening on {}", handle.base_url());
    println!("  batch:      {}", handle.batch_id());
    println!("  demo key:   {}", handle.secret_key());
    println!(
        "  runs:       {} (seed {}, speed {})",
        args.sim.runs, args.sim.seed, args.sim.speed
    );
    // A server bound to every interface is still reached here through loopback.
    let url = if args.host.is_unspecified() {
        format!("http://127.0.0.1:{}", handle.addr().port())
    } else {
        handle.base_url()
    };
    println!(
        "  watch it:   TRIGGER_API_URL={url} TRIGGER_SECRET_KEY={} trigger-tui --batch {}",
        handle.secret_key(),
        handle.batch_id()
    );
    let name = Signals::new().next().await;
    eprintln!("trigger-tui serve: stopping ({name})");
    handle.shutdown().await;
    Ok(exit::OK)
}

/// The dashboard (or headless output) on a batch, real or simulated.
async fn watch(args: WatchArgs) -> Result<u8> {
    let (file, warnings) = match config::load_file(args.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("trigger-tui: {e}");
            return Ok(exit::USAGE);
        }
    };
    // The demo talks to its own server with its own key: the environment's API URL and
    // credentials are not used, so they cannot stop it either.
    let env = |name: &str| {
        let demo_ignores = args.demo && name.starts_with("TRIGGER_") && name != "TRIGGER_TUI_LOG";
        if demo_ignores {
            None
        } else {
            std::env::var(name).ok()
        }
    };
    if args.exit_when_done && args.output != OutputMode::Ndjson {
        eprintln!("trigger-tui: --exit-when-done goes with --output ndjson");
        return Ok(exit::USAGE);
    }
    let settings = match config::resolve(&args, &file, &env) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("trigger-tui: {e}");
            return Ok(exit::USAGE);
        }
    };

    // The demo runs the embedded server in-process and talks to it over loopback HTTP, exactly
    // as it would to Trigger.dev.
    let mut demo = None;
    let mut replay = None;
    let (feed, source) = if args.demo {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let config = match server_config(&args.sim) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("trigger-tui: {e}");
                return Ok(exit::USAGE);
            }
        };
        let handle = server::start(config, addr)
            .await
            .wrap_err("could not start the embedded demo server")?;
        let api_url = reqwest::Url::parse(&handle.base_url()).wrap_err("bad demo server URL")?;
        let feed = FeedConfig {
            api_url,
            batch_id: handle.batch_id().to_string(),
            token: Secret::new(handle.secret_key().to_string()),
            branch: args.branch.clone(),
            skip_columns: args.skip_columns.clone(),
        };
        let source = format!("demo server {}", handle.addr());
        demo = Some(handle);
        (feed, source)
    } else if let Some(path) = &args.replay {
        let transport = match Transport::replay(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("trigger-tui: cannot replay {}: {e}", path.display());
                return Ok(exit::USAGE);
            }
        };
        let recorded = transport.recorded_batch_id();
        if let (Some(asked), Some(recorded)) = (&args.batch, &recorded)
            && asked != recorded
        {
            eprintln!(
                "trigger-tui: {} is a recording of {recorded}, not {asked}; leave out --batch",
                path.display()
            );
            return Ok(exit::USAGE);
        }
        let Some(batch_id) = args.batch.clone().or(recorded) else {
            eprintln!(
                "trigger-tui: {} records no batch feed; pass --batch",
                path.display()
            );
            return Ok(exit::USAGE);
        };
        replay = Some(transport);
        let feed = FeedConfig {
            api_url: settings.api_url.clone(),
            batch_id,
            token: Secret::new(String::new()),
            branch: args.branch.clone(),
            skip_columns: args.skip_columns.clone(),
        };
        (feed, format!("replay of {}", path.display()))
    } else {
        let Some(batch_id) = args.batch.clone().filter(|b| !b.trim().is_empty()) else {
            eprintln!(
                "trigger-tui: no batch to watch.\n  Pass --batch batch_… to watch a batch, or \
                 --demo to watch a simulated one.\n  See trigger-tui --help."
            );
            return Ok(exit::USAGE);
        };
        let Some(token) = settings.token.clone() else {
            eprintln!(
                "trigger-tui: no credential.\n  Set TRIGGER_SECRET_KEY to a secret key (tr_dev_…, \
                 tr_prod_…) or TRIGGER_ACCESS_TOKEN to a public access token with the \
                 read:batch:{batch_id} scope.\n  Or run trigger-tui --demo to try it without an \
                 account."
            );
            return Ok(exit::USAGE);
        };
        let feed = FeedConfig {
            api_url: settings.api_url.clone(),
            batch_id: batch_id.trim().to_string(),
            token,
            branch: args.branch.clone(),
            skip_columns: args.skip_columns.clone(),
        };
        let source = settings.api_url.host_str().unwrap_or("?").to_string();
        (feed, source)
    };

    if args.output == OutputMode::Tui
        && !(std::io::stdout().is_terminal() && std::io::stdin().is_terminal())
    {
        eprintln!(
            "trigger-tui: the dashboard needs a terminal (stdin and stdout), and this is not one.\n  \
             For scripts and CI use --output ndjson."
        );
        if let Some(handle) = demo {
            handle.shutdown().await;
        }
        return Ok(exit::USAGE);
    }
    let sink = match args.output {
        OutputMode::Tui => logging::Sink::LogPane,
        OutputMode::Ndjson => logging::Sink::Stderr,
    };
    if let Err(e) = logging::init(sink, args.log_file.as_deref()) {
        eprintln!("trigger-tui: cannot open the log file: {e}");
        return Ok(exit::USAGE);
    }
    for warning in &warnings {
        tracing::warn!("{warning}");
        if args.output == OutputMode::Tui {
            eprintln!("trigger-tui: warning: {warning}");
        }
    }
    if let Some(source) = &settings.token_source {
        tracing::info!("using the {} from {source}", feed.token.kind());
    }

    let mut app = App::new(feed.batch_id.clone(), source, chrono::Utc::now());
    app.colors = settings.colors.clone();
    let transport = match (replay, &args.record) {
        (Some(replay), _) => replay,
        (None, Some(path)) => match Transport::record(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("trigger-tui: cannot record to {}: {e}", path.display());
                return Ok(exit::USAGE);
            }
        },
        (None, None) => Transport::http().wrap_err("could not set up HTTP")?,
    };
    let (feed_tx, feed_rx) = mpsc::channel(FEED_CHANNEL);
    let fetcher = output::PacketFetcher::new(transport.clone(), feed.clone());
    let packets = tui::PacketSource {
        transport: transport.clone(),
        config: feed.clone(),
    };
    let feed_task = task::spawn(feed, transport, feed_tx);

    let code = match args.output {
        OutputMode::Ndjson => {
            if args.latency_report {
                eprintln!(
                    "trigger-tui: note: --latency-report times frames, and --output ndjson draws \
                     none; it is ignored"
                );
            }
            output::stop_on_signal_even_if_blocked();
            let exit_when_done = args.exit_when_done;
            let printer = async move {
                // A flush's lines go out in one write, not one per line (run_ndjson flushes
                // after each flush of the feed, so a pipe still sees every state as it arrives).
                let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
                let code =
                    output::run_ndjson(app, feed_rx, exit_when_done, fetcher, &mut stdout).await;
                let _ = std::io::Write::flush(&mut stdout);
                code
            };
            // The printer runs on the feed's worker thread, not on this one: handing each
            // answer to another thread cost a wake-up and a context switch per answer (6,400
            // voluntary switches against 1,600 for a 10,000-run stream, and a tenth of the CPU).
            tokio::spawn(printer).await.unwrap_or_else(|e| {
                eprintln!("trigger-tui: error: the printer stopped: {e}");
                exit::FAILURE
            })
        }
        OutputMode::Tui => {
            let mut guard = TerminalGuard::enter();
            let mut latency = trigger_tui::latency::Report::default();
            let started = std::time::Instant::now();
            let result = tui::run(
                &mut guard.terminal,
                &mut app,
                feed_rx,
                settings.tick_rate,
                packets,
                &mut latency,
            )
            .await;
            drop(guard);
            if args.latency_report {
                eprintln!("{}", latency.render(started.elapsed()));
            }
            match result.wrap_err("terminal error")? {
                Exit::Quit => match (&app.failure, &app.connection) {
                    (Some(reason), Connection::Failed { detail, .. }) => {
                        // The terminal is restored: say once more why the feed failed.
                        eprintln!("trigger-tui: error: {detail}");
                        exit::for_failure(*reason)
                    }
                    _ => exit::OK,
                },
                Exit::FeedLost => return Err(eyre!("the feed task stopped unexpectedly")),
            }
        }
    };

    feed_task.abort();
    if let Some(handle) = demo {
        handle.shutdown().await;
    }
    Ok(code)
}
