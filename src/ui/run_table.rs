//! The run table: one row per shown run (the filter's matches in the sort's order, kept by
//! `update`), only the rows that fit on screen. Nothing is filtered or sorted here.
//!
//! Every cell is made safe and cut to its column by display width here, before ratatui sees it,
//! so wide glyphs never push a column out of line (CASES.md C12) and no control character from
//! run data reaches the terminal (C13). Columns that do not fit narrow terminals are dropped,
//! least useful first.

use std::borrow::Cow;
use std::fmt::Write;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use super::text::{self, ABSENT};
use super::{draw, theme};
use crate::app::{App, Connection, Focus, Sort, SortColumn};
use crate::model::Run;
use crate::model::status::display_label;

/// The selection marker, and the cells it takes left of every row.
const MARKER: &str = "▶ ";
const MARKER_WIDTH: u16 = 2;
/// No cell is built wider than this, however long the value.
const CELL_CAP: usize = 64;

/// The table's columns, in screen order (the order of [`COLUMNS`] and of [`RowText`]'s cells).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Number,
    Id,
    Task,
    Status,
    Started,
    Duration,
    Cost,
    Tags,
}

const COLUMNS: [Column; 8] = [
    Column::Number,
    Column::Id,
    Column::Task,
    Column::Status,
    Column::Started,
    Column::Duration,
    Column::Cost,
    Column::Tags,
];

/// Columns given up on narrow terminals, first to go first.
const DROP_ORDER: [Column; 3] = [Column::Tags, Column::Cost, Column::Started];

impl Column {
    fn title(self) -> &'static str {
        match self {
            Column::Number => "#",
            Column::Id => "Run ID",
            Column::Task => "Task",
            Column::Status => "Status",
            Column::Started => "Started",
            Column::Duration => "Duration",
            Column::Cost => "Cost",
            Column::Tags => "Tags",
        }
    }

    /// The column the table can be sorted by, if any.
    fn sort_column(self) -> Option<SortColumn> {
        match self {
            Column::Number => Some(SortColumn::Number),
            Column::Task => Some(SortColumn::Task),
            Column::Status => Some(SortColumn::Status),
            Column::Started => Some(SortColumn::Started),
            Column::Duration => Some(SortColumn::Duration),
            Column::Cost => Some(SortColumn::Cost),
            Column::Id | Column::Tags => None,
        }
    }

    /// The header: the title, with an arrow on the sorted column.
    fn heading(self, sort: Sort) -> String {
        if self.sort_column() != Some(sort.column) {
            return self.title().to_string();
        }
        let arrow = if sort.descending { "▼" } else { "▲" };
        format!("{} {arrow}", self.title())
    }

    fn right_aligned(self) -> bool {
        matches!(self, Column::Number | Column::Duration | Column::Cost)
    }
}

/// One run's cells, safe and at most [`CELL_CAP`] cells wide, before fitting to the columns.
/// They are kept end to end in one string (one allocation a row, not one a cell).
struct RowText {
    text: String,
    /// Where each cell ends in `text`, in [`COLUMNS`] order.
    ends: [usize; 8],
    status_style: Style,
}

impl RowText {
    fn new(run: &Run, app: &App) -> Self {
        let mut text = String::with_capacity(160);
        let mut ends = [0; 8];
        match run.number {
            Some(n) => {
                let _ = write!(text, "{n}");
            }
            None => text.push_str(ABSENT),
        }
        ends[0] = text.len();
        text::push_fit(&mut text, &run.id, CELL_CAP);
        ends[1] = text.len();
        match run.task_identifier.as_deref() {
            Some(task) => text::push_fit(&mut text, task, CELL_CAP),
            None => text.push_str(ABSENT),
        }
        ends[2] = text.len();
        text.push_str(theme::status_symbol(&run.status));
        text.push(' ');
        let label = display_label(&run.status, &run.db_status);
        text::push_fit(&mut text, label, CELL_CAP);
        ends[3] = text.len();
        text.push_str(&text::clock(run.started_at.as_ref()));
        ends[4] = text.len();
        match text::run_duration(run, app.now) {
            Some(duration) => text.push_str(&duration),
            None => text.push_str(ABSENT),
        }
        ends[5] = text.len();
        match run.total_cost_cents() {
            Some(cents) => text.push_str(&text::dollars(cents)),
            None => text.push_str(ABSENT),
        }
        ends[6] = text.len();
        let tags = text.len();
        for (i, tag) in run.tags.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            text::push_fit(&mut text, tag, CELL_CAP);
        }
        if text::width(&text[tags..]) > CELL_CAP {
            let cut = text::truncate(&text[tags..], CELL_CAP, false);
            text.truncate(tags);
            text.push_str(&cut);
        }
        ends[7] = text.len();
        Self {
            text,
            ends,
            status_style: theme::status_style(&run.status, &app.colors),
        }
    }

    fn cell(&self, column: Column) -> &str {
        let i = column_index(column);
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    fn width(&self, column: Column) -> u16 {
        u16::try_from(text::width(self.cell(column))).unwrap_or(u16::MAX)
    }
}

/// Where a column's text sits in [`RowText`]: the enum is declared in screen order.
fn column_index(column: Column) -> usize {
    column as usize
}

/// Draws the run table into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Focus::Table;
    let (total, shown) = (app.runs.len(), app.runs.shown_len());
    let filter = app.filter();
    let title = if filter.is_active() {
        format!(
            " Runs ({} of {}) · filter: {} ",
            text::thousands(shown),
            text::thousands(total),
            text::fit(filter.text().trim(), usize::from(area.width / 2))
        )
    } else {
        format!(" Runs ({}) ", text::thousands(total))
    };
    let mut block = Block::bordered()
        .border_style(theme::border(focused))
        .title(Line::styled(title, theme::title(focused)));
    if let Some(i) = app.selected_index() {
        let position = format!(" {}/{} ", text::thousands(i + 1), text::thousands(shown));
        block = block.title_bottom(Line::styled(position, theme::muted()).right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);

    if total == 0 {
        render_waiting(app, frame, inner);
        return;
    }
    if shown == 0 {
        render_no_match(app, frame, inner);
        return;
    }
    let page = usize::from(inner.height.saturating_sub(1));
    if page == 0 || inner.width <= MARKER_WIDTH {
        return;
    }

    render_grid(
        &Grid::new(app, page, inner.width),
        inner,
        frame.buffer_mut(),
    );
}

/// What the table draws inside its border: the column headings and the rows on screen.
struct Grid {
    columns: Vec<(Column, u16)>,
    rows: Vec<RowText>,
    /// The selected row among `rows`, if it is on screen.
    selected: Option<usize>,
    sort: Sort,
    focused: bool,
}

impl Grid {
    /// The `page` rows on screen, in columns planned for `width` cells (more than the marker).
    fn new(app: &App, page: usize, width: u16) -> Self {
        // Only the rows on screen are built, however many runs the batch has.
        let offset = window(app, page);
        let rows: Vec<RowText> = app
            .runs
            .shown_range(offset, page)
            .map(|run| RowText::new(run, app))
            .collect();
        let end = offset + rows.len();
        Self {
            columns: plan(&rows, app.runs.max_number(), width - MARKER_WIDTH),
            selected: app
                .selected_index()
                .filter(|i| (offset..end).contains(i))
                .map(|i| i - offset),
            rows,
            sort: app.runs.sort(),
            focused: app.focus == Focus::Table,
        }
    }
}

/// Draws the grid into `inner` exactly as ratatui's `Table` (a highlight column of
/// [`MARKER_WIDTH`], one cell between columns, the selected row's style over the whole row) would,
/// but straight into the buffer: the widget wants every cell as an owned `Text` in a `Row`,
/// built and dropped every frame, and restyles each cell area several times over. The test
/// `grid_draws_as_the_table_widget_would` holds the two to the same cells and styles.
fn render_grid(grid: &Grid, inner: Rect, buf: &mut Buffer) {
    // The columns' places, solved as `Table` solves them (the layout cache makes this cheap).
    let [_, columns_area] =
        Layout::horizontal([Constraint::Length(MARKER_WIDTH), Constraint::Fill(0)])
            .areas(Rect::new(0, 0, inner.width, 1));
    let places = Layout::horizontal(grid.columns.iter().map(|&(_, w)| Constraint::Length(w)))
        .flex(Flex::Start)
        .spacing(1)
        .split(columns_area);
    let cells = |y: u16| {
        grid.columns
            .iter()
            .zip(places.iter())
            .map(move |(&planned, place)| {
                (planned, Rect::new(inner.x + place.x, y, place.width, 1))
            })
    };

    for (planned, area) in cells(inner.y) {
        let heading = planned.0.heading(grid.sort);
        render_cell(&heading, planned, area, theme::heading(), buf);
    }
    let rows = grid.rows.iter().zip(inner.y + 1..inner.bottom());
    for (i, (row, y)) in rows.enumerate() {
        if grid.selected == Some(i) {
            draw::line(
                &Line::raw(MARKER),
                Rect::new(inner.x, y, MARKER_WIDTH, 1),
                buf,
            );
        }
        for (planned, area) in cells(y) {
            let column = planned.0;
            let style = if column == Column::Status {
                row.status_style
            } else {
                cell_style(column)
            };
            render_cell(row.cell(column), planned, area, style, buf);
        }
    }
    if let Some(i) = grid.selected {
        let y = inner.y + 1 + u16::try_from(i).unwrap_or(u16::MAX);
        let row = Rect {
            y,
            height: 1,
            ..inner
        }
        .intersection(inner);
        buf.set_style(row, theme::selected_row(grid.focused));
    }
}

/// An empty batch: say what we are waiting for, centred.
fn render_waiting(app: &App, frame: &mut Frame, inner: Rect) {
    let (message, style) = match app.connection {
        Connection::Failed { .. } => ("No runs: the feed failed (see above)", theme::error()),
        _ if app.batch_done() => ("This batch has no runs", theme::muted()),
        _ => ("Waiting for runs…", theme::muted()),
    };
    render_centred(frame, inner, message, style);
}

/// Runs, but none the filter matches: say so, and how to get them back.
fn render_no_match(app: &App, frame: &mut Frame, inner: Rect) {
    let filter = text::fit(app.filter().text().trim(), 40);
    let message = if app.filter_prompt.is_some() {
        format!("No run matches the filter \"{filter}\"")
    } else {
        format!("No run matches the filter \"{filter}\" — Esc clears it")
    };
    render_centred(frame, inner, &message, theme::warning());
}

/// One line in the middle of `inner`, cut to its width.
fn render_centred(frame: &mut Frame, inner: Rect, message: &str, style: Style) {
    if inner.height == 0 {
        return;
    }
    let message = text::truncate(message, usize::from(inner.width), false);
    let middle = Rect {
        y: inner.y + inner.height.saturating_sub(1) / 2,
        height: 1,
        ..inner
    };
    frame.render_widget(
        Paragraph::new(Line::styled(message, style).centered()),
        middle,
    );
}

/// The first run on screen: the app's offset, moved if need be so the selection is visible at
/// this frame's height (the app may not have seen the latest resize yet).
fn window(app: &App, page: usize) -> usize {
    let max_offset = app.runs.shown_len().saturating_sub(page);
    let mut offset = app.table_offset.min(max_offset);
    if let Some(i) = app.selected_index() {
        if i < offset {
            offset = i;
        } else if i >= offset + page {
            offset = i + 1 - page;
        }
    }
    offset
}

fn cell_style(column: Column) -> Style {
    match column {
        Column::Number | Column::Started | Column::Tags => theme::muted(),
        _ => Style::new(),
    }
}

/// A cell cut to its column's planned width on a glyph boundary, so ratatui never has to cut it
/// (unless the columns did not fit even the narrowest plan and the layout squeezed them).
fn render_cell(
    content: &str,
    (column, width): (Column, u16),
    area: Rect,
    style: Style,
    buf: &mut Buffer,
) {
    let width = usize::from(width);
    let content = if width > 0 && text::width(content) <= width {
        Cow::Borrowed(content)
    } else {
        Cow::Owned(text::truncate(content, width, false))
    };
    let line = Line::styled(content, style);
    if column.right_aligned() {
        draw::line(&line.right_aligned(), area, buf);
    } else {
        draw::line(&line, area, buf);
    }
}

/// Chooses the columns and their widths for `room` cells: fixed columns at their natural width,
/// the run id and task as wide as their longest visible value (within limits), tags taking the
/// rest. When even the minimum does not fit, columns go in [`DROP_ORDER`].
fn plan(visible: &[RowText], widest_number: i64, room: u16) -> Vec<(Column, u16)> {
    // Every sortable heading keeps room for the arrow, so moving the sort never moves columns.
    let heading = |column: Column| {
        let arrow = if column.sort_column().is_some() { 2 } else { 0 };
        u16::try_from(text::width(column.title()) + arrow).unwrap_or(0)
    };
    let widest = |column: Column| {
        visible
            .iter()
            .map(|r| r.width(column))
            .max()
            .unwrap_or(0)
            .max(heading(column))
    };
    let number = u16::try_from(widest_number.to_string().len())
        .unwrap_or(1)
        .max(heading(Column::Number));
    // Known labels are at most 15 cells ("Pending version"); room for a longer unknown one.
    let status = widest(Column::Status).clamp(17, 24);
    let id = widest(Column::Id);
    let task = widest(Column::Task).min(32);
    let fixed_width = |column: Column| match column {
        Column::Number => number,
        Column::Status => status,
        Column::Started | Column::Duration | Column::Cost => heading(column).max(8),
        Column::Id | Column::Task | Column::Tags => 0,
    };
    let (id_min, task_min, tags_min) = (id.min(12), task.min(16), 8);

    for dropped in 0..=DROP_ORDER.len() {
        let shown: Vec<Column> = COLUMNS
            .iter()
            .copied()
            .filter(|c| !DROP_ORDER[..dropped].contains(c))
            .collect();
        let has_tags = shown.contains(&Column::Tags);
        let spacing = u16::try_from(shown.len() - 1).unwrap_or(0);
        let fixed: u16 = shown.iter().map(|&c| fixed_width(c)).sum();
        let need = fixed + spacing + id_min + task_min + if has_tags { tags_min } else { 0 };
        if need > room {
            continue;
        }
        let mut extra = room - need;
        let mut grow = |from: u16, to: u16| {
            let by = to.saturating_sub(from).min(extra);
            extra -= by;
            from + by
        };
        let task = grow(task_min, task);
        let id = grow(id_min, id);
        let tags = tags_min + extra;
        return shown
            .into_iter()
            .map(|c| {
                let width = match c {
                    Column::Id => id,
                    Column::Task => task,
                    Column::Tags => tags,
                    other => fixed_width(other),
                };
                (c, width)
            })
            .collect();
    }

    // Narrower still: number, id, task and a shorter status share what there is.
    let status = status.min(12);
    let rest = room.saturating_sub(number + status + 3);
    let id = id.min((rest / 2).max(4));
    vec![
        (Column::Number, number),
        (Column::Id, id),
        (Column::Task, rest.saturating_sub(id)),
        (Column::Status, status),
    ]
}

#[cfg(test)]
mod tests {

    use crossterm::event::KeyCode;
    use ratatui::style::Color;

    use super::*;
    use crate::app::fixtures::{self, key};
    use crate::app::{Msg, update};
    use crate::ui::testing::{assert_no_raw_controls, draw, find, find_in_row, row_text, visible};

    fn table(
        app: &App,
        width: u16,
        height: u16,
    ) -> ratatui::Terminal<ratatui::backend::TestBackend> {
        draw(width, height, |frame| render(app, frame, frame.area()))
    }

    /// A run whose row has these columns replaced (later pairs win in the row decoder).
    fn run_with(n: usize, status: &str, changes: &[(&str, &str)]) -> Msg {
        let mut row = fixtures::row(n, status);
        for (column, value) in changes {
            row.push(((*column).to_string(), Some((*value).to_string())));
        }
        fixtures::one_run_msg(Run::from_row(row.as_slice(), &fixtures::schema()))
    }

    #[test]
    fn live_batch_rows() {
        let app = fixtures::app_after(vec![fixtures::runs_msg(30)]);
        insta::assert_snapshot!("table_live_120x22", table(&app, 120, 22).backend());
    }

    #[test]
    fn empty_batch_waits_for_runs() {
        let app = fixtures::app_after(vec![]);
        let terminal = table(&app, 80, 12);
        insta::assert_snapshot!("table_empty", terminal.backend());
        let (x, y) = find(terminal.backend().buffer(), "Waiting for runs…").unwrap();
        assert_eq!(y, 5, "vertically centred");
        let (left, right) = (x - 1, 79 - (x + 17));
        assert!(
            left.abs_diff(right) <= 1,
            "horizontally centred: {left} vs {right}"
        );
    }

    #[test]
    fn failed_status_cell_is_red() {
        let app = fixtures::app_after(vec![fixtures::runs_msg(8)]);
        let terminal = table(&app, 120, 14);
        let buffer = terminal.backend().buffer();
        // Run 4 is COMPLETED_WITH_ERRORS: API status FAILED.
        let (x, y) = find(buffer, "✖ Failed").unwrap();
        assert!(row_text(buffer, y).contains("run_0004"));
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        assert_eq!(buffer[(x + 2, y)].fg, Color::Red);
        let (x, y) = find(buffer, "✔ Completed").unwrap();
        assert_eq!(buffer[(x, y)].fg, Color::Green);
    }

    #[test]
    fn colour_overrides_from_the_config_apply() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(8)]);
        app.colors.insert("failed".into(), Color::Magenta);
        let terminal = table(&app, 120, 14);
        let buffer = terminal.backend().buffer();
        let (x, y) = find(buffer, "✖ Failed").unwrap();
        assert_eq!(buffer[(x, y)].fg, Color::Magenta);
    }

    #[test]
    fn selected_row_is_marked_and_highlighted() {
        let app = fixtures::app_after(vec![fixtures::runs_msg(8), key(KeyCode::Down)]);
        let terminal = table(&app, 120, 14);
        let buffer = terminal.backend().buffer();
        let (x, y) = find(buffer, "▶").unwrap();
        assert!(row_text(buffer, y).contains("run_0002"));
        assert_eq!(buffer[(x + 4, y)].bg, theme::selected_row(true).bg.unwrap());
        assert_eq!(buffer[(x + 4, y + 1)].bg, Color::Reset);
    }

    #[test]
    fn unknown_and_database_statuses_show_their_names() {
        // CASES.md C03: an unknown status shows literally, neutral; retrying is "Reattempting".
        let app = fixtures::app_after(vec![
            run_with(1, "QUARANTINED", &[]),
            run_with(2, "RETRYING_AFTER_FAILURE", &[]),
            run_with(3, "WAITING_FOR_DEPLOY", &[]),
            run_with(4, "INTERRUPTED", &[]),
        ]);
        let terminal = table(&app, 120, 9);
        insta::assert_snapshot!("table_unknown_statuses", terminal.backend());
        let buffer = terminal.backend().buffer();
        let (x, y) = find(buffer, "? QUARANTINED").unwrap();
        assert_eq!(buffer[(x, y)].fg, Color::White);
        assert!(find(buffer, "● Reattempting").is_some());
        assert!(find(buffer, "◇ Pending version").is_some());
        // CASES.md C03: INTERRUPTED shows as Failed.
        assert!(find(buffer, "✖ Failed").is_some());
    }

    #[test]
    fn wide_glyphs_keep_columns_aligned() {
        // CASES.md C12 at 80x12.
        let tags = "{\"🚀 fast\",タグ}";
        let mut app = fixtures::app_sized(
            80,
            12,
            vec![
                run_with(
                    1,
                    "EXECUTING",
                    &[
                        ("taskIdentifier", "数据导入任务-夜间批处理"),
                        ("runTags", tags),
                    ],
                ),
                run_with(
                    2,
                    "EXECUTING",
                    &[
                        ("taskIdentifier", "👩\u{200d}🔬-lab-sync"),
                        ("runTags", tags),
                    ],
                ),
                run_with(
                    3,
                    "EXECUTING",
                    &[("taskIdentifier", "✅ done"), ("runTags", tags)],
                ),
            ],
        );
        let mut terminal = table(&app, 80, 12);
        insta::assert_snapshot!("table_wide_glyphs_80x12", terminal.backend());
        let status_x = |buffer: &ratatui::buffer::Buffer| {
            (2..5)
                .map(|y| find_in_row(buffer, y, "● Executing"))
                .collect::<Vec<_>>()
        };
        let header_x = find(terminal.backend().buffer(), "Status").unwrap().0;
        assert_eq!(
            status_x(terminal.backend().buffer()),
            vec![Some(header_x); 3]
        );

        // Rename the highlighted first run to narrow ASCII: no fragment of the old text stays,
        // and the diff-rendered screen equals a full redraw.
        update(
            &mut app,
            run_with(
                1,
                "EXECUTING",
                &[("taskIdentifier", "import"), ("runTags", tags)],
            ),
        );
        terminal
            .draw(|frame| render(&app, frame, frame.area()))
            .unwrap();
        let fresh = table(&app, 80, 12);
        assert_eq!(
            visible(terminal.backend().buffer()),
            visible(fresh.backend().buffer())
        );
        let first = row_text(terminal.backend().buffer(), 2);
        assert!(
            first.contains("import ") && !first.contains('数'),
            "{first}"
        );
        // The columns may be planned anew for the new widths; every row still follows the header.
        let header_x = find(terminal.backend().buffer(), "Status").unwrap().0;
        assert_eq!(
            status_x(terminal.backend().buffer()),
            vec![Some(header_x); 3]
        );
    }

    #[test]
    fn control_characters_in_cells_are_escaped() {
        let app = fixtures::app_after(vec![run_with(
            1,
            "EXECUTING",
            &[
                ("friendlyId", "run_\u{1b}[2Jx"),
                (
                    "taskIdentifier",
                    "evil\u{1b}]0;title\u{7}\r\u{0}\u{202e}task",
                ),
                ("runTags", "{\"a\u{1b}[31mred\",\"\u{2066}iso\"}"),
            ],
        )]);
        let terminal = table(&app, 160, 6);
        let buffer = terminal.backend().buffer();
        assert_no_raw_controls(buffer);
        assert!(find(buffer, "run_\\e[2Jx").is_some());
        // The task column is at most 32 cells: the escaped name is cut, not raw.
        assert!(find(buffer, "evil\\e]0;title\\x07\\r\\x00\\u{202e").is_some());
        assert!(find(buffer, "a\\e[31mred, \\u{2066}iso").is_some());
    }

    #[test]
    fn narrow_terminals_drop_columns_not_alignment() {
        let app = fixtures::app_sized(80, 24, vec![fixtures::runs_msg(30)]);
        insta::assert_snapshot!("table_80_wide", table(&app, 80, 12).backend());
        let app = fixtures::app_sized(40, 12, vec![fixtures::runs_msg(30)]);
        insta::assert_snapshot!("table_40_wide", table(&app, 40, 8).backend());
    }

    #[test]
    fn selection_stays_visible_when_the_frame_is_shorter_than_the_app_thinks() {
        let app = fixtures::app_after(vec![fixtures::runs_msg(100), key(KeyCode::End)]);
        let terminal = table(&app, 120, 8);
        let buffer = terminal.backend().buffer();
        let (_, y) = find(buffer, "▶").unwrap();
        assert!(row_text(buffer, y).contains("run_0100"));
    }

    /// 30 runs, then these keys.
    fn app_with_keys(keys: &str) -> App {
        let mut msgs = vec![fixtures::runs_msg(30)];
        msgs.extend(keys.chars().map(|c| match c {
            '\n' => key(KeyCode::Enter),
            c => key(KeyCode::Char(c)),
        }));
        fixtures::app_after(msgs)
    }

    #[test]
    fn filtered_table_counts_shown_of_total() {
        let app = app_with_keys("/failed\n");
        let terminal = table(&app, 120, 9);
        insta::assert_snapshot!("table_filtered", terminal.backend());
        let buffer = terminal.backend().buffer();
        assert_eq!(
            find(buffer, " Runs (4 of 30) · filter: failed "),
            Some((1, 0))
        );
        let rows: Vec<String> = (2..6).map(|y| row_text(buffer, y)).collect();
        for (row, id) in rows
            .iter()
            .zip(["run_0004", "run_0012", "run_0020", "run_0028"])
        {
            assert!(row.contains(id) && row.contains("✖ Failed"), "{row}");
        }
        assert!(row_text(buffer, 6).trim_matches(['│', ' ']).is_empty());
        assert!(find(buffer, " 1/4 ").is_some());
    }

    #[test]
    fn no_match_says_how_to_clear_the_filter() {
        let app = app_with_keys("/nothing here\n");
        let terminal = table(&app, 80, 9);
        insta::assert_snapshot!("table_no_match", terminal.backend());
        let buffer = terminal.backend().buffer();
        let message = "No run matches the filter \"nothing here\" — Esc clears it";
        let (x, y) = find(buffer, message).unwrap();
        assert_eq!(y, 4, "vertically centred");
        assert_eq!(buffer[(x, y)].fg, Color::Yellow);
        assert!(find(buffer, " Runs (0 of 30) · filter: nothing here ").is_some());
        assert!(find(buffer, "run_").is_none());
        // While the filter is being typed, Esc would not clear it: no such promise then.
        let typing = app_with_keys("/nothing here");
        let buffer = table(&typing, 80, 9).backend().buffer().clone();
        assert!(find(&buffer, "No run matches the filter \"nothing here\"").is_some());
        assert!(find(&buffer, "Esc clears it").is_none());
    }

    #[test]
    fn sorted_by_duration_descending_shows_the_arrow() {
        let app = app_with_keys("sssSg");
        let terminal = table(&app, 120, 22);
        insta::assert_snapshot!("table_duration_descending_120x22", terminal.backend());
        let buffer = terminal.backend().buffer();
        let (_, y) = find(buffer, "Duration ▼").unwrap();
        assert_eq!(y, 1);
        let header = row_text(buffer, 1);
        assert!(
            !header.contains('▲') && header.matches('▼').count() == 1,
            "{header}"
        );
        // Recorded durations, longest first: run 29 (21.1s), run 28 (20.4s), …
        assert!(row_text(buffer, 2).contains("run_0029") && row_text(buffer, 2).contains("21.1s"));
        assert!(row_text(buffer, 3).contains("run_0028") && row_text(buffer, 3).contains("20.4s"));
        let number_sorted = table(&app_with_keys(""), 120, 22);
        assert!(find(number_sorted.backend().buffer(), "# ▲").is_some());
    }

    #[test]
    fn selection_is_shown_among_filtered_rows_of_a_big_batch() {
        let mut msgs = vec![fixtures::runs_msg(2_000), key(KeyCode::Char('/'))];
        msgs.extend("failed".chars().map(|c| key(KeyCode::Char(c))));
        msgs.push(key(KeyCode::Enter));
        msgs.extend((0..100).map(|_| key(KeyCode::Down)));
        let app = fixtures::app_after(msgs);
        // Failed runs are 4, 12, 20, …: the 101st is run 804.
        assert_eq!(app.selected.as_deref(), Some("run_0804"));
        let terminal = table(&app, 120, 12);
        let buffer = terminal.backend().buffer();
        let (_, y) = find(buffer, "▶").unwrap();
        assert!(row_text(buffer, y).contains("run_0804"));
        assert!(find(buffer, " 101/250 ").is_some());
    }

    #[test]
    fn huge_batches_show_the_end_of_the_table() {
        // How long a frame takes is measured by `cargo bench` (render_*), not asserted here.
        let n = 20_000;
        let app = fixtures::app_after(vec![fixtures::runs_msg(n), key(KeyCode::End)]);
        let terminal = table(&app, 120, 30);
        assert!(find(terminal.backend().buffer(), "run_20000").is_some());
        assert!(find(terminal.backend().buffer(), "20,000/20,000").is_some());
    }

    /// The grid drawn by ratatui's `Table` widget, as the table used to be drawn.
    fn render_as_table(grid: &Grid, inner: Rect, buf: &mut Buffer) {
        use ratatui::widgets::{Cell, HighlightSpacing, Row, StatefulWidget, Table, TableState};
        let cell = |content: &str, column: Column, width: u16, style: Style| {
            let line = Line::styled(text::truncate(content, usize::from(width), false), style);
            Cell::from(if column.right_aligned() {
                line.right_aligned()
            } else {
                line
            })
        };
        let header = Row::new(grid.columns.iter().map(|&(column, width)| {
            cell(&column.heading(grid.sort), column, width, theme::heading())
        }));
        let rows = grid.rows.iter().map(|row| {
            Row::new(grid.columns.iter().map(|&(column, width)| {
                let style = if column == Column::Status {
                    row.status_style
                } else {
                    cell_style(column)
                };
                cell(row.cell(column), column, width, style)
            }))
        });
        let widths = grid.columns.iter().map(|&(_, w)| Constraint::Length(w));
        let table = Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .row_highlight_style(theme::selected_row(grid.focused))
            .highlight_symbol(MARKER)
            .highlight_spacing(HighlightSpacing::Always);
        let mut state = TableState::default().with_selected(grid.selected);
        StatefulWidget::render(table, inner, buf, &mut state);
    }

    #[test]
    fn grid_draws_as_the_table_widget_would() {
        // Every cell and style, at many sizes: wide glyphs, escapes, empty cells, right-aligned
        // columns, sorted headings, the selection on and off screen, focused or not.
        let tags = "{\"🚀 fast\",タグ,\"\u{1b}[31mred\"}";
        let odd = vec![
            run_with(
                1,
                "EXECUTING",
                &[("taskIdentifier", "数据导入任务-夜间批处理")],
            ),
            run_with(
                2,
                "EXECUTING",
                &[("taskIdentifier", "👩\u{200d}🔬-lab-sync")],
            ),
            run_with(
                3,
                "QUARANTINED",
                &[("runTags", tags), ("friendlyId", "run_\u{1b}x")],
            ),
            run_with(
                4,
                "COMPLETED_SUCCESSFULLY",
                &[("runTags", "{}"), ("taskIdentifier", "")],
            ),
        ];
        let apps = [
            fixtures::app_after(vec![fixtures::runs_msg(30)]),
            fixtures::app_after(vec![fixtures::runs_msg(30), key(KeyCode::Down)]),
            app_with_keys("/failed\nj"),
            app_with_keys("sssS"),
            fixtures::app_after(vec![fixtures::runs_msg(30), key(KeyCode::Tab)]),
            fixtures::app_after(vec![fixtures::runs_msg(100), key(KeyCode::End)]),
            fixtures::app_after(odd),
        ];
        for app in &apps {
            for (width, height) in [(200, 50), (120, 14), (80, 12), (61, 9), (40, 8), (23, 5)] {
                let area = Rect::new(0, 0, width, height);
                let inner = Block::bordered().inner(area);
                let page = usize::from(inner.height.saturating_sub(1));
                if page == 0 || inner.width <= MARKER_WIDTH {
                    continue;
                }
                let grid = Grid::new(app, page, inner.width);
                let (mut ours, mut widget) = (Buffer::empty(area), Buffer::empty(area));
                render_grid(&grid, inner, &mut ours);
                render_as_table(&grid, inner, &mut widget);
                assert_eq!(ours, widget, "at {width}x{height}");
            }
        }
    }
}
