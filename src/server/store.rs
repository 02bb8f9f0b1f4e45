//! The live `TaskRun` table the demo server serves: current rows, a global version bumped once
//! per applied change group, per-row and per-column versions, and an append-only change log.
//!
//! The store knows nothing about HTTP or the shape protocol: it answers "what is every row" and
//! "which rows and columns changed after version X" (a binary search in the log, not a scan),
//! which is all a feed needs, whatever rows it selects.

use chrono::{DateTime, Duration, Utc};

use super::sim::{Cell, Group};
use super::wire;

/// The columns of the run feed, in the order the hosted service lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Col {
    /// Internal id (the primary key), e.g. `cm…`.
    Id,
    /// Task identifier, e.g. `send-email`.
    TaskIdentifier,
    /// Creation time.
    CreatedAt,
    /// Last update time.
    UpdatedAt,
    /// When the first attempt started.
    StartedAt,
    /// When a delayed run becomes due.
    DelayUntil,
    /// When the run entered its queue.
    QueuedAt,
    /// When the run expired (TTL).
    ExpiredAt,
    /// When the run reached a final status.
    CompletedAt,
    /// The `run_…` id users see.
    FriendlyId,
    /// Run number.
    Number,
    /// Test run flag.
    IsTest,
    /// Database status (`TaskRunStatus`).
    Status,
    /// Compute time in ms.
    UsageDurationMs,
    /// Compute cost.
    CostInCents,
    /// Invocation cost.
    BaseCostInCents,
    /// Time to live, e.g. `10m`.
    Ttl,
    /// Payload packet data.
    Payload,
    /// Payload packet type.
    PayloadType,
    /// Metadata packet data.
    Metadata,
    /// Metadata packet type.
    MetadataType,
    /// Output packet data.
    Output,
    /// Output packet type.
    OutputType,
    /// Tags (`text[]`).
    RunTags,
    /// Error (`jsonb`).
    Error,
    /// Realtime stream names (`text[]`).
    RealtimeStreams,
    /// Idempotency key.
    IdempotencyKey,
}

/// Number of columns.
pub const COLUMN_COUNT: usize = 27;

impl Col {
    /// Every column, in wire order.
    pub const ALL: [Col; COLUMN_COUNT] = [
        Col::Id,
        Col::TaskIdentifier,
        Col::CreatedAt,
        Col::UpdatedAt,
        Col::StartedAt,
        Col::DelayUntil,
        Col::QueuedAt,
        Col::ExpiredAt,
        Col::CompletedAt,
        Col::FriendlyId,
        Col::Number,
        Col::IsTest,
        Col::Status,
        Col::UsageDurationMs,
        Col::CostInCents,
        Col::BaseCostInCents,
        Col::Ttl,
        Col::Payload,
        Col::PayloadType,
        Col::Metadata,
        Col::MetadataType,
        Col::Output,
        Col::OutputType,
        Col::RunTags,
        Col::Error,
        Col::RealtimeStreams,
        Col::IdempotencyKey,
    ];

    /// Position in [`Col::ALL`] and in a row's cell array.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The column name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Col::Id => "id",
            Col::TaskIdentifier => "taskIdentifier",
            Col::CreatedAt => "createdAt",
            Col::UpdatedAt => "updatedAt",
            Col::StartedAt => "startedAt",
            Col::DelayUntil => "delayUntil",
            Col::QueuedAt => "queuedAt",
            Col::ExpiredAt => "expiredAt",
            Col::CompletedAt => "completedAt",
            Col::FriendlyId => "friendlyId",
            Col::Number => "number",
            Col::IsTest => "isTest",
            Col::Status => "status",
            Col::UsageDurationMs => "usageDurationMs",
            Col::CostInCents => "costInCents",
            Col::BaseCostInCents => "baseCostInCents",
            Col::Ttl => "ttl",
            Col::Payload => "payload",
            Col::PayloadType => "payloadType",
            Col::Metadata => "metadata",
            Col::MetadataType => "metadataType",
            Col::Output => "output",
            Col::OutputType => "outputType",
            Col::RunTags => "runTags",
            Col::Error => "error",
            Col::RealtimeStreams => "realtimeStreams",
            Col::IdempotencyKey => "idempotencyKey",
        }
    }

    /// Looks a column up by its wire name.
    pub fn from_name(name: &str) -> Option<Col> {
        Col::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The column's entry in `electric-schema`.
    pub fn schema(self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Col::Id => json!({"type": "text", "pk_index": 0, "not_null": true}),
            Col::CreatedAt | Col::UpdatedAt => json!({"type": "timestamp", "not_null": true}),
            Col::StartedAt
            | Col::DelayUntil
            | Col::QueuedAt
            | Col::ExpiredAt
            | Col::CompletedAt => json!({"type": "timestamp"}),
            Col::Status => json!({"type": "TaskRunStatus", "not_null": true}),
            Col::TaskIdentifier | Col::FriendlyId => json!({"type": "text", "not_null": true}),
            Col::Number | Col::UsageDurationMs => json!({"type": "int4", "not_null": true}),
            Col::IsTest => json!({"type": "bool", "not_null": true}),
            Col::CostInCents | Col::BaseCostInCents => {
                json!({"type": "float8", "not_null": true})
            }
            Col::RunTags | Col::RealtimeStreams => json!({"type": "text", "dims": 1}),
            Col::Error => json!({"type": "jsonb"}),
            Col::Ttl
            | Col::Payload
            | Col::PayloadType
            | Col::Metadata
            | Col::MetadataType
            | Col::Output
            | Col::OutputType
            | Col::IdempotencyKey => json!({"type": "text"}),
        }
    }

    /// Columns a feed never leaves out, even when asked to (`skipColumns`).
    pub fn is_reserved(self) -> bool {
        matches!(
            self,
            Col::Id | Col::TaskIdentifier | Col::FriendlyId | Col::Status | Col::CreatedAt
        )
    }
}

/// One row of the table with its bookkeeping.
#[derive(Debug, Clone)]
pub struct Row {
    /// Version at which the row was inserted.
    pub created: u64,
    /// Column values as wire text, indexed by [`Col::index`].
    pub cells: [Option<String>; COLUMN_COUNT],
    /// Version at which each column last changed.
    pub versions: [u64; COLUMN_COUNT],
}

impl Row {
    /// The value of a column.
    pub fn get(&self, col: Col) -> Option<&str> {
        self.cells[col.index()].as_deref()
    }
}

/// How a row changed after a given version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowChange {
    /// The row did not exist at that version: send it whole.
    Insert,
    /// These columns changed since (the primary key is not included).
    Update(Vec<Col>),
}

/// The table at its current version.
#[derive(Debug)]
pub struct Store {
    base: DateTime<Utc>,
    version: u64,
    rows: Vec<Option<Row>>,
    /// `(version, row index)`, one entry per row touched by a group, versions ascending.
    log: Vec<(u64, usize)>,
    /// Sim time (ms) of the last applied group.
    sim_ms: u64,
    created: usize,
    finished: usize,
    last_created_ms: u64,
    /// Wall-clock time (Unix ms) the last group was applied: clients measure change-to-screen
    /// latency against it (`x-trigger-tui-changed-at`).
    applied_at_ms: u64,
}

impl Store {
    /// An empty table for `runs` rows whose timestamps count from `base`.
    pub fn new(base: DateTime<Utc>, runs: usize) -> Store {
        Store {
            base,
            version: 0,
            rows: vec![None; runs],
            log: Vec::new(),
            sim_ms: 0,
            created: 0,
            finished: 0,
            last_created_ms: 0,
            applied_at_ms: 0,
        }
    }

    /// Wall-clock origin of sim time.
    pub fn base(&self) -> DateTime<Utc> {
        self.base
    }

    /// The wall-clock instant of a sim time.
    pub fn at(&self, sim_ms: u64) -> DateTime<Utc> {
        self.base + Duration::milliseconds(i64::try_from(sim_ms).unwrap_or(i64::MAX / 2))
    }

    /// When the last change group was applied (Unix ms; 0 before the first).
    pub fn applied_at_ms(&self) -> u64 {
        self.applied_at_ms
    }

    /// Current version (0 before any group was applied).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Sim time of the last applied group.
    pub fn sim_ms(&self) -> u64 {
        self.sim_ms
    }

    /// Number of rows that exist.
    pub fn created(&self) -> usize {
        self.created
    }

    /// Number of rows in a final status.
    pub fn finished(&self) -> usize {
        self.finished
    }

    /// Total rows the table will hold once every run exists.
    pub fn capacity(&self) -> usize {
        self.rows.len()
    }

    /// Sim time at which the last row so far was created.
    pub fn last_created_ms(&self) -> u64 {
        self.last_created_ms
    }

    /// The row at `index`, if it exists yet.
    pub fn row(&self, index: usize) -> Option<&Row> {
        self.rows.get(index).and_then(Option::as_ref)
    }

    /// Every existing row with its index, in index (run number) order.
    pub fn rows(&self) -> impl Iterator<Item = (usize, &Row)> {
        self.rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|r| (i, r)))
    }

    /// Applies one change group: bumps the version, sets every cell the group names plus
    /// `updatedAt` on each touched row, and logs the touched rows. Returns the new version.
    pub fn apply(&mut self, group: &Group) -> u64 {
        self.applied_at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.version += 1;
        let version = self.version;
        self.sim_ms = group.at;
        let updated_at = wire::timestamp_text(self.at(group.at));
        for event in &group.events {
            let Some(slot) = self.rows.get_mut(event.run) else {
                continue;
            };
            let row = slot.get_or_insert_with(|| Row {
                created: version,
                cells: Default::default(),
                versions: [version; COLUMN_COUNT],
            });
            let was_final = row.get(Col::Status).is_some_and(is_final_status);
            if row.created == version {
                self.created += 1;
                self.last_created_ms = group.at;
            }
            for (col, cell) in &event.cells {
                let text = match cell {
                    Cell::Null => None,
                    Cell::Text(s) => Some(s.clone()),
                    Cell::At(ms) => Some(wire::timestamp_text(
                        self.base + Duration::milliseconds(i64::try_from(*ms).unwrap_or(0)),
                    )),
                };
                set_cell(row, *col, text, version);
            }
            set_cell(row, Col::UpdatedAt, Some(updated_at.clone()), version);
            let is_final = row.get(Col::Status).is_some_and(is_final_status);
            if is_final && !was_final {
                self.finished += 1;
            }
            self.log.push((version, event.run));
        }
        version
    }

    /// Rows changed after version `since`, in run order, each with how it changed.
    /// `since >= version()` gives nothing.
    pub fn changes_since(&self, since: u64) -> Vec<(usize, &Row, RowChange)> {
        let start = self.log.partition_point(|(v, _)| *v <= since);
        let mut touched: Vec<usize> = self.log[start..].iter().map(|(_, i)| *i).collect();
        touched.sort_unstable();
        touched.dedup();
        touched
            .into_iter()
            .filter_map(|i| {
                let row = self.row(i)?;
                let change = if row.created > since {
                    RowChange::Insert
                } else {
                    RowChange::Update(
                        Col::ALL
                            .into_iter()
                            .filter(|c| *c != Col::Id && row.versions[c.index()] > since)
                            .collect(),
                    )
                };
                Some((i, row, change))
            })
            .collect()
    }
}

fn set_cell(row: &mut Row, col: Col, text: Option<String>, version: u64) {
    let slot = &mut row.cells[col.index()];
    if *slot != text || row.created == version {
        *slot = text;
        row.versions[col.index()] = version;
    }
}

/// True for the database statuses a run never leaves.
pub fn is_final_status(status: &str) -> bool {
    matches!(
        status,
        "COMPLETED_SUCCESSFULLY"
            | "COMPLETED_WITH_ERRORS"
            | "CANCELED"
            | "CRASHED"
            | "SYSTEM_FAILURE"
            | "EXPIRED"
            | "TIMED_OUT"
            | "INTERRUPTED"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::sim::RunEvent;

    fn group(at: u64, events: Vec<(usize, Vec<(Col, Cell)>)>) -> Group {
        Group {
            at,
            events: events
                .into_iter()
                .map(|(run, cells)| RunEvent { run, cells })
                .collect(),
        }
    }

    fn text(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }

    #[test]
    fn changes_since_reports_inserts_and_changed_columns_only() {
        let mut store = Store::new(Utc::now(), 2);
        store.apply(&group(
            0,
            vec![(
                0,
                vec![(Col::Id, text("a")), (Col::Status, text("PENDING"))],
            )],
        ));
        store.apply(&group(
            10,
            vec![(
                1,
                vec![(Col::Id, text("b")), (Col::Status, text("PENDING"))],
            )],
        ));
        store.apply(&group(
            20,
            vec![(0, vec![(Col::Status, text("EXECUTING"))])],
        ));
        // Setting a value to what it already is is not a change.
        store.apply(&group(
            30,
            vec![(0, vec![(Col::Status, text("EXECUTING"))])],
        ));
        assert_eq!(store.version(), 4);
        assert_eq!(store.created(), 2);

        let all = store.changes_since(0);
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|(_, _, c)| *c == RowChange::Insert));

        let since1 = store.changes_since(1);
        assert_eq!(since1[0].0, 0);
        assert_eq!(
            since1[0].2,
            RowChange::Update(vec![Col::UpdatedAt, Col::Status])
        );
        assert_eq!(since1[1].0, 1);
        assert_eq!(since1[1].2, RowChange::Insert);

        let since3 = store.changes_since(3);
        assert_eq!(since3.len(), 1);
        assert_eq!(since3[0].2, RowChange::Update(vec![Col::UpdatedAt]));
        assert!(store.changes_since(4).is_empty());
        assert!(store.changes_since(99).is_empty());
    }

    #[test]
    fn counts_finished_rows_once() {
        let mut store = Store::new(Utc::now(), 1);
        store.apply(&group(
            0,
            vec![(
                0,
                vec![(Col::Id, text("a")), (Col::Status, text("PENDING"))],
            )],
        ));
        store.apply(&group(5, vec![(0, vec![(Col::Status, text("CRASHED"))])]));
        store.apply(&group(6, vec![(0, vec![(Col::Metadata, text("{}"))])]));
        assert_eq!(store.finished(), 1);
    }

    #[test]
    fn columns_are_indexed_in_order() {
        for (i, c) in Col::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
            assert_eq!(Col::from_name(c.name()), Some(c));
        }
    }
}
