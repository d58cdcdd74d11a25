//! The generated CRDs: `deploy/crds.yaml` must be exactly `crds::render_yaml()`, and the CRDs
//! must carry MetalLB's names, versions and schema rules (docs/compatibility.md §1).
#![cfg(feature = "kube")]

use std::path::PathBuf;

use ferrolb_api::crds;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionVersion, JSONSchemaProps,
};
use serde_json::json;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds.yaml")
}

fn parsed() -> Vec<CustomResourceDefinition> {
    serde_saphyr::from_multiple(&crds::render_yaml()).expect("the rendered YAML parses back")
}

fn crd(name: &str) -> CustomResourceDefinition {
    parsed().into_iter().find(|c| c.metadata.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("no CRD {name}"))
}

fn version<'a>(crd: &'a CustomResourceDefinition, name: &str) -> &'a CustomResourceDefinitionVersion {
    crd.spec.versions.iter().find(|v| v.name == name).unwrap_or_else(|| panic!("no version {name}"))
}

fn schema<'a>(crd: &'a CustomResourceDefinition, version_name: &str) -> &'a JSONSchemaProps {
    version(crd, version_name)
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("every version has a schema")
}

/// Follows `path` through `properties` (and `items` for a `[]` segment).
fn at<'a>(mut schema: &'a JSONSchemaProps, path: &[&str]) -> &'a JSONSchemaProps {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray;
    for segment in path {
        schema = if *segment == "[]" {
            match schema.items.as_ref() {
                Some(JSONSchemaPropsOrArray::Schema(items)) => items,
                _ => panic!("no items at {path:?}"),
            }
        } else {
            schema
                .properties
                .as_ref()
                .and_then(|p| p.get(*segment))
                .unwrap_or_else(|| panic!("no property {segment} in {path:?}"))
        };
    }
    schema
}

fn required(schema: &JSONSchemaProps) -> Vec<&str> {
    schema.required.iter().flatten().map(String::as_str).collect()
}

fn rules(schema: &JSONSchemaProps) -> Vec<(&str, &str)> {
    schema
        .x_kubernetes_validations
        .iter()
        .flatten()
        .map(|r| (r.rule.as_str(), r.message.as_deref().unwrap_or("")))
        .collect()
}

#[test]
fn committed_crds_yaml_matches_the_generated_crds() {
    let generated = crds::render_yaml();
    let path = committed_path();
    if std::env::var_os("FERROLB_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write deploy/crds.yaml");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date with the Rust types; regenerate it with\n    \
         FERROLB_BLESS=1 cargo test -p ferrolb-api --features kube --test crds\n\
         and commit the result",
        path.display()
    );
}

#[test]
fn rendering_is_deterministic_and_sorted_by_name() {
    assert_eq!(crds::render_yaml(), crds::render_yaml());
    let names: Vec<_> = crds::all().into_iter().map(|c| c.metadata.name.unwrap_or_default()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(crds::render_yaml().starts_with("---\napiVersion: apiextensions.k8s.io/v1\n"));
}

#[test]
fn every_metallb_kind_is_there_with_its_versions_namespaced_with_a_status_subresource() {
    let expected = [
        ("bfdprofiles.metallb.io", "BFDProfile", "bfdprofiles", &["v1beta1"][..]),
        ("bgpadvertisements.metallb.io", "BGPAdvertisement", "bgpadvertisements", &["v1beta1"]),
        ("bgppeers.metallb.io", "BGPPeer", "bgppeers", &["v1beta1", "v1beta2"]),
        ("communities.metallb.io", "Community", "communities", &["v1beta1"]),
        ("configurationstates.metallb.io", "ConfigurationState", "configurationstates", &["v1beta1"]),
        ("ipaddresspools.metallb.io", "IPAddressPool", "ipaddresspools", &["v1beta1"]),
        ("l2advertisements.metallb.io", "L2Advertisement", "l2advertisements", &["v1beta1"]),
        ("servicebgpstatuses.metallb.io", "ServiceBGPStatus", "servicebgpstatuses", &["v1beta1"]),
        ("servicel2statuses.metallb.io", "ServiceL2Status", "servicel2statuses", &["v1beta1"]),
    ];
    let crds = parsed();
    assert_eq!(crds.len(), expected.len());
    for (crd, (name, kind, plural, versions)) in crds.iter().zip(expected) {
        assert_eq!(crd.metadata.name.as_deref(), Some(name));
        assert_eq!(crd.spec.group, "metallb.io");
        assert_eq!(crd.spec.names.kind, kind);
        assert_eq!(crd.spec.names.plural, plural);
        assert_eq!(crd.spec.scope, "Namespaced");
        let names: Vec<_> = crd.spec.versions.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, versions, "{name}");
        for v in &crd.spec.versions {
            assert!(v.served, "{name} {} served", v.name);
            assert!(v.subresources.as_ref().is_some_and(|s| s.status.is_some()), "{name} status");
        }
    }
}

#[test]
fn only_v1beta2_stores_bgppeers_and_v1beta1_is_deprecated() {
    let peers = crd("bgppeers.metallb.io");
    let old = version(&peers, "v1beta1");
    let new = version(&peers, "v1beta2");
    assert!(!old.storage && old.served && old.deprecated == Some(true));
    assert_eq!(old.deprecation_warning.as_deref(), Some("v1beta1 is deprecated, please use v1beta2"));
    assert!(new.storage && new.served && new.deprecated.is_none());
    for other in parsed().iter().filter(|c| c.spec.names.kind != "BGPPeer") {
        assert!(other.spec.versions.iter().all(|v| v.storage), "{:?}", other.metadata.name);
    }
}

#[test]
fn bgppeer_versions_are_converted_by_the_controller_webhook() {
    let conversion = crd("bgppeers.metallb.io").spec.conversion.expect("conversion stanza");
    assert_eq!(conversion.strategy, "Webhook");
    let webhook = conversion.webhook.expect("webhook");
    assert_eq!(webhook.conversion_review_versions, ["v1"]);
    let service = webhook.client_config.and_then(|c| c.service).expect("service reference");
    assert_eq!(
        (service.name.as_str(), service.namespace.as_str(), service.path.as_deref()),
        ("metallb-webhook-service", "metallb-system", Some("/convert"))
    );
    for other in parsed().iter().filter(|c| c.spec.names.kind != "BGPPeer") {
        assert!(other.spec.conversion.is_none(), "{:?}", other.metadata.name);
    }
}

#[test]
fn ip_address_pools_require_addresses_and_default_auto_assign_to_true() {
    let pools = crd("ipaddresspools.metallb.io");
    let spec = at(schema(&pools, "v1beta1"), &["spec"]);
    assert_eq!(required(spec), ["addresses"]);
    assert_eq!(at(spec, &["addresses"]).min_items, Some(1));
    assert_eq!(at(spec, &["addresses"]).default, None);
    assert_eq!(at(spec, &["autoAssign"]).default.as_ref().map(|d| &d.0), Some(&json!(true)));
    assert_eq!(at(spec, &["avoidBuggyIPs"]).default, None);
    let status = at(schema(&pools, "v1beta1"), &["status"]);
    assert_eq!(required(status), ["assignedIPv4", "assignedIPv6", "availableIPv4", "availableIPv6"]);
}

#[test]
fn bgp_advertisements_default_aggregation_and_forbid_it_with_service_selectors() {
    let ads = crd("bgpadvertisements.metallb.io");
    let spec = at(schema(&ads, "v1beta1"), &["spec"]);
    let v4 = at(spec, &["aggregationLength"]);
    assert_eq!((v4.default.as_ref().map(|d| &d.0), v4.minimum), (Some(&json!(32)), Some(1.0)));
    assert_eq!(at(spec, &["aggregationLengthV6"]).default.as_ref().map(|d| &d.0), Some(&json!(128)));
    assert_eq!(
        rules(spec),
        [(
            "!has(self.serviceSelectors) || size(self.serviceSelectors) == 0 || \
             ((!has(self.aggregationLength) || self.aggregationLength == 32) && \
             (!has(self.aggregationLengthV6) || self.aggregationLengthV6 == 128))",
            "serviceSelectors and aggregationLength(V6) are mutually exclusive"
        )]
    );
}

#[test]
fn l2_advertisement_preference_weights_are_between_1_and_100() {
    let ads = crd("l2advertisements.metallb.io");
    let weight = at(schema(&ads, "v1beta1"), &["spec", "preferredNodeSelectors", "[]", "weight"]);
    assert_eq!((weight.minimum, weight.maximum), (Some(1.0), Some(100.0)));
}

#[test]
fn v1beta2_peers_require_my_asn_and_check_ports_asns_and_timers() {
    let peers = crd("bgppeers.metallb.io");
    let spec = at(schema(&peers, "v1beta2"), &["spec"]);
    assert_eq!(required(spec), ["myASN"]);
    assert_eq!(at(spec, &["myASN"]).default, None);
    let port = at(spec, &["peerPort"]);
    assert_eq!((port.minimum, port.maximum), (Some(1.0), Some(16384.0)));
    assert_eq!(port.default.as_ref().map(|d| &d.0), Some(&json!(179)));
    let local = at(spec, &["localASN"]);
    assert_eq!((local.minimum, local.maximum, &local.default), (Some(1.0), Some(4294967295.0), &None));
    let dynamic = at(spec, &["dynamicASN"]).enum_.as_ref().map(|e| e.iter().map(|v| v.0.clone()).collect());
    assert_eq!(dynamic, Some(vec![json!("internal"), json!("external")]));
    let connect = rules(at(spec, &["connectTime"]));
    assert_eq!(connect.len(), 2);
    assert!(connect[0].0.contains("getSeconds() >= 1") && connect[0].0.contains("<= 65535"));
    assert_eq!(connect[1].0, "duration(self).getMilliseconds() % 1000 == 0");
    assert_eq!(rules(at(spec, &["enableGracefulRestart"]))[0].0, "self == oldSelf");
}

#[test]
fn v1beta1_peers_require_both_asns_and_the_address_and_allow_port_zero() {
    let peers = crd("bgppeers.metallb.io");
    let spec = at(schema(&peers, "v1beta1"), &["spec"]);
    assert_eq!(required(spec), ["myASN", "peerASN", "peerAddress"]);
    let port = at(spec, &["peerPort"]);
    assert_eq!((port.minimum, port.maximum, &port.default), (Some(0.0), Some(16384.0), &None));
    let values = at(spec, &["nodeSelectors", "[]", "matchExpressions", "[]", "values"]);
    assert_eq!(values.min_items, Some(1));
}

#[test]
fn bfd_profile_ranges_match_frr() {
    let profiles = crd("bfdprofiles.metallb.io");
    let spec = at(schema(&profiles, "v1beta1"), &["spec"]);
    for (field, min, max) in [
        ("receiveInterval", 10.0, 60000.0),
        ("transmitInterval", 10.0, 60000.0),
        ("echoInterval", 10.0, 60000.0),
        ("detectMultiplier", 2.0, 255.0),
        ("minimumTtl", 1.0, 254.0),
    ] {
        let s = at(spec, &[field]);
        assert_eq!((s.minimum, s.maximum), (Some(min), Some(max)), "{field}");
    }
}

#[test]
fn service_status_identities_are_immutable_and_spec_is_optional() {
    for name in ["servicel2statuses.metallb.io", "servicebgpstatuses.metallb.io"] {
        let crd = crd(name);
        let root = schema(&crd, "v1beta1");
        assert!(!required(root).contains(&"spec"), "{name}");
        for field in ["node", "serviceName", "serviceNamespace"] {
            assert_eq!(rules(at(root, &["status", field])), [("self == oldSelf", "Value is immutable")]);
        }
    }
    let l2 = crd("servicel2statuses.metallb.io");
    let columns: Vec<_> = version(&l2, "v1beta1")
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.json_path.as_str()))
        .collect();
    assert_eq!(
        columns,
        [
            ("Allocated Node", ".status.node"),
            ("Service Name", ".status.serviceName"),
            ("Service Namespace", ".status.serviceNamespace")
        ]
    );
}

#[test]
fn configuration_state_has_no_spec_and_an_enumerated_result() {
    let states = crd("configurationstates.metallb.io");
    let root = schema(&states, "v1beta1");
    assert!(root.properties.as_ref().is_some_and(|p| !p.contains_key("spec")));
    let result = at(root, &["status", "result"]).enum_.as_ref().map(|e| e.len());
    assert_eq!(result, Some(3));
    let conditions = at(root, &["status", "conditions"]);
    assert_eq!(conditions.x_kubernetes_list_type.as_deref(), Some("map"));
    assert_eq!(conditions.x_kubernetes_list_map_keys, Some(vec!["type".to_owned()]));
}

#[test]
fn schemas_carry_no_nullable_and_no_zero_defaults() {
    let yaml = crds::render_yaml();
    assert!(!yaml.contains("nullable"));
    for zero in ["default: false", "default: 0\n", "default: ''", "default: []", "default: {}"] {
        assert!(!yaml.contains(zero), "{zero}");
    }
    assert!(!yaml.contains("format: uint"));
}
