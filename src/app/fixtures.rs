//! Test fixtures: runs built through the real row decoding, and apps built only through
//! `update`, so tests exercise the real path. The clock is frozen.

use std::ops::Range;

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Msg, update};
use crate::client::{FeedEvent, Flush};
use crate::model::Run;
use crate::protocol::Schema;

/// The frozen "now" of every fixture app.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 10, 1, 0)
        .single()
        .unwrap_or_default()
}

/// The run feed's schema, as the embedded server sends it.
pub fn schema() -> Schema {
    Schema::parse(
        r#"{"id":{"type":"text","pk_index":0,"not_null":true},"friendlyId":{"type":"text"},
        "taskIdentifier":{"type":"text"},"status":{"type":"TaskRunStatus"},
        "createdAt":{"type":"timestamp"},"updatedAt":{"type":"timestamp"},
        "queuedAt":{"type":"timestamp"},"startedAt":{"type":"timestamp"},
        "completedAt":{"type":"timestamp"},"delayUntil":{"type":"timestamp"},
        "expiredAt":{"type":"timestamp"},"number":{"type":"int4"},"isTest":{"type":"bool"},
        "usageDurationMs":{"type":"int4"},"costInCents":{"type":"float8"},
        "baseCostInCents":{"type":"float8"},"ttl":{"type":"text"},"payload":{"type":"text"},
        "payloadType":{"type":"text"},"output":{"type":"text"},"outputType":{"type":"text"},
        "metadata":{"type":"text"},"metadataType":{"type":"text"},
        "runTags":{"type":"text","dims":1},"error":{"type":"jsonb"},
        "realtimeStreams":{"type":"text","dims":1},"idempotencyKey":{"type":"text"}}"#,
    )
    .unwrap()
}

const TASKS: [&str; 4] = [
    "import-rows",
    "send-email",
    "resize-image",
    "generate-report",
];
const STATUSES: [&str; 8] = [
    "COMPLETED_SUCCESSFULLY",
    "EXECUTING",
    "PENDING",
    "COMPLETED_SUCCESSFULLY",
    "COMPLETED_WITH_ERRORS",
    "WAITING_TO_RESUME",
    "DEQUEUED",
    "CANCELED",
];

/// Run `n`'s row with the given status.
pub fn row(n: usize, status: &str) -> Vec<(String, Option<String>)> {
    let s = |v: &str| Some(v.to_string());
    let finished = matches!(
        status,
        "COMPLETED_SUCCESSFULLY" | "COMPLETED_WITH_ERRORS" | "CANCELED"
    );
    let started = !matches!(status, "PENDING" | "DELAYED");
    let mut row = vec![
        ("id".into(), Some(format!("cmrun{n:04}"))),
        ("friendlyId".into(), Some(format!("run_{n:04}"))),
        ("taskIdentifier".into(), s(TASKS[n % TASKS.len()])),
        ("status".into(), s(status)),
        ("createdAt".into(), s("2026-12-03 10:00:00.000")),
        ("updatedAt".into(), s("2026-12-03 10:00:30.000")),
        ("queuedAt".into(), s("2026-12-03 10:00:00.500")),
        (
            "startedAt".into(),
            started.then(|| format!("2026-12-03 10:00:{:02}.000", n % 50)),
        ),
        (
            "completedAt".into(),
            finished.then(|| "2026-12-03 10:00:55.250".to_string()),
        ),
        ("number".into(), Some(n.to_string())),
        ("isTest".into(), s("f")),
        (
            "usageDurationMs".into(),
            Some((n * 731 % 40_000).to_string()),
        ),
        (
            "costInCents".into(),
            Some(format!("{:.4}", n as f64 * 0.0123)),
        ),
        ("baseCostInCents".into(), s("0.0025")),
        ("ttl".into(), None),
        (
            "payload".into(),
            Some(format!(
                r#"{{"json":{{"rows":{n},"since":"2026-12-01T00:00:00.000Z"}},"meta":{{"values":{{"since":["Date"]}}}}}}"#
            )),
        ),
        ("payloadType".into(), s("application/super+json")),
        (
            "output".into(),
            finished.then(|| format!(r#"{{"imported":{n}}}"#)),
        ),
        (
            "outputType".into(),
            finished.then(|| "application/json".to_string()),
        ),
        (
            "metadata".into(),
            (status == "EXECUTING").then(|| r#"{"progress":0.4}"#.to_string()),
        ),
        (
            "metadataType".into(),
            (status == "EXECUTING").then(|| "application/json".to_string()),
        ),
        (
            "runTags".into(),
            if n.is_multiple_of(3) {
                s("{tenant:acme,\"priority high\"}")
            } else {
                None
            },
        ),
        ("realtimeStreams".into(), s("{}")),
        (
            "idempotencyKey".into(),
            n.is_multiple_of(5).then(|| format!("import-{n}")),
        ),
    ];
    if status == "COMPLETED_WITH_ERRORS" {
        row.push((
            "error".into(),
            s(r#"{"type":"BUILT_IN_ERROR","name":"TypeError","message":"Cannot read properties of undefined (reading 'rows')","stackTrace":"TypeError: Cannot read properties of undefined (reading 'rows')\n    at parse (src/trigger/import.ts:42:17)\n    at run (src/trigger/import.ts:12:5)"}"#),
        ));
    }
    row
}

/// Run `n`, decoded through the real row path.
pub fn run(n: usize, status: &str) -> Run {
    Run::from_row(row(n, status).as_slice(), &schema())
}

/// Runs numbered in `range`, with statuses cycling through a realistic mix.
pub fn flush_range(range: Range<usize>) -> Flush {
    let runs = range
        .map(|n| run(n, STATUSES[n % STATUSES.len()]).into())
        .collect();
    Flush {
        runs,
        removed: vec![],
        complete: false,
    }
}

/// A feed message with runs 1..=n.
pub fn runs_msg(n: usize) -> Msg {
    runs_msg_range(1..n + 1)
}

pub fn runs_msg_range(range: Range<usize>) -> Msg {
    Msg::Feed(FeedEvent::Runs(flush_range(range)))
}

/// A feed message with one run in the given state.
pub fn one_run_msg(run: Run) -> Msg {
    Msg::Feed(FeedEvent::Runs(Flush {
        runs: vec![run.into()],
        removed: vec![],
        complete: false,
    }))
}

/// A key press.
pub fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// An app at 120x40 with the frozen clock, after the given messages.
pub fn app_after(msgs: Vec<Msg>) -> App {
    app_sized(120, 40, msgs)
}

/// An app of the given size after the given messages.
pub fn app_sized(width: u16, height: u16, msgs: Vec<Msg>) -> App {
    let mut app = App::new("batch_demo0001", "demo server 127.0.0.1:8787", now());
    update(&mut app, Msg::Resize(width, height));
    for msg in msgs {
        update(&mut app, msg);
    }
    app
}
