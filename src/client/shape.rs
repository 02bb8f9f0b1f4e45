//! The client's copy of the shape: rows by key, the keys touched since the last `up-to-date`,
//! and the position (handle, offset, cursor) to ask from next.
//!
//! PROTOCOL.md §2: rows merge by key; they surface only at `up-to-date`, each touched row once;
//! `must-refetch` drops everything and starts again from `offset=-1`, and the next
//! `up-to-date` hands on the complete set so that nothing is lost in between.

use std::sync::Arc;

use tracing::warn;

use crate::model::{RowParts, Run};
use crate::protocol::{Control, Message, Operation, Row, Schema};

/// One row of the shape: its run as last merged (shared with the app once handed on, so each
/// run is held once), and what the row holds beyond the run's fields.
#[derive(Debug)]
struct Entry {
    run: Arc<Run>,
    parts: RowParts,
    touched: bool,
    /// The run was handed on at least once.
    delivered: bool,
    /// The id it was handed on as, when the run's id changed since: a placeholder row (an
    /// update for a key never inserted) is handed on by its internal id, and must give way when
    /// its friendly id arrives, so the app never holds two runs for one key.
    stale_id: Option<String>,
}

impl Entry {
    fn new(run: Run, parts: RowParts) -> Self {
        Self {
            run: Arc::new(run),
            parts,
            touched: false,
            delivered: false,
            stale_id: None,
        }
    }

    /// Notes that the run's id changed from `old` (if it was handed on as that).
    fn id_changed(&mut self, old: Option<String>) {
        if self.delivered && self.stale_id.is_none() {
            self.stale_id = old;
        }
    }
}

/// What an `up-to-date` hands on.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Flush {
    /// Every row touched since the last flush, merged; after a refetch, every row.
    pub runs: Vec<Arc<Run>>,
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
    rows: foldhash::HashMap<Arc<str>, Entry>,
    touched: Vec<Arc<str>>,
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
            rows: foldhash::HashMap::default(),
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

    fn change(&mut self, key: String, operation: Operation, value: Row) {
        let empty = Schema::default();
        let schema = self.schema.as_ref().unwrap_or(&empty);
        let columns = value.iter();
        match operation {
            Operation::Insert => {
                // An insert replaces the row, but who it was handed on as still matters.
                let (run, parts) = Run::from_columns(columns, schema);
                match self.rows.get_mut(key.as_str()) {
                    Some(entry) => {
                        let old = (entry.run.id != run.id).then(|| entry.run.id.clone());
                        entry.id_changed(old);
                        entry.run = Arc::new(run);
                        entry.parts = parts;
                        Self::touch(&mut self.touched, key.as_str(), entry);
                    }
                    None => self.add(key, Entry::new(run, parts)),
                }
            }
            Operation::Update => match self.rows.get_mut(key.as_str()) {
                Some(entry) => {
                    // The app holds the run handed on last: this copies it once per flush at
                    // most, and only the columns that came are decoded.
                    let old =
                        Arc::make_mut(&mut entry.run).merge(&mut entry.parts, columns, schema);
                    entry.id_changed(old);
                    Self::touch(&mut self.touched, key.as_str(), entry);
                }
                None => {
                    // CASES.md C10: an update for a key never inserted is shown as a
                    // placeholder (what it carries), not fatal to the stream.
                    self.orphan_updates += 1;
                    warn!(
                        "update for a run the feed never inserted ({key}); showing a placeholder"
                    );
                    let (run, parts) = Run::from_columns(columns, schema);
                    self.add(key, Entry::new(run, parts));
                }
            },
            Operation::Delete => {
                if let Some(mut entry) = self.rows.remove(key.as_str()) {
                    let id = match entry.stale_id.take() {
                        Some(id) => id,
                        None => entry.run.id.clone(),
                    };
                    self.removed.push(id);
                }
            }
            Operation::Other(op) => {
                warn!("ignoring a change with an unknown operation {op:?}");
            }
        }
    }

    fn add(&mut self, key: String, mut entry: Entry) {
        let key: Arc<str> = key.into();
        entry.touched = true;
        self.touched.push(Arc::clone(&key));
        self.rows.insert(key, entry);
    }

    fn touch(touched: &mut Vec<Arc<str>>, key: &str, entry: &mut Entry) {
        if !entry.touched {
            entry.touched = true;
            touched.push(key.into());
        }
    }

    fn flush(&mut self) -> Flush {
        let complete = std::mem::take(&mut self.refetching);
        let mut keys = std::mem::take(&mut self.touched);
        if complete {
            // Every row: the touched ones in the order they came, then the rest by key, so the
            // order never depends on the hash map's (a replay prints what the session did).
            let mut rest: Vec<Arc<str>> = self
                .rows
                .iter()
                .filter(|(_, entry)| !entry.touched)
                .map(|(key, _)| Arc::clone(key))
                .collect();
            rest.sort_unstable();
            keys.extend(rest);
        }
        let mut runs = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(entry) = self.rows.get_mut(&key) else {
                continue;
            };
            entry.touched = false;
            entry.delivered = true;
            if let Some(old) = entry.stale_id.take().filter(|old| *old != entry.run.id) {
                self.removed.push(old);
            }
            runs.push(Arc::clone(&entry.run));
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
