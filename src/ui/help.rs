//! The key list `?` opens over the screen: every key from [`keys::HELP`], in a box centred on
//! the screen. The next key closes it (see `update`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{text, theme};
use crate::app::keys;

/// Draws the key list over `area`, clipped to it on a small terminal.
pub fn render(frame: &mut Frame, area: Rect) {
    let key_width = keys::HELP
        .iter()
        .map(|(k, _)| text::width(k))
        .max()
        .unwrap_or(0);
    let what_width = keys::HELP
        .iter()
        .map(|(_, w)| text::width(w))
        .max()
        .unwrap_or(0);
    // Borders, a space either side, and two between the columns.
    let want_width = key_width + what_width + 6;
    let want_height = keys::HELP.len() + 2;
    let width = u16::try_from(want_width)
        .unwrap_or(u16::MAX)
        .min(area.width);
    let height = u16::try_from(want_height)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let room = usize::from(width.saturating_sub(2));
    let lines: Vec<Line> = keys::HELP
        .iter()
        .map(|(key, what)| {
            let key = format!(" {key:<key_width$}  ");
            let what = text::fit(what, room.saturating_sub(text::width(&key)));
            Line::from(vec![Span::styled(key, theme::key()), Span::raw(what)])
        })
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::border(true))
        .title(Span::styled(" Keys ", theme::title(true)))
        .title_bottom(Line::styled(" any key closes ", theme::muted()).right_aligned());
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
