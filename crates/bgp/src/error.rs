//! Decode and encode errors. Every decode error is one of the NOTIFICATION (code, subcode)
//! pairs of RFC 4271 §6, so the session layer can answer a malformed message without a
//! second mapping table, and RFC 7606 decides whether the session must go down at all.

use std::net::Ipv4Addr;

use ipnet::IpNet;

use crate::notification::{ErrorCode, MessageHeaderError, Notification, OpenError, RouteRefreshError, UpdateError};

/// What was wrong with a received message, as the NOTIFICATION that reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// RFC 4271 §6.1: the marker is not all ones.
    #[error("connection not synchronized: the header marker is not all ones")]
    ConnectionNotSynchronized,
    /// RFC 4271 §6.1: the length field is out of range or wrong for the type; the bad
    /// length is the NOTIFICATION data.
    #[error("bad message length {length}")]
    BadMessageLength { length: u16 },
    /// RFC 4271 §6.1: unknown type; the type octet is the NOTIFICATION data.
    #[error("bad message type {message_type}")]
    BadMessageType { message_type: u8 },

    /// RFC 4271 §6.2: the data is the largest version we support (4).
    #[error("unsupported BGP version {version}")]
    UnsupportedVersion { version: u8 },
    /// RFC 4271 §6.2: the peer's AS is zero or not the one configured.
    #[error("bad peer AS {asn}")]
    BadPeerAs { asn: u32 },
    /// RFC 4271 §6.2 as amended by RFC 6286 §2.2: zero, or equal to ours on an iBGP session.
    #[error("bad BGP identifier {id}")]
    BadBgpIdentifier { id: Ipv4Addr },
    /// RFC 4271 §6.2: an optional parameter other than capabilities (RFC 5492 §4).
    #[error("unsupported optional parameter type {param_type}")]
    UnsupportedOptionalParameter { param_type: u8 },
    /// RFC 4271 §6.2: hold time 1 or 2 seconds.
    #[error("unacceptable hold time {hold_time} s")]
    UnacceptableHoldTime { hold_time: u16 },
    /// RFC 5492 §3: a capability we require is missing; the data lists the capabilities
    /// (code, length, value) that caused it.
    #[error("peer lacks a required capability")]
    UnsupportedCapability { capabilities: Vec<u8> },
    /// RFC 4271 §6.2, subcode 0: the OPEN's optional parameters or a known capability do
    /// not parse.
    #[error("malformed OPEN: {reason}")]
    MalformedOpen { reason: &'static str },

    /// RFC 4271 §6.3: the withdrawn-routes or path-attribute lengths do not fit the
    /// message, or an attribute that may appear once appears twice (RFC 7606 §3 g).
    #[error("malformed attribute list: {reason}")]
    MalformedAttributeList { reason: &'static str },
    /// RFC 4271 §6.3: a well-known attribute (optional bit clear) whose type we do not know.
    #[error("unrecognized well-known attribute type {type_code}")]
    UnrecognizedWellKnownAttribute { type_code: u8, attribute: Vec<u8> },
    /// RFC 4271 §6.3: ORIGIN, AS_PATH or NEXT_HOP absent from an UPDATE that carries NLRI.
    #[error("missing well-known attribute type {type_code}")]
    MissingWellKnownAttribute { type_code: u8 },
    /// RFC 4271 §6.3: flags that contradict the attribute's type.
    #[error("attribute flags error on type {type_code}")]
    AttributeFlagsError { type_code: u8, attribute: Vec<u8> },
    /// RFC 4271 §6.3: a length wrong for the attribute's type, or running past the field.
    #[error("attribute length error on type {type_code}")]
    AttributeLengthError { type_code: u8, attribute: Vec<u8> },
    /// RFC 4271 §6.3: ORIGIN not 0, 1 or 2.
    #[error("invalid ORIGIN")]
    InvalidOrigin { attribute: Vec<u8> },
    /// RFC 4271 §6.3: a NEXT_HOP that cannot be a unicast host address.
    #[error("invalid NEXT_HOP")]
    InvalidNextHop { attribute: Vec<u8> },
    /// RFC 4271 §6.3: a recognized optional attribute whose value does not parse.
    #[error("optional attribute error on type {type_code}")]
    OptionalAttributeError { type_code: u8, attribute: Vec<u8> },
    /// RFC 4271 §6.3: an NLRI prefix that is longer than its family or runs past its field.
    #[error("invalid network field")]
    InvalidNetworkField,
    /// RFC 4271 §6.3: an AS_PATH segment that does not parse.
    #[error("malformed AS_PATH")]
    MalformedAsPath,

    /// RFC 7313 §5: a ROUTE-REFRESH whose body is not 4 octets; the data is the message.
    #[error("invalid ROUTE-REFRESH length")]
    RouteRefreshInvalidLength { message: Vec<u8> },
}

impl MessageError {
    /// The NOTIFICATION error code and subcode that report this error.
    pub fn error_code(&self) -> ErrorCode {
        use MessageError as E;
        match self {
            E::ConnectionNotSynchronized => ErrorCode::MessageHeader(MessageHeaderError::ConnectionNotSynchronized),
            E::BadMessageLength { .. } => ErrorCode::MessageHeader(MessageHeaderError::BadMessageLength),
            E::BadMessageType { .. } => ErrorCode::MessageHeader(MessageHeaderError::BadMessageType),
            E::UnsupportedVersion { .. } => ErrorCode::Open(OpenError::UnsupportedVersionNumber),
            E::BadPeerAs { .. } => ErrorCode::Open(OpenError::BadPeerAs),
            E::BadBgpIdentifier { .. } => ErrorCode::Open(OpenError::BadBgpIdentifier),
            E::UnsupportedOptionalParameter { .. } => ErrorCode::Open(OpenError::UnsupportedOptionalParameter),
            E::UnacceptableHoldTime { .. } => ErrorCode::Open(OpenError::UnacceptableHoldTime),
            E::UnsupportedCapability { .. } => ErrorCode::Open(OpenError::UnsupportedCapability),
            E::MalformedOpen { .. } => ErrorCode::Open(OpenError::Unspecific),
            E::MalformedAttributeList { .. } => ErrorCode::Update(UpdateError::MalformedAttributeList),
            E::UnrecognizedWellKnownAttribute { .. } => ErrorCode::Update(UpdateError::UnrecognizedWellKnownAttribute),
            E::MissingWellKnownAttribute { .. } => ErrorCode::Update(UpdateError::MissingWellKnownAttribute),
            E::AttributeFlagsError { .. } => ErrorCode::Update(UpdateError::AttributeFlagsError),
            E::AttributeLengthError { .. } => ErrorCode::Update(UpdateError::AttributeLengthError),
            E::InvalidOrigin { .. } => ErrorCode::Update(UpdateError::InvalidOriginAttribute),
            E::InvalidNextHop { .. } => ErrorCode::Update(UpdateError::InvalidNextHopAttribute),
            E::OptionalAttributeError { .. } => ErrorCode::Update(UpdateError::OptionalAttributeError),
            E::InvalidNetworkField => ErrorCode::Update(UpdateError::InvalidNetworkField),
            E::MalformedAsPath => ErrorCode::Update(UpdateError::MalformedAsPath),
            E::RouteRefreshInvalidLength { .. } => ErrorCode::RouteRefresh(RouteRefreshError::InvalidMessageLength),
        }
    }

    /// The (code, subcode) octets, for logs and tests.
    pub fn code_subcode(&self) -> (u8, u8) {
        self.error_code().to_octets()
    }

    /// The NOTIFICATION data field RFC 4271 §6 prescribes for this error.
    pub fn data(&self) -> Vec<u8> {
        use MessageError as E;
        match self {
            E::BadMessageLength { length } => length.to_be_bytes().to_vec(),
            E::BadMessageType { message_type } => vec![*message_type],
            E::UnsupportedVersion { .. } => 4u16.to_be_bytes().to_vec(),
            E::MissingWellKnownAttribute { type_code } => vec![*type_code],
            E::UnsupportedCapability { capabilities } => capabilities.clone(),
            E::UnrecognizedWellKnownAttribute { attribute, .. }
            | E::AttributeFlagsError { attribute, .. }
            | E::AttributeLengthError { attribute, .. }
            | E::InvalidOrigin { attribute }
            | E::InvalidNextHop { attribute }
            | E::OptionalAttributeError { attribute, .. } => attribute.clone(),
            E::RouteRefreshInvalidLength { message } => message.clone(),
            _ => Vec::new(),
        }
    }

    /// The NOTIFICATION to send before closing the session.
    pub fn to_notification(&self) -> Notification {
        Notification::new(self.error_code(), self.data())
    }
}

/// A message that could not be accepted as sent, with what RFC 7606 §2 says to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Send `error.to_notification()` and close the session (RFC 4271 §6, RFC 7606 §2
    /// "session reset").
    #[error("{0}")]
    SessionReset(MessageError),
    /// The UPDATE's attributes are bad but its NLRI could be located: keep the session and
    /// handle every listed prefix as withdrawn (RFC 7606 §2 "treat-as-withdraw").
    #[error("UPDATE treated as withdraw: {error}")]
    TreatAsWithdraw { error: MessageError, withdrawn: Vec<IpNet> },
}

impl DecodeError {
    pub fn error(&self) -> &MessageError {
        match self {
            Self::SessionReset(e) | Self::TreatAsWithdraw { error: e, .. } => e,
        }
    }

    pub fn code_subcode(&self) -> (u8, u8) {
        self.error().code_subcode()
    }

    pub fn is_session_reset(&self) -> bool {
        matches!(self, Self::SessionReset(_))
    }
}

impl From<MessageError> for DecodeError {
    fn from(e: MessageError) -> Self {
        Self::SessionReset(e)
    }
}

/// A message we were asked to send that BGP cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    #[error("message of {length} octets exceeds the 4096-octet limit of RFC 4271 §4.1")]
    MessageTooLong { length: usize },
    #[error("optional parameters of {length} octets exceed the 255 an OPEN can carry")]
    OptionalParametersTooLong { length: usize },
    #[error("capability {code} value of {length} octets exceeds 255")]
    CapabilityTooLong { code: u8, length: usize },
    #[error("shutdown communication of {length} octets exceeds the 255 of RFC 9003")]
    ShutdownMessageTooLong { length: usize },
    #[error("attribute type {type_code} value of {length} octets exceeds 65535")]
    AttributeTooLong { type_code: u8, length: usize },
    #[error("next hop does not match address family {family}")]
    NextHopFamilyMismatch { family: crate::AfiSafi },
    #[error("prefix {prefix} does not belong to address family {family}")]
    PrefixFamilyMismatch { prefix: IpNet, family: crate::AfiSafi },
    #[error("{family} routes need a next hop and none was given")]
    MissingNextHop { family: crate::AfiSafi },
    #[error("the attributes alone leave no room for NLRI in a 4096-octet UPDATE")]
    AttributesTooLarge,
}
