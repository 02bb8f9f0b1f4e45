//! Memory per run: feeds N runs (a snapshot body like the embedded server's, with superjson
//! payloads) through the real shape and app, and reports the resident memory they add, less
//! the raw payload and output bytes.
//!
//! `cargo run --release --example mem_per_run -- 100000`

use trigger_tui::app::{App, Msg, update};

/// The binary's allocator, so the figure is the binary's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use trigger_tui::client::{FeedEvent, Shape};
use trigger_tui::protocol::{Schema, parse_body, row_key};

const SCHEMA: &str = r#"{"id":{"type":"text"},"friendlyId":{"type":"text"},"taskIdentifier":{"type":"text"},
"status":{"type":"TaskRunStatus"},"createdAt":{"type":"timestamp"},"updatedAt":{"type":"timestamp"},
"queuedAt":{"type":"timestamp"},"startedAt":{"type":"timestamp"},"completedAt":{"type":"timestamp"},
"number":{"type":"int4"},"isTest":{"type":"bool"},"usageDurationMs":{"type":"int4"},
"costInCents":{"type":"float8"},"baseCostInCents":{"type":"float8"},"payload":{"type":"text"},
"payloadType":{"type":"text"},"output":{"type":"text"},"outputType":{"type":"text"},
"metadata":{"type":"text"},"metadataType":{"type":"text"},"runTags":{"type":"text","dims":1},
"error":{"type":"jsonb"},"realtimeStreams":{"type":"text","dims":1},"ttl":{"type":"text"}}"#;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let payload = r#"{"json":{"orderId":"9007199254740993","placedAt":"2026-12-03T10:00:00.000Z","labels":["a","b"]},"meta":{"values":{"orderId":["bigint"],"placedAt":["Date"],"labels":["set"]}}}"#;
    let output = r#"{"imported":1234,"skipped":5}"#;
    let mut app = App::new("batch_mem", "mem", chrono::Utc::now());
    let mut shape = Shape::with_schema(Schema::parse(SCHEMA).unwrap_or_default());
    let before = rss_kb();
    let chunk = 1_000;
    for start in (0..n).step_by(chunk) {
        let mut messages = Vec::with_capacity(chunk + 1);
        for i in start..(start + chunk).min(n) {
            let value = serde_json::json!({
                "id": format!("cm{i:010}"), "friendlyId": format!("run_{i:025}"),
                "taskIdentifier": "import-rows", "status": "COMPLETED_SUCCESSFULLY",
                "createdAt": "2026-12-03T10:00:00.000", "updatedAt": "2026-12-03T10:00:30.123",
                "queuedAt": "2026-12-03T10:00:00.500", "startedAt": "2026-12-03T10:00:02.000",
                "completedAt": "2026-12-03T10:00:09.000", "number": (i + 1).to_string(), "isTest": "f",
                "usageDurationMs": "7000", "costInCents": "0.0123", "baseCostInCents": "0.0025",
                "payload": payload, "payloadType": "application/super+json",
                "output": output, "outputType": "application/json",
                "metadata": r#"{"progress":1}"#, "metadataType": "application/json",
                "runTags": "{tenant:acme,\"shard 3\"}", "error": null, "realtimeStreams": "{}",
                "ttl": "10m",
            });
            messages.push(serde_json::json!({
                "key": row_key(&format!("cm{i:010}")), "value": value, "headers": {"operation": "insert"}
            }));
        }
        messages.push(serde_json::json!({"headers": {"control": "up-to-date"}}));
        let body = serde_json::to_vec(&messages).unwrap_or_default();
        for flush in shape.apply(parse_body(&body).unwrap_or_default()) {
            update(&mut app, Msg::Feed(FeedEvent::Runs(flush)));
        }
    }
    let after = rss_kb();
    let raw = (payload.len() + output.len()) as f64;
    let per_run = (after.saturating_sub(before) as f64 * 1024.0) / n as f64;
    println!(
        "{n} runs: RSS +{:.1} MB, {:.0} bytes per run, of which raw payload+output {:.0} bytes \
         (held once: the shape and the app share each run); beside them {:.0} bytes per run",
        (after - before) as f64 / 1024.0,
        per_run,
        raw,
        per_run - raw
    );
    assert_eq!(app.runs.len(), n);
}
