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
        value: Row,
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
    value: Option<Row>,
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
            value: self.value.unwrap_or_default(),
        }
    }
}

/// A row's columns as sent, in order: every value should be a string or null, but a number,
/// boolean or nested JSON is kept as its JSON text rather than failing the whole body. The
/// names and values share one buffer (a body has tens of thousands of cells).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Row {
    text: String,
    cells: Vec<CellSpan>,
}

/// Where a cell's name and value are in [`Row::text`] (`None`: SQL NULL).
#[derive(Clone, Copy, PartialEq, Eq)]
struct CellSpan {
    name: Span,
    value: Option<Span>,
}

/// A range of [`Row::text`]: rows are far below 4 GiB (a body is read whole into memory).
type Span = (u32, u32);

impl Row {
    /// Column name and raw wire value (`None` for SQL NULL), in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> + '_ {
        self.cells.iter().map(|cell| {
            let text = |(start, end): Span| &self.text[start as usize..end as usize];
            (text(cell.name), cell.value.map(text))
        })
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Appends a name or value to the buffer; `None` past 4 GiB.
    fn push(&mut self, text: &str) -> Option<Span> {
        let start = u32::try_from(self.text.len()).ok()?;
        let end = u32::try_from(self.text.len() + text.len()).ok()?;
        self.text.push_str(text);
        Some((start, end))
    }

    fn push_or_fail<E: de::Error>(&mut self, text: &str) -> Result<Span, E> {
        self.push(text)
            .ok_or_else(|| E::custom("a row of more than 4 GiB"))
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, Option<V>)> for Row {
    fn from_iter<I: IntoIterator<Item = (K, Option<V>)>>(pairs: I) -> Self {
        let mut row = Row::default();
        for (name, value) in pairs {
            // (Only past 4 GiB does a push fail.)
            let Some(name) = row.push(name.as_ref()) else {
                break;
            };
            let value = match value {
                Some(v) => match row.push(v.as_ref()) {
                    Some(span) => Some(span),
                    None => break,
                },
                None => None,
            };
            row.cells.push(CellSpan { name, value });
        }
        row
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Reads a column name straight into the row's buffer.
struct NameSeed<'r>(&'r mut Row);

impl<'de> de::DeserializeSeed<'de> for NameSeed<'_> {
    type Value = Span;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        struct NameVisitor<'r>(&'r mut Row);
        impl<'de> Visitor<'de> for NameVisitor<'_> {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                self.0.push_or_fail(v)
            }
        }
        deserializer.deserialize_str(NameVisitor(self.0))
    }
}

/// Reads a column value straight into the row's buffer: its text, or `None` for null.
struct CellSeed<'r>(&'r mut Row);

impl<'de> de::DeserializeSeed<'de> for CellSeed<'_> {
    type Value = Option<Span>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        struct CellVisitor<'r>(&'r mut Row);
        impl CellVisitor<'_> {
            fn text<E: de::Error>(self, v: &str) -> Result<Option<Span>, E> {
                self.0.push_or_fail(v).map(Some)
            }
        }
        impl<'de> Visitor<'de> for CellVisitor<'_> {
            type Value = Option<Span>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                self.text(v)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                self.text(if v { "t" } else { "f" })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                self.text(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                self.text(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                self.text(&v.to_string())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                self.text(&v.to_string())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                self.text(&v.to_string())
            }
        }
        deserializer.deserialize_any(CellVisitor(self.0))
    }
}

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = Row;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of column values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
                let mut row = Row {
                    // Grown as needed: a snapshot holds every row's message at once.
                    text: String::with_capacity(256),
                    cells: Vec::with_capacity(map.size_hint().unwrap_or(24)),
                };
                while let Some(name) = map.next_key_seed(NameSeed(&mut row))? {
                    let value = map.next_value_seed(CellSeed(&mut row))?;
                    row.cells.push(CellSpan { name, value });
                }
                Ok(row)
            }
        }
        deserializer.deserialize_map(RowVisitor)
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
                value: [
                    ("id", Some("cm1")),
                    ("status", Some("PENDING")),
                    ("error", None),
                ]
                .into_iter()
                .collect(),
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
        let get = |k: &str| value.iter().find(|(c, _)| *c == k).unwrap().1.unwrap();
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
