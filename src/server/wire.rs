//! Text encodings of the run feed's column values, as Postgres prints them and Electric sends
//! them: timestamps without a zone, `text[]` array literals and `jsonb` text.
//!
//! These are the server's half of PROTOCOL.md §3; clients decode the same forms.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// A `timestamp` column value: UTC, ISO 8601 with three fraction digits and **no** zone suffix,
/// e.g. `2026-12-03T10:00:00.123` (the official client fails on a trailing `Z`).
pub fn timestamp_text(at: DateTime<Utc>) -> String {
    // The client's formatter with its `Z` dropped: chrono's strftime parses its pattern on
    // every call, and the store formats one of these for every change it applies.
    let mut text = crate::protocol::schema::format_timestamp(&at);
    text.pop();
    text
}

/// A JSON date as JavaScript's `Date.prototype.toISOString` prints it:
/// `2026-12-03T10:00:00.123Z`.
pub fn iso_z(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Encodes a list of strings as a Postgres array literal (`text[]` output form).
///
/// `{}` for an empty list. An element is double-quoted when it is empty, contains `{`, `}`,
/// `"`, `,`, `\` or whitespace, or equals `NULL` in any letter case (a bare `NULL` would be a
/// null element); inside quotes `"` and `\` are escaped with a backslash. Other elements are
/// written bare, as Postgres does.
pub fn pg_text_array<S: AsRef<str>>(items: &[S]) -> String {
    let mut out =
        String::with_capacity(2 + items.iter().map(|s| s.as_ref().len() + 3).sum::<usize>());
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let item = item.as_ref();
        if needs_quotes(item) {
            out.push('"');
            for c in item.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str(item);
        }
    }
    out.push('}');
    out
}

fn needs_quotes(item: &str) -> bool {
    item.is_empty()
        || item.eq_ignore_ascii_case("NULL")
        || item
            .chars()
            .any(|c| matches!(c, '{' | '}' | '"' | ',' | '\\') || c.is_whitespace())
}

/// Prints a JSON value the way Postgres prints `jsonb`: `", "` between items, `": "` after
/// keys, and object keys ordered by length, then bytewise.
pub fn jsonb_text(value: &Value) -> String {
    let mut out = String::new();
    write_jsonb(value, &mut out);
    out
}

fn write_jsonb(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_jsonb(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| {
                a.len()
                    .cmp(&b.len())
                    .then_with(|| a.as_bytes().cmp(b.as_bytes()))
            });
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                if let Some(v) = map.get(key) {
                    write_jsonb(v, out);
                }
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A `float8` value as text: rounded to six decimals (money in cents does not need more) and
/// printed in the shortest form that reads back exactly (`0`, `12.5`, `0.027`).
pub fn float_text(value: f64) -> String {
    let rounded = round6(value);
    if rounded == 0.0 {
        // Avoid "-0".
        return "0".to_owned();
    }
    format!("{rounded}")
}

/// Rounds to six decimal places.
pub fn round6(value: f64) -> f64 {
    (value * 1_000_000.0).round() / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A small Postgres array literal parser, used to check the encoder round-trips.
    fn parse_pg_array(text: &str) -> Vec<Option<String>> {
        let inner = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or_else(|| panic!("not an array literal: {text}"));
        let mut out = Vec::new();
        if inner.is_empty() {
            return out;
        }
        let mut chars = inner.chars().peekable();
        loop {
            if chars.peek() == Some(&'"') {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => s.push(chars.next().unwrap_or_else(|| panic!("dangling \\"))),
                        Some('"') => break,
                        Some(c) => s.push(c),
                        None => panic!("unterminated quote in {text}"),
                    }
                }
                out.push(Some(s));
            } else {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                out.push(if s.eq_ignore_ascii_case("NULL") {
                    None
                } else {
                    Some(s)
                });
            }
            match chars.next() {
                Some(',') => continue,
                None => break,
                Some(c) => panic!("unexpected {c:?} in {text}"),
            }
        }
        out
    }

    #[test]
    fn array_literal_encodes_like_postgres() {
        let empty: [&str; 0] = [];
        assert_eq!(pg_text_array(&empty), "{}");
        assert_eq!(pg_text_array(&["a", "b"]), "{a,b}");
        assert_eq!(pg_text_array(&["tenant:acme"]), "{tenant:acme}");
        assert_eq!(pg_text_array(&["a,b"]), r#"{"a,b"}"#);
        assert_eq!(pg_text_array(&[r#"say "hi""#]), r#"{"say \"hi\""}"#);
        assert_eq!(pg_text_array(&[r"back\slash"]), r#"{"back\\slash"}"#);
        assert_eq!(pg_text_array(&["two words"]), r#"{"two words"}"#);
        assert_eq!(pg_text_array(&["tab\there"]), "{\"tab\there\"}");
        assert_eq!(pg_text_array(&[""]), r#"{""}"#);
        assert_eq!(
            pg_text_array(&["NULL", "null", "Null", "nullable"]),
            r#"{"NULL","null","Null",nullable}"#
        );
        assert_eq!(pg_text_array(&["{x}", "}"]), r#"{"{x}","}"}"#);
        assert_eq!(pg_text_array(&["ünï", "日本"]), "{ünï,日本}");
    }

    #[test]
    fn array_literal_round_trips() {
        let cases: Vec<Vec<&str>> = vec![
            vec![],
            vec![""],
            vec!["NULL", "null", "x"],
            vec![
                "a,b", "c", r#"d"e"#, r"f\g", "h i", "{j}", r#"\""#, " ", "\n",
            ],
        ];
        for case in cases {
            let text = pg_text_array(&case);
            let back = parse_pg_array(&text);
            let expected: Vec<Option<String>> =
                case.iter().map(|s| Some((*s).to_owned())).collect();
            assert_eq!(back, expected, "{text}");
        }
    }

    #[test]
    fn timestamps_have_no_zone_and_millis() {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 3, 10, 0, 0)
            .single()
            .map(|t| t + chrono::Duration::milliseconds(123));
        let at = at.unwrap_or_else(|| panic!("valid date"));
        assert_eq!(timestamp_text(at), "2026-12-03T10:00:00.123");
        assert_eq!(iso_z(at), "2026-12-03T10:00:00.123Z");
        let whole = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .unwrap_or_else(|| panic!("date"));
        assert_eq!(timestamp_text(whole), "2026-01-02T03:04:05.000");
        assert_eq!(iso_z(whole), "2026-01-02T03:04:05.000Z");
    }

    #[test]
    fn jsonb_uses_postgres_spacing_and_key_order() {
        let v = serde_json::json!({
            "type": "INTERNAL_ERROR", "message": "m", "code": "X", "a": [1, {"bb": true, "c": null}]
        });
        assert_eq!(
            jsonb_text(&v),
            concat!(
                r#"{"a": [1, {"c": null, "bb": true}], "code": "X", "#,
                r#""type": "INTERNAL_ERROR", "message": "m"}"#
            )
        );
        let parsed: Value = serde_json::from_str(&jsonb_text(&v)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed, v);
    }

    #[test]
    fn floats_print_short() {
        assert_eq!(float_text(0.0), "0");
        assert_eq!(float_text(-0.0), "0");
        assert_eq!(float_text(12.5), "12.5");
        assert_eq!(float_text(0.1 + 0.2), "0.3");
        assert_eq!(float_text(0.0270400001), "0.02704");
    }
}
