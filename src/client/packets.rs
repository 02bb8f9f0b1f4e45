//! Fetching offloaded (`application/store`) payloads and outputs (PROTOCOL.md §1, §4): ask the
//! API for a presigned URL, GET it without the credential, and take its `content-type` as the
//! packet's type. Done only when a packet is needed (the detail pane, headless output).

use std::time::Duration;

use super::feed::{FeedConfig, FeedError};
use super::transport::Transport;
use crate::model::Packet;
use crate::sanitize::clip_line;

const TIMEOUT: Duration = Duration::from_secs(60);

/// Which packet of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Payload,
    Output,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Payload => "payload",
            Field::Output => "output",
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Presigned {
    presigned_url: String,
}

/// Fetches an offloaded packet of `run_id`, stored at `path`; the error is one readable line.
pub async fn fetch(
    transport: &Transport,
    config: &FeedConfig,
    run_id: &str,
    field: Field,
    path: &str,
) -> Result<Packet, String> {
    let auth = [("authorization", format!("Bearer {}", config.token.expose()))];
    let api = |segments: &[&str]| {
        let mut url = config.api_url.clone();
        if let Ok(mut parts) = url.path_segments_mut() {
            parts.pop_if_empty();
            parts.extend(segments);
        }
        url
    };

    // The SDK asks per run and field first, and falls back to the path on a 404.
    let by_run = api(&["api", "v1", "runs", run_id, "packets", field.name()]);
    let mut response = transport
        .get(&by_run, &auth, TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    if response.status == 404 {
        let by_path = api(&["api", "v1", "packets", path]);
        response = transport
            .get(&by_path, &auth, TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
    }
    if response.status != 200 {
        // Not the feed's wording: a 404 here means no such packet, not an unknown batch.
        let refused = match super::feed::classify(response.status, &response.body, "") {
            FeedError::NotFound { detail, .. } => {
                format!("HTTP 404, the server has no such packet ({detail})")
            }
            FeedError::Forbidden { detail, .. } => {
                format!("HTTP 403, the token may not read run {run_id} ({detail})")
            }
            other => other.short(),
        };
        return Err(format!(
            "could not get a download URL for {path}: {refused}"
        ));
    }
    let presigned: Presigned = serde_json::from_slice(&response.body)
        .map_err(|e| format!("the packet endpoint did not answer a presigned URL: {e}"))?;
    let url = reqwest::Url::parse(&presigned.presigned_url)
        .map_err(|e| format!("bad presigned URL: {e}"))?;

    // The presigned URL carries its own authorization: never send ours to storage.
    let data = transport
        .get(&url, &[], TIMEOUT)
        .await
        .map_err(|e| match e {
            FeedError::Network(e) => format!("downloading {path}: {e}"),
            other => other.to_string(),
        })?;
    if data.status != 200 {
        return Err(format!("downloading {path}: HTTP {}", data.status));
    }
    let data_type = data
        .header("content-type")
        .and_then(|t| t.split(';').next())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("application/json")
        .to_string();
    let text = match String::from_utf8(Vec::from(data.body)) {
        Ok(text) => text,
        Err(e) => {
            // Shown, not refused: invalid bytes become U+FFFD.
            tracing::warn!(path = %clip_line(path, 80), "packet is not valid UTF-8");
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    };
    Ok(Packet {
        data: text.into(),
        data_type: data_type.into(),
    })
}
