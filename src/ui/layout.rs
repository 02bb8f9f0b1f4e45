//! Pure geometry: where each pane goes for a terminal size. Shared by the view and by `update`
//! (which needs the table's page height to scroll).

use ratatui::layout::{Constraint, Direction, Layout, Rect};

/// Below this size the screen shows only a "too small" notice.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;
/// The body (between header and footer) needs this many rows before the log pane opens in it.
pub const LOG_MIN_BODY: u16 = 16;

/// The panes of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub table: Rect,
    pub detail: Rect,
    pub log: Option<Rect>,
    pub footer: Rect,
}

/// Is the terminal big enough for the dashboard?
pub fn fits(area: Rect) -> bool {
    area.width >= MIN_WIDTH && area.height >= MIN_HEIGHT
}

/// Splits the screen: header, run table, detail pane, optional log pane, footer.
pub fn areas(area: Rect, show_log: bool) -> Areas {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(area);

    // The log pane opens only where the table and the detail keep a few rows of their own.
    let (main, log) = if show_log && body.height >= LOG_MIN_BODY {
        let [main, log] =
            Layout::vertical([Constraint::Percentage(65), Constraint::Percentage(35)]).areas(body);
        (main, Some(log))
    } else {
        (body, None)
    };

    // Wide terminals put the detail pane beside the table; narrow ones below it.
    let wide = main.width >= 160;
    let direction = if wide {
        Direction::Horizontal
    } else {
        Direction::Vertical
    };
    let constraints = if wide {
        [Constraint::Percentage(58), Constraint::Percentage(42)]
    } else {
        [Constraint::Percentage(55), Constraint::Percentage(45)]
    };
    let [table, detail] = Layout::default()
        .direction(direction)
        .constraints(constraints)
        .areas(main);

    Areas {
        header,
        table,
        detail,
        log,
        footer,
    }
}

/// How many runs the table shows at once (its height less borders and the column header).
pub fn table_rows(area: Rect, show_log: bool) -> usize {
    usize::from(areas(area, show_log).table.height.saturating_sub(3)).max(1)
}

/// How many text lines the detail pane shows at once.
pub fn detail_rows(area: Rect, show_log: bool) -> usize {
    usize::from(areas(area, show_log).detail.height.saturating_sub(2)).max(1)
}

/// How many cells wide the detail pane's text is (inside its borders).
pub fn detail_width(area: Rect, show_log: bool) -> usize {
    usize::from(areas(area, show_log).detail.width.saturating_sub(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panes_fill_the_screen_without_overlap() {
        for (w, h) in [(120, 40), (80, 24), (200, 50), (40, 12)] {
            for show_log in [false, true] {
                let area = Rect::new(0, 0, w, h);
                let a = areas(area, show_log);
                assert_eq!(a.header.y, 0);
                assert_eq!(a.footer.bottom(), h);
                assert!(!a.table.intersects(a.detail));
                if let Some(log) = a.log {
                    assert!(!log.intersects(a.table) && !log.intersects(a.detail));
                }
                assert!(table_rows(area, show_log) >= 1);
            }
        }
    }

    #[test]
    fn short_terminals_keep_the_table_and_leave_the_log_closed() {
        let short = areas(Rect::new(0, 0, 40, 12), true);
        assert_eq!(short.log, None);
        assert!(table_rows(Rect::new(0, 0, 40, 12), true) >= 1);
        let tall = areas(Rect::new(0, 0, 80, 24), true);
        assert!(tall.log.is_some_and(|log| log.height >= 5));
        assert!(tall.table.height >= 4 && tall.detail.height >= 3);
    }

    #[test]
    fn tiny_terminals_do_not_fit() {
        assert!(!fits(Rect::new(0, 0, 20, 5)));
        assert!(fits(Rect::new(0, 0, 80, 24)));
    }
}
