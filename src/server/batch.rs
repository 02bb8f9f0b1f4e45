//! Batch info: `GET /api/v1/batches/{id}` and `GET /api/v2/batches/{id}`.
//!
//! Field meanings follow the hosted service: `status` is `PROCESSING` while runs are still
//! being created, `PENDING` once all exist, `COMPLETED` once every run is final;
//! `successfulRunCount`/`failedRunCount` count run *creation* (how many batch items became runs
//! and how many could not be triggered), not run outcomes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::{self, Resource};
use super::{Shared, lock, wire};

/// `GET /api/v1/batches/{batch_id}`.
pub(crate) async fn batch_info_v1(
    State(shared): State<Arc<Shared>>,
    Path(batch_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    batch_info(&shared, &batch_id, &headers, false)
}

/// `GET /api/v2/batches/{batch_id}`: v1 plus `processing`.
pub(crate) async fn batch_info_v2(
    State(shared): State<Arc<Shared>>,
    Path(batch_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    batch_info(&shared, &batch_id, &headers, true)
}

fn batch_info(shared: &Shared, batch_id: &str, headers: &HeaderMap, v2: bool) -> Response {
    // As the hosted service: credentials (401), then the batch (404), then the scope (403).
    let principal = match auth::authenticate(headers, &shared.secret_key) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if batch_id != shared.batch_id {
        return json_error(StatusCode::NOT_FOUND, "Batch not found");
    }
    if let Err(e) = auth::check(&principal, Resource::Batch(batch_id)) {
        return e.into_response();
    }
    let body = {
        let state = lock(&shared.state);
        let store = &state.store;
        let created = store.created();
        let total = store.capacity();
        let all_created = created == total;
        let done = store.finished() == total;
        let status = if !all_created {
            "PROCESSING"
        } else if done {
            "COMPLETED"
        } else {
            "PENDING"
        };
        let updated_ms = if done {
            store.sim_ms()
        } else {
            store.last_created_ms()
        };
        let runs: Vec<&str> = store
            .rows()
            .filter_map(|(i, _)| shared.plan.runs.get(i).map(|r| r.friendly_id.as_str()))
            .collect();
        let processed_at = all_created.then(|| wire::iso_z(store.at(store.last_created_ms())));
        let mut body = json!({
            "id": shared.batch_id,
            "status": status,
            "createdAt": wire::iso_z(store.base()),
            "updatedAt": wire::iso_z(store.at(updated_ms)),
            "runCount": total,
            "runs": runs,
            "successfulRunCount": created,
            "failedRunCount": 0,
        });
        if v2 && let Value::Object(map) = &mut body {
            let mut processing = serde_json::Map::new();
            if let Some(at) = &processed_at {
                map.insert(
                    "processingCompletedAt".to_owned(),
                    Value::String(at.clone()),
                );
                processing.insert("completedAt".to_owned(), Value::String(at.clone()));
            }
            processing.insert("errors".to_owned(), json!([]));
            map.insert("processing".to_owned(), Value::Object(processing));
        }
        body
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A `{"error": message}` response.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response {
    let body = json!({ "error": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
