//! `electric-schema` and column decoding (PROTOCOL.md §3).
//!
//! Every wire value is a string or null; the column's schema type says what it means. A type this
//! client does not know (a Postgres enum such as `TaskRunStatus`) is text, as the official client
//! treats it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use thiserror::Error;

use super::pg_array;

/// A column's base type as named in `electric-schema`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Json,
    Jsonb,
    Timestamp,
    Timestamptz,
    /// Any other type (enums, varchar, uuid …): decoded as text.
    Other(String),
}

impl ColumnType {
    fn from_name(name: &str) -> Self {
        match name {
            "text" => Self::Text,
            "bool" => Self::Bool,
            "int2" => Self::Int2,
            "int4" => Self::Int4,
            "int8" => Self::Int8,
            "float4" => Self::Float4,
            "float8" => Self::Float8,
            "numeric" => Self::Numeric,
            "json" => Self::Json,
            "jsonb" => Self::Jsonb,
            "timestamp" => Self::Timestamp,
            "timestamptz" => Self::Timestamptz,
            other => Self::Other(other.to_string()),
        }
    }
}

/// One column of the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub ty: ColumnType,
    /// Array dimensions; 0 for a scalar.
    pub dims: u32,
    pub not_null: bool,
}

impl ColumnSpec {
    /// A text column: what a column missing from the schema is taken to be.
    pub const TEXT: ColumnSpec = ColumnSpec {
        ty: ColumnType::Text,
        dims: 0,
        not_null: false,
    };
}

#[derive(Deserialize)]
struct RawSpec {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    dims: Option<u32>,
    #[serde(default)]
    not_null: Option<bool>,
}

/// The decoded `electric-schema` header: column name to its spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    columns: foldhash::HashMap<String, ColumnSpec>,
}

/// Why a header or value could not be decoded.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("electric-schema is not valid JSON: {0}")]
    Schema(String),
    #[error("{value:?} is not a valid {ty}")]
    Value { ty: &'static str, value: String },
    #[error("array literal {value:?}: {source}")]
    Array {
        value: String,
        source: pg_array::ArrayError,
    },
}

impl Schema {
    /// Parses the `electric-schema` header value.
    pub fn parse(header: &str) -> Result<Self, DecodeError> {
        let raw: HashMap<String, RawSpec> =
            serde_json::from_str(header).map_err(|e| DecodeError::Schema(e.to_string()))?;
        let columns = raw
            .into_iter()
            .map(|(name, spec)| {
                let spec = ColumnSpec {
                    ty: ColumnType::from_name(&spec.ty),
                    dims: spec.dims.unwrap_or(0),
                    not_null: spec.not_null.unwrap_or(false),
                };
                (name, spec)
            })
            .collect();
        Ok(Self { columns })
    }

    /// The spec of a column; a column the schema does not name is text.
    pub fn column(&self, name: &str) -> &ColumnSpec {
        self.columns.get(name).unwrap_or(&ColumnSpec::TEXT)
    }

    /// Decodes one wire value of `column`.
    pub fn decode(&self, column: &str, raw: Option<&str>) -> Result<Value, DecodeError> {
        decode(self.column(column), raw)
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}

/// A decoded column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Bool(bool),
    /// int2/int4/int8: i64 holds every int8 exactly.
    Int(i64),
    Float(f64),
    /// `numeric`: kept as its exact decimal text.
    Numeric(String),
    Json(serde_json::Value),
    Timestamp(DateTime<Utc>),
    Array(Vec<Option<String>>),
}

/// Decodes one wire value by its column spec.
pub fn decode(spec: &ColumnSpec, raw: Option<&str>) -> Result<Value, DecodeError> {
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    if spec.dims > 0 {
        return pg_array::parse(raw)
            .map(Value::Array)
            .map_err(|source| DecodeError::Array {
                value: clip(raw),
                source,
            });
    }
    let bad = |ty: &'static str| DecodeError::Value {
        ty,
        value: clip(raw),
    };
    Ok(match &spec.ty {
        ColumnType::Text | ColumnType::Other(_) => Value::Text(raw.to_string()),
        ColumnType::Bool => match raw {
            "t" | "true" => Value::Bool(true),
            "f" | "false" => Value::Bool(false),
            _ => return Err(bad("bool")),
        },
        ColumnType::Int2 | ColumnType::Int4 | ColumnType::Int8 => {
            Value::Int(raw.trim().parse().map_err(|_| bad("integer"))?)
        }
        ColumnType::Float4 | ColumnType::Float8 => {
            Value::Float(parse_float(raw).ok_or(bad("float"))?)
        }
        ColumnType::Numeric => {
            if parse_float(raw).is_none() {
                return Err(bad("numeric"));
            }
            Value::Numeric(raw.trim().to_string())
        }
        ColumnType::Json | ColumnType::Jsonb => {
            Value::Json(serde_json::from_str(raw).map_err(|_| bad("JSON value"))?)
        }
        ColumnType::Timestamp | ColumnType::Timestamptz => {
            Value::Timestamp(parse_timestamp(raw).ok_or(bad("timestamp"))?)
        }
    })
}

/// Postgres float text: decimals, `NaN`, `Infinity`, `-Infinity`.
fn parse_float(raw: &str) -> Option<f64> {
    match raw.trim() {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        other => {
            // Rust also accepts "inf" and "nan" in any case; Postgres never sends them.
            let lower = other.to_ascii_lowercase();
            if lower.contains("inf") || lower.contains("nan") {
                return None;
            }
            other.parse().ok()
        }
    }
}

/// Parses a timestamp as Postgres or Electric prints it: `2026-12-03T10:00:00.123`,
/// `2026-12-03 10:00:00.5`, with or without fraction, and with or without a zone (`Z`, `+00`,
/// `+05:30`). Without a zone it is UTC (PROTOCOL.md §3), never local time.
pub fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let text = raw.trim();
    if let Some(fast) = parse_plain_timestamp(text) {
        return Some(fast);
    }
    if text.len() < 19 || !text.is_char_boundary(10) || !text.is_char_boundary(19) {
        return None;
    }
    let (date, rest) = text.split_at(10);
    let rest = rest.strip_prefix(['T', ' ', 't'])?;
    // Split off a zone suffix: `Z`, or `+hh[:mm]` / `-hh[:mm]` after the time.
    let (time, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let naive =
        NaiveDateTime::parse_from_str(&format!("{date}T{time}"), "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    let offset_seconds = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 2 && digits.len() != 4 {
                return None;
            }
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let hours: i64 = digits[..2].parse().ok()?;
            let minutes: i64 = if digits.len() == 4 {
                digits[2..].parse().ok()?
            } else {
                0
            };
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let utc = naive.and_utc() - chrono::Duration::seconds(offset_seconds);
    Some(utc)
}

/// The common spelling without a zone, `YYYY-MM-DD[T ]HH:MM:SS[.f…]`, parsed without
/// allocating; anything else goes the general way.
fn parse_plain_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() < 19 || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let mut nanos = 0u32;
    if b.len() > 19 {
        let frac = b.get(20..)?;
        if b[19] != b'.' || frac.is_empty() || frac.len() > 9 {
            return None;
        }
        for (i, &c) in frac.iter().enumerate() {
            if !c.is_ascii_digit() {
                return None;
            }
            nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
        }
    }
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time =
        chrono::NaiveTime::from_hms_nano_opt(num(11..13)?, num(14..16)?, num(17..19)?, nanos)?;
    Some(date.and_time(time).and_utc())
}

/// Formats an instant as the SDK prints a JS `Date`: ISO 8601, milliseconds, `Z`.
pub fn format_timestamp(at: &DateTime<Utc>) -> String {
    let mut out = Vec::with_capacity(24);
    write_timestamp(&mut out, at);
    // ASCII only.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`format_timestamp`]'s text (plain ASCII) to `out`.
pub fn write_timestamp(out: &mut Vec<u8>, at: &DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    let year = at.year();
    if !(0..=9999).contains(&year) {
        out.extend_from_slice(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().as_bytes());
        return;
    }
    // Hand-rolled: chrono's strftime parses its pattern on every call, and every printed run
    // carries up to seven of these.
    let millis = at.nanosecond() / 1_000_000 % 1000;
    let mut text = [0u8; 24];
    let mut put = |at: usize, value: u32, width: usize| {
        let mut v = value;
        for i in (0..width).rev() {
            text[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, at.month(), 2);
    put(8, at.day(), 2);
    put(11, at.hour(), 2);
    put(14, at.minute(), 2);
    put(17, at.second(), 2);
    put(20, millis, 3);
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        text[i] = c;
    }
    out.extend_from_slice(&text);
}

/// Shortens a value for an error message, so an enormous cell cannot flood the log.
fn clip(raw: &str) -> String {
    const MAX: usize = 80;
    if raw.len() <= MAX {
        return raw.to_string();
    }
    let mut end = MAX;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &raw[..end], raw.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ty: &str, dims: u32) -> ColumnSpec {
        ColumnSpec {
            ty: ColumnType::from_name(ty),
            dims,
            not_null: false,
        }
    }

    fn ts(s: &str) -> String {
        format_timestamp(&parse_timestamp(s).unwrap())
    }

    #[test]
    fn schema_header_parses_and_unknown_types_are_text() {
        let schema = Schema::parse(
            r#"{"id":{"type":"text","pk_index":0,"not_null":true},"status":{"type":"TaskRunStatus"},
                "runTags":{"type":"text","dims":1},"number":{"type":"int4"}}"#,
        )
        .unwrap();
        assert_eq!(schema.len(), 4);
        assert!(schema.column("id").not_null);
        assert_eq!(schema.column("runTags").dims, 1);
        assert_eq!(
            schema.decode("status", Some("QUARANTINED")).unwrap(),
            Value::Text("QUARANTINED".into())
        );
        assert_eq!(
            schema.decode("missing", Some("5")).unwrap(),
            Value::Text("5".into())
        );
        assert_eq!(schema.decode("number", Some("5")).unwrap(), Value::Int(5));
        assert!(Schema::parse("not json").is_err());
    }

    #[test]
    fn null_is_null_for_every_type() {
        for ty in [
            "text",
            "bool",
            "int4",
            "int8",
            "float8",
            "jsonb",
            "timestamp",
        ] {
            assert_eq!(decode(&spec(ty, 0), None).unwrap(), Value::Null);
        }
        assert_eq!(decode(&spec("text", 1), None).unwrap(), Value::Null);
    }

    #[test]
    fn booleans() {
        assert_eq!(
            decode(&spec("bool", 0), Some("t")).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            decode(&spec("bool", 0), Some("f")).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            decode(&spec("bool", 0), Some("true")).unwrap(),
            Value::Bool(true)
        );
        assert!(decode(&spec("bool", 0), Some("yes")).is_err());
    }

    #[test]
    fn integers_keep_int8_beyond_2_pow_53_exact() {
        assert_eq!(
            decode(&spec("int4", 0), Some("42")).unwrap(),
            Value::Int(42)
        );
        assert_eq!(
            decode(&spec("int2", 0), Some("-7")).unwrap(),
            Value::Int(-7)
        );
        assert_eq!(
            decode(&spec("int8", 0), Some("9007199254740993")).unwrap(),
            Value::Int(9_007_199_254_740_993)
        );
        assert_eq!(
            decode(&spec("int8", 0), Some("9223372036854775807")).unwrap(),
            Value::Int(i64::MAX)
        );
        assert!(decode(&spec("int4", 0), Some("4.5")).is_err());
        assert!(decode(&spec("int4", 0), Some("")).is_err());
    }

    #[test]
    fn floats_with_nan_and_infinity() {
        assert_eq!(
            decode(&spec("float8", 0), Some("0.0375")).unwrap(),
            Value::Float(0.0375)
        );
        assert_eq!(
            decode(&spec("float8", 0), Some("1e-3")).unwrap(),
            Value::Float(0.001)
        );
        assert_eq!(
            decode(&spec("float8", 0), Some("Infinity")).unwrap(),
            Value::Float(f64::INFINITY)
        );
        assert_eq!(
            decode(&spec("float8", 0), Some("-Infinity")).unwrap(),
            Value::Float(f64::NEG_INFINITY)
        );
        let Value::Float(nan) = decode(&spec("float8", 0), Some("NaN")).unwrap() else {
            panic!()
        };
        assert!(nan.is_nan());
        assert!(decode(&spec("float8", 0), Some("abc")).is_err());
        assert!(decode(&spec("float8", 0), Some("inf")).is_err());
    }

    #[test]
    fn numeric_is_kept_exact() {
        assert_eq!(
            decode(
                &spec("numeric", 0),
                Some("123456789012345678901234567890.5")
            )
            .unwrap(),
            Value::Numeric("123456789012345678901234567890.5".into())
        );
    }

    #[test]
    fn jsonb_values() {
        assert_eq!(
            decode(
                &spec("jsonb", 0),
                Some(r#"{"type": "STRING_ERROR", "raw": "x"}"#)
            )
            .unwrap(),
            Value::Json(serde_json::json!({"type":"STRING_ERROR","raw":"x"}))
        );
        assert_eq!(
            decode(&spec("jsonb", 0), Some("null")).unwrap(),
            Value::Json(serde_json::Value::Null)
        );
        assert!(decode(&spec("jsonb", 0), Some("{broken")).is_err());
    }

    #[test]
    fn timestamps_in_every_spelling_are_utc() {
        assert_eq!(ts("2026-12-03T10:00:00.123"), "2026-12-03T10:00:00.123Z");
        assert_eq!(ts("2026-12-03 10:00:00.59"), "2026-12-03T10:00:00.590Z");
        assert_eq!(ts("2026-12-03 10:00:00"), "2026-12-03T10:00:00.000Z");
        assert_eq!(ts("2026-12-03T10:00:00.123Z"), "2026-12-03T10:00:00.123Z");
        assert_eq!(ts("2026-12-03 10:00:00.5+00"), "2026-12-03T10:00:00.500Z");
        assert_eq!(ts("2026-12-03 10:00:00+05:30"), "2026-12-03T04:30:00.000Z");
        assert_eq!(ts("2026-12-03T10:00:00.123456"), "2026-12-03T10:00:00.123Z");
        for bad in [
            "",
            "2026-12-03",
            "yesterday",
            "2026-13-03 10:00:00",
            "2026-12-03X10:00:00",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
        assert!(decode(&spec("timestamp", 0), Some("nope")).is_err());
    }

    #[test]
    fn arrays_decode_by_dims() {
        assert_eq!(
            decode(&spec("text", 1), Some(r#"{a,"b,c",NULL}"#)).unwrap(),
            Value::Array(vec![Some("a".into()), Some("b,c".into()), None])
        );
        assert!(decode(&spec("text", 1), Some("{a")).is_err());
    }

    #[test]
    fn huge_bad_values_are_clipped_in_errors() {
        let big = "x".repeat(10_000);
        let err = decode(&spec("int4", 0), Some(&big))
            .unwrap_err()
            .to_string();
        assert!(err.len() < 200, "{err}");
    }
}
