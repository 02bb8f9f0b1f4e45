//! The demo server through real HTTP on loopback: the shape protocol (snapshot, live holds,
//! partial updates, 409, legacy names, DEQUEUED rewriting), auth (secret key and public access
//! tokens), errors, batch info, single-run and tag feeds, offloaded packets, fault injection
//! (each kind, determinism, convergence once switched off) and determinism of the simulation.

// Helpers outside `#[test]` functions are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};
use trigger_tui::server::{
    self, DEMO_SECRET_KEY, FaultConfig, FaultKind, ServerConfig, ServerHandle,
};

const LOOPBACK: &str = "127.0.0.1:0";
const TIMESTAMP_COLUMNS: [&str; 7] = [
    "createdAt",
    "updatedAt",
    "startedAt",
    "delayUntil",
    "queuedAt",
    "expiredAt",
    "completedAt",
];
const FINAL: [&str; 7] = [
    "COMPLETED_SUCCESSFULLY",
    "COMPLETED_WITH_ERRORS",
    "CANCELED",
    "CRASHED",
    "SYSTEM_FAILURE",
    "EXPIRED",
    "TIMED_OUT",
];

async fn serve(config: ServerConfig) -> ServerHandle {
    let addr: SocketAddr = LOOPBACK.parse().unwrap();
    server::start(config, addr).await.unwrap()
}

fn config(runs: usize, speed: f64) -> ServerConfig {
    ServerConfig {
        runs,
        speed,
        ..ServerConfig::default()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn messages(&self) -> Vec<Value> {
        match self.json() {
            Value::Array(items) => items,
            other => panic!("not an array: {other}"),
        }
    }
}

/// Which request headers to send.
#[derive(Clone, Copy)]
enum Client {
    /// What SDK 4.8.3 sends.
    Sdk,
    /// No `x-trigger-electric-version`, no `x-trigger-api-version`.
    Legacy,
    /// `x-trigger-electric-version` but no `x-trigger-api-version`.
    OldApi,
}

async fn get_with(srv: &ServerHandle, path: &str, who: Client, key: Option<&str>) -> Reply {
    let mut req = client().get(format!("{}{path}", srv.base_url()));
    if let Some(key) = key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    req = req.header("trigger-version", "4.8.3");
    if matches!(who, Client::Sdk | Client::OldApi) {
        req = req.header("x-trigger-electric-version", "1.0.0-beta.1");
    }
    if matches!(who, Client::Sdk) {
        req = req.header("x-trigger-api-version", "2025-07-16");
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.text().await.unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(srv: &ServerHandle, path: &str) -> Reply {
    get_with(srv, path, Client::Sdk, Some(DEMO_SECRET_KEY)).await
}

fn feed(srv: &ServerHandle, query: &str) -> String {
    format!("/realtime/v1/batches/{}?{query}", srv.batch_id())
}

fn assert_json_content_type(r: &Reply) {
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.contains("application/json"),
        "content-type {ct:?} for {}",
        r.status
    );
}

fn offset_version(offset: &str) -> u64 {
    let (v, seq) = offset.split_once('_').unwrap();
    assert_eq!(seq, "0");
    v.parse().unwrap()
}

fn is_db_timestamp(s: &str) -> bool {
    s.len() == 23 && NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f").is_ok()
}

/// Rows kept the way the official client keeps them: by key, updates merged.
#[derive(Default, Debug)]
struct Mirror {
    rows: BTreeMap<String, Map<String, Value>>,
}

impl Mirror {
    /// Applies a response body; returns (inserts, updates) and checks it ends in up-to-date.
    fn apply(&mut self, messages: &[Value]) -> (usize, usize) {
        let (mut inserts, mut updates) = (0, 0);
        let last = messages.last().unwrap();
        assert_eq!(last, &json!({"headers": {"control": "up-to-date"}}));
        for m in &messages[..messages.len() - 1] {
            let key = m["key"].as_str().unwrap().to_owned();
            let value = m["value"].as_object().unwrap().clone();
            match m["headers"]["operation"].as_str().unwrap() {
                "insert" => {
                    inserts += 1;
                    assert_eq!(value.len(), 27, "insert carries the whole row");
                    assert!(
                        self.rows.insert(key, value).is_none(),
                        "insert of a known row"
                    );
                }
                "update" => {
                    updates += 1;
                    let row = self
                        .rows
                        .get_mut(&key)
                        .unwrap_or_else(|| panic!("update of {key}"));
                    assert!(value.contains_key("id"));
                    assert!(value.len() < 27, "update is partial: {value:?}");
                    for (k, v) in value {
                        row.insert(k, v);
                    }
                }
                other => panic!("operation {other}"),
            }
        }
        (inserts, updates)
    }

    fn statuses(&self) -> Vec<String> {
        self.rows
            .values()
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .collect()
    }
}

async fn snapshot(srv: &ServerHandle) -> (Reply, Mirror) {
    let r = get(srv, &feed(srv, "offset=-1")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut mirror = Mirror::default();
    mirror.apply(&r.messages());
    (r, mirror)
}

#[tokio::test]
async fn snapshot_has_every_row_as_insert_and_all_headers() {
    let srv = serve(config(12, 2_000.0)).await;
    srv.control().wait_until_done().await;
    let (r, mirror) = snapshot(&srv).await;
    assert_json_content_type(&r);
    let messages = r.messages();
    assert_eq!(messages.len(), 13);
    assert!(
        messages[..12]
            .iter()
            .all(|m| m["headers"]["operation"] == "insert")
    );
    assert_eq!(
        offset_version(r.header("electric-offset").unwrap()),
        srv.control().version()
    );
    assert_eq!(r.header("electric-handle").unwrap(), srv.control().handle());
    assert!(r.header("electric-up-to-date").is_some());
    assert!(r.header("electric-cursor").is_none());
    let schema: Value = serde_json::from_str(r.header("electric-schema").unwrap()).unwrap();
    assert_eq!(schema.as_object().unwrap().len(), 27);
    assert_eq!(schema["status"]["type"], "TaskRunStatus");
    assert_eq!(schema["id"]["pk_index"], 0);
    assert_eq!(schema["realtimeStreams"]["dims"], 1);
    assert_eq!(schema["updatedAt"]["not_null"], true);

    let mut numbers = HashSet::new();
    for (key, row) in &mirror.rows {
        let id = row["id"].as_str().unwrap();
        assert_eq!(key, &format!("\"public\".\"TaskRun\"/\"{id}\""));
        let friendly = row["friendlyId"].as_str().unwrap();
        assert!(
            friendly.starts_with("run_") && friendly.len() == 29,
            "{friendly}"
        );
        assert!(FINAL.contains(&row["status"].as_str().unwrap()), "{row:?}");
        for col in TIMESTAMP_COLUMNS {
            if let Some(ts) = row[col].as_str() {
                assert!(is_db_timestamp(ts), "{col} = {ts}");
            }
        }
        assert!(row["completedAt"].is_string());
        assert!(matches!(row["isTest"].as_str(), Some("t" | "f")));
        assert_eq!(row["realtimeStreams"], "{}");
        let tags = &row["runTags"];
        assert!(
            tags.is_null() || tags.as_str().unwrap().starts_with('{'),
            "{tags}"
        );
        assert_ne!(tags, "{}", "no tags is NULL, not an empty array");
        numbers.insert(row["number"].as_str().unwrap().parse::<u32>().unwrap());
        row["usageDurationMs"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .unwrap();
        row["costInCents"].as_str().unwrap().parse::<f64>().unwrap();
        if let Some(error) = row["error"].as_str() {
            let error: Value = serde_json::from_str(error).unwrap();
            assert!(error["type"].is_string());
        }
    }
    assert_eq!(numbers, (1..=12).collect());
    srv.shutdown().await;
}

#[tokio::test]
async fn live_requests_get_partial_updates_that_merge_into_the_snapshot() {
    let srv = serve(config(10, 40.0)).await;
    let (first, mut mirror) = snapshot(&srv).await;
    let handle = first.header("electric-handle").unwrap().to_owned();
    let mut offset = first.header("electric-offset").unwrap().to_owned();
    let mut cursor = String::new();
    let mut cursors = HashSet::new();
    let (mut inserts, mut updates) = (mirror.rows.len(), 0);
    let started = Instant::now();
    while !(srv.control().is_done()
        && mirror
            .statuses()
            .iter()
            .all(|s| FINAL.contains(&s.as_str())))
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "batch never finished"
        );
        let r = get(
            &srv,
            &feed(
                &srv,
                &format!("cursor={cursor}&handle={handle}&live=true&offset={offset}"),
            ),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_json_content_type(&r);
        assert_eq!(r.header("electric-handle"), Some(handle.as_str()));
        assert!(r.header("electric-schema").is_none());
        cursor = r.header("electric-cursor").unwrap().to_owned();
        assert!(cursors.insert(cursor.clone()), "cursor repeated");
        let next = r.header("electric-offset").unwrap().to_owned();
        assert!(offset_version(&next) >= offset_version(&offset));
        offset = next;
        let (i, u) = mirror.apply(&r.messages());
        inserts += i;
        updates += u;
    }
    assert_eq!(inserts, 10);
    assert!(updates > 30, "only {updates} updates");
    // What a client merged from partial updates is exactly the current table.
    let (_, fresh) = snapshot(&srv).await;
    assert_eq!(mirror.rows, fresh.rows);
    srv.shutdown().await;
}

#[tokio::test]
async fn live_request_is_held_until_timeout_then_bare_up_to_date() {
    let srv = serve(ServerConfig {
        live_hold: Duration::from_millis(400),
        ..config(5, 0.000_001)
    })
    .await;
    // Let the driver apply anything due at sim time 0 before taking the snapshot.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (first, _) = snapshot(&srv).await;
    let handle = first.header("electric-handle").unwrap();
    let offset = first.header("electric-offset").unwrap();
    let path = feed(
        &srv,
        &format!("cursor=&handle={handle}&live=true&offset={offset}"),
    );
    let t = Instant::now();
    let r = get(&srv, &path).await;
    let held = t.elapsed();
    assert!(
        held >= Duration::from_millis(390) && held < Duration::from_millis(1_500),
        "{held:?}"
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!([{"headers": {"control": "up-to-date"}}]));
    assert_eq!(r.header("electric-offset"), Some(offset));
    // Nothing changed, so nothing for --latency-report to time.
    assert_eq!(r.header(trigger_tui::latency::CHANGED_AT_HEADER), None);
    let cursor = r.header("electric-cursor").unwrap().to_owned();
    let again = get(&srv, &path).await;
    assert_ne!(again.header("electric-cursor").unwrap(), cursor);
    srv.shutdown().await;
}

#[tokio::test]
async fn held_live_request_is_answered_as_soon_as_the_sim_moves() {
    let srv = serve(ServerConfig {
        live_hold: Duration::from_secs(10),
        ..config(5, 0.000_001)
    })
    .await;
    let control = srv.control();
    // Create every run, then snapshot.
    while control.runs_created() < 5 {
        assert!(control.advance());
    }
    let (first, mirror) = snapshot(&srv).await;
    let handle = first.header("electric-handle").unwrap();
    let offset = first.header("electric-offset").unwrap();
    let path = feed(
        &srv,
        &format!("cursor=&handle={handle}&live=true&offset={offset}"),
    );
    let mover = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        control.advance()
    });
    let t = Instant::now();
    let r = get(&srv, &path).await;
    let held = t.elapsed();
    assert!(mover.await.unwrap());
    assert!(
        held >= Duration::from_millis(250) && held < Duration::from_secs(5),
        "{held:?}"
    );
    let messages = r.messages();
    assert!(messages.len() >= 2, "{messages:?}");
    assert_eq!(
        offset_version(r.header("electric-offset").unwrap()),
        offset_version(offset) + 1
    );
    for m in &messages[..messages.len() - 1] {
        assert_eq!(m["headers"]["operation"], "update");
        let value = m["value"].as_object().unwrap();
        assert!(value.contains_key("id") && value.contains_key("updatedAt"));
        assert!(value.len() < 10, "only changed columns: {value:?}");
        let key = m["key"].as_str().unwrap();
        assert!(mirror.rows.contains_key(key));
        for (col, v) in value {
            if col != "id" {
                assert_ne!(&mirror.rows[key][col], v, "{col} did not change");
            }
        }
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn unknown_or_rotated_handle_gets_409_must_refetch() {
    let srv = serve(config(3, 0.000_001)).await;
    let control = srv.control();
    let r = get(&srv, &feed(&srv, "handle=bogus-1&offset=0_0")).await;
    assert_eq!(r.status, 409);
    assert_json_content_type(&r);
    assert_eq!(r.header("electric-handle").unwrap(), control.handle());
    assert_eq!(r.body, r#"[{"headers":{"control":"must-refetch"}}]"#);
    let live = get(
        &srv,
        &feed(&srv, "cursor=&handle=bogus-1&live=true&offset=0_0"),
    )
    .await;
    assert_eq!(live.status, 409);

    // Rotation: the old handle is refused, a held request on it is released with 409.
    let old = control.handle();
    let held = {
        let url = format!(
            "{}{}",
            srv.base_url(),
            feed(&srv, &format!("handle={old}&live=true&offset=0_0"))
        );
        tokio::spawn(async move {
            let t = Instant::now();
            let r = client()
                .get(url)
                .header("authorization", format!("Bearer {DEMO_SECRET_KEY}"))
                .header("x-trigger-electric-version", "1.0.0-beta.1")
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.headers().get("electric-handle").cloned(),
                t.elapsed(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    control.rotate_handle();
    let new = control.handle();
    assert_ne!(old, new);
    let (status, header, took) = held.await.unwrap();
    assert_eq!(status, 409);
    assert_eq!(header.unwrap().to_str().unwrap(), new);
    assert!(took < Duration::from_secs(5));
    let stale = get(&srv, &feed(&srv, &format!("handle={old}&offset=0_0"))).await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.header("electric-handle").unwrap(), new);
    // offset=-1 with the new handle (what the SDK sends after a 409) starts over.
    let again = get(
        &srv,
        &feed(
            &srv,
            &format!("expired_handle={old}&handle={new}&offset=-1"),
        ),
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("electric-handle").unwrap(), new);
    // Handles differ between server processes, even with one seed.
    let other = serve(config(3, 0.000_001)).await;
    assert_ne!(other.control().handle(), new);
    srv.shutdown().await;
    other.shutdown().await;
}

#[tokio::test]
async fn missing_or_wrong_key_is_401_and_never_echoed() {
    let srv = serve(config(3, 1.0)).await;
    let paths = [
        feed(&srv, "offset=-1"),
        format!("/api/v1/batches/{}", srv.batch_id()),
        format!("/api/v2/batches/{}", srv.batch_id()),
        "/realtime/v1/batches/batch_nope?offset=-1".to_owned(),
    ];
    for path in &paths {
        for key in [None, Some("tr_dev_wrong_key_12345"), Some("")] {
            let r = get_with(&srv, path, Client::Sdk, key).await;
            assert_eq!(r.status, 401, "{path} {key:?}");
            assert_json_content_type(&r);
            assert_eq!(r.json(), json!({"error": "Invalid or missing API key"}));
            assert!(!r.body.contains("wrong_key"));
        }
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn unknown_batch_is_404_and_bad_requests_are_400() {
    let srv = serve(config(3, 1.0)).await;
    for path in [
        "/realtime/v1/batches/batch_unknown?offset=-1",
        "/api/v1/batches/batch_unknown",
        "/api/v2/batches/batch_unknown",
    ] {
        let r = get(&srv, path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_json_content_type(&r);
        assert_eq!(r.json(), json!({"error": "Batch not found"}));
    }
    let handle = srv.control().handle();
    for (query, param) in [
        ("offset=abc".to_owned(), "offset"),
        ("offset=1".to_owned(), "offset"),
        ("offset=1_x".to_owned(), "offset"),
        (format!("offset=-2&handle={handle}"), "offset"),
        ("live=true".to_owned(), "offset"),
        ("offset=-1&live=true".to_owned(), "live"),
        ("offset=0_0".to_owned(), "handle"),
    ] {
        let r = get(&srv, &feed(&srv, &query)).await;
        assert_eq!(r.status, 400, "{query}");
        assert_json_content_type(&r);
        let body = r.json();
        assert_eq!(body["message"], "Invalid request");
        assert!(body["errors"][param].is_array(), "{query}: {body}");
    }
    let r = get(&srv, "/no/such/path").await;
    assert_eq!(r.status, 404);
    assert_json_content_type(&r);
    srv.shutdown().await;
}

#[tokio::test]
async fn old_clients_get_legacy_header_names_and_send_shape_id() {
    let srv = serve(config(4, 2_000.0)).await;
    srv.control().wait_until_done().await;
    let r = get_with(
        &srv,
        &feed(&srv, "offset=-1"),
        Client::Legacy,
        Some(DEMO_SECRET_KEY),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("electric-offset").is_none() && r.header("electric-handle").is_none());
    let handle = r.header("electric-shape-id").unwrap().to_owned();
    let offset = r.header("electric-chunk-last-offset").unwrap().to_owned();
    assert_eq!(handle, srv.control().handle());
    assert!(r.header("electric-schema").is_some());
    assert_eq!(r.messages().len(), 5);

    let legacy = |q: String| {
        let path = feed(&srv, &q);
        let srv = &srv;
        async move { get_with(srv, &path, Client::Legacy, Some(DEMO_SECRET_KEY)).await }
    };
    let ok = legacy(format!("offset={offset}&shape_id={handle}")).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("electric-shape-id"), Some(handle.as_str()));
    assert_eq!(ok.messages().len(), 1, "nothing changed since");
    // Old clients name the handle shape_id; `handle` alone is not read.
    let no_shape_id = legacy(format!("offset={offset}&handle={handle}")).await;
    assert_eq!(no_shape_id.status, 400);
    let stale = legacy(format!("offset={offset}&shape_id=stale-1")).await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.header("electric-shape-id"), Some(handle.as_str()));
    assert!(stale.header("electric-handle").is_none());
    srv.shutdown().await;
}

#[tokio::test]
async fn dequeued_is_executing_for_old_api_versions() {
    let srv = serve(config(20, f64::INFINITY)).await;
    let control = srv.control();
    let statuses = |r: &Reply| -> Vec<String> {
        let mut m = Mirror::default();
        m.apply(&r.messages());
        m.statuses()
    };
    loop {
        assert!(control.advance(), "no run was ever DEQUEUED");
        let r = get(&srv, &feed(&srv, "offset=-1")).await;
        if statuses(&r).iter().any(|s| s == "DEQUEUED") {
            break;
        }
    }
    let path = feed(&srv, "offset=-1");
    let sdk = get(&srv, &path).await;
    for who in [Client::OldApi, Client::Legacy] {
        let old = get_with(&srv, &path, who, Some(DEMO_SECRET_KEY)).await;
        assert!(!old.body.contains("DEQUEUED"));
        let (new_s, old_s) = (statuses(&sdk), statuses(&old));
        assert_eq!(new_s.len(), old_s.len());
        for (n, o) in new_s.iter().zip(&old_s) {
            if n == "DEQUEUED" {
                assert_eq!(o, "EXECUTING");
            } else {
                assert_eq!(n, o);
            }
        }
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn batch_info_v1_and_v2() {
    let srv = serve(config(15, f64::INFINITY)).await;
    let info = get(&srv, &format!("/api/v1/batches/{}", srv.batch_id()))
        .await
        .json();
    assert_eq!(info["status"], "PROCESSING");
    assert_eq!(info["runs"], json!([]));
    assert_eq!(info["runCount"], 15);

    let control = srv.control();
    while control.advance() {}
    assert!(control.is_done());
    let (_, mirror) = snapshot(&srv).await;
    let mut friendly: Vec<(u32, String)> = mirror
        .rows
        .values()
        .map(|r| {
            (
                r["number"].as_str().unwrap().parse().unwrap(),
                r["friendlyId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    friendly.sort();
    let friendly: Vec<String> = friendly.into_iter().map(|(_, f)| f).collect();

    let v1 = get(&srv, &format!("/api/v1/batches/{}", srv.batch_id())).await;
    assert_eq!(v1.status, 200);
    assert_json_content_type(&v1);
    let v1 = v1.json();
    assert_eq!(v1["id"], srv.batch_id());
    assert_eq!(v1["status"], "COMPLETED");
    assert_eq!(v1["runCount"], 15);
    assert_eq!(v1["runs"], json!(friendly));
    assert_eq!(v1["successfulRunCount"], 15);
    assert_eq!(v1["failedRunCount"], 0);
    assert!(v1.get("processing").is_none());
    for field in ["createdAt", "updatedAt"] {
        let text = v1[field].as_str().unwrap();
        assert!(text.ends_with('Z') && text.len() == 24, "{field} = {text}");
        chrono::DateTime::parse_from_rfc3339(text).unwrap();
    }
    assert!(v1["updatedAt"].as_str() > v1["createdAt"].as_str());

    let v2 = get(&srv, &format!("/api/v2/batches/{}", srv.batch_id()))
        .await
        .json();
    assert_eq!(v2["status"], "COMPLETED");
    assert_eq!(v2["runs"], json!(friendly));
    assert_eq!(v2["processing"]["errors"], json!([]));
    assert!(
        v2["processing"]["completedAt"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn fail_next_injects_statuses_then_recovers() {
    let srv = serve(config(3, 1.0)).await;
    let control = srv.control();
    control.fail_next(429, 2);
    control.fail_next(503, 1);
    let path = feed(&srv, "offset=-1");
    for expected in [429, 429, 503] {
        let r = get(&srv, &path).await;
        assert_eq!(r.status, expected);
        assert_json_content_type(&r);
        assert!(r.json()["error"].is_string());
        assert!(r.header("electric-offset").is_none());
    }
    let r = get(&srv, &path).await;
    assert_eq!(r.status, 200);
    // Batch info is not affected.
    control.fail_next(500, 1);
    let info = get(&srv, &format!("/api/v2/batches/{}", srv.batch_id())).await;
    assert_eq!(info.status, 200);
    assert_eq!(get(&srv, &path).await.status, 500);
    srv.shutdown().await;
}

fn without_timestamps(mirror: &Mirror) -> Vec<Map<String, Value>> {
    mirror
        .rows
        .values()
        .map(|row| {
            let mut row = row.clone();
            for col in TIMESTAMP_COLUMNS {
                let v = row.remove(col).unwrap();
                // Keep whether it is set.
                row.insert(col.to_owned(), Value::Bool(!v.is_null()));
            }
            row
        })
        .collect()
}

#[tokio::test]
async fn one_seed_gives_the_same_rows() {
    let cfg = |seed| ServerConfig {
        seed,
        ..config(30, 1_000_000.0)
    };
    let a = serve(cfg(11)).await;
    let b = serve(cfg(11)).await;
    let c = serve(cfg(12)).await;
    for s in [&a, &b, &c] {
        s.control().wait_until_done().await;
    }
    assert_eq!(a.batch_id(), b.batch_id());
    assert_ne!(a.batch_id(), c.batch_id());
    assert_ne!(a.control().handle(), b.control().handle());
    let (ra, ma) = snapshot(&a).await;
    let (_, mb) = snapshot(&b).await;
    let (_, mc) = snapshot(&c).await;
    assert_eq!(without_timestamps(&ma), without_timestamps(&mb));
    assert_ne!(without_timestamps(&ma), without_timestamps(&mc));
    assert_eq!(
        ra.header("electric-offset"),
        Some(format!("{}_0", a.control().version()).as_str())
    );
    for s in [a, b, c] {
        s.shutdown().await;
    }
}

#[tokio::test]
async fn infinite_speed_walks_every_run_through_every_status() {
    let srv = serve(ServerConfig {
        live_hold: Duration::from_millis(200),
        ..config(25, f64::INFINITY)
    })
    .await;
    let (first, mut mirror) = snapshot(&srv).await;
    assert!(
        mirror.rows.is_empty(),
        "nothing happens before the first live request"
    );
    let handle = first.header("electric-handle").unwrap().to_owned();
    let mut offset = first.header("electric-offset").unwrap().to_owned();
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    let mut requests = 0;
    while !srv.control().is_done() {
        requests += 1;
        assert!(requests < 10_000);
        let r = get(
            &srv,
            &feed(&srv, &format!("handle={handle}&live=true&offset={offset}")),
        )
        .await;
        assert_eq!(r.status, 200);
        let next = r.header("electric-offset").unwrap().to_owned();
        assert!(
            offset_version(&next) > offset_version(&offset),
            "every live request moves the sim: {offset} then {next}"
        );
        offset = next;
        // As many groups as keep each run to one change per answer, so no status is merged
        // away by a client that flushes at up-to-date.
        let messages = r.messages();
        let keys: Vec<&str> = messages.iter().filter_map(|m| m["key"].as_str()).collect();
        let distinct: HashSet<&str> = keys.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            keys.len(),
            "a run changed twice in one answer"
        );
        mirror.apply(&messages);
        for (key, row) in &mirror.rows {
            let status = row["status"].as_str().unwrap().to_owned();
            let list = seen.entry(key.clone()).or_default();
            if list.last() != Some(&status) {
                list.push(status);
            }
        }
    }
    assert_eq!(seen.len(), 25);
    let mut all = HashSet::new();
    for (key, statuses) in &seen {
        assert!(
            matches!(statuses[0].as_str(), "PENDING" | "DELAYED"),
            "{key}: {statuses:?}"
        );
        let last = statuses.last().unwrap();
        assert!(FINAL.contains(&last.as_str()), "{key}: {statuses:?}");
        let started = mirror.rows[key]["startedAt"].is_string();
        if started {
            let i = statuses.iter().position(|s| s == "DEQUEUED").unwrap();
            assert_eq!(statuses[i + 1], "EXECUTING", "{key}: {statuses:?}");
        }
        all.extend(statuses.iter().cloned());
    }
    for status in [
        "PENDING",
        "DEQUEUED",
        "EXECUTING",
        "COMPLETED_SUCCESSFULLY",
        "CRASHED",
    ] {
        assert!(all.contains(status), "{status} never seen in {all:?}");
    }
    // Once done, a live request is held and answered with a bare up-to-date.
    let r = get(
        &srv,
        &feed(&srv, &format!("handle={handle}&live=true&offset={offset}")),
    )
    .await;
    assert_eq!(r.json(), json!([{"headers": {"control": "up-to-date"}}]));
    srv.shutdown().await;
}

#[tokio::test]
async fn tags_are_array_literals_that_need_quoting() {
    let srv = serve(config(100, 1_000_000.0)).await;
    srv.control().wait_until_done().await;
    let (_, mirror) = snapshot(&srv).await;
    let tags: Vec<&str> = mirror
        .rows
        .values()
        .filter_map(|r| r["runTags"].as_str())
        .collect();
    assert!(tags.len() > 30);
    assert!(
        tags.iter().any(|t| t.contains(r#""customer \"vip\"""#)),
        "{tags:?}"
    );
    assert!(tags.iter().any(|t| t.contains(r#""import,batch-7""#)));
    assert!(tags.iter().any(|t| t.contains(r#""region eu-west""#)));
    assert!(tags.iter().any(|t| t.contains(r#""path\\to\\file""#)));
    assert!(tags.iter().any(|t| t.contains(r#""NULL""#)));
    assert!(
        tags.iter()
            .all(|t| t.starts_with('{') && t.ends_with('}') && !t.contains(",NULL"))
    );
    // Payload and error variety over a full batch.
    let types: HashSet<&str> = mirror
        .rows
        .values()
        .filter_map(|r| r["payloadType"].as_str())
        .collect();
    assert_eq!(types.len(), 3, "{types:?}");
    let errors: HashSet<String> = mirror
        .rows
        .values()
        .filter_map(|r| r["error"].as_str())
        .map(|e| {
            serde_json::from_str::<Value>(e).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    srv.shutdown().await;
}

#[tokio::test]
async fn skip_columns_leaves_out_all_but_reserved_columns() {
    let srv = serve(config(5, 1_000_000.0)).await;
    srv.control().wait_until_done().await;
    let r = get(
        &srv,
        &feed(&srv, "offset=-1&skipColumns=payload,output,id,status,bogus"),
    )
    .await;
    assert_eq!(r.status, 200);
    let schema: Value = serde_json::from_str(r.header("electric-schema").unwrap()).unwrap();
    assert!(schema.get("payload").is_none() && schema.get("output").is_none());
    assert!(schema.get("id").is_some() && schema.get("status").is_some());
    let m = &r.messages()[0]["value"];
    assert!(m.get("payload").is_none() && m.get("id").is_some() && m.get("status").is_some());
    srv.shutdown().await;
}

#[tokio::test]
async fn shutdown_releases_held_requests() {
    let srv = serve(ServerConfig {
        live_hold: Duration::from_secs(30),
        ..config(3, 0.000_001)
    })
    .await;
    let url = format!(
        "{}{}",
        srv.base_url(),
        feed(
            &srv,
            &format!("handle={}&live=true&offset=0_0", srv.control().handle())
        )
    );
    let held = tokio::spawn(async move {
        client()
            .get(url)
            .header("authorization", format!("Bearer {DEMO_SECRET_KEY}"))
            .header("x-trigger-electric-version", "1.0.0-beta.1")
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    srv.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(held.await.unwrap().unwrap(), 503);
}

#[tokio::test]
async fn rejects_a_non_positive_speed() {
    let addr: SocketAddr = LOOPBACK.parse().unwrap();
    for speed in [0.0, -1.0, f64::NAN] {
        let err = server::start(config(1, speed), addr).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}

#[tokio::test]
async fn an_empty_batch_is_done_at_once() {
    let srv = serve(config(0, 1.0)).await;
    assert!(srv.control().is_done());
    let (r, mirror) = snapshot(&srv).await;
    assert!(mirror.rows.is_empty());
    assert_eq!(r.header("electric-offset"), Some("0_0"));
    let info = get(&srv, &format!("/api/v2/batches/{}", srv.batch_id()))
        .await
        .json();
    assert_eq!(info["status"], "COMPLETED");
    assert_eq!(info["runCount"], 0);
    srv.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Fault injection.
// ---------------------------------------------------------------------------------------------

fn faulty(runs: usize, speed: f64, spec: &str, rate: f64) -> ServerConfig {
    ServerConfig {
        faults: FaultConfig::parse(spec, rate).unwrap(),
        ..config(runs, speed)
    }
}

/// A feed request as the SDK sends it, without reading the body.
async fn send(srv: &ServerHandle, path: &str) -> Result<reqwest::Response, reqwest::Error> {
    client()
        .get(format!("{}{path}", srv.base_url()))
        .header("authorization", format!("Bearer {DEMO_SECRET_KEY}"))
        .header("x-trigger-electric-version", "1.0.0-beta.1")
        .header("x-trigger-api-version", "2025-07-16")
        .send()
        .await
}

/// What one request came to: its status, or `0` when the connection was dropped.
async fn outcome(srv: &ServerHandle, path: &str) -> u16 {
    match send(srv, path).await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Every run created (so snapshots are not empty), with the sim stopped.
async fn all_created(runs: usize, spec: &str) -> ServerHandle {
    let srv = serve(faulty(runs, f64::INFINITY, spec, 1.0)).await;
    while srv.control().runs_created() < runs {
        assert!(srv.control().advance());
    }
    srv
}

#[tokio::test]
async fn fault_409_rotates_the_handle_and_answers_must_refetch() {
    let srv = all_created(3, "409").await;
    let control = srv.control();
    let before = control.handle();
    let r = get(&srv, &feed(&srv, "offset=-1")).await;
    assert_eq!(r.status, 409);
    assert_json_content_type(&r);
    assert_eq!(r.body, r#"[{"headers":{"control":"must-refetch"}}]"#);
    let new = r.header("electric-handle").unwrap();
    assert_ne!(new, before);
    assert_eq!(new, control.handle(), "the batch feed's handle was rotated");
    assert_eq!(control.injected_faults(), [FaultKind::MustRefetch]);

    control.set_faults(FaultConfig::none());
    let stale = get(&srv, &feed(&srv, &format!("handle={before}&offset=0_0"))).await;
    assert_eq!(stale.status, 409, "the old handle is gone for good");
    let (ok, mirror) = snapshot(&srv).await;
    assert_eq!(ok.header("electric-handle"), Some(new));
    assert_eq!(mirror.rows.len(), 3);
    srv.shutdown().await;
}

#[tokio::test]
async fn fault_429_carries_retry_after() {
    let srv = all_created(3, "429").await;
    for _ in 0..5 {
        let r = get(&srv, &feed(&srv, "offset=-1")).await;
        assert_eq!(r.status, 429);
        assert_json_content_type(&r);
        let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=5).contains(&after), "{after}");
        assert!(r.header("electric-offset").is_none());
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn fault_5xx_answers_every_server_error_kind() {
    let srv = all_created(3, "5xx").await;
    let mut seen = HashSet::new();
    for _ in 0..40 {
        let r = get(&srv, &feed(&srv, "offset=-1")).await;
        assert!([500, 502, 503, 504].contains(&r.status), "{}", r.status);
        if r.status == 504 {
            assert_eq!(r.header("content-type"), Some("text/html"));
            assert_eq!(r.body, "<html>upstream timed out</html>");
        }
        if r.status == 500 || r.status == 503 {
            assert!(r.json()["error"].is_string());
        }
        seen.insert(r.status);
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    srv.shutdown().await;
}

#[tokio::test]
async fn fault_slow_answers_normally_but_late() {
    let srv = all_created(3, "slow").await;
    let t = Instant::now();
    let r = get(&srv, &feed(&srv, "offset=-1")).await;
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(990) && took < Duration::from_millis(5_800),
        "{took:?}"
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.messages().len(), 4);
    assert_eq!(srv.control().injected_faults(), [FaultKind::Slow]);
    srv.shutdown().await;
}

#[tokio::test]
async fn fault_drop_closes_the_connection_without_a_byte() {
    use std::io::{Read, Write};

    let srv = all_created(3, "drop").await;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {DEMO_SECRET_KEY}\r\n\
         x-trigger-electric-version: 1.0.0-beta.1\r\n\r\n",
        feed(&srv, "offset=-1"),
        srv.addr()
    );
    let addr = srv.addr();
    let received = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut buf = Vec::new();
        match stream.read_to_end(&mut buf) {
            Ok(_) => buf,
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
                buf
            }
        }
    })
    .await
    .unwrap();
    assert!(
        received.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    // An HTTP client sees a transport error, not a status.
    let err = send(&srv, &feed(&srv, "offset=-1")).await.unwrap_err();
    assert!(err.status().is_none(), "{err}");
    srv.shutdown().await;
}

#[tokio::test]
async fn fault_truncate_cuts_a_200_body_mid_way() {
    let srv = all_created(20, "truncate").await;
    let mut res = send(&srv, &feed(&srv, "offset=-1")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("electric-offset").is_some());
    assert!(res.headers().get("electric-schema").is_some());
    let announced: usize = res.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut body = Vec::new();
    let failed = loop {
        match res.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(failed, "the body must end in a transport error");
    assert!(
        !body.is_empty() && body.len() < announced,
        "{} of {announced}",
        body.len()
    );
    assert_eq!(body[0], b'[');
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    // The same request without faults is whole and announced the same length.
    srv.control().set_faults(FaultConfig::none());
    let whole = get(&srv, &feed(&srv, "offset=-1")).await;
    assert_eq!(whole.body.len(), announced);
    assert!(whole.body.as_bytes().starts_with(&body));
    srv.shutdown().await;
}

#[tokio::test]
async fn fault_duplicate_repeats_change_messages() {
    let srv = all_created(10, "duplicate").await;
    let r = get(&srv, &feed(&srv, "offset=-1")).await;
    assert_eq!(r.status, 200);
    let messages = r.messages();
    assert_eq!(
        messages.last().unwrap(),
        &json!({"headers": {"control": "up-to-date"}})
    );
    let keys: Vec<&str> = messages.iter().filter_map(|m| m["key"].as_str()).collect();
    let distinct: HashSet<&str> = keys.iter().copied().collect();
    assert_eq!(distinct.len(), 10);
    assert!(keys.len() > 10, "some message is repeated");
    // An idempotent client ends up with exactly the table.
    let rows = merge(&mut BTreeMap::new(), &messages);
    assert_eq!(rows, truth(&srv));
    srv.shutdown().await;
}

#[tokio::test]
async fn faults_are_deterministic_for_a_seed() {
    let spec = "drop,409,429,5xx,duplicate";
    let run = |seed: u64| async move {
        let srv = serve(ServerConfig {
            seed,
            ..faulty(5, f64::INFINITY, spec, 0.5)
        })
        .await;
        let mut outcomes = Vec::new();
        for _ in 0..40 {
            outcomes.push(outcome(&srv, &feed(&srv, "offset=-1")).await);
        }
        let injected = srv.control().injected_faults();
        srv.shutdown().await;
        (outcomes, injected)
    };
    let (a, fa) = run(21).await;
    let (b, fb) = run(21).await;
    let (c, fc) = run(22).await;
    assert_eq!(a, b);
    assert_eq!(fa, fb);
    assert_ne!((&a, &fa), (&c, &fc));
    assert!((8..=32).contains(&fa.len()), "{} faults in 40", fa.len());
    let statuses: HashSet<u16> = a.iter().copied().collect();
    assert!(
        statuses.contains(&200) && statuses.contains(&0),
        "{statuses:?}"
    );
}

/// Applies a response body the way an idempotent client does; returns the rows.
fn merge(
    rows: &mut BTreeMap<String, Map<String, Value>>,
    messages: &[Value],
) -> BTreeMap<String, Map<String, Value>> {
    for m in messages {
        if m["headers"]["control"] == "must-refetch" {
            rows.clear();
        }
        let Some(key) = m["key"].as_str() else {
            continue;
        };
        let value = m["value"].as_object().unwrap();
        match m["headers"]["operation"].as_str().unwrap() {
            "insert" => {
                rows.insert(key.to_owned(), value.clone());
            }
            "update" => rows
                .entry(key.to_owned())
                .or_default()
                .extend(value.clone()),
            other => panic!("operation {other}"),
        }
    }
    rows.clone()
}

/// The server's table, keyed like the feed.
fn truth(srv: &ServerHandle) -> BTreeMap<String, Map<String, Value>> {
    srv.control()
        .snapshot_rows()
        .into_iter()
        .map(|row| {
            let row = row.as_object().unwrap().clone();
            let key = format!("\"public\".\"TaskRun\"/\"{}\"", row["id"].as_str().unwrap());
            (key, row)
        })
        .collect()
}

/// A client that survives every fault: retries transport errors, 429, 5xx and unreadable
/// bodies from the same offset, refetches on 409, merges idempotently. Returns once its rows
/// equal the server's table after the simulation ended.
async fn follow_until_converged(srv: &ServerHandle, path: &str) -> usize {
    let control = srv.control();
    let mut rows = BTreeMap::new();
    let (mut handle, mut offset, mut cursor) = (None::<String>, "-1".to_owned(), String::new());
    let mut live = false;
    let started = Instant::now();
    for requests in 1.. {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never converged"
        );
        let mut query = format!("offset={offset}");
        if let Some(h) = &handle {
            query.push_str(&format!("&handle={h}"));
        }
        if live {
            query.push_str(&format!("&live=true&cursor={cursor}"));
        }
        let Ok(res) = send(srv, &format!("{path}{query}")).await else {
            continue;
        };
        let status = res.status().as_u16();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        if status == 409 {
            handle = header("electric-handle");
            offset = "-1".to_owned();
            live = false;
            rows.clear();
            continue;
        }
        if status == 429 || status >= 500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        assert_eq!(status, 200);
        let (next_offset, next_handle, next_cursor) = (
            header("electric-offset"),
            header("electric-handle"),
            header("electric-cursor"),
        );
        let Ok(body) = res.bytes().await else {
            continue;
        };
        let Ok(messages) = serde_json::from_slice::<Vec<Value>>(&body) else {
            continue;
        };
        merge(&mut rows, &messages);
        offset = next_offset.unwrap();
        handle = next_handle;
        if let Some(c) = next_cursor {
            cursor = c;
        }
        live = live
            || messages
                .iter()
                .any(|m| m["headers"]["control"] == "up-to-date");
        if control.is_done() && control.faults().is_none() && live && rows == truth(srv) {
            return requests;
        }
    }
    unreachable!()
}

#[tokio::test]
async fn clients_converge_once_faults_are_switched_off() {
    let srv = serve(ServerConfig {
        live_hold: Duration::from_millis(300),
        seed: 11,
        ..faulty(8, 20.0, "drop,409,429,5xx,truncate,duplicate", 0.3)
    })
    .await;
    let control = srv.control();
    let switch_off = {
        let control = control.clone();
        tokio::spawn(async move {
            control.wait_until_done().await;
            control.set_faults(FaultConfig::none());
        })
    };
    let path = feed(&srv, "");
    let requests = follow_until_converged(&srv, &path).await;
    switch_off.await.unwrap();
    // Seed 11 draws a 409, a duplicate, a 429, a truncation and a drop within its first eight
    // faults, well inside the ~60 requests a run takes.
    let injected: HashSet<FaultKind> = control.injected_faults().into_iter().collect();
    assert!(injected.len() >= 5, "{injected:?} in {requests} requests");
    srv.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Offloaded packets.
// ---------------------------------------------------------------------------------------------

async fn get_no_auth(url: &str) -> Reply {
    let res = client().get(url).send().await.unwrap();
    Reply {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

fn store_row(srv: &ServerHandle) -> Option<Map<String, Value>> {
    srv.control()
        .snapshot_rows()
        .into_iter()
        .map(|r| r.as_object().unwrap().clone())
        .find(|r| r["outputType"] == "application/store")
}

#[tokio::test]
async fn offloaded_output_is_served_through_a_presigned_url() {
    let srv = serve(config(10, f64::INFINITY)).await;
    let control = srv.control();
    while control.advance() {}
    let row = store_row(&srv).expect("one run's output is offloaded");
    let run = row["friendlyId"].as_str().unwrap();
    let path = row["output"].as_str().unwrap();
    assert_eq!(path, format!("packets/{run}/output.json"));

    let by_run = get(&srv, &format!("/api/v1/runs/{run}/packets/output")).await;
    assert_eq!(by_run.status, 200, "{}", by_run.body);
    assert_json_content_type(&by_run);
    let url = by_run.json()["presignedUrl"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("{}/packets-store/", srv.base_url())),
        "{url}"
    );
    assert!(url.ends_with(&format!("/{path}")), "{url}");

    // No credentials needed; the content type is the packet's own, exactly.
    let data = get_no_auth(&url).await;
    assert_eq!(data.status, 200);
    assert_eq!(data.header("content-type"), Some("application/super+json"));
    assert!(data.body.len() > 150_000, "{}", data.body.len());
    let packet = data.json();
    assert_eq!(packet["json"]["runId"], run);
    assert_eq!(packet["json"]["rows"].as_array().unwrap().len(), 1_100);
    assert_eq!(packet["meta"]["values"]["exportedAt"], json!(["Date"]));

    // The path route (what the SDK falls back to), URL-encoded as the SDK sends it.
    let encoded = path.replace('/', "%2F");
    let by_path = get(&srv, &format!("/api/v1/packets/{encoded}")).await;
    assert_eq!(by_path.status, 200);
    let url2 = by_path.json()["presignedUrl"].as_str().unwrap().to_owned();
    assert_eq!(get_no_auth(&url2).await.body, data.body);
    let plain = get(&srv, &format!("/api/v1/packets/{path}")).await;
    assert_eq!(plain.status, 200);

    // The API routes need credentials; the store needs a valid token for that path.
    for api in [
        format!("/api/v1/runs/{run}/packets/output"),
        format!("/api/v1/packets/{encoded}"),
    ] {
        let r = get_with(&srv, &api, Client::Sdk, None).await;
        assert_eq!(r.status, 401, "{api}");
    }
    let tampered = url.replace("/packets-store/", "/packets-store/1");
    assert_eq!(get_no_auth(&tampered).await.status, 403);
    let other_path = url.replace("output.json", "payload.json");
    assert_eq!(get_no_auth(&other_path).await.status, 403);
    let unknown = get(&srv, "/api/v1/packets/packets%2Fnope%2Foutput.json").await;
    let unknown_url = unknown.json()["presignedUrl"].as_str().unwrap().to_owned();
    let missing = get_no_auth(&unknown_url).await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("NoSuchKey"));

    // Nothing offloaded: 404 (the SDK then tries the path route).
    for api in [
        format!("/api/v1/runs/{run}/packets/payload"),
        format!("/api/v1/runs/{run}/packets/metadata"),
        "/api/v1/runs/run_unknown/packets/output".to_owned(),
    ] {
        let r = get(&srv, &api).await;
        assert_eq!(r.status, 404, "{api}");
        assert_json_content_type(&r);
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn offloaded_output_exists_only_once_the_run_has_it() {
    // Which run's output is offloaded: finish the batch on a twin server (same seed).
    let twin = serve(config(10, f64::INFINITY)).await;
    while twin.control().advance() {}
    let plan_path = store_row(&twin).unwrap()["output"]
        .as_str()
        .unwrap()
        .to_owned();
    twin.shutdown().await;
    let run = plan_path.split('/').nth(1).unwrap().to_owned();

    // Here, step only until that run exists.
    let srv = serve(config(10, f64::INFINITY)).await;
    let control = srv.control();
    while !control
        .snapshot_rows()
        .iter()
        .any(|r| r["friendlyId"] == run.as_str())
    {
        assert!(control.advance());
    }
    assert!(store_row(&srv).is_none(), "the run has not finished yet");
    let early = get(&srv, &format!("/api/v1/runs/{run}/packets/output")).await;
    assert_eq!(early.status, 404);
    let presigned = get(&srv, &format!("/api/v1/packets/{plan_path}")).await;
    let url = presigned.json()["presignedUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(get_no_auth(&url).await.status, 404);
    while control.advance() {}
    assert_eq!(get_no_auth(&url).await.status, 200);
    srv.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Public access tokens.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn public_tokens_are_checked_for_signature_expiry_and_scope() {
    let srv = serve(config(10, f64::INFINITY)).await;
    while srv.control().advance() {}
    let batch = srv.batch_id().to_owned();
    let hour = Duration::from_secs(3_600);
    let feed_path = feed(&srv, "offset=-1");
    let info = format!("/api/v2/batches/{batch}");
    let read_batch = format!("read:batch:{batch}");

    for scopes in [
        vec![read_batch.as_str()],
        vec!["read:runs"],
        vec!["read:all"],
        vec!["write:tasks", read_batch.as_str()],
    ] {
        let token = srv.mint_token(&scopes, hour);
        for path in [&feed_path, &info] {
            let r = get_with(&srv, path, Client::Sdk, Some(&token)).await;
            assert_eq!(r.status, 200, "{scopes:?} {path}: {}", r.body);
        }
    }

    // Valid, but for something else: 403 naming the scope that is missing.
    let other = srv.mint_token(&["read:batch:batch_other", "read:runs:run_x"], hour);
    for path in [&feed_path, &info] {
        let r = get_with(&srv, path, Client::Sdk, Some(&other)).await;
        assert_eq!(r.status, 403, "{path}");
        assert_json_content_type(&r);
        let body = r.json();
        assert_eq!(body["missingScope"], read_batch.as_str());
        assert!(body["error"].as_str().unwrap().contains(&read_batch));
        assert!(!r.body.contains(&other));
    }
    // An unknown batch is 404 before any scope check.
    let r = get_with(
        &srv,
        "/realtime/v1/batches/batch_other?offset=-1",
        Client::Sdk,
        Some(&other),
    )
    .await;
    assert_eq!(r.status, 404);

    // Forged (another key), expired, or not a token at all: 401.
    let forger = serve(ServerConfig {
        secret_key: "tr_dev_someone_else".to_owned(),
        ..config(1, 1.0)
    })
    .await;
    let forged = forger.mint_token(&[&read_batch], hour);
    let expired = srv.mint_token(&[&read_batch], Duration::ZERO);
    for (what, token) in [
        ("forged", forged.as_str()),
        ("expired", expired.as_str()),
        ("garbage", "a.b.c"),
    ] {
        let r = get_with(&srv, &feed_path, Client::Sdk, Some(token)).await;
        assert_eq!(r.status, 401, "{what}");
        assert_json_content_type(&r);
        assert!(r.json()["error"].is_string());
    }
    let r = get_with(&srv, &feed_path, Client::Sdk, Some(&expired)).await;
    assert_eq!(r.json()["error"], "Public Access Token has expired");
    forger.shutdown().await;
    srv.shutdown().await;
}

#[tokio::test]
async fn public_tokens_reach_runs_and_packets_through_batch_tag_or_run_scopes() {
    let srv = serve(config(10, f64::INFINITY)).await;
    while srv.control().advance() {}
    let hour = Duration::from_secs(3_600);
    let row = store_row(&srv).unwrap();
    let run = row["friendlyId"].as_str().unwrap().to_owned();
    let packet = format!("/api/v1/runs/{run}/packets/output");
    let run_feed = format!("/realtime/v1/runs/{run}?offset=-1");

    let status = |token: String, path: String| {
        let srv = &srv;
        async move { get_with(srv, &path, Client::Sdk, Some(&token)).await.status }
    };
    let batch_scope = format!("read:batch:{}", srv.batch_id());
    for scope in [format!("read:runs:{run}"), batch_scope.clone()] {
        let token = srv.mint_token(&[&scope], hour);
        assert_eq!(status(token.clone(), packet.clone()).await, 200, "{scope}");
        assert_eq!(status(token, run_feed.clone()).await, 200, "{scope}");
    }
    let wrong = srv.mint_token(&["read:runs:run_other"], hour);
    assert_eq!(status(wrong.clone(), packet.clone()).await, 403);
    assert_eq!(status(wrong, run_feed.clone()).await, 403);

    // Tag scopes: the tag feed for that tag, and every run carrying it.
    let tag = "tenant:acme";
    let tag_feed = format!("/realtime/v1/runs?tags={tag}&offset=-1");
    let tagged = srv.mint_token(&[&format!("read:tags:{tag}")], hour);
    assert_eq!(status(tagged.clone(), tag_feed.clone()).await, 200);
    let by_batch = srv.mint_token(&[&batch_scope], hour);
    assert_eq!(status(by_batch, tag_feed).await, 403);
    let r = get_with(
        &srv,
        "/realtime/v1/runs?tags=tenant:globex&offset=-1",
        Client::Sdk,
        Some(&tagged),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["missingScope"], "read:tags:tenant:globex");
    srv.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Single-run and tag feeds.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn single_run_feed_serves_one_row_with_its_own_handles() {
    let srv = serve(ServerConfig {
        live_hold: Duration::from_millis(200),
        ..config(6, f64::INFINITY)
    })
    .await;
    let control = srv.control();
    while control.runs_created() < 6 {
        assert!(control.advance());
    }
    let (_, batch) = snapshot(&srv).await;
    let (key, row) = batch.rows.iter().nth(2).unwrap();
    let run = row["friendlyId"].as_str().unwrap().to_owned();
    let path = |q: &str| format!("/realtime/v1/runs/{run}?{q}");

    let first = get(&srv, &path("offset=-1")).await;
    assert_eq!(first.status, 200);
    assert!(first.header("electric-schema").is_some());
    let mut mirror = Mirror::default();
    mirror.apply(&first.messages());
    assert_eq!(mirror.rows.keys().collect::<Vec<_>>(), [key]);
    let handle = first.header("electric-handle").unwrap().to_owned();
    assert_ne!(handle, control.handle(), "its own handle space");
    let offset = first.header("electric-offset").unwrap().to_owned();
    let same = get(&srv, &path(&format!("handle={handle}&offset={offset}"))).await;
    assert_eq!(same.status, 200);
    assert_eq!(same.messages().len(), 1, "nothing changed");
    let batch_handle = control.handle();
    let foreign = get(
        &srv,
        &path(&format!("handle={batch_handle}&offset={offset}")),
    )
    .await;
    assert_eq!(foreign.status, 409);
    assert_eq!(foreign.header("electric-handle"), Some(handle.as_str()));

    // Live: every change is to this run only, until it is final.
    let mut offset = offset;
    let started = Instant::now();
    while !FINAL.contains(&mirror.statuses()[0].as_str()) {
        assert!(started.elapsed() < Duration::from_secs(30));
        let r = get(
            &srv,
            &path(&format!(
                "cursor=&handle={handle}&live=true&offset={offset}"
            )),
        )
        .await;
        assert_eq!(r.status, 200);
        assert!(r.header("electric-cursor").is_some());
        offset = r.header("electric-offset").unwrap().to_owned();
        mirror.apply(&r.messages());
        assert_eq!(mirror.rows.len(), 1);
    }
    assert_eq!(mirror.rows[key], truth(&srv)[key]);

    // Rotation reaches run feeds too.
    control.rotate_handle();
    let stale = get(&srv, &path(&format!("handle={handle}&offset={offset}"))).await;
    assert_eq!(stale.status, 409);
    assert_ne!(stale.header("electric-handle"), Some(handle.as_str()));

    for unknown in ["run_doesnotexist", "cm_internal_id"] {
        let r = get(&srv, &format!("/realtime/v1/runs/{unknown}?offset=-1")).await;
        assert_eq!(r.status, 404);
        assert_eq!(r.json(), json!({"error": "Run not found"}));
    }
    srv.shutdown().await;
}

/// The tags of a row, from its `runTags` array literal (bare elements only, enough here).
fn row_tags(row: &Map<String, Value>) -> Vec<String> {
    row["runTags"].as_str().map_or_else(Vec::new, |t| {
        t.trim_start_matches('{')
            .trim_end_matches('}')
            .split(',')
            .map(str::to_owned)
            .collect()
    })
}

#[tokio::test]
async fn tag_feed_serves_runs_with_any_of_the_tags() {
    let srv = serve(config(60, f64::INFINITY)).await;
    while srv.control().advance() {}
    let truth = truth(&srv);
    let wanted = ["env:demo", "tenant:acme"];
    let expected: HashSet<&String> = truth
        .iter()
        .filter(|(_, row)| row_tags(row).iter().any(|t| wanted.contains(&t.as_str())))
        .map(|(k, _)| k)
        .collect();
    assert!(
        expected.len() > 3 && expected.len() < 60,
        "{}",
        expected.len()
    );

    let r = get(
        &srv,
        "/realtime/v1/runs?tags=env:demo,tenant:acme&createdAt=24h&offset=-1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut mirror = Mirror::default();
    mirror.apply(&r.messages());
    assert_eq!(mirror.rows.keys().collect::<HashSet<_>>(), expected);
    for (key, row) in &mirror.rows {
        assert_eq!(row, &truth[key]);
    }
    let handle = r.header("electric-handle").unwrap();
    assert_ne!(handle, srv.control().handle());

    // One tag set, one handle, whatever the order; another set, another handle.
    let swapped = get(
        &srv,
        "/realtime/v1/runs?tags=tenant:acme,env:demo&offset=-1",
    )
    .await;
    assert_eq!(swapped.header("electric-handle"), Some(handle));
    let other = get(&srv, "/realtime/v1/runs?tags=env:demo&offset=-1").await;
    assert_ne!(other.header("electric-handle"), Some(handle));
    assert!(other.messages().len() <= r.messages().len());
    let offset = r.header("electric-offset").unwrap();
    let crossed = get(
        &srv,
        &format!("/realtime/v1/runs?tags=env:demo&handle={handle}&offset={offset}"),
    )
    .await;
    assert_eq!(crossed.status, 409);

    // No tags: every run.
    let all = get(&srv, "/realtime/v1/runs?offset=-1").await;
    assert_eq!(all.messages().len(), 61);
    let none = get(&srv, "/realtime/v1/runs?tags=no-such-tag&offset=-1").await;
    assert_eq!(none.json(), json!([{"headers": {"control": "up-to-date"}}]));
    srv.shutdown().await;
}
