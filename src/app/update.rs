//! `update`: the only place the app's state changes.
//!
//! Filtering and sorting happen here, never in the view: a run that changes moves alone within
//! the table's rows ([`super::runs::Runs`]), and only a new filter or sort rebuilds them.

use std::collections::HashSet;

use ratatui::layout::Rect;

use super::keys::{self, Action, PromptEdit};
use super::{
    App, Cmd, Connection, DetailCache, FetchState, Filter, FilterPrompt, Focus, Msg, PacketView,
    Sort,
};
use crate::client::packets::Field;
use crate::client::{ExitReason, FeedEvent};
use crate::model::{Decoded, Packet};
use crate::ui::layout;

/// Applies one message to the app; returns an effect for the loop, if any.
pub fn update(app: &mut App, msg: Msg) -> Option<Cmd> {
    let cmd = apply(app, msg);
    // Whatever the message changed, the detail pane's rows are brought up to date here, once,
    // rather than by every frame (they are the costliest part of one).
    if let Some(rows) = crate::ui::detail::rows_to_keep(app, app.detail_width)
        && let Some(cache) = app.detail.as_mut()
    {
        cache.rows = Some(rows);
    }
    cmd
}

fn apply(app: &mut App, msg: Msg) -> Option<Cmd> {
    match msg {
        Msg::Feed(event) => on_feed(app, event),
        Msg::Key(key) => {
            // Below the smallest size only a notice is drawn: keys that would act on what
            // cannot be seen do nothing, and q or Ctrl-C quit (even from the filter prompt).
            if !layout::fits(Rect::new(0, 0, app.size.0, app.size.1)) {
                return match keys::action(&key) {
                    Some(Action::Quit) => act(app, Action::Quit),
                    _ => None,
                };
            }
            // While the prompt is open every key edits it (so `q` types a q).
            if app.filter_prompt.is_some() {
                return keys::prompt_edit(&key).and_then(|edit| edit_prompt(app, edit));
            }
            // The key list closes on any key, which does nothing else (Ctrl-C still quits).
            if app.show_help {
                use crossterm::event::{KeyCode, KeyEventKind, KeyModifiers};
                if key.kind == KeyEventKind::Release {
                    return None;
                }
                app.show_help = false;
                let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL)
                    && matches!(key.code, KeyCode::Char('c' | 'C'));
                return if ctrl_c { act(app, Action::Quit) } else { None };
            }
            if let Some(action) = keys::action(&key) {
                return act(app, action);
            }
        }
        // A paste is never a string of commands: only the filter prompt takes it, as one line.
        Msg::Paste(text) => {
            if app.show_help {
                app.show_help = false;
            } else if app.filter_prompt.is_some() {
                return edit_prompt(app, PromptEdit::InsertText(one_line(&text)));
            }
        }
        Msg::Resize(width, height) => {
            app.size = (width, height);
            app.show_help &= layout::fits(Rect::new(0, 0, width, height));
            relayout(app);
            keep_selection_visible(app);
        }
        // After a replay's end the clock stops too: running durations stay as recorded.
        Msg::Tick(_) if app.connection == Connection::Ended => {}
        Msg::Tick(now) => app.now = now,
        Msg::Quit => {
            app.should_quit = true;
            return Some(Cmd::Quit);
        }
        Msg::PacketFetched {
            run_id,
            field,
            path,
            result,
        } => {
            let state = match result {
                Ok(packet) => FetchState::Done(packet),
                Err(e) => FetchState::Failed(e),
            };
            app.fetched.insert((run_id, field, path), state);
            app.detail = None;
            refresh_detail(app);
        }
    }
    None
}

fn on_feed(app: &mut App, event: FeedEvent) {
    match event {
        FeedEvent::Connecting => app.connection = Connection::Connecting,
        FeedEvent::Live => app.connection = Connection::Live,
        FeedEvent::Reconnecting {
            reason,
            attempt,
            retry_in,
            ..
        } => {
            app.connection = Connection::Reconnecting {
                reason,
                attempt,
                retry_in,
            };
        }
        FeedEvent::Failed {
            code: ExitReason::EndOfReplay,
            ..
        } => app.connection = Connection::Ended,
        FeedEvent::Failed {
            reason,
            detail,
            code,
        } => {
            app.failure = Some(code);
            app.connection = Connection::Failed { reason, detail };
        }
        FeedEvent::BatchInfo(info) => app.batch_info = Some(info),
        FeedEvent::ChangedAt(_) => {}
        FeedEvent::Runs(flush) => {
            // The selected run's row, so a selection that leaves the table lands on its neighbour;
            // only a flush that touches the selected run can hide it.
            let touched = app.selected.as_deref().is_some_and(|id| {
                flush.complete
                    || flush.removed.iter().any(|r| r == id)
                    || flush.runs.iter().any(|r| r.id == id)
            });
            let row = if touched { app.selected_index() } else { None };
            if flush.complete {
                // After a refetch the flush is the whole set: drop what is no longer there.
                let keep: HashSet<&str> = flush.runs.iter().map(|r| r.id.as_str()).collect();
                let gone: Vec<String> = app
                    .runs
                    .iter()
                    .filter(|r| !keep.contains(r.id.as_str()))
                    .map(|r| r.id.clone())
                    .collect();
                for id in gone {
                    app.remove(&id);
                }
            }
            for id in &flush.removed {
                app.remove(id);
            }
            for run in flush.runs {
                app.upsert(run);
            }
            // A delivery of data means the feed is live, even if a reconnect was shown.
            if !matches!(app.connection, Connection::Failed { .. }) {
                app.connection = Connection::Live;
            }
            app.last_update = Some(app.now);
            if !app
                .selected
                .as_deref()
                .is_some_and(|id| app.runs.is_shown(id))
            {
                let last = app.runs.shown_len().saturating_sub(1);
                let next = app.runs.shown(row.unwrap_or(0).min(last));
                app.selected = next.map(|r| r.id.clone());
                app.detail_scroll = 0;
            }
            keep_selection_visible(app);
        }
    }
    refresh_detail(app);
}

fn act(app: &mut App, action: Action) -> Option<Cmd> {
    match action {
        Action::Quit => {
            app.should_quit = true;
            return Some(Cmd::Quit);
        }
        Action::Back if app.focus == Focus::Detail => app.focus = Focus::Table,
        Action::Open => {
            // With no run selected there is nothing to open.
            if app.selected.is_some() {
                app.focus = Focus::Detail;
            }
        }
        Action::Back if app.filter().is_active() => {
            let selected = app.selected.clone();
            apply_filter(app, "", selected.as_deref());
        }
        Action::Back => {
            app.should_quit = true;
            return Some(Cmd::Quit);
        }
        Action::Filter => {
            let text = app.filter().text().to_string();
            app.filter_prompt = Some(FilterPrompt {
                text: text.clone(),
                before: text,
                anchor: app.selected.clone(),
            });
        }
        Action::NextSort | Action::ReverseSort => {
            let sort = app.runs.sort();
            app.runs.set_sort(if action == Action::NextSort {
                Sort {
                    column: sort.column.next(),
                    ..sort
                }
            } else {
                Sort {
                    descending: !sort.descending,
                    ..sort
                }
            });
            reselect(app, None);
        }
        Action::ToggleFocus => {
            app.focus = match app.focus {
                Focus::Table => Focus::Detail,
                Focus::Detail => Focus::Table,
            };
        }
        // Below the smallest size nothing is drawn: a list nobody sees must not take a key.
        Action::Help => app.show_help = layout::fits(Rect::new(0, 0, app.size.0, app.size.1)),
        Action::ToggleLog => {
            app.show_log = !app.show_log;
            relayout(app);
            keep_selection_visible(app);
        }
        _ if app.focus == Focus::Detail => {
            let page = app.pages.1 as u16;
            app.detail_scroll = match action {
                Action::Up => app.detail_scroll.saturating_sub(1),
                Action::Down => app.detail_scroll.saturating_add(1),
                Action::PageUp => app.detail_scroll.saturating_sub(page),
                Action::PageDown => app.detail_scroll.saturating_add(page),
                Action::Home => 0,
                Action::End => u16::MAX,
                _ => app.detail_scroll,
            };
            // Clamp to the content, so Up moves at once after End or a PgDn too many.
            let area = layout::areas(Rect::new(0, 0, app.size.0, app.size.1), app.show_log).detail;
            let max = crate::ui::detail::max_scroll(app, area);
            app.detail_scroll = app
                .detail_scroll
                .min(u16::try_from(max).unwrap_or(u16::MAX));
        }
        _ => {
            if app.runs.shown_len() == 0 {
                return None;
            }
            let last = app.runs.shown_len() - 1;
            let page = app.pages.0;
            let current = app.selected_index().unwrap_or(0);
            let next = match action {
                Action::Up => current.saturating_sub(1),
                Action::Down => (current + 1).min(last),
                Action::PageUp => current.saturating_sub(page),
                Action::PageDown => (current + page).min(last),
                Action::Home => 0,
                Action::End => last,
                _ => current,
            };
            if next != current || app.selected.is_none() {
                app.selected = app.runs.shown(next).map(|r| r.id.clone());
                app.detail_scroll = 0;
            }
            keep_selection_visible(app);
            refresh_detail(app);
        }
    }
    None
}

/// Edits the open filter prompt; the table follows the text as it is typed.
fn edit_prompt(app: &mut App, edit: PromptEdit) -> Option<Cmd> {
    let prompt = app.filter_prompt.as_mut()?;
    match edit {
        PromptEdit::Insert(c) => prompt.text.push(c),
        PromptEdit::InsertText(text) => prompt.text.push_str(&text),
        PromptEdit::Backspace => {
            prompt.text.pop();
        }
        PromptEdit::DeleteWord => {
            let kept = prompt
                .text
                .trim_end()
                .trim_end_matches(|c: char| !c.is_whitespace());
            prompt.text.truncate(kept.len());
        }
        PromptEdit::Clear => prompt.text.clear(),
        PromptEdit::Apply => {
            // The filter already applies; a blank one is dropped.
            app.filter_prompt = None;
            if !app.filter().is_active() {
                apply_filter(app, "", None);
            }
            return None;
        }
        PromptEdit::Cancel => {
            let prompt = app.filter_prompt.take()?;
            apply_filter(app, &prompt.before, prompt.anchor.as_deref());
            return None;
        }
        PromptEdit::Quit => {
            app.should_quit = true;
            return Some(Cmd::Quit);
        }
    }
    let text = prompt.text.clone();
    let anchor = prompt.anchor.clone();
    apply_filter(app, &text, anchor.as_deref());
    None
}

/// Pasted text as filter text: controls and line breaks become spaces, and it stops at
/// [`MAX_PASTE`] characters (a filter is a few words; a paste may be a whole file).
fn one_line(text: &str) -> String {
    text.chars()
        .take(MAX_PASTE)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The most of a paste the filter prompt takes.
const MAX_PASTE: usize = 1_000;

/// Filters the table by `text`, then selects `prefer` if it is shown.
fn apply_filter(app: &mut App, text: &str, prefer: Option<&str>) {
    app.runs.set_filter(Filter::new(text));
    reselect(app, prefer);
}

/// After the rows were filtered or sorted anew: selects `prefer` if it is shown, else keeps the
/// selected run if it is, else the row nearest to where either would be (or the first).
fn reselect(app: &mut App, prefer: Option<&str>) {
    let is_shown = |id: &&str| app.runs.position(id).is_some();
    let current = app.selected.as_deref();
    let pick = match prefer.filter(is_shown).or(current.filter(is_shown)) {
        Some(id) => Some(id.to_string()),
        None => {
            let place = prefer
                .or(current)
                .and_then(|id| app.runs.place(id))
                .unwrap_or(0);
            let last = app.runs.shown_len().saturating_sub(1);
            app.runs.shown(place.min(last)).map(|r| r.id.clone())
        }
    };
    if pick != app.selected {
        app.selected = pick;
        app.detail_scroll = 0;
    }
    keep_selection_visible(app);
    refresh_detail(app);
}

/// Recomputes the page heights of the table and the detail pane: only when the terminal size
/// or the panes change, never per event (solving the layout is the costliest thing `update`
/// could do).
fn relayout(app: &mut App) {
    let area = Rect::new(0, 0, app.size.0, app.size.1);
    app.pages = (
        layout::table_rows(area, app.show_log),
        layout::detail_rows(area, app.show_log),
    );
    app.detail_width = layout::detail_width(area, app.show_log);
}

/// Scrolls the table so the selected run is on screen.
fn keep_selection_visible(app: &mut App) {
    let rows = app.pages.0;
    let max_offset = app.runs.shown_len().saturating_sub(rows);
    if let Some(i) = app.selected_index() {
        if i < app.table_offset {
            app.table_offset = i;
        } else if i >= app.table_offset + rows {
            app.table_offset = i + 1 - rows;
        }
    }
    app.table_offset = app.table_offset.min(max_offset);
}

/// Decodes the selected run's packets when the selection or its packets changed, and asks
/// for offloaded ones to be fetched (once per run, field and path).
fn refresh_detail(app: &mut App) {
    let Some(run) = app.selected_run() else {
        app.detail = None;
        return;
    };
    let unchanged = app.detail.as_ref().is_some_and(|d| d.run_id == run.id)
        && app
            .detail_source
            .as_ref()
            .is_some_and(|(p, o, m)| (p, o, m) == (&run.payload, &run.output, &run.metadata));
    if unchanged {
        return;
    }
    let source = packets_of(run);
    let run_id = run.id.clone();
    let mut view = |packet: &Option<Packet>, field: Option<Field>| -> PacketView {
        let decoded = packet.as_ref().map_or(Decoded::Absent, Packet::decode);
        let (Decoded::Offloaded { path }, Some(field)) = (&decoded, field) else {
            return PacketView::from_decoded(decoded);
        };
        let key = (run_id.clone(), field, path.clone());
        match app.fetched.get(&key) {
            Some(FetchState::Done(fetched)) => PacketView::from_decoded(fetched.decode()),
            Some(state) => PacketView::Offloaded {
                path: path.clone(),
                fetch: state.clone(),
            },
            None => {
                app.fetched.insert(key, FetchState::Fetching);
                app.outbox.push(Cmd::FetchPacket {
                    run_id: run_id.clone(),
                    field,
                    path: path.clone(),
                });
                PacketView::Offloaded {
                    path: path.clone(),
                    fetch: FetchState::Fetching,
                }
            }
        }
    };
    let payload = view(&source.0, Some(Field::Payload));
    let output = view(&source.1, Some(Field::Output));
    // Metadata is never fetched from storage (the SDK does not either).
    let metadata = view(&source.2, None);
    app.detail = Some(DetailCache {
        run_id,
        payload,
        output,
        metadata,
        rows: None,
    });
    app.detail_source = Some(source);
}

/// The raw packets a detail cache was built from, to tell when it is stale.
fn packets_of(run: &crate::model::Run) -> (Option<Packet>, Option<Packet>, Option<Packet>) {
    (
        run.payload.clone(),
        run.output.clone(),
        run.metadata.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures::{self, key};
    use crossterm::event::KeyCode;

    #[test]
    fn first_runs_select_the_first_row() {
        let app = fixtures::app_after(vec![fixtures::runs_msg(5)]);
        assert_eq!(app.selected.as_deref(), Some("run_0001"));
        assert_eq!(app.connection, Connection::Live);
        assert_eq!(app.summary.total(), 5);
    }

    #[test]
    fn selection_follows_its_run_when_rows_arrive_before_it() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg_range(5..8)]);
        update(&mut app, key(KeyCode::Char('j')));
        assert_eq!(app.selected.as_deref(), Some("run_0006"));
        update(&mut app, fixtures::runs_msg_range(1..5));
        assert_eq!(app.selected.as_deref(), Some("run_0006"));
        assert_eq!(app.selected_index(), Some(5));
    }

    #[test]
    fn keys_move_and_clamp() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(50)]);
        update(&mut app, key(KeyCode::Char('k')));
        assert_eq!(app.selected_index(), Some(0));
        update(&mut app, key(KeyCode::End));
        assert_eq!(app.selected_index(), Some(49));
        update(&mut app, key(KeyCode::Down));
        assert_eq!(app.selected_index(), Some(49));
        assert!(app.table_offset > 0);
        update(&mut app, key(KeyCode::Char('g')));
        assert_eq!((app.selected_index(), app.table_offset), (Some(0), 0));
        update(&mut app, key(KeyCode::PageDown));
        assert!(app.selected_index().unwrap() > 5);
    }

    #[test]
    fn question_mark_lists_the_keys_and_the_next_key_only_closes_it() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(5)]);
        update(&mut app, key(KeyCode::Char('?')));
        assert!(app.show_help);
        // q, Esc, j: each closes the list and does nothing else.
        for code in [KeyCode::Char('q'), KeyCode::Esc, KeyCode::Char('j')] {
            assert_eq!(update(&mut app, key(code)), None);
            assert!(!app.show_help && !app.should_quit);
            assert_eq!(app.selected_index(), Some(0));
            update(&mut app, key(KeyCode::Char('?')));
        }
        assert_eq!(update(&mut app, ctrl('c')), Some(Cmd::Quit));
    }

    #[test]
    fn a_paste_only_types_into_the_filter_prompt() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(5)]);
        assert_eq!(update(&mut app, Msg::Paste("run_q jjj".into())), None);
        assert!(!app.should_quit);
        assert_eq!(app.selected_index(), Some(0));
        update(&mut app, key(KeyCode::Char('?')));
        update(&mut app, Msg::Paste("q".into()));
        assert!(
            !app.show_help && !app.should_quit,
            "a paste closes the key list"
        );
        update(&mut app, key(KeyCode::Char('/')));
        update(&mut app, Msg::Paste("run_000\r\n1\t\u{1b}[2J".into()));
        let prompt = app.filter_prompt.as_ref().unwrap();
        assert_eq!(prompt.text, "run_000  1  [2J");
        update(&mut app, Msg::Paste("x".repeat(5_000)));
        let prompt = app.filter_prompt.as_ref().unwrap();
        assert_eq!(prompt.text.chars().count(), 15 + MAX_PASTE);
    }

    #[test]
    fn no_key_list_on_a_screen_too_small_to_draw_it() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(5)]);
        update(&mut app, key(KeyCode::Char('?')));
        update(&mut app, Msg::Resize(30, 10));
        assert!(
            !app.show_help,
            "closed when the screen shrinks below the minimum"
        );
        update(&mut app, key(KeyCode::Char('?')));
        assert!(!app.show_help, "not opened there");
        assert_eq!(update(&mut app, key(KeyCode::Char('q'))), Some(Cmd::Quit));
    }

    #[test]
    fn on_a_screen_too_small_to_draw_only_quitting_acts() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(5)]);
        update(&mut app, Msg::Resize(39, 12));
        for code in [
            KeyCode::Char('/'),
            KeyCode::Char('j'),
            KeyCode::Enter,
            KeyCode::Esc,
        ] {
            assert_eq!(update(&mut app, key(code)), None);
        }
        assert!(app.filter_prompt.is_none() && !app.should_quit);
        assert_eq!((app.selected_index(), app.focus), (Some(0), Focus::Table));
        // Even with the prompt open from before the screen shrank, q quits.
        update(&mut app, Msg::Resize(80, 24));
        update(&mut app, key(KeyCode::Char('/')));
        update(&mut app, Msg::Resize(30, 10));
        assert_eq!(update(&mut app, key(KeyCode::Char('q'))), Some(Cmd::Quit));
    }

    #[test]
    fn enter_opens_the_detail_and_esc_goes_back_before_it_clears_or_quits() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(5)]);
        update(&mut app, key(KeyCode::Down));
        update(&mut app, key(KeyCode::Enter));
        assert_eq!(app.focus, Focus::Detail);
        assert_eq!(app.selected_index(), Some(1));
        update(&mut app, key(KeyCode::Enter));
        assert_eq!(app.focus, Focus::Detail, "Enter in the detail stays there");
        assert_eq!(update(&mut app, key(KeyCode::Esc)), None);
        assert_eq!(app.focus, Focus::Table);
        assert!(!app.should_quit);
        assert_eq!(app.selected_index(), Some(1));
        assert_eq!(update(&mut app, key(KeyCode::Esc)), Some(Cmd::Quit));
        // No run to open: the focus stays on the (empty) table.
        let mut empty = fixtures::app_after(vec![]);
        update(&mut empty, key(KeyCode::Enter));
        assert_eq!(empty.focus, Focus::Table);
    }

    #[test]
    fn tab_moves_focus_and_arrows_then_scroll_the_detail() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(5)]);
        update(&mut app, key(KeyCode::Tab));
        assert_eq!(app.focus, Focus::Detail);
        update(&mut app, key(KeyCode::Down));
        update(&mut app, key(KeyCode::Down));
        assert_eq!(app.detail_scroll, 2);
        assert_eq!(app.selected_index(), Some(0));
        update(&mut app, key(KeyCode::Tab));
        update(&mut app, key(KeyCode::Down));
        assert_eq!(app.selected_index(), Some(1));
        assert_eq!(app.detail_scroll, 0);
    }

    fn shown_ids(app: &App) -> Vec<String> {
        app.runs
            .shown_range(0, usize::MAX)
            .map(|r| r.id.clone())
            .collect()
    }

    fn ids(numbers: &[usize]) -> Vec<String> {
        numbers.iter().map(|n| format!("run_{n:04}")).collect()
    }

    fn typed(text: &str) -> Vec<Msg> {
        text.chars().map(|c| key(KeyCode::Char(c))).collect()
    }

    /// 30 runs with `filter` typed into the prompt (left open when `enter` is false).
    fn filtered(filter: &str, enter: bool) -> App {
        let mut msgs = vec![fixtures::runs_msg(30), key(KeyCode::Char('/'))];
        msgs.extend(typed(filter));
        if enter {
            msgs.push(key(KeyCode::Enter));
        }
        fixtures::app_after(msgs)
    }

    fn ctrl(c: char) -> Msg {
        Msg::Key(crossterm::event::KeyEvent::new(
            KeyCode::Char(c),
            crossterm::event::KeyModifiers::CONTROL,
        ))
    }

    // In the fixtures run n has status n % 8 of [completed, executing, pending, completed,
    // failed, waiting, dequeued, canceled] and task n % 4 of [import-rows, send-email,
    // resize-image, generate-report]: the failed runs are 4, 12, 20, 28, all import-rows.

    #[test]
    fn typing_a_filter_narrows_the_table_live_and_enter_keeps_it() {
        let mut app = filtered("FAIL", false);
        assert!(app.filter_prompt.is_some());
        assert_eq!(shown_ids(&app), ids(&[4, 12, 20, 28]));
        assert_eq!((app.runs.len(), app.runs.shown_len()), (30, 4));
        assert_eq!(app.summary.total(), 30, "the summary counts every run");
        update(&mut app, key(KeyCode::Enter));
        assert_eq!(app.filter_prompt, None);
        assert_eq!(app.filter().text(), "FAIL");
        assert_eq!(shown_ids(&app), ids(&[4, 12, 20, 28]));
    }

    #[test]
    fn terms_must_all_match() {
        // send-email runs are 1, 5, 9, …; of those, 1, 9, 17, 25 are executing.
        let app = filtered("email exec", true);
        assert_eq!(shown_ids(&app), ids(&[1, 9, 17, 25]));
        let app = filtered("task:email status:exec", true);
        assert_eq!(shown_ids(&app), ids(&[1, 9, 17, 25]));
        let app = filtered("acme priority", true);
        assert_eq!(app.runs.shown_len(), 10, "runs 3, 6, … 30 carry both tags");
    }

    #[test]
    fn keys_while_typing_do_not_act() {
        let mut app = filtered("", false);
        for msg in typed("qjslgG/") {
            assert_eq!(update(&mut app, msg), None);
        }
        update(&mut app, key(KeyCode::Tab));
        assert!(!app.should_quit);
        assert!(!app.show_log);
        assert_eq!(app.focus, Focus::Table);
        assert_eq!(app.runs.sort(), Sort::default());
        assert_eq!(app.filter_prompt.as_ref().unwrap().text, "qjslgG/");
        assert_eq!(app.runs.shown_len(), 0, "the text filters as it is typed");
        update(&mut app, key(KeyCode::Esc));
        assert_eq!(app.runs.shown_len(), 30);
        assert_eq!(app.selected.as_deref(), Some("run_0001"));
        update(&mut app, key(KeyCode::Char('/')));
        assert_eq!(update(&mut app, ctrl('c')), Some(Cmd::Quit));
        assert!(app.should_quit);
    }

    #[test]
    fn backspace_ctrl_w_and_ctrl_u_edit_the_prompt() {
        let mut app = filtered("fail emai", false);
        assert_eq!(app.runs.shown_len(), 0);
        update(&mut app, key(KeyCode::Backspace));
        update(&mut app, key(KeyCode::Backspace));
        assert_eq!(app.filter().text(), "fail em");
        update(&mut app, ctrl('w'));
        assert_eq!(app.filter().text(), "fail ");
        assert_eq!(shown_ids(&app), ids(&[4, 12, 20, 28]));
        update(&mut app, ctrl('u'));
        assert_eq!(app.filter().text(), "");
        assert_eq!(app.runs.shown_len(), 30);
    }

    #[test]
    fn esc_while_typing_restores_the_previous_filter_and_selection() {
        let mut app = filtered("failed", true);
        update(&mut app, key(KeyCode::Char('j')));
        assert_eq!(app.selected.as_deref(), Some("run_0012"));
        update(&mut app, key(KeyCode::Char('/')));
        update(&mut app, ctrl('u'));
        for msg in typed("generate") {
            update(&mut app, msg);
        }
        assert_eq!(app.runs.shown_len(), 7, "runs 3, 7, … 27");
        assert_eq!(app.selected.as_deref(), Some("run_0015"), "the nearest row");
        assert_eq!(update(&mut app, key(KeyCode::Esc)), None);
        assert!(!app.should_quit);
        assert_eq!(app.filter_prompt, None);
        assert_eq!(app.filter().text(), "failed");
        assert_eq!(shown_ids(&app), ids(&[4, 12, 20, 28]));
        assert_eq!(app.selected.as_deref(), Some("run_0012"));
    }

    #[test]
    fn esc_clears_an_active_filter_and_quits_without_one() {
        let mut app = filtered("failed", true);
        update(&mut app, key(KeyCode::Char('j')));
        assert_eq!(update(&mut app, key(KeyCode::Esc)), None);
        assert!(!app.should_quit);
        assert!(!app.filter().is_active());
        assert_eq!(app.runs.shown_len(), 30);
        assert_eq!(
            app.selected.as_deref(),
            Some("run_0012"),
            "the selection stays"
        );
        assert_eq!(app.selected_index(), Some(11));
        assert_eq!(update(&mut app, key(KeyCode::Esc)), Some(Cmd::Quit));
        assert!(app.should_quit);
    }

    #[test]
    fn a_blank_filter_is_no_filter() {
        let mut app = filtered("   ", true);
        assert!(!app.filter().is_active());
        assert_eq!(app.filter().text(), "");
        assert_eq!(update(&mut app, key(KeyCode::Esc)), Some(Cmd::Quit));
    }

    #[test]
    fn runs_enter_and_leave_the_filter_live() {
        let mut app = filtered("failed", true);
        // Run 1 fails, run 12 completes, run 36 arrives failed, run 20 is removed.
        update(&mut app, fixtures::one_run_msg(fixtures::run(1, "CRASHED")));
        update(
            &mut app,
            fixtures::one_run_msg(fixtures::run(2, "SYSTEM_FAILURE")),
        );
        update(
            &mut app,
            fixtures::one_run_msg(fixtures::run(12, "COMPLETED_SUCCESSFULLY")),
        );
        update(
            &mut app,
            fixtures::one_run_msg(fixtures::run(36, "COMPLETED_WITH_ERRORS")),
        );
        let mut flush = fixtures::flush_range(0..0);
        flush.removed = vec!["run_0020".into()];
        update(&mut app, Msg::Feed(FeedEvent::Runs(flush)));
        // "failed" matches FAILED and the label "Failed", not CRASHED or "System failure".
        assert_eq!(shown_ids(&app), ids(&[4, 28, 36]));
        assert_eq!(app.runs.len(), 30);
        assert_eq!(app.summary.total(), 30);
    }

    #[test]
    fn selection_follows_its_run_across_filter_and_sort() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(30)]);
        for _ in 0..11 {
            update(&mut app, key(KeyCode::Down));
        }
        assert_eq!(app.selected.as_deref(), Some("run_0012"));
        for msg in [key(KeyCode::Char('/'))].into_iter().chain(typed("fail")) {
            update(&mut app, msg);
        }
        assert_eq!(app.selected.as_deref(), Some("run_0012"));
        assert_eq!(app.selected_index(), Some(1));
        update(&mut app, key(KeyCode::Enter));
        update(&mut app, key(KeyCode::Char('S')));
        assert_eq!(app.selected.as_deref(), Some("run_0012"));
        assert_eq!(app.selected_index(), Some(2));
        assert_eq!(app.detail.as_ref().unwrap().run_id, "run_0012");
    }

    #[test]
    fn a_hidden_selection_moves_to_the_nearest_shown_row() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(30)]);
        for _ in 0..5 {
            update(&mut app, key(KeyCode::Down));
        }
        assert_eq!(app.selected.as_deref(), Some("run_0006"));
        for msg in [key(KeyCode::Char('/'))].into_iter().chain(typed("failed")) {
            update(&mut app, msg);
        }
        update(&mut app, key(KeyCode::Enter));
        // Run 6 would sit between runs 4 and 12.
        assert_eq!(app.selected.as_deref(), Some("run_0012"));
        assert_eq!(app.detail.as_ref().unwrap().run_id, "run_0012");
        // The selected run stops matching: its row goes to the next one.
        update(
            &mut app,
            fixtures::one_run_msg(fixtures::run(12, "COMPLETED_SUCCESSFULLY")),
        );
        assert_eq!(app.selected.as_deref(), Some("run_0020"));
        assert_eq!(app.selected_index(), Some(1));
        // The last row leaves: the selection moves up.
        update(&mut app, key(KeyCode::End));
        update(
            &mut app,
            fixtures::one_run_msg(fixtures::run(28, "COMPLETED_SUCCESSFULLY")),
        );
        assert_eq!(app.selected.as_deref(), Some("run_0020"));
    }

    #[test]
    fn no_match_selects_nothing_until_a_run_matches() {
        let mut app = filtered("run_0031", true);
        assert_eq!(app.runs.shown_len(), 0);
        assert_eq!(
            (app.selected.as_deref(), app.selected_index()),
            (None, None)
        );
        assert!(app.detail.is_none());
        update(&mut app, key(KeyCode::Down));
        assert_eq!(app.selected, None);
        update(&mut app, fixtures::runs_msg_range(31..32));
        assert_eq!(app.selected.as_deref(), Some("run_0031"));
        update(&mut app, key(KeyCode::Esc));
        assert_eq!(app.selected.as_deref(), Some("run_0031"));
        assert_eq!(app.selected_index(), Some(30));
    }

    #[test]
    fn moving_keys_walk_the_shown_rows() {
        let mut app = filtered("failed", true);
        let mut seen = Vec::new();
        for code in [
            KeyCode::Home,
            KeyCode::Char('j'),
            KeyCode::End,
            KeyCode::Char('k'),
            KeyCode::PageUp,
            KeyCode::PageDown,
            KeyCode::Char('j'),
        ] {
            update(&mut app, key(code));
            seen.push(app.selected.clone().unwrap());
        }
        assert_eq!(seen, ids(&[4, 12, 28, 20, 4, 28, 28]));
    }

    #[test]
    fn s_cycles_the_sort_column_and_shift_s_reverses() {
        use crate::app::SortColumn::*;
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(30)]);
        let mut columns = vec![app.runs.sort().column];
        for _ in 0..6 {
            update(&mut app, key(KeyCode::Char('s')));
            columns.push(app.runs.sort().column);
        }
        assert_eq!(
            columns,
            [Number, Status, Started, Duration, Cost, Task, Number]
        );
        update(&mut app, key(KeyCode::Char('S')));
        assert!(app.runs.sort().descending);
        assert_eq!(shown_ids(&app)[..3], ids(&[30, 29, 28]));
        assert_eq!(app.selected.as_deref(), Some("run_0001"));
        assert_eq!(app.selected_index(), Some(29));
        assert!(app.table_offset > 0, "the selection stays on screen");
        update(&mut app, key(KeyCode::Char('s')));
        assert_eq!(
            app.runs.sort(),
            Sort {
                column: Status,
                descending: true
            },
            "the direction is kept"
        );
        update(&mut app, key(KeyCode::Char('S')));
        assert!(!app.runs.sort().descending);
    }

    #[test]
    fn ties_keep_number_order() {
        // By status: the failed runs first, in number order; the completed ones last.
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(30), key(KeyCode::Char('s'))]);
        let shown = shown_ids(&app);
        assert_eq!(shown[..4], ids(&[4, 12, 20, 28]));
        assert_eq!(shown[shown.len() - 3..], ids(&[19, 24, 27]));
        update(&mut app, key(KeyCode::Char('S')));
        let shown = shown_ids(&app);
        assert_eq!(shown[..3], ids(&[3, 8, 11]));
        assert_eq!(shown[shown.len() - 4..], ids(&[4, 12, 20, 28]));
    }

    #[test]
    fn a_changed_run_moves_to_its_sorted_place() {
        // Duration, descending: finished and waiting runs by recorded duration.
        let mut msgs = vec![fixtures::runs_msg(30)];
        msgs.extend(typed("sssS"));
        let mut app = fixtures::app_after(msgs);
        assert_eq!(app.runs.sort().column, crate::app::SortColumn::Duration);
        let before = shown_ids(&app);
        let mut long = fixtures::run(2, "COMPLETED_SUCCESSFULLY");
        long.duration_ms = Some(3_600_000);
        update(&mut app, fixtures::one_run_msg(long.clone()));
        let after = shown_ids(&app);
        assert_eq!(after[0], "run_0002");
        // Every other run keeps its relative order.
        let others = |ids: &[String]| -> Vec<String> {
            ids.iter().filter(|id| *id != "run_0002").cloned().collect()
        };
        assert_eq!(others(&before), others(&after));
        // What a full sort would give.
        let sort = app.runs.sort();
        let mut all: Vec<_> = app.runs.iter().cloned().collect();
        all.sort_by(|a, b| sort.cmp(a, b));
        assert_eq!(after, all.into_iter().map(|r| r.id).collect::<Vec<_>>());
        // Shorter again: it goes back down.
        long.duration_ms = Some(1);
        update(&mut app, fixtures::one_run_msg(long));
        let shown = shown_ids(&app);
        let finished = shown.iter().position(|id| id == "run_0002").unwrap();
        assert!(finished > 10, "{finished}");
    }

    #[test]
    fn quit_keys_ask_to_quit() {
        for code in [KeyCode::Char('q'), KeyCode::Esc] {
            let mut app = fixtures::app_after(vec![]);
            assert_eq!(update(&mut app, key(code)), Some(Cmd::Quit));
            assert!(app.should_quit);
        }
    }

    #[test]
    fn complete_flush_drops_runs_that_are_gone() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(3)]);
        let mut flush = fixtures::flush_range(1..2);
        flush.complete = true;
        update(&mut app, Msg::Feed(FeedEvent::Runs(flush)));
        assert_eq!(app.runs.len(), 1);
        assert_eq!(app.summary.total(), 1);
        assert_eq!(app.selected.as_deref(), Some("run_0001"));
    }

    #[test]
    fn connection_states_follow_the_feed() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(2)]);
        update(
            &mut app,
            Msg::Feed(FeedEvent::Reconnecting {
                reason: "HTTP 503".into(),
                detail: "d".into(),
                attempt: 2,
                retry_in: std::time::Duration::from_millis(300),
            }),
        );
        assert!(matches!(
            app.connection,
            Connection::Reconnecting { attempt: 2, .. }
        ));
        assert_eq!(app.runs.len(), 2, "a reconnect loses no run");
        update(&mut app, fixtures::runs_msg(2));
        assert_eq!(app.connection, Connection::Live);
    }

    #[test]
    fn detail_cache_follows_the_selection() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(3)]);
        assert_eq!(app.detail.as_ref().unwrap().run_id, "run_0001");
        update(&mut app, key(KeyCode::Down));
        assert_eq!(app.detail.as_ref().unwrap().run_id, "run_0002");
    }

    #[test]
    fn resize_keeps_the_selection_on_screen() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(100)]);
        update(&mut app, key(KeyCode::End));
        update(&mut app, Msg::Resize(80, 24));
        let rows = layout::table_rows(Rect::new(0, 0, 80, 24), false);
        let i = app.selected_index().unwrap();
        assert!(i >= app.table_offset && i < app.table_offset + rows);
        update(&mut app, Msg::Resize(20, 5));
        update(&mut app, Msg::Resize(0, 0));
    }

    #[test]
    fn the_clock_stops_when_a_replay_ends() {
        let mut app = fixtures::app_after(vec![fixtures::runs_msg(3)]);
        update(
            &mut app,
            Msg::Feed(FeedEvent::Failed {
                reason: "end of recording".into(),
                detail: "the recorded session has no more exchanges".into(),
                code: ExitReason::EndOfReplay,
            }),
        );
        assert_eq!(app.connection, Connection::Ended);
        assert_eq!(app.failure, None);
        let before = app.now;
        update(&mut app, Msg::Tick(before + chrono::TimeDelta::seconds(30)));
        assert_eq!(app.now, before, "running durations stay as recorded");
    }
}
