//! Writes the seed corpora under `fuzz/corpus/<target>/`: valid messages and frames of every
//! kind, made with the crates' own encoders, and the repository's example manifests, so each
//! fuzz target starts past the header checks. Runs on stable:
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --bin make_seeds
//! ```
//!
//! Every file is derived from fixed values (the membership simulation included), so a rerun
//! writes the same bytes. Each target's directory is replaced whole: the corpus is generated,
//! never edited by hand. `scripts/fuzz.sh` reads it and never writes to it.

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ferrolb_bfd::{ControlPacket, Diagnostic, State as BfdState};
use ferrolb_bgp::notification::UpdateError;
use ferrolb_bgp::{
    AfiSafi, AsPath, AsSegment, Capability, CeaseSubcode, Community, EncodeContext, ErrorCode, LargeCommunity, Message,
    MpNextHop, MpReach, MpUnreach, Notification, Open, Origin, PathAttributes, RawAttribute, RouteRefresh, SegmentType,
    Update,
};
use ferrolb_fuzz::{bgp, gossip, l2};
use ferrolb_l2::ethernet::{ETHERTYPE_IPV6, HEADER_LEN};
use ferrolb_l2::ndp::IPV6_HEADER_LEN;
use ferrolb_l2::{ArpOperation, ArpPacket, MacAddr, NdpMessage, NdpPacket, solicited_node};
use ferrolb_testkit::bgp::{graceful_restart, metallb_open};
use ferrolb_testkit::interfaces::ETH0_MAC;
use ipnet::IpNet;
use serde_json::{Value, json};

/// No seed is larger: libFuzzer's default input limit is 4 KiB unless the corpus has larger
/// files, and small seeds mutate faster.
const MAX_SEED: usize = 64 * 1024;

/// Seeds by target, then by file name.
#[derive(Default)]
struct Corpus(BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>);

impl Corpus {
    fn add(&mut self, target: &'static str, name: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        let (name, bytes) = (name.into(), bytes.into());
        assert!(bytes.len() <= MAX_SEED, "{target}/{name} is {} bytes", bytes.len());
        let previous = self.0.entry(target).or_default().insert(name.clone(), bytes);
        assert!(previous.is_none(), "{target}/{name} written twice");
    }

    fn write(&self, root: &Path) -> std::io::Result<()> {
        for (target, files) in &self.0 {
            let dir = root.join(target);
            if dir.exists() {
                fs::remove_dir_all(&dir)?;
            }
            fs::create_dir_all(&dir)?;
            for (name, bytes) in files {
                fs::write(dir.join(name), bytes)?;
            }
            println!("{target}: {} seeds", files.len());
        }
        Ok(())
    }
}

fn main() -> std::io::Result<()> {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut corpus = Corpus::default();
    bgp_seeds(&mut corpus);
    l2_seeds(&mut corpus);
    bfd_seeds(&mut corpus);
    gossip_seeds(&mut corpus);
    manifest_seeds(&mut corpus, &fuzz.join("../examples"))?;
    numeric_seeds(&mut corpus);
    webhook_seeds(&mut corpus);
    report_seeds(&mut corpus);
    corpus.write(&fuzz.join("corpus"))
}

// ---- BGP ------------------------------------------------------------------------------------

const FOUR: EncodeContext = EncodeContext { four_octet_as: true };
const TWO: EncodeContext = EncodeContext { four_octet_as: false };

fn v4(text: &str) -> IpNet {
    text.parse().expect("a prefix")
}

fn peer_open(four_octet: bool) -> Open {
    let mut caps = vec![
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
        Capability::RouteRefresh,
        Capability::GracefulRestart(graceful_restart(true, true, 120, [true, false])),
        // Enhanced route refresh and FQDN (RFC 7313, draft-walton-bgp-hostname): unknown to
        // the codec, kept verbatim.
        Capability::Unknown { code: 70, value: Vec::new() },
        Capability::Unknown { code: 73, value: b"\x05tor-1\x00".to_vec() },
    ];
    if four_octet {
        caps.push(Capability::FourOctetAs(64500));
    }
    Open::new(64500, 90, Ipv4Addr::new(10, 0, 0, 254), caps)
}

fn announce_attrs() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(vec![64500, 65001])),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        med: Some(10),
        local_pref: Some(100),
        communities: vec![Community::new(65000, 100), Community::NO_EXPORT, Community::GRACEFUL_SHUTDOWN],
        large_communities: vec![LargeCommunity::new(64500, 1, 2)],
        ..PathAttributes::default()
    }
}

/// (name, message, encode with 4-octet ASNs).
fn bgp_messages() -> Vec<(&'static str, Message, bool)> {
    let v6 = |s: &str| -> IpNet { s.parse().expect("a prefix") };
    let mp_reach_v6 = MpReach {
        family: AfiSafi::IPV6_UNICAST,
        next_hop: MpNextHop::V6 {
            global: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            link_local: Some(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
        },
        nlri: vec![v6("2001:db8:100::1/128"), v6("2001:db8:1::/48"), v6("::/0")],
    };
    let update = |attributes: PathAttributes, withdrawn: &[&str], nlri: &[&str]| {
        let v4net = |s: &&str| match v4(s) {
            IpNet::V4(n) => n,
            IpNet::V6(_) => unreachable!(),
        };
        Message::Update(Update {
            withdrawn: withdrawn.iter().map(v4net).collect(),
            attributes,
            nlri: nlri.iter().map(v4net).collect(),
        })
    };
    vec![
        ("open-metallb", Message::Open(metallb_open(64512)), true),
        ("open-peer-all-capabilities", Message::Open(peer_open(true)), true),
        (
            "open-as-trans",
            Message::Open(Open::new(
                4_200_000_000,
                0,
                Ipv4Addr::new(192, 0, 2, 1),
                vec![Capability::FourOctetAs(4_200_000_000), Capability::Multiprotocol(AfiSafi::IPV4_UNICAST)],
            )),
            true,
        ),
        ("open-no-capabilities", Message::Open(Open::new(65001, 180, Ipv4Addr::new(10, 9, 9, 9), vec![])), true),
        ("update-ipv4-announce", update(announce_attrs(), &[], &["203.0.113.1/32", "203.0.113.0/26"]), true),
        ("update-ipv4-withdraw", update(PathAttributes::default(), &["203.0.113.1/32", "10.0.0.0/8"], &[]), true),
        (
            "update-ipv6-mp-reach",
            update(
                PathAttributes { next_hop: None, mp_reach: Some(mp_reach_v6.clone()), ..announce_attrs() },
                &[],
                &[],
            ),
            true,
        ),
        (
            "update-ipv6-mp-unreach",
            update(
                PathAttributes {
                    mp_unreach: Some(MpUnreach {
                        family: AfiSafi::IPV6_UNICAST,
                        withdrawn: vec![v6("2001:db8:100::1/128"), v6("2001:db8::/32")],
                    }),
                    ..PathAttributes::default()
                },
                &[],
                &[],
            ),
            true,
        ),
        (
            "update-ipv4-mp-reach-and-unreach",
            update(
                PathAttributes {
                    next_hop: None,
                    mp_reach: Some(MpReach {
                        family: AfiSafi::IPV4_UNICAST,
                        next_hop: MpNextHop::V4(Ipv4Addr::new(192, 0, 2, 2)),
                        nlri: vec![v4("198.51.100.0/24")],
                    }),
                    mp_unreach: Some(MpUnreach {
                        family: AfiSafi::IPV4_UNICAST,
                        withdrawn: vec![v4("198.51.101.0/24")],
                    }),
                    ..announce_attrs()
                },
                &[],
                &[],
            ),
            true,
        ),
        ("update-end-of-rib-ipv4", Message::Update(Update::end_of_rib(AfiSafi::IPV4_UNICAST)), true),
        ("update-end-of-rib-ipv6", Message::Update(Update::end_of_rib(AfiSafi::IPV6_UNICAST)), true),
        (
            // A 4-octet ASN to a 2-octet peer: AS_TRANS in AS_PATH, the real path in AS4_PATH.
            "update-as4-path-two-octet",
            update(
                PathAttributes { as_path: Some(AsPath::sequence(vec![4_200_000_000, 64500])), ..announce_attrs() },
                &[],
                &["203.0.113.2/32"],
            ),
            false,
        ),
        (
            "update-as-path-sets-and-confederations",
            update(
                PathAttributes {
                    as_path: Some(AsPath {
                        segments: vec![
                            AsSegment { kind: SegmentType::ConfedSequence, asns: vec![65010, 65011] },
                            AsSegment { kind: SegmentType::ConfedSet, asns: vec![65012] },
                            AsSegment { kind: SegmentType::Sequence, asns: vec![64500] },
                            AsSegment { kind: SegmentType::Set, asns: vec![65001, 65002, 4_200_000_001] },
                        ],
                    }),
                    atomic_aggregate: true,
                    ..announce_attrs()
                },
                &[],
                &["203.0.113.0/24"],
            ),
            true,
        ),
        (
            "update-unknown-transitive-attributes",
            update(
                PathAttributes {
                    unknown: vec![
                        RawAttribute { flags: 0xc0, type_code: 16, value: vec![0, 2, 0xfd, 0xe8, 0, 0, 0, 1] },
                        RawAttribute { flags: 0xe0, type_code: 99, value: vec![1, 2, 3] },
                    ],
                    ..announce_attrs()
                },
                &["192.0.2.0/24"],
                &["203.0.113.3/32"],
            ),
            true,
        ),
        (
            "notification-administrative-shutdown",
            Message::Notification(Notification::administrative_shutdown("ferrolb: node drained").expect("short")),
            true,
        ),
        (
            "notification-administrative-reset",
            Message::Notification(Notification::administrative_reset("").expect("short")),
            true,
        ),
        (
            "notification-cease-deconfigured",
            Message::Notification(Notification::new(ErrorCode::Cease(CeaseSubcode::PeerDeconfigured), Vec::new())),
            true,
        ),
        (
            "notification-hold-timer-expired",
            Message::Notification(Notification::new(ErrorCode::HoldTimerExpired(0), Vec::new())),
            true,
        ),
        (
            "notification-update-error-with-data",
            Message::Notification(Notification::new(
                ErrorCode::Update(UpdateError::AttributeLengthError),
                vec![0x40, 0x01, 0x02, 0x00, 0x00],
            )),
            true,
        ),
        ("keepalive", Message::Keepalive, true),
        ("route-refresh-ipv4", Message::RouteRefresh(RouteRefresh::new(AfiSafi::IPV4_UNICAST)), true),
        ("route-refresh-ipv6", Message::RouteRefresh(RouteRefresh::new(AfiSafi::IPV6_UNICAST)), true),
        (
            "route-refresh-enhanced-begin",
            Message::RouteRefresh(RouteRefresh { family: AfiSafi::IPV4_UNICAST, subtype: 1 }),
            true,
        ),
    ]
}

fn encode(message: &Message, four_octet: bool) -> Vec<u8> {
    message.encode(if four_octet { &FOUR } else { &TWO }).expect("a seed encodes")
}

fn bgp_seeds(corpus: &mut Corpus) {
    let messages = bgp_messages();
    for (name, message, four) in &messages {
        let wire = encode(message, *four);
        corpus.add("bgp_decode", *name, wire.clone());
        let (message_type, body) = (wire[18], &wire[19..]);
        let mut typed = vec![message_type];
        typed.extend_from_slice(body);
        corpus.add("bgp_message", *name, typed);
        match message {
            Message::Open(_) => corpus.add("bgp_open", *name, body),
            Message::Update(_) => {
                corpus.add("bgp_update", *name, bgp::update_input(*four, body).expect("withdrawals fit"))
            }
            _ => {}
        }
    }
    // A truncated stream and two messages back to back: the framer's other answers.
    let keepalive = encode(&Message::Keepalive, true);
    corpus.add("bgp_decode", "truncated-header", keepalive[..10].to_vec());

    // Sessions: the peer's side of the byte stream after our OPEN went out.
    let updates: Vec<&Message> =
        messages.iter().filter(|(_, m, four)| matches!(m, Message::Update(_)) && *four).map(|(_, m, _)| m).collect();
    let stream = |open: Open, four: bool, rest: &[&Message]| {
        let mut bytes = encode(&Message::Open(open), four);
        bytes.extend(encode(&Message::Keepalive, four));
        for m in rest {
            bytes.extend(encode(m, four));
        }
        bytes
    };
    let rr = Message::RouteRefresh(RouteRefresh::new(AfiSafi::IPV6_UNICAST));
    let shutdown = Message::Notification(Notification::administrative_shutdown("bye").expect("short"));
    corpus.add("bgp_stream", "established", stream(peer_open(true), true, &[]));
    corpus.add("bgp_stream", "updates", stream(peer_open(true), true, &updates));
    corpus.add("bgp_stream", "route-refresh-keepalive", stream(peer_open(true), true, &[&rr, &Message::Keepalive]));
    corpus.add("bgp_stream", "notification", stream(peer_open(true), true, &[updates[0], &shutdown]));
    let two_octet_update = &messages.iter().find(|(n, _, _)| *n == "update-as4-path-two-octet").expect("seed").1;
    corpus.add("bgp_stream", "two-octet-peer", stream(peer_open(false), false, &[two_octet_update]));
    let mut unacceptable = peer_open(true);
    unacceptable.hold_time = 1;
    corpus.add("bgp_stream", "unacceptable-hold-time", encode(&Message::Open(unacceptable), true));
    corpus.add("bgp_stream", "open-only", encode(&Message::Open(peer_open(true)), true));

    // The structured target reads its input as choices, not as a message: any bytes do.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for (i, len) in [16usize, 64, 256, 512, 1024, 2048, 4096, 8000].into_iter().enumerate() {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        corpus.add("bgp_update_roundtrip", format!("random-{i}-{len}"), bytes);
    }
}

// ---- ARP and NDP ----------------------------------------------------------------------------

const HOST_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x22]);
const HOST_V4: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 1);

fn host_v6() -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0x30, 0, 0, 0, 0, 0, 1)
}

/// Pads a frame to Ethernet's 60-octet minimum, as a NIC delivers short frames.
fn padded(mut frame: Vec<u8>) -> Vec<u8> {
    frame.resize(frame.len().max(60), 0);
    frame
}

fn l2_seeds(corpus: &mut Corpus) {
    let arp = |op, sender_mac, sender_ip, target_mac, target_ip| ArpPacket {
        operation: op,
        sender_mac,
        sender_ip,
        target_mac,
        target_ip,
    };
    let announced = l2::ANNOUNCED_V4;
    let frames = [
        (
            "request-for-announced",
            arp(ArpOperation::Request, HOST_MAC, HOST_V4, MacAddr::ZERO, announced)
                .encode_frame(HOST_MAC, MacAddr::BROADCAST),
        ),
        (
            "request-unicast-to-us",
            arp(ArpOperation::Request, HOST_MAC, HOST_V4, ETH0_MAC, announced).encode_frame(HOST_MAC, ETH0_MAC),
        ),
        (
            "request-for-other-address",
            arp(ArpOperation::Request, HOST_MAC, HOST_V4, MacAddr::ZERO, Ipv4Addr::new(172, 30, 0, 7))
                .encode_frame(HOST_MAC, MacAddr::BROADCAST),
        ),
        (
            // RFC 5227 probe: sender address 0.0.0.0.
            "probe-for-announced",
            arp(ArpOperation::Request, HOST_MAC, Ipv4Addr::UNSPECIFIED, MacAddr::ZERO, announced)
                .encode_frame(HOST_MAC, MacAddr::BROADCAST),
        ),
        ("reply", arp(ArpOperation::Reply, HOST_MAC, HOST_V4, ETH0_MAC, announced).encode_frame(HOST_MAC, ETH0_MAC)),
        (
            "gratuitous-request",
            ArpPacket::gratuitous(ArpOperation::Request, HOST_MAC, announced)
                .encode_frame(HOST_MAC, MacAddr::BROADCAST),
        ),
        (
            "gratuitous-reply",
            ArpPacket::gratuitous(ArpOperation::Reply, HOST_MAC, announced).encode_frame(HOST_MAC, MacAddr::BROADCAST),
        ),
    ];
    for (name, frame) in frames {
        corpus.add("arp_decode", name, frame.clone());
        corpus.add("arp_decode", format!("{name}-padded"), padded(frame));
    }

    let target = l2::ANNOUNCED_V6;
    let ns = |source, destination, target, source_lla| NdpPacket {
        source,
        destination,
        message: NdpMessage::Solicitation { target, source_lla },
    };
    let group = solicited_node(target);
    let group_mac = MacAddr::ipv6_multicast(group);
    let ndp = [
        ("ns-resolve", ns(host_v6(), group, target, Some(HOST_MAC)).encode_frame(HOST_MAC, group_mac)),
        // RFC 4861 §7.2.2: a router's unicast reachability probe may omit the option.
        ("ns-unreachability-probe", ns(host_v6(), target, target, None).encode_frame(HOST_MAC, ETH0_MAC)),
        (
            "ns-duplicate-address-detection",
            ns(Ipv6Addr::UNSPECIFIED, group, target, None).encode_frame(HOST_MAC, group_mac),
        ),
        (
            "ns-link-local-source",
            ns(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x22), group, target, Some(HOST_MAC))
                .encode_frame(HOST_MAC, group_mac),
        ),
        (
            "ns-other-target",
            ns(host_v6(), solicited_node(host_v6()), Ipv6Addr::new(0xfd00, 0x30, 0, 0, 0, 0, 0, 7), Some(HOST_MAC))
                .encode_frame(HOST_MAC, MacAddr::ipv6_multicast(solicited_node(host_v6()))),
        ),
        (
            "na-solicited",
            NdpPacket {
                source: host_v6(),
                destination: Ipv6Addr::new(0xfd00, 0x30, 0, 0, 0, 0, 0, 0x11),
                message: NdpMessage::Advertisement {
                    router: true,
                    solicited: true,
                    override_flag: false,
                    target: host_v6(),
                    target_lla: Some(HOST_MAC),
                },
            }
            .encode_frame(HOST_MAC, ETH0_MAC),
        ),
        (
            "na-unsolicited",
            ferrolb_l2::responder::unsolicited_advertisement(target, HOST_MAC)
                .encode_frame(HOST_MAC, MacAddr::ipv6_multicast(ferrolb_l2::ndp::ALL_NODES)),
        ),
    ];
    for (name, frame) in ndp {
        corpus.add("ndp_decode", name, frame.clone());
        corpus.add("ndp_checksummed", name, frame.clone());
        corpus.add("ndp_decode", format!("{name}-padded"), padded(frame));
    }
    // Options the codec skips (a nonce, RFC 3971 §5.3.2; an MTU, RFC 4861 §4.6.4) before
    // and after the link-layer address: the frame is re-lengthened and re-checksummed.
    let mut with_options = ns(host_v6(), group, target, Some(HOST_MAC)).encode_frame(HOST_MAC, group_mac);
    let nonce = [14u8, 1, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02];
    let mtu = [5u8, 1, 0, 0, 0, 0, 0x05, 0xdc];
    let icmp_at = HEADER_LEN + IPV6_HEADER_LEN;
    with_options.splice(icmp_at + 24..icmp_at + 24, nonce);
    with_options.extend_from_slice(&mtu);
    let payload = (with_options.len() - icmp_at) as u16;
    with_options[HEADER_LEN + 4..HEADER_LEN + 6].copy_from_slice(&payload.to_be_bytes());
    assert_eq!(with_options[12..14], ETHERTYPE_IPV6.to_be_bytes());
    l2::fix_ndp_checksum(&mut with_options);
    assert!(NdpPacket::decode_frame(&with_options).is_ok(), "the options seed decodes");
    corpus.add("ndp_decode", "ns-with-other-options", with_options.clone());
    corpus.add("ndp_checksummed", "ns-with-other-options", with_options);

    // Router advertisements as an unnumbered BGP interface reads them (ICMPv6, no IPv6
    // header): ours (lifetime 0), a router's with its link-layer address and an MTU option,
    // and a solicitation, which the decoder refuses.
    let ours = ferrolb_l2::RouterAdvert::not_a_router(Some(ETH0_MAC)).encode();
    let mut router = ferrolb_l2::RouterAdvert { router_lifetime: 1800, cur_hop_limit: 64, ..ferrolb_l2::RouterAdvert::not_a_router(Some(HOST_MAC)) }.encode();
    router.extend_from_slice(&mtu);
    corpus.add("ra_decode", "ra-ours", ours);
    corpus.add("ra_decode", "ra-router-with-mtu", router);
    corpus.add("ra_decode", "rs", ferrolb_l2::router_advert::router_solicitation(Some(HOST_MAC)));
}

// ---- BFD ------------------------------------------------------------------------------------

fn bfd_seeds(corpus: &mut Corpus) {
    let packet = |state, your, poll, final_| ControlPacket {
        diagnostic: Diagnostic::None,
        state,
        poll,
        final_,
        control_plane_independent: false,
        demand: false,
        detect_multiplier: 3,
        my_discriminator: 0x1000_0001,
        your_discriminator: your,
        desired_min_tx: 300_000,
        required_min_rx: 300_000,
        required_min_echo_rx: 0,
    };
    let seeds = [
        ("down", packet(BfdState::Down, 0, false, false)),
        ("init", packet(BfdState::Init, 1, false, false)),
        ("up", packet(BfdState::Up, 1, false, false)),
        ("up-poll", packet(BfdState::Up, 1, true, false)),
        ("up-final", packet(BfdState::Up, 1, false, true)),
        (
            "admin-down",
            ControlPacket {
                diagnostic: Diagnostic::AdministrativelyDown,
                ..packet(BfdState::AdminDown, 1, false, false)
            },
        ),
        (
            "down-detection-expired-slow",
            ControlPacket {
                diagnostic: Diagnostic::ControlDetectionTimeExpired,
                desired_min_tx: 1_000_000,
                required_min_rx: 1_000_000,
                control_plane_independent: true,
                ..packet(BfdState::Down, 1, false, false)
            },
        ),
    ];
    for (name, p) in seeds {
        let wire = p.encode();
        assert_eq!(ControlPacket::decode(&wire), Ok(p));
        corpus.add("bfd_decode", name, wire.to_vec());
    }
    // RFC 5880 §6.8.6: a payload longer than the Length field is accepted.
    let mut long = packet(BfdState::Up, 1, false, false).encode().to_vec();
    long.extend_from_slice(&[0; 8]);
    corpus.add("bfd_decode", "up-with-trailing-bytes", long);

    // The echo decoders: our payload alone, and whole frames as the echo socket reads them.
    let echo = ferrolb_bfd::EchoPayload { discriminator: 0x1000_0001, sequence: 7 };
    corpus.add("bfd_echo", "payload", echo.encode().to_vec());
    let address = std::net::Ipv4Addr::new(172, 30, 0, 11);
    let frame = ferrolb_bfd::echo::echo_frame([2, 0, 0, 0, 0, 0x11], [2, 0, 0, 0, 0, 1], address, 7, &echo);
    corpus.add("bfd_echo", "frame-sent", frame.clone());
    let mut returned = frame;
    returned[14 + 8] = ferrolb_bfd::echo::RETURNED_TTL;
    returned[14 + 10] = returned[14 + 10].wrapping_add(1);
    corpus.add("bfd_echo", "frame-returned-ttl-254", returned);
}

// ---- membership -----------------------------------------------------------------------------

/// Up to `max` datagrams delivered to the target node, one per distinct (kind, length band),
/// so each kind of message is represented without hundreds of near-duplicates.
fn pick(deliveries: &[gossip::Delivery], sealed: bool, max: usize) -> Vec<Vec<u8>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for d in deliveries.iter().filter(|d| d.to == gossip::TARGET_NODE) {
        // Plain: 'P', then the message kind. Sealed: only the length tells them apart.
        let kind = if sealed { 0 } else { d.bytes.get(1).copied().unwrap_or(0) };
        if seen.insert((kind, d.from, d.bytes.len() / 16)) && out.len() < max {
            out.push(d.bytes.clone());
        }
    }
    out
}

fn gossip_seeds(corpus: &mut Corpus) {
    let plain = gossip::simulate(None, 2);
    for (i, bytes) in pick(&plain, false, 24).into_iter().enumerate() {
        corpus.add("gossip_datagram", format!("plain-{i:02}"), bytes);
    }
    let key = gossip::key();
    let sealed = gossip::simulate(Some(&key), 2);
    for (i, bytes) in pick(&sealed, true, 24).into_iter().enumerate() {
        corpus.add("gossip_sealed", format!("sealed-{i:02}"), bytes);
    }
}

// ---- manifests ------------------------------------------------------------------------------

/// Hand-written documents for what the examples do not show: every kind in one place,
/// v1beta1 peers, a `v1` List, flow-style YAML, anchors.
const MANIFESTS: &[(&str, &str)] = &[
    (
        "every-kind",
        "apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: fast, namespace: metallb-system}\n\
spec: {receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3, echoMode: false, passiveMode: true, minimumTtl: 254}\n---\n\
apiVersion: metallb.io/v1beta1\nkind: BGPPeer\nmetadata: {name: old, namespace: metallb-system}\n\
spec: {myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1, peerPort: 0, holdTime: 1m30s, keepaliveTime: 30s, routerID: 10.0.0.2, bfdProfile: fast, \
nodeSelectors: [{matchLabels: {rack: a}, matchExpressions: [{key: zone, operator: In, values: [z1]}]}]}\n---\n\
apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: new, namespace: metallb-system}\n\
spec: {myASN: 4200000000, dynamicASN: external, peerAddress: 'fd00::1', sourceAddress: 'fd00::2', connectTime: 5s, enableGracefulRestart: true, ebgpMultiHop: true}\n---\n\
apiVersion: metallb.io/v1beta1\nkind: Community\nmetadata: {name: c, namespace: metallb-system}\n\
spec: {communities: [{name: gold, value: '64500:100'}, {name: big, value: 'large:64500:1:2'}]}\n---\n\
apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: metallb-system, labels: {tier: web}}\n\
spec: {addresses: [10.0.0.0/24, '10.0.1.0 - 10.0.1.15', 'fd00:1::/120'], autoAssign: false, avoidBuggyIPs: true, \
serviceAllocation: {priority: 10, namespaces: [web], serviceSelectors: [{matchLabels: {app: a}}]}}\n---\n\
apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: b, namespace: metallb-system}\n\
spec: {ipAddressPoolSelectors: [{matchLabels: {tier: web}}], aggregationLength: 28, aggregationLengthV6: 124, localPref: 50, \
communities: [gold, '65000:1', 'large:1:2:3'], peers: [old], nodeSelectors: [{matchLabels: {rack: a}}]}\n---\n\
apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: l, namespace: metallb-system}\n\
spec: {ipAddressPools: [p], interfaces: [eth0], nodeSelectors: [{matchExpressions: [{key: rack, operator: Exists}]}]}\n---\n\
apiVersion: v1\nkind: Node\nmetadata: {name: node1, labels: {rack: a, zone: z1}}\n\
status: {conditions: [{type: NetworkUnavailable, status: 'False'}]}\n---\n\
apiVersion: v1\nkind: Namespace\nmetadata: {name: web, labels: {team: x}}\n---\n\
apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: metallb-system}\ntype: kubernetes.io/basic-auth\ndata: {password: c2VjcmV0}\n",
    ),
    (
        "list",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: metallb.io/v1beta1\n  kind: IPAddressPool\n  metadata: {name: a, namespace: metallb-system}\n  spec: {addresses: [192.168.1.0/28]}\n\
- apiVersion: metallb.io/v1beta1\n  kind: L2Advertisement\n  metadata: {name: a, namespace: metallb-system}\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: ignored}\n",
    ),
    (
        "anchors-and-comments",
        "# a comment\napiVersion: v1\nkind: List\nitems:\n- apiVersion: metallb.io/v1beta1\n  kind: IPAddressPool\n  metadata: &meta\n    name: anchored\n    namespace: metallb-system\n  spec:\n    addresses:\n      - &range 10.1.0.0 - 10.1.0.255\n\
- apiVersion: metallb.io/v1beta1\n  kind: L2Advertisement\n  metadata: *meta  # the same name, another kind\n  spec:\n    ipAddressPools: [anchored]\n",
    ),
    (
        "json-document",
        "{\"apiVersion\": \"metallb.io/v1beta1\", \"kind\": \"IPAddressPool\", \"metadata\": {\"name\": \"j\", \"namespace\": \"metallb-system\"}, \"spec\": {\"addresses\": [\"10.2.0.0/16\"]}}\n",
    ),
];

fn manifest_seeds(corpus: &mut Corpus, examples: &Path) -> std::io::Result<()> {
    for (name, text) in MANIFESTS {
        let mut resources = ferrolb_api::Resources::default();
        if let Err(e) = ferrolb_api::load_str(text, name, &mut resources) {
            panic!("the {name} seed does not load: {e}");
        }
        if let Err(e) = ferrolb_config::parse(&resources, &ferrolb_config::Options::default()) {
            println!("note: the {name} seed is rejected by the configuration rules: {e}");
        }
        corpus.add("manifest_yaml", format!("{name}.yaml"), *text);
    }
    // Each example directory as one multi-document file (config, nodes, services together).
    let mut dirs = vec![examples.to_path_buf()];
    let mut found = Vec::new();
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<PathBuf> = fs::read_dir(&dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
        entries.sort();
        let yaml: Vec<&PathBuf> = entries.iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
        if !yaml.is_empty() {
            let text: Vec<String> = yaml.iter().map(fs::read_to_string).collect::<Result<_, _>>()?;
            found.push((dir.strip_prefix(examples).expect("below").display().to_string(), text.join("\n---\n")));
        }
        dirs.extend(entries.into_iter().filter(|p| p.is_dir()));
    }
    for (name, text) in found {
        corpus.add("manifest_yaml", format!("example-{}.yaml", name.replace('/', "-")), text);
    }
    Ok(())
}

fn numeric_seeds(corpus: &mut Corpus) {
    let texts = [
        "90s",
        "1m30s",
        "1.5s",
        "300ms",
        "1h2m3.5s",
        "100us",
        "0",
        "2562047h47m16.854775807s",
        "64500:100",
        "65535:65535",
        "large:4294967295:0:7",
        "10.0.0.0/24",
        "0.0.0.0/0",
        "192.168.10.240-192.168.10.250",
        "fd00::1 - fd00::ff",
        "2001:db8::/64",
        "::/0",
    ];
    for (i, text) in texts.iter().enumerate() {
        corpus.add("config_numeric", format!("{i:02}"), *text);
    }
}

// ---- webhook --------------------------------------------------------------------------------

fn admission(operation: &str, object: &Value, sub_resource: Option<&str>) -> Vec<u8> {
    let api_version = object["apiVersion"].as_str().expect("apiVersion");
    let (group, version) = api_version.split_once('/').expect("group/version");
    let kind = object["kind"].as_str().expect("kind");
    let (new, old) = if operation == "DELETE" { (Value::Null, object.clone()) } else { (object.clone(), Value::Null) };
    let mut request = json!({
        "uid": "7f0c5b1e-0000-4000-8000-00000000f022",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
        "name": object["metadata"]["name"],
        "namespace": object["metadata"]["namespace"],
        "operation": operation,
        "userInfo": {"username": "system:admin", "groups": ["system:masters"]},
        "object": new,
        "oldObject": old,
        "dryRun": false,
    });
    if let Some(s) = sub_resource {
        request["subResource"] = s.into();
    }
    serde_json::to_vec_pretty(
        &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}),
    )
    .expect("serialises")
}

fn object(version: &str, kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": format!("metallb.io/{version}"),
        "kind": kind,
        "metadata": {"name": name, "namespace": "metallb-system", "uid": "u-1", "resourceVersion": "12"},
        "spec": spec,
    })
}

// ---- speaker reports ------------------------------------------------------------------------

fn report_seeds(corpus: &mut Corpus) {
    use ferrolb_api::report::{MembershipReport, SessionReport, SpeakerReport};
    let full = SpeakerReport {
        node: "node1".into(),
        updated: "2026-12-05T10:00:00Z".into(),
        config: Some("0123456789abcdef".into()),
        config_error: Some("BGPPeer/r1: spec.peerASN: must be set".into()),
        membership: Some(MembershipReport {
            members: vec!["node1".into(), "node2".into()],
            members_omitted: 1,
            quorum: false,
            fenced: true,
            serving_without_quorum: false,
        }),
        sessions: vec![SessionReport {
            peer: "r1".into(),
            address: "172.30.0.1:179".into(),
            state: "Active".into(),
            established: false,
            since: Some("2026-12-05T09:59:00Z".into()),
            last_error: Some("connection refused".into()),
        }],
        sessions_omitted: 2,
        layer2_claims: 3,
    };
    corpus.add("speaker_report", "full.json", full.encode());
    corpus.add("speaker_report", "minimal.json", br#"{"node":"n"}"#.to_vec());
    corpus.add("speaker_report", "no_node.json", br#"{"sessions":[]}"#.to_vec());
}

fn webhook_seeds(corpus: &mut Corpus) {
    let pool = object("v1beta1", "IPAddressPool", "extra", json!({"addresses": ["192.0.2.0/28", "fd00:9::/124"]}));
    let overlapping = object("v1beta1", "IPAddressPool", "clash", json!({"addresses": ["203.0.113.0/28"]}));
    let peer = object(
        "v1beta2",
        "BGPPeer",
        "tor",
        json!({"myASN": 64512, "peerASN": 64500, "peerAddress": "198.51.100.1", "holdTime": "90s", "bfdProfile": "missing"}),
    );
    let bad_peer = object(
        "v1beta2",
        "BGPPeer",
        "bad",
        json!({"myASN": 64512, "peerASN": 64500, "peerAddress": "198.51.100.9", "holdTime": "1s"}),
    );
    let legacy_peer =
        object("v1beta1", "BGPPeer", "old", json!({"myASN": 64512, "peerASN": 64501, "peerAddress": "198.51.100.2"}));
    let bgp_ad = object(
        "v1beta1",
        "BGPAdvertisement",
        "ad",
        json!({"ipAddressPools": ["public"], "communities": ["no-such-alias", "64500:1"], "localPref": 200}),
    );
    let l2_ad =
        object("v1beta1", "L2Advertisement", "l2", json!({"ipAddressPools": ["internal"], "interfaces": ["eth0"]}));
    let community =
        object("v1beta1", "Community", "aliases", json!({"communities": [{"name": "gold", "value": "70000:1"}]}));
    let bfd = object("v1beta1", "BFDProfile", "fast", json!({"receiveInterval": 100, "detectMultiplier": 3}));
    let mut foreign = pool.clone();
    foreign["metadata"]["namespace"] = "default".into();
    let seeds = [
        ("create-pool", admission("CREATE", &pool, None)),
        ("create-overlapping-pool", admission("CREATE", &overlapping, None)),
        ("update-peer", admission("UPDATE", &peer, None)),
        ("create-invalid-peer", admission("CREATE", &bad_peer, None)),
        ("create-v1beta1-peer", admission("CREATE", &legacy_peer, None)),
        ("create-bgp-advertisement", admission("CREATE", &bgp_ad, None)),
        ("create-l2-advertisement", admission("CREATE", &l2_ad, None)),
        ("create-community", admission("CREATE", &community, None)),
        ("delete-bfd-profile", admission("DELETE", &bfd, None)),
        ("delete-pool", admission("DELETE", &pool, None)),
        ("status-update", admission("UPDATE", &pool, Some("status"))),
        ("create-in-other-namespace", admission("CREATE", &foreign, None)),
    ];
    for (name, body) in seeds {
        let review = ferrolb_webhook::admission::decode_review(&body).expect("the seed is an AdmissionReview");
        let kind = ferrolb_webhook::admission::Kind::from_name(&review.request.kind.kind).expect("a served kind");
        let verdict =
            ferrolb_webhook::admission::validate(&review, kind, &ferrolb_fuzz::webhook::existing(), "metallb-system");
        println!("webhook_admission/{name}: {verdict:?}");
        corpus.add("webhook_admission", format!("{name}.json"), body);
    }

    let legacy = json!({
        "apiVersion": "metallb.io/v1beta1",
        "kind": "BGPPeer",
        "metadata": {"name": "r1", "namespace": "metallb-system", "uid": "u", "resourceVersion": "42",
                     "labels": {"team": "net"}, "generation": 3},
        "spec": {"myASN": 64512, "peerASN": 64500, "peerAddress": "172.30.0.1", "peerPort": 0, "holdTime": "90s",
                 "nodeSelectors": [{"matchLabels": {"rack": "a"},
                                    "matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}]},
        "status": {},
    });
    let current = json!({
        "apiVersion": "metallb.io/v1beta2",
        "kind": "BGPPeer",
        "metadata": {"name": "r2", "namespace": "metallb-system"},
        "spec": {"myASN": 64512, "peerASN": 64500, "peerAddress": "fd00::1", "enableGracefulRestart": true,
                 "nodeSelectors": [{"matchExpressions": [{"key": "rack", "operator": "Exists"}]}], "vrf": "red"},
    });
    let conversion = |desired: &str, objects: Vec<Value>| {
        serde_json::to_vec_pretty(&json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "ConversionReview",
            "request": {"uid": "c0ffee00-0000-4000-8000-000000000001", "desiredAPIVersion": desired, "objects": objects},
        }))
        .expect("serialises")
    };
    let seeds = [
        ("v1beta1-to-v1beta2", conversion("metallb.io/v1beta2", vec![legacy.clone()])),
        ("v1beta2-to-v1beta1", conversion("metallb.io/v1beta1", vec![current.clone()])),
        ("both-to-v1beta2", conversion("metallb.io/v1beta2", vec![legacy.clone(), current.clone()])),
        ("same-version", conversion("metallb.io/v1beta1", vec![legacy])),
        ("unknown-version", conversion("metallb.io/v2", vec![current])),
        ("no-objects", conversion("metallb.io/v1beta2", vec![])),
    ];
    for (name, body) in seeds {
        let request = ferrolb_webhook::conversion::decode_conversion(&body).expect("the seed is a ConversionReview");
        let review = serde_json::to_value(ferrolb_webhook::conversion::convert(request)).expect("serialises");
        println!("webhook_conversion/{name}: {}", review["response"]["result"]);
        corpus.add("webhook_conversion", format!("{name}.json"), body);
    }
}
