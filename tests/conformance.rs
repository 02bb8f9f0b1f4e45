//! The official SDK is the referee: run `@trigger.dev/sdk` 4.8.3 (the harness in
//! `../shared/conformance`) and `trigger-tui --output ndjson` side by side against the embedded
//! server, for several seeds and batch sizes and for every fault mode of the server, and check:
//!
//! 1. both exit cleanly, and the SDK raised no error (no missing header, no shape it could not
//!    parse: its harness exits non-zero and says so on stderr);
//! 2. every run's **final** state is equal field by field (the harness's own `compare.mjs`);
//! 3. the **sequence**: every state the SDK yields for a run is a state our client yields too,
//!    in the same order.
//!
//! Sequences only mean something if both clients see every change group on its own, which
//! timing does not guarantee (the SDK merges what one response carries). So most cases run the
//! server in lockstep ([`ServerConfig::lockstep`]): the test applies one change group, waits
//! until every client holds a live request at the new offset (it has consumed the group and
//! asks for more), and repeats until every run is final. Cases with `Pace::Speed` let the sim
//! run on its clock instead (real timing, several groups per response) and compare final states
//! only.
//!
//! Needs Node.js 20+. The harness's dependencies come from `CONFORMANCE_DIR` (a copy of the
//! harness with `npm ci` done) or are installed once into a scratch copy in the temp dir (keyed
//! by the harness's contents, so later runs reuse it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use trigger_tui::server::{self, Control, FaultConfig, FaultKind, ServerConfig, ServerHandle};

// --------------------------------------------------------------------------------------------
// The SDK harness.

/// The harness directory with its `node_modules`, installed at most once per test process.
fn harness_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(install_harness)
}

fn install_harness() -> PathBuf {
    if let Ok(dir) = std::env::var("CONFORMANCE_DIR") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("node_modules/@trigger.dev/sdk").exists(),
            "CONFORMANCE_DIR={} has no node_modules; run `npm ci` there",
            dir.display()
        );
        return dir;
    }
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance");
    assert!(
        shared.exists(),
        "the SDK harness is missing at {}",
        shared.display()
    );
    // The shared folder may be read-only and a test must not write into it: install into a
    // scratch copy named after the harness's contents, reused by later runs.
    let mut files: Vec<PathBuf> = std::fs::read_dir(&shared)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut key = Fnv::default();
    for file in &files {
        key.write(file.file_name().unwrap().as_encoded_bytes());
        key.write(&std::fs::read(file).unwrap());
    }
    let cached = std::env::temp_dir().join(format!("trigger-tui-conformance-{:016x}", key.0));
    let marker = |dir: &Path| dir.join(".npm-ci-done");
    if marker(&cached).exists() {
        return cached;
    }
    let scratch = std::env::temp_dir().join(format!(
        "trigger-tui-conformance-{:016x}-{}",
        key.0,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    for file in &files {
        let target = scratch.join(file.file_name().unwrap());
        std::fs::copy(file, &target).unwrap();
        let mut perms = std::fs::metadata(&target).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&target, perms).unwrap();
    }
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&scratch)
        .output()
        .expect("npm runs (Node.js 20+ is needed for the conformance test)");
    assert!(
        output.status.success(),
        "npm ci failed in {}:\n{}",
        scratch.display(),
        tail(&String::from_utf8_lossy(&output.stderr), 30)
    );
    std::fs::write(marker(&scratch), "").unwrap();
    // Publish atomically; if another test process won the race, use its copy.
    match std::fs::rename(&scratch, &cached) {
        Ok(()) => cached,
        Err(_) if marker(&cached).exists() => {
            let _ = std::fs::remove_dir_all(&scratch);
            cached
        }
        Err(_) => scratch,
    }
}

/// FNV-1a, a hash that stays the same across Rust versions (for the cache key).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// --------------------------------------------------------------------------------------------
// Client processes.

/// A client process whose stdout and stderr go to files (so it never blocks on a full pipe,
/// and both are there to read when something fails). Killed when dropped.
struct Client {
    name: &'static str,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    status: Option<ExitStatus>,
}

impl Client {
    fn spawn(name: &'static str, command: &mut Command, dir: &Path) -> Client {
        let stdout = dir.join(format!("{name}.ndjson"));
        let stderr = dir.join(format!("{name}.stderr"));
        let child = command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Client {
            name,
            child,
            stdout,
            stderr,
            status: None,
        }
    }

    /// The exit status once the process has ended.
    fn poll(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
        }
        self.status
    }

    async fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.poll() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// What to show when something fails: how it ended and its last stderr lines.
    fn report(&mut self) -> String {
        let status = match self.poll() {
            Some(status) => status.to_string(),
            None => "still running".to_owned(),
        };
        let text = self.stderr_text();
        let lines: Vec<&str> = text.lines().collect();
        // The last lines, or from the harness's ERROR line on when that is earlier (an SDK
        // stack trace runs over many lines).
        let mut from = lines.len().saturating_sub(12);
        if let Some(error) = lines
            .iter()
            .rposition(|l| l.starts_with("sdk-subscribe: ERROR"))
        {
            from = from.min(error).max(lines.len().saturating_sub(40));
        }
        format!(
            "--- {} ({status}), last stderr lines:\n{}\n",
            self.name,
            lines[from..].join("\n")
        )
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The SDK harness streaming every state it yields (no `--final`), with a trace of every
/// realtime exchange on stderr for failure reports.
fn sdk_command(server: &ServerHandle, runs: usize) -> Command {
    let mut command = Command::new("node");
    command
        .arg("sdk-subscribe.mjs")
        .args(["--batch", server.batch_id()])
        .args(["--expect-runs", &runs.to_string(), "--require-final"])
        .args(["--idle-ms", "500", "--max-ms", "600000", "--trace"])
        .env("TRIGGER_API_URL", server.base_url())
        .env("TRIGGER_SECRET_KEY", server.secret_key())
        .env_remove("TRIGGER_ACCESS_TOKEN")
        .current_dir(harness_dir());
    command
}

/// `trigger-tui --output ndjson`: one line per run per flush (every yielded state).
fn ours_command(server: &ServerHandle) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trigger-tui"));
    command
        .args(["--batch", server.batch_id()])
        .args(["--output", "ndjson", "--exit-when-done"])
        .env("TRIGGER_API_URL", server.base_url())
        .env("TRIGGER_SECRET_KEY", server.secret_key())
        .env_remove("TRIGGER_ACCESS_TOKEN");
    command
}

// --------------------------------------------------------------------------------------------
// Cases.

/// How the simulation moves.
#[derive(Debug, Clone, Copy)]
enum Pace {
    /// One change group per step, every client caught up before the next ([`step_through`]).
    Lockstep,
    /// On the sim clock at this speed: real timing, final states only.
    Speed(f64),
    /// The whole plan, then [`Case::edits`], are applied before the clients start: each reads
    /// one finished table (for rows the simulation never makes).
    Finished,
}

/// Columns set on one run (0-based index) with [`Control::set_cells`]: wire name and text.
type Edit = (usize, &'static [(&'static str, Option<&'static str>)]);

#[derive(Debug, Clone, Copy)]
struct Case {
    runs: usize,
    seed: u64,
    pace: Pace,
    /// Fault kinds in the CLI form (`none`, `409`, `drop,5xx`, ...).
    faults: &'static str,
    rate: f64,
    /// With [`Pace::Finished`]: rows to change once the plan is done.
    edits: &'static [Edit],
}

impl Case {
    fn lockstep(runs: usize, seed: u64) -> Case {
        Case {
            runs,
            seed,
            pace: Pace::Lockstep,
            faults: "none",
            rate: 0.0,
            edits: &[],
        }
    }

    fn finished(runs: usize, seed: u64, edits: &'static [Edit]) -> Case {
        Case {
            pace: Pace::Finished,
            edits,
            ..Case::lockstep(runs, seed)
        }
    }

    fn speed(runs: usize, seed: u64, speed: f64) -> Case {
        Case {
            pace: Pace::Speed(speed),
            ..Case::lockstep(runs, seed)
        }
    }

    fn faults(self, faults: &'static str, rate: f64) -> Case {
        Case {
            faults,
            rate,
            ..self
        }
    }

    /// E.g. `30 runs, seed 4, Lockstep, faults 409 at rate 0.2`.
    fn describe(&self) -> String {
        let mut text = format!(
            "{} runs, seed {}, {:?}, faults {} at rate {}",
            self.runs, self.seed, self.pace, self.faults, self.rate
        );
        if !self.edits.is_empty() {
            let runs: Vec<String> = self.edits.iter().map(|(run, _)| run.to_string()).collect();
            let _ = write!(text, ", edited runs (0-based) {}", runs.join(" "));
        }
        text
    }

    fn server_config(&self, faults: FaultConfig) -> ServerConfig {
        let (speed, lockstep) = match self.pace {
            Pace::Lockstep | Pace::Finished => (1.0, true),
            Pace::Speed(speed) => (speed, false),
        };
        ServerConfig {
            runs: self.runs,
            seed: self.seed,
            speed,
            lockstep,
            faults,
            ..ServerConfig::default()
        }
    }
}

/// Fields the SDK does not yield (it documents `number` and `ttl` but drops them; we print
/// them): ignored in every comparison.
const NOT_FROM_THE_SDK: [&str; 2] = ["number", "ttl"];
/// `compare.mjs --preset timestamps`: what differs between two server sessions, whose rows are
/// stamped from their own wall clock.
const TIMESTAMPS: [&str; 7] = [
    "createdAt",
    "updatedAt",
    "startedAt",
    "finishedAt",
    "queuedAt",
    "delayedUntil",
    "expiredAt",
];

/// Runs one case and asserts everything listed in the module docs; returns a one-line summary.
async fn check(case: Case) -> String {
    let started = Instant::now();
    let faults = FaultConfig::parse(case.faults, case.rate).unwrap();
    // `truncate` kills the official SDK by design (PROTOCOL.md §2: it gives up silently on a
    // cut-off body), so in that mode only our client reads the faulty server; the SDK reads a
    // fault-free twin with the same seed (the same plan, group for group, stepped together).
    // The two sessions stamp rows from different wall clocks, so timestamps are left out of
    // the comparison (`--preset timestamps`). Everything else: both clients on one server.
    let split = faults.kinds().contains(&FaultKind::Truncate);
    let ours_server = server::start(
        case.server_config(faults.clone()),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .unwrap();
    let twin = if split {
        let config = case.server_config(FaultConfig::none());
        Some(
            server::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                .await
                .unwrap(),
        )
    } else {
        None
    };
    let sdk_server = twin.as_ref().unwrap_or(&ours_server);
    let groups = ours_server.control().groups_left();
    if let Pace::Finished = case.pace {
        for server in std::iter::once(&ours_server).chain(&twin) {
            let control = server.control();
            while control.advance() {}
            for (run, cells) in case.edits {
                control.set_cells(*run, cells).unwrap();
            }
        }
    }

    let scratch = tempfile::tempdir().unwrap();
    let mut sdk = Client::spawn(
        "sdk",
        &mut sdk_command(sdk_server, case.runs),
        scratch.path(),
    );
    let mut ours = Client::spawn(
        "trigger-tui",
        &mut ours_command(&ours_server),
        scratch.path(),
    );

    let mut context = format!(
        "case: {} (batch {}, {groups} change groups{})\n",
        case.describe(),
        ours_server.batch_id(),
        if split {
            ", SDK on a fault-free twin server"
        } else {
            ""
        }
    );
    let ending = match case.pace {
        Pace::Lockstep => {
            let servers: Vec<(Control, usize)> = match &twin {
                Some(twin) => vec![(ours_server.control(), 1), (twin.control(), 1)],
                None => vec![(ours_server.control(), 2)],
            };
            if let Err(e) = step_through(&servers, &mut [&mut sdk, &mut ours]).await {
                panic!(
                    "{context}lockstep failed: {e}\n{}{}",
                    sdk.report(),
                    ours.report()
                );
            }
            Duration::from_secs(60)
        }
        Pace::Finished => Duration::from_secs(60),
        // The longest plan (1,000 runs) lasts at most 300 s of sim time.
        Pace::Speed(speed) => Duration::from_secs(120) + Duration::from_secs_f64(300.0 / speed),
    };
    let (sdk_status, ours_status) = (sdk.wait(ending).await, ours.wait(ending).await);
    let ok = |s: Option<ExitStatus>| s.is_some_and(|s| s.success());
    if !ok(sdk_status) || !ok(ours_status) {
        panic!(
            "{context}a client failed or did not finish in {ending:?}:\n{}{}",
            sdk.report(),
            ours.report()
        );
    }
    // The SDK raised no error: the harness would exit 1, and the SDK reports failures inside
    // its stream processing through console.error, which ends up here.
    let noise: Vec<String> = sdk
        .stderr_text()
        .lines()
        .filter(|l| !l.starts_with("[trace ") && !l.starts_with("sdk-subscribe: stopped"))
        .map(str::to_owned)
        .collect();
    assert!(
        noise.is_empty(),
        "{context}the SDK printed errors:\n{}",
        noise.join("\n")
    );
    let summary_line = sdk
        .stderr_text()
        .lines()
        .rfind(|l| l.starts_with("sdk-subscribe: stopped"))
        .unwrap_or_default()
        .to_owned();
    let _ = writeln!(context, "SDK: {summary_line}");

    let mut ignore: Vec<&str> = NOT_FROM_THE_SDK.to_vec();
    if split {
        ignore.extend(TIMESTAMPS);
    }
    // Final states: the harness's comparer (the last line of each run wins).
    let mut compare = Command::new("node");
    compare
        .arg(harness_dir().join("compare.mjs"))
        .arg(&sdk.stdout)
        .arg(&ours.stdout)
        .args(["--ignore", "number,ttl"]);
    if split {
        compare.args(["--preset", "timestamps"]);
    }
    let compared = compare.output().unwrap();
    let report = String::from_utf8_lossy(&compared.stdout).into_owned()
        + &String::from_utf8_lossy(&compared.stderr);
    assert!(
        compared.status.success() && report.contains("compare: OK"),
        "{context}final states differ (node compare.mjs sdk.ndjson ours.ndjson):\n{report}\n{}{}",
        sdk.report(),
        ours.report()
    );

    let sdk_states = states(&sdk.stdout, &ignore);
    let our_states = states(&ours.stdout, &ignore);
    assert_eq!(
        sdk_states.len(),
        case.runs,
        "{context}the SDK saw every run"
    );
    let sequences = match case.pace {
        Pace::Lockstep | Pace::Finished => match compare_sequences(&sdk_states, &our_states) {
            Ok(summary) => summary,
            Err(diff) => panic!("{context}{diff}"),
        },
        Pace::Speed(_) => "sequences not compared (real timing)".to_owned(),
    };

    let injected = ours_server.control().injected_faults();
    if !faults.is_none() {
        assert!(
            !injected.is_empty(),
            "{context}no fault was injected: the case proves nothing"
        );
    }
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for kind in &injected {
        *by_kind.entry(kind.name()).or_default() += 1;
    }
    ours_server.shutdown().await;
    if let Some(twin) = twin {
        twin.shutdown().await;
    }
    let summary = format!(
        "{} (injected {by_kind:?}): {groups} groups, {sequences}; {:.1} s",
        case.describe(),
        started.elapsed().as_secs_f64()
    );
    println!("{summary}");
    summary
}

/// Steps the simulation one change group at a time until every run is final. Before each step,
/// each server must hold its expected number of live requests at the current version: every
/// client has consumed everything so far and waits for more. Servers are stepped together
/// (a twin has the same plan, so the same versions).
async fn step_through(
    servers: &[(Control, usize)],
    clients: &mut [&mut Client],
) -> Result<(), String> {
    let mut version = servers[0].0.version();
    loop {
        for (control, count) in servers {
            wait_parked(control, version, *count, clients).await?;
        }
        for (control, _) in servers {
            if !control.advance() {
                return Err(format!(
                    "the plan ran out at version {version} before every run was final"
                ));
            }
        }
        version = servers[0].0.version();
        if servers.iter().any(|(c, _)| c.version() != version) {
            return Err("twin servers are at different versions".to_owned());
        }
        // Once every run is final our client exits by itself (--exit-when-done), so the last
        // step is not waited for; the SDK harness stops after its idle time.
        if servers.iter().all(|(c, _)| c.is_done()) {
            return Ok(());
        }
    }
}

/// How long one step may take: covers the clients' longest retry backoff (10 s), a `slow`
/// fault (up to 5 s), and our client's backoff after several 409s in a row (1 s doubling,
/// CASES.md C08), with room to spare. Only a hung step waits this long.
const STEP_TIMEOUT: Duration = Duration::from_secs(90);

async fn wait_parked(
    control: &Control,
    version: u64,
    count: usize,
    clients: &mut [&mut Client],
) -> Result<(), String> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let wait = control.wait_for_live_requests(version, count);
        if tokio::time::timeout(Duration::from_millis(250), wait)
            .await
            .is_ok()
        {
            return Ok(());
        }
        for client in clients.iter_mut() {
            if let Some(status) = client.poll() {
                return Err(format!(
                    "{} ended ({status}) at version {version} of the lockstep",
                    client.name
                ));
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "after {STEP_TIMEOUT:?}, only {} of {count} clients wait at version {version}",
                control.live_requests_at_or_after(version)
            ));
        }
    }
}

// --------------------------------------------------------------------------------------------
// Sequences.

/// Every state each run went through, in order, as printed, with `ignore` fields left out and
/// numbers compared by value (`3` = `3.0`, as `compare.mjs` does). A state repeated right after
/// itself counts once: both clients re-yield every run after a must-refetch, and which client
/// a 409 hits how often depends on when its requests arrive, so a repeat carries no
/// information about order.
fn states(path: &Path, ignore: &[&str]) -> BTreeMap<String, Vec<Value>> {
    let mut by_run: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (n, line) in std::fs::read_to_string(path).unwrap().lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: not JSON ({e}): {line}", path.display(), n + 1));
        let id = value["id"].as_str().unwrap().to_owned();
        if let Value::Object(map) = &mut value {
            for field in ignore {
                map.remove(*field);
            }
        }
        let value = numbers_by_value(value);
        let seq = by_run.entry(id).or_default();
        if seq.last() != Some(&value) {
            seq.push(value);
        }
    }
    by_run
}

fn numbers_by_value(value: Value) -> Value {
    match value {
        // Whole numbers as integers (prints `3`, not `3.0`), the rest as f64.
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            Some(f) => Value::from(f),
            None => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_by_value).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, numbers_by_value(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Checks that each run's SDK states are a subsequence of ours, in order. Returns a summary, or
/// a readable report of the first runs that break it.
fn compare_sequences(
    sdk: &BTreeMap<String, Vec<Value>>,
    ours: &BTreeMap<String, Vec<Value>>,
) -> Result<String, String> {
    let mut report = String::new();
    let mut broken = 0;
    let mut identical = 0;
    for (id, theirs) in sdk {
        let mine = ours.get(id).map_or(&[][..], Vec::as_slice);
        let mut at = 0;
        let mut missing = None;
        for (k, state) in theirs.iter().enumerate() {
            match mine[at..].iter().position(|s| s == state) {
                Some(p) => at += p + 1,
                None => {
                    missing = Some(k);
                    break;
                }
            }
        }
        if theirs.as_slice() == mine {
            identical += 1;
        }
        let Some(k) = missing else { continue };
        broken += 1;
        if broken > 5 {
            continue;
        }
        let _ = writeln!(
            report,
            "run {id}: the SDK's state #{} of {} is not among ours after our state #{at} (we have {}):",
            k + 1,
            theirs.len(),
            mine.len()
        );
        let closest = mine.get(k).or(mine.last());
        let _ = writeln!(report, "  SDK state: {}", theirs[k]);
        match closest {
            Some(c) => {
                let _ = writeln!(
                    report,
                    "  vs our state #{}: {}",
                    k.min(mine.len() - 1) + 1,
                    field_diff(&theirs[k], c)
                );
            }
            None => {
                let _ = writeln!(report, "  we printed nothing for this run");
            }
        }
        let statuses = |seq: &[Value]| {
            seq.iter()
                .map(|s| s["status"].as_str().unwrap_or("?").to_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = writeln!(report, "  SDK statuses:  {}", statuses(theirs));
        let _ = writeln!(report, "  our statuses:  {}", statuses(mine));
    }
    if broken > 0 {
        return Err(format!(
            "{broken} of {} runs: the SDK yielded states ours did not, or in another order\n{report}",
            sdk.len()
        ));
    }
    let count = |m: &BTreeMap<String, Vec<Value>>| m.values().map(Vec::len).sum::<usize>();
    Ok(format!(
        "sequences OK ({} SDK states, {} ours; {identical} of {} runs identical)",
        count(sdk),
        count(ours),
        sdk.len()
    ))
}

/// The top-level fields where two run states differ, e.g. `status: "EXECUTING" vs "QUEUED"`.
fn field_diff(sdk: &Value, ours: &Value) -> String {
    let (Value::Object(a), Value::Object(b)) = (sdk, ours) else {
        return format!("{sdk} vs {ours}");
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let clip = |v: Option<&Value>| {
        let text = v.map_or("(missing)".to_owned(), Value::to_string);
        if text.chars().count() > 120 {
            format!("{}…", text.chars().take(120).collect::<String>())
        } else {
            text
        }
    };
    let diffs: Vec<String> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: SDK {} vs ours {}", clip(a.get(k)), clip(b.get(k))))
        .collect();
    if diffs.is_empty() {
        "equal".to_owned()
    } else {
        diffs.join("; ")
    }
}

// --------------------------------------------------------------------------------------------
// The cases. Each prints a one-line summary (`cargo test --test conformance -- --nocapture`).

// Fault-free, several seeds and sizes, in lockstep: sequences and final states.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockstep_10_runs_seed_1() {
    check(Case::lockstep(10, 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockstep_100_runs_seed_7() {
    check(Case::lockstep(100, 7)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockstep_1000_runs_seed_42() {
    check(Case::lockstep(1_000, 42)).await;
}

// Real timing (several groups merged per response, as in production): final states.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speed_1000_runs_seed_42() {
    check(Case::speed(1_000, 42, 50.0)).await;
}

// Each fault mode of the server, in lockstep: sequences and final states. Every injected fault
// costs a client a retry backoff (100 ms and up) during which the lockstep waits, hence 30 runs.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_drop() {
    check(Case::lockstep(30, 3).faults("drop", 0.2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_409() {
    check(Case::lockstep(30, 4).faults("409", 0.2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_429() {
    check(Case::lockstep(30, 5).faults("429", 0.2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_5xx() {
    check(Case::lockstep(30, 6).faults("5xx", 0.2)).await;
}

/// A `slow` answer comes 1–5 s late and the lockstep waits for it, so a rate of 0.2 would take
/// minutes here; 0.05 over 10 runs still delays a handful of responses. `slow` at 0.2 under
/// real timing is in [`every_fault_but_truncate_at_speed`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_slow() {
    check(Case::lockstep(10, 10).faults("slow", 0.05)).await;
}

/// The SDK reads a fault-free twin server here (see [`check`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_truncate() {
    check(Case::lockstep(30, 8).faults("truncate", 0.2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_duplicate() {
    check(Case::lockstep(30, 9).faults("duplicate", 0.2)).await;
}

/// Every kind the SDK survives, mixed, under real timing (a slow or retried answer then
/// carries several groups at once): final states.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_but_truncate_at_speed() {
    check(Case::speed(50, 11, 10.0).faults("drop,409,429,5xx,slow,duplicate", 0.2)).await;
}

// Rows the simulation never makes, written into a finished batch ([`Control::set_cells`]), for
// the SDK to referee: final states (one state per run).

/// Edge cases of the row encoding (PROTOCOL.md §3–§4, conformance README "Row columns").
const EDGE_ROWS: &[Edit] = &[
    (
        0,
        &[
            (
                "error",
                Some(
                    r#"{"type": "BUILT_IN_ERROR", "name": "TypeError", "message": "x is undefined", "stackTrace": "TypeError: x\n    at run (task.ts:3:9)", "causes": [{"name": "Error", "message": "inner", "stackTrace": "Error: inner"}]}"#,
                ),
            ),
            ("status", Some("COMPLETED_WITH_ERRORS")),
        ],
    ),
    (
        1,
        &[
            ("payload", Some("")),
            ("payloadType", Some("text/plain")),
            ("output", Some("null")),
            ("outputType", Some("application/json")),
        ],
    ),
    (
        2,
        &[
            ("runTags", None),
            (
                "realtimeStreams",
                Some(r#"{"a b","c,d",plain,"say \"hi\"","back\\slash"}"#),
            ),
        ],
    ),
    (
        3,
        &[("metadata", Some(r#"{"a": 1}"#)), ("metadataType", None)],
    ),
    (
        4,
        &[
            (
                "error",
                Some(r#"{"type": "STRING_ERROR", "raw": "line one\nline two ünï"}"#),
            ),
            ("status", Some("CANCELED")),
        ],
    ),
    (6, &[("status", Some("INTERRUPTED"))]),
    (
        7,
        &[
            ("startedAt", Some("2026-03-01 10:00:00.5")),
            ("completedAt", Some("2026-03-01 10:00:01")),
        ],
    ),
    (
        8,
        &[
            (
                "payload",
                Some(
                    r#"{"json": {"when": "2026-03-01T00:00:00.000Z", "big": "12345678901234567890", "s": [1, 2], "m": [["k", {"v": 1}]], "u": null, "re": "/a.b/gi", "nan": "NaN", "list": [1, null, 3]}, "meta": {"values": {"when": ["Date"], "big": ["bigint"], "s": ["set"], "m": ["map"], "u": ["undefined"], "re": ["regexp"], "nan": ["number"], "list.1": ["undefined"]}}}"#,
                ),
            ),
            ("payloadType", Some("application/super+json")),
        ],
    ),
    (
        9,
        &[
            ("output", Some("<raw> text")),
            ("outputType", Some("application/x-custom")),
            (
                "error",
                Some(
                    r#"{"type": "INTERNAL_ERROR", "code": "TASK_RUN_HEARTBEAT_TIMEOUT", "message": "no heartbeat"}"#,
                ),
            ),
            ("status", Some("SYSTEM_FAILURE")),
        ],
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_rows_edge_cases() {
    check(Case::finished(12, 2, EDGE_ROWS)).await;
}

/// Errors the SDK's `taskRunErrorEnhancer` rewrites before showing them (conformance README
/// "Errors").
const ENHANCED_ERRORS: &[Edit] = &[
    (
        0,
        &[
            (
                "error",
                Some(
                    r#"{"type": "BUILT_IN_ERROR", "name": "Error", "message": "MANUAL_OOM_KILL_ERROR", "stackTrace": "Error: MANUAL_OOM_KILL_ERROR\n    at run (task.ts:1:1)"}"#,
                ),
            ),
            ("status", Some("COMPLETED_WITH_ERRORS")),
        ],
    ),
    (
        1,
        &[
            (
                "error",
                Some(
                    r#"{"type": "BUILT_IN_ERROR", "name": "UnexpectedExitError", "message": "Unexpected exit with code -1", "stackTrace": "UnexpectedExitError: worker got SIGTERM"}"#,
                ),
            ),
            ("status", Some("COMPLETED_WITH_ERRORS")),
        ],
    ),
    (
        2,
        &[
            (
                "error",
                Some(
                    r#"{"type": "BUILT_IN_ERROR", "name": "Error", "message": "ffmpeg was killed with signal SIGKILL", "stackTrace": "Error: ffmpeg"}"#,
                ),
            ),
            ("status", Some("COMPLETED_WITH_ERRORS")),
        ],
    ),
    (
        3,
        &[
            (
                "error",
                Some(
                    r#"{"type": "BUILT_IN_ERROR", "name": "TriggerApiError", "message": "Deadlock detected: parent waits on child", "stackTrace": "TriggerApiError: Deadlock detected"}"#,
                ),
            ),
            ("status", Some("COMPLETED_WITH_ERRORS")),
        ],
    ),
    (
        4,
        &[
            (
                "error",
                Some(
                    r#"{"type": "INTERNAL_ERROR", "code": "TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE", "message": "Process exited with SIGSEGV"}"#,
                ),
            ),
            ("status", Some("CRASHED")),
        ],
    ),
];

/// The SDK rewrites these five errors (OOM kills, signals, deadlocks) before yielding them;
/// `RunError::to_sdk_json` mirrors its enhancer, so `--output ndjson` agrees on each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_rows_enhanced_errors() {
    check(Case::finished(10, 3, ENHANCED_ERRORS)).await;
}
