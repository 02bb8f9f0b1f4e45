//! Text helpers the panes share: run data made safe (through [`crate::sanitize`]) and fitted to
//! a width in terminal cells, and the duration, money and time formats the panes agree on.
//!
//! Widths are display widths (unicode-width), measured per glyph cluster so a wide character or
//! an emoji ZWJ sequence is never cut in half (CASES.md C12).

use chrono::{DateTime, Timelike, Utc};
use ratatui::buffer::CellWidth;

use crate::model::Run;
use crate::protocol::schema::format_timestamp;
use crate::sanitize::sanitize_line;

/// Shown where a value is absent.
pub const ABSENT: &str = "—";

/// Display width of `text` in terminal cells.
pub fn width(text: &str) -> usize {
    if is_plain(text) {
        return text.len();
    }
    clusters(text).map(cluster_width).sum()
}

/// Printable ASCII only: one glyph and one cell per byte, and nothing to sanitize. Most run data
/// is, so the panes check this first and skip the work per glyph.
fn is_plain(text: &str) -> bool {
    text.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// Cells one cluster takes, measured the way ratatui's buffer measures it so columns line up.
fn cluster_width(cluster: &str) -> usize {
    match cluster.as_bytes() {
        [b] if b.is_ascii_control() => 0,
        _ => usize::from(cluster.cell_width()),
    }
}

/// Splits text into glyph clusters: a character with the zero-width characters that follow it
/// (combining marks, variation selectors) and anything joined to it by a ZWJ. Close enough to
/// grapheme clusters for cutting text without splitting what the terminal draws as one glyph.
pub fn clusters(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let mut chars = rest.char_indices();
        let (_, first) = chars.next()?;
        let mut end = first.len_utf8();
        let mut joined = first == '\u{200d}';
        for (i, c) in chars {
            let zero = unicode_width::UnicodeWidthChar::width(c) == Some(0);
            if !(joined || zero || c == '\u{200d}') {
                break;
            }
            joined = c == '\u{200d}';
            end = i + c.len_utf8();
        }
        let (cluster, tail) = rest.split_at(end);
        rest = tail;
        Some(cluster)
    })
}

/// The first `max` characters of `text`, and how many bytes were left out.
pub fn head(text: &str, max: usize) -> (&str, usize) {
    match text.char_indices().nth(max) {
        Some((i, _)) => (&text[..i], text.len() - i),
        None => (text, 0),
    }
}

/// Run data made safe and fitted into `max` cells on one line: control characters escaped,
/// and when too wide, cut on a glyph boundary with `…`.
pub fn fit(text: &str, max: usize) -> String {
    if text.len() <= max && is_plain(text) {
        return text.to_string();
    }
    // Only a bounded prefix is looked at, so an enormous value costs no more than a short one.
    let (prefix, cut) = head(text, max.saturating_mul(4).saturating_add(8));
    truncate(&sanitize_line(prefix), max, cut > 0)
}

/// [`fit`], appended to `out`: text that needs no change is copied without a string of its own.
pub fn push_fit(out: &mut String, text: &str, max: usize) {
    if text.len() <= max && is_plain(text) {
        out.push_str(text);
    } else {
        out.push_str(&fit(text, max));
    }
}

/// Like [`fit`], but keeps the end of the text, with `…` first when cut: for text being typed,
/// where the cursor is at the end.
pub fn fit_tail(text: &str, max: usize) -> String {
    let safe = sanitize_line(text);
    if width(&safe) <= max {
        return safe;
    }
    if max == 0 {
        return String::new();
    }
    let glyphs: Vec<&str> = clusters(&safe).collect();
    let mut start = glyphs.len();
    let mut used = 1;
    while let Some(w) = start.checked_sub(1).map(|i| cluster_width(glyphs[i])) {
        if used + w > max {
            break;
        }
        used += w;
        start -= 1;
    }
    format!("…{}", glyphs[start..].concat())
}

/// Cuts already-safe text to `max` cells with `…` when it is wider (or when `force` says the
/// text was already shortened). A wide glyph that would straddle the edge is left out.
pub fn truncate(text: &str, max: usize, force: bool) -> String {
    if max == 0 {
        return String::new();
    }
    if !force && width(text) <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for cluster in clusters(text) {
        let w = cluster_width(cluster);
        if used + w > max - 1 {
            break;
        }
        out.push_str(cluster);
        used += w;
    }
    out.push('…');
    out
}

/// Hard-wraps already-safe text into rows of at most `max` cells, on glyph boundaries.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    wrap_hanging(text, max, 0)
}

/// Like [`wrap`], but rows after the first start with `indent` spaces (a hanging indent).
pub fn wrap_hanging(text: &str, max: usize, indent: usize) -> Vec<String> {
    let max = max.max(2);
    let indent = if indent + 2 > max { 0 } else { indent };
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut used = 0;
    for cluster in clusters(text) {
        let w = cluster_width(cluster);
        if used + w > max && used > indent {
            rows.push(std::mem::take(&mut row));
            row.push_str(&" ".repeat(indent));
            used = indent;
        }
        row.push_str(cluster);
        used += w;
    }
    rows.push(row);
    rows
}

/// A number with thousands separators: `12,345`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A duration in milliseconds, short: `850ms`, `12.4s`, `1m 02s`, `2h 05m`.
pub fn duration_ms(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{}.{}s", ms / 1_000, ms % 1_000 / 100),
        60_000..=3_599_999 => format!("{}m {:02}s", ms / 60_000, ms % 60_000 / 1_000),
        _ => format!("{}h {:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// How long a run has taken: its billed duration once it has stopped, the time since it
/// started while it executes; `None` when there is nothing to show.
pub fn run_duration(run: &Run, now: DateTime<Utc>) -> Option<String> {
    if run.status.is_executing() {
        let started = run.started_at?;
        return Some(duration_ms((now - started).num_milliseconds()));
    }
    if run.status.is_final() || run.status.is_waiting() {
        return run.duration_ms.map(duration_ms);
    }
    None
}

/// Cents as dollars with four decimals: `$0.4213`; a cost too small to show is `<$0.0001`.
pub fn dollars(cents: f64) -> String {
    if !cents.is_finite() {
        return ABSENT.to_string();
    }
    let dollars = cents / 100.0;
    if dollars > 0.0 && dollars < 0.000_05 {
        return "<$0.0001".to_string();
    }
    format!("${dollars:.4}")
}

/// An instant as ISO 8601 UTC with milliseconds, or `—`.
pub fn iso(at: Option<&DateTime<Utc>>) -> String {
    at.map_or_else(|| ABSENT.to_string(), format_timestamp)
}

/// The time of day in UTC (`HH:MM:SS`), or `—`.
pub fn clock(at: Option<&DateTime<Utc>>) -> String {
    // What `%H:%M:%S` prints (a leap second as :60), without parsing a format on every row.
    at.map_or_else(
        || ABSENT.to_string(),
        |t| {
            let leap = u32::from(t.nanosecond() >= 1_000_000_000);
            format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second() + leap)
        },
    )
}

/// How long ago `then` was, short: `4s ago`, `3m ago`, `2h ago`.
pub fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3_599 => format!("{}m ago", secs / 60),
        _ => format!("{}h ago", secs / 3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_tail_keeps_the_end() {
        assert_eq!(fit_tail("failed", 10), "failed");
        assert_eq!(fit_tail("status:failed", 7), "…failed");
        assert_eq!(fit_tail("ab数据", 4), "…据");
        assert_eq!(fit_tail("a\u{1b}b", 10), "a\\eb");
        assert_eq!(fit_tail("abc", 0), "");
    }

    #[test]
    fn widths_count_cells_per_glyph() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("数据"), 4);
        assert_eq!(width("👩\u{200d}🔬"), 2);
        assert_eq!(
            clusters("a👩\u{200d}🔬b").collect::<Vec<_>>(),
            ["a", "👩\u{200d}🔬", "b"]
        );
        assert_eq!(clusters("e\u{301}x").collect::<Vec<_>>(), ["e\u{301}", "x"]);
    }

    #[test]
    fn truncation_never_splits_a_wide_glyph() {
        assert_eq!(truncate("数据导入任务", 6, false), "数据…");
        assert_eq!(width(&truncate("数据导入任务", 5, false)), 5);
        assert_eq!(truncate("数据导入任务", 4, false), "数…");
        assert_eq!(truncate("👩\u{200d}🔬-lab-sync", 3, false), "👩\u{200d}🔬…");
        assert_eq!(truncate("abc", 3, false), "abc");
        assert_eq!(truncate("abc", 3, true), "ab…");
        assert_eq!(truncate("abc", 0, false), "");
    }

    #[test]
    fn fit_escapes_controls_and_bounds_the_work() {
        assert_eq!(fit("a\u{1b}[2Jb", 20), "a\\e[2Jb");
        let huge = "x".repeat(5_000_000);
        assert_eq!(fit(&huge, 5), "xxxx…");
    }

    #[test]
    fn wrap_keeps_glyphs_whole() {
        assert_eq!(wrap("abcdef", 4), ["abcd", "ef"]);
        assert_eq!(wrap("ab数据", 3), ["ab", "数", "据"]);
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(
            wrap_hanging("key: abcdefgh", 8, 5),
            ["key: abc", "     def", "     gh"]
        );
    }

    #[test]
    fn clock_prints_as_the_strftime_format_would() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        for t in [
            at("2026-12-03T00:00:00Z"),
            at("2026-12-03T09:05:07.999Z"),
            at("2026-12-03T23:59:59Z"),
        ] {
            assert_eq!(clock(Some(&t)), t.format("%H:%M:%S").to_string());
        }
        let leap = at("2016-12-31T23:59:59Z")
            .with_nanosecond(1_500_000_000)
            .unwrap();
        assert_eq!(clock(Some(&leap)), leap.format("%H:%M:%S").to_string());
        assert_eq!(clock(None), ABSENT);
    }

    #[test]
    fn plain_text_is_measured_and_fitted_as_any_other() {
        for text in ["", "run_0001", "a b~c", "x".repeat(70).as_str()] {
            let slow: usize = clusters(text).map(cluster_width).sum();
            assert_eq!(width(text), slow);
            for max in [0, 1, 8, 64] {
                let (prefix, cut) = head(text, max * 4 + 8);
                assert_eq!(
                    fit(text, max),
                    truncate(&sanitize_line(prefix), max, cut > 0)
                );
            }
        }
    }

    #[test]
    fn formats_read_naturally() {
        assert_eq!(duration_ms(850), "850ms");
        assert_eq!(duration_ms(12_400), "12.4s");
        assert_eq!(duration_ms(62_000), "1m 02s");
        assert_eq!(duration_ms(7_500_000), "2h 05m");
        assert_eq!(dollars(42.13), "$0.4213");
        assert_eq!(dollars(0.0025), "<$0.0001");
        assert_eq!(dollars(0.0), "$0.0000");
        assert_eq!(thousands(12_345_678), "12,345,678");
        assert_eq!(thousands(999), "999");
    }
}
