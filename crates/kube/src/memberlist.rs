//! The memberlist side of the Kubernetes edge: the shared gossip key, and the speakers to join.
//!
//! MetalLB's controller creates the Secret `METALLB_ML_SECRET_NAME` if it is absent, owned by
//! its Deployment (so `helm uninstall` removes it), holding `secretkey` = 16 random bytes as
//! unpadded standard base64 (docs/compatibility.md §5). The speakers mount it and derive the gossip key
//! from it. A Secret that exists is never touched, whatever it holds: a user may have put
//! their own key there, and rotating it under running speakers would split the cluster.
//!
//! Speakers find each other by listing the pods that carry the memberlist labels and joining
//! their IPs ([`speaker_pod_ips`]); the caller adds the port.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Api;
use kube::api::{ListParams, PostParams};
use rand::TryRng;
use rand::rngs::SysRng;

/// The key inside the Secret, as MetalLB's speakers read it (`<ML_SECRET_KEY_PATH>/secretkey`).
pub const SECRET_KEY: &str = "secretkey";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not read random bytes for the memberlist key: {0}")]
    Random(String),
    #[error("Deployment {namespace}/{name} does not exist, so it cannot own the memberlist Secret")]
    DeploymentNotFound { namespace: String, name: String },
    #[error("Deployment {namespace}/{name} has no uid, so it cannot own the memberlist Secret")]
    DeploymentWithoutUid { namespace: String, name: String },
    #[error("reading Deployment {namespace}/{name}: {source}")]
    Deployment { namespace: String, name: String, source: kube::Error },
    #[error("memberlist Secret {namespace}/{name}: {source}")]
    Secret { namespace: String, name: String, source: kube::Error },
    #[error("invalid speaker label selector {selector:?}: {message}")]
    Selector { selector: String, message: String },
    #[error("listing speaker pods in {namespace}: {source}")]
    Pods { namespace: String, source: kube::Error },
}

/// What [`ensure_secret`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOutcome {
    /// The Secret was there already; it was left as it is.
    Existed,
    /// We created it.
    Created,
    /// Another controller replica created it between our read and our create.
    CreatedByOther,
}

/// MetalLB's encoding of the key bytes: unpadded standard base64 (16 bytes → 22 chars).
pub fn encode_key(bytes: &[u8; 16]) -> String {
    STANDARD_NO_PAD.encode(bytes)
}

/// A fresh key from the operating system's RNG.
pub fn generate_key() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    SysRng.try_fill_bytes(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(encode_key(&bytes))
}

/// The Secret MetalLB's controller creates: `data.secretkey` holds the base64 *text* (so the
/// mounted file reads as the 22 characters), owned by the controller Deployment if known.
pub fn secret_for(namespace: &str, name: &str, key: &str, owner: Option<OwnerReference>) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            owner_references: owner.map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(SECRET_KEY.to_owned(), ByteString(key.as_bytes().to_vec()))])),
        ..Secret::default()
    }
}

/// The reference MetalLB puts on the Secret: apps/v1 Deployment, name and uid (no
/// `controller` flag, so garbage collection applies but adoption does not).
pub fn owner_reference(deployment: &Deployment) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: deployment.metadata.name.clone()?,
        uid: deployment.metadata.uid.clone().filter(|uid| !uid.is_empty())?,
        ..OwnerReference::default()
    })
}

/// GETs the controller's Deployment for its uid, to own the Secret.
pub async fn deployment_owner(client: kube::Client, namespace: &str, name: &str) -> Result<OwnerReference, Error> {
    let api: Api<Deployment> = Api::namespaced(client, namespace);
    let deployment = api
        .get_opt(name)
        .await
        .map_err(|source| Error::Deployment { namespace: namespace.into(), name: name.into(), source })?
        .ok_or_else(|| Error::DeploymentNotFound { namespace: namespace.into(), name: name.into() })?;
    let mut owner = owner_reference(&deployment)
        .ok_or_else(|| Error::DeploymentWithoutUid { namespace: namespace.into(), name: name.into() })?;
    // The object we asked for is the one we name, whatever the answer says.
    owner.name = name.to_owned();
    Ok(owner)
}

/// Creates the memberlist Secret unless it exists (whatever it holds). Errors are returned,
/// not retried: the caller's reconcile loop tries again.
pub async fn ensure_secret(
    client: kube::Client,
    namespace: &str,
    name: &str,
    owner: Option<OwnerReference>,
) -> Result<SecretOutcome, Error> {
    let fail = |source| Error::Secret { namespace: namespace.into(), name: name.into(), source };
    let api: Api<Secret> = Api::namespaced(client, namespace);
    if api.get_opt(name).await.map_err(fail)?.is_some() {
        return Ok(SecretOutcome::Existed);
    }
    let secret = secret_for(namespace, name, &generate_key()?, owner);
    match api.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(SecretOutcome::Created),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(SecretOutcome::CreatedByOther),
        Err(e) => Err(fail(e)),
    }
}

/// The pods that can gossip: running and not being deleted.
fn live(pods: &[Pod]) -> impl Iterator<Item = &Pod> {
    pods.iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .filter(|pod| pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
}

/// The nodes the live speaker pods run on: the speakers membership should expect.
pub fn pod_nodes(pods: &[Pod]) -> BTreeSet<String> {
    live(pods).filter_map(|pod| pod.spec.as_ref()?.node_name.clone()).collect()
}

/// The IPs of the pods that can gossip ([`live`]); `status.podIPs` (dual-stack), else
/// `status.podIP`. Unparsable addresses are skipped. Sorted, deduplicated.
pub fn pod_ips(pods: &[Pod]) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = live(pods)
        .filter_map(|pod| pod.status.as_ref())
        .flat_map(|status| {
            let listed: Vec<&str> = status.pod_ips.iter().flatten().map(|ip| ip.ip.as_str()).collect();
            if listed.is_empty() { status.pod_ip.as_deref().into_iter().collect() } else { listed }
        })
        .filter_map(|ip| ip.trim().parse().ok())
        .collect();
    ips.sort_unstable();
    ips.dedup();
    ips
}

/// Lists the speaker pods (`labelSelector`): for their IPs ([`pod_ips`]) or their nodes
/// ([`pod_nodes`]). An empty selector is refused here (it would match every pod in the
/// namespace); one the API server rejects (400) is reported as [`Error::Selector`] with the
/// server's reason.
pub async fn speaker_pods(client: kube::Client, namespace: &str, label_selector: &str) -> Result<Vec<Pod>, Error> {
    if label_selector.trim().is_empty() {
        return Err(Error::Selector {
            selector: label_selector.into(),
            message: "empty: it would match every pod in the namespace".into(),
        });
    }
    let api: Api<Pod> = Api::namespaced(client, namespace);
    match api.list(&ListParams::default().labels(label_selector)).await {
        Ok(list) => Ok(list.items),
        Err(kube::Error::Api(status)) if status.code == 400 => {
            Err(Error::Selector { selector: label_selector.into(), message: status.message.clone() })
        }
        Err(source) => Err(Error::Pods { namespace: namespace.into(), source }),
    }
}

/// The gossip IPs of the speaker pods ([`speaker_pods`], [`pod_ips`]).
pub async fn speaker_pod_ips(
    client: kube::Client,
    namespace: &str,
    label_selector: &str,
) -> Result<Vec<IpAddr>, Error> {
    Ok(pod_ips(&speaker_pods(client, namespace, label_selector).await?))
}
