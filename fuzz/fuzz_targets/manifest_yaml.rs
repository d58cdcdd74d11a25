//! The YAML manifest loader and the configuration rules, as `ferrolb validate` and the
//! `dir:` source run them (crates/api/src/files.rs reads each file as UTF-8 and calls
//! `load_str`; crates/config `parse` validates): arbitrary bytes, made UTF-8 lossily so that
//! mutations of the seed manifests stay text. Beyond "never panics": every error is one line
//! (docs/design.md, The command-line contract), and an accepted configuration renders as the
//! JSON `validate -o json` prints, for each scope a component parses with.
#![no_main]

use ferrolb_api::{Resources, load_str};
use ferrolb_config::{Options, Scope, parse};
use libfuzzer_sys::fuzz_target;

fn one_line(what: &str, message: &str) {
    assert!(!message.contains('\n') && !message.contains('\r'), "{what} is not one line: {message:?}");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut resources = Resources::default();
    if let Err(e) = load_str(&text, "fuzz.yaml", &mut resources) {
        return one_line("manifest error", &e.to_string());
    }
    for scope in [Scope::Full, Scope::Controller, Scope::Speaker { node: "node1".into() }] {
        let options = Options { scope, ..Options::default() };
        match parse(&resources, &options) {
            Ok(config) => {
                serde_json::to_string(&config).expect("an accepted configuration renders as JSON");
                for warning in &config.warnings {
                    one_line("warning", warning);
                }
            }
            Err(e) => one_line("configuration error", &e.to_string()),
        }
    }
});
