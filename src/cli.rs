//! The command line (clap derive). Credentials are read from the environment only, never from a
//! flag, so they stay out of shell history and process lists.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  trigger-tui --demo
      Watch a simulated batch served by the built-in server (no account needed).
  TRIGGER_SECRET_KEY=tr_dev_... trigger-tui --batch batch_1234
      Watch a batch on Trigger.dev Cloud.
  TRIGGER_ACCESS_TOKEN=eyJ... trigger-tui --batch batch_1234 --api-url https://trigger.example.com
      Watch a batch on a self-hosted instance with a public access token.
  trigger-tui --batch batch_1234 --output ndjson --exit-when-done > runs.ndjson
      Print every run update as JSON lines, for scripts and CI.
  trigger-tui serve --port 8787 --runs 500 --seed 7
      Run only the embedded server, for tests and other clients.

Environment:
  TRIGGER_SECRET_KEY     secret API key (tr_dev_…, tr_prod_…)
  TRIGGER_ACCESS_TOKEN   public access token (a JWT with read:batch:<id>), used if no key is set
  TRIGGER_API_URL        API base URL (default https://api.trigger.dev)
  TRIGGER_TUI_LOG        log filter (default info,trigger_tui=debug)

In the dashboard, press ? for the keys.";

/// A terminal dashboard that watches a Trigger.dev batch live.
#[derive(Debug, Parser)]
#[command(name = "trigger-tui", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub watch: WatchArgs,
}

/// Options of the dashboard (the default command).
#[derive(Debug, Args, Clone)]
pub struct WatchArgs {
    /// The batch to watch (its id, batch_…).
    #[arg(long, value_name = "ID", conflicts_with = "demo")]
    pub batch: Option<String>,

    /// Watch a simulated batch from the built-in server on 127.0.0.1; needs no account.
    #[arg(long)]
    pub demo: bool,

    /// API base URL [env: TRIGGER_API_URL] [default: https://api.trigger.dev]
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,

    /// Preview branch name, sent as x-trigger-branch.
    #[arg(long, value_name = "NAME")]
    pub branch: Option<String>,

    /// What to show: the dashboard, or one JSON line per run update on stdout.
    #[arg(long, value_enum, default_value_t = OutputMode::Tui)]
    pub output: OutputMode,

    /// With --output ndjson: stop once every run of the batch has reached a final status.
    #[arg(long)]
    pub exit_when_done: bool,

    /// Columns the server should leave out (comma-separated), e.g. payload,output.
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub skip_columns: Vec<String>,

    /// Config file [default: the platform config dir, e.g. ~/.config/trigger-tui/config.toml].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Allow sending the credential over plain http:// to a host that is not this machine.
    #[arg(long)]
    pub allow_insecure_http: bool,

    /// Record every request and response of this session to FILE as JSON lines (credentials
    /// redacted), for bug reports and regression tests.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub record: Option<PathBuf>,

    /// Play a recorded session back through the same client code, with no network.
    #[arg(long, value_name = "FILE", conflicts_with = "demo")]
    pub replay: Option<PathBuf>,

    /// On exit, print key-to-frame and server-change-to-frame latency percentiles to stderr.
    #[arg(long)]
    pub latency_report: bool,

    /// Also write logs to this file.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    #[command(flatten)]
    pub sim: SimArgs,
}

/// How to print runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputMode {
    /// The interactive dashboard.
    Tui,
    /// One JSON object per run update, in the SDK's run shape.
    Ndjson,
}

/// Options of the simulated batch (for --demo and `serve`).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Simulated batch (with --demo, or `serve`)")]
pub struct SimArgs {
    /// Number of runs in the simulated batch.
    #[arg(long = "runs", value_name = "N", default_value_t = 100, value_parser = parse_runs)]
    pub runs: usize,

    /// Seed of the simulation: the same seed gives the same batch.
    #[arg(long = "seed", value_name = "N", default_value_t = 7)]
    pub seed: u64,

    /// Simulation speed: 1 is real time, 10 is ten times faster, `max` does not wait at all.
    #[arg(
        long = "speed",
        value_name = "X",
        default_value = "1",
        value_parser = parse_speed,
        allow_negative_numbers = true
    )]
    pub speed: f64,

    /// Faults the server injects into feed responses, comma-separated: none, drop, 409, 429,
    /// 5xx, slow, truncate, duplicate (deterministic for the seed).
    #[arg(long = "faults", value_name = "KINDS", default_value = "none")]
    pub faults: String,

    /// Share of feed responses that get a fault (0 to 1).
    #[arg(long = "fault-rate", value_name = "X", default_value_t = 0.1)]
    pub fault_rate: f64,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run only the embedded Trigger.dev-compatible server, which simulates one batch.
    Serve(ServeArgs),
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,

    /// Address to bind; loopback by default.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,

    #[command(flatten)]
    pub sim: SimArgs,
}

/// The simulated batch size: up to a million runs (more would only exhaust memory).
fn parse_runs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n <= 1_000_000 => Ok(n),
        Ok(_) => Err("at most 1000000 runs".into()),
        Err(_) => Err(format!("{text:?} is not a number of runs")),
    }
}

fn parse_speed(text: &str) -> Result<f64, String> {
    if text.eq_ignore_ascii_case("max") {
        return Ok(f64::INFINITY);
    }
    match text.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!(
            "{text:?} is not a speed: use a positive number or `max`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn demo_and_batch_conflict() {
        assert!(Cli::try_parse_from(["trigger-tui", "--demo", "--batch", "b"]).is_err());
    }

    #[test]
    fn serve_takes_port_runs_seed_and_speed() {
        let cli = Cli::try_parse_from([
            "trigger-tui",
            "serve",
            "--port",
            "8787",
            "--runs",
            "500",
            "--seed",
            "7",
            "--speed",
            "max",
        ])
        .unwrap();
        let Some(Command::Serve(args)) = cli.command else {
            panic!()
        };
        assert_eq!((args.port, args.sim.runs, args.sim.seed), (8787, 500, 7));
        assert!(args.sim.speed.is_infinite());
        assert!(parse_speed("0").is_err());
        assert!(parse_speed("fast").is_err());
    }

    #[test]
    fn skip_columns_split_on_commas() {
        let cli =
            Cli::try_parse_from(["trigger-tui", "--demo", "--skip-columns", "payload,output"])
                .unwrap();
        assert_eq!(cli.watch.skip_columns, vec!["payload", "output"]);
    }
}
