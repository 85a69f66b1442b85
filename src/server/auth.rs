//! Access control: who may upgrade, who may see the gateway's details, who may use
//! `/admin/*`. Every endpoint asks [`Access`]; an endpoint added later (metrics, say)
//! calls [`Access::admin_allowed`] or [`Access::details_allowed`] rather than
//! re-deciding.
//!
//! - **Browsers**: a request that carries an `Origin` header comes from a web page.
//!   Any web page the user visits can make the browser open a WebSocket to, or POST
//!   to, a gateway on the user's own machine, so such requests are refused unless the
//!   page's origin is listed in `AllowedOrigins`, or is the gateway's own address
//!   given as an IP literal or `localhost` (a DNS name could be rebound to 127.0.0.1
//!   by the attacker's page). Programs (Python clients, `webctp exec --url`) send no
//!   Origin and are not affected.
//! - **Token**: with `Token` set, an upgrade needs it (`Authorization: Bearer` or
//!   `?token=`); `/admin/*` and `/healthz`'s details need it in the header, never the
//!   URL, which browsers and proxies record.
//! - **Admin**: `/admin/*` (ending the trading day, dropping the front) is off unless
//!   `AdminEndpoints: true`.

use std::sync::Arc;

use warp::Filter;
use warp::http::{HeaderMap, StatusCode, header};
use warp::reject::Reject;

use crate::config::Config;

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

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// `/admin/*` is off (`AdminEndpoints: false`, the default).
    AdminDisabled,
    /// A web page from this origin is not allowed.
    Origin(String),
    /// The token is missing or wrong (or was given where it is not accepted).
    Token { header_only: bool },
}

impl Reject for Denied {}

impl Denied {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            Denied::AdminDisabled | Denied::Origin(_) => StatusCode::FORBIDDEN,
            Denied::Token { .. } => StatusCode::UNAUTHORIZED,
        }
    }

    /// A short name and a sentence saying what to do.
    pub fn explain(&self) -> (&'static str, String) {
        match self {
            Denied::AdminDisabled => (
                "forbidden",
                "the admin endpoints are off; set `AdminEndpoints: true` in the gateway's config"
                    .into(),
            ),
            Denied::Origin(o) => (
                "forbidden origin",
                format!(
                    "web pages from {o} may not use this gateway; add the origin to `AllowedOrigins` in the gateway's config to allow it"
                ),
            ),
            Denied::Token { header_only: true } => (
                "unauthorized",
                "send the gateway token as `Authorization: Bearer <token>`".into(),
            ),
            Denied::Token { header_only: false } => (
                "unauthorized",
                "send the gateway token as `Authorization: Bearer <token>` or `?token=<token>`"
                    .into(),
            ),
        }
    }

    /// The refusal as an HTTP response with a JSON body.
    pub fn reply(&self) -> warp::reply::Response {
        use warp::Reply;
        let (error, detail) = self.explain();
        let body = warp::reply::json(&serde_json::json!({"error": error, "detail": detail}));
        warp::reply::with_status(body, self.status()).into_response()
    }
}

/// The access rules of one gateway, from its config.
#[derive(Debug, Clone, Default)]
pub struct Access {
    token: Option<String>,
    allowed_origins: Vec<String>,
    admin: bool,
}

/// `scheme://host[:port]` as browsers send it, lower-cased, default ports dropped.
fn normalize_origin(o: &str) -> String {
    let o = o.trim().trim_end_matches('/').to_ascii_lowercase();
    for (scheme, port) in [("http://", ":80"), ("https://", ":443")] {
        if let Some(rest) = o.strip_prefix(scheme)
            && let Some(host) = rest.strip_suffix(port)
        {
            return format!("{scheme}{host}");
        }
    }
    o
}

/// Whether `host` (a Host header's host, without port) cannot be a rebound DNS name.
fn is_literal_local(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok()
}

/// The host part of `host[:port]` (IPv6 literals in brackets).
fn host_part(host_port: &str) -> &str {
    if host_port.starts_with('[') {
        return host_port
            .split_once(']')
            .map_or(host_port, |(h, _)| h.trim_start_matches('['));
    }
    host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
}

impl Access {
    /// The rules of `cfg`.
    pub fn from_config(cfg: &Config) -> Access {
        Access {
            token: cfg.token.clone(),
            allowed_origins: cfg
                .allowed_origins
                .iter()
                .map(|o| normalize_origin(o))
                .collect(),
            admin: cfg.admin_endpoints,
        }
    }

    /// Whether a token is configured.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Refuses a request from a web page whose origin is not allowed. Requests
    /// without `Origin` (programs, not browsers) pass.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), Denied> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let shown = String::from_utf8_lossy(origin.as_bytes()).into_owned();
        let Ok(origin) = origin.to_str() else {
            return Err(Denied::Origin(crate::logsafe::escape(&shown)));
        };
        let origin = normalize_origin(origin);
        if self
            .allowed_origins
            .iter()
            .any(|a| a == "*" || *a == origin)
        {
            return Ok(());
        }
        // The gateway's own address, as an IP literal or localhost.
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let own = ["http://", "https://"]
            .iter()
            .any(|s| normalize_origin(&format!("{s}{host}")) == origin);
        if own && is_literal_local(host_part(host)) {
            return Ok(());
        }
        Err(Denied::Origin(crate::logsafe::escape(&shown)))
    }

    /// Whether the request carries the token: in `Authorization: Bearer`, or (when
    /// `query` is given) as `?token=`. True when no token is configured.
    pub fn token_ok(&self, headers: &HeaderMap, query: Option<&str>) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let given = match query {
            Some(q) => presented(auth, q),
            None => presented(auth, ""),
        };
        given.is_some_and(|t| constant_time_eq(t.as_bytes(), expected.as_bytes()))
    }

    /// Whether `/admin/*` (and any other operator endpoint) may be used: enabled, from
    /// an allowed origin, with the token in the header when one is configured.
    pub fn admin_allowed(&self, headers: &HeaderMap) -> Result<(), Denied> {
        if !self.admin {
            return Err(Denied::AdminDisabled);
        }
        self.check_origin(headers)?;
        if !self.token_ok(headers, None) {
            return Err(Denied::Token { header_only: true });
        }
        Ok(())
    }

    /// Whether `/healthz` may show versions, counters and sessions rather than only
    /// up/down: with the token in the header, or with no token and the admin
    /// endpoints enabled.
    pub fn details_allowed(&self, headers: &HeaderMap) -> bool {
        if self.check_origin(headers).is_err() {
            return false;
        }
        match &self.token {
            Some(_) => self.token_ok(headers, None),
            None => self.admin,
        }
    }
}

/// A filter that passes when [`Access::admin_allowed`] does.
pub fn admin_guard(
    access: Arc<Access>,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::header::headers_cloned()
        .and_then(move |headers: HeaderMap| {
            let access = access.clone();
            async move { access.admin_allowed(&headers).map_err(warp::reject::custom) }
        })
        .untuple_one()
}

/// Turns an [`Unauthorized`] or [`Denied`] rejection into its HTTP answer.
pub async fn handle_rejection(r: warp::Rejection) -> Result<impl warp::Reply, warp::Rejection> {
    if r.find::<Unauthorized>().is_some() {
        return Ok(Denied::Token { header_only: false }.reply());
    }
    if let Some(d) = r.find::<Denied>() {
        return Ok(d.reply());
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

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn origins() {
        let a = Access {
            allowed_origins: vec![normalize_origin("https://App.example:443/")],
            ..Access::default()
        };
        let ok = |p: &[(&'static str, &str)]| a.check_origin(&headers(p)).is_ok();
        assert!(ok(&[("host", "127.0.0.1:8080")]));
        assert!(ok(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ]));
        assert!(ok(&[
            ("host", "localhost:8080"),
            ("origin", "http://localhost:8080")
        ]));
        assert!(ok(&[
            ("host", "[::1]:8080"),
            ("origin", "http://[::1]:8080")
        ]));
        assert!(ok(&[("host", "x:1"), ("origin", "https://app.example")]));
        assert!(!ok(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example")
        ]));
        assert!(!ok(&[("host", "127.0.0.1:8080"), ("origin", "null")]));
        assert!(!ok(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:9999")
        ]));
        // A rebound DNS name is not the gateway's own page.
        assert!(!ok(&[
            ("host", "evil.example:8080"),
            ("origin", "http://evil.example:8080")
        ]));
    }

    #[test]
    fn admin_needs_enabling_and_the_token_in_a_header() {
        let mut a = Access::default();
        assert_eq!(a.admin_allowed(&headers(&[])), Err(Denied::AdminDisabled));
        a.admin = true;
        assert!(a.admin_allowed(&headers(&[])).is_ok());
        assert!(a.details_allowed(&headers(&[])));
        a.token = Some("t0k".into());
        assert_eq!(
            a.admin_allowed(&headers(&[])),
            Err(Denied::Token { header_only: true })
        );
        assert!(
            a.admin_allowed(&headers(&[("authorization", "Bearer t0k")]))
                .is_ok()
        );
        assert!(!a.details_allowed(&headers(&[])));
        assert!(
            a.admin_allowed(&headers(&[
                ("authorization", "Bearer t0k"),
                ("host", "127.0.0.1:1"),
                ("origin", "http://evil.example")
            ]))
            .is_err()
        );
    }
}
