//! One HTTP round of the feed: builds the request from the shape's position, sends it, checks
//! the status and headers, and parses the body. No retries here; `task` decides what to do.

use std::time::Duration;

use thiserror::Error;

use crate::config::Secret;
use crate::protocol::{BodyError, Message, Schema, headers, parse_body, versions};
use crate::sanitize::clip_line;

use super::shape::Shape;
use super::transport::{RawResponse, Transport};

/// Where and how to read a feed.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// Base URL, e.g. `https://api.trigger.dev`.
    pub api_url: reqwest::Url,
    pub batch_id: String,
    pub token: Secret,
    /// `x-trigger-branch` for preview branches.
    pub branch: Option<String>,
    /// Columns to leave out (`skipColumns`).
    pub skip_columns: Vec<String>,
}

/// Why a round failed. [`FeedError::is_retryable`] says whether the task tries again.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum FeedError {
    #[error(
        "401 Unauthorized: the server rejected the credential; check TRIGGER_SECRET_KEY or \
         TRIGGER_ACCESS_TOKEN ({0})"
    )]
    Unauthorized(String),
    #[error(
        "403 Forbidden: the token lacks the read:batch:{batch} (or read:runs) scope ({detail})"
    )]
    Forbidden { batch: String, detail: String },
    #[error(
        "404 Not Found: batch {batch} was not found in this environment, or the API URL is not a \
         Trigger.dev API ({detail})"
    )]
    NotFound { batch: String, detail: String },
    #[error("HTTP {status}: the server refused the request ({detail})")]
    Rejected { status: u16, detail: String },
    #[error("HTTP {status} from the server ({detail})")]
    Server { status: u16, detail: String },
    #[error("network error: {0}")]
    Network(String),
    /// No connection could be made: DNS, refused, TLS, or the proxy on the way.
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    #[error(
        "407 Proxy Authentication Required: the proxy named in HTTPS_PROXY (or ALL_PROXY) wants \
         credentials; put them in its URL ({0})"
    )]
    ProxyAuth(String),
    #[error(
        "the response lacks the required header(s) {}; a proxy may be stripping them, or the \
         server is not a Trigger.dev realtime endpoint",
        .0.join(", ")
    )]
    MissingHeaders(Vec<&'static str>),
    #[error("bad response body: {0}")]
    BadBody(String),
    #[error("the recorded session has no more exchanges")]
    ReplayEnded,
}

impl FeedError {
    /// 429, 5xx, network errors and unreadable bodies are transient; other 4xx are final.
    /// Missing headers are retried a few times by the task, then final.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Server { .. } | Self::Network(_) | Self::Unreachable(_) | Self::BadBody(_)
        )
    }

    /// A short label for the header line.
    pub fn short(&self) -> String {
        match self {
            Self::Unauthorized(_) => "401 unauthorized: bad key or token".into(),
            Self::Forbidden { batch, .. } => {
                format!("403 forbidden: token lacks read:batch:{batch}")
            }
            Self::NotFound { batch, .. } => format!("404: batch {batch} not found"),
            Self::Rejected { status, .. } => format!("HTTP {status}"),
            Self::Server { status, .. } => format!("HTTP {status}"),
            Self::Network(e) | Self::Unreachable(e) => clip_line(e, 60),
            Self::ProxyAuth(_) => "407 from the proxy: it wants credentials".into(),
            Self::MissingHeaders(h) => format!("missing headers: {}", h.join(", ")),
            Self::BadBody(_) => "unreadable response body".into(),
            Self::ReplayEnded => "end of recording".into(),
        }
    }
}

/// A successful round.
#[derive(Debug)]
pub struct Response {
    pub messages: Vec<Message>,
    pub offset: String,
    pub handle: String,
    pub cursor: Option<String>,
    pub schema: Option<Schema>,
    pub bytes: usize,
    /// When the server made the newest change in this response (Unix ms), if it says so.
    pub changed_at_ms: Option<u64>,
}

/// What a round produced: data, or a must-refetch with the new handle.
#[derive(Debug)]
pub enum Outcome {
    Data(Response),
    MustRefetch { handle: Option<String> },
}

/// The shape URL for the shape's current position.
pub fn shape_url(config: &FeedConfig, shape: &Shape) -> reqwest::Url {
    position_url(config, shape, shape.live)
}

/// The shape URL for the shape's position, live or not.
pub fn position_url(config: &FeedConfig, shape: &Shape, live: bool) -> reqwest::Url {
    let mut url = config.api_url.clone();
    let base = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{base}/realtime/v1/batches/{}", config.batch_id));
    {
        let mut q = url.query_pairs_mut();
        q.clear();
        if let Some(handle) = &shape.handle {
            q.append_pair("handle", handle);
        }
        if live {
            q.append_pair("cursor", shape.cursor.as_deref().unwrap_or(""));
            q.append_pair("live", "true");
        }
        q.append_pair("log", "full");
        q.append_pair("offset", &shape.offset);
        if let Some(expired) = &shape.expired_handle {
            q.append_pair("expired_handle", expired);
        }
        if !config.skip_columns.is_empty() {
            q.append_pair("skipColumns", &config.skip_columns.join(","));
        }
    }
    url
}

/// The request headers the official client sends (PROTOCOL.md §1).
pub fn request_headers(config: &FeedConfig) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("authorization", format!("Bearer {}", config.token.expose())),
        (headers::ELECTRIC_VERSION, versions::ELECTRIC.to_string()),
        (headers::API_VERSION, versions::API.to_string()),
        (headers::TRIGGER_VERSION, versions::SDK.to_string()),
    ];
    if let Some(branch) = &config.branch {
        h.push((headers::BRANCH, branch.clone()));
    }
    h
}

/// Sends one request for the shape's position and reads the answer.
pub async fn round(
    transport: &Transport,
    config: &FeedConfig,
    shape: &Shape,
    timeout: Duration,
) -> Result<Outcome, FeedError> {
    round_at(
        transport,
        config,
        shape_url(config, shape),
        shape.live,
        timeout,
    )
    .await
}

/// Sends one request for `url` (a shape URL, live or not) and reads the answer.
pub async fn round_at(
    transport: &Transport,
    config: &FeedConfig,
    url: reqwest::Url,
    live: bool,
    timeout: Duration,
) -> Result<Outcome, FeedError> {
    let response = transport
        .get(&url, &request_headers(config), timeout)
        .await?;
    match response.status {
        200 => read_ok(&response, live),
        409 => {
            let handle = header(&response, headers::HANDLE, headers::LEGACY_HANDLE);
            Ok(Outcome::MustRefetch { handle })
        }
        status => Err(classify(status, &response.body, &config.batch_id)),
    }
}

fn header(response: &RawResponse, name: &str, legacy: &str) -> Option<String> {
    response
        .header(name)
        .or_else(|| response.header(legacy))
        .map(str::to_string)
}

fn read_ok(response: &RawResponse, live: bool) -> Result<Outcome, FeedError> {
    let offset = header(response, headers::OFFSET, headers::LEGACY_OFFSET);
    let handle = header(response, headers::HANDLE, headers::LEGACY_HANDLE);
    let cursor = header(response, headers::CURSOR, headers::CURSOR);
    let schema_text = header(response, headers::SCHEMA, headers::SCHEMA);
    let body = &response.body;

    let mut missing = Vec::new();
    if handle.is_none() {
        missing.push(headers::HANDLE);
    }
    if offset.is_none() {
        missing.push(headers::OFFSET);
    }
    if !live && schema_text.is_none() {
        missing.push(headers::SCHEMA);
    }
    if live && cursor.is_none() {
        missing.push(headers::CURSOR);
    }
    let (Some(offset), Some(handle)) = (offset, handle) else {
        return Err(FeedError::MissingHeaders(missing));
    };
    if !missing.is_empty() {
        return Err(FeedError::MissingHeaders(missing));
    }
    let schema = match schema_text {
        Some(text) => Some(Schema::parse(&text).map_err(|e| FeedError::BadBody(e.to_string()))?),
        None => None,
    };
    let messages = parse_body(body).map_err(|BodyError::NotJson(e)| {
        FeedError::BadBody(format!("{} ({} bytes)", clip_line(&e, 120), body.len()))
    })?;
    let changed_at_ms = response
        .header(crate::latency::CHANGED_AT_HEADER)
        .and_then(|v| v.trim().parse().ok());
    Ok(Outcome::Data(Response {
        messages,
        offset,
        handle,
        cursor,
        schema,
        bytes: body.len(),
        changed_at_ms,
    }))
}

/// Turns a non-200, non-409 answer into an error, with the server's own words clipped.
pub fn classify(status: u16, body: &[u8], batch: &str) -> FeedError {
    let detail = error_detail(body);
    let batch = batch.to_string();
    match status {
        401 => FeedError::Unauthorized(detail),
        403 => FeedError::Forbidden { batch, detail },
        404 => FeedError::NotFound { batch, detail },
        407 => FeedError::ProxyAuth(detail),
        429 => FeedError::Server {
            status: 429,
            detail,
        },
        s if s >= 500 => FeedError::Server { status: s, detail },
        s => FeedError::Rejected { status: s, detail },
    }
}

/// The `error`/`message` field of a JSON error body, or a note on what the body was.
fn error_detail(body: &[u8]) -> String {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["error", "message"] {
            if let Some(text) = json.get(key).and_then(|v| v.as_str()) {
                return clip_line(text, 160);
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    if text.trim_start().starts_with('<') {
        return "the body is HTML, not a Trigger.dev API answer".into();
    }
    if text.trim().is_empty() {
        return "empty body".into();
    }
    clip_line(&text, 160)
}

/// A network error in one line: what failed and its root cause, e.g. "could not connect:
/// Connection refused (os error 111)" or "request timed out".
pub fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "request timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "connection dropped while reading the response"
    } else {
        "request failed"
    };
    // The deepest cause says most (refused, reset, DNS, TLS); the layers above repeat it.
    let mut root = None;
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        root = Some(cause.to_string());
        source = cause.source();
    }
    let mut text = match root {
        Some(root) if !error.is_timeout() => format!("{what}: {root}"),
        _ => what.to_string(),
    };
    if error.is_connect() {
        let host = error.url().and_then(|u| u.host_str()).unwrap_or("the host");
        text = with_hint(&text, host, proxy_variable(error.url()));
    }
    clip_line(&text, 240)
}

/// What a connect error most likely means, said after it: a name that does not resolve, a TLS
/// handshake that failed, or a proxy on the way (named by its variable: its URL may hold a
/// password).
fn with_hint(text: &str, host: &str, proxy: Option<&str>) -> String {
    let lower = text.to_ascii_lowercase();
    let dns = [
        "failed to lookup address",
        "name or service not known",
        "no address associated",
        "temporary failure in name resolution",
        "nodename nor servname",
        "dns error",
    ];
    let tls = [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
        "unknownissuer",
    ];
    let mut text = if dns.iter().any(|d| lower.contains(d)) {
        format!("{text} (the name {host} does not resolve: check --api-url / TRIGGER_API_URL)")
    } else if tls.iter().any(|t| lower.contains(t)) {
        format!(
            "{text} (TLS with {host} failed: an https:// URL on a plain-http server, or a \
             certificate this machine does not trust)"
        )
    } else {
        text.to_string()
    };
    if let Some(variable) = proxy {
        text.push_str(&format!(" (through the proxy in {variable})"));
    }
    text
}

/// The proxy variable reqwest would use for `url`, if one is set (never its value).
fn proxy_variable(url: Option<&reqwest::Url>) -> Option<&'static str> {
    let https = url.is_none_or(|u| u.scheme() == "https");
    let names: &[&'static str] = if https {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    names
        .iter()
        .copied()
        .find(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FeedConfig {
        FeedConfig {
            api_url: reqwest::Url::parse("https://api.example.com/base/").unwrap(),
            batch_id: "batch_1".into(),
            token: Secret::new("tr_dev_secret".into()),
            branch: None,
            skip_columns: vec![],
        }
    }

    #[test]
    fn first_request_is_offset_minus_one_without_handle() {
        let url = shape_url(&config(), &Shape::default());
        assert_eq!(url.path(), "/base/realtime/v1/batches/batch_1");
        assert_eq!(url.query(), Some("log=full&offset=-1"));
    }

    #[test]
    fn live_request_carries_handle_offset_and_cursor() {
        let mut shape = Shape::default();
        shape.handle = Some("h-1".into());
        shape.offset = "100_0".into();
        shape.cursor = Some("c9".into());
        shape.live = true;
        let mut cfg = config();
        cfg.skip_columns = vec!["payload".into(), "output".into()];
        let url = shape_url(&cfg, &shape);
        assert_eq!(
            url.query(),
            Some(
                "handle=h-1&cursor=c9&live=true&log=full&offset=100_0&skipColumns=payload%2Coutput"
            )
        );
    }

    #[test]
    fn refetch_after_409_names_the_expired_handle() {
        let mut shape = Shape::default();
        shape.refetch(Some("h-2".into()));
        shape.expired_handle = Some("h-1".into());
        let url = shape_url(&config(), &shape);
        assert_eq!(
            url.query(),
            Some("handle=h-2&log=full&offset=-1&expired_handle=h-1")
        );
    }

    #[test]
    fn preview_branch_is_sent_as_a_header() {
        let mut cfg = config();
        cfg.branch = Some("feature-x".into());
        let h = request_headers(&cfg);
        assert!(
            h.iter()
                .any(|(k, v)| *k == "x-trigger-branch" && v == "feature-x")
        );
        assert!(
            !request_headers(&config())
                .iter()
                .any(|(k, _)| *k == "x-trigger-branch")
        );
    }

    #[test]
    fn headers_match_the_official_client() {
        let h = request_headers(&config());
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        assert_eq!(
            get("x-trigger-electric-version").as_deref(),
            Some("1.0.0-beta.1")
        );
        assert_eq!(get("x-trigger-api-version").as_deref(), Some("2025-07-16"));
        assert_eq!(
            get("authorization").as_deref(),
            Some("Bearer tr_dev_secret")
        );
        assert!(get("trigger-version").is_some());
    }

    fn response(headers: &[(&str, &str)], body: &[u8]) -> RawResponse {
        RawResponse {
            status: 200,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec().into(),
        }
    }

    #[test]
    fn missing_headers_are_named() {
        let err = read_ok(&response(&[], b"[]"), false).unwrap_err();
        assert_eq!(
            err,
            FeedError::MissingHeaders(vec![
                "electric-handle",
                "electric-offset",
                "electric-schema"
            ])
        );
        assert!(err.to_string().contains("proxy"));
    }

    #[test]
    fn legacy_header_names_are_accepted() {
        let legacy = response(
            &[
                ("electric-chunk-last-offset", "5_0"),
                ("electric-shape-id", "h"),
                ("electric-schema", "{}"),
            ],
            b"[]",
        );
        let Outcome::Data(r) = read_ok(&legacy, false).unwrap() else {
            panic!()
        };
        assert_eq!((r.offset.as_str(), r.handle.as_str()), ("5_0", "h"));
    }

    #[test]
    fn statuses_classify_with_clear_causes() {
        let e = classify(401, br#"{"error":"Invalid API key"}"#, "batch_1");
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("Invalid API key"));
        let e = classify(403, b"{}", "batch_1");
        assert!(e.to_string().contains("read:batch:batch_1"));
        let e = classify(404, b"", "batch_1");
        assert!(e.to_string().contains("batch_1"));
        assert!(classify(429, b"", "b").is_retryable());
        assert!(classify(502, b"<html>x</html>", "b").is_retryable());
        let e = classify(504, b"<html>upstream timed out</html>", "b");
        assert!(e.to_string().contains("HTML"));
        assert!(!classify(400, b"", "b").is_retryable());
        let e = classify(407, b"<html>auth</html>", "b");
        assert!(
            !e.is_retryable() && e.to_string().contains("HTTPS_PROXY"),
            "{e}"
        );
    }

    #[test]
    fn connect_errors_say_what_they_most_likely_mean() {
        let dns = with_hint(
            "could not connect: failed to lookup address information: Name or service not known",
            "api.exmaple.com",
            None,
        );
        assert!(dns.contains("api.exmaple.com does not resolve"), "{dns}");
        let tls = with_hint(
            "could not connect: received corrupt message of type InvalidContentType",
            "127.0.0.1",
            None,
        );
        assert!(tls.contains("TLS with 127.0.0.1 failed"), "{tls}");
        let refused = with_hint(
            "could not connect: Connection refused (os error 111)",
            "h",
            Some("HTTPS_PROXY"),
        );
        assert_eq!(
            refused,
            "could not connect: Connection refused (os error 111) (through the proxy in \
             HTTPS_PROXY)"
        );
    }
}
