//! The only place colours are chosen: a style and a symbol per run status (the symbol carries
//! the meaning for anyone who cannot tell the colours apart), the config file's overrides, and
//! the styles for focus, selection, headings and warnings.

use std::collections::BTreeMap;

use ratatui::style::{Color, Modifier, Style};

use crate::model::RunStatus;

/// The config key for a status: its API name in lower case (`system_failure`); an unknown
/// status is keyed by its own name, so a future status can be coloured before it is known.
pub fn status_key(status: &RunStatus) -> String {
    match status {
        RunStatus::Unknown(name) => name.to_ascii_lowercase(),
        known => known.api_name().to_ascii_lowercase(),
    }
}

/// The built-in style of a status.
fn default_style(status: &RunStatus) -> Style {
    let fg = |color| Style::new().fg(color);
    match status {
        RunStatus::Completed => fg(Color::Green),
        RunStatus::Failed => fg(Color::Red),
        RunStatus::Crashed => fg(Color::LightRed),
        RunStatus::SystemFailure => fg(Color::Red).add_modifier(Modifier::BOLD),
        RunStatus::TimedOut => fg(Color::Magenta),
        RunStatus::Expired => fg(Color::DarkGray),
        RunStatus::Canceled => fg(Color::Gray),
        RunStatus::Executing => fg(Color::Cyan),
        RunStatus::Dequeued => fg(Color::LightCyan),
        RunStatus::Waiting => fg(Color::Yellow),
        RunStatus::Queued => fg(Color::Blue),
        RunStatus::Delayed => fg(Color::LightBlue),
        RunStatus::PendingVersion => fg(Color::LightYellow),
        // CASES.md C03: a status nobody knows yet is neutral, neither good nor bad.
        RunStatus::Unknown(_) => fg(Color::White),
    }
}

/// The style of a status, with the config file's colour override (keyed by [`status_key`])
/// when there is one.
pub fn status_style(status: &RunStatus, overrides: &BTreeMap<String, Color>) -> Style {
    let style = default_style(status);
    if overrides.is_empty() {
        // No key to build (it is a new string per call, and this is called per row per frame).
        return style;
    }
    match overrides.get(&status_key(status)) {
        Some(&color) => style.fg(color),
        None => style,
    }
}

/// A one-cell symbol per kind of status, so the meaning does not rest on colour alone.
pub fn status_symbol(status: &RunStatus) -> &'static str {
    match status {
        RunStatus::Completed => "✔",
        // The three failures differ in shape, so the header's symbol-only counts stay readable.
        RunStatus::Failed => "✖",
        RunStatus::Crashed => "⊠",
        RunStatus::SystemFailure => "⊗",
        RunStatus::TimedOut => "⧗",
        RunStatus::Expired => "⊖",
        RunStatus::Canceled => "⊘",
        RunStatus::Executing => "●",
        RunStatus::Dequeued => "◉",
        RunStatus::Waiting => "⏸",
        RunStatus::Queued => "◌",
        RunStatus::Delayed => "◷",
        RunStatus::PendingVersion => "◇",
        RunStatus::Unknown(_) => "?",
    }
}

/// A pane's border: bright when it has the keyboard focus.
pub fn border(focused: bool) -> Style {
    if focused {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}

/// A pane's title.
pub fn title(focused: bool) -> Style {
    let style = Style::new().add_modifier(Modifier::BOLD);
    if focused {
        style.fg(Color::Cyan)
    } else {
        style
    }
}

/// The selected table row: a background bar that keeps each cell's own colour.
pub fn selected_row(focused: bool) -> Style {
    let style = Style::new().bg(Color::Indexed(237));
    if focused {
        style.add_modifier(Modifier::BOLD)
    } else {
        style
    }
}

/// Column headers and section headings.
pub fn heading() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

/// Field labels, separators and other text that should recede.
pub fn muted() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// Warnings: decoding trouble, reconnects.
pub fn warning() -> Style {
    Style::new().fg(Color::Yellow)
}

/// Errors: a failed feed, a run's error.
pub fn error() -> Style {
    Style::new().fg(Color::Red)
}

/// Good news: the feed is live.
pub fn ok() -> Style {
    Style::new().fg(Color::Green)
}

/// Key names in the footer.
pub fn key() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::status::KNOWN;
    use crate::ui::text::width;

    #[test]
    fn every_status_has_a_one_cell_symbol_and_a_colour() {
        for status in KNOWN
            .iter()
            .chain([&RunStatus::Unknown("QUARANTINED".into())])
        {
            assert_eq!(width(status_symbol(status)), 1, "{status:?}");
            assert!(default_style(status).fg.is_some(), "{status:?}");
        }
    }

    #[test]
    fn failures_are_red_shades_and_unknown_is_neutral() {
        let none = BTreeMap::new();
        let fg = |s: &RunStatus| status_style(s, &none).fg;
        assert_eq!(fg(&RunStatus::Failed), Some(Color::Red));
        assert_eq!(fg(&RunStatus::Crashed), Some(Color::LightRed));
        assert_eq!(fg(&RunStatus::SystemFailure), Some(Color::Red));
        assert_eq!(fg(&RunStatus::Completed), Some(Color::Green));
        assert_eq!(
            fg(&RunStatus::Unknown("QUARANTINED".into())),
            Some(Color::White)
        );
    }

    #[test]
    fn overrides_are_keyed_by_lower_case_api_name() {
        let colors = BTreeMap::from([
            ("completed".to_string(), Color::Blue),
            ("system_failure".to_string(), Color::Magenta),
            ("quarantined".to_string(), Color::LightGreen),
        ]);
        let fg = |s: &RunStatus| status_style(s, &colors).fg;
        assert_eq!(fg(&RunStatus::Completed), Some(Color::Blue));
        assert_eq!(fg(&RunStatus::SystemFailure), Some(Color::Magenta));
        assert_eq!(
            fg(&RunStatus::Unknown("QUARANTINED".into())),
            Some(Color::LightGreen)
        );
        assert_eq!(fg(&RunStatus::Failed), Some(Color::Red));
        // An unknown status is not coloured as QUEUED even though the SDK reports it so.
        let queued = BTreeMap::from([("queued".to_string(), Color::Green)]);
        assert_eq!(
            status_style(&RunStatus::Unknown("X".into()), &queued).fg,
            Some(Color::White)
        );
    }
}
