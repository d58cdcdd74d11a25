//! The Adj-RIB-Out of one session (RFC 4271 §3.2), sans-IO: the table the speaker wants
//! the peer to hold, what the peer was sent, and the UPDATEs that move the second to the
//! first. Changes go out as soon as they are made, and only the difference (issue 6; MetalLB
//! resends nothing either, but sends one prefix per UPDATE): prefixes with equal attributes
//! share UPDATEs through [`UpdatePacker`]. On (re)establishment the whole table goes out,
//! followed by End-of-RIB for each negotiated family (RFC 4724 §2).
//!
//! The attributes follow how a route originator talks to each kind of peer:
//! ORIGIN IGP; AS_PATH empty towards iBGP and `[our AS]` towards eBGP (RFC 4271 §5.1.2;
//! AS4_PATH is added by the encoder when the peer lacks 4-octet AS support, RFC 6793 §4.2.2);
//! LOCAL_PREF to iBGP peers only (RFC 4271 §5.1.5: it must not go to external peers);
//! COMMUNITIES (RFC 1997) and LARGE_COMMUNITIES (RFC 8092). IPv6 routes are sent only with a
//! real global IPv6 next hop: an IPv4-mapped one (`::ffff:a.b.c.d`, what GoBGP sends over an
//! IPv4 session) makes BIRD treat the routes as withdrawn (tests/lab/README.md, Gotchas).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;

use crate::fsm::Negotiated;
use crate::{
    AfiSafi, AsPath, Community, EncodeContext, LargeCommunity, Message, MpNextHop, Origin, PathAttributes, Update,
    UpdatePacker,
};

/// Why the routes of one family cannot go out on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HoldCause {
    /// The peer did not negotiate the family (no multiprotocol capability for it).
    NotNegotiated,
    /// The session has no next hop of the family: no configured one, none from the Node,
    /// and no usable address of that family on the session's interface (an IPv6 route over
    /// an IPv4 session needs a global IPv6 next hop, an IPv4 route over IPv6 an IPv4 one or
    /// the extended next hop capability).
    NoNextHop,
}

impl HoldCause {
    /// The cause in words, for the session's log and `last_error`.
    pub fn describe(self, family: AfiSafi) -> &'static str {
        match (self, family) {
            (HoldCause::NotNegotiated, AfiSafi::IPV6_UNICAST) => "IPv6 unicast was not negotiated with the peer",
            (HoldCause::NotNegotiated, _) => "IPv4 unicast was not negotiated with the peer",
            (HoldCause::NoNextHop, AfiSafi::IPV6_UNICAST) => {
                "no global IPv6 next hop: the session runs over IPv4, no IPv6 next hop is configured and its interface has no global IPv6 address"
            }
            (HoldCause::NoNextHop, _) => {
                "no IPv4 next hop: the session runs over IPv6, no IPv4 next hop is configured and its interface has no IPv4 address"
            }
        }
    }
}

/// Desired prefixes of one family that a session does not send, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    pub family: AfiSafi,
    pub cause: HoldCause,
    pub prefixes: u64,
}

/// LOCAL_PREF sent to iBGP peers for routes whose advertisement sets none. RFC 4271
/// §5.1.5 requires the attribute on iBGP; 100 is the value routers assume when it is
/// missing, and what MetalLB's FRR mode sends (its native mode sends 0, which makes such
/// routes lose against every other path).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// The attributes the speaker chooses per prefix (from the BGPAdvertisements).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteAttrs {
    /// 0 = not set; see [`DEFAULT_LOCAL_PREF`]. Sent to iBGP peers only.
    pub local_pref: u32,
    pub communities: Vec<u32>,
    /// (global administrator, local data 1, local data 2).
    pub large_communities: Vec<(u32, u32, u32)>,
}

/// The next hops an interface offers a session that runs over it, for the family the session
/// does not run over when none is configured (the Node has no address of it): FRR takes them
/// from the session's interface the same way. IPv4: the interface's first IPv4 address.
/// IPv6: its first global address (link-local, loopback, multicast, unspecified and
/// IPv4-mapped addresses are never a global next hop) and its first link-local one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterfaceNextHops {
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6_global: Option<Ipv6Addr>,
    pub ipv6_link_local: Option<Ipv6Addr>,
}

impl InterfaceNextHops {
    /// From the addresses of the interface, in the kernel's order.
    pub fn from_addresses(addresses: &[IpAddr]) -> Self {
        let mut out = Self::default();
        for address in addresses {
            match *address {
                IpAddr::V4(a) if !a.is_unspecified() && !a.is_loopback() && !a.is_multicast() => {
                    out.ipv4 = out.ipv4.or(Some(a));
                }
                IpAddr::V6(a) if a.is_unicast_link_local() => out.ipv6_link_local = out.ipv6_link_local.or(Some(a)),
                IpAddr::V6(a) if is_global_next_hop(a) => out.ipv6_global = out.ipv6_global.or(Some(a)),
                _ => {}
            }
        }
        out
    }
}

/// An IPv6 address a router can forward to as a global next hop.
fn is_global_next_hop(a: Ipv6Addr) -> bool {
    !a.is_unspecified()
        && !a.is_loopback()
        && !a.is_multicast()
        && !a.is_unicast_link_local()
        && a.to_ipv4_mapped().is_none()
}

/// How this session's UPDATEs are shaped: who the peer is, what was negotiated, and the
/// next hops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPolicy {
    pub local_asn: u32,
    pub internal: bool,
    pub ctx: EncodeContext,
    /// Families negotiated with the peer; routes of other families are held back.
    pub families: Vec<AfiSafi>,
    pub ipv4_next_hop: Option<Ipv4Addr>,
    /// Always [`MpNextHop::V6`] when set.
    pub ipv6_next_hop: Option<MpNextHop>,
    /// With the Extended Next Hop Encoding negotiated (RFC 8950, an unnumbered session):
    /// the IPv6 next hop IPv4 routes go with, in MP_REACH_NLRI; it wins over
    /// `ipv4_next_hop`.
    pub ipv4_extended_next_hop: Option<MpNextHop>,
}

impl ExportPolicy {
    /// NEXT_HOP for IPv4 routes: the session's local address over IPv4, else
    /// `ipv4_next_hop`. IPv6 next hop: the session's local address over IPv6 when it is
    /// global, else `ipv6_next_hop`; with `link_local` added (RFC 2545 §3) when known. A
    /// link-local session address is itself the link-local next hop.
    pub fn new(
        negotiated: &Negotiated,
        ipv4_next_hop: Option<Ipv4Addr>,
        ipv6_next_hop: Option<Ipv6Addr>,
        link_local: Option<Ipv6Addr>,
    ) -> Self {
        let local = negotiated.local.ip();
        let (v4, v6_local) = match local {
            IpAddr::V4(a) => (Some(a), None),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => (Some(v4), None),
                None => (ipv4_next_hop, Some(a)),
            },
        };
        let mut link_local = link_local.filter(|a| a.is_unicast_link_local());
        let global = match v6_local {
            Some(a) if a.is_unicast_link_local() => {
                link_local = link_local.or(Some(a));
                ipv6_next_hop
            }
            Some(a) => Some(a),
            None => ipv6_next_hop,
        };
        let global = global.filter(|&a| is_global_next_hop(a));
        let ipv6_next_hop = match (global, link_local) {
            (Some(global), link_local) => Some(MpNextHop::V6 { global, link_local }),
            // A session over link-local with no global address on its interface (BGP
            // unnumbered): the link-local address alone, 16 octets, as FRR sends it; the peer
            // is on the link, so it can forward to it (RFC 2545 §3 wants a global address
            // first, which does not exist here).
            (None, Some(link_local)) if v6_local.is_some_and(|a| a.is_unicast_link_local()) => {
                Some(MpNextHop::V6 { global: link_local, link_local: None })
            }
            (None, _) => None,
        };
        Self {
            local_asn: negotiated.local_asn,
            internal: negotiated.internal,
            ctx: EncodeContext { four_octet_as: negotiated.four_octet_as },
            families: negotiated.families.clone(),
            ipv4_next_hop: v4,
            ipv4_extended_next_hop: ipv6_next_hop.filter(|_| negotiated.extended_next_hop),
            ipv6_next_hop,
        }
    }

    /// Why routes of `family` cannot be sent on this session, if they cannot.
    pub fn hold_cause(&self, family: AfiSafi) -> Option<HoldCause> {
        if !self.families.contains(&family) {
            return Some(HoldCause::NotNegotiated);
        }
        match family {
            AfiSafi::IPV4_UNICAST if self.ipv4_next_hop.is_none() && self.ipv4_extended_next_hop.is_none() => {
                Some(HoldCause::NoNextHop)
            }
            AfiSafi::IPV6_UNICAST if self.ipv6_next_hop.is_none() => Some(HoldCause::NoNextHop),
            _ => None,
        }
    }

    /// Why routes of `family` cannot be sent on this session, if they cannot, in words.
    pub fn held_back(&self, family: AfiSafi) -> Option<&'static str> {
        self.hold_cause(family).map(|cause| cause.describe(family))
    }

    fn exports(&self, prefix: &IpNet) -> bool {
        self.held_back(family_of(prefix)).is_none()
    }

    /// The path attributes of a route with `attrs` on this session.
    pub fn path_attributes(&self, attrs: &RouteAttrs) -> PathAttributes {
        let mut communities: Vec<Community> = attrs.communities.iter().map(|&c| Community(c)).collect();
        communities.sort_unstable();
        communities.dedup();
        let mut large: Vec<LargeCommunity> =
            attrs.large_communities.iter().map(|&(g, a, b)| LargeCommunity::new(g, a, b)).collect();
        large.sort_unstable();
        large.dedup();
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(if self.internal { AsPath::default() } else { AsPath::sequence([self.local_asn]) }),
            next_hop: self.ipv4_next_hop,
            local_pref: self.internal.then_some(if attrs.local_pref == 0 {
                DEFAULT_LOCAL_PREF
            } else {
                attrs.local_pref
            }),
            communities,
            large_communities: large,
            ..PathAttributes::default()
        }
    }

    fn packer(&self, attrs: &RouteAttrs) -> UpdatePacker {
        let packer = UpdatePacker::new(self.path_attributes(attrs), self.ipv6_next_hop, self.ctx);
        match self.ipv4_extended_next_hop {
            Some(next_hop) => packer.with_ipv4_extended_next_hop(next_hop),
            None => packer,
        }
    }
}

pub fn family_of(prefix: &IpNet) -> AfiSafi {
    match prefix {
        IpNet::V4(_) => AfiSafi::IPV4_UNICAST,
        IpNet::V6(_) => AfiSafi::IPV6_UNICAST,
    }
}

/// One session's Adj-RIB-Out. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct AdjRibOut {
    /// Shared with the owner when it can be ([`Self::set_desired_shared`]).
    desired: Arc<BTreeMap<IpNet, RouteAttrs>>,
    /// What the peer holds from us on the current session; empty while down.
    sent: BTreeMap<IpNet, RouteAttrs>,
    policy: Option<ExportPolicy>,
    /// The last UPDATE that could not be encoded (its prefixes stay pending).
    encode_problem: Option<String>,
    /// Whether the owner has given a table yet. Until then End-of-RIB is held back: sent
    /// with nothing before it, it would tell a graceful-restart peer that the (still
    /// unknown) table is empty, and the peer would flush the routes it kept.
    desired_known: bool,
    /// End-of-RIB is owed for these families, once the table is known.
    eor_owed: Vec<AfiSafi>,
}

impl AdjRibOut {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the desired table; while the session is up, returns the UPDATEs that bring
    /// the peer from what it holds to it: withdrawals first, then announcements grouped
    /// by attributes. Prefixes are taken with host bits cleared.
    pub fn set_desired(&mut self, desired: BTreeMap<IpNet, RouteAttrs>) -> Vec<Vec<u8>> {
        self.set_desired_shared(Arc::new(desired))
    }

    /// [`Self::set_desired`] with a table its owner keeps too: held as it is when no prefix
    /// has host bits set (what the speaker gives), so the session keeps no copy of its own
    /// (at 100,000 routes, 12 MB).
    pub fn set_desired_shared(&mut self, desired: Arc<BTreeMap<IpNet, RouteAttrs>>) -> Vec<Vec<u8>> {
        self.desired = if desired.keys().all(|p| p.trunc() == *p) {
            desired
        } else {
            Arc::new(desired.iter().map(|(p, a)| (p.trunc(), a.clone())).collect())
        };
        self.desired_known = true;
        let mut messages = self.sync();
        messages.extend(self.end_of_rib());
        messages
    }

    /// The session reached Established: the peer holds nothing from us yet, so the whole
    /// table goes out, then End-of-RIB for every negotiated family (RFC 4724 §2) — once the
    /// table is known: before the owner's first [`set_desired`](Self::set_desired), nothing
    /// goes out, and both follow it.
    pub fn session_up(&mut self, policy: ExportPolicy) -> Vec<Vec<u8>> {
        self.sent.clear();
        self.eor_owed = policy.families.clone();
        self.policy = Some(policy);
        if !self.desired_known {
            return Vec::new();
        }
        let mut messages = self.sync();
        messages.extend(self.end_of_rib());
        messages
    }

    /// The End-of-RIB markers owed, if the table is known and the session up.
    fn end_of_rib(&mut self) -> Vec<Vec<u8>> {
        let Some(policy) = &self.policy else { return Vec::new() };
        if !self.desired_known {
            return Vec::new();
        }
        let ctx = policy.ctx;
        std::mem::take(&mut self.eor_owed)
            .into_iter()
            .filter_map(|family| Message::Update(Update::end_of_rib(family)).encode(&ctx).ok())
            .collect()
    }

    /// The session went down: the peer dropped everything we sent (RFC 4271 §9.1.4 ...
    /// it removes routes learned over a closed session).
    pub fn session_down(&mut self) {
        self.sent.clear();
        self.eor_owed.clear();
        self.policy = None;
    }

    /// The peer sent a ROUTE-REFRESH for `family` (RFC 2918 §4): announce again everything
    /// it should hold in that family.
    pub fn refresh(&mut self, family: AfiSafi) -> Vec<Vec<u8>> {
        let Some(policy) = &self.policy else { return Vec::new() };
        let mut groups: BTreeMap<&RouteAttrs, Vec<IpNet>> = BTreeMap::new();
        for (prefix, attrs) in self.sent.iter().filter(|(p, _)| family_of(p) == family) {
            groups.entry(attrs).or_default().push(*prefix);
        }
        let mut messages = Vec::new();
        for (attrs, prefixes) in groups {
            // These encoded once already, so they encode again.
            messages.extend(policy.packer(attrs).announce(&prefixes).unwrap_or_default());
        }
        messages
    }

    pub fn is_up(&self) -> bool {
        self.policy.is_some()
    }

    pub fn desired(&self) -> &BTreeMap<IpNet, RouteAttrs> {
        &self.desired
    }

    /// What the peer holds from us.
    pub fn sent(&self) -> &BTreeMap<IpNet, RouteAttrs> {
        &self.sent
    }

    /// Prefixes announced to the peer (MetalLB's `announced_prefixes_total`).
    pub fn announced(&self) -> usize {
        self.sent.len()
    }

    /// Desired prefixes the peer does not hold as desired (MetalLB's
    /// `pending_prefixes_total`): all of them while the session is down, and any held back.
    pub fn pending(&self) -> usize {
        self.desired.iter().filter(|(p, a)| self.sent.get(p) != Some(a)).count()
    }

    /// Why some desired prefixes are not sent, one line per cause; empty when all are.
    pub fn held_back(&self) -> Vec<String> {
        let mut reasons: Vec<String> = self
            .held_back_families()
            .into_iter()
            .map(|h| format!("{} {} prefixes not sent: {}", h.prefixes, h.family, h.cause.describe(h.family)))
            .collect();
        reasons.extend(self.encode_problem.clone());
        reasons
    }

    /// The families whose desired prefixes the session holds back, with the cause and how
    /// many: what the speaker reports on the peer. Empty while the session is down (nothing
    /// is known of what it will negotiate) and when everything desired can be sent.
    pub fn held_back_families(&self) -> Vec<HeldBack> {
        let Some(policy) = &self.policy else { return Vec::new() };
        [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]
            .into_iter()
            .filter_map(|family| {
                let cause = policy.hold_cause(family)?;
                let prefixes = self.desired.keys().filter(|p| family_of(p) == family).count();
                (prefixes > 0).then_some(HeldBack { family, cause, prefixes: prefixes as u64 })
            })
            .collect()
    }

    fn sync(&mut self) -> Vec<Vec<u8>> {
        let Some(policy) = &self.policy else { return Vec::new() };
        self.encode_problem = None;
        let target = |p: &IpNet| policy.exports(p).then(|| self.desired.get(p)).flatten();

        let withdraw: Vec<IpNet> = self.sent.keys().filter(|p| target(p).is_none()).copied().collect();
        let mut announce: BTreeMap<&RouteAttrs, Vec<IpNet>> = BTreeMap::new();
        for (prefix, attrs) in self.desired.iter() {
            if policy.exports(prefix) && self.sent.get(prefix) != Some(attrs) {
                announce.entry(attrs).or_default().push(*prefix);
            }
        }

        let mut messages = Vec::new();
        let mut newly_sent = Vec::new();
        if !withdraw.is_empty() {
            // Withdrawals carry no attributes; any packer will do.
            match policy.packer(&RouteAttrs::default()).withdraw(&withdraw) {
                Ok(m) => messages.extend(m),
                Err(e) => self.encode_problem = Some(format!("withdrawal not sent: {e}")),
            }
        }
        for (attrs, prefixes) in announce {
            match policy.packer(attrs).announce(&prefixes) {
                Ok(m) => {
                    messages.extend(m);
                    newly_sent.extend(prefixes.into_iter().map(|p| (p, attrs.clone())));
                }
                Err(e) => {
                    self.encode_problem = Some(format!("{} prefixes not sent: {e}", prefixes.len()));
                }
            }
        }
        if self.encode_problem.as_ref().is_none_or(|p| !p.starts_with("withdrawal")) {
            for p in &withdraw {
                self.sent.remove(p);
            }
        }
        self.sent.extend(newly_sent);
        messages
    }
}
