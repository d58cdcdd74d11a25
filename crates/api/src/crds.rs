//! The `metallb.io` CustomResourceDefinitions, generated from the Rust types.
//!
//! ferrolb installs the same CRDs as MetalLB (docs/compatibility.md §1): same names, versions,
//! scopes, subresources, printer columns, required fields, defaults, ranges and CEL rules.
//! The schemas come from the types' `#[schemars]` attributes through kube-derive; this module
//! adds what a single derive cannot express (BGPPeer's two versions and its conversion
//! webhook) and removes what the Rust types add but MetalLB's schemas do not have (see
//! [`tidy_schema`]). `deploy/crds.yaml` is [`render_yaml`]'s output, kept in sync by a test.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, ServiceReference, WebhookClientConfig, WebhookConversion,
};
use kube::core::CustomResourceExt;
use kube::core::crd::merge_crds;
use serde_json::{Map, Value};

use crate::metallb::{
    BFDProfile, BGPAdvertisement, BGPPeer, Community, ConfigurationState, IPAddressPool, L2Advertisement,
    ServiceBGPStatus, ServiceL2Status, v1beta1,
};

/// The API server sends BGPPeer ConversionReviews to the controller's webhook server, under
/// the name and namespace MetalLB's manifests use, so an existing install's Service and
/// certificate keep working.
use crate::install::{CONVERSION_PATH, NAMESPACE as WEBHOOK_NAMESPACE, WEBHOOK_SERVICE};

/// Kinds whose objects carry only a status. Their `spec` (an empty object on MetalLB's CRDs)
/// must not be required: MetalLB's speakers create them without one.
const STATUS_ONLY_KINDS: [&str; 2] = ["ServiceBGPStatus", "ServiceL2Status"];

/// Formats the API server understands; schemars' `uint32`, `uint16`, ... mean nothing to it.
const KUBERNETES_FORMATS: [&str; 4] = ["int32", "int64", "date-time", "byte"];

/// Every `metallb.io` CRD, sorted by name.
pub fn all() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        BFDProfile::crd(),
        BGPAdvertisement::crd(),
        bgp_peer(),
        Community::crd(),
        ConfigurationState::crd(),
        IPAddressPool::crd(),
        L2Advertisement::crd(),
        ServiceBGPStatus::crd(),
        ServiceL2Status::crd(),
    ];
    for crd in &mut crds {
        tidy(crd);
    }
    crds.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    crds
}

/// The CRDs as multi-document YAML, each document introduced by `---`, in [`all`]'s order.
pub fn render_yaml() -> String {
    all()
        .iter()
        .map(|crd| {
            let doc = serde_saphyr::to_string(crd).expect("a CRD always serializes to YAML");
            format!("---\n{}", doc.trim_start_matches("---\n"))
        })
        .collect()
}

/// BGPPeer: one CRD serving v1beta1 (deprecated) and v1beta2 (storage), converted by the
/// controller's webhook because v1beta1 node selectors have a different shape.
fn bgp_peer() -> CustomResourceDefinition {
    let mut crd = merge_crds(vec![v1beta1::BGPPeer::crd(), BGPPeer::crd()], "v1beta2")
        .expect("both BGPPeer versions share group, kind and scope");
    crd.spec.versions.sort_by(|a, b| a.name.cmp(&b.name));
    crd.spec.conversion = Some(CustomResourceConversion {
        strategy: "Webhook".into(),
        webhook: Some(WebhookConversion {
            client_config: Some(WebhookClientConfig {
                service: Some(ServiceReference {
                    name: WEBHOOK_SERVICE.into(),
                    namespace: WEBHOOK_NAMESPACE.into(),
                    path: Some(CONVERSION_PATH.into()),
                    port: None,
                }),
                ..WebhookClientConfig::default()
            }),
            conversion_review_versions: vec!["v1".into()],
        }),
    });
    crd
}

/// Applies [`tidy_schema`] to every version's schema and lets `spec` be omitted where
/// nothing in it is required: by status-only kinds, and by kinds whose every field has a
/// default (a spec-less L2Advertisement announces every pool, MetalLB's own first example).
fn tidy(crd: &mut CustomResourceDefinition) {
    let status_only = STATUS_ONLY_KINDS.contains(&crd.spec.names.kind.as_str());
    for version in &mut crd.spec.versions {
        let Some(schema) = version.schema.as_mut().and_then(|v| v.open_api_v3_schema.as_mut()) else {
            continue;
        };
        let mut value = serde_json::to_value(&*schema).expect("a schema always serializes");
        if let Value::Object(root) = &mut value {
            tidy_schema(root);
            let spec_all_optional = root
                .get("properties")
                .and_then(|p| p.get("spec"))
                .is_some_and(|spec| spec.get("required").is_none_or(|r| r.as_array().is_some_and(Vec::is_empty)));
            if (status_only || spec_all_optional)
                && let Some(Value::Array(required)) = root.get_mut("required")
            {
                required.retain(|name| name != "spec");
                if required.is_empty() {
                    root.remove("required");
                }
            }
        }
        *schema = serde_json::from_value(value).expect("tidying keeps a valid schema");
    }
}

/// Removes, recursively, what the Rust types put in a schema but MetalLB's CRDs lack:
///
/// * `nullable`, which schemars adds for every `Option`: with it, an explicit `null` is
///   stored as such instead of being pruned and defaulted (`peerPort: null` would not become
///   179), unlike on MetalLB's CRDs.
/// * defaults equal to the zero value (`false`, `0`, `""`, `[]`, `{}`), which only mirror
///   `#[serde(default)]`: absent and zero mean the same to ferrolb, and a zero default would
///   defeat `required` (`myASN`) or a range (`localASN` minimum 1). Meaningful defaults
///   (`autoAssign: true`, `peerPort: 179`, ...) are kept.
/// * formats the API server does not know (`uint32`, `uint16`, ...); the upper bound that
///   `uint32` implied becomes an explicit `maximum`, as on MetalLB's ASN fields.
fn tidy_schema(schema: &mut Map<String, Value>) {
    schema.remove("nullable");
    if schema.get("default").is_some_and(is_zero) {
        schema.remove("default");
    }
    if let Some(Value::String(format)) = schema.get("format")
        && !KUBERNETES_FORMATS.contains(&format.as_str())
    {
        if format == "uint32" && !schema.contains_key("maximum") {
            schema.insert("maximum".into(), u32::MAX.into());
        }
        schema.remove("format");
    }
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for property in properties.values_mut() {
            if let Value::Object(property) = property {
                tidy_schema(property);
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(Value::Object(sub)) = schema.get_mut(key) {
            tidy_schema(sub);
        }
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}
