//! BGP-4 message codec for ferrolb's native speaker: pure functions from bytes to typed
//! messages and back, with no sockets, clocks or async runtime, so the session FSM and the
//! tokio driver can be tested and fuzzed apart from the network (docs/design.md, Pure core,
//! thin shell).
//!
//! Covered: the header and framing (RFC 4271 §4.1), OPEN with multiprotocol (RFC 4760),
//! route refresh (RFC 2918), graceful restart (RFC 4724) and 4-octet AS (RFC 6793)
//! capabilities, UPDATE with the attributes a route originator needs (including RFC 1997
//! and RFC 8092 communities and IPv6 via MP_REACH_NLRI), KEEPALIVE, NOTIFICATION with
//! RFC 9003 shutdown communication, ROUTE-REFRESH, and [`UpdatePacker`], which fills each
//! UPDATE with as many prefixes as fit.
//!
//! On top of the codec: the session state machine ([`fsm`], RFC 4271 §8, sans-IO: inputs
//! in, outputs including timers out), the Adj-RIB-Out ([`rib`], desired table to packed
//! UPDATEs), and, with the `driver` feature (default), the tokio task per peer that does
//! the I/O for both (`session::Session`).
//!
//! Decode errors are NOTIFICATION codes (RFC 4271 §6) classified by RFC 7606 into session
//! reset and treat-as-withdraw; decoding never panics and allocates at most in proportion
//! to its input.
#![forbid(unsafe_code)]

pub mod attributes;
pub mod error;
pub mod fsm;
pub mod header;
#[cfg(feature = "driver")]
pub mod listener;
pub mod nlri;
pub mod notification;
pub mod open;
pub mod pack;
pub mod peer;
pub mod rib;
pub mod route_refresh;
#[cfg(feature = "driver")]
pub mod session;
pub mod update;
mod wire;

pub use attributes::{
    AsPath, AsSegment, Community, LargeCommunity, MpNextHop, MpReach, MpUnreach, Origin, PathAttributes, RawAttribute,
    SegmentType,
};
pub use error::{DecodeError, EncodeError, MessageError};
pub use fsm::{DownReason, Fsm, FsmConfig, Input, Negotiated, Output, PeerAs, State, Timer};
pub use header::{MessageType, next_frame_len};
pub use notification::{CeaseSubcode, ErrorCode, Notification};
pub use open::{Capability, ExtendedNextHop, GracefulRestart, GracefulRestartFamily, Open};
pub use pack::UpdatePacker;
pub use peer::PeerSettings;
pub use rib::{AdjRibOut, ExportPolicy, HeldBack, HoldCause, InterfaceNextHops, RouteAttrs};
pub use route_refresh::RouteRefresh;
pub use update::Update;
pub use wire::{AS_TRANS, AfiSafi, HEADER_LEN, MARKER, MAX_MESSAGE_LEN};

#[cfg(feature = "driver")]
pub use listener::Listener;
#[cfg(feature = "driver")]
pub use session::{Session, SessionStatus};

/// What the session negotiated that changes how UPDATEs are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeContext {
    /// Both OPENs carried the 4-octet AS capability, so AS_PATH holds 4-octet ASNs
    /// (RFC 6793 §4.1). Before the OPEN exchange completes this is irrelevant: only
    /// UPDATEs depend on it.
    pub four_octet_as: bool,
}

/// What the session negotiated that changes how UPDATEs are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeContext {
    /// See [`DecodeContext::four_octet_as`]. Without it, ASNs above 65535 are sent as
    /// AS_TRANS with the real path in AS4_PATH (RFC 6793 §4.2.2).
    pub four_octet_as: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "messages are transient; boxing UPDATE would add an allocation per message for nothing"
)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// Decodes exactly one message; `buf` must be the whole message and nothing else, as
/// delimited by [`next_frame_len`].
pub fn decode(buf: &[u8], ctx: &DecodeContext) -> Result<Message, DecodeError> {
    let (message_type, body) = header::split(buf)?;
    Ok(match message_type {
        MessageType::Open => Message::Open(Open::decode_body(body)?),
        MessageType::Update => Message::Update(Update::decode_body(body, ctx.four_octet_as)?),
        MessageType::Notification => Message::Notification(Notification::decode_body(body)),
        MessageType::Keepalive => Message::Keepalive,
        MessageType::RouteRefresh => Message::RouteRefresh(RouteRefresh::decode(buf)?),
    })
}

impl Message {
    pub fn message_type(&self) -> MessageType {
        match self {
            Self::Open(_) => MessageType::Open,
            Self::Update(_) => MessageType::Update,
            Self::Notification(_) => MessageType::Notification,
            Self::Keepalive => MessageType::Keepalive,
            Self::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }

    /// Appends the encoded message to `out`; on error `out` is left as it was.
    pub fn encode_into(&self, ctx: &EncodeContext, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = header::begin(out, self.message_type());
        let body = match self {
            Self::Open(open) => open.encode_body(out),
            Self::Update(update) => update.encode_body(out, ctx.four_octet_as),
            Self::Notification(n) => {
                n.encode_body(out);
                Ok(())
            }
            Self::Keepalive => Ok(()),
            Self::RouteRefresh(rr) => {
                rr.encode_body(out);
                Ok(())
            }
        };
        if let Err(e) = body {
            out.truncate(start);
            return Err(e);
        }
        header::finish(out, start)
    }

    pub fn encode(&self, ctx: &EncodeContext) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode_into(ctx, &mut out)?;
        Ok(out)
    }
}
