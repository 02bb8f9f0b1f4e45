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

    /// The object the SDK yields (`createJsonErrorObject`).
    // TODO: the SDK's error "enhancer" rewrites a few special cases (UnexpectedExitError,
    // OOM kills, deadlocks) before this; the simulator never produces them, so they are not
    // mirrored yet.
    pub fn to_sdk_json(&self) -> Json {
        match self {
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
            Self::Internal { code, .. } => {
                json!({ "message": format!("trigger.dev internal error ({code})") })
            }
            Self::Unknown(value) => json!({ "message": value.to_string() }),
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
    fn causes_are_kept_only_when_present() {
        let with = RunError::from_json(&json!({"type":"BUILT_IN_ERROR","name":"E","message":"m",
            "stackTrace":"s","causes":[{"name":"C","message":"c"}]}));
        assert!(with.to_sdk_json().get("causes").is_some());
        let empty = RunError::from_json(&json!({"type":"BUILT_IN_ERROR","name":"E","message":"m",
            "stackTrace":"s","causes":[]}));
        assert!(empty.to_sdk_json().get("causes").is_none());
    }
}
