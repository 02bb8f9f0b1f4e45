//! Keys to actions: one table, which the footer's hints also read. While the filter prompt is
//! open, keys edit its text instead ([`prompt_edit`]).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    ToggleFocus,
    /// Enter: the selected run's detail pane.
    Open,
    ToggleLog,
    /// `?`: the list of keys.
    Help,
    /// Open the filter prompt.
    Filter,
    /// Sort by the next column.
    NextSort,
    /// Reverse the sort direction.
    ReverseSort,
    /// Esc: from the detail pane back to the table; else clear the filter, or quit when there
    /// is none.
    Back,
    Quit,
}

/// What a key does to the filter prompt's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptEdit {
    Insert(char),
    /// Pasted text, already made one line.
    InsertText(String),
    /// Delete the last character.
    Backspace,
    /// Delete the last word.
    DeleteWord,
    /// Delete everything.
    Clear,
    /// Keep the filter and go back to the table.
    Apply,
    /// Go back to the filter as it was.
    Cancel,
    Quit,
}

/// Key hints for the footer, in the order shown: (keys, what they do).
pub const HINTS: &[(&str, &str)] = &[
    ("↑↓/jk", "move"),
    ("/", "filter"),
    // Early, so that narrow terminals keep it: the list has the rest.
    ("?", "keys"),
    ("s/S", "sort"),
    ("Tab", "table/detail"),
    ("l", "log"),
    ("PgUp/PgDn", "page"),
    ("g/G", "first/last"),
    ("q", "quit"),
];

/// Every key, for the `?` list: (keys, what they do). Short, so that the list still reads
/// on the smallest screen drawn (40x12: ten rows inside the box).
pub const HELP: &[(&str, &str)] = &[
    ("↑↓ j k", "move (in the detail pane: scroll it)"),
    ("PgUp PgDn", "a page up or down (also Ctrl-U, Ctrl-D)"),
    ("Home End g G", "first or last run (top or bottom)"),
    ("Enter", "open the selected run's detail pane"),
    ("Tab", "switch between the table and the detail"),
    ("Esc", "back to the table, clear the filter, or quit"),
    ("/", "filter by id, task, status or tag"),
    ("s S", "sort by the next column; reverse it"),
    ("l", "show or hide the log pane"),
    ("q Ctrl-C", "quit"),
];

/// The hint shown after the filter's while a filter is active.
pub const CLEAR_FILTER_HINT: (&str, &str) = ("Esc", "clear filter");

/// The hint shown after the focus hint while the detail pane has the focus.
pub const BACK_TO_TABLE_HINT: (&str, &str) = ("Esc", "back to table");

/// Hints beside the open filter prompt (the last one is dropped last).
pub const PROMPT_HINTS: &[(&str, &str)] =
    &[("Enter", "keep"), ("Ctrl-U", "clear"), ("Esc", "cancel")];

/// Maps a key to an action; `None` for keys that do nothing (they are ignored, never an error).
pub fn action(key: &KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') | KeyCode::Char('C') => Some(Action::Quit),
            KeyCode::Char('d') => Some(Action::PageDown),
            KeyCode::Char('u') => Some(Action::PageUp),
            _ => None,
        };
    }
    // Alt-j is not j: a combination the table does not name does nothing.
    if key.modifiers.contains(KeyModifiers::ALT) {
        return None;
    }
    Some(match key.code {
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Home,
        KeyCode::End | KeyCode::Char('G') => Action::End,
        KeyCode::Tab | KeyCode::BackTab => Action::ToggleFocus,
        KeyCode::Enter => Action::Open,
        KeyCode::Char('l') => Action::ToggleLog,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('/') => Action::Filter,
        KeyCode::Char('s') => Action::NextSort,
        KeyCode::Char('S') => Action::ReverseSort,
        KeyCode::Esc => Action::Back,
        KeyCode::Char('q') => Action::Quit,
        _ => return None,
    })
}

/// Maps a key to an edit of the filter prompt: printable characters are typed (`q` included);
/// Ctrl-C still quits.
pub fn prompt_edit(key: &KeyEvent) -> Option<PromptEdit> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') | KeyCode::Char('C') => Some(PromptEdit::Quit),
            KeyCode::Char('u') => Some(PromptEdit::Clear),
            KeyCode::Char('w') | KeyCode::Backspace => Some(PromptEdit::DeleteWord),
            // ^H: what Backspace sends where the terminal's erase character is ^H.
            KeyCode::Char('h') => Some(PromptEdit::Backspace),
            _ => None,
        };
    }
    // As in the table, Alt combinations do nothing (Alt-Enter does not keep the filter).
    if key.modifiers.contains(KeyModifiers::ALT) {
        return None;
    }
    match key.code {
        KeyCode::Char(c) if !c.is_control() => Some(PromptEdit::Insert(c)),
        KeyCode::Backspace => Some(PromptEdit::Backspace),
        KeyCode::Enter => Some(PromptEdit::Apply),
        KeyCode::Esc => Some(PromptEdit::Cancel),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn documented_keys_map() {
        assert_eq!(action(&key(KeyCode::Char('j'))), Some(Action::Down));
        assert_eq!(action(&key(KeyCode::Down)), Some(Action::Down));
        assert_eq!(action(&key(KeyCode::Char('k'))), Some(Action::Up));
        assert_eq!(action(&key(KeyCode::Char('G'))), Some(Action::End));
        assert_eq!(action(&key(KeyCode::Char('g'))), Some(Action::Home));
        assert_eq!(action(&key(KeyCode::Tab)), Some(Action::ToggleFocus));
        assert_eq!(action(&key(KeyCode::Enter)), Some(Action::Open));
        assert_eq!(action(&key(KeyCode::Char('l'))), Some(Action::ToggleLog));
        assert_eq!(action(&key(KeyCode::Char('?'))), Some(Action::Help));
        assert_eq!(action(&key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(action(&key(KeyCode::Esc)), Some(Action::Back));
        assert_eq!(action(&key(KeyCode::Char('/'))), Some(Action::Filter));
        assert_eq!(action(&key(KeyCode::Char('s'))), Some(Action::NextSort));
        assert_eq!(action(&key(KeyCode::Char('S'))), Some(Action::ReverseSort));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action(&ctrl_c), Some(Action::Quit));
    }

    #[test]
    fn other_keys_do_nothing() {
        assert_eq!(action(&key(KeyCode::Char('x'))), None);
        assert_eq!(action(&key(KeyCode::F(5))), None);
        let alt_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::ALT);
        assert_eq!(action(&alt_q), None);
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(action(&release), None);
    }

    #[test]
    fn prompt_types_every_printable_key() {
        assert_eq!(
            prompt_edit(&key(KeyCode::Char('q'))),
            Some(PromptEdit::Insert('q'))
        );
        let shifted = KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT);
        assert_eq!(prompt_edit(&shifted), Some(PromptEdit::Insert('S')));
        assert_eq!(
            prompt_edit(&key(KeyCode::Char('/'))),
            Some(PromptEdit::Insert('/'))
        );
        assert_eq!(
            prompt_edit(&key(KeyCode::Backspace)),
            Some(PromptEdit::Backspace)
        );
        assert_eq!(prompt_edit(&key(KeyCode::Enter)), Some(PromptEdit::Apply));
        assert_eq!(prompt_edit(&key(KeyCode::Esc)), Some(PromptEdit::Cancel));
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        assert_eq!(prompt_edit(&ctrl('c')), Some(PromptEdit::Quit));
        assert_eq!(prompt_edit(&ctrl('u')), Some(PromptEdit::Clear));
        assert_eq!(prompt_edit(&ctrl('w')), Some(PromptEdit::DeleteWord));
        assert_eq!(prompt_edit(&ctrl('d')), None);
        assert_eq!(prompt_edit(&ctrl('h')), Some(PromptEdit::Backspace));
        let alt = |code| KeyEvent::new(code, KeyModifiers::ALT);
        assert_eq!(prompt_edit(&alt(KeyCode::Enter)), None);
        assert_eq!(prompt_edit(&alt(KeyCode::Backspace)), None);
        assert_eq!(prompt_edit(&alt(KeyCode::Char('x'))), None);
        assert_eq!(prompt_edit(&key(KeyCode::Tab)), None);
    }
}
