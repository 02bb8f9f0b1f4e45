//! The Electric shape protocol over the store, as the hosted realtime feed speaks it
//! (PROTOCOL.md §2 and §5, conformance README "Wire format a server must meet").
//!
//! - `offset=-1`: the current handle, every row as `insert`, `up-to-date`.
//! - known handle, not live: what changed after the offset, `up-to-date`; no side effects.
//! - known handle, `live=true`: answered at once if something changed after the offset, else
//!   held until a change or the hold time; `insert` for rows new since the offset, `update`
//!   with only the columns changed since (plus `id`), `up-to-date`, a fresh `electric-cursor`.
//! - unknown handle with an offset: 409 must-refetch carrying the current handle.
//!
//! A request without `x-trigger-electric-version` is an old client: headers are named
//! `electric-chunk-last-offset`/`electric-shape-id` and the handle comes from `shape_id`. A
//! request without `x-trigger-api-version: 2025-07-16` sees `DEQUEUED` as `EXECUTING`.
//!
//! Three feeds share this machinery, each over its own rows and with its own handle space: the
//! batch (`/realtime/v1/batches/{id}`), one run (`/realtime/v1/runs/{runId}`) and runs by tag
//! (`/realtime/v1/runs?tags=a,b`, any of the tags; `createdAt` is accepted and ignored, every
//! demo run being recent). Injected faults ([`super::faults`]) apply to all three.

/// The most changes one live answer at full speed carries.
const MAX_STEP_EVENTS: usize = 5_000;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::auth::{self, Resource};
use super::batch::json_error;
use super::faults::{self, Fault};
use super::sim::Plan;
use super::store::{COLUMN_COUNT, Col, Row, RowChange, Store};
use super::{Shared, lock};

/// The API version whose clients understand `DEQUEUED`.
pub(crate) const CURRENT_API_VERSION: &str = "2025-07-16";

/// Which rows a feed selects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RowFilter {
    /// Every run of the batch.
    All,
    /// One run, by index.
    Run(usize),
    /// Runs carrying any of these tags (sorted, no repeats); every run when empty.
    Tags(Vec<String>),
}

impl RowFilter {
    fn matches(&self, plan: &Plan, index: usize) -> bool {
        match self {
            RowFilter::All => true,
            RowFilter::Run(run) => *run == index,
            RowFilter::Tags(tags) if tags.is_empty() => true,
            RowFilter::Tags(tags) => plan
                .runs
                .get(index)
                .is_some_and(|run| run.tags.iter().any(|t| tags.contains(t))),
        }
    }

    /// The feed's key in the handle space; `None` for the batch feed.
    fn handle_key(&self, plan: &Plan) -> Option<String> {
        match self {
            RowFilter::All => None,
            RowFilter::Run(index) => Some(format!(
                "run\n{}",
                plan.runs.get(*index).map_or("", |r| r.friendly_id.as_str())
            )),
            RowFilter::Tags(tags) => Some(format!("tags\n{}", tags.join("\n"))),
        }
    }
}

/// How the client wants the response spelled.
#[derive(Debug, Clone, Copy)]
struct Flavor {
    /// Old client: legacy header names, handle in `shape_id`.
    legacy: bool,
    /// Old API version: `DEQUEUED` is sent as `EXECUTING`.
    rewrite_dequeued: bool,
}

impl Flavor {
    fn of(headers: &HeaderMap) -> Flavor {
        let has = |name: &str| headers.get(name).is_some();
        Flavor {
            legacy: !has("x-trigger-electric-version"),
            rewrite_dequeued: headers
                .get("x-trigger-api-version")
                .and_then(|v| v.to_str().ok())
                .is_none_or(|v| v.trim() != CURRENT_API_VERSION),
        }
    }

    fn offset_header(self) -> &'static str {
        if self.legacy {
            "electric-chunk-last-offset"
        } else {
            "electric-offset"
        }
    }

    fn handle_header(self) -> &'static str {
        if self.legacy {
            "electric-shape-id"
        } else {
            "electric-handle"
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offset {
    /// `-1`: from scratch.
    Start,
    /// `<version>_<n>`.
    At(u64),
}

/// A parsed feed request.
#[derive(Debug)]
struct ShapeRequest {
    offset: Offset,
    handle: Option<String>,
    live: bool,
    /// Columns to include (`skipColumns` removes some, never the reserved ones).
    columns: [bool; COLUMN_COUNT],
}

/// A request parameter that is missing or malformed.
#[derive(Debug, Clone, Copy)]
struct BadParam {
    param: &'static str,
    reason: &'static str,
}

impl IntoResponse for BadParam {
    fn into_response(self) -> Response {
        invalid_request(self.param, self.reason)
    }
}

const fn bad(param: &'static str, reason: &'static str) -> BadParam {
    BadParam { param, reason }
}

/// A 400 in Electric's shape: `{"message": "Invalid request", "errors": {param: [reason]}}`.
fn invalid_request(param: &str, reason: &str) -> Response {
    let body = json!({"message": "Invalid request", "errors": {param: [reason]}}).to_string();
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn parse_offset(text: &str) -> Option<Offset> {
    if text == "-1" {
        return Some(Offset::Start);
    }
    let (version, seq) = text.split_once('_')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(version) || !digits(seq) {
        return None;
    }
    seq.parse::<u64>().ok()?;
    version.parse().ok().map(Offset::At)
}

impl ShapeRequest {
    fn parse(params: &HashMap<String, String>, flavor: Flavor) -> Result<ShapeRequest, BadParam> {
        let offset = match params.get("offset") {
            None => return Err(bad("offset", "can't be blank")),
            Some(text) => parse_offset(text).ok_or(bad("offset", "has invalid format"))?,
        };
        let live = match params.get("live").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(bad("live", "must be true or false")),
        };
        if live && offset == Offset::Start {
            return Err(bad("live", "can't be true when offset is -1"));
        }
        let handle_param = if flavor.legacy { "shape_id" } else { "handle" };
        let handle = params.get(handle_param).filter(|h| !h.is_empty()).cloned();
        let mut columns = [true; COLUMN_COUNT];
        if let Some(skip) = params.get("skipColumns") {
            for name in skip.split(',').map(str::trim) {
                if let Some(col) = Col::from_name(name).filter(|c| !c.is_reserved()) {
                    columns[col.index()] = false;
                }
            }
        }
        Ok(ShapeRequest {
            offset,
            handle,
            live,
            columns,
        })
    }
}

/// `GET /realtime/v1/batches/{batch_id}`.
pub(crate) async fn batch_feed(
    State(shared): State<Arc<Shared>>,
    Path(batch_id): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    if let Some(status) = shared.take_fault() {
        tracing::debug!(status, "injected failure on the realtime feed");
        return injected_failure(status);
    }
    // As the hosted service: credentials (401), then the batch (404), then the scope (403).
    let principal = match auth::authenticate(&headers, &shared.secret_key) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if batch_id != shared.batch_id {
        return json_error(StatusCode::NOT_FOUND, "Batch not found");
    }
    if let Err(e) = auth::check(&principal, Resource::Batch(&batch_id)) {
        return e.into_response();
    }
    let Ok(Query(params)) = query else {
        return invalid_request("query", "could not be parsed");
    };
    respond(&shared, RowFilter::All, &params, &headers).await
}

/// `GET /realtime/v1/runs/{run_id}`: one run, by friendly id.
pub(crate) async fn run_feed(
    State(shared): State<Arc<Shared>>,
    Path(run_id): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    if let Some(status) = shared.take_fault() {
        tracing::debug!(status, "injected failure on the realtime feed");
        return injected_failure(status);
    }
    let principal = match auth::authenticate(&headers, &shared.secret_key) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Some(index) = shared.existing_run(&run_id) else {
        return json_error(StatusCode::NOT_FOUND, "Run not found");
    };
    if let Err(e) = auth::check(&principal, shared.run_resource(index)) {
        return e.into_response();
    }
    let Ok(Query(params)) = query else {
        return invalid_request("query", "could not be parsed");
    };
    respond(&shared, RowFilter::Run(index), &params, &headers).await
}

/// `GET /realtime/v1/runs?tags=a,b`: runs with any of the tags.
pub(crate) async fn tag_feed(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    if let Some(status) = shared.take_fault() {
        tracing::debug!(status, "injected failure on the realtime feed");
        return injected_failure(status);
    }
    let principal = match auth::authenticate(&headers, &shared.secret_key) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Ok(Query(params)) = query else {
        return invalid_request("query", "could not be parsed");
    };
    let mut tags: Vec<String> = params
        .get("tags")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    tags.sort_unstable();
    tags.dedup();
    if let Err(e) = auth::check(&principal, Resource::Tagged(&tags)) {
        return e.into_response();
    }
    respond(&shared, RowFilter::Tags(tags), &params, &headers).await
}

/// Parses the shape request and serves it, with an injected fault when one is drawn.
async fn respond(
    shared: &Shared,
    filter: RowFilter,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let flavor = Flavor::of(headers);
    let request = match ShapeRequest::parse(params, flavor) {
        Ok(r) => r,
        Err(bad) => return bad.into_response(),
    };
    // Fast lane: with faults off, `draw` is one atomic load.
    let Some(fault) = shared.injector.draw() else {
        return serve(shared, &filter, &request, flavor).await;
    };
    tracing::debug!(kind = %fault.kind(), ?filter, "injected fault on a realtime feed");
    let only_ok = |response: &Response| response.status() == StatusCode::OK;
    match fault {
        Fault::Drop => faults::dropped(),
        Fault::MustRefetch => {
            let key = filter.handle_key(&shared.plan);
            let handle = shared.rotate_feed_handle(key.as_deref());
            must_refetch(flavor, &handle)
        }
        Fault::TooManyRequests { retry_after_secs } => faults::too_many_requests(retry_after_secs),
        Fault::ServerError(status) => faults::server_error(status),
        Fault::Slow(delay) => {
            shared.sleep_unless_shutdown(delay).await;
            serve(shared, &filter, &request, flavor).await
        }
        Fault::Truncate { keep } => {
            let response = serve(shared, &filter, &request, flavor).await;
            if only_ok(&response) {
                faults::truncate(response, keep).await
            } else {
                response
            }
        }
        Fault::Duplicate { seed } => {
            let response = serve(shared, &filter, &request, flavor).await;
            if only_ok(&response) {
                faults::duplicate(response, seed).await
            } else {
                response
            }
        }
    }
}

async fn serve(
    shared: &Shared,
    filter: &RowFilter,
    req: &ShapeRequest,
    flavor: Flavor,
) -> Response {
    let plan = &shared.plan;
    let key = filter.handle_key(plan);
    let key = key.as_deref();
    let since = match req.offset {
        Offset::Start => {
            let handle = shared.feed_handle(key);
            let state = lock(&shared.state);
            let store = &state.store;
            let mut messages = Messages::new();
            for (_, row) in store.rows().filter(|(i, _)| filter.matches(plan, *i)) {
                messages.change(row, "insert", req, flavor, &[true; COLUMN_COUNT]);
            }
            messages.up_to_date();
            return ok(flavor, &handle, store.version(), messages, req, None);
        }
        Offset::At(version) => version,
    };
    let Some(handle) = req.handle.as_deref() else {
        return invalid_request("handle", "can't be blank when offset != -1");
    };
    if !req.live {
        let current = shared.feed_handle(key);
        if handle != current {
            return must_refetch(flavor, &current);
        }
        let state = lock(&shared.state);
        let since = since.min(state.store.version());
        let messages = changes(&state.store, since, plan, filter, req, flavor);
        return ok(flavor, &current, state.store.version(), messages, req, None);
    }

    // With no clock, each live request on the current handle moves the simulation one step
    // (unless a test steps it, see `ServerConfig::lockstep`): as many changes as keep each run
    // to one, so the clients, not the round trips, set the pace.
    if shared.infinite && !shared.lockstep && shared.feed_handle(key) == handle {
        shared.advance_step(MAX_STEP_EVENTS);
    }
    let mut changed = shared.changed.subscribe();
    let hold = tokio::time::sleep(shared.hold_duration());
    tokio::pin!(hold);
    let mut timed_out = false;
    loop {
        let current = shared.feed_handle(key);
        if handle != current {
            return must_refetch(flavor, &current);
        }
        if shared.shutting_down.load(Ordering::SeqCst) {
            return json_error(StatusCode::SERVICE_UNAVAILABLE, "Server is shutting down");
        }
        {
            // Changes and the offset that covers them are read under one lock, so a change
            // landing meanwhile is neither lost nor skipped.
            let state = lock(&shared.state);
            let version = state.store.version();
            let messages = changes(&state.store, since.min(version), plan, filter, req, flavor);
            // More than the closing up-to-date: something this feed shows changed. On timeout
            // answer anyway: a bare up-to-date, with an offset past any change it cannot see.
            let changed = messages.len() > 1;
            if changed || timed_out {
                let cursor = shared.next_cursor();
                let mut response = ok(flavor, &current, version, messages, req, Some(cursor));
                // Only an answer with changes is stamped: a bare up-to-date after the hold
                // shows nothing new, so it has no change-to-frame latency.
                if changed {
                    stamp(&mut response, state.store.applied_at_ms());
                }
                return response;
            }
        }
        // Counted as waiting at `since` while held (lockstep tests wait for this).
        let _parked = shared.park(since);
        tokio::select! {
            () = &mut hold => timed_out = true,
            result = changed.changed() => {
                // The sender lives as long as the server; treat its end like a timeout.
                if result.is_err() {
                    timed_out = true;
                }
            }
        }
    }
}

/// A response body's messages, written as JSON text as they are added: a large answer is
/// one buffer, with no JSON value built per change.
pub(crate) struct Messages {
    /// `[`, then the messages so far, comma-separated (the closing `]` comes in `body`).
    text: Vec<u8>,
    len: usize,
}

impl Messages {
    fn new() -> Self {
        Self {
            text: b"[".to_vec(),
            len: 0,
        }
    }

    /// How many messages there are.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn start(&mut self) -> &mut Vec<u8> {
        if self.len > 0 {
            self.text.push(b',');
        }
        self.len += 1;
        &mut self.text
    }

    /// A change message: `{"headers":…,"key":…,"value":{…}}`, members and columns in name
    /// order (as a JSON object built from a sorted map prints them).
    fn change(
        &mut self,
        row: &Row,
        operation: &str,
        req: &ShapeRequest,
        flavor: Flavor,
        cols: &[bool; COLUMN_COUNT],
    ) {
        let out = self.start();
        out.extend_from_slice(br#"{"headers":{"operation":"#);
        write_str(out, operation);
        out.extend_from_slice(br#","relation":["public","TaskRun"]},"key":"#);
        write_str(
            out,
            &format!(
                "\"public\".\"TaskRun\"/\"{}\"",
                row.get(Col::Id).unwrap_or_default()
            ),
        );
        out.extend_from_slice(br#","value":{"#);
        let mut first = true;
        for &col in by_name() {
            if !cols[col.index()] || !req.columns[col.index()] {
                continue;
            }
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            write_str(out, col.name());
            out.push(b':');
            match row.get(col) {
                Some("DEQUEUED") if col == Col::Status && flavor.rewrite_dequeued => {
                    write_str(out, "EXECUTING");
                }
                Some(text) => write_str(out, text),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b"}}");
    }

    fn up_to_date(&mut self) {
        self.start()
            .extend_from_slice(br#"{"headers":{"control":"up-to-date"}}"#);
    }

    /// The body: every message, as a JSON array.
    fn body(mut self) -> Vec<u8> {
        self.text.push(b']');
        self.text
    }
}

/// Appends `text` as a JSON string.
fn write_str(out: &mut Vec<u8>, text: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Every column, by name: the order a sorted map of the row's values has.
fn by_name() -> &'static [Col; COLUMN_COUNT] {
    static ORDER: std::sync::OnceLock<[Col; COLUMN_COUNT]> = std::sync::OnceLock::new();
    ORDER.get_or_init(|| {
        let mut cols = Col::ALL;
        cols.sort_by_key(|c| c.name());
        cols
    })
}

/// Change messages for every row (of the feed) changed after `since`, then `up-to-date`.
fn changes(
    store: &Store,
    since: u64,
    plan: &Plan,
    filter: &RowFilter,
    req: &ShapeRequest,
    flavor: Flavor,
) -> Messages {
    let mut messages = Messages::new();
    for (i, row, change) in store.changes_since(since) {
        if !filter.matches(plan, i) {
            continue;
        }
        match change {
            RowChange::Insert => messages.change(row, "insert", req, flavor, &[true; COLUMN_COUNT]),
            RowChange::Update(cols) => {
                let mut set = [false; COLUMN_COUNT];
                for c in cols.into_iter().filter(|c| req.columns[c.index()]) {
                    set[c.index()] = true;
                }
                // A change confined to skipped columns is no change to this client.
                if set.iter().any(|&c| c) {
                    set[Col::Id.index()] = true;
                    messages.change(row, "update", req, flavor, &set);
                }
            }
        }
    }
    messages.up_to_date();
    messages
}

/// The `electric-schema` header for the included columns.
fn schema_header(columns: &[bool; COLUMN_COUNT]) -> String {
    let schema: Map<String, Value> = Col::ALL
        .into_iter()
        .filter(|c| columns[c.index()])
        .map(|c| (c.name().to_owned(), c.schema()))
        .collect();
    Value::Object(schema).to_string()
}

/// Tells the client when the newest change in a live answer was made (Unix ms), so it can
/// measure server-change-to-screen latency (`--latency-report`). Harmless to other clients.
fn stamp(response: &mut Response, applied_at_ms: u64) {
    if applied_at_ms > 0
        && let Ok(value) = HeaderValue::from_str(&applied_at_ms.to_string())
    {
        response
            .headers_mut()
            .insert(crate::latency::CHANGED_AT_HEADER, value);
    }
}

/// A 200 with the Electric headers; `cursor` is set on live responses, `electric-schema` on the
/// others. Every body here ends in `up-to-date`, so `electric-up-to-date` is always set.
fn ok(
    flavor: Flavor,
    handle: &str,
    version: u64,
    messages: Messages,
    req: &ShapeRequest,
    cursor: Option<String>,
) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    put(
        &mut headers,
        flavor.offset_header(),
        &format!("{version}_0"),
    );
    put(&mut headers, flavor.handle_header(), handle);
    put(&mut headers, "electric-up-to-date", "true");
    match cursor {
        Some(cursor) => put(&mut headers, "electric-cursor", &cursor),
        None => put(
            &mut headers,
            "electric-schema",
            &schema_header(&req.columns),
        ),
    }
    (StatusCode::OK, headers, messages.body()).into_response()
}

fn put(headers: &mut HeaderMap, name: &'static str, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            headers.insert(HeaderName::from_static(name), v);
        }
        Err(e) => tracing::warn!("header {name} has an unsendable value: {e}"),
    }
}

/// 409: the client's handle is gone; start over with the one in the header.
fn must_refetch(flavor: Flavor, handle: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    put(&mut headers, flavor.handle_header(), handle);
    let body = r#"[{"headers":{"control":"must-refetch"}}]"#;
    (StatusCode::CONFLICT, headers, body).into_response()
}

fn injected_failure(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match status {
        StatusCode::TOO_MANY_REQUESTS => "Too many concurrent requests",
        other => other.canonical_reason().unwrap_or("Injected failure"),
    };
    json_error(status, message)
}

/// Fallback for unknown paths: a JSON 404.
pub(crate) async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "Not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_strictly() {
        assert_eq!(parse_offset("-1"), Some(Offset::Start));
        assert_eq!(parse_offset("0_0"), Some(Offset::At(0)));
        assert_eq!(parse_offset("42_0"), Some(Offset::At(42)));
        assert_eq!(parse_offset("42_7"), Some(Offset::At(42)));
        for bad in [
            "", "-2", "42", "_0", "42_", "a_0", "1_b", "1_0_0", " 1_0", "-1_0", "+1_0",
        ] {
            assert_eq!(parse_offset(bad), None, "{bad:?}");
        }
        assert_eq!(parse_offset("99999999999999999999999_0"), None);
    }

    #[test]
    fn schema_lists_every_column_with_enum_status() {
        let schema: Value = serde_json::from_str(&schema_header(&[true; COLUMN_COUNT])).unwrap();
        let obj = schema.as_object().unwrap();
        assert_eq!(obj.len(), COLUMN_COUNT);
        assert_eq!(
            obj["id"],
            json!({"type": "text", "pk_index": 0, "not_null": true})
        );
        assert_eq!(obj["status"]["type"], "TaskRunStatus");
        assert_eq!(obj["runTags"], json!({"type": "text", "dims": 1}));
        assert_eq!(obj["error"], json!({"type": "jsonb"}));
        assert_eq!(obj["costInCents"]["type"], "float8");
        assert_eq!(obj["number"]["type"], "int4");
        assert_eq!(obj["isTest"]["type"], "bool");
        assert_eq!(
            obj["createdAt"],
            json!({"type": "timestamp", "not_null": true})
        );
    }
}
