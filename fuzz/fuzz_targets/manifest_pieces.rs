//! The `dir:` source's incremental loading (crates/api/src/documents.rs, files.rs
//! `ManifestCache`): a text is cut into pieces at its document markers, and each piece is
//! parsed alone. Arbitrary bytes, made UTF-8 lossily. Beyond "never panics": the pieces put
//! together are the text, and when every piece loads, the whole text loads to the same
//! objects (a piece that fails alone sends the cache to the whole text, so that case needs
//! nothing more).
#![no_main]

use ferrolb_api::documents::split;
use ferrolb_api::{Resources, load_str};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let pieces = split(&text);
    assert_eq!(pieces.concat(), text, "the pieces are the text");
    let mut joined = Resources::default();
    for piece in &pieces {
        if load_str(piece, "fuzz.yaml", &mut joined).is_err() {
            return;
        }
    }
    let mut whole = Resources::default();
    match load_str(&text, "fuzz.yaml", &mut whole) {
        Ok(_) => assert_eq!(whole, joined, "pieces and whole load to different objects"),
        Err(e) => panic!("every piece loads but the whole text does not: {e}"),
    }
});
