//! ROUTE-REFRESH (RFC 2918 §3, subtypes from RFC 7313 §3).
//!
//! ```text
//!  0       7      15      23      31
//! +-------+-------+-------+-------+
//! |      AFI      | Subtype | SAFI |
//! +-------+-------+-------+-------+
//! ```

use bytes::BufMut;

use crate::error::MessageError;
use crate::wire::{AfiSafi, HEADER_LEN, Reader};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRefresh {
    pub family: AfiSafi,
    /// 0 is a plain refresh request; 1 and 2 mark the start and end of an enhanced refresh
    /// (RFC 7313 §3). Kept raw so other values survive a round trip.
    pub subtype: u8,
}

impl RouteRefresh {
    pub fn new(family: AfiSafi) -> Self {
        Self { family, subtype: 0 }
    }

    /// `message` is the whole message, which RFC 7313 §5 puts in the error data.
    pub(crate) fn decode(message: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader::new(message.get(HEADER_LEN..).unwrap_or_default());
        match (r.u16(), r.u8(), r.u8(), r.is_empty()) {
            (Some(afi), Some(subtype), Some(safi), true) => Ok(Self { family: AfiSafi::new(afi, safi), subtype }),
            _ => Err(MessageError::RouteRefreshInvalidLength { message: message.to_vec() }),
        }
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        out.put_u16(self.family.afi);
        out.put_u8(self.subtype);
        out.put_u8(self.family.safi);
    }
}
