//! Helpers shared by the integration tests that drive the real feed task over loopback HTTP
//! against a scripted wiremock server (`field_cases`, `wire_gaps`): the fixtures of
//! `shared/CASES.md` ("Shared fixtures"), Electric responses with every required header, mounts
//! for the snapshot, live and held requests, and [`Feed`], the real feed task (`task::spawn`)
//! whose events are folded into an `App` with `update`, as the dashboard's loop does.

// Each test crate uses its own subset of these helpers.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::time::Duration;

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value as Json, json};
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout};
use url::Url;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use trigger_tui::app::{App, Msg, update};
use trigger_tui::client::{ExitReason, FeedConfig, FeedEvent, Transport, task};
use trigger_tui::config::Secret;
use trigger_tui::model::Run;

// ---------------------------------------------------------------------------------------------
// Shared fixtures (CASES.md "Shared fixtures")
// ---------------------------------------------------------------------------------------------

pub const BATCH: &str = "batch_demo0001";
pub const FEED_PATH: &str = "/realtime/v1/batches/batch_demo0001";

/// A guard against a hung phase of a test, not a performance bound.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// `S0`, the `electric-schema` header value.
pub const S0: &str = r#"{"id":{"type":"text","pk_index":0,"not_null":true},"friendlyId":{"type":"text","not_null":true},"taskIdentifier":{"type":"text","not_null":true},"status":{"type":"TaskRunStatus","not_null":true},"createdAt":{"type":"timestamp","not_null":true},"updatedAt":{"type":"timestamp","not_null":true},"completedAt":{"type":"timestamp"},"number":{"type":"int4","not_null":true},"isTest":{"type":"bool","not_null":true},"runTags":{"type":"text","dims":1},"payload":{"type":"text"},"payloadType":{"type":"text"},"output":{"type":"text"},"outputType":{"type":"text"},"metadata":{"type":"text"},"metadataType":{"type":"text"},"error":{"type":"jsonb"},"idempotencyKey":{"type":"text"}}"#;

/// `R1`, the baseline insert, verbatim.
pub const R1: &str = r#"{"key":"\"public\".\"TaskRun\"/\"cmrun0001\"","value":{"id":"cmrun0001","friendlyId":"run_0001","taskIdentifier":"import-rows","status":"EXECUTING","createdAt":"2026-12-03 10:00:00.000","updatedAt":"2026-12-03 10:00:01.000","completedAt":null,"number":"1","isTest":"f","runTags":"{batch:demo}","payload":"{\"rows\":10}","payloadType":"application/json","output":null,"outputType":null,"metadata":null,"metadataType":null,"error":null,"idempotencyKey":null},"headers":{"operation":"insert","relation":["public","TaskRun"]}}"#;

/// `UTD`.
pub const UTD: &str = r#"{"headers":{"control":"up-to-date"}}"#;

pub fn utd() -> Json {
    serde_json::from_str(UTD).unwrap()
}

pub fn row_key(internal_id: &str) -> String {
    format!("\"public\".\"TaskRun\"/\"{internal_id}\"")
}

/// An insert like R1 for run `n` (`cmrunNNNN` / `run_NNNN`, number `n`) with `status`.
pub fn insert(n: u32, status: &str) -> Json {
    insert_with(n, status, json!({}))
}

/// An insert like R1 for run `n`, with `status` and the columns of `extra` replaced or added.
pub fn insert_with(n: u32, status: &str, extra: Json) -> Json {
    let mut message: Json = serde_json::from_str(R1).unwrap();
    let id = format!("cmrun{n:04}");
    message["key"] = json!(row_key(&id));
    let value = message["value"].as_object_mut().unwrap();
    value.insert("id".into(), json!(id));
    value.insert("friendlyId".into(), json!(format!("run_{n:04}")));
    value.insert("number".into(), json!(n.to_string()));
    value.insert("status".into(), json!(status));
    for (k, v) in extra.as_object().unwrap() {
        value.insert(k.clone(), v.clone());
    }
    message
}

/// An update carrying only the given columns (plus the PK).
pub fn update_msg(internal_id: &str, columns: Json) -> Json {
    let mut value = columns;
    value["id"] = json!(internal_id);
    json!({"key": row_key(internal_id), "value": value, "headers": {"operation": "update"}})
}

/// A delete carrying only the PK.
pub fn delete_msg(internal_id: &str) -> Json {
    json!({"key": row_key(internal_id), "value": {"id": internal_id}, "headers": {"operation": "delete"}})
}

pub fn body(messages: &[Json]) -> String {
    Json::Array(messages.to_vec()).to_string()
}

/// A non-live 200 with every header the protocol requires (and `electric-up-to-date`).
pub fn snapshot(handle: &str, offset: &str, schema: &str, body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("electric-handle", handle)
        .insert_header("electric-offset", offset)
        .insert_header("electric-schema", schema)
        .insert_header("electric-up-to-date", "")
        .set_body_raw(body, "application/json")
}

/// A live 200 with every header the protocol requires.
pub fn live(handle: &str, offset: &str, cursor: &str, body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("electric-handle", handle)
        .insert_header("electric-offset", offset)
        .insert_header("electric-cursor", cursor)
        .set_body_raw(body, "application/json")
}

/// `GET ?offset=-1` (no handle) answered once.
pub async fn mount_snapshot(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(FEED_PATH))
        .and(query_param("offset", "-1"))
        .and(query_param_is_missing("handle"))
        .respond_with(response)
        .up_to_n_times(1)
        .mount(server)
        .await;
}

/// `GET ?offset=<offset>&handle=<handle>&live=true` answered once.
pub async fn mount_live(
    server: &MockServer,
    handle: &str,
    offset: &str,
    response: ResponseTemplate,
) {
    Mock::given(method("GET"))
        .and(path(FEED_PATH))
        .and(query_param("handle", handle))
        .and(query_param("offset", offset))
        .and(query_param("live", "true"))
        .respond_with(response)
        .up_to_n_times(1)
        .mount(server)
        .await;
}

/// A long-poll that holds (longer than any test waits) for the live request at `offset`: the
/// client's next live request after the scripted bodies lands here and waits, as on a quiet feed.
pub async fn mount_hold(server: &MockServer, handle: &str, offset: &str) {
    let quiet =
        live(handle, offset, "c-hold", format!("[{UTD}]")).set_delay(Duration::from_secs(40));
    Mock::given(method("GET"))
        .and(path(FEED_PATH))
        .and(query_param("handle", handle))
        .and(query_param("offset", offset))
        .and(query_param("live", "true"))
        .respond_with(quiet)
        .mount(server)
        .await;
}

pub fn feed_config(base: &str) -> FeedConfig {
    FeedConfig {
        api_url: reqwest::Url::parse(base).unwrap(),
        batch_id: BATCH.to_string(),
        token: Secret::new("tr_dev_field_cases".into()),
        branch: None,
        skip_columns: vec![],
    }
}

/// The real feed task, its events folded into an `App` as the dashboard's loop does.
pub struct Feed {
    pub rx: mpsc::Receiver<FeedEvent>,
    pub app: App,
    pub events: Vec<FeedEvent>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Feed {
    pub fn start(base: &str) -> Self {
        let (tx, rx) = mpsc::channel(64);
        let task = task::spawn(feed_config(base), Transport::http().unwrap(), tx);
        let mut app = App::new(BATCH, "field cases", Utc::now());
        // Tall enough that the detail pane shows every section without scrolling.
        update(&mut app, Msg::Resize(SCREEN.0, SCREEN.1));
        Self {
            rx,
            app,
            events: Vec::new(),
            task,
        }
    }

    /// Receives one event and applies it to the app.
    pub async fn step(&mut self, what: &str) -> FeedEvent {
        let event = match timeout(PATIENCE, self.rx.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!(
                "the feed task ended while waiting for {what}; events: {:#?}",
                self.events
            ),
            Err(_) => panic!("timed out waiting for {what}; events: {:#?}", self.events),
        };
        self.events.push(event.clone());
        update(&mut self.app, Msg::Feed(event.clone()));
        event
    }

    /// Applies events until `done` holds (checked after each event).
    pub async fn until(&mut self, what: &str, done: impl Fn(&App, &[FeedEvent]) -> bool) {
        while !done(&self.app, &self.events) {
            self.step(what).await;
        }
    }

    pub fn run(&self, id: &str) -> &Run {
        self.app.run(id).unwrap_or_else(|| {
            let ids: Vec<_> = self.app.runs.iter().map(|r| r.id.as_str()).collect();
            panic!("run {id} not in the table; table: {ids:?}")
        })
    }

    pub fn failed(&self) -> Option<(&str, &str, ExitReason)> {
        self.events.iter().find_map(|e| match e {
            FeedEvent::Failed {
                reason,
                detail,
                code,
            } => Some((reason.as_str(), detail.as_str(), *code)),
            _ => None,
        })
    }

    pub fn reconnects(&self) -> Vec<(String, String, u32, Duration)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                FeedEvent::Reconnecting {
                    reason,
                    detail,
                    attempt,
                    retry_in,
                } => Some((reason.clone(), detail.clone(), *attempt, *retry_in)),
                _ => None,
            })
            .collect()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn has_flush(events: &[FeedEvent]) -> bool {
    events.iter().any(|e| matches!(e, FeedEvent::Runs(_)))
}

pub fn flushes(events: &[FeedEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, FeedEvent::Runs(_)))
        .count()
}

/// The feed requests the server received, in order.
pub async fn feed_requests(server: &MockServer) -> Vec<Url> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == FEED_PATH)
        .map(|r| r.url)
        .collect()
}

/// Waits until the server has received a feed request matching `wanted`; returns all so far.
pub async fn wait_for_request(
    server: &MockServer,
    what: &str,
    wanted: impl Fn(&Url) -> bool,
) -> Vec<Url> {
    let found = timeout(PATIENCE, async {
        loop {
            let requests = feed_requests(server).await;
            if requests.iter().any(&wanted) {
                return requests;
            }
            sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    match found {
        Ok(requests) => requests,
        Err(_) => panic!(
            "the client never sent {what}; sent: {:#?}",
            feed_requests(server).await
        ),
    }
}

pub fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub fn is_live_at(url: &Url, handle: &str, offset: &str) -> bool {
    param(url, "live").as_deref() == Some("true")
        && param(url, "handle").as_deref() == Some(handle)
        && param(url, "offset").as_deref() == Some(offset)
}

pub fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Selects run `id` with the keys a user would press (Home, then Down).
pub fn select(app: &mut App, id: &str) {
    update(app, key(KeyCode::Home));
    for _ in 0..app.runs.len() {
        if app.selected.as_deref() == Some(id) {
            break;
        }
        update(app, key(KeyCode::Down));
    }
    assert_eq!(app.selected.as_deref(), Some(id), "could not select {id}");
    assert_eq!(
        app.detail.as_ref().map(|d| d.run_id.as_str()),
        Some(id),
        "detail follows the selection"
    );
}

/// Terminal size for the rendered screens: narrower than 160, so the detail pane sits below
/// the table and every screen line belongs to one pane.
pub const SCREEN: (u16, u16) = (120, 160);

/// A 409 must-refetch naming the new handle, as a faithful server answers (PROTOCOL.md §5).
pub fn must_refetch(handle: &str) -> ResponseTemplate {
    ResponseTemplate::new(409)
        .insert_header("electric-handle", handle)
        .set_body_raw(
            r#"[{"headers":{"control":"must-refetch"}}]"#,
            "application/json",
        )
}

/// The whole screen as the view draws it, one line per row.
pub fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(SCREEN.0, SCREEN.1)).unwrap();
    terminal
        .draw(|frame| trigger_tui::ui::view(app, frame))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// The lines of the detail pane's section `name` (between its heading and the next one).
pub fn section(screen: &str, name: &str) -> String {
    let heading = format!("── {name} ──");
    let mut lines = screen.lines().skip_while(|l| !l.contains(&heading));
    assert!(
        lines.next().is_some(),
        "no {name} section on screen:\n{screen}"
    );
    lines
        .take_while(|l| !l.contains("── ") && !l.contains('└'))
        .map(|l| {
            l.trim_matches(|c: char| c == '│' || c.is_whitespace())
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}
