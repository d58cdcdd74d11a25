//! The sans-IO membership engine: datagrams and timer expiries in, datagrams, timer requests
//! and membership changes out. It wraps foca's SWIM implementation (failure detection with
//! suspicion and incarnation numbers, infection-style dissemination piggybacked on probes,
//! Das et al. 2002 §4) with the parts foca leaves to its user: sealing, seeding from
//! addresses, retrying seeds, graceful-leave notices and per-name (not per-identity) events.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use foca::{Foca, Incarnation, Member, NoCustomBroadcast, OwnedNotification, PostcardCodec, Runtime, State};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use thiserror::Error;

use crate::config::{Timers, TimersError};
use crate::identity::NodeId;
use crate::seal::{Key, MAX_NAME, OpenError, Sealer, Sender};

/// Message kinds inside a sealed datagram.
const KIND_SWIM: u8 = 0;
const KIND_LEAVE: u8 = 1;
const KIND_SUSPECT: u8 = 2;

/// How many copies of a leave notice go to each member: one lost datagram must not turn a
/// graceful leave into a failure (which would keep the node in the fencing quorum).
const LEAVE_COPIES: usize = 2;

/// What this member is and how it probes.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The Kubernetes node name; members are reported by this name.
    pub name: String,
    /// The address peers send to (node IP and membership port), not the wildcard bind address.
    pub advertise: SocketAddr,
    pub timers: Timers,
}

/// What differs between two starts of the same speaker. The driver fills it from the clock and
/// the OS; tests fix it for determinism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boot {
    /// Grows with every start (the driver uses milliseconds since the Unix epoch), so a
    /// restarted speaker wins its address over the identity the cluster remembers.
    pub generation: u64,
    /// Seeds the choice of probe targets and gossip peers.
    pub rng_seed: u64,
    /// Random bytes for sealing (the first 8 go into every nonce): must be unpredictable and
    /// differ between starts.
    pub nonce_salt: [u8; 16],
}

/// A request to the driver, or a membership change, in the order they happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Send {
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    /// Call [`Engine::handle_timer`] with `timer` once `after` has passed. Every request must
    /// be delivered; stale ones are ignored by the engine.
    SetTimer {
        after: Duration,
        timer: Timer,
    },
    /// A node name became live (first identity with that name alive).
    MemberUp(String),
    /// A live node was declared down by the failure detector.
    MemberDown(String),
    /// A live node announced that it is leaving (graceful shutdown).
    MemberLeft(String),
    /// A datagram was dropped before decoding; counted in [`Counters`].
    Dropped {
        from: SocketAddr,
        reason: DropReason,
    },
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// It does not authenticate under our key (other key, tampered, or keyed vs. unkeyed).
    BadKey,
    /// It authenticates but is not a membership message we can decode.
    Malformed,
    /// It decodes but the SWIM layer refused it (e.g. it claims to come from ourselves).
    Refused,
    /// It authenticates but was received before or comes from a superseded boot of its
    /// sender: a recorded datagram sent again ([`crate::seal`]).
    Replayed,
}

/// An opaque timer the engine asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Timer(TimerKind);

#[derive(Debug, Clone, PartialEq)]
enum TimerKind {
    Swim(foca::Timer<NodeId>),
    Rejoin,
}

/// Monotonic counters for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    pub dropped_bad_key: u64,
    pub dropped_malformed: u64,
    pub dropped_refused: u64,
    pub dropped_replayed: u64,
    pub member_up: u64,
    pub member_down: u64,
    pub member_left: u64,
}

/// Why an engine cannot be built.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Timers(#[from] TimersError),
    #[error("member name must be non-empty and at most 253 bytes (a Kubernetes node name)")]
    Name,
}

type Swim = Foca<NodeId, PostcardCodec, SmallRng, NoCustomBroadcast>;

/// The membership state machine of one speaker.
pub struct Engine {
    swim: Swim,
    sealer: Sealer,
    name: String,
    advertise: SocketAddr,
    timers: Timers,
    seeds: Vec<SocketAddr>,
    /// Live peer identities, as foca reported them.
    alive: BTreeSet<NodeId>,
    /// Live peer names last reported to the caller.
    names: BTreeSet<String>,
    /// Peers whose leave notice arrived and that have not come back since.
    leaving: BTreeSet<String>,
    /// Suspects told of their suspicion, and when.
    told: BTreeMap<NodeId, Instant>,
    tuned_for: usize,
    rejoin_armed: bool,
    left: bool,
    counters: Counters,
    last_change: Option<Instant>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("name", &self.name)
            .field("advertise", &self.advertise)
            .field("members", &self.names)
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

/// foca's runtime, collecting what it asks for as [`Output`]s.
struct Io<'a> {
    sealer: &'a mut Sealer,
    out: &'a mut Vec<Output>,
    notes: &'a mut Vec<OwnedNotification<NodeId>>,
    sent: &'a mut u64,
}

impl Runtime<NodeId> for Io<'_> {
    fn notify(&mut self, notification: foca::Notification<'_, NodeId>) {
        self.notes.push(notification.to_owned());
    }

    fn send_to(&mut self, to: NodeId, data: &[u8]) {
        let mut plain = Vec::with_capacity(1 + data.len());
        plain.push(KIND_SWIM);
        plain.extend_from_slice(data);
        *self.sent += 1;
        self.out.push(Output::Send { to: to.addr, bytes: self.sealer.seal(&plain) });
    }

    fn submit_after(&mut self, event: foca::Timer<NodeId>, after: Duration) {
        self.out.push(Output::SetTimer { after, timer: Timer(TimerKind::Swim(event)) });
    }
}

impl Engine {
    pub fn new(config: EngineConfig, key: Option<&Key>, boot: Boot) -> Result<Self, EngineError> {
        config.timers.validate()?;
        if config.name.is_empty() || config.name.len() > MAX_NAME {
            return Err(EngineError::Name);
        }
        let me = NodeId { addr: config.advertise, name: config.name.clone(), generation: boot.generation };
        let swim = Foca::new(me, config.timers.foca_config(1), SmallRng::seed_from_u64(boot.rng_seed), PostcardCodec);
        Ok(Self {
            swim,
            sealer: Sealer::new(key, sealer_identity(&config.name, &boot)),
            name: config.name,
            advertise: config.advertise,
            timers: config.timers,
            seeds: Vec::new(),
            alive: BTreeSet::new(),
            names: BTreeSet::new(),
            leaving: BTreeSet::new(),
            told: BTreeMap::new(),
            tuned_for: 1,
            rejoin_armed: false,
            left: false,
            counters: Counters::default(),
            last_change: None,
        })
    }

    /// This member's node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Live members by node name, this one included (until it leaves): the Layer 2 election's
    /// candidate set (docs/compatibility.md §4.2 step 5).
    pub fn members(&self) -> BTreeSet<String> {
        let mut members = self.names.clone();
        if !self.left {
            members.insert(self.name.clone());
        }
        members
    }

    /// Live members currently under suspicion (SWIM §4.2): a failed probe, not yet refuted.
    pub fn suspects(&self) -> BTreeSet<String> {
        self.swim.iter_members().filter(|m| m.state() == State::Suspect).map(|m| m.id().name.clone()).collect()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// When the set of live names last changed (as passed in `now`).
    pub fn last_change(&self) -> Option<Instant> {
        self.last_change
    }

    /// The generation of this member's identity: the boot generation plus the times it was
    /// declared down and rejoined (a flapping indicator for metrics).
    pub fn generation(&self) -> u64 {
        self.swim.identity().generation
    }

    pub fn has_left(&self) -> bool {
        self.left
    }

    /// Replaces the seed list and asks every seed that is not already a member to let us in.
    /// Seeds that do not answer are retried every `rejoin_interval` (speakers start in any
    /// order, and a healed partition reconnects through them). Our own address is skipped, so
    /// passing every node's address is fine.
    pub fn join(&mut self, seeds: impl IntoIterator<Item = SocketAddr>) -> Vec<Output> {
        if self.left {
            return Vec::new();
        }
        let mut seeds: Vec<SocketAddr> = seeds.into_iter().filter(|s| *s != self.advertise).collect();
        seeds.sort_unstable();
        seeds.dedup();
        self.seeds = seeds;
        let mut out = self.announce_to_seeds();
        if !self.rejoin_armed {
            self.rejoin_armed = true;
            out.push(Output::SetTimer { after: self.timers.rejoin_interval, timer: Timer(TimerKind::Rejoin) });
        }
        out
    }

    /// Leaves the cluster: every live member gets a leave notice (so it reports
    /// [`Output::MemberLeft`] at once and stops counting us for quorum), and the SWIM layer
    /// gossips our own down update as well. The engine is inert afterwards.
    pub fn leave(&mut self) -> Vec<Output> {
        if self.left {
            return Vec::new();
        }
        let notice = encode_leave(self.swim.identity());
        let mut out = Vec::new();
        for peer in &self.alive {
            for _ in 0..LEAVE_COPIES {
                self.counters.datagrams_out += 1;
                out.push(Output::Send { to: peer.addr, bytes: self.sealer.seal(&notice) });
            }
        }
        let mut notes = Vec::new();
        let mut io =
            Io { sealer: &mut self.sealer, out: &mut out, notes: &mut notes, sent: &mut self.counters.datagrams_out };
        // Only fails to encode our own identity, which every datagram already did.
        let _ = self.swim.leave_cluster(&mut io);
        out.retain(|o| !matches!(o, Output::SetTimer { .. }));
        self.left = true;
        self.alive.clear();
        self.names.clear();
        out
    }

    /// Handles one received datagram. Nothing is decoded unless it authenticates.
    pub fn handle_datagram(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) -> Vec<Output> {
        if self.left {
            return Vec::new();
        }
        self.counters.datagrams_in += 1;
        let plain = match self.sealer.open(datagram) {
            Ok(plain) => plain,
            Err(OpenError::BadKey) => return self.dropped(from, DropReason::BadKey),
            Err(OpenError::Malformed) => return self.dropped(from, DropReason::Malformed),
            Err(OpenError::Replayed) => return self.dropped(from, DropReason::Replayed),
        };
        match plain.split_first() {
            Some((&KIND_SWIM, body)) => {
                let (mut out, result) = self.drive(now, |swim, io| swim.handle_data(body, io));
                if result.is_err() {
                    out.extend(self.dropped(from, DropReason::Refused));
                }
                out
            }
            Some((&KIND_LEAVE, body)) => match decode_leave(body) {
                Some(id) if id.addr != self.advertise && id.name != self.name => {
                    self.leaving.insert(id.name.clone());
                    let (out, _) =
                        self.drive(now, |swim, io| swim.apply_many(std::iter::once(Member::down(id)), true, io));
                    out
                }
                Some(_) => self.dropped(from, DropReason::Refused),
                None => self.dropped(from, DropReason::Malformed),
            },
            Some((&KIND_SUSPECT, body)) => match decode_suspect(body) {
                // Only our current identity refutes; a notice about an older generation is
                // stale. The refutation is our bumped incarnation, which foca puts in the
                // header of every message: foca gossips it to a few members, and an announce
                // carries it straight back to the member that suspects us.
                Some((teller, id, incarnation)) if &id == self.swim.identity() => {
                    let update = Member::new(id, incarnation, State::Suspect);
                    self.drive(now, |swim, io| {
                        swim.apply_many(std::iter::once(update), true, &mut *io)?;
                        swim.announce(teller, io)
                    })
                    .0
                }
                Some(_) => Vec::new(),
                None => self.dropped(from, DropReason::Malformed),
            },
            _ => self.dropped(from, DropReason::Malformed),
        }
    }

    /// Handles a timer the engine asked for earlier.
    pub fn handle_timer(&mut self, timer: Timer, now: Instant) -> Vec<Output> {
        if self.left {
            return Vec::new();
        }
        match timer.0 {
            TimerKind::Swim(t) => self.drive(now, |swim, io| swim.handle_timer(t, io)).0,
            TimerKind::Rejoin => {
                let mut out = self.announce_to_seeds();
                out.push(Output::SetTimer { after: self.timers.rejoin_interval, timer: Timer(TimerKind::Rejoin) });
                out
            }
        }
    }

    fn dropped(&mut self, from: SocketAddr, reason: DropReason) -> Vec<Output> {
        match reason {
            DropReason::BadKey => self.counters.dropped_bad_key += 1,
            DropReason::Malformed => self.counters.dropped_malformed += 1,
            DropReason::Refused => self.counters.dropped_refused += 1,
            DropReason::Replayed => self.counters.dropped_replayed += 1,
        }
        vec![Output::Dropped { from, reason }]
    }

    fn announce_to_seeds(&mut self) -> Vec<Output> {
        let present: BTreeSet<SocketAddr> = self.alive.iter().map(|id| id.addr).collect();
        let absent: Vec<SocketAddr> = self.seeds.iter().copied().filter(|s| !present.contains(s)).collect();
        // The clock is irrelevant: announcing changes no membership.
        let mut out = Vec::new();
        for seed in absent {
            let mut notes = Vec::new();
            let mut io = Io {
                sealer: &mut self.sealer,
                out: &mut out,
                notes: &mut notes,
                sent: &mut self.counters.datagrams_out,
            };
            // Only fails to encode identities, which cannot fail for ours.
            let _ = self.swim.announce(NodeId::seed(seed), &mut io);
        }
        out
    }

    /// Runs one foca call, then turns its notifications into per-name changes.
    fn drive(
        &mut self,
        now: Instant,
        call: impl FnOnce(&mut Swim, &mut Io<'_>) -> Result<(), foca::Error>,
    ) -> (Vec<Output>, Result<(), foca::Error>) {
        let mut out = Vec::new();
        let mut notes = Vec::new();
        let result = {
            let mut io = Io {
                sealer: &mut self.sealer,
                out: &mut out,
                notes: &mut notes,
                sent: &mut self.counters.datagrams_out,
            };
            call(&mut self.swim, &mut io)
        };
        let mut rejoined = false;
        for note in notes {
            match note {
                OwnedNotification::MemberUp(id) => {
                    self.alive.insert(id);
                }
                OwnedNotification::MemberDown(id) => {
                    self.alive.remove(&id);
                }
                OwnedNotification::Rename(old, new) if self.alive.remove(&old) => {
                    self.alive.insert(new);
                }
                OwnedNotification::Rejoin(_) => rejoined = true,
                _ => {}
            }
        }
        if rejoined {
            self.resume_probing(&mut out);
        }
        self.sync_names(&mut out, now);
        self.tell_suspects(&mut out, now);
        (out, result)
    }

    /// After an automatic rejoin under a new identity, foca resets itself to "disconnected"
    /// but keeps its members, and only reconnects (restarting the probe cycle) the next time
    /// it applies membership updates. If none come, it never probes again and a later crash
    /// goes unnoticed. Applying an empty batch runs that reconnection at once.
    fn resume_probing(&mut self, out: &mut Vec<Output>) {
        let mut notes = Vec::new();
        let mut io = Io { sealer: &mut self.sealer, out, notes: &mut notes, sent: &mut self.counters.datagrams_out };
        // An empty batch has nothing to decode or apply: it cannot fail.
        let _ = self.swim.apply_many(std::iter::empty(), false, &mut io);
    }

    /// Tells each suspect, directly and once per probe period, that it is suspected, so it
    /// refutes in time even when the piggybacked suspicion was used up while it was
    /// unreachable (Lifeguard's "buddy system", Dadgar et al. 2018 §IV-C; SWIM alone relies
    /// on dissemination reaching the suspect).
    fn tell_suspects(&mut self, out: &mut Vec<Output>, now: Instant) {
        let suspects: Vec<(NodeId, Incarnation)> = self
            .swim
            .iter_members()
            .filter(|m| m.state() == State::Suspect)
            .map(|m| (m.id().clone(), m.incarnation()))
            .collect();
        self.told.retain(|id, _| suspects.iter().any(|(s, _)| s == id));
        for (id, incarnation) in suspects {
            let every = self.timers.probe_period / 2;
            let due = self.told.get(&id).is_none_or(|at| now.saturating_duration_since(*at) >= every);
            if due {
                self.told.insert(id.clone(), now);
                self.counters.datagrams_out += 1;
                let notice = encode_suspect(self.swim.identity(), &id, incarnation);
                out.push(Output::Send { to: id.addr, bytes: self.sealer.seal(&notice) });
            }
        }
    }

    fn sync_names(&mut self, out: &mut Vec<Output>, now: Instant) {
        let live: BTreeSet<String> =
            self.alive.iter().filter(|id| id.name != self.name).map(|id| id.name.clone()).collect();
        if live == self.names {
            return;
        }
        for gone in self.names.difference(&live) {
            // its next boot may carry an older generation (a clock set back): hear it
            self.sealer.forget(gone);
            if self.leaving.contains(gone) {
                self.counters.member_left += 1;
                out.push(Output::MemberLeft(gone.clone()));
            } else {
                self.counters.member_down += 1;
                out.push(Output::MemberDown(gone.clone()));
            }
        }
        for new in live.difference(&self.names) {
            self.leaving.remove(new);
            self.counters.member_up += 1;
            out.push(Output::MemberUp(new.clone()));
        }
        self.names = live;
        self.last_change = Some(now);
        let n = self.names.len() + 1;
        if n != self.tuned_for {
            self.tuned_for = n;
            // Only probe_period, probe_rtt and enabling periodic tasks are refused, and
            // those never change here.
            let _ = self.swim.set_config(self.timers.foca_config(n));
        }
    }
}

/// What the sealer puts in every header: our name and what makes this boot's nonces unique.
fn sealer_identity(name: &str, boot: &Boot) -> Sender {
    let mut random = [0; 8];
    random.copy_from_slice(&boot.nonce_salt[..8]);
    Sender { name: name.to_owned(), generation: boot.generation, random }
}

/// An identity on the wire: `generation (8) | port (2) | ip length (1) | ip (4 or 16) | name`.
fn encode_id(out: &mut Vec<u8>, id: &NodeId) {
    out.extend_from_slice(&id.generation.to_be_bytes());
    out.extend_from_slice(&id.addr.port().to_be_bytes());
    match id.addr.ip() {
        IpAddr::V4(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(16);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(id.name.as_bytes());
}

fn decode_id(body: &[u8]) -> Option<NodeId> {
    let generation = u64::from_be_bytes(body.get(..8)?.try_into().ok()?);
    let port = u16::from_be_bytes(body.get(8..10)?.try_into().ok()?);
    let len = usize::from(*body.get(10)?);
    let raw = body.get(11..11 + len)?;
    let ip = match len {
        4 => IpAddr::from(<[u8; 4]>::try_from(raw).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(raw).ok()?),
        _ => return None,
    };
    let name = std::str::from_utf8(body.get(11 + len..)?).ok()?;
    if name.is_empty() {
        return None;
    }
    Some(NodeId { addr: SocketAddr::new(ip, port), name: name.to_owned(), generation })
}

/// `KIND_LEAVE | identity`.
fn encode_leave(id: &NodeId) -> Vec<u8> {
    let mut out = vec![KIND_LEAVE];
    encode_id(&mut out, id);
    out
}

fn decode_leave(body: &[u8]) -> Option<NodeId> {
    decode_id(body)
}

/// `KIND_SUSPECT | incarnation (2) | teller identity length (2) | teller | suspect`.
fn encode_suspect(teller: &NodeId, suspect: &NodeId, incarnation: Incarnation) -> Vec<u8> {
    let mut teller_bytes = Vec::new();
    encode_id(&mut teller_bytes, teller);
    let mut out = vec![KIND_SUSPECT];
    out.extend_from_slice(&incarnation.to_be_bytes());
    out.extend_from_slice(&(teller_bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(&teller_bytes);
    encode_id(&mut out, suspect);
    out
}

fn decode_suspect(body: &[u8]) -> Option<(NodeId, NodeId, Incarnation)> {
    let incarnation = Incarnation::from_be_bytes(body.get(..2)?.try_into().ok()?);
    let len = usize::from(u16::from_be_bytes(body.get(2..4)?.try_into().ok()?));
    let teller = decode_id(body.get(4..4 + len)?)?;
    let suspect = decode_id(body.get(4 + len..)?)?;
    Some((teller, suspect, incarnation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leave_notice_round_trips_for_both_families() {
        for addr in ["10.0.0.1:7946", "[fd00::1]:7946"] {
            let id = NodeId { addr: addr.parse().unwrap(), name: "node-a".into(), generation: 42 };
            assert_eq!(decode_leave(&encode_leave(&id)[1..]), Some(id));
        }
    }

    #[test]
    fn a_suspicion_notice_round_trips() {
        let a = NodeId { addr: "10.0.0.1:7946".parse().unwrap(), name: "node-a".into(), generation: 3 };
        let b = NodeId { addr: "[fd00::2]:7946".parse().unwrap(), name: "node-b".into(), generation: 4 };
        assert_eq!(decode_suspect(&encode_suspect(&a, &b, 9)[1..]), Some((a, b, 9)));
    }

    #[test]
    fn a_truncated_leave_notice_does_not_decode() {
        let id = NodeId { addr: "10.0.0.1:7946".parse().unwrap(), name: "n".into(), generation: 1 };
        let enc = encode_leave(&id);
        for cut in 1..enc.len() {
            assert_eq!(decode_leave(&enc[1..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn an_empty_or_overlong_name_is_rejected() {
        let boot = Boot { generation: 1, rng_seed: 1, nonce_salt: [0; 16] };
        for name in [String::new(), "x".repeat(254)] {
            let config = EngineConfig { name, advertise: "127.0.0.1:1".parse().unwrap(), timers: Timers::default() };
            assert!(matches!(Engine::new(config, None, boot.clone()), Err(EngineError::Name)));
        }
    }
}
