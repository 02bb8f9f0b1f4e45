//! Fault injection on realtime feed responses, for testing clients against a flaky network.
//!
//! A [`FaultConfig`] names the kinds of fault to inject and the share of feed requests that get
//! one. Each feed request that passed authentication draws from the server's own fault RNG,
//! seeded from the server seed, so one seed and one request sequence give the same faults. The
//! simulation goes on regardless. Every kind is one a client must survive:
//!
//! | kind | what the client sees |
//! |---|---|
//! | `drop` | the connection closes before any response byte |
//! | `409` | the feed's handle is rotated and the request answered 409 must-refetch |
//! | `429` | 429 with `retry-after` (1–5 s) |
//! | `5xx` | 500, 502, 503 or 504; 502 and 504 with an HTML body, as a proxy sends them |
//! | `slow` | the answer comes 1–5 s late |
//! | `truncate` | a 200 whose body stops mid-way (the connection is cut) |
//! | `duplicate` | a 200 repeating some change messages (clients must be idempotent) |
//!
//! The official SDK retries `drop`, `409`, `429`, `5xx` and waits out `slow`; it gives up
//! silently on `truncate` (PROTOCOL.md §2), which is why that kind exists: to check that
//! `trigger-tui` does better. With faults off, the request path checks one atomic flag.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::lock;

/// How many injected faults [`Injector::recent`] remembers.
const LOG_LEN: usize = 1_024;

/// One kind of fault; the names are the CLI spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// `drop`: close the connection without answering.
    Drop,
    /// `409`: rotate the feed's handle and answer 409 must-refetch.
    MustRefetch,
    /// `429`: too many requests, with `retry-after`.
    TooManyRequests,
    /// `5xx`: 500, 502, 503 or 504.
    ServerError,
    /// `slow`: answer 1–5 s late.
    Slow,
    /// `truncate`: a 200 whose body is cut off mid-way.
    Truncate,
    /// `duplicate`: a 200 with some change messages repeated.
    Duplicate,
}

impl FaultKind {
    /// Every kind, in CLI order.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Drop,
        FaultKind::MustRefetch,
        FaultKind::TooManyRequests,
        FaultKind::ServerError,
        FaultKind::Slow,
        FaultKind::Truncate,
        FaultKind::Duplicate,
    ];

    /// The CLI name: `drop`, `409`, `429`, `5xx`, `slow`, `truncate`, `duplicate`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Drop => "drop",
            FaultKind::MustRefetch => "409",
            FaultKind::TooManyRequests => "429",
            FaultKind::ServerError => "5xx",
            FaultKind::Slow => "slow",
            FaultKind::Truncate => "truncate",
            FaultKind::Duplicate => "duplicate",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<FaultKind, FaultParseError> {
        let s = s.trim();
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| FaultParseError::UnknownKind(s.to_owned()))
    }
}

/// A fault specification that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultParseError {
    /// A name other than `none|drop|409|429|5xx|slow|truncate|duplicate`.
    #[error("unknown fault {0:?}: expected none, drop, 409, 429, 5xx, slow, truncate or duplicate")]
    UnknownKind(String),
    /// A rate outside 0..=1.
    #[error("fault rate must be between 0 and 1, got {0}")]
    BadRate(f64),
}

/// Which faults to inject into realtime feed responses, and how often.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultConfig {
    kinds: Vec<FaultKind>,
    rate: f64,
}

impl FaultConfig {
    /// No faults (the default).
    pub fn none() -> FaultConfig {
        FaultConfig::default()
    }

    /// Injects one of `kinds` (chosen evenly) into a share `rate` (0..=1) of feed requests.
    ///
    /// # Errors
    /// [`FaultParseError::BadRate`] when `rate` is not within 0..=1.
    pub fn new(
        kinds: impl IntoIterator<Item = FaultKind>,
        rate: f64,
    ) -> Result<FaultConfig, FaultParseError> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(FaultParseError::BadRate(rate));
        }
        let mut kinds: Vec<FaultKind> = kinds.into_iter().collect();
        kinds.sort_unstable();
        kinds.dedup();
        Ok(FaultConfig { kinds, rate })
    }

    /// Parses the CLI form: `none`, or kinds separated by commas
    /// (`drop|409|429|5xx|slow|truncate|duplicate`), e.g. `FaultConfig::parse("409,429", 0.2)`.
    /// `none` and empty items add nothing; repeats count once.
    ///
    /// # Errors
    /// [`FaultParseError`] for an unknown name or a rate outside 0..=1.
    pub fn parse(spec: &str, rate: f64) -> Result<FaultConfig, FaultParseError> {
        let kinds = spec
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("none"))
            .map(FaultKind::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        FaultConfig::new(kinds, rate)
    }

    /// The kinds injected, sorted, without repeats.
    pub fn kinds(&self) -> &[FaultKind] {
        &self.kinds
    }

    /// The share of feed requests that get a fault.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// True when nothing would ever be injected.
    pub fn is_none(&self) -> bool {
        self.kinds.is_empty() || self.rate <= 0.0
    }
}

impl fmt::Display for FaultConfig {
    /// `none`, or e.g. `409,429 at rate 0.2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.kinds.iter().map(|k| k.name()).collect();
        write!(f, "{} at rate {}", names.join(","), self.rate)
    }
}

/// One drawn fault with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fault {
    Drop,
    MustRefetch,
    TooManyRequests {
        retry_after_secs: u64,
    },
    ServerError(u16),
    Slow(Duration),
    /// Keep this share (0.2..0.8) of the body.
    Truncate {
        keep: f64,
    },
    /// Seed for choosing the repeated messages.
    Duplicate {
        seed: u64,
    },
}

impl Fault {
    pub(crate) fn kind(self) -> FaultKind {
        match self {
            Fault::Drop => FaultKind::Drop,
            Fault::MustRefetch => FaultKind::MustRefetch,
            Fault::TooManyRequests { .. } => FaultKind::TooManyRequests,
            Fault::ServerError(_) => FaultKind::ServerError,
            Fault::Slow(_) => FaultKind::Slow,
            Fault::Truncate { .. } => FaultKind::Truncate,
            Fault::Duplicate { .. } => FaultKind::Duplicate,
        }
    }
}

struct InjectorState {
    config: FaultConfig,
    rng: ChaCha8Rng,
    log: VecDeque<FaultKind>,
}

/// Draws faults for feed requests; shared by every feed of a server.
pub(crate) struct Injector {
    /// Fast lane: false while the config injects nothing.
    enabled: AtomicBool,
    state: Mutex<InjectorState>,
}

impl Injector {
    /// An injector whose RNG is derived from the server `seed`.
    pub(crate) fn new(config: FaultConfig, seed: u64) -> Injector {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Its own stream: the simulation's draws never shift the faults, nor the reverse.
        rng.set_stream(0xFA17);
        Injector {
            enabled: AtomicBool::new(!config.is_none()),
            state: Mutex::new(InjectorState {
                config,
                rng,
                log: VecDeque::new(),
            }),
        }
    }

    /// Replaces the configuration; the RNG goes on where it was.
    pub(crate) fn set(&self, config: FaultConfig) {
        let mut state = lock(&self.state);
        self.enabled.store(!config.is_none(), Ordering::SeqCst);
        state.config = config;
    }

    pub(crate) fn config(&self) -> FaultConfig {
        lock(&self.state).config.clone()
    }

    /// The faults injected so far (the last 1 024), oldest first.
    pub(crate) fn recent(&self) -> Vec<FaultKind> {
        lock(&self.state).log.iter().copied().collect()
    }

    /// Decides whether this request gets a fault, and which.
    pub(crate) fn draw(&self) -> Option<Fault> {
        if !self.enabled.load(Ordering::Relaxed) {
            return None;
        }
        let mut state = lock(&self.state);
        let InjectorState { config, rng, log } = &mut *state;
        if config.is_none() || rng.random::<f64>() >= config.rate {
            return None;
        }
        let kind = config.kinds[rng.random_range(0..config.kinds.len())];
        // Parameters come from a sub-RNG so that every fault takes the same two draws.
        let mut sub = ChaCha8Rng::seed_from_u64(rng.random());
        let fault = match kind {
            FaultKind::Drop => Fault::Drop,
            FaultKind::MustRefetch => Fault::MustRefetch,
            FaultKind::TooManyRequests => Fault::TooManyRequests {
                retry_after_secs: sub.random_range(1..=5),
            },
            FaultKind::ServerError => {
                Fault::ServerError([500, 502, 503, 504][sub.random_range(0..4)])
            }
            FaultKind::Slow => Fault::Slow(Duration::from_millis(sub.random_range(1_000..=5_000))),
            FaultKind::Truncate => Fault::Truncate {
                keep: sub.random_range(0.2..0.8),
            },
            FaultKind::Duplicate => Fault::Duplicate { seed: sub.random() },
        };
        if log.len() == LOG_LEN {
            log.pop_front();
        }
        log.push_back(kind);
        Some(fault)
    }
}

/// A response whose body fails before its first byte: hyper then closes the connection without
/// writing the status line, as a crashed proxy would.
pub(crate) fn dropped() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected fault: connection dropped",
        ))
    });
    Body::from_stream(failing).into_response()
}

/// 429 with `retry-after`.
pub(crate) fn too_many_requests(retry_after_secs: u64) -> Response {
    let body = r#"{"error":"Rate limit exceeded"}"#;
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::RETRY_AFTER, HeaderValue::from(retry_after_secs)),
        ],
        body,
    )
        .into_response()
}

/// A 5xx as the service (JSON) or a proxy in front of it (HTML) would send it.
pub(crate) fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (content_type, body) = match status {
        StatusCode::GATEWAY_TIMEOUT => ("text/html", "<html>upstream timed out</html>".to_owned()),
        StatusCode::BAD_GATEWAY => ("text/html", "<html>502 Bad Gateway</html>".to_owned()),
        other => (
            "application/json",
            serde_json::json!({"error": other.canonical_reason().unwrap_or("Server error")})
                .to_string(),
        ),
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The same response with its body cut after `keep` of its bytes: headers (with the full
/// `content-length`) and the first part go out, then the connection is cut.
pub(crate) async fn truncate(response: Response, keep: f64) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return dropped();
    };
    let len = bytes.len();
    let cut = if len < 2 {
        0
    } else {
        ((len as f64 * keep) as usize).clamp(1, len - 1)
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let head = futures::stream::iter([Ok::<Bytes, std::io::Error>(bytes.slice(..cut))]);
    let cut_off = futures::stream::once(async {
        // Let hyper flush the head and the first part before the error aborts the connection.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected fault: body truncated",
        ))
    });
    Response::from_parts(parts, Body::from_stream(head.chain(cut_off)))
}

/// The same response with some of its change messages repeated just before the final control
/// message (a body without change messages is returned as it is).
pub(crate) async fn duplicate(response: Response, seed: u64) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return dropped();
    };
    let Ok(Value::Array(mut messages)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let changes: Vec<usize> = (0..messages.len())
        .filter(|i| messages[*i].get("key").is_some())
        .collect();
    if changes.is_empty() {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut picked: Vec<usize> = changes
        .iter()
        .copied()
        .filter(|_| rng.random_bool(0.5))
        .collect();
    if picked.is_empty() {
        picked.push(changes[rng.random_range(0..changes.len())]);
    }
    let copies: Vec<Value> = picked.iter().map(|i| messages[*i].clone()).collect();
    let at = messages
        .iter()
        .rposition(|m| m.get("key").is_none())
        .filter(|i| *i > changes[0])
        .unwrap_or(messages.len());
    messages.splice(at..at, copies);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(Value::Array(messages).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cli_form() {
        let c = FaultConfig::parse("409, 429,drop,409", 0.2).unwrap();
        assert_eq!(
            c.kinds(),
            [
                FaultKind::Drop,
                FaultKind::MustRefetch,
                FaultKind::TooManyRequests
            ]
        );
        assert_eq!(c.rate(), 0.2);
        assert_eq!(c.to_string(), "drop,409,429 at rate 0.2");
        assert!(FaultConfig::parse("none", 0.5).unwrap().is_none());
        assert!(FaultConfig::parse("", 0.5).unwrap().is_none());
        assert!(FaultConfig::parse("slow", 0.0).unwrap().is_none());
        assert_eq!(FaultConfig::none().to_string(), "none");
        let all = FaultConfig::parse("drop,409,429,5xx,slow,truncate,duplicate", 1.0).unwrap();
        assert_eq!(all.kinds(), FaultKind::ALL);
        for k in FaultKind::ALL {
            assert_eq!(k.name().parse::<FaultKind>(), Ok(k));
        }
        assert_eq!(
            FaultConfig::parse("409,teapot", 0.1),
            Err(FaultParseError::UnknownKind("teapot".to_owned()))
        );
        for rate in [-0.1, 1.5, f64::NAN] {
            assert!(matches!(
                FaultConfig::parse("409", rate),
                Err(FaultParseError::BadRate(_))
            ));
        }
    }

    #[test]
    fn same_seed_same_faults() {
        let config = FaultConfig::parse("drop,409,429,5xx,slow,truncate,duplicate", 0.3).unwrap();
        let draws = |seed| {
            let injector = Injector::new(config.clone(), seed);
            (0..200).map(|_| injector.draw()).collect::<Vec<_>>()
        };
        let a = draws(7);
        assert_eq!(a, draws(7));
        assert_ne!(a, draws(8));
        let hits = a.iter().flatten().count();
        assert!((30..=90).contains(&hits), "{hits} of 200 at rate 0.3");
        let kinds: std::collections::HashSet<FaultKind> =
            a.iter().flatten().map(|f| f.kind()).collect();
        assert_eq!(kinds.len(), 7);
    }

    #[test]
    fn switching_off_stops_injection() {
        let injector = Injector::new(FaultConfig::parse("429", 1.0).unwrap(), 1);
        assert!(injector.draw().is_some());
        injector.set(FaultConfig::none());
        assert!((0..100).all(|_| injector.draw().is_none()));
        assert_eq!(injector.recent(), [FaultKind::TooManyRequests]);
    }

    #[tokio::test]
    async fn duplicate_repeats_changes_before_the_control_message() {
        let body = r#"[{"key":"a","value":{},"headers":{"operation":"insert"}},
            {"key":"b","value":{},"headers":{"operation":"update"}},
            {"headers":{"control":"up-to-date"}}]"#;
        for seed in 0..20 {
            let response = duplicate(body.into_response(), seed).await;
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let messages: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
            assert!(messages.len() > 3);
            assert_eq!(messages.last().unwrap()["headers"]["control"], "up-to-date");
            assert_eq!(messages[0]["key"], "a");
            assert_eq!(messages[1]["key"], "b");
        }
        // Nothing to repeat: unchanged.
        let bare = r#"[{"headers":{"control":"up-to-date"}}]"#;
        let response = duplicate(bare.into_response(), 1).await;
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&bytes[..], bare.as_bytes());
    }
}
