//! `update`: the only place the app's state changes.

use std::collections::HashSet;

use ratatui::layout::Rect;

use super::keys::{self, Action};
use super::{App, Cmd, Connection, DetailCache, FetchState, Focus, Msg, PacketView};
use crate::client::FeedEvent;
use crate::client::packets::Field;
use crate::model::{Decoded, Packet};
use crate::ui::layout;

/// Applies one message to the app; returns an effect for the loop, if any.
pub fn update(app: &mut App, msg: Msg) -> Option<Cmd> {
    match msg {
        Msg::Feed(event) => on_feed(app, event),
        Msg::Key(key) => {
            if let Some(action) = keys::action(&key) {
                return act(app, action);
            }
        }
        Msg::Resize(width, height) => {
            app.size = (width, height);
            relayout(app);
            keep_selection_visible(app);
        }
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
            if app.selected_index().is_none() {
                app.selected = app.runs.first().map(|r| r.id.clone());
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
        Action::ToggleFocus => {
            app.focus = match app.focus {
                Focus::Table => Focus::Detail,
                Focus::Detail => Focus::Table,
            };
        }
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
            if app.runs.is_empty() {
                return None;
            }
            let last = app.runs.len() - 1;
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
                app.selected = Some(app.runs[next].id.clone());
                app.detail_scroll = 0;
            }
            keep_selection_visible(app);
            refresh_detail(app);
        }
    }
    None
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
}

/// Scrolls the table so the selected run is on screen.
fn keep_selection_visible(app: &mut App) {
    let rows = app.pages.0;
    let max_offset = app.runs.len().saturating_sub(rows);
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
}
