//! Who presents a bearer token, and may they do this: a TokenReview, then a
//! SubjectAccessReview, as controller-runtime's secure metrics server asks the API server
//! before it answers a scrape (`pkg/metrics/filters` in controller-runtime).
//!
//! Needs `create` on `tokenreviews` (authentication.k8s.io) and `subjectaccessreviews`
//! (authorization.k8s.io), cluster-wide. What the answer means for an HTTP request is the
//! caller's decision; this module only asks.

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, UserInfo};
use k8s_openapi::api::authorization::v1::{NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use kube::api::{Api, PostParams};

/// What the API server said about a token and a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review {
    /// The token is no one's (expired, revoked, garbage): why, as the API server says.
    Unauthenticated {
        reason: String,
    },
    /// The token's user may not make this request.
    Denied {
        user: String,
        reason: String,
    },
    Allowed {
        user: String,
    },
}

/// A non-resource request (`get` on `/metrics`), as RBAC's `nonResourceURLs` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub verb: &'a str,
    pub path: &'a str,
}

/// Asks who `token` is, then whether they may make `request`. An error is the API server
/// not answering (unreachable, or refusing ferrolb the reviews themselves): no verdict.
pub async fn review(client: &kube::Client, token: &str, request: Request<'_>) -> Result<Review, kube::Error> {
    let tokens: Api<TokenReview> = Api::all(client.clone());
    let asked = TokenReview {
        spec: TokenReviewSpec { token: Some(token.to_owned()), audiences: None },
        ..TokenReview::default()
    };
    let answered = tokens.create(&PostParams::default(), &asked).await?;
    let user = match authenticated(&answered) {
        Ok(user) => user,
        Err(reason) => return Ok(Review::Unauthenticated { reason }),
    };
    let name = user.username.clone().unwrap_or_default();
    let access: Api<SubjectAccessReview> = Api::all(client.clone());
    let answered = access.create(&PostParams::default(), &access_review(user, request)).await?;
    let status = answered.status.unwrap_or_default();
    Ok(if status.allowed && status.denied != Some(true) {
        Review::Allowed { user: name }
    } else {
        Review::Denied { user: name, reason: status.reason.unwrap_or_default() }
    })
}

/// The user a TokenReview vouches for, or why it does not.
fn authenticated(review: &TokenReview) -> Result<UserInfo, String> {
    let status = review.status.clone().unwrap_or_default();
    match (status.authenticated, status.user) {
        (Some(true), Some(user)) if user.username.as_deref().is_some_and(|u| !u.is_empty()) => Ok(user),
        _ => Err(status.error.filter(|e| !e.is_empty()).unwrap_or_else(|| "token not authenticated".into())),
    }
}

/// The SubjectAccessReview for `user` making `request`: user, uid, groups and extra exactly
/// as the TokenReview gave them, since RBAC may bind any of them.
fn access_review(user: UserInfo, request: Request<'_>) -> SubjectAccessReview {
    SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: user.username,
            uid: user.uid,
            groups: user.groups,
            extra: user.extra,
            non_resource_attributes: Some(NonResourceAttributes {
                path: Some(request.path.to_owned()),
                verb: Some(request.verb.to_owned()),
            }),
            resource_attributes: None,
        },
        ..SubjectAccessReview::default()
    }
}
