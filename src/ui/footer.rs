//! The footer: one line of key hints from [`keys::HINTS`], or the filter prompt while it is
//! open. On narrow terminals hints that do not fit are dropped rather than wrapped; the quit hint
//! is the last to go.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{text, theme};
use crate::app::{App, FilterPrompt, Focus, keys};

/// Space between hints.
const GAP: &str = "  ";

/// Draws the key hints, or the filter prompt, into `area` (one row).
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    if let Some(prompt) = &app.filter_prompt {
        render_prompt(prompt, frame, area);
        return;
    }
    let mut hints: Vec<(&str, &str)> = keys::HINTS.to_vec();
    // What Esc does now, right after the filter's own hint, so it survives narrow terminals
    // as long as that does.
    let esc = if app.focus == Focus::Detail {
        Some(keys::BACK_TO_TABLE_HINT)
    } else {
        app.filter().is_active().then_some(keys::CLEAR_FILTER_HINT)
    };
    if let Some(esc) = esc {
        let at = hints.iter().position(|h| h.0 == "/").map_or(0, |i| i + 1);
        hints.insert(at, esc);
    }
    frame.render_widget(
        Paragraph::new(render_hints(&hints, usize::from(area.width))),
        area,
    );
}

/// ` / text▏  Enter keep  Esc cancel …`: the text's end (where the cursor is) stays visible, and
/// the terminal's cursor sits after it.
fn render_prompt(prompt: &FilterPrompt, frame: &mut Frame, area: Rect) {
    if area.is_empty() {
        return;
    }
    let room = usize::from(area.width);
    let lead = " / ";
    // Keep a cell for the cursor after the text.
    let text_room = room.saturating_sub(lead.len() + 1);
    let typed = text::fit_tail(&prompt.text, text_room);
    let typed_width = text::width(&typed);
    let mut spans = vec![
        Span::raw(" "),
        Span::styled("/", theme::key()),
        Span::raw(" "),
        Span::raw(typed),
    ];
    // The hints start with a space; the cell before it is the cursor's.
    let hints = render_hints(
        keys::PROMPT_HINTS,
        room.saturating_sub(lead.len() + typed_width + 1),
    );
    if hints.width() > 0 {
        spans.push(Span::raw(" "));
        spans.extend(hints.spans);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    let x = u16::try_from(lead.len() + typed_width).unwrap_or(u16::MAX);
    frame.set_cursor_position(Position::new(
        area.x.saturating_add(x).min(area.right().saturating_sub(1)),
        area.y,
    ));
}

/// The hints that fit in `room` cells, in table order; the last one is kept longest.
fn render_hints(hints: &[(&str, &str)], room: usize) -> Line<'static> {
    let cost = |(key, what): &(&str, &str)| text::width(key) + 1 + text::width(what) + GAP.len();
    let Some((last, rest)) = hints.split_last() else {
        return Line::default();
    };
    // Start from a leading space and the last hint, then add the others in order while they fit.
    let mut used = 1 + cost(last);
    let mut shown: Vec<&(&str, &str)> = Vec::new();
    // A hint that does not fit is skipped; a shorter one after it may still fit.
    for hint in rest {
        if used + cost(hint) > room {
            continue;
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
        spans.push(Span::styled(key.to_string(), theme::key()));
        spans.push(Span::styled(format!(" {what}"), theme::muted()));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyCode;

    use super::*;
    use crate::app::fixtures::{self, key};
    use crate::ui::testing::{draw, row_text};

    fn footer(app: &App, width: u16) -> ratatui::Terminal<ratatui::backend::TestBackend> {
        draw(width, 1, |frame| render(app, frame, frame.area()))
    }

    fn idle() -> App {
        fixtures::app_after(vec![fixtures::runs_msg(3)])
    }

    #[test]
    fn all_hints_on_a_wide_terminal() {
        let terminal = footer(&idle(), 120);
        insta::assert_snapshot!("footer_120", terminal.backend());
        let line = row_text(terminal.backend().buffer(), 0);
        for (key, what) in keys::HINTS {
            assert!(line.contains(&format!("{key} {what}")), "{line}");
        }
    }

    #[test]
    fn narrow_terminals_drop_hints_but_keep_quit() {
        for width in [60, 40, 20, 8] {
            let terminal = footer(&idle(), width);
            let line = row_text(terminal.backend().buffer(), 0);
            assert!(line.contains("q quit"), "{width}: {line:?}");
            assert!(!line.trim_end().ends_with(['/', '↓']), "{line:?}");
        }
        insta::assert_snapshot!("footer_40", footer(&idle(), 40).backend());
    }

    #[test]
    fn at_80_columns_filter_sort_and_focus_stay() {
        let line = row_text(footer(&idle(), 80).backend().buffer(), 0);
        for hint in [
            "/ filter",
            "s/S sort",
            "Tab table/detail",
            "l log",
            "q quit",
        ] {
            assert!(line.contains(hint), "{hint}: {line:?}");
        }
    }

    #[test]
    fn an_active_filter_adds_how_to_clear_it() {
        let app = fixtures::app_after(vec![
            fixtures::runs_msg(3),
            key(KeyCode::Char('/')),
            key(KeyCode::Char('x')),
            key(KeyCode::Enter),
        ]);
        let line = row_text(footer(&app, 120).backend().buffer(), 0);
        assert!(
            line.contains("/ filter  Esc clear filter  ? keys"),
            "{line:?}"
        );
        let line = row_text(footer(&idle(), 120).backend().buffer(), 0);
        assert!(!line.contains("Esc"), "{line:?}");
    }

    #[test]
    fn in_the_detail_pane_esc_says_it_goes_back_even_with_a_filter() {
        let mut app = fixtures::app_after(vec![
            fixtures::runs_msg(3),
            key(KeyCode::Char('/')),
            key(KeyCode::Char('r')),
            key(KeyCode::Enter),
            key(KeyCode::Enter),
        ]);
        assert_eq!(app.focus, crate::app::Focus::Detail);
        for width in [120, 60] {
            let line = row_text(footer(&app, width).backend().buffer(), 0);
            assert!(
                line.contains("/ filter  Esc back to table  ? keys"),
                "{width}: {line:?}"
            );
            assert!(!line.contains("clear filter"), "{width}: {line:?}");
        }
        // Where the Esc hint does not fit, the shorter hints after it still show.
        let line = row_text(footer(&app, 40).backend().buffer(), 0);
        assert!(line.contains("/ filter  ? keys  q quit"), "{line:?}");
        crate::app::update(&mut app, key(KeyCode::Esc));
        let line = row_text(footer(&app, 120).backend().buffer(), 0);
        assert!(line.contains("Esc clear filter"), "{line:?}");
    }

    #[test]
    fn open_prompt_shows_the_text_and_the_cursor_after_it() {
        let app = fixtures::app_after(vec![
            fixtures::runs_msg(3),
            key(KeyCode::Char('/')),
            key(KeyCode::Char('f')),
            key(KeyCode::Char('a')),
        ]);
        let mut terminal = footer(&app, 80);
        let line = row_text(terminal.backend().buffer(), 0);
        assert!(
            line.starts_with(" / fa  Enter keep  Ctrl-U clear  Esc cancel"),
            "{line:?}"
        );
        terminal.backend_mut().assert_cursor_position((5, 0));

        // A long text keeps its end (and the cursor) in view.
        let mut app = app;
        for c in "xxxxxxxxxxtail".chars() {
            crate::app::update(&mut app, key(KeyCode::Char(c)));
        }
        let mut terminal = footer(&app, 12);
        let line = row_text(terminal.backend().buffer(), 0);
        assert_eq!(line, " / …xxxtail ");
        terminal.backend_mut().assert_cursor_position((11, 0));
    }

    #[test]
    fn hints_never_wrap_or_overflow() {
        for width in 0..=100 {
            let line = render_hints(keys::HINTS, width);
            assert!(line.width() <= width, "{width}: {}", line.width());
        }
    }
}
