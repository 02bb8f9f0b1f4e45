//! The view: `view(&App, &mut Frame)` lays out the panes and delegates; it only reads the app.

pub mod layout;

use ratatui::Frame;

use crate::app::App;

/// Draws the whole screen from the app's state.
pub fn view(app: &App, frame: &mut Frame) {
    let _ = (app, frame);
}
