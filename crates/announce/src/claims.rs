//! What this node must answer ARP/NDP for, from the speaker's decisions, and the changes
//! that take the data plane from what it answers now to that, in the `ferrolb-l2` driver's
//! terms; the runtime applies them.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::{Interfaces, L2Decision, NodeDecisions, ServiceDecision, ServiceKey};
use ferrolb_api::VecSet;
use ferrolb_l2::InterfaceSelection;

/// A service's claim on one of its addresses.
pub type Claim = (ServiceKey, IpAddr);

/// Every claim this node makes, with the interfaces each is answered on.
pub type Claims = BTreeMap<Claim, InterfaceSelection>;

/// The addresses this node wins the Layer 2 election for, with their interfaces.
pub fn wanted(decisions: &NodeDecisions) -> Claims {
    let mut claims = Claims::new();
    for (key, decision) in &decisions.services {
        if let ServiceDecision::Evaluated { ips, l2: Some(L2Decision::Announce { interfaces }), .. } = decision {
            let selection = match interfaces {
                Interfaces::All => InterfaceSelection::All,
                Interfaces::Only(names) => InterfaceSelection::Only(names.clone()),
            };
            for ip in ips {
                claims.insert((key.clone(), *ip), selection.clone());
            }
        }
    }
    claims
}

/// Claims to drop, then claims to make (new ones and ones whose interfaces changed).
/// Withdrawals come first so an address moving between interfaces is never answered twice.
pub fn changes(current: &Claims, wanted: &Claims) -> (Vec<Claim>, Vec<(Claim, InterfaceSelection)>) {
    let withdraw = current
        .iter()
        .filter(|(claim, selection)| wanted.get(*claim) != Some(*selection))
        .map(|(claim, _)| claim.clone())
        .collect();
    let announce = wanted
        .iter()
        .filter(|(claim, selection)| current.get(*claim) != Some(*selection))
        .map(|(claim, selection)| (claim.clone(), selection.clone()))
        .collect();
    (withdraw, announce)
}

/// The services this node announces by Layer 2, with the interfaces the status lists
/// (empty when announcing on all interfaces, as MetalLB's ServiceL2Status does).
pub fn statuses(claims: &Claims) -> BTreeMap<ServiceKey, VecSet<String>> {
    let mut out: BTreeMap<ServiceKey, VecSet<String>> = BTreeMap::new();
    for ((key, _), selection) in claims {
        let entry = out.entry(key.clone()).or_default();
        if let InterfaceSelection::Only(names) = selection {
            entry.extend(names.iter().cloned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ServiceKey {
        ServiceKey::new("default", name)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn unchanged_claims_cause_no_work() {
        let claims: Claims = [((key("a"), ip("10.0.0.1")), InterfaceSelection::All)].into();
        assert_eq!(changes(&claims, &claims), (vec![], vec![]));
    }

    #[test]
    fn lost_elections_are_withdrawn_and_won_ones_announced() {
        let current: Claims = [((key("a"), ip("10.0.0.1")), InterfaceSelection::All)].into();
        let wanted: Claims = [((key("b"), ip("10.0.0.2")), InterfaceSelection::All)].into();
        let (withdraw, announce) = changes(&current, &wanted);
        assert_eq!(withdraw, vec![(key("a"), ip("10.0.0.1"))]);
        assert_eq!(announce, vec![((key("b"), ip("10.0.0.2")), InterfaceSelection::All)]);
    }

    #[test]
    fn an_interface_change_is_a_withdraw_then_an_announce() {
        let current: Claims = [((key("a"), ip("10.0.0.1")), InterfaceSelection::All)].into();
        let only = InterfaceSelection::Only(["eth1".to_owned()].into());
        let wanted: Claims = [((key("a"), ip("10.0.0.1")), only.clone())].into();
        let (withdraw, announce) = changes(&current, &wanted);
        assert_eq!(withdraw, vec![(key("a"), ip("10.0.0.1"))]);
        assert_eq!(announce, vec![((key("a"), ip("10.0.0.1")), only)]);
    }

    #[test]
    fn statuses_list_interfaces_only_when_restricted() {
        let claims: Claims = [
            ((key("a"), ip("10.0.0.1")), InterfaceSelection::All),
            ((key("b"), ip("10.0.0.2")), InterfaceSelection::Only(["eth1".to_owned()].into())),
            ((key("b"), ip("fd00::2")), InterfaceSelection::Only(["eth2".to_owned()].into())),
        ]
        .into();
        let s = statuses(&claims);
        assert!(s[&key("a")].is_empty());
        assert_eq!(s[&key("b")].iter().map(String::as_str).collect::<Vec<_>>(), ["eth1", "eth2"]);
    }
}
