//! In-process benchmarks: body parsing and column decoding, the shape's merge and flush, the
//! app's update, superjson decoding, and building a frame at 1,000 / 10,000 / 100,000 runs,
//! also with a filter and a sort in force.
//!
//! `cargo bench --bench core` (figures go into BENCHMARKS.md).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::{Terminal, backend::TestBackend};

use trigger_tui::app::{App, Msg, update};
use trigger_tui::client::{FeedEvent, Flush, Shape};
use trigger_tui::model::packet;
use trigger_tui::protocol::{Schema, parse_body, pg_array, row_key};
use trigger_tui::ui;

const SCHEMA: &str = r#"{"id":{"type":"text","pk_index":0,"not_null":true},"friendlyId":{"type":"text"},
"taskIdentifier":{"type":"text"},"status":{"type":"TaskRunStatus"},"createdAt":{"type":"timestamp"},
"updatedAt":{"type":"timestamp"},"queuedAt":{"type":"timestamp"},"startedAt":{"type":"timestamp"},
"completedAt":{"type":"timestamp"},"number":{"type":"int4"},"isTest":{"type":"bool"},
"usageDurationMs":{"type":"int4"},"costInCents":{"type":"float8"},"baseCostInCents":{"type":"float8"},
"payload":{"type":"text"},"payloadType":{"type":"text"},"output":{"type":"text"},
"outputType":{"type":"text"},"metadata":{"type":"text"},"metadataType":{"type":"text"},
"runTags":{"type":"text","dims":1},"error":{"type":"jsonb"},"realtimeStreams":{"type":"text","dims":1}}"#;

const SUPERJSON: &str = r#"{"json":{"orderId":"9007199254740993","placedAt":"2026-12-03T10:00:00.000Z","labels":["a","b"],"byRegion":[["eu",3],["us",5]],"note":null,"items":[{"sku":"A-1","qty":2,"addedAt":"2026-12-01T08:00:00.000Z"},{"sku":"B-7","qty":1,"addedAt":"2026-12-02T09:30:00.000Z"}]},"meta":{"values":{"orderId":["bigint"],"placedAt":["Date"],"labels":["set"],"byRegion":["map"],"note":["undefined"],"items.0.addedAt":["Date"],"items.1.addedAt":["Date"]}}}"#;

const STATUSES: [&str; 6] = [
    "PENDING",
    "EXECUTING",
    "COMPLETED_SUCCESSFULLY",
    "COMPLETED_WITH_ERRORS",
    "DEQUEUED",
    "CANCELED",
];

/// A snapshot body of `n` inserted runs with superjson payloads, as the server sends it.
fn snapshot_body(n: usize) -> Vec<u8> {
    let mut messages = Vec::with_capacity(n + 1);
    for i in 1..=n {
        let status = STATUSES[i % STATUSES.len()];
        let task = ["import-rows", "send-email", "resize-image"][i % 3];
        let tags = pg_array::encode(&[Some("tenant:acme"), Some(&*format!("shard {}", i % 7))]);
        let value = serde_json::json!({
            "id": format!("cm{i:08}"), "friendlyId": format!("run_{i:025}"),
            "taskIdentifier": task,
            "status": status, "createdAt": "2026-12-03T10:00:00.000",
            "updatedAt": "2026-12-03T10:00:30.123", "queuedAt": "2026-12-03T10:00:00.500",
            "startedAt": "2026-12-03T10:00:02.000", "completedAt": null, "number": i.to_string(),
            "isTest": "f", "usageDurationMs": (i * 37 % 90_000).to_string(),
            "costInCents": format!("{:.6}", i as f64 * 0.0013), "baseCostInCents": "0.0025",
            "payload": SUPERJSON, "payloadType": "application/super+json",
            "output": null, "outputType": null,
            "metadata": r#"{"progress":0.5,"step":"parsing"}"#, "metadataType": "application/json",
            "runTags": tags, "error": null, "realtimeStreams": "{}",
        });
        messages.push(serde_json::json!({
            "key": row_key(&format!("cm{i:08}")), "value": value,
            "headers": {"operation": "insert"},
        }));
    }
    messages.push(serde_json::json!({"headers": {"control": "up-to-date"}}));
    serde_json::to_vec(&messages).unwrap_or_default()
}

fn runs(n: usize) -> Flush {
    let mut shape = Shape::with_schema(Schema::parse(SCHEMA).unwrap_or_default());
    let messages = parse_body(&snapshot_body(n)).unwrap_or_default();
    shape.apply(messages).pop().unwrap_or_default()
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn app_with(n: usize) -> App {
    let mut app = App::new("batch_bench", "bench", chrono::Utc::now());
    update(&mut app, Msg::Resize(200, 50));
    update(&mut app, Msg::Feed(FeedEvent::Runs(runs(n))));
    // Selection mid-table.
    for _ in 0..3 {
        update(&mut app, key(KeyCode::PageDown));
    }
    let middle = app.runs.get(n / 2).map(|r| r.id.clone());
    if let Some(id) = middle {
        app.selected = Some(id);
        update(&mut app, Msg::Resize(200, 50));
    }
    app
}

/// `app_with(n)` filtered to half the runs (`status:c`: EXECUTING, COMPLETED and CANCELED of
/// the six statuses) and sorted by duration, longest first, with the selection mid-table.
fn filtered_sorted(n: usize) -> App {
    let mut app = app_with(n);
    let keys = "/status:c\nsssS".chars().map(|c| match c {
        '\n' => KeyCode::Enter,
        c => KeyCode::Char(c),
    });
    for code in keys {
        update(&mut app, key(code));
    }
    let middle = app
        .runs
        .shown(app.runs.shown_len() / 2)
        .map(|r| r.id.clone());
    if let Some(id) = middle {
        app.selected = Some(id);
        update(&mut app, Msg::Resize(200, 50));
    }
    app
}

fn ingest(c: &mut Criterion) {
    let body = snapshot_body(1_000);
    let mut group = c.benchmark_group("ingest_1000_rows");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("parse_body", |b| b.iter(|| parse_body(black_box(&body))));
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("parse_and_apply_to_shape", |b| {
        b.iter(|| {
            let mut shape = Shape::with_schema(Schema::parse(SCHEMA).unwrap_or_default());
            shape.apply(parse_body(black_box(&body)).unwrap_or_default())
        })
    });
    group.finish();
}

fn superjson(c: &mut Criterion) {
    c.bench_function("superjson_decode", |b| {
        b.iter(|| packet::superjson(black_box(SUPERJSON)))
    });
}

fn app_update(c: &mut Criterion) {
    let flush = runs(1_000);
    c.bench_function("update_insert_1000_runs", |b| {
        b.iter(|| {
            let mut app = App::new("b", "s", chrono::Utc::now());
            update(&mut app, Msg::Feed(FeedEvent::Runs(flush.clone())));
            app
        })
    });
    let mut app = app_with(100_000);
    let one = Flush {
        runs: vec![flush.runs[500].clone()],
        removed: vec![],
        complete: false,
    };
    c.bench_function("update_one_run_in_100000", |b| {
        b.iter(|| update(&mut app, Msg::Feed(FeedEvent::Runs(one.clone()))))
    });

    // One run whose duration flips between two values far apart, so every update moves it
    // across the duration order (a remove and an insert in the shown rows). Run 500 is
    // COMPLETED, so the filter shows it.
    let mut app = filtered_sorted(100_000);
    let one = Flush {
        runs: vec![flush.runs[499].clone()],
        removed: vec![],
        complete: false,
    };
    let mut long = one.clone();
    if let Some(run) = long.runs.first_mut() {
        std::sync::Arc::make_mut(run).duration_ms = Some(10_000_000);
    }
    let mut flip = false;
    c.bench_function("update_one_run_in_100000_filtered_sorted", |b| {
        b.iter(|| {
            flip = !flip;
            let flush = if flip { &long } else { &one };
            update(&mut app, Msg::Feed(FeedEvent::Runs(flush.clone())))
        })
    });

    // A key typed into the open filter prompt: every run is matched again and the matches
    // sorted by duration (typing `x` after `status:c` and deleting it again, in turn).
    update(&mut app, key(KeyCode::Char('/')));
    let mut typed = false;
    c.bench_function("update_filter_keystroke_in_100000_sorted", |b| {
        b.iter(|| {
            typed = !typed;
            let code = if typed {
                KeyCode::Char('x')
            } else {
                KeyCode::Backspace
            };
            update(&mut app, key(code))
        })
    });
}

fn render(c: &mut Criterion) {
    for (name, build) in [
        ("frame_200x50", app_with as fn(usize) -> App),
        ("frame_200x50_filtered_sorted", filtered_sorted),
    ] {
        let mut group = c.benchmark_group(name);
        for n in [1_000, 10_000, 100_000] {
            let app = build(n);
            let mut terminal = match Terminal::new(TestBackend::new(200, 50)) {
                Ok(t) => t,
                Err(_) => return,
            };
            group.bench_with_input(BenchmarkId::from_parameter(n), &app, |b, app| {
                b.iter(|| terminal.draw(|frame| ui::view(app, frame)).map(|_| ()))
            });
        }
        group.finish();
    }
}

/// Criterion reports the mean frame; the targets are on the p99. Each case draws 2,000 frames
/// (the selection moving one row each time, so every frame has something to diff) and prints
/// the percentiles of the single frames.
fn frame_percentiles(_: &mut Criterion) {
    for (name, build) in [
        ("plain", app_with as fn(usize) -> App),
        ("filtered_sorted", filtered_sorted),
    ] {
        for n in [1_000, 10_000, 100_000] {
            let mut app = build(n);
            let mut terminal = match Terminal::new(TestBackend::new(200, 50)) {
                Ok(t) => t,
                Err(_) => return,
            };
            let mut micros = Vec::with_capacity(2_000);
            for i in 0..2_000 {
                let step = if i % 200 < 100 {
                    KeyCode::Down
                } else {
                    KeyCode::Up
                };
                update(&mut app, key(step));
                let started = std::time::Instant::now();
                let _ = terminal.draw(|frame| ui::view(&app, frame));
                micros.push(started.elapsed().as_micros() as u64);
            }
            micros.sort_unstable();
            let at = |p: usize| micros[(micros.len() * p / 100).min(micros.len() - 1)] as f64 / 1e3;
            println!(
                "frame_200x50 {name} {n} runs: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
                at(50),
                at(99),
                micros[micros.len() - 1] as f64 / 1e3
            );
        }
    }
}

criterion_group!(
    benches,
    ingest,
    superjson,
    app_update,
    render,
    frame_percentiles
);
criterion_main!(benches);
