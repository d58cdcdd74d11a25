//! What the fuzz targets and the seed generator (`seeds/make_seeds.rs`) share: the framing a
//! target puts around its input so the fuzzer spends its time past the header checks, the
//! fixed key, cluster and interfaces the targets run against, and a small deterministic
//! membership simulation whose datagrams are both seeds and warm-up.

/// The command-line and API contract (docs/design.md): an error, a denial or a failure message
/// is one line. `what` names it in the panic.
pub fn assert_one_line(what: &str, message: &str) {
    assert!(!message.contains('\n'), "{what} is not one line: {message:?}");
}

pub mod bgp {
    use ferrolb_bgp::{HEADER_LEN, MARKER};

    /// A whole message of type `message_type` around `body`, with the length field
    /// saying the truth (saturated at 65535: longer bodies fail the length check, as they
    /// would on the wire).
    pub fn frame(message_type: u8, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&MARKER);
        let len = u16::try_from(HEADER_LEN + body.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.push(message_type);
        out.extend_from_slice(body);
        out
    }

    /// The `bgp_open` input is an OPEN body whose Optional Parameters Length (octet 9) is
    /// set from the input's length, so the capability parser is always reached.
    pub fn open_body(input: &[u8]) -> Vec<u8> {
        let mut body = input.to_vec();
        if let Some(params) = body.len().checked_sub(10).and_then(|n| u8::try_from(n).ok()) {
            body[9] = params;
        }
        body
    }

    /// The `bgp_update` input layout: `flags (1) | withdrawn length (1) | withdrawn |
    /// attributes length (2) | attributes | NLRI`, each length clamped to what is left.
    /// Returns whether to decode with 4-octet ASNs (flags bit 0) and the UPDATE body with
    /// both 2-octet length fields consistent, so the fuzzer works on the fields themselves.
    pub fn update_body(input: &[u8]) -> (bool, Vec<u8>) {
        let mut rest = input;
        let mut take = |n: usize| {
            let (head, tail) = rest.split_at(n.min(rest.len()));
            rest = tail;
            head
        };
        let four_octet = take(1).first().is_some_and(|f| f & 1 != 0);
        let withdrawn_len = usize::from(take(1).first().copied().unwrap_or(0));
        let withdrawn = take(withdrawn_len);
        let attrs_len = match take(2) {
            [a, b] => usize::from(u16::from_be_bytes([*a, *b])),
            _ => 0,
        };
        let attrs = take(attrs_len);
        let nlri = take(usize::MAX);
        let mut body = Vec::with_capacity(4 + input.len());
        body.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
        body.extend_from_slice(withdrawn);
        body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        body.extend_from_slice(attrs);
        body.extend_from_slice(nlri);
        (four_octet, body)
    }

    /// The inverse of [`update_body`] for the seeds: `None` when the withdrawn routes do not
    /// fit the 1-octet length of the input layout.
    pub fn update_input(four_octet: bool, body: &[u8]) -> Option<Vec<u8>> {
        let withdrawn_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
        let withdrawn = body.get(2..2 + withdrawn_len)?;
        let at = 2 + withdrawn_len;
        let attrs_len = usize::from(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]));
        let attrs = body.get(at + 2..at + 2 + attrs_len)?;
        let nlri = body.get(at + 2 + attrs_len..)?;
        let mut out = vec![u8::from(four_octet), u8::try_from(withdrawn_len).ok()?];
        out.extend_from_slice(withdrawn);
        out.extend_from_slice(&(attrs_len as u16).to_be_bytes());
        out.extend_from_slice(attrs);
        out.extend_from_slice(nlri);
        Some(out)
    }
}

pub mod l2 {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use ferrolb_l2::ethernet::{ETHERTYPE_IPV6, HEADER_LEN};
    use ferrolb_l2::ndp::{ALL_NODES, IPV6_HEADER_LEN, NEXT_HEADER_ICMPV6, icmpv6_checksum};
    use ferrolb_l2::{Exclusion, InterfaceInfo, InterfaceSelection, NdpMessage, NdpPacket, Responder};
    use ferrolb_testkit::interfaces::{ETH0_MAC, eth0};

    pub const ANNOUNCED_V4: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 100);
    pub const ANNOUNCED_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x30, 0, 0, 0, 0, 0, 0x100);

    /// A responder on `eth0` announcing [`ANNOUNCED_V4`] and [`ANNOUNCED_V6`]; with
    /// `link_local` false the interface has no IPv6 link-local address, as on a node
    /// without IPv6.
    pub fn responder(link_local: bool) -> Responder {
        let mut responder = Responder::new(Exclusion::none());
        let interface = if link_local { eth0() } else { InterfaceInfo { link_local: None, ..eth0() } };
        responder.set_interfaces(vec![interface]);
        responder.announce("default/web", IpAddr::V4(ANNOUNCED_V4), InterfaceSelection::All);
        responder.announce("default/web", IpAddr::V6(ANNOUNCED_V6), InterfaceSelection::All);
        responder
    }

    /// The checks of the NDP targets. A decoded packet re-encodes to one that decodes the
    /// same. The responder answers only a solicitation for the address it announces, with an
    /// advertisement from that address carrying our MAC: to the soliciting host with S=1, or
    /// for duplicate address detection (unspecified source) to all-nodes with S=0
    /// (RFC 4861 §7.2.4).
    pub fn check_ndp(frame: &[u8]) {
        let _ = NdpPacket::decode(frame);
        let solicitation = NdpPacket::decode_frame(frame).ok().map(|(_, p)| p);
        if let Ok((eth, packet)) = NdpPacket::decode_frame(frame) {
            let wire = packet.encode_frame(eth.source, eth.destination);
            assert_eq!(NdpPacket::decode_frame(&wire).map(|(_, p)| p), Ok(packet));
        }
        let Some(reply) = responder(true).handle("eth0", frame) else { return };
        let request = solicitation.expect("the responder answers only what decodes");
        let (_, answer) = NdpPacket::decode_frame(&reply).expect("our reply decodes");
        let NdpMessage::Advertisement { solicited, override_flag: false, target, target_lla, .. } = answer.message
        else {
            panic!("the answer is not a non-override advertisement: {answer:?}");
        };
        assert_eq!((answer.source, target, target_lla), (ANNOUNCED_V6, ANNOUNCED_V6, Some(ETH0_MAC)));
        if request.source.is_unspecified() {
            assert_eq!((answer.destination, solicited), (ALL_NODES, false), "DAD is answered to all-nodes");
        } else {
            assert_eq!((answer.destination, solicited), (request.source, true), "answered to the soliciting host");
        }
    }

    /// The checks of the `ra_decode` target: an ICMPv6 message as a raw socket on an
    /// unnumbered BGP interface reads it. A decoded Router Advertisement re-encodes to one
    /// that decodes the same, and the neighbour chooser takes its source only when it is a
    /// link-local address that is not ours.
    pub fn check_router_advert(message: &[u8]) {
        use std::time::Duration;

        use ferrolb_l2::{LinkNeighbour, RouterAdvert};

        let Ok(advert) = RouterAdvert::decode(message) else { return };
        assert_eq!(RouterAdvert::decode(&advert.encode()), Ok(advert));
        // The source is beside the bytes on a real socket; the first 16 bytes stand in for it.
        let source = message.get(..16).map_or(Ipv6Addr::UNSPECIFIED, |b| {
            Ipv6Addr::from(<[u8; 16]>::try_from(b).expect("16 octets"))
        });
        let ours = [Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x11)];
        let mut neighbour = LinkNeighbour::default();
        let taken = neighbour.heard(source, Some(255), &ours, Duration::ZERO);
        if taken.is_ok() {
            assert!(source.is_unicast_link_local() && !ours.contains(&source), "{source} taken");
            assert_eq!(neighbour.address(), Some(source));
        } else {
            assert_eq!(neighbour.address(), None);
        }
    }

    /// Writes the right ICMPv6 checksum (RFC 4443 §2.3) into an Ethernet frame carrying
    /// IPv6 + ICMPv6, computed with the codec's own [`icmpv6_checksum`]; frames too short
    /// or of another kind are left alone. A 16-bit checksum is the one check a mutation
    /// almost never gets right by chance, so without this the `ndp_checksummed` target
    /// would see every mutated frame rejected at the checksum and never reach the option
    /// parser or the responder.
    pub fn fix_ndp_checksum(frame: &mut [u8]) {
        let icmp_at = HEADER_LEN + IPV6_HEADER_LEN;
        if frame.len() < icmp_at + 4 || frame[12..14] != ETHERTYPE_IPV6.to_be_bytes() {
            return;
        }
        let ip = &frame[HEADER_LEN..];
        if ip[6] != NEXT_HEADER_ICMPV6 {
            return;
        }
        let declared = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        let end = icmp_at + declared;
        if declared < 4 || end > frame.len() {
            return;
        }
        let octets = |at: usize| -> [u8; 16] { frame[at..at + 16].try_into().expect("16 octets") };
        let source = Ipv6Addr::from(octets(HEADER_LEN + 8));
        let destination = Ipv6Addr::from(octets(HEADER_LEN + 24));
        frame[icmp_at + 2..icmp_at + 4].fill(0);
        let checksum = icmpv6_checksum(source, destination, &frame[icmp_at..end]);
        frame[icmp_at + 2..icmp_at + 4].copy_from_slice(&checksum.to_be_bytes());
    }
}

pub mod gossip {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::time::{Duration, Instant};

    use ferrolb_gossip::{Boot, Engine, EngineConfig, Key, Output, Timers};

    /// The cluster secret of the sealed targets and seeds.
    pub const SECRET: &[u8] = b"ferrolb fuzz cluster secret";

    /// The node a target plays: the seeds are datagrams the simulation delivered to it, so
    /// they are addressed to its identity.
    pub const TARGET_NODE: usize = 1;

    pub fn key() -> Key {
        Key::derive(SECRET).expect("a non-empty secret")
    }

    pub fn name(node: usize) -> String {
        format!("node-{}", char::from(b'a' + node as u8))
    }

    pub fn addr(node: usize) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::new(127, 0, 0, 1), 17000 + node as u16))
    }

    /// Node `node` as the simulation boots it: everything fixed, so datagrams are the same
    /// on every run (sealed ones included: the nonce is generation, counter and salt).
    pub fn engine(node: usize, key: Option<&Key>) -> Engine {
        let config = EngineConfig { name: name(node), advertise: addr(node), timers: Timers::default() };
        let boot = Boot { generation: 1000 + node as u64, rng_seed: node as u64, nonce_salt: [node as u8 + 1; 16] };
        Engine::new(config, key, boot).expect("a valid fixed configuration")
    }

    /// One datagram the simulation delivered.
    #[derive(Debug, Clone)]
    pub struct Delivery {
        pub from: usize,
        pub to: usize,
        pub bytes: Vec<u8>,
    }

    /// Three nodes join each other, run for `seconds` simulated seconds, then the last one
    /// leaves; every datagram delivered, in order. No loss, 1 ms latency.
    pub fn simulate(key: Option<&Key>, seconds: u64) -> Vec<Delivery> {
        enum Event {
            Deliver(Delivery),
            Fire(usize, ferrolb_gossip::Timer),
        }
        const NODES: usize = 3;
        let base = Instant::now();
        let mut engines: Vec<Engine> = (0..NODES).map(|i| engine(i, key)).collect();
        let mut queue: Vec<(Duration, u64, Event)> = Vec::new();
        let mut seq = 0u64;
        let mut now = Duration::ZERO;
        let mut delivered = Vec::new();
        let mut push = |queue: &mut Vec<(Duration, u64, Event)>, node: usize, now: Duration, outputs: Vec<Output>| {
            for output in outputs {
                seq += 1;
                match output {
                    Output::Send { to, bytes } => {
                        let to = usize::from(to.port() - 17000);
                        let d = Delivery { from: node, to, bytes };
                        queue.push((now + Duration::from_millis(1), seq, Event::Deliver(d)));
                    }
                    Output::SetTimer { after, timer } => queue.push((now + after, seq, Event::Fire(node, timer))),
                    _ => {}
                }
            }
        };
        for (i, engine) in engines.iter_mut().enumerate() {
            let out = engine.join((0..NODES).map(addr));
            push(&mut queue, i, now, out);
        }
        let leave_at = Duration::from_secs(seconds);
        let mut left = false;
        loop {
            queue.sort_by_key(|(at, seq, _)| (*at, *seq));
            if queue.is_empty() {
                break;
            }
            let (at, _, event) = queue.remove(0);
            if !left && at >= leave_at {
                left = true;
                let out = engines[NODES - 1].leave();
                push(&mut queue, NODES - 1, now, out);
                queue.push((at, 0, event));
                continue;
            }
            if at > leave_at + Duration::from_secs(1) {
                break;
            }
            now = at;
            let (node, out) = match event {
                Event::Deliver(d) => {
                    let out = engines[d.to].handle_datagram(addr(d.from), &d.bytes, base + now);
                    let to = d.to;
                    delivered.push(d);
                    (to, out)
                }
                Event::Fire(node, timer) => (node, engines[node].handle_timer(timer, base + now)),
            };
            push(&mut queue, node, now, out);
        }
        delivered
    }
}

pub mod webhook {
    use ferrolb_api::{Resources, load_str};

    /// The objects already in the cluster when an AdmissionReview arrives: the BGP example
    /// (pools, peers, advertisements, a BFD profile, communities) and its nodes.
    pub const EXISTING: &[&str] = &[
        include_str!("../../examples/bgp/config.yaml"),
        include_str!("../../examples/bgp/nodes.yaml"),
        include_str!("../../examples/communities/config.yaml"),
    ];

    pub const NAMESPACE: &str = "metallb-system";

    pub fn existing() -> Resources {
        let mut resources = Resources::default();
        for text in EXISTING {
            load_str(text, "existing.yaml", &mut resources).expect("the examples load");
        }
        resources
    }
}
