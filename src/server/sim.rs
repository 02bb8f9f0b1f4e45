//! The demo batch: what its runs look like and how they move through their lifecycle.
//!
//! [`generate`] turns a seed and a run count into a [`Plan`]: every run's fixed columns and a
//! list of timed change groups (sim-time ms → column values), all deterministic for the seed.
//! Nothing here knows about time passing, HTTP or the shape protocol: the driver applies the
//! groups to the [`Store`](super::store::Store) as sim time passes, and feeds read the store.
//!
//! The lifecycle uses the database status names: runs appear over the first ~3 s as `PENDING`
//! (about 10 % `DELAYED` first), wait for a worker from a pool whose size grows with the batch,
//! go `DEQUEUED` → `EXECUTING` (with metadata, usage and cost ticking every 1–2 s), some go
//! `WAITING_TO_RESUME` or `RETRYING_AFTER_FAILURE` and back, and end in a final status. About
//! 70 % succeed; the rest fail in every way a run can (see [`Outcome`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::store::Col;
use super::wire;

/// Sim-time resolution: every event time is a multiple of this many ms, and two events of one
/// run are at least this far apart, so each lands in its own change group.
pub const QUANTUM_MS: u64 = 50;

/// A value the plan assigns to a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// Wire text.
    Text(String),
    /// A timestamp, as sim-time ms (the store adds its wall-clock base).
    At(u64),
}

/// The changes one change group makes to one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvent {
    /// Run index (0-based; the run's `number` is `run + 1`).
    pub run: usize,
    /// Columns to set (the store also sets `updatedAt`).
    pub cells: Vec<(Col, Cell)>,
}

/// Everything that happens at one sim time. Applying a group bumps the store's version once.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Sim time in ms since the batch started.
    pub at: u64,
    /// At most one event per run.
    pub events: Vec<RunEvent>,
}

/// How a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// `COMPLETED_SUCCESSFULLY` with an output.
    Success,
    /// `COMPLETED_WITH_ERRORS`, `BUILT_IN_ERROR` with name, message and stack trace.
    BuiltInError,
    /// `COMPLETED_WITH_ERRORS`, `CUSTOM_ERROR` whose `raw` is a JSON string.
    CustomError,
    /// `CRASHED` mid-execution (`INTERNAL_ERROR`).
    Crashed,
    /// `SYSTEM_FAILURE` mid-execution (`INTERNAL_ERROR`).
    SystemFailure,
    /// `CANCELED`, while queued or mid-execution (`STRING_ERROR`).
    Canceled,
    /// `EXPIRED`: never started, TTL reached.
    Expired,
    /// `TIMED_OUT`: `INTERNAL_ERROR` `MAX_DURATION_EXCEEDED`.
    TimedOut,
}

impl Outcome {
    /// The final database status.
    pub fn status(self) -> &'static str {
        match self {
            Outcome::Success => "COMPLETED_SUCCESSFULLY",
            Outcome::BuiltInError | Outcome::CustomError => "COMPLETED_WITH_ERRORS",
            Outcome::Crashed => "CRASHED",
            Outcome::SystemFailure => "SYSTEM_FAILURE",
            Outcome::Canceled => "CANCELED",
            Outcome::Expired => "EXPIRED",
            Outcome::TimedOut => "TIMED_OUT",
        }
    }
}

/// The fixed identity of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// Internal id (the row key).
    pub id: String,
    /// `run_…` id.
    pub friendly_id: String,
    /// Task identifier.
    pub task: &'static str,
    /// How the run ends.
    pub outcome: Outcome,
    /// Tags (fixed at creation), what the tag feed filters on.
    pub tags: Vec<String>,
}

/// A packet kept in the object store rather than in the row: the row's data column holds
/// [`StoredPacket::path`] with type `application/store`, and clients fetch the data through a
/// presigned URL.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPacket {
    /// Storage path, e.g. `packets/run_…/output.json`.
    pub path: String,
    /// Index of the run it belongs to.
    pub run: usize,
    /// `payload` or `output`.
    pub field: &'static str,
    /// The packet data.
    pub data: String,
    /// The `content-type` it is served with: the packet's real type.
    pub content_type: &'static str,
}

/// A whole simulated batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `batch_…` id.
    pub batch_id: String,
    /// Runs by index; index `i` has `number` `i + 1` and is created `i`-th.
    pub runs: Vec<RunInfo>,
    /// Change groups in ascending sim time.
    pub groups: Vec<Group>,
    /// Offloaded packets (`application/store`), by run index.
    pub packets: Vec<StoredPacket>,
}

impl Plan {
    /// Sim time of the last group (when every run is final).
    pub fn duration_ms(&self) -> u64 {
        self.groups.last().map_or(0, |g| g.at)
    }
}

struct TaskKind {
    id: &'static str,
    weight: u32,
    work_ms: (u64, u64),
    cents_per_sec: f64,
    steps: &'static [&'static str],
}

const TASKS: [TaskKind; 6] = [
    TaskKind {
        id: "import-rows",
        weight: 5,
        work_ms: (5_000, 12_000),
        cents_per_sec: 0.00338,
        steps: &["downloading", "parsing", "validating", "upserting"],
    },
    TaskKind {
        id: "send-email",
        weight: 6,
        work_ms: (1_500, 4_000),
        cents_per_sec: 0.0017,
        steps: &["rendering", "sending"],
    },
    TaskKind {
        id: "resize-image",
        weight: 5,
        work_ms: (2_000, 6_000),
        cents_per_sec: 0.00675,
        steps: &["fetching", "resizing", "uploading"],
    },
    TaskKind {
        id: "generate-report",
        weight: 3,
        work_ms: (6_000, 14_000),
        cents_per_sec: 0.0135,
        steps: &["querying", "aggregating", "rendering pdf", "uploading"],
    },
    TaskKind {
        id: "sync-crm",
        weight: 3,
        work_ms: (4_000, 10_000),
        cents_per_sec: 0.00338,
        steps: &["fetching contacts", "diffing", "pushing changes"],
    },
    TaskKind {
        id: "transcode-video",
        weight: 2,
        work_ms: (10_000, 18_000),
        cents_per_sec: 0.027,
        steps: &[
            "probing",
            "transcoding 1080p",
            "transcoding 720p",
            "packaging",
        ],
    },
];

/// Tags runs draw from; several need quoting in an array literal on purpose.
const TAG_POOL: [&str; 12] = [
    "env:demo",
    "tenant:acme",
    "tenant:globex",
    "priority:high",
    "region eu-west",
    "import,batch-7",
    "customer \"vip\"",
    r"path\to\file",
    "NULL",
    "retry-safe",
    "ünïcode-ß",
    "{braces}",
];

const BASE_COST_IN_CENTS: f64 = 0.0025;
const ID_CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Builds the plan for `runs` runs from `seed`. The batch id is `batch_` plus 20 seeded
/// characters unless `batch_id` is given; it does not influence the runs.
pub fn generate(runs: usize, seed: u64, batch_id: Option<&str>) -> Plan {
    let mut ids = stream(seed, 1);
    let mut rng = stream(seed, 0);
    let batch_id = match batch_id {
        Some(id) => id.to_owned(),
        None => format!("batch_{}", random_id(&mut stream(seed, 2), 20)),
    };
    let anchor = Utc
        .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();

    let outcomes = assign_outcomes(runs, &mut rng);
    let test_run = (runs >= 10).then(|| rng.random_range(0..runs));
    let spread = 3_000 / runs.max(1) as u64;

    let mut infos = Vec::with_capacity(runs);
    let mut timelines = Vec::with_capacity(runs);
    let mut ready = Vec::with_capacity(runs);
    let mut text_payloads = 0usize;
    for (i, &outcome) in outcomes.iter().enumerate() {
        let task = pick_task(&mut rng);
        let id = format!("cm{}", random_id(&mut ids, 23));
        let friendly_id = format!("run_{}", random_id(&mut ids, 25));
        let mut tl = Timeline::new(i);
        let created = i as u64 * 3_000 / runs.max(1) as u64 + rng.random_range(0..=spread);
        let delayed = rng.random_bool(0.1);
        let delay_ms = if delayed {
            rng.random_range(2_000..=6_000)
        } else {
            0
        };

        let mut cells = vec![
            (Col::Id, text(&id)),
            (Col::TaskIdentifier, text(task.id)),
            (Col::FriendlyId, text(&friendly_id)),
            (Col::Number, Cell::Text((i + 1).to_string())),
            (
                Col::IsTest,
                text(if test_run == Some(i) { "t" } else { "f" }),
            ),
            (Col::UsageDurationMs, text("0")),
            (Col::CostInCents, text("0")),
            (Col::BaseCostInCents, text("0")),
            (Col::RealtimeStreams, text("{}")),
            (Col::StartedAt, Cell::Null),
            (Col::ExpiredAt, Cell::Null),
            (Col::CompletedAt, Cell::Null),
            (Col::Metadata, Cell::Null),
            (Col::MetadataType, Cell::Null),
            (Col::Output, Cell::Null),
            (Col::OutputType, Cell::Null),
            (Col::Error, Cell::Null),
        ];
        let ttl = if outcome == Outcome::Expired || rng.random_bool(0.5) {
            Cell::Text("10m".to_owned())
        } else if rng.random_bool(0.3) {
            Cell::Text("1h".to_owned())
        } else {
            Cell::Null
        };
        cells.push((Col::Ttl, ttl));
        let tags = pick_tags(&mut rng);
        cells.push((
            Col::RunTags,
            if tags.is_empty() {
                Cell::Null
            } else {
                Cell::Text(wire::pg_text_array(&tags))
            },
        ));
        let key = rng
            .random_bool(0.2)
            .then(|| format!("{}-{}-{:04}", task.id, anchor.format("%Y%m%d"), i + 1));
        cells.push((Col::IdempotencyKey, key.map_or(Cell::Null, Cell::Text)));
        let (payload, payload_type) = payload(task.id, i, &mut rng, anchor, &mut text_payloads);
        cells.push((Col::Payload, Cell::Text(payload)));
        cells.push((Col::PayloadType, text(payload_type)));

        let created = tl.push(created, Vec::new());
        cells.push((Col::CreatedAt, Cell::At(created)));
        if delayed {
            cells.push((Col::Status, text("DELAYED")));
            cells.push((Col::DelayUntil, Cell::At(created + delay_ms)));
            cells.push((Col::QueuedAt, Cell::Null));
        } else {
            cells.push((Col::Status, text("PENDING")));
            cells.push((Col::DelayUntil, Cell::Null));
            cells.push((Col::QueuedAt, Cell::At(created)));
        }
        tl.replace_last(cells);
        let ready_at = if delayed {
            let t = tl.at(created + delay_ms);
            tl.push(
                t,
                vec![(Col::Status, text("PENDING")), (Col::QueuedAt, Cell::At(t))],
            )
        } else {
            created
        };
        ready.push(ready_at);
        timelines.push(tl);
        infos.push(RunInfo {
            id,
            friendly_id,
            task: task.id,
            outcome,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        });
    }

    // Runs that never start end on their own; the rest queue for a worker pool.
    let cancel_while_queued: Vec<bool> = outcomes
        .iter()
        .map(|o| *o == Outcome::Canceled && rng.random_bool(0.4))
        .collect();
    let mut order: Vec<usize> = (0..runs).collect();
    order.sort_by_key(|&i| (ready[i], i));
    let workers = runs.div_ceil(6).clamp(4, 48);
    let mut free: BinaryHeap<Reverse<u64>> = (0..workers).map(|_| Reverse(0)).collect();
    for i in order {
        let tl = &mut timelines[i];
        let info = &infos[i];
        match info.outcome {
            Outcome::Expired => {
                let t = tl.at(ready[i] + rng.random_range(8_000..=20_000));
                tl.push(
                    t,
                    vec![
                        (Col::Status, text("EXPIRED")),
                        (Col::ExpiredAt, Cell::At(t)),
                        (Col::CompletedAt, Cell::At(t)),
                        (
                            Col::Error,
                            error_cell(&json!({"type": "STRING_ERROR",
                            "raw": "Run expired because the TTL (10m) was reached"})),
                        ),
                    ],
                );
            }
            Outcome::Canceled if cancel_while_queued[i] => {
                let t = tl.at(ready[i] + rng.random_range(3_000..=12_000));
                tl.push(
                    t,
                    vec![
                        (Col::Status, text("CANCELED")),
                        (Col::CompletedAt, Cell::At(t)),
                        (Col::Error, error_cell(&cancel_error())),
                    ],
                );
            }
            _ => {
                let Reverse(worker_free) = free.pop().unwrap_or(Reverse(0));
                let start = (ready[i] + rng.random_range(100..=400)).max(worker_free);
                let task = TASKS
                    .iter()
                    .find(|t| t.id == info.task)
                    .unwrap_or(&TASKS[0]);
                let end = execute(tl, &mut rng, task, info.outcome, start, i, anchor);
                free.push(Reverse(end));
            }
        }
    }

    // One successful run's output is too large for a row: it goes to the object store.
    let mut packets = Vec::new();
    if let Some(big) = infos.iter().position(|r| r.outcome == Outcome::Success) {
        let path = format!("packets/{}/output.json", infos[big].friendly_id);
        let data = large_output(&infos[big], &mut stream(seed, 3), anchor);
        offload_output(&mut timelines[big], &path);
        packets.push(StoredPacket {
            path,
            run: big,
            field: "output",
            data,
            content_type: "application/super+json",
        });
    }

    let mut by_time: BTreeMap<u64, Vec<RunEvent>> = BTreeMap::new();
    for tl in timelines {
        for (at, cells) in tl.events {
            by_time
                .entry(at)
                .or_default()
                .push(RunEvent { run: tl.run, cells });
        }
    }
    let groups = by_time
        .into_iter()
        .map(|(at, mut events)| {
            events.sort_by_key(|e| e.run);
            Group { at, events }
        })
        .collect();
    Plan {
        batch_id,
        runs: infos,
        groups,
        packets,
    }
}

/// Points a run's output, set when it completes, at `path` in the object store
/// (`outputType: application/store`). The NULL output it has before is left alone.
fn offload_output(tl: &mut Timeline, path: &str) {
    for (_, cells) in &mut tl.events {
        let sets_output = cells
            .iter()
            .any(|(col, cell)| *col == Col::Output && matches!(cell, Cell::Text(_)));
        if !sets_output {
            continue;
        }
        for (col, cell) in cells.iter_mut() {
            match col {
                Col::Output => *cell = Cell::Text(path.to_owned()),
                Col::OutputType => *cell = text("application/store"),
                _ => {}
            }
        }
    }
}

/// A ~200 KB superjson export: 1 100 customer rows, each with a `Date`.
fn large_output(run: &RunInfo, rng: &mut ChaCha8Rng, anchor: DateTime<Utc>) -> String {
    const PLANS: [&str; 3] = ["free", "pro", "enterprise"];
    let rows = (1..=1_100)
        .map(|i| {
            let name = *NAMES.choose(rng).unwrap_or(&"ada");
            obj(vec![
                ("id", Js::Int(i)),
                ("email", Js::Str(format!("{name}.{i:05}@example.com"))),
                ("name", Js::Str(capitalize(name))),
                ("plan", s(PLANS[rng.random_range(0..PLANS.len())])),
                ("signedUpAt", Js::Date(date_near(anchor, rng))),
                (
                    "lifetimeValue",
                    Js::Float(rng.random_range(0..10_000_000) as f64 / 100.0),
                ),
                ("active", Js::Bool(rng.random_bool(0.8))),
            ])
        })
        .collect();
    obj(vec![
        ("runId", Js::Str(run.friendly_id.clone())),
        ("task", s(run.task)),
        ("exportedAt", Js::Date(date_near(anchor, rng))),
        ("count", Js::Int(1_100)),
        ("rows", Js::Arr(rows)),
    ])
    .superjson()
}

fn stream(seed: u64, n: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(n);
    rng
}

fn random_id(rng: &mut ChaCha8Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(ID_CHARS[rng.random_range(0..ID_CHARS.len())]))
        .collect()
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

fn pick_task(rng: &mut ChaCha8Rng) -> &'static TaskKind {
    let total: u32 = TASKS.iter().map(|t| t.weight).sum();
    let mut roll = rng.random_range(0..total);
    for task in &TASKS {
        if roll < task.weight {
            return task;
        }
        roll -= task.weight;
    }
    &TASKS[0]
}

fn pick_tags(rng: &mut ChaCha8Rng) -> Vec<&'static str> {
    let count = rng.random_range(0..=3usize);
    let mut tags: Vec<&'static str> = TAG_POOL.choose_multiple(rng, count).copied().collect();
    tags.sort_unstable();
    tags
}

/// About 30 % of runs fail (at least one of each failure kind once the batch has 10 runs),
/// exactly one of them with a `CUSTOM_ERROR` when there are at least two failures; the
/// assignment to runs is shuffled.
fn assign_outcomes(runs: usize, rng: &mut ChaCha8Rng) -> Vec<Outcome> {
    const FIRST: [Outcome; 7] = [
        Outcome::BuiltInError,
        Outcome::CustomError,
        Outcome::Crashed,
        Outcome::SystemFailure,
        Outcome::Canceled,
        Outcome::TimedOut,
        Outcome::Expired,
    ];
    const CYCLE: [Outcome; 7] = [
        Outcome::BuiltInError,
        Outcome::Crashed,
        Outcome::BuiltInError,
        Outcome::SystemFailure,
        Outcome::Canceled,
        Outcome::TimedOut,
        Outcome::Expired,
    ];
    let mut failures = ((runs as f64) * 0.3).round() as usize;
    if runs >= 10 {
        failures = failures.max(FIRST.len());
    }
    let mut outcomes: Vec<Outcome> = (0..runs)
        .map(|i| match i {
            i if i >= failures => Outcome::Success,
            i if i < FIRST.len() => FIRST[i],
            i => CYCLE[(i - FIRST.len()) % CYCLE.len()],
        })
        .collect();
    outcomes.shuffle(rng);
    outcomes
}

/// One run's events, kept at least [`QUANTUM_MS`] apart on the quantum grid.
struct Timeline {
    run: usize,
    last: Option<u64>,
    events: Vec<(u64, Vec<(Col, Cell)>)>,
}

impl Timeline {
    fn new(run: usize) -> Timeline {
        Timeline {
            run,
            last: None,
            events: Vec::new(),
        }
    }

    /// The time an event wanted at `t` actually gets.
    fn at(&self, t: u64) -> u64 {
        let t = t.div_ceil(QUANTUM_MS) * QUANTUM_MS;
        match self.last {
            Some(last) if t < last + QUANTUM_MS => last + QUANTUM_MS,
            _ => t,
        }
    }

    fn push(&mut self, t: u64, cells: Vec<(Col, Cell)>) -> u64 {
        let t = self.at(t);
        self.last = Some(t);
        self.events.push((t, cells));
        t
    }

    fn replace_last(&mut self, cells: Vec<(Col, Cell)>) {
        if let Some(last) = self.events.last_mut() {
            last.1 = cells;
        }
    }
}

enum Mark {
    Tick,
    Retry,
    Wait,
    Stop,
}

/// Simulates a run from the moment a worker picks it up; returns when the worker is free.
fn execute(
    tl: &mut Timeline,
    rng: &mut ChaCha8Rng,
    task: &TaskKind,
    outcome: Outcome,
    start: u64,
    index: usize,
    anchor: DateTime<Utc>,
) -> u64 {
    let mut work = rng.random_range(task.work_ms.0..=task.work_ms.1);
    if outcome == Outcome::TimedOut {
        // The limit is a whole number of seconds (`maxDuration`).
        work = work / 1_000 * 1_000;
    }
    let stop_at = match outcome {
        Outcome::Crashed | Outcome::SystemFailure | Outcome::Canceled => {
            (work as f64 * rng.random_range(0.3..0.8)) as u64
        }
        _ => work,
    };
    let mut retry_at = rng
        .random_bool(0.15)
        .then(|| (work as f64 * rng.random_range(0.2..0.6)) as u64);
    let mut wait_at = rng
        .random_bool(0.2)
        .then(|| (work as f64 * rng.random_range(0.3..0.8)) as u64);
    let cost = |usage: u64| {
        Cell::Text(wire::float_text(
            usage as f64 / 1_000.0 * task.cents_per_sec,
        ))
    };
    let metadata = |attempt: u32, done: u64, step: Option<&str>| {
        let progress = (done as f64 / work as f64 * 100.0).round() / 100.0;
        let step_index = ((progress * task.steps.len() as f64) as usize).min(task.steps.len() - 1);
        let step = step.unwrap_or(task.steps[step_index]);
        let value = json!({"attempt": attempt, "progress": progress, "step": step});
        Cell::Text(value.to_string())
    };

    let mut t = tl.push(start, vec![(Col::Status, text("DEQUEUED"))]);
    let started = tl.at(t + rng.random_range(150..=600));
    t = tl.push(
        started,
        vec![
            (Col::Status, text("EXECUTING")),
            (Col::StartedAt, Cell::At(started)),
            (
                Col::BaseCostInCents,
                Cell::Text(wire::float_text(BASE_COST_IN_CENTS)),
            ),
            (Col::Metadata, metadata(1, 0, None)),
            (Col::MetadataType, text("application/json")),
        ],
    );
    let mut usage = 0u64;
    let mut attempt = 1u32;
    let mut done = 0u64;
    loop {
        let mut next = done + rng.random_range(1_000..=2_000);
        let mut mark = Mark::Tick;
        if let Some(r) = retry_at {
            if r <= next {
                next = r;
                mark = Mark::Retry;
            }
        } else {
            if let Some(w) = wait_at.filter(|w| *w <= next) {
                next = w;
                mark = Mark::Wait;
            }
            if stop_at <= next {
                next = stop_at;
                mark = Mark::Stop;
            }
        }
        let step = next.saturating_sub(done);
        usage += step;
        done = next;
        let usage_cells = |extra: Vec<(Col, Cell)>| {
            let mut cells = vec![
                (Col::UsageDurationMs, Cell::Text(usage.to_string())),
                (Col::CostInCents, cost(usage)),
            ];
            cells.extend(extra);
            cells
        };
        match mark {
            Mark::Tick => {
                t = tl.push(
                    t + step,
                    usage_cells(vec![(Col::Metadata, metadata(attempt, done, None))]),
                );
            }
            Mark::Retry => {
                t = tl.push(
                    t + step,
                    usage_cells(vec![
                        (Col::Status, text("RETRYING_AFTER_FAILURE")),
                        (Col::Metadata, metadata(attempt, done, Some("retrying"))),
                    ]),
                );
                attempt += 1;
                done = 0;
                retry_at = None;
                t = tl.push(
                    t + rng.random_range(1_000..=3_000),
                    vec![
                        (Col::Status, text("EXECUTING")),
                        (Col::Metadata, metadata(attempt, 0, None)),
                    ],
                );
            }
            Mark::Wait => {
                wait_at = None;
                t = tl.push(
                    t + step,
                    usage_cells(vec![
                        (Col::Status, text("WAITING_TO_RESUME")),
                        (Col::Metadata, metadata(attempt, done, Some("waiting"))),
                    ]),
                );
                t = tl.push(
                    t + rng.random_range(2_000..=5_000),
                    vec![
                        (Col::Status, text("EXECUTING")),
                        (Col::Metadata, metadata(attempt, done, None)),
                    ],
                );
            }
            Mark::Stop => {
                t += step;
                break;
            }
        }
    }

    let end = tl.at(t);
    let mut cells = vec![
        (Col::Status, text(outcome.status())),
        (Col::CompletedAt, Cell::At(end)),
        (Col::UsageDurationMs, Cell::Text(usage.to_string())),
        (Col::CostInCents, cost(usage)),
    ];
    match outcome {
        Outcome::Success => {
            cells.push((Col::Metadata, metadata(attempt, work, Some("done"))));
            let (data, data_type) = output(task.id, index, usage, rng, anchor);
            cells.push((Col::Output, Cell::Text(data)));
            cells.push((Col::OutputType, text(data_type)));
        }
        Outcome::BuiltInError => {
            cells.push((Col::Error, error_cell(&built_in_error(task.id, rng))))
        }
        Outcome::CustomError => {
            let raw = json!({"code": "QUOTA_EXCEEDED", "detail": "Monthly CRM API quota exhausted",
                "retryAfterSeconds": 3600});
            cells.push((
                Col::Error,
                error_cell(&json!({"type": "CUSTOM_ERROR", "raw": raw.to_string()})),
            ));
        }
        Outcome::Crashed => {
            let error = if rng.random_bool(0.5) {
                json!({"type": "INTERNAL_ERROR", "code": "TASK_PROCESS_OOM_KILLED",
                    "message": "The task ran out of memory (1 GB limit on small-1x)"})
            } else {
                json!({"type": "INTERNAL_ERROR", "code": "TASK_PROCESS_SIGSEGV",
                    "message": "The task process crashed with a segmentation fault"})
            };
            cells.push((Col::Error, error_cell(&error)));
        }
        Outcome::SystemFailure => {
            let error = if rng.random_bool(0.5) {
                json!({"type": "INTERNAL_ERROR", "code": "TASK_RUN_HEARTBEAT_TIMEOUT",
                    "message": "The run stopped sending heartbeats"})
            } else {
                json!({"type": "INTERNAL_ERROR", "code": "POD_EVICTED",
                    "message": "The worker was evicted (node under disk pressure)"})
            };
            cells.push((Col::Error, error_cell(&error)));
        }
        Outcome::Canceled => cells.push((Col::Error, error_cell(&cancel_error()))),
        Outcome::TimedOut => {
            let message = format!(
                "Run exceeded maximum compute time (maxDuration) of {} seconds",
                work / 1_000
            );
            cells.push((
                Col::Error,
                error_cell(
                    &json!({"type": "INTERNAL_ERROR", "code": "MAX_DURATION_EXCEEDED",
                    "message": message}),
                ),
            ));
        }
        Outcome::Expired => {}
    }
    tl.push(end, cells)
}

fn error_cell(error: &Value) -> Cell {
    Cell::Text(wire::jsonb_text(error))
}

fn cancel_error() -> Value {
    json!({"type": "STRING_ERROR", "raw": "Run cancelled by user from the dashboard"})
}

fn built_in_error(task: &str, rng: &mut ChaCha8Rng) -> Value {
    let (name, message, func) = match task {
        "import-rows" => (
            "ValidationError",
            format!(
                "Row {}: column \"email\" is not a valid address",
                rng.random_range(2..5_000)
            ),
            "validateRow",
        ),
        "send-email" => (
            "Error",
            "SMTP 550 5.1.1: mailbox unavailable for <bounce@example.com>".to_owned(),
            "deliver",
        ),
        "resize-image" => (
            "TypeError",
            "Cannot read properties of undefined (reading 'width')".to_owned(),
            "computeVariants",
        ),
        "generate-report" => ("RangeError", "Invalid time value".to_owned(), "formatRange"),
        "sync-crm" => (
            "Error",
            "HubSpot API responded 502 Bad Gateway after 3 attempts".to_owned(),
            "pushContacts",
        ),
        _ => (
            "Error",
            "ffmpeg exited with code 1: Invalid data found when processing input".to_owned(),
            "transcode",
        ),
    };
    let line = rng.random_range(20..180);
    let stack = format!(
        "{name}: {message}\n    at {func} (file:///app/src/trigger/{task}.ts:{line}:{col})\n    \
         at async run (file:///app/src/trigger/{task}.ts:{line2}:5)\n    \
         at async TaskExecutor.execute \
         (file:///app/node_modules/@trigger.dev/core/dist/esm/v3/workers/taskExecutor.js:412:16)",
        col = rng.random_range(5..40),
        line2 = line / 2 + 3,
    );
    json!({"type": "BUILT_IN_ERROR", "name": name, "message": message, "stackTrace": stack})
}

/// A value as a task would hand it to superjson: JSON plus the JavaScript types superjson
/// annotates.
enum Js {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Date(DateTime<Utc>),
    BigInt(String),
    Set(Vec<Js>),
    Map(Vec<(String, Js)>),
    Undefined,
    Arr(Vec<Js>),
    Obj(Vec<(String, Js)>),
}

fn s(v: &str) -> Js {
    Js::Str(v.to_owned())
}

impl Js {
    /// superjson's `stringify`: `{"json": …, "meta": {"values": {path: [type]}}}`.
    fn superjson(&self) -> String {
        let mut annotations = Map::new();
        let json = self.to_superjson("", &mut annotations);
        let mut root = Map::new();
        root.insert("json".to_owned(), json);
        if !annotations.is_empty() {
            root.insert(
                "meta".to_owned(),
                json!({"values": Value::Object(annotations)}),
            );
        }
        Value::Object(root).to_string()
    }

    fn to_superjson(&self, path: &str, ann: &mut Map<String, Value>) -> Value {
        let mut note = |tag: &str| {
            // The root value is annotated with a bare array, which only matters for a root
            // Date, bigint, …; payloads here are objects.
            ann.insert(path.to_owned(), json!([tag]));
        };
        let child = |key: &str| {
            if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            }
        };
        match self {
            Js::Date(at) => {
                note("Date");
                Value::String(wire::iso_z(*at))
            }
            Js::BigInt(digits) => {
                note("bigint");
                Value::String(digits.clone())
            }
            Js::Set(items) => {
                note("set");
                Value::Array(items.iter().map(Js::to_plain_json).collect())
            }
            Js::Map(entries) => {
                note("map");
                Value::Array(
                    entries
                        .iter()
                        .map(|(k, v)| json!([k, v.to_plain_json()]))
                        .collect(),
                )
            }
            Js::Undefined => {
                note("undefined");
                Value::Null
            }
            Js::Arr(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v.to_superjson(&child(&i.to_string()), ann))
                    .collect(),
            ),
            Js::Obj(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_superjson(&child(k), ann)))
                    .collect(),
            ),
            plain => plain.to_plain_json(),
        }
    }

    /// What `JSON.stringify` would give after a task converted its values by hand.
    fn to_plain_json(&self) -> Value {
        match self {
            Js::Null | Js::Undefined => Value::Null,
            Js::Bool(b) => Value::Bool(*b),
            Js::Int(n) => json!(n),
            Js::Float(f) => json!(f),
            Js::Str(s) => Value::String(s.clone()),
            Js::Date(at) => Value::String(wire::iso_z(*at)),
            Js::BigInt(digits) => Value::String(digits.clone()),
            Js::Set(items) | Js::Arr(items) => {
                Value::Array(items.iter().map(Js::to_plain_json).collect())
            }
            Js::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_plain_json()))
                    .collect(),
            ),
            Js::Obj(entries) => Value::Object(
                entries
                    .iter()
                    .filter(|(_, v)| !matches!(v, Js::Undefined))
                    .map(|(k, v)| (k.clone(), v.to_plain_json()))
                    .collect(),
            ),
        }
    }
}

fn obj(entries: Vec<(&str, Js)>) -> Js {
    Js::Obj(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn date_near(anchor: DateTime<Utc>, rng: &mut ChaCha8Rng) -> DateTime<Utc> {
    anchor + Duration::milliseconds(rng.random_range(0..30 * 24 * 3_600_000i64))
}

const NAMES: [&str; 8] = [
    "ada", "grace", "linus", "josé", "zoë", "ngozi", "mei", "o'brien",
];

/// The payload packet for a run: mostly superjson, some JSON, a few plain text.
fn payload(
    task: &str,
    index: usize,
    rng: &mut ChaCha8Rng,
    anchor: DateTime<Utc>,
    text_count: &mut usize,
) -> (String, &'static str) {
    let n = index + 1;
    let roll: f64 = rng.random();
    if roll < 0.08 {
        *text_count += 1;
        let text = if *text_count == 1 {
            // One payload carries terminal escapes, so clients prove they sanitize.
            format!("{task} #{n}: render \u{1b}[31mred\u{1b}[0m label")
        } else {
            format!(
                "{task} #{n}: full run for account acc_{:05}",
                rng.random_range(0..100_000)
            )
        };
        return (text, "text/plain");
    }
    let name = *NAMES.choose(rng).unwrap_or(&"ada");
    let value = match task {
        "import-rows" => obj(vec![
            (
                "fileUrl",
                Js::Str(format!("s3://acme-imports/2026/03/customers-{n:04}.csv")),
            ),
            ("uploadedAt", Js::Date(date_near(anchor, rng))),
            ("rowCount", Js::Int(rng.random_range(100..50_000))),
            ("columns", Js::Set(vec![s("email"), s("name"), s("plan")])),
            ("dryRun", Js::Bool(rng.random_bool(0.2))),
            (
                "sizeBytes",
                if rng.random_bool(0.3) {
                    Js::BigInt(format!("90071992547{:05}", rng.random_range(0..100_000)))
                } else {
                    Js::Int(rng.random_range(10_000..5_000_000))
                },
            ),
        ]),
        "send-email" => obj(vec![
            ("to", Js::Str(format!("{name}@example.com"))),
            (
                "template",
                s(["welcome", "invoice", "password-reset"][n % 3]),
            ),
            ("locale", s(["en-GB", "fr-FR", "ja-JP", "de-DE"][n % 4])),
            (
                "vars",
                obj(vec![
                    ("firstName", Js::Str(capitalize(name))),
                    ("plan", s("pro")),
                ]),
            ),
            ("scheduledFor", Js::Date(date_near(anchor, rng))),
            (
                "replyTo",
                if rng.random_bool(0.4) {
                    Js::Undefined
                } else {
                    s("support@example.com")
                },
            ),
        ]),
        "resize-image" => obj(vec![
            (
                "imageId",
                Js::Str(format!("img_{:08x}", rng.random::<u32>())),
            ),
            (
                "sizes",
                Js::Set(vec![Js::Int(64), Js::Int(256), Js::Int(1024)]),
            ),
            ("format", s(["webp", "avif", "png"][n % 3])),
            ("requestedAt", Js::Date(date_near(anchor, rng))),
            ("quality", Js::Float(0.82)),
        ]),
        "generate-report" => {
            let from = date_near(anchor, rng);
            obj(vec![
                ("reportId", Js::Str(format!("rep_{n:05}"))),
                (
                    "range",
                    obj(vec![
                        ("from", Js::Date(from)),
                        ("to", Js::Date(from + Duration::days(7))),
                    ]),
                ),
                (
                    "filters",
                    Js::Map(vec![
                        ("region".to_owned(), s("eu-west")),
                        ("plan".to_owned(), s(["free", "pro", "enterprise"][n % 3])),
                    ]),
                ),
                ("cursor", Js::Undefined),
                ("owner", Js::Null),
            ])
        }
        "sync-crm" => obj(vec![
            (
                "accountId",
                Js::Str(format!("acc_{:05}", rng.random_range(0..100_000))),
            ),
            ("provider", s(["hubspot", "salesforce", "pipedrive"][n % 3])),
            ("since", Js::Date(date_near(anchor, rng))),
            ("full", Js::Bool(rng.random_bool(0.25))),
        ]),
        _ => obj(vec![
            (
                "videoId",
                Js::Str(format!("vid_{:06}", rng.random_range(0..1_000_000))),
            ),
            (
                "sourceBytes",
                Js::BigInt(format!(
                    "{}",
                    rng.random_range(10_000_000_000u64..99_000_000_000)
                )),
            ),
            ("presets", Js::Arr(vec![s("1080p"), s("720p"), s("480p")])),
            ("uploadedAt", Js::Date(date_near(anchor, rng))),
        ]),
    };
    if roll < 0.30 {
        (value.to_plain_json().to_string(), "application/json")
    } else {
        (value.superjson(), "application/super+json")
    }
}

/// The output packet of a successful run.
fn output(
    task: &str,
    index: usize,
    usage: u64,
    rng: &mut ChaCha8Rng,
    anchor: DateTime<Utc>,
) -> (String, &'static str) {
    let n = index + 1;
    let value = match task {
        "import-rows" => {
            let imported = rng.random_range(100..50_000);
            obj(vec![
                ("imported", Js::Int(imported)),
                ("skipped", Js::Int(rng.random_range(0..50))),
                (
                    "checksum",
                    Js::Str(format!("sha256:{:016x}", rng.random::<u64>())),
                ),
            ])
        }
        "send-email" => obj(vec![
            (
                "messageId",
                Js::Str(format!(
                    "<{:012x}@mail.example.com>",
                    rng.random::<u64>() >> 16
                )),
            ),
            ("acceptedAt", Js::Date(date_near(anchor, rng))),
        ]),
        "resize-image" => obj(vec![(
            "variants",
            Js::Arr(
                [64, 256, 1024]
                    .into_iter()
                    .map(|size| {
                        obj(vec![
                            ("size", Js::Int(size)),
                            (
                                "url",
                                Js::Str(format!("https://cdn.example.com/i/{n}/{size}.webp")),
                            ),
                        ])
                    })
                    .collect(),
            ),
        )]),
        "generate-report" => obj(vec![
            (
                "url",
                Js::Str(format!("https://reports.example.com/r/rep_{n:05}.pdf")),
            ),
            ("pages", Js::Int(rng.random_range(2..40))),
            ("generatedAt", Js::Date(date_near(anchor, rng))),
            (
                "totals",
                Js::Map(vec![
                    ("orders".to_owned(), Js::Int(rng.random_range(10..9_000))),
                    (
                        "revenue".to_owned(),
                        Js::Float(rng.random_range(100..900_000) as f64 / 100.0),
                    ),
                ]),
            ),
        ]),
        "sync-crm" => obj(vec![
            ("created", Js::Int(rng.random_range(0..200))),
            ("updated", Js::Int(rng.random_range(0..2_000))),
            ("deleted", Js::Int(rng.random_range(0..20))),
            (
                "durationMs",
                Js::Int(i64::try_from(usage).unwrap_or(i64::MAX)),
            ),
        ]),
        _ => obj(vec![
            (
                "renditions",
                Js::Set(vec![s("1080p"), s("720p"), s("480p")]),
            ),
            (
                "outputBytes",
                Js::BigInt(format!(
                    "{}",
                    rng.random_range(1_000_000_000u64..9_000_000_000)
                )),
            ),
            ("posterFrameAt", Js::Date(date_near(anchor, rng))),
        ]),
    };
    let roll: f64 = rng.random();
    if roll < 0.08 {
        (format!("{task} #{n} finished in {usage} ms"), "text/plain")
    } else if roll < 0.30 {
        (value.to_plain_json().to_string(), "application/json")
    } else {
        (value.superjson(), "application/super+json")
    }
}

fn capitalize(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn final_status(plan: &Plan, run: usize) -> Option<String> {
        let mut status = None;
        for g in &plan.groups {
            for e in g.events.iter().filter(|e| e.run == run) {
                for (c, v) in &e.cells {
                    if let (Col::Status, Cell::Text(s)) = (c, v) {
                        status = Some(s.clone());
                    }
                }
            }
        }
        status
    }

    #[test]
    fn same_seed_same_plan_other_seed_other_plan() {
        let a = generate(50, 7, None);
        let b = generate(50, 7, None);
        let c = generate(50, 8, None);
        assert_eq!(a, b);
        assert_ne!(a.runs, c.runs);
        assert!(a.batch_id.starts_with("batch_"));
        assert_eq!(a.batch_id.len(), 6 + 20);
        // The batch id does not change the runs.
        assert_eq!(generate(50, 7, Some("batch_x")).runs, a.runs);
    }

    #[test]
    fn ids_have_the_documented_shape() {
        let plan = generate(30, 1, None);
        let mut seen = HashSet::new();
        for r in &plan.runs {
            assert!(r.friendly_id.starts_with("run_"));
            assert_eq!(r.friendly_id.len(), 4 + 25);
            assert!(r.friendly_id[4..].bytes().all(|b| ID_CHARS.contains(&b)));
            assert!(seen.insert(r.id.clone()));
        }
    }

    #[test]
    fn every_run_ends_final_and_outcomes_cover_every_kind() {
        let plan = generate(100, 7, None);
        let mut kinds = HashSet::new();
        for (i, r) in plan.runs.iter().enumerate() {
            assert_eq!(final_status(&plan, i).as_deref(), Some(r.outcome.status()));
            kinds.insert(r.outcome);
        }
        assert_eq!(kinds.len(), 8, "{kinds:?}");
        let custom = plan
            .runs
            .iter()
            .filter(|r| r.outcome == Outcome::CustomError)
            .count();
        assert_eq!(custom, 1);
        let ok = plan
            .runs
            .iter()
            .filter(|r| r.outcome == Outcome::Success)
            .count();
        assert_eq!(ok, 70);
    }

    #[test]
    fn groups_are_ordered_with_one_event_per_run() {
        let plan = generate(200, 3, None);
        let mut last = None;
        for g in &plan.groups {
            assert_eq!(g.at % QUANTUM_MS, 0);
            assert!(last.is_none_or(|l| l < g.at));
            last = Some(g.at);
            let runs: HashSet<usize> = g.events.iter().map(|e| e.run).collect();
            assert_eq!(runs.len(), g.events.len());
        }
        // Every run is created (its first event) within ~3 s, in number order.
        let mut first_seen = vec![None; 200];
        for g in &plan.groups {
            for e in &g.events {
                first_seen[e.run].get_or_insert(g.at);
            }
        }
        let firsts: Vec<u64> = first_seen
            .into_iter()
            .map(|t| t.unwrap_or(u64::MAX))
            .collect();
        assert!(firsts.iter().all(|t| *t <= 3_100), "{firsts:?}");
        assert!(firsts.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn durations_scale_to_a_watchable_demo() {
        let hundred = generate(100, 7, None).duration_ms();
        assert!((40_000..=90_000).contains(&hundred), "{hundred}");
        let thousand = generate(1_000, 7, None).duration_ms();
        assert!((90_000..=300_000).contains(&thousand), "{thousand}");
    }

    #[test]
    fn superjson_matches_the_library_format() {
        let anchor = Utc
            .with_ymd_and_hms(2026, 12, 3, 10, 0, 0)
            .single()
            .unwrap_or_default();
        let v = obj(vec![
            ("at", Js::Date(anchor)),
            ("big", Js::BigInt("9007199254740993".to_owned())),
            ("s", Js::Set(vec![s("a"), s("b")])),
            ("m", Js::Map(vec![("k".to_owned(), Js::Int(1))])),
            ("u", Js::Undefined),
            (
                "items",
                Js::Arr(vec![obj(vec![("addedAt", Js::Date(anchor))])]),
            ),
        ]);
        let text = v.superjson();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!({"json": {"at": "2026-12-03T10:00:00.000Z", "big": "9007199254740993",
                "s": ["a", "b"], "m": [["k", 1]], "u": null,
                "items": [{"addedAt": "2026-12-03T10:00:00.000Z"}]},
                "meta": {"values": {"at": ["Date"], "big": ["bigint"], "s": ["set"], "m": ["map"],
                "u": ["undefined"], "items.0.addedAt": ["Date"]}}})
        );
        assert_eq!(
            obj(vec![("a", Js::Int(1))]).superjson(),
            r#"{"json":{"a":1}}"#
        );
    }

    #[test]
    fn one_successful_run_has_a_large_offloaded_output() {
        for (runs, seed) in [(100, 7), (3, 1), (1, 2)] {
            let plan = generate(runs, seed, None);
            assert_eq!(plan.packets.len(), 1);
            let packet = &plan.packets[0];
            let run = &plan.runs[packet.run];
            assert_eq!(run.outcome, Outcome::Success);
            assert_eq!(
                packet.path,
                format!("packets/{}/output.json", run.friendly_id)
            );
            assert_eq!(packet.content_type, "application/super+json");
            assert!(
                (150_000..=300_000).contains(&packet.data.len()),
                "{}",
                packet.data.len()
            );
            let data: Value = serde_json::from_str(&packet.data).unwrap();
            assert_eq!(data["json"]["rows"].as_array().unwrap().len(), 1_100);
            assert_eq!(data["meta"]["values"]["rows.0.signedUpAt"], json!(["Date"]));
            let cells: Vec<&Cell> = plan
                .groups
                .iter()
                .flat_map(|g| &g.events)
                .filter(|e| e.run == packet.run)
                .flat_map(|e| &e.cells)
                .filter(|(c, _)| matches!(c, Col::Output | Col::OutputType))
                .map(|(_, v)| v)
                .collect();
            // NULL at creation, the storage path when the run completes.
            assert_eq!(
                cells,
                [
                    &Cell::Null,
                    &Cell::Null,
                    &Cell::Text(packet.path.clone()),
                    &text("application/store")
                ]
            );
        }
        // The offloaded packet is as deterministic as the rest of the plan.
        let a = generate(50, 7, None);
        assert_eq!(a.runs, generate(50, 7, None).runs);
        assert_eq!(a.packets, generate(50, 7, None).packets);
    }

    #[test]
    fn payloads_mix_types() {
        let plan = generate(300, 7, None);
        let mut types = HashSet::new();
        for g in &plan.groups {
            for e in &g.events {
                for (c, v) in &e.cells {
                    if let (Col::PayloadType | Col::OutputType, Cell::Text(t)) = (c, v) {
                        types.insert(t.clone());
                    }
                }
            }
        }
        for t in ["application/super+json", "application/json", "text/plain"] {
            assert!(types.contains(t), "{t} missing from {types:?}");
        }
    }
}
