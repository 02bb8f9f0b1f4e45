//! The wire contract of Trigger.dev's realtime feed (the Electric shape protocol), with no I/O.
//!
//! It owns the header and parameter names, the response body's messages and the column decoding
//! (`schema`, `pg_array`). The client and the embedded server both build on it; neither the HTTP
//! loop nor the run model lives here. See `shared/PROTOCOL.md` §2 and §3.

pub mod pg_array;
pub mod schema;

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use thiserror::Error;

pub use schema::{ColumnSpec, ColumnType, DecodeError, Schema, Value};

/// Header names, current and legacy (PROTOCOL.md §1, §2).
pub mod headers {
    pub const OFFSET: &str = "electric-offset";
    pub const HANDLE: &str = "electric-handle";
    pub const SCHEMA: &str = "electric-schema";
    pub const CURSOR: &str = "electric-cursor";
    pub const UP_TO_DATE: &str = "electric-up-to-date";
    /// Legacy name of `electric-offset`, sent to clients without `x-trigger-electric-version`.
    pub const LEGACY_OFFSET: &str = "electric-chunk-last-offset";
    /// Legacy name of `electric-handle`.
    pub const LEGACY_HANDLE: &str = "electric-shape-id";
    pub const ELECTRIC_VERSION: &str = "x-trigger-electric-version";
    pub const API_VERSION: &str = "x-trigger-api-version";
    pub const TRIGGER_VERSION: &str = "trigger-version";
    pub const BRANCH: &str = "x-trigger-branch";
}

/// Header values the official client sends; the server keys behaviour on them.
pub mod versions {
    pub const ELECTRIC: &str = "1.0.0-beta.1";
    pub const API: &str = "2025-07-16";
    /// The SDK release whose wire behaviour this client follows.
    pub const SDK: &str = "4.8.3";
}

/// The key Electric gives a TaskRun row.
pub fn row_key(internal_id: &str) -> String {
    format!("\"public\".\"TaskRun\"/\"{internal_id}\"")
}

/// What a change message does to its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Insert,
    Update,
    Delete,
    /// An operation this client does not know; the shape logs and skips it.
    Other(String),
}

/// A control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    UpToDate,
    MustRefetch,
    /// A control this client does not know (e.g. `snapshot-end`); ignored.
    Other(String),
}

/// One message of a shape response body.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Change {
        key: String,
        operation: Operation,
        /// Column name to raw wire value (`None` for SQL NULL).
        value: Vec<(String, Option<String>)>,
    },
    Control(Control),
    /// A message with neither a key nor a control header; counted, then ignored.
    Unknown,
    /// An element of the body that is not a readable message (a `value` that is not an
    /// object, a key that is not a string, …): the reason, clipped. The shape logs and skips
    /// it, so one bad row cannot stall the feed.
    Malformed(String),
}

/// Why a response body could not be read as shape messages.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("response body is not a JSON array of messages: {0}")]
    NotJson(String),
}

/// Parses a shape response body. An empty body counts as `[]`, as the official client does.
pub fn parse_body(body: &[u8]) -> Result<Vec<Message>, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    match serde_json::from_slice::<Vec<RawMessage>>(body) {
        Ok(raw) => Ok(raw.into_iter().map(RawMessage::into_message).collect()),
        // The body is JSON but some element is not a message: read the elements one by one,
        // so the good ones still apply. Only here is the body parsed twice.
        Err(e) if e.is_data() => {
            let elements: Vec<serde_json::Value> =
                serde_json::from_slice(body).map_err(|e| BodyError::NotJson(e.to_string()))?;
            Ok(elements.into_iter().map(element_message).collect())
        }
        Err(e) => Err(BodyError::NotJson(e.to_string())),
    }
}

fn element_message(element: serde_json::Value) -> Message {
    let key = element
        .get("key")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    match RawMessage::deserialize(element) {
        Ok(raw) => raw.into_message(),
        Err(e) => {
            let mut reason = e.to_string();
            reason.truncate(reason.floor_char_boundary(160));
            Message::Malformed(match key {
                Some(key) => format!("{key}: {reason}"),
                None => reason,
            })
        }
    }
}

#[derive(Deserialize)]
struct RawMessage {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    value: Option<RowValue>,
    #[serde(default)]
    headers: RawHeaders,
}

#[derive(Deserialize, Default)]
struct RawHeaders {
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    control: Option<String>,
}

impl RawMessage {
    fn into_message(self) -> Message {
        if let Some(control) = self.headers.control {
            return Message::Control(match control.as_str() {
                "up-to-date" => Control::UpToDate,
                "must-refetch" => Control::MustRefetch,
                _ => Control::Other(control),
            });
        }
        let Some(key) = self.key else {
            return Message::Unknown;
        };
        let operation = match self.headers.operation.as_deref() {
            Some("insert") => Operation::Insert,
            Some("update") => Operation::Update,
            Some("delete") => Operation::Delete,
            Some(other) => Operation::Other(other.to_string()),
            None => Operation::Other(String::new()),
        };
        Message::Change {
            key,
            operation,
            value: self.value.map(|v| v.0).unwrap_or_default(),
        }
    }
}

/// A row's columns as sent: every value should be a string or null, but a number, boolean or
/// nested JSON is kept as its JSON text rather than failing the whole body.
struct RowValue(Vec<(String, Option<String>)>);

impl<'de> Deserialize<'de> for RowValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = RowValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of column values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RowValue, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(24));
                while let Some((k, v)) = map.next_entry::<String, Cell>()? {
                    out.push((k, v.0));
                }
                Ok(RowValue(out))
            }
        }
        deserializer.deserialize_map(RowVisitor)
    }
}

struct Cell(Option<String>);

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CellVisitor;
        impl<'de> Visitor<'de> for CellVisitor {
            type Value = Cell;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cell, E> {
                Ok(Cell(Some(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Cell, E> {
                Ok(Cell(Some(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Cell, E> {
                Ok(Cell(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Cell, E> {
                Ok(Cell(None))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Cell, E> {
                Ok(Cell(Some(if v { "t" } else { "f" }.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cell, E> {
                Ok(Cell(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cell, E> {
                Ok(Cell(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cell, E> {
                Ok(Cell(Some(v.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Cell, A::Error> {
                let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Cell(Some(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Cell, A::Error> {
                let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Cell(Some(v.to_string())))
            }
        }
        deserializer.deserialize_any(CellVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_changes_and_controls() {
        let body = br#"[
            {"key":"\"public\".\"TaskRun\"/\"cm1\"","value":{"id":"cm1","status":"PENDING","error":null},
             "headers":{"operation":"insert","relation":["public","TaskRun"]}},
            {"key":"k2","value":{"id":"cm2"},"headers":{"operation":"update"}},
            {"key":"k3","headers":{"operation":"delete"}},
            {"headers":{"control":"up-to-date"}},
            {"headers":{"control":"must-refetch"}},
            {"headers":{"control":"snapshot-end"}},
            {"nothing":true}
        ]"#;
        let messages = parse_body(body).unwrap();
        assert_eq!(
            messages[0],
            Message::Change {
                key: row_key("cm1"),
                operation: Operation::Insert,
                value: vec![
                    ("id".into(), Some("cm1".into())),
                    ("status".into(), Some("PENDING".into())),
                    ("error".into(), None),
                ],
            }
        );
        assert!(matches!(
            &messages[1],
            Message::Change {
                operation: Operation::Update,
                ..
            }
        ));
        assert!(
            matches!(&messages[2], Message::Change { operation: Operation::Delete, value, .. } if value.is_empty())
        );
        assert_eq!(messages[3], Message::Control(Control::UpToDate));
        assert_eq!(messages[4], Message::Control(Control::MustRefetch));
        assert_eq!(
            messages[5],
            Message::Control(Control::Other("snapshot-end".into()))
        );
        assert_eq!(messages[6], Message::Unknown);
    }

    #[test]
    fn one_malformed_message_keeps_the_others() {
        let body = br#"[
            {"key":"k1","value":"not an object","headers":{"operation":"insert"}},
            7,
            {"key":"k2","value":{"id":"cm2"},"headers":{"operation":"insert"}},
            {"headers":{"control":"up-to-date"}}
        ]"#;
        let messages = parse_body(body).unwrap();
        assert_eq!(messages.len(), 4);
        assert!(matches!(&messages[0], Message::Malformed(why) if why.starts_with("k1: ")));
        assert!(matches!(&messages[1], Message::Malformed(_)));
        assert!(matches!(&messages[2], Message::Change { key, .. } if key == "k2"));
        assert_eq!(messages[3], Message::Control(Control::UpToDate));
        // Not an array at all, or cut short: the body as a whole is unreadable.
        assert!(parse_body(br#"{"key":"k1"}"#).is_err());
        assert!(parse_body(br#"[{"key":"k1","#).is_err());
    }

    #[test]
    fn empty_body_is_no_messages() {
        assert_eq!(parse_body(b"").unwrap(), vec![]);
        assert_eq!(parse_body(b"  \n").unwrap(), vec![]);
        assert_eq!(parse_body(b"[]").unwrap(), vec![]);
    }

    #[test]
    fn non_string_cells_keep_their_json_text() {
        let body = br#"[{"key":"k","value":{"n":5,"b":true,"o":{"a":1},"l":[1,"x"],"f":1.5},
            "headers":{"operation":"insert"}}]"#;
        let Message::Change { value, .. } = &parse_body(body).unwrap()[0] else {
            panic!()
        };
        let get = |k: &str| {
            value
                .iter()
                .find(|(c, _)| c == k)
                .unwrap()
                .1
                .clone()
                .unwrap()
        };
        assert_eq!(get("n"), "5");
        assert_eq!(get("b"), "t");
        assert_eq!(get("o"), r#"{"a":1}"#);
        assert_eq!(get("l"), r#"[1,"x"]"#);
        assert_eq!(get("f"), "1.5");
    }

    #[test]
    fn bad_bodies_are_errors() {
        assert!(parse_body(b"<html>upstream timed out</html>").is_err());
        assert!(parse_body(b"{\"a\":1}").is_err());
        assert!(parse_body(b"[{\"key\":\"k\",\"value\":{\"id\":\"x\"}").is_err());
        assert!(parse_body(&[0xff, 0xfe]).is_err());
    }
}
