//! A run's `error` column: the four shapes Trigger.dev stores, and how the SDK shows them.
//!
//! The column is a tagged union the server owns, so it is read leniently: a missing field is
//! empty rather than fatal, and an unknown `type` is kept raw (CASES.md C01).

use serde_json::{Value as Json, json};

/// A run's error as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum RunError {
    BuiltIn {
        name: String,
        message: String,
        stack_trace: String,
        causes: Option<Json>,
    },
    Custom {
        raw: String,
    },
    String {
        raw: String,
    },
    Internal {
        code: String,
        message: Option<String>,
        stack_trace: Option<String>,
    },
    /// A value of an unknown type, or not an object: shown raw.
    Unknown(Json),
}

impl RunError {
    /// Reads the jsonb value.
    pub fn from_json(value: &Json) -> Self {
        let text = |k: &str| value.get(k).and_then(Json::as_str).map(str::to_string);
        match value.get("type").and_then(Json::as_str) {
            Some("BUILT_IN_ERROR") => Self::BuiltIn {
                name: text("name").unwrap_or_default(),
                message: text("message").unwrap_or_default(),
                stack_trace: text("stackTrace").unwrap_or_default(),
                causes: value
                    .get("causes")
                    .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()))
                    .cloned(),
            },
            Some("CUSTOM_ERROR") => Self::Custom {
                raw: text("raw").unwrap_or_default(),
            },
            Some("STRING_ERROR") => Self::String {
                raw: text("raw").unwrap_or_default(),
            },
            Some("INTERNAL_ERROR") => Self::Internal {
                code: text("code").unwrap_or_default(),
                message: text("message"),
                stack_trace: text("stackTrace"),
            },
            _ => Self::Unknown(value.clone()),
        }
    }

    /// The object the SDK yields (`createJsonErrorObject`), after the SDK's "enhancer" has
    /// rewritten the special cases it knows (process signals, OOM kills, deadlocks).
    pub fn to_sdk_json(&self) -> Json {
        let internal =
            |code: &str| json!({ "message": format!("trigger.dev internal error ({code})") });
        if let Some(code) = self.enhanced_code() {
            return internal(code);
        }
        match self {
            Self::BuiltIn {
                name,
                message,
                causes,
                ..
            } if name == "TriggerApiError" && message.starts_with("Deadlock detected:") => {
                let mut out = json!({ "name": "Concurrency Deadlock Error", "message": message, "stackTrace": "" });
                if let (Some(causes), Some(map)) = (causes, out.as_object_mut()) {
                    map.insert("causes".into(), causes.clone());
                }
                out
            }
            Self::BuiltIn {
                name,
                message,
                stack_trace,
                causes,
            } => {
                let mut out =
                    json!({ "name": name, "message": message, "stackTrace": stack_trace });
                if let (Some(causes), Some(map)) = (causes, out.as_object_mut()) {
                    map.insert("causes".into(), causes.clone());
                }
                out
            }
            Self::Custom { raw } | Self::String { raw } => json!({ "message": raw }),
            Self::Internal { code, .. } => internal(code),
            Self::Unknown(value) => json!({ "message": value.to_string() }),
        }
    }

    /// The internal error code the SDK's enhancer turns this error into, if any.
    pub fn enhanced_code(&self) -> Option<&'static str> {
        match self {
            Self::BuiltIn {
                name,
                message,
                stack_trace,
                ..
            } => {
                if name == "UnexpectedExitError"
                    && message.starts_with("Unexpected exit with code -1")
                {
                    return Some(signal_code(stack_trace));
                }
                if name == "Error" && message == "ffmpeg was killed with signal SIGKILL" {
                    return Some("TASK_PROCESS_OOM_KILLED");
                }
                if message == "MANUAL_OOM_KILL_ERROR" {
                    return Some("TASK_PROCESS_OOM_KILLED");
                }
                None
            }
            Self::Internal { code, message, .. }
                if code == "TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE" =>
            {
                Some(signal_code(message.as_deref().unwrap_or("")))
            }
            _ => None,
        }
    }

    /// A one-line summary for the table and header.
    pub fn summary(&self) -> String {
        match self {
            Self::BuiltIn { name, message, .. } if name.is_empty() => message.clone(),
            Self::BuiltIn { name, message, .. } => format!("{name}: {message}"),
            Self::Custom { raw } | Self::String { raw } => raw.clone(),
            Self::Internal {
                code,
                message: Some(m),
                ..
            } => format!("{code}: {m}"),
            Self::Internal { code, .. } => code.clone(),
            Self::Unknown(value) => value.to_string(),
        }
    }

    /// The kind, as the detail pane labels it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BuiltIn { .. } => "BUILT_IN_ERROR",
            Self::Custom { .. } => "CUSTOM_ERROR",
            Self::String { .. } => "STRING_ERROR",
            Self::Internal { .. } => "INTERNAL_ERROR",
            Self::Unknown(_) => "unknown error type",
        }
    }
}

/// The code for a process that died of the signal named in the first 100 characters of a
/// message, as the SDK reads it.
fn signal_code(text: &str) -> &'static str {
    let head: String = text.chars().take(100).collect();
    if head.contains("SIGTERM") {
        "TASK_PROCESS_SIGTERM"
    } else if head.contains("SIGSEGV") {
        "TASK_PROCESS_SIGSEGV"
    } else if head.contains("SIGKILL") || head.contains("SIGABRT") {
        "TASK_PROCESS_MAYBE_OOM_KILLED"
    } else {
        "TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_type_reads_and_projects_like_the_sdk() {
        let built = RunError::from_json(&json!({"type":"BUILT_IN_ERROR","name":"TypeError",
            "message":"x is undefined","stackTrace":"TypeError: x\n    at run (task.ts:3:9)"}));
        assert_eq!(
            built.to_sdk_json(),
            json!({"name":"TypeError","message":"x is undefined","stackTrace":"TypeError: x\n    at run (task.ts:3:9)"})
        );
        assert_eq!(built.summary(), "TypeError: x is undefined");

        let custom = RunError::from_json(&json!({"type":"CUSTOM_ERROR","raw":"{\"code\":42}"}));
        assert_eq!(custom.to_sdk_json(), json!({"message":"{\"code\":42}"}));

        let string = RunError::from_json(&json!({"type":"STRING_ERROR","raw":"Run cancelled"}));
        assert_eq!(string.to_sdk_json(), json!({"message":"Run cancelled"}));

        let internal = RunError::from_json(
            &json!({"type":"INTERNAL_ERROR","code":"SOME_CODE_ADDED_NEXT_YEAR"}),
        );
        assert_eq!(
            internal.to_sdk_json(),
            json!({"message":"trigger.dev internal error (SOME_CODE_ADDED_NEXT_YEAR)"})
        );
        assert_eq!(internal.summary(), "SOME_CODE_ADDED_NEXT_YEAR");
    }

    #[test]
    fn missing_fields_and_unknown_types_do_not_fail() {
        let no_message = RunError::from_json(&json!({"type":"BUILT_IN_ERROR","name":"AbortError"}));
        assert_eq!(no_message.summary(), "AbortError: ");
        let unknown = RunError::from_json(&json!({"type":"NEW_KIND","detail":1}));
        assert!(matches!(unknown, RunError::Unknown(_)));
        assert_eq!(unknown.kind(), "unknown error type");
        assert!(matches!(
            RunError::from_json(&json!("just a string")),
            RunError::Unknown(_)
        ));
    }

    #[test]
    fn the_sdk_enhancer_special_cases_are_mirrored() {
        let cases = [
            (
                json!({"type":"BUILT_IN_ERROR","name":"Error","message":"MANUAL_OOM_KILL_ERROR","stackTrace":"s"}),
                "TASK_PROCESS_OOM_KILLED",
            ),
            (
                json!({"type":"BUILT_IN_ERROR","name":"UnexpectedExitError","message":"Unexpected exit with code -1",
                "stackTrace":"killed by SIGTERM"}),
                "TASK_PROCESS_SIGTERM",
            ),
            (
                json!({"type":"BUILT_IN_ERROR","name":"UnexpectedExitError","message":"Unexpected exit with code -1",
                "stackTrace":"no signal"}),
                "TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE",
            ),
            (
                json!({"type":"BUILT_IN_ERROR","name":"Error","message":"ffmpeg was killed with signal SIGKILL",
                "stackTrace":"s"}),
                "TASK_PROCESS_OOM_KILLED",
            ),
            (
                json!({"type":"INTERNAL_ERROR","code":"TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE",
                "message":"exited with SIGSEGV"}),
                "TASK_PROCESS_SIGSEGV",
            ),
            (
                json!({"type":"INTERNAL_ERROR","code":"TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE",
                "message":"got SIGABRT"}),
                "TASK_PROCESS_MAYBE_OOM_KILLED",
            ),
        ];
        for (stored, code) in cases {
            let error = RunError::from_json(&stored);
            assert_eq!(
                error.to_sdk_json(),
                json!({"message": format!("trigger.dev internal error ({code})")}),
                "{stored}"
            );
        }
        let deadlock =
            RunError::from_json(&json!({"type":"BUILT_IN_ERROR","name":"TriggerApiError",
            "message":"Deadlock detected: a waits on b","stackTrace":"at x"}));
        assert_eq!(
            deadlock.to_sdk_json(),
            json!({"name":"Concurrency Deadlock Error","message":"Deadlock detected: a waits on b","stackTrace":""})
        );
    }

    #[test]
    fn causes_are_kept_only_when_present() {
        let with = RunError::from_json(&json!({"type":"BUILT_IN_ERROR","name":"E","message":"m",
            "stackTrace":"s","causes":[{"name":"C","message":"c"}]}));
        assert!(with.to_sdk_json().get("causes").is_some());
        let empty = RunError::from_json(&json!({"type":"BUILT_IN_ERROR","name":"E","message":"m",
            "stackTrace":"s","causes":[]}));
        assert!(empty.to_sdk_json().get("causes").is_none());
    }
}
