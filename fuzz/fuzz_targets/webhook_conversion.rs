//! ConversionReview bodies for BGPPeer, handled as the conversion webhook's HTTP handler
//! does (crates/webhook/src/server.rs): `decode_conversion`, then `convert`, serialised.
//! Beyond "never panics": a malformed body is a one-line 400; a failure names the object on
//! one line; a successful review converts every object to the desired version. Round trip:
//! every v1beta1 peer that converts to v1beta2 converts back to the same v1beta1 spec
//! (v1beta2 holds every v1beta1 field; a v1beta1 port 0 means "the default" and comes back
//! unset, crates/api/src/conversion.rs).
#![no_main]

use ferrolb_api::metallb::BGPPeerV1Beta1Spec;
use ferrolb_fuzz::assert_one_line;
use ferrolb_webhook::conversion::{V1BETA1, V1BETA2, convert, convert_object, decode_conversion};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn v1beta1_spec(object: &Value) -> Option<BGPPeerV1Beta1Spec> {
    let spec = object.get("spec").cloned().unwrap_or_else(|| Value::Object(Default::default()));
    let mut spec: BGPPeerV1Beta1Spec = serde_json::from_value(spec).ok()?;
    spec.peer_port = spec.peer_port.filter(|&p| p != 0);
    Some(spec)
}

fuzz_target!(|data: &[u8]| {
    let request = match decode_conversion(data) {
        Ok(request) => request,
        Err(e) => return assert_one_line("the 400 answer", &e.to_string()),
    };
    for object in &request.objects {
        if object.get("apiVersion").and_then(Value::as_str) != Some(V1BETA1) {
            continue;
        }
        let Ok(there) = convert_object(object, V1BETA2) else { continue };
        let back = convert_object(&there, V1BETA1).expect("a converted peer converts back");
        assert_eq!(v1beta1_spec(&back), v1beta1_spec(object), "round trip of {object}");
    }
    let desired = request.desired_api_version.clone();
    let count = request.objects.len();
    let review = convert(request);
    let response = serde_json::to_value(&review).expect("the review serialises");
    let result = &response["response"]["result"];
    if result["status"] == "Success" {
        let converted = response["response"]["convertedObjects"].as_array().map_or(0, Vec::len);
        assert_eq!(converted, count, "{response}");
        for object in response["response"]["convertedObjects"].as_array().into_iter().flatten() {
            assert_eq!(object["apiVersion"].as_str(), Some(desired.as_str()), "{response}");
        }
    } else if let Some(message) = result["message"].as_str() {
        assert_one_line("the failure", message);
    }
});
