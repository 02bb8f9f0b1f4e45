//! Request authentication for the demo server.
//!
//! Every endpoint takes `Authorization: Bearer <token>`. Today the only accepted token is the
//! server's secret key, which grants everything. A public access token (a JWT whose scopes name
//! resources, e.g. `read:batch:<id>`) would be checked here too: [`authorize`] already receives
//! the resource being read so a scope check can answer 403 without touching the handlers.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What a request wants to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// A batch and its runs, by friendly id.
    Batch(&'a str),
}

/// Who the request was authenticated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// The environment's secret key: full access.
    SecretKey,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No usable `Authorization: Bearer` header, or an unknown token (401).
    #[error("Invalid or missing API key")]
    Unauthenticated,
    /// A valid token without the scope for the resource (403). Only public access tokens can
    /// fail this way; reserved until they are supported.
    #[expect(dead_code, reason = "reserved for public access tokens (JWT scopes)")]
    #[error("Unauthorized")]
    Forbidden,
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = match self {
            AuthError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AuthError::Forbidden => StatusCode::FORBIDDEN,
        };
        // The message is fixed text: the presented token is never echoed.
        let body = serde_json::json!({ "error": self.to_string() }).to_string();
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// Checks the request's bearer token against `secret_key` for access to `resource`.
pub fn authorize(
    headers: &HeaderMap,
    secret_key: &str,
    resource: Resource<'_>,
) -> Result<Principal, AuthError> {
    let token = bearer_token(headers).ok_or(AuthError::Unauthenticated)?;
    if constant_time_eq(token.as_bytes(), secret_key.as_bytes()) {
        // A secret key may read every resource of its environment.
        let _ = resource;
        return Ok(Principal::SecretKey);
    }
    Err(AuthError::Unauthenticated)
}

/// The token of an `Authorization: Bearer <token>` header (scheme matched case-insensitively).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    #[test]
    fn accepts_only_the_secret_key() {
        let r = Resource::Batch("batch_1");
        assert_eq!(
            authorize(&headers(Some("Bearer k")), "k", r),
            Ok(Principal::SecretKey)
        );
        assert_eq!(
            authorize(&headers(Some("bearer  k ")), "k", r),
            Ok(Principal::SecretKey)
        );
        for bad in [
            None,
            Some("Bearer"),
            Some("Bearer "),
            Some("Basic k"),
            Some("Bearer kk"),
            Some("k"),
        ] {
            assert_eq!(
                authorize(&headers(bad), "k", r),
                Err(AuthError::Unauthenticated),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn error_body_never_echoes_the_token() {
        let body = serde_json::json!({ "error": AuthError::Unauthenticated.to_string() });
        assert_eq!(
            body.to_string(),
            r#"{"error":"Invalid or missing API key"}"#
        );
    }
}
