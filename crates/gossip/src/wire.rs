//! The membership messages inside a (sealed or plain) datagram, and their byte layout.
//!
//! Every message names its sender in full (name, address, boot generation, incarnation), so
//! any datagram from a member is also its latest word about itself: a refutation travels on
//! every ping, ack and gossip it sends. After the kind-specific body comes a list of
//! membership updates (SWIM's piggybacked dissemination, Das et al. 2002 §4.1).
//!
//! ```text
//! message = kind (1) | sender | body | update count (1) | update*
//! sender  = name | address | generation (8) | incarnation (8)
//! update  = state (1) | name | address | generation (8) | incarnation (8) | [accuser name]
//! name    = length (1, 1..=253) | UTF-8 bytes
//! address = family (1: 4 or 6) | IP (4 or 16) | port (2)
//! Ping    = seq (4) | target generation (8)    Ack, Nack = seq (4)
//! PingReq = seq (4) | target name | target address | target generation (8)
//! Join, Gossip = (no body)
//! ```
//!
//! All integers are big-endian. Decoding accepts exactly this layout: no trailing bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use thiserror::Error;

/// The longest member name: a Kubernetes node name (a DNS subdomain).
pub const MAX_NAME: usize = 253;

/// A member as it describes itself in the header of every message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    pub addr: SocketAddr,
    /// Grows with every process start: a newer boot replaces an older one.
    pub generation: u64,
    /// Grows when the member refutes a suspicion about itself (SWIM §4.2).
    pub incarnation: u64,
}

/// What an update says about a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Alive,
    /// Suspected by `accuser` (the member whose probe failed); each distinct accuser is an
    /// independent confirmation (Lifeguard, Dadgar et al. 2018 §IV-B).
    Suspect {
        accuser: String,
    },
    Dead,
    /// Left on purpose (graceful shutdown).
    Left,
}

/// One piggybacked membership update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub peer: Peer,
    pub status: Status,
}

/// What a message asks of its receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A direct probe of the receiver; only its `target_generation` acknowledges it.
    Ping {
        seq: u32,
        target_generation: u64,
    },
    Ack {
        seq: u32,
    },
    /// Asks the receiver to probe `target` on the sender's behalf (SWIM §3.1).
    PingReq {
        seq: u32,
        target: Peer,
    },
    /// The relay of a [`Body::PingReq`] got no ack in time: the asker's own link works.
    Nack {
        seq: u32,
    },
    /// Asks for the receiver's whole member table.
    Join,
    /// Updates only.
    Gossip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub sender: Peer,
    pub body: Body,
    pub updates: Vec<Update>,
}

/// Why bytes are not a membership message.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("message ends early")]
    Truncated,
    #[error("unknown message kind {0}")]
    Kind(u8),
    #[error("unknown member state {0}")]
    State(u8),
    #[error("unknown address family {0}")]
    Family(u8),
    #[error("member name is empty, too long or not UTF-8")]
    Name,
    #[error("{0} bytes after the end of the message")]
    Trailing(usize),
}

const PING: u8 = 1;
const ACK: u8 = 2;
const PING_REQ: u8 = 3;
const NACK: u8 = 4;
const JOIN: u8 = 5;
const GOSSIP: u8 = 6;

const ALIVE: u8 = 0;
const SUSPECT: u8 = 1;
const DEAD: u8 = 2;
const LEFT: u8 = 3;

impl Message {
    /// The encoded message, with as many of `updates` as fit in `max_len` bytes (in order;
    /// at most 255). Returns the bytes and how many updates went in. The header alone always
    /// goes in, even past `max_len`.
    pub fn encode(sender: &Peer, body: &Body, updates: &[&Update], max_len: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::with_capacity(max_len.min(2048));
        match body {
            Body::Ping { .. } => out.push(PING),
            Body::Ack { .. } => out.push(ACK),
            Body::PingReq { .. } => out.push(PING_REQ),
            Body::Nack { .. } => out.push(NACK),
            Body::Join => out.push(JOIN),
            Body::Gossip => out.push(GOSSIP),
        }
        put_peer(&mut out, sender);
        match body {
            Body::Ping { seq, target_generation } => {
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(&target_generation.to_be_bytes());
            }
            Body::Ack { seq } | Body::Nack { seq } => out.extend_from_slice(&seq.to_be_bytes()),
            Body::PingReq { seq, target } => {
                out.extend_from_slice(&seq.to_be_bytes());
                put_peer_without_incarnation(&mut out, target);
            }
            Body::Join | Body::Gossip => {}
        }
        let count_at = out.len();
        out.push(0);
        let mut count = 0;
        for update in updates.iter().take(usize::from(u8::MAX)) {
            let before = out.len();
            put_update(&mut out, update);
            if out.len() > max_len {
                out.truncate(before);
                break;
            }
            count += 1;
        }
        out[count_at] = count as u8;
        (out, count)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(bytes);
        let kind = r.u8()?;
        let sender = r.peer()?;
        let body = match kind {
            PING => Body::Ping { seq: r.u32()?, target_generation: r.u64()? },
            ACK => Body::Ack { seq: r.u32()? },
            PING_REQ => Body::PingReq { seq: r.u32()?, target: r.peer_without_incarnation()? },
            NACK => Body::Nack { seq: r.u32()? },
            JOIN => Body::Join,
            GOSSIP => Body::Gossip,
            other => return Err(DecodeError::Kind(other)),
        };
        let count = r.u8()?;
        let mut updates = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            updates.push(r.update()?);
        }
        if !r.0.is_empty() {
            return Err(DecodeError::Trailing(r.0.len()));
        }
        Ok(Self { sender, body, updates })
    }
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    let bytes = &name.as_bytes()[..name.len().min(MAX_NAME)];
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn put_addr(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(6);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

fn put_peer_without_incarnation(out: &mut Vec<u8>, peer: &Peer) {
    put_name(out, &peer.name);
    put_addr(out, &peer.addr);
    out.extend_from_slice(&peer.generation.to_be_bytes());
}

fn put_peer(out: &mut Vec<u8>, peer: &Peer) {
    put_peer_without_incarnation(out, peer);
    out.extend_from_slice(&peer.incarnation.to_be_bytes());
}

fn put_update(out: &mut Vec<u8>, update: &Update) {
    out.push(match update.status {
        Status::Alive => ALIVE,
        Status::Suspect { .. } => SUSPECT,
        Status::Dead => DEAD,
        Status::Left => LEFT,
    });
    put_peer(out, &update.peer);
    if let Status::Suspect { accuser } = &update.status {
        put_name(out, accuser);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn name(&mut self) -> Result<String, DecodeError> {
        let len = usize::from(self.u8()?);
        if len == 0 || len > MAX_NAME {
            return Err(DecodeError::Name);
        }
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| DecodeError::Name)
    }

    fn addr(&mut self) -> Result<SocketAddr, DecodeError> {
        let ip = match self.u8()? {
            4 => IpAddr::V4(Ipv4Addr::from(self.array::<4>()?)),
            6 => IpAddr::V6(Ipv6Addr::from(self.array::<16>()?)),
            other => return Err(DecodeError::Family(other)),
        };
        Ok(SocketAddr::new(ip, u16::from_be_bytes(self.array()?)))
    }

    fn peer_without_incarnation(&mut self) -> Result<Peer, DecodeError> {
        Ok(Peer { name: self.name()?, addr: self.addr()?, generation: self.u64()?, incarnation: 0 })
    }

    fn peer(&mut self) -> Result<Peer, DecodeError> {
        let mut peer = self.peer_without_incarnation()?;
        peer.incarnation = self.u64()?;
        Ok(peer)
    }

    fn update(&mut self) -> Result<Update, DecodeError> {
        let state = self.u8()?;
        let peer = self.peer()?;
        let status = match state {
            ALIVE => Status::Alive,
            SUSPECT => Status::Suspect { accuser: self.name()? },
            DEAD => Status::Dead,
            LEFT => Status::Left,
            other => return Err(DecodeError::State(other)),
        };
        Ok(Update { peer, status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn peer(name: &str, addr: &str, generation: u64, incarnation: u64) -> Peer {
        Peer { name: name.into(), addr: addr.parse().unwrap(), generation, incarnation }
    }

    fn bodies() -> Vec<Body> {
        vec![
            Body::Ping { seq: 7, target_generation: 9 },
            Body::Ack { seq: u32::MAX },
            Body::PingReq { seq: 1, target: peer("node-b", "[fd00::2]:7946", 3, 0) },
            Body::Nack { seq: 0 },
            Body::Join,
            Body::Gossip,
        ]
    }

    #[test]
    fn every_kind_round_trips_with_updates_of_every_state() {
        let sender = peer("node-a", "10.0.0.1:7946", 1_700_000_000_000, 4);
        let updates: Vec<Update> =
            [Status::Alive, Status::Suspect { accuser: "node-c".into() }, Status::Dead, Status::Left]
                .into_iter()
                .enumerate()
                .map(|(i, status)| Update { peer: peer(&format!("n{i}"), "[::1]:1", i as u64, 2), status })
                .collect();
        let refs: Vec<&Update> = updates.iter().collect();
        for body in bodies() {
            let (bytes, count) = Message::encode(&sender, &body, &refs, 1400);
            assert_eq!(count, 4);
            let decoded = Message::decode(&bytes).unwrap();
            assert_eq!(decoded, Message { sender: sender.clone(), body, updates: updates.clone() });
        }
    }

    #[test]
    fn updates_that_do_not_fit_are_left_for_the_next_message() {
        let sender = peer("a", "10.0.0.1:1", 1, 1);
        let updates: Vec<Update> = (0..100)
            .map(|i| Update { peer: peer(&format!("node-{i}"), "10.0.0.2:1", 1, 1), status: Status::Alive })
            .collect();
        let refs: Vec<&Update> = updates.iter().collect();
        let (bytes, count) = Message::encode(&sender, &Body::Gossip, &refs, 512);
        assert!(bytes.len() <= 512, "{}", bytes.len());
        assert!(count > 5 && count < 100, "{count}");
        assert_eq!(Message::decode(&bytes).unwrap().updates.len(), count);
    }

    #[test]
    fn every_truncation_and_any_trailing_byte_is_an_error() {
        let sender = peer("node-a", "10.0.0.1:7946", 1, 1);
        let update =
            Update { peer: peer("node-b", "10.0.0.2:7946", 1, 1), status: Status::Suspect { accuser: "x".into() } };
        for body in bodies() {
            let (bytes, _) = Message::encode(&sender, &body, &[&update], 1400);
            for cut in 0..bytes.len() {
                assert!(Message::decode(&bytes[..cut]).is_err(), "{body:?} cut at {cut}");
            }
            let mut long = bytes.clone();
            long.push(0);
            assert_eq!(Message::decode(&long), Err(DecodeError::Trailing(1)));
        }
    }

    #[test]
    fn empty_and_non_utf8_names_are_refused() {
        let mut bytes = vec![GOSSIP, 0];
        assert_eq!(Message::decode(&bytes), Err(DecodeError::Name));
        bytes = vec![GOSSIP, 2, 0xff, 0xfe];
        assert_eq!(Message::decode(&bytes), Err(DecodeError::Name));
    }

    fn any_peer() -> impl Strategy<Value = Peer> {
        ("[a-z0-9.-]{1,253}", any::<bool>(), any::<[u8; 16]>(), any::<u16>(), any::<u64>(), any::<u64>()).prop_map(
            |(name, v6, ip, port, generation, incarnation)| {
                let ip = if v6 { IpAddr::from(ip) } else { IpAddr::from(<[u8; 4]>::try_from(&ip[..4]).unwrap()) };
                Peer { name, addr: SocketAddr::new(ip, port), generation, incarnation }
            },
        )
    }

    fn any_update() -> impl Strategy<Value = Update> {
        (any_peer(), 0u8..4, "[a-z]{1,20}").prop_map(|(peer, state, accuser)| {
            let status = match state {
                0 => Status::Alive,
                1 => Status::Suspect { accuser },
                2 => Status::Dead,
                _ => Status::Left,
            };
            Update { peer, status }
        })
    }

    proptest! {
        #[test]
        fn any_message_round_trips(sender in any_peer(), which in 0usize..6, updates in prop::collection::vec(any_update(), 0..8)) {
            let mut body = bodies()[which].clone();
            if let Body::PingReq { target, .. } = &mut body {
                target.incarnation = 0;
            }
            let refs: Vec<&Update> = updates.iter().collect();
            let (bytes, count) = Message::encode(&sender, &body, &refs, 65_000);
            prop_assert_eq!(count, updates.len());
            prop_assert_eq!(Message::decode(&bytes), Ok(Message { sender, body, updates }));
        }

        #[test]
        fn any_bytes_decode_or_fail_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(message) = Message::decode(&bytes) {
                let refs: Vec<&Update> = message.updates.iter().collect();
                let (again, _) = Message::encode(&message.sender, &message.body, &refs, 65_000);
                prop_assert_eq!(again, bytes);
            }
        }
    }
}
