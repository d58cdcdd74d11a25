//! What `why --source k8s` reads, once, with the user's kubeconfig and nothing but `list`:
//! every kind a speaker reads (decoded as the speakers decode them), the status objects
//! (ServiceL2Status, ServiceBGPStatus, ConfigurationState), the speakers' heartbeat Leases
//! and their report ConfigMaps. A kind the user may not list is left out and said so.

use std::collections::BTreeMap;

use ferrolb_api::metallb::{ConfigurationStateStatus, ServiceBGPStatusStatus, ServiceL2StatusStatus};
use ferrolb_api::report::{REPORT_KEY, REPORT_LABEL, SpeakerReport};
use ferrolb_runtime::sources::k8s::{Kind, ServiceStatusKind, configuration_state_resource, list_all, list_once};
use ferrolb_runtime::speaker::witness::{HEARTBEAT_LABEL, heartbeat_of};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ApiResource;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::explain::Observed;

/// Lists what `why` needs from the cluster; `now` judges the heartbeats.
pub async fn gather(
    client: kube::Client,
    namespace: &str,
    now: k8s_openapi::jiff::Timestamp,
) -> Result<Observed, String> {
    let (snapshot, forbidden) = list_once(client.clone(), namespace, &Kind::ALL).await?;
    let mut observed = Observed::default();
    observed.notes.extend(forbidden.into_iter().map(|f| format!("not allowed to list {f}; taken as none")));
    observed.rejected = snapshot.rejected.iter().map(|r| r.message.clone()).collect();
    observed.resources = std::sync::Arc::unwrap_or_clone(snapshot).resources;
    let listed = |r, labels| listed(&client, namespace, r, labels);
    let mut notes = Vec::new();
    let l2 = listed(ServiceStatusKind::Layer2.resource(), None).await;
    for status in statuses::<ServiceL2StatusStatus>(l2, &mut notes) {
        let key = (status.service_namespace.clone(), status.service_name.clone());
        let interfaces = status.interfaces.iter().map(|i| i.name.clone()).collect();
        observed.layer2.entry(key).or_default().push((status.node, interfaces));
    }
    let bgp = listed(ServiceStatusKind::Bgp.resource(), None).await;
    for status in statuses::<ServiceBGPStatusStatus>(bgp, &mut notes) {
        let key = (status.service_namespace.clone(), status.service_name.clone());
        observed.bgp.entry(key).or_default().push((status.node, status.peers));
    }
    match listed(configuration_state_resource(), None).await {
        Ok(items) => {
            for item in items {
                let name = item["metadata"]["name"].as_str().unwrap_or_default().to_owned();
                if let Some(status) = decode::<ConfigurationStateStatus>(&item["status"], &mut notes) {
                    observed.states.insert(name, status);
                }
            }
        }
        Err(e) => notes.push(e),
    }
    let heartbeat_label = format!("{}={}", HEARTBEAT_LABEL.0, HEARTBEAT_LABEL.1);
    match listed(ApiResource::erase::<Lease>(&()), Some(&heartbeat_label)).await {
        Ok(items) => {
            let beats: BTreeMap<String, bool> =
                items.iter().filter_map(|i| decode::<Lease>(i, &mut notes)).filter_map(|l| fresh(&l, now)).collect();
            observed.heartbeats = (!beats.is_empty()).then_some(beats);
        }
        Err(e) => notes.push(e),
    }
    let report_label = format!("{}={}", REPORT_LABEL.0, REPORT_LABEL.1);
    match listed(ApiResource::erase::<ConfigMap>(&()), Some(&report_label)).await {
        Ok(items) => {
            let maps: Vec<ConfigMap> = items.iter().filter_map(|i| decode(i, &mut notes)).collect();
            for map in maps {
                let name = map.metadata.name.clone().unwrap_or_default();
                let data = map.data.as_ref().and_then(|d| d.get(REPORT_KEY));
                match data.map(|d| SpeakerReport::decode(d.as_bytes())) {
                    Some(Ok(report)) => {
                        observed.reports.insert(report.node.clone(), report);
                    }
                    Some(Err(e)) => notes.push(format!("ConfigMap {name}: {e}")),
                    None => notes.push(format!("ConfigMap {name}: no {REPORT_KEY}")),
                }
            }
        }
        Err(e) => notes.push(e),
    }
    observed.notes.extend(notes);
    Ok(observed)
}

/// Every object of `r` in `namespace`, or why not (said as a note: the answer goes on
/// without them).
async fn listed(
    client: &kube::Client,
    namespace: &str,
    r: ApiResource,
    labels: Option<&str>,
) -> Result<Vec<Value>, String> {
    match list_all(client.clone(), Some(namespace), &r, labels).await {
        Ok(items) => Ok(items),
        Err(kube::Error::Api(e)) => Err(format!("cannot list {} in {namespace}: {}; left out", r.plural, e.message)),
        Err(e) => Err(format!("cannot list {} in {namespace}: {e}; left out", r.plural)),
    }
}

fn statuses<T: DeserializeOwned>(listed: Result<Vec<Value>, String>, notes: &mut Vec<String>) -> Vec<T> {
    match listed {
        Ok(items) => items.iter().filter_map(|i| decode(&i["status"], notes)).collect(),
        Err(e) => {
            notes.push(e);
            Vec::new()
        }
    }
}

fn decode<T: DeserializeOwned>(value: &Value, notes: &mut Vec<String>) -> Option<T> {
    match T::deserialize(value) {
        Ok(v) => Some(v),
        Err(e) => {
            notes.push(format!("an object that does not decode was left out: {e}"));
            None
        }
    }
}

/// A heartbeat Lease's node, and whether it was renewed within its duration.
fn fresh(lease: &Lease, now: k8s_openapi::jiff::Timestamp) -> Option<(String, bool)> {
    let (node, renewed) = heartbeat_of(lease)?;
    let duration = i64::from(lease.spec.as_ref()?.lease_duration_seconds.unwrap_or(6));
    let age = now.as_second() - renewed.as_second();
    Some((node, age <= duration))
}
