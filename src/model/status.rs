//! Run statuses: the database names the feed carries, the API names users see, and the helpers
//! (queued, executing, final …) the SDK derives from them (PROTOCOL.md §4).

/// A run's status as the API names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunStatus {
    PendingVersion,
    Delayed,
    Queued,
    Dequeued,
    Executing,
    Waiting,
    Completed,
    Canceled,
    Failed,
    Crashed,
    SystemFailure,
    Expired,
    TimedOut,
    /// A status this client does not know; kept literally for display. The SDK reports such a
    /// run as QUEUED, and so does `--output ndjson`.
    Unknown(String),
}

/// Every known status, in lifecycle order: the order of the header's counts.
pub const KNOWN: [RunStatus; 13] = [
    RunStatus::PendingVersion,
    RunStatus::Delayed,
    RunStatus::Queued,
    RunStatus::Dequeued,
    RunStatus::Executing,
    RunStatus::Waiting,
    RunStatus::Completed,
    RunStatus::Failed,
    RunStatus::Crashed,
    RunStatus::SystemFailure,
    RunStatus::TimedOut,
    RunStatus::Expired,
    RunStatus::Canceled,
];

impl RunStatus {
    /// Maps a database status to the API status, exactly as SDK 4.8.3 does, except that an
    /// unknown name is kept as [`RunStatus::Unknown`] instead of becoming QUEUED.
    pub fn from_db(db: &str) -> Self {
        match db {
            "DELAYED" => Self::Delayed,
            "WAITING_FOR_DEPLOY" | "PENDING_VERSION" => Self::PendingVersion,
            "PENDING" => Self::Queued,
            "PAUSED" | "WAITING_TO_RESUME" => Self::Waiting,
            "DEQUEUED" => Self::Dequeued,
            "RETRYING_AFTER_FAILURE" | "EXECUTING" => Self::Executing,
            "CANCELED" => Self::Canceled,
            "COMPLETED_SUCCESSFULLY" => Self::Completed,
            "SYSTEM_FAILURE" => Self::SystemFailure,
            "CRASHED" => Self::Crashed,
            "INTERRUPTED" | "COMPLETED_WITH_ERRORS" => Self::Failed,
            "EXPIRED" => Self::Expired,
            "TIMED_OUT" => Self::TimedOut,
            other => Self::Unknown(other.to_string()),
        }
    }

    /// The API name the SDK yields (an unknown status is QUEUED there).
    pub fn api_name(&self) -> &str {
        match self {
            Self::PendingVersion => "PENDING_VERSION",
            Self::Delayed => "DELAYED",
            Self::Queued | Self::Unknown(_) => "QUEUED",
            Self::Dequeued => "DEQUEUED",
            Self::Executing => "EXECUTING",
            Self::Waiting => "WAITING",
            Self::Completed => "COMPLETED",
            Self::Canceled => "CANCELED",
            Self::Failed => "FAILED",
            Self::Crashed => "CRASHED",
            Self::SystemFailure => "SYSTEM_FAILURE",
            Self::Expired => "EXPIRED",
            Self::TimedOut => "TIMED_OUT",
        }
    }

    /// A short human label; an unknown status shows its own name.
    pub fn label(&self) -> &str {
        match self {
            Self::PendingVersion => "Pending version",
            Self::Delayed => "Delayed",
            Self::Queued => "Queued",
            Self::Dequeued => "Dequeued",
            Self::Executing => "Executing",
            Self::Waiting => "Waiting",
            Self::Completed => "Completed",
            Self::Canceled => "Canceled",
            Self::Failed => "Failed",
            Self::Crashed => "Crashed",
            Self::SystemFailure => "System failure",
            Self::Expired => "Expired",
            Self::TimedOut => "Timed out",
            Self::Unknown(name) => name,
        }
    }

    /// No further change is expected (COMPLETED, CANCELED and the failures).
    pub fn is_final(&self) -> bool {
        self.is_success() || self.is_failed() || self.is_cancelled()
    }

    pub fn is_queued(&self) -> bool {
        matches!(
            self,
            Self::PendingVersion | Self::Queued | Self::Delayed | Self::Unknown(_)
        )
    }

    pub fn is_executing(&self) -> bool {
        matches!(self, Self::Dequeued | Self::Executing)
    }

    pub fn is_waiting(&self) -> bool {
        matches!(self, Self::Waiting)
    }

    pub fn is_failed(&self) -> bool {
        matches!(
            self,
            Self::Failed | Self::Crashed | Self::SystemFailure | Self::Expired | Self::TimedOut
        )
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Self::Completed)
    }

    /// The SDK's `isCompleted`: success or failure, but not cancellation.
    pub fn is_completed(&self) -> bool {
        self.is_success() || self.is_failed()
    }

    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Canceled)
    }
}

/// A display label that keeps the detail a database status carries beyond its API name:
/// RETRYING_AFTER_FAILURE is "Reattempting" rather than plain "Executing". (INTERRUPTED stays
/// "Failed", as users know it.)
pub fn display_label<'a>(status: &'a RunStatus, db_status: &str) -> &'a str {
    match db_status {
        "RETRYING_AFTER_FAILURE" => "Reattempting",
        _ => status.label(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_map_like_the_sdk() {
        let cases = [
            ("PENDING", "QUEUED"),
            ("DELAYED", "DELAYED"),
            ("WAITING_FOR_DEPLOY", "PENDING_VERSION"),
            ("PENDING_VERSION", "PENDING_VERSION"),
            ("DEQUEUED", "DEQUEUED"),
            ("EXECUTING", "EXECUTING"),
            ("RETRYING_AFTER_FAILURE", "EXECUTING"),
            ("PAUSED", "WAITING"),
            ("WAITING_TO_RESUME", "WAITING"),
            ("COMPLETED_SUCCESSFULLY", "COMPLETED"),
            ("COMPLETED_WITH_ERRORS", "FAILED"),
            ("INTERRUPTED", "FAILED"),
            ("CANCELED", "CANCELED"),
            ("CRASHED", "CRASHED"),
            ("SYSTEM_FAILURE", "SYSTEM_FAILURE"),
            ("EXPIRED", "EXPIRED"),
            ("TIMED_OUT", "TIMED_OUT"),
            ("QUARANTINED", "QUEUED"),
            ("REATTEMPTING", "QUEUED"),
            ("", "QUEUED"),
        ];
        for (db, api) in cases {
            assert_eq!(RunStatus::from_db(db).api_name(), api, "{db}");
        }
    }

    #[test]
    fn unknown_status_shows_literally_and_is_not_final() {
        let status = RunStatus::from_db("QUARANTINED");
        assert_eq!(status.label(), "QUARANTINED");
        assert!(!status.is_final());
        assert_eq!(display_label(&status, "QUARANTINED"), "QUARANTINED");
    }

    #[test]
    fn helpers_follow_the_sdk() {
        use RunStatus::*;
        assert!(Canceled.is_final() && !Canceled.is_completed() && Canceled.is_cancelled());
        assert!(TimedOut.is_failed() && TimedOut.is_completed());
        assert!(Completed.is_success() && Completed.is_completed());
        assert!(Dequeued.is_executing() && !Dequeued.is_final());
        assert!(Delayed.is_queued() && PendingVersion.is_queued());
        assert!(Waiting.is_waiting());
        for s in KNOWN {
            let finals = [
                Completed,
                Canceled,
                Failed,
                Crashed,
                SystemFailure,
                Expired,
                TimedOut,
            ];
            assert_eq!(s.is_final(), finals.contains(&s), "{s:?}");
        }
    }

    #[test]
    fn retrying_shows_as_reattempting() {
        let s = RunStatus::from_db("RETRYING_AFTER_FAILURE");
        assert_eq!(display_label(&s, "RETRYING_AFTER_FAILURE"), "Reattempting");
        assert_eq!(display_label(&RunStatus::Waiting, "PAUSED"), "Waiting");
        assert_eq!(display_label(&RunStatus::Failed, "INTERRUPTED"), "Failed");
    }
}
