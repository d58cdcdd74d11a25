//! Who may read `/metrics` on the `k8s` source: the pure decisions, tested without sockets.
//!
//! As controller-runtime's secure metrics server (`pkg/metrics/filters`): the scraper's
//! bearer token is checked with a TokenReview, its user with a SubjectAccessReview for `get`
//! on the non-resource URL `/metrics` ([`ferrolb_kube::access_review`]). Here: what the HTTP
//! answer is for a given header and review, and how long a review is trusted, so a
//! Prometheus scraping every few seconds costs at most one review pair per token per TTL.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use ferrolb_kube::access_review::Review;
use sha2::{Digest, Sha256};

/// Far above any service-account token (a JWT of a few KiB); a longer one is not looked at,
/// let alone sent to the API server.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// What the `Authorization` header holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    Missing,
    /// Not `Bearer TOKEN`: another scheme, no token, bytes that are not a token, too long.
    Malformed(&'static str),
    Bearer(&'a str),
}

/// The bearer token of an `Authorization` header value (RFC 6750 §2.1; the scheme is
/// case-insensitive, RFC 9110 §11.1).
pub fn credential(header: Option<&[u8]>) -> Credential<'_> {
    let Some(header) = header else { return Credential::Missing };
    let Ok(text) = std::str::from_utf8(header) else { return Credential::Malformed("not text") };
    let Some((scheme, token)) = text.trim().split_once(' ') else {
        return Credential::Malformed("expected Bearer TOKEN");
    };
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Credential::Malformed("expected Bearer TOKEN");
    }
    if token.is_empty() {
        return Credential::Malformed("empty token");
    }
    if token.len() > MAX_TOKEN_LEN {
        return Credential::Malformed("token too long");
    }
    // RFC 6750's b64token, which every Kubernetes token (JWT or bootstrap) fits.
    if !token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)) {
        return Credential::Malformed("token holds characters no token has");
    }
    Credential::Bearer(token)
}

/// What a scrape is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// 401: no token, a malformed one, or one the API server does not vouch for.
    Unauthenticated(String),
    /// 403: a known user RBAC does not allow `get` on `/metrics`.
    Forbidden(String),
    /// 500: no review could be made (the API server unreachable, or refusing ferrolb the
    /// reviews). Never 200: metrics are not served unchecked because checking failed.
    Unavailable(String),
}

impl Verdict {
    /// What the API server's review, or its failure, means for the scrape.
    pub fn of_review(review: Result<&Review, &str>) -> Verdict {
        match review {
            Ok(Review::Allowed { .. }) => Verdict::Allowed,
            Ok(Review::Unauthenticated { reason }) => Verdict::Unauthenticated(format!("unauthenticated: {reason}")),
            Ok(Review::Denied { user, .. }) => Verdict::Forbidden(format!("{user} may not get /metrics")),
            Err(e) => Verdict::Unavailable(format!("cannot review the token: {e}")),
        }
    }

    /// The token to review, or the verdict on a header that holds none (no review is made).
    pub fn token(credential: Credential<'_>) -> Result<&str, Verdict> {
        match credential {
            Credential::Missing => Err(Verdict::Unauthenticated("a bearer token is required".into())),
            Credential::Malformed(why) => {
                Err(Verdict::Unauthenticated(format!("malformed Authorization header: {why}")))
            }
            Credential::Bearer(token) => Ok(token),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Verdict::Allowed => StatusCode::OK,
            Verdict::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Verdict::Forbidden(_) => StatusCode::FORBIDDEN,
            Verdict::Unavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// How long the verdict is trusted: `None` for one that must not be cached (a failed
    /// review says nothing about the token, and the next scrape should retry at once).
    pub fn ttl(&self, ttls: Ttls) -> Option<Duration> {
        match self {
            Verdict::Allowed => Some(ttls.allowed),
            Verdict::Unauthenticated(_) | Verdict::Forbidden(_) => Some(ttls.denied),
            Verdict::Unavailable(_) => None,
        }
    }
}

/// How long reviews are trusted: short, so a revoked token or a removed RoleBinding stops
/// working within seconds, as with controller-runtime's caching authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    pub allowed: Duration,
    pub denied: Duration,
}

impl Default for Ttls {
    fn default() -> Self {
        Self { allowed: Duration::from_secs(10), denied: Duration::from_secs(10) }
    }
}

/// Verdicts per token, bounded. Keyed by the token's SHA-256, so the cache never holds a
/// credential; ordered (a BTreeMap) so eviction is deterministic.
#[derive(Debug)]
pub struct ReviewCache {
    entries: BTreeMap<[u8; 32], (Verdict, Instant)>,
    capacity: usize,
    ttls: Ttls,
}

/// Enough for every scraper of a cluster; a flood of made-up tokens cannot grow it further.
pub const CACHE_CAPACITY: usize = 1024;

impl ReviewCache {
    pub fn new(capacity: usize, ttls: Ttls) -> Self {
        Self { entries: BTreeMap::new(), capacity: capacity.max(1), ttls }
    }

    /// The verdict on `token` while it is fresh at `now`.
    pub fn get(&self, token: &str, now: Instant) -> Option<Verdict> {
        self.entries.get(&key(token)).filter(|(_, expires)| now < *expires).map(|(verdict, _)| verdict.clone())
    }

    /// Remembers `verdict` on `token` from `now`, if it may be cached. When full, the
    /// expired entries go first, then the one closest to expiry.
    pub fn put(&mut self, token: &str, verdict: Verdict, now: Instant) {
        let Some(ttl) = verdict.ttl(self.ttls) else { return };
        let key = key(token);
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.entries.retain(|_, (_, expires)| now < *expires);
            if self.entries.len() >= self.capacity {
                let soonest = self.entries.iter().min_by_key(|(_, (_, expires))| *expires).map(|(k, _)| *k);
                if let Some(soonest) = soonest {
                    self.entries.remove(&soonest);
                }
            }
        }
        self.entries.insert(key, (verdict, now + ttl));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_header_must_be_a_bearer_token() {
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        let cases: &[(Option<&[u8]>, Credential<'_>)] = &[
            (None, Credential::Missing),
            (Some(b"Bearer abc.DEF-123_~+/="), Credential::Bearer("abc.DEF-123_~+/=")),
            (Some(b"bearer  abc "), Credential::Bearer("abc")),
            (Some(b"BEARER abc"), Credential::Bearer("abc")),
            (Some(b"Basic dXNlcjpwYXNz"), Credential::Malformed("expected Bearer TOKEN")),
            (Some(b"Bearer"), Credential::Malformed("expected Bearer TOKEN")),
            (Some(b"Bearer    "), Credential::Malformed("expected Bearer TOKEN")),
            (Some(b""), Credential::Malformed("expected Bearer TOKEN")),
            (Some(b"abc"), Credential::Malformed("expected Bearer TOKEN")),
            (Some(b"Bearer a b"), Credential::Malformed("token holds characters no token has")),
            (Some(b"Bearer \xff\xfe"), Credential::Malformed("not text")),
            (Some(b"Bearer tok\"en"), Credential::Malformed("token holds characters no token has")),
            (Some(long.as_bytes()), Credential::Malformed("token too long")),
        ];
        for (header, expected) in cases {
            assert_eq!(credential(*header), *expected, "{:?}", header.map(String::from_utf8_lossy));
        }
    }

    #[test]
    fn each_outcome_has_its_http_answer_and_a_failed_review_is_never_200() {
        let user = || "system:serviceaccount:monitoring:prometheus".to_owned();
        let cases = [
            (Verdict::token(Credential::Missing).err(), StatusCode::UNAUTHORIZED),
            (Verdict::token(Credential::Malformed("x")).err(), StatusCode::UNAUTHORIZED),
            (Some(Verdict::of_review(Ok(&Review::Allowed { user: user() }))), StatusCode::OK),
            (
                Some(Verdict::of_review(Ok(&Review::Unauthenticated { reason: "expired".into() }))),
                StatusCode::UNAUTHORIZED,
            ),
            (
                Some(Verdict::of_review(Ok(&Review::Denied { user: user(), reason: String::new() }))),
                StatusCode::FORBIDDEN,
            ),
            (Some(Verdict::of_review(Err("connection refused"))), StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (verdict, status) in cases {
            assert_eq!(verdict.as_ref().map(Verdict::status), Some(status), "{verdict:?}");
        }
        assert_eq!(Verdict::token(Credential::Bearer("t")), Ok("t"), "a token is reviewed");
        let Verdict::Forbidden(message) = Verdict::of_review(Ok(&Review::Denied { user: user(), reason: "".into() }))
        else {
            panic!()
        };
        assert_eq!(message, "system:serviceaccount:monitoring:prometheus may not get /metrics");
    }

    #[test]
    fn a_verdict_is_trusted_for_its_ttl_and_a_failed_review_not_at_all() {
        let ttls = Ttls { allowed: Duration::from_secs(10), denied: Duration::from_secs(5) };
        let t0 = Instant::now();
        let mut cache = ReviewCache::new(8, ttls);
        cache.put("good", Verdict::Allowed, t0);
        cache.put("bad", Verdict::Forbidden("no".into()), t0);
        cache.put("flaky", Verdict::Unavailable("down".into()), t0);
        assert_eq!(cache.len(), 2, "a failure is not cached");
        assert_eq!(cache.get("good", t0 + Duration::from_millis(9_999)), Some(Verdict::Allowed));
        assert_eq!(cache.get("good", t0 + Duration::from_secs(10)), None);
        assert_eq!(cache.get("bad", t0 + Duration::from_secs(4)), Some(Verdict::Forbidden("no".into())));
        assert_eq!(cache.get("bad", t0 + Duration::from_secs(5)), None);
        assert_eq!(cache.get("flaky", t0), None);
        assert_eq!(cache.get("unknown", t0), None);
        cache.put("good", Verdict::Forbidden("revoked".into()), t0 + Duration::from_secs(11));
        assert_eq!(cache.get("good", t0 + Duration::from_secs(12)), Some(Verdict::Forbidden("revoked".into())));
    }

    #[test]
    fn the_cache_is_bounded_dropping_expired_entries_then_the_soonest_to_expire() {
        let ttls = Ttls::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut cache = ReviewCache::new(3, ttls);
        cache.put("a", Verdict::Allowed, at(0));
        cache.put("b", Verdict::Allowed, at(1));
        cache.put("c", Verdict::Allowed, at(2));
        cache.put("d", Verdict::Allowed, at(3));
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("a", at(3)), None, "the soonest to expire made room");
        assert!(cache.get("b", at(3)).is_some() && cache.get("d", at(3)).is_some());
        cache.put("e", Verdict::Allowed, at(12));
        assert_eq!(cache.len(), 2, "the expired b and c went first: {cache:?}");
        for i in 0..10_000 {
            cache.put(&format!("made-up-{i}"), Verdict::Unauthenticated("no".into()), at(12));
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn the_cache_holds_no_token() {
        let mut cache = ReviewCache::new(4, Ttls::default());
        cache.put("s3cret-token", Verdict::Allowed, Instant::now());
        assert!(!format!("{cache:?}").contains("s3cret"));
    }
}
