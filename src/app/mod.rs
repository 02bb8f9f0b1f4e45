//! The app's model: every run, the selection, focus, panes, connection state and the clock.
//!
//! Elm-style: [`update::update`] is the only place this state changes, driven by [`msg::Msg`];
//! the view (`crate::ui`) only reads it. The runs and the table's rows (filtered and sorted) are
//! kept incrementally in [`runs::Runs`]; the selection is a run id, so it follows its run when
//! rows arrive, change, or are filtered and sorted anew.

pub mod filter;
pub mod keys;
pub mod msg;
pub mod runs;
pub mod sort;
pub mod update;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ratatui::style::Color;

use crate::client::packets::Field;
use crate::client::{BatchInfo, ExitReason};
use crate::model::{Decoded, Packet, Run, Summary};
use crate::ui::detail::DetailRows;
use crate::ui::layout;

pub use filter::Filter;
pub use msg::{Cmd, Msg};
pub use runs::Runs;
pub use sort::{Sort, SortColumn};
pub use update::update;

/// The filter prompt while it is open: the text typed so far and what to go back to on Esc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterPrompt {
    /// The text typed so far; it filters the table as it is typed.
    pub text: String,
    /// The filter before the prompt opened, restored by Esc.
    pub(crate) before: String,
    /// The run selected when the prompt opened: it gets the selection back whenever it is shown.
    pub(crate) anchor: Option<String>,
}

/// Where keyboard focus is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Table,
    Detail,
}

/// The feed's connection state, as the header shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    Connecting,
    Live,
    Reconnecting {
        reason: String,
        attempt: u32,
        retry_in: Duration,
    },
    Failed {
        reason: String,
        detail: String,
    },
    /// A replayed session ran out of recorded exchanges: the end, not a failure.
    Ended,
}

/// The selected run's packets, decoded and pretty-printed once when the selection or the run
/// changes (doing it on every frame would redo the work 4+ times a second).
#[derive(Debug, Clone, PartialEq)]
pub struct DetailCache {
    pub run_id: String,
    pub payload: PacketView,
    pub output: PacketView,
    pub metadata: PacketView,
    /// The detail pane's rows, wrapped to the pane's width, built from these packets and the run
    /// (kept by `update` through `ui::detail::rows_to_keep`, so frames do not rebuild them).
    pub(crate) rows: Option<DetailRows>,
}

/// A packet ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub enum PacketView {
    /// No packet.
    Absent,
    /// JSON or superjson, pretty-printed, with warnings about annotations that did not apply.
    Pretty { text: String, warnings: Vec<String> },
    /// Plain text.
    Text(String),
    /// In object storage (`application/store`), fetched on demand.
    Offloaded { path: String, fetch: FetchState },
    /// Data that does not parse as its type claims: the reason, then the raw text.
    Invalid { raw: String, reason: String },
}

/// Where the download of an offloaded packet stands.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchState {
    Fetching,
    Failed(String),
    Done(Packet),
}

impl PacketView {
    fn from_decoded(decoded: Decoded) -> Self {
        match decoded {
            Decoded::Absent => Self::Absent,
            Decoded::Value { value, warnings } => Self::Pretty {
                text: value.pretty(),
                warnings,
            },
            Decoded::Text(text) => Self::Text(text),
            Decoded::Offloaded { path } => Self::Offloaded {
                path,
                fetch: FetchState::Fetching,
            },
            Decoded::Invalid { raw, reason } => Self::Invalid { raw, reason },
        }
    }
}

/// The whole state of the dashboard.
#[derive(Debug, Clone)]
pub struct App {
    pub batch_id: String,
    /// Where the feed comes from, for the header (e.g. `demo server 127.0.0.1:41234`).
    pub source: String,
    pub connection: Connection,
    /// Every run, and the rows the table shows (filtered and sorted).
    pub runs: Runs,
    /// The filter being typed, while the prompt is open.
    pub filter_prompt: Option<FilterPrompt>,
    pub summary: Summary,
    pub batch_info: Option<BatchInfo>,
    /// The selected run's id; the selection follows the run, not the row position. It is always
    /// a shown run (or none when the table shows none).
    pub selected: Option<String>,
    /// First row shown in the table (scrolling), an index into the shown rows.
    pub table_offset: usize,
    pub focus: Focus,
    /// Lines scrolled in the detail pane.
    pub detail_scroll: u16,
    pub detail: Option<DetailCache>,
    /// The raw packets `detail` was built from.
    detail_source: Option<(Option<Packet>, Option<Packet>, Option<Packet>)>,
    pub show_log: bool,
    /// The key list (`?`) is open over the screen; the next key closes it.
    pub show_help: bool,
    /// The clock the view renders with; advanced by ticks so snapshots can freeze it.
    pub now: DateTime<Utc>,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// Rows the run table and the detail pane show at this size (kept by `update`).
    pub(crate) pages: (usize, usize),
    /// The detail pane's width inside its borders at this size (kept by `update`).
    pub(crate) detail_width: usize,
    /// Status colour overrides from the config file (API status in lower case → colour).
    pub colors: BTreeMap<String, Color>,
    /// When the last run update arrived.
    pub last_update: Option<DateTime<Utc>>,
    pub should_quit: bool,
    /// Why the feed failed for good, for the exit code.
    pub failure: Option<ExitReason>,
    /// Offloaded packets asked for, by run, field and storage path.
    pub fetched: HashMap<(String, Field, String), FetchState>,
    /// Effects `update` asked for besides its return value (packet fetches); the event loop
    /// drains it after every update.
    pub outbox: Vec<Cmd>,
}

impl App {
    pub fn new(batch_id: impl Into<String>, source: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            batch_id: batch_id.into(),
            source: source.into(),
            connection: Connection::Connecting,
            runs: Runs::default(),
            filter_prompt: None,
            summary: Summary::default(),
            batch_info: None,
            selected: None,
            table_offset: 0,
            focus: Focus::Table,
            detail_scroll: 0,
            detail: None,
            detail_source: None,
            show_log: false,
            show_help: false,
            now,
            size: (120, 40),
            pages: (
                layout::table_rows(DEFAULT_AREA, false),
                layout::detail_rows(DEFAULT_AREA, false),
            ),
            detail_width: layout::detail_width(DEFAULT_AREA, false),
            colors: BTreeMap::new(),
            last_update: None,
            should_quit: false,
            failure: None,
            fetched: HashMap::new(),
            outbox: Vec::new(),
        }
    }

    /// The selected run's row in the table (among the shown runs).
    pub fn selected_index(&self) -> Option<usize> {
        self.selected
            .as_deref()
            .and_then(|id| self.runs.position(id))
    }

    /// The selected run.
    pub fn selected_run(&self) -> Option<&Run> {
        self.selected.as_deref().and_then(|id| self.runs.by_id(id))
    }

    /// A run by id.
    pub fn run(&self, id: &str) -> Option<&Run> {
        self.runs.by_id(id)
    }

    /// Inserts or replaces a run, keeping the table's rows and the summary right. Returns true
    /// when the run is new.
    pub(crate) fn upsert(&mut self, run: impl Into<Arc<Run>>) -> bool {
        let run = run.into();
        // Added before the old one is taken out: one lookup of the id, not two.
        self.summary.add(&run);
        let Some(old) = self.runs.upsert(run) else {
            return true;
        };
        self.summary.remove(&old);
        false
    }

    /// Removes a run by id.
    pub(crate) fn remove(&mut self, id: &str) {
        if let Some(run) = self.runs.remove(id) {
            self.summary.remove(&run);
        }
    }

    /// The filter in force: the one being typed while the prompt is open (it applies live).
    pub fn filter(&self) -> &Filter {
        self.runs.filter()
    }

    /// The batch is done: every run the batch record counts has been seen, and all are final.
    pub fn batch_done(&self) -> bool {
        let run_count = self.batch_info.as_ref().and_then(|b| b.run_count);
        if self.summary.total() == 0 {
            // An empty batch is done once its record says it has no runs and the feed, caught
            // up, agrees; never before the feed has answered.
            return run_count == Some(0) && self.last_update.is_some();
        }
        let expected = usize::try_from(run_count.unwrap_or(0)).unwrap_or(usize::MAX);
        self.summary.all_final() && self.summary.total() >= expected
    }
}

/// The size assumed until the terminal reports its own.
const DEFAULT_AREA: ratatui::layout::Rect = ratatui::layout::Rect::new(0, 0, 120, 40);

#[cfg(test)]
pub(crate) mod fixtures;
