//! The feed client: one HTTP round (`feed`), the shape state (`shape`) and the background task
//! that loops, retries and reports to the app (`task`).

pub mod feed;
pub mod packets;
pub mod shape;
pub mod task;
pub mod transport;

pub use feed::{FeedConfig, FeedError};
pub use shape::{Flush, Shape};
pub use task::{BatchInfo, ExitReason, FeedEvent};
pub use transport::Transport;
