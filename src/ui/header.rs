//! The header: a three-line bordered block titled "trigger-tui". The top border names the batch
//! and where the feed comes from, the bottom border the connection state and the age of the
//! data, and the line between sums the batch up: progress, cost and counts per status.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::{text, theme};
use crate::app::{App, Connection};
use crate::model::RunStatus;

/// Draws the header into `area` (three rows).
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    // Border titles share the width: two corners and a space either side of each title.
    let room = usize::from(area.width.saturating_sub(4));
    let title = render_title(app, room);
    let source_room = room.saturating_sub(title.width() + 2);
    let updated = render_updated(app);
    let state_room = room.saturating_sub(updated.width() + 2);

    let mut block = Block::bordered()
        .border_style(theme::muted())
        .title(title)
        .title_bottom(render_connection(&app.connection, state_room));
    if source_room > 4 {
        let source = format!(" {} ", text::fit(&app.source, source_room - 2));
        block = block.title(Line::styled(source, theme::muted()).right_aligned());
    }
    if state_room > 12 {
        block = block.title_bottom(updated.right_aligned());
    }

    let inner = block.inner(area);
    frame.render_widget(block, area);
    let summary = render_summary(app, usize::from(inner.width));
    frame.render_widget(Paragraph::new(summary), inner);
}

/// ` trigger-tui · batch_… `, the batch id cut to fit.
fn render_title(app: &App, room: usize) -> Line<'static> {
    let name = " trigger-tui ";
    let batch_room = room.saturating_sub(text::width(name) + 3);
    let mut spans = vec![Span::styled(name, theme::title(true))];
    if batch_room > 4 {
        spans.push(Span::styled("· ", theme::muted()));
        spans.push(Span::styled(
            format!("{} ", text::fit(&app.batch_id, batch_room)),
            theme::heading(),
        ));
    }
    Line::from(spans)
}

/// The connection state, coloured: yellow while reconnecting, red once failed.
fn render_connection(connection: &Connection, room: usize) -> Line<'static> {
    let (label, style) = match connection {
        Connection::Connecting => ("◌ Connecting…".to_string(), Style::new()),
        Connection::Live => ("● live".to_string(), theme::ok()),
        Connection::Reconnecting {
            reason,
            attempt,
            retry_in,
        } => {
            let retry = text::duration_ms(i64::try_from(retry_in.as_millis()).unwrap_or(i64::MAX));
            let reason = text::fit(reason, 60);
            let label = format!("⟳ reconnecting (attempt {attempt}, {reason}, retry in {retry})");
            (label, theme::warning())
        }
        Connection::Failed { reason, .. } => (
            format!("✖ failed: {} (l: details)", text::fit(reason, 80)),
            theme::error(),
        ),
        Connection::Ended => ("■ end of the recorded session".to_string(), theme::muted()),
    };
    let label = text::truncate(&label, room.saturating_sub(2), false);
    Line::styled(format!(" {label} "), style)
}

/// ` updated 4s ago `, or ` no data yet `.
fn render_updated(app: &App) -> Line<'static> {
    let label = match app.last_update {
        Some(at) => format!(" updated {} ", text::ago(at, app.now)),
        None => " no data yet ".to_string(),
    };
    Line::styled(label, theme::muted())
}

/// The summary line: a failed feed's explanation first, then progress, cost and the counts
/// per status in lifecycle order, as many as fit.
fn render_summary(app: &App, room: usize) -> Line<'static> {
    // Each group is kept or dropped whole, with its separator.
    let mut groups: Vec<Vec<Span<'static>>> = Vec::new();
    if let Connection::Failed { detail, .. } = &app.connection {
        let detail = format!("{} ", text::fit(detail, room / 2));
        groups.push(vec![
            Span::styled(detail, theme::error()),
            Span::styled("│ ", theme::muted()),
        ]);
    }
    let summary = &app.summary;
    let expected = match app.batch_info.as_ref().and_then(|b| b.run_count) {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => summary.total(),
    };
    let done = format!(
        "done {}/{}",
        text::thousands(summary.finished()),
        text::thousands(expected)
    );
    groups.push(vec![Span::styled(done, theme::heading())]);
    groups.push(vec![
        Span::styled(" · ", theme::muted()),
        Span::raw(text::dollars(summary.cost_cents())),
    ]);
    // Counts with their names when they all fit; else with short names; else symbol and count
    // only (the colour and symbol still say which), so every status stays visible as long as
    // possible.
    let counts = |names: Names| -> Vec<Vec<Span<'static>>> {
        summary
            .counts()
            .enumerate()
            .map(|(i, (status, count))| {
                let separator = match (i, names) {
                    (0, _) => " │ ",
                    (_, Names::Full) => "  ",
                    _ => " ",
                };
                let symbol = theme::status_symbol(status);
                let count = text::thousands(count);
                let label = match names {
                    Names::Full => format!("{symbol} {count} {}", text::fit(status.label(), 24)),
                    Names::Short => format!("{symbol}{count} {}", short_label(status)),
                    Names::None => format!("{symbol}{count}"),
                };
                vec![
                    Span::styled(separator, theme::muted()),
                    Span::styled(label, theme::status_style(status, &app.colors)),
                ]
            })
            .collect()
    };
    let width = |groups: &[Vec<Span>]| -> usize {
        groups.iter().flat_map(|g| g.iter().map(Span::width)).sum()
    };
    let fixed = width(&groups);
    let chosen = [Names::Full, Names::Short]
        .into_iter()
        .map(counts)
        .find(|c| fixed + width(c) <= room)
        .unwrap_or_else(|| counts(Names::None));
    groups.extend(chosen);
    render_fitted(groups, room)
}

/// How the summary names each status count.
#[derive(Clone, Copy)]
enum Names {
    Full,
    Short,
    None,
}

/// A status's name in a word of a few letters, for a header too narrow for the full names.
fn short_label(status: &RunStatus) -> String {
    let short = match status {
        RunStatus::PendingVersion => "pend",
        RunStatus::Delayed => "delay",
        RunStatus::Queued => "queue",
        RunStatus::Dequeued => "deq",
        RunStatus::Executing => "run",
        RunStatus::Waiting => "wait",
        RunStatus::Completed => "ok",
        RunStatus::Canceled => "cancel",
        RunStatus::Failed => "fail",
        RunStatus::Crashed => "crash",
        RunStatus::SystemFailure => "sysfail",
        RunStatus::Expired => "exp",
        RunStatus::TimedOut => "t/o",
        RunStatus::Unknown(name) => return text::fit(name, 12),
    };
    short.to_string()
}

/// Keeps whole groups while they fit, then marks what was left out with ` …`.
fn render_fitted(groups: Vec<Vec<Span<'static>>>, room: usize) -> Line<'static> {
    let width = |group: &[Span]| group.iter().map(Span::width).sum::<usize>();
    let total: usize = groups.iter().map(|g| width(g)).sum();
    if total <= room {
        return Line::from(groups.concat());
    }
    let mut used = 0;
    let mut kept = Vec::new();
    for group in groups {
        let w = width(&group);
        if used + w + 2 > room {
            break;
        }
        used += w;
        kept.extend(group);
    }
    if used + 2 <= room {
        kept.push(Span::styled(" …", theme::muted()));
    }
    Line::from(kept)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeDelta;
    use ratatui::style::Color;

    use super::*;
    use crate::app::Msg;
    use crate::app::fixtures;
    use crate::client::{BatchInfo, ExitReason, FeedEvent};
    use crate::ui::testing::{draw, find};

    fn header(app: &App, width: u16) -> ratatui::Terminal<ratatui::backend::TestBackend> {
        draw(width, 3, |frame| render(app, frame, frame.area()))
    }

    fn batch_info(run_count: u64) -> Msg {
        Msg::Feed(FeedEvent::BatchInfo(BatchInfo {
            id: "batch_demo0001".into(),
            status: Some("PROCESSING".into()),
            run_count: Some(run_count),
        }))
    }

    #[test]
    fn connecting_before_any_data() {
        let app = fixtures::app_after(vec![]);
        insta::assert_snapshot!("header_connecting", header(&app, 120).backend());
    }

    #[test]
    fn live_batch_counts_cost_and_progress() {
        let later = fixtures::now() + TimeDelta::seconds(7);
        let app = fixtures::app_after(vec![
            batch_info(40),
            fixtures::runs_msg(30),
            Msg::Tick(later),
        ]);
        let terminal = header(&app, 120);
        insta::assert_snapshot!("header_live", terminal.backend());
        let buffer = terminal.backend().buffer();
        assert!(
            find(buffer, "done 14/40").is_some(),
            "run_count is the denominator"
        );
        assert!(find(buffer, "updated 7s ago").is_some());
    }

    #[test]
    fn reconnecting_is_yellow_with_attempt_and_delay() {
        let app = fixtures::app_after(vec![
            fixtures::runs_msg(5),
            Msg::Feed(FeedEvent::Reconnecting {
                reason: "HTTP 503".into(),
                detail: "server error".into(),
                attempt: 3,
                retry_in: Duration::from_millis(1_250),
            }),
        ]);
        let terminal = header(&app, 120);
        insta::assert_snapshot!("header_reconnecting", terminal.backend());
        let buffer = terminal.backend().buffer();
        let (x, y) = find(
            buffer,
            "⟳ reconnecting (attempt 3, HTTP 503, retry in 1.2s)",
        )
        .unwrap();
        assert_eq!(buffer[(x, y)].fg, Color::Yellow);
    }

    #[test]
    fn failed_feed_is_red_and_says_why() {
        let app = fixtures::app_after(vec![Msg::Feed(FeedEvent::Failed {
            reason: "401 unauthorized: bad key or token".into(),
            detail: "the server rejected the key; check TRIGGER_SECRET_KEY".into(),
            code: ExitReason::Auth,
        })]);
        let terminal = header(&app, 120);
        insta::assert_snapshot!("header_failed", terminal.backend());
        let buffer = terminal.backend().buffer();
        let (x, y) = find(buffer, "✖ failed: 401 unauthorized").unwrap();
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        assert!(find(buffer, "check TRIGGER_SECRET_KEY").is_some());
    }

    #[test]
    fn narrow_header_drops_what_does_not_fit() {
        let app = fixtures::app_after(vec![fixtures::runs_msg(30)]);
        insta::assert_snapshot!("header_40_wide", header(&app, 40).backend());
    }

    #[test]
    fn counts_carry_status_colours() {
        let app = fixtures::app_after(vec![fixtures::runs_msg(30)]);
        let terminal = header(&app, 160);
        let buffer = terminal.backend().buffer();
        let (x, y) = find(buffer, "✖ 4 Failed").unwrap();
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        let (x, y) = find(buffer, "✔ 7 Completed").unwrap();
        assert_eq!(buffer[(x, y)].fg, Color::Green);
    }

    #[test]
    fn narrower_headers_shorten_the_names_and_keep_the_failures_apart() {
        let mut msgs = vec![fixtures::runs_msg(30)];
        for (n, status) in [(31, "CRASHED"), (32, "SYSTEM_FAILURE")] {
            msgs.push(fixtures::one_run_msg(fixtures::run(n, status)));
        }
        let app = fixtures::app_after(msgs);
        let full = header(&app, 200);
        assert!(find(full.backend().buffer(), "⊠ 1 Crashed").is_some());
        let short = header(&app, 110);
        let buffer = short.backend().buffer();
        for text in ["✖4 fail", "⊠1 crash", "⊗1 sysfail", "✔7 ok"] {
            assert!(
                find(buffer, text).is_some(),
                "{text} in {:?}",
                short.backend()
            );
        }
        // Too narrow for any name: symbol and count, and the three failures still differ.
        let bare = header(&app, 70);
        let buffer = bare.backend().buffer();
        for text in ["✖4", "⊠1", "⊗1"] {
            assert!(
                find(buffer, text).is_some(),
                "{text} in {:?}",
                bare.backend()
            );
        }
        assert!(find(buffer, "fail").is_none());
    }
}
