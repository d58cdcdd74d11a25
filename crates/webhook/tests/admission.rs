//! Allow/deny tables of the validating webhook: every kind, valid and invalid, against the
//! whole candidate configuration (docs/compatibility.md §1.14, §9.7).

use ferrolb_api::{Resources, load_str};
use ferrolb_webhook::admission::{Kind, Verdict, decode_review, respond, validate};
use serde_json::{Value, json};

const NS: &str = "metallb-system";

fn existing(yaml: &str) -> Resources {
    let mut resources = Resources::default();
    load_str(yaml, "existing.yaml", &mut resources).expect("test fixture loads");
    resources
}

/// An AdmissionReview body for `object` (`old` for DELETE).
fn body(operation: &str, object: &Value) -> Vec<u8> {
    let api_version = object["apiVersion"].as_str().unwrap();
    let (group, version) = api_version.split_once('/').unwrap();
    let kind = object["kind"].as_str().unwrap();
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or(NS);
    let (new, old) = if operation == "DELETE" { (Value::Null, object.clone()) } else { (object.clone(), Value::Null) };
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "3c3b5a9e-0000-4000-8000-000000000001",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
            "name": name,
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": "tester"},
            "object": new,
            "oldObject": old,
            "dryRun": false,
        }
    }))
    .unwrap()
}

fn object(kind: &str, name: &str, spec: Value) -> Value {
    let version = if kind == "BGPPeer" { "v1beta2" } else { "v1beta1" };
    json!({
        "apiVersion": format!("metallb.io/{version}"),
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "uid": "abc", "resourceVersion": "7"},
        "spec": spec,
    })
}

fn verdict(operation: &str, endpoint: Kind, object: &Value, existing: &Resources) -> Verdict {
    let review = decode_review(&body(operation, object)).expect("a well-formed review");
    validate(&review, endpoint, existing, NS)
}

fn allowed(operation: &str, endpoint: Kind, object: &Value, existing: &Resources) -> Vec<String> {
    match verdict(operation, endpoint, object, existing) {
        Verdict::Allowed { warnings } => warnings,
        Verdict::Denied { message } => panic!("expected allowed, got denied: {message}"),
    }
}

fn denied(operation: &str, endpoint: Kind, object: &Value, existing: &Resources) -> String {
    match verdict(operation, endpoint, object, existing) {
        Verdict::Denied { message } => {
            assert!(!message.contains('\n'), "one line: {message}");
            message
        }
        Verdict::Allowed { warnings } => panic!("expected denied, got allowed (warnings {warnings:?})"),
    }
}

const POOL_A: &str = "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: a, namespace: metallb-system}\nspec: {addresses: [10.0.0.0/24]}\n";
const NODES: &str = "---\napiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {rack: r1}}\n";

// ---- IPAddressPool ---------------------------------------------------------------------------

#[test]
fn a_valid_pool_is_allowed() {
    let pool = object("IPAddressPool", "b", json!({"addresses": ["10.0.1.0/24"]}));
    assert!(allowed("CREATE", Kind::IPAddressPool, &pool, &existing(POOL_A)).is_empty());
}

#[test]
fn a_pool_with_a_bad_address_is_denied_naming_object_and_field() {
    let pool = object("IPAddressPool", "b", json!({"addresses": ["10.0.1.0/33"]}));
    let message = denied("CREATE", Kind::IPAddressPool, &pool, &existing(POOL_A));
    assert!(message.starts_with("IPAddressPool/b: spec.addresses"), "{message}");
}

#[test]
fn a_pool_overlapping_an_existing_pool_is_denied() {
    let pool = object("IPAddressPool", "b", json!({"addresses": ["10.0.0.128/25"]}));
    let message = denied("CREATE", Kind::IPAddressPool, &pool, &existing(POOL_A));
    assert!(message.contains("overlap"), "{message}");
}

#[test]
fn updating_a_pool_replaces_it_instead_of_overlapping_with_its_old_self() {
    let pool = object("IPAddressPool", "a", json!({"addresses": ["10.0.0.0/25"]}));
    allowed("UPDATE", Kind::IPAddressPool, &pool, &existing(POOL_A));
}

#[test]
fn a_pool_narrower_than_an_existing_advertisements_aggregation_length_is_denied() {
    // MetalLB validates pools alone and lets this through (docs/compatibility.md §1.14).
    let yaml = POOL_A.to_owned()
        + "---\napiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: agg, namespace: metallb-system}\nspec: {aggregationLength: 24}\n";
    let pool = object("IPAddressPool", "narrow", json!({"addresses": ["10.9.0.0/28"]}));
    let message = denied("CREATE", Kind::IPAddressPool, &pool, &existing(&yaml));
    assert!(message.starts_with("BGPAdvertisement/agg: spec.aggregationLength"), "{message}");
    assert!(message.contains("narrow"), "{message}");
}

#[test]
fn an_unknown_spec_field_is_denied_with_its_name() {
    let pool = object("IPAddressPool", "b", json!({"addresses": ["10.0.1.0/24"], "autoassign": true}));
    let message = denied("CREATE", Kind::IPAddressPool, &pool, &Resources::default());
    assert!(message.starts_with("IPAddressPool/b: spec"), "{message}");
    assert!(message.contains("autoassign"), "{message}");
}

#[test]
fn an_object_in_another_namespace_is_denied() {
    let mut pool = object("IPAddressPool", "b", json!({"addresses": ["10.0.1.0/24"]}));
    pool["metadata"]["namespace"] = "default".into();
    let message = denied("CREATE", Kind::IPAddressPool, &pool, &Resources::default());
    assert_eq!(
        message,
        "IPAddressPool/b: metadata.namespace: resource must be created in the \"metallb-system\" namespace, not \"default\""
    );
}

#[test]
fn objects_outside_the_namespace_do_not_count_as_existing() {
    let elsewhere = POOL_A.replace("namespace: metallb-system", "namespace: other");
    let pool = object("IPAddressPool", "b", json!({"addresses": ["10.0.0.0/24"]}));
    allowed("CREATE", Kind::IPAddressPool, &pool, &existing(&elsewhere));
}

#[test]
fn a_configuration_broken_before_the_change_does_not_block_unrelated_changes() {
    let yaml = POOL_A.to_owned()
        + "---\napiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: dup, namespace: metallb-system}\nspec: {addresses: [10.0.0.0/26]}\n";
    let pool = object("IPAddressPool", "fresh", json!({"addresses": ["10.7.0.0/24"]}));
    let warnings = allowed("CREATE", Kind::IPAddressPool, &pool, &existing(&yaml));
    assert!(warnings.iter().any(|w| w.contains("already invalid")), "{warnings:?}");
}

#[test]
fn a_change_that_keeps_its_own_object_broken_is_still_denied() {
    let pool = object("IPAddressPool", "a", json!({"addresses": ["not-an-ip"]}));
    let broken = POOL_A.replace("10.0.0.0/24", "not-an-ip");
    denied("UPDATE", Kind::IPAddressPool, &pool, &existing(&broken));
}

// ---- L2Advertisement ---------------------------------------------------------------------------

#[test]
fn a_valid_l2_advertisement_is_allowed() {
    let ad = object("L2Advertisement", "l2", json!({"ipAddressPools": ["a"], "interfaces": ["eth0"]}));
    allowed("CREATE", Kind::L2Advertisement, &ad, &existing(&(POOL_A.to_owned() + NODES)));
}

#[test]
fn an_l2_advertisement_with_a_bad_selector_is_denied() {
    let ad = object(
        "L2Advertisement",
        "l2",
        json!({"nodeSelectors": [{"matchExpressions": [{"key": "rack", "operator": "Near", "values": ["x"]}]}]}),
    );
    let message = denied("CREATE", Kind::L2Advertisement, &ad, &existing(POOL_A));
    assert!(message.starts_with("L2Advertisement/l2: spec.nodeSelectors"), "{message}");
}

// ---- BGPAdvertisement and Community ------------------------------------------------------------

#[test]
fn a_bgp_advertisement_with_a_not_yet_created_community_alias_is_allowed_with_a_warning() {
    let ad = object("BGPAdvertisement", "ad", json!({"communities": ["later-alias"]}));
    let warnings = allowed("CREATE", Kind::BGPAdvertisement, &ad, &existing(POOL_A));
    assert!(warnings.iter().any(|w| w.contains("later-alias")), "{warnings:?}");
}

#[test]
fn a_bgp_advertisement_with_an_invalid_community_value_is_denied() {
    let ad = object("BGPAdvertisement", "ad", json!({"communities": ["65536:1"]}));
    let message = denied("CREATE", Kind::BGPAdvertisement, &ad, &existing(POOL_A));
    assert!(message.starts_with("BGPAdvertisement/ad: spec.communities[0]"), "{message}");
}

#[test]
fn a_bgp_advertisement_using_an_existing_alias_is_allowed() {
    let yaml = POOL_A.to_owned()
        + "---\napiVersion: metallb.io/v1beta1\nkind: Community\nmetadata: {name: c, namespace: metallb-system}\nspec: {communities: [{name: gold, value: '64512:100'}]}\n";
    let ad = object("BGPAdvertisement", "ad", json!({"communities": ["gold"], "localPref": 100}));
    assert!(allowed("CREATE", Kind::BGPAdvertisement, &ad, &existing(&yaml)).is_empty());
}

#[test]
fn an_aggregation_wider_than_the_pool_is_denied() {
    let ad = object("BGPAdvertisement", "ad", json!({"aggregationLength": 16}));
    let message = denied("CREATE", Kind::BGPAdvertisement, &ad, &existing(POOL_A));
    assert!(message.starts_with("BGPAdvertisement/ad: spec.aggregationLength"), "{message}");
}

#[test]
fn a_valid_community_is_allowed_and_an_invalid_value_denied() {
    let good = object("Community", "c", json!({"communities": [{"name": "gold", "value": "64512:100"}]}));
    allowed("CREATE", Kind::Community, &good, &Resources::default());
    let bad = object("Community", "c", json!({"communities": [{"name": "gold", "value": "banana"}]}));
    let message = denied("CREATE", Kind::Community, &bad, &Resources::default());
    assert!(message.starts_with("Community/c: spec.communities"), "{message}");
}

// ---- BGPPeer ------------------------------------------------------------------------------------

fn peer_spec() -> Value {
    json!({"myASN": 64512, "peerASN": 64500, "peerAddress": "172.30.0.1"})
}

#[test]
fn a_valid_peer_is_allowed() {
    allowed("CREATE", Kind::BGPPeer, &object("BGPPeer", "r1", peer_spec()), &existing(NODES));
}

#[test]
fn a_peer_without_an_asn_is_denied() {
    let peer = object("BGPPeer", "r1", json!({"peerASN": 64500, "peerAddress": "172.30.0.1"}));
    let message = denied("CREATE", Kind::BGPPeer, &peer, &Resources::default());
    assert!(message.starts_with("BGPPeer/r1: spec.myASN"), "{message}");
}

#[test]
fn a_peer_referencing_a_not_yet_created_password_secret_is_allowed() {
    let mut spec = peer_spec();
    spec["passwordSecret"] = json!({"name": "bgp-pass"});
    let warnings = allowed("CREATE", Kind::BGPPeer, &object("BGPPeer", "r1", spec), &Resources::default());
    assert!(warnings.iter().any(|w| w.contains("bgp-pass")), "{warnings:?}");
}

#[test]
fn a_peer_referencing_an_existing_secret_of_the_wrong_type_is_denied() {
    let yaml = "apiVersion: v1\nkind: Secret\nmetadata: {name: bgp-pass, namespace: metallb-system}\ntype: Opaque\nstringData: {password: x}\n";
    let mut spec = peer_spec();
    spec["passwordSecret"] = json!({"name": "bgp-pass"});
    let message = denied("CREATE", Kind::BGPPeer, &object("BGPPeer", "r1", spec), &existing(yaml));
    assert!(message.contains("secret type mismatch"), "{message}");
}

#[test]
fn a_peer_referencing_a_not_yet_created_bfd_profile_is_allowed() {
    let mut spec = peer_spec();
    spec["bfdProfile"] = "fast".into();
    let warnings = allowed("CREATE", Kind::BGPPeer, &object("BGPPeer", "r1", spec), &Resources::default());
    assert!(warnings.iter().any(|w| w.contains("fast")), "{warnings:?}");
}

#[test]
fn a_second_peer_with_the_same_session_is_denied() {
    let yaml = "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: r1, namespace: metallb-system}\nspec: {myASN: 64512, peerASN: 64500, peerAddress: 172.30.0.1}\n"
        .to_owned()
        + NODES;
    let message = denied("CREATE", Kind::BGPPeer, &object("BGPPeer", "r2", peer_spec()), &existing(&yaml));
    assert!(message.starts_with("BGPPeer/r2: spec.peerAddress"), "{message}");
}

#[test]
fn a_v1beta1_peer_is_validated_in_its_converted_form() {
    let peer = json!({
        "apiVersion": "metallb.io/v1beta1",
        "kind": "BGPPeer",
        "metadata": {"name": "old", "namespace": NS},
        "spec": {"myASN": 64512, "peerASN": 64500, "peerAddress": "172.30.0.1",
                  "nodeSelectors": [{"matchLabels": {"rack": "r1"}}]},
    });
    allowed("CREATE", Kind::BGPPeer, &peer, &existing(NODES));
}

// ---- BFDProfile ---------------------------------------------------------------------------------

const PEER_USING_FAST: &str = "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: r1, namespace: metallb-system}\nspec: {myASN: 64512, peerASN: 64500, peerAddress: 172.30.0.1, bfdProfile: fast}\n---\napiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: fast, namespace: metallb-system}\nspec: {receiveInterval: 100}\n";

#[test]
fn a_bfd_profile_in_use_cannot_be_deleted() {
    let profile = object("BFDProfile", "fast", json!({"receiveInterval": 100}));
    let message = denied("DELETE", Kind::BFDProfile, &profile, &existing(PEER_USING_FAST));
    assert_eq!(message, "BFDProfile/fast: cannot be deleted: BGPPeer \"r1\" uses it (spec.bfdProfile)");
}

#[test]
fn an_unused_bfd_profile_can_be_deleted() {
    let profile = object("BFDProfile", "slow", json!({}));
    allowed("DELETE", Kind::BFDProfile, &profile, &existing(PEER_USING_FAST));
}

#[test]
fn a_bfd_profile_in_another_namespace_is_denied_on_create() {
    let mut profile = object("BFDProfile", "fast", json!({}));
    profile["metadata"]["namespace"] = "default".into();
    let message = denied("CREATE", Kind::BFDProfile, &profile, &Resources::default());
    assert!(message.starts_with("BFDProfile/fast: metadata.namespace"), "{message}");
}

#[test]
fn a_bfd_profile_out_of_range_is_denied_on_create() {
    let profile = object("BFDProfile", "fast", json!({"detectMultiplier": 1}));
    let message = denied("CREATE", Kind::BFDProfile, &profile, &Resources::default());
    assert!(message.starts_with("BFDProfile/fast: spec.detectMultiplier"), "{message}");
}

// ---- envelope -----------------------------------------------------------------------------------

#[test]
fn an_allowed_response_echoes_the_uid() {
    let pool = object("IPAddressPool", "b", json!({"addresses": ["10.0.1.0/24"]}));
    let review = decode_review(&body("CREATE", &pool)).unwrap();
    let verdict = validate(&review, Kind::IPAddressPool, &Resources::default(), NS);
    let out = respond(&review, &verdict);
    assert_eq!(out["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(out["kind"], "AdmissionReview");
    assert_eq!(out["response"]["uid"], "3c3b5a9e-0000-4000-8000-000000000001");
    assert_eq!(out["response"]["allowed"], true);
}

#[test]
fn a_denied_response_carries_the_message_and_403() {
    let pool = object("IPAddressPool", "b", json!({"addresses": ["nope"]}));
    let review = decode_review(&body("CREATE", &pool)).unwrap();
    let out = respond(&review, &validate(&review, Kind::IPAddressPool, &Resources::default(), NS));
    assert_eq!(out["response"]["allowed"], false);
    assert_eq!(out["response"]["status"]["code"], 403);
    assert!(out["response"]["status"]["message"].as_str().unwrap().starts_with("IPAddressPool/b: spec.addresses"));
}

#[test]
fn an_object_sent_to_another_kinds_endpoint_is_denied() {
    let pool = object("IPAddressPool", "b", json!({"addresses": ["10.0.1.0/24"]}));
    let message = denied("CREATE", Kind::BGPPeer, &pool, &Resources::default());
    assert!(message.contains("this endpoint validates BGPPeer objects"), "{message}");
}

#[test]
fn malformed_bodies_are_bad_requests_not_panics() {
    for bad in
        [&b""[..], b"{", b"[]", b"{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\"}", b"\xff\xfe"]
    {
        let err = decode_review(bad).unwrap_err();
        assert!(!err.0.contains('\n'), "{err}");
    }
}

#[test]
fn status_subresource_writes_are_allowed_whatever_they_carry() {
    let pool = object("IPAddressPool", "a", json!({"addresses": ["nope"]}));
    let mut review: Value = serde_json::from_slice(&body("UPDATE", &pool)).unwrap();
    review["request"]["subResource"] = "status".into();
    let review = decode_review(&serde_json::to_vec(&review).unwrap()).unwrap();
    assert!(validate(&review, Kind::IPAddressPool, &Resources::default(), NS).is_allowed());
}

#[test]
fn deleting_an_object_outside_the_namespace_is_allowed() {
    let mut profile = object("BFDProfile", "fast", json!({}));
    profile["metadata"]["namespace"] = "default".into();
    allowed("DELETE", Kind::BFDProfile, &profile, &existing(PEER_USING_FAST));
}
