//! Everything that can happen to the app ([`Msg`]), and the effects `update` asks the loop to
//! carry out ([`Cmd`]).

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use crate::client::FeedEvent;
use crate::client::packets::Field;
use crate::model::Packet;

/// One thing that happened: a fact from outside or a key from the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// The feed task reported something.
    Feed(FeedEvent),
    /// A key was pressed.
    Key(KeyEvent),
    /// Text was pasted (the terminal sent it bracketed, so its characters are not keys).
    Paste(String),
    /// The terminal was resized to (columns, rows).
    Resize(u16, u16),
    /// The clock moved on (elapsed times refresh).
    Tick(DateTime<Utc>),
    /// Leave now (signals, closed channels).
    Quit,
    /// An offloaded packet was downloaded (or could not be).
    PacketFetched {
        run_id: String,
        field: Field,
        path: String,
        result: Result<Packet, String>,
    },
}

/// An effect for the event loop to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    Quit,
    /// Download an offloaded packet; the result comes back as [`Msg::PacketFetched`].
    FetchPacket {
        run_id: String,
        field: Field,
        path: String,
    },
}
