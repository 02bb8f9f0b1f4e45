//! Fuzzing without a nightly toolchain: proptest generators drive every parser that reads server
//! bytes, and the sanitizer that stands between those bytes and the terminal.
//!
//! Targets: the response body parser (`protocol::parse_body`), the column decoder
//! (`protocol::schema::decode`, every type, scalar and array), the `electric-schema` header
//! (`Schema::parse`), the array literal parser (`protocol::pg_array::parse`, and encode → parse),
//! the superjson and packet decoders (`model::packet::superjson` / `decode`, then `pretty` and
//! `to_canonical`), the run mapping (`model::Run::from_row`, then `to_sdk_json`) and
//! `sanitize::*`.
//!
//! What "clean" means for each case: no panic, an answer within [`HANG`] on a thread with the
//! smallest stack the program runs decoders on (tokio's 2 MiB workers), and output whose size is
//! bounded by a small multiple of the input's (no unbounded memory growth). Inputs are bounded
//! in size; deep nesting (10,000 brackets) has its own cases.
//!
//! Each target runs a fixed number of cases ([`cases`]); the figures and the time each took are
//! printed (`cargo test --test parsers_prop -- --nocapture`). Set `FUZZ_SCALE=10` to run ten
//! times as many (a soak, outside `cargo test`'s budget). Failing seeds are kept in
//! `proptest-regressions/` and replayed first on every run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::sync::mpsc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{Value as Json, json};

use trigger_tui::model::packet::{self, Decoded, SjValue};
use trigger_tui::model::{Packet, Run};
use trigger_tui::output::terminal_safe_json;
use trigger_tui::protocol::pg_array;
use trigger_tui::protocol::schema::{
    self, ColumnSpec, ColumnType, Schema, Value, format_timestamp, parse_timestamp,
};
use trigger_tui::protocol::{Control, Message, Operation, parse_body};
use trigger_tui::sanitize::{clip_line, is_safe_canonical_json, sanitize_line, sanitize_multiline};

/// A case that takes longer than this is a hang.
const HANG: Duration = Duration::from_secs(20);
/// The stack decoders get in the program: tokio worker threads (and the test harness) use 2 MiB.
const STACK: usize = 2 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// The number of cases for a target: `base`, times `FUZZ_SCALE` when set.
fn cases(base: u32) -> u32 {
    let scale = std::env::var("FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    base.saturating_mul(scale)
}

/// Runs `test` on `cases` inputs from `strategy`, failing on the first bad case (after
/// shrinking it), and prints how many ran clean and how long they took.
fn fuzz<S>(name: &str, base: u32, strategy: S, test: fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Clone + Send + 'static + std::fmt::Debug,
{
    let n = cases(base);
    // Failing seeds are kept per target in proptest-regressions/ and replayed first.
    let file: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let regressions: &'static str = Box::leak(
        format!(
            "{}/proptest-regressions/parsers_prop/{file}.txt",
            env!("CARGO_MANIFEST_DIR")
        )
        .into_boxed_str(),
    );
    let config = Config {
        cases: n,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        source_file: Some(file!()),
        // Shrinking a slow failure must not take the CI budget.
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let started = Instant::now();
    let result = runner.run(&strategy, |value| guarded(move || test(value)));
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    eprintln!("fuzz {name}: {n} cases clean in {:.2?}", started.elapsed());
}

/// Runs `f` on its own thread with a 2 MiB stack and fails the case if it does not finish
/// within [`HANG`]. A panic on that thread is a failed case; a stack overflow aborts the whole
/// test binary, which fails the test just as loudly.
fn guarded<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, TestCaseError> + Send + 'static,
) -> Result<T, TestCaseError> {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(result);
        })
        .expect("spawn a worker");
    match rx.recv_timeout(HANG) {
        Ok(Ok(result)) => {
            let _ = worker.join();
            result
        }
        Ok(Err(panic)) => {
            let _ = worker.join();
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "a panic".to_string());
            Err(TestCaseError::fail(format!("panicked: {message}")))
        }
        Err(_) => Err(TestCaseError::fail(format!(
            "no answer within {HANG:?}: a hang"
        ))),
    }
}

/// Characters that matter to parsers and terminals, mixed into arbitrary text.
const NASTY: &[char] = &[
    '\u{0}',
    '\u{7}',
    '\u{8}',
    '\t',
    '\n',
    '\r',
    '\u{b}',
    '\u{c}',
    '\u{1b}',
    '\u{7f}',
    '\u{80}',
    '\u{85}',
    '\u{9b}',
    '\u{9d}',
    '\u{ad}',
    '\u{61c}',
    '\u{180e}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{200f}',
    '\u{2028}',
    '\u{2029}',
    '\u{202a}',
    '\u{202e}',
    '\u{2060}',
    '\u{2066}',
    '\u{2069}',
    '\u{206a}',
    '\u{feff}',
    '\u{fff9}',
    '\u{e0001}',
    '\u{e0041}',
    '\u{e007f}',
    '"',
    '\\',
    '{',
    '}',
    '[',
    ']',
    ',',
    ':',
    '.',
    '-',
    '+',
    ' ',
    '\u{3000}',
    'N',
    'U',
    'L',
    'n',
    'u',
    'l',
    '0',
    '9',
    'T',
    'Z',
    'e',
    'é',
    '数',
    '👩',
    '🔬',
];

fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => proptest::sample::select(NASTY),
        2 => proptest::char::range(' ', '~'),
    ]
}

/// Arbitrary text of up to `max` characters, heavy on the characters in [`NASTY`].
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(nasty_char(), 0..=max).prop_map(String::from_iter)
}

/// Text over a small alphabet, so that structure (brackets, quotes, digits) recurs often.
fn over(alphabet: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(alphabet), 0..=max).prop_map(|v| v.concat())
}

/// True for a character that must never reach a terminal cell raw: C0/C1 controls, DEL, bidi
/// controls, zero-width and other invisible format characters (ZWJ excepted: it joins emoji).
fn dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0xad | 0x61c | 0x180e
            | 0x200b..=0x200c | 0x200e..=0x200f
            | 0x2028..=0x202e | 0x2060..=0x206f
            | 0xfeff | 0xfff9..=0xfffb
            | 0xe0000..=0xe007f)
}

// ---------------------------------------------------------------------------------------------
// protocol::parse_body
// ---------------------------------------------------------------------------------------------

/// Checks one parse: an answer, and never more messages than the body has bytes.
fn check_body(body: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(messages) = parse_body(body) {
        prop_assert!(messages.len() <= body.len());
        for message in &messages {
            if let Message::Change { value, .. } = message {
                let size: usize = value
                    .iter()
                    .map(|(k, v)| k.len() + v.map_or(0, str::len))
                    .sum();
                prop_assert!(size <= body.len());
            }
        }
    }
    Ok(())
}

#[test]
fn fuzz_parse_body_arbitrary_bytes() {
    fuzz(
        "parse_body/bytes",
        10_000,
        proptest::collection::vec(any::<u8>(), 0..2_048),
        |body| check_body(&body),
    );
}

const BODY_TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    " ",
    "\"key\"",
    "\"value\"",
    "\"headers\"",
    "\"operation\"",
    "\"control\"",
    "\"insert\"",
    "\"update\"",
    "\"delete\"",
    "\"up-to-date\"",
    "\"must-refetch\"",
    "\"id\"",
    "\"status\"",
    "null",
    "true",
    "1",
    "-0.5e3",
    "\"\\u001b[2J\"",
    "\"\\ud800\"",
    "\"\\\"\"",
    "\"a\"",
    "\"\"",
    "\"",
];

#[test]
fn fuzz_parse_body_token_soup() {
    fuzz(
        "parse_body/tokens",
        10_000,
        over(BODY_TOKENS, 300),
        |body| check_body(body.as_bytes()),
    );
}

/// A cell as a server might send it: a string, null, or JSON that is not a string.
#[derive(Debug, Clone)]
enum Cell {
    Str(String),
    Null,
    Other(Json),
}

fn cell() -> impl Strategy<Value = Cell> {
    prop_oneof![
        6 => text(40).prop_map(Cell::Str),
        2 => Just(Cell::Null),
        1 => any::<i64>().prop_map(|n| Cell::Other(json!(n))),
        1 => any::<bool>().prop_map(|b| Cell::Other(json!(b))),
        1 => text(8).prop_map(|s| Cell::Other(json!({ "k": s, "l": [1, null] }))),
    ]
}

#[derive(Debug, Clone)]
enum GenMessage {
    Change {
        key: String,
        op: Option<String>,
        value: Option<Vec<(String, Cell)>>,
    },
    Control(String),
    Junk(Json),
}

fn gen_message() -> impl Strategy<Value = GenMessage> {
    let op = prop_oneof![
        Just(Some("insert".to_string())),
        Just(Some("update".to_string())),
        Just(Some("delete".to_string())),
        Just(None),
        text(6).prop_map(Some),
    ];
    let change = (
        text(30),
        op,
        proptest::option::of(proptest::collection::vec((text(12), cell()), 0..8)),
    )
        .prop_map(|(key, op, value)| GenMessage::Change { key, op, value });
    let control = prop_oneof![
        Just("up-to-date".to_string()),
        Just("must-refetch".to_string()),
        text(10),
    ]
    .prop_map(GenMessage::Control);
    let junk = prop_oneof![
        Just(json!({})),
        Just(json!({"nothing": true})),
        Just(json!({"headers": {}})),
        Just(json!({"value": {"id": "x"}})),
    ]
    .prop_map(GenMessage::Junk);
    prop_oneof![6 => change, 2 => control, 1 => junk]
}

fn to_json(message: &GenMessage) -> Json {
    match message {
        GenMessage::Change { key, op, value } => {
            let mut m = serde_json::Map::new();
            m.insert("key".into(), json!(key));
            if let Some(value) = value {
                let mut row = serde_json::Map::new();
                for (k, c) in value {
                    row.insert(
                        k.clone(),
                        match c {
                            Cell::Str(s) => json!(s),
                            Cell::Null => Json::Null,
                            Cell::Other(j) => j.clone(),
                        },
                    );
                }
                m.insert("value".into(), Json::Object(row));
            }
            let mut headers = serde_json::Map::new();
            if let Some(op) = op {
                headers.insert("operation".into(), json!(op));
            }
            m.insert("headers".into(), Json::Object(headers));
            Json::Object(m)
        }
        GenMessage::Control(c) => json!({"headers": {"control": c}}),
        GenMessage::Junk(j) => j.clone(),
    }
}

#[test]
fn fuzz_parse_body_round_trips_generated_messages() {
    fuzz(
        "parse_body/messages",
        5_000,
        proptest::collection::vec(gen_message(), 0..12),
        |messages| {
            let body = Json::Array(messages.iter().map(to_json).collect()).to_string();
            let parsed = parse_body(body.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("valid body rejected: {e}")))?;
            prop_assert_eq!(parsed.len(), messages.len());
            for (got, sent) in parsed.iter().zip(&messages) {
                match (got, sent) {
                    (Message::Control(c), GenMessage::Control(name)) => {
                        let expected = match name.as_str() {
                            "up-to-date" => Control::UpToDate,
                            "must-refetch" => Control::MustRefetch,
                            other => Control::Other(other.to_string()),
                        };
                        prop_assert_eq!(c, &expected);
                    }
                    (
                        Message::Change {
                            key,
                            operation,
                            value,
                        },
                        GenMessage::Change {
                            key: k,
                            op,
                            value: v,
                        },
                    ) => {
                        prop_assert_eq!(key, k);
                        let expected_op = match op.as_deref() {
                            Some("insert") => Operation::Insert,
                            Some("update") => Operation::Update,
                            Some("delete") => Operation::Delete,
                            Some(other) => Operation::Other(other.to_string()),
                            None => Operation::Other(String::new()),
                        };
                        prop_assert_eq!(operation, &expected_op);
                        // serde_json keeps the last of repeated keys; so does the column lookup.
                        let sent: std::collections::BTreeMap<&str, Option<String>> = v
                            .iter()
                            .flatten()
                            .map(|(k, c)| {
                                let text = match c {
                                    Cell::Str(s) => Some(s.clone()),
                                    Cell::Null => None,
                                    Cell::Other(Json::Bool(b)) => {
                                        Some(if *b { "t" } else { "f" }.to_string())
                                    }
                                    Cell::Other(j) => Some(j.to_string()),
                                };
                                (k.as_str(), text)
                            })
                            .collect();
                        let got: std::collections::BTreeMap<&str, Option<String>> = value
                            .iter()
                            .map(|(k, v)| (k, v.map(str::to_string)))
                            .collect();
                        prop_assert_eq!(got, sent);
                    }
                    (Message::Unknown, GenMessage::Junk(_)) => {}
                    (got, sent) => {
                        return Err(TestCaseError::fail(format!("{sent:?} parsed as {got:?}")));
                    }
                }
            }
            Ok(())
        },
    );
}

/// Nesting `depth` deep, with `open`/`close` around a change message's value.
fn nested(open: &str, close: &str, depth: usize) -> String {
    format!(
        r#"[{{"key":"k","value":{{"id":{}1{}}},"headers":{{"operation":"insert"}}}}]"#,
        open.repeat(depth),
        close.repeat(depth)
    )
}

#[test]
fn parse_body_survives_deep_nesting() {
    guarded(|| {
        for depth in [127, 128, 129, 1_000, 10_000, 100_000] {
            for (open, close) in [("[", "]"), (r#"{"a":"#, "}")] {
                // Either the JSON text of the value, or a clear error; never a crash.
                let body = nested(open, close, depth);
                let _ = parse_body(body.as_bytes());
                // Unclosed, and bare.
                let _ = parse_body(open.repeat(depth).as_bytes());
                let _ = parse_body(format!("[{}", open.repeat(depth)).as_bytes());
            }
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn fuzz_parse_body_random_nesting() {
    fuzz(
        "parse_body/nesting",
        200,
        (0usize..20_000, any::<bool>(), any::<bool>()),
        |(depth, arrays, closed)| {
            let (open, close) = if arrays {
                ("[", "]")
            } else {
                (r#"{"a":"#, "}")
            };
            let body = if closed {
                nested(open, close, depth)
            } else {
                open.repeat(depth)
            };
            check_body(body.as_bytes())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// protocol::schema::decode, Schema::parse
// ---------------------------------------------------------------------------------------------

fn every_type() -> Vec<ColumnType> {
    vec![
        ColumnType::Text,
        ColumnType::Bool,
        ColumnType::Int2,
        ColumnType::Int4,
        ColumnType::Int8,
        ColumnType::Float4,
        ColumnType::Float8,
        ColumnType::Numeric,
        ColumnType::Json,
        ColumnType::Jsonb,
        ColumnType::Timestamp,
        ColumnType::Timestamptz,
        ColumnType::Other("TaskRunStatus".into()),
    ]
}

fn column_spec() -> impl Strategy<Value = ColumnSpec> {
    (proptest::sample::select(every_type()), 0u32..3).prop_map(|(ty, dims)| ColumnSpec {
        ty,
        dims,
        not_null: false,
    })
}

const VALUE_TOKENS: &[&str] = &[
    "0",
    "1",
    "9",
    "-",
    "+",
    ".",
    "e",
    "E",
    "_",
    " ",
    "T",
    "t",
    "Z",
    "z",
    ":",
    "2026-12-03",
    "10:00:00",
    ".123456",
    "+05:30",
    "-23:59",
    "+99",
    "NaN",
    "Infinity",
    "-Infinity",
    "inf",
    "nan",
    "true",
    "false",
    "f",
    "{",
    "}",
    "\"",
    ",",
    "NULL",
    "\\",
    "[",
    "]",
    "null",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "1e308",
    "1e309",
    "+262143",
    "-262144",
    "+99999",
    "\u{1b}",
    "\u{0}",
    "数",
];

/// Checks that a decoded value has the kind its spec promises and a bounded size.
fn check_decoded(spec: &ColumnSpec, raw: &str, value: &Value) -> Result<(), TestCaseError> {
    let ok = match (&spec.ty, spec.dims, value) {
        (_, d, Value::Array(items)) if d > 0 => items.len() <= raw.len(),
        (_, d, _) if d > 0 => false,
        (ColumnType::Text | ColumnType::Other(_), _, Value::Text(t)) => t == raw,
        (ColumnType::Bool, _, Value::Bool(_)) => true,
        (ColumnType::Int2 | ColumnType::Int4 | ColumnType::Int8, _, Value::Int(_)) => true,
        (ColumnType::Float4 | ColumnType::Float8, _, Value::Float(_)) => true,
        (ColumnType::Numeric, _, Value::Numeric(n)) => n.len() <= raw.len(),
        (ColumnType::Json | ColumnType::Jsonb, _, Value::Json(_)) => true,
        (ColumnType::Timestamp | ColumnType::Timestamptz, _, Value::Timestamp(t)) => {
            // Whatever instant it is, it prints.
            !format_timestamp(t).is_empty()
        }
        _ => false,
    };
    prop_assert!(ok, "{spec:?} decoded {raw:?} as {value:?}");
    Ok(())
}

fn check_decode(spec: &ColumnSpec, raw: &str) -> Result<(), TestCaseError> {
    match schema::decode(spec, Some(raw)) {
        Ok(value) => check_decoded(spec, raw, &value),
        Err(e) => {
            // Error messages quote the value clipped, never whole.
            prop_assert!(
                e.to_string().len() <= 400 + 2 * 80 * 4,
                "{}",
                e.to_string().len()
            );
            Ok(())
        }
    }
}

#[test]
fn fuzz_decode_every_type_arbitrary_text() {
    fuzz(
        "schema::decode/text",
        10_000,
        (column_spec(), text(64)),
        |(spec, raw)| check_decode(&spec, &raw),
    );
}

#[test]
fn fuzz_decode_every_type_value_like_text() {
    fuzz(
        "schema::decode/value-like",
        10_000,
        (column_spec(), over(VALUE_TOKENS, 12)),
        |(spec, raw)| check_decode(&spec, &raw),
    );
}

#[test]
fn fuzz_decode_round_trips_what_postgres_prints() {
    let timestamps = (
        -9999i32..=9999,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
        0u32..1_000_000,
        0usize..4,
    );
    fuzz(
        "schema::decode/round-trip",
        10_000,
        (
            any::<i64>(),
            any::<f64>(),
            any::<bool>(),
            timestamps,
            text(20),
        ),
        |(int, float, b, (y, mo, d, h, mi, s, us, style), t)| {
            let int8 = ColumnSpec {
                ty: ColumnType::Int8,
                dims: 0,
                not_null: false,
            };
            prop_assert_eq!(
                schema::decode(&int8, Some(&int.to_string())).unwrap(),
                Value::Int(int)
            );
            let float8 = ColumnSpec {
                ty: ColumnType::Float8,
                ..int8.clone()
            };
            let printed = if float.is_nan() {
                "NaN".to_string()
            } else if float.is_infinite() {
                if float > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
            } else {
                float.to_string()
            };
            match schema::decode(&float8, Some(&printed)).unwrap() {
                Value::Float(f) if float.is_nan() => prop_assert!(f.is_nan()),
                Value::Float(f) => prop_assert_eq!(f.to_bits(), float.to_bits()),
                other => return Err(TestCaseError::fail(format!("{other:?}"))),
            }
            let boolean = ColumnSpec {
                ty: ColumnType::Bool,
                ..int8.clone()
            };
            prop_assert_eq!(
                schema::decode(&boolean, Some(if b { "t" } else { "f" })).unwrap(),
                Value::Bool(b)
            );
            let jsonb = ColumnSpec {
                ty: ColumnType::Jsonb,
                ..int8.clone()
            };
            let j = json!({"t": t, "n": int, "a": [b, null]});
            prop_assert_eq!(
                schema::decode(&jsonb, Some(&j.to_string())).unwrap(),
                Value::Json(j)
            );

            // A timestamp in each spelling (PROTOCOL.md §3), always UTC. Years outside
            // 0000–9999 only in the ISO form with a sign.
            if (0..=9999).contains(&y) {
                let date = format!("{y:04}-{mo:02}-{d:02}");
                let time = format!("{h:02}:{mi:02}:{s:02}");
                let frac = format!("{us:06}");
                let raw = match style {
                    0 => format!("{date}T{time}.{}", &frac[..3]),
                    1 => format!("{date} {time}.{frac}"),
                    2 => format!("{date}T{time}.{}Z", &frac[..3]),
                    _ => format!("{date} {time}+00"),
                };
                let parsed = parse_timestamp(&raw)
                    .ok_or_else(|| TestCaseError::fail(format!("{raw:?} not parsed")))?;
                let expected_ms = match style {
                    3 => 0,
                    _ => us / 1_000,
                };
                prop_assert_eq!(
                    format_timestamp(&parsed),
                    format!("{date}T{time}.{expected_ms:03}Z")
                );
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_schema_header() {
    let spec = (
        prop_oneof![
            Just("text".to_string()),
            Just("int4".to_string()),
            Just("timestamp".to_string()),
            text(8)
        ],
        proptest::option::of(0u32..4),
    )
        .prop_map(|(ty, dims)| match dims {
            Some(d) => json!({"type": ty, "dims": d}),
            None => json!({"type": ty}),
        });
    let generated = proptest::collection::btree_map(text(10), spec, 0..6)
        .prop_map(|m| serde_json::to_string(&m).unwrap());
    fuzz(
        "Schema::parse",
        5_000,
        prop_oneof![generated, text(80), over(BODY_TOKENS, 60)],
        |header| {
            if let Ok(schema) = Schema::parse(&header) {
                prop_assert!(schema.len() <= header.len());
                // Decoding any column with the parsed spec is safe too.
                let _ = schema.decode("x", Some("1"));
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// protocol::pg_array
// ---------------------------------------------------------------------------------------------

const ARRAY_TOKENS: &[&str] = &[
    "{", "}", "\"", ",", "\\", " ", "\t", "\u{3000}", "a", "NULL", "null", "b c", "\"\"", "\\\"",
    "数", "\u{1b}",
];

#[test]
fn fuzz_pg_array_parse_arbitrary() {
    fuzz(
        "pg_array::parse/text",
        10_000,
        prop_oneof![text(80), over(ARRAY_TOKENS, 40)],
        |literal| {
            if let Ok(items) = pg_array::parse(&literal) {
                prop_assert!(items.len() <= literal.len());
                let size: usize = items.iter().flatten().map(String::len).sum();
                prop_assert!(size <= literal.len());
            }
            Ok(())
        },
    );
}

fn element() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        1 => proptest::sample::select(vec!["NULL", "null", "Null", "", " ", "a b", "{}", "\\", "\""])
            .prop_map(|s| Some(s.to_string())),
        6 => text(16).prop_map(Some),
    ]
}

#[test]
fn fuzz_pg_array_encode_then_parse_round_trips() {
    fuzz(
        "pg_array::encode→parse",
        10_000,
        proptest::collection::vec(element(), 0..10),
        |elements| {
            let literal = pg_array::encode(&elements);
            let parsed = pg_array::parse(&literal)
                .map_err(|e| TestCaseError::fail(format!("{literal:?}: {e}")))?;
            prop_assert_eq!(parsed, elements, "through {:?}", literal);
            Ok(())
        },
    );
}

/// What Postgres's `array_out` prints for a text[] (arrayfuncs.c): an element is quoted when it
/// is empty, spells NULL in any case, or holds `"`, `\\`, `{`, `}`, `,` or one of the six ASCII
/// spaces Postgres knows (`array_isspace`); `"` and `\\` are backslash-escaped inside quotes.
fn postgres_array_out(elements: &[Option<String>]) -> String {
    let pg_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}');
    let items: Vec<String> = elements
        .iter()
        .map(|element| match element {
            None => "NULL".to_string(),
            Some(e) => {
                let quote = e.is_empty()
                    || e.eq_ignore_ascii_case("NULL")
                    || e.chars()
                        .any(|c| matches!(c, '"' | '\\' | '{' | '}' | ',') || pg_space(c));
                if quote {
                    let escaped: String = e
                        .chars()
                        .flat_map(|c| match c {
                            '"' | '\\' => vec!['\\', c],
                            c => vec![c],
                        })
                        .collect();
                    format!("\"{escaped}\"")
                } else {
                    e.clone()
                }
            }
        })
        .collect();
    format!("{{{}}}", items.join(","))
}

/// Differential: whatever Postgres prints, the parser reads back exactly. Elements that start
/// or end with a non-ASCII space (NBSP, U+3000 …) are printed unquoted by Postgres, and are
/// data, not padding.
#[test]
fn fuzz_pg_array_parses_what_postgres_prints() {
    fuzz(
        "pg_array::parse(array_out)",
        10_000,
        proptest::collection::vec(
            prop_oneof![
                4 => element(),
                1 => proptest::sample::select(vec!["\u{a0}tag\u{a0}", "\u{3000}x", "y\u{2003}", "\u{85}"])
                    .prop_map(|s| Some(s.to_string())),
            ],
            0..8,
        ),
        |elements| {
            let literal = postgres_array_out(&elements);
            let parsed = pg_array::parse(&literal)
                .map_err(|e| TestCaseError::fail(format!("{literal:?}: {e}")))?;
            prop_assert_eq!(parsed, elements, "through {:?}", literal);
            Ok(())
        },
    );
}

#[test]
fn pg_array_survives_deep_nesting() {
    guarded(|| {
        for depth in [1, 2, 10_000, 100_000] {
            let open = "{".repeat(depth);
            assert!(pg_array::parse(&open).is_err());
            let closed = format!("{open}{}", "}".repeat(depth));
            assert!(pg_array::parse(&closed).is_err() || depth == 1);
            let quoted = format!("{{{}}}", "\"\\".repeat(depth));
            assert!(pg_array::parse(&quoted).is_err());
        }
        Ok(())
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// model::packet: superjson and decode by type
// ---------------------------------------------------------------------------------------------

const DATA_TYPES: &[&str] = &[
    "application/json",
    "application/super+json",
    "text/plain",
    "application/store",
    "application/x-unknown",
    "",
];

/// Decodes and then does what the detail pane and `--output ndjson` do with the result.
fn exercise(decoded: &Decoded, input_len: usize) -> Result<(), TestCaseError> {
    let _ = decoded.to_canonical();
    if let Decoded::Value { value, warnings } = decoded {
        let pretty = value.pretty();
        // Indentation grows with depth, and serde_json caps depth at 128.
        prop_assert!(
            pretty.len() <= 300 * input_len + 64,
            "{} bytes of pretty text from {input_len}",
            pretty.len()
        );
        let warned: usize = warnings.iter().map(String::len).sum();
        prop_assert!(
            warned <= 16 * input_len + 256,
            "{warned} bytes of warnings from {input_len} bytes of superjson"
        );
    }
    Ok(())
}

#[test]
fn fuzz_packet_decode_arbitrary_text() {
    fuzz(
        "packet::decode/text",
        10_000,
        (
            proptest::sample::select(DATA_TYPES),
            prop_oneof![text(120), over(BODY_TOKENS, 80)],
        ),
        |(ty, data)| exercise(&packet::decode(&data, ty), data.len()),
    );
}

/// A JSON value up to a few levels deep.
fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        text(12).prop_map(Json::String),
        proptest::sample::select(vec![
            "NaN",
            "-0",
            "Infinity",
            "2026-12-03T10:00:00.000Z",
            "not a date",
            "/ab+c/gi",
            "https://example.com/a?b",
            "12345678901234567890123",
            "",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("a".to_string()),
                        Just("0".to_string()),
                        Just("a.b".to_string()),
                        text(4)
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Json::Object(kv.into_iter().collect())),
        ]
    })
}

fn annotation() -> impl Strategy<Value = Json> {
    prop_oneof![
        proptest::sample::select(vec![
            "bigint",
            "Date",
            "set",
            "map",
            "undefined",
            "number",
            "regexp",
            "URL",
            "Error",
            "symbol",
            "",
        ])
        .prop_map(|s| json!(s)),
        Just(json!(["custom", "decimal.js"])),
        Just(json!(["class", "Foo"])),
        Just(json!(["custom"])),
        Just(json!([])),
        Just(json!(5)),
        Just(json!(null)),
        Just(json!({"x": 1})),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(
            proptest::sample::select(vec!["a", "0", "1", "a\\.b", "b", "00", "+0", ""]),
            1..5
        )
        .prop_map(|segments| segments.join(".")),
        text(6),
    ]
}

/// A `meta.values` tree: `{path: [annotation, {children}]}` or `{path: {children}}`, or junk.
fn meta_tree() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        4 => annotation().prop_map(|a| json!([a])),
        1 => annotation(),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            proptest::collection::vec((path(), inner.clone()), 0..5)
                .prop_map(|kv| Json::Object(kv.into_iter().collect())),
            (
                annotation(),
                proptest::collection::vec((path(), inner), 0..4)
            )
                .prop_map(|(a, kv)| json!([a, Json::Object(kv.into_iter().collect())])),
        ]
    })
}

#[test]
fn fuzz_superjson_generated_annotations() {
    fuzz(
        "superjson/generated",
        5_000,
        (json_value(), meta_tree(), any::<bool>()),
        |(value, tree, wrap)| {
            let text = if wrap {
                json!({"json": value, "meta": {"values": tree, "referentialEqualities": {}}})
            } else {
                json!({"json": value, "meta": tree})
            }
            .to_string();
            let decoded = packet::decode(&text, "application/super+json");
            prop_assert!(
                !matches!(decoded, Decoded::Invalid { .. }),
                "valid superjson text was rejected: {decoded:?}"
            );
            exercise(&decoded, text.len())?;
            // The same value as plain JSON decodes too.
            let plain = packet::decode(&value.to_string(), "application/json");
            prop_assert!(matches!(plain, Decoded::Value { .. }), "{plain:?}");
            Ok(())
        },
    );
}

#[test]
fn superjson_survives_deep_nesting() {
    guarded(|| {
        for depth in [127, 128, 129, 10_000] {
            let deep = "[".repeat(depth) + &"]".repeat(depth);
            for ty in DATA_TYPES {
                exercise(&packet::decode(&deep, ty), deep.len())?;
            }
            let sj = format!(r#"{{"json":{deep}}}"#);
            exercise(&packet::decode(&sj, "application/super+json"), sj.len())?;
            let meta = format!(r#"{{"json":1,"meta":{{"values":{deep}}}}}"#);
            exercise(&packet::decode(&meta, "application/super+json"), meta.len())?;
            let path = vec!["0"; depth].join(".");
            let long_path = format!(r#"{{"json":1,"meta":{{"values":{{"{path}":["Date"]}}}}}}"#);
            exercise(
                &packet::decode(&long_path, "application/super+json"),
                long_path.len(),
            )?;
        }
        Ok(())
    })
    .unwrap();
}

/// One array element reached through many spellings of its index (`0`, `00`, `+0`, …): each
/// custom annotation used to wrap the value once more, nesting it as deep as there are
/// spellings, until printing or dropping it overflowed the stack.
#[test]
fn superjson_many_annotations_on_one_node_do_not_nest_without_bound() {
    guarded(|| {
        let mut values = serde_json::Map::new();
        for n in 1..=3_000 {
            values.insert("0".repeat(n), json!([["custom", "x"]]));
            values.insert(format!("+{}", "0".repeat(n)), json!([["custom", "y"]]));
        }
        let text = json!({"json": [1], "meta": {"values": values}}).to_string();
        let decoded = packet::decode(&text, "application/super+json");
        exercise(&decoded, text.len())?;
        let Decoded::Value { value, .. } = &decoded else {
            panic!("not a value: {decoded:?}")
        };
        let SjValue::Array(items) = value else {
            panic!("not an array: {value:?}")
        };
        // The element is still there, with its value, whatever the annotations said.
        assert_eq!(
            decoded.to_canonical(),
            Some(json!([1])),
            "the value survives the annotations"
        );
        let mut depth = 0;
        let mut node = &items[0];
        while let SjValue::Custom { value, .. } = node {
            depth += 1;
            node = value;
        }
        assert!(depth <= 1, "one node wrapped {depth} times");
        drop(decoded);
        Ok(())
    })
    .unwrap();
}

/// Warnings name the path they are about; a long path nested deep in the annotation tree must
/// not be repeated in full for every node below it (memory growing with depth × length).
#[test]
fn superjson_warnings_stay_proportional_to_the_input() {
    guarded(|| {
        let key = "k".repeat(10_000);
        let mut tree = json!(["Date"]);
        for _ in 0..60 {
            tree = json!(["Date", { key.clone(): tree }]);
        }
        let text = json!({"json": 1, "meta": {"values": {key.clone(): tree}}}).to_string();
        exercise(&packet::decode(&text, "application/super+json"), text.len())
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// model::Run::from_row
// ---------------------------------------------------------------------------------------------

const COLUMNS: &[&str] = &[
    "id",
    "taskIdentifier",
    "friendlyId",
    "status",
    "createdAt",
    "updatedAt",
    "startedAt",
    "delayUntil",
    "queuedAt",
    "expiredAt",
    "completedAt",
    "number",
    "isTest",
    "usageDurationMs",
    "costInCents",
    "baseCostInCents",
    "ttl",
    "payload",
    "payloadType",
    "output",
    "outputType",
    "metadata",
    "metadataType",
    "runTags",
    "error",
    "realtimeStreams",
    "idempotencyKey",
];

/// The run feed's schema, as the embedded server sends it.
const FEED_SCHEMA: &str = r#"{"id":{"type":"text","pk_index":0,"not_null":true},"taskIdentifier":{"type":"text","not_null":true},"friendlyId":{"type":"text","not_null":true},"status":{"type":"TaskRunStatus","not_null":true},"createdAt":{"type":"timestamp","not_null":true},"updatedAt":{"type":"timestamp","not_null":true},"startedAt":{"type":"timestamp"},"delayUntil":{"type":"timestamp"},"queuedAt":{"type":"timestamp"},"expiredAt":{"type":"timestamp"},"completedAt":{"type":"timestamp"},"number":{"type":"int4"},"isTest":{"type":"bool"},"usageDurationMs":{"type":"int4"},"costInCents":{"type":"float8"},"baseCostInCents":{"type":"float8"},"ttl":{"type":"text"},"payload":{"type":"text"},"payloadType":{"type":"text"},"output":{"type":"text"},"outputType":{"type":"text"},"metadata":{"type":"text"},"metadataType":{"type":"text"},"runTags":{"type":"text","dims":1},"error":{"type":"jsonb"},"realtimeStreams":{"type":"text","dims":1},"idempotencyKey":{"type":"text"}}"#;

fn row_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        3 => text(40).prop_map(Some),
        3 => over(VALUE_TOKENS, 10).prop_map(Some),
        1 => proptest::sample::select(DATA_TYPES).prop_map(|s| Some(s.to_string())),
        1 => proptest::sample::select(vec![
            "COMPLETED_SUCCESSFULLY", "EXECUTING", "QUARANTINED", "CANCELED", "",
        ]).prop_map(|s| Some(s.to_string())),
        1 => (json_value(), proptest::sample::select(vec![
            "BUILT_IN_ERROR", "CUSTOM_ERROR", "STRING_ERROR", "INTERNAL_ERROR", "NEW",
        ])).prop_map(|(v, ty)| Some(json!({"type": ty, "name": v, "message": v, "raw": v,
            "code": v, "stackTrace": v, "causes": [v]}).to_string())),
        1 => (json_value(), meta_tree()).prop_map(|(v, t)| {
            Some(json!({"json": v, "meta": {"values": t}}).to_string())
        }),
        1 => proptest::collection::vec(element(), 0..4).prop_map(|e| Some(pg_array::encode(&e))),
    ]
}

fn row() -> impl Strategy<Value = Vec<(String, Option<String>)>> {
    let name = prop_oneof![
        8 => proptest::sample::select(COLUMNS).prop_map(str::to_string),
        1 => text(8),
    ];
    proptest::collection::vec((name, row_value()), 0..30)
}

#[test]
fn fuzz_run_from_row() {
    let feed = Schema::parse(FEED_SCHEMA).unwrap();
    assert_eq!(feed.len(), COLUMNS.len());
    fuzz(
        "Run::from_row",
        5_000,
        (row(), any::<bool>()),
        |(row, with_schema)| {
            let schema = if with_schema {
                Schema::parse(FEED_SCHEMA).unwrap()
            } else {
                Schema::default()
            };
            let run = Run::from_row(row.as_slice(), &schema);
            let input: usize = row
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, String::len))
                .sum();
            // What the app and --output ndjson do with a run.
            let sdk = run.to_sdk_json();
            prop_assert!(sdk.get("id").is_some() && sdk.get("status").is_some());
            // The ndjson printer writes the line straight from the run: the same bytes as the
            // value, serialized terminal-safe.
            let mut line = Vec::new();
            run.write_sdk_json(&mut line, &mut |_, p| {
                p.decode()
                    .to_canonical()
                    .map(|v| terminal_safe_json(&v).into())
            });
            prop_assert_eq!(String::from_utf8(line).unwrap(), terminal_safe_json(&sdk));
            let _ = run.total_cost_cents();
            let _ = run.status.label();
            let _ = run.error.as_ref().map(|e| (e.summary(), e.to_sdk_json()));
            for packet in [&run.payload, &run.output, &run.metadata]
                .into_iter()
                .flatten()
            {
                exercise(&packet.decode(), packet.data.len())?;
                // The printer's shortcut for plain JSON is the general path's value.
                prop_assert_eq!(packet.canonical(), packet.decode().to_canonical());
            }
            let warned: usize = run.warnings.iter().map(String::len).sum();
            prop_assert!(warned <= 4 * input + 512 * run.warnings.len().max(1));
            Ok(())
        },
    );
}

#[test]
fn fuzz_run_merge_equals_the_merged_row() {
    // The shape merges each update's columns into the run it holds; the result must be the run
    // the whole merged row builds, whatever came in which update (packet data before its type,
    // a friendly id that goes NULL, bad values that warn and are then fixed).
    fuzz(
        "Run::merge",
        3_000,
        (proptest::collection::vec(row(), 1..5), any::<bool>()),
        |(updates, with_schema)| {
            let schema = if with_schema {
                Schema::parse(FEED_SCHEMA).unwrap()
            } else {
                Schema::default()
            };
            let (mut run, mut parts) = Run::from_columns(
                updates[0].iter().map(|(k, v)| (k.as_str(), v.as_deref())),
                &schema,
            );
            for update in &updates[1..] {
                let before = run.id.clone();
                let old = run.merge(
                    &mut parts,
                    update.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
                    &schema,
                );
                // The old id comes back whenever the id changed (it may have changed back).
                match old {
                    Some(old) => prop_assert_eq!(old, before),
                    None => prop_assert_eq!(&before, &run.id),
                }
            }
            let merged: Vec<(String, Option<String>)> = updates.concat();
            // Compared as debug text: a NaN cost is not equal to itself.
            let whole = Run::from_row(merged.as_slice(), &schema);
            prop_assert_eq!(format!("{run:?}"), format!("{whole:?}"));
            Ok(())
        },
    );
}

#[test]
fn packets_from_columns_are_absent_without_data_or_type() {
    guarded(|| {
        for (data, ty) in [
            (None, None),
            (Some(""), Some("application/json")),
            (Some("1"), Some("")),
        ] {
            assert_eq!(Packet::from_columns(data, ty), None);
        }
        Ok(())
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// sanitize
// ---------------------------------------------------------------------------------------------

fn check_sanitized(
    input: &str,
    output: &str,
    keep_newlines: bool,
    whole: bool,
) -> Result<(), TestCaseError> {
    for c in output.chars() {
        let allowed = keep_newlines && c == '\n';
        prop_assert!(
            allowed || !dangerous(c),
            "{:?} left raw in {:?} (from {:?})",
            c,
            output,
            input
        );
    }
    // Each character becomes at most `\u{10ffff}` (10 bytes) or four spaces.
    prop_assert!(output.len() <= 10 * input.len());
    if !whole {
        return Ok(());
    }
    // What was dangerous is visible as an escape.
    if input.contains('\u{1b}') {
        prop_assert!(output.contains("\\e"));
    }
    if input.contains('\u{202e}') {
        prop_assert!(output.contains("\\u{202e}"), "{output:?}");
    }
    if input.contains('\u{9b}') {
        prop_assert!(output.contains("\\u{9b}"), "{output:?}");
    }
    Ok(())
}

#[test]
fn fuzz_sanitize_line() {
    fuzz("sanitize_line", 10_000, text(200), |input| {
        check_sanitized(&input, &sanitize_line(&input), false, true)
    });
}

#[test]
fn fuzz_sanitize_multiline() {
    fuzz("sanitize_multiline", 10_000, text(200), |input| {
        let output = sanitize_multiline(&input);
        check_sanitized(&input, &output, true, true)?;
        // Line breaks survive as breaks (CRLF as one), nothing else makes one.
        prop_assert_eq!(
            output.matches('\n').count(),
            input.replace("\r\n", "\n").matches('\n').count()
        );
        Ok(())
    });
}

#[test]
fn fuzz_clip_line() {
    fuzz(
        "clip_line",
        10_000,
        (text(200), 0usize..80),
        |(input, max)| {
            let output = clip_line(&input, max);
            check_sanitized(&input, &output, false, false)?;
            prop_assert!(output.chars().count() <= max.max(1));
            Ok(())
        },
    );
}

/// The printer copies JSON text that `is_safe_canonical_json` accepts instead of parsing and
/// re-printing it: whatever it accepts must print back byte for byte, and every escape-free
/// text the printer itself writes (and would write again) must be accepted.
#[test]
fn fuzz_safe_canonical_json_matches_the_printer() {
    fn reprint(text: &str) -> Option<String> {
        serde_json::from_str::<Json>(text)
            .ok()
            .map(|v| terminal_safe_json(&v))
    }
    fn sound(text: &str) -> Result<(), TestCaseError> {
        if is_safe_canonical_json(text) {
            let printed = reprint(text);
            prop_assert_eq!(printed.as_deref(), Some(text));
        }
        Ok(())
    }
    /// Number-like tokens, valid JSON or not.
    fn number() -> impl Strategy<Value = String> {
        over(
            &[
                "-",
                "0",
                "1",
                "9",
                "00",
                "18446744073709551616",
                ".",
                "5",
                "e",
                "E",
                "+",
                "308",
            ],
            6,
        )
    }
    fuzz(
        "safe_canonical_json",
        3_000,
        (json_value(), number(), text(40), over(BODY_TOKENS, 30)),
        |(value, number, text, tokens)| {
            let printed = terminal_safe_json(&value);
            // (Not every float serde_json prints reads back as the same float.)
            if !printed.contains('\\') && reprint(&printed).as_deref() == Some(&printed) {
                prop_assert!(is_safe_canonical_json(&printed), "refused {printed}");
            }
            sound(&printed)?;
            sound(&serde_json::to_string_pretty(&value).unwrap())?;
            // The same members in reverse order.
            if let Json::Object(map) = &value {
                let reversed: Vec<String> = map
                    .iter()
                    .rev()
                    .map(|(k, v)| format!("{}:{}", json!(k), terminal_safe_json(v)))
                    .collect();
                sound(&format!("{{{}}}", reversed.join(",")))?;
            }
            for candidate in [
                number.clone(),
                format!("[{number}]"),
                format!("{{\"n\":{number},\"o\":1}}"),
                text,
                tokens,
            ] {
                sound(&candidate)?;
            }
            Ok(())
        },
    );
}

/// Every invisible or direction-changing character is shown escaped, one by one (CASES.md C13):
/// the bidi controls (including the Arabic letter mark), zero-width characters and the other
/// format characters a terminal draws as nothing, and the tag characters that can hide text.
#[test]
fn sanitize_escapes_every_invisible_format_character() {
    let invisible = [
        0xad, 0x61c, 0x180e, 0x200b, 0x200c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b,
        0x202c, 0x202d, 0x202e, 0x2060, 0x2061, 0x2064, 0x2065, 0x2066, 0x2067, 0x2068, 0x2069,
        0x206a, 0x206f, 0xfeff, 0xfff9, 0xfffb, 0xe0001, 0xe0020, 0xe0041, 0xe007f,
    ];
    for code in invisible {
        let c = char::from_u32(code).unwrap();
        let input = format!("a{c}b");
        let expected = format!("a\\u{{{code:x}}}b");
        assert_eq!(sanitize_line(&input), expected, "U+{code:04X}");
        assert_eq!(sanitize_multiline(&input), expected, "U+{code:04X}");
    }
    // The ZWJ of an emoji sequence stays: it is part of one glyph.
    assert_eq!(sanitize_line("👩\u{200d}🔬"), "👩\u{200d}🔬");
}

/// Annotating every field of a wide object: each annotation finds its field. A linear search per
/// annotation made this quadratic (a 1 MB payload took seconds, 10 MB minutes), on the thread
/// that draws the screen.
#[test]
fn superjson_wide_objects_decode_in_linear_time() {
    let time = |n: usize| {
        let json: serde_json::Map<String, Json> = (0..n)
            .map(|i| (format!("k{i}"), json!("2026-12-03T10:00:00.000Z")))
            .collect();
        let values: serde_json::Map<String, Json> =
            (0..n).map(|i| (format!("k{i}"), json!(["Date"]))).collect();
        let text = json!({"json": json, "meta": {"values": values}}).to_string();
        let started = Instant::now();
        let decoded = packet::decode(&text, "application/super+json");
        let took = started.elapsed();
        let Decoded::Value { warnings, .. } = &decoded else {
            panic!("{decoded:?}")
        };
        assert!(
            warnings.is_empty(),
            "{:?}",
            &warnings[..3.min(warnings.len())]
        );
        (text.len(), took)
    };
    let (small_len, small) = time(5_000);
    let (big_len, big) = time(40_000);
    eprintln!(
        "superjson wide object: {small_len} bytes in {small:.2?}, {big_len} bytes in {big:.2?}"
    );
    // 8× the input: linear work takes about 8× as long, quadratic 64×. Allow for noise.
    assert!(
        big < small * 24 + Duration::from_millis(200),
        "8x the input took {:.1}x the time ({small:.2?} -> {big:.2?})",
        big.as_secs_f64() / small.as_secs_f64()
    );
}
