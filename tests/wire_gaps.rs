//! Protocol features the README listed as not tested, each driven end to end through the real
//! client: the feed task (`task::spawn`) or the packet fetcher (`client::packets::fetch`, and
//! the binary itself for the headless mode) talks real HTTP on loopback to a scripted wiremock
//! server, and what the feed reports is folded into an `App` with `update`, as the dashboard
//! does.
//!
//! - a 409 without an `electric-handle` header (mid-stream and on the very first request);
//! - a 200 with every Electric header but a body that is not a JSON array (an HTML page, a JSON
//!   object) on a live request;
//! - offloaded (`application/store`) packets: the per-run endpoint, the fallback to
//!   `/api/v1/packets/{path}`, failures in the detail pane and in `--output ndjson`;
//! - a 429 with `Retry-After: 3600`, retried on the client's own backoff.
//!
//! Timing: backoff is real. Every wait has a generous guard against hangs (`PATIENCE`); nothing
//! asserts on speed, only on request counts, on what was sent and on the delays the client
//! announces.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

mod common;

use std::collections::BTreeMap;
use std::process::Output;
use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use serde_json::{Value as Json, json};
use tokio::time::timeout;
use url::Url;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use trigger_tui::app::{App, Cmd, Connection, FetchState, Msg, PacketView, update};
use trigger_tui::client::packets::{self, Field};
use trigger_tui::client::{FeedEvent, Flush, Transport};
use trigger_tui::model::{Packet, RunStatus};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_trigger-tui");
/// The key `feed_config` sends; the binary is given the same one.
const KEY: &str = "tr_dev_field_cases";

fn ids(app: &App) -> Vec<String> {
    app.runs.iter().map(|r| r.id.clone()).collect()
}

fn flush_ids(flush: &Flush) -> Vec<String> {
    let mut ids: Vec<String> = flush.runs.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids
}

/// The flushes the feed handed on, in order.
fn runs_events(events: &[FeedEvent]) -> Vec<&Flush> {
    events
        .iter()
        .filter_map(|e| match e {
            FeedEvent::Runs(flush) => Some(flush),
            _ => None,
        })
        .collect()
}

fn lives(events: &[FeedEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, FeedEvent::Live))
        .count()
}

// ---------------------------------------------------------------------------------------------
// 1. A 409 without an `electric-handle` header
// ---------------------------------------------------------------------------------------------

/// A 409 must-refetch as a server or proxy might send it without naming the new handle.
fn must_refetch_without_handle() -> ResponseTemplate {
    ResponseTemplate::new(409).set_body_raw(
        r#"[{"headers":{"control":"must-refetch"}}]"#,
        "application/json",
    )
}

/// `@electric-sql/client` 1.0.14 (the SDK's) takes `<old handle>-next` as the new handle when
/// a 409 names none, and remembers the old one as expired; so does ours. The refetch from
/// `offset=-1` hands on every run again, unchanged ones included, and the feed goes live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_without_a_handle_refetches_with_old_handle_next_and_loses_nothing() {
    let server = MockServer::start().await;
    mount_snapshot(
        &server,
        snapshot(
            "h-1",
            "100_0",
            S0,
            body(&[insert(1, "EXECUTING"), insert(2, "EXECUTING"), utd()]),
        ),
    )
    .await;
    mount_live(&server, "h-1", "100_0", must_refetch_without_handle()).await;
    // The refetch: run_0001 unchanged, run_0002 finished meanwhile, run_0003 new.
    let refetched = body(&[
        insert(1, "EXECUTING"),
        insert_with(
            2,
            "COMPLETED_SUCCESSFULLY",
            json!({"completedAt": "2026-12-03 10:00:40.000"}),
        ),
        insert(3, "EXECUTING"),
        utd(),
    ]);
    Mock::given(method("GET"))
        .and(path(FEED_PATH))
        .and(query_param("offset", "-1"))
        .and(query_param("handle", "h-1-next"))
        .respond_with(snapshot("h-2", "300_0", S0, refetched))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_hold(&server, "h-2", "300_0").await;

    let mut feed = Feed::start(&server.uri());
    feed.until("the first snapshot", |_, events| flushes(events) >= 1)
        .await;
    assert_eq!(ids(&feed.app), vec!["run_0001", "run_0002"]);
    feed.until("the refetched snapshot", |_, events| flushes(events) >= 2)
        .await;
    feed.until("live again", |app, events| {
        app.connection == Connection::Live && lives(events) >= 1
    })
    .await;
    let requests = wait_for_request(&server, "a live request on the refetched handle", |u| {
        is_live_at(u, "h-2", "300_0")
    })
    .await;

    // What was sent after the 409: offset=-1 with `h-1-next`, h-1 named as expired, not live.
    let conflict = requests
        .iter()
        .position(|u| is_live_at(u, "h-1", "100_0"))
        .expect("the live request that got the 409");
    let refetch = &requests[conflict + 1];
    assert_eq!(param(refetch, "offset").as_deref(), Some("-1"), "{refetch}");
    assert_eq!(
        param(refetch, "handle").as_deref(),
        Some("h-1-next"),
        "{refetch}"
    );
    assert_eq!(
        param(refetch, "expired_handle").as_deref(),
        Some("h-1"),
        "{refetch}"
    );
    assert_eq!(param(refetch, "live"), None, "{refetch}");
    assert_eq!(param(refetch, "cursor"), None, "{refetch}");
    for request in &requests[conflict + 1..] {
        assert_ne!(
            param(request, "handle").as_deref(),
            Some("h-1"),
            "stale handle reused: {request}"
        );
    }
    assert_eq!(
        requests.len(),
        conflict + 3,
        "no extra requests: {requests:#?}"
    );

    // Every run handed on again, the unchanged run_0001 included, as the complete set.
    let flushes = runs_events(&feed.events);
    assert_eq!(flushes.len(), 2);
    assert!(flushes[1].complete);
    assert_eq!(
        flush_ids(flushes[1]),
        vec!["run_0001", "run_0002", "run_0003"]
    );
    assert!(flushes[1].removed.is_empty());

    // Nothing lost, nothing doubled, the refetched states shown, and live.
    assert_eq!(ids(&feed.app), vec!["run_0001", "run_0002", "run_0003"]);
    assert_eq!(feed.run("run_0001").status, RunStatus::Executing);
    assert_eq!(feed.run("run_0002").status, RunStatus::Completed);
    assert_eq!(feed.run("run_0003").status, RunStatus::Executing);
    assert_eq!(feed.app.summary.total(), 3);
    assert_eq!(feed.app.connection, Connection::Live);
    assert!(feed.failed().is_none());
    assert!(feed.reconnects().is_empty(), "{:?}", feed.reconnects());
}

/// A 409 without a handle on the very first request: there is no old handle to derive one
/// from, so the client starts over exactly as a first request (no `handle`, no
/// `expired_handle`). The SDK's client would send `handle=undefined-next` here (it formats an
/// unset handle); ours does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_without_a_handle_on_the_first_request_starts_over_without_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(FEED_PATH))
        .and(query_param("offset", "-1"))
        .and(query_param_is_missing("handle"))
        .respond_with(must_refetch_without_handle())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_snapshot(
        &server,
        snapshot(
            "h-1",
            "100_0",
            S0,
            body(&[insert(1, "EXECUTING"), insert(2, "EXECUTING"), utd()]),
        ),
    )
    .await;
    mount_hold(&server, "h-1", "100_0").await;

    let mut feed = Feed::start(&server.uri());
    feed.until("live", |app, _| app.connection == Connection::Live)
        .await;
    let requests = wait_for_request(&server, "the first live request", |u| {
        is_live_at(u, "h-1", "100_0")
    })
    .await;

    assert_eq!(requests.len(), 3, "409, refetch, live: {requests:#?}");
    for request in &requests[..2] {
        assert_eq!(param(request, "offset").as_deref(), Some("-1"), "{request}");
        assert_eq!(param(request, "handle"), None, "{request}");
        assert_eq!(param(request, "expired_handle"), None, "{request}");
        assert!(
            !request.as_str().contains("undefined") && !request.as_str().contains("-next"),
            "{request}"
        );
    }
    assert_eq!(ids(&feed.app), vec!["run_0001", "run_0002"]);
    assert!(runs_events(&feed.events)[0].complete);
    assert!(feed.failed().is_none());
}

// ---------------------------------------------------------------------------------------------
// 2. A 200 with every Electric header but a body that is not a JSON array
// ---------------------------------------------------------------------------------------------

/// A live 200 with all the headers (and a new offset and cursor the client must not take) but
/// an HTML page from a proxy, then one with a JSON object, then one bracketed like an array but
/// broken inside (no request may go ahead on its headers): each is a transient fault, shown as
/// reconnecting with a clear reason, retried at the same position on the usual backoff; when
/// the server answers properly the feed catches up, no run lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_200_whose_body_is_not_a_json_array_is_retried_in_place() {
    let server = MockServer::start().await;
    mount_snapshot(
        &server,
        snapshot(
            "h-1",
            "100_0",
            S0,
            body(&[insert(1, "EXECUTING"), insert(2, "EXECUTING"), utd()]),
        ),
    )
    .await;
    let html = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>";
    Mock::given(method("GET"))
        .and(path(FEED_PATH))
        .and(query_param("handle", "h-1"))
        .and(query_param("offset", "100_0"))
        .and(query_param("live", "true"))
        .respond_with(live("h-1", "999_0", "c-bad", String::new()).set_body_raw(html, "text/html"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_live(
        &server,
        "h-1",
        "100_0",
        live(
            "h-1",
            "999_0",
            "c-bad",
            json!({"error": "unexpected", "messages": []}).to_string(),
        ),
    )
    .await;
    // Bracketed like a body, but broken inside: only a parse can tell.
    let broken = r#"[{"key":"k","value":{"status":"COMPLETED_SUCCESSFULLY"},,]"#;
    mount_live(
        &server,
        "h-1",
        "100_0",
        live("h-1", "999_0", "c-bad", broken.into()),
    )
    .await;
    let good = body(&[
        update_msg(
            "cmrun0002",
            json!({"status": "COMPLETED_SUCCESSFULLY", "completedAt": "2026-12-03 10:00:30.000"}),
        ),
        insert(3, "EXECUTING"),
        utd(),
    ]);
    mount_live(&server, "h-1", "100_0", live("h-1", "200_0", "c-2", good)).await;
    mount_hold(&server, "h-1", "200_0").await;

    let mut feed = Feed::start(&server.uri());
    feed.until("the snapshot", |_, events| has_flush(events))
        .await;

    // First bad body: the header shows reconnecting, with the reason.
    feed.until("reconnecting after the HTML body", |app, _| {
        matches!(app.connection, Connection::Reconnecting { .. })
    })
    .await;
    let Connection::Reconnecting {
        reason, attempt, ..
    } = feed.app.connection.clone()
    else {
        unreachable!()
    };
    assert_eq!(reason, "unreadable response body");
    assert_eq!(attempt, 1);
    let header = screen(&feed.app);
    assert!(header.contains("unreadable response body"), "{header}");

    feed.until("the update after the bad bodies", |_, events| {
        flushes(events) >= 2
    })
    .await;
    feed.until("live again", |app, _| app.connection == Connection::Live)
        .await;
    let requests = wait_for_request(&server, "the live request after the update", |u| {
        is_live_at(u, "h-1", "200_0")
    })
    .await;

    // Three faults, each with the short reason and a detail naming what was wrong.
    let reconnects = feed.reconnects();
    assert_eq!(reconnects.len(), 3, "{reconnects:#?}");
    for (i, (reason, detail, attempt, retry_in)) in reconnects.iter().enumerate() {
        assert_eq!(reason, "unreadable response body");
        assert!(detail.starts_with("bad response body: "), "{detail}");
        assert_eq!(*attempt, i as u32 + 1);
        assert!(*retry_in < Duration::from_secs(2), "{retry_in:?}");
    }
    assert!(
        reconnects[0].1.contains(&format!("({} bytes)", html.len())),
        "{}",
        reconnects[0].1
    );
    assert!(reconnects[1].1.contains("map"), "{}", reconnects[1].1);

    // All four live requests at the same position: the bad answers' offset and cursor were
    // never asked for (not even ahead of reading a body), and the next request starts from
    // the good answer's.
    let live_requests: Vec<&Url> = requests
        .iter()
        .filter(|u| param(u, "live").is_some())
        .collect();
    assert_eq!(live_requests.len(), 5, "{live_requests:#?}");
    for request in &live_requests[..4] {
        assert_eq!(request.query(), live_requests[0].query());
        assert!(is_live_at(request, "h-1", "100_0"), "{request}");
        assert_ne!(param(request, "cursor").as_deref(), Some("c-bad"));
    }
    assert!(is_live_at(live_requests[4], "h-1", "200_0"));
    assert_eq!(param(live_requests[4], "cursor").as_deref(), Some("c-2"));
    assert!(
        requests
            .iter()
            .all(|u| param(u, "offset").as_deref() != Some("999_0"))
    );

    // Caught up: every run once, the update applied.
    let flushes = runs_events(&feed.events);
    assert_eq!(flushes.len(), 2);
    assert_eq!(flush_ids(flushes[1]), vec!["run_0002", "run_0003"]);
    assert_eq!(ids(&feed.app), vec!["run_0001", "run_0002", "run_0003"]);
    assert_eq!(feed.app.summary.total(), 3);
    assert_eq!(feed.run("run_0002").status, RunStatus::Completed);
    assert_eq!(feed.app.connection, Connection::Live);
    assert!(feed.failed().is_none());
}

// ---------------------------------------------------------------------------------------------
// 3. Offloaded packets (`application/store`)
// ---------------------------------------------------------------------------------------------

const PAYLOAD_1: &str = "proj_x/dev/run_0001/payload.json";
const OUTPUT_1: &str = "proj_x/dev/run_0001/output.json";
const PAYLOAD_2: &str = "proj_x/dev/run_0002/payload.json";
const OUTPUT_2: &str = "proj_x/dev/run_0002/output.json";
/// Superjson whose bigint shows only if it is decoded as superjson (by the content type).
const SUPERJSON: &str =
    r#"{"json":{"orderId":"9007199254740993"},"meta":{"values":{"orderId":["bigint"]}}}"#;
const OUTPUT_TEXT: &str = "10 rows imported";

/// A 200 answering `{presignedUrl}` pointing at `/storage/<path>` on this server, with a
/// signature in the query as object storage has.
fn presigned(server: &MockServer, storage_path: &str) -> ResponseTemplate {
    let url = format!(
        "{}/storage/{storage_path}?X-Amz-Signature=sig",
        server.uri()
    );
    ResponseTemplate::new(200).set_body_json(json!({ "presignedUrl": url }))
}

async fn mount_get(server: &MockServer, at: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(response)
        .mount(server)
        .await;
}

/// The packet path as the client sends it: one URL-encoded segment.
fn by_path(storage_path: &str) -> String {
    format!("/api/v1/packets/{}", storage_path.replace('/', "%2F"))
}

/// A batch of two finished runs whose payload and output are offloaded, and the packet
/// endpoints for them:
/// - run_0001 payload: the per-run endpoint answers; storage serves superjson.
/// - run_0001 output: the per-run endpoint 404s, `/api/v1/packets/{path}` answers; storage
///   serves text.
/// - run_0002 payload: 404 from both endpoints.
/// - run_0002 output: the per-run endpoint answers; storage answers 500.
async fn packet_server() -> MockServer {
    let server = MockServer::start().await;
    let store = |payload: &str, output: &str| {
        json!({"payloadType": "application/store", "payload": payload,
               "outputType": "application/store", "output": output,
               "completedAt": "2026-12-03 10:00:20.000"})
    };
    let runs = [
        insert_with(1, "COMPLETED_SUCCESSFULLY", store(PAYLOAD_1, OUTPUT_1)),
        insert_with(2, "COMPLETED_SUCCESSFULLY", store(PAYLOAD_2, OUTPUT_2)),
        utd(),
    ];
    mount_snapshot(&server, snapshot("h-1", "100_0", S0, body(&runs))).await;
    mount_hold(&server, "h-1", "100_0").await;
    mount_get(
        &server,
        &format!("/api/v2/batches/{BATCH}"),
        ResponseTemplate::new(200)
            .set_body_json(json!({"id": BATCH, "status": "COMPLETED", "runCount": 2})),
    )
    .await;

    let not_found =
        || ResponseTemplate::new(404).set_body_json(json!({"error": "Packet not found"}));
    mount_get(
        &server,
        "/api/v1/runs/run_0001/packets/payload",
        presigned(&server, PAYLOAD_1),
    )
    .await;
    mount_get(
        &server,
        &format!("/storage/{PAYLOAD_1}"),
        ResponseTemplate::new(200).set_body_raw(SUPERJSON, "application/super+json; charset=utf-8"),
    )
    .await;
    mount_get(
        &server,
        "/api/v1/runs/run_0001/packets/output",
        ResponseTemplate::new(404),
    )
    .await;
    mount_get(&server, &by_path(OUTPUT_1), presigned(&server, OUTPUT_1)).await;
    mount_get(
        &server,
        &format!("/storage/{OUTPUT_1}"),
        ResponseTemplate::new(200).set_body_raw(OUTPUT_TEXT, "text/plain"),
    )
    .await;
    mount_get(
        &server,
        "/api/v1/runs/run_0002/packets/payload",
        not_found(),
    )
    .await;
    mount_get(&server, &by_path(PAYLOAD_2), not_found()).await;
    mount_get(
        &server,
        "/api/v1/runs/run_0002/packets/output",
        presigned(&server, OUTPUT_2),
    )
    .await;
    mount_get(
        &server,
        &format!("/storage/{OUTPUT_2}"),
        ResponseTemplate::new(500).set_body_raw("<html>Internal error</html>", "text/html"),
    )
    .await;
    server
}

/// The requests the server received whose path starts with `prefix`, in order.
async fn requests_under(server: &MockServer, prefix: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path().starts_with(prefix))
        .collect()
}

fn authorization(request: &Request) -> Option<String> {
    request
        .headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_string())
}

/// The feed on `server`, with the snapshot applied and `run` selected (which asks for its
/// offloaded packets, as the dashboard's selection does).
async fn feed_with_selected(server: &MockServer, run: &str) -> Feed {
    let mut feed = Feed::start(&server.uri());
    feed.until("the snapshot", |_, events| has_flush(events))
        .await;
    assert_eq!(ids(&feed.app), vec!["run_0001", "run_0002"]);
    select(&mut feed.app, run);
    feed
}

/// Carries out the app's packet fetches as the dashboard's event loop does (`tui::PacketSource`:
/// `packets::fetch` with the feed's transport and config, the result sent back as
/// `Msg::PacketFetched`); returns what was fetched.
async fn carry_out_fetches(app: &mut App, base: &str) -> Vec<(String, Field, String)> {
    let transport = Transport::http().unwrap();
    let config = feed_config(base);
    let mut done = Vec::new();
    for cmd in std::mem::take(&mut app.outbox) {
        let Cmd::FetchPacket {
            run_id,
            field,
            path,
        } = cmd
        else {
            continue;
        };
        let fetch = packets::fetch(&transport, &config, &run_id, field, &path);
        let result = timeout(PATIENCE, fetch).await.expect("the fetch finished");
        done.push((run_id.clone(), field, path.clone()));
        update(
            app,
            Msg::PacketFetched {
                run_id,
                field,
                path,
                result,
            },
        );
    }
    done.sort();
    done
}

fn fetch_state<'a>(app: &'a App, run: &str, field: Field, path: &str) -> &'a FetchState {
    app.fetched
        .get(&(run.to_string(), field, path.to_string()))
        .unwrap_or_else(|| panic!("{run} {field:?} was never asked for: {:?}", app.fetched))
}

/// The per-run endpoint answers a presigned URL; the data is fetched from it without the
/// credential and decoded by the content type storage returns (superjson here, parameters
/// ignored), and the detail pane shows the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_packet_comes_through_the_run_endpoint_without_auth_decoded_by_content_type() {
    let server = packet_server().await;
    let mut feed = feed_with_selected(&server, "run_0001").await;
    assert!(matches!(
        &feed.app.detail.as_ref().unwrap().payload,
        PacketView::Offloaded { path, fetch: FetchState::Fetching } if path == PAYLOAD_1
    ));
    let fetched = carry_out_fetches(&mut feed.app, &server.uri()).await;
    assert_eq!(
        fetched,
        vec![
            (
                "run_0001".to_string(),
                Field::Payload,
                PAYLOAD_1.to_string()
            ),
            ("run_0001".to_string(), Field::Output, OUTPUT_1.to_string()),
        ]
    );

    assert_eq!(
        fetch_state(&feed.app, "run_0001", Field::Payload, PAYLOAD_1),
        &FetchState::Done(Packet {
            data: SUPERJSON.into(),
            data_type: "application/super+json".into(),
        })
    );
    let detail = feed.app.detail.as_ref().unwrap();
    let PacketView::Pretty { text, warnings } = &detail.payload else {
        panic!("payload not decoded: {:?}", detail.payload)
    };
    assert!(
        text.contains("9007199254740993n"),
        "a superjson bigint: {text}"
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let shown = screen(&feed.app);
    assert!(
        section(&shown, "Payload").contains("9007199254740993n"),
        "{shown}"
    );

    // The API calls carry the credential; the presigned URL gets none, only its signature.
    let api = requests_under(&server, "/api/v1/runs/run_0001/packets/payload").await;
    assert_eq!(api.len(), 1);
    assert_eq!(authorization(&api[0]), Some(format!("Bearer {KEY}")));
    let storage = requests_under(&server, &format!("/storage/{PAYLOAD_1}")).await;
    assert_eq!(storage.len(), 1);
    assert_eq!(authorization(&storage[0]), None);
    assert_eq!(storage[0].url.query(), Some("X-Amz-Signature=sig"));
    assert!(
        requests_under(&server, &by_path(PAYLOAD_1))
            .await
            .is_empty(),
        "no fallback when the run endpoint answers"
    );
}

/// The per-run endpoint answers 404: the client asks `/api/v1/packets/{path}` (the path as one
/// URL-encoded segment, with the credential), fetches the presigned URL without it, and the
/// text the storage serves as `text/plain` is shown as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_packet_falls_back_to_the_packets_path_when_the_run_endpoint_404s() {
    let server = packet_server().await;
    let mut feed = feed_with_selected(&server, "run_0001").await;
    carry_out_fetches(&mut feed.app, &server.uri()).await;

    assert_eq!(
        fetch_state(&feed.app, "run_0001", Field::Output, OUTPUT_1),
        &FetchState::Done(Packet {
            data: OUTPUT_TEXT.into(),
            data_type: "text/plain".into(),
        })
    );
    assert_eq!(
        feed.app.detail.as_ref().unwrap().output,
        PacketView::Text(OUTPUT_TEXT.to_string())
    );
    let shown = screen(&feed.app);
    assert_eq!(section(&shown, "Output"), OUTPUT_TEXT, "{shown}");

    // Per-run first (404), then the path, both with the credential; storage without.
    let all = server.received_requests().await.unwrap();
    let order: Vec<String> = all
        .iter()
        .map(|r| r.url.path().to_string())
        .filter(|p| p.contains("output"))
        .collect();
    assert_eq!(
        order,
        vec![
            "/api/v1/runs/run_0001/packets/output".to_string(),
            by_path(OUTPUT_1),
            format!("/storage/{OUTPUT_1}"),
        ]
    );
    for request in all.iter().filter(|r| r.url.path().contains("output")) {
        let expected = if request.url.path().starts_with("/api/") {
            Some(format!("Bearer {KEY}"))
        } else {
            None
        };
        assert_eq!(authorization(request), expected, "{}", request.url);
    }
}

/// 404 from both packet endpoints, and a 500 from storage: each packet shows, in place, that it
/// could not be fetched and why, in words that do not blame the batch; the fetch is not
/// repeated on its own (re-selecting the run asks for nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_packet_fetches_show_a_clear_error_in_the_detail() {
    let server = packet_server().await;
    let mut feed = feed_with_selected(&server, "run_0002").await;
    let fetched = carry_out_fetches(&mut feed.app, &server.uri()).await;
    for (field, path) in [(Field::Payload, PAYLOAD_2), (Field::Output, OUTPUT_2)] {
        let asked = ("run_0002".to_string(), field, path.to_string());
        assert!(fetched.contains(&asked), "{fetched:?}");
    }

    let FetchState::Failed(payload_error) =
        fetch_state(&feed.app, "run_0002", Field::Payload, PAYLOAD_2).clone()
    else {
        panic!("the payload fetch did not fail")
    };
    assert_eq!(
        payload_error,
        format!(
            "could not get a download URL for {PAYLOAD_2}: HTTP 404, the server has no such \
             packet (Packet not found)"
        )
    );
    assert!(!payload_error.contains("batch"), "{payload_error}");
    let FetchState::Failed(output_error) =
        fetch_state(&feed.app, "run_0002", Field::Output, OUTPUT_2).clone()
    else {
        panic!("the output fetch did not fail")
    };
    assert_eq!(output_error, format!("downloading {OUTPUT_2}: HTTP 500"));

    let detail = feed.app.detail.as_ref().unwrap();
    assert_eq!(
        detail.payload,
        PacketView::Offloaded {
            path: PAYLOAD_2.to_string(),
            fetch: FetchState::Failed(payload_error.clone()),
        }
    );
    assert_eq!(
        detail.output,
        PacketView::Offloaded {
            path: OUTPUT_2.to_string(),
            fetch: FetchState::Failed(output_error.clone()),
        }
    );
    let shown = screen(&feed.app);
    let payload_pane = section(&shown, "Payload");
    assert!(
        payload_pane.contains("could not fetch it") && payload_pane.contains("HTTP 404"),
        "{shown}"
    );
    let output_pane = section(&shown, "Output");
    assert!(
        output_pane.contains("could not fetch it") && output_pane.contains("HTTP 500"),
        "{shown}"
    );

    // Both endpoints were asked for the payload; storage was asked once for the output.
    let payload_requests: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .filter(|p| p.contains("run_0002") && p.contains("payload"))
        .collect();
    assert_eq!(
        payload_requests,
        vec![
            "/api/v1/runs/run_0002/packets/payload".to_string(),
            by_path(PAYLOAD_2)
        ]
    );
    assert_eq!(
        requests_under(&server, &format!("/storage/{OUTPUT_2}"))
            .await
            .len(),
        1
    );

    // No retry loop: going away and back shows the same errors without asking again.
    select(&mut feed.app, "run_0001");
    feed.app.outbox.clear();
    select(&mut feed.app, "run_0002");
    assert!(feed.app.outbox.is_empty(), "{:?}", feed.app.outbox);
    assert!(matches!(
        &feed.app.detail.as_ref().unwrap().payload,
        PacketView::Offloaded { fetch: FetchState::Failed(e), .. } if *e == payload_error
    ));
}

/// Runs the binary headless (`--output ndjson --exit-when-done`) against `server`.
async fn run_headless(server: &MockServer) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(BIN);
    cmd.args([
        "--api-url",
        &server.uri(),
        "--batch",
        BATCH,
        "--output",
        "ndjson",
        "--exit-when-done",
    ])
    .env_remove("TRIGGER_ACCESS_TOKEN")
    .env_remove("TRIGGER_API_URL")
    .env("TRIGGER_SECRET_KEY", KEY)
    .env("HOME", home.path())
    .env("XDG_CONFIG_HOME", home.path())
    .stdin(std::process::Stdio::null());
    let run = tokio::task::spawn_blocking(move || cmd.output());
    timeout(Duration::from_secs(60), run)
        .await
        .expect("the binary finished in time")
        .unwrap()
        .unwrap()
}

/// Headless, the `PacketFetcher` replaces each offloaded packet by its fetched data, decoded
/// by its content type (both ways of getting the URL); a packet that cannot be fetched is
/// printed as its storage path, with one warning line on stderr naming the run, the field and
/// why. The program still exits 0 once the batch is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_output_resolves_store_packets_and_warns_about_failed_ones() {
    let server = packet_server().await;
    let output = run_headless(&server).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let lines: BTreeMap<String, Json> = stdout
        .lines()
        .map(|l| {
            let run: Json = serde_json::from_str(l).unwrap();
            (run["id"].as_str().unwrap().to_string(), run)
        })
        .collect();
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert_eq!(
        lines.keys().collect::<Vec<_>>(),
        vec!["run_0001", "run_0002"]
    );
    // Fetched and decoded: the superjson payload to its canonical value, the text output as is.
    assert_eq!(
        lines["run_0001"]["payload"],
        json!({"orderId": "9007199254740993"})
    );
    assert_eq!(lines["run_0001"]["output"], json!(OUTPUT_TEXT));
    // Not fetched: the storage path, as the row has it.
    assert_eq!(lines["run_0002"]["payload"], json!(PAYLOAD_2));
    assert_eq!(lines["run_0002"]["output"], json!(OUTPUT_2));

    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("trigger-tui: warning: "))
        .collect();
    assert_eq!(
        warnings,
        vec![
            format!(
                "trigger-tui: warning: run_0002 payload: could not get a download URL for \
                 {PAYLOAD_2}: HTTP 404, the server has no such packet (Packet not found)"
            ),
            format!("trigger-tui: warning: run_0002 output: downloading {OUTPUT_2}: HTTP 500"),
        ],
        "{stderr}"
    );

    // The presigned URLs were fetched without the credential, each once.
    let storage = requests_under(&server, "/storage/").await;
    assert_eq!(
        storage.len(),
        3,
        "{:#?}",
        storage.iter().map(|r| &r.url).collect::<Vec<_>>()
    );
    assert!(storage.iter().all(|r| authorization(r).is_none()));
    let api = requests_under(&server, "/api/v1/").await;
    assert!(!api.is_empty());
    assert!(
        api.iter()
            .all(|r| authorization(r) == Some(format!("Bearer {KEY}")))
    );
}

// ---------------------------------------------------------------------------------------------
// 4. `Retry-After` on a 429
// ---------------------------------------------------------------------------------------------

/// A 429 with `Retry-After: 3600` is retried on the client's own backoff (100 ms × 1.3, as the
/// SDK's `@electric-sql/client` 1.0.14 does, which reads no `Retry-After`), at the same
/// position, and the feed catches up: three 429s and the answer all fall within the guard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_an_hour_is_retried_on_our_own_backoff() {
    let server = MockServer::start().await;
    mount_snapshot(
        &server,
        snapshot("h-1", "100_0", S0, body(&[insert(1, "EXECUTING"), utd()])),
    )
    .await;
    Mock::given(method("GET"))
        .and(path(FEED_PATH))
        .and(query_param("handle", "h-1"))
        .and(query_param("offset", "100_0"))
        .and(query_param("live", "true"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "3600")
                .set_body_json(json!({"error": "Rate limit exceeded"})),
        )
        .up_to_n_times(3)
        .mount(&server)
        .await;
    let finished = body(&[
        update_msg(
            "cmrun0001",
            json!({"status": "COMPLETED_SUCCESSFULLY", "completedAt": "2026-12-03 10:00:30.000"}),
        ),
        utd(),
    ]);
    mount_live(
        &server,
        "h-1",
        "100_0",
        live("h-1", "200_0", "c-2", finished),
    )
    .await;
    mount_hold(&server, "h-1", "200_0").await;

    let started = Instant::now();
    let mut feed = Feed::start(&server.uri());
    // Each step waits at most PATIENCE (20 s): an hour's wait would time out here.
    feed.until("the update after the 429s", |_, events| {
        flushes(events) >= 2
    })
    .await;
    let elapsed = started.elapsed();
    let requests = wait_for_request(&server, "the live request after the update", |u| {
        is_live_at(u, "h-1", "200_0")
    })
    .await;

    let at_position = requests
        .iter()
        .filter(|u| is_live_at(u, "h-1", "100_0"))
        .count();
    assert_eq!(
        at_position, 4,
        "three 429s and the answer, all at the same position, within {elapsed:?}"
    );
    let reconnects = feed.reconnects();
    assert_eq!(reconnects.len(), 3, "{reconnects:#?}");
    for (i, (reason, detail, attempt, retry_in)) in reconnects.iter().enumerate() {
        assert_eq!(reason, "HTTP 429");
        assert!(detail.contains("Rate limit exceeded"), "{detail}");
        assert_eq!(*attempt, i as u32 + 1);
        // The client's own backoff, nowhere near the hour the server asked for.
        assert!(*retry_in < Duration::from_secs(2), "{retry_in:?}");
    }
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    assert_eq!(feed.run("run_0001").status, RunStatus::Completed);
    feed.until("live again", |app, _| app.connection == Connection::Live)
        .await;
    assert!(feed.failed().is_none());
}

/// Issue: big and odd data. Through the real feed over HTTP: a 10 MB output, a payload that is
/// one 5 MB line, 10,000 tags, JSON nested 10,000 deep and an offloaded text packet that is not
/// valid UTF-8. Each run, once selected, draws a bounded detail pane that says how much it
/// left out; nothing panics and the rest of the screen stays whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_and_odd_data_is_shown_bounded_with_what_was_left_out() {
    let server = MockServer::start().await;
    let ten_mb_output = {
        let row = r#"{"id":123456,"email":"someone@example.com","ok":true}"#;
        let rows = vec![row; 10 * 1024 * 1024 / (row.len() + 1)];
        format!("[{}]", rows.join(","))
    };
    let five_mb_line = format!("\"{}\"", "x".repeat(5 * 1024 * 1024));
    let tags = {
        let tags: Vec<String> = (0..10_000).map(|i| format!("tag-{i:05}")).collect();
        format!("{{{}}}", tags.join(","))
    };
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let runs = [
        insert_with(
            1,
            "COMPLETED_SUCCESSFULLY",
            json!({"output": ten_mb_output, "outputType": "application/json"}),
        ),
        insert_with(
            2,
            "EXECUTING",
            json!({"payload": five_mb_line, "payloadType": "application/json"}),
        ),
        insert_with(3, "EXECUTING", json!({"runTags": tags})),
        insert_with(
            4,
            "EXECUTING",
            json!({"payload": deep, "payloadType": "application/json"}),
        ),
        insert_with(
            5,
            "COMPLETED_SUCCESSFULLY",
            json!({"output": OUTPUT_1, "outputType": "application/store"}),
        ),
        utd(),
    ];
    mount_snapshot(&server, snapshot("h-1", "100_0", S0, body(&runs))).await;
    mount_hold(&server, "h-1", "100_0").await;
    mount_get(
        &server,
        "/api/v1/runs/run_0005/packets/output",
        presigned(&server, OUTPUT_1),
    )
    .await;
    let not_utf8: Vec<u8> = b"rows: 10\n\xff\xfe broken \xc3\x28 bytes\n".to_vec();
    mount_get(
        &server,
        &format!("/storage/{OUTPUT_1}"),
        ResponseTemplate::new(200).set_body_raw(not_utf8, "text/plain"),
    )
    .await;

    let mut feed = Feed::start(&server.uri());
    feed.until("the snapshot", |_, events| has_flush(events))
        .await;
    assert_eq!(feed.app.runs.len(), 5);

    let whole = |shown: &str| {
        // The table and the detail pane keep their borders.
        assert!(shown.contains("┌ Runs (5)"), "{shown}");
        assert!(shown.lines().filter(|l| l.starts_with('└')).count() >= 2);
        for line in shown.lines() {
            assert!(line.chars().all(|c| !c.is_control()), "{line:?}");
        }
    };

    select(&mut feed.app, "run_0001");
    let shown = screen(&feed.app);
    whole(&shown);
    assert!(section(&shown, "Output").contains("someone@example.com"));
    let end = bottom_of_detail(&mut feed.app);
    whole(&end);
    assert!(end.contains("more lines"), "the cut is said: {end}");
    let rows = detail_rows(&feed.app);
    // Pretty-printed whole, the output would be about a million rows.
    assert!(rows < 2_000, "the pane holds {rows} rows");

    select(&mut feed.app, "run_0002");
    let end = bottom_of_detail(&mut feed.app);
    whole(&end);
    assert!(end.contains("more bytes on this line"), "{end}");
    let rows = detail_rows(&feed.app);
    assert!(rows < 200, "the pane holds {rows} rows, not the 5 MB line");

    select(&mut feed.app, "run_0003");
    let shown = screen(&feed.app);
    whole(&shown);
    assert_eq!(feed.run("run_0003").tags.len(), 10_000, "no tag is lost");
    // The table's Tags column is cut to its width, the detail's field to LINE_CHARS.
    let row = shown.lines().find(|l| l.contains("run_0003")).unwrap();
    assert!(row.contains("tag-00000") && row.contains('…'), "{row}");
    assert!(shown.contains("tag-00001, tag-00002"), "{shown}");
    assert!(shown.contains(" more bytes"), "{shown}");
    assert!(!shown.contains("tag-09999"), "{shown}");

    select(&mut feed.app, "run_0004");
    let shown = screen(&feed.app);
    whole(&shown);
    let payload = section(&shown, "Payload");
    assert!(!payload.is_empty(), "something is said about the payload");

    select(&mut feed.app, "run_0005");
    carry_out_fetches(&mut feed.app, &server.uri()).await;
    let shown = screen(&feed.app);
    whole(&shown);
    let output = section(&shown, "Output");
    assert!(output.contains("rows: 10"), "{output}");
    assert!(
        output.contains('\u{fffd}'),
        "bad bytes are shown replaced: {output}"
    );
}

/// Scrolls the detail pane to its end as a user does (Tab, End), returns the screen, and gives
/// the focus back to the table.
fn bottom_of_detail(app: &mut App) -> String {
    update(app, key(KeyCode::Tab));
    update(app, key(KeyCode::End));
    let shown = screen(app);
    update(app, key(KeyCode::Tab));
    shown
}

/// How many rows the detail pane holds for the selected run (the bottom line's `a–b of N`), or
/// at most the screen's height when it all fits and no position is shown.
fn detail_rows(app: &App) -> usize {
    let shown = screen(app);
    let Some(last_border) = shown
        .lines()
        .rfind(|l| l.starts_with('└') && l.contains(" of "))
        .map(str::to_string)
    else {
        return usize::from(SCREEN.1);
    };
    let total = last_border.rsplit(" of ").next().unwrap();
    total
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .replace(',', "")
        .parse()
        .unwrap_or_else(|e| panic!("{e}: {last_border}"))
}
