//! A run as users see it, built from a feed row (PROTOCOL.md §4).
//!
//! Fields the feed did not carry stay `None` (shown as absent, never as zero); the SDK's defaults
//! (0, `false`, `[]`) are applied only when printing the SDK's shape in [`Run::to_sdk_json`].
//! Packets keep their raw text and decode on demand.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};

use super::error::RunError;
use super::packet::Packet;
use super::status::RunStatus;
use crate::protocol::schema::{Schema, Value, format_timestamp, write_timestamp};
use crate::sanitize::write_safe_json;

/// One run of the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The id users see (`run_…`, the `friendlyId` column).
    pub id: String,
    /// The internal row id (`id` column).
    pub internal_id: String,
    pub task_identifier: Option<String>,
    pub status: RunStatus,
    /// The database status as sent.
    pub db_status: String,
    pub number: Option<i64>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub delayed_until: Option<DateTime<Utc>>,
    pub expired_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub cost_in_cents: Option<f64>,
    pub base_cost_in_cents: Option<f64>,
    pub is_test: Option<bool>,
    pub ttl: Option<String>,
    pub idempotency_key: Option<String>,
    pub tags: Vec<String>,
    pub realtime_streams: Vec<String>,
    pub payload: Option<Packet>,
    pub output: Option<Packet>,
    pub metadata: Option<Packet>,
    pub error: Option<RunError>,
    /// Columns that could not be decoded, each with the reason; the rest of the row stands.
    pub warnings: Vec<String>,
}

impl Run {
    /// Builds a run from a merged row, decoding each column by the schema. A column that fails
    /// to decode is left out with a warning; it never drops the row. When a column appears
    /// twice, the last one counts.
    pub fn from_row(row: &[(String, Option<String>)], schema: &Schema) -> Run {
        let mut run = Run::empty();
        run.merge(
            &mut RowParts::default(),
            row.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
            schema,
        );
        run
    }

    /// The run of a row that carried no column.
    fn empty() -> Run {
        Run {
            id: String::new(),
            internal_id: String::new(),
            task_identifier: None,
            status: RunStatus::from_db(""),
            db_status: String::new(),
            number: None,
            created_at: None,
            updated_at: None,
            queued_at: None,
            started_at: None,
            delayed_until: None,
            expired_at: None,
            finished_at: None,
            duration_ms: None,
            cost_in_cents: None,
            base_cost_in_cents: None,
            is_test: None,
            ttl: None,
            idempotency_key: None,
            tags: Vec::new(),
            realtime_streams: Vec::new(),
            payload: None,
            output: None,
            metadata: None,
            error: None,
            warnings: Vec::new(),
        }
    }

    /// A run built from `columns` alone (an insert), with what its row leaves beside it.
    pub fn from_columns<'a>(
        columns: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
        schema: &Schema,
    ) -> (Run, RowParts) {
        let mut run = Run::empty();
        let mut parts = RowParts::default();
        run.merge(&mut parts, columns, schema);
        (run, parts)
    }

    /// Merges a partial row (an update's columns) into the run: the result is the run that
    /// [`Run::from_row`] builds from the whole merged row, but only the columns that came are
    /// decoded. `parts` is what the row holds beyond the run's fields (see [`RowParts`]).
    /// Returns the id the run had before when the merge changed it.
    pub fn merge<'a>(
        &mut self,
        parts: &mut RowParts,
        columns: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
        schema: &Schema,
    ) -> Option<String> {
        let mut old_id = None;
        let mut warned = false;
        for (name, raw) in columns {
            // A column's earlier warning goes when the column comes again.
            if !self.warnings.is_empty() {
                self.warnings.retain(|w| !is_warning_for(w, name));
            }
            let mut decode = || -> Value {
                match raw {
                    None => Value::Null,
                    Some(raw) => schema.decode(name, Some(raw)).unwrap_or_else(|e| {
                        self.warnings.push(format!("{name}: {e}"));
                        warned = true;
                        Value::Null
                    }),
                }
            };
            match name {
                "id" => {
                    self.internal_id = text(decode()).unwrap_or_default();
                    if !parts.friendly {
                        let id = self.internal_id.clone();
                        self.set_id(id, &mut old_id);
                    }
                }
                "friendlyId" => {
                    let friendly = text(decode());
                    parts.friendly = friendly.is_some();
                    let id = friendly.unwrap_or_else(|| self.internal_id.clone());
                    self.set_id(id, &mut old_id);
                }
                "status" => {
                    self.db_status = text(decode()).unwrap_or_default();
                    self.status = RunStatus::from_db(&self.db_status);
                }
                "error" => {
                    self.error = match decode() {
                        Value::Json(Json::Null) | Value::Null => None,
                        Value::Json(j) => Some(RunError::from_json(&j)),
                        Value::Text(t) => Some(RunError::Unknown(Json::String(t))),
                        _ => None,
                    }
                }
                "taskIdentifier" => self.task_identifier = text(decode()),
                "number" => self.number = int(decode()),
                "createdAt" => self.created_at = time(decode()),
                "updatedAt" => self.updated_at = time(decode()),
                "queuedAt" => self.queued_at = time(decode()),
                "startedAt" => self.started_at = time(decode()),
                "delayUntil" => self.delayed_until = time(decode()),
                "expiredAt" => self.expired_at = time(decode()),
                "completedAt" => self.finished_at = time(decode()),
                "usageDurationMs" => self.duration_ms = int(decode()),
                "costInCents" => self.cost_in_cents = float(decode()),
                "baseCostInCents" => self.base_cost_in_cents = float(decode()),
                "isTest" => {
                    self.is_test = match decode() {
                        Value::Bool(b) => Some(b),
                        _ => None,
                    }
                }
                "ttl" => self.ttl = text(decode()),
                "idempotencyKey" => self.idempotency_key = text(decode()),
                "runTags" => self.tags = list(decode()),
                "realtimeStreams" => self.realtime_streams = list(decode()),
                // Packets keep their raw text (no column decoding): they decode when shown.
                "payload" => parts.payload.set_data(&mut self.payload, raw),
                "payloadType" => parts.payload.set_type(&mut self.payload, raw),
                "output" => parts.output.set_data(&mut self.output, raw),
                "outputType" => parts.output.set_type(&mut self.output, raw),
                "metadata" => parts.metadata.set_data(&mut self.metadata, raw),
                "metadataType" => parts.metadata.set_type(&mut self.metadata, raw),
                _ => {}
            }
        }
        if warned {
            // One order for the same row however its columns came.
            self.warnings.sort();
        }
        old_id
    }

    fn set_id(&mut self, id: String, old_id: &mut Option<String>) {
        if id != self.id {
            let old = std::mem::replace(&mut self.id, id);
            old_id.get_or_insert(old);
        }
    }

    /// Total cost in cents (compute plus base), when the feed carried either.
    pub fn total_cost_cents(&self) -> Option<f64> {
        match (self.cost_in_cents, self.base_cost_in_cents) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        }
    }

    /// The run in the SDK's shape (`runs.subscribeToBatch`), as `canonical.mjs` prints it: keys
    /// sorted, dates ISO with milliseconds, absent optional fields left out; plus `number` and
    /// `ttl`, which the SDK documents but does not yield.
    pub fn to_sdk_json(&self) -> Json {
        self.to_sdk_json_with(&mut |_, packet| packet.canonical())
    }

    /// [`Run::to_sdk_json`] with the caller decoding packets (`"payload"`, `"output"`,
    /// `"metadata"`), so a printer can reuse what it decoded for an earlier state of the run.
    pub fn to_sdk_json_with(&self, decode: &mut dyn FnMut(&str, &Packet) -> Option<Json>) -> Json {
        let mut m = Map::new();
        let mut put = |k: &str, v: Json| {
            m.insert(k.to_string(), v);
        };
        let ts = |t: &Option<DateTime<Utc>>| t.as_ref().map(|t| Json::String(format_timestamp(t)));

        put("id", Json::String(self.id.clone()));
        if let Some(t) = ts(&self.created_at) {
            put("createdAt", t);
        }
        if let Some(t) = ts(&self.updated_at) {
            put("updatedAt", t);
        }
        if let Some(task) = &self.task_identifier {
            put("taskIdentifier", Json::String(task.clone()));
        }
        put("status", Json::String(self.status.api_name().to_string()));
        for (name, packet) in [("payload", &self.payload), ("output", &self.output)] {
            if let Some(v) = packet.as_ref().and_then(|p| decode(name, p)) {
                put(name, v);
            }
        }
        put("durationMs", Json::from(self.duration_ms.unwrap_or(0)));
        put("costInCents", Json::from(self.cost_in_cents.unwrap_or(0.0)));
        put(
            "baseCostInCents",
            Json::from(self.base_cost_in_cents.unwrap_or(0.0)),
        );
        put("tags", Json::from(self.tags.clone()));
        if let Some(key) = &self.idempotency_key {
            put("idempotencyKey", Json::String(key.clone()));
        }
        for (name, at) in [
            ("expiredAt", &self.expired_at),
            ("finishedAt", &self.finished_at),
            ("startedAt", &self.started_at),
            ("delayedUntil", &self.delayed_until),
            ("queuedAt", &self.queued_at),
        ] {
            if let Some(t) = ts(at) {
                put(name, t);
            }
        }
        if let Some(error) = &self.error {
            put("error", error.to_sdk_json());
        }
        put("isTest", Json::Bool(self.is_test.unwrap_or(false)));
        if let Some(v) = self.metadata.as_ref().and_then(Packet::canonical) {
            put("metadata", v);
        }
        put("realtimeStreams", Json::from(self.realtime_streams.clone()));
        let s = &self.status;
        put("isQueued", Json::Bool(s.is_queued()));
        put("isWaiting", Json::Bool(s.is_waiting()));
        put("isExecuting", Json::Bool(s.is_executing()));
        put("isCompleted", Json::Bool(s.is_completed()));
        put("isFailed", Json::Bool(s.is_failed()));
        put("isSuccess", Json::Bool(s.is_success()));
        put("isCancelled", Json::Bool(s.is_cancelled()));
        if let Some(n) = self.number {
            put("number", Json::from(n));
        }
        if let Some(ttl) = &self.ttl {
            put("ttl", Json::String(ttl.clone()));
        }
        Json::Object(m)
    }
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s),
        Value::Null => None,
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Numeric(s) => Some(s),
        Value::Json(j) => Some(j.to_string()),
        Value::Timestamp(t) => Some(format_timestamp(&t)),
        Value::Array(_) => None,
    }
}

fn time(v: Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Timestamp(t) => Some(t),
        _ => None,
    }
}

fn int(v: Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(i),
        Value::Float(f) if f.fract() == 0.0 => Some(f as i64),
        _ => None,
    }
}

fn float(v: Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(f),
        Value::Int(i) => Some(i as f64),
        Value::Numeric(s) => s.parse().ok(),
        _ => None,
    }
}

fn list(v: Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.into_iter().flatten().collect(),
        _ => Vec::new(),
    }
}

/// Whether `warning` ("column: reason") is about `column`.
fn is_warning_for(warning: &str, column: &str) -> bool {
    warning
        .strip_prefix(column)
        .is_some_and(|rest| rest.starts_with(": "))
}

/// What a row holds beyond its run's fields, so that a later partial update merges exactly:
/// whether the row carried a friendly id (the run's id falls back to the internal one), and a
/// packet's data or type that came without the other (a packet needs both).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RowParts {
    friendly: bool,
    payload: PacketHalf,
    output: PacketHalf,
    metadata: PacketHalf,
}

/// The half of a packet column pair that is held while the other half is missing or empty.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum PacketHalf {
    #[default]
    None,
    Data(Box<str>),
    Type(Box<str>),
}

impl PacketHalf {
    fn set_data(&mut self, packet: &mut Option<Packet>, data: Option<&str>) {
        let kind = match (packet.as_ref(), &*self) {
            (Some(p), _) => Some(&*p.data_type),
            (None, PacketHalf::Type(t)) => Some(&**t),
            _ => None,
        };
        let kind = kind.map(str::to_string);
        self.settle(packet, data, kind.as_deref());
    }

    fn set_type(&mut self, packet: &mut Option<Packet>, kind: Option<&str>) {
        let data = match (packet.take(), std::mem::take(self)) {
            (Some(p), _) => Some(p.data.to_string()),
            (None, PacketHalf::Data(d)) => Some(d.into_string()),
            _ => None,
        };
        self.settle(packet, data.as_deref(), kind);
    }

    /// The packet from both halves ([`Packet::from_columns`]), or the half to hold.
    fn settle(&mut self, packet: &mut Option<Packet>, data: Option<&str>, kind: Option<&str>) {
        *packet = Packet::from_columns(data, kind);
        *self = match (packet.is_some(), data, kind) {
            (true, ..) => PacketHalf::None,
            (false, Some(d), _) if !d.is_empty() => PacketHalf::Data(d.into()),
            (false, _, Some(t)) if !t.is_empty() => PacketHalf::Type(t.into()),
            _ => PacketHalf::None,
        };
    }
}

/// Writes one JSON object's members in the order they are given, keys as they are (they are
/// plain ASCII names), values terminal-safe.
struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn value<T: serde::Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        write_safe_json(self.key(key), value);
    }

    fn raw(&mut self, key: &str, json: &[u8]) {
        self.key(key).extend_from_slice(json);
    }

    fn time(&mut self, key: &str, at: &Option<DateTime<Utc>>) {
        if let Some(at) = at {
            // Plain ASCII: nothing to escape.
            let out = self.key(key);
            out.push(b'"');
            write_timestamp(out, at);
            out.push(b'"');
        }
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

impl Run {
    /// The text of [`Run::to_sdk_json_with`]'s value as [`crate::sanitize::TerminalSafe`]
    /// prints it, byte for byte, written straight from the run: no JSON value is built for the
    /// line. `packet` gives the JSON text of the `"payload"`, `"output"` and `"metadata"`
    /// fields (`None` leaves the field out), so a printer can write what it decoded for an
    /// earlier state of the run. The members are written in the order a sorted map keeps.
    pub fn write_sdk_json(
        &self,
        out: &mut Vec<u8>,
        packet: &mut dyn FnMut(&'static str, &Packet) -> Option<Arc<str>>,
    ) {
        let mut packet_text =
            |name: &'static str, p: &Option<Packet>| p.as_ref().and_then(|p| packet(name, p));
        let payload = packet_text("payload", &self.payload);
        let output = packet_text("output", &self.output);
        let metadata = packet_text("metadata", &self.metadata);
        let s = &self.status;
        let mut o = ObjectWriter::new(out);
        o.value(
            "baseCostInCents",
            &Json::from(self.base_cost_in_cents.unwrap_or(0.0)),
        );
        o.value(
            "costInCents",
            &Json::from(self.cost_in_cents.unwrap_or(0.0)),
        );
        o.time("createdAt", &self.created_at);
        o.time("delayedUntil", &self.delayed_until);
        o.value("durationMs", &self.duration_ms.unwrap_or(0));
        if let Some(error) = &self.error {
            o.value("error", &error.to_sdk_json());
        }
        o.time("expiredAt", &self.expired_at);
        o.time("finishedAt", &self.finished_at);
        o.value("id", &self.id);
        if let Some(key) = &self.idempotency_key {
            o.value("idempotencyKey", key);
        }
        o.value("isCancelled", &s.is_cancelled());
        o.value("isCompleted", &s.is_completed());
        o.value("isExecuting", &s.is_executing());
        o.value("isFailed", &s.is_failed());
        o.value("isQueued", &s.is_queued());
        o.value("isSuccess", &s.is_success());
        o.value("isTest", &self.is_test.unwrap_or(false));
        o.value("isWaiting", &s.is_waiting());
        if let Some(text) = &metadata {
            o.raw("metadata", text.as_bytes());
        }
        if let Some(n) = self.number {
            o.value("number", &n);
        }
        if let Some(text) = &output {
            o.raw("output", text.as_bytes());
        }
        if let Some(text) = &payload {
            o.raw("payload", text.as_bytes());
        }
        o.time("queuedAt", &self.queued_at);
        o.value("realtimeStreams", &self.realtime_streams);
        o.time("startedAt", &self.started_at);
        o.value("status", s.api_name());
        o.value("tags", &self.tags);
        if let Some(task) = &self.task_identifier {
            o.value("taskIdentifier", task);
        }
        if let Some(ttl) = &self.ttl {
            o.value("ttl", ttl);
        }
        o.time("updatedAt", &self.updated_at);
        o.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The schema header S0 from CASES.md, plus the columns the feed also carries.
    pub(crate) fn schema() -> Schema {
        Schema::parse(
            r#"{"id":{"type":"text","pk_index":0,"not_null":true},"friendlyId":{"type":"text","not_null":true},
            "taskIdentifier":{"type":"text","not_null":true},"status":{"type":"TaskRunStatus","not_null":true},
            "createdAt":{"type":"timestamp","not_null":true},"updatedAt":{"type":"timestamp","not_null":true},
            "completedAt":{"type":"timestamp"},"startedAt":{"type":"timestamp"},"number":{"type":"int4","not_null":true},
            "isTest":{"type":"bool","not_null":true},"runTags":{"type":"text","dims":1},"payload":{"type":"text"},
            "payloadType":{"type":"text"},"output":{"type":"text"},"outputType":{"type":"text"},
            "metadata":{"type":"text"},"metadataType":{"type":"text"},"error":{"type":"jsonb"},
            "idempotencyKey":{"type":"text"},"usageDurationMs":{"type":"int4"},"costInCents":{"type":"float8"},
            "baseCostInCents":{"type":"float8"},"realtimeStreams":{"type":"text","dims":1}}"#,
        )
        .unwrap()
    }

    fn row(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect()
    }

    /// R1 from CASES.md.
    fn r1() -> Vec<(String, Option<String>)> {
        row(&[
            ("id", Some("cmrun0001")),
            ("friendlyId", Some("run_0001")),
            ("taskIdentifier", Some("import-rows")),
            ("status", Some("EXECUTING")),
            ("createdAt", Some("2026-12-03 10:00:00.000")),
            ("updatedAt", Some("2026-12-03 10:00:01.000")),
            ("completedAt", None),
            ("number", Some("1")),
            ("isTest", Some("f")),
            ("runTags", Some("{batch:demo}")),
            ("payload", Some("{\"rows\":10}")),
            ("payloadType", Some("application/json")),
            ("output", None),
            ("outputType", None),
            ("metadata", None),
            ("metadataType", None),
            ("error", None),
            ("idempotencyKey", None),
        ])
    }

    #[test]
    fn r1_becomes_the_sdk_shape() {
        let run = Run::from_row(r1().as_slice(), &schema());
        assert!(run.warnings.is_empty(), "{:?}", run.warnings);
        assert_eq!(
            run.to_sdk_json(),
            json!({
                "id": "run_0001", "createdAt": "2026-12-03T10:00:00.000Z",
                "updatedAt": "2026-12-03T10:00:01.000Z", "taskIdentifier": "import-rows",
                "status": "EXECUTING", "payload": {"rows": 10}, "durationMs": 0, "costInCents": 0.0,
                "baseCostInCents": 0.0, "tags": ["batch:demo"], "isTest": false, "realtimeStreams": [],
                "isQueued": false, "isWaiting": false, "isExecuting": true, "isCompleted": false,
                "isFailed": false, "isSuccess": false, "isCancelled": false, "number": 1
            })
        );
    }

    #[test]
    fn absent_columns_stay_absent_not_zero() {
        let run = Run::from_row(r1().as_slice(), &schema());
        assert_eq!(run.duration_ms, None);
        assert_eq!(run.cost_in_cents, None);
        assert_eq!(run.total_cost_cents(), None);
        assert_eq!(run.finished_at, None);
    }

    #[test]
    fn a_bad_column_warns_and_keeps_the_row() {
        let mut r = r1();
        r.push(("number".into(), Some("not-a-number".into())));
        r.push(("runTags".into(), Some("{broken".into())));
        let run = Run::from_row(r.as_slice(), &schema());
        assert_eq!(run.id, "run_0001");
        assert_eq!(run.number, None);
        assert!(run.tags.is_empty());
        assert_eq!(run.warnings.len(), 2, "{:?}", run.warnings);
    }

    #[test]
    fn unknown_status_prints_as_queued_like_the_sdk() {
        let mut r = r1();
        r.push(("status".into(), Some("QUARANTINED".into())));
        let run = Run::from_row(r.as_slice(), &schema());
        assert_eq!(run.status.label(), "QUARANTINED");
        assert_eq!(run.to_sdk_json()["status"], "QUEUED");
        assert_eq!(run.to_sdk_json()["isQueued"], true);
    }

    #[test]
    fn placeholder_row_with_only_an_id() {
        let r = row(&[("id", Some("cmrun0009")), ("status", Some("EXECUTING"))]);
        let run = Run::from_row(r.as_slice(), &schema());
        assert_eq!(run.id, "cmrun0009");
        assert_eq!(run.task_identifier, None);
    }
}
