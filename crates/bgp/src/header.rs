//! The fixed message header (RFC 4271 §4.1) and stream framing.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                                                               +
//! |                                                               |
//! +                                                               +
//! |                           Marker                              |
//! +                                                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use bytes::BufMut;

use crate::error::{EncodeError, MessageError};
use crate::wire::{HEADER_LEN, MARKER, MAX_MESSAGE_LEN};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Open = 1,
    Update = 2,
    Notification = 3,
    Keepalive = 4,
    /// RFC 2918 §3.
    RouteRefresh = 5,
}

impl MessageType {
    pub fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => Self::Open,
            2 => Self::Update,
            3 => Self::Notification,
            4 => Self::Keepalive,
            5 => Self::RouteRefresh,
            _ => return None,
        })
    }

    /// The length range RFC 4271 §6.1 (and RFC 2918 §3 for ROUTE-REFRESH) allows for the
    /// type; anything outside is a Bad Message Length.
    fn length_range(self) -> (usize, usize) {
        match self {
            Self::Open => (29, MAX_MESSAGE_LEN),
            Self::Update => (23, MAX_MESSAGE_LEN),
            Self::Notification => (21, MAX_MESSAGE_LEN),
            Self::Keepalive => (HEADER_LEN, HEADER_LEN),
            // An exact length of 23 is checked with RFC 7313's own error, so allow any here.
            Self::RouteRefresh => (HEADER_LEN, MAX_MESSAGE_LEN),
        }
    }
}

/// How many octets at the front of `buf` make up the next message: `Ok(None)` while the
/// header or body is still incomplete, an error as soon as the header shows the stream is
/// out of sync (RFC 4271 §6.1), so a driver can read exactly one message at a time.
pub fn next_frame_len(buf: &[u8]) -> Result<Option<usize>, MessageError> {
    // A bad marker is reported as soon as its octets arrive, not after a full header.
    let marker_seen = buf.len().min(MARKER.len());
    if buf[..marker_seen] != MARKER[..marker_seen] {
        return Err(MessageError::ConnectionNotSynchronized);
    }
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let length = u16::from_be_bytes([buf[16], buf[17]]);
    let len = usize::from(length);
    if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len) {
        return Err(MessageError::BadMessageLength { length });
    }
    Ok((buf.len() >= len).then_some(len))
}

/// Checks one whole message's header and returns its type and body.
pub(crate) fn split(buf: &[u8]) -> Result<(MessageType, &[u8]), MessageError> {
    if buf.len() < HEADER_LEN {
        let length = u16::try_from(buf.len()).unwrap_or(u16::MAX);
        return Err(MessageError::BadMessageLength { length });
    }
    if buf[..16] != MARKER {
        return Err(MessageError::ConnectionNotSynchronized);
    }
    let length = u16::from_be_bytes([buf[16], buf[17]]);
    let len = usize::from(length);
    if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len) || len != buf.len() {
        return Err(MessageError::BadMessageLength { length });
    }
    let message_type = MessageType::from_u8(buf[18]).ok_or(MessageError::BadMessageType { message_type: buf[18] })?;
    let (min, max) = message_type.length_range();
    if !(min..=max).contains(&len) {
        return Err(MessageError::BadMessageLength { length });
    }
    Ok((message_type, &buf[HEADER_LEN..]))
}

/// Starts a message in `out` with a placeholder length; returns where it starts.
pub(crate) fn begin(out: &mut Vec<u8>, message_type: MessageType) -> usize {
    let start = out.len();
    out.put_slice(&MARKER);
    out.put_u16(0);
    out.put_u8(message_type as u8);
    start
}

/// Patches the length of the message begun at `start`, refusing one over 4096 octets.
pub(crate) fn finish(out: &mut Vec<u8>, start: usize) -> Result<(), EncodeError> {
    let len = out.len() - start;
    if len > MAX_MESSAGE_LEN {
        out.truncate(start);
        return Err(EncodeError::MessageTooLong { length: len });
    }
    out[start + 16..start + 18].copy_from_slice(&(len as u16).to_be_bytes());
    Ok(())
}
