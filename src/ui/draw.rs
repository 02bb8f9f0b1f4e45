//! Text into the buffer exactly as ratatui's `Line` and `Paragraph` widgets put it, without
//! building the widgets, and with a shortcut for simple text: printable ASCII and the few
//! symbols the panes draw themselves ([`SYMBOLS`]), where every character is one glyph one cell
//! wide, so no grapheme segmentation is needed. Most of a frame is drawn this way.
//!
//! Only the cases the panes use take the shortcut; anything else is handed to ratatui itself.
//! The tests below hold both paths to ratatui's output, cell by cell and style by style.

use ratatui::buffer::{Buffer, CellWidth};
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

/// The panes' own symbols (status symbols, `—` for absent, `…`, sort arrows, rules, the
/// marker): each is one cell wide and a glyph of its own beside any of these or printable ASCII
/// (`symbols_are_single_cell_glyphs` checks). Others are drawn by ratatui.
const SYMBOLS: &str = "✔✖⊠⊗⧗⊖⊘●◉⏸◌◷◇—–…▲▼─│▶¢";

/// Printable ASCII and [`SYMBOLS`] only: one glyph and one cell per character.
fn is_simple(text: &str) -> bool {
    text.chars()
        .all(|c| (' '..='~').contains(&c) || SYMBOLS.contains(c))
}

/// Draws `line` into the first row of `area` as `Line`'s `Widget` impl does: the line's style
/// over the whole row (unless the line is empty), the text placed by its alignment.
pub fn line(line: &Line<'_>, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    let [span] = line.spans.as_slice() else {
        return line.render(area, buf);
    };
    let text = span.content.as_ref();
    let room = usize::from(area.width);
    if area.is_empty() || text.is_empty() || !is_simple(text) {
        return line.render(area, buf);
    }
    let width = text.chars().count();
    if width > room {
        return line.render(area, buf);
    }

    let row = Rect { height: 1, ..area };
    buf.set_style(row, line.style);
    let indent = match line.alignment {
        Some(Alignment::Center) => (room - width) / 2,
        Some(Alignment::Right) => room - width,
        Some(Alignment::Left) | None => 0,
    };
    // `Span` draws each glyph with its own style over a default base.
    let style = Style::default().patch(span.style);
    put_simple(
        buf,
        row.x + to_u16(indent),
        row.y,
        text,
        room - indent,
        style,
    );
}

/// Draws `lines`, one a row from the top of `area`, as `Paragraph::new(lines)` does (no wrap,
/// no style of its own, left-aligned lines): glyphs only, each in its line's and span's style,
/// cut at the right edge.
pub fn paragraph(lines: &[Line<'_>], area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    for (line, y) in lines.iter().zip(area.top()..area.bottom()) {
        if line.alignment.is_some_and(|a| a != Alignment::Left) {
            let row = Rect {
                y,
                height: 1,
                ..area
            };
            Paragraph::new(line.clone()).render(row, buf);
            continue;
        }
        let base = Style::default().patch(line.style);
        let mut x = 0;
        for span in &line.spans {
            let Some(next) = put_span(buf, area, y, x, span, base) else {
                break;
            };
            x = next;
        }
    }
}

/// One span of a paragraph's line from cell `x` of row `y`; the next cell, or `None` when the
/// line was cut at the edge (`Paragraph`'s line truncator drops the rest of the line).
fn put_span(
    buf: &mut Buffer,
    area: Rect,
    y: u16,
    x: usize,
    span: &Span<'_>,
    base: Style,
) -> Option<usize> {
    let room = usize::from(area.width);
    let text = span.content.as_ref();
    if is_simple(text) {
        let style = base.patch(span.style);
        let (drawn, cut) = put_simple(buf, area.x + to_u16(x), y, text, room - x, style);
        return (!cut).then_some(x + drawn);
    }
    let mut x = x;
    for grapheme in span.styled_graphemes(base) {
        let width = usize::from(grapheme.symbol.cell_width());
        if width > room {
            // Wider than the whole area: skipped, as the truncator skips it.
            continue;
        }
        if x + width > room {
            return None;
        }
        if width == 0 {
            continue;
        }
        let symbol = if grapheme.symbol.is_empty() {
            " "
        } else {
            grapheme.symbol
        };
        buf[(area.x + to_u16(x), y)]
            .set_symbol(symbol)
            .set_style(grapheme.style);
        x += width;
    }
    Some(x)
}

/// Simple text from `(x, y)` on, a character a cell, in `style`, at most `room` cells: how many
/// it drew, and whether it had to stop short.
fn put_simple(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    text: &str,
    room: usize,
    style: Style,
) -> (usize, bool) {
    // The row's cells as one slice: indexing the buffer by position per cell costs more than
    // drawing the cell. The callers keep `room` within the buffer's row.
    if room == 0 {
        return (0, !text.is_empty());
    }
    let start = buf.index_of(x, y);
    let row = &mut buf.content[start..start + room];
    let mut drawn = 0;
    for (i, c) in text.char_indices() {
        let Some(cell) = row.get_mut(drawn) else {
            return (drawn, true);
        };
        cell.set_symbol(&text[i..i + c.len_utf8()]).set_style(style);
        drawn += 1;
    }
    (drawn, false)
}

fn to_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use ratatui::style::{Color, Modifier, Stylize};

    use super::*;

    /// Lines of every kind the shortcut must tell apart: plain, styled, several spans, wide
    /// glyphs, combining marks, controls, empty, too long for the area, aligned.
    fn lines() -> Vec<Line<'static>> {
        let red = Style::new().fg(Color::Red);
        vec![
            Line::raw("plain ascii"),
            Line::styled("styled ascii", red),
            Line::styled("", red),
            Line::from(vec![
                Span::styled("Label           ", Style::new().fg(Color::DarkGray)),
                Span::styled("value", Style::new().bold()),
            ])
            .style(Style::new().bg(Color::Blue)),
            Line::raw("── Payload ──").add_modifier(Modifier::BOLD),
            Line::styled("● Executing", red).right_aligned(),
            Line::from(vec![Span::raw("✖ Failed "), Span::styled("—…▲", red)]),
            Line::raw("—"),
            Line::raw("●".repeat(50)),
            Line::from(vec![
                Span::raw("▶".repeat(19)),
                Span::raw("数"),
                Span::raw("a"),
            ]),
            Line::raw("数据导入任务 wide"),
            Line::raw("e\u{301}x 👩\u{200d}🔬 ok"),
            Line::raw("tab\there ctl\u{7}x"),
            Line::raw("x".repeat(300)),
            Line::from(vec![Span::raw("a".repeat(30)), Span::raw("数".repeat(30))]),
            Line::raw("right").right_aligned(),
            Line::styled("centre", red).centered(),
            Line::raw("数据").right_aligned(),
            Line::from(vec![Span::raw(""), Span::raw("after empty")]),
            Line::from(vec![
                Span::raw("x".repeat(20)),
                Span::raw(""),
                Span::raw("y"),
            ]),
            Line::default(),
        ]
    }

    fn areas() -> Vec<Rect> {
        vec![
            Rect::new(0, 0, 40, 20),
            Rect::new(3, 2, 17, 20),
            Rect::new(5, 1, 1, 3),
            Rect::new(2, 0, 2, 1),
            Rect::new(30, 18, 20, 5),
            Rect::new(20, 3, 20, 4),
            Rect::new(0, 0, 0, 5),
        ]
    }

    #[test]
    fn lines_draw_as_the_line_widget_draws_them() {
        for area in areas() {
            for line in lines() {
                let screen = Rect::new(0, 0, 40, 20);
                let (mut ours, mut theirs) = (Buffer::empty(screen), Buffer::empty(screen));
                super::line(&line, area, &mut ours);
                (&line).render(area, &mut theirs);
                assert_eq!(ours, theirs, "{line:?} in {area:?}");
            }
        }
    }

    #[test]
    fn symbols_are_single_cell_glyphs() {
        // Every pair of the symbols and a few ASCII characters, drawn both ways.
        let chars: Vec<char> = SYMBOLS.chars().chain(['a', ' ', '~', '0']).collect();
        let screen = Rect::new(0, 0, 12, 2);
        for a in &chars {
            for b in &chars {
                let text = format!("x{a}{b}{a}y");
                for line in [Line::raw(text.clone()), Line::raw(text).right_aligned()] {
                    let (mut ours, mut theirs) = (Buffer::empty(screen), Buffer::empty(screen));
                    super::line(&line, screen, &mut ours);
                    (&line).render(screen, &mut theirs);
                    assert_eq!(ours, theirs, "{line:?}");
                    let left = [line.clone().left_aligned()];
                    let (mut ours, mut theirs) = (Buffer::empty(screen), Buffer::empty(screen));
                    paragraph(&left, screen, &mut ours);
                    Paragraph::new(left.to_vec()).render(screen, &mut theirs);
                    assert_eq!(ours, theirs, "{line:?}");
                }
            }
        }
    }

    #[test]
    fn paragraphs_draw_as_the_paragraph_widget_draws_them() {
        for area in areas() {
            let screen = Rect::new(0, 0, 40, 20);
            let (mut ours, mut theirs) = (Buffer::empty(screen), Buffer::empty(screen));
            paragraph(&lines(), area, &mut ours);
            Paragraph::new(lines()).render(area, &mut theirs);
            assert_eq!(ours, theirs, "in {area:?}");
        }
    }
}
