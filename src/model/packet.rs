//! Payload, output and metadata packets: `(data, dataType)` pairs decoded as the SDK decodes them
//! (PROTOCOL.md §4), with superjson shown faithfully.
//!
//! Decoding is lazy: a [`Packet`] keeps the raw text, and [`Packet::decode`] runs only when the
//! detail pane or headless output needs the value. `application/store` packets are not fetched
//! here; they decode to [`Decoded::Offloaded`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::{Map, Number, Value as Json};

use crate::protocol::schema::{format_timestamp, parse_timestamp};

/// A packet as the feed carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Shared, so copying a run (each update does) does not copy its packets.
    pub data: Arc<str>,
    pub data_type: Arc<str>,
}

/// A value after superjson revival: JSON plus the JavaScript types superjson carries.
#[derive(Debug, Clone, PartialEq)]
pub enum SjValue {
    Null,
    Undefined,
    Bool(bool),
    Number(Number),
    /// `NaN`, `Infinity`, `-Infinity` or `-0`, as superjson spells them.
    SpecialNumber(String),
    String(String),
    /// Decimal digits, exact.
    BigInt(String),
    /// `None` is JavaScript's Invalid Date.
    Date(Option<chrono::DateTime<chrono::Utc>>),
    RegExp(String),
    Url(String),
    Error {
        name: String,
        message: String,
    },
    Set(Vec<SjValue>),
    Map(Vec<(SjValue, SjValue)>),
    Array(Vec<SjValue>),
    Object(Vec<(String, SjValue)>),
    /// A custom or class annotation: the JSON value as sent plus its annotation.
    Custom {
        annotation: String,
        value: Box<SjValue>,
    },
}

/// A decoded packet.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// No packet (no type, or empty data): the SDK leaves the field out.
    Absent,
    /// JSON or superjson, with any warnings about annotations that could not be applied.
    Value {
        value: SjValue,
        warnings: Vec<String>,
    },
    /// `text/plain`, or a type the SDK passes through as text.
    Text(String),
    /// `application/store`: the data is a storage path to fetch.
    Offloaded { path: String },
    /// The data does not parse as its type claims; the raw text is kept.
    Invalid { raw: String, reason: String },
}

impl Packet {
    /// Builds a packet from its two columns; `None` when the SDK would leave the field out
    /// (no type, or empty data).
    pub fn from_columns(data: Option<&str>, data_type: Option<&str>) -> Option<Self> {
        let data_type = data_type.filter(|t| !t.is_empty())?;
        let data = data.filter(|d| !d.is_empty())?;
        Some(Self {
            data: data.into(),
            data_type: data_type.into(),
        })
    }

    /// `self.decode().to_canonical()`, the value the SDK's shape prints, with a shortcut for
    /// plain JSON: its canonical form is the parsed value itself.
    pub fn canonical(&self) -> Option<Json> {
        if &*self.data_type == "application/json"
            && let Ok(json) = serde_json::from_str::<Json>(&self.data)
        {
            return Some(json);
        }
        self.decode().to_canonical()
    }

    /// Decodes the packet by its type.
    pub fn decode(&self) -> Decoded {
        decode(&self.data, &self.data_type)
    }
}

/// Decodes packet data by type.
pub fn decode(data: &str, data_type: &str) -> Decoded {
    match data_type {
        "application/json" => match serde_json::from_str::<Json>(data) {
            Ok(json) => Decoded::Value {
                value: from_json(json),
                warnings: Vec::new(),
            },
            Err(e) => Decoded::Invalid {
                raw: data.to_string(),
                reason: format!("invalid JSON: {e}"),
            },
        },
        "application/super+json" => match superjson(data) {
            Ok((value, warnings)) => Decoded::Value { value, warnings },
            Err(reason) => Decoded::Invalid {
                raw: data.to_string(),
                reason,
            },
        },
        "application/store" => Decoded::Offloaded {
            path: data.to_string(),
        },
        _ => Decoded::Text(data.to_string()),
    }
}

fn from_json(json: Json) -> SjValue {
    match json {
        Json::Null => SjValue::Null,
        Json::Bool(b) => SjValue::Bool(b),
        Json::Number(n) => SjValue::Number(n),
        Json::String(s) => SjValue::String(s),
        Json::Array(items) => SjValue::Array(items.into_iter().map(from_json).collect()),
        Json::Object(map) => {
            SjValue::Object(map.into_iter().map(|(k, v)| (k, from_json(v))).collect())
        }
    }
}

/// Parses superjson text (`{"json": …, "meta": {"values": …}}`) and applies its annotations.
/// Annotations that do not fit the value become warnings; the value is still returned.
pub fn superjson(text: &str) -> Result<(SjValue, Vec<String>), String> {
    let root: Json = serde_json::from_str(text).map_err(|e| format!("invalid superjson: {e}"))?;
    let Json::Object(mut root) = root else {
        return Err("superjson is not an object with a \"json\" key".to_string());
    };
    let json = root.remove("json").unwrap_or(Json::Null);
    let mut value = from_json(json);
    let mut walk = Walk::default();
    if let Some(values) = root.get("meta").and_then(|m| m.get("values")) {
        apply_tree(&mut value, values, &mut Vec::new(), &mut walk);
    }
    Ok((value, walk.warnings))
}

/// What applying the annotations keeps between steps: the warnings, and where each field of a
/// wide object is, so that finding a field is not a scan of the object for every annotation
/// (which made annotating every field of an object quadratic).
#[derive(Default)]
struct Walk {
    warnings: Vec<String>,
    /// Field positions of the objects looked into, by the address and length of their field
    /// list. Objects are only built before the walk (never during it), so a live object's list
    /// is never at an address another indexed list had; a found position is checked anyway.
    fields: HashMap<(usize, usize), HashMap<String, usize>>,
}

/// Objects with fewer fields are searched directly.
const INDEX_FIELDS: usize = 32;

impl Walk {
    fn position(&mut self, fields: &[(String, SjValue)], key: &str) -> Option<usize> {
        if fields.len() < INDEX_FIELDS {
            return fields.iter().position(|(k, _)| k == key);
        }
        let index = self
            .fields
            .entry((fields.as_ptr() as usize, fields.len()))
            .or_insert_with(|| {
                let mut index = HashMap::with_capacity(fields.len());
                for (i, (k, _)) in fields.iter().enumerate() {
                    index.entry(k.clone()).or_insert(i);
                }
                index
            });
        let i = *index.get(key)?;
        match fields.get(i) {
            Some((k, _)) if k == key => Some(i),
            _ => fields.iter().position(|(k, _)| k == key),
        }
    }
}

/// Walks superjson's annotation tree: either `[annotation, {children}]` or `{path: subtree}`.
/// Children are applied before their parent, as superjson does.
fn apply_tree(root: &mut SjValue, tree: &Json, origin: &mut Vec<String>, walk: &mut Walk) {
    match tree {
        Json::Array(node) => {
            if let Some(Json::Object(children)) = node.get(1) {
                apply_children(root, children, origin, walk);
            }
            match node.first() {
                Some(annotation) => apply_at(root, origin, annotation, walk),
                None => walk
                    .warnings
                    .push(format!("empty annotation at {}", place(origin))),
            }
        }
        Json::Object(children) => apply_children(root, children, origin, walk),
        other => walk.warnings.push(format!(
            "unexpected annotation {} at {}",
            quote(other),
            place(origin)
        )),
    }
}

/// Longest path or annotation text a warning quotes: a warning is written for each annotation,
/// and paths nest, so quoting them whole would make warnings grow with depth × length.
const QUOTE_MAX: usize = 120;

fn clip_quote(text: String) -> String {
    match text.char_indices().nth(QUOTE_MAX) {
        Some((end, _)) => format!("{}… ({} bytes)", &text[..end], text.len()),
        None => text,
    }
}

/// Where an annotation applies, for a warning: the dotted path, clipped.
fn place(path: &[String]) -> String {
    if path.is_empty() {
        return "(root)".to_string();
    }
    clip_quote(path.join("."))
}

/// An annotation as JSON text, for a warning, clipped.
fn quote(annotation: &Json) -> String {
    clip_quote(annotation.to_string())
}

fn apply_children(
    root: &mut SjValue,
    children: &Map<String, Json>,
    origin: &mut Vec<String>,
    walk: &mut Walk,
) {
    for (key, subtree) in children {
        let depth = origin.len();
        origin.extend(parse_path(key));
        apply_tree(root, subtree, origin, walk);
        origin.truncate(depth);
    }
}

/// Splits a superjson path on unescaped dots (`a\.b.c` is `["a.b", "c"]`).
fn parse_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut segment = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'.') {
            chars.next();
            segment.push('.');
        } else if c == '.' {
            out.push(std::mem::take(&mut segment));
        } else {
            segment.push(c);
        }
    }
    out.push(segment);
    out
}

fn get_mut<'a>(
    mut node: &'a mut SjValue,
    path: &[String],
    walk: &mut Walk,
) -> Option<&'a mut SjValue> {
    let mut i = 0;
    while i < path.len() {
        let key = &path[i];
        node = match node {
            SjValue::Array(items) | SjValue::Set(items) => {
                items.get_mut(key.parse::<usize>().ok()?)?
            }
            SjValue::Object(fields) => {
                let at = walk.position(fields, key)?;
                &mut fields[at].1
            }
            SjValue::Map(pairs) => {
                let row = pairs.get_mut(key.parse::<usize>().ok()?)?;
                i += 1;
                match path.get(i).map(String::as_str) {
                    Some("0") => &mut row.0,
                    Some("1") => &mut row.1,
                    _ => return None,
                }
            }
            _ => return None,
        };
        i += 1;
    }
    Some(node)
}

fn apply_at(root: &mut SjValue, path: &[String], annotation: &Json, walk: &mut Walk) {
    let where_ = place(path);
    let Some(node) = get_mut(root, path, walk) else {
        walk.warnings.push(format!(
            "annotation {} points at {where_}, which does not exist",
            quote(annotation)
        ));
        return;
    };
    let current = std::mem::replace(node, SjValue::Null);
    *node = match revive(current, annotation) {
        Ok(value) => value,
        Err((value, why)) => {
            walk.warnings.push(format!("{where_}: {why}"));
            value
        }
    };
}

/// Applies one annotation; on failure returns the value untouched with the reason.
fn revive(value: SjValue, annotation: &Json) -> Result<SjValue, (SjValue, String)> {
    let fail = |value: SjValue, why: String| Err((value, why));
    match annotation {
        Json::String(tag) => match (tag.as_str(), value) {
            ("undefined", _) => Ok(SjValue::Undefined),
            ("bigint", SjValue::String(s)) if is_bigint(&s) => Ok(SjValue::BigInt(s)),
            ("Date", SjValue::String(s)) => Ok(SjValue::Date(parse_js_date(&s))),
            ("regexp", SjValue::String(s)) => Ok(SjValue::RegExp(s)),
            ("URL", SjValue::String(s)) => Ok(SjValue::Url(normalize_url(&s))),
            ("set", SjValue::Array(items)) => Ok(SjValue::Set(items)),
            ("map", SjValue::Array(items)) => to_map(items),
            ("number", SjValue::String(s))
                if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity" | "-0") =>
            {
                Ok(SjValue::SpecialNumber(s))
            }
            ("Error", SjValue::Object(fields)) => {
                let get = |k: &str| {
                    fields
                        .iter()
                        .find(|(f, _)| f == k)
                        .map(|(_, v)| plain_string(v))
                        .unwrap_or_default()
                };
                Ok(SjValue::Error {
                    name: get("name"),
                    message: get("message"),
                })
            }
            (tag, value) => fail(value, format!("cannot apply annotation {tag:?} here")),
        },
        // Each node has one annotation; a second one reaching the same node (through another
        // spelling of its path, e.g. `0` and `00`) must not wrap it again, or a payload could
        // nest values as deep as it has annotations.
        Json::Array(_) if matches!(value, SjValue::Custom { .. }) => fail(
            value,
            format!(
                "a second annotation {} for the same value",
                quote(annotation)
            ),
        ),
        Json::Array(parts) => {
            let kind = parts.first().and_then(Json::as_str).unwrap_or("?");
            let name = parts
                .get(1)
                .map(|n| n.as_str().map_or(n.to_string(), str::to_string));
            let annotation = match name {
                Some(name) => format!("{kind}:{name}"),
                None => kind.to_string(),
            };
            Ok(SjValue::Custom {
                annotation,
                value: Box::new(value),
            })
        }
        other => fail(value, format!("unknown annotation {}", quote(other))),
    }
}

fn to_map(items: Vec<SjValue>) -> Result<SjValue, (SjValue, String)> {
    if !items
        .iter()
        .all(|i| matches!(i, SjValue::Array(pair) if pair.len() == 2))
    {
        return Err((
            SjValue::Array(items),
            "a map must be an array of [key, value] pairs".into(),
        ));
    }
    let pairs = items
        .into_iter()
        .filter_map(|item| match item {
            SjValue::Array(mut pair) => {
                let v = pair.pop()?;
                let k = pair.pop()?;
                Some((k, v))
            }
            _ => None,
        })
        .collect();
    Ok(SjValue::Map(pairs))
}

fn is_bigint(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn parse_js_date(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    parse_timestamp(s)
}

/// WHATWG URL serialization, as JavaScript's `URL.href` prints it; unparsable text is kept.
fn normalize_url(s: &str) -> String {
    reqwest::Url::parse(s).map_or_else(|_| s.to_string(), |u| u.to_string())
}

fn plain_string(v: &SjValue) -> String {
    match v {
        SjValue::String(s) => s.clone(),
        other => other
            .to_canonical()
            .map(|j| j.to_string())
            .unwrap_or_default(),
    }
}

impl SjValue {
    /// The value as `shared/conformance/canonical.mjs` prints what the SDK yields: Dates as ISO
    /// text, bigints as decimal strings, sets as arrays, maps as `[key, value]` pairs, special
    /// numbers as strings. `None` for `undefined` (left out of objects, `null` in arrays).
    pub fn to_canonical(&self) -> Option<Json> {
        Some(match self {
            SjValue::Undefined => return None,
            SjValue::Null => Json::Null,
            SjValue::Bool(b) => Json::Bool(*b),
            SjValue::Number(n) => Json::Number(n.clone()),
            SjValue::SpecialNumber(s) if s == "-0" => Json::from(0),
            SjValue::SpecialNumber(s) => Json::String(s.clone()),
            SjValue::String(s) | SjValue::BigInt(s) | SjValue::RegExp(s) | SjValue::Url(s) => {
                Json::String(s.clone())
            }
            SjValue::Date(Some(at)) => Json::String(format_timestamp(at)),
            SjValue::Date(None) => Json::String("Invalid Date".into()),
            SjValue::Error { name, message } => {
                serde_json::json!({ "message": message, "name": name })
            }
            SjValue::Set(items) | SjValue::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|i| i.to_canonical().unwrap_or(Json::Null))
                    .collect(),
            ),
            SjValue::Map(pairs) => Json::Array(
                pairs
                    .iter()
                    .map(|(k, v)| {
                        Json::Array(vec![
                            k.to_canonical().unwrap_or(Json::Null),
                            v.to_canonical().unwrap_or(Json::Null),
                        ])
                    })
                    .collect(),
            ),
            SjValue::Object(fields) => {
                let mut map = Map::new();
                for (k, v) in fields {
                    if let Some(v) = v.to_canonical() {
                        map.insert(k.clone(), v);
                    }
                }
                Json::Object(map)
            }
            SjValue::Custom { value, .. } => return value.to_canonical(),
        })
    }

    /// Pretty text for the detail pane: JSON layout, with superjson's types marked the way
    /// JavaScript prints them (`123n`, `Date(…)`, `Set […]`, `Map {k => v}`, `undefined`).
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write_pretty(&mut out, 0);
        out
    }

    fn write_pretty(&self, out: &mut String, indent: usize) {
        let pad = |n: usize| "  ".repeat(n);
        match self {
            SjValue::Null => out.push_str("null"),
            SjValue::Undefined => out.push_str("undefined"),
            SjValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            SjValue::Number(n) => out.push_str(&n.to_string()),
            SjValue::SpecialNumber(s) => out.push_str(s),
            SjValue::String(s) => out.push_str(&Json::String(s.clone()).to_string()),
            SjValue::BigInt(s) => {
                out.push_str(s);
                out.push('n');
            }
            SjValue::Date(Some(at)) => {
                let _ = write!(out, "Date({})", format_timestamp(at));
            }
            SjValue::Date(None) => out.push_str("Date(Invalid Date)"),
            SjValue::RegExp(s) => out.push_str(s),
            SjValue::Url(s) => {
                let _ = write!(out, "URL({s})");
            }
            SjValue::Error { name, message } => {
                let _ = write!(out, "{name}: {message}");
            }
            SjValue::Custom { annotation, value } => {
                let _ = write!(out, "<{annotation}> ");
                value.write_pretty(out, indent);
            }
            SjValue::Array(items) | SjValue::Set(items) => {
                if matches!(self, SjValue::Set(_)) {
                    out.push_str("Set ");
                }
                if items.is_empty() {
                    out.push_str("[]");
                    return;
                }
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    item.write_pretty(out, indent + 1);
                    if i + 1 < items.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                out.push_str(&pad(indent));
                out.push(']');
            }
            SjValue::Map(pairs) => {
                if pairs.is_empty() {
                    out.push_str("Map {}");
                    return;
                }
                out.push_str("Map {\n");
                for (i, (k, v)) in pairs.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    k.write_pretty(out, indent + 1);
                    out.push_str(" => ");
                    v.write_pretty(out, indent + 1);
                    if i + 1 < pairs.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                out.push_str(&pad(indent));
                out.push('}');
            }
            SjValue::Object(fields) => {
                if fields.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push_str("{\n");
                for (i, (k, v)) in fields.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    out.push_str(&Json::String(k.clone()).to_string());
                    out.push_str(": ");
                    v.write_pretty(out, indent + 1);
                    if i + 1 < fields.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                out.push_str(&pad(indent));
                out.push('}');
            }
        }
    }
}

impl Decoded {
    /// The value as the SDK yields it, for `--output ndjson`; `None` when the field is absent.
    /// Offloaded packets print their path until fetched; invalid data prints its raw text.
    pub fn to_canonical(&self) -> Option<Json> {
        match self {
            Decoded::Absent => None,
            Decoded::Value { value, .. } => value.to_canonical(),
            Decoded::Text(text) => Some(Json::String(text.clone())),
            Decoded::Offloaded { path } => Some(Json::String(path.clone())),
            Decoded::Invalid { raw, .. } => Some(Json::String(raw.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canonical(data: &str, ty: &str) -> Json {
        decode(data, ty).to_canonical().unwrap()
    }

    #[test]
    fn packets_are_absent_without_type_or_data() {
        assert_eq!(Packet::from_columns(None, Some("application/json")), None);
        assert_eq!(Packet::from_columns(Some(""), Some("text/plain")), None);
        assert_eq!(Packet::from_columns(Some("{}"), None), None);
        assert_eq!(Packet::from_columns(Some("{}"), Some("")), None);
        assert!(Packet::from_columns(Some("null"), Some("application/json")).is_some());
    }

    #[test]
    fn json_scalars_and_text_dispatch_by_type_only() {
        assert_eq!(
            canonical("\"hello world\"", "application/json"),
            json!("hello world")
        );
        assert_eq!(canonical("0", "application/json"), json!(0));
        assert_eq!(canonical("null", "application/json"), Json::Null);
        assert_eq!(
            canonical("plain text, not JSON {", "text/plain"),
            json!("plain text, not JSON {")
        );
        assert_eq!(canonical("{\"a\":1}", "text/plain"), json!("{\"a\":1}"));
        assert_eq!(canonical("raw", "application/x-unknown"), json!("raw"));
        assert_eq!(
            decode("run_0004/output.json", "application/store"),
            Decoded::Offloaded {
                path: "run_0004/output.json".into()
            }
        );
        assert!(matches!(
            decode("{bad", "application/json"),
            Decoded::Invalid { .. }
        ));
    }

    #[test]
    fn superjson_revives_every_simple_type() {
        let text = r#"{"json":{"orderId":"9007199254740993","placedAt":"2026-12-03T10:00:00.000Z",
            "labels":["a","b"],"byRegion":[["eu",3],["us",5]],"note":null,"ratio":"NaN",
            "user":{"joined":"2020-02-29T23:59:59.999Z"},"re":"/ab+c/gi","site":"https://example.com",
            "err":{"name":"TypeError","message":"boom"},"neg":"-Infinity"},
            "meta":{"values":{"orderId":["bigint"],"placedAt":["Date"],"labels":["set"],
            "byRegion":["map"],"note":["undefined"],"ratio":["number"],"user.joined":["Date"],
            "re":["regexp"],"site":["URL"],"err":["Error"],"neg":["number"]}}}"#;
        let (value, warnings) = superjson(text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let SjValue::Object(fields) = &value else {
            panic!()
        };
        let get = |k: &str| fields.iter().find(|(f, _)| f == k).unwrap().1.clone();
        assert_eq!(get("orderId"), SjValue::BigInt("9007199254740993".into()));
        assert!(matches!(get("placedAt"), SjValue::Date(Some(_))));
        assert!(matches!(get("labels"), SjValue::Set(_)));
        assert!(matches!(get("byRegion"), SjValue::Map(ref p) if p.len() == 2));
        assert_eq!(get("note"), SjValue::Undefined);
        assert_eq!(get("ratio"), SjValue::SpecialNumber("NaN".into()));
        assert_eq!(get("site"), SjValue::Url("https://example.com/".into()));

        let canonical = value.to_canonical().unwrap();
        assert_eq!(
            canonical,
            json!({"orderId":"9007199254740993","placedAt":"2026-12-03T10:00:00.000Z",
                "labels":["a","b"],"byRegion":[["eu",3],["us",5]],"ratio":"NaN",
                "user":{"joined":"2020-02-29T23:59:59.999Z"},"re":"/ab+c/gi",
                "site":"https://example.com/","err":{"name":"TypeError","message":"boom"},
                "neg":"-Infinity"})
        );

        let pretty = value.pretty();
        assert!(
            pretty.contains("\"orderId\": 9007199254740993n"),
            "{pretty}"
        );
        assert!(pretty.contains("\"note\": undefined"), "{pretty}");
        assert!(pretty.contains("Set ["), "{pretty}");
        assert!(pretty.contains("\"eu\" => 3"), "{pretty}");
        assert!(
            pretty.contains("Date(2020-02-29T23:59:59.999Z)"),
            "{pretty}"
        );
    }

    #[test]
    fn superjson_bigint_keeps_every_digit() {
        let text = r#"{"json":{"total":"123456789012345678901234567890"},"meta":{"values":{"total":["bigint"]},"referentialEqualities":{}}}"#;
        let (value, _) = superjson(text).unwrap();
        assert_eq!(
            value.to_canonical().unwrap(),
            json!({"total":"123456789012345678901234567890"})
        );
        assert!(value.pretty().contains("123456789012345678901234567890n"));
    }

    #[test]
    fn superjson_nested_tree_form_and_escaped_paths() {
        // A map whose values are Dates: children are applied before the map itself.
        let text = r#"{"json":{"m":[["k","2026-01-01T00:00:00.000Z"]],"a.b":"2026-01-02T00:00:00.000Z"},
            "meta":{"values":{"m":["map",{"0.1":["Date"]}],"a\\.b":["Date"]}}}"#;
        let (value, warnings) = superjson(text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let SjValue::Object(fields) = &value else {
            panic!()
        };
        let SjValue::Map(pairs) = &fields.iter().find(|(k, _)| k == "m").unwrap().1 else {
            panic!()
        };
        assert!(matches!(pairs[0].1, SjValue::Date(Some(_))));
        assert!(matches!(
            fields.iter().find(|(k, _)| k == "a.b").unwrap().1,
            SjValue::Date(Some(_))
        ));
    }

    #[test]
    fn superjson_root_annotation_and_null() {
        let (value, _) =
            superjson(r#"{"json":"2026-12-03T10:00:00.000Z","meta":{"values":["Date"]}}"#).unwrap();
        assert!(matches!(value, SjValue::Date(Some(_))));
        let (value, _) = superjson(r#"{"json":null}"#).unwrap();
        assert_eq!(value, SjValue::Null);
        let (value, _) = superjson(r#"{"json":"x","meta":{"values":["undefined"]}}"#).unwrap();
        assert_eq!(value.to_canonical(), None);
    }

    #[test]
    fn unknown_annotation_keeps_the_raw_value_and_names_it() {
        let (value, warnings) = superjson(
            r#"{"json":{"amount":"1.10"},"meta":{"values":{"amount":[["custom","decimal.js"]]}}}"#,
        )
        .unwrap();
        assert!(warnings.is_empty());
        assert_eq!(value.to_canonical().unwrap(), json!({"amount":"1.10"}));
        assert!(
            value.pretty().contains("<custom:decimal.js> \"1.10\""),
            "{}",
            value.pretty()
        );
    }

    #[test]
    fn bad_superjson_warns_and_keeps_the_value() {
        let (value, warnings) =
            superjson(r#"{"json":{"a":1},"meta":{"values":{"nope.deeper":["Date"],"a":["set"]}}}"#)
                .unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(value.to_canonical().unwrap(), json!({"a":1}));
        assert!(matches!(
            decode("[1,2]", "application/super+json"),
            Decoded::Invalid { .. }
        ));
        assert!(matches!(
            decode("{", "application/super+json"),
            Decoded::Invalid { .. }
        ));
    }

    #[test]
    fn a_node_annotated_twice_is_wrapped_once() {
        // `0`, `00` and `+0` all reach element 0: the later custom annotations only warn.
        let (value, warnings) = superjson(
            r#"{"json":[1],"meta":{"values":{"0":[["custom","a"]],"00":[["custom","b"]],"+0":[["custom","c"]]}}}"#,
        )
        .unwrap();
        let SjValue::Array(items) = &value else {
            panic!("{value:?}")
        };
        let SjValue::Custom { value: inner, .. } = &items[0] else {
            panic!("{items:?}")
        };
        assert_eq!(**inner, SjValue::Number(1.into()));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("second annotation"), "{warnings:?}");
    }

    #[test]
    fn wide_objects_are_annotated_field_by_field() {
        // More fields than INDEX_FIELDS: lookups go through the walk's index.
        let n = 3 * INDEX_FIELDS;
        let fields: Map<String, Json> = (0..n)
            .map(|i| (format!("k{i}"), json!({"at": "2026-12-03T10:00:00.000Z"})))
            .collect();
        let mut values: Map<String, Json> = (0..n)
            .map(|i| (format!("k{i}.at"), json!(["Date"])))
            .collect();
        values.insert("missing".into(), json!(["Date"]));
        let text = json!({"json": fields, "meta": {"values": values}}).to_string();
        let (value, warnings) = superjson(&text).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let SjValue::Object(fields) = &value else {
            panic!("{value:?}")
        };
        assert_eq!(fields.len(), n);
        for (k, v) in fields {
            let SjValue::Object(inner) = v else {
                panic!("{k}: {v:?}")
            };
            assert!(
                matches!(inner[0].1, SjValue::Date(Some(_))),
                "{k}: {inner:?}"
            );
        }
    }

    #[test]
    fn warnings_quote_long_paths_clipped() {
        let key = "k".repeat(5_000);
        let text = format!(r#"{{"json":1,"meta":{{"values":{{"{key}":["Date"]}}}}}}"#);
        let (_, warnings) = superjson(&text).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].len() < 400, "{}", warnings[0].len());
        assert!(warnings[0].contains("(5000 bytes)"), "{}", warnings[0]);
    }

    #[test]
    fn undefined_inside_arrays_prints_null_like_the_harness() {
        let (value, _) =
            superjson(r#"{"json":[null,1],"meta":{"values":{"0":["undefined"]}}}"#).unwrap();
        assert_eq!(value.to_canonical().unwrap(), json!([null, 1]));
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_crash() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(matches!(
            decode(&deep, "application/json"),
            Decoded::Invalid { .. }
        ));
        let sj = format!("{{\"json\":{deep}}}");
        assert!(matches!(
            decode(&sj, "application/super+json"),
            Decoded::Invalid { .. }
        ));
    }
}
