//! Every run of the batch, and the rows the table shows: the runs the filter matches, in the
//! sort's order.
//!
//! Runs live in slots that do not move when others arrive (a removal moves only the last slot
//! into the gap). Two lists of slots are kept sorted: `by_number` (every run, by number then id)
//! and `shown` (the matching runs, by the active sort). A run that arrives or changes is found
//! by binary search and moved in both, never re-sorted with the rest; only a new filter or sort
//! rebuilds `shown`. The view reads `shown` and builds the visible rows alone.

use std::cmp::Ordering;
use std::sync::Arc;

use super::filter::{Filter, Haystack};
use super::sort::{Sort, SortColumn, number_order};
use crate::model::Run;

/// One stored run, with what the filter searches and whether it matches.
#[derive(Debug, Clone)]
struct Slot {
    /// Shared with the feed's shape: each run is held once.
    run: Arc<Run>,
    /// Built only while a filter is active (and for every run when one becomes active), so
    /// runs cost nothing extra while nothing is filtered.
    hay: Option<Haystack>,
    shown: bool,
}

/// The runs, in stable slots, with the number order and the shown order kept incrementally.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    slots: Vec<Slot>,
    /// Run id to slot.
    index: foldhash::HashMap<String, usize>,
    /// Every slot, by number then id.
    by_number: Vec<usize>,
    /// The slots the filter matches, in the sort's order.
    shown: Vec<usize>,
    filter: Filter,
    sort: Sort,
    /// The highest run number, for the width of the number column.
    max_number: Option<i64>,
}

impl Runs {
    /// How many runs there are (shown or not).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// No run at all (shown or not).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Every run, by number then id.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Run> + DoubleEndedIterator {
        self.by_number.iter().map(|&s| &*self.slots[s].run)
    }

    /// The `i`-th run by number.
    pub fn get(&self, i: usize) -> Option<&Run> {
        self.by_number.get(i).map(|&s| &*self.slots[s].run)
    }

    /// A run by id, as the shared handle the feed delivered (cheap to keep a copy of).
    pub fn shared(&self, id: &str) -> Option<&Arc<Run>> {
        self.index.get(id).map(|&s| &self.slots[s].run)
    }

    /// A run by id.
    pub fn by_id(&self, id: &str) -> Option<&Run> {
        self.index.get(id).map(|&s| &*self.slots[s].run)
    }

    /// How many runs the table shows.
    pub fn shown_len(&self) -> usize {
        self.shown.len()
    }

    /// The `i`-th row of the table.
    pub fn shown(&self, i: usize) -> Option<&Run> {
        self.shown.get(i).map(|&s| &*self.slots[s].run)
    }

    /// The table's rows from `start`, at most `count` of them.
    pub fn shown_range(&self, start: usize, count: usize) -> impl Iterator<Item = &Run> {
        let start = start.min(self.shown.len());
        let end = start.saturating_add(count).min(self.shown.len());
        self.shown[start..end].iter().map(|&s| &*self.slots[s].run)
    }

    /// The row of a run, if the table shows it.
    pub fn position(&self, id: &str) -> Option<usize> {
        let &slot = self.index.get(id)?;
        if !self.slots[slot].shown {
            return None;
        }
        Some(self.shown_place(&self.slots[slot].run))
    }

    /// Does the table show this run?
    pub fn is_shown(&self, id: &str) -> bool {
        self.index
            .get(id)
            .is_some_and(|&slot| self.slots[slot].shown)
    }

    /// Where a run that exists but is hidden would be in the table: the nearest shown row is
    /// this one or the one before.
    pub fn place(&self, id: &str) -> Option<usize> {
        let &slot = self.index.get(id)?;
        Some(self.shown_place(&self.slots[slot].run))
    }

    /// The filter the shown rows match.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The order of the shown rows.
    pub fn sort(&self) -> Sort {
        self.sort
    }

    /// The highest run number (0 without any).
    pub fn max_number(&self) -> i64 {
        self.max_number.unwrap_or(0)
    }

    /// Inserts or replaces a run; returns the run it replaced.
    pub(crate) fn upsert(&mut self, run: impl Into<Arc<Run>>) -> Option<Arc<Run>> {
        let run = run.into();
        let Some(&slot) = self.index.get(&run.id) else {
            self.insert(run);
            return None;
        };
        let old = &self.slots[slot];
        let renumbered = number_order(&old.run, &run) != Ordering::Equal;
        let moved = self.sort.cmp(&old.run, &run) != Ordering::Equal;
        let was_shown = old.shown;
        // The old haystack stands while the fields it was built from are unchanged.
        let kept = old.hay.is_some() && Haystack::same_fields(&old.run, &run);
        let hay = (!kept && self.filter.is_active()).then(|| Haystack::new(&run));
        let shown = match &hay {
            Some(hay) => self.filter.matches(hay),
            None if kept => was_shown,
            None => true,
        };

        // Out of the sorted lists by the old key, back in by the new one.
        if renumbered {
            let at = self.number_place(&self.slots[slot].run);
            self.by_number.remove(at);
        }
        if was_shown && (moved || !shown) {
            let at = self.shown_place(&self.slots[slot].run);
            self.shown.remove(at);
        }
        let entry = &mut self.slots[slot];
        let old = std::mem::replace(&mut entry.run, run);
        if !kept {
            entry.hay = hay;
        }
        entry.shown = shown;
        if renumbered {
            let at = self.number_place(&self.slots[slot].run);
            self.by_number.insert(at, slot);
            self.update_max_number();
        }
        if shown && (moved || !was_shown) {
            let at = self.shown_place(&self.slots[slot].run);
            self.shown.insert(at, slot);
        }
        Some(old)
    }

    fn insert(&mut self, run: Arc<Run>) {
        let hay = self.filter.is_active().then(|| Haystack::new(&run));
        let shown = hay.as_ref().is_none_or(|hay| self.filter.matches(hay));
        let slot = self.slots.len();
        self.index.insert(run.id.clone(), slot);
        self.slots.push(Slot { run, hay, shown });
        let at = self.number_place(&self.slots[slot].run);
        self.by_number.insert(at, slot);
        if shown {
            let at = self.shown_place(&self.slots[slot].run);
            self.shown.insert(at, slot);
        }
        if let Some(n) = self.slots[slot].run.number {
            self.max_number = Some(self.max_number.map_or(n, |max| max.max(n)));
        }
    }

    /// Removes a run by id; returns it.
    pub(crate) fn remove(&mut self, id: &str) -> Option<Arc<Run>> {
        let slot = self.index.remove(id)?;
        let at = self.number_place(&self.slots[slot].run);
        self.by_number.remove(at);
        if self.slots[slot].shown {
            let at = self.shown_place(&self.slots[slot].run);
            self.shown.remove(at);
        }

        // The last slot moves into the gap: find its list entries while they are still valid,
        // then point them (and its id) at the new slot.
        let last = self.slots.len() - 1;
        let moving = (slot != last).then(|| {
            let run = &self.slots[last].run;
            let shown_at = self.slots[last].shown.then(|| self.shown_place(run));
            (self.number_place(run), shown_at)
        });
        let removed = self.slots.swap_remove(slot);
        if let Some((number_at, shown_at)) = moving {
            self.index.insert(self.slots[slot].run.id.clone(), slot);
            self.by_number[number_at] = slot;
            if let Some(at) = shown_at {
                self.shown[at] = slot;
            }
        }
        self.update_max_number();
        Some(removed.run)
    }

    /// A new filter: every run is matched again and the shown list rebuilt.
    pub(crate) fn set_filter(&mut self, filter: Filter) {
        // A space typed or spaces trimmed change the text, not the terms: nothing to redo.
        let same = filter.terms() == self.filter.terms();
        self.filter = filter;
        if same {
            return;
        }
        let active = self.filter.is_active();
        for slot in &mut self.slots {
            slot.shown = !active || {
                let hay = slot.hay.get_or_insert_with(|| Haystack::new(&slot.run));
                self.filter.matches(hay)
            };
        }
        self.rebuild();
    }

    /// A new sort order: the shown list is sorted anew.
    pub(crate) fn set_sort(&mut self, sort: Sort) {
        self.sort = sort;
        self.rebuild();
    }

    fn rebuild(&mut self) {
        let slots = &self.slots;
        self.shown.clear();
        self.shown
            .extend(self.by_number.iter().copied().filter(|&s| slots[s].shown));
        match self.sort {
            // Already in number order.
            Sort {
                column: SortColumn::Number,
                descending: false,
            } => {}
            sort => self
                .shown
                .sort_unstable_by(|&a, &b| sort.cmp(&slots[a].run, &slots[b].run)),
        }
    }

    /// Where `run` is (or would go) in `by_number`.
    fn number_place(&self, run: &Run) -> usize {
        self.by_number
            .partition_point(|&s| number_order(&self.slots[s].run, run) == Ordering::Less)
    }

    /// Where `run` is (or would go) in `shown`.
    fn shown_place(&self, run: &Run) -> usize {
        self.shown
            .partition_point(|&s| self.sort.cmp(&self.slots[s].run, run) == Ordering::Less)
    }

    fn update_max_number(&mut self) {
        // Runs without a number sort last: the highest number is just before them.
        let numbered = self
            .by_number
            .partition_point(|&s| self.slots[s].run.number.is_some());
        self.max_number = numbered
            .checked_sub(1)
            .and_then(|i| self.slots[self.by_number[i]].run.number);
    }
}

impl<'a> IntoIterator for &'a Runs {
    type Item = &'a Run;
    type IntoIter = Box<dyn Iterator<Item = &'a Run> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures;

    fn ids<'a>(runs: impl Iterator<Item = &'a Run>) -> Vec<String> {
        runs.map(|r| r.id.clone()).collect()
    }

    fn shown_ids(runs: &Runs) -> Vec<String> {
        ids(runs.shown_range(0, usize::MAX))
    }

    /// The lists are what a full sort would give, and every slot is indexed.
    fn assert_consistent(runs: &Runs) {
        let mut all: Vec<&Run> = runs.slots.iter().map(|s| &*s.run).collect();
        all.sort_by(|a, b| number_order(a, b));
        assert_eq!(ids(runs.iter()), ids(all.iter().copied()));
        let mut matching: Vec<&Run> = runs
            .slots
            .iter()
            .filter(|s| runs.filter.matches(&Haystack::new(&s.run)))
            .map(|s| &*s.run)
            .collect();
        matching.sort_by(|a, b| runs.sort.cmp(a, b));
        assert_eq!(shown_ids(runs), ids(matching.iter().copied()));
        for (id, &slot) in &runs.index {
            assert_eq!(&runs.slots[slot].run.id, id);
        }
        assert_eq!(runs.index.len(), runs.slots.len());
    }

    #[test]
    fn out_of_order_arrivals_changes_and_removals_keep_both_orders() {
        let mut runs = Runs::default();
        for n in [5, 2, 9, 1, 7, 3] {
            runs.upsert(fixtures::run(n, "EXECUTING"));
        }
        runs.set_filter(Filter::new("executing"));
        runs.set_sort(Sort {
            column: SortColumn::Duration,
            descending: true,
        });
        assert_consistent(&runs);
        runs.upsert(fixtures::run(9, "COMPLETED_SUCCESSFULLY"));
        assert_consistent(&runs);
        runs.upsert(fixtures::run(9, "EXECUTING"));
        runs.upsert(fixtures::run(4, "EXECUTING"));
        assert_consistent(&runs);
        runs.remove("run_0002");
        runs.remove("run_0009");
        assert_consistent(&runs);
        assert_eq!(runs.max_number(), 7);
        assert_eq!(runs.remove("run_0002"), None);

        // Runs that change while nothing is filtered are matched when a filter comes back.
        runs.set_filter(Filter::new(""));
        runs.upsert(fixtures::run(5, "CANCELED"));
        runs.upsert(fixtures::run(6, "EXECUTING"));
        assert_consistent(&runs);
        runs.set_filter(Filter::new("executing"));
        assert_consistent(&runs);
        assert!(!runs.is_shown("run_0005") && runs.is_shown("run_0006"));
    }

    #[test]
    fn max_number_skips_runs_without_one() {
        let mut runs = Runs::default();
        runs.upsert(fixtures::run(12, "PENDING"));
        let mut unnumbered = fixtures::run(99, "PENDING");
        unnumbered.number = None;
        runs.upsert(unnumbered);
        assert_eq!(runs.max_number(), 12);
        assert_eq!(runs.iter().last().map(|r| r.id.as_str()), Some("run_0099"));
    }
}
