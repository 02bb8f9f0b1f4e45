//! The embedded Trigger.dev-compatible demo server.
//!
//! [`start`] binds an address and serves, on the current tokio runtime, a simulated batch the
//! way the hosted service does: the realtime feeds (the Electric shape protocol, see
//! `shared/PROTOCOL.md` §2 and §5) for the batch (`GET /realtime/v1/batches/{id}`), one run
//! (`GET /realtime/v1/runs/{runId}`) and tags (`GET /realtime/v1/runs?tags=a,b`), batch info
//! (`GET /api/v1|v2/batches/{id}`) and offloaded packets (`GET /api/v1/packets/{path}` and
//! friends). Requests carry `Authorization: Bearer <secret key>` or a public access token (a JWT
//! signed with that key, see [`ServerHandle::mint_token`]). The official `@trigger.dev/sdk`
//! cannot tell it from the real thing.
//!
//! Layers, so that every feed and fault injection share one store:
//! - `sim`: what the batch's runs look like and when they change (a deterministic
//!   plan of timed change groups);
//! - `store`: the live table, its versions and change log;
//! - a driver task that applies the plan's groups as sim time passes;
//! - `shape`: the shape protocol (handles, offsets, live holds) over the store, per feed;
//! - `faults`: seeded fault injection on feed responses ([`FaultConfig`]);
//! - `batch`: batch info; `packets`: offloaded packets and their presigned URLs;
//! - `auth` and `jwt`: credentials and scopes.

mod auth;
mod batch;
mod faults;
mod jwt;
mod packets;
mod shape;
mod sim;
mod store;
mod wire;

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use chrono::{DurationRound, TimeDelta, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::auth::Resource;
use self::faults::Injector;
use self::sim::Plan;
use self::store::{Col, Store};

pub use self::faults::{FaultConfig, FaultKind, FaultParseError};

/// The secret key the demo server accepts unless configured otherwise.
pub const DEMO_SECRET_KEY: &str = "tr_dev_demo_trigger_tui_local";

/// How to run the demo server. `Debug` masks the secret key.
#[derive(Clone)]
pub struct ServerConfig {
    /// Number of runs in the batch (default 100).
    pub runs: usize,
    /// Seed for everything the simulation decides, and for injected faults (default 7).
    pub seed: u64,
    /// Sim time per wall time: 1.0 is real time, larger is faster. `f64::INFINITY` means no
    /// waiting at all: each live request to the feed applies the next change group.
    pub speed: f64,
    /// The only accepted bearer token (default [`DEMO_SECRET_KEY`]).
    pub secret_key: String,
    /// Batch id; by default `batch_` plus 20 characters derived from the seed.
    pub batch_id: Option<String>,
    /// How long a live request is held when nothing changes (default 20 s, plus up to 10 %
    /// jitter).
    pub live_hold: Duration,
    /// Faults to inject into realtime feed responses (default none); change them while running
    /// with [`Control::set_faults`].
    pub faults: FaultConfig,
    /// For tests (default false): the simulation never moves by itself, whatever `speed` says
    /// (no clock, and live requests do not advance it either); it moves one change group per
    /// [`Control::advance`]. With [`Control::wait_for_live_requests`] a test can step every
    /// client through every group, so that each client sees each group in its own response.
    pub lockstep: bool,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("runs", &self.runs)
            .field("seed", &self.seed)
            .field("speed", &self.speed)
            .field("secret_key", &"<redacted>")
            .field("batch_id", &self.batch_id)
            .field("live_hold", &self.live_hold)
            .field("faults", &self.faults)
            .field("lockstep", &self.lockstep)
            .finish()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            runs: 100,
            seed: 7,
            speed: 1.0,
            secret_key: DEMO_SECRET_KEY.to_owned(),
            batch_id: None,
            live_hold: Duration::from_secs(20),
            faults: FaultConfig::none(),
            lockstep: false,
        }
    }
}

/// A running demo server. Dropping it also stops the server (without waiting);
/// [`ServerHandle::shutdown`] stops it and waits.
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown_tx: watch::Sender<bool>,
    serve_task: JoinHandle<()>,
    driver_task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .field("batch_id", &self.shared.batch_id)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, the value for `TRIGGER_API_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The simulated batch's id.
    pub fn batch_id(&self) -> &str {
        &self.shared.batch_id
    }

    /// The accepted secret key.
    pub fn secret_key(&self) -> &str {
        &self.shared.secret_key
    }

    /// A public access token (a JWT signed HS256 with the secret key) carrying `scopes`, e.g.
    /// `["read:batch:<id>"]`, valid for `ttl`. Clients use it in place of the secret key.
    pub fn mint_token(&self, scopes: &[&str], ttl: Duration) -> String {
        self.shared.mint_token(scopes, ttl)
    }

    /// A cheap handle to steer the server (fault injection, handle rotation, progress).
    pub fn control(&self) -> Control {
        Control {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Stops serving (held live requests are released with 503) and stops the simulation.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        self.shared.release_waiters();
        let serve = self.serve_task;
        let abort = serve.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), serve)
            .await
            .is_err()
        {
            abort.abort();
        }
        if let Some(driver) = self.driver_task {
            driver.abort();
            let _ = driver.await;
        }
    }
}

/// Binds `addr` (port 0 picks a free port) and spawns the HTTP server and the simulation on
/// the current tokio runtime.
///
/// # Errors
/// The bind error, or `InvalidInput` when `speed` is not a positive number.
pub async fn start(config: ServerConfig, addr: SocketAddr) -> Result<ServerHandle, std::io::Error> {
    if config.speed.is_nan() || config.speed <= 0.0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("speed must be a positive number, got {}", config.speed),
        ));
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let plan = sim::generate(config.runs, config.seed, config.batch_id.as_deref());
    let base = Utc::now()
        .duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or_else(|_| Utc::now());
    let clockless = config.speed.is_infinite() || config.lockstep;
    let shared = Arc::new(Shared::new(config, plan, base, addr));

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let app = router(Arc::clone(&shared));
    let signal = {
        let shared = Arc::clone(&shared);
        let mut rx = shutdown_rx.clone();
        async move {
            // Resolves on `shutdown()` and when the handle is dropped.
            let _ = rx.changed().await;
            shared.release_waiters();
        }
    };
    let serve_task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await
        {
            tracing::warn!("demo server stopped: {e}");
        }
    });
    let driver_task = (!clockless).then(|| {
        let shared = Arc::clone(&shared);
        tokio::spawn(drive(shared, shutdown_rx))
    });
    tracing::info!(
        %addr,
        batch = %shared.batch_id,
        runs = shared.plan.runs.len(),
        sim_ms = shared.plan.duration_ms(),
        "demo server listening"
    );
    Ok(ServerHandle {
        addr,
        shared,
        shutdown_tx,
        serve_task,
        driver_task,
    })
}

/// Steers a running server; cheap to clone. Meant for tests and demos.
#[derive(Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("batch_id", &self.shared.batch_id)
            .finish()
    }
}

impl Control {
    /// The next `count` requests to the realtime feed get HTTP `status` (e.g. 429, 500, 503)
    /// with a small JSON error body instead of being served. Calls queue up.
    pub fn fail_next(&self, status: u16, count: usize) {
        let mut faults = lock(&self.shared.faults);
        faults.extend(std::iter::repeat_n(status, count));
    }

    /// Forgets the current shape handles (of the batch feed, and of every run and tag feed) and
    /// issues new ones: requests carrying an old handle get 409 must-refetch (held live requests
    /// too, at once).
    pub fn rotate_handle(&self) {
        *lock(&self.shared.handle) = new_handle();
        lock(&self.shared.feed_handles).clear();
        self.shared.notify();
    }

    /// Replaces the fault configuration; [`FaultConfig::none`] stops injecting. The fault RNG
    /// goes on where it was.
    pub fn set_faults(&self, faults: FaultConfig) {
        tracing::info!(%faults, "demo server faults");
        self.shared.injector.set(faults);
    }

    /// The current fault configuration.
    pub fn faults(&self) -> FaultConfig {
        self.shared.injector.config()
    }

    /// The faults injected so far (the most recent 1 024), oldest first.
    pub fn injected_faults(&self) -> Vec<FaultKind> {
        self.shared.injector.recent()
    }

    /// The table as it is now: one JSON object per existing run, in run order, mapping every
    /// column to its wire value (a string or null), exactly as an `insert` would carry it.
    /// What a client that merged the feed correctly holds once it is up to date.
    pub fn snapshot_rows(&self) -> Vec<serde_json::Value> {
        let state = lock(&self.shared.state);
        state
            .store
            .rows()
            .map(|(_, row)| {
                let map = Col::ALL
                    .into_iter()
                    .map(|c| {
                        let v = row.get(c).map_or(serde_json::Value::Null, |t| t.into());
                        (c.name().to_owned(), v)
                    })
                    .collect();
                serde_json::Value::Object(map)
            })
            .collect()
    }

    /// Same as [`ServerHandle::mint_token`].
    pub fn mint_token(&self, scopes: &[&str], ttl: Duration) -> String {
        self.shared.mint_token(scopes, ttl)
    }

    /// True once every run is in a final status.
    pub fn is_done(&self) -> bool {
        self.shared.is_done()
    }

    /// The current shape handle.
    pub fn handle(&self) -> String {
        lock(&self.shared.handle).clone()
    }

    /// The store's version: the number of change groups applied so far.
    pub fn version(&self) -> u64 {
        lock(&self.shared.state).store.version()
    }

    /// Number of runs created so far.
    pub fn runs_created(&self) -> usize {
        lock(&self.shared.state).store.created()
    }

    /// Applies the next change group now, whatever the speed; false when none is left.
    pub fn advance(&self) -> bool {
        self.shared.advance_one()
    }

    /// Sets columns of run `run` (0-based, the run's `number` minus one) now, as one extra change
    /// group: the store's version moves on and feeds send the change like any other; the plan
    /// is not affected and goes on where it was. For tests that need rows the simulation never
    /// makes. `cells` maps wire column names to wire text (`None` for NULL); `updatedAt` is set
    /// too, to the current sim time. [`Control::is_done`] counts a run once it was final, so
    /// setting a final run's status back to a live one does not undo that. Returns the new
    /// version.
    ///
    /// # Errors
    /// An unknown column, the `id` column, or a run that does not exist (yet).
    pub fn set_cells(&self, run: usize, cells: &[(&str, Option<&str>)]) -> Result<u64, String> {
        let cells = cells
            .iter()
            .map(|(name, value)| match Col::from_name(name) {
                Some(Col::Id) => Err("the id column cannot be set".to_owned()),
                Some(col) => Ok((
                    col,
                    value.map_or(sim::Cell::Null, |v| sim::Cell::Text(v.to_owned())),
                )),
                None => Err(format!("no column {name:?}")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let version = {
            let mut state = lock(&self.shared.state);
            if state.store.row(run).is_none() {
                return Err(format!("run {run} does not exist (yet)"));
            }
            let group = sim::Group {
                at: state.store.sim_ms(),
                events: vec![sim::RunEvent { run, cells }],
            };
            state.store.apply(&group)
        };
        self.shared.notify();
        Ok(version)
    }

    /// Change groups of the plan not applied yet.
    pub fn groups_left(&self) -> usize {
        let state = lock(&self.shared.state);
        self.shared
            .plan
            .groups
            .len()
            .saturating_sub(state.next_group)
    }

    /// Live requests (on any feed, on its current handle) that are being held right now, waiting
    /// for a change, with an offset at or after store version `version`: each is a client that
    /// has been sent everything up to that version (it may still be applying the last answer)
    /// and waits for more. Meant for lockstep tests
    /// ([`ServerConfig::lockstep`]).
    pub fn live_requests_at_or_after(&self, version: u64) -> usize {
        lock(&self.shared.parked)
            .range(version..)
            .map(|(_, n)| n)
            .sum()
    }

    /// Waits until at least `count` live requests are held at or after `version` (see
    /// [`Control::live_requests_at_or_after`]). Put a timeout around it: a client that died
    /// never comes back.
    pub async fn wait_for_live_requests(&self, version: u64, count: usize) {
        let mut rx = self.shared.parked_changed.subscribe();
        while self.live_requests_at_or_after(version) < count {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until every run is final (with `speed = INFINITY` something must keep
    /// requesting the feed, or [`Control::advance`] be called, for that to happen).
    pub async fn wait_until_done(&self) {
        let mut rx = self.shared.changed.subscribe();
        while !self.is_done() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The simulation's moving parts, under one lock.
pub(crate) struct SimState {
    pub(crate) store: Store,
    /// Index of the next plan group to apply.
    pub(crate) next_group: usize,
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub(crate) secret_key: String,
    pub(crate) batch_id: String,
    /// The bound address, for URLs when a request names no host.
    pub(crate) addr: SocketAddr,
    pub(crate) live_hold: Duration,
    pub(crate) infinite: bool,
    /// [`ServerConfig::lockstep`].
    pub(crate) lockstep: bool,
    speed: f64,
    pub(crate) plan: Plan,
    pub(crate) state: Mutex<SimState>,
    /// Run index by friendly id.
    run_index: HashMap<String, usize>,
    /// The one valid shape handle of the batch feed.
    pub(crate) handle: Mutex<String>,
    /// The valid handle of each run and tag feed, by feed key (created on first use).
    feed_handles: Mutex<HashMap<String, String>>,
    /// Statuses queued by [`Control::fail_next`].
    faults: Mutex<VecDeque<u16>>,
    /// Random faults ([`FaultConfig`]).
    pub(crate) injector: Injector,
    /// Bumped on every change held requests care about: a new version, a rotated handle,
    /// shutdown.
    pub(crate) changed: watch::Sender<u64>,
    /// Live requests held right now, by the store version of their offset.
    parked: Mutex<BTreeMap<u64, usize>>,
    /// Bumped whenever `parked` changes.
    parked_changed: watch::Sender<u64>,
    pub(crate) shutting_down: AtomicBool,
    cursor: AtomicU64,
    jitter: Mutex<ChaCha8Rng>,
}

impl Shared {
    fn new(
        config: ServerConfig,
        plan: Plan,
        base: chrono::DateTime<Utc>,
        addr: SocketAddr,
    ) -> Shared {
        let store = Store::new(base, plan.runs.len());
        let (changed, _) = watch::channel(0);
        let (parked_changed, _) = watch::channel(0);
        let run_index = plan
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.friendly_id.clone(), i))
            .collect();
        Shared {
            secret_key: config.secret_key,
            batch_id: plan.batch_id.clone(),
            addr,
            live_hold: config.live_hold,
            infinite: config.speed.is_infinite(),
            lockstep: config.lockstep,
            speed: config.speed,
            plan,
            state: Mutex::new(SimState {
                store,
                next_group: 0,
            }),
            run_index,
            handle: Mutex::new(new_handle()),
            feed_handles: Mutex::new(HashMap::new()),
            faults: Mutex::new(VecDeque::new()),
            injector: Injector::new(config.faults, config.seed),
            changed,
            parked: Mutex::new(BTreeMap::new()),
            parked_changed,
            shutting_down: AtomicBool::new(false),
            cursor: AtomicU64::new(u64::try_from(base.timestamp()).unwrap_or(0) / 20),
            jitter: Mutex::new(ChaCha8Rng::seed_from_u64(process_random())),
        }
    }

    /// The current handle of a feed: the batch feed's for `None`, else the one of that run or
    /// tag feed (issued on first use).
    pub(crate) fn feed_handle(&self, key: Option<&str>) -> String {
        let Some(key) = key else {
            return lock(&self.handle).clone();
        };
        let mut handles = lock(&self.feed_handles);
        if let Some(handle) = handles.get(key) {
            return handle.clone();
        }
        // Any client can invent tag sets: keep the map bounded (clients of a forgotten handle
        // just refetch).
        if handles.len() >= 4_096 {
            handles.clear();
        }
        let handle = new_handle();
        handles.insert(key.to_owned(), handle.clone());
        handle
    }

    /// Issues a new handle for one feed (see [`Shared::feed_handle`]) and wakes held requests.
    pub(crate) fn rotate_feed_handle(&self, key: Option<&str>) -> String {
        let handle = new_handle();
        match key {
            None => *lock(&self.handle) = handle.clone(),
            Some(key) => {
                lock(&self.feed_handles).insert(key.to_owned(), handle.clone());
            }
        }
        self.notify();
        handle
    }

    /// The index of the run with this friendly id, once the run exists.
    pub(crate) fn existing_run(&self, friendly_id: &str) -> Option<usize> {
        let index = *self.run_index.get(friendly_id)?;
        lock(&self.state).store.row(index).map(|_| index)
    }

    /// What identifies run `index` for scope checks.
    pub(crate) fn run_resource(&self, index: usize) -> Resource<'_> {
        match self.plan.runs.get(index) {
            Some(run) => Resource::Run {
                id: &run.friendly_id,
                batch: &self.batch_id,
                task: run.task,
                tags: &run.tags,
            },
            None => Resource::Tagged(&[]),
        }
    }

    fn mint_token(&self, scopes: &[&str], ttl: Duration) -> String {
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        jwt::sign(&jwt::public_claims(scopes, ttl), self.secret_key.as_bytes())
    }

    /// Sleeps for `duration`, or less when the server shuts down meanwhile.
    pub(crate) async fn sleep_unless_shutdown(&self, duration: Duration) {
        let mut changed = self.changed.subscribe();
        let deadline = tokio::time::sleep(duration);
        tokio::pin!(deadline);
        while !self.shutting_down.load(Ordering::SeqCst) {
            tokio::select! {
                () = &mut deadline => return,
                result = changed.changed() => {
                    if result.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Counts a live request as held at `version` until the guard is dropped (also when the
    /// client goes away and the handler is cancelled).
    pub(crate) fn park(&self, version: u64) -> Parked<'_> {
        *lock(&self.parked).entry(version).or_default() += 1;
        self.parked_changed.send_modify(|n| *n = n.wrapping_add(1));
        Parked {
            shared: self,
            version,
        }
    }

    pub(crate) fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn release_waiters(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.notify();
    }

    pub(crate) fn is_done(&self) -> bool {
        let state = lock(&self.state);
        state.store.finished() == state.store.capacity()
    }

    /// Applies the next group, if any.
    pub(crate) fn advance_one(&self) -> bool {
        let applied = {
            let mut state = lock(&self.state);
            match self.plan.groups.get(state.next_group) {
                Some(group) => {
                    state.store.apply(group);
                    state.next_group += 1;
                    true
                }
                None => false,
            }
        };
        if applied {
            self.notify();
        }
        applied
    }

    /// At full speed, one live request's worth: the next groups, as many as keep every run to
    /// one change (so no client merges two of a run's statuses into one) and at most
    /// `max_events` changes. Returns whether anything was applied.
    pub(crate) fn advance_step(&self, max_events: usize) -> bool {
        let applied = {
            let mut state = lock(&self.state);
            let mut touched = std::collections::HashSet::new();
            let mut events = 0;
            let mut applied = false;
            while let Some(group) = self.plan.groups.get(state.next_group) {
                let clash = group.events.iter().any(|e| touched.contains(&e.run));
                if applied && (clash || events + group.events.len() > max_events) {
                    break;
                }
                touched.extend(group.events.iter().map(|e| e.run));
                events += group.events.len();
                state.store.apply(group);
                state.next_group += 1;
                applied = true;
            }
            applied
        };
        if applied {
            self.notify();
        }
        applied
    }

    /// Applies every group due at or before `sim_ms`; returns the time of the next one.
    fn advance_to(&self, sim_ms: u64) -> Option<u64> {
        let (applied, next) = {
            let mut state = lock(&self.state);
            let mut applied = false;
            while let Some(group) = self.plan.groups.get(state.next_group) {
                if group.at > sim_ms {
                    break;
                }
                state.store.apply(group);
                state.next_group += 1;
                applied = true;
            }
            (
                applied,
                self.plan.groups.get(state.next_group).map(|g| g.at),
            )
        };
        if applied {
            self.notify();
        }
        next
    }

    /// The next queued injected failure, if any.
    pub(crate) fn take_fault(&self) -> Option<u16> {
        lock(&self.faults).pop_front()
    }

    /// A fresh `electric-cursor` value, different from every one given before.
    pub(crate) fn next_cursor(&self) -> String {
        (self.cursor.fetch_add(1, Ordering::Relaxed) + 1).to_string()
    }

    /// How long to hold a live request: `live_hold` plus up to 10 % jitter.
    pub(crate) fn hold_duration(&self) -> Duration {
        let fraction: f64 = lock(&self.jitter).random_range(0.0..0.1);
        self.live_hold
            .saturating_add(self.live_hold.mul_f64(fraction))
    }
}

/// A held live request, counted by [`Control::live_requests_at_or_after`] while it lives.
pub(crate) struct Parked<'a> {
    shared: &'a Shared,
    version: u64,
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        {
            let mut parked = lock(&self.shared.parked);
            if let Some(n) = parked.get_mut(&self.version) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    parked.remove(&self.version);
                }
            }
        }
        self.shared
            .parked_changed
            .send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (every critical section
/// leaves the data consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/realtime/v1/batches/{batch_id}", get(shape::batch_feed))
        .route("/realtime/v1/runs/{run_id}", get(shape::run_feed))
        .route("/realtime/v1/runs", get(shape::tag_feed))
        .route("/api/v1/batches/{batch_id}", get(batch::batch_info_v1))
        .route("/api/v2/batches/{batch_id}", get(batch::batch_info_v2))
        .route(
            "/api/v1/runs/{run_id}/packets/{field}",
            get(packets::run_packet_url),
        )
        .route("/api/v1/packets/{*path}", get(packets::packet_url))
        .route("/packets-store/{token}/{*path}", get(packets::packet_data))
        .fallback(shape::not_found)
        .with_state(shared)
}

/// Applies the plan as sim time passes: sleeps until the next group is due, applies every
/// group due by then, repeats. Stops when the plan is exhausted or on shutdown.
async fn drive(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let start = tokio::time::Instant::now();
    let speed = shared.speed;
    let mut next = shared.plan.groups.first().map(|g| g.at);
    while let Some(at) = next {
        let wall =
            Duration::try_from_secs_f64(at as f64 / 1_000.0 / speed).unwrap_or(Duration::MAX);
        match start.checked_add(wall) {
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    _ = shutdown.changed() => return,
                }
            }
            None => {
                let _ = shutdown.changed().await;
                return;
            }
        }
        let elapsed = start.elapsed().as_secs_f64() * speed * 1_000.0;
        let sim_now = if elapsed >= u64::MAX as f64 {
            u64::MAX
        } else {
            elapsed as u64
        };
        next = shared.advance_to(sim_now.max(at));
    }
    tracing::debug!("demo simulation finished");
}

/// A shape handle unique to this process and moment: `<random>-<unix ms>`, like Electric's.
fn new_handle() -> String {
    let millis = Utc::now().timestamp_millis();
    format!("{}-{millis}", process_random() % 100_000_000)
}

/// Randomness without an OS RNG dependency: std's per-process random hash keys, mixed with a
/// counter and the clock.
fn process_random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_i64(Utc::now().timestamp_nanos_opt().unwrap_or_default());
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_differ_every_time() {
        let a = new_handle();
        let b = new_handle();
        assert_ne!(a, b);
        let (rand, millis) = a.split_once('-').unwrap();
        assert!(rand.parse::<u64>().is_ok());
        assert!(millis.parse::<i64>().unwrap() > 1_700_000_000_000);
    }

    /// Lockstep: nothing moves until `advance`, whatever the speed; a held live request is
    /// counted at its offset while it waits, and answered by the next group.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lockstep_moves_only_on_advance_and_counts_held_requests() {
        for speed in [1_000.0, f64::INFINITY] {
            let config = ServerConfig {
                runs: 3,
                speed,
                lockstep: true,
                ..ServerConfig::default()
            };
            let server = start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .unwrap();
            let control = server.control();
            let groups = control.groups_left();
            assert!(groups > 3);
            let client = reqwest::Client::new();
            let feed = format!(
                "{}/realtime/v1/batches/{}",
                server.base_url(),
                server.batch_id()
            );
            let get = |query: String| {
                client
                    .get(format!("{feed}?{query}"))
                    .bearer_auth(DEMO_SECRET_KEY)
                    .header("x-trigger-electric-version", "1.0.0-beta.1")
                    .send()
            };
            let first = get("offset=-1".to_owned()).await.unwrap();
            let handle = first.headers()["electric-handle"]
                .to_str()
                .unwrap()
                .to_owned();
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!((control.version(), control.groups_left()), (0, groups));
            assert_eq!(control.live_requests_at_or_after(0), 0);

            let live = tokio::spawn(get(format!("handle={handle}&live=true&offset=0_0")));
            tokio::time::timeout(Duration::from_secs(5), control.wait_for_live_requests(0, 1))
                .await
                .unwrap();
            assert_eq!(control.live_requests_at_or_after(0), 1);
            assert_eq!(control.live_requests_at_or_after(1), 0);
            // A live request does not move the sim, even at infinite speed.
            assert_eq!(control.version(), 0);
            assert!(control.advance());
            let answer = live.await.unwrap().unwrap();
            assert_eq!(answer.headers()["electric-offset"], "1_0");
            assert!(answer.text().await.unwrap().contains("\"insert\""));
            assert_eq!(control.groups_left(), groups - 1);
            // Answered: no longer counted.
            tokio::time::timeout(Duration::from_secs(5), async {
                while control.live_requests_at_or_after(0) > 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
            .unwrap();
            server.shutdown().await;
        }
    }

    #[tokio::test]
    async fn set_cells_changes_an_existing_run_as_one_more_version() {
        let config = ServerConfig {
            runs: 2,
            lockstep: true,
            ..ServerConfig::default()
        };
        let server = start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let control = server.control();
        assert!(
            control
                .set_cells(0, &[("status", Some("CRASHED"))])
                .is_err()
        );
        while control.advance() {}
        let version = control.version();
        assert!(control.set_cells(0, &[("nope", None)]).is_err());
        assert!(control.set_cells(0, &[("id", Some("x"))]).is_err());
        assert!(control.set_cells(5, &[("ttl", None)]).is_err());
        assert_eq!(control.version(), version);
        let set = control.set_cells(1, &[("ttl", Some("1h")), ("runTags", None)]);
        assert_eq!(set, Ok(version + 1));
        let rows = control.snapshot_rows();
        assert_eq!(rows[1]["ttl"], "1h");
        assert_eq!(rows[1]["runTags"], serde_json::Value::Null);
        assert!(control.is_done());
        server.shutdown().await;
    }

    #[test]
    fn default_config_matches_the_documentation() {
        let c = ServerConfig::default();
        assert_eq!((c.runs, c.seed, c.speed), (100, 7, 1.0));
        assert_eq!(c.secret_key, DEMO_SECRET_KEY);
        assert_eq!(c.batch_id, None);
        assert_eq!(c.live_hold, Duration::from_secs(20));
        assert!(c.faults.is_none());
        assert!(!c.lockstep);
    }
}
