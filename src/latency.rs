//! Latency instrumentation for `--latency-report`: key press to the frame that shows it, and
//! server change to the frame that shows it (the embedded server stamps each response with the
//! time its newest change was made, in the `x-trigger-tui-changed-at` header).

use std::time::Duration;

/// The header the embedded server stamps feed responses with (Unix time in milliseconds).
pub const CHANGED_AT_HEADER: &str = "x-trigger-tui-changed-at";

/// Samples of one latency, in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    micros: Vec<u64>,
}

impl Samples {
    pub fn push(&mut self, latency: Duration) {
        // Bounded: a long session keeps the first million samples.
        if self.micros.len() < 1_000_000 {
            self.micros.push(latency.as_micros() as u64);
        }
    }

    pub fn len(&self) -> usize {
        self.micros.len()
    }

    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// The `p`th percentile (0–100), nearest rank.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.micros.is_empty() {
            return None;
        }
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        let index = rank.clamp(1, sorted.len()) - 1;
        Some(Duration::from_micros(sorted[index]))
    }

    /// One line: count, p50, p90, p99, max.
    pub fn summary(&self, name: &str) -> String {
        let ms = |p: f64| {
            self.percentile(p)
                .map_or("-".to_string(), |d| format!("{:.2}", d.as_secs_f64() * 1e3))
        };
        format!(
            "{name}: n={} p50={} ms p90={} ms p99={} ms max={} ms",
            self.len(),
            ms(50.0),
            ms(90.0),
            ms(99.0),
            ms(100.0)
        )
    }
}

/// How long after the feed goes live its changes count as catch-up: the backlog that piled
/// up while the first snapshot was read and drawn arrives then, in large answers.
pub const CATCH_UP: Duration = Duration::from_secs(10);

/// Both latencies of a dashboard session.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub key_to_frame: Samples,
    /// Changes shown in the first [`CATCH_UP`] after the feed went live (or before it did).
    pub change_to_frame_catch_up: Samples,
    /// Changes shown after that: the steady state.
    pub change_to_frame: Samples,
    pub frames: u64,
}

impl Report {
    pub fn render(&self, elapsed: Duration) -> String {
        let fps = self.frames as f64 / elapsed.as_secs_f64().max(1e-9);
        let mut all = self.change_to_frame.clone();
        all.micros
            .extend_from_slice(&self.change_to_frame_catch_up.micros);
        format!(
            "latency report ({} frames, {:.1} frames/s)\n  {}\n  {}\n  {}\n  {}",
            self.frames,
            fps,
            self.key_to_frame.summary("key to frame           "),
            all.summary("change to frame, all   "),
            self.change_to_frame_catch_up
                .summary("  first 10 s live      "),
            self.change_to_frame.summary("  after that (steady)  "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut s = Samples::default();
        for ms in 1..=100 {
            s.push(Duration::from_millis(ms));
        }
        assert_eq!(s.percentile(50.0), Some(Duration::from_millis(50)));
        assert_eq!(s.percentile(99.0), Some(Duration::from_millis(99)));
        assert_eq!(s.percentile(100.0), Some(Duration::from_millis(100)));
        assert_eq!(Samples::default().percentile(50.0), None);
        assert!(s.summary("x").contains("p99=99.00 ms"));
    }

    #[test]
    fn the_report_splits_catch_up_from_steady_state() {
        let mut report = Report::default();
        report
            .change_to_frame_catch_up
            .push(Duration::from_millis(900));
        report.change_to_frame.push(Duration::from_millis(12));
        let text = report.render(Duration::from_secs(1));
        assert!(text.contains("change to frame, all   : n=2"), "{text}");
        assert!(
            text.contains("  first 10 s live      : n=1 p50=900.00 ms"),
            "{text}"
        );
        assert!(
            text.contains("  after that (steady)  : n=1 p50=12.00 ms"),
            "{text}"
        );
    }
}
