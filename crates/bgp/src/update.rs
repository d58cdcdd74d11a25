//! UPDATE (RFC 4271 §4.3) and the End-of-RIB marker (RFC 4724 §2).
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```

use bytes::BufMut;
use ipnet::{IpNet, Ipv4Net};

use crate::attributes::{self, AS_PATH, MpUnreach, NEXT_HOP, ORIGIN, PathAttributes};
use crate::error::{DecodeError, EncodeError, MessageError};
use crate::nlri;
use crate::wire::{AfiSafi, Reader};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// IPv4 unicast withdrawals; IPv6 ones travel in MP_UNREACH_NLRI.
    pub withdrawn: Vec<Ipv4Net>,
    pub attributes: PathAttributes,
    /// IPv4 unicast announcements; IPv6 ones travel in MP_REACH_NLRI.
    pub nlri: Vec<Ipv4Net>,
}

impl Update {
    /// The End-of-RIB marker (RFC 4724 §2): an empty UPDATE for IPv4 unicast, an UPDATE
    /// holding only an empty MP_UNREACH_NLRI for any other family.
    pub fn end_of_rib(family: AfiSafi) -> Self {
        if family == AfiSafi::IPV4_UNICAST {
            return Self::default();
        }
        Self {
            attributes: PathAttributes {
                mp_unreach: Some(MpUnreach { family, withdrawn: Vec::new() }),
                ..PathAttributes::default()
            },
            ..Self::default()
        }
    }

    /// The family this UPDATE is the End-of-RIB marker of, if it is one.
    pub fn end_of_rib_family(&self) -> Option<AfiSafi> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        let attrs = &self.attributes;
        if *attrs == PathAttributes::default() {
            return Some(AfiSafi::IPV4_UNICAST);
        }
        match &attrs.mp_unreach {
            Some(u) if u.withdrawn.is_empty() => {
                let others = PathAttributes { mp_unreach: None, ..attrs.clone() };
                (others == PathAttributes::default()).then_some(u.family)
            }
            _ => None,
        }
    }

    /// Every prefix this UPDATE announces, in both families.
    pub fn announced(&self) -> impl Iterator<Item = IpNet> + '_ {
        let mp = self.attributes.mp_reach.iter().flat_map(|r| r.nlri.iter().copied());
        self.nlri.iter().map(|&p| IpNet::V4(p)).chain(mp)
    }

    /// Every prefix this UPDATE withdraws, in both families.
    pub fn withdrawals(&self) -> impl Iterator<Item = IpNet> + '_ {
        let mp = self.attributes.mp_unreach.iter().flat_map(|u| u.withdrawn.iter().copied());
        self.withdrawn.iter().map(|&p| IpNet::V4(p)).chain(mp)
    }

    pub(crate) fn decode_body(body: &[u8], four_octet_as: bool) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let withdrawn = r
            .u16()
            .and_then(|len| r.take(usize::from(len)))
            .ok_or(MessageError::MalformedAttributeList { reason: "withdrawn routes length exceeds the message" })?;
        let attrs = r.u16().and_then(|len| r.take(usize::from(len))).ok_or(MessageError::MalformedAttributeList {
            reason: "total path attribute length exceeds the message",
        })?;
        let withdrawn = nlri::decode_v4(withdrawn)?;
        let nlri = nlri::decode_v4(r.rest())?;
        let attributes::Decoded { attributes, mut withdraw_error } = attributes::decode(attrs, four_octet_as)?;

        // RFC 4271 §6.3 as narrowed by RFC 4760 §3: NEXT_HOP is needed only for NLRI in the
        // IPv4 field; ORIGIN and AS_PATH for any announcement.
        let announces = !nlri.is_empty() || attributes.mp_reach.is_some();
        let missing = [
            (ORIGIN, attributes.origin.is_some()),
            (AS_PATH, attributes.as_path.is_some()),
            (NEXT_HOP, attributes.next_hop.is_some() || nlri.is_empty()),
        ]
        .into_iter()
        .find(|&(_, present)| announces && !present);
        if let Some((type_code, _)) = missing {
            withdraw_error.get_or_insert(MessageError::MissingWellKnownAttribute { type_code });
        }

        let update = Self { withdrawn, attributes, nlri };
        match withdraw_error {
            None => Ok(update),
            Some(error) => Err(DecodeError::TreatAsWithdraw {
                error,
                withdrawn: update.withdrawals().chain(update.announced()).collect(),
            }),
        }
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>, four_octet_as: bool) -> Result<(), EncodeError> {
        let withdrawn_at = out.len();
        out.put_u16(0);
        for p in &self.withdrawn {
            nlri::encode_v4(out, p);
        }
        let withdrawn_len = out.len() - withdrawn_at - 2;
        let attrs_at = out.len();
        out.put_u16(0);
        attributes::encode(out, &self.attributes, four_octet_as)?;
        let attrs_len = out.len() - attrs_at - 2;
        for p in &self.nlri {
            nlri::encode_v4(out, p);
        }
        // Lengths over 4096 are caught when the header is finished; until then they only
        // need to fit the field without wrapping.
        let w = u16::try_from(withdrawn_len).unwrap_or(u16::MAX);
        let a = u16::try_from(attrs_len).unwrap_or(u16::MAX);
        out[withdrawn_at..withdrawn_at + 2].copy_from_slice(&w.to_be_bytes());
        out[attrs_at..attrs_at + 2].copy_from_slice(&a.to_be_bytes());
        Ok(())
    }
}
