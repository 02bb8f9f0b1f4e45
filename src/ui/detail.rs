//! The detail pane: everything about the selected run. Fields first (times, cost, keys, tags),
//! then the sections Payload, Output, Error and Metadata, from the app's decoded packets.
//!
//! Work per frame is bounded whatever the run holds: each section builds at most
//! [`SECTION_ROWS`] rows and says how many lines it left out, and each line is cut at
//! [`LINE_CHARS`] characters, so a 10 MB packet draws as fast as a small one. Every string from
//! run data is sanitized before it reaches the screen (CASES.md C13).
//!
//! The rows are built by `update`, not per frame: [`rows_to_keep`] builds them whenever what
//! they show changes, and the app keeps them in its [`DetailCache`] with the packets they show.
//! A frame draws the visible rows from there, or builds them itself when its width is not the
//! one they were built for.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Margin, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState};

use super::text::{self, ABSENT};
use super::{draw, theme};
use crate::app::{App, DetailCache, Focus};
use crate::app::{FetchState, PacketView};
use crate::model::{Run, RunError, RunStatus};
use crate::sanitize::{sanitize_line, sanitize_multiline};

/// Rows one section may build before it stops and counts what is left.
pub const SECTION_ROWS: usize = 1_000;
/// Characters of one line that are shown; the rest is counted, not drawn.
pub const LINE_CHARS: usize = 2_000;
/// Field labels are padded to this many cells.
const LABEL_WIDTH: usize = 16;
/// An ISO timestamp's width: two columns of fields are used only when timestamps fit in both.
const TIMESTAMP_WIDTH: usize = 24;
/// Cells between two fields on one row.
const GAP: usize = 2;

/// Draws the selected run into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Focus::Detail;
    let mut block = Block::bordered().border_style(theme::border(focused));
    let Some(run) = app.selected_run() else {
        let block = block.title(Line::styled(" Detail ", theme::title(focused)));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let middle = Rect {
            y: inner.y + inner.height.saturating_sub(1) / 2,
            height: 1,
            ..inner
        };
        let notice = Line::styled("No run selected", theme::muted()).centered();
        frame.render_widget(Paragraph::new(notice), middle.intersection(inner));
        return;
    };

    let room = usize::from(area.width.saturating_sub(4));
    let title = format!(" {} ", text::fit(&run.id, room.saturating_sub(2)));
    block = block.title(Line::styled(title, theme::title(focused)));
    let inner = block.inner(area);
    let input = Input::new(app, run, usize::from(inner.width));
    let built;
    let rows = match kept_rows(app, &input) {
        Some(rows) => rows,
        None => {
            built = render_rows(&input, packets_of(app, run));
            built.as_slice()
        }
    };

    // `u16::MAX` (End) means the bottom: scrolling stops where the last row is on screen.
    let height = usize::from(inner.height);
    let max_scroll = rows.len().saturating_sub(height);
    let scroll = usize::from(app.detail_scroll).min(max_scroll);
    if rows.len() > height && height > 0 {
        let last = (scroll + height).min(rows.len());
        let position = format!(
            " {}–{} of {} ",
            text::thousands(scroll + 1),
            text::thousands(last),
            text::thousands(rows.len())
        );
        block = block.title_bottom(Line::styled(position, theme::muted()).right_aligned());
    }
    frame.render_widget(block, area);

    let visible = &rows[scroll..(scroll + height).min(rows.len())];
    draw::paragraph(visible, inner, frame.buffer_mut());
    if max_scroll > 0 {
        let mut state = ScrollbarState::new(max_scroll + 1).position(scroll);
        let bar = Scrollbar::new(ScrollbarOrientation::VerticalRight)
            .begin_symbol(None)
            .end_symbol(None)
            .track_symbol(Some("│"))
            .thumb_style(theme::border(focused))
            .track_style(theme::muted());
        frame.render_stateful_widget(bar, area.inner(Margin::new(0, 1)), &mut state);
    }
}

/// How far the pane in `area` can scroll for the selected run: its rows less its height.
/// `update` clamps scrolling with it, so Up works at once after End or too many PgDn.
pub fn max_scroll(app: &App, area: Rect) -> usize {
    let Some(run) = app.selected_run() else {
        return 0;
    };
    let inner = Block::bordered().inner(area);
    let input = Input::new(app, run, usize::from(inner.width));
    let count = match kept_rows(app, &input) {
        Some(rows) => rows.len(),
        None => render_rows(&input, packets_of(app, run)).len(),
    };
    count.saturating_sub(usize::from(inner.height))
}

/// The rows of the pane for the selected run at `width` (the pane's inner width at the app's
/// size), for `update` to keep in the app's [`DetailCache`]; `None` when the cache holds them
/// already (or holds no packets of the selected run to build them with).
pub fn rows_to_keep(app: &App, width: usize) -> Option<DetailRows> {
    let run = app.selected_run()?;
    let packets = packets_of(app, run)?;
    let input = Input::new(app, run, width);
    if packets
        .rows
        .as_ref()
        .is_some_and(|rows| rows.built_from(&input))
    {
        return None;
    }
    Some(DetailRows {
        lines: render_rows(&input, Some(packets)),
        // The app's own handle (the same allocation), so the check below is a pointer compare
        // until the run changes.
        run: app
            .runs
            .shared(&run.id)
            .map_or_else(|| Arc::new(run.clone()), Arc::clone),
        duration: input.duration,
        status_style: input.status_style,
        width,
    })
}

/// The pane's rows for the selected run, wrapped to a width, with everything they were built
/// from besides the packets (they are kept with those, in the app's [`DetailCache`], and go
/// when it is rebuilt). Built by `update` through [`rows_to_keep`].
#[derive(Debug, Clone, PartialEq)]
pub struct DetailRows {
    lines: Vec<Line<'static>>,
    run: Arc<Run>,
    duration: Option<String>,
    status_style: Style,
    width: usize,
}

impl DetailRows {
    /// Were these rows built from exactly this input?
    fn built_from(&self, input: &Input<'_>) -> bool {
        self.width == input.width
            && self.status_style == input.status_style
            && self.duration == input.duration
            && (std::ptr::eq(&*self.run, input.run) || *self.run == *input.run)
    }
}

/// What the pane's rows are built from besides the decoded packets: the run, the two things
/// about it that come from elsewhere (its duration, the one thing read from the clock, and its
/// status colour, from the config), and the width. [`render_rows`] reads nothing else.
struct Input<'a> {
    run: &'a Run,
    duration: Option<String>,
    status_style: Style,
    width: usize,
}

impl<'a> Input<'a> {
    fn new(app: &App, run: &'a Run, width: usize) -> Self {
        let duration = text::run_duration(run, app.now).map(|d| {
            if run.status.is_executing() {
                format!("{d} (running)")
            } else {
                d
            }
        });
        Self {
            run,
            duration,
            status_style: theme::status_style(&run.status, &app.colors),
            width,
        }
    }
}

/// The decoded packets of `run`, if the app's cache holds them.
///
/// `update` decodes the selected run's packets once, when the selection or the run changes;
/// the view never decodes (a large packet would cost that on every frame).
fn packets_of<'a>(app: &'a App, run: &Run) -> Option<&'a DetailCache> {
    app.detail.as_ref().filter(|cache| cache.run_id == run.id)
}

/// The rows `update` kept, if they were built from `input` (and the selected run's packets).
fn kept_rows<'a>(app: &'a App, input: &Input<'_>) -> Option<&'a [Line<'static>]> {
    let rows = packets_of(app, input.run)?.rows.as_ref()?;
    rows.built_from(input).then_some(rows.lines.as_slice())
}

/// Every row of the pane for `input`'s run, wrapped to its width, with the packets in `cache`.
fn render_rows(input: &Input<'_>, cache: Option<&DetailCache>) -> Vec<Line<'static>> {
    let run = input.run;
    let mut rows = Rows {
        lines: Vec::new(),
        width: input.width.max(1),
    };
    render_fields(&mut rows, input);

    let no_output = if run.status.is_final() {
        "none"
    } else {
        "no output yet"
    };
    rows.heading("Payload");
    render_packet(&mut rows, cache.map(|c| &c.payload), "none");
    rows.heading("Output");
    render_packet(&mut rows, cache.map(|c| &c.output), no_output);
    rows.heading("Error");
    render_error(&mut rows, run.error.as_ref());
    rows.heading("Metadata");
    render_packet(&mut rows, cache.map(|c| &c.metadata), "none");
    rows.lines
}

/// The pane's rows as they are built: every push wraps to the pane's width.
struct Rows {
    lines: Vec<Line<'static>>,
    width: usize,
}

impl Rows {
    /// A section heading, e.g. `── Payload ──`.
    fn heading(&mut self, name: &str) {
        if !self.lines.is_empty() {
            self.lines.push(Line::default());
        }
        self.lines
            .push(Line::styled(format!("── {name} ──"), theme::heading()));
    }

    /// Fields side by side in two columns when both fit, else one per row (wrapped).
    fn fields(&mut self, group: &[Field]) {
        let half = self.width.saturating_sub(GAP) / 2;
        if let [left, right] = group
            && half >= LABEL_WIDTH + TIMESTAMP_WIDTH
        {
            let (a, b) = (safe(&left.value), safe(&right.value));
            let room = half - LABEL_WIDTH;
            if text::width(&a) <= room && text::width(&b) <= room {
                let pad = " ".repeat(room - text::width(&a) + GAP);
                self.lines.push(Line::from(vec![
                    Span::styled(format!("{:<LABEL_WIDTH$}", left.label), theme::muted()),
                    Span::styled(a, left.style),
                    Span::raw(pad),
                    Span::styled(format!("{:<LABEL_WIDTH$}", right.label), theme::muted()),
                    Span::styled(b, right.style),
                ]));
                return;
            }
        }
        for field in group {
            self.field(field.label, &field.value, field.style);
        }
    }

    /// `label  value` with the value wrapped under itself. `value` is run data: it is cut to
    /// [`LINE_CHARS`] and sanitized here.
    fn field(&mut self, label: &str, value: &str, style: Style) {
        let value = safe(value);
        let indent = if self.width > LABEL_WIDTH + 8 {
            LABEL_WIDTH
        } else {
            0
        };
        let label = format!("{label:<LABEL_WIDTH$}");
        let joined = format!("{label}{value}");
        for (i, row) in text::wrap_hanging(&joined, self.width, indent)
            .into_iter()
            .enumerate()
        {
            if i == 0 && row.len() >= label.len() {
                let (head, tail) = row.split_at(label.len());
                self.lines.push(Line::from(vec![
                    Span::styled(head.to_string(), theme::muted()),
                    Span::styled(tail.to_string(), style),
                ]));
            } else {
                self.lines.push(Line::styled(row, style));
            }
        }
    }

    /// A block of run text, line by line, within the section budget: at most [`SECTION_ROWS`]
    /// rows, each source line cut at [`LINE_CHARS`] characters; what is left out is counted.
    fn block(&mut self, text: &str, style: Style) {
        let start = self.lines.len();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if self.lines.len() - start >= SECTION_ROWS {
                let more = 1 + lines.count();
                self.note(&format!("… {} more lines", text::thousands(more)));
                return;
            }
            let (head, cut) = text::head(line, LINE_CHARS);
            for row in text::wrap(&sanitize_line(head), self.width) {
                self.lines.push(Line::styled(row, style));
            }
            if cut > 0 {
                self.note(&format!(
                    "… {} more bytes on this line",
                    text::thousands(cut)
                ));
            }
        }
        if self.lines.len() == start {
            self.note("(empty)");
        }
    }

    /// Our own remark (not run data), dimmed.
    fn note(&mut self, note: &str) {
        for row in text::wrap(note, self.width) {
            self.lines.push(Line::styled(
                row,
                theme::muted().add_modifier(Modifier::ITALIC),
            ));
        }
    }

    /// A warning about the data, in yellow. `warning` may quote run data: it is sanitized.
    fn warn(&mut self, warning: &str) {
        let (warning, _) = text::head(warning, LINE_CHARS);
        for row in text::wrap_hanging(&format!("! {}", sanitize_line(warning)), self.width, 2) {
            self.lines.push(Line::styled(row, theme::warning()));
        }
    }
}

/// One labelled value of the run; `value` is run data, made safe when it is drawn.
struct Field {
    label: &'static str,
    value: String,
    style: Style,
}

/// Run data cut to [`LINE_CHARS`] characters (saying how much was left) and sanitized.
fn safe(value: &str) -> String {
    let (head, cut) = text::head(value, LINE_CHARS);
    let mut value = sanitize_line(head);
    if cut > 0 {
        value.push_str(&format!(" … {} more bytes", text::thousands(cut)));
    }
    value
}

/// The run's fields, paired where they belong together: identity and status, the error in
/// short, times, cost, keys, tags, then any decoding warnings.
fn render_fields(rows: &mut Rows, input: &Input<'_>) {
    let run = input.run;
    let plain = Style::new();
    let field = |label, value: Option<String>, style| Field {
        label,
        value: value.unwrap_or_else(|| ABSENT.to_string()),
        style,
    };
    let time = |label, at: Option<DateTime<Utc>>| field(label, Some(text::iso(at.as_ref())), plain);
    let cost = run.total_cost_cents().map(|total| {
        let cents = |c: Option<f64>| c.map_or_else(|| ABSENT.to_string(), |c| format!("{c:.4}¢"));
        let (compute, base) = (cents(run.cost_in_cents), cents(run.base_cost_in_cents));
        format!("{} (compute {compute}, base {base})", text::dollars(total))
    });
    let tags = (!run.tags.is_empty()).then(|| run.tags.join(", "));

    let mut groups = vec![vec![
        field("Task", run.task_identifier.clone(), theme::heading()),
        field("Status", Some(status_text(run)), input.status_style),
    ]];
    if let Some(error) = &run.error {
        groups.push(vec![field(
            "Error",
            Some(error_summary(error)),
            theme::error(),
        )]);
    }
    groups.extend([
        vec![
            field("Number", run.number.map(|n| n.to_string()), plain),
            field(
                "Test",
                run.is_test
                    .map(|t| if t { "yes" } else { "no" }.to_string()),
                plain,
            ),
        ],
        vec![
            time("Created", run.created_at),
            time("Queued", run.queued_at),
        ],
        vec![
            time("Started", run.started_at),
            time("Finished", run.finished_at),
        ],
        vec![
            time("Delayed until", run.delayed_until),
            time("Expired", run.expired_at),
        ],
        vec![time("Updated", run.updated_at)],
        vec![
            field("Duration", input.duration.clone(), plain),
            field("Cost", cost, plain),
        ],
        vec![
            field("Idempotency key", run.idempotency_key.clone(), plain),
            field("TTL", run.ttl.clone(), plain),
        ],
        vec![field("Tags", tags, plain)],
    ]);
    for group in &groups {
        rows.fields(group);
    }
    for warning in run.warnings.iter().take(50) {
        rows.warn(warning);
    }
    if run.warnings.len() > 50 {
        rows.note(&format!(
            "… {} more warnings",
            text::thousands(run.warnings.len() - 50)
        ));
    }
}

/// The error in one line, never empty.
fn error_summary(error: &RunError) -> String {
    let summary = error.summary();
    let summary = summary.trim_end_matches([':', ' ']);
    if summary.is_empty() {
        "(no message)".to_string()
    } else {
        summary.to_string()
    }
}

/// `✖ FAILED (COMPLETED_WITH_ERRORS)`: the API status, with the database status when it says
/// more. An unknown status shows its own name (CASES.md C03).
fn status_text(run: &Run) -> String {
    let symbol = theme::status_symbol(&run.status);
    match &run.status {
        RunStatus::Unknown(name) => format!("{symbol} {name} (unknown status)"),
        status if run.db_status.is_empty() || run.db_status == status.api_name() => {
            format!("{symbol} {}", status.api_name())
        }
        status => format!("{symbol} {} ({})", status.api_name(), run.db_status),
    }
}

/// One packet (CASES.md C04, C06); `None` when it has not been decoded yet.
fn render_packet(rows: &mut Rows, packet: Option<&PacketView>, absent: &str) {
    let Some(packet) = packet else {
        rows.note("not decoded yet");
        return;
    };
    match packet {
        PacketView::Absent => rows.note(absent),
        PacketView::Pretty { text, warnings } => {
            for warning in warnings.iter().take(50) {
                rows.warn(warning);
            }
            rows.block(text, Style::new());
        }
        PacketView::Text(text) => rows.block(text, Style::new()),
        // Offloading is decided by the packet's type alone, never by its size or look (C06).
        PacketView::Offloaded { path, fetch } => {
            rows.block(
                &format!("offloaded to object storage: {path}"),
                theme::warning(),
            );
            match fetch {
                FetchState::Fetching => rows.note("fetching…"),
                FetchState::Failed(reason) => rows.warn(&format!("could not fetch it: {reason}")),
                // Replaced by the fetched value before it reaches the view.
                FetchState::Done(_) => {}
            }
        }
        PacketView::Invalid { raw, reason } => {
            rows.warn(reason);
            rows.block(raw, Style::new());
        }
    }
}

/// The run's error: kind, name, message and stack (CASES.md C01). A message is never shown
/// empty; an unknown kind is shown raw.
fn render_error(rows: &mut Rows, error: Option<&RunError>) {
    let Some(error) = error else {
        rows.note("none");
        return;
    };
    let red = theme::error();
    rows.field("Kind", error.kind(), theme::muted());
    let message = |text: &str| {
        if text.is_empty() {
            "(no message)".to_string()
        } else {
            text.to_string()
        }
    };
    match error {
        RunError::BuiltIn {
            name,
            message: msg,
            stack_trace,
            causes,
        } => {
            rows.field("Name", if name.is_empty() { ABSENT } else { name }, red);
            rows.field("Message", &message(msg), red);
            if !stack_trace.is_empty() {
                rows.note("stack trace:");
                rows.block(&sanitize_multiline(stack_trace), theme::muted());
            }
            if let Some(causes) = causes {
                rows.note("causes:");
                rows.block(
                    &serde_json::to_string_pretty(causes).unwrap_or_default(),
                    Style::new(),
                );
            }
        }
        RunError::Custom { raw } => {
            // Raw JSON is pretty-printed where it parses.
            match serde_json::from_str::<serde_json::Value>(raw) {
                Ok(json) if json.is_object() || json.is_array() => {
                    rows.block(
                        &serde_json::to_string_pretty(&json).unwrap_or_default(),
                        red,
                    );
                }
                _ => rows.field("Message", &message(raw), red),
            }
        }
        RunError::String { raw } => rows.field("Message", &message(raw), red),
        RunError::Internal {
            code,
            message: msg,
            stack_trace,
        } => {
            rows.field("Code", &message(code), red);
            if let Some(msg) = msg.as_deref().filter(|m| !m.is_empty()) {
                rows.field("Message", msg, red);
            }
            if let Some(stack) = stack_trace.as_deref().filter(|s| !s.is_empty()) {
                rows.note("stack trace:");
                rows.block(&sanitize_multiline(stack), theme::muted());
            }
        }
        RunError::Unknown(value) => {
            rows.block(
                &serde_json::to_string_pretty(value).unwrap_or_default(),
                red,
            );
        }
    }
}

#[cfg(test)]
mod tests {

    use crossterm::event::KeyCode;

    use super::*;
    use crate::app::fixtures::{self, key};
    use crate::app::{Msg, update};
    use crate::ui::testing::{assert_no_raw_controls, draw, find, screen_text};

    type Term = ratatui::Terminal<ratatui::backend::TestBackend>;
    /// Columns to replace in a fixture row.
    type Changes<'a> = &'a [(&'a str, Option<&'a str>)];

    fn pane(app: &App, width: u16, height: u16) -> Term {
        draw(width, height, |frame| render(app, frame, frame.area()))
    }

    /// A message delivering run `n` with these columns replaced (later pairs win in the row
    /// decoder), through the real row path.
    fn run_with(n: usize, status: &str, changes: Changes) -> Msg {
        let mut row = fixtures::row(n, status);
        for (column, value) in changes {
            row.push(((*column).to_string(), value.map(str::to_string)));
        }
        fixtures::one_run_msg(Run::from_row(row.as_slice(), &fixtures::schema()))
    }

    /// The pane's text between the row holding `from` and the row holding `to`, borders off.
    fn between(text: &str, from: &str, to: &str) -> String {
        let rows: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.contains(from))
            .skip(1)
            .take_while(|l| !l.contains(to))
            .map(|l| l.trim_start_matches('│').trim_end_matches(['│', '█', ' ']))
            .collect();
        rows.join("\n").trim_end().to_string()
    }

    /// The selected run's rows at `width`, built afresh.
    fn rows_of(app: &App, width: usize) -> Vec<Line<'static>> {
        let run = app.selected_run().unwrap();
        render_rows(&Input::new(app, run, width), packets_of(app, run))
    }

    /// An app whose only (so selected) run is `msg`'s.
    fn app_with(msg: Msg) -> App {
        fixtures::app_after(vec![msg])
    }

    #[test]
    fn completed_run() {
        let app = app_with(run_with(3, "COMPLETED_SUCCESSFULLY", &[]));
        insta::assert_snapshot!("detail_completed", pane(&app, 100, 40).backend());
    }

    #[test]
    fn failed_run_with_its_error() {
        let app = fixtures::app_after(vec![
            fixtures::runs_msg(8),
            key(KeyCode::Char('j')),
            key(KeyCode::Char('j')),
            key(KeyCode::Char('j')),
        ]);
        let terminal = pane(&app, 100, 44);
        insta::assert_snapshot!("detail_failed_run", terminal.backend());
        let text = screen_text(terminal.backend().buffer());
        assert!(text.contains("✖ FAILED (COMPLETED_WITH_ERRORS)"), "{text}");
        assert!(
            text.contains("    at parse (src/trigger/import.ts:42:17)"),
            "{text}"
        );
    }

    #[test]
    fn executing_run_shows_elapsed_time_and_no_output_yet() {
        let app = app_with(run_with(2, "RETRYING_AFTER_FAILURE", &[]));
        let terminal = pane(&app, 100, 40);
        let text = screen_text(terminal.backend().buffer());
        assert!(
            text.contains("● EXECUTING (RETRYING_AFTER_FAILURE)"),
            "{text}"
        );
        assert!(text.contains("58.0s (running)"), "{text}");
        assert!(text.contains("no output yet"), "{text}");
    }

    #[test]
    fn no_selection() {
        let app = fixtures::app_after(vec![]);
        insta::assert_snapshot!("detail_no_selection", pane(&app, 60, 9).backend());
    }

    #[test]
    fn each_error_type_is_shown_never_empty() {
        // CASES.md C01, plus an error without a message and one of an unknown type.
        let errors = [
            r#"{"type":"STRING_ERROR","raw":"Run cancelled from dashboard"}"#,
            r#"{"type":"CUSTOM_ERROR","raw":"{\"code\":42}"}"#,
            r#"{"type":"INTERNAL_ERROR","code":"SOME_CODE_ADDED_NEXT_YEAR"}"#,
            r#"{"type":"BUILT_IN_ERROR","name":"TypeError","message":"x is undefined","stackTrace":"TypeError: x is undefined\n    at run (task.ts:3:9)"}"#,
            r#"{"type":"BUILT_IN_ERROR","name":"AbortError"}"#,
            r#"{"type":"NEW_KIND","detail":1}"#,
        ];
        let mut screens = Vec::new();
        for (i, error) in errors.iter().enumerate() {
            let status = if i == 0 {
                "CANCELED"
            } else {
                "COMPLETED_WITH_ERRORS"
            };
            let app = app_with(run_with(1, status, &[("error", Some(error))]));
            let terminal = pane(&app, 80, 50);
            let text = screen_text(terminal.backend().buffer());
            let error_part = between(&text, "── Error ──", "── Metadata ──");
            assert!(
                !error_part.lines().any(|l| matches!(
                    l.strip_prefix("Message").map(str::trim),
                    Some("" | "undefined")
                )),
                "{error_part}"
            );
            screens.push(error_part);
        }
        insta::assert_snapshot!("detail_error_kinds", screens.join("\n========\n"));
        assert!(screens[0].contains("Run cancelled from dashboard"));
        assert!(screens[1].contains("\"code\": 42"));
        assert!(screens[2].contains("SOME_CODE_ADDED_NEXT_YEAR"));
        assert!(
            screens[3].contains("x is undefined") && screens[3].contains("at run (task.ts:3:9)")
        );
        assert!(screens[4].contains("(no message)"));
        assert!(screens[5].contains("unknown error type") && screens[5].contains("NEW_KIND"));
    }

    #[test]
    fn superjson_types_show_as_javascript_prints_them() {
        // CASES.md C04.
        let payload = r#"{"json":{"orderId":"9007199254740993","placedAt":"2026-12-03T10:00:00.000Z","labels":["a","b"],"byRegion":[["eu",3],["us",5]],"note":null,"ratio":"NaN","user":{"joined":"2020-02-29T23:59:59.999Z"}},"meta":{"values":{"orderId":["bigint"],"placedAt":["Date"],"labels":["set"],"byRegion":["map"],"note":["undefined"],"ratio":["number"],"user.joined":["Date"]}}}"#;
        let output = r#"{"json":{"total":"123456789012345678901234567890"},"meta":{"values":{"total":["bigint"]},"referentialEqualities":{}}}"#;
        let metadata =
            r#"{"json":{"amount":"1.10"},"meta":{"values":{"amount":[["custom","decimal.js"]]}}}"#;
        let sj = Some("application/super+json");
        let app = app_with(run_with(
            1,
            "COMPLETED_SUCCESSFULLY",
            &[
                ("payload", Some(payload)),
                ("payloadType", sj),
                ("output", Some(output)),
                ("outputType", sj),
                ("metadata", Some(metadata)),
                ("metadataType", sj),
            ],
        ));
        let terminal = pane(&app, 100, 60);
        insta::assert_snapshot!("detail_superjson", terminal.backend());
        let text = screen_text(terminal.backend().buffer());
        for expected in [
            "\"orderId\": 9007199254740993n",
            "\"placedAt\": Date(2026-12-03T10:00:00.000Z)",
            "\"labels\": Set [",
            "\"byRegion\": Map {",
            "\"eu\" => 3",
            "\"note\": undefined",
            "\"ratio\": NaN",
            "\"joined\": Date(2020-02-29T23:59:59.999Z)",
            "\"total\": 123456789012345678901234567890n",
            "\"amount\": <custom:decimal.js> \"1.10\"",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(
            !text.contains("! "),
            "no warnings for valid superjson:\n{text}"
        );
    }

    #[test]
    fn bad_superjson_shows_a_warning_and_keeps_the_value() {
        let payload = r#"{"json":{"a":1},"meta":{"values":{"missing.path":["Date"]}}}"#;
        let app = app_with(run_with(
            1,
            "EXECUTING",
            &[
                ("payload", Some(payload)),
                ("payloadType", Some("application/super+json")),
            ],
        ));
        let terminal = pane(&app, 100, 40);
        let buffer = terminal.backend().buffer();
        let (x, y) = find(buffer, "! annotation").unwrap();
        assert_eq!(buffer[(x, y)].fg, ratatui::style::Color::Yellow);
        assert!(find(buffer, "\"a\": 1").is_some());
    }

    #[test]
    fn packets_dispatch_by_type() {
        // CASES.md C06: bare JSON scalars, offloaded packets, plain text while executing.
        let cases: [(&str, Changes); 4] = [
            (
                "COMPLETED_SUCCESSFULLY",
                &[
                    ("payload", Some("0")),
                    ("payloadType", Some("application/json")),
                    ("output", Some("null")),
                    ("outputType", Some("application/json")),
                ],
            ),
            (
                "COMPLETED_SUCCESSFULLY",
                &[
                    ("payload", Some("s3://packets-bucket/run_0004/payload.json")),
                    ("payloadType", Some("application/store")),
                    ("output", Some("run_0004/output.json")),
                    ("outputType", Some("application/store")),
                ],
            ),
            (
                "EXECUTING",
                &[
                    ("payload", Some("plain text, not JSON {")),
                    ("payloadType", Some("text/plain")),
                ],
            ),
            (
                "COMPLETED_SUCCESSFULLY",
                &[
                    ("payload", Some("{bad json")),
                    ("payloadType", Some("application/json")),
                    ("output", None),
                    ("outputType", None),
                ],
            ),
        ];
        let mut shown = Vec::new();
        for (status, changes) in cases {
            let app = app_with(run_with(1, status, changes));
            let text = screen_text(pane(&app, 80, 60).backend().buffer());
            shown.push(between(&text, "── Payload ──", "── Error ──"));
        }
        insta::assert_snapshot!("detail_packet_types", shown.join("\n========\n"));
        assert!(
            shown[0].starts_with("0\n") && shown[0].ends_with("null"),
            "{}",
            shown[0]
        );
        assert!(
            shown[1].contains("object storage")
                && shown[1].contains("s3://packets-bucket/run_0004/payload.json")
        );
        assert!(shown[1].contains("run_0004/output.json"));
        assert!(shown[2].contains("plain text, not JSON {") && shown[2].contains("no output yet"));
        assert!(shown[3].contains("! invalid JSON") && shown[3].contains("{bad json"));
        assert!(
            shown[3].ends_with("── Output ──\nnone"),
            "a finished run without output: {}",
            shown[3]
        );
    }

    #[test]
    fn control_characters_are_escaped_everywhere() {
        // CASES.md C13.
        let error = r#"{"type":"BUILT_IN_ERROR","name":"Error\u001b[2J","message":"\u001b[31mTypeError\u001b[0m: boom\r\n\tat run (src/task.ts:3:9)\u0007","stackTrace":"line1\u0000line2\u001b]0;owned-title\u0007\u001b[2J\u001b[Hline3\tcol\u202e"}"#;
        let app = app_with(run_with(
            1,
            "COMPLETED_WITH_ERRORS",
            &[
                ("friendlyId", Some("run_\u{1b}]0;title\u{7}")),
                ("taskIdentifier", Some("task\u{0}\u{202e}evil")),
                ("idempotencyKey", Some("key\r\n\u{1b}[2J")),
                ("runTags", Some("{\"\u{2066}tag\"}")),
                (
                    "payload",
                    Some("text \u{1b}[2J\r and \u{0} \u{1b}]0;title\u{7} \u{202e}"),
                ),
                ("payloadType", Some("text/plain")),
                ("metadata", Some(r#"{"log":"50%\r75%\r100%"}"#)),
                ("metadataType", Some("application/json")),
                ("error", Some(error)),
            ],
        ));
        let terminal = pane(&app, 100, 60);
        insta::assert_snapshot!("detail_control_characters", terminal.backend());
        let buffer = terminal.backend().buffer();
        assert_no_raw_controls(buffer);
        let text = screen_text(buffer);
        for expected in [
            " run_\\e]0;title\\x07 ",
            "task\\x00\\u{202e}evil",
            "key\\r\\n\\e[2J",
            "text \\e[2J\\r and \\x00 \\e]0;title\\x07 \\u{202e}",
            "\\e[31mTypeError\\e[0m: boom\\r\\n    at run (src/task.ts:3:9)\\x07",
            "line1\\x00line2\\e]0;owned-title\\x07\\e[2J\\e[Hline3    col\\u{202e}",
            "50%\\r75%\\r100%",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn five_megabyte_line_is_cut_not_frozen() {
        let payload = format!("\"{}\"", "x".repeat(5 * 1024 * 1024));
        let app = app_with(run_with(
            1,
            "EXECUTING",
            &[
                ("payload", Some(&payload)),
                ("payloadType", Some("application/json")),
            ],
        ));
        let rows = rows_of(&app, 98);
        // The cut line wraps to a bounded number of rows, then says what it left out.
        assert!(rows.len() < 100, "{}", rows.len());
        let text: String = rows.iter().map(|r| r.to_string() + "\n").collect();
        let left_out = text::thousands(payload.len() - LINE_CHARS);
        assert!(
            text.contains(&format!("… {left_out} more bytes on this line")),
            "{text}"
        );
        let terminal = pane(&app, 100, 40);
        assert_no_raw_controls(terminal.backend().buffer());
    }

    #[test]
    fn ten_thousand_elements_are_capped_with_a_count() {
        let items: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
        let payload = format!("[{}]", items.join(","));
        let mut app = app_with(run_with(
            1,
            "EXECUTING",
            &[
                ("payload", Some(&payload)),
                ("payloadType", Some("application/json")),
            ],
        ));
        let rows = rows_of(&app, 98);
        assert!(rows.len() < SECTION_ROWS + 100, "{}", rows.len());
        // Scroll to the end (End sets u16::MAX): the notice is on screen, clamped to the bottom.
        update(&mut app, key(KeyCode::Tab));
        update(&mut app, key(KeyCode::End));
        let area = crate::ui::layout::areas(Rect::new(0, 0, 120, 40), false).detail;
        assert_eq!(usize::from(app.detail_scroll), max_scroll(&app, area));
        let terminal = pane(&app, 100, 20);
        let text = screen_text(terminal.backend().buffer());
        assert!(text.contains("… 9,002 more lines"), "{text}");
        assert!(
            text.contains("── Metadata ──"),
            "later sections survive a huge payload:\n{text}"
        );
        insta::assert_snapshot!("detail_huge_array_bottom", terminal.backend());
    }

    #[test]
    fn scrolling_moves_the_rows_and_stops_at_the_bottom() {
        let mut app = app_with(run_with(4, "COMPLETED_WITH_ERRORS", &[]));
        // Draw the pane at the size the app lays it out at, as the real screen does.
        let area = crate::ui::layout::areas(Rect::new(0, 0, app.size.0, app.size.1), false).detail;
        let view = |app: &App| screen_text(pane(app, area.width, area.height).backend().buffer());
        update(&mut app, key(KeyCode::Tab));
        let top = view(&app);
        update(&mut app, key(KeyCode::Down));
        let one = view(&app);
        assert_ne!(top, one);
        assert!(top.contains("│Task") && !one.contains("│Task"), "{one}");
        update(&mut app, key(KeyCode::End));
        let bottom = view(&app);
        assert!(bottom.contains("── Metadata ──"), "{bottom}");
        // End stops at the bottom, so Up moves at once (it used to sit at u16::MAX).
        update(&mut app, key(KeyCode::Up));
        assert_ne!(bottom, view(&app));
        update(&mut app, key(KeyCode::PageDown));
        update(&mut app, key(KeyCode::PageDown));
        assert_eq!(bottom, view(&app), "PgDn past the end stays at the bottom");
    }

    /// The rows `update` kept for the pane as the app lays it out, checked against rows built
    /// afresh: they must be there (or frames would build them) and be the same.
    fn kept_text(app: &App) -> String {
        let area = crate::ui::layout::areas(Rect::new(0, 0, app.size.0, app.size.1), false).detail;
        let width = usize::from(Block::bordered().inner(area).width);
        let run = app.selected_run().unwrap();
        let input = Input::new(app, run, width);
        let kept = kept_rows(app, &input).expect("update keeps the selected run's rows");
        let fresh = render_rows(&input, packets_of(app, run));
        assert_eq!(kept, fresh.as_slice());
        kept.iter().map(|r| r.to_string() + "\n").collect()
    }

    #[test]
    fn kept_rows_follow_the_selection_the_run_the_clock_and_the_size() {
        // Run 1 executes: its duration counts up with the clock.
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(8)]);
        let first = kept_text(&app);
        assert!(first.contains("59.0s (running)"), "{first}");

        update(
            &mut app,
            Msg::Tick(fixtures::now() + chrono::TimeDelta::seconds(10)),
        );
        let ticked = kept_text(&app);
        assert!(ticked.contains("1m 09s (running)"), "{ticked}");

        // The selection moves to run 4, which failed.
        for _ in 0..3 {
            update(&mut app, key(KeyCode::Down));
        }
        let moved = kept_text(&app);
        assert!(
            moved.contains("✖ FAILED (COMPLETED_WITH_ERRORS)"),
            "{moved}"
        );

        // The selected run changes under the selection: it is retried and executes again.
        update(
            &mut app,
            fixtures::one_run_msg(fixtures::run(4, "EXECUTING")),
        );
        let changed = kept_text(&app);
        assert!(
            changed.contains("● EXECUTING") && !changed.contains("FAILED"),
            "{changed}"
        );

        // Resized: the rows are wrapped to the new width (the pane goes beside the table).
        let narrow_rows = changed.lines().count();
        update(&mut app, Msg::Resize(60, 40));
        let narrow = kept_text(&app);
        assert!(narrow.lines().count() > narrow_rows, "{narrow}");
        update(&mut app, Msg::Resize(200, 50));
        kept_text(&app);

        // And the screen shows what was kept.
        let screen = screen_text(crate::ui::testing::screen(&app).backend().buffer());
        assert!(screen.contains("● EXECUTING"), "{screen}");
    }
}
