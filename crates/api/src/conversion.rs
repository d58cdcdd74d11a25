//! BGPPeer v1beta1 <-> v1beta2 conversion.
//!
//! MetalLB's conversion turns a v1beta1 peer without timers into explicit `0s` timers, which
//! silently disables keepalives. ferrolb keeps unset timers unset (docs/compatibility.md §9.8).

use crate::meta::{LabelSelector, LabelSelectorRequirement};
use crate::metallb::{BGPPeerSpec, BGPPeerV1Beta1Spec, LegacyMatchExpression, LegacyNodeSelector};

/// Converts a v1beta1 spec into the storage version. Lossless: every v1beta1 field exists in
/// v1beta2.
pub fn peer_v1beta1_to_v1beta2(old: &BGPPeerV1Beta1Spec) -> BGPPeerSpec {
    BGPPeerSpec {
        my_asn: old.my_asn,
        peer_asn: old.peer_asn,
        peer_address: old.peer_address.clone(),
        source_address: old.source_address.clone(),
        // v1beta1 allowed port 0 for "the default"; v1beta2 spells that as unset.
        peer_port: old.peer_port.filter(|&p| p != 0),
        hold_time: old.hold_time.clone(),
        keepalive_time: old.keepalive_time.clone(),
        router_id: old.router_id.clone(),
        node_selectors: old.node_selectors.iter().map(legacy_to_label_selector).collect(),
        password: old.password.clone(),
        bfd_profile: old.bfd_profile.clone(),
        ebgp_multi_hop: old.ebgp_multi_hop,
        ..BGPPeerSpec::default()
    }
}

/// Converts a storage-version spec back to v1beta1, for clients still reading the old
/// version. Fields v1beta1 cannot express are dropped, as MetalLB's conversion does.
pub fn peer_v1beta2_to_v1beta1(new: &BGPPeerSpec) -> BGPPeerV1Beta1Spec {
    BGPPeerV1Beta1Spec {
        my_asn: new.my_asn,
        peer_asn: new.peer_asn,
        peer_address: new.peer_address.clone(),
        source_address: new.source_address.clone(),
        peer_port: new.peer_port,
        hold_time: new.hold_time.clone(),
        keepalive_time: new.keepalive_time.clone(),
        router_id: new.router_id.clone(),
        node_selectors: new.node_selectors.iter().map(label_selector_to_legacy).collect(),
        password: new.password.clone(),
        bfd_profile: new.bfd_profile.clone(),
        ebgp_multi_hop: new.ebgp_multi_hop,
    }
}

fn legacy_to_label_selector(old: &LegacyNodeSelector) -> LabelSelector {
    LabelSelector {
        match_labels: (!old.match_labels.is_empty()).then(|| old.match_labels.clone()),
        match_expressions: (!old.match_expressions.is_empty()).then(|| {
            old.match_expressions
                .iter()
                .map(|e| LabelSelectorRequirement {
                    key: e.key.clone(),
                    operator: e.operator.clone(),
                    values: Some(e.values.clone()),
                })
                .collect()
        }),
    }
}

fn label_selector_to_legacy(new: &LabelSelector) -> LegacyNodeSelector {
    LegacyNodeSelector {
        match_labels: new.match_labels.clone().unwrap_or_default(),
        match_expressions: new
            .match_expressions
            .iter()
            .flatten()
            .map(|e| LegacyMatchExpression {
                key: e.key.clone(),
                operator: e.operator.clone(),
                values: e.values.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn v1beta1_peer() -> BGPPeerV1Beta1Spec {
        BGPPeerV1Beta1Spec {
            my_asn: 64512,
            peer_asn: 64500,
            peer_address: "172.30.0.1".into(),
            node_selectors: vec![LegacyNodeSelector {
                match_labels: BTreeMap::from([("rack".into(), "a".into())]),
                match_expressions: vec![LegacyMatchExpression {
                    key: "zone".into(),
                    operator: "In".into(),
                    values: vec!["z1".into()],
                }],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn v1beta1_peer_without_timers_converts_to_unset_timers_not_zero() {
        let new = peer_v1beta1_to_v1beta2(&v1beta1_peer());
        assert_eq!(new.hold_time, None);
        assert_eq!(new.keepalive_time, None);
    }

    #[test]
    fn v1beta1_port_zero_converts_to_the_default_port() {
        let mut old = v1beta1_peer();
        old.peer_port = Some(0);
        assert_eq!(peer_v1beta1_to_v1beta2(&old).peer_port, None);
    }

    #[test]
    fn legacy_node_selectors_become_label_selectors() {
        let new = peer_v1beta1_to_v1beta2(&v1beta1_peer());
        let sel = &new.node_selectors[0];
        assert_eq!(sel.match_labels.as_ref().unwrap()["rack"], "a");
        let expr = &sel.match_expressions.as_ref().unwrap()[0];
        assert_eq!((expr.key.as_str(), expr.operator.as_str()), ("zone", "In"));
    }

    #[test]
    fn conversion_round_trips_every_v1beta1_field() {
        let mut old = v1beta1_peer();
        old.hold_time = Some("90s".into());
        old.keepalive_time = Some("30s".into());
        old.peer_port = Some(1179);
        old.password = "secret".into();
        old.router_id = "10.0.0.1".into();
        old.source_address = "172.30.0.11".into();
        old.bfd_profile = "fast".into();
        old.ebgp_multi_hop = true;
        assert_eq!(peer_v1beta2_to_v1beta1(&peer_v1beta1_to_v1beta2(&old)), old);
    }

    #[test]
    fn empty_legacy_selector_becomes_match_all_selector() {
        let mut old = v1beta1_peer();
        old.node_selectors = vec![LegacyNodeSelector::default()];
        let new = peer_v1beta1_to_v1beta2(&old);
        assert_eq!(new.node_selectors, vec![LabelSelector::default()]);
    }
}
