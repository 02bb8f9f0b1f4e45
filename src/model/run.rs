//! A run as users see it, built from a feed row (PROTOCOL.md §4).
//!
//! Fields the feed did not carry stay `None` (shown as absent, never as zero); the SDK's defaults
//! (0, `false`, `[]`) are applied only when printing the SDK's shape in [`Run::to_sdk_json`].
//! Packets keep their raw text and decode on demand.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};

use super::error::RunError;
use super::packet::Packet;
use super::status::RunStatus;
use crate::protocol::schema::{Schema, Value, format_timestamp};

/// Column access for a row: `None` when the row has no such column, `Some(None)` for NULL.
pub trait Columns {
    fn column(&self, name: &str) -> Option<Option<&str>>;
}

impl Columns for [(String, Option<String>)] {
    fn column(&self, name: &str) -> Option<Option<&str>> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_deref())
    }
}

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
    /// to decode is left out with a warning; it never drops the row.
    pub fn from_row<R: Columns + ?Sized>(row: &R, schema: &Schema) -> Run {
        let mut warnings = Vec::new();
        let mut get = |name: &str| -> Value {
            match row.column(name) {
                None | Some(None) => Value::Null,
                Some(raw) => schema.decode(name, raw).unwrap_or_else(|e| {
                    warnings.push(format!("{name}: {e}"));
                    Value::Null
                }),
            }
        };
        let text = |v: Value| match v {
            Value::Text(s) => Some(s),
            Value::Null => None,
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Numeric(s) => Some(s),
            Value::Json(j) => Some(j.to_string()),
            Value::Timestamp(t) => Some(format_timestamp(&t)),
            Value::Array(_) => None,
        };
        let time = |v: Value| match v {
            Value::Timestamp(t) => Some(t),
            _ => None,
        };
        let int = |v: Value| match v {
            Value::Int(i) => Some(i),
            Value::Float(f) if f.fract() == 0.0 => Some(f as i64),
            _ => None,
        };
        let float = |v: Value| match v {
            Value::Float(f) => Some(f),
            Value::Int(i) => Some(i as f64),
            Value::Numeric(s) => s.parse().ok(),
            _ => None,
        };
        let list = |v: Value| match v {
            Value::Array(items) => items.into_iter().flatten().collect(),
            _ => Vec::new(),
        };

        let internal_id = text(get("id")).unwrap_or_default();
        let id = text(get("friendlyId")).unwrap_or_else(|| internal_id.clone());
        let db_status = text(get("status")).unwrap_or_default();
        let raw = |name: &str| row.column(name).flatten();
        let error = match get("error") {
            Value::Json(Json::Null) | Value::Null => None,
            Value::Json(j) => Some(RunError::from_json(&j)),
            Value::Text(t) => Some(RunError::Unknown(Json::String(t))),
            _ => None,
        };

        Run {
            task_identifier: text(get("taskIdentifier")),
            status: RunStatus::from_db(&db_status),
            db_status,
            number: int(get("number")),
            created_at: time(get("createdAt")),
            updated_at: time(get("updatedAt")),
            queued_at: time(get("queuedAt")),
            started_at: time(get("startedAt")),
            delayed_until: time(get("delayUntil")),
            expired_at: time(get("expiredAt")),
            finished_at: time(get("completedAt")),
            duration_ms: int(get("usageDurationMs")),
            cost_in_cents: float(get("costInCents")),
            base_cost_in_cents: float(get("baseCostInCents")),
            is_test: match get("isTest") {
                Value::Bool(b) => Some(b),
                _ => None,
            },
            ttl: text(get("ttl")),
            idempotency_key: text(get("idempotencyKey")),
            tags: list(get("runTags")),
            realtime_streams: list(get("realtimeStreams")),
            payload: Packet::from_columns(raw("payload"), raw("payloadType")),
            output: Packet::from_columns(raw("output"), raw("outputType")),
            metadata: Packet::from_columns(raw("metadata"), raw("metadataType")),
            error,
            warnings,
            id,
            internal_id,
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
        self.to_sdk_json_with(&mut |_, packet| packet.decode().to_canonical())
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
        if let Some(v) = self
            .metadata
            .as_ref()
            .and_then(|p| p.decode().to_canonical())
        {
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
