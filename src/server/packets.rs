//! Offloaded packets (`application/store`): the row holds a storage path, clients ask the API
//! for a presigned URL and GET that URL without credentials (PROTOCOL.md §1, §4).
//!
//! - `GET /api/v1/runs/{runId}/packets/{payload|output}` (bearer auth, the run's scopes): the
//!   presigned URL of that run's offloaded packet, 404 when it has none.
//! - `GET /api/v1/packets/{*path}` (bearer auth): the presigned URL of any path, like an object
//!   store presigns keys it has not looked at.
//! - `GET /packets-store/{token}/{*path}` (no auth): the data, with its real `content-type`.
//!   The token is `<expiry>.<signature>`, an HMAC of both with the secret key; a bad or
//!   expired token is 403 and an object that does not exist (yet) is 404, as S3 answers.
//!
//! An object exists once its run's row points at it (a run's output is stored when it ends).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::auth::{self, Resource};
use super::batch::json_error;
use super::jwt;
use super::sim::StoredPacket;
use super::store::Col;
use super::{Shared, lock};

/// How long a presigned URL stays valid.
const PRESIGN_TTL_SECS: i64 = 3_600;

/// `GET /api/v1/runs/{run_id}/packets/{field}`.
pub(crate) async fn run_packet_url(
    State(shared): State<Arc<Shared>>,
    Path((run_id, field)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let principal = match auth::authenticate(&headers, &shared.secret_key) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Some(index) = shared.existing_run(&run_id) else {
        return json_error(StatusCode::NOT_FOUND, "Run not found");
    };
    if let Err(e) = auth::check(&principal, shared.run_resource(index)) {
        return e.into_response();
    }
    let (data_col, type_col) = match field.as_str() {
        "payload" => (Col::Payload, Col::PayloadType),
        "output" => (Col::Output, Col::OutputType),
        _ => return json_error(StatusCode::NOT_FOUND, "Packet not found"),
    };
    let path = {
        let state = lock(&shared.state);
        state
            .store
            .row(index)
            .filter(|row| row.get(type_col) == Some("application/store"))
            .and_then(|row| row.get(data_col))
            .map(str::to_owned)
    };
    match path {
        Some(path) => presigned(&shared, &headers, &path),
        None => json_error(StatusCode::NOT_FOUND, "Packet not found"),
    }
}

/// `GET /api/v1/packets/{*path}`.
pub(crate) async fn packet_url(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let principal = match auth::authenticate(&headers, &shared.secret_key) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let path = path.trim_start_matches('/');
    // A path of a known run needs that run's scopes; any other path a broad read scope.
    let owner = shared.plan.packets.iter().find(|p| p.path == path);
    let allowed = match owner {
        Some(packet) => auth::check(&principal, shared.run_resource(packet.run)),
        None => auth::check(&principal, Resource::Tagged(&[])),
    };
    if let Err(e) = allowed {
        return e.into_response();
    }
    presigned(&shared, &headers, path)
}

/// `GET /packets-store/{token}/{*path}`: no credentials, the token is the permission.
pub(crate) async fn packet_data(
    State(shared): State<Arc<Shared>>,
    Path((token, path)): Path<(String, String)>,
) -> Response {
    let path = path.trim_start_matches('/');
    if !token_is_valid(&shared.secret_key, &token, path) {
        return store_error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
    }
    let Some(packet) = shared.plan.packets.iter().find(|p| p.path == path) else {
        return store_error(StatusCode::NOT_FOUND, "NoSuchKey", "The key does not exist");
    };
    if !is_stored(&shared, packet) {
        return store_error(StatusCode::NOT_FOUND, "NoSuchKey", "The key does not exist");
    }
    (
        StatusCode::OK,
        [
            // Exactly the packet type: the SDK takes this header as the data type as it is.
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(packet.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            ),
        ],
        packet.data.clone(),
    )
        .into_response()
}

/// True once the run's row points at the packet.
fn is_stored(shared: &Shared, packet: &StoredPacket) -> bool {
    let (data_col, type_col) = if packet.field == "payload" {
        (Col::Payload, Col::PayloadType)
    } else {
        (Col::Output, Col::OutputType)
    };
    let state = lock(&shared.state);
    state.store.row(packet.run).is_some_and(|row| {
        row.get(type_col) == Some("application/store") && row.get(data_col) == Some(&packet.path)
    })
}

/// `{"presignedUrl": "<base>/packets-store/<token>/<path>"}`, where `<base>` is the host the
/// client reached this server by.
fn presigned(shared: &Shared, headers: &HeaderMap, path: &str) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', '?', '#', '@']))
        .map_or_else(|| shared.addr.to_string(), str::to_owned);
    let Ok(mut url) = url::Url::parse(&format!("http://{host}/")) else {
        return json_error(StatusCode::BAD_REQUEST, "Invalid Host header");
    };
    let expires = Utc::now().timestamp().saturating_add(PRESIGN_TTL_SECS);
    let token = format!(
        "{expires}.{}",
        jwt::hmac_b64(shared.secret_key.as_bytes(), &signed_text(expires, path))
    );
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push("packets-store").push(&token);
        segments.extend(path.split('/'));
    }
    let body = json!({ "presignedUrl": url.as_str() }).to_string();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn signed_text(expires: i64, path: &str) -> Vec<u8> {
    format!("packets-store\n{expires}\n{path}").into_bytes()
}

fn token_is_valid(secret_key: &str, token: &str, path: &str) -> bool {
    let Some((expires, signature)) = token.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return false;
    };
    expires > Utc::now().timestamp()
        && jwt::verify_hmac_b64(
            secret_key.as_bytes(),
            &signed_text(expires, path),
            signature,
        )
}

/// An object-store style error (XML, like S3).
fn store_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_path_and_expiry() {
        let key = "k";
        let expires = Utc::now().timestamp() + 60;
        let sig = jwt::hmac_b64(
            key.as_bytes(),
            &signed_text(expires, "packets/a/output.json"),
        );
        let token = format!("{expires}.{sig}");
        assert!(token_is_valid(key, &token, "packets/a/output.json"));
        assert!(!token_is_valid(key, &token, "packets/b/output.json"));
        assert!(!token_is_valid("other", &token, "packets/a/output.json"));
        let later = format!("{}.{sig}", expires + 1);
        assert!(!token_is_valid(key, &later, "packets/a/output.json"));
        let past = Utc::now().timestamp() - 1;
        let sig = jwt::hmac_b64(key.as_bytes(), &signed_text(past, "p"));
        assert!(!token_is_valid(key, &format!("{past}.{sig}"), "p"));
        for bad in ["", "x", "1.", ".sig", "abc.def"] {
            assert!(!token_is_valid(key, bad, "p"), "{bad}");
        }
    }
}
