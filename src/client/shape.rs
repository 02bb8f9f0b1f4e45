//! The client's copy of the shape: rows by key, the keys touched since the last `up-to-date`,
//! and the position (handle, offset, cursor) to ask from next.
//!
//! PROTOCOL.md §2: rows merge by key; they surface only at `up-to-date`, each touched row once;
//! `must-refetch` drops everything and starts again from `offset=-1`, and the next
//! `up-to-date` hands on the complete set so that nothing is lost in between.

use std::collections::HashMap;

use tracing::warn;

use crate::model::{Columns, Run};
use crate::protocol::{Control, Message, Operation, Schema};

/// Column names seen on this shape, interned so a row stores only its values.
#[derive(Debug, Default)]
struct ColumnTable {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl ColumnTable {
    fn slot(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), self.names.len() - 1);
        self.names.len() - 1
    }
}

/// One row's values by column slot: `None` when the row never carried the column.
#[derive(Debug, Default, Clone)]
struct Row {
    cells: Vec<Option<Option<String>>>,
    touched: bool,
    /// The run id this row was last handed on as: a placeholder row (an update for a key never
    /// inserted) is handed on by its internal id, and must give way when its friendly id
    /// arrives, so the app never holds two runs for one key.
    delivered_id: Option<String>,
}

impl Row {
    fn set(&mut self, slot: usize, value: Option<String>) {
        if self.cells.len() <= slot {
            self.cells.resize(slot + 1, None);
        }
        self.cells[slot] = Some(value);
    }
}

struct RowRef<'a> {
    table: &'a ColumnTable,
    row: &'a Row,
}

impl Columns for RowRef<'_> {
    fn column(&self, name: &str) -> Option<Option<&str>> {
        let slot = *self.table.index.get(name)?;
        self.row.cells.get(slot)?.as_ref().map(|v| v.as_deref())
    }
}

/// What an `up-to-date` hands on.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Flush {
    /// Every row touched since the last flush, merged; after a refetch, every row.
    pub runs: Vec<Run>,
    /// Ids (friendly) of runs deleted since the last flush.
    pub removed: Vec<String>,
    /// The runs are the complete set: anything not in it is gone (after a refetch).
    pub complete: bool,
}

/// The client's shape state.
#[derive(Debug)]
pub struct Shape {
    pub handle: Option<String>,
    pub offset: String,
    pub cursor: Option<String>,
    /// Set once an `up-to-date` was seen: requests are then live long-polls.
    pub live: bool,
    pub schema: Option<Schema>,
    columns: ColumnTable,
    rows: HashMap<String, Row>,
    touched: Vec<String>,
    removed: Vec<String>,
    refetching: bool,
    /// Updates for keys never inserted, seen since start (logged once each).
    pub orphan_updates: usize,
    /// Body elements that were not readable messages, skipped (each logged).
    pub malformed: usize,
    /// The handle a 409 retired, sent once as `expired_handle` with the refetch (as the
    /// official client does), so caches keyed on it are skipped.
    pub expired_handle: Option<String>,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            handle: None,
            offset: "-1".into(),
            cursor: None,
            live: false,
            schema: None,
            columns: ColumnTable::default(),
            rows: HashMap::new(),
            touched: Vec::new(),
            removed: Vec::new(),
            refetching: false,
            orphan_updates: 0,
            malformed: 0,
            expired_handle: None,
        }
    }
}

impl Shape {
    /// A shape that already knows its schema (tests, benches, decoding a stored body).
    pub fn with_schema(schema: Schema) -> Self {
        Self {
            schema: Some(schema),
            ..Self::default()
        }
    }

    /// Number of rows held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Forgets every row and the position; the next request is `offset=-1` with `handle`
    /// (a 409's new handle, or none after an in-body `must-refetch`). The next flush is complete.
    pub fn refetch(&mut self, handle: Option<String>) {
        self.handle = handle;
        self.offset = "-1".into();
        self.cursor = None;
        self.live = false;
        self.schema = None;
        self.rows.clear();
        self.touched.clear();
        self.removed.clear();
        self.refetching = true;
    }

    /// Applies one response's messages in order; returns a flush for each `up-to-date`.
    pub fn apply(&mut self, messages: Vec<Message>) -> Vec<Flush> {
        let mut flushes = Vec::new();
        for message in messages {
            match message {
                Message::Change {
                    key,
                    operation,
                    value,
                } => self.change(key, operation, value),
                Message::Control(Control::UpToDate) => {
                    self.live = true;
                    flushes.push(self.flush());
                }
                Message::Control(Control::MustRefetch) => {
                    // An in-body must-refetch: anything after it in this body belongs to the old
                    // shape, so stop here.
                    self.refetch(None);
                    break;
                }
                Message::Control(Control::Other(_)) | Message::Unknown => {}
                Message::Malformed(reason) => {
                    self.malformed += 1;
                    warn!("skipped a message the feed could not read: {reason}");
                }
            }
        }
        flushes
    }

    fn change(&mut self, key: String, operation: Operation, value: Vec<(String, Option<String>)>) {
        match operation {
            Operation::Insert => {
                // An insert replaces the row, but who it was handed on as still matters.
                let delivered_id = self.rows.get(&key).and_then(|r| r.delivered_id.clone());
                let mut row = Row {
                    delivered_id,
                    ..Row::default()
                };
                for (name, v) in value {
                    row.set(self.columns.slot(&name), v);
                }
                self.touch(key, row);
            }
            Operation::Update => {
                let mut row = match self.rows.remove(&key) {
                    Some(row) => row,
                    None => {
                        // CASES.md C10: an update for a key never inserted is shown as a
                        // placeholder (what it carries), not fatal to the stream.
                        self.orphan_updates += 1;
                        warn!(
                            "update for a run the feed never inserted ({key}); showing a placeholder"
                        );
                        Row::default()
                    }
                };
                for (name, v) in value {
                    row.set(self.columns.slot(&name), v);
                }
                self.touch(key, row);
            }
            Operation::Delete => {
                if let Some(row) = self.rows.remove(&key) {
                    let id = match row.delivered_id {
                        Some(id) => id,
                        None => self.build(&row).id,
                    };
                    self.removed.push(id);
                }
            }
            Operation::Other(op) => {
                warn!("ignoring a change with an unknown operation {op:?}");
            }
        }
    }

    fn touch(&mut self, key: String, mut row: Row) {
        if !row.touched {
            row.touched = true;
            self.touched.push(key.clone());
        }
        self.rows.insert(key, row);
    }

    fn build(&self, row: &Row) -> Run {
        let empty = Schema::default();
        let schema = self.schema.as_ref().unwrap_or(&empty);
        Run::from_row(
            &RowRef {
                table: &self.columns,
                row,
            },
            schema,
        )
    }

    fn flush(&mut self) -> Flush {
        let complete = std::mem::take(&mut self.refetching);
        let mut keys = std::mem::take(&mut self.touched);
        if complete {
            // Every row: the touched ones in the order they came, then the rest by key, so the
            // order never depends on the hash map's (a replay prints what the session did).
            let mut rest: Vec<String> = self
                .rows
                .iter()
                .filter(|(_, row)| !row.touched)
                .map(|(key, _)| key.clone())
                .collect();
            rest.sort_unstable();
            keys.extend(rest);
        }
        let mut runs = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(row) = self.rows.get(&key) else {
                continue;
            };
            let run = self.build(row);
            let previous = row.delivered_id.clone();
            if let Some(row) = self.rows.get_mut(&key) {
                row.touched = false;
                row.delivered_id = Some(run.id.clone());
            }
            if let Some(old) = previous.filter(|old| *old != run.id) {
                self.removed.push(old);
            }
            runs.push(run);
        }
        Flush {
            runs,
            removed: std::mem::take(&mut self.removed),
            complete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{parse_body, row_key};

    fn schema() -> Schema {
        Schema::parse(r#"{"number":{"type":"int4"},"runTags":{"type":"text","dims":1}}"#).unwrap()
    }

    fn shape() -> Shape {
        Shape::with_schema(schema())
    }

    fn insert(id: &str, status: &str) -> String {
        format!(
            r#"{{"key":{key},"value":{{"id":"{id}","friendlyId":"run_{id}","taskIdentifier":"t",
            "status":"{status}","runTags":"{{a,b}}"}},"headers":{{"operation":"insert"}}}}"#,
            key = serde_json::to_string(&row_key(id)).unwrap()
        )
    }

    fn update(id: &str, cols: &str) -> String {
        format!(
            r#"{{"key":{key},"value":{{"id":"{id}"{cols}}},"headers":{{"operation":"update"}}}}"#,
            key = serde_json::to_string(&row_key(id)).unwrap()
        )
    }

    const UTD: &str = r#"{"headers":{"control":"up-to-date"}}"#;

    fn body(parts: &[String]) -> Vec<Message> {
        parse_body(format!("[{}]", parts.join(",")).as_bytes()).unwrap()
    }

    #[test]
    fn rows_surface_only_at_up_to_date() {
        let mut s = shape();
        assert!(s.apply(body(&[insert("1", "PENDING")])).is_empty());
        assert!(!s.live);
        let flushes = s.apply(body(&[insert("2", "PENDING"), UTD.to_string()]));
        assert_eq!(flushes.len(), 1);
        assert_eq!(flushes[0].runs.len(), 2);
        assert!(s.live);
    }

    #[test]
    fn updates_merge_columns_and_touched_rows_surface_once() {
        let mut s = shape();
        s.apply(body(&[insert("1", "PENDING"), UTD.to_string()]));
        let flushes = s.apply(body(&[
            update("1", r#","status":"EXECUTING""#),
            update("1", r#","status":"COMPLETED_SUCCESSFULLY""#),
            update("1", ""),
            UTD.to_string(),
        ]));
        assert_eq!(flushes[0].runs.len(), 1);
        let run = &flushes[0].runs[0];
        assert_eq!(run.db_status, "COMPLETED_SUCCESSFULLY");
        assert_eq!(run.task_identifier.as_deref(), Some("t"));
        assert_eq!(run.tags, vec!["a", "b"]);
    }

    #[test]
    fn update_for_unseen_key_is_a_placeholder() {
        let mut s = shape();
        let flushes = s.apply(body(&[
            update("9", r#","status":"EXECUTING""#),
            UTD.to_string(),
        ]));
        assert_eq!(flushes[0].runs[0].id, "9");
        assert_eq!(flushes[0].runs[0].task_identifier, None);
        assert_eq!(s.orphan_updates, 1);
    }

    #[test]
    fn placeholder_gives_way_to_the_full_row() {
        let mut s = shape();
        s.apply(body(&[
            update("9", r#","status":"EXECUTING""#),
            UTD.to_string(),
        ]));
        let flushes = s.apply(body(&[insert("9", "EXECUTING"), UTD.to_string()]));
        assert_eq!(flushes[0].runs[0].id, "run_9");
        assert_eq!(flushes[0].removed, vec!["9"]);
    }

    #[test]
    fn delete_removes_and_reports() {
        let mut s = shape();
        s.apply(body(&[
            insert("1", "PENDING"),
            insert("2", "PENDING"),
            UTD.to_string(),
        ]));
        let key = serde_json::to_string(&row_key("1")).unwrap();
        let delete =
            format!(r#"{{"key":{key},"value":{{"id":"1"}},"headers":{{"operation":"delete"}}}}"#);
        let flushes = s.apply(body(&[delete, UTD.to_string()]));
        assert_eq!(flushes[0].removed, vec!["run_1"]);
        assert!(flushes[0].runs.is_empty());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn refetch_hands_on_the_complete_set() {
        let mut s = shape();
        s.apply(body(&[
            insert("1", "PENDING"),
            insert("2", "PENDING"),
            UTD.to_string(),
        ]));
        s.refetch(Some("h-2".into()));
        assert_eq!(s.offset, "-1");
        assert_eq!(s.handle.as_deref(), Some("h-2"));
        assert!(s.is_empty());
        s.schema = Some(schema());
        let flushes = s.apply(body(&[
            insert("1", "COMPLETED_SUCCESSFULLY"),
            insert("3", "PENDING"),
            UTD.to_string(),
        ]));
        assert!(flushes[0].complete);
        let mut ids: Vec<_> = flushes[0].runs.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        assert_eq!(ids, vec!["run_1", "run_3"]);
        // The next flush is incremental again.
        let flushes = s.apply(body(&[
            update("3", r#","status":"EXECUTING""#),
            UTD.to_string(),
        ]));
        assert!(!flushes[0].complete);
        assert_eq!(flushes[0].runs.len(), 1);
    }

    #[test]
    fn in_body_must_refetch_resets_and_ignores_the_rest() {
        let mut s = shape();
        s.apply(body(&[insert("1", "PENDING"), UTD.to_string()]));
        let flushes = s.apply(body(&[
            r#"{"headers":{"control":"must-refetch"}}"#.to_string(),
            insert("2", "PENDING"),
            UTD.to_string(),
        ]));
        assert!(flushes.is_empty());
        assert!(s.is_empty());
        assert_eq!(s.handle, None);
        assert!(!s.live);
    }
}
