//! A speaker report as `ferrolb why` reads it (a ConfigMap's `report.json` or a state
//! directory's `speakers/<node>.json`, crates/api/src/report.rs). Beyond "never panics": a
//! refusal is one line naming the report; what decodes, bounded and encoded, decodes to the
//! same report, and bounding keeps it within its caps.
#![no_main]

use ferrolb_api::report::{MAX_MEMBERS, MAX_SESSIONS, SpeakerReport};
use ferrolb_fuzz::assert_one_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = match SpeakerReport::decode(data) {
        Ok(report) => report,
        Err(e) => {
            assert!(e.0.starts_with("speaker report"), "{e}");
            return assert_one_line("the refusal", &e.0);
        }
    };
    let bounded = report.bounded();
    assert!(bounded.sessions.len() <= MAX_SESSIONS);
    assert!(bounded.membership.as_ref().is_none_or(|m| m.members.len() <= MAX_MEMBERS));
    let again = SpeakerReport::decode(bounded.encode().as_bytes()).expect("an encoded report decodes");
    assert_eq!(again, bounded);
});
