//! The footer: one line of key hints from [`keys::HINTS`]. On narrow terminals hints that do
//! not fit are dropped rather than wrapped; the quit hint is the last to go.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{text, theme};
use crate::app::keys;

/// Space between hints.
const GAP: &str = "  ";

/// Draws the key hints into `area` (one row).
pub fn render(frame: &mut Frame, area: Rect) {
    frame.render_widget(Paragraph::new(render_hints(usize::from(area.width))), area);
}

/// The hints that fit in `room` cells, in table order.
fn render_hints(room: usize) -> Line<'static> {
    let cost = |(key, what): &(&str, &str)| text::width(key) + 1 + text::width(what) + GAP.len();
    let Some((last, rest)) = keys::HINTS.split_last() else {
        return Line::default();
    };
    // Start from a leading space and the quit hint, then add the others in order while they fit.
    let mut used = 1 + cost(last);
    let mut shown: Vec<&(&str, &str)> = Vec::new();
    for hint in rest {
        if used + cost(hint) > room {
            break;
        }
        used += cost(hint);
        shown.push(hint);
    }
    if used <= room + GAP.len() {
        shown.push(last);
    }

    if shown.is_empty() {
        return Line::default();
    }
    let mut spans = vec![Span::raw(" ")];
    for (i, (key, what)) in shown.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(GAP));
        }
        spans.push(Span::styled(*key, theme::key()));
        spans.push(Span::styled(format!(" {what}"), theme::muted()));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::{draw, row_text};

    fn footer(width: u16) -> ratatui::Terminal<ratatui::backend::TestBackend> {
        draw(width, 1, |frame| render(frame, frame.area()))
    }

    #[test]
    fn all_hints_on_a_wide_terminal() {
        let terminal = footer(120);
        insta::assert_snapshot!("footer_120", terminal.backend());
        let line = row_text(terminal.backend().buffer(), 0);
        for (key, what) in keys::HINTS {
            assert!(line.contains(&format!("{key} {what}")), "{line}");
        }
    }

    #[test]
    fn narrow_terminals_drop_hints_but_keep_quit() {
        for width in [60, 40, 20, 8] {
            let terminal = footer(width);
            let line = row_text(terminal.backend().buffer(), 0);
            assert!(line.contains("q quit"), "{width}: {line:?}");
            assert!(!line.trim_end().ends_with(['/', '↓']), "{line:?}");
        }
        insta::assert_snapshot!("footer_40", footer(40).backend());
    }

    #[test]
    fn hints_never_wrap_or_overflow() {
        for width in 0..=90 {
            let line = render_hints(width);
            assert!(line.width() <= width, "{width}: {}", line.width());
        }
    }
}
