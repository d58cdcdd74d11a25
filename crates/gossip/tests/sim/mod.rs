//! The membership engine in a simulated network: virtual time, an event queue, seeded loss.
//! No sockets, no sleeping; addresses are only labels. Shared by the engine tests and the
//! detection-time benchmark.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrolb_gossip::{Boot, Engine, EngineConfig, Key, Output, Timer, Timers};

pub const LATENCY: Duration = Duration::from_micros(500);

pub enum Event {
    Deliver { to: usize, from: usize, bytes: Vec<u8> },
    Fire { node: usize, timer: Timer },
}

/// A membership change seen by one node, at a virtual time.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub at: Duration,
    pub node: usize,
    pub output: Output,
}

pub struct Sim {
    pub base: Instant,
    pub now: Duration,
    pub seq: u64,
    pub queue: BinaryHeap<Reverse<(Duration, u64)>>,
    pub events: std::collections::HashMap<u64, Event>,
    pub nodes: Vec<Option<Engine>>,
    /// Per-node generation, bumped on restart.
    pub generations: Vec<u64>,
    pub keys: Vec<Option<Key>>,
    /// Pairs (from, to) whose datagrams are dropped.
    pub cut: HashSet<(usize, usize)>,
    pub loss: f64,
    pub rng: u64,
    pub changes: Vec<Change>,
    /// Datagrams delivered while recording: (to, from, bytes), as an eavesdropper saw them.
    pub recorded: Option<Vec<(usize, usize, Vec<u8>)>>,
    /// The timers every node boots with.
    pub timers: Timers,
}

pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 17000 + i as u16))
}

pub fn name(i: usize) -> String {
    format!("node-{i}")
}

pub fn names(ids: &[usize]) -> BTreeSet<String> {
    ids.iter().map(|&i| name(i)).collect()
}

impl Sim {
    pub fn new(n: usize, seed: u64) -> Self {
        let key = Key::derive(b"cluster secret").unwrap();
        let mut sim = Self {
            base: Instant::now(),
            now: Duration::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            events: Default::default(),
            nodes: (0..n).map(|_| None).collect(),
            generations: vec![1; n],
            keys: vec![Some(key); n],
            cut: HashSet::new(),
            loss: 0.0,
            rng: seed | 1,
            changes: Vec::new(),
            recorded: None,
            timers: Timers::default(),
        };
        for i in 0..n {
            sim.boot(i);
        }
        sim
    }

    pub fn random(&mut self) -> f64 {
        // xorshift64*: the loss pattern is part of the seed.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn boot(&mut self, i: usize) {
        let timers = self.timers.clone();
        let config = EngineConfig { name: name(i), advertise: addr(i), timers };
        let boot = Boot { generation: self.generations[i], rng_seed: self.rng ^ i as u64, nonce_salt: [i as u8; 16] };
        self.nodes[i] = Some(Engine::new(config, self.keys[i].as_ref(), boot).unwrap());
    }

    pub fn join_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.join(i);
        }
    }

    pub fn join(&mut self, i: usize) {
        let seeds: Vec<SocketAddr> = (0..self.nodes.len()).map(addr).collect();
        let out = self.nodes[i].as_mut().unwrap().join(seeds);
        self.apply(i, out);
    }

    pub fn schedule(&mut self, after: Duration, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((self.now + after, self.seq)));
        self.events.insert(self.seq, event);
    }

    pub fn apply(&mut self, node: usize, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send { to, bytes } => {
                    let to = usize::from(to.port() - 17000);
                    if self.cut.contains(&(node, to)) || (self.loss > 0.0 && self.random() < self.loss) {
                        continue;
                    }
                    self.schedule(LATENCY, Event::Deliver { to, from: node, bytes });
                }
                Output::SetTimer { after, timer } => self.schedule(after, Event::Fire { node, timer }),
                Output::Dropped { .. } => {}
                change => self.changes.push(Change { at: self.now, node, output: change }),
            }
        }
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while let Some(&Reverse((at, seq))) = self.queue.peek() {
            if at > until {
                break;
            }
            self.queue.pop();
            self.now = at;
            let event = self.events.remove(&seq).unwrap();
            let now = self.base + self.now;
            let (node, out) = match event {
                Event::Deliver { to, from, bytes } => {
                    let Some(engine) = self.nodes[to].as_mut() else { continue };
                    if let Some(recorded) = self.recorded.as_mut() {
                        recorded.push((to, from, bytes.clone()));
                    }
                    (to, engine.handle_datagram(addr(from), &bytes, now))
                }
                Event::Fire { node, timer } => {
                    let Some(engine) = self.nodes[node].as_mut() else { continue };
                    (node, engine.handle_timer(timer, now))
                }
            };
            self.apply(node, out);
        }
        self.now = until;
    }

    /// Stops a node without a word (kill -9): its pending timers and datagrams vanish.
    pub fn crash(&mut self, i: usize) {
        self.nodes[i] = None;
    }

    pub fn restart(&mut self, i: usize) {
        self.generations[i] += 1;
        self.boot(i);
        self.join(i);
    }

    pub fn leave(&mut self, i: usize) {
        let out = self.nodes[i].as_mut().unwrap().leave();
        self.apply(i, out);
    }

    pub fn partition(&mut self, a: &[usize], b: &[usize]) {
        for &x in a {
            for &y in b {
                self.cut.insert((x, y));
                self.cut.insert((y, x));
            }
        }
    }

    pub fn members(&self, i: usize) -> BTreeSet<String> {
        self.nodes[i].as_ref().unwrap().members()
    }

    pub fn engine(&self, i: usize) -> &Engine {
        self.nodes[i].as_ref().unwrap()
    }

    pub fn changes_about(&self, who: usize) -> Vec<Change> {
        self.changes
            .iter()
            .filter(|c| match &c.output {
                Output::MemberUp(n) | Output::MemberDown(n) | Output::MemberLeft(n) => *n == name(who),
                _ => false,
            })
            .cloned()
            .collect()
    }

    pub fn downs_since(&self, since: Duration) -> Vec<Change> {
        self.changes.iter().filter(|c| c.at >= since && matches!(c.output, Output::MemberDown(_))).cloned().collect()
    }
}
