//! ConfigurationState as MetalLB writes it (docs/compatibility.md §1.10): one condition per reconciler,
//! aggregated into Valid / Invalid.

use std::time::{SystemTime, UNIX_EPOCH};

use ferrolb_announce::sessions::PeerNote;

use crate::speaker::unapplied::Unapplied;
use ferrolb_api::meta::Condition;
use ferrolb_api::metallb::ConfigurationStateStatus;
use ferrolb_config::ConfigError;

/// The controller's condition type.
pub const CONTROLLER_CONDITION: &str = "poolReconcilerValid";
/// A speaker's condition type.
pub const SPEAKER_CONDITION: &str = "configReconcilerValid";

/// The ConfigurationState status after a reconcile that accepted the configuration
/// (`None`) or rejected it.
pub fn configuration_state(condition_type: &str, error: Option<&ConfigError>) -> ConfigurationStateStatus {
    let (status, reason, message) = match error {
        None => ("True", "Reconciled", String::new()),
        Some(e) => ("False", "ConfigurationError", format!("configuration error: {e}")),
    };
    ConfigurationStateStatus {
        result: Some(if error.is_some() { "Invalid" } else { "Valid" }.to_owned()),
        error_summary: if error.is_some() { message.clone() } else { String::new() },
        conditions: vec![condition(condition_type, status, reason, message)],
    }
}

/// One condition, stamped now.
fn condition(type_: &str, status: &str, reason: &str, message: String) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        observed_generation: None,
        last_transition_time: rfc3339(SystemTime::now()),
        reason: reason.to_owned(),
        message,
    }
}

/// A speaker's condition about its BGPPeers, present only when there is something to say.
pub const PEERS_CONDITION: &str = "bgpPeersServed";

/// `status` with the speaker's notes on its peers as one more condition: `False` when a
/// peer gets no session, `True` when every peer is served but some with less than asked.
/// The result stays as it was: the configuration is valid, the rest of it is in force.
pub fn with_peer_notes(mut status: ConfigurationStateStatus, notes: &[PeerNote]) -> ConfigurationStateStatus {
    if notes.is_empty() {
        return status;
    }
    let unserved = notes.iter().any(|n| !n.served);
    let message = notes.iter().map(|n| format!("BGPPeer/{}: {}", n.peer, n.message)).collect::<Vec<_>>().join("; ");
    let (state, reason) = if unserved { ("False", "PeerNotServed") } else { ("True", "PeerServedInPart") };
    status.conditions.push(condition(PEERS_CONDITION, state, reason, message));
    status
}

/// `status` with the MetalLB ConfigMaps found and not applied as one more condition
/// ([`crate::speaker::unapplied::CONDITION`], `False`); the result stays as it was.
pub fn with_unapplied(mut status: ConfigurationStateStatus, unapplied: &[Unapplied]) -> ConfigurationStateStatus {
    if unapplied.is_empty() {
        return status;
    }
    let message = unapplied.iter().map(|u| u.message.as_str()).collect::<Vec<_>>().join("; ");
    status.conditions.push(condition(crate::speaker::unapplied::CONDITION, "False", "NotApplied", message));
    status
}

/// `2026-11-22T04:10:00Z`: UTC, whole seconds, as Kubernetes writes timestamps.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_320_245)), "2026-11-22T04:04:05Z");
    }

    #[test]
    fn peer_notes_add_one_condition_and_leave_the_configuration_valid() {
        let note = |peer: &str, served| PeerNote { peer: peer.into(), served, message: format!("{peer} note") };
        let valid = configuration_state(SPEAKER_CONDITION, None);
        assert_eq!(with_peer_notes(valid.clone(), &[]), valid, "nothing to say, nothing added");
        let state = with_peer_notes(valid.clone(), &[note("a", false), note("b", true)]);
        assert_eq!(state.result.as_deref(), Some("Valid"));
        let c = &state.conditions[1];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            (PEERS_CONDITION, "False", "PeerNotServed")
        );
        assert_eq!(c.message, "BGPPeer/a: a note; BGPPeer/b: b note");
        let served = with_peer_notes(valid, &[note("b", true)]);
        assert_eq!(
            (served.conditions[1].status.as_str(), served.conditions[1].reason.as_str()),
            ("True", "PeerServedInPart")
        );
    }

    #[test]
    fn a_rejected_configuration_is_invalid_with_the_error_as_summary() {
        let err = ConfigError::new("IPAddressPool", "p", "spec.addresses", "pool has no prefixes defined");
        let state = configuration_state(CONTROLLER_CONDITION, Some(&err));
        assert_eq!(state.result.as_deref(), Some("Invalid"));
        assert_eq!(
            state.error_summary,
            "configuration error: IPAddressPool/p: spec.addresses: pool has no prefixes defined"
        );
        assert_eq!(
            (state.conditions[0].status.as_str(), state.conditions[0].reason.as_str()),
            ("False", "ConfigurationError")
        );
        let ok = configuration_state(SPEAKER_CONDITION, None);
        assert_eq!((ok.result.as_deref(), ok.conditions[0].type_.as_str()), (Some("Valid"), "configReconcilerValid"));
    }
}
