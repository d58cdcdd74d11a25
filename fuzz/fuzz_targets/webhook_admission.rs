//! AdmissionReview bodies, handled as the validating webhook's HTTP handler does
//! (crates/webhook/src/server.rs): `decode_review`, then `precheck`, then `validate` against
//! a fixed cluster (the BGP and communities examples), then `respond`. The endpoint is the
//! one for the review's own kind when it names one, else chosen by the body's length, so
//! wrong-endpoint reviews are tried too. Beyond "never panics": a malformed body is a one-line
//! 400; a verdict's denial is one line; the response echoes the request's uid.
#![no_main]

use std::sync::OnceLock;

use ferrolb_api::Resources;
use ferrolb_fuzz::assert_one_line;
use ferrolb_fuzz::webhook::{NAMESPACE, existing};
use ferrolb_webhook::admission::{Kind, Verdict, decode_review, precheck, respond, validate};
use libfuzzer_sys::fuzz_target;

fn cluster() -> &'static Resources {
    static CLUSTER: OnceLock<Resources> = OnceLock::new();
    CLUSTER.get_or_init(existing)
}

fuzz_target!(|data: &[u8]| {
    let review = match decode_review(data) {
        Ok(review) => review,
        Err(e) => return assert_one_line("the 400 answer", &e.to_string()),
    };
    let endpoint = Kind::from_name(&review.request.kind.kind).unwrap_or(Kind::ALL[data.len() % Kind::ALL.len()]);
    let verdict = match precheck(&review, endpoint, NAMESPACE) {
        Some(verdict) => verdict,
        None => validate(&review, endpoint, cluster(), NAMESPACE),
    };
    if let Verdict::Denied { message } = &verdict {
        assert_one_line("the denial", message);
    }
    let response = respond(&review, &verdict);
    assert_eq!(response["response"]["uid"].as_str(), Some(review.request.uid.as_str()), "{response}");
    serde_json::to_vec(&response).expect("the response serialises");
});
