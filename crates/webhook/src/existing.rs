//! The existing objects a review is judged against, read from the API server at each review.
//!
//! Uncached on purpose: a review that trusted a watch cache a few hundred milliseconds behind
//! could admit a pool overlapping one created just before. Every metallb.io configuration kind
//! of the namespace is listed (the whole candidate is validated), Secrets of the namespace
//! (password references), and the metadata of Nodes and Namespaces (label selectors).

use ferrolb_api::{Namespace, Node, ObjectMeta, Resources, load_str};
use k8s_openapi::api::core::v1::{Namespace as KubeNamespace, Node as KubeNode, Secret};
use kube::api::{Api, ListParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind, PartialObjectMeta};
use serde_json::Value;

use crate::admission::Kind;
use crate::rotation::retrying;

/// Lists everything a review needs, in a fixed order (pools, L2 and BGP advertisements,
/// communities, BFD profiles, peers, Secrets, Nodes, Namespaces). Objects that do not decode
/// are left out with a warning: the reconcilers report them.
pub async fn list(client: &kube::Client, namespace: &str) -> Result<Resources, kube::Error> {
    let mut out = Resources::default();
    let lp = ListParams::default();
    for kind in [
        Kind::IPAddressPool,
        Kind::L2Advertisement,
        Kind::BGPAdvertisement,
        Kind::Community,
        Kind::BFDProfile,
        Kind::BGPPeer,
    ] {
        let gvk = GroupVersionKind::gvk("metallb.io", kind.storage_version(), kind.name());
        let resource = ApiResource::from_gvk_with_plural(&gvk, kind.plural());
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        let list = retrying(kind.plural(), || api.list(&lp)).await?;
        for item in list.items {
            let mut value = serde_json::to_value(&item).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut value {
                map.insert("apiVersion".into(), resource.api_version.clone().into());
                map.insert("kind".into(), resource.kind.clone().into());
            }
            add(&mut out, &value);
        }
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for secret in retrying("secrets", || secrets.list(&lp)).await?.items {
        let mut value = serde_json::to_value(&secret).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.insert("apiVersion".into(), "v1".into());
            map.insert("kind".into(), "Secret".into());
        }
        add(&mut out, &value);
    }
    let nodes: Api<KubeNode> = Api::all(client.clone());
    for node in retrying("nodes", || nodes.list_metadata(&lp)).await?.items {
        out.nodes.push(Node { metadata: meta(&node), ..Node::default() });
    }
    let namespaces: Api<KubeNamespace> = Api::all(client.clone());
    for ns in retrying("namespaces", || namespaces.list_metadata(&lp)).await?.items {
        out.namespaces.push(Namespace { metadata: meta(&ns) });
    }
    Ok(out)
}

/// Decodes one listed object the way the `dir:` source and the reconcilers do.
fn add(out: &mut Resources, value: &Value) {
    let text = serde_json::to_string(value).unwrap_or_default();
    if let Err(e) = load_str(&text, "API server", out) {
        tracing::warn!(error = %e, "webhook: an existing object does not decode; validating without it");
    }
}

fn meta<K>(object: &PartialObjectMeta<K>) -> ObjectMeta {
    let m = &object.metadata;
    ObjectMeta {
        name: m.name.clone().unwrap_or_default(),
        namespace: m.namespace.clone(),
        labels: m.labels.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ..ObjectMeta::default()
    }
}
