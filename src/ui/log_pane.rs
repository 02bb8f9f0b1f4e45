//! The log pane: tui-logger's widget in a bordered block titled "Log", shown when the user
//! toggles it. Log lines can quote run data or server bodies, so a formatter of our own makes
//! every message safe (escaped control characters) and bounded before it is drawn.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;
use tui_logger::{ExtLogRecord, LevelFilter, LogFormatter, TuiLoggerWidget};

use super::{text, theme};
use crate::sanitize::sanitize_multiline;

/// No more of one message than this is shown.
const MESSAGE_CAP: usize = 2_000;
/// Continuation rows are indented past the timestamp.
const INDENT: usize = 9;

/// Draws the log pane into `area`.
pub fn render(frame: &mut Frame, area: Rect) {
    let block = Block::bordered()
        .border_style(theme::border(false))
        .title(Line::styled(" Log ", theme::title(false)));
    let widget = TuiLoggerWidget::default()
        .block(block)
        .formatter(Box::new(SafeFormatter));
    frame.render_widget(widget, area);
}

/// Formats log events as `HH:MM:SS LEVEL target: message`, sanitized and wrapped.
struct SafeFormatter;

impl LogFormatter for SafeFormatter {
    fn min_width(&self) -> u16 {
        u16::try_from(INDENT).unwrap_or(9) + 4
    }

    fn format(&self, width: usize, evt: &ExtLogRecord) -> Vec<Line<'_>> {
        let time = evt.timestamp.strftime("%H:%M:%S").to_string();
        render_event(
            &time,
            evt.level.to_level_filter(),
            evt.target(),
            evt.msg(),
            width,
        )
    }
}

fn level_style(level: LevelFilter) -> (&'static str, Style) {
    match level {
        LevelFilter::Error => ("ERROR", theme::error()),
        LevelFilter::Warn => ("WARN ", theme::warning()),
        LevelFilter::Info => ("INFO ", Style::new()),
        LevelFilter::Debug => ("DEBUG", theme::muted()),
        LevelFilter::Trace | LevelFilter::Off => ("TRACE", theme::muted()),
    }
}

/// One event as rows of at most `width` cells: the first starts with the time, level and
/// target; continuation rows (wrapped or the message's own lines) are indented.
fn render_event(
    time: &str,
    level: LevelFilter,
    target: &str,
    msg: &str,
    width: usize,
) -> Vec<Line<'static>> {
    let (label, style) = level_style(level);
    let prefix = format!("{} {label} {}: ", text::fit(time, 8), text::fit(target, 40));
    let (msg, cut) = text::head(msg, MESSAGE_CAP);
    let mut msg = sanitize_multiline(msg);
    if cut > 0 {
        msg.push_str(&format!(" … {} more bytes", text::thousands(cut)));
    }

    let mut rows = Vec::new();
    let indent = " ".repeat(INDENT);
    for (i, line) in msg.split('\n').enumerate() {
        let first = if i == 0 {
            prefix.clone()
        } else {
            indent.clone()
        };
        for row in text::wrap_hanging(&format!("{first}{line}"), width, INDENT) {
            rows.push(Line::styled(row, style));
        }
    }
    if let Some(first) = rows.first_mut()
        && let Some(rest) = first
            .spans
            .first()
            .and_then(|s| s.content.strip_prefix(time))
    {
        let rest = rest.to_string();
        *first = Line::from(vec![
            Span::styled(time.to_string(), theme::muted()),
            Span::styled(rest, style),
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::{assert_no_raw_controls, draw};

    #[test]
    fn empty_log_pane() {
        let terminal = draw(80, 6, |frame| render(frame, frame.area()));
        insta::assert_snapshot!("log_pane_empty", terminal.backend());
    }

    #[test]
    fn messages_are_escaped_and_wrapped() {
        let msg = "feed error: \u{1b}]0;owned\u{7}\u{1b}[2J body <html>\r\nsecond line\u{202e}";
        let rows = render_event(
            "10:01:00",
            LevelFilter::Warn,
            "trigger_tui::client",
            msg,
            40,
        );
        let lines: Vec<String> = rows.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!("log_event_escaped", lines.join("\n"));
        for line in &rows {
            assert!(line.width() <= 40, "{line}");
        }
        assert_eq!(rows[0].spans[0].content, "10:01:00");
        let terminal = draw(40, rows.len() as u16, |frame| {
            for (y, line) in rows.iter().enumerate() {
                let area = Rect::new(0, y as u16, 40, 1);
                frame.render_widget(line.clone(), area);
            }
        });
        assert_no_raw_controls(terminal.backend().buffer());
    }

    #[test]
    fn huge_messages_are_cut() {
        let msg = "x".repeat(1_000_000);
        let rows = render_event("10:01:00", LevelFilter::Debug, "t", &msg, 100);
        assert!(rows.len() < 30, "{}", rows.len());
        assert!(
            rows.last()
                .unwrap()
                .to_string()
                .contains("998,000 more bytes")
        );
    }
}
