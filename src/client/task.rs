//! The background feed task: loops over rounds, retries with backoff, restarts on must-refetch,
//! and sends what happened to the app as [`FeedEvent`]s over a bounded channel. The app never
//! sees HTTP; this task never touches app state.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::mpsc;
use tracing::{debug, error, info, trace, warn};

use super::feed::{self, FeedConfig, FeedError, Outcome};
use super::shape::{Flush, Shape};
use super::transport::Transport;
use crate::protocol::{Control, Message};

/// How long a live long-poll may take before we give up on it: the server holds ~20 s.
const LIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a catch-up (non-live) request may take.
const CATCHUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Consecutive 409s without data before the task slows down (CASES.md C08).
const REFETCH_STORM: u32 = 3;
/// Responses missing required headers are retried this many times, then the feed fails (C07).
const MISSING_HEADER_TRIES: u32 = 3;
/// Connection attempts (about ten seconds of backoff) before a server that never answered is
/// given up on. Once it has answered, a lost connection is retried for ever (a restart).
const UNREACHABLE_TRIES: u32 = 12;

/// What the feed task tells the app.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    /// A request is on its way and nothing has been received yet.
    Connecting,
    /// Caught up: the feed is live.
    Live,
    /// Runs changed (at an `up-to-date`).
    Runs(Flush),
    /// A transient fault; the task retries after `retry_in`.
    Reconnecting {
        reason: String,
        detail: String,
        attempt: u32,
        retry_in: Duration,
    },
    /// The feed ended for good; the message says why and what to do.
    Failed {
        reason: String,
        detail: String,
        code: ExitReason,
    },
    /// The batch's own record (run count, status).
    BatchInfo(BatchInfo),
    /// The runs just sent reflect a server change made at this time (Unix ms); for latency
    /// measurement only.
    ChangedAt(u64),
}

/// Why a feed failed, for exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    Auth,
    NotFound,
    Protocol,
    /// The server could not be reached, and never had been (DNS, refused, TLS, proxy).
    Unreachable,
    Other,
    /// A replayed session ran out of recorded exchanges: not a failure.
    EndOfReplay,
}

/// The batch record (`GET /api/v2/batches/{id}`), the parts the dashboard uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub run_count: Option<u64>,
}

/// The next request, sent once an answer is parsed and before it is applied: the server
/// prepares the next changes while this client merges and hands on the last ones. Not sooner,
/// on the headers alone: a body that then fails to parse would leave a request out for a
/// position the shape never reaches (a recording would lose step with it, and a server that
/// answers live requests at once would have moved on).
struct Pending {
    /// What it asked for; it stands in for the next round only if that would ask the same.
    url: reqwest::Url,
    task: tokio::task::JoinHandle<Result<Outcome, FeedError>>,
}

impl Pending {
    fn spawn(transport: &Transport, config: &FeedConfig, url: reqwest::Url, live: bool) -> Self {
        let (transport, config, asked) = (transport.clone(), config.clone(), url.clone());
        let timeout = if live { LIVE_TIMEOUT } else { CATCHUP_TIMEOUT };
        let task =
            tokio::spawn(
                async move { feed::round_at(&transport, &config, asked, live, timeout).await },
            );
        Self { url, task }
    }

    async fn result(mut self) -> Result<Outcome, FeedError> {
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(FeedError::Network(format!("the request was lost: {e}"))),
        }
    }
}

impl Drop for Pending {
    /// A request nobody will read is cancelled, not left to hold a connection.
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Spawns the feed task on the current runtime.
pub fn spawn(
    config: FeedConfig,
    transport: Transport,
    feed_tx: mpsc::Sender<FeedEvent>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(config, transport, feed_tx))
}

/// Slower steps for a server that keeps answering 409 without data (CASES.md C08): a few
/// requests a second at most, growing to half a minute.
fn storm_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_factor(2.0)
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times()
        .build()
}

fn backoff() -> impl Iterator<Item = Duration> {
    // PROTOCOL.md §2: the official client starts at 100 ms, ×1.3, capped at 10 s, forever.
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_factor(1.3)
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
        .build()
}

/// Runs the feed until it fails for good or the receiver is dropped.
pub async fn run(config: FeedConfig, transport: Transport, feed_tx: mpsc::Sender<FeedEvent>) {
    tokio::spawn(batch_info(
        transport.clone(),
        config.clone(),
        feed_tx.clone(),
    ));

    let mut shape = Shape::default();
    let mut delays = backoff();
    let mut storm_delays = storm_backoff();
    let mut attempt = 0u32;
    let mut header_strikes = 0u32;
    let mut refetch_strikes = 0u32;
    let mut reported_live = false;
    // Whether the server has ever answered; until it has, connect errors are counted.
    let mut answered = false;
    let mut unreachable_strikes = 0u32;
    let mut pending: Option<Pending> = None;
    if feed_tx.send(FeedEvent::Connecting).await.is_err() {
        return;
    }

    loop {
        let timeout = if shape.live {
            LIVE_TIMEOUT
        } else {
            CATCHUP_TIMEOUT
        };
        // One line per request; fields go in the message so the log pane reads well.
        trace!(
            "feed request {}: offset {} handle {} live {}",
            config.batch_id,
            shape.offset,
            shape.handle.as_deref().unwrap_or("-"),
            shape.live
        );
        let url = feed::shape_url(&config, &shape);
        let result = match pending.take() {
            Some(next) if next.url == url => next.result().await,
            _ => feed::round_at(&transport, &config, url, shape.live, timeout).await,
        };
        match &result {
            Err(FeedError::Unreachable(_)) if !answered => unreachable_strikes += 1,
            Err(FeedError::Unreachable(_) | FeedError::Network(_)) => {}
            _ => answered = true,
        }
        let (error, retry_in) = match result {
            Ok(Outcome::Data(response)) => {
                if attempt > 0 {
                    info!("feed reconnected after {attempt} attempt(s)");
                }
                attempt = 0;
                header_strikes = 0;
                delays = backoff();
                shape.handle = Some(response.handle);
                shape.offset = response.offset;
                shape.expired_handle = None;
                if response.cursor.is_some() {
                    shape.cursor = response.cursor;
                }
                if let Some(schema) = response.schema {
                    shape.schema = Some(schema);
                }
                // Ask for what comes next before applying this answer, unless the body resets
                // the shape. The position is the one the shape has after the answer.
                let control = |c: Control| {
                    response
                        .messages
                        .iter()
                        .any(|m| matches!(m, Message::Control(x) if *x == c))
                };
                if !control(Control::MustRefetch) {
                    let live = shape.live || control(Control::UpToDate);
                    let url = feed::position_url(&config, &shape, live);
                    pending = Some(Pending::spawn(&transport, &config, url, live));
                    // Let the request go out now: a spawned task otherwise waits until this one
                    // yields, which is after the answer is applied and handed on.
                    tokio::task::yield_now().await;
                }
                let flushes = shape.apply(response.messages);
                let caught_up = !flushes.is_empty();
                // Latency is timed for answers that changed something on screen only.
                let changed = flushes
                    .iter()
                    .any(|f| !f.runs.is_empty() || !f.removed.is_empty());
                let stamp = response.changed_at_ms.filter(|_| changed);
                for flush in flushes {
                    if refetch_strikes > 0 {
                        refetch_strikes = 0;
                        storm_delays = storm_backoff();
                    }
                    if feed_tx.send(FeedEvent::Runs(flush)).await.is_err() {
                        return;
                    }
                }
                if let Some(ms) = stamp
                    && feed_tx.send(FeedEvent::ChangedAt(ms)).await.is_err()
                {
                    return;
                }
                if caught_up && !reported_live {
                    reported_live = true;
                    info!("feed live: {} runs", shape.len());
                    if feed_tx.send(FeedEvent::Live).await.is_err() {
                        return;
                    }
                }
                continue;
            }
            Ok(Outcome::MustRefetch { handle }) => {
                refetch_strikes += 1;
                let old = shape.handle.clone();
                let handle = handle.or_else(|| old.as_ref().map(|h| format!("{h}-next")));
                info!(
                    "must-refetch: restarting the shape from offset -1 with handle {}",
                    handle.as_deref().unwrap_or("-")
                );
                shape.refetch(handle);
                shape.expired_handle = old;
                if refetch_strikes < REFETCH_STORM {
                    continue;
                }
                let detail = format!(
                    "the server answered 409 must-refetch {refetch_strikes} times in a row without \
                     data; slowing down"
                );
                let error = FeedError::Server {
                    status: 409,
                    detail,
                };
                (
                    error,
                    storm_delays.next().unwrap_or(Duration::from_secs(30)),
                )
            }
            Err(FeedError::MissingHeaders(names)) if header_strikes + 1 < MISSING_HEADER_TRIES => {
                header_strikes += 1;
                // At least a second, doubling: a proxy that strips headers does not heal fast.
                let delay = Duration::from_secs(1 << header_strikes);
                (FeedError::MissingHeaders(names), delay)
            }
            Err(error)
                if error.is_retryable()
                    && !(matches!(error, FeedError::Unreachable(_))
                        && unreachable_strikes >= UNREACHABLE_TRIES) =>
            {
                let delay = delays.next().unwrap_or(Duration::from_secs(10));
                (error, delay)
            }
            Err(error) => {
                let code = match &error {
                    FeedError::Unreachable(_) | FeedError::ProxyAuth(_) => ExitReason::Unreachable,
                    FeedError::ReplayEnded => ExitReason::EndOfReplay,
                    FeedError::Unauthorized(_) | FeedError::Forbidden { .. } => ExitReason::Auth,
                    FeedError::NotFound { .. } => ExitReason::NotFound,
                    FeedError::MissingHeaders(_) | FeedError::BadBody(_) => ExitReason::Protocol,
                    _ => ExitReason::Other,
                };
                if error == FeedError::ReplayEnded {
                    info!("end of the recorded session");
                } else {
                    error!("feed failed: {error}");
                }
                let _ = feed_tx
                    .send(FeedEvent::Failed {
                        reason: error.short(),
                        detail: error.to_string(),
                        code,
                    })
                    .await;
                return;
            }
        };

        // A request sent ahead for where the last answer led is not the one to retry with.
        pending = None;
        attempt += 1;
        reported_live = false;
        let reason = if refetch_strikes >= REFETCH_STORM {
            "shape keeps resetting (409)".to_string()
        } else {
            error.short()
        };
        warn!(
            "feed retry {attempt} in {} ms: {error}",
            retry_in.as_millis()
        );
        let event = FeedEvent::Reconnecting {
            reason,
            detail: error.to_string(),
            attempt,
            retry_in,
        };
        if feed_tx.send(event).await.is_err() {
            return;
        }
        tokio::time::sleep(retry_in).await;
    }
}

/// Fetches the batch record once, retrying transient faults a few times; failures are logged,
/// not fatal (the feed itself reports auth and not-found errors).
async fn batch_info(transport: Transport, config: FeedConfig, feed_tx: mpsc::Sender<FeedEvent>) {
    let mut url = config.api_url.clone();
    let base = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{base}/api/v2/batches/{}", config.batch_id));
    let auth = [("authorization", format!("Bearer {}", config.token.expose()))];
    let mut delays = backoff();
    for _ in 0..8 {
        match transport.get(&url, &auth, CATCHUP_TIMEOUT).await {
            Ok(response) if response.status == 200 => {
                match serde_json::from_slice::<BatchInfo>(&response.body) {
                    Ok(info) => {
                        let _ = feed_tx.send(FeedEvent::BatchInfo(info)).await;
                    }
                    Err(e) => warn!("batch info is not the expected JSON: {e}"),
                }
                return;
            }
            Ok(response) if (400..500).contains(&response.status) => {
                debug!("batch info not available: HTTP {}", response.status);
                return;
            }
            Err(FeedError::ReplayEnded) => return,
            Ok(response) => debug!("batch info: HTTP {}, retrying", response.status),
            Err(e) => debug!("batch info: {e}, retrying"),
        }
        tokio::time::sleep(delays.next().unwrap_or(Duration::from_secs(10))).await;
    }
}
