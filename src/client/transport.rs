//! How the client's GETs reach a server: over HTTP, over HTTP while recording every exchange to
//! a JSON-lines file, or replayed from such a file with no network at all. The feed code above
//! it is the same in all three, so a recorded session exercises the real client path.
//!
//! A record line: `{"seq", "at_ms", "request": {"method", "url", "headers"}, "response":
//! {"status", "headers", "body"}}` or, for a network error, `"error": "…"` in place of
//! `response`. The credential is redacted before anything is written.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::feed::{FeedError, describe};

/// One answer, as the feed code reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// As read: not copied again.
    pub body: bytes::Bytes,
}

impl RawResponse {
    /// The first value of a header (names are matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordedRequest {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordedResponse {
    status: u16,
    headers: Vec<(String, String)>,
    /// The body as text (bodies of this API are UTF-8; other bytes are replaced).
    body: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    seq: u64,
    at_ms: u64,
    request: RecordedRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<RecordedResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

struct Recorder {
    out: Box<dyn Write + Send>,
    seq: u64,
    started: Instant,
}

/// Recorded exchanges waiting to be played back, queued per URL path so that the feed and the
/// batch record replay independently.
#[derive(Default)]
struct Replay {
    queues: HashMap<String, VecDeque<Record>>,
}

/// Where requests go; cheap to clone.
#[derive(Clone)]
pub struct Transport {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Http(reqwest::Client),
    Record {
        http: reqwest::Client,
        recorder: Arc<Mutex<Recorder>>,
    },
    Replay(Arc<Mutex<Replay>>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.inner {
            Inner::Http(_) => "Transport::Http",
            Inner::Record { .. } => "Transport::Record",
            Inner::Replay(_) => "Transport::Replay",
        })
    }
}

/// Builds the HTTP client: rustls with the platform's roots, our user agent.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(concat!("trigger-tui/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .build()
}

impl Transport {
    /// Plain HTTP.
    pub fn http() -> Result<Self, reqwest::Error> {
        Ok(Self {
            inner: Inner::Http(http_client()?),
        })
    }

    /// HTTP, writing every exchange to `path` (created or truncated).
    pub fn record(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::create(path)?;
        let http = http_client().map_err(std::io::Error::other)?;
        let recorder = Recorder {
            out: Box::new(file),
            seq: 0,
            started: Instant::now(),
        };
        Ok(Self {
            inner: Inner::Record {
                http,
                recorder: Arc::new(Mutex::new(recorder)),
            },
        })
    }

    /// Plays back a recorded session from `path`.
    pub fn replay(path: &Path) -> std::io::Result<Self> {
        let file = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut replay = Replay::default();
        for (i, line) in file.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let record: Record = serde_json::from_str(&line).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}:{}: not a recorded exchange: {e}", path.display(), i + 1),
                )
            })?;
            replay
                .queues
                .entry(path_of(&record.request.url))
                .or_default()
                .push_back(record);
        }
        Ok(Self {
            inner: Inner::Replay(Arc::new(Mutex::new(replay))),
        })
    }

    /// The batch a replayed session watched, read from its recorded feed URLs.
    pub fn recorded_batch_id(&self) -> Option<String> {
        let Inner::Replay(replay) = &self.inner else {
            return None;
        };
        let replay = replay.lock().unwrap_or_else(|e| e.into_inner());
        replay.queues.keys().find_map(|path| {
            path.split("/realtime/v1/batches/")
                .nth(1)
                .map(|id| id.trim_matches('/').to_string())
        })
    }

    /// Sends a GET with the given headers.
    pub async fn get(
        &self,
        url: &reqwest::Url,
        headers: &[(&str, String)],
        timeout: Duration,
    ) -> Result<RawResponse, FeedError> {
        match &self.inner {
            Inner::Http(http) => send(http, url, headers, timeout).await,
            Inner::Record { http, recorder } => {
                let result = send(http, url, headers, timeout).await;
                let mut recorder = recorder.lock().unwrap_or_else(|e| e.into_inner());
                recorder.write(url, headers, &result);
                result
            }
            Inner::Replay(replay) => {
                let mut replay = replay.lock().unwrap_or_else(|e| e.into_inner());
                let record = replay
                    .queues
                    .get_mut(&path_of(url.as_str()))
                    .and_then(VecDeque::pop_front);
                let Some(record) = record else {
                    return Err(FeedError::ReplayEnded);
                };
                match (record.response, record.error) {
                    (Some(r), _) => Ok(RawResponse {
                        status: r.status,
                        headers: r.headers,
                        body: r.body.into_bytes().into(),
                    }),
                    (None, Some(error)) => Err(FeedError::Network(error)),
                    (None, None) => Err(FeedError::Network(
                        "recorded exchange without answer".into(),
                    )),
                }
            }
        }
    }
}

/// The URL's path: what replay matches requests on (queries differ run to run).
fn path_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| url.to_string())
}

async fn send(
    http: &reqwest::Client,
    url: &reqwest::Url,
    headers: &[(&str, String)],
    timeout: Duration,
) -> Result<RawResponse, FeedError> {
    let mut request = http.get(url.clone()).timeout(timeout);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.map_err(|e| {
        if e.is_connect() {
            FeedError::Unreachable(describe(&e))
        } else {
            FeedError::Network(describe(&e))
        }
    })?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    let body = response
        .bytes()
        .await
        .map_err(|e| FeedError::Network(describe(&e)))?;
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

impl Recorder {
    fn write(
        &mut self,
        url: &reqwest::Url,
        headers: &[(&str, String)],
        result: &Result<RawResponse, FeedError>,
    ) {
        self.seq += 1;
        let request = RecordedRequest {
            method: "GET".into(),
            url: redact_url(url),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), redact_header(k, v)))
                .collect(),
        };
        let (response, error) = match result {
            Ok(r) => (
                Some(RecordedResponse {
                    status: r.status,
                    headers: r.headers.clone(),
                    body: String::from_utf8_lossy(&r.body).into_owned(),
                }),
                None,
            ),
            Err(FeedError::Network(e) | FeedError::Unreachable(e)) => (None, Some(e.clone())),
            Err(e) => (None, Some(e.to_string())),
        };
        let record = Record {
            seq: self.seq,
            at_ms: self.started.elapsed().as_millis() as u64,
            request,
            response,
            error,
        };
        let written = serde_json::to_string(&record)
            .map_err(std::io::Error::other)
            .and_then(|line| writeln!(self.out, "{line}"))
            .and_then(|()| self.out.flush());
        if let Err(e) = written {
            tracing::warn!(error = %e, "could not write to the record file");
        }
    }
}

/// Credentials never reach a record file.
fn redact_header(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("authorization") {
        let scheme = value.split_whitespace().next().unwrap_or("Bearer");
        return format!("{scheme} <redacted>");
    }
    value.to_string()
}

/// Presigned URLs carry their own credential in the query: drop the query's values.
fn redact_url(url: &reqwest::Url) -> String {
    if url.path().contains("/realtime/") || url.query().is_none() {
        return url.to_string();
    }
    let mut clean = url.clone();
    let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    clean.query_pairs_mut().clear();
    for name in names {
        clean.query_pairs_mut().append_pair(&name, "<redacted>");
    }
    clean.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_is_redacted() {
        assert_eq!(
            redact_header("Authorization", "Bearer tr_dev_secret"),
            "Bearer <redacted>"
        );
        assert_eq!(
            redact_header("x-trigger-api-version", "2025-07-16"),
            "2025-07-16"
        );
    }

    #[test]
    fn presigned_queries_are_redacted_but_feed_queries_kept() {
        let presigned =
            reqwest::Url::parse("https://s3.example/p/x.json?X-Amz-Signature=abc").unwrap();
        assert!(!redact_url(&presigned).contains("abc"));
        let feed = reqwest::Url::parse("http://h/realtime/v1/batches/b?offset=-1").unwrap();
        assert_eq!(redact_url(&feed), feed.to_string());
    }

    #[test]
    fn a_bad_record_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, "{\"seq\":1}\nnot json\n").unwrap();
        let err = Transport::replay(&path).unwrap_err().to_string();
        assert!(err.contains("bad.jsonl:1"), "{err}");
    }
}
