//! BGPPeer ConversionReviews: v1beta1 <-> v1beta2, metadata and status carried over.

use ferrolb_api::metallb::BGPPeerV1Beta1Spec;
use ferrolb_webhook::conversion::{V1BETA1, V1BETA2, convert, convert_object, decode_conversion};
use proptest::prelude::*;
use serde_json::{Value, json};

fn review(desired: &str, objects: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {"uid": "conv-1", "desiredAPIVersion": desired, "objects": objects},
    }))
    .unwrap()
}

fn v1beta1_peer() -> Value {
    json!({
        "apiVersion": V1BETA1,
        "kind": "BGPPeer",
        "metadata": {"name": "r1", "namespace": "metallb-system", "uid": "u", "resourceVersion": "42",
                      "labels": {"team": "net"}, "annotations": {"a": "b"}, "generation": 3},
        "spec": {"myASN": 64512, "peerASN": 64500, "peerAddress": "172.30.0.1", "holdTime": "90s",
                  "nodeSelectors": [{"matchLabels": {"rack": "a"},
                                     "matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}]},
        "status": {},
    })
}

fn response(body: &[u8]) -> Value {
    let request = decode_conversion(body).expect("well-formed review");
    serde_json::to_value(convert(request)).unwrap()
}

#[test]
fn v1beta1_converts_to_v1beta2_keeping_metadata_and_status() {
    let out = response(&review(V1BETA2, vec![v1beta1_peer()]));
    assert_eq!(out["kind"], "ConversionReview");
    assert_eq!(out["response"]["uid"], "conv-1");
    assert_eq!(out["response"]["result"]["status"], "Success");
    let peer = &out["response"]["convertedObjects"][0];
    assert_eq!(peer["apiVersion"], V1BETA2);
    assert_eq!(peer["metadata"], v1beta1_peer()["metadata"]);
    assert_eq!(peer["status"], json!({}));
    assert_eq!(peer["spec"]["nodeSelectors"][0]["matchExpressions"][0]["values"], json!(["z1"]));
    assert_eq!(peer["spec"]["holdTime"], "90s");
    assert!(peer["spec"].get("keepaliveTime").is_none(), "unset timers stay unset: {peer}");
}

#[test]
fn conversion_round_trips_v1beta1_to_v1beta2_and_back() {
    let there = convert_object(&v1beta1_peer(), V1BETA2).unwrap();
    let back = convert_object(&there, V1BETA1).unwrap();
    assert_same_peer(&back, &v1beta1_peer());
}

/// Equal objects, specs compared as typed v1beta1 specs (an explicit `false` equals absent).
fn assert_same_peer(a: &Value, b: &Value) {
    let spec = |v: &Value| -> BGPPeerV1Beta1Spec { serde_json::from_value(v["spec"].clone()).unwrap() };
    assert_eq!(spec(a), spec(b));
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("spec");
        v
    };
    assert_eq!(strip(a), strip(b));
}

#[test]
fn objects_already_in_the_desired_version_are_returned_unchanged() {
    assert_eq!(convert_object(&v1beta1_peer(), V1BETA1).unwrap(), v1beta1_peer());
}

#[test]
fn v1beta2_only_fields_are_dropped_going_to_v1beta1() {
    let mut peer = convert_object(&v1beta1_peer(), V1BETA2).unwrap();
    peer["spec"]["vrf"] = "red".into();
    let old = convert_object(&peer, V1BETA1).unwrap();
    assert!(old["spec"].get("vrf").is_none());
}

#[test]
fn an_unconvertible_object_fails_the_review_naming_it() {
    let mut bad = v1beta1_peer();
    bad["metadata"]["name"] = "broken".into();
    bad["spec"]["myASN"] = "not a number".into();
    let out = response(&review(V1BETA2, vec![v1beta1_peer(), bad]));
    assert_eq!(out["response"]["result"]["status"], "Failure");
    let message = out["response"]["result"]["message"].as_str().unwrap();
    assert!(message.starts_with("BGPPeer/broken: spec.myASN"), "{message}");
    assert_eq!(out["response"]["convertedObjects"], json!([]));
}

#[test]
fn other_kinds_and_versions_are_refused() {
    let mut pool = v1beta1_peer();
    pool["kind"] = "IPAddressPool".into();
    assert!(convert_object(&pool, V1BETA2).unwrap_err().contains("only BGPPeer"));
    assert!(convert_object(&v1beta1_peer(), "metallb.io/v2").unwrap_err().contains("cannot convert"));
}

#[test]
fn malformed_conversion_bodies_are_bad_requests() {
    for bad in [&b"not json"[..], b"{}", b"{\"kind\":\"ConversionReview\",\"apiVersion\":\"apiextensions.k8s.io/v1\"}"]
    {
        assert!(decode_conversion(bad).is_err());
    }
}

fn arb_v1beta1_spec() -> impl Strategy<Value = Value> {
    let selector = (
        proptest::collection::btree_map("[a-z]{1,5}", "[a-z0-9]{0,5}", 0..3),
        proptest::collection::vec(("[a-z]{1,5}", "In|NotIn", proptest::collection::vec("[a-z]{1,4}", 1..3)), 0..2),
    )
        .prop_map(|(labels, exprs)| {
            let mut s = serde_json::Map::new();
            if !labels.is_empty() {
                s.insert("matchLabels".into(), json!(labels));
            }
            if !exprs.is_empty() {
                let e: Vec<Value> =
                    exprs.into_iter().map(|(k, o, v)| json!({"key": k, "operator": o, "values": v})).collect();
                s.insert("matchExpressions".into(), Value::Array(e));
            }
            Value::Object(s)
        });
    (
        any::<u32>(),
        any::<u32>(),
        proptest::option::of(1u16..=16384),
        proptest::option::of("[0-9]{1,3}s"),
        proptest::option::of("[0-9]{1,3}s"),
        proptest::collection::vec(selector, 0..3),
        "[a-z]{0,6}",
        any::<bool>(),
    )
        .prop_map(|(my, peer, port, hold, keepalive, selectors, profile, multihop)| {
            let mut spec = json!({"myASN": my, "peerASN": peer, "peerAddress": "10.0.0.1", "ebgpMultiHop": multihop});
            if let Some(p) = port {
                spec["peerPort"] = p.into();
            }
            if let Some(h) = hold {
                spec["holdTime"] = h.into();
            }
            if let Some(k) = keepalive {
                spec["keepaliveTime"] = k.into();
            }
            if !selectors.is_empty() {
                spec["nodeSelectors"] = Value::Array(selectors);
            }
            if !profile.is_empty() {
                spec["bfdProfile"] = profile.into();
            }
            spec
        })
}

proptest! {
    #[test]
    fn every_v1beta1_peer_survives_a_round_trip(spec in arb_v1beta1_spec()) {
        let mut peer = v1beta1_peer();
        peer["spec"] = spec;
        let there = convert_object(&peer, V1BETA2).unwrap();
        prop_assert_eq!(convert_object(&there, V1BETA1).unwrap(), peer);
    }
}
