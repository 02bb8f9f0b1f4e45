//! Public access tokens: compact JWTs signed HS256 with the environment's secret key, the way
//! `auth.createPublicToken` makes them. Their claims carry `scopes` (e.g. `read:batch:<id>`) and
//! usually `exp`.
//!
//! Only HS256 is accepted (never `none`, never another algorithm); the signature is checked in
//! constant time before any claim is read. Scope checks live in `auth`.

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// base64url without padding on output; padding tolerated on input.
const B64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a token was refused (all answer 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON, or not HS256.
    #[error("Invalid Public Access Token")]
    Malformed,
    /// The signature does not match the secret key.
    #[error("Invalid Public Access Token")]
    BadSignature,
    /// `exp` has passed (or `nbf` is still ahead).
    #[error("Public Access Token has expired")]
    Expired,
}

/// The verified claims the server uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// What the token may do, e.g. `read:runs`.
    pub scopes: Vec<String>,
}

/// True when `token` has the shape of a compact JWT (three dot-separated parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// Signs `claims` as a compact HS256 JWT.
pub fn sign(claims: &Value, key: &[u8]) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = B64.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let signature = B64.encode(mac(key, input.as_bytes()).finalize().into_bytes());
    format!("{input}.{signature}")
}

/// The claims a public access token for `scopes` carries, valid from now for `ttl_secs`.
pub fn public_claims(scopes: &[&str], ttl_secs: i64) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "sub": "env_demo",
        "pub": true,
        "scopes": scopes,
        "iat": now,
        "exp": now.saturating_add(ttl_secs),
        "iss": "https://id.trigger.dev",
        "aud": "https://api.trigger.dev",
    })
}

/// Checks the signature, algorithm and validity window of `token`; returns its scopes.
///
/// # Errors
/// [`TokenError`] for a malformed, forged or expired token.
pub fn verify(token: &str, key: &[u8]) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Value = decode_json(header)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(TokenError::Malformed);
    }
    let signature = B64.decode(signature).map_err(|_| TokenError::Malformed)?;
    let input = &token[..header_payload_len(token)];
    mac(key, input.as_bytes())
        .verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature)?;

    let claims: Value = decode_json(payload)?;
    let now = Utc::now().timestamp();
    let time = |name: &str| claims.get(name).and_then(Value::as_f64);
    if time("exp").is_some_and(|exp| exp <= now as f64)
        || time("nbf").is_some_and(|nbf| nbf > now as f64)
    {
        return Err(TokenError::Expired);
    }
    let scopes = match claims.get("scopes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| s.as_str().map(str::to_owned).ok_or(TokenError::Malformed))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(TokenError::Malformed),
    };
    Ok(Claims { scopes })
}

/// `base64url(HMAC-SHA256(key, input))`, for signing other things than tokens (presigned URLs).
pub fn hmac_b64(key: &[u8], input: &[u8]) -> String {
    B64.encode(mac(key, input).finalize().into_bytes())
}

/// Checks a [`hmac_b64`] signature in constant time.
pub fn verify_hmac_b64(key: &[u8], input: &[u8], signature: &str) -> bool {
    B64.decode(signature)
        .is_ok_and(|sig| mac(key, input).verify_slice(&sig).is_ok())
}

fn mac(key: &[u8], input: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this never fails; an empty key is a valid key too.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(input);
    mac
}

/// Length of `header.payload` (everything before the last dot).
fn header_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

fn decode_json(part: &str) -> Result<Value, TokenError> {
    let bytes = B64.decode(part).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"tr_dev_key";

    #[test]
    fn signed_tokens_verify_and_carry_their_scopes() {
        let token = sign(
            &public_claims(&["read:batch:batch_1", "read:runs"], 60),
            KEY,
        );
        assert!(looks_like_jwt(&token));
        assert!(!token.contains('='));
        let claims = verify(&token, KEY).unwrap();
        assert_eq!(claims.scopes, ["read:batch:batch_1", "read:runs"]);
    }

    #[test]
    fn matches_a_reference_hs256_signature() {
        // Computed independently (Python's hmac + base64) for the same header and payload.
        let token = sign(&json!({"scopes": ["read:runs"]}), b"secret");
        assert_eq!(
            token,
            concat!(
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzY29wZXMiOlsicmVhZDpydW5zIl19.",
                "dU8l3gIb1xBDNBXX5gNnApm5Zzj0GZvQ-0N21TjaRCQ"
            )
        );
        assert!(verify(&token, b"secret").is_ok());
    }

    #[test]
    fn refuses_forged_expired_and_malformed_tokens() {
        let good = sign(&public_claims(&["read:runs"], 60), KEY);
        assert_eq!(verify(&good, b"other"), Err(TokenError::BadSignature));
        let expired = sign(&public_claims(&["read:runs"], -1), KEY);
        assert_eq!(verify(&expired, KEY), Err(TokenError::Expired));
        let future = sign(
            &json!({"nbf": Utc::now().timestamp() + 600, "scopes": []}),
            KEY,
        );
        assert_eq!(verify(&future, KEY), Err(TokenError::Expired));

        // Tampering with the payload breaks the signature.
        let (h, rest) = good.split_once('.').unwrap();
        let (_, s) = rest.split_once('.').unwrap();
        let other = B64.encode(r#"{"scopes":["admin"]}"#);
        assert_eq!(
            verify(&format!("{h}.{other}.{s}"), KEY),
            Err(TokenError::BadSignature)
        );
        // alg none, or another algorithm, is never accepted.
        let none = B64.encode(r#"{"alg":"none"}"#);
        assert_eq!(
            verify(&format!("{none}.{other}."), KEY),
            Err(TokenError::Malformed)
        );
        for bad in ["", "a.b", "a.b.c", "....", "x.y.z.w"] {
            assert!(verify(bad, KEY).is_err(), "{bad}");
        }
        let scopes_not_strings = sign(&json!({"scopes": [1]}), KEY);
        assert_eq!(verify(&scopes_not_strings, KEY), Err(TokenError::Malformed));
    }
}
