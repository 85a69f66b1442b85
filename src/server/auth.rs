//! Access control: the optional `Token`, checked before the WebSocket upgrade.

use std::sync::Arc;

use warp::Filter;
use warp::http::StatusCode;
use warp::reject::Reject;

/// The upgrade was refused for a missing or wrong token.
#[derive(Debug)]
pub struct Unauthorized;

impl Reject for Unauthorized {}

/// Compares in time that depends only on the lengths, not on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

/// The token of a request: `Authorization: Bearer <token>`, else `?token=<token>` (the
/// form homalos-webctp clients use).
pub fn presented(header: Option<&str>, query: &str) -> Option<String> {
    if let Some(h) = header
        && let Some(t) = h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    {
        return Some(t.trim().to_string());
    }
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "token").then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A filter that passes when no token is configured, or the request presents it.
pub fn require_token(
    token: Option<Arc<String>>,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and_then(move |header: Option<String>, query: String| {
            let token = token.clone();
            async move {
                let Some(expected) = token else {
                    return Ok(());
                };
                match presented(header.as_deref(), &query) {
                    Some(t) if constant_time_eq(t.as_bytes(), expected.as_bytes()) => Ok(()),
                    _ => Err(warp::reject::custom(Unauthorized)),
                }
            }
        })
        .untuple_one()
}

/// Turns an [`Unauthorized`] rejection into HTTP 401.
pub async fn handle_rejection(r: warp::Rejection) -> Result<impl warp::Reply, warp::Rejection> {
    if r.find::<Unauthorized>().is_some() {
        let body = warp::reply::json(&serde_json::json!({
            "error": "unauthorized",
            "detail": "send the gateway token as `Authorization: Bearer <token>` or `?token=<token>`"
        }));
        return Ok(warp::reply::with_status(body, StatusCode::UNAUTHORIZED));
    }
    Err(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_sources() {
        assert_eq!(presented(Some("Bearer abc"), ""), Some("abc".into()));
        assert_eq!(presented(None, "x=1&token=a%20b"), Some("a b".into()));
        assert_eq!(presented(None, "x=1"), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
