//! The BGPPeer conversion webhook (`/convert`): `metallb.io/v1beta1` <-> `metallb.io/v1beta2`.
//!
//! Only `spec` changes shape between the versions; metadata and status are carried over
//! untouched, as the API server requires (it rejects a conversion that alters metadata other
//! than labels and annotations). The spec mapping itself is
//! [`ferrolb_api::conversion`], shared with the `dir:` source, so a v1beta1 peer means the
//! same thing whichever way it reaches ferrolb.

use ferrolb_api::conversion::{peer_v1beta1_to_v1beta2, peer_v1beta2_to_v1beta1};
use ferrolb_api::metallb::{BGPPeerSpec, BGPPeerV1Beta1Spec};
use kube::core::Status;
use kube::core::conversion::{ConversionRequest, ConversionResponse, ConversionReview};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::admission::{BadRequest, one_line};

pub const V1BETA1: &str = "metallb.io/v1beta1";
pub const V1BETA2: &str = "metallb.io/v1beta2";

/// Parses a ConversionReview body; anything else is a [`BadRequest`].
pub fn decode_conversion(body: &[u8]) -> Result<ConversionRequest, BadRequest> {
    let review: ConversionReview =
        serde_json::from_slice(body).map_err(|e| BadRequest(format!("not a ConversionReview: {}", one_line(&e))))?;
    if review.types.kind != "ConversionReview" {
        return Err(BadRequest(format!("expected kind ConversionReview, got {:?}", review.types.kind)));
    }
    ConversionRequest::from_review(review).map_err(|_| BadRequest("ConversionReview has no request".into()))
}

/// Converts every object of `request` to its desired version. One object that cannot be
/// converted fails the whole review, naming the object (the API server then fails the read
/// or write that needed it).
pub fn convert(request: ConversionRequest) -> ConversionReview {
    let desired = request.desired_api_version.clone();
    let converted: Result<Vec<Value>, String> =
        request.objects.iter().map(|object| convert_object(object, &desired)).collect();
    let response = ConversionResponse::for_request(request);
    match converted {
        Ok(objects) => response.success(objects),
        Err(message) => response.failure(Status::failure(&message, "ConversionFailed")),
    }
    .into_review()
}

/// Converts one BGPPeer to `desired`; the `Err` is one line, `BGPPeer/name: field: problem`.
pub fn convert_object(object: &Value, desired: &str) -> Result<Value, String> {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("<unnamed>");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let who = format!("{}/{name}", if kind.is_empty() { "<no kind>" } else { kind });
    if kind != "BGPPeer" {
        return Err(format!("{who}: kind: only BGPPeer objects are converted"));
    }
    let from = object.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let mut out = object.clone();
    let spec = object.get("spec").cloned().unwrap_or_else(|| Value::Object(Default::default()));
    let new_spec = match (from, desired) {
        (a, b) if a == b && (a == V1BETA1 || a == V1BETA2) => return Ok(out),
        (V1BETA1, V1BETA2) => encode(&peer_v1beta1_to_v1beta2(&decode::<BGPPeerV1Beta1Spec>(&spec, &who)?), &who)?,
        (V1BETA2, V1BETA1) => encode(&peer_v1beta2_to_v1beta1(&decode::<BGPPeerSpec>(&spec, &who)?), &who)?,
        (from, desired) => {
            return Err(format!("{who}: apiVersion: cannot convert {from:?} to {desired:?}"));
        }
    };
    if let Value::Object(map) = &mut out {
        map.insert("apiVersion".into(), desired.into());
        map.insert("spec".into(), new_spec);
    }
    Ok(out)
}

fn decode<T: DeserializeOwned>(spec: &Value, who: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(spec).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "spec".to_owned() } else { format!("spec.{path}") };
        format!("{who}: {field}: {}", one_line(&e.into_inner()))
    })
}

fn encode<T: Serialize>(spec: &T, who: &str) -> Result<Value, String> {
    serde_json::to_value(spec).map_err(|e| format!("{who}: spec: {}", one_line(&e)))
}
