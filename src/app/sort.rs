//! The run table's sort order: a column, a direction, and (number, id) breaking ties, so the
//! order is total and a run's place can be found by binary search.
//!
//! Every key is a function of the run alone, never of the clock, so the order stays valid
//! between updates and nothing is re-sorted per tick or per frame. Missing values (a run not
//! started, with no duration, cost or task) sort last in both directions.

use std::cmp::{Ordering, Reverse};

use chrono::{DateTime, Utc};

use crate::model::Run;
use crate::model::status::RunStatus;

/// The column the table is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortColumn {
    #[default]
    Number,
    Status,
    Started,
    Duration,
    Cost,
    Task,
}

impl SortColumn {
    /// The next column in the cycle `s` walks: number → status → started → duration → cost →
    /// task → number.
    pub fn next(self) -> Self {
        match self {
            Self::Number => Self::Status,
            Self::Status => Self::Started,
            Self::Started => Self::Duration,
            Self::Duration => Self::Cost,
            Self::Cost => Self::Task,
            Self::Task => Self::Number,
        }
    }
}

/// A column and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    pub column: SortColumn,
    pub descending: bool,
}

impl Sort {
    /// Orders two runs: by the column in the chosen direction, then by (number, id) ascending.
    /// Two different runs are never equal.
    pub fn cmp(&self, a: &Run, b: &Run) -> Ordering {
        let direct = |o: Ordering| if self.descending { o.reverse() } else { o };
        let primary = match self.column {
            SortColumn::Number => {
                // A run without a number is last either way.
                fn key(r: &Run) -> (Option<i64>, &str) {
                    (r.number, r.id.as_str())
                }
                return a
                    .number
                    .is_none()
                    .cmp(&b.number.is_none())
                    .then_with(|| direct(key(a).cmp(&key(b))));
            }
            SortColumn::Status => direct(status_rank(&a.status).cmp(&status_rank(&b.status))),
            SortColumn::Started => last_if_missing(a.started_at, b.started_at, direct),
            SortColumn::Duration => {
                let (ga, gb) = (duration_key(a), duration_key(b));
                ga.group()
                    .cmp(&gb.group())
                    .then_with(|| direct(ga.cmp(&gb)))
            }
            SortColumn::Cost => {
                let cost = |r: &Run| r.total_cost_cents().map(Cost);
                last_if_missing(cost(a), cost(b), direct)
            }
            SortColumn::Task => last_if_missing(
                a.task_identifier.as_deref(),
                b.task_identifier.as_deref(),
                direct,
            ),
        };
        primary.then_with(|| number_order(a, b))
    }
}

/// The order runs are stored in and the sort's tie-break: by number (runs without one last),
/// then id.
pub fn number_order(a: &Run, b: &Run) -> Ordering {
    fn key(r: &Run) -> (bool, Option<i64>, &str) {
        (r.number.is_none(), r.number, r.id.as_str())
    }
    key(a).cmp(&key(b))
}

fn last_if_missing<T: Ord>(
    a: Option<T>,
    b: Option<T>,
    direct: impl Fn(Ordering) -> Ordering,
) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => direct(a.cmp(&b)),
        (a, b) => a.is_none().cmp(&b.is_none()),
    }
}

/// Status order, most in need of attention first: the failures, canceled, the runs in progress,
/// those not started yet, unknown statuses, and completed last.
pub const STATUS_ORDER: [RunStatus; 13] = [
    RunStatus::Failed,
    RunStatus::Crashed,
    RunStatus::SystemFailure,
    RunStatus::TimedOut,
    RunStatus::Expired,
    RunStatus::Canceled,
    RunStatus::Executing,
    RunStatus::Dequeued,
    RunStatus::Waiting,
    RunStatus::Queued,
    RunStatus::Delayed,
    RunStatus::PendingVersion,
    RunStatus::Completed,
];

fn status_rank(status: &RunStatus) -> usize {
    let position = |s: &RunStatus| STATUS_ORDER.iter().position(|o| o == s).unwrap_or(0);
    match status {
        // Unknown statuses go between the runs not started and the completed ones.
        RunStatus::Unknown(_) => 2 * position(&RunStatus::Completed) - 1,
        known => 2 * position(known),
    }
}

/// What the duration column compares. The table shows a stopped run's recorded duration and an
/// executing run's time since it started, which grows with the clock; so the recorded ones are
/// ordered by value, the executing ones after them by elapsed time (an earlier start is
/// longer), and runs with no duration last.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum DurationKey {
    Recorded(i64),
    Running(Reverse<DateTime<Utc>>),
    Missing,
}

impl DurationKey {
    fn group(&self) -> u8 {
        match self {
            Self::Recorded(_) => 0,
            Self::Running(_) => 1,
            Self::Missing => 2,
        }
    }
}

/// Mirrors `ui::text::run_duration`, without the clock.
fn duration_key(run: &Run) -> DurationKey {
    if run.status.is_executing() {
        return run
            .started_at
            .map_or(DurationKey::Missing, |t| DurationKey::Running(Reverse(t)));
    }
    // A run that never started (canceled or expired in the queue) shows `0ms` but has no
    // duration to speak of: it sorts with the missing ones.
    if (run.status.is_final() || run.status.is_waiting()) && run.started_at.is_some() {
        return run
            .duration_ms
            .map_or(DurationKey::Missing, DurationKey::Recorded);
    }
    DurationKey::Missing
}

/// A cost with a total order (`f64::total_cmp`).
#[derive(Debug, Clone, Copy)]
struct Cost(f64);

impl PartialEq for Cost {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Cost {}

impl PartialOrd for Cost {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cost {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures;

    fn sorted(sort: Sort, mut runs: Vec<Run>) -> Vec<String> {
        runs.sort_by(|a, b| sort.cmp(a, b));
        runs.into_iter().map(|r| r.id).collect()
    }

    fn by(column: SortColumn, descending: bool) -> Sort {
        Sort { column, descending }
    }

    #[test]
    fn status_order_puts_failures_first_and_completed_last() {
        let runs = vec![
            fixtures::run(1, "COMPLETED_SUCCESSFULLY"),
            fixtures::run(2, "PENDING"),
            fixtures::run(3, "CRASHED"),
            fixtures::run(4, "EXECUTING"),
            fixtures::run(5, "COMPLETED_WITH_ERRORS"),
            fixtures::run(6, "QUARANTINED"),
            fixtures::run(7, "CANCELED"),
        ];
        assert_eq!(
            sorted(by(SortColumn::Status, false), runs.clone()),
            [
                "run_0005", "run_0003", "run_0007", "run_0004", "run_0002", "run_0006", "run_0001"
            ]
        );
        assert_eq!(
            sorted(by(SortColumn::Status, true), runs),
            [
                "run_0001", "run_0006", "run_0002", "run_0004", "run_0007", "run_0003", "run_0005"
            ]
        );
    }

    #[test]
    fn ties_break_by_number_ascending_in_both_directions() {
        let runs: Vec<Run> = [4, 1, 3, 2]
            .into_iter()
            .map(|n| fixtures::run(n, "EXECUTING"))
            .collect();
        for descending in [false, true] {
            assert_eq!(
                sorted(by(SortColumn::Status, descending), runs.clone()),
                ["run_0001", "run_0002", "run_0003", "run_0004"]
            );
        }
        assert_eq!(
            sorted(by(SortColumn::Number, true), runs),
            ["run_0004", "run_0003", "run_0002", "run_0001"]
        );
    }

    #[test]
    fn runs_canceled_before_they_started_have_no_duration_to_sort_by() {
        let mut never_started = fixtures::run(2, "CANCELED");
        never_started.started_at = None;
        never_started.duration_ms = Some(0);
        let runs = vec![
            never_started,
            fixtures::run(3, "COMPLETED_SUCCESSFULLY"),
            fixtures::run(4, "COMPLETED_SUCCESSFULLY"),
        ];
        for descending in [false, true] {
            let order = sorted(by(SortColumn::Duration, descending), runs.clone());
            assert_eq!(
                order.last().map(String::as_str),
                Some("run_0002"),
                "{order:?}"
            );
        }
    }

    #[test]
    fn missing_values_sort_last_either_way() {
        // Run 2 is PENDING: not started, no duration.
        let runs = vec![
            fixtures::run(2, "PENDING"),
            fixtures::run(7, "COMPLETED_SUCCESSFULLY"),
            fixtures::run(9, "COMPLETED_SUCCESSFULLY"),
        ];
        for column in [SortColumn::Started, SortColumn::Duration] {
            assert_eq!(
                sorted(by(column, false), runs.clone())
                    .last()
                    .map(String::as_str),
                Some("run_0002"),
                "{column:?}"
            );
            assert_eq!(
                sorted(by(column, true), runs.clone())
                    .last()
                    .map(String::as_str),
                Some("run_0002"),
                "{column:?} descending"
            );
        }
    }

    #[test]
    fn duration_orders_recorded_then_running_by_elapsed() {
        // Durations are n * 731 % 40,000 ms: run 7 5.1s, run 9 6.6s; runs 3 and 4 execute, run
        // 3 started a second earlier so it has run longer.
        let runs = vec![
            fixtures::run(4, "EXECUTING"),
            fixtures::run(9, "COMPLETED_SUCCESSFULLY"),
            fixtures::run(3, "EXECUTING"),
            fixtures::run(7, "COMPLETED_WITH_ERRORS"),
        ];
        assert_eq!(
            sorted(by(SortColumn::Duration, false), runs.clone()),
            ["run_0007", "run_0009", "run_0004", "run_0003"]
        );
        assert_eq!(
            sorted(by(SortColumn::Duration, true), runs),
            ["run_0009", "run_0007", "run_0003", "run_0004"]
        );
    }

    #[test]
    fn the_column_cycle_comes_back_to_number() {
        let mut column = SortColumn::default();
        let mut seen = vec![column];
        for _ in 0..6 {
            column = column.next();
            seen.push(column);
        }
        use SortColumn::*;
        assert_eq!(
            seen,
            [Number, Status, Started, Duration, Cost, Task, Number]
        );
    }
}
