//! The batch summary: counts per status and total cost, kept incrementally as runs change so
//! the header never rescans the table.

use std::collections::BTreeMap;

use super::run::Run;
use super::status::RunStatus;

/// Counts per status and cost totals over the runs seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    by_status: BTreeMap<RunStatus, usize>,
    total: usize,
    finals: usize,
    cost_cents: f64,
}

impl Summary {
    /// Accounts for a run that joined the table.
    pub fn add(&mut self, run: &Run) {
        *self.by_status.entry(run.status.clone()).or_default() += 1;
        self.total += 1;
        self.finals += usize::from(run.status.is_final());
        self.cost_cents += cost(run);
    }

    /// Accounts for a run that left the table (or is about to be replaced).
    pub fn remove(&mut self, run: &Run) {
        if let Some(n) = self.by_status.get_mut(&run.status) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.by_status.remove(&run.status);
            }
        }
        self.total = self.total.saturating_sub(1);
        self.finals = self
            .finals
            .saturating_sub(usize::from(run.status.is_final()));
        self.cost_cents -= cost(run);
        if self.total == 0 {
            self.cost_cents = 0.0;
        }
    }

    /// How many runs have each status, in lifecycle order (unknown statuses last).
    pub fn counts(&self) -> impl Iterator<Item = (&RunStatus, usize)> {
        self.by_status.iter().map(|(s, n)| (s, *n))
    }

    pub fn count(&self, status: &RunStatus) -> usize {
        self.by_status.get(status).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.total
    }

    /// Runs in a final status.
    pub fn finished(&self) -> usize {
        self.finals
    }

    /// Total cost in cents (compute plus base).
    pub fn cost_cents(&self) -> f64 {
        self.cost_cents.max(0.0)
    }

    /// Every run seen is final (and there is at least one).
    pub fn all_final(&self) -> bool {
        self.total > 0 && self.finals == self.total
    }
}

/// A run's cost as the running total counts it. A cost that is not a finite number (float8 can
/// carry `NaN` and `Infinity`) counts as 0: added once, it would make the total NaN for good,
/// since subtracting it again cannot undo it (`inf - inf` is NaN too).
fn cost(run: &Run) -> f64 {
    run.total_cost_cents()
        .filter(|c| c.is_finite())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::Schema;

    fn run(status: &str, cost: &str) -> Run {
        let row: Vec<(String, Option<String>)> = vec![
            ("id".into(), Some("x".into())),
            ("status".into(), Some(status.into())),
            ("costInCents".into(), Some(cost.into())),
        ];
        let schema = Schema::parse(r#"{"costInCents":{"type":"float8"}}"#).unwrap();
        Run::from_row(row.as_slice(), &schema)
    }

    #[test]
    fn counts_follow_adds_and_removes() {
        let mut s = Summary::default();
        let a = run("EXECUTING", "1.5");
        let b = run("COMPLETED_SUCCESSFULLY", "2");
        s.add(&a);
        s.add(&b);
        assert_eq!(s.total(), 2);
        assert_eq!(s.finished(), 1);
        assert_eq!(s.count(&RunStatus::Executing), 1);
        assert!((s.cost_cents() - 3.5).abs() < 1e-9);
        assert!(!s.all_final());
        s.remove(&a);
        s.add(&run("CRASHED", "1.5"));
        assert!(s.all_final());
        assert_eq!(s.count(&RunStatus::Executing), 0);
        assert_eq!(s.counts().count(), 2);
    }

    #[test]
    fn a_cost_that_is_not_a_number_does_not_poison_the_total() {
        let mut s = Summary::default();
        s.add(&run("EXECUTING", "1"));
        for bad in ["NaN", "Infinity", "-Infinity"] {
            let odd = run("EXECUTING", bad);
            s.add(&odd);
            assert!(
                (s.cost_cents() - 1.0).abs() < 1e-9,
                "{bad}: {}",
                s.cost_cents()
            );
            // The run's next state has a real cost again.
            s.remove(&odd);
            s.add(&run("COMPLETED_SUCCESSFULLY", "2"));
            assert!(
                (s.cost_cents() - 3.0).abs() < 1e-9,
                "{bad}: {}",
                s.cost_cents()
            );
            s.remove(&run("COMPLETED_SUCCESSFULLY", "2"));
        }
    }
}
