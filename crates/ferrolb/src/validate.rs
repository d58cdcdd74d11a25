//! `ferrolb validate`: is this configuration acceptable, and what does it mean?

use std::fmt::Write as _;
use std::process::ExitCode;

use ferrolb_api::LoadReport;
use ferrolb_config::{Config, PeerAsn};

use crate::cli::{Output, ValidateArgs};
use crate::{inputs, output};

pub fn run(args: &ValidateArgs) -> ExitCode {
    let (_resources, report, config) = match inputs::load_config(&args.paths, &args.namespace) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    let text = match args.output {
        Output::Json => match serde_json::to_string_pretty(&config) {
            Ok(json) => json + "\n",
            Err(e) => {
                eprintln!("error: cannot render the configuration as JSON: {e}");
                return ExitCode::from(2);
            }
        },
        Output::Text => summary(&config, &report),
    };
    match output::emit(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// A short human summary: one line per pool and peer, and what was skipped.
fn summary(config: &Config, report: &LoadReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "configuration is valid: {} pool(s), {} peer(s), {} BFD profile(s)",
        config.pools.len(),
        config.peers.len(),
        config.bfd_profiles.len()
    );
    let names = |v: Vec<&str>| if v.is_empty() { "-".to_owned() } else { v.join(",") };
    for pool in &config.pools {
        let entries: Vec<&str> = pool.entries.iter().map(|e| e.text.as_str()).collect();
        let _ = writeln!(
            out,
            "  pool {}: {}{}; layer2: {}; bgp: {}",
            pool.name,
            entries.join(", "),
            if pool.auto_assign { "" } else { " (on request only)" },
            names(pool.l2_advertisements.iter().map(|a| a.name.as_str()).collect()),
            names(pool.bgp_advertisements.iter().map(|a| a.name.as_str()).collect()),
        );
    }
    for peer in &config.peers {
        let remote = match peer.peer_asn {
            PeerAsn::Fixed(asn) => asn.to_string(),
            PeerAsn::DynamicInternal => "any (internal)".to_owned(),
            PeerAsn::DynamicExternal => "any (external)".to_owned(),
        };
        let session = if peer.is_ibgp() { "iBGP" } else { "eBGP" };
        let _ = writeln!(
            out,
            "  peer {}: {} port {}, AS {} -> AS {remote} ({session}) from {} node(s)",
            peer.name,
            peer.target(),
            peer.port,
            peer.local_asn.unwrap_or(peer.my_asn),
            peer.nodes.len()
        );
        if let Some(interface) = &peer.interface {
            let _ = writeln!(
                out,
                "    BGP unnumbered on {interface}: IPv6 link-local, the peer's address learnt from its router advertisements, IPv4 routes with an IPv6 next hop (RFC 8950)"
            );
        }
    }
    if !report.ignored.is_empty() {
        let mut kinds = report.ignored.clone();
        kinds.sort();
        kinds.dedup();
        let _ = writeln!(
            out,
            "  skipped {} object(s) of kinds ferrolb does not read: {}",
            report.ignored.len(),
            kinds.join(", ")
        );
    }
    out
}
