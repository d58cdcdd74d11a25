//! The sans-IO membership engine: datagrams and timer expiries in, datagrams, timer requests
//! and membership changes out.
//!
//! It is SWIM (Das, Gupta, Motivala, DSN 2002: a direct probe, then indirect probes through
//! `k` other members; a failed probe raises a suspicion that the suspect refutes with a higher
//! incarnation; updates piggybacked on every message) with the three additions of Lifeguard
//! (Dadgar, Phillips, Currey, DSN 2018) that keep it from declaring live members dead when
//! datagrams are lost or a member is slow:
//!
//! - *local health* ([`crate::health`]): a member that misses acks and nacks stretches its
//!   own probe interval and probe timeout;
//! - *dynamic suspicion* ([`crate::member::Suspicion`]): a suspicion raised by one member
//!   waits long; each independent accuser shortens it, down to the minimum once as many
//!   accusers as there are indirect probers agree, so a real crash is still declared fast;
//! - *buddy system*: every member holding a suspicion tells the suspect directly, each gossip
//!   interval, so it can refute even when the gossip about it was lost.
//!
//! Beyond Lifeguard: a relay that gets no answer sends a nack (so the asker can tell its own
//! link from the target's), the direct probe is sent twice, and any fresh datagram from a
//! suspect restarts its suspicion clock (replayed datagrams are refused by [`crate::seal`],
//! so one is proof of life). A member wrongly declared dead refutes like a suspect and comes
//! back under the same identity; a restarted speaker comes back under a new boot generation.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::broadcast::Broadcasts;
use crate::config::{ENVELOPE_OVERHEAD, Timers, TimersError};
use crate::health::Health;
use crate::member::{Member, State, SuspicionBounds};
use crate::seal::{Key, OpenError, Sealer, Sender};
use crate::wire::{Body, MAX_NAME, Message, Peer, Status, Update};

/// How many copies of a leave notice go to each member: one lost datagram must not turn a
/// graceful leave into a failure (which would keep the node in the fencing quorum).
const LEAVE_COPIES: usize = 2;

/// Every this many rejoin intervals, one live member is asked for its whole table, so two
/// members that disagree (a lost update that ran out of retransmissions) converge.
const SYNC_EVERY: u32 = 30;

/// Dead and left members are remembered this long (stale gossip about them must not bring
/// them back), then forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

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
    /// restarted speaker replaces the identity the cluster remembers.
    pub generation: u64,
    /// Seeds the choice of probe targets, relays and gossip peers.
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
    /// A node name became live.
    MemberUp(String),
    /// A live node was declared dead by the failure detector.
    MemberDown(String),
    /// A live node announced that it is leaving (graceful shutdown).
    MemberLeft(String),
    /// A datagram was dropped; counted in [`Counters`].
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
    /// It decodes but cannot be accepted (it claims to come from ourselves).
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
    /// Close the current probe round and start the next.
    Probe,
    /// The direct probe `seq` got no ack in time: retry it and go indirect.
    Indirect(u32),
    /// The relayed probe `seq` got no ack: nack the asker.
    Relay(u32),
    /// Check whether the suspicion about this member has run out.
    Suspicion(String),
    Gossip,
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
    /// Suspicions this member raised (its probe failed).
    pub suspicions: u64,
    /// Suspicions about this member that it refuted.
    pub refutations: u64,
}

/// Why an engine cannot be built.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Timers(#[from] TimersError),
    #[error("member name must be non-empty and at most 253 bytes (a Kubernetes node name)")]
    Name,
}

/// The probe round in progress.
#[derive(Debug)]
struct Probe {
    seq: u32,
    target: String,
    generation: u64,
    /// Already suspected when the round started: its failure then says nothing about us.
    suspected: bool,
    acked: bool,
    relays: u32,
    nacks: u32,
}

/// A probe this member sends on behalf of another.
#[derive(Debug)]
struct Relay {
    asker: SocketAddr,
    asker_seq: u32,
}

/// The membership state machine of one speaker.
pub struct Engine {
    me: Peer,
    timers: Timers,
    sealer: Sealer,
    rng: SplitMix,
    seeds: Vec<SocketAddr>,
    members: BTreeMap<String, Member>,
    /// Live peer names last reported to the caller.
    names: BTreeSet<String>,
    broadcasts: Broadcasts,
    health: Health,
    probe: Option<Probe>,
    /// Probe targets still to visit this round (SWIM §4.3: round-robin in random order).
    order: Vec<String>,
    /// Members suspected by someone else, to probe next: an independent confirmation, or
    /// the ack that lets us refute on their behalf by not accusing.
    urgent: VecDeque<String>,
    relays: BTreeMap<u32, Relay>,
    seq: u32,
    ticking: bool,
    rejoin_armed: bool,
    rejoins: u32,
    left: bool,
    counters: Counters,
    last_change: Option<Instant>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("name", &self.me.name)
            .field("advertise", &self.me.addr)
            .field("members", &self.names)
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub fn new(config: EngineConfig, key: Option<&Key>, boot: Boot) -> Result<Self, EngineError> {
        config.timers.validate()?;
        if config.name.is_empty() || config.name.len() > MAX_NAME {
            return Err(EngineError::Name);
        }
        let me = Peer { name: config.name, addr: config.advertise, generation: boot.generation, incarnation: 0 };
        Ok(Self {
            sealer: Sealer::new(key, sealer_identity(&me.name, &boot)),
            rng: SplitMix(boot.rng_seed),
            health: Health::new(config.timers.max_local_health),
            me,
            timers: config.timers,
            seeds: Vec::new(),
            members: BTreeMap::new(),
            names: BTreeSet::new(),
            broadcasts: Broadcasts::default(),
            probe: None,
            order: Vec::new(),
            urgent: VecDeque::new(),
            relays: BTreeMap::new(),
            seq: 0,
            ticking: false,
            rejoin_armed: false,
            rejoins: 0,
            left: false,
            counters: Counters::default(),
            last_change: None,
        })
    }

    /// This member's node name.
    pub fn name(&self) -> &str {
        &self.me.name
    }

    /// Live members by node name, this one included (until it leaves): the Layer 2 election's
    /// candidate set (docs/compatibility.md §4.2 step 5). Suspects are still live.
    pub fn members(&self) -> BTreeSet<String> {
        let mut members = self.names.clone();
        if !self.left {
            members.insert(self.me.name.clone());
        }
        members
    }

    /// Live members currently under suspicion (SWIM §4.2): a failed probe, not yet refuted.
    pub fn suspects(&self) -> BTreeSet<String> {
        self.members.values().filter(|m| matches!(m.state, State::Suspect(_))).map(|m| m.peer.name.clone()).collect()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// When the set of live names last changed (as passed in `now`).
    pub fn last_change(&self) -> Option<Instant> {
        self.last_change
    }

    /// The boot generation of this member.
    pub fn generation(&self) -> u64 {
        self.me.generation
    }

    /// How often this member has refuted a suspicion since it started.
    pub fn incarnation(&self) -> u64 {
        self.me.incarnation
    }

    /// The local health multiplier (1 when healthy): how much this member stretches its own
    /// probe interval and timeout.
    pub fn health(&self) -> u32 {
        self.health.multiplier()
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
        let mut seeds: Vec<SocketAddr> = seeds.into_iter().filter(|s| *s != self.me.addr).collect();
        seeds.sort_unstable();
        seeds.dedup();
        self.seeds = seeds;
        let mut out = Vec::new();
        self.join_seeds(&mut out);
        self.start_ticking(&mut out);
        if !self.rejoin_armed {
            self.rejoin_armed = true;
            out.push(timer(self.timers.rejoin_interval, TimerKind::Rejoin));
        }
        out
    }

    /// Leaves the cluster: every live member gets a leave notice (so it reports
    /// [`Output::MemberLeft`] at once and stops counting us for quorum). The engine is inert
    /// afterwards.
    pub fn leave(&mut self) -> Vec<Output> {
        if self.left {
            return Vec::new();
        }
        let notice = Update { peer: self.me.clone(), status: Status::Left };
        let mut out = Vec::new();
        let live: Vec<SocketAddr> = self.members.values().filter(|m| m.state.is_live()).map(|m| m.peer.addr).collect();
        for addr in live {
            for _ in 0..LEAVE_COPIES {
                self.send_with(&mut out, addr, &Body::Gossip, &[&notice]);
            }
        }
        self.left = true;
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
        let Ok(message) = Message::decode(&plain) else {
            return self.dropped(from, DropReason::Malformed);
        };
        if message.sender.name == self.me.name || message.sender.addr == self.me.addr {
            return self.dropped(from, DropReason::Refused);
        }
        let mut out = Vec::new();
        let sender = message.sender;
        self.hear_from(&mut out, &sender, now);
        for update in &message.updates {
            self.learn(&mut out, update, Some(&sender), now);
        }
        self.answer(&mut out, &sender, message.body);
        self.start_ticking(&mut out);
        self.sync_names(&mut out, now);
        out
    }

    /// Handles a timer the engine asked for earlier.
    pub fn handle_timer(&mut self, due: Timer, now: Instant) -> Vec<Output> {
        if self.left {
            return Vec::new();
        }
        let mut out = Vec::new();
        match due.0 {
            TimerKind::Probe => self.probe_round(&mut out, now),
            TimerKind::Indirect(seq) => self.go_indirect(&mut out, seq),
            TimerKind::Relay(seq) => {
                if let Some(relay) = self.relays.remove(&seq) {
                    self.send(&mut out, relay.asker, &Body::Nack { seq: relay.asker_seq });
                }
            }
            TimerKind::Suspicion(name) => self.check_suspicion(&mut out, &name, now),
            TimerKind::Gossip => self.gossip(&mut out),
            TimerKind::Rejoin => {
                self.join_seeds(&mut out);
                self.rejoins += 1;
                if self.rejoins.is_multiple_of(SYNC_EVERY) {
                    let live = self.live_peers(None);
                    if let Some(addr) = self.pick(&live, 1).first().copied() {
                        self.send(&mut out, addr, &Body::Join);
                    }
                }
                self.forget_old(now);
                out.push(timer(self.timers.rejoin_interval, TimerKind::Rejoin));
            }
        }
        self.sync_names(&mut out, now);
        out
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

    fn start_ticking(&mut self, out: &mut Vec<Output>) {
        if !self.ticking {
            self.ticking = true;
            out.push(timer(self.timers.probe_period, TimerKind::Probe));
            out.push(timer(self.timers.gossip_interval, TimerKind::Gossip));
        }
    }

    /// The sender of a datagram speaks for itself: its header is the freshest news of it.
    fn hear_from(&mut self, out: &mut Vec<Output>, sender: &Peer, now: Instant) {
        let update = Update { peer: sender.clone(), status: Status::Alive };
        let Some(held) = self.members.get_mut(&sender.name) else {
            self.learn(out, &update, None, now);
            return;
        };
        let order = held.compare(&update);
        match (&mut held.state, order) {
            (_, Ordering::Greater) => self.learn(out, &update, None, now),
            // a new boot whose clock is behind the one we declared dead
            (State::Dead | State::Left, _) if held.peer.generation != sender.generation => {
                let mut member = Member::new(&update, now);
                member.peer = sender.clone();
                self.members.insert(sender.name.clone(), member);
                self.broadcasts.push(update);
            }
            (State::Suspect(suspicion), _) if held.peer.generation == sender.generation => {
                suspicion.heard = Some(now);
            }
            // it still thinks it is alive: tell it, so it refutes
            (State::Dead, _) if held.peer.generation == sender.generation => {
                let news = held.update();
                self.send_with(out, sender.addr, &Body::Gossip, &[&news]);
            }
            _ => {}
        }
    }

    /// Applies one update, from the member's own header (`via` is None) or gossiped by `via`.
    fn learn(&mut self, out: &mut Vec<Output>, update: &Update, via: Option<&Peer>, now: Instant) {
        if update.peer.name == self.me.name {
            self.about_me(out, update, via);
            return;
        }
        let order = self.members.get(&update.peer.name).map(|held| held.compare(update));
        match order {
            None | Some(Ordering::Greater) => {
                if order.is_none() && !matches!(update.status, Status::Alive | Status::Suspect { .. }) {
                    // news of the death of a member we never knew: remember it, say nothing
                    self.members.insert(update.peer.name.clone(), Member::new(update, now));
                    return;
                }
                self.members.insert(update.peer.name.clone(), Member::new(update, now));
                self.broadcasts.push(update.clone());
                if let Status::Suspect { accuser } = &update.status {
                    if *accuser != self.me.name {
                        self.urgent.push_back(update.peer.name.clone());
                    }
                    self.schedule_suspicion(out, &update.peer.name, now);
                }
            }
            Some(Ordering::Equal) => {
                let Status::Suspect { accuser } = &update.status else { return };
                let Some(Member { state: State::Suspect(suspicion), .. }) = self.members.get_mut(&update.peer.name)
                else {
                    return;
                };
                if suspicion.accusers.insert(accuser.clone()) {
                    // pass the confirmation on, so the others count it too
                    self.broadcasts.push(update.clone());
                    self.schedule_suspicion(out, &update.peer.name, now);
                }
            }
            Some(Ordering::Less) => {}
        }
    }

    /// News about ourselves: a suspicion or death of our current boot is refuted with a
    /// higher incarnation, sent straight back and gossiped.
    fn about_me(&mut self, out: &mut Vec<Output>, update: &Update, via: Option<&Peer>) {
        if update.peer.generation != self.me.generation
            || matches!(update.status, Status::Alive)
            || update.peer.incarnation < self.me.incarnation
        {
            return;
        }
        self.me.incarnation = update.peer.incarnation + 1;
        self.counters.refutations += 1;
        self.health.refuted();
        let alive = Update { peer: self.me.clone(), status: Status::Alive };
        self.broadcasts.push(alive);
        if let Some(via) = via {
            self.send(out, via.addr, &Body::Gossip);
        }
        if let Status::Suspect { accuser } = &update.status
            && via.is_none_or(|v| v.name != *accuser)
            && let Some(addr) = self.members.get(accuser).map(|m| m.peer.addr)
        {
            self.send(out, addr, &Body::Gossip);
        }
    }

    fn answer(&mut self, out: &mut Vec<Output>, sender: &Peer, body: Body) {
        match body {
            Body::Ping { seq, target_generation } if target_generation == self.me.generation => {
                self.send(out, sender.addr, &Body::Ack { seq });
            }
            // a probe of an earlier boot of ours: our header tells the prober about this one
            Body::Ping { .. } => self.send(out, sender.addr, &Body::Gossip),
            Body::Ack { seq } => {
                if let Some(probe) = self.probe.as_mut().filter(|p| p.seq == seq) {
                    probe.acked = true;
                } else if let Some(relay) = self.relays.remove(&seq) {
                    self.send(out, relay.asker, &Body::Ack { seq: relay.asker_seq });
                }
            }
            Body::Nack { seq } => {
                if let Some(probe) = self.probe.as_mut().filter(|p| p.seq == seq) {
                    probe.nacks += 1;
                }
            }
            Body::PingReq { seq, target } => {
                let mine = self.next_seq();
                self.relays.insert(mine, Relay { asker: sender.addr, asker_seq: seq });
                self.send(out, target.addr, &Body::Ping { seq: mine, target_generation: target.generation });
                out.push(timer(self.timers.probe_timeout.mul_f64(0.8), TimerKind::Relay(mine)));
            }
            Body::Join => self.send_table(out, sender.addr),
            Body::Gossip => {}
        }
    }

    /// Closes the probe round that is ending and probes the next member.
    fn probe_round(&mut self, out: &mut Vec<Output>, now: Instant) {
        if let Some(done) = self.probe.take() {
            if done.acked {
                self.health.probe_succeeded();
            } else {
                if !done.suspected {
                    self.health.probe_failed(done.relays, done.nacks);
                }
                self.accuse(out, &done.target, done.generation, now);
            }
        }
        let Some(target) = self.next_target() else {
            // nobody to probe, nothing to blame ourselves for
            self.health.probe_succeeded();
            out.push(timer(self.timers.probe_period, TimerKind::Probe));
            return;
        };
        let scale = self.health.multiplier();
        out.push(timer(self.timers.probe_period * scale, TimerKind::Probe));
        let seq = self.next_seq();
        let (addr, generation) = (target.addr, target.generation);
        let suspected = self.members.get(&target.name).is_some_and(|m| matches!(m.state, State::Suspect(_)));
        self.probe = Some(Probe { seq, target: target.name, generation, suspected, acked: false, relays: 0, nacks: 0 });
        self.send(out, addr, &Body::Ping { seq, target_generation: generation });
        out.push(timer(self.timers.probe_timeout * scale, TimerKind::Indirect(seq)));
    }

    /// The direct probe went unanswered: send it once more and ask `k` others to try.
    fn go_indirect(&mut self, out: &mut Vec<Output>, seq: u32) {
        let Some(probe) = self.probe.as_ref().filter(|p| p.seq == seq && !p.acked) else { return };
        let Some(target) = self.members.get(&probe.target).map(|m| m.peer.clone()) else { return };
        self.send(out, target.addr, &Body::Ping { seq, target_generation: target.generation });
        let candidates = self.live_peers(Some(&target.name));
        let relays = self.pick(&candidates, self.timers.indirect_probes);
        for addr in &relays {
            self.send(out, *addr, &Body::PingReq { seq, target: target.clone() });
        }
        if let Some(probe) = self.probe.as_mut() {
            probe.relays = relays.len() as u32;
        }
    }

    /// Our probe of `name` failed: suspect it, or confirm a suspicion someone else raised.
    fn accuse(&mut self, out: &mut Vec<Output>, name: &str, generation: u64, now: Instant) {
        let Some(held) = self.members.get(name).filter(|m| m.peer.generation == generation) else { return };
        if !held.state.is_live() {
            return;
        }
        self.counters.suspicions += 1;
        let update = Update { peer: held.peer.clone(), status: Status::Suspect { accuser: self.me.name.clone() } };
        self.learn(out, &update, None, now);
    }

    fn schedule_suspicion(&self, out: &mut Vec<Output>, name: &str, now: Instant) {
        if let Some(Member { state: State::Suspect(s), .. }) = self.members.get(name) {
            let after = s.deadline(self.suspicion_bounds()).saturating_duration_since(now);
            out.push(timer(after, TimerKind::Suspicion(name.to_owned())));
        }
    }

    fn check_suspicion(&mut self, out: &mut Vec<Output>, name: &str, now: Instant) {
        let bounds = self.suspicion_bounds();
        let Some(member) = self.members.get_mut(name) else { return };
        let State::Suspect(suspicion) = &member.state else { return };
        let deadline = suspicion.deadline(bounds);
        if now < deadline {
            out.push(timer(deadline - now, TimerKind::Suspicion(name.to_owned())));
            return;
        }
        member.state = State::Dead;
        member.since = now;
        let news = member.update();
        self.broadcasts.push(news);
    }

    /// The suspicion bounds for the current cluster size.
    fn suspicion_bounds(&self) -> SuspicionBounds {
        self.timers.suspicion_bounds(self.names.len() + 1)
    }

    /// Piggybacks pending updates to a few members, and tells each suspect of its suspicion.
    fn gossip(&mut self, out: &mut Vec<Output>) {
        out.push(timer(self.timers.gossip_interval, TimerKind::Gossip));
        let suspects: Vec<SocketAddr> =
            self.members.values().filter(|m| matches!(m.state, State::Suspect(_))).map(|m| m.peer.addr).collect();
        for addr in suspects {
            self.send(out, addr, &Body::Gossip);
        }
        if self.broadcasts.is_empty() {
            return;
        }
        let healthy: Vec<SocketAddr> =
            self.members.values().filter(|m| matches!(m.state, State::Alive)).map(|m| m.peer.addr).collect();
        for addr in self.pick(&healthy, self.timers.gossip_fanout) {
            self.send(out, addr, &Body::Gossip);
        }
    }

    /// Our whole table (and ourselves), for a member that joins or asks to resynchronise.
    fn send_table(&mut self, out: &mut Vec<Output>, to: SocketAddr) {
        let table: Vec<Update> = self.members.values().map(Member::update).collect();
        let limit = self.payload_limit();
        let mut rest: &[Update] = &table;
        loop {
            let refs: Vec<&Update> = rest.iter().collect();
            let (bytes, count) = Message::encode(&self.me, &Body::Gossip, &refs, limit);
            self.push_sealed(out, to, &bytes);
            rest = &rest[count.max(1).min(rest.len())..];
            if rest.is_empty() {
                break;
            }
        }
    }

    fn join_seeds(&mut self, out: &mut Vec<Output>) {
        let present: BTreeSet<SocketAddr> =
            self.members.values().filter(|m| m.state.is_live()).map(|m| m.peer.addr).collect();
        let absent: Vec<SocketAddr> = self.seeds.iter().copied().filter(|s| !present.contains(s)).collect();
        for seed in absent {
            self.send(out, seed, &Body::Join);
        }
    }

    fn forget_old(&mut self, now: Instant) {
        self.members.retain(|_, m| m.state.is_live() || now.saturating_duration_since(m.since) < FORGET_AFTER);
    }

    /// Sends `body` to `to` with as many pending updates as fit; news about the recipient
    /// itself (a suspicion or death it must refute) goes first.
    fn send(&mut self, out: &mut Vec<Output>, to: SocketAddr, body: &Body) {
        self.send_with(out, to, body, &[]);
    }

    fn send_with(&mut self, out: &mut Vec<Output>, to: SocketAddr, body: &Body, first: &[&Update]) {
        let recipient = self.members.values().find(|m| m.peer.addr == to);
        let about_recipient = recipient.filter(|m| !matches!(m.state, State::Alive)).map(Member::update);
        let skip = recipient.map(|m| m.peer.name.clone());
        let queued = self.broadcasts.next(None);
        let mut updates: Vec<&Update> = first.to_vec();
        updates.extend(about_recipient.iter());
        updates.extend(queued.iter().filter(|u| about_recipient.is_none() || Some(&u.peer.name) != skip.as_ref()));
        let (bytes, count) = Message::encode(&self.me, body, &updates, self.payload_limit());
        let sent: Vec<&str> = updates[..count].iter().map(|u| u.peer.name.as_str()).collect();
        let limit = self.timers.max_transmissions(self.names.len() + 1);
        self.broadcasts.sent(sent, limit);
        self.push_sealed(out, to, &bytes);
    }

    fn push_sealed(&mut self, out: &mut Vec<Output>, to: SocketAddr, plain: &[u8]) {
        self.counters.datagrams_out += 1;
        out.push(Output::Send { to, bytes: self.sealer.seal(plain) });
    }

    fn payload_limit(&self) -> usize {
        self.timers.max_datagram.saturating_sub(ENVELOPE_OVERHEAD)
    }

    /// The next member to probe: one suspected by others first, then round-robin over the
    /// live members in an order reshuffled every round.
    fn next_target(&mut self) -> Option<Peer> {
        while let Some(name) = self.urgent.pop_front() {
            if let Some(m) = self.members.get(&name).filter(|m| m.state.is_live()) {
                return Some(m.peer.clone());
            }
        }
        for _ in 0..2 {
            while let Some(name) = self.order.pop() {
                if let Some(m) = self.members.get(&name).filter(|m| m.state.is_live()) {
                    return Some(m.peer.clone());
                }
            }
            let mut names: Vec<String> =
                self.members.values().filter(|m| m.state.is_live()).map(|m| m.peer.name.clone()).collect();
            self.rng.shuffle(&mut names);
            self.order = names;
        }
        None
    }

    /// Addresses of live members other than `except`, in no particular order.
    fn live_peers(&self, except: Option<&str>) -> Vec<SocketAddr> {
        self.members
            .values()
            .filter(|m| matches!(m.state, State::Alive) && Some(m.peer.name.as_str()) != except)
            .map(|m| m.peer.addr)
            .collect()
    }

    /// Up to `k` of `from`, chosen at random.
    fn pick(&mut self, from: &[SocketAddr], k: usize) -> Vec<SocketAddr> {
        let mut all = from.to_vec();
        self.rng.shuffle(&mut all);
        all.truncate(k);
        all
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn sync_names(&mut self, out: &mut Vec<Output>, now: Instant) {
        let live: BTreeSet<String> =
            self.members.values().filter(|m| m.state.is_live()).map(|m| m.peer.name.clone()).collect();
        if live == self.names {
            return;
        }
        for gone in self.names.difference(&live) {
            // its next boot may carry an older generation (a clock set back): hear it
            self.sealer.forget(gone);
            if self.members.get(gone).is_some_and(|m| matches!(m.state, State::Left)) {
                self.counters.member_left += 1;
                out.push(Output::MemberLeft(gone.clone()));
            } else {
                self.counters.member_down += 1;
                out.push(Output::MemberDown(gone.clone()));
            }
        }
        for new in live.difference(&self.names) {
            self.counters.member_up += 1;
            out.push(Output::MemberUp(new.clone()));
        }
        self.names = live;
        self.last_change = Some(now);
    }
}

fn timer(after: Duration, kind: TimerKind) -> Output {
    Output::SetTimer { after, timer: Timer(kind) }
}

/// What the sealer puts in every header: our name and what makes this boot's nonces unique.
fn sealer_identity(name: &str, boot: &Boot) -> Sender {
    let mut random = [0; 8];
    random.copy_from_slice(&boot.nonce_salt[..8]);
    Sender { name: name.to_owned(), generation: boot.generation, random }
}

/// A small deterministic generator (SplitMix64) for choosing probe targets and relays: the
/// choices need to be spread, not secret, and tests replay them from the boot's seed.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Fisher-Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(name: &str, port: u16) -> Engine {
        let config = EngineConfig {
            name: name.into(),
            advertise: SocketAddr::from(([10, 0, 0, 1], port)),
            timers: Timers::default(),
        };
        Engine::new(config, None, Boot { generation: 5, rng_seed: 1, nonce_salt: [0; 16] }).unwrap()
    }

    #[test]
    fn an_empty_or_overlong_name_is_rejected() {
        let boot = Boot { generation: 1, rng_seed: 1, nonce_salt: [0; 16] };
        for name in [String::new(), "x".repeat(254)] {
            let config = EngineConfig { name, advertise: "127.0.0.1:1".parse().unwrap(), timers: Timers::default() };
            assert!(matches!(Engine::new(config, None, boot.clone()), Err(EngineError::Name)));
        }
    }

    #[test]
    fn a_suspicion_of_our_current_boot_is_refuted_with_a_higher_incarnation_and_answered_directly() {
        let mut a = engine("a", 1);
        let b = Peer { name: "b".into(), addr: "10.0.0.2:1".parse().unwrap(), generation: 1, incarnation: 0 };
        let about_a = Update { peer: a.me.clone(), status: Status::Suspect { accuser: "b".into() } };
        let (plain, _) = Message::encode(&b, &Body::Gossip, &[&about_a], 1400);
        let mut datagram = vec![b'P'];
        datagram.extend_from_slice(&plain);
        let out = a.handle_datagram(b.addr, &datagram, Instant::now());
        assert_eq!(a.incarnation(), 1);
        assert_eq!(a.counters().refutations, 1);
        assert!(out.iter().any(|o| matches!(o, Output::Send { to, .. } if *to == b.addr)), "{out:?}");
        // a stale suspicion (older incarnation, or an earlier boot) changes nothing
        for peer in [Peer { incarnation: 0, ..a.me.clone() }, Peer { generation: 4, incarnation: 9, ..a.me.clone() }] {
            let stale = Update { peer, status: Status::Dead };
            let b2 = Peer { incarnation: 1, ..b.clone() };
            let (plain, _) = Message::encode(&b2, &Body::Gossip, &[&stale], 1400);
            let mut datagram = vec![b'P'];
            datagram.extend_from_slice(&plain);
            a.handle_datagram(b.addr, &datagram, Instant::now());
            assert_eq!(a.incarnation(), 1);
        }
    }

    #[test]
    fn the_shuffle_is_a_permutation() {
        let mut rng = SplitMix(7);
        let mut items: Vec<u32> = (0..50).collect();
        rng.shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(items, sorted);
    }
}
