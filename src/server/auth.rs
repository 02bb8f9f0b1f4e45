//! Request authentication and authorization for the demo server.
//!
//! Every API endpoint takes `Authorization: Bearer <token>`, where the token is either the
//! server's secret key (full access) or a public access token: a JWT signed HS256 with that key
//! whose `scopes` claim names what it may read (see `jwt`). Scopes follow the hosted service:
//! `read:<type>:<id>` grants one resource, `read:<type>` every resource of that type, and
//! `read:runs`, `read:all` and `admin` grant every read. A resource is readable when any of its
//! identities is granted: a run is also readable through its batch, its tags and its task.
//!
//! Bad credentials answer 401; a valid token without the scope answers 403 naming the scopes
//! that would do. The presented token is never echoed.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::jwt::{self, TokenError};

/// Scopes that grant every read.
const SUPER_SCOPES: [&str; 3] = ["read:runs", "read:all", "admin"];

/// What a request wants to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// A batch and its runs, by friendly id.
    Batch(&'a str),
    /// One run, by friendly id, with what else identifies it.
    Run {
        /// `run_…` id.
        id: &'a str,
        /// The batch it belongs to.
        batch: &'a str,
        /// Its task identifier.
        task: &'a str,
        /// Its tags.
        tags: &'a [String],
    },
    /// Runs selected by tags (any of them); no tags means every run.
    Tagged(&'a [String]),
}

impl Resource<'_> {
    /// `(type, id)` pairs, any of which grants access.
    fn identities(&self) -> Vec<(&'static str, &str)> {
        match *self {
            Resource::Batch(id) => vec![("batch", id)],
            Resource::Run {
                id,
                batch,
                task,
                tags,
            } => {
                let mut out = vec![("runs", id), ("batch", batch), ("tasks", task)];
                out.extend(tags.iter().map(|t| ("tags", t.as_str())));
                out
            }
            Resource::Tagged(tags) => tags.iter().map(|t| ("tags", t.as_str())).collect(),
        }
    }

    /// The most specific scope that would grant access, for error messages.
    fn first_scope(&self) -> String {
        self.identities().first().map_or_else(
            || "read:runs".to_owned(),
            |(t, id)| format!("read:{t}:{id}"),
        )
    }

    /// Every scope that would grant access: the resource scopes, then the super scopes.
    fn granting_scopes(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .identities()
            .into_iter()
            .map(|(t, id)| format!("read:{t}:{id}"))
            .collect();
        out.extend(SUPER_SCOPES.iter().map(|s| (*s).to_owned()));
        out
    }
}

/// Who the request was authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The environment's secret key: full access.
    SecretKey,
    /// A public access token with these scopes, checked against the resource.
    PublicToken(Vec<String>),
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No usable `Authorization: Bearer` header, or an unknown token (401).
    #[error("Invalid or missing API key")]
    Unauthenticated,
    /// A public access token that is forged, malformed or expired (401).
    #[error("{0}")]
    BadToken(TokenError),
    /// A valid token without a scope for the resource (403).
    #[error(
        "Public Access Token is missing required permissions: needs {missing} \
         (or one of {alternatives})"
    )]
    Forbidden {
        /// The most specific scope that would have granted access.
        missing: String,
        /// The other scopes that would have, comma-separated.
        alternatives: String,
        /// Every scope that would have granted access.
        granting: Vec<String>,
    },
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            AuthError::Unauthenticated | AuthError::BadToken(_) => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": self.to_string() }),
            ),
            AuthError::Forbidden {
                missing, granting, ..
            } => (
                StatusCode::FORBIDDEN,
                json!({
                    "error": self.to_string(),
                    "missingScope": missing,
                    "acceptedScopes": granting,
                }),
            ),
        };
        let body = body.to_string();
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// Checks that an authenticated `principal` may read `resource`. Handlers answer as the hosted
/// service does: [`authenticate`] (401), look the resource up (404), then this (403).
///
/// # Errors
/// [`AuthError::Forbidden`] naming the scopes that would grant access.
pub fn check(principal: &Principal, resource: Resource<'_>) -> Result<(), AuthError> {
    let Principal::PublicToken(scopes) = principal else {
        return Ok(());
    };
    if grants(scopes, &resource) {
        return Ok(());
    }
    let missing = resource.first_scope();
    let granting = resource.granting_scopes();
    let alternatives = granting
        .iter()
        .filter(|s| **s != missing)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    Err(AuthError::Forbidden {
        missing,
        alternatives,
        granting,
    })
}

/// Who the bearer token is, without checking any resource.
///
/// # Errors
/// [`AuthError::Unauthenticated`] or [`AuthError::BadToken`].
pub fn authenticate(headers: &HeaderMap, secret_key: &str) -> Result<Principal, AuthError> {
    let token = bearer_token(headers).ok_or(AuthError::Unauthenticated)?;
    if constant_time_eq(token.as_bytes(), secret_key.as_bytes()) {
        return Ok(Principal::SecretKey);
    }
    if !jwt::looks_like_jwt(token) {
        return Err(AuthError::Unauthenticated);
    }
    jwt::verify(token, secret_key.as_bytes())
        .map(|claims| Principal::PublicToken(claims.scopes))
        .map_err(AuthError::BadToken)
}

/// True when one of `scopes` grants reading `resource`.
fn grants(scopes: &[String], resource: &Resource<'_>) -> bool {
    let identities = resource.identities();
    scopes.iter().any(|scope| {
        if SUPER_SCOPES.contains(&scope.as_str()) {
            return true;
        }
        let Some(rest) = scope.strip_prefix("read:") else {
            return false;
        };
        match rest.split_once(':') {
            // `read:<type>`: every resource of that type.
            None => identities.iter().any(|(t, _)| *t == rest),
            Some((kind, id)) => identities.iter().any(|(t, i)| *t == kind && *i == id),
        }
    })
}

/// The token of an `Authorization: Bearer <token>` header (scheme matched case-insensitively).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Compares without an early exit on the first differing byte.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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

    fn authorize(
        headers: &HeaderMap,
        secret_key: &str,
        resource: Resource<'_>,
    ) -> Result<Principal, AuthError> {
        let principal = authenticate(headers, secret_key)?;
        check(&principal, resource)?;
        Ok(principal)
    }

    fn token(scopes: &[&str]) -> String {
        format!(
            "Bearer {}",
            jwt::sign(&jwt::public_claims(scopes, 60), b"k")
        )
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

    #[test]
    fn scopes_grant_by_any_identity_of_the_resource() {
        let tags = vec!["env:demo".to_owned(), "tenant:acme".to_owned()];
        let run = Resource::Run {
            id: "run_1",
            batch: "batch_1",
            task: "send-email",
            tags: &tags,
        };
        let ok = |scopes: &[&str], r: Resource<'_>| {
            authorize(&headers(Some(&token(scopes))), "k", r).is_ok()
        };
        for scopes in [
            &["read:runs"][..],
            &["read:all"],
            &["admin"],
            &["read:runs:run_1"],
            &["read:batch:batch_1"],
            &["read:tags:tenant:acme"],
            &["read:tasks:send-email"],
            &["read:tasks"],
            &["write:tasks", "read:runs:run_1"],
        ] {
            assert!(ok(scopes, run), "{scopes:?}");
        }
        for scopes in [
            &[][..],
            &["read:runs:run_2"],
            &["read:batch:batch_2"],
            &["write:runs"],
            &["read:tags:tenant"],
        ] {
            assert!(!ok(scopes, run), "{scopes:?}");
        }
        assert!(ok(&["read:batch:batch_1"], Resource::Batch("batch_1")));
        assert!(!ok(&["read:runs:run_1"], Resource::Batch("batch_1")));
        assert!(ok(&["read:tags:env:demo"], Resource::Tagged(&tags)));
        assert!(!ok(&["read:tags:other"], Resource::Tagged(&tags)));
        assert!(!ok(&["read:tags:other"], Resource::Tagged(&[])));
        assert!(ok(&["read:runs"], Resource::Tagged(&[])));
    }

    #[test]
    fn forbidden_names_the_missing_scope() {
        let err = authorize(
            &headers(Some(&token(&["read:runs:run_9"]))),
            "k",
            Resource::Batch("batch_1"),
        )
        .unwrap_err();
        let AuthError::Forbidden {
            missing, granting, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(missing, "read:batch:batch_1");
        assert!(granting.contains(&"read:runs".to_owned()));
        assert!(err.to_string().contains("read:batch:batch_1"));
    }

    #[test]
    fn bad_tokens_are_unauthenticated() {
        let forged = format!(
            "Bearer {}",
            jwt::sign(&jwt::public_claims(&["read:runs"], 60), b"other")
        );
        assert_eq!(
            authorize(&headers(Some(&forged)), "k", Resource::Batch("b")),
            Err(AuthError::BadToken(TokenError::BadSignature))
        );
        let expired = format!(
            "Bearer {}",
            jwt::sign(&jwt::public_claims(&["read:runs"], -5), b"k")
        );
        assert_eq!(
            authorize(&headers(Some(&expired)), "k", Resource::Batch("b")),
            Err(AuthError::BadToken(TokenError::Expired))
        );
    }
}
