//! Keys to actions: one table, which the footer's hints also read.

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
    ToggleLog,
    Quit,
}

/// Key hints for the footer, in the order shown: (keys, what they do).
pub const HINTS: &[(&str, &str)] = &[
    ("↑↓/jk", "move"),
    ("PgUp/PgDn", "page"),
    ("g/G", "first/last"),
    ("Tab", "table/detail"),
    ("l", "log"),
    ("q", "quit"),
];

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
    Some(match key.code {
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Home,
        KeyCode::End | KeyCode::Char('G') => Action::End,
        KeyCode::Tab | KeyCode::BackTab => Action::ToggleFocus,
        KeyCode::Char('l') => Action::ToggleLog,
        KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
        _ => return None,
    })
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
        assert_eq!(action(&key(KeyCode::Char('l'))), Some(Action::ToggleLog));
        assert_eq!(action(&key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(action(&key(KeyCode::Esc)), Some(Action::Quit));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action(&ctrl_c), Some(Action::Quit));
    }

    #[test]
    fn other_keys_do_nothing() {
        assert_eq!(action(&key(KeyCode::Char('x'))), None);
        assert_eq!(action(&key(KeyCode::F(5))), None);
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(action(&release), None);
    }
}
