//! The terminal and the event loop: a guard that restores the terminal on every exit path, and
//! the loop that turns terminal events, feed events, ticks and signals into `Msg`s, runs
//! `update`, and draws once per batch of messages.

use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste, Event, EventStream};
use futures::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::app::{App, Cmd, Connection, Msg, update};
use crate::client::packets;
use crate::client::{FeedConfig, FeedEvent, Transport};
use crate::latency::Report;
use crate::ui;

/// At most this many queued messages are applied before a frame is drawn, so a burst of feed
/// events cannot starve the screen or the keyboard.
const DRAIN_LIMIT: usize = 512;

/// Raw mode, the alternate screen and bracketed paste for as long as it lives; restored on
/// drop, so an early return or a panic unwinding through the loop still leaves a usable
/// terminal. (The panic hook restores it too, before the report is printed.)
pub struct TerminalGuard {
    pub terminal: DefaultTerminal,
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, with bracketed paste: a paste arrives as one
    /// event, so pasted text cannot act as keys (`q` in a pasted run id would quit).
    pub fn enter() -> Self {
        let terminal = ratatui::init();
        // ratatui's panic hook restores raw mode and the screen; paste mode goes first.
        let restore_and_report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            end_bracketed_paste();
            restore_and_report(info);
        }));
        if let Err(e) = crossterm::execute!(std::io::stdout(), EnableBracketedPaste) {
            warn!("no bracketed paste: {e}");
        }
        Self { terminal }
    }
}

fn end_bracketed_paste() {
    let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // While unwinding from a panic the panic hook has already restored the terminal and
        // printed the report; restoring again would move the cursor back above the report.
        if !std::thread::panicking() {
            // Blank the alternate screen first: a terminal that grew while it was shown (tmux)
            // can otherwise leave some of its rows on the normal screen. (Not
            // `Terminal::clear`: it asks where the cursor is, and the answer would arrive on
            // the shell's input after the program has gone.)
            let _ = crossterm::execute!(
                std::io::stdout(),
                crossterm::cursor::MoveTo(0, 0),
                crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
            );
            end_bracketed_paste();
            ratatui::restore();
        }
    }
}

/// How the dashboard ended.
#[derive(Debug)]
pub enum Exit {
    /// The user quit (or a signal asked to).
    Quit,
    /// The feed task stopped without saying why (it panicked).
    FeedLost,
}

/// The shortest time between two frames: at most 60 frames a second, however fast updates come.
const FRAME_BUDGET: Duration = Duration::from_micros(16_667);

/// Runs the dashboard until the user quits. The terminal must already be in raw mode.
pub async fn run(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    mut feed_rx: mpsc::Receiver<FeedEvent>,
    tick_rate: Duration,
    packets: PacketSource,
    latency: &mut Report,
) -> std::io::Result<Exit> {
    // Results of effects (packet downloads) come back here as messages.
    let (msg_tx, mut msg_rx) = mpsc::channel::<Msg>(16);
    let debug_panic = std::env::var("TRIGGER_TUI_DEBUG_PANIC").ok();
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(tick_rate);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut signals = Signals::new();
    let mut feed_open = true;
    // What the next frame will show, for the latency report.
    let mut keys_waiting: Vec<Instant> = Vec::new();
    let mut changes_waiting: Vec<u64> = Vec::new();
    // When the feed first went live: the report tells catch-up from steady state by it.
    let mut live_at: Option<Instant> = None;
    let mut dirty = false;

    let size = terminal.size()?;
    update(app, Msg::Resize(size.width, size.height));
    terminal.draw(|frame| ui::view(app, frame))?;
    let mut last_frame = Instant::now();
    // The clock's whole second at the last frame (see the tick check below).
    let mut drawn_second = app.now.timestamp();

    loop {
        let next_frame = tokio::time::Instant::from_std(last_frame + FRAME_BUDGET);
        let msg = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => {
                    keys_waiting.push(Instant::now());
                    Msg::Key(key)
                }
                Some(Ok(Event::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(Event::Paste(text))) => {
                    keys_waiting.push(Instant::now());
                    Msg::Paste(text)
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    warn!("terminal input failed; quitting: {e}");
                    Msg::Quit
                }
                // Input closed: the terminal hung up.
                None => Msg::Quit,
            },
            event = feed_rx.recv(), if feed_open => match event {
                Some(FeedEvent::ChangedAt(ms)) => {
                    changes_waiting.push(ms);
                    continue;
                }
                Some(FeedEvent::Live) => {
                    live_at.get_or_insert_with(Instant::now);
                    Msg::Feed(FeedEvent::Live)
                }
                Some(event) => Msg::Feed(event),
                None => {
                    feed_open = false;
                    if !matches!(app.connection, Connection::Failed { .. } | Connection::Ended) {
                        return Ok(Exit::FeedLost);
                    }
                    continue;
                }
            },
            Some(msg) = msg_rx.recv() => msg,
            _ = tick.tick() => Msg::Tick(Utc::now()),
            name = signals.next() => {
                info!("{name} received; quitting");
                Msg::Quit
            }
            // A frame held back by the budget is due.
            _ = tokio::time::sleep_until(next_frame), if dirty => {
                draw(terminal, app, &debug_panic, latency, &mut keys_waiting, &mut changes_waiting, live_at)?;
                last_frame = Instant::now();
                drawn_second = app.now.timestamp();
                dirty = false;
                continue;
            }
        };
        // A key is answered with a frame at once; the budget only paces updates from the feed.
        let urgent = matches!(msg, Msg::Key(_) | Msg::Resize(..));
        let mut clock_only = matches!(msg, Msg::Tick(_));
        if clock_only {
            // Keeps tui-logger's hot buffer from filling between frames.
            crate::logging::move_to_pane();
        }
        if update(app, msg) == Some(Cmd::Quit) {
            return Ok(Exit::Quit);
        }
        // Coalesce: apply whatever else is already queued, then draw once.
        for _ in 0..DRAIN_LIMIT {
            let msg = match feed_rx.try_recv() {
                Ok(FeedEvent::ChangedAt(ms)) => {
                    changes_waiting.push(ms);
                    continue;
                }
                Ok(FeedEvent::Live) => {
                    live_at.get_or_insert_with(Instant::now);
                    Msg::Feed(FeedEvent::Live)
                }
                Ok(event) => Msg::Feed(event),
                Err(_) => break,
            };
            clock_only = false;
            if update(app, msg) == Some(Cmd::Quit) {
                return Ok(Exit::Quit);
            }
        }
        // A tick changes the screen only through elapsed times (while runs are not final) and
        // the whole seconds of "updated … ago": a quiet, finished batch is drawn once a second,
        // not at the tick rate.
        let settled = app.summary.total() == 0 || app.summary.all_final();
        if clock_only && !dirty && settled && app.now.timestamp() == drawn_second {
            continue;
        }
        for cmd in std::mem::take(&mut app.outbox) {
            packets.run(cmd, &msg_tx);
        }
        if urgent || last_frame.elapsed() >= FRAME_BUDGET {
            draw(
                terminal,
                app,
                &debug_panic,
                latency,
                &mut keys_waiting,
                &mut changes_waiting,
                live_at,
            )?;
            last_frame = Instant::now();
            drawn_second = app.now.timestamp();
            dirty = false;
        } else {
            dirty = true;
        }
    }
}

/// Draws one frame and accounts for the latencies it ends.
fn draw(
    terminal: &mut DefaultTerminal,
    app: &App,
    debug_panic: &Option<String>,
    latency: &mut Report,
    keys_waiting: &mut Vec<Instant>,
    changes_waiting: &mut Vec<u64>,
    live_at: Option<Instant>,
) -> std::io::Result<()> {
    if debug_panic.as_deref() == Some("render") {
        panic!("TRIGGER_TUI_DEBUG_PANIC=render: a forced panic while drawing");
    }
    crate::logging::move_to_pane();
    terminal.draw(|frame| ui::view(app, frame))?;
    latency.frames += 1;
    for pressed in keys_waiting.drain(..) {
        latency.key_to_frame.push(pressed.elapsed());
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let steady = live_at.is_some_and(|at| at.elapsed() >= crate::latency::CATCH_UP);
    let samples = if steady {
        &mut latency.change_to_frame
    } else {
        &mut latency.change_to_frame_catch_up
    };
    for changed in changes_waiting.drain(..) {
        samples.push(Duration::from_millis(now_ms.saturating_sub(changed)));
    }
    Ok(())
}

/// Where offloaded packets are downloaded from: the feed's own transport and config.
pub struct PacketSource {
    pub transport: Transport,
    pub config: FeedConfig,
}

impl PacketSource {
    /// Carries out an effect in the background; its result comes back on `msg_tx`.
    fn run(&self, cmd: Cmd, msg_tx: &mpsc::Sender<Msg>) {
        let Cmd::FetchPacket {
            run_id,
            field,
            path,
        } = cmd
        else {
            return;
        };
        let (transport, config, msg_tx) =
            (self.transport.clone(), self.config.clone(), msg_tx.clone());
        tokio::spawn(async move {
            let result = packets::fetch(&transport, &config, &run_id, field, &path).await;
            let _ = msg_tx
                .send(Msg::PacketFetched {
                    run_id,
                    field,
                    path,
                    result,
                })
                .await;
        });
    }
}

/// SIGTERM, SIGHUP and SIGINT as one stream (SIGINT arrives as a key in raw mode, but a signal
/// sent with `kill -INT` does not).
pub struct Signals {
    #[cfg(unix)]
    streams: Vec<(tokio::signal::unix::Signal, &'static str)>,
}

impl Signals {
    pub fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // Every signal whose default action would kill the process without restoring the
            // terminal.
            let kinds = [
                (SignalKind::terminate(), "SIGTERM"),
                (SignalKind::hangup(), "SIGHUP"),
                (SignalKind::interrupt(), "SIGINT"),
                (SignalKind::quit(), "SIGQUIT"),
                (SignalKind::user_defined1(), "SIGUSR1"),
                (SignalKind::user_defined2(), "SIGUSR2"),
                (SignalKind::alarm(), "SIGALRM"),
            ];
            let streams = kinds
                .into_iter()
                .filter_map(|(kind, name)| signal(kind).ok().map(|s| (s, name)))
                .collect();
            Self { streams }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Waits for the next signal and returns its name.
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            if self.streams.is_empty() {
                return std::future::pending().await;
            }
            let futures = self.streams.iter_mut().map(|(s, name)| {
                let name = *name;
                Box::pin(async move {
                    s.recv().await;
                    name
                })
            });
            futures::future::select_all(futures).await.0
        }
        #[cfg(not(unix))]
        std::future::pending().await
    }
}

impl Default for Signals {
    fn default() -> Self {
        Self::new()
    }
}
