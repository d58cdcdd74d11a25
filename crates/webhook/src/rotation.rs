//! The API-server side of the certificates: the Secret that stores them and the caBundles
//! that make the API server trust them.
//!
//! Every write is level-based and conflict-safe: the Secret is read, judged by
//! [`certs::decide`], and written only when it must change, with its resourceVersion (an
//! update) or as a create; a 409 means another replica wrote first, so the Secret is read
//! again and theirs is used if good. caBundles are patched only when they differ. 429 and 5xx
//! answers are retried with backoff.

use std::future::Future;
use std::time::{Duration, SystemTime};

use base64::Engine;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::certs::{self, Bundle, Decision};
use crate::{WebhookError, WebhookSettings};

/// The CRD whose conversion webhook the CA must be trusted for.
pub const BGPPEER_CRD: &str = "bgppeers.metallb.io";

/// How many times one API call is tried when the API server answers 429 or 5xx.
const ATTEMPTS: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Read-judge-write rounds before giving up on a Secret others keep changing.
const SECRET_ROUNDS: u32 = 4;

/// Whether a failed call may succeed if tried again: throttling, server errors, transport.
pub fn is_retryable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code == 429 || status.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Runs `call` until it succeeds, fails for good, or six attempts are used up (backoff
/// 0.5 s doubling to 8 s).
pub async fn retrying<T, F, Fut>(what: &str, mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if attempt < ATTEMPTS && is_retryable(&e) => {
                tracing::warn!(%what, attempt, error = %e, "webhook: API call failed, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// Returns the certificates to serve, stored in the Secret: the stored ones when good,
/// otherwise new ones written there first.
pub async fn ensure_secret(
    client: &kube::Client,
    settings: &WebhookSettings,
    now: SystemTime,
) -> Result<Bundle, WebhookError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &settings.namespace);
    let names = certs::dns_names(&settings.service_name, &settings.namespace);
    let name = settings.secret_name.as_str();
    let pp = PostParams::default();
    for _ in 0..SECRET_ROUNDS {
        let stored = retrying("get webhook Secret", || api.get_opt(name)).await?;
        let bundle = stored.as_ref().and_then(|s| Bundle::from_data(&secret_bytes(s)));
        let fresh = match certs::decide(bundle.as_ref(), &names, now) {
            Decision::Reuse => return bundle.ok_or_else(|| WebhookError::Certificate("reused nothing".into())),
            Decision::RenewServing { reason } => {
                tracing::info!(secret = name, %reason, "webhook: renewing the serving certificate");
                match bundle.as_ref() {
                    Some(stored) => certs::renew_serving(stored, &names, now)?,
                    None => certs::generate(&names, now)?,
                }
            }
            Decision::Regenerate { reason } => {
                tracing::info!(secret = name, %reason, "webhook: generating a new CA and serving certificate");
                certs::generate(&names, now)?
            }
        };
        let data = fresh.to_data().into_iter().map(|(k, v)| (k, ByteString(v))).collect();
        let written = match stored {
            Some(mut secret) => {
                secret.data = Some(data);
                secret.string_data = None;
                retrying("update webhook Secret", || api.replace(name, &pp, &secret)).await
            }
            None => {
                let secret = Secret {
                    metadata: ObjectMeta {
                        name: Some(name.to_owned()),
                        namespace: Some(settings.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    data: Some(data),
                    type_: Some("Opaque".into()),
                    ..Secret::default()
                };
                retrying("create webhook Secret", || api.create(&pp, &secret)).await
            }
        };
        match written {
            Ok(_) => return Ok(fresh),
            // Another replica created or updated it since we read it: judge theirs.
            Err(e) if status_code(&e) == Some(409) => {
                tracing::info!(secret = name, "webhook: the Secret changed under us, reading it again");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(WebhookError::Certificate(format!("Secret {name} kept changing while it was being written")))
}

fn secret_bytes(secret: &Secret) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out: std::collections::BTreeMap<String, Vec<u8>> =
        secret.data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect();
    for (k, v) in secret.string_data.iter().flatten() {
        out.insert(k.clone(), v.clone().into_bytes());
    }
    out
}

/// Makes the API server trust `ca_pem` for every webhook of the ValidatingWebhookConfiguration
/// and for the BGPPeer conversion webhook. A missing configuration or CRD is only a warning:
/// an install without webhooks, or one whose CRDs come later, is legitimate.
pub async fn publish_ca_bundle(
    client: &kube::Client,
    settings: &WebhookSettings,
    ca_pem: &str,
) -> Result<(), WebhookError> {
    let wanted = ca_pem.as_bytes();
    let encoded = base64::engine::general_purpose::STANDARD.encode(wanted);
    let pp = PatchParams::default();

    let configs: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let name = settings.configuration_name.as_str();
    match retrying("get ValidatingWebhookConfiguration", || configs.get_opt(name)).await? {
        None => tracing::warn!(
            configuration = name,
            "webhook: ValidatingWebhookConfiguration not found; not patching its caBundle"
        ),
        Some(config) => {
            let stale: Vec<&str> = config
                .webhooks
                .iter()
                .flatten()
                .filter(|w| w.client_config.ca_bundle.as_ref().map(|b| b.0.as_slice()) != Some(wanted))
                .map(|w| w.name.as_str())
                .collect();
            if !stale.is_empty() {
                // Strategic merge: webhooks merge by name, so only the caBundles change.
                let patch = Patch::Strategic(json!({
                    "webhooks": stale.iter().map(|n| json!({"name": n, "clientConfig": {"caBundle": encoded}})).collect::<Vec<_>>()
                }));
                retrying("patch ValidatingWebhookConfiguration", || configs.patch(name, &pp, &patch)).await?;
                tracing::info!(configuration = name, webhooks = stale.len(), "webhook: caBundle updated");
            }
        }
    }

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    match retrying("get BGPPeer CRD", || crds.get_opt(BGPPEER_CRD)).await? {
        None => tracing::warn!(crd = BGPPEER_CRD, "webhook: CRD not found; not patching its conversion caBundle"),
        Some(crd) => {
            let conversion = crd.spec.conversion.as_ref();
            if conversion.is_none_or(|c| c.strategy != "Webhook") {
                tracing::warn!(crd = BGPPEER_CRD, "webhook: CRD has no conversion webhook; not patching");
                return Ok(());
            }
            let current = conversion
                .and_then(|c| c.webhook.as_ref())
                .and_then(|w| w.client_config.as_ref())
                .and_then(|c| c.ca_bundle.as_ref());
            if current.map(|b| b.0.as_slice()) != Some(wanted) {
                let patch =
                    Patch::Merge(json!({"spec": {"conversion": {"webhook": {"clientConfig": {"caBundle": encoded}}}}}));
                retrying("patch BGPPeer CRD", || crds.patch(BGPPEER_CRD, &pp, &patch)).await?;
                tracing::info!(crd = BGPPEER_CRD, "webhook: conversion caBundle updated");
            }
        }
    }
    Ok(())
}

/// One check: the Secret judged (and rewritten if needed), then the caBundles.
pub async fn refresh(
    client: &kube::Client,
    settings: &WebhookSettings,
    now: SystemTime,
) -> Result<Bundle, WebhookError> {
    let bundle = ensure_secret(client, settings, now).await?;
    publish_ca_bundle(client, settings, &bundle.ca_cert).await?;
    Ok(bundle)
}
