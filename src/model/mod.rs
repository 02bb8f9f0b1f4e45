//! The run model: what a feed row means to a user. No I/O and no terminal here.

pub mod batch;
pub mod error;
pub mod packet;
pub mod run;
pub mod status;

pub use batch::Summary;
pub use error::RunError;
pub use packet::{Decoded, Packet, SjValue};
pub use run::{RowParts, Run};
pub use status::RunStatus;
