//! OPEN (RFC 4271 §4.2) and the capabilities ferrolb negotiates (RFC 5492).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+
//! |    Version    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     My Autonomous System      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Hold Time           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         BGP Identifier                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Opt Parm Len  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |             Optional Parameters (variable)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Each optional parameter is (type, length, value); type 2 holds capabilities, each again
//! (code, length, value) (RFC 5492 §4).

use std::net::Ipv4Addr;

use bytes::BufMut;

use crate::error::{EncodeError, MessageError};
use crate::wire::{AS_TRANS, AfiSafi, Reader};

pub const BGP_VERSION: u8 = 4;
const PARAM_CAPABILITIES: u8 = 2;

const CAP_MULTIPROTOCOL: u8 = 1;
const CAP_ROUTE_REFRESH: u8 = 2;
const CAP_EXTENDED_NEXT_HOP: u8 = 5;
const CAP_GRACEFUL_RESTART: u8 = 64;
const CAP_FOUR_OCTET_AS: u8 = 65;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The 2-octet field as sent: AS_TRANS when the real ASN needs four octets (RFC 6793
    /// §4.1). Use [`Open::asn`] for the peer's AS.
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

/// A capability advertisement (RFC 5492 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// RFC 4760 §8.
    ///
    /// ```text
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |              AFI              |   Reserved    |     SAFI      |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// ```
    Multiprotocol(AfiSafi),
    /// RFC 2918 §2: empty value.
    RouteRefresh,
    /// RFC 8950 §3 (Extended Next Hop Encoding): the (NLRI family, next-hop AFI) pairs the
    /// sender accepts, e.g. IPv4 unicast with an IPv6 next hop on an unnumbered session.
    ///
    /// ```text
    /// +-----------------------------------------------------+
    /// | NLRI AFI - 1 (2 octets)                             |
    /// +-----------------------------------------------------+
    /// | NLRI SAFI - 1 (2 octets)                            |
    /// +-----------------------------------------------------+
    /// | Nexthop AFI - 1 (2 octets)                          |
    /// +-----------------------------------------------------+
    /// | ....                                                |
    /// ```
    ExtendedNextHop(Vec<ExtendedNextHop>),
    /// RFC 4724 §3.
    GracefulRestart(GracefulRestart),
    /// RFC 6793 §3: the sender's real 4-octet ASN.
    FourOctetAs(u32),
    /// Any other capability, kept verbatim so it can be logged or echoed.
    Unknown { code: u8, value: Vec<u8> },
}

/// The Graceful Restart capability value (RFC 4724 §3).
///
/// ```text
/// +--------------------------------------------------+
/// | Restart Flags (4 bits)                           |
/// +--------------------------------------------------+
/// | Restart Time in seconds (12 bits)                |
/// +--------------------------------------------------+
/// | Address Family Identifier (16 bits)              |
/// +--------------------------------------------------+
/// | Subsequent Address Family Identifier (8 bits)    |
/// +--------------------------------------------------+
/// | Flags for Address Family (8 bits)                |
/// +--------------------------------------------------+
/// | ...                                              |
/// +--------------------------------------------------+
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestart {
    /// R bit: the sender has just restarted, so the receiver must not wait for its
    /// End-of-RIB before advertising (RFC 4724 §3).
    pub restart_state: bool,
    /// N bit: the sender supports graceful restart for NOTIFICATIONs too (RFC 8538 §2).
    pub notification: bool,
    /// Seconds the peer should keep our routes while we come back; 12 bits, so encoding
    /// clamps to 4095.
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

/// One tuple of the Extended Next Hop Encoding capability (RFC 8950 §3). The SAFI is two
/// octets here, unlike in the multiprotocol capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedNextHop {
    pub nlri_afi: u16,
    pub nlri_safi: u16,
    pub next_hop_afi: u16,
}

impl ExtendedNextHop {
    /// IPv4 unicast NLRI with an IPv6 next hop: what an unnumbered session needs (RFC 8950
    /// §3, and what FRR offers on `neighbor IFNAME interface`).
    pub const IPV4_UNICAST_OVER_IPV6: Self = Self { nlri_afi: 1, nlri_safi: 1, next_hop_afi: 2 };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestartFamily {
    pub family: AfiSafi,
    /// F bit: forwarding state for this family survived the restart (RFC 4724 §3).
    pub forwarding_state: bool,
}

const GR_RESTART_STATE: u16 = 0x8000;
const GR_NOTIFICATION: u16 = 0x4000;
const GR_TIME_MASK: u16 = 0x0fff;
const GR_FORWARDING_STATE: u8 = 0x80;

impl Open {
    /// An OPEN for `asn`, putting AS_TRANS in the 2-octet field when `asn` does not fit
    /// (RFC 6793 §4.1). The caller lists the capabilities, including
    /// [`Capability::FourOctetAs`].
    pub fn new(asn: u32, hold_time: u16, bgp_id: Ipv4Addr, capabilities: Vec<Capability>) -> Self {
        let my_as = u16::try_from(asn).unwrap_or(AS_TRANS);
        Self { my_as, hold_time, bgp_id, capabilities }
    }

    /// The sender's ASN: from the 4-octet AS capability when present (RFC 6793 §4.1).
    pub fn asn(&self) -> u32 {
        self.four_octet_as().unwrap_or(u32::from(self.my_as))
    }

    pub fn four_octet_as(&self) -> Option<u32> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::FourOctetAs(asn) => Some(*asn),
            _ => None,
        })
    }

    pub fn supports_family(&self, family: AfiSafi) -> bool {
        self.capabilities.contains(&Capability::Multiprotocol(family))
    }

    /// Whether the sender accepts IPv4 unicast routes with an IPv6 next hop (RFC 8950 §3).
    pub fn supports_extended_next_hop(&self, tuple: ExtendedNextHop) -> bool {
        self.capabilities.iter().any(|c| matches!(c, Capability::ExtendedNextHop(t) if t.contains(&tuple)))
    }

    pub fn supports_route_refresh(&self) -> bool {
        self.capabilities.contains(&Capability::RouteRefresh)
    }

    pub fn graceful_restart(&self) -> Option<&GracefulRestart> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::GracefulRestart(gr) => Some(gr),
            _ => None,
        })
    }

    /// Checks a received OPEN against the session's configuration: the peer's AS
    /// (RFC 4271 §6.2; `None` accepts any, for dynamic ASN) and its BGP Identifier, which
    /// must differ from ours on an iBGP session (RFC 6286 §2.2).
    pub fn check_peer(
        &self,
        expected_asn: Option<u32>,
        local_bgp_id: Ipv4Addr,
        local_asn: u32,
    ) -> Result<(), MessageError> {
        let asn = self.asn();
        if expected_asn.is_some_and(|want| want != asn) {
            return Err(MessageError::BadPeerAs { asn });
        }
        if asn == local_asn && self.bgp_id == local_bgp_id {
            return Err(MessageError::BadBgpIdentifier { id: self.bgp_id });
        }
        Ok(())
    }

    pub(crate) fn decode_body(body: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader::new(body);
        // The header check guaranteed the 10 fixed octets.
        let fixed = (|| Some((r.u8()?, r.u16()?, r.u16()?, r.array::<4>()?, r.u8()?)))();
        let Some((version, my_as, hold_time, id, params_len)) = fixed else {
            return Err(MessageError::MalformedOpen { reason: "shorter than its fixed fields" });
        };
        if version != BGP_VERSION {
            return Err(MessageError::UnsupportedVersion { version });
        }
        if usize::from(params_len) != r.remaining() {
            return Err(MessageError::MalformedOpen {
                reason: "optional parameters length does not match the message length",
            });
        }
        let mut capabilities = Vec::new();
        while !r.is_empty() {
            let (Some(param_type), Some(len)) = (r.u8(), r.u8()) else {
                return Err(MessageError::MalformedOpen { reason: "truncated optional parameter" });
            };
            let value = r
                .take(usize::from(len))
                .ok_or(MessageError::MalformedOpen { reason: "optional parameter runs past the message" })?;
            if param_type != PARAM_CAPABILITIES {
                return Err(MessageError::UnsupportedOptionalParameter { param_type });
            }
            decode_capabilities(value, &mut capabilities)?;
        }
        let open = Self { my_as, hold_time, bgp_id: Ipv4Addr::from(id), capabilities };
        if my_as == 0 || open.four_octet_as() == Some(0) {
            return Err(MessageError::BadPeerAs { asn: open.asn() });
        }
        if open.bgp_id.is_unspecified() {
            return Err(MessageError::BadBgpIdentifier { id: open.bgp_id });
        }
        if hold_time == 1 || hold_time == 2 {
            return Err(MessageError::UnacceptableHoldTime { hold_time });
        }
        Ok(open)
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.put_u8(BGP_VERSION);
        out.put_u16(self.my_as);
        out.put_u16(self.hold_time);
        out.put_slice(&self.bgp_id.octets());
        let params_len_at = out.len();
        out.put_u8(0);
        if !self.capabilities.is_empty() {
            // One capabilities parameter holding them all, as MetalLB and most speakers send.
            out.put_u8(PARAM_CAPABILITIES);
            let cap_len_at = out.len();
            out.put_u8(0);
            for cap in &self.capabilities {
                cap.encode(out)?;
            }
            let caps_len = out.len() - cap_len_at - 1;
            let params_len = caps_len + 2;
            if params_len > 255 {
                return Err(EncodeError::OptionalParametersTooLong { length: params_len });
            }
            out[cap_len_at] = caps_len as u8;
            out[params_len_at] = params_len as u8;
        }
        Ok(())
    }
}

fn decode_capabilities(buf: &[u8], caps: &mut Vec<Capability>) -> Result<(), MessageError> {
    let malformed = |reason| MessageError::MalformedOpen { reason };
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (Some(code), Some(len)) = (r.u8(), r.u8()) else {
            return Err(malformed("truncated capability"));
        };
        let value = r.take(usize::from(len)).ok_or(malformed("capability runs past its parameter"))?;
        let mut v = Reader::new(value);
        let cap = match code {
            CAP_MULTIPROTOCOL => {
                let (Some(afi), Some(_reserved), Some(safi), true) = (v.u16(), v.u8(), v.u8(), value.len() == 4) else {
                    return Err(malformed("multiprotocol capability is not 4 octets"));
                };
                Capability::Multiprotocol(AfiSafi::new(afi, safi))
            }
            CAP_ROUTE_REFRESH if value.is_empty() => Capability::RouteRefresh,
            CAP_ROUTE_REFRESH => return Err(malformed("route refresh capability is not empty")),
            CAP_EXTENDED_NEXT_HOP => {
                if value.is_empty() || !value.len().is_multiple_of(6) {
                    return Err(malformed("extended next hop capability is not a list of 6-octet tuples"));
                }
                let mut tuples = Vec::with_capacity(value.len() / 6);
                while let (Some(nlri_afi), Some(nlri_safi), Some(next_hop_afi)) = (v.u16(), v.u16(), v.u16()) {
                    tuples.push(ExtendedNextHop { nlri_afi, nlri_safi, next_hop_afi });
                }
                Capability::ExtendedNextHop(tuples)
            }
            CAP_FOUR_OCTET_AS => match (v.u32(), value.len()) {
                (Some(asn), 4) => Capability::FourOctetAs(asn),
                _ => return Err(malformed("4-octet AS capability is not 4 octets")),
            },
            CAP_GRACEFUL_RESTART => {
                let Some(head) = v.u16() else {
                    return Err(malformed("graceful restart capability is too short"));
                };
                if !v.remaining().is_multiple_of(4) {
                    return Err(malformed("graceful restart family list is not 4-octet aligned"));
                }
                let mut families = Vec::with_capacity(v.remaining() / 4);
                while let (Some(afi), Some(safi), Some(flags)) = (v.u16(), v.u8(), v.u8()) {
                    families.push(GracefulRestartFamily {
                        family: AfiSafi::new(afi, safi),
                        forwarding_state: flags & GR_FORWARDING_STATE != 0,
                    });
                }
                Capability::GracefulRestart(GracefulRestart {
                    restart_state: head & GR_RESTART_STATE != 0,
                    notification: head & GR_NOTIFICATION != 0,
                    restart_time: head & GR_TIME_MASK,
                    families,
                })
            }
            code => Capability::Unknown { code, value: value.to_vec() },
        };
        caps.push(cap);
    }
    Ok(())
}

impl Capability {
    pub fn code(&self) -> u8 {
        match self {
            Self::Multiprotocol(_) => CAP_MULTIPROTOCOL,
            Self::RouteRefresh => CAP_ROUTE_REFRESH,
            Self::ExtendedNextHop(_) => CAP_EXTENDED_NEXT_HOP,
            Self::GracefulRestart(_) => CAP_GRACEFUL_RESTART,
            Self::FourOctetAs(_) => CAP_FOUR_OCTET_AS,
            Self::Unknown { code, .. } => *code,
        }
    }

    /// Appends (code, length, value).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.put_u8(self.code());
        let len_at = out.len();
        out.put_u8(0);
        match self {
            Self::Multiprotocol(f) => {
                out.put_u16(f.afi);
                out.put_u8(0);
                out.put_u8(f.safi);
            }
            Self::RouteRefresh => {}
            Self::ExtendedNextHop(tuples) => {
                for t in tuples {
                    out.put_u16(t.nlri_afi);
                    out.put_u16(t.nlri_safi);
                    out.put_u16(t.next_hop_afi);
                }
            }
            Self::GracefulRestart(gr) => {
                let mut head = gr.restart_time.min(GR_TIME_MASK);
                if gr.restart_state {
                    head |= GR_RESTART_STATE;
                }
                if gr.notification {
                    head |= GR_NOTIFICATION;
                }
                out.put_u16(head);
                for f in &gr.families {
                    out.put_u16(f.family.afi);
                    out.put_u8(f.family.safi);
                    out.put_u8(if f.forwarding_state { GR_FORWARDING_STATE } else { 0 });
                }
            }
            Self::FourOctetAs(asn) => out.put_u32(*asn),
            Self::Unknown { value, .. } => out.put_slice(value),
        }
        let len = out.len() - len_at - 1;
        if len > 255 {
            return Err(EncodeError::CapabilityTooLong { code: self.code(), length: len });
        }
        out[len_at] = len as u8;
        Ok(())
    }
}

impl MessageError {
    /// Unsupported Capability (RFC 5492 §3) naming the capabilities we needed and the peer
    /// did not offer, e.g. 4-octet AS when our ASN exceeds 65535.
    pub fn unsupported_capability(missing: &[Capability]) -> Self {
        let mut capabilities = Vec::new();
        for cap in missing {
            // A capability too long to encode cannot be reported; skip it.
            let at = capabilities.len();
            if cap.encode(&mut capabilities).is_err() {
                capabilities.truncate(at);
            }
        }
        Self::UnsupportedCapability { capabilities }
    }
}
