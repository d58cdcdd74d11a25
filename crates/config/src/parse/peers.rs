//! BGPPeer (docs/compatibility.md §1.5), validated for ferrolb's native speaker.
//!
//! ferrolb speaks every address family and the FRR-only features natively, so MetalLB's
//! per-mode discard rules do not apply (docs/compatibility.md §1.12, §9.1). What remains are the
//! generic rules and the one a single speaker per node really needs (two peers may not share
//! address or interface, port, source and VRF on one node). Everything MetalLB's FRR mode
//! accepts is accepted here: what a node cannot serve (an unnumbered peer, a VRF) is the
//! speaker's to report on that peer, never a reason to reject the whole configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use base64::Engine;
use ferrolb_api::Object;
use ferrolb_api::metallb::BGPPeerSpec;

use super::{Context, selectors};
use crate::duration;
use crate::error::{ConfigError, kind};
use crate::model::{BfdProfile, Peer, PeerAsn};
use crate::selector::Selector;

pub(super) const KIND: &str = kind::PEER;

/// The longest key the kernel accepts for TCP-MD5 (`TCP_MD5SIG_MAXKEYLEN`).
const MAX_MD5_KEY_LEN: usize = 80;

/// The Secret type MetalLB requires for `passwordSecret`.
const BASIC_AUTH: &str = "kubernetes.io/basic-auth";

pub(super) fn parse(
    ctx: &mut Context<'_>,
    objects: &[&Object<BGPPeerSpec>],
    bfd_profiles: &[BfdProfile],
) -> Result<Vec<Peer>, ConfigError> {
    let mut peers = Vec::new();
    let mut peer_selectors = Vec::new();
    for object in objects {
        ctx.check_namespace(KIND, &object.metadata)?;
        let node_selectors = selectors(KIND, object.name(), "nodeSelectors", &object.spec.node_selectors)?;
        let nodes = ctx.nodes_matching(&node_selectors);
        if !ctx.concerns_this_speaker(&nodes) {
            continue;
        }
        peers.push(parse_one(ctx, object, nodes, bfd_profiles)?);
        peer_selectors.push(node_selectors);
    }
    check_unique_sessions(&peers, &peer_selectors, ctx)?;
    Ok(peers)
}

/// Deprecated fields that are accepted and have no effect.
pub(super) fn warnings(objects: &[Object<BGPPeerSpec>]) -> Vec<String> {
    objects
        .iter()
        .filter(|o| o.spec.disable_mp)
        .map(|o| format!("{KIND}/{}: spec.disableMP is deprecated and has no effect: a session carries only its peer address's family unless dualStackAddressFamily is true", o.name()))
        .collect()
}

fn parse_one(
    ctx: &Context<'_>,
    object: &Object<BGPPeerSpec>,
    nodes: BTreeSet<String>,
    bfd_profiles: &[BfdProfile],
) -> Result<Peer, ConfigError> {
    let name = object.name();
    let spec = &object.spec;
    let err = |field: &str, message: String| ConfigError::new(KIND, name, format!("spec.{field}"), message);

    if spec.my_asn == 0 {
        return Err(err("myASN", "missing local ASN".into()));
    }
    let peer_asn = match (spec.peer_asn, spec.dynamic_asn.as_str()) {
        (0, "") => return Err(err("peerASN", "missing peer ASN and dynamicASN: set exactly one".into())),
        (_, "") => PeerAsn::Fixed(spec.peer_asn),
        (0, "internal") => PeerAsn::DynamicInternal,
        (0, "external") => PeerAsn::DynamicExternal,
        (0, other) => {
            return Err(err("dynamicASN", format!("invalid dynamicASN {other:?}: must be internal or external")));
        }
        (_, _) => return Err(err("dynamicASN", "both peerASN and dynamicASN specified: set exactly one".into())),
    };
    let local_asn = (spec.local_asn != 0).then_some(spec.local_asn);

    let (address, interface): (Option<IpAddr>, Option<String>) =
        match (spec.peer_address.as_str(), spec.interface.as_str()) {
            ("", "") => return Err(err("peerAddress", "peer has no peerAddress or interface specified".into())),
            (_, i) if !i.is_empty() && !spec.peer_address.is_empty() => {
                return Err(err("interface", "peer has both peerAddress and interface specified".into()));
            }
            ("", interface) => (None, Some(interface.to_owned())),
            (text, _) => {
                let address =
                    text.parse().map_err(|_| err("peerAddress", format!("invalid BGPPeer address {text:?}")))?;
                (Some(address), None)
            }
        };
    let source_address = match spec.source_address.as_str() {
        "" => None,
        text => {
            let source: IpAddr =
                text.parse().map_err(|_| err("sourceAddress", format!("invalid source IP {text:?}")))?;
            if let Some(address) = address.filter(|a| a.is_ipv4() != source.is_ipv4()) {
                return Err(err(
                    "sourceAddress",
                    format!("source address {source} and peer address {address} are of different address families"),
                ));
            }
            Some(source)
        }
    };
    let port = match spec.peer_port {
        None => 179,
        Some(p @ 1..=16384) => p,
        Some(p) => return Err(err("peerPort", format!("invalid peer port {p}: must be in 1-16384 range"))),
    };
    let (hold_time, keepalive_time) = parse_timers(spec).map_err(|(f, m)| err(f, m))?;
    let connect_time = match &spec.connect_time {
        None => None,
        Some(text) => {
            let d = duration::parse(text).map_err(|m| err("connectTime", m))?;
            if d.subsec_nanos() != 0 || !(1..=65535).contains(&d.as_secs()) {
                return Err(err(
                    "connectTime",
                    format!("invalid connectTime {text:?}: must be whole seconds in 1-65535 range"),
                ));
            }
            Some(d)
        }
    };
    let router_id = match spec.router_id.as_str() {
        "" => None,
        text => match text.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => Some(v4),
            Ok(IpAddr::V6(_)) => {
                return Err(err(
                    "routerID",
                    format!("invalid router ID {text:?}: a BGP identifier is 32 bits, write it as an IPv4 address"),
                ));
            }
            Err(_) => return Err(err("routerID", format!("invalid router ID {text:?}"))),
        },
    };
    if router_id == Some(Ipv4Addr::UNSPECIFIED) {
        return Err(err("routerID", "invalid router ID 0.0.0.0: RFC 6286 requires a non-zero BGP identifier".into()));
    }
    let password = resolve_password(ctx, object)?;

    let is_ibgp = match peer_asn {
        PeerAsn::Fixed(asn) => asn == local_asn.unwrap_or(spec.my_asn),
        PeerAsn::DynamicInternal => true,
        PeerAsn::DynamicExternal => false,
    };
    if spec.ebgp_multi_hop && is_ibgp {
        return Err(err("ebgpMultiHop", "invalid ebgp-multihop parameter set for an ibgp peer".into()));
    }
    if !spec.bfd_profile.is_empty() && !bfd_profiles.iter().any(|p| p.name == spec.bfd_profile) {
        return Err(err(
            "bfdProfile",
            format!("peer {name} referencing non existing bfd profile {}", spec.bfd_profile),
        ));
    }
    Ok(Peer {
        name: name.to_owned(),
        my_asn: spec.my_asn,
        peer_asn,
        local_asn,
        address,
        interface,
        vrf: (!spec.vrf.is_empty()).then(|| spec.vrf.clone()),
        port,
        source_address,
        hold_time,
        keepalive_time,
        connect_time,
        router_id,
        nodes,
        password,
        bfd_profile: (!spec.bfd_profile.is_empty()).then(|| spec.bfd_profile.clone()),
        graceful_restart: spec.enable_graceful_restart,
        ebgp_multi_hop: spec.ebgp_multi_hop,
        dual_stack_address_family: spec.dual_stack_address_family,
    })
}

/// MetalLB's `parseTimers`: either timer implies the other (keepalive = hold / 3), the hold
/// time is 0 (no keepalives) or at least 3 s, and keepalives come no slower than the hold
/// time. The hold time also has to fit the OPEN message's 16-bit field.
type Timers = (Option<Duration>, Option<Duration>);

fn parse_timers(spec: &BGPPeerSpec) -> Result<Timers, (&'static str, String)> {
    let hold = spec.hold_time.as_deref().map(duration::parse).transpose().map_err(|m| ("holdTime", m))?;
    let keepalive =
        spec.keepalive_time.as_deref().map(duration::parse).transpose().map_err(|m| ("keepaliveTime", m))?;
    let (hold, keepalive) = match (hold, keepalive) {
        (None, None) => return Ok((None, None)),
        (Some(h), None) => (h, h / 3),
        (None, Some(k)) => (k * 3, k),
        (Some(h), Some(k)) => (h, k),
    };
    let hold_secs = hold.as_secs();
    if hold_secs != 0 && hold_secs < 3 {
        return Err(("holdTime", format!("invalid hold time {hold:?}: must be 0 or >=3s")));
    }
    if hold_secs > u16::MAX as u64 {
        return Err(("holdTime", format!("invalid hold time {hold:?}: must be at most 65535s")));
    }
    if keepalive > hold {
        return Err((
            "keepaliveTime",
            format!("invalid keepaliveTime {keepalive:?}, must be lower than holdTime {hold:?}"),
        ));
    }
    Ok((Some(Duration::from_secs(hold_secs)), Some(keepalive)))
}

fn resolve_password(ctx: &Context<'_>, object: &Object<BGPPeerSpec>) -> Result<Option<String>, ConfigError> {
    let name = object.name();
    let spec = &object.spec;
    let secret_ref = spec.password_secret.as_ref().filter(|r| !r.name.is_empty());
    let password = match (spec.password.as_str(), secret_ref) {
        ("", None) => return Ok(None),
        (_, Some(_)) if !spec.password.is_empty() => {
            return Err(ConfigError::new(
                KIND,
                name,
                "spec.passwordSecret",
                "both password and passwordSecret specified: set at most one",
            ));
        }
        (plain, None) => plain.to_owned(),
        (_, Some(reference)) => {
            let err = |message: String| ConfigError::new(KIND, name, "spec.passwordSecret", message);
            let namespace = &ctx.options.namespace;
            if !reference.namespace.is_empty() && reference.namespace != *namespace {
                return Err(err(format!(
                    "password secrets are read from the {namespace:?} namespace only, not {:?}",
                    reference.namespace
                )));
            }
            let secret = ctx
                .resources
                .secrets
                .iter()
                .find(|s| {
                    s.metadata.name == reference.name
                        && s.metadata.namespace.as_deref().is_none_or(|ns| ns == namespace)
                })
                .ok_or_else(|| {
                    err(format!("secret ref not found: Secret {namespace}/{}", reference.name)).into_transient()
                })?;
            if secret.body.type_ != BASIC_AUTH {
                return Err(err(format!(
                    "secret type mismatch: Secret {} has type {:?}, want {BASIC_AUTH:?}",
                    reference.name, secret.body.type_
                )));
            }
            if let Some(plain) = secret.body.string_data.get("password") {
                plain.clone()
            } else if let Some(encoded) = secret.body.data.get("password") {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| err(format!("Secret {}: data.password is not valid base64", reference.name)))?;
                String::from_utf8(bytes)
                    .map_err(|_| err(format!("Secret {}: password is not UTF-8", reference.name)))?
            } else {
                return Err(err(format!("password not specified in the secret {}", reference.name)));
            }
        }
    };
    if password.len() > MAX_MD5_KEY_LEN {
        return Err(ConfigError::new(
            KIND,
            name,
            "spec.password",
            format!("password is {} bytes; TCP-MD5 keys are at most {MAX_MD5_KEY_LEN}", password.len()),
        ));
    }
    Ok(Some(password))
}

/// What identifies a TCP session on a node: the peer's address (or, unnumbered, its
/// interface), its port, the source address, and the VRF (the same address may be peered
/// once per VRF, as MetalLB allows).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SessionKey<'a> {
    address: Option<IpAddr>,
    interface: Option<&'a str>,
    port: u16,
    source: Option<IpAddr>,
    vrf: Option<&'a str>,
}

impl<'a> SessionKey<'a> {
    fn of(peer: &'a Peer) -> Self {
        Self {
            address: peer.address,
            interface: peer.interface.as_deref(),
            port: peer.port,
            source: peer.source_address,
            vrf: peer.vrf.as_deref(),
        }
    }
}

/// One speaker holds one TCP session per (address or interface, port, source, VRF): two
/// peers sharing those on a node would fight over it. Peers are grouped by that key first, so the node check only
/// runs among peers that collide.
///
/// Without Node objects (`ferrolb validate` on configuration files alone) the nodes cannot be
/// compared, only the selectors: two peers surely meet on a node when one of them selects
/// every node or both have a selector in common. Peers on different selectors (the same
/// gateway address in every rack) are accepted, as MetalLB's parser accepts them; with the
/// Node objects (the webhook, the reconcilers) the rule is checked node by node.
fn check_unique_sessions(peers: &[Peer], selectors: &[Vec<Selector>], ctx: &Context<'_>) -> Result<(), ConfigError> {
    let mut by_session: BTreeMap<SessionKey, Vec<(&Peer, &[Selector])>> = BTreeMap::new();
    for (peer, selectors) in peers.iter().zip(selectors) {
        by_session.entry(SessionKey::of(peer)).or_default().push((peer, selectors));
    }
    let no_nodes_known = ctx.resources.nodes.is_empty();
    let surely_meet = |a: &[Selector], b: &[Selector]| {
        let everywhere = |s: &[Selector]| s.is_empty() || s.iter().any(Selector::is_everything);
        everywhere(a) || everywhere(b) || a.iter().any(|s| b.contains(s))
    };
    for group in by_session.values().filter(|g| g.len() > 1) {
        for (i, (later, later_selectors)) in group.iter().enumerate().skip(1) {
            for (earlier, earlier_selectors) in &group[..i] {
                let shared = earlier.nodes.intersection(&later.nodes).next().cloned();
                if shared.is_some() || (no_nodes_known && surely_meet(earlier_selectors, later_selectors)) {
                    let on = shared.map_or_else(|| "the same nodes".to_owned(), |n| format!("node {n:?}"));
                    let field = if later.address.is_some() { "spec.peerAddress" } else { "spec.interface" };
                    return Err(ConfigError::new(
                        KIND,
                        &later.name,
                        field,
                        format!(
                            "peer {} port {} is already configured by BGPPeer {:?} on {on}: one session per address, port, source and VRF",
                            later.target(),
                            later.port,
                            earlier.name
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
