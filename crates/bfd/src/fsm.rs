//! One BFD session in Asynchronous mode (RFC 5880 §6.1, §6.8), sans-IO: [`Fsm::process`]
//! takes one [`Input`] (start, stop, a received packet already validated and demultiplexed,
//! a timer expiry, new timer settings) and returns the [`Output`]s the driver must carry
//! out, in order. Timers are outputs, so every transition is tested as a transcript
//! without sockets or clocks (docs/design.md, Pure core, thin shell).
//!
//! ```text
//!                             +--+
//!                             |  | UP, ADMIN DOWN, TIMER
//!                             |  V
//!                     DOWN  +------+  INIT
//!              +------------|      |------------+
//!              |            | DOWN |            |
//!              |  +-------->|      |<--------+  |
//!              |  |         +------+         |  |
//!              |  |                          |  |
//!              |  |               ADMIN DOWN,|  |
//!              |  |ADMIN DOWN,          DOWN,|  |
//!              |  |TIMER                TIMER|  |
//!              V  |                          |  V
//!            +------+                      +------+
//!       +----|      |                      |      |----+
//!   DOWN|    | INIT |--------------------->|  UP  |    |INIT, UP
//!       +--->|      | INIT, UP             |      |<---+
//!            +------+                      +------+
//! ```
//!
//! (RFC 5880 §6.2; the labels are the state the remote system reports.) Demand mode is not
//! implemented: ferrolb never asks for it, and a peer in Demand mode is served as RFC 5880
//! §6.8.7 requires (periodic transmission stops while both sides are Up).
//!
//! The Echo function (RFC 5880 §6.4, §6.8.9) runs when [`FsmConfig::echo`] is set (a
//! BFDProfile with `echoMode: true` on a single-hop IPv4 session): the session advertises
//! that interval as its Required Min Echo RX Interval, so the peer may loop its echoes
//! through this node, and once Up, while the peer advertises a non-zero one, it asks the
//! driver for an echo ([`Output::SendEcho`]) every `max(ours, peer's)` interval. When none
//! of them comes back ([`Input::EchoReturned`]) for `detectMultiplier` intervals the session
//! goes Down with diagnostic Echo Function Failed. While echo runs, the control packets
//! slow to [`SLOW_TX`] (RFC 5880 §6.8.9: the echoes do the detecting), negotiated with a
//! Poll Sequence like any change of `bfd.DesiredMinTxInterval` while Up.

use std::time::Duration;

use crate::packet::{ControlPacket, Diagnostic, State, micros};

/// While a session is not Up, the transmit interval is at least one second (RFC 5880
/// §6.8.3), so that sessions that never come up cost little.
pub const SLOW_TX: Duration = Duration::from_secs(1);

/// The two timers a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// When the next periodic Control packet is due (RFC 5880 §6.8.7).
    Transmit,
    /// When the remote system is declared dead if nothing arrives (RFC 5880 §6.8.4).
    Detection,
    /// When the next echo is due (RFC 5880 §6.8.9).
    EchoTransmit,
    /// When the path is declared failed if no echo of ours has come back (RFC 5880 §6.4).
    EchoDetection,
}

/// The local timer settings of a session (a BFDProfile's `transmitInterval`,
/// `receiveInterval` and `detectMultiplier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timers {
    /// `bfd.DesiredMinTxInterval` once the session is Up.
    pub desired_min_tx: Duration,
    /// `bfd.RequiredMinRxInterval`; zero asks the remote system not to send at all.
    pub required_min_rx: Duration,
    /// `bfd.DetectMult`; never zero.
    pub detect_multiplier: u8,
}

/// Everything a session needs that does not change while it runs, except [`Timers`],
/// which [`Input::SetTimers`] may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsmConfig {
    /// `bfd.LocalDiscr`: non-zero and unique among this system's sessions (RFC 5880 §6.8.1).
    pub local_discriminator: u32,
    pub timers: Timers,
    /// Passive role (RFC 5880 §6.1, BFDProfile `passiveMode`): send nothing until the
    /// remote system's discriminator is known from a received packet.
    pub passive: bool,
    /// Seeds the transmit jitter (RFC 5880 §6.8.7); `None` disables jitter, which only
    /// tests should do.
    pub jitter_seed: Option<u64>,
    /// The echo interval when the Echo function is wanted (BFDProfile `echoMode: true`,
    /// `echoInterval`): our desired echo transmit interval and the Required Min Echo RX
    /// Interval we advertise. `None`: no echo, and zero advertised. Never zero.
    pub echo: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Leave AdminDown for Down and start transmitting (unless passive).
    Start,
    /// Go to AdminDown with diagnostic Administratively Down (RFC 5880 §6.8.16) and tell
    /// the remote system at once.
    Stop,
    /// A packet that passed [`ControlPacket::decode`] and was demultiplexed to this
    /// session (RFC 5880 §6.3).
    Received(ControlPacket),
    TimerExpired(Timer),
    /// New local timer settings; while Up they are negotiated with a Poll Sequence
    /// (RFC 5880 §6.8.3).
    SetTimers(Timers),
    /// One of this session's echoes came back through the peer's forwarding plane (the
    /// driver matched its discriminator).
    EchoReturned,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send(ControlPacket),
    /// (Re)arm the timer to fire after the duration; replaces any earlier deadline.
    ArmTimer(Timer, Duration),
    CancelTimer(Timer),
    /// Send one echo packet now (RFC 5880 §6.4).
    SendEcho,
    /// The session reached Up.
    Up,
    /// The session left Up, for this reason.
    Down(Diagnostic),
}

/// The state of one session: the RFC 5880 §6.8.1 variables plus the intervals in use
/// while a Poll Sequence is outstanding.
#[derive(Debug, Clone)]
pub struct Fsm {
    config: FsmConfig,
    state: State,
    remote_state: State,
    remote_discriminator: u32,
    local_diagnostic: Diagnostic,
    remote_min_rx: Duration,
    remote_desired_min_tx: Duration,
    remote_detect_multiplier: u8,
    remote_demand: bool,
    /// A packet from the remote system has been seen since the last detection expiry.
    heard: bool,
    /// The Transmit timer is armed.
    transmitting: bool,
    /// The transmit interval (before jitter) the Transmit timer was last armed with: when a
    /// received packet makes the negotiated interval shorter, the timer is armed again so
    /// that the remote system, whose detection time now follows the shorter interval, does
    /// not wait for the packet due at the old pace.
    armed_interval: Duration,
    /// Our Poll Sequence is outstanding: periodic packets carry P until a Final arrives.
    polling: bool,
    /// The desired min TX used for our own transmit interval: an increase waits for the
    /// Final (RFC 5880 §6.8.3).
    tx_in_use: Duration,
    /// The required min RX used for the detection time: a decrease waits for the Final.
    rx_in_use: Duration,
    /// The peer's Required Min Echo RX Interval; zero: it takes no echoes.
    remote_echo_rx: Duration,
    /// The echo transmit interval while the Echo function is active.
    echo_active: Option<Duration>,
    rng: Option<u64>,
}

impl Fsm {
    /// A session in AdminDown; [`Input::Start`] brings it to Down.
    pub fn new(config: FsmConfig) -> Self {
        let rng = config.jitter_seed.map(|seed| {
            // The splitmix64 finalizer spreads nearby seeds apart; xorshift needs non-zero.
            let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)).max(1)
        });
        let mut fsm = Self {
            state: State::AdminDown,
            remote_state: State::Down,
            remote_discriminator: 0,
            local_diagnostic: Diagnostic::None,
            remote_min_rx: Duration::from_micros(1),
            remote_desired_min_tx: Duration::ZERO,
            remote_detect_multiplier: 0,
            remote_demand: false,
            heard: false,
            transmitting: false,
            armed_interval: Duration::ZERO,
            polling: false,
            tx_in_use: Duration::ZERO,
            rx_in_use: Duration::ZERO,
            remote_echo_rx: Duration::ZERO,
            echo_active: None,
            rng,
            config,
        };
        fsm.tx_in_use = fsm.desired_min_tx();
        fsm.rx_in_use = fsm.config.timers.required_min_rx;
        fsm
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// `bfd.LocalDiag`: why the session last went down (None while Up).
    pub fn diagnostic(&self) -> Diagnostic {
        self.local_diagnostic
    }

    pub fn remote_state(&self) -> State {
        self.remote_state
    }

    pub fn local_discriminator(&self) -> u32 {
        self.config.local_discriminator
    }

    /// `bfd.RemoteDiscr`: zero until a packet arrives and again after a detection expiry.
    pub fn remote_discriminator(&self) -> u32 {
        self.remote_discriminator
    }

    pub fn timers(&self) -> Timers {
        self.config.timers
    }

    /// A Poll Sequence of ours is outstanding.
    pub fn polling(&self) -> bool {
        self.polling
    }

    /// The echo transmit interval while the Echo function runs (RFC 5880 §6.8.9): the
    /// larger of ours and the peer's Required Min Echo RX Interval.
    pub fn echo_interval(&self) -> Option<Duration> {
        self.echo_active
    }

    /// How long echoes may stay away before the session goes Down: the detect multiplier
    /// times the echo interval; `None` while echo does not run.
    pub fn echo_detection_time(&self) -> Option<Duration> {
        self.echo_active.map(|interval| interval.saturating_mul(u32::from(self.config.timers.detect_multiplier)))
    }

    /// The negotiated transmit interval before jitter (RFC 5880 §6.8.2, §6.8.7): the
    /// larger of our desired min TX (in use) and the remote system's required min RX.
    pub fn transmit_interval(&self) -> Duration {
        self.tx_in_use.max(self.remote_min_rx)
    }

    /// The detection time in Asynchronous mode (RFC 5880 §6.8.4): the remote detect
    /// multiplier times the larger of our required min RX (in use) and the remote
    /// system's desired min TX. Zero until a packet has been received.
    pub fn detection_time(&self) -> Duration {
        self.rx_in_use
            .max(self.remote_desired_min_tx)
            .checked_mul(u32::from(self.remote_detect_multiplier))
            .unwrap_or(Duration::MAX)
    }

    pub fn process(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Start => {
                if self.state == State::AdminDown {
                    self.state = State::Down;
                    self.local_diagnostic = Diagnostic::None;
                    self.apply_desired_tx();
                    self.transmit_now(&mut out);
                }
            }
            Input::Stop => {
                if self.state != State::AdminDown {
                    let was_up = self.state == State::Up;
                    self.state = State::AdminDown;
                    self.local_diagnostic = Diagnostic::AdministrativelyDown;
                    self.polling = false;
                    self.stop_echo(&mut out);
                    self.apply_desired_tx();
                    if was_up {
                        out.push(Output::Down(Diagnostic::AdministrativelyDown));
                    }
                    out.push(Output::CancelTimer(Timer::Detection));
                    self.transmit_now(&mut out);
                }
            }
            Input::Received(packet) => self.receive(packet, &mut out),
            Input::TimerExpired(Timer::Transmit) => {
                self.transmitting = false;
                self.transmit_now(&mut out);
            }
            Input::TimerExpired(Timer::Detection) => self.detection_expired(&mut out),
            Input::TimerExpired(Timer::EchoTransmit) => {
                if let Some(interval) = self.echo_active {
                    out.push(Output::SendEcho);
                    let next = self.jittered(interval);
                    out.push(Output::ArmTimer(Timer::EchoTransmit, next));
                }
            }
            Input::TimerExpired(Timer::EchoDetection) => {
                if self.echo_active.is_some() && self.state == State::Up {
                    self.go_down(Diagnostic::EchoFunctionFailed, &mut out);
                    self.transmit_now(&mut out);
                }
            }
            Input::EchoReturned => {
                if let Some(detection) = self.echo_detection_time() {
                    out.push(Output::ArmTimer(Timer::EchoDetection, detection));
                }
            }
            Input::SetTimers(timers) => self.set_timers(timers, &mut out),
        }
        out
    }

    /// RFC 5880 §6.8.6, after the checks [`ControlPacket::decode`] makes.
    fn receive(&mut self, packet: ControlPacket, out: &mut Vec<Output>) {
        if self.state == State::AdminDown {
            return;
        }
        self.remote_discriminator = packet.my_discriminator;
        self.remote_state = packet.state;
        self.remote_demand = packet.demand;
        self.remote_min_rx = packet.required_min_rx();
        self.remote_desired_min_tx = packet.desired_min_tx();
        self.remote_detect_multiplier = packet.detect_multiplier;
        self.remote_echo_rx = Duration::from_micros(packet.required_min_echo_rx.into());
        self.heard = true;
        if packet.final_ && self.polling {
            self.polling = false;
            self.tx_in_use = self.desired_min_tx();
            self.rx_in_use = self.config.timers.required_min_rx;
        }

        let before = self.state;
        match (self.state, packet.state) {
            (State::Down | State::AdminDown, State::AdminDown) => {}
            (_, State::AdminDown) => self.go_down(Diagnostic::NeighborSignaledSessionDown, out),
            (State::Down, State::Down) => self.state = State::Init,
            (State::Down, State::Init) | (State::Init, State::Init | State::Up) => self.go_up(out),
            (State::Up, State::Down) => self.go_down(Diagnostic::NeighborSignaledSessionDown, out),
            _ => {}
        }

        let detection = self.detection_time();
        if detection.is_zero() {
            out.push(Output::CancelTimer(Timer::Detection));
        } else {
            out.push(Output::ArmTimer(Timer::Detection, detection));
        }

        let echo_changed = self.update_echo(out);

        if packet.poll {
            out.push(Output::Send(ControlPacket { poll: false, final_: true, ..self.packet() }));
        }
        if self.state != before || !self.transmitting || echo_changed {
            self.transmit_now(out);
        } else {
            self.rearm_if_sooner(out);
        }
    }

    /// Arms the Transmit timer again when the negotiated interval is now shorter than the one
    /// it was armed with. The typical case: we went Up while the remote system still asked
    /// for packets no faster than its slow start rate (Required Min RX of 1 s), armed the
    /// timer for a second, and its next packet, Up, asks for the configured rate; it then
    /// expects our packets at that rate (its detection time is our multiplier times it), and
    /// one due a second later makes it declare the session Down. The next packet comes one
    /// new interval from now, never sooner than the rate both sides agreed (RFC 5880 §6.8.7).
    fn rearm_if_sooner(&mut self, out: &mut Vec<Output>) {
        if !self.transmitting || !self.may_transmit() {
            return;
        }
        let interval = self.transmit_interval();
        if interval < self.armed_interval {
            self.armed_interval = interval;
            let next = self.jittered(interval);
            out.push(Output::ArmTimer(Timer::Transmit, next));
        }
    }

    /// Starts, retimes or stops the Echo function after what the peer said or a change of
    /// state (RFC 5880 §6.8.9): it runs while the session is Up, echo is configured and the
    /// peer's Required Min Echo RX Interval is non-zero, at the larger of the two intervals.
    /// Starting and stopping change `bfd.DesiredMinTxInterval` (see [`Fsm::desired_min_tx`]):
    /// the change starts a Poll Sequence, and a decrease applies at once. Returns whether
    /// the echo state changed (a control packet should then go out now).
    fn update_echo(&mut self, out: &mut Vec<Output>) -> bool {
        let wanted = match self.config.echo {
            Some(ours) if self.state == State::Up && !self.remote_echo_rx.is_zero() => {
                Some(ours.max(self.remote_echo_rx))
            }
            _ => None,
        };
        if wanted == self.echo_active {
            return false;
        }
        let old_tx = self.desired_min_tx();
        match wanted {
            None => self.stop_echo(out),
            Some(interval) => {
                self.echo_active = Some(interval);
                out.push(Output::SendEcho);
                let next = self.jittered(interval);
                out.push(Output::ArmTimer(Timer::EchoTransmit, next));
                if let Some(detection) = self.echo_detection_time() {
                    out.push(Output::ArmTimer(Timer::EchoDetection, detection));
                }
            }
        }
        if self.state == State::Up && self.desired_min_tx() != old_tx {
            self.polling = true;
            self.tx_in_use = self.tx_in_use.min(self.desired_min_tx());
        }
        true
    }

    fn stop_echo(&mut self, out: &mut Vec<Output>) {
        if self.echo_active.take().is_some() {
            out.push(Output::CancelTimer(Timer::EchoTransmit));
            out.push(Output::CancelTimer(Timer::EchoDetection));
        }
    }

    fn detection_expired(&mut self, out: &mut Vec<Output>) {
        if !self.heard {
            return;
        }
        self.heard = false;
        self.remote_discriminator = 0;
        self.remote_state = State::Down;
        self.remote_demand = false;
        if matches!(self.state, State::Init | State::Up) {
            self.go_down(Diagnostic::ControlDetectionTimeExpired, out);
            self.transmit_now(out);
        }
    }

    fn set_timers(&mut self, timers: Timers, out: &mut Vec<Output>) {
        let old_rx = self.config.timers.required_min_rx;
        let old_tx = self.desired_min_tx();
        self.config.timers = timers;
        if self.state == State::Up && (old_tx != self.desired_min_tx() || old_rx != timers.required_min_rx) {
            self.polling = true;
            self.tx_in_use = self.tx_in_use.min(self.desired_min_tx());
            self.rx_in_use = self.rx_in_use.max(timers.required_min_rx);
        } else if self.state != State::Up {
            self.apply_desired_tx();
            self.rx_in_use = timers.required_min_rx;
        }
        if self.state != State::AdminDown {
            self.transmit_now(out);
        }
    }

    fn go_up(&mut self, out: &mut Vec<Output>) {
        self.state = State::Up;
        self.local_diagnostic = Diagnostic::None;
        // Leaving the slow start rate changes bfd.DesiredMinTxInterval while Up: a Poll
        // Sequence tells the remote system (RFC 5880 §6.8.3). A decrease applies at once.
        if self.desired_min_tx() != self.tx_in_use {
            self.polling = true;
            self.tx_in_use = self.tx_in_use.min(self.desired_min_tx());
        }
        out.push(Output::Up);
    }

    fn go_down(&mut self, diagnostic: Diagnostic, out: &mut Vec<Output>) {
        let was_up = self.state == State::Up;
        self.state = State::Down;
        self.local_diagnostic = diagnostic;
        self.polling = false;
        self.stop_echo(out);
        self.apply_desired_tx();
        self.rx_in_use = self.config.timers.required_min_rx;
        if was_up {
            out.push(Output::Down(diagnostic));
        }
    }

    /// `bfd.DesiredMinTxInterval`: the configured value while Up, at least [`SLOW_TX`]
    /// otherwise (RFC 5880 §6.8.3) and while the Echo function runs (RFC 5880 §6.8.9).
    fn desired_min_tx(&self) -> Duration {
        if self.state == State::Up && self.echo_active.is_none() {
            self.config.timers.desired_min_tx
        } else {
            self.config.timers.desired_min_tx.max(SLOW_TX)
        }
    }

    fn apply_desired_tx(&mut self) {
        self.tx_in_use = self.desired_min_tx();
    }

    /// Whether periodic transmission runs (RFC 5880 §6.8.7): not in the passive role
    /// before the remote discriminator is known, not while the remote system asks for
    /// nothing (required min RX zero), not while the remote system runs Demand mode and
    /// both sides are Up.
    fn may_transmit(&self) -> bool {
        let passive_and_unheard = self.config.passive && self.remote_discriminator == 0;
        let remote_in_demand = self.remote_demand && self.state == State::Up && self.remote_state == State::Up;
        !passive_and_unheard && !self.remote_min_rx.is_zero() && !remote_in_demand
    }

    /// Sends a packet now and arms the Transmit timer for the next, or cancels it when
    /// transmission must not run.
    fn transmit_now(&mut self, out: &mut Vec<Output>) {
        if !self.may_transmit() {
            if self.transmitting {
                self.transmitting = false;
                out.push(Output::CancelTimer(Timer::Transmit));
            }
            return;
        }
        out.push(Output::Send(self.packet()));
        self.armed_interval = self.transmit_interval();
        let interval = self.jittered(self.armed_interval);
        self.transmitting = true;
        out.push(Output::ArmTimer(Timer::Transmit, interval));
    }

    /// The interval reduced by a random 0-25 %, or 10-25 % with a detect multiplier of
    /// one (RFC 5880 §6.8.7).
    fn jittered(&mut self, interval: Duration) -> Duration {
        let Some(state) = self.rng.as_mut() else {
            return interval;
        };
        // xorshift64*: enough to decorrelate transmissions, and reproducible from a seed.
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let random = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32;
        let (low, high) = if self.config.timers.detect_multiplier == 1 { (10, 25) } else { (0, 25) };
        let reduction_permille = low * 10 + random % ((high - low) * 10 + 1);
        interval.checked_mul(1000 - reduction_permille as u32).map_or(interval, |scaled| scaled / 1000)
    }

    /// The packet this session sends now (RFC 5880 §6.8.7).
    pub fn packet(&self) -> ControlPacket {
        ControlPacket {
            diagnostic: self.local_diagnostic,
            state: self.state,
            poll: self.polling,
            final_: false,
            control_plane_independent: false,
            demand: false,
            detect_multiplier: self.config.timers.detect_multiplier,
            my_discriminator: self.config.local_discriminator,
            your_discriminator: self.remote_discriminator,
            desired_min_tx: micros(self.desired_min_tx()),
            required_min_rx: micros(self.config.timers.required_min_rx),
            required_min_echo_rx: self.config.echo.map_or(0, micros),
        }
    }
}
