//! The BFD Control packet (RFC 5880 §4.1) without authentication, and its reception checks
//! (RFC 5880 §6.8.6). Decoding is a pure function from bytes to [`ControlPacket`] or a
//! [`DecodeError`] whose [`DecodeError::reason`] the driver counts; it never panics.

use std::fmt;
use std::time::Duration;

/// The protocol version this crate speaks (RFC 5880 §4.1).
pub const VERSION: u8 = 1;
/// Length of a Control packet without an Authentication Section.
pub const HEADER_LEN: usize = 24;
/// The smallest length of a Control packet with the A bit set: the header and the two
/// fixed octets (Auth Type, Auth Len) of the Authentication Section (RFC 5880 §4.1).
pub const MIN_AUTH_LEN: usize = HEADER_LEN + 2;

/// `bfd.SessionState` and the packet's `Sta` field (RFC 5880 §4.1, §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum State {
    #[default]
    AdminDown,
    Down,
    Init,
    Up,
}

impl State {
    fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0 => Self::AdminDown,
            1 => Self::Down,
            2 => Self::Init,
            _ => Self::Up,
        }
    }

    fn bits(self) -> u8 {
        match self {
            Self::AdminDown => 0,
            Self::Down => 1,
            Self::Init => 2,
            Self::Up => 3,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AdminDown => "AdminDown",
            Self::Down => "Down",
            Self::Init => "Init",
            Self::Up => "Up",
        })
    }
}

/// The Diagnostic field (RFC 5880 §4.1): the local system's reason for the last change in
/// session state. Values 9-31 are reserved; they are kept as received so that a packet
/// re-encodes to the bytes it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Diagnostic {
    #[default]
    None,
    ControlDetectionTimeExpired,
    EchoFunctionFailed,
    NeighborSignaledSessionDown,
    ForwardingPlaneReset,
    PathDown,
    ConcatenatedPathDown,
    AdministrativelyDown,
    ReverseConcatenatedPathDown,
    /// A reserved value (9-31).
    Reserved(u8),
}

impl Diagnostic {
    /// The diagnostic for a 5-bit code; bits above the fifth are ignored.
    pub fn from_code(code: u8) -> Self {
        match code & 0x1f {
            0 => Self::None,
            1 => Self::ControlDetectionTimeExpired,
            2 => Self::EchoFunctionFailed,
            3 => Self::NeighborSignaledSessionDown,
            4 => Self::ForwardingPlaneReset,
            5 => Self::PathDown,
            6 => Self::ConcatenatedPathDown,
            7 => Self::AdministrativelyDown,
            8 => Self::ReverseConcatenatedPathDown,
            other => Self::Reserved(other),
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Self::None => 0,
            Self::ControlDetectionTimeExpired => 1,
            Self::EchoFunctionFailed => 2,
            Self::NeighborSignaledSessionDown => 3,
            Self::ForwardingPlaneReset => 4,
            Self::PathDown => 5,
            Self::ConcatenatedPathDown => 6,
            Self::AdministrativelyDown => 7,
            Self::ReverseConcatenatedPathDown => 8,
            Self::Reserved(code) => code & 0x1f,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("No Diagnostic"),
            Self::ControlDetectionTimeExpired => f.write_str("Control Detection Time Expired"),
            Self::EchoFunctionFailed => f.write_str("Echo Function Failed"),
            Self::NeighborSignaledSessionDown => f.write_str("Neighbor Signaled Session Down"),
            Self::ForwardingPlaneReset => f.write_str("Forwarding Plane Reset"),
            Self::PathDown => f.write_str("Path Down"),
            Self::ConcatenatedPathDown => f.write_str("Concatenated Path Down"),
            Self::AdministrativelyDown => f.write_str("Administratively Down"),
            Self::ReverseConcatenatedPathDown => f.write_str("Reverse Concatenated Path Down"),
            Self::Reserved(code) => write!(f, "Reserved ({code})"),
        }
    }
}

/// A BFD Control packet (RFC 5880 §4.1) without an Authentication Section:
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       My Discriminator                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Your Discriminator                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Desired Min TX Interval                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   Required Min RX Interval                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Required Min Echo RX Interval                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// Version and Length are implied (1 and 24); the A bit is never set because ferrolb does
/// not configure authentication, so a packet carrying it is rejected on decode. Intervals
/// are in microseconds on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlPacket {
    pub diagnostic: Diagnostic,
    pub state: State,
    /// P: the sender asks for a Final (RFC 5880 §6.5).
    pub poll: bool,
    /// F: the answer to a Poll.
    pub final_: bool,
    /// C: the sender's BFD does not share fate with its control plane.
    pub control_plane_independent: bool,
    /// D: the sender wishes to operate in Demand mode.
    pub demand: bool,
    pub detect_multiplier: u8,
    pub my_discriminator: u32,
    pub your_discriminator: u32,
    /// Microseconds.
    pub desired_min_tx: u32,
    /// Microseconds.
    pub required_min_rx: u32,
    /// Microseconds; zero means the sender does not support the Echo function.
    pub required_min_echo_rx: u32,
}

/// Why a received packet was discarded (RFC 5880 §6.8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} bytes is shorter than a BFD Control packet (24)")]
    Truncated(usize),
    #[error("version {0} is not 1")]
    BadVersion(u8),
    #[error("length field {length} is below the minimum of {minimum}")]
    LengthTooShort { length: u8, minimum: u8 },
    #[error("length field {length} exceeds the {payload}-byte payload")]
    LengthExceedsPayload { length: u8, payload: usize },
    #[error("detect multiplier is zero")]
    ZeroDetectMultiplier,
    #[error("multipoint bit is set")]
    Multipoint,
    #[error("my discriminator is zero")]
    ZeroMyDiscriminator,
    #[error("your discriminator is zero in state {0}")]
    ZeroYourDiscriminator(State),
    #[error("authentication present but none is configured")]
    AuthenticationNotConfigured,
}

impl DecodeError {
    /// A stable label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Truncated(_) => "truncated",
            Self::BadVersion(_) => "bad_version",
            Self::LengthTooShort { .. } => "length_too_short",
            Self::LengthExceedsPayload { .. } => "length_exceeds_payload",
            Self::ZeroDetectMultiplier => "zero_detect_multiplier",
            Self::Multipoint => "multipoint",
            Self::ZeroMyDiscriminator => "zero_my_discriminator",
            Self::ZeroYourDiscriminator(_) => "zero_your_discriminator",
            Self::AuthenticationNotConfigured => "authentication_not_configured",
        }
    }
}

const POLL: u8 = 0x20;
const FINAL: u8 = 0x10;
const CPI: u8 = 0x08;
const AUTH: u8 = 0x04;
const DEMAND: u8 = 0x02;
const MULTIPOINT: u8 = 0x01;

impl ControlPacket {
    /// Decodes and validates a received packet in the order of RFC 5880 §6.8.6. Bytes
    /// beyond the Length field are ignored, as the RFC allows a payload longer than the
    /// packet.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
            return Err(DecodeError::Truncated(buf.len()));
        };
        let version = header[0] >> 5;
        if version != VERSION {
            return Err(DecodeError::BadVersion(version));
        }
        let flags = header[1];
        let length = header[3];
        let minimum = if flags & AUTH != 0 { MIN_AUTH_LEN } else { HEADER_LEN };
        if usize::from(length) < minimum {
            return Err(DecodeError::LengthTooShort { length, minimum: minimum as u8 });
        }
        if usize::from(length) > buf.len() {
            return Err(DecodeError::LengthExceedsPayload { length, payload: buf.len() });
        }
        let detect_multiplier = header[2];
        if detect_multiplier == 0 {
            return Err(DecodeError::ZeroDetectMultiplier);
        }
        if flags & MULTIPOINT != 0 {
            return Err(DecodeError::Multipoint);
        }
        let word = |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let my_discriminator = word(4);
        if my_discriminator == 0 {
            return Err(DecodeError::ZeroMyDiscriminator);
        }
        let state = State::from_bits(flags >> 6);
        let your_discriminator = word(8);
        if your_discriminator == 0 && !matches!(state, State::Down | State::AdminDown) {
            return Err(DecodeError::ZeroYourDiscriminator(state));
        }
        if flags & AUTH != 0 {
            return Err(DecodeError::AuthenticationNotConfigured);
        }
        Ok(Self {
            diagnostic: Diagnostic::from_code(header[0]),
            state,
            poll: flags & POLL != 0,
            final_: flags & FINAL != 0,
            control_plane_independent: flags & CPI != 0,
            demand: flags & DEMAND != 0,
            detect_multiplier,
            my_discriminator,
            your_discriminator,
            desired_min_tx: word(12),
            required_min_rx: word(16),
            required_min_echo_rx: word(20),
        })
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = (VERSION << 5) | self.diagnostic.code();
        out[1] = (self.state.bits() << 6)
            | if self.poll { POLL } else { 0 }
            | if self.final_ { FINAL } else { 0 }
            | if self.control_plane_independent { CPI } else { 0 }
            | if self.demand { DEMAND } else { 0 };
        out[2] = self.detect_multiplier;
        out[3] = HEADER_LEN as u8;
        for (i, word) in [
            self.my_discriminator,
            self.your_discriminator,
            self.desired_min_tx,
            self.required_min_rx,
            self.required_min_echo_rx,
        ]
        .into_iter()
        .enumerate()
        {
            out[4 + 4 * i..8 + 4 * i].copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    pub fn desired_min_tx(&self) -> Duration {
        Duration::from_micros(self.desired_min_tx.into())
    }

    pub fn required_min_rx(&self) -> Duration {
        Duration::from_micros(self.required_min_rx.into())
    }
}

/// A duration as a wire interval in microseconds, saturating at `u32::MAX` (~71 minutes).
pub fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}
