//! The view: `view(&App, &mut Frame)` lays out the panes and delegates; it only reads the app.
//!
//! One file per pane, each with its snapshot tests below it: [`header`], [`run_table`],
//! [`detail`], [`log_pane`] and [`footer`], and the [`help`] box over them. Colours come only from [`theme`]; [`text`] makes run
//! data safe and fits it to widths. Geometry lives in [`layout`], which `update` shares.

pub mod detail;
pub mod draw;
pub mod footer;
pub mod header;
pub mod help;
pub mod layout;
pub mod log_pane;
pub mod run_table;
pub mod text;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::App;

/// Draws the whole screen from the app's state.
pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if !layout::fits(area) {
        render_too_small(frame, area);
        return;
    }
    let areas = layout::areas(area, app.show_log);
    header::render(app, frame, areas.header);
    run_table::render(app, frame, areas.table);
    detail::render(app, frame, areas.detail);
    if let Some(log) = areas.log {
        log_pane::render(frame, log);
    }
    footer::render(app, frame, areas.footer);
    if app.show_help {
        help::render(frame, area);
    }
}

/// Below the minimum size only a short notice is drawn, centred.
fn render_too_small(frame: &mut Frame, area: Rect) {
    if area.is_empty() {
        return;
    }
    let notice = format!(
        "terminal too small (need {}x{})",
        layout::MIN_WIDTH,
        layout::MIN_HEIGHT
    );
    let lines = if usize::from(area.width) >= notice.len() {
        1
    } else {
        2
    };
    let top = area.y + area.height.saturating_sub(lines) / 2;
    let middle = Rect {
        y: top,
        height: area.bottom() - top,
        ..area
    };
    let paragraph =
        Paragraph::new(Line::styled(notice, theme::warning()).centered()).wrap(Wrap { trim: true });
    frame.render_widget(paragraph, middle);
}

/// Helpers the panes' tests share: draw into a `TestBackend`, find text, check cells.
#[cfg(test)]
pub(crate) mod testing {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::{Buffer, CellWidth};

    use crate::app::App;

    /// A terminal of the given size after one draw.
    pub fn draw(
        width: u16,
        height: u16,
        render: impl FnOnce(&mut ratatui::Frame),
    ) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(render).unwrap();
        terminal
    }

    /// The whole screen at the app's size.
    pub fn screen(app: &App) -> Terminal<TestBackend> {
        draw(app.size.0, app.size.1, |frame| super::view(app, frame))
    }

    /// The visible cells of row `y` with their x, skipping those a wide glyph covers.
    fn row_cells(buffer: &Buffer, y: u16) -> Vec<(u16, &str)> {
        let mut cells = Vec::new();
        let mut skip = 0u16;
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            if skip == 0 {
                cells.push((x, cell.symbol()));
            }
            skip = skip.max(cell.cell_width()).saturating_sub(1);
        }
        cells
    }

    /// Row `y` as text.
    pub fn row_text(buffer: &Buffer, y: u16) -> String {
        row_cells(buffer, y).into_iter().map(|(_, s)| s).collect()
    }

    /// Where `needle` starts in row `y`.
    pub fn find_in_row(buffer: &Buffer, y: u16, needle: &str) -> Option<u16> {
        let mut text = String::new();
        let mut xs = Vec::new();
        for (x, symbol) in row_cells(buffer, y) {
            xs.extend(std::iter::repeat_n(x, symbol.len()));
            text.push_str(symbol);
        }
        text.find(needle).map(|i| xs[i])
    }

    /// Where `needle` first appears on screen, as (x, y).
    pub fn find(buffer: &Buffer, needle: &str) -> Option<(u16, u16)> {
        (0..buffer.area.height).find_map(|y| find_in_row(buffer, y, needle).map(|x| (x, y)))
    }

    /// What a terminal would show: each visible cell's position, symbol and style (cells under
    /// a wide glyph are left out; a diff-rendered backend may hold stale text there).
    pub fn visible(buffer: &Buffer) -> Vec<(u16, u16, String, ratatui::style::Style)> {
        (0..buffer.area.height)
            .flat_map(|y| {
                row_cells(buffer, y)
                    .into_iter()
                    .map(move |(x, symbol)| (x, y, symbol.to_string(), buffer[(x, y)].style()))
            })
            .collect()
    }

    /// Every row of the screen as text.
    pub fn screen_text(buffer: &Buffer) -> String {
        (0..buffer.area.height)
            .map(|y| row_text(buffer, y) + "\n")
            .collect()
    }

    /// No cell holds a control character or an invisible formatting character (CASES.md C13).
    pub fn assert_no_raw_controls(buffer: &Buffer) {
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                let symbol = buffer[(x, y)].symbol();
                let bad = symbol.chars().find(|&c| {
                    c.is_control()
                        || matches!(c as u32, 0x200b..=0x200c | 0x200e..=0x200f | 0x2028..=0x202e)
                        || matches!(c as u32, 0x2066..=0x2069 | 0xfeff)
                });
                assert!(bad.is_none(), "raw {bad:?} at ({x}, {y}) in {symbol:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crossterm::event::KeyCode;

    use super::testing::{draw, find, screen, screen_text};
    use crate::app::fixtures::{self, key};
    use crate::app::{Focus, Msg};
    use crate::client::{ExitReason, FeedEvent};

    #[test]
    fn empty_batch_while_connecting() {
        let app = fixtures::app_after(vec![]);
        insta::assert_snapshot!("screen_empty_connecting", screen(&app).backend());
    }

    #[test]
    fn live_batch_at_120x40() {
        let app = fixtures::app_after(vec![fixtures::runs_msg(30)]);
        insta::assert_snapshot!("screen_live_120x40", screen(&app).backend());
    }

    #[test]
    fn selected_failed_run_shows_its_error() {
        // Run 4 is the first COMPLETED_WITH_ERRORS row.
        let app = fixtures::app_after(vec![
            fixtures::runs_msg(30),
            key(KeyCode::Down),
            key(KeyCode::Down),
            key(KeyCode::Down),
        ]);
        assert_eq!(app.selected.as_deref(), Some("run_0004"));
        let terminal = screen(&app);
        insta::assert_snapshot!("screen_failed_run_selected", terminal.backend());
        let buffer = terminal.backend().buffer();
        assert!(
            find(
                buffer,
                "Cannot read properties of undefined (reading 'rows')"
            )
            .is_some()
        );
    }

    #[test]
    fn detail_focused_and_scrolled_to_the_end() {
        let app = fixtures::app_after(vec![
            fixtures::runs_msg(30),
            key(KeyCode::Char('j')),
            key(KeyCode::Char('j')),
            key(KeyCode::Char('j')),
            key(KeyCode::Tab),
            key(KeyCode::End),
        ]);
        assert_eq!(app.focus, Focus::Detail);
        insta::assert_snapshot!("screen_detail_scrolled_to_end", screen(&app).backend());
    }

    #[test]
    fn question_mark_shows_every_key_over_the_screen() {
        let app = fixtures::app_after(vec![fixtures::runs_msg(30), key(KeyCode::Char('?'))]);
        let terminal = screen(&app);
        insta::assert_snapshot!("screen_help_120x40", terminal.backend());
        let buffer = terminal.backend().buffer();
        for (keys, _) in crate::app::keys::HELP {
            assert!(find(buffer, keys).is_some(), "{keys} is not listed");
        }
        // On the smallest screen drawn every key still shows, clipped to the screen.
        let small = draw(40, 12, |frame| super::view(&app, frame));
        insta::assert_snapshot!("screen_help_40x12", small.backend());
        for (keys, _) in crate::app::keys::HELP {
            assert!(
                find(small.backend().buffer(), keys).is_some(),
                "{keys} at 40x12"
            );
        }
    }

    #[test]
    fn log_pane_open() {
        let app = fixtures::app_after(vec![fixtures::runs_msg(30), key(KeyCode::Char('l'))]);
        assert!(app.show_log);
        let terminal = screen(&app);
        insta::assert_snapshot!("screen_log_open", terminal.backend());
        assert!(find(terminal.backend().buffer(), "Log").is_some());
    }

    #[test]
    fn connection_failed() {
        let app = fixtures::app_after(vec![Msg::Feed(FeedEvent::Failed {
            reason: "404: batch batch_demo0001 not found".into(),
            detail: "no batch with this id in the project the key belongs to".into(),
            code: ExitReason::NotFound,
        })]);
        insta::assert_snapshot!("screen_connection_failed", screen(&app).backend());
    }

    #[test]
    fn reconnecting_keeps_the_runs() {
        let app = fixtures::app_after(vec![
            fixtures::runs_msg(30),
            Msg::Feed(FeedEvent::Reconnecting {
                reason: "HTTP 504".into(),
                detail: "gateway timeout".into(),
                attempt: 2,
                retry_in: Duration::from_millis(169),
            }),
        ]);
        let terminal = screen(&app);
        insta::assert_snapshot!("screen_reconnecting", terminal.backend());
        assert!(find(terminal.backend().buffer(), "run_0001").is_some());
    }

    #[test]
    fn terminal_80x24() {
        let app = fixtures::app_sized(80, 24, vec![fixtures::runs_msg(30)]);
        insta::assert_snapshot!("screen_80x24", screen(&app).backend());
    }

    #[test]
    fn terminal_20x5_is_too_small() {
        let app = fixtures::app_sized(20, 5, vec![fixtures::runs_msg(30)]);
        let terminal = screen(&app);
        insta::assert_snapshot!("screen_20x5_too_small", terminal.backend());
        let text = screen_text(terminal.backend().buffer());
        assert!(
            text.contains("terminal too small") && text.contains("(need 40x12)"),
            "{text}"
        );
        assert!(!text.contains("run_"));
    }

    #[test]
    fn every_size_draws_without_panicking() {
        let msgs = || {
            vec![
                fixtures::runs_msg(30),
                key(KeyCode::Char('l')),
                key(KeyCode::Tab),
            ]
        };
        for (w, h) in [
            (0, 0),
            (1, 1),
            (0, 40),
            (120, 0),
            (39, 12),
            (40, 11),
            (40, 12),
            (41, 13),
        ] {
            screen(&fixtures::app_sized(w, h, msgs()));
        }
        for w in (0..=200).step_by(7) {
            for h in (0..=60).step_by(5) {
                screen(&fixtures::app_sized(w, h, msgs()));
            }
        }
    }

    #[test]
    fn filter_prompt_open_with_text() {
        let mut msgs = vec![fixtures::runs_msg(30), key(KeyCode::Char('/'))];
        msgs.extend("status:fail".chars().map(|c| key(KeyCode::Char(c))));
        let app = fixtures::app_sized(100, 30, msgs);
        let mut terminal = screen(&app);
        insta::assert_snapshot!("screen_filter_prompt_100x30", terminal.backend());
        let buffer = terminal.backend().buffer();
        assert!(find(buffer, "Runs (4 of 30) · filter: status:fail").is_some());
        let (x, y) = find(buffer, "/ status:fail").unwrap();
        assert_eq!((x, y), (1, 29), "the prompt replaces the key hints");
        assert!(find(buffer, "q quit").is_none());
        terminal.backend_mut().assert_cursor_position((14, 29));
    }

    #[test]
    fn wide_terminal_puts_detail_beside_the_table() {
        let app = fixtures::app_sized(180, 30, vec![fixtures::runs_msg(30)]);
        insta::assert_snapshot!("screen_180x30", screen(&app).backend());
    }
}
