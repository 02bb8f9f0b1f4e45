//! trigger-tui: a terminal dashboard that watches a Trigger.dev batch live.
//!
//! The binary is a thin shell over this library so that tests and benches can drive every part:
//! the wire protocol ([`protocol`]), the feed client ([`client`]), the run model ([`model`]), the
//! Elm-style app ([`app`]) and its view ([`ui`]), and the embedded demo server ([`server`]).

pub mod app;
pub mod cli;
pub mod client;
pub mod config;
pub mod latency;
pub mod logging;
pub mod model;
pub mod output;
pub mod protocol;
pub mod sanitize;
pub mod server;
pub mod tui;
pub mod ui;
